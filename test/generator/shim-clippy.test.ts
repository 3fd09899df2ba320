/**
 * The entry shim exactly as the real `hotgen init` writes it (templates/hotgen_entry.rs.hbs):
 * - clippy with `clippy::pedantic`, `undocumented_unsafe_blocks` and
 *   `multiple_unsafe_ops_per_block`, warnings denied, finds nothing in it, on stable and
 *   on the toolchain the hot build uses (`--cfg hotgen` through RUSTFLAGS, as hot builds
 *   set it); a probe with one finding of each kind shows the flags reach the shim;
 * - fixtures/shim_driver.rs, compiled against it with rustc, calls `hotgen_main` as a
 *   host does and shows `ctx.state`'s behaviour: a re-entrant call from `init` panics
 *   (no second `init`, no deadlock) and the slot stays empty, so the next call
 *   initialises once; a panicking `init` is retried; concurrent first calls run one
 *   `init`; another type is refused; listeners are new descriptors with FD_CLOEXEC.
 */
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../common/exec.js';
import { entrySnippet } from '../../generator/render-impl.js';
import { readPlan } from '../../common/plan-read.js';
import { resolveToolchain } from '../../loader/build.js';
import { missingTool, skipUnless, tools } from '../helpers/tools.js';
import { tempDir, writeTree } from '../helpers/tree.js';
import { hotgen } from './cli.js';

/** One lint of each group the test enables, each provoked once by the probe below. */
const LINT_PROBES = ['undocumented_unsafe_blocks', 'multiple_unsafe_ops_per_block', 'cast_possible_truncation'];
const LINTS = ['-D', 'warnings', '-W', 'clippy::pedantic', '-W', 'clippy::undocumented_unsafe_blocks', '-W', 'clippy::multiple_unsafe_ops_per_block'];

/** A one-crate workspace whose `lib.rs` carries the snippet `hotgen init` prints. */
function workspace(): Record<string, string> {
  const lib = (serve: boolean) => `//! An entry crate.\n\n/// The answer.\n#[must_use]\npub fn answer() -> u32 {\n    42\n}\n\n${entrySnippet(serve).join('\n')}\n`;
  return {
    'Cargo.toml': '[workspace]\nresolver = "3"\nmembers = ["app", "srv"]\n',
    'app/Cargo.toml': '[package]\nname = "app"\nversion = "0.1.0"\nedition = "2024"\n',
    'app/src/lib.rs': lib(false),
    // The snippet init prints for a plan with listen addresses, beside the same shim.
    'srv/Cargo.toml': '[package]\nname = "srv"\nversion = "0.1.0"\nedition = "2024"\n',
    'srv/src/lib.rs': lib(true),
  };
}

describe.skipIf(skipUnless(tools.cargo()))('the generated entry shim', () => {
  let tmp: { path: string } & AsyncDisposable;
  let root: string;
  let shimFile: string;
  let shim: string;

  beforeAll(async () => {
    tmp = await tempDir('shim');
    root = path.join(tmp.path, 'ws');
    await writeTree(root, workspace());
    const r = await hotgen(root, 'init', '--entry', 'app');
    expect(r.code, r.stderr).toBe(0);
    shimFile = path.join(root, 'app/src/hotgen_entry.rs');
    shim = await readFile(shimFile, 'utf8');
    await writeFile(path.join(root, 'srv/src/hotgen_entry.rs'), shim);
  });
  afterAll(async () => tmp?.[Symbol.asyncDispose]());

  /** `cargo <plus> clippy` on the entry with `--cfg hotgen` and the lints above; never throws. */
  async function clippy(plus: string[], label: string) {
    const env: NodeJS.ProcessEnv = { ...process.env, RUSTFLAGS: '--cfg hotgen', CARGO_TARGET_DIR: path.join(tmp.path, `target-${label}`), RUSTUP_AUTO_INSTALL: '0' };
    delete env.RUSTC_WRAPPER;
    delete env.RUSTC_WORKSPACE_WRAPPER;
    return run('cargo', [...plus, 'clippy', '--offline', '-p', 'app', '-p', 'srv', '--lib', '--', ...LINTS], { cwd: root, env, allowFailure: true, timeoutMs: 240_000 });
  }

  /** Skips the calling test (or fails it under HOTGEN_REQUIRE_TOOLS=1) when `plus` has no clippy. */
  function clippyMissing(plus: string[]): boolean {
    return skipUnless(missingTool('cargo', [...plus, 'clippy', '--version']));
  }

  it('has no clippy finding on stable', async (ctx) => {
    if (clippyMissing(['+stable'])) ctx.skip();
    const r = await clippy(['+stable'], 'stable');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/^(warning|error)/m);
  });

  it('has no clippy finding on the toolchain hot builds use (the pin in hotgen/rust-toolchain.toml)', async (ctx) => {
    const { plus } = await resolveToolchain(await readPlan(root), root);
    if (clippyMissing(plus)) ctx.skip();
    const r = await clippy(plus, 'pinned');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/^(warning|error)/m);
  });

  it('is really checked: a probe of each lint in the shim is reported there', async (ctx) => {
    if (clippyMissing(['+stable'])) ctx.skip();
    const probe = [
      '',
      'fn clippy_probe(fd: i32, wide: u64) -> u32 {',
      '    let n = unsafe { poll(ptr::null_mut(), 0, fd) + poll(ptr::null_mut(), 0, fd) };',
      '    wide as u32 + n.unsigned_abs()',
      '}',
      '',
    ].join('\n');
    await writeFile(shimFile, shim + probe);
    try {
      const r = await clippy(['+stable'], 'stable');
      expect(r.code).not.toBe(0);
      const diagnostics = r.stderr.split(/\n(?=(?:error|warning)\b)/);
      const at = (lint: string) => diagnostics.filter((d) => d.includes('hotgen_entry.rs:') && d.includes(`#${lint}`)).length;
      expect(Object.fromEntries(LINT_PROBES.map((l) => [l, at(l)]))).toEqual(Object.fromEntries(LINT_PROBES.map((l) => [l, 1])));
    } finally {
      await writeFile(shimFile, shim);
    }
  });

  it('state(): re-entrant init panics without a second init, then one init; retried after a panic; one init under concurrency; refuses another type', async () => {
    const dir = path.join(tmp.path, 'driver');
    await writeTree(dir, { 'main.rs': await readFile(path.join(import.meta.dirname, 'fixtures/shim_driver.rs'), 'utf8') });
    await copyFile(shimFile, path.join(dir, 'hotgen_entry.rs'));
    const exe = path.join(dir, 'shim-driver');
    // Edition 2021 here, 2024 in the clippy workspace: the shim compiles in both.
    await run('rustc', ['--edition', '2021', '--crate-name', 'shim_driver', '--cfg', 'hotgen', '-D', 'warnings', '-o', exe, path.join(dir, 'main.rs')], { cwd: dir, timeoutMs: 240_000 });
    const r = await run(exe, [], { env: { ...process.env, RUST_BACKTRACE: '0' }, allowFailure: true, timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trimEnd().split('\n')).toEqual([
      'reentrant rc 101 outer 1 inner 0',
      'after reentrant: count 0 1 inits 1 one value true',
      'other type rc 101',
      'failing init rc 101',
      'then count 0 inits 2',
      '8 concurrent first calls: inits 1 one value true counts [0, 1, 2, 3, 4, 5, 6, 7]',
      'listener dup true cloexec true',
    ]);
    expect(r.stderr).toContain('hotgen: ctx.state() was called from inside its own init closure');
    expect(r.stderr).toContain('hotgen: the state type changed from shim_driver::Counter to shim_driver::Other; restart the host');
    expect(r.stderr).toContain('init failed on purpose');
  });
});

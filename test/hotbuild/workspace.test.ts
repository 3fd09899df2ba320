/**
 * Issue 8's "Done when" on a third-party-shaped workspace (test/hotbuild/fixture.ts:
 * Debian crate sources, four workspace libraries sharing memchr/regex/log, a no_std
 * dependency, a cdylib+rlib crate, a proc-macro, a bin-only package, `[workspace]
 * exclude`), in a git repository, with real cargo, the built CLI and real sockets:
 *
 * 1. `hotgen init` creates files only (`git status` shows `??` lines only), and
 *    `cargo +stable build`, `test` and `build --release` print the same output and
 *    warnings as before, with byte-identical release artifacts.
 * 2. `hotgen dev --json` hot-builds and serves; a one-line edit of the mid-level crate
 *    reloads it and the crates above it in DAG order and the new answer is served;
 *    every registry crate's .so is mapped exactly once in the host (`/proc/PID/maps`);
 *    after quit, `hotgen eject` leaves `git status` clean.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../common/exec.js';
import { CLI, cliBuilt, hotgen, jsonLines, MODES } from '../cli/run.js';
import { missingTool, skipUnless, tools } from '../helpers/tools.js';
import { tempDir, writeTree } from '../helpers/tree.js';
import { Dev, get, quitAllDevs, toolchainEnv, type DevEvent } from '../loader/fixtures/dev-session.js';
import {
  MID_SOURCE,
  REGISTRY_LIBS,
  RENDER_V1,
  RENDER_V2,
  WORKSPACE_LIBS,
  commitAll,
  editFile,
  git,
  gitStatus,
  missingCrates,
  missingStable,
  thirdPartyWorkspace,
} from './fixture.js';

/** Cargo's environment for "a teammate's" ordinary builds: nothing of hotgen's or the caller's build settings. */
function plainCargoEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(CARGO_(?!HOME$)|RUSTC|RUSTFLAGS|RUSTDOCFLAGS|RUSTUP_TOOLCHAIN|HOTGEN_)/.test(k)) continue;
    env[k] = v;
  }
  return { ...env, CARGO_TERM_COLOR: 'never' };
}

/** What one ordinary cargo command printed, normalised for comparison. */
interface CargoOutput {
  /** Every line of stdout and stderr, durations masked, sorted (cargo's job order varies). */
  lines: string[];
  /** The `warning: ...` headlines, in order. */
  warnings: string[];
}

async function cargo(root: string, args: string[]): Promise<CargoOutput> {
  const r = await run('cargo', ['+stable', ...args], { cwd: root, env: plainCargoEnv(), allowFailure: true, timeoutMs: 900_000 });
  expect(r.code, `cargo +stable ${args.join(' ')}:\n${r.stderr.slice(-4000)}`).toBe(0);
  const all = `${r.stdout}\n${r.stderr}`
    .split('\n')
    .map((l) => l.replace(/\bin (?:\d+h )?(?:\d+m )?\d+(?:\.\d+)?m?s\b/g, 'in <T>'))
    .filter((l) => l.trim() !== '' && !/^\s*Blocking waiting for file lock/.test(l));
  return { lines: all.sort(), warnings: r.stderr.split('\n').filter((l) => l.startsWith('warning:')) };
}

/** The three commands of issue 8, in order. */
const ORDINARY = [['build'], ['test'], ['build', '--release']];

/** SHA-256 of every file directly in target/release (the release artifacts: binary, cdylib, rlibs, dep-info). */
async function releaseArtifacts(root: string): Promise<Record<string, string>> {
  const dir = path.join(root, 'target', 'release');
  const out: Record<string, string> = {};
  for (const ent of await readdir(dir, { withFileTypes: true })) {
    if (!ent.isFile() || ent.name.startsWith('.')) continue;
    out[ent.name] = createHash('sha256').update(await readFile(path.join(dir, ent.name))).digest('hex');
  }
  return out;
}

/** Distinct mapped file paths of `/proc/<pid>/maps`. */
async function mappedFiles(pid: number): Promise<string[]> {
  const maps = await readFile(`/proc/${pid}/maps`, 'utf8');
  const files = new Set<string>();
  for (const line of maps.split('\n')) {
    const f = line.split(/\s+/)[5];
    if (f?.startsWith('/')) files.add(f);
  }
  return [...files];
}

/** Mapped `.so` files of the library `lib` built by the hot build (`lib<lib>-<hash>.so`, or `lib<lib>.so` for a cdylib crate). */
const mappedLib = (files: string[], lib: string) => files.filter((f) => new RegExp(`^lib${lib}(-[0-9a-f]+)?\\.so$`).test(path.basename(f)));

/** The running session's status (`hotgen reload --status --json`). */
async function sessionStatus(root: string): Promise<{ hostPid: number; modules: { name: string; role: string; path: string }[] }> {
  const r = await hotgen(root, ['reload', '--status'], MODES[3]);
  expect(r.code, r.stderr).toBe(0);
  const ev = jsonLines(r.stdout, r.stderr)[0] as { status: { hostPid: number; modules: { name: string; role: string; path: string }[] } };
  expect(ev.status.hostPid, r.stdout).toEqual(expect.any(Number));
  return ev.status;
}

/** Every registry crate mapped exactly once, and each workspace library once; returns the registry files. */
async function expectMappedOnce(pid: number): Promise<string[]> {
  const files = await mappedFiles(pid);
  const soList = files.filter((f) => f.endsWith('.so')).join('\n');
  const registry: string[] = [];
  for (const lib of REGISTRY_LIBS) {
    const hits = mappedLib(files, lib);
    expect(hits, `registry crate ${lib} in /proc/${pid}/maps:\n${soList}`).toHaveLength(1);
    registry.push(hits[0]!);
  }
  for (const lib of WORKSPACE_LIBS) expect(mappedLib(files, lib), `workspace crate ${lib} in /proc/${pid}/maps:\n${soList}`).toHaveLength(1);
  return registry;
}

const skip =
  (!cliBuilt && skipUnless(`${CLI} missing (run npx tsc -p .)`)) ||
  skipUnless(tools.cargo(), missingStable(), tools.nightly(), tools.mold(), missingTool('git'), missingCrates());

describe.skipIf(skip)('a third-party-shaped workspace (Debian crates, shared registry deps)', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let root: string;

  beforeAll(async () => {
    tmp = await tempDir('hotbuild-ws');
    root = path.join(tmp.path, 'textsrv');
    await writeTree(root, thirdPartyWorkspace());
    await commitAll(root);
    expect(await gitStatus(root)).toEqual([]);
  });
  afterAll(async () => {
    await quitAllDevs();
    await tmp?.[Symbol.asyncDispose]();
  });

  it('init creates files only; stable build, test and release build print the same and release artifacts are byte-identical', { timeout: 1_800_000 }, async () => {
    const before: CargoOutput[] = [];
    for (const args of ORDINARY) before.push(await cargo(root, args));
    const artifacts = await releaseArtifacts(root);
    expect(Object.keys(artifacts)).toEqual(expect.arrayContaining(['textsrv', 'libws_ffi.so', 'libws_app.rlib']));
    // The fixture's own warning, and nothing about the hot cfg.
    expect(before[0]!.warnings).toEqual(['warning: unused variable: `unused_limit`', expect.stringMatching(/^warning: `ws_text` \(lib\) generated 1 warning/)]);

    const init = await hotgen(root, ['init', '--listen', '127.0.0.1:0']);
    expect(init.code, init.stderr).toBe(0);
    const status = await gitStatus(root);
    expect(status.filter((l) => !l.startsWith('?? ')), status.join('\n')).toEqual([]);
    expect(status).toEqual(expect.arrayContaining(['?? hotgen.yaml', '?? crates/app/src/hotgen_entry.rs']));
    expect(existsSync(path.join(root, 'rust-toolchain.toml'))).toBe(false);

    // From scratch, at the same path, so the comparison covers compilation and its warnings.
    await run('cargo', ['+stable', 'clean'], { cwd: root, env: plainCargoEnv() });
    for (const [i, args] of ORDINARY.entries()) {
      const after = await cargo(root, args);
      expect(after.warnings, `cargo +stable ${args.join(' ')}`).toEqual(before[i]!.warnings);
      expect(after.lines, `cargo +stable ${args.join(' ')}`).toEqual(before[i]!.lines);
    }
    expect(await releaseArtifacts(root)).toEqual(artifacts);
  });

  it('hotgen dev serves, reloads a mid-level edit in DAG order with each registry .so mapped once; eject leaves git clean', { timeout: 1_800_000 }, async () => {
    if (!existsSync(path.join(root, 'hotgen.yaml'))) {
      const init = await hotgen(root, ['init', '--listen', '127.0.0.1:0']);
      expect(init.code, init.stderr).toBe(0);
    }
    const dev = new Dev(root, [], toolchainEnv());
    const listening = await dev.waitEvent((e) => e.event === 'listening', 0);
    const port = Number(String((listening.addresses as string[])[0]).split(':').at(-1));
    const start = await dev.waitEvent((e) => e.event === 'start' || e.event === 'build-failed', 0, 1_200_000);
    expect(start, dev.stderr.slice(-4000)).toMatchObject({ event: 'start', modules: WORKSPACE_LIBS, registry: REGISTRY_LIBS.length });

    const first = await get(port, '/hello/world1');
    expect(first.status).toBe(200);
    expect(first.body).toMatch(new RegExp(`^${RENDER_V1} Page words=2 digits=1\nchecksum=[0-9a-f]{8} spaces=\\d+ via \\d+\n$`));

    const s1 = await sessionStatus(root);
    expect(s1.modules.filter((m) => m.role === 'registry').map((m) => m.name.replace(/-[0-9a-f]+$/, '')).sort()).toEqual([...REGISTRY_LIBS].sort());
    const registryBefore = await expectMappedOnce(s1.hostPid);

    // A one-line edit of the mid-level crate: it and the crates above it reload, bottom-up.
    const from = dev.events.length;
    await editFile(path.join(root, MID_SOURCE), RENDER_V1, RENDER_V2);
    const reload = await dev.waitEvent((e: DevEvent) => ['reload', 'restart', 'build-failed', 'reload-failed'].includes(e.event), from, 1_200_000);
    expect(reload, dev.stderr.slice(-4000)).toMatchObject({ event: 'reload', modules: ['ws_render', 'ws_ffi', 'ws_app'], unloaded: ['ws_app', 'ws_ffi', 'ws_render'] });
    const second = await get(port, '/hello/world1');
    expect(second.status).toBe(200);
    expect(second.body.startsWith(`${RENDER_V2} Page words=2 digits=1\n`), second.body).toBe(true);

    // Same host, registry crates untouched (the very same files), still mapped once each.
    const s2 = await sessionStatus(root);
    expect(s2.hostPid).toBe(s1.hostPid);
    expect(await expectMappedOnce(s2.hostPid)).toEqual(registryBefore);

    // An edit inside a non-generic function's body: ws_render alone is compiled; ws_ffi (a
    // cdylib crate) and ws_app, built against the previous ws_render, are reloaded as they are.
    const bodyFrom = dev.events.length;
    await editFile(path.join(root, MID_SOURCE), 'log::info!("render {path}");', 'log::info!("rendered {path}");');
    const body = await dev.waitEvent((e: DevEvent) => ['reload', 'restart', 'build-failed', 'reload-failed'].includes(e.event), bodyFrom, 1_200_000);
    expect(body, dev.stderr.slice(-4000)).toMatchObject({ event: 'reload', modules: ['ws_render', 'ws_ffi', 'ws_app'] });
    expect((body.phases as { crates: { name: string }[] }).crates.map((c) => c.name)).toEqual(['ws_render']);
    const afterBody = await get(port, '/hello/world1');
    expect(afterBody.status).toBe(200);
    expect(afterBody.body.startsWith(`${RENDER_V2} Page words=2 digits=1\n`), afterBody.body).toBe(true);

    // A Cargo.lock change restarts the host (registry dylibs are never unloaded), on the same socket.
    const lockFrom = dev.events.length;
    const lock = path.join(root, 'Cargo.lock');
    await writeFile(lock, (await readFile(lock, 'utf8')) + '# touched by the test\n');
    const restart = await dev.waitEvent((e: DevEvent) => ['restart', 'reload', 'build-failed', 'reload-failed'].includes(e.event), lockFrom, 1_200_000);
    expect(restart, dev.stderr.slice(-4000)).toMatchObject({ event: 'restart', reason: expect.stringContaining('Cargo.lock') });
    const third = await get(port, '/hello/world1');
    expect(third.status).toBe(200);
    expect(third.body.startsWith(`${RENDER_V2} Page words=2 digits=1\n`), third.body).toBe(true);
    expect((await sessionStatus(root)).hostPid).not.toBe(s1.hostPid);

    expect(await dev.quit()).toBe(0);
    expect(dev.events.at(-1)).toEqual({ event: 'quit' });
    // hotgen dev touched no tracked file (the edits aside).
    expect((await gitStatus(root)).filter((l) => !l.startsWith('?? ') && l !== ' M Cargo.lock')).toEqual([` M ${MID_SOURCE}`]);
    await git(root, ['checkout', '--', MID_SOURCE, 'Cargo.lock']);

    const eject = await hotgen(root, ['eject']);
    expect(eject.code, eject.stderr).toBe(0);
    expect(await gitStatus(root)).toEqual([]);
  });
});

/**
 * The command-line conventions, on the built CLI as a subprocess (stdout and stderr are
 * pipes, never a TTY): for every command a success path and a failure path, each in the
 * four modes (human/--json × colour allowed/NO_COLOR=1), checked for the exit code,
 * JSON-lines-only stdout under --json, no ANSI escapes, and the one `hotgen: ` line
 * (plus the `error` event under --json) on a failure. `hotgen dev` and `hotgen reload`
 * against a running session are in dev-session.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { tempDir, writeTree, type Tree } from '../helpers/tree.js';
import { skipUnless, tools } from '../helpers/tools.js';
import { run } from '../../common/exec.js';
import { CLI, MODES, cliBuilt, cliEnv, expectConventions, hotgen, tinyWorkspace, type Mode } from './run.js';

/** `hotgen init` reads the workspace with `cargo metadata`: every path after an init needs cargo. */
const noCargo = skipUnless(tools.cargo());

const COMMANDS = ['init', 'eject', 'env', 'doctor', 'dev', 'reload', 'demo', 'ci'];

describe.skipIf(!cliBuilt && skipUnless('dist/cli/hotgen.js missing (run npx tsc -p .)'))('command-line conventions of every command', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let n = 0;
  /** A fresh directory holding `tree`. */
  const dir = async (tree: Tree = {}) => {
    const d = path.join(tmp.path, `w${n++}`);
    await mkdir(d, { recursive: true });
    await writeTree(d, tree);
    return d;
  };
  /** A fresh tiny workspace after `hotgen init`. */
  const initialised = async () => {
    const d = await dir(tinyWorkspace());
    const r = await hotgen(d, ['init', '--listen', '127.0.0.1:0']);
    expect(r.code, r.stderr).toBe(0);
    return d;
  };
  /** Runs `args` in all four modes, each in a directory from `where()`. */
  const inEveryMode = async (where: () => Promise<string>, args: string[], code: number, problem?: RegExp, more?: (events: Record<string, unknown>[], out: string, mode: Mode) => void) => {
    for (const mode of MODES) {
      const r = await hotgen(await where(), args, mode);
      const events = expectConventions(r, `hotgen ${args.join(' ')}`, mode, code, problem);
      more?.(events, r.stdout, mode);
    }
  };

  beforeAll(async () => {
    tmp = await tempDir('cli-conventions');
  });
  afterAll(async () => {
    await tmp?.[Symbol.asyncDispose]();
  });

  it('`hotgen` alone prints the help and exits 2; --help exits 0; an unknown command exits 2', async () => {
    const d = await dir();
    for (const mode of [MODES[0], MODES[1]]) {
      const bare = await hotgen(d, [], mode);
      expect(bare.code).toBe(2);
      expect(bare.stdout + bare.stderr).not.toContain('\x1b[');
      expect(bare.stdout).toMatch(/^Usage: hotgen <command>/m);
      expect(bare.stdout).toMatch(/^Exit codes: 0 ok, 1 user error, 2 usage error/m);
      for (const cmd of COMMANDS) expect(bare.stdout).toMatch(new RegExp(`^  ${cmd} +\\S`, 'm'));
      const help = await hotgen(d, ['--help'], mode);
      expectConventions(help, 'hotgen --help', mode, 0);
      expect(help.stdout).toBe(bare.stdout);
    }
    await inEveryMode(dir, ['frobnicate'], 2, /unknown command `frobnicate`/);
  });

  it('every command has --help with examples, flags and exit codes (exit 0, no colour)', async () => {
    const d = await dir();
    for (const cmd of COMMANDS) {
      for (const mode of [MODES[0], MODES[1]]) {
        const r = await hotgen(d, [cmd, '--help'], mode);
        expectConventions(r, `hotgen ${cmd} --help`, mode, 0);
        expect(r.stdout).toMatch(new RegExp(`^Usage: hotgen ${cmd}\\b`, 'm'));
        expect(r.stdout).toMatch(/^Examples:\n {2}\S/m);
        expect(r.stdout).toMatch(/^Global flags: --json .*--verbose/m);
        expect(r.stdout).toMatch(/^Exit codes: 0 ok, 1 user error, 2 usage error, 70 internal error\.$/m);
      }
    }
  });

  it('every command: an unknown flag or a stray argument is a usage error (exit 2) naming it', async () => {
    for (const cmd of COMMANDS) {
      await inEveryMode(dir, [cmd, '--bogus-flag'], 2, new RegExp(`^hotgen: ${cmd}: Unknown option '--bogus-flag'$`));
      await inEveryMode(dir, [cmd, 'stray'], 2, new RegExp(`^hotgen: ${cmd}: unexpected argument \`stray\`$`));
    }
  });

  it.skipIf(noCargo)('init: success on a tiny workspace; failure without Cargo.toml (1) and with a bad flag value (2)', async () => {
    await inEveryMode(() => dir(tinyWorkspace()), ['init'], 0, undefined, (events, out, mode) => {
      if (mode.json) {
        expect(events).toHaveLength(1);
        expect(events[0]).toMatchObject({ event: 'init', entry: 'app', changed: expect.arrayContaining(['hotgen.yaml', 'hotgen/rust-toolchain.toml', 'hotgen/cargo-config.toml']) });
        expect(events[0]!.changed).not.toContain('Cargo.toml');
      } else expect(out).toMatch(/^entry: +app$/m);
    });
    await inEveryMode(() => dir(tinyWorkspace()), ['init', '--dry-run'], 0, undefined, (events, out, mode) => {
      if (mode.json) expect(events.map((e) => e.event)).toEqual(['diff']);
      else expect(out).toMatch(/^\+\+\+ .*hotgen\.yaml/m);
    });
    await inEveryMode(() => dir({ 'README.md': 'not a workspace\n' }), ['init'], 1, /Cargo\.toml/);
    await inEveryMode(() => dir(tinyWorkspace()), ['init', '--linker', 'bfd'], 2, /--linker must be mold, lld, gold or default, not `bfd`/);
  });

  it.skipIf(noCargo)('eject: success after init; failure when not initialised (1)', async () => {
    await inEveryMode(initialised, ['eject'], 0, undefined, (events, out, mode) => {
      if (mode.json) expect(events).toEqual([expect.objectContaining({ event: 'eject', restored: [], removed: expect.arrayContaining(['hotgen.yaml', 'hotgen/cargo-config.toml', '.hotgen/']) })]);
      else expect(out).toMatch(/^hotgen setup removed$/m);
    });
    await inEveryMode(() => dir(tinyWorkspace()), ['eject'], 1, /nothing to eject: no \.hotgen\/init-state\.json/);
  });

  it.skipIf(noCargo || skipUnless(tools.nightly()))('env: success after init; failure without hotgen.yaml (1)', async () => {
    const d = await initialised();
    await inEveryMode(async () => d, ['env'], 0, undefined, (events, out, mode) => {
      if (mode.json) expect(events).toEqual([expect.objectContaining({ event: 'env', env: expect.objectContaining({ LD_LIBRARY_PATH: expect.any(String) }) })]);
      else expect(out).toMatch(/^export LD_LIBRARY_PATH\b/m);
    });
    await inEveryMode(() => dir(tinyWorkspace()), ['env'], 1, /no hotgen\.yaml in /);
  });

  it('doctor: a failing check exits 1 after printing every check', async () => {
    await inEveryMode(() => dir(tinyWorkspace()), ['doctor'], 1, /^hotgen: doctor: 1 check\(s\) failed: plan$/, (events, out, mode) => {
      if (mode.json) {
        expect(events.slice(0, -1).every((e) => e.event === 'check')).toBe(true);
        expect(events).toContainEqual(expect.objectContaining({ event: 'check', id: 'plan', status: 'fail' }));
      } else expect(out).toMatch(/^FAIL plan /m);
    });
  });

  it.skipIf(noCargo || skipUnless(tools.nightly(), tools.mold()))('doctor: every check passes after `eval "$(hotgen env)"` (exit 0); --build fails (1) on a compile error', async () => {
    const d = await initialised();
    const env = await hotgen(d, ['env', '--json'], MODES[3]);
    const vars = (expectConventions(env, 'hotgen env', MODES[3], 0)[0].env ?? {}) as Record<string, string>;
    const hotEnv = { ...vars, RUSTUP_TOOLCHAIN: vars.RUSTUP_TOOLCHAIN ?? '' };
    for (const mode of MODES) {
      const r = await hotgen(d, ['doctor'], mode, hotEnv);
      const events = expectConventions(r, 'hotgen doctor (in the hot env)', mode, 0);
      if (mode.json) expect(events.every((e) => e.event === 'check' && e.status !== 'fail')).toBe(true);
      else expect(r.stdout).toMatch(/^all checks passed$/m);
    }
    await writeFile(path.join(d, 'base/src/lib.rs'), 'pub fn value() -> u32 { "one" }\n');
    for (const mode of MODES) {
      const r = await hotgen(d, ['doctor', '--build'], mode, hotEnv);
      const events = expectConventions(r, 'hotgen doctor --build (a compile error)', mode, 1, /^hotgen: doctor: 1 check\(s\) failed: hot-build$/);
      if (mode.json) expect(events).toContainEqual(expect.objectContaining({ event: 'check', id: 'hot-build', status: 'fail', details: expect.stringContaining('error[E0308]') }));
      else expect(r.stdout).toMatch(/^FAIL hot-build +the hot build of `app` failed: error\[E0308\]/m);
    }
  });

  it.skipIf(noCargo)('dev and reload: failure when not initialised or no session runs (1)', async () => {
    await inEveryMode(() => dir(tinyWorkspace()), ['dev', '--no-watch'], 1, /no hotgen\.yaml in /);
    await inEveryMode(initialised, ['reload'], 1, /^hotgen: no hotgen dev session runs in /);
    await inEveryMode(initialised, ['reload', '--timeout', 'soon'], 2, /^hotgen: reload: --timeout takes a number of seconds$/);
  });

  it.skipIf(noCargo)('dev: an internal error (a cargo whose metadata is not JSON) exits 70 with a report-this line', async () => {
    const d = await initialised();
    const bin = path.join(d, 'fake-bin');
    await mkdir(bin);
    // Stand-ins on PATH: rustc answers only --print target-libdir; cargo prints no JSON.
    await writeFile(path.join(bin, 'rustc'), '#!/bin/sh\ncase "$*" in *target-libdir*) echo /nonexistent/lib ;; *) exit 1 ;; esac\n');
    await writeFile(path.join(bin, 'cargo'), '#!/bin/sh\necho "this is not JSON"\n');
    await chmod(path.join(bin, 'rustc'), 0o755);
    await chmod(path.join(bin, 'cargo'), 0o755);
    for (const mode of MODES) {
      const argv = mode.json ? ['dev', '--no-watch', '--json'] : ['dev', '--no-watch'];
      const env = cliEnv(mode.noColor, { PATH: `${bin}:${process.env.PATH}` });
      delete env.HOTGEN_TOOLCHAIN;
      const r = await run(process.execPath, [CLI, ...argv], { cwd: d, env, allowFailure: true, timeoutMs: 60_000 });
      expectConventions(r, 'hotgen dev with a broken cargo', mode, 70, /^hotgen: internal error: cargo metadata printed no JSON$/);
      expect(r.stderr.trimEnd().split('\n').at(-1)).toBe('This is a bug in hotgen; please report it with the lines above.');
    }
  });

  it('demo: --help and a bad flag (its success path is test/package/pack.test.ts)', async () => {
    for (const mode of [MODES[0], MODES[1]]) {
      const r = await hotgen(await dir(), ['demo', '--help'], mode);
      expectConventions(r, 'hotgen demo --help', mode, 0);
      expect(r.stdout).toMatch(/^ {2}hotgen demo --json$/m);
    }
    await inEveryMode(dir, ['demo', '--keep=yes'], 2, /^hotgen: demo: Option '--keep' does not take an argument/);
    await inEveryMode(dir, ['demo', '--example', 'nope'], 2, /^hotgen: demo: --example must be one of server, conduwuit, not `nope`/);
  });

  it.skipIf(noCargo)('ci: success with --dry-run after init; failure when not initialised (1) or without --github (2)', async () => {
    await inEveryMode(initialised, ['ci', '--github', '--dry-run'], 0, undefined, (events, out, mode) => {
      if (mode.json) expect(events).toEqual([expect.objectContaining({ event: 'ci', action: 'dry-run', systems: ['x86_64-linux'], content: expect.stringContaining('nix flake check') })]);
      else expect(out).toMatch(/^# Generated by `hotgen ci --github`/m);
    });
    await inEveryMode(() => dir(tinyWorkspace()), ['ci', '--github'], 1, /no hotgen\.yaml in /);
    await inEveryMode(initialised, ['ci'], 2, /^hotgen: ci: name the CI system: --github/);
  });

  it.skipIf(noCargo)('--verbose adds lines on stderr only, so --json stdout stays the same', async () => {
    const d = await initialised();
    const quiet = await hotgen(d, ['ci', '--github', '--dry-run'], MODES[3]);
    const loud = await hotgen(d, ['ci', '--github', '--dry-run', '--verbose'], MODES[3]);
    expectConventions(loud, 'hotgen ci --verbose', MODES[3], 0);
    expect(loud.stdout).toBe(quiet.stdout);
    expect(loud.stderr).toMatch(/^hotgen \d+\.\d+\.\d+ ci in /m);
  });
});

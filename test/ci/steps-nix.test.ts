/**
 * The workflow's `run:` steps against real Nix, offline: on a tiny workspace set up by a
 * real `hotgen init`, every command a step runs exists in the dev shell, and the steps
 * themselves, byte for byte as the YAML has them, pass under bash. A `nix` shim first on
 * PATH adds what the offline setup needs (the private store, the stand-in inputs,
 * `--no-write-lock-file`) and passes everything else through.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { YAML } from '../../common/deps-config.js';
import { run, shellQuote, type RunResult } from '../../common/exec.js';
import { initWorkspace } from '../../generator/init.js';
import { writeWorkflow } from '../../generator/ci.js';
import { skipUnless, tools } from '../helpers/tools.js';
import { tempDir, writeTree } from '../helpers/tree.js';
import { NixEnv, nixMissing, nixSystem, rustupSysroot } from '../nix/nixenv.js';
import { FIXTURE_APP_LIB } from '../nix/fixtures.js';

const skip = skipUnless(nixMissing(), tools.nightly(), tools.mold(), tools.clang());
const SYSTEM = nixSystem();

/** A workspace as a user has it before `hotgen init`: a library chain (the entry with init's snippet), a binary, a unit test. */
const WORKSPACE = {
  'Cargo.toml': '[workspace]\nmembers = ["base", "app", "server"]\nresolver = "2"\n',
  'base/Cargo.toml': '[package]\nname = "base"\nversion = "0.1.0"\nedition = "2021"\n',
  'base/src/lib.rs': 'pub fn name() -> &\'static str {\n    "base"\n}\n\n#[cfg(test)]\nmod tests {\n    #[test]\n    fn name_is_base() {\n        assert_eq!(super::name(), "base");\n    }\n}\n',
  'app/Cargo.toml': '[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\nbase = { path = "../base" }\n',
  'app/src/lib.rs': FIXTURE_APP_LIB,
  'server/Cargo.toml': '[package]\nname = "server"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\napp = { path = "../app" }\n',
  'server/src/main.rs': 'fn main() {\n    println!("{}", app::greeting());\n}\n',
};

/** The `run:` steps of the job for this machine's system, in order. */
function runSteps(workflow: string): string[] {
  const wf = YAML.parse(workflow) as { jobs: Record<string, { steps: { run?: string }[] }> };
  const job = wf.jobs[SYSTEM];
  if (!job) throw new Error(`no ${SYSTEM} job in the workflow`);
  return job.steps.flatMap((s) => (s.run ? [s.run] : []));
}

/** The programs a step starts: the first word of each line, and what `nix develop --command` runs. */
function commandWords(step: string): string[] {
  return step.split('\n').flatMap((line) => {
    const words = line.trim().split(/\s+/).filter(Boolean);
    if (words.length === 0 || words[0]!.startsWith('#')) return [];
    const i = words.indexOf('--command');
    return words[0] === 'nix' && words[1] === 'develop' && i > 0 ? [words[0], words[i + 1]!] : [words[0]!];
  });
}

describe.skipIf(skip)('the CI workflow\'s steps in the offline dev shell', () => {
  let nix: NixEnv;
  let tmp: { path: string } & AsyncDisposable;
  let root: string;
  let steps: string[];
  let shimDir: string;

  beforeAll(async () => {
    nix = await NixEnv.create({ toolchains: { nightly: { '2026-05-19': (await rustupSysroot('nightly'))! } } });
    tmp = await tempDir('ci-steps');
    root = path.join(tmp.path, 'ws');
    await writeTree(root, WORKSPACE);
    await initWorkspace(root, {});
    steps = runSteps((await writeWorkflow(root, { arch: ['aarch64'] })).content);

    const realNix = (await run('sh', ['-c', 'command -v nix'])).stdout.trim();
    const extra = [...nix.overrides(), '--no-write-lock-file'].map(shellQuote).join(' ');
    shimDir = path.join(tmp.path, 'bin');
    await mkdir(shimDir);
    await writeFile(
      path.join(shimDir, 'nix'),
      [
        '#!/bin/bash',
        '# Test shim: the workflow\'s nix, offline against the stand-ins and a private store.',
        `real=${shellQuote(realNix)}`,
        `store=${shellQuote(nix.store)}`,
        'case "$1 ${2-}" in',
        `  "flake check") shift 2; exec "$real" --store "$store" flake check ${extra} "$@" ;;`,
        `  develop*) shift; exec "$real" --store "$store" develop ${extra} "$@" ;;`,
        '  *) exec "$real" --store "$store" "$@" ;;',
        'esac',
        '',
      ].join('\n'),
    );
    await chmod(path.join(shimDir, 'nix'), 0o755);
  });
  afterAll(async () => {
    await nix?.[Symbol.asyncDispose]();
    await tmp?.[Symbol.asyncDispose]();
  });

  /** Runs one step as GitHub's default shell does (`bash -e`), in the workspace. */
  function runStep(step: string): Promise<RunResult> {
    const env: NodeJS.ProcessEnv = { ...nix.env, PATH: `${shimDir}:${process.env.PATH}` };
    delete env.RUSTUP_TOOLCHAIN;
    delete env.CARGO_TARGET_DIR;
    return run('bash', ['--noprofile', '--norc', '-e', '-c', step], {
      cwd: root,
      env,
      allowFailure: true,
      timeoutMs: 900_000,
    });
  }

  it('the steps are the flake check, the hot build and the tests', () => {
    expect(steps).toEqual([
      'nix flake check --print-build-logs',
      'nix develop --command cargo build --config hotgen/cargo-config.toml --profile hot',
      'nix develop --command cargo test --workspace',
    ]);
  });

  it('every program a step runs exists in the dev shell, cargo from the pinned toolchain', async () => {
    const words = [...new Set(steps.flatMap(commandWords))];
    expect(words.sort()).toEqual(['cargo', 'nix']);
    const script = words.map((w) => `printf '%s=%s\\n' ${shellQuote(w)} "$(command -v ${shellQuote(w)} || echo MISSING)"`).join('; ');
    const r = await nix.develop(root, ['sh', '-c', script], { env: { ...nix.env, RUSTUP_TOOLCHAIN: '' } });
    const found = Object.fromEntries(r.stdout.trim().split('\n').map((l) => l.split(/=(.*)/s).slice(0, 2) as [string, string]));
    for (const w of words) expect(found[w], w).not.toBe('MISSING');
    expect(found.cargo).toMatch(new RegExp(`^${nix.storeDir}/\\w+-rust-nightly-2026-05-19/bin/cargo$`));
  });

  it('each step passes locally, as written', async () => {
    for (const step of steps) {
      const r = await runStep(step);
      expect(r.code, `${step}\n${r.stderr.slice(-3000)}`).toBe(0);
    }
    // The hot profile (from hotgen/cargo-config.toml) built the workspace, as the flake check does.
    expect((await readFile(path.join(root, 'target', 'hot', 'libapp.rlib'))).length).toBeGreaterThan(0);
    const test = await runStep(steps[2]!);
    expect(test.stdout).toMatch(/test tests::name_is_base \.\.\. ok/);
  });

  it('the test step fails when a workspace test fails, and the check step when the code does not build', async () => {
    const lib = path.join(root, 'base', 'src', 'lib.rs');
    const good = await readFile(lib, 'utf8');
    try {
      await writeFile(lib, good.replace('assert_eq!(super::name(), "base")', 'assert_eq!(super::name(), "other")'));
      const test = await runStep(steps[2]!);
      expect(test.code).not.toBe(0);
      expect(test.stdout).toMatch(/test tests::name_is_base \.\.\. FAILED/);
      await writeFile(lib, good.replace('"base"\n}', '42\n}'));
      const check = await runStep(steps[0]!);
      expect(check.code).not.toBe(0);
      expect(check.stderr).toMatch(/hotgen-hot-build/);
      expect(check.stderr).toMatch(/mismatched types/);
    } finally {
      await writeFile(lib, good);
    }
  });
});

/**
 * `hotgen doctor`: each check passing on a set-up workspace, and each one failing with
 * its fix hint when the thing it checks is broken; the hot build check skipped by
 * default, run for real with `--build` (a compile error fails it, exit 1). The CLI cases
 * need `npx tsc -p .`.
 */
import { describe, it, expect } from 'vitest';
import { existsSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../../common/exec.js';
import { CHECK_IDS, checkHotBuild, checkPlatform, formatCheck, runDoctor, type CheckResult } from '../../generator/doctor.js';
import { InternalError, UserError } from '../../common/errors.js';
import { CARGO_CONFIG_FILE, NIX_MODULE_FILE, TOOLCHAIN_FILE } from '../../common/layout.js';
import { computeEnv, envValues } from '../../generator/env.js';
import { skipUnless, tools } from '../helpers/tools.js';
import { tempDir, writeTree } from '../helpers/tree.js';
import { fixturePlan, fixtureTree } from '../nix/fixtures.js';

const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../dist/cli/hotgen.js');
const GLIBC_LDD = 'ldd (Debian GLIBC 2.36-9+deb12u14) 2.36\nCopyright (C) 2022 Free Software Foundation, Inc.\n';
const MUSL_LDD = 'musl libc (x86_64)\nVersion 1.2.4\nDynamic Program Loader\n';

describe('checkPlatform', () => {
  it('accepts glibc on x86_64 and aarch64', () => {
    expect(checkPlatform({ platform: 'linux', arch: 'x64', ldd: GLIBC_LDD, muslLoader: false })).toMatchObject({ status: 'ok', summary: 'Linux x86_64, glibc 2.36' });
    expect(checkPlatform({ platform: 'linux', arch: 'arm64', ldd: GLIBC_LDD, muslLoader: false }).status).toBe('ok');
  });
  it('fails on musl, other systems and other CPUs, with a hint', () => {
    for (const f of [
      { platform: 'linux', arch: 'x64', ldd: MUSL_LDD, muslLoader: true },
      { platform: 'linux', arch: 'x64', ldd: '', muslLoader: true },
      { platform: 'darwin', arch: 'arm64', ldd: '', muslLoader: false },
      { platform: 'linux', arch: 'riscv64', ldd: GLIBC_LDD, muslLoader: false },
    ]) {
      const r = checkPlatform(f);
      expect(r.status, JSON.stringify(f)).toBe('fail');
      expect(r.hint).toBeTruthy();
    }
  });
});

describe('checkHotBuild and formatCheck', () => {
  const plan = fixturePlan();
  it('skips without a probe, saying how to run it', async () => {
    const r = await checkHotBuild('/nowhere', plan);
    expect(r).toEqual({ id: 'hot-build', status: 'skip', summary: expect.stringContaining('run `hotgen doctor --build`') });
    expect(formatCheck(r)).toMatch(/^skip hot-build {7}skipped .*hotgen doctor --build`$/);
  });

  it('a failed build fails with its first error, the E0635 fix as the hint, the errors as details', async () => {
    const errors = [
      'error[E0635]: unknown feature `proc_macro_span_shrink`',
      '  --> /reg/proc-macro2-1.0.47/src/lib.rs:92:30',
      '',
      'hotgen: registry crate `proc-macro2` 1.0.47 enables the nightly feature `proc_macro_span_shrink`, which nightly-2026-05-19 no longer has (E0635). Fix: `cargo update -p proc-macro2` (a newer release detects this nightly), or `hotgen init --channel stable`.',
    ].join('\n');
    const r = await checkHotBuild('/ws', plan, async () => ({ ok: false, summary: 'the hot build of `app` failed', errors }));
    expect(r.status).toBe('fail');
    expect(r.summary).toBe('the hot build of `app` failed: error[E0635]: unknown feature `proc_macro_span_shrink`');
    expect(r.hint).toMatch(/^registry crate `proc-macro2` 1\.0\.47 .*Fix: `cargo update -p proc-macro2` .*`hotgen init --channel stable`\.$/);
    expect(r.details).toBe(errors);
    const lines = formatCheck(r).split('\n');
    expect(lines[0]).toMatch(/^FAIL hot-build {7}the hot build of `app` failed: error\[E0635\].*\(fix: registry crate `proc-macro2`/);
    expect(lines.slice(1)).toEqual(errors.split('\n').map((l) => `    ${l}`.trimEnd()));
  });

  it('an ordinary compile error gets the generic hint; a probe that cannot start (UserError) fails; a bug (InternalError) is thrown', async () => {
    const r = await checkHotBuild('/ws', plan, async () => ({ ok: false, summary: 'the hot build of `app` failed', errors: 'error[E0308]: mismatched types\n --> base/src/lib.rs:1:1' }));
    expect(r).toMatchObject({ status: 'fail', hint: 'Fix the errors below, then run `hotgen doctor --build` again.' });
    const noTc = await checkHotBuild('/ws', plan, async () => {
      throw new UserError('`rustc +nightly-2026-05-19 --print target-libdir` printed nothing', { hint: 'Install the toolchain.' });
    });
    expect(noTc).toMatchObject({ status: 'fail', summary: 'the hot build could not start: `rustc +nightly-2026-05-19 --print target-libdir` printed nothing', hint: 'Install the toolchain.' });
    await expect(checkHotBuild('/ws', plan, async () => { throw new InternalError('no record'); })).rejects.toThrow(InternalError);
    expect(await checkHotBuild('/ws', plan, async () => ({ ok: true, summary: 'built 2 workspace and 0 registry dylibs for `app`' }))).toEqual({ id: 'hot-build', status: 'ok', summary: 'built 2 workspace and 0 registry dylibs for `app`' });
  });
});

describe.skipIf(skipUnless(tools.nightly(), tools.mold(), tools.clang()))('runDoctor on a workspace', () => {
  async function setUp(dir: string) {
    const root = path.join(dir, 'ws');
    await writeTree(root, fixtureTree(root).tree);
    const hot = envValues(await computeEnv(root, fixturePlan()), undefined);
    const env = { ...process.env, ...hot };
    return { root, env };
  }
  const byId = (rs: CheckResult[]) => Object.fromEntries(rs.map((r) => [r.id, r]));

  it('passes every check in the environment hotgen env gives; the hot build is skipped unless asked for', async () => {
    await using tmp = await tempDir('doctor');
    const { root, env } = await setUp(tmp.path);
    const rs = await runDoctor(path.join(root, 'app'), { env });
    expect(rs.map((r) => r.id)).toEqual([...CHECK_IDS]);
    for (const r of rs.slice(0, -1)) expect(r.status, `${r.id}: ${r.summary}`).toBe('ok');
    expect(rs.at(-1)!.status).toBe('skip');
    expect(byId(rs)['ld-library-path']!.summary).toContain(path.join(root, 'target', 'hotgen', 'hot', 'deps'));
  });

  it('the toolchain check needs no root rust-toolchain.toml and ignores RUSTUP_TOOLCHAIN: hotgen selects the pin itself', async () => {
    await using tmp = await tempDir('doctor');
    const { root, env } = await setUp(tmp.path);
    expect(existsSync(path.join(root, 'rust-toolchain.toml'))).toBe(false);
    const rs = byId(await runDoctor(root, { env: { ...env, RUSTUP_TOOLCHAIN: 'stable' } }));
    expect(rs.toolchain).toMatchObject({ status: 'ok' });
    expect(rs.toolchain!.summary).toMatch(/^rustc 1\.\d+\.\d+-nightly .* is the pin nightly-2026-05-19 \(rustup.*; hot builds run cargo \+nightly/);
    // A pin rustup lacks, with another rustc on PATH: named, with the install command.
    await writeFile(path.join(root, TOOLCHAIN_FILE), '[toolchain]\nchannel = "nightly-2001-02-03"\n');
    const missing = byId(await runDoctor(root, { env: { ...env, RUSTUP_TOOLCHAIN: 'stable' } }));
    expect(missing.toolchain).toMatchObject({ status: 'fail', hint: expect.stringContaining('rustup toolchain install nightly-2001-02-03') });
    expect(missing.toolchain!.summary).toMatch(/^rustup has no toolchain for the pin nightly-2001-02-03, and the rustc on PATH is rustc 1\.\d+\.\d+ /);
  });

  it('fails LD_LIBRARY_PATH without libstd, and warns without the hot deps dir', async () => {
    await using tmp = await tempDir('doctor');
    const { root, env } = await setUp(tmp.path);
    let rs = byId(await runDoctor(root, { env: { ...env, LD_LIBRARY_PATH: '/elsewhere' } }));
    expect(rs['ld-library-path']).toMatchObject({ status: 'fail', hint: expect.stringContaining('hotgen env') });
    expect(rs['ld-library-path']!.summary).toContain(env.LD_LIBRARY_PATH!.split(':')[0]);
    rs = byId(await runDoctor(root, { env: { ...env, LD_LIBRARY_PATH: env.LD_LIBRARY_PATH!.split(':')[0] } }));
    expect(rs['ld-library-path']).toMatchObject({ status: 'warn', summary: expect.stringMatching(/has libstd but not .*\/target\/hotgen\/hot\/deps$/) });
    // The deps dir is where cargo puts the target dir, not a guess.
    rs = byId(await runDoctor(root, { env: { ...env, CARGO_TARGET_DIR: path.join(tmp.path, 'tgt') } }));
    expect(rs['ld-library-path']).toMatchObject({ status: 'warn', summary: expect.stringContaining(path.join(tmp.path, 'tgt', 'hotgen', 'hot', 'deps')) });
  });

  it('fails the linker check when the linker is not on PATH', async () => {
    await using tmp = await tempDir('doctor');
    const { root, env } = await setUp(tmp.path);
    const rs = byId(await runDoctor(root, { env: { ...env, PATH: path.join(tmp.path, 'empty') } }));
    expect(rs.linker).toMatchObject({ status: 'fail', summary: 'ld.mold is not on PATH' });
  });

  it('names missing hotgen files and the Nix files', async () => {
    await using tmp = await tempDir('doctor');
    const { root, env } = await setUp(tmp.path);
    await writeFile(path.join(root, CARGO_CONFIG_FILE), '# emptied\n');
    // doctor reads nix/hotgen.nix (which holds the shell) first, else flake.nix.
    expect(byId(await runDoctor(root, { env })).nix).toMatchObject({ status: 'ok', summary: 'nix/hotgen.nix reads hotgen/rust-toolchain.toml, which pins nightly-2026-05-19' });
    await rm(path.join(root, 'flake.nix'));
    await rm(path.join(root, NIX_MODULE_FILE));
    let rs = byId(await runDoctor(root, { env }));
    expect(rs.files).toMatchObject({ status: 'fail', summary: 'hotgen/cargo-config.toml has no [profile.hot] (the profile in hotgen.yaml)', hint: 'Run `hotgen init` again.' });
    expect(rs.nix).toMatchObject({ status: 'fail', summary: 'no flake.nix or nix/hotgen.nix' });
    await rm(path.join(root, CARGO_CONFIG_FILE));
    await writeFile(path.join(root, 'flake.nix'), '{ outputs = _: { }; }\n');
    rs = byId(await runDoctor(root, { env }));
    expect(rs.files!.summary).toBe('hotgen/cargo-config.toml is missing');
    expect(rs.nix).toMatchObject({ status: 'warn', summary: expect.stringContaining('flake.nix does not read hotgen/rust-toolchain.toml') });
  });

  it('stops after the plan check when there is no hotgen.yaml', async () => {
    await using tmp = await tempDir('doctor');
    const rs = await runDoctor(tmp.path);
    expect(rs.map((r) => [r.id, r.status])).toEqual([
      ['platform', 'ok'],
      ['plan', 'fail'],
    ]);
  });

  it.skipIf(!existsSync(CLI) && skipUnless(`${CLI} missing (run npx tsc -p .)`))('the CLI prints one line per check and exits 1 on a failure, 0 after eval "$(hotgen env)"; --build runs the hot build', async () => {
    await using tmp = await tempDir('doctor');
    const { root } = await setUp(tmp.path);
    const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', HOTGEN: `${process.execPath} ${CLI}`, LD_LIBRARY_PATH: '' };
    delete env.RUSTUP_TOOLCHAIN;
    const bad = await run('sh', ['-c', '$HOTGEN doctor'], { cwd: root, env, allowFailure: true });
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/^FAIL ld-library-path .*\(fix: Run `eval "\$\(hotgen env\)"` or `nix develop`\.\)$/m);
    expect(bad.stdout.trim().split('\n')).toHaveLength(CHECK_IDS.length + 1);
    const good = await run('sh', ['-c', 'eval "$($HOTGEN env)" && $HOTGEN doctor'], { cwd: root, env, allowFailure: true });
    expect(good.code, good.stdout + good.stderr).toBe(0);
    expect(good.stdout).toMatch(/^ok {3}toolchain {7}rustc 1\.\d+\.\d+-nightly .* is the pin nightly-2026-05-19 /m);
    expect(good.stdout).toMatch(/^skip hot-build {7}/m);
    const json = await run('sh', ['-c', 'eval "$($HOTGEN env)" && $HOTGEN doctor --build --json'], { cwd: root, env, allowFailure: true });
    expect(json.code, json.stdout + json.stderr).toBe(0);
    const events = json.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(events.map((e) => e.event)).toEqual(Array(CHECK_IDS.length).fill('check'));
    expect(events.map((e) => [e.id, e.status])).toEqual(CHECK_IDS.map((id) => [id, 'ok']));
    expect(events.at(-1).summary).toMatch(/^built 2 workspace and 0 registry dylibs for `app` in .*\/target\/hotgen\/hot\/deps$/);
    // A compile error makes --build fail (exit 1) with the compiler's error under the line.
    await writeFile(path.join(root, 'base', 'src', 'lib.rs'), 'pub fn name() -> &\'static str { 42 }\n');
    const broken = await run('sh', ['-c', 'eval "$($HOTGEN env)" && $HOTGEN doctor --build'], { cwd: root, env, allowFailure: true });
    expect(broken.code).toBe(1);
    expect(broken.stdout).toMatch(/^FAIL hot-build {7}the hot build of `app` failed: error\[E0308\]: mismatched types/m);
    expect(broken.stdout).toMatch(/^ {4}error\[E0308\]: mismatched types$/m);
    expect(broken.stderr).toMatch(/^hotgen: doctor: 1 check\(s\) failed: hot-build$/m);
  });
});

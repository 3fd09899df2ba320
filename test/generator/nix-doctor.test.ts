/**
 * `hotgen doctor`: each check passing on a set-up workspace, and each one failing with
 * its fix hint when the thing it checks is broken. The CLI cases need `npx tsc -p .`.
 */
import { describe, it, expect } from 'vitest';
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../../common/exec.js';
import { checkPlatform, runDoctor, type CheckResult } from '../../generator/doctor.js';
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

describe.skipIf(skipUnless(tools.nightly(), tools.mold(), tools.clang()))('runDoctor on a workspace', () => {
  async function setUp(dir: string) {
    const root = path.join(dir, 'ws');
    await writeTree(root, fixtureTree(root).tree);
    const hot = envValues(await computeEnv(root, fixturePlan()), undefined);
    const env = { ...process.env, ...hot };
    return { root, env };
  }
  const byId = (rs: CheckResult[]) => Object.fromEntries(rs.map((r) => [r.id, r]));

  it('passes every check in the environment hotgen env gives', async () => {
    await using tmp = await tempDir('doctor');
    const { root, env } = await setUp(tmp.path);
    const rs = await runDoctor(path.join(root, 'app'), { env });
    expect(rs.map((r) => r.id)).toEqual(['platform', 'plan', 'toolchain', 'linker', 'ld-library-path', 'manifests', 'nix']);
    for (const r of rs) expect(r.status, `${r.id}: ${r.summary}`).toBe('ok');
  });

  it('fails LD_LIBRARY_PATH without libstd, and the toolchain for another pinned rustc', async () => {
    await using tmp = await tempDir('doctor');
    const { root, env } = await setUp(tmp.path);
    let rs = byId(await runDoctor(root, { env: { ...env, LD_LIBRARY_PATH: '/elsewhere' } }));
    expect(rs['ld-library-path']).toMatchObject({ status: 'fail', hint: expect.stringContaining('hotgen env') });
    expect(rs['ld-library-path']!.summary).toContain(env.LD_LIBRARY_PATH!.split(':')[0]);
    rs = byId(await runDoctor(root, { env: { ...env, RUSTUP_TOOLCHAIN: 'stable' } }));
    expect(rs.toolchain).toMatchObject({ status: 'fail' });
    expect(rs.toolchain!.summary).toMatch(/the active rustc is rustc 1\.\d+\.\d+ .*not the pin nightly-2026-05-19/);
  });

  it('fails the linker check when the linker is not on PATH', async () => {
    await using tmp = await tempDir('doctor');
    const { root, env } = await setUp(tmp.path);
    const rs = byId(await runDoctor(root, { env: { ...env, PATH: path.join(tmp.path, 'empty') } }));
    expect(rs.linker).toMatchObject({ status: 'fail', summary: 'ld.mold is not on PATH' });
  });

  it('names each manifest problem and the Nix files', async () => {
    await using tmp = await tempDir('doctor');
    const { root, env } = await setUp(tmp.path);
    const base = path.join(root, 'base', 'Cargo.toml');
    await writeFile(base, (await readFile(base, 'utf8')).replace('crate-type = ["rlib", "dylib"]', 'crate-type = ["rlib"]'));
    const top = path.join(root, 'Cargo.toml');
    await writeFile(top, (await readFile(top, 'utf8')).replace('cargo-features = ["profile-rustflags"]\n', ''));
    await rm(path.join(root, 'flake.nix'));
    const rs = byId(await runDoctor(root, { env }));
    expect(rs.manifests!.status).toBe('fail');
    expect(rs.manifests!.summary).toContain('Cargo.toml lacks cargo-features = ["profile-rustflags"]');
    expect(rs.manifests!.summary).toContain('base/Cargo.toml: [lib] crate-type lacks "dylib"');
    expect(rs.nix).toMatchObject({ status: 'fail', summary: 'no flake.nix or nix/hotgen.nix' });
  });

  it('stops after the plan check when there is no hotgen.yaml', async () => {
    await using tmp = await tempDir('doctor');
    const rs = await runDoctor(tmp.path);
    expect(rs.map((r) => [r.id, r.status])).toEqual([
      ['platform', 'ok'],
      ['plan', 'fail'],
    ]);
  });

  it.skipIf(!existsSync(CLI) && skipUnless(`${CLI} missing (run npx tsc -p .)`))('the CLI prints one line per check and exits 1 on a failure, 0 after eval "$(hotgen env)"', async () => {
    await using tmp = await tempDir('doctor');
    const { root } = await setUp(tmp.path);
    const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', HOTGEN: `${process.execPath} ${CLI}`, LD_LIBRARY_PATH: '' };
    delete env.RUSTUP_TOOLCHAIN;
    const bad = await run('sh', ['-c', 'RUSTUP_TOOLCHAIN=nightly $HOTGEN doctor'], { cwd: root, env, allowFailure: true });
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/^FAIL ld-library-path .*\(fix: Run `eval "\$\(hotgen env\)"` or `nix develop`\.\)$/m);
    expect(bad.stdout.trim().split('\n')).toHaveLength(8);
    const good = await run('sh', ['-c', 'eval "$($HOTGEN env)" && $HOTGEN doctor'], { cwd: root, env, allowFailure: true });
    expect(good.code, good.stdout + good.stderr).toBe(0);
    expect(good.stdout).toMatch(/^ok {3}toolchain {7}rustc 1\.\d+\.\d+-nightly .* matches the pin nightly-2026-05-19$/m);
    const json = await run('sh', ['-c', 'eval "$($HOTGEN env)" && $HOTGEN doctor --json'], { cwd: root, env, allowFailure: true });
    const events = json.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(events.map((e) => e.event)).toEqual(Array(7).fill('check'));
    expect(events.every((e) => e.status === 'ok')).toBe(true);
  });
});

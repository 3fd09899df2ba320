/**
 * What the host does when it cannot finish in-process: a module that stays mapped
 * (nodelete, wrong unload order), a frozen module in the unload list, an entry without
 * the ABI or with another ABI version, a generation that ignores stop.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { skipUnless, tools } from '../helpers/tools.js';
import { tempDir } from '../helpers/tree.js';
import { ensureHostBuilt, missingRegistryCrate, nightlyLibDir, prepareFixture } from './fixtures/workspace.js';
import { launchHost, waitForLine } from './fixtures/host-driver.js';
import { readDynamic } from '../../loader/modules.js';
import { ABI_VERSION } from '../../common/types.js';

describe.skipIf(skipUnless(tools.nightly(), missingRegistryCrate()))('host: faults become clear messages', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let build: string;
  let hostJs: string;
  let libDir: string;
  const launch = (label: string) => launchHost(hostJs, libDir, path.join(dir.path, label));

  beforeAll(async () => {
    dir = await tempDir('host-faults');
    let builds: { v1: string };
    [hostJs, builds, libDir] = await Promise.all([ensureHostBuilt(), prepareFixture(dir.path, true), nightlyLibDir()]);
    build = builds.v1;
  });
  afterAll(async () => {
    await dir?.[Symbol.asyncDispose]();
  });

  it('reads DF_1_NODELETE, SONAME and DT_NEEDED from the built dylibs (copies keep the SONAME cargo named them by)', () => {
    const sticky = readDynamic(path.join(build, 'libsticky.so'))!;
    expect(sticky).toMatchObject({ soname: expect.stringMatching(/^libsticky-[0-9a-f]{16}\.so$/), nodelete: true });
    const memchr = readDynamic(path.join(build, 'libmemchr.so'))!;
    expect(memchr).toMatchObject({ soname: expect.stringMatching(/^libmemchr-[0-9a-f]{16}\.so$/), nodelete: false });
    expect(sticky.needed).toContain(memchr.soname);
    const app2 = readDynamic(path.join(build, 'libapp2.so'))!;
    expect(app2).toMatchObject({ soname: expect.stringMatching(/^libapp2-[0-9a-f]{16}\.so$/), nodelete: false });
    expect(app2.needed).toContain(sticky.soname);
  });

  it('names a module linked with -z nodelete that stays mapped, then still exits cleanly', async () => {
    const { host, snaps } = await launch('nodelete');
    await using _host = host;
    const g1 = await snaps.take(1, build, [['memchr', 'registry'], ['base', 'reloadable'], ['sticky', 'reloadable'], ['app2', 'entry']]);
    host.send({ type: 'start', generation: 1, modules: g1, stopTimeoutMs: 5000 });
    await host.next('started');
    const g2 = await snaps.take(2, build, [['sticky', 'reloadable'], ['app2', 'entry']]);
    host.send({ type: 'reload', generation: 2, unload: ['app2', 'sticky'], load: g2 });
    const r = await host.next('restart-needed');
    expect(r).toMatchObject({ module: 'sticky', cause: 'still-mapped' });
    expect(r.reason).toMatch(/sticky.*nodelete/);
    // The extra reference taken by the RTLD_NOLOAD probe was dropped: one mapping, gen-1's.
    expect((await host.mappedFiles(snaps.dir(1))).filter((f) => f.endsWith('libsticky.so'))).toEqual([g1[2].path]);
    host.send({ type: 'reload', generation: 3, unload: [], load: [] });
    expect((await host.next('restart-needed')).reason).toMatch(/^still waiting for a restart: .*sticky/);
    host.send({ type: 'shutdown' });
    expect(await host.exited).toEqual({ code: 0, signal: null });
  });

  it('names the dependent that keeps a module mapped when the unload order is wrong', async () => {
    const { host, snaps } = await launch('order');
    await using _host = host;
    host.send({ type: 'start', generation: 1, modules: await snaps.take(1, build, [['base', 'reloadable'], ['mid', 'reloadable'], ['app', 'entry']]), stopTimeoutMs: 5000 });
    await host.next('started');
    host.send({ type: 'reload', generation: 2, unload: ['mid'], load: await snaps.take(2, build, [['mid', 'reloadable']]) });
    const r = await host.next('restart-needed');
    expect(r).toMatchObject({ module: 'mid', cause: 'still-mapped' });
    expect(r.reason).toMatch(/app still loaded and list libmid-[0-9a-f]{16}\.so in DT_NEEDED/);
  });

  it('refuses to unload a frozen module', async () => {
    const { host, snaps } = await launch('frozen');
    await using _host = host;
    host.send({ type: 'start', generation: 1, modules: await snaps.take(1, build, [['base', 'frozen'], ['mid', 'reloadable'], ['app', 'entry']]), stopTimeoutMs: 5000 });
    await host.next('started');
    host.send({ type: 'reload', generation: 2, unload: ['app', 'mid', 'base'], load: [] });
    expect(await host.next('restart-needed')).toMatchObject({ module: 'base', cause: 'frozen', reason: expect.stringMatching(/base is frozen/) });
  });

  it('refuses to unload a registry dylib, naming it, and keeps it mapped', async () => {
    const { host, snaps } = await launch('registry');
    await using _host = host;
    const g1 = await snaps.take(1, build, [['memchr', 'registry'], ['base', 'reloadable'], ['sticky', 'frozen'], ['app2', 'entry']]);
    host.send({ type: 'start', generation: 1, modules: g1, stopTimeoutMs: 5000 });
    await host.next('started');
    host.send({ type: 'reload', generation: 2, unload: ['app2', 'memchr'], load: [] });
    expect(await host.next('restart-needed')).toMatchObject({ module: 'memchr', cause: 'frozen', reason: expect.stringMatching(/memchr is a registry dylib and is never unloaded/) });
    expect(await host.mappedFiles(g1[0].path)).toEqual([g1[0].path]);
    host.send({ type: 'shutdown' });
    expect(await host.exited).toEqual({ code: 0, signal: null });
  });

  it.each([
    ['noabi', /entry module noabi \(.*libnoabi\.so\) does not export hotgen_abi_version and hotgen_main/],
    ['badabi', new RegExp(`entry module badabi \\(.*libbadabi\\.so\\) implements hotgen ABI version ${ABI_VERSION + 1}, this hotgen needs ${ABI_VERSION}:`)],
  ])('refuses to start entry %s with a message naming it', async (name, message) => {
    const { host, snaps } = await launch(`start-${name}`);
    await using _host = host;
    host.send({ type: 'start', generation: 1, modules: await snaps.take(1, build, [[name, 'entry']]), stopTimeoutMs: 5000 });
    const e = await host.next('error');
    expect(e).toMatchObject({ fatal: true, module: name, cause: 'entry-abi' });
    expect(e.message).toMatch(message);
    expect(await host.exited).toEqual({ code: 1, signal: null });
  });

  it('asks for a restart when a reload brings an entry without the ABI', async () => {
    const { host, snaps } = await launch('reload-noabi');
    await using _host = host;
    host.send({ type: 'start', generation: 1, modules: await snaps.take(1, build, [['base', 'reloadable'], ['mid', 'reloadable'], ['app', 'entry']]), stopTimeoutMs: 5000 });
    await host.next('started');
    host.send({ type: 'reload', generation: 2, unload: ['app'], load: await snaps.take(2, build, [['noabi', 'entry']]) });
    const r = await host.next('restart-needed');
    expect(r).toMatchObject({ module: 'noabi', cause: 'entry-abi' });
    expect(r.reason).toMatch(/noabi .*does not export/);
  });

  it('asks for a restart when the generation does not stop within stopTimeoutMs', async () => {
    const { host, snaps, outDir } = await launch('stuck');
    await using _host = host;
    await writeFile(path.join(outDir, 'ignore-stop'), '');
    host.send({ type: 'start', generation: 1, modules: await snaps.take(1, build, [['base', 'reloadable'], ['mid', 'reloadable'], ['app', 'entry']]), stopTimeoutMs: 300 });
    await host.next('started');
    await waitForLine(path.join(outDir, 'out'), /^gen 1 runs 1/);
    host.send({ type: 'reload', generation: 2, unload: ['app', 'mid'], load: await snaps.take(2, build, [['mid', 'reloadable'], ['app', 'entry']]) });
    expect(await host.next('restart-needed')).toMatchObject({ cause: 'stop-timeout', reason: 'generation 1 did not stop within 300 ms' });
    // Nothing was unloaded under the running generation.
    expect((await host.mappedFiles(snaps.dir(1))).length).toBe(3);
  });

  it('names a snapshot that cannot be loaded', async () => {
    const { host, snaps } = await launch('missing');
    await using _host = host;
    const specs = await snaps.take(1, build, [['base', 'reloadable'], ['mid', 'reloadable'], ['app', 'entry']]);
    specs[1] = { ...specs[1], path: path.join(snaps.dir(1), 'libgone.so') };
    host.send({ type: 'start', generation: 1, modules: specs, stopTimeoutMs: 5000 });
    const e = await host.next('error');
    expect(e).toMatchObject({ fatal: true, module: 'mid', cause: 'load-failed' });
    expect(e.message).toMatch(/cannot load module mid \(.*libgone\.so\): .*No such file/);
    expect(await host.exited).toEqual({ code: 1, signal: null });
  });

  it('kills itself when asked to shut down while the generation ignores stop', async () => {
    const { host, snaps, outDir } = await launch('stuck-shutdown');
    await using _host = host;
    await writeFile(path.join(outDir, 'ignore-stop'), '');
    host.send({ type: 'start', generation: 1, modules: await snaps.take(1, build, [['base', 'reloadable'], ['mid', 'reloadable'], ['app', 'entry']]), stopTimeoutMs: 300 });
    await host.next('started');
    host.send({ type: 'shutdown' });
    expect(await host.next('error')).toMatchObject({ fatal: true, cause: 'stop-timeout', message: expect.stringMatching(/generation 1 did not stop within 300 ms/) });
    expect(await host.exited).toEqual({ code: null, signal: 'SIGKILL' });
  });
});

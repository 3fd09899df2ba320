/**
 * The host process, driven over IPC like the supervisor drives it, with real cargo
 * builds, real dlopen/dlclose and /proc/<pid>/maps as the witness of what is mapped.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { skipUnless, tools } from '../helpers/tools.js';
import { tempDir } from '../helpers/tree.js';
import { ensureHostBuilt, missingRegistryCrate, nightlyLibDir, prepareFixture } from './fixtures/workspace.js';
import { launchHost, waitForLine } from './fixtures/host-driver.js';

describe.skipIf(skipUnless(tools.nightly(), missingRegistryCrate()))('host: ordered reloads', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let builds: { v1: string; v2: string };
  let hostJs: string;
  let libDir: string;

  beforeAll(async () => {
    dir = await tempDir('host');
    [hostJs, builds, libDir] = await Promise.all([ensureHostBuilt(), prepareFixture(dir.path), nightlyLibDir()]);
  });
  afterAll(async () => {
    await dir?.[Symbol.asyncDispose]();
  });

  it('starts the entry, then swaps a rebuilt mid crate while the unchanged base stays mapped', async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const port = (server.address() as net.AddressInfo).port;
      const fd = (server as unknown as { _handle: { fd: number } })._handle.fd;
      const { host, snaps, outDir, hotgenDir } = await launchHost(hostJs, libDir, path.join(dir.path, 'swap'), [fd]);
      await using _host = host;
      const out = path.join(outDir, 'out');

      const g1 = await snaps.take(1, builds.v1, [['base', 'reloadable'], ['mid', 'reloadable'], ['app', 'entry']]);
      host.send({ type: 'start', generation: 1, modules: g1, stopTimeoutMs: 5000 });
      expect((await host.next('started')).generation).toBe(1);
      await waitForLine(out, new RegExp(`^gen 1 runs 1 version v1\\+40 listen 127\\.0\\.0\\.1:${port}$`));
      expect(await host.mappedFiles(hotgenDir)).toEqual(g1.map((m) => m.path).sort());

      const g2 = await snaps.take(2, builds.v2, [['mid', 'reloadable'], ['app', 'entry']]);
      host.send({ type: 'reload', generation: 2, unload: ['app', 'mid'], load: g2 });
      const r = await host.next('reloaded');
      expect(r).toMatchObject({ generation: 2, unloaded: ['app', 'mid'], loaded: ['mid', 'app'] });
      // "runs 2": the state slot kept its value across the swap.
      await waitForLine(out, new RegExp(`^gen 2 runs 2 version v2\\+40 listen 127\\.0\\.0\\.1:${port}$`));
      const mapped = await host.mappedFiles(hotgenDir);
      expect(mapped).toEqual([g1[0].path, g2[0].path, g2[1].path].sort());
      expect(mapped.filter((f) => f.endsWith('/libbase.so'))).toEqual([g1[0].path]);

      host.send({ type: 'shutdown' });
      expect(await host.exited).toEqual({ code: 0, signal: null });
      const drops = (await readFile(path.join(outDir, 'drops'), 'utf8')).split('\n');
      for (const g of [1, 2]) expect(drops).toEqual(expect.arrayContaining([`gen ${g} main`, `gen ${g} spawned`]));
    } finally {
      server.close();
    }
  });

  it('survives 50 consecutive reloads of code with thread-local destructors and exits cleanly', async () => {
    const { host, snaps, outDir, hotgenDir } = await launchHost(hostJs, libDir, path.join(dir.path, 'fifty'));
    await using _host = host;
    const out = path.join(outDir, 'out');
    const g1 = await snaps.take(1, builds.v1, [['base', 'reloadable'], ['mid', 'reloadable'], ['app', 'entry']]);
    host.send({ type: 'start', generation: 1, modules: g1, stopTimeoutMs: 5000 });
    await host.next('started');
    await waitForLine(out, /^gen 1 runs 1 version v1\+40 listen $/);

    const last = 51;
    for (let g = 2; g <= last; g++) {
      const version = g % 2 === 0 ? 'v2' : 'v1';
      const specs = await snaps.take(g, version === 'v2' ? builds.v2 : builds.v1, [['mid', 'reloadable'], ['app', 'entry']]);
      host.send({ type: 'reload', generation: g, unload: ['app', 'mid'], load: specs });
      // `next('reloaded')` throws on restart-needed: every unload was verified.
      expect(await host.next('reloaded')).toMatchObject({ generation: g, unloaded: ['app', 'mid'] });
      await waitForLine(out, new RegExp(`^gen ${g} runs ${g} version ${version}\\+40 listen $`));
      // The supervisor removes old snapshots; unmapped ones can go at once (gen-1 keeps base).
      for (const lib of ['libmid.so', 'libapp.so']) await rm(path.join(snaps.dir(g - 1), lib));
    }
    expect(await host.mappedFiles(hotgenDir)).toEqual(
      [g1[0].path, path.join(snaps.dir(last), 'libmid.so'), path.join(snaps.dir(last), 'libapp.so')].sort(),
    );

    host.send({ type: 'shutdown' });
    expect(await host.exited).toEqual({ code: 0, signal: null });
    const drops = new Set((await readFile(path.join(outDir, 'drops'), 'utf8')).split('\n').filter(Boolean));
    expect(drops.size).toBe(2 * last);
    for (let g = 1; g <= last; g++) {
      expect(drops.has(`gen ${g} main`) && drops.has(`gen ${g} spawned`), `drops of generation ${g}`).toBe(true);
    }
  });

  it('reports generation-exit when hotgen_main returns by itself, and reloads afterwards', async () => {
    const { host, snaps, outDir } = await launchHost(hostJs, libDir, path.join(dir.path, 'genexit'));
    await using _host = host;
    await writeFile(path.join(outDir, 'exit-now'), '');
    host.send({ type: 'start', generation: 1, modules: await snaps.take(1, builds.v1, [['base', 'reloadable'], ['mid', 'reloadable'], ['app', 'entry']]), stopTimeoutMs: 5000 });
    await host.next('started');
    expect(await host.next('generation-exit')).toEqual({ type: 'generation-exit', generation: 1, code: 7 });

    await rm(path.join(outDir, 'exit-now'));
    host.send({ type: 'reload', generation: 2, unload: ['app', 'mid'], load: await snaps.take(2, builds.v2, [['mid', 'reloadable'], ['app', 'entry']]) });
    await host.next('reloaded');
    await waitForLine(path.join(outDir, 'out'), /^gen 2 runs 2 version v2\+40/);
    host.send({ type: 'shutdown' });
    expect(await host.exited).toEqual({ code: 0, signal: null });
  });

  it('stops the generation and exits 0 when the supervisor goes away (IPC disconnect)', async () => {
    const { host, snaps, outDir } = await launchHost(hostJs, libDir, path.join(dir.path, 'orphan'));
    await using _host = host;
    host.send({ type: 'start', generation: 1, modules: await snaps.take(1, builds.v1, [['base', 'reloadable'], ['mid', 'reloadable'], ['app', 'entry']]), stopTimeoutMs: 5000 });
    await host.next('started');
    await waitForLine(path.join(outDir, 'out'), /^gen 1 runs 1/);
    host.child.disconnect();
    expect(await host.exited).toEqual({ code: 0, signal: null });
    const drops = (await readFile(path.join(outDir, 'drops'), 'utf8')).split('\n');
    expect(drops).toEqual(expect.arrayContaining(['gen 1 main', 'gen 1 spawned']));
  });

  it('ignores SIGINT and SIGQUIT (the terminal belongs to the supervisor) and shuts down on SIGTERM', async () => {
    const { host, snaps, outDir } = await launchHost(hostJs, libDir, path.join(dir.path, 'signals'));
    await using _host = host;
    const out = path.join(outDir, 'out');
    host.send({ type: 'start', generation: 1, modules: await snaps.take(1, builds.v1, [['base', 'reloadable'], ['mid', 'reloadable'], ['app', 'entry']]), stopTimeoutMs: 5000 });
    await host.next('started');
    await waitForLine(out, /^gen 1 runs 1/);
    host.child.kill('SIGINT');
    host.child.kill('SIGQUIT');
    host.send({ type: 'reload', generation: 2, unload: ['app', 'mid'], load: await snaps.take(2, builds.v2, [['mid', 'reloadable'], ['app', 'entry']]) });
    await host.next('reloaded');
    await waitForLine(out, /^gen 2 runs 2 version v2/);
    host.child.kill('SIGTERM');
    expect(await host.exited).toEqual({ code: 0, signal: null });
    const drops = (await readFile(path.join(outDir, 'drops'), 'utf8')).split('\n');
    expect(drops).toEqual(expect.arrayContaining(['gen 2 main', 'gen 2 spawned']));
  });

  it('reloads an entry above a frozen -z nodelete crate and a registry dylib, which stay mapped once', async () => {
    const { host, snaps, hotgenDir } = await launchHost(hostJs, libDir, path.join(dir.path, 'frozen'));
    await using _host = host;
    // The registry dylib first: sticky's DT_NEEDED names it by SONAME, and only the loaded copy has it.
    const g1 = await snaps.take(1, builds.v1, [['memchr', 'registry'], ['base', 'frozen'], ['sticky', 'frozen'], ['app2', 'entry']]);
    host.send({ type: 'start', generation: 1, modules: g1, stopTimeoutMs: 5000 });
    await host.next('started');
    for (let g = 2; g <= 3; g++) {
      host.send({ type: 'reload', generation: g, unload: ['app2'], load: await snaps.take(g, builds.v1, [['app2', 'entry']]) });
      await host.next('reloaded');
    }
    expect(await host.mappedFiles(hotgenDir)).toEqual([g1[0].path, g1[1].path, g1[2].path, path.join(snaps.dir(3), 'libapp2.so')].sort());
    host.send({ type: 'shutdown' });
    expect(await host.exited).toEqual({ code: 0, signal: null });
  });
});

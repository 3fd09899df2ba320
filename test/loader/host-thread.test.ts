/**
 * The generation thread (loader/generation.ts): a native thread per generation, not the
 * host's main thread, joined (gone from /proc/<pid>/task) before the next generation
 * runs; the host's threads and mappings stay flat over reloads; a stop slower than one
 * join slice is waited for, not cut short.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { access, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { skipUnless, tools } from '../helpers/tools.js';
import { tempDir } from '../helpers/tree.js';
import { ensureHostBuilt, missingRegistryCrate, nightlyLibDir, prepareFixture } from './fixtures/workspace.js';
import { launchHost, waitForLine, type LaunchedHost } from './fixtures/host-driver.js';
import { JOIN_SLICE_MS } from '../../loader/generation.js';

/** The `PID/task/TID` the fixture's generation `g` logged for its thread. */
async function threadOf(outDir: string, g: number): Promise<{ pid: number; tid: number }> {
  const line = await waitForLine(path.join(outDir, 'threads'), new RegExp(`^gen ${g} thread \\d+/task/\\d+$`));
  const [, pid, tid] = /thread (\d+)\/task\/(\d+)$/.exec(line)!;
  return { pid: Number(pid), tid: Number(tid) };
}

const exists = (p: string) => access(p).then(() => true, () => false);

describe.skipIf(skipUnless(tools.nightly(), missingRegistryCrate()))('host: the generation thread', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let builds: { v1: string; v2: string };
  let hostJs: string;
  let libDir: string;

  beforeAll(async () => {
    dir = await tempDir('host-thread');
    [hostJs, builds, libDir] = await Promise.all([ensureHostBuilt(), prepareFixture(dir.path), nightlyLibDir()]);
  });
  afterAll(async () => {
    await dir?.[Symbol.asyncDispose]();
  });

  const start = async ({ host, snaps }: LaunchedHost) => {
    host.send({ type: 'start', generation: 1, modules: await snaps.take(1, builds.v1, [['base', 'reloadable'], ['mid', 'reloadable'], ['app', 'entry']]), stopTimeoutMs: 5000 });
    await host.next('started');
  };
  const reload = async ({ host, snaps }: LaunchedHost, g: number) => {
    const specs = await snaps.take(g, g % 2 === 0 ? builds.v2 : builds.v1, [['mid', 'reloadable'], ['app', 'entry']]);
    host.send({ type: 'reload', generation: g, unload: ['app', 'mid'], load: specs });
    return host.next('reloaded');
  };

  it('runs each generation on a new thread of the host, never its main thread, joined before the next runs; threads and mappings stay flat', async () => {
    const h = await launchHost(hostJs, libDir, path.join(dir.path, 'threads'));
    await using _host = h.host;
    const pid = h.host.pid;
    await start(h);
    const first = await threadOf(h.outDir, 1);
    expect(first.pid).toBe(pid);
    expect(first.tid).not.toBe(pid);
    const seen = new Set([first.tid]);
    let before: { tasks: number; maps: number } | undefined;
    const last = 40;
    for (let g = 2; g <= last; g++) {
      await reload(h, g);
      const t = await threadOf(h.outDir, g);
      expect(t.tid).not.toBe(pid);
      expect(seen.has(t.tid), `generation ${g} runs on a thread of its own`).toBe(false);
      seen.add(t.tid);
      // The previous generation's thread was joined before anything was unloaded.
      for (const old of seen) if (old !== t.tid) expect(await exists(`/proc/${pid}/task/${old}`), `thread ${old} is gone`).toBe(false);
      for (const lib of ['libmid.so', 'libapp.so']) await rm(path.join(h.snaps.dir(g - 1), lib));
      if (g === 10 || g === last) {
        // Past the host's idle collection (50 ms after a message).
        await new Promise((r) => setTimeout(r, 300));
        const now = {
          tasks: (await readdir(`/proc/${pid}/task`)).length,
          maps: (await readFile(`/proc/${pid}/maps`, 'utf8')).split('\n').filter(Boolean).length,
        };
        await writeFile(`/tmp/h11/tmaps-${g}.txt`, await readFile(`/proc/${pid}/maps`, 'utf8'));
        if (before) expect(now).toEqual(before);
        before = now;
      }
    }
    h.host.send({ type: 'shutdown' });
    expect(await h.host.exited).toEqual({ code: 0, signal: null });
  });

  it('waits for a generation whose stop takes several join slices, then swaps', async () => {
    const h = await launchHost(hostJs, libDir, path.join(dir.path, 'slow-stop'));
    await using _host = h.host;
    await writeFile(path.join(h.outDir, 'slow-stop'), '');
    await start(h);
    await waitForLine(path.join(h.outDir, 'out'), /^gen 1 runs 1/);
    const r = await reload(h, 2);
    expect(r.timings.stopMs).toBeGreaterThanOrEqual(150);
    expect(150).toBeGreaterThan(3 * JOIN_SLICE_MS);
    await waitForLine(path.join(h.outDir, 'out'), /^gen 2 runs 2 version v2/);
    const drops = (await readFile(path.join(h.outDir, 'drops'), 'utf8')).split('\n');
    expect(drops).toEqual(expect.arrayContaining(['gen 1 main', 'gen 1 spawned']));
    h.host.send({ type: 'shutdown' });
    expect(await h.host.exited).toEqual({ code: 0, signal: null });
  });
});

/**
 * The swap and memory benchmarks through the real host on a tiny generated workspace
 * (init, hot build with nightly cargo): the clock stops only on the new generation's
 * answer with the edited sum, the reload set is the edited crate and its dependents,
 * and nothing old stays mapped. Also `init` timing bookkeeping.
 */
import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { dependents } from '../../bench/workspace-gen.js';
import { fileAt, positionCrate, prepareHotWorkspace, specsAt, stateOf } from '../../bench/hotws.js';
import { SwapSession, measureMemory, measureSwap } from '../../bench/swap.js';
import { buildFloor } from '../../bench/floor.js';
import { httpGet } from '../../bench/host-driver.js';
import { measureInit } from '../../bench/init-bench.js';
import { tempDir } from '../helpers/tree.js';
import { skipUnless, tools } from '../helpers/tools.js';

describe.skipIf(skipUnless(tools.nightly(), tools.cargo()))('swap benchmark through the host', () => {
  it('measures reload → first answer showing the edit, for the right reload set, and leaks no module', async () => {
    await using dir = await tempDir('bench-swap');
    process.env.HOTGEN_TOOLCHAIN ||= 'nightly';
    const ws = await prepareHotWorkspace(dir.path, 3, tools.mold() ? 'default' : 'mold');
    const libDir = ws.toolchain.libstdDir;
    expect(ws.states.map((s) => [s.name, s.sum])).toEqual([['v1', 4], ['top', 5], ['middle', 6], ['bottom', 7]]);
    const bottom = positionCrate(ws.gen, 'bottom');
    const want = ws.modules.filter((m) => m === bottom || dependents(ws.gen.crates, bottom).has(m));
    expect(stateOf(ws, 'bottom').rebuilt).toEqual(want);
    expect(fileAt(ws, 'bottom', 'entry')).toContain(`${path.sep}bottom${path.sep}`);
    expect(specsAt(ws, 'v1', ws.modules).at(-1)?.role).toBe('entry');

    {
      await using s = await SwapSession.start(ws, 'bottom', libDir);
      expect((await httpGet(s.port, '/')).body).toBe('gen 1 sum 6\n');
      const ms = await s.swap();
      // The client's clock spans the host's own (reload received → hotgen_main called), whose phases add up within it.
      const t = s.hostTimings[0]!;
      expect(ms).toBeGreaterThanOrEqual(t.totalMs);
      expect(t.stopMs + t.unloadMs + t.loadMs).toBeLessThanOrEqual(t.totalMs + 0.01);
      expect((await httpGet(s.port, '/')).body).toBe('gen 2 sum 7\n');
      await s.swap();
      expect((await httpGet(s.port, '/')).body).toBe('gen 3 sum 6\n');
      // A new generation of the same code: nothing unloaded, the same sum.
      await s.regenerate();
      expect((await httpGet(s.port, '/')).body).toBe('gen 4 sum 6\n');
      await s.swap();
      expect((await httpGet(s.port, '/')).body).toBe('gen 5 sum 7\n');
      expect(s.hostTimings).toHaveLength(3);
    }

    const floorBin = await buildFloor(path.join(dir.path, 'bin'));
    const m = await measureSwap(ws, 'middle', { runs: 2, floorBin, libDir });
    expect(m.swapMs).toHaveLength(2);
    expect(m.floorMs).toHaveLength(2);
    expect(m.regenerateMs).toHaveLength(2);
    expect(m.channelMs).toHaveLength(2);
    for (const x of m.channelMs!) expect(x).toBeGreaterThan(0);
    expect(m.floorStillMapped).toBe(0);
    expect(m.reloadSet).toEqual(stateOf(ws, 'middle').rebuilt);

    const mem = await measureMemory(ws, 'top', [1, 3], libDir);
    expect(mem.rss.map((r) => r.cycles)).toEqual([0, 1, 3]);
    for (const r of mem.rss) expect(r.bytes).toBeGreaterThan(1024 * 1024);
    // Every reading counts the mappings; the host's own (node, libc, koffi...) are there from the start.
    for (const r of mem.rss) expect(r.mapsLines).toBeGreaterThan(50);
    expect(mem.mappedModules).toBe(ws.modules.length);
  });
});

describe.skipIf(skipUnless(tools.cargo()))('init benchmark', () => {
  it('times init and cargo metadata on a fresh workspace each round; the difference is per round', async () => {
    await using dir = await tempDir('bench-init');
    const m = await measureInit(path.join(dir.path, 'w'), 4, { runs: 2, linker: 'default' });
    expect(m.init).toHaveLength(2);
    expect(m.metadata).toHaveLength(2);
    m.excludingMetadata.forEach((v, i) => expect(v).toBeCloseTo(m.init[i] - m.metadata[i], 6));
  });
});

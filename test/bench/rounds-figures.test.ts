/** Memory and availability rows over rounds: one sample per round, goals on the median. */
import { describe, expect, it } from 'vitest';
import { availabilityRoundFigures, memoryRoundFigures } from '../../bench/rounds-figures.js';

const MiB = 1024 * 1024;

describe('round figures', () => {
  it('memory: RSS per checkpoint, the first reload, growth 1 → last and maps lines 10 → last over rounds', () => {
    const round = (at1: number, at1000: number, mapped = 11, lines1000 = 184) => ({
      pos: 'bottom' as const, modules: 11, reloadSet: 4, mappedModules: mapped,
      rss: [
        { cycles: 0, bytes: 50 * MiB, mapsLines: 180 },
        { cycles: 1, bytes: at1 * MiB, mapsLines: 184 },
        { cycles: 10, bytes: (at1 + 0.25) * MiB, mapsLines: 184 },
        { cycles: 1000, bytes: at1000 * MiB, mapsLines: lines1000 },
      ],
    });
    const m = { pos: 'bottom' as const, modules: 11, reloadSet: 4, checkpoints: [1, 10, 1000], rounds: [round(60, 61), round(62, 63.5, 12), round(61, 70)] };
    const rows = memoryRoundFigures(m);
    expect(rows.map((r) => r.id)).toEqual(['memory.rss.1', 'memory.rss.10', 'memory.rss.1000', 'memory.first-reload', 'memory.growth', 'memory.maps']);
    expect(rows[0].hotgen).toMatchObject({ n: 3, median: 61, max: 62 });
    expect(rows[3].hotgen).toMatchObject({ n: 3, median: 11, max: 12 });
    const growth = rows[4];
    // Growths 1, 1.5, 9: the median meets < 2 MiB although one round does not.
    expect(growth.hotgen).toMatchObject({ n: 3, median: 1.5, max: 9 });
    expect(growth.goal?.met).toBe(true);
    expect(growth.note).toContain('max 9.00 MiB');
    expect(growth.note).toContain('11–12 for 11 modules');
    expect(rows[5]).toMatchObject({ label: expect.stringContaining('from reload 10 to 1000'), hotgen: { median: 0, max: 0 }, goal: { met: true } });
    expect(rows[5].note).toContain('184→184, 184→184, 184→184');
    expect(memoryRoundFigures({ ...m, rounds: [round(60, 63), round(60, 62.5)] }).find((r) => r.id === 'memory.growth')!.goal?.met).toBe(false);
    // One round with one more mapping at the end misses the maps goal, whatever the median.
    const maps = memoryRoundFigures({ ...m, rounds: [round(60, 61), round(60, 61), round(60, 61, 11, 185)] }).at(-1)!;
    expect(maps).toMatchObject({ hotgen: { median: 0, max: 1 }, goal: { met: false } });
    expect(() => memoryRoundFigures({ ...m, rounds: [] })).toThrow(/no rounds/);
    expect(() => memoryRoundFigures({ ...m, checkpoints: [1, 50, 1000] })).toThrow(/no RSS reading after 50 reloads/);
  });

  it('availability: failed + refused per round against restarts, goal 0 on the median, totals kept', () => {
    const s = (failed: number, refused: number, worstMs: number) => ({ ok: 100, failed, refused, worstMs, examples: [] });
    const a = {
      cycles: 10,
      rounds: [
        { hotgen: s(0, 0, 3), restart: s(2, 10, 40) },
        { hotgen: s(0, 2, 5), restart: s(1, 11, 45) },
        { hotgen: s(0, 0, 4), restart: s(0, 12, 30) },
      ],
    };
    const [failed, worst] = availabilityRoundFigures(a);
    expect(failed).toMatchObject({ id: 'availability.failed', hotgen: { n: 3, median: 0, max: 2 }, baseline: { n: 3, median: 12, label: '10 restarts' }, goal: { met: true } });
    expect(failed.label).toContain('total 2 over 30 reloads vs 36 over 30 restarts');
    expect(failed.note).toContain('max 2 in a round');
    expect(failed.note).toContain('ok 300 vs 300');
    expect(worst).toMatchObject({ id: 'availability.worst', hotgen: { median: 4, max: 5 }, baseline: { median: 40, max: 45 } });
    a.rounds[2].hotgen.failed = 1;
    expect(availabilityRoundFigures(a)[0].goal?.met).toBe(false);
  });
});

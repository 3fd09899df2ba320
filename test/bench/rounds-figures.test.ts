/** Memory and availability rows over rounds: one sample per round, goals on the median. */
import { describe, expect, it } from 'vitest';
import { availabilityRoundFigures, memoryRoundFigures } from '../../bench/rounds-figures.js';

const MiB = 1024 * 1024;

describe('round figures', () => {
  it('memory: RSS per checkpoint and growth 1 → last over rounds, goal on the median, max in the note', () => {
    const round = (at1: number, at200: number, mapped = 11) => ({
      pos: 'bottom' as const, modules: 11, reloadSet: 4, mappedModules: mapped,
      rss: [{ cycles: 0, bytes: 50 * MiB }, { cycles: 1, bytes: at1 * MiB }, { cycles: 50, bytes: (at1 + 0.5) * MiB }, { cycles: 200, bytes: at200 * MiB }],
    });
    const m = { pos: 'bottom' as const, modules: 11, reloadSet: 4, checkpoints: [1, 50, 200], rounds: [round(60, 61), round(62, 63.5, 12), round(61, 70)] };
    const rows = memoryRoundFigures(m);
    expect(rows.map((r) => r.id)).toEqual(['memory.rss.1', 'memory.rss.50', 'memory.rss.200', 'memory.growth']);
    expect(rows[0].hotgen).toMatchObject({ n: 3, median: 61, max: 62 });
    const growth = rows.at(-1)!;
    // Growths 1, 1.5, 9: the median meets < 2 MiB although one round does not.
    expect(growth.hotgen).toMatchObject({ n: 3, median: 1.5, max: 9 });
    expect(growth.goal?.met).toBe(true);
    expect(growth.note).toContain('max 9.00 MiB');
    expect(growth.note).toContain('11–12 for 11 modules');
    expect(memoryRoundFigures({ ...m, rounds: [round(60, 63), round(60, 62.5)] }).at(-1)!.goal?.met).toBe(false);
    expect(() => memoryRoundFigures({ ...m, rounds: [] })).toThrow(/no rounds/);
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

/**
 * Table rows of the benchmarks measured in whole rounds (one sample per round, not per
 * request or per reload): memory (a fresh host per round) and availability (N reloads,
 * then N restarts, per round). Goals are checked on the median over rounds; the note
 * says so and gives the max.
 */
import type { MemoryRounds } from './swap.js';
import type { AvailabilityMeasure, LoadStats } from './serving.js';
import { summarize, type Figure } from './stats.js';

const MiB = 1024 * 1024;

/** `x` to 2 decimals, for notes. */
const f2 = (x: number) => x.toFixed(2);

/**
 * Memory rows over rounds: RSS after each checkpoint (e.g. 1, 10, 200, 1000 reloads); the
 * change at the first reload (after start → reload 1); the growth from reload 1 (or the
 * first checkpoint) to the last one per round, goal < 2 MiB on the median; and the
 * /proc/<pid>/maps line count from reload 10 (or the first checkpoint) to the last one,
 * goal: the same count in every round.
 * @throws Error when there are no rounds or a checkpoint has no reading.
 */
export function memoryRoundFigures(m: MemoryRounds): Figure[] {
  if (!m.rounds.length) throw new Error('memory: no rounds');
  const cps = [...m.checkpoints].filter((c) => c > 0).sort((a, b) => a - b);
  const reading = (r: MemoryRounds['rounds'][number], c: number) => {
    const hit = r.rss.find((x) => x.cycles === c);
    if (!hit) throw new Error(`memory: no RSS reading after ${c} reloads`);
    return hit;
  };
  const at = (r: MemoryRounds['rounds'][number], c: number) => reading(r, c).bytes;
  const n = m.rounds.length;
  const rows: Figure[] = cps.map((c) => ({
    id: `memory.rss.${c}`,
    bench: 'memory',
    label: `host RSS after ${c} reload${c === 1 ? '' : 's'} (${m.reloadSet} of ${m.modules} modules each)`,
    unit: 'MiB' as const,
    hotgen: summarize(m.rounds.map((r) => at(r, c) / MiB)),
    note: `${n} rounds, a fresh host each`,
  }));
  const first = cps[0];
  const last = cps[cps.length - 1];
  const jump = summarize(m.rounds.map((r) => (at(r, first) - at(r, 0)) / MiB));
  rows.push({
    id: 'memory.first-reload',
    bench: 'memory',
    label: `host RSS change, start → reload ${first}`,
    unit: 'MiB',
    hotgen: jump,
    note: `${n} rounds, a fresh host each; max ${f2(jump.max)} MiB`,
  });
  const growth = summarize(m.rounds.map((r) => (at(r, last) - at(r, first)) / MiB));
  const mapped = m.rounds.map((r) => r.mappedModules);
  const [lo, hi] = [Math.min(...mapped), Math.max(...mapped)];
  rows.push({
    id: 'memory.growth',
    bench: 'memory',
    label: `host RSS growth, reload ${first} → ${last}`,
    unit: 'MiB',
    hotgen: growth,
    goal: { text: '< 2 MiB (median of rounds)', met: growth.median < 2 },
    note:
      `${n} rounds of ${last} reloads, a fresh host each; goal checked on the median, max ${f2(growth.max)} MiB; ` +
      `module files mapped at the end: ${lo === hi ? lo : `${lo}–${hi}`} for ${m.modules} modules`,
  });
  const from = cps.includes(10) ? 10 : first;
  if (last > from) {
    const lines = (r: MemoryRounds['rounds'][number], c: number) => reading(r, c).mapsLines;
    const diffs = m.rounds.map((r) => lines(r, last) - lines(r, from));
    rows.push({
      id: 'memory.maps',
      bench: 'memory',
      label: `host /proc/<pid>/maps lines, change from reload ${from} to ${last}`,
      unit: 'count',
      hotgen: summarize(diffs),
      goal: { text: 'the same count (every round)', met: diffs.every((d) => d === 0) },
      note: `${n} rounds; lines at ${from} → ${last}: ${m.rounds.map((r) => `${lines(r, from)}→${lines(r, last)}`).join(', ')}`,
    });
  }
  return rows;
}

const bad = (s: LoadStats) => s.failed + s.refused;
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

/**
 * Availability rows over rounds: failed + refused requests per round of N reloads
 * against N restarts (goal 0 on the median), and the worst request latency per round.
 * Totals over all rounds go in the label and note. @throws Error when there are no rounds.
 */
export function availabilityRoundFigures(a: AvailabilityMeasure): Figure[] {
  if (!a.rounds.length) throw new Error('availability: no rounds');
  const n = a.rounds.length;
  const hot = a.rounds.map((r) => r.hotgen);
  const rst = a.rounds.map((r) => r.restart);
  const failed = summarize(hot.map(bad));
  const total = (side: LoadStats[]) => ({
    bad: sum(side.map(bad)),
    refused: sum(side.map((s) => s.refused)),
    ok: sum(side.map((s) => s.ok)),
  });
  const th = total(hot);
  const tr = total(rst);
  const worstH = summarize(hot.map((s) => s.worstMs));
  const worstR = summarize(rst.map((s) => s.worstMs));
  const restarts = { label: `${a.cycles} restarts` };
  return [
    {
      id: 'availability.failed',
      bench: 'availability',
      label: `failed + refused requests per round of ${a.cycles} reloads (${n} rounds; total ${th.bad} over ${n * a.cycles} reloads vs ${tr.bad} over ${n * a.cycles} restarts)`,
      unit: 'count',
      hotgen: failed,
      baseline: { ...restarts, ...summarize(rst.map(bad)) },
      goal: { text: '0 (median of rounds)', met: failed.median === 0 },
      note:
        `goal checked on the median, max ${failed.max} in a round; totals: ok ${th.ok} vs ${tr.ok}, ` +
        `failed + refused ${th.bad} vs ${tr.bad}, of which refused ${th.refused} vs ${tr.refused}`,
    },
    {
      id: 'availability.worst',
      bench: 'availability',
      label: `worst request latency per round of ${a.cycles} reloads (${n} rounds)`,
      unit: 'ms',
      hotgen: worstH,
      baseline: { ...restarts, ...worstR },
      note: `max over all rounds: ${f2(worstH.max)} ms vs ${f2(worstR.max)} ms`,
    },
  ];
}

/**
 * Statistics and reporting for the benchmarks: median and p95 of samples, an
 * interleaved A/B runner (A B A B ... so that machine drift hits both sides), and the
 * markdown table the bench prints.
 */

/** Summary of one set of samples. Units are whatever the samples are in (ms unless said). */
export interface Summary {
  /** Number of samples. */
  n: number;
  median: number;
  /** 95th percentile, nearest-rank method (the smallest sample ≥ 95 % of them). */
  p95: number;
  min: number;
  max: number;
}

/** Samples sorted ascending (a copy). @throws Error for an empty array or a non-finite sample. */
function sorted(samples: readonly number[]): number[] {
  if (samples.length === 0) throw new Error('no samples');
  if (samples.some((s) => !Number.isFinite(s))) throw new Error(`non-finite sample in [${samples.join(', ')}]`);
  return [...samples].sort((a, b) => a - b);
}

/** Median: the middle sample, or the mean of the two middle ones for an even count. @throws Error when empty. */
export function median(samples: readonly number[]): number {
  const s = sorted(samples);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/**
 * Percentile `p` (0 < p ≤ 100) by the nearest-rank method: the sample at rank
 * ceil(p/100 · n) of the sorted samples. @throws Error when empty or p is out of range.
 */
export function percentile(samples: readonly number[], p: number): number {
  if (!(p > 0 && p <= 100)) throw new Error(`percentile ${p} is not in (0, 100]`);
  const s = sorted(samples);
  return s[Math.max(0, Math.ceil((p / 100) * s.length) - 1)];
}

/** 95th percentile (nearest rank). */
export function p95(samples: readonly number[]): number {
  return percentile(samples, 95);
}

/** n, median, p95, min and max of `samples`. @throws Error when empty. */
export function summarize(samples: readonly number[]): Summary {
  const s = sorted(samples);
  return { n: s.length, median: median(s), p95: p95(s), min: s[0], max: s[s.length - 1] };
}

/** One side of an interleaved comparison: `run` performs one measurement and returns its value (e.g. ms). */
export interface Side {
  name: string;
  run: (iteration: number) => Promise<number>;
}

/** Options of {@link interleave}. */
export interface InterleaveOptions {
  /** Measured rounds; every side runs once per round. */
  runs: number;
  /** Unmeasured rounds first (caches, page-ins). Default 1. */
  warmup?: number;
  /** Called after each measured sample (progress output). */
  onSample?: (side: string, iteration: number, value: number) => void;
}

/**
 * Runs the sides in rounds, in order within a round (A B A B ... for two sides), so
 * that drift of the machine (other processes, thermal state) hits every side alike.
 * Returns the measured samples per side name, in run order.
 * @throws whatever a side's `run` throws (the round is not retried).
 */
export async function interleave(sides: readonly Side[], opts: InterleaveOptions): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = Object.fromEntries(sides.map((s) => [s.name, []]));
  const warmup = opts.warmup ?? 1;
  for (let round = 0; round < warmup + opts.runs; round++) {
    for (const side of sides) {
      const value = await side.run(round);
      if (round < warmup) continue;
      out[side.name].push(value);
      opts.onSample?.(side.name, round - warmup, value);
    }
  }
  return out;
}

/** A goal a figure is held against; the bench reports it and never fails on it. */
export interface Goal {
  /** Human text, e.g. "< 5 ms median". */
  text: string;
  met: boolean;
}

/** One row of the results table. */
export interface Figure {
  /** Stable id, e.g. `swap.api+router`. */
  id: string;
  /** Benchmark name (`--only` selects by it), e.g. `swap`. */
  bench: string;
  label: string;
  unit: 'ms' | 's' | 'MiB' | 'count';
  hotgen: Summary;
  baseline?: Summary & { label: string };
  goal?: Goal;
  note?: string;
  /** Parameters of the case, for charts (e.g. `{modules: 51, reloadSet: 15}`). */
  params?: Record<string, number>;
}

function fmt(v: number, unit: Figure['unit']): string {
  if (unit === 'count') return String(Math.round(v));
  const digits = Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : Math.abs(v) >= 1 ? 2 : 3;
  return `${v.toFixed(digits)} ${unit}`;
}

function cell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

/**
 * The markdown table of `figures`: one row per figure with median / p95 (n) for hotgen
 * and the baseline, the ratio, and the goal with met / missed.
 */
export function markdownTable(figures: readonly Figure[]): string {
  const rows = [
    '| benchmark | hotgen median / p95 (n) | baseline median / p95 (n) | ratio | goal |',
    '|---|---|---|---|---|',
  ];
  for (const f of figures) {
    const h = `${fmt(f.hotgen.median, f.unit)} / ${fmt(f.hotgen.p95, f.unit)} (${f.hotgen.n})`;
    const b = f.baseline ? `${f.baseline.label}: ${fmt(f.baseline.median, f.unit)} / ${fmt(f.baseline.p95, f.unit)} (${f.baseline.n})` : '';
    const ratio = f.baseline && f.baseline.median > 0 ? `${(f.hotgen.median / f.baseline.median).toFixed(2)}×` : '';
    const goal = f.goal ? `${f.goal.text}: **${f.goal.met ? 'met' : 'missed'}**` : '';
    const label = f.note ? `${f.label} (${f.note})` : f.label;
    rows.push(`| ${cell(label)} | ${cell(h)} | ${cell(b)} | ${ratio} | ${cell(goal)} |`);
  }
  return rows.join('\n') + '\n';
}

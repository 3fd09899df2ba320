/**
 * The conduwuit benchmark's table rows (with their goals, reported met /
 * missed) and its three charts: edit to serving per edited crate, the api edit against N,
 * and where the time goes (stacked phases of hotgen's reload next to the restart's build
 * and restart). Charts are drawn from the rows (their `params`), so `--render` redraws them.
 */
import type { ReloadPhases } from '../loader/phases.js';
import type { ConduwuitMeasure, EditSeries, HotSample } from './conduwuit.js';
import { stackedBarChart, type StackedBar } from './stacked-svg.js';
import { summarize, type Figure, type Goal } from './stats.js';
import { barChart, lineChart } from './svg.js';

/** The stacked chart's hotgen segments, bottom-up, from a reload's phases (ms). */
export function hotSegments(p: ReloadPhases): Record<string, number> {
  const n = (v?: number) => v ?? 0;
  return {
    'noticed (watch, debounce)': n(p.watchMs) + n(p.debounceMs) + n(p.prepareMs),
    'build driver (cargo or replay) + wrapper': n(p.cargoOwnMs) + n(p.wrapperMs),
    rustc: Math.max(0, n(p.rustcMs) - n(p.linkMs)),
    link: n(p.linkMs),
    'records, hashes, snapshots': n(p.unitsMs) + n(p.hashMs) + n(p.snapshotMs),
    'swap (stop, unload, load, start)': n(p.stopMs) + n(p.unloadMs) + n(p.loadMs) + n(p.startMs),
  };
}

/** A hotgen edit's segments plus the rest of its edit-to-serving time: the first correct answer after the swap. */
export function hotBreakdown(h: HotSample): Record<string, number> {
  const seg = hotSegments(h.phases);
  const before = Object.values(seg).reduce((a, b) => a + b, 0);
  return { ...seg, 'to first correct answer': Math.max(0, h.ms - before) };
}

const RESTART_SEGMENTS = ['cargo build (static binary)', 'restart to first correct answer'] as const;
const med = (xs: number[]) => (xs.length ? summarize(xs).median : NaN);
const round1 = (v: number) => Math.round(v * 10) / 10;

/** Median of each key over the records. */
function medians(records: Record<string, number>[]): Record<string, number> {
  const keys = [...new Set(records.flatMap((r) => Object.keys(r)))];
  return Object.fromEntries(keys.map((k) => [k, round1(med(records.map((r) => r[k] ?? 0)))]));
}

function editRow(e: EditSeries, id: string, label: string, goal?: Goal): Figure {
  const hs = medians(e.hotgen.map(hotBreakdown));
  const rs = { [RESTART_SEGMENTS[0]]: round1(med(e.restart.map((r) => r.buildMs))), [RESTART_SEGMENTS[1]]: round1(med(e.restart.map((r) => r.restartMs))) };
  const params: Record<string, number> = { rows: e.rows };
  for (const [k, v] of Object.entries(hs)) params[`hot:${k}`] = v;
  for (const [k, v] of Object.entries(rs)) params[`restart:${k}`] = v;
  return {
    id,
    bench: 'conduwuit',
    label,
    unit: 'ms',
    hotgen: summarize(e.hotgen.map((h) => h.ms)),
    baseline: { label: 'cargo build + restart (socket kept)', ...summarize(e.restart.map((r) => r.ms)) },
    ...(goal ? { goal } : {}),
    note: `hotgen: build ${med(e.hotgen.map((h) => h.buildMs)).toFixed(0)} ms (rustc ${hs.rustc?.toFixed(0)}, link ${hs.link?.toFixed(0)}), overhead ${med(e.hotgen.map((h) => h.phases.overheadMs)).toFixed(0)} ms; restart: cargo build ${rs[RESTART_SEGMENTS[0]].toFixed(0)} + restart to answer ${rs[RESTART_SEGMENTS[1]].toFixed(0)} ms; N = ${e.rows}`,
    params,
  };
}

/** Table rows from the raw measure. */
export function conduwuitFigures(m: ConduwuitMeasure): Figure[] {
  const rows0 = m.config.rows[0];
  const out: Figure[] = [];
  const fast = m.edits.filter((x) => !x.build);
  for (const e of fast.filter((x) => x.rows === rows0)) {
    const h = med(e.hotgen.map((x) => x.ms));
    const r = med(e.restart.map((x) => x.ms));
    const goal: Goal = e.layer === 'database' ? { text: '< restart', met: h < r } : { text: '≤ 1/3 of restart', met: h <= r / 3 };
    out.push(editRow(e, `conduwuit.edit.${e.layer}`, `conduwuit: edit ${e.layer} to first correct answer`, goal));
  }
  for (const e of m.edits.filter((x) => x.build === 'dependents')) {
    out.push(editRow(e, `conduwuit.edit.${e.layer}.dependents`, `conduwuit: edit ${e.layer}, its dependents compiled too (HOTGEN_RELINK=0)`));
  }
  for (const e of m.edits.filter((x) => x.build === 'cargo')) {
    out.push(editRow(e, `conduwuit.edit.${e.layer}.cargo`, `conduwuit: edit ${e.layer}, every build by cargo (HOTGEN_FAST_BUILD=0)`));
  }
  for (const e of m.edits.filter((x) => x.rows === rows0)) {
    const over = e.hotgen.map((x) => x.phases.overheadMs);
    const parts = medians(
      e.hotgen.map((x) => ({
        noticed: (x.phases.watchMs ?? 0) + (x.phases.debounceMs ?? 0) + x.phases.prepareMs,
        driver: (x.phases.cargoOwnMs ?? 0) + (x.phases.wrapperMs ?? 0),
        records: x.phases.unitsMs ?? 0,
        hash: x.phases.hashMs ?? 0,
        snapshot: x.phases.snapshotMs ?? 0,
        ipc: x.phases.ipcMs ?? 0,
        other: x.phases.otherMs,
      })),
    );
    out.push({
      id: `conduwuit.overhead.${e.layer}${e.build ? `.${e.build}` : ''}`,
      bench: 'conduwuit',
      label: `conduwuit: hotgen's own time per reload, ${e.layer} edit${e.build === 'cargo' ? ', every build by cargo' : e.build ? ', dependents compiled too' : ''} (not rustc, link or swap)`,
      unit: 'ms',
      hotgen: summarize(over),
      ...(e.build ? {} : { goal: { text: '< 100 ms', met: med(over) < 100 } }),
      note: Object.entries(parts).map(([k, v]) => `${k} ${v}`).join(', '),
    });
  }
  for (const e of fast.filter((x) => x.layer === 'api').sort((a, b) => a.rows - b.rows)) {
    const f = editRow(e, `conduwuit.rows.${e.rows}`, `conduwuit: edit api, N = ${e.rows} rows`);
    f.params!.restartOnly = round1(med(e.restart.map((r) => r.restartMs)));
    out.push(f);
  }
  const a = m.availability;
  if (a) {
    const failed = (s: { failed: number; refused: number }) => s.failed + s.refused;
    out.push({
      id: 'conduwuit.availability',
      bench: 'conduwuit',
      label: `conduwuit: failed requests across ${a.reloads} api reloads under load (N = ${a.rows})`,
      unit: 'count',
      hotgen: summarize([failed(a.hotgen)]),
      baseline: { label: `${a.reloads} restarts, socket kept`, ...summarize([failed(a.restart)]) },
      goal: { text: '0 failed', met: failed(a.hotgen) === 0 },
      note: `ok ${a.hotgen.ok} vs ${a.restart.ok}; worst latency ${a.hotgen.worstMs.toFixed(0)} vs ${a.restart.worstMs.toFixed(0)} ms${a.hotgen.examples.length ? `; e.g. ${a.hotgen.examples[0]}` : ''}`,
    });
  }
  return out;
}

/** The charts (file name → SVG) from the conduwuit rows among `figures`. */
export function conduwuitCharts(figures: readonly Figure[]): Record<string, string> {
  const out: Record<string, string> = {};
  const edits = figures.filter((f) => f.id.startsWith('conduwuit.edit.') && f.baseline);
  if (edits.length) {
    out['conduwuit-edit.svg'] = barChart('conduwuit: edit to first correct answer (median, ms)', 'ms', edits.map((f) => ({
      label: f.id.slice('conduwuit.edit.'.length).replace('.cargo', ', by cargo').replace('.dependents', ', dependents too'),
      values: [
        { name: 'hotgen', value: Math.round(f.hotgen.median) },
        { name: 'cargo build + restart', value: Math.round(f.baseline!.median) },
      ],
    })));
    const bars: StackedBar[] = [];
    for (const f of edits) {
      const layer = f.id.slice('conduwuit.edit.'.length).replace('.cargo', ', by cargo').replace('.dependents', ', dependents too');
      const seg = (prefix: string) => Object.entries(f.params ?? {}).filter(([k]) => k.startsWith(prefix)).map(([k, v]) => ({ name: k.slice(prefix.length), value: v }));
      bars.push({ label: `hotgen, ${layer}`, segments: seg('hot:') }, { label: `restart, ${layer}`, segments: seg('restart:') });
    }
    out['conduwuit-phases.svg'] = stackedBarChart('conduwuit: where the time goes (medians, ms)', 'ms', bars);
  }
  const byRows = figures.filter((f) => f.id.startsWith('conduwuit.rows.') && f.baseline && f.params?.rows).sort((a, b) => a.params!.rows - b.params!.rows);
  if (byRows.length) {
    out['conduwuit-vs-rows.svg'] = lineChart('conduwuit: api edit to first correct answer vs N (median)', 'rows loaded at start-up (N)', 'ms', [
      { name: 'hotgen', points: byRows.map((f) => ({ x: f.params!.rows, y: f.hotgen.median })) },
      { name: 'cargo build + restart', points: byRows.map((f) => ({ x: f.params!.rows, y: f.baseline!.median })) },
      { name: 'restart alone (to correct answer)', points: byRows.filter((f) => f.params!.restartOnly !== undefined).map((f) => ({ x: f.params!.rows, y: f.params!.restartOnly })) },
    ]);
  }
  return out;
}

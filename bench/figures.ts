/**
 * Turns raw measurements into table rows ({@link Figure}) with the goals
 * (reported met / missed, never failing the run), and the SVG charts.
 */
import type { InitMeasure } from './init-bench.js';
import type { HostTimings, SwapMeasure } from './swap.js';
import type { EditMeasure } from './serving.js';
import type { HotWorkspace } from './hotws.js';
import { summarize, type Figure, type Summary } from './stats.js';
import { barChart, lineChart, type BarGroup, type Series } from './svg.js';


/** A goal of several parts: met when all are; the text says which part missed. */
function goalOf(parts: [text: string, met: boolean][]): { text: string; met: boolean } {
  if (parts.length === 1) return { text: parts[0][0], met: parts[0][1] };
  return { text: parts.map(([t, m]) => `${t} (${m ? 'met' : 'missed'})`).join(', '), met: parts.every(([, m]) => m) };
}
const one = (v: number): Summary => summarize([v]);

/** Init rows: excluding cargo metadata (goal < 2 s at 100 crates), and the whole command. */
export function initFigures(m: InitMeasure): Figure[] {
  const excl = summarize(m.excludingMetadata);
  return [
    {
      id: `init.${m.n}.excl-metadata`,
      bench: 'init',
      label: `init, ${m.n} crates, excluding cargo metadata`,
      unit: 'ms',
      hotgen: excl,
      baseline: { label: 'cargo metadata', ...summarize(m.metadata) },
      ...(m.n === 100 ? { goal: { text: '< 2 s', met: excl.median < 2000 } } : {}),
      note: 'init minus cargo metadata, per round',
    },
    { id: `init.${m.n}.total`, bench: 'init', label: `init, ${m.n} crates, whole command`, unit: 'ms', hotgen: summarize(m.init) },
  ];
}

/** Build rows of a prepared scale workspace (one sample each: a build per state). */
export function buildFigures(ws: HotWorkspace): Figure[] {
  return ws.states.map((s) => ({
    id: `build.${ws.n}.${s.name}`,
    bench: 'scale',
    label: s.name === 'v1' ? `hot build, ${ws.modules.length} modules, from scratch` : `hot build after a ${s.name} edit, ${ws.modules.length} modules (${s.rebuilt.length} rebuilt)`,
    unit: 's' as const,
    hotgen: one(s.buildMs / 1000),
    note: 'n=1',
  }));
}

/** The host's unload+load step alone (from its timings) against the floor `f` (goal ≤ 3× floor). */
function unloadLoadRow(idPrefix: string, bench: Figure['bench'], what: string, timings: readonly HostTimings[], f: Summary): Figure {
  const ul = summarize(timings.map((t) => t.unloadMs + t.loadMs));
  return {
    id: `${idPrefix}.unload+load`,
    bench,
    label: `host unload+load step only, ${what}`,
    unit: 'ms',
    hotgen: ul,
    baseline: { label: 'dlopen/dlclose floor', ...f },
    goal: { text: '≤ 3× floor', met: ul.median <= 3 * f.median },
    note: 'with RTLD_NOLOAD checks',
  };
}

/** Median of `k` over host reload timings. */
function hostMedian(t: readonly HostTimings[], k: keyof HostTimings): number {
  return t.length ? summarize(t.map((x) => x[k])).median : NaN;
}

/**
 * Swap rows per position: reload → first answer against the floor (goals ≤ 3× floor;
 * < 100 ms at 100 crates; the note has the host's phases and, when measured, the same
 * swap with nothing reloaded and the channel floor, bench/channel.ts), and the host's own unload+load step (the step the floor
 * program models) against the same floor.
 */
export function swapFigures(ws: HotWorkspace, m: SwapMeasure): Figure[] {
  const h = summarize(m.swapMs);
  const f = summarize(m.floorMs);
  const at100 = ws.n === 100;
  const med = (k: keyof HostTimings) => hostMedian(m.hostTimings, k).toFixed(2);
  const params = { modules: ws.modules.length, reloadSet: m.reloadSet.length };
  const rows: Figure[] = [
    {
      id: `swap.${ws.n}.${m.pos}`,
      bench: 'scale',
      label: `swap ${m.reloadSet.length} of ${ws.modules.length} modules (${m.pos} edit), to first answer`,
      unit: 'ms',
      hotgen: h,
      baseline: { label: 'dlopen/dlclose floor', ...f },
      goal: goalOf([['≤ 3× floor', h.median <= 3 * f.median], ...(at100 ? [['< 100 ms', h.median < 100] as [string, boolean]] : [])]),
      note:
        `host: stop ${med('stopMs')} + unload ${med('unloadMs')} + load ${med('loadMs')}, total ${med('totalMs')} ms` +
        (m.regenerateMs?.length ? `; the same with nothing reloaded: ${summarize(m.regenerateMs).median.toFixed(2)} ms to first answer` : '') +
        (m.channelMs?.length ? `; channel floor (IPC round trip + loopback GET, bare Node child): ${summarize(m.channelMs).median.toFixed(2)} ms` : ''),
      params,
    },
  ];
  if (m.hostTimings.length) rows.push(unloadLoadRow(`swap.${ws.n}.${m.pos}`, 'scale', `${m.reloadSet.length} of ${ws.modules.length} modules (${m.pos} edit)`, m.hostTimings, f));
  return rows;
}

/** Edit-to-serving row: hotgen vs restart (goal for api: ≤ 1/3 of the restart). */
export function editFigure(m: EditMeasure): Figure {
  const h = summarize(m.hotgen);
  const r = summarize(m.restart);
  const build = m.hotBuildMs.filter(Number.isFinite);
  const swap = m.hotSwapMs.filter(Number.isFinite);
  const med = (a: number[]) => (a.length ? summarize(a).median : NaN);
  return {
    id: `edit.${m.linker}.${m.layer}`,
    bench: 'serving',
    label: `edit to serving, ${m.layer}${m.layer === 'core' ? ' (frozen: host restart)' : ''}, ${m.linker}`,
    unit: 'ms',
    hotgen: h,
    baseline: { label: 'build + restart', ...r },
    ...(m.layer === 'api' ? { goal: { text: '≤ 1/3 of restart', met: h.median <= r.median / 3 } } : {}),
    note: `hotgen build ${med(build).toFixed(0)} ms + swap ${med(swap).toFixed(1)} ms; baseline build ${med(m.staticBuildMs).toFixed(0)} ms`,
  };
}

/** The api+router swap as hotgen dev reports it, against the floor on the same files (goals < 5 ms, ≤ 3× floor). */
export function apiSwapFigures(linker: string, swapMs: number[], floorMs: number[], timings: HostTimings[] = []): Figure[] {
  const h = summarize(swapMs);
  const f = summarize(floorMs);
  const rows: Figure[] = [{
    id: `swap.example.api+router.${linker}`,
    bench: 'serving',
    label: `swap api+router (example, ${linker}), stop+unload+load+start, build excluded`,
    unit: 'ms',
    hotgen: h,
    baseline: { label: 'dlopen/dlclose floor', ...f },
    goal: goalOf([['< 5 ms', h.median < 5], ['≤ 3× floor', h.median <= 3 * f.median]]),
    note: `host: stop ${hostMedian(timings, 'stopMs').toFixed(2)} + unload ${hostMedian(timings, 'unloadMs').toFixed(2)} + load ${hostMedian(timings, 'loadMs').toFixed(2)} ms`,
  }];
  if (timings.length) rows.push(unloadLoadRow(`swap.example.api+router.${linker}`, 'serving', `api+router (example, ${linker})`, timings, f));
  return rows;
}

/** SVG charts (file name → SVG) from the table rows that exist. */
export function charts(figures: readonly Figure[]): Record<string, string> {
  const out: Record<string, string> = {};
  const edits = figures.filter((f) => f.id.startsWith('edit.') && f.baseline);
  if (edits.length) {
    const groups: BarGroup[] = edits.map((f) => ({
      label: f.id.slice('edit.'.length).replace('.', ' '),
      values: [
        { name: 'hotgen', value: Math.round(f.hotgen.median) },
        { name: 'build + restart', value: Math.round(f.baseline!.median) },
      ],
    }));
    out['edit-to-serving.svg'] = barChart('Edit to serving (median, ms)', 'ms', groups);
  }
  const swaps = figures.filter((f) => /^swap\.\d+\.[a-z]+$/.test(f.id));
  if (swaps.length) {
    const series: Series[] = [];
    for (const pos of ['top', 'middle', 'bottom']) {
      const pts = swaps.filter((f) => f.id.endsWith(`.${pos}`)).map((f) => ({ x: Number(f.id.split('.')[1]) + 1, y: f.hotgen.median }));
      if (pts.length) series.push({ name: `hotgen, ${pos} edit`, points: pts });
    }
    const floor = swaps.filter((f) => f.id.endsWith('.bottom') && f.baseline).map((f) => ({ x: Number(f.id.split('.')[1]) + 1, y: f.baseline!.median }));
    if (floor.length) series.push({ name: 'floor, bottom edit', points: floor });
    out['swap-vs-modules.svg'] = lineChart('Swap time vs module count (median)', 'modules', 'ms', series);
    const bySet = swaps.filter((f) => f.params?.reloadSet !== undefined).sort((a, b) => a.params!.reloadSet - b.params!.reloadSet);
    if (bySet.length) {
      out['swap-vs-reload-set.svg'] = lineChart('Swap time vs reload set size (median)', 'modules reloaded', 'ms', [
        { name: 'hotgen (to first answer)', points: bySet.map((f) => ({ x: f.params!.reloadSet, y: f.hotgen.median })) },
        { name: 'dlopen/dlclose floor', points: bySet.map((f) => ({ x: f.params!.reloadSet, y: f.baseline!.median })) },
      ]);
    }
  }
  return out;
}

/**
 * What one reload cycle did, as one human line (`reloaded 2 modules (api, router) in
 * 3.8 ms; build 1.7 s (api 0.6, router 0.9); noticed +52 ms`) or one JSON event
 * (`--json`, with every phase: loader/phases.ts). The same object is the `report` of a
 * `hotgen reload` answer.
 */
import type { OutputEvent } from '../common/output.js';
import type { ReloadTimings } from './protocol.js';
import type { ReloadPhases } from './phases.js';

/**
 * The outcome of one cycle. Durations in ms; `buildMs` is absent when hotgen did not
 * build (`--no-build`); `phases` says where the cycle's time went (absent in reports of a
 * crash recovery, which no change started).
 */
export type ReloadReport =
  /** Modules swapped in-process; `modules` in load order, `unloaded` in unload order; `ipcMs`: the reload message's round trip minus the host's `timings.totalMs`. */
  | { kind: 'reload'; generation: number; modules: string[]; unloaded: string[]; swapMs: number; buildMs?: number; timings?: ReloadTimings; ipcMs?: number; phases?: ReloadPhases }
  /** The first host of the session started. */
  | { kind: 'start'; generation: number; modules: string[]; registry?: number; restartMs: number; buildMs?: number; phases?: ReloadPhases }
  /** The host was restarted, with the sockets kept. */
  | { kind: 'restart'; generation: number; reason: string; modules: string[]; registry?: number; restartMs: number; buildMs?: number; phases?: ReloadPhases }
  /** Nothing loaded changed. */
  | { kind: 'none'; buildMs?: number; phases?: ReloadPhases }
  /** The build failed; nothing changed. `errors` is the compiler's rendered output; `serving`: a generation runs (false before the first start). */
  | { kind: 'build-failed'; buildMs: number; errors: string; serving?: boolean }
  /** The cycle could not apply the build (a missing output, a module the host refused); what ran keeps running. */
  | { kind: 'error'; message: string; buildMs?: number };

/** True when the report is a success for `hotgen reload` (exit 0). */
export function reportOk(r: ReloadReport): boolean {
  return r.kind === 'reload' || r.kind === 'restart' || r.kind === 'start' || r.kind === 'none';
}

/** `3.8 ms` (one decimal under 100 ms, whole ms above). */
export function formatMs(ms: number): string {
  return ms < 100 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`;
}

/** `1.7 s` (build times are shown in seconds). */
export function formatSeconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** Crates named in the text line's build part; more are counted. */
const MAX_CRATES_SHOWN = 6;

/** `; build 3.9 s (api 0.9, router 1.4); noticed +52 ms`: the crates rustc rebuilt (rustc + link, s) and the change → build start. */
function buildSuffix(buildMs: number | undefined, phases?: ReloadPhases): string {
  if (buildMs === undefined) return '';
  let out = `; build ${formatSeconds(buildMs)}`;
  const crates = phases?.crates ?? [];
  if (crates.length > 0) {
    const shown = crates.slice(0, MAX_CRATES_SHOWN).map((c) => `${c.name} ${((c.rustcMs + c.linkMs) / 1000).toFixed(1)}`);
    if (crates.length > MAX_CRATES_SHOWN) shown.push(`${crates.length - MAX_CRATES_SHOWN} more`);
    out += ` (${shown.join(', ')})`;
  }
  if (phases?.noticedMs !== undefined) out += `; noticed +${Math.round(phases.noticedMs)} ms`;
  return out;
}

/** The one-line human form of a report. */
export function reportLine(r: ReloadReport): string {
  switch (r.kind) {
    case 'reload': {
      const n = r.modules.length;
      return `reloaded ${n} module${n === 1 ? '' : 's'} (${r.modules.join(', ')}) in ${formatMs(r.swapMs)}${buildSuffix(r.buildMs, r.phases)}`;
    }
    case 'start':
      // The first build rebuilds every crate: the list would say nothing.
      return `started ${r.modules.length} module${r.modules.length === 1 ? '' : 's'} (${r.modules.join(', ')})${r.registry ? ` and ${r.registry} registry dylibs` : ''} in ${formatMs(r.restartMs)}${buildSuffix(r.buildMs)}`;
    case 'restart':
      return `restarted host (${r.reason}) in ${formatMs(r.restartMs)}${buildSuffix(r.buildMs, r.phases)}`;
    case 'none':
      return `nothing changed${buildSuffix(r.buildMs, r.phases)}`;
    case 'build-failed':
      return r.serving === false
        ? `build failed in ${formatSeconds(r.buildMs)}; nothing runs yet: fix the errors and save (or CTRL+C)`
        : `build failed in ${formatSeconds(r.buildMs)}; still serving the last good build`;
    case 'error':
      return `reload failed: ${r.message}`;
  }
}

/** The JSON event form: `{event:"reload", modules, swapMs, buildMs, generation}` and the like. */
export function reportEvent(r: ReloadReport): OutputEvent {
  switch (r.kind) {
    case 'reload':
      return { event: 'reload', modules: r.modules, unloaded: r.unloaded, swapMs: r.swapMs, buildMs: r.buildMs, generation: r.generation, timings: r.timings, phases: r.phases };
    case 'start':
      return { event: 'start', modules: r.modules, registry: r.registry ?? 0, startMs: r.restartMs, buildMs: r.buildMs, generation: r.generation, phases: r.phases };
    case 'restart':
      return { event: 'restart', reason: r.reason, modules: r.modules, registry: r.registry ?? 0, restartMs: r.restartMs, buildMs: r.buildMs, generation: r.generation, phases: r.phases };
    case 'none':
      return { event: 'unchanged', buildMs: r.buildMs, phases: r.phases };
    case 'build-failed':
      return { event: 'build-failed', buildMs: r.buildMs, errors: r.errors, serving: r.serving !== false };
    case 'error':
      return { event: 'reload-failed', message: r.message, buildMs: r.buildMs };
  }
}

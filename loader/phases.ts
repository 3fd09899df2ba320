/**
 * Where one build+reload cycle of `hotgen dev` spent its time (docs/json-events.md,
 * "phases"): a {@link CycleClock} collects marks while the supervisor runs the cycle, the
 * rustc wrapper's unit records (loader/units.ts `UnitTiming`) say when each rebuilt
 * crate's rustc and linker ran, and the host reports its swap (`ReloadTimings`). The
 * result, {@link ReloadPhases}, goes into every cycle's report (loader/report.ts).
 */
import type { UnitTiming } from './units.js';

/** One crate rebuilt by cargo in this cycle, from its unit record. ms. */
export interface CratePhase {
  /** Module name (package name for workspace crates). */
  name: string;
  /** rustc's run without the linker. */
  rustcMs: number;
  /** The linker, run by rustc (the dylib; the rlib is rustc's own work). */
  linkMs: number;
  /** The wrapper before and after rustc (reading the closure and records, writing the record). */
  wrapperMs: number;
}

/**
 * The phases of one cycle, ms (floating point). Optional fields are absent when the
 * cycle had no such phase (no file change, no build, no swap). The `...Ms` fields that
 * follow each other in time add up, with `otherMs`, to `totalMs`:
 * `watchMs + debounceMs + prepareMs + cargoMs + unitsMs + hashMs + snapshotMs +
 * (stopMs + unloadMs + loadMs + startMs + ipcMs | restartMs) + otherMs = totalMs`.
 */
export interface ReloadPhases {
  /** The changed file's mtime → the watcher's first event (the kernel's file times are coarse: a few ms). */
  watchMs?: number;
  /** The watcher's first event → the cycle began (the debounce, and a cycle still running). */
  debounceMs?: number;
  /** The cycle began → cargo was spawned (Cargo.lock check; `cargo metadata` after a manifest change). */
  prepareMs: number;
  /** `watchMs + debounceMs + prepareMs`: the change → cargo started (the `noticed +N ms` of the text line). */
  noticedMs?: number;
  /** The build's wall time, every round of the cycle (a save during a build builds again). */
  cargoMs?: number;
  /** Who built: `cargo`, or `replay` (the affected rustc units run again without cargo, loader/fastbuild.ts); `cargo` when any round used it. */
  buildBy?: 'cargo' | 'replay';
  /** The crates cargo rebuilt, in the order their rustc started. */
  crates?: CratePhase[];
  /** Time when a rustc of this cycle ran (the union of their runs, link included): the compiler's share of `cargoMs`. */
  rustcMs?: number;
  /** Sum of the crates' link times (within `rustcMs`). */
  linkMs?: number;
  /** Sum of the wrapper's own time outside rustc. */
  wrapperMs?: number;
  /** `cargoMs` minus the time a wrapper process ran: cargo's start-up, fingerprints and scheduling. */
  cargoOwnMs?: number;
  /** After cargo: reading the unit records and the module graph. */
  unitsMs?: number;
  /** Checking which outputs changed (stat, and sha256 where the stat changed). */
  hashMs?: number;
  /** Copying the new dylibs into `.hotgen/gen-N/`. */
  snapshotMs?: number;
  /** The host's swap (`ReloadTimings`): the old generation stopping. */
  stopMs?: number;
  unloadMs?: number;
  loadMs?: number;
  /** The new generation's start (`hotgen_main` called). */
  startMs?: number;
  /** The reload message's round trip minus the host's own time (IPC, both event loops). */
  ipcMs?: number;
  /** A restart of the host instead of a swap (stop, spawn, load, start). */
  restartMs?: number;
  /** Whatever the other fields do not cover (waiting for a crash recovery, pruning old snapshots...). */
  otherMs: number;
  /** The change (or the request, without one) → the report. */
  totalMs: number;
  /**
   * hotgen's own share: `totalMs` minus the compiler (`rustcMs`) and the swap or restart
   * (stop, unload, load, start: the app's and the dynamic loader's work). What is left is
   * watch latency, debounce, cargo's and the wrapper's own time, records, hashing,
   * snapshots and IPC.
   */
  overheadMs: number;
}

/** A source change the watcher saw: when (epoch ms) and the file's mtime (epoch ms, once known). */
export interface ChangeMark {
  file: string;
  at: number;
  mtimeMs?: number;
}

/** A rebuilt unit's timing from its record, with its module name. */
export interface UnitTimingOf {
  name: string;
  timing: UnitTiming;
}

/** Milliseconds since the Unix epoch, sub-ms (performance.now() on the wall clock's origin). */
export function epochNow(): number {
  return performance.timeOrigin + performance.now();
}

/** Total length of the union of intervals `[a, b]`. */
export function unionMs(intervals: readonly [number, number][]): number {
  const s = intervals.filter(([a, b]) => b > a).sort((x, y) => x[0] - y[0]);
  let total = 0;
  let end = -Infinity;
  for (const [a, b] of s) {
    if (b <= end) continue;
    total += b - Math.max(a, end);
    end = b;
  }
  return total;
}

/**
 * The build phases of one cargo run from the records of the units it rebuilt:
 * `startedAt` (epoch ms) and `cargoMs` bound the run; a record whose wrapper started
 * before the run (an older build's) is ignored.
 */
export function buildPhases(startedAt: number, cargoMs: number, units: readonly UnitTimingOf[]): Pick<ReloadPhases, 'crates' | 'rustcMs' | 'linkMs' | 'wrapperMs' | 'cargoOwnMs'> {
  // The wrapper's clock is the same wall clock, read in another process: allow a little skew.
  const mine = units.filter((u) => u.timing.wrapperStart >= startedAt - 5 && u.timing.wrapperEnd <= startedAt + cargoMs + 5);
  mine.sort((a, b) => a.timing.rustcStart - b.timing.rustcStart);
  const crates = mine.map(({ name, timing: t }) => ({
    name,
    rustcMs: Math.max(0, t.rustcEnd - t.rustcStart - t.linkMs),
    linkMs: t.linkMs,
    wrapperMs: Math.max(0, t.rustcStart - t.wrapperStart) + Math.max(0, t.wrapperEnd - t.rustcEnd),
  }));
  const wrapped = unionMs(mine.map((u) => [u.timing.wrapperStart, u.timing.wrapperEnd]));
  return {
    crates,
    rustcMs: unionMs(mine.map((u) => [u.timing.rustcStart, u.timing.rustcEnd])),
    linkMs: crates.reduce((s, c) => s + c.linkMs, 0),
    wrapperMs: crates.reduce((s, c) => s + c.wrapperMs, 0),
    cargoOwnMs: Math.max(0, cargoMs - wrapped),
  };
}

type Additive = 'prepareMs' | 'cargoMs' | 'rustcMs' | 'linkMs' | 'wrapperMs' | 'cargoOwnMs' | 'unitsMs' | 'hashMs' | 'snapshotMs';

/**
 * Collects one cycle's phases. Created when the cycle begins, with the change that
 * started it (if any); the supervisor adds each phase as it ends and {@link finish}es
 * with the swap or restart the keeper reported.
 */
export class CycleClock {
  /** Epoch ms when the cycle began. */
  readonly began = epochNow();
  private readonly p: Partial<ReloadPhases> & { crates: CratePhase[] } = { crates: [] };

  constructor(readonly change?: ChangeMark) {}

  /** Adds `ms` to an additive phase (several cargo rounds add up). */
  add(phase: Additive, ms: number): void {
    this.p[phase] = (this.p[phase] ?? 0) + ms;
  }

  /** Runs `fn` and adds its wall time to `phase`. */
  async time<T>(phase: Additive, fn: () => Promise<T>): Promise<T> {
    const t0 = performance.now();
    try {
      return await fn();
    } finally {
      this.add(phase, performance.now() - t0);
    }
  }

  /** Adds one build: its wall time, from `startedAt` (epoch ms), its rebuilt units' records, and who built. */
  addBuild(startedAt: number, cargoMs: number, units: readonly UnitTimingOf[], by: 'cargo' | 'replay' = 'cargo'): void {
    const b = buildPhases(startedAt, cargoMs, units);
    if (this.p.buildBy !== 'cargo') this.p.buildBy = by;
    this.add('cargoMs', cargoMs);
    for (const k of ['rustcMs', 'linkMs', 'wrapperMs', 'cargoOwnMs'] as const) this.add(k, b[k] ?? 0);
    this.p.crates.push(...(b.crates ?? []));
  }

  /**
   * The phases, ending now. `swap`: the host's `ReloadTimings` and the IPC share of a
   * reload; `restartMs`: a host restart instead.
   */
  finish(end: { swap?: { stopMs: number; unloadMs: number; loadMs: number; totalMs: number; ipcMs?: number }; restartMs?: number } = {}): ReloadPhases {
    const now = epochNow();
    const c = this.change;
    const out: ReloadPhases = { ...this.p, prepareMs: this.p.prepareMs ?? 0, otherMs: 0, totalMs: 0, overheadMs: 0 };
    if (this.p.crates.length === 0 && this.p.cargoMs === undefined) delete out.crates;
    let from = this.began;
    if (c) {
      const mtime = c.mtimeMs !== undefined && c.mtimeMs <= c.at ? c.mtimeMs : c.at;
      out.watchMs = c.at - mtime;
      out.debounceMs = Math.max(0, this.began - c.at);
      out.noticedMs = out.watchMs + out.debounceMs + out.prepareMs;
      from = mtime;
    }
    if (end.swap) {
      const s = end.swap;
      out.stopMs = s.stopMs;
      out.unloadMs = s.unloadMs;
      out.loadMs = s.loadMs;
      out.startMs = Math.max(0, s.totalMs - s.stopMs - s.unloadMs - s.loadMs);
      if (s.ipcMs !== undefined) out.ipcMs = s.ipcMs;
    }
    if (end.restartMs !== undefined) out.restartMs = end.restartMs;
    out.totalMs = now - from;
    const seq: (keyof ReloadPhases)[] = ['watchMs', 'debounceMs', 'prepareMs', 'cargoMs', 'unitsMs', 'hashMs', 'snapshotMs', 'stopMs', 'unloadMs', 'loadMs', 'startMs', 'ipcMs', 'restartMs'];
    const covered = seq.reduce((s, k) => s + ((out[k] as number | undefined) ?? 0), 0);
    out.otherMs = Math.max(0, out.totalMs - covered);
    const app = (out.stopMs ?? 0) + (out.unloadMs ?? 0) + (out.loadMs ?? 0) + (out.startMs ?? 0) + (out.restartMs ?? 0);
    out.overheadMs = Math.max(0, out.totalMs - (out.rustcMs ?? 0) - app);
    return out;
  }
}

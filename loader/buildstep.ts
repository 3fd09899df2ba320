/**
 * One build of a `hotgen dev` cycle: without cargo when the change allows it
 * (loader/fastbuild.ts), else the cargo hot build (loader/hotbuild.ts); either way the
 * time goes into the cycle's {@link CycleClock}.
 */
import { promises as fs, statSync } from 'node:fs';
import path from 'node:path';
import { sha256 } from '../common/fsx.js';
import type { HotPlan } from '../common/types.js';
import type { Toolchain } from './build.js';
import { lostSymbols, SymbolCache } from './elfsyms.js';
import { ReplayBatch, runFastBuild } from './fastbuild.js';
import { planFastBuild, readUnitFiles, type FastUnit, type UnitFiles } from './fastplan.js';
import { runHotBuild, type HotBuild } from './hotbuild.js';
import type { CycleClock } from './phases.js';
import { nextStale, SourceBaseline } from './relink.js';
import { fileState, type Snapshot } from './snapshot.js';
import type { HotModule, UnitRecord } from './units.js';

/** What the session keeps between builds to decide on the build without cargo. */
export class BuildMemory {
  /** Files changed (the watcher) since the last build started, absolute. */
  readonly changed = new Set<string>();
  /** A build was asked for by hand (terminal, `hotgen reload`, the session start): cargo builds it. */
  manual = true;
  /** The last build, when it succeeded: its module graph and unit records. */
  last?: { modules: HotModule[]; units: Map<string, UnitRecord> };
  /** Replay and `.d` files by stem, as the last builds left them (loader/fastbuild.ts). */
  readonly files = new Map<string, UnitFiles>();
  /** The text each source file's dylib was compiled from (loader/relink.ts). */
  readonly baseline = new SourceBaseline();
  /** Modules built against a crate hash that has changed since (loader/relink.ts). */
  stale = new Set<string>();
  /** Dynamic symbols of the session's dylibs (loader/elfsyms.ts). */
  readonly symbols = new SymbolCache();
  /** The next build's batch process, started ahead of time (after a good build's cycle has reported). */
  batch?: ReplayBatch;

  /** Has a batch process of `wrapper` wait for the next build. */
  ready(wrapper: string): void {
    if (this.batch?.wrapper === wrapper) return;
    this.batch?.dispose();
    this.batch = new ReplayBatch(wrapper);
  }

  /** Ends the waiting batch process (the session ends). */
  close(): void {
    this.batch?.dispose();
    this.batch = undefined;
  }
}

/** Inputs of {@link buildStep}. */
export interface BuildStepOptions {
  root: string;
  plan: HotPlan;
  hot: HotBuild;
  toolchain: Toolchain;
  memory: BuildMemory;
  /** `.hotgen/replay` (absolute), where the wrapper leaves its replay files. */
  replayDir: string;
  clock: CycleClock;
  color: boolean;
  progress: boolean;
  verbose: boolean;
  /** Where the build without cargo writes rustc's diagnostics (cargo writes its own). */
  write: (text: string) => void;
  /** Says why cargo builds (for `--verbose`). */
  debug: (line: string) => void;
}

/** The outcome of one build. */
export interface BuildStep {
  success: boolean;
  errors: string;
  buildMs: number;
  /** The module graph (empty when the build failed). */
  modules: HotModule[];
  /** Modules rebuilt. */
  rebuilt: Set<string>;
  /** True when cargo did not run. */
  fast: boolean;
}

/**
 * Builds what changed since the last build: the changed files (taken from `memory`) by
 * running their crates again without cargo when {@link planFastBuild} allows it, and only
 * the crates above them an edit may concern (loader/relink.ts; `HOTGEN_RELINK=0`: all of
 * them), else with cargo (`HOTGEN_FAST_BUILD=0`: always; a way out should the build
 * without cargo ever go wrong). Updates `memory` with the outcome. Never throws for
 * compiler errors (`success: false`).
 */
export async function buildStep(o: BuildStepOptions): Promise<BuildStep> {
  const m = o.memory;
  const files = [...m.changed];
  const manual = m.manual;
  m.changed.clear();
  m.manual = false;
  const t0 = performance.now();
  if (!manual && m.last && process.env.HOTGEN_FAST_BUILD !== '0') {
    const last = m.last;
    await m.baseline.ready();
    const relink = process.env.HOTGEN_RELINK === '0' ? undefined : { baseline: m.baseline, stale: m.stale, root: o.root };
    const plan = await planFastBuild({ changed: files, modules: last.modules, units: last.units, replayDir: o.replayDir, cache: m.files, relink });
    if (plan.ok) {
      o.clock.add('unitsMs', performance.now() - t0);
      m.last = undefined;
      for (const [name, why] of plan.relink?.why ?? []) o.debug(`hotgen dev: ${name}: ${why ? `its dependents are compiled again: ${why}` : 'only the body of non-generic functions changed: its dependents are not compiled again'}`);
      if (plan.relink?.skipped.length) o.debug(`hotgen dev: not compiled, reloaded as built before: ${plan.relink.skipped.join(', ')}`);
      const batch = plan.units.length > 0 ? m.batch : undefined;
      if (batch) m.batch = undefined;
      const watch = plan.relink ? exportsBefore(plan.units, m.symbols) : new Map();
      const r = await runFastBuild(plan.units, { wrapper: o.hot.env.RUSTC_WRAPPER, closure: o.hot.closure, unitsDir: o.hot.unitsDir, write: o.write, batch });
      o.clock.addBuild(r.startedAt, r.buildMs, r.unitTimings, 'replay');
      for (const [stem, d] of r.depInfo) {
        const f = m.files.get(stem);
        if (f && d !== undefined) f.d = d;
        else m.files.delete(stem);
      }
      if (r.cargoStale.length > 0) o.debug(`hotgen dev: cargo will build ${r.cargoStale.join(', ')} again (their sources or env! dependencies changed)`);
      if (!r.success) return { success: false, errors: r.errors, buildMs: r.buildMs, modules: [], rebuilt: new Set(), fast: true };
      const moved = plan.relink ? m.baseline.settle(plan.relink.reads).map((f) => `${path.relative(o.root, f)} changed during the build`) : [];
      const unsure = [...moved, ...lostExports(watch, last.modules, r.rebuilt, m.symbols)];
      if (unsure.length === 0) {
        if (plan.relink) m.stale = nextStale(last.modules, m.stale, r.rebuilt);
        const units = new Map(last.units);
        for (const [stem, rec] of r.records) units.set(stem, rec);
        m.last = { modules: last.modules, units };
        return { success: true, errors: '', buildMs: r.buildMs, modules: last.modules, rebuilt: r.rebuilt, fast: true };
      }
      // The crates left alone may not fit the new dylibs: cargo compiles them (their dependencies' outputs are newer).
      o.debug(`hotgen dev: ${unsure.join('; ')}: cargo builds the crates above`);
      const b = await cargoStep(o, performance.now());
      for (const n of r.rebuilt) b.rebuilt.add(n);
      return { ...b, buildMs: b.buildMs + r.buildMs };
    }
    o.debug(`hotgen dev: cargo builds this change: ${plan.reason}`);
  }
  return cargoStep(o, t0);
}

/** The cargo hot build (`t0`: when the step started, for its own time). Updates the memory like {@link buildStep}. */
async function cargoStep(o: BuildStepOptions, t0: number): Promise<BuildStep> {
  const m = o.memory;
  m.last = undefined;
  // cargo may rewrite any unit's replay and `.d` files, and compiles every stale crate again.
  m.files.clear();
  m.baseline.clear();
  const startedAt = Date.now();
  const b = await runHotBuild({ root: o.root, plan: o.plan, hot: o.hot, toolchain: o.toolchain, color: o.color, progress: o.progress, verbose: o.verbose });
  for (const r of b.cargoRuns) o.clock.addBuild(r.startedAt, r.ms, b.unitTimings);
  if (b.success) {
    m.last = { modules: b.modules, units: b.units };
    m.stale.clear();
    // In the background (the next build without cargo waits for it, the swap does not), and
    // not through `m.files`, which a cargo build started meanwhile would clear under it.
    void m.baseline.capture(readUnitFiles({ modules: b.modules, units: b.units, replayDir: o.replayDir }).then((u) => u.owners.keys()), startedAt);
  }
  o.clock.add('unitsMs', performance.now() - t0 - b.buildMs);
  return { success: b.success, errors: b.errors, buildMs: b.buildMs, modules: b.modules, rebuilt: b.rebuilt, fast: false };
}

/**
 * The dynamic symbols of each unit before the build. A module left alone above a unit,
 * directly or not, may bind to any of them: with shared generics (rustc's default without
 * optimisation) a crate links to the copies of generic functions the crates below it export
 * instead of making its own, so an edit that drops a crate's last use of one (or changes a
 * const generic argument, such as a format string's length) removes a symbol a dylib above
 * may need. Read from the cache: usually what the last build left.
 */
function exportsBefore(units: readonly FastUnit[], symbols: SymbolCache): Map<string, { so: string; before?: Set<string> }> {
  return new Map(units.map((u) => [u.name, { so: u.rec.so, before: symbols.get(u.rec.so)?.defined }]));
}

/**
 * What the units of {@link exportsBefore} no longer define and a module reloaded
 * without being built (above a built one) needs (one line per unit).
 */
function lostExports(watch: ReadonlyMap<string, { so: string; before?: Set<string> }>, modules: readonly HotModule[], built: ReadonlySet<string>, symbols: SymbolCache): string[] {
  const above = new Set<string>();
  const needed = new Set<string>();
  for (const m of modules) {
    if (built.has(m.name)) above.add(m.name);
    else if (m.deps.some((d) => above.has(d))) {
      above.add(m.name);
      const syms = symbols.get(m.source);
      if (!syms) return [`${m.name}: its dynamic symbols cannot be read`];
      for (const s of syms.undefined) needed.add(s);
    }
  }
  if (needed.size === 0) return [];
  const out: string[] = [];
  for (const [name, w] of watch) {
    const after = symbols.get(w.so)?.defined;
    if (!w.before || !after) out.push(`${name}: its dynamic symbols cannot be read`);
    else {
      const lost = lostSymbols(w.before, after, needed);
      if (lost.length) out.push(`${name} no longer defines ${lost.join(', ')}, which a dylib above it needs`);
    }
  }
  return out;
}

/**
 * Which of `modules` changed against the running set `loaded`: every module in `rebuilt`
 * (only checked to exist, not hashed), and any other whose output's stat differs and
 * whose bytes differ from its snapshot's (hashed only then: a build made elsewhere, or
 * `--no-build`). `missing`: outputs that do not exist.
 */
export async function outputChanges(modules: readonly HotModule[], loaded: ReadonlyMap<string, Snapshot>, rebuilt: ReadonlySet<string>): Promise<{ changed: Set<string>; missing: string[] }> {
  const changed = new Set<string>();
  const missing: string[] = [];
  // stat(2) synchronously (dozens of calls, microseconds each): on a busy machine each trip
  // through the thread pool costs a wake-up; files are hashed (rarely) asynchronously.
  await Promise.all(
    modules.map(async (m) => {
      const prev = loaded.get(m.name);
      const st = statSync(m.source, { throwIfNoEntry: false });
      if (!st) return void missing.push(m.source);
      if (rebuilt.has(m.name) || !prev) return void changed.add(m.name);
      const p = prev.state;
      if (prev.source === m.source && p.size === st.size && p.mtimeMs === st.mtimeMs && p.ino === st.ino) return;
      const now = await fileState(m.source);
      if (!now) return void missing.push(m.source);
      p.sha256 ??= sha256(await fs.readFile(prev.path));
      if (p.sha256 !== now.sha256) changed.add(m.name);
    }),
  );
  return { changed, missing };
}

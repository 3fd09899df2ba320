/**
 * The rustc wrapper's unit records (`<hot target>/<profile>/hotgen-units/lib<name>-<hash>`,
 * written by `loader/wrapper/hotgen_rustc.rs`) and the module graph the host maps, built
 * from them: cargo does not know the extra `.so` files, so their paths and their
 * dependency order come from the wrapper, not from guesses.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { HotPlan, ModuleRole } from '../common/types.js';
import type { CargoArtifact } from './build.js';

/** One record: a library the wrapper built as rlib+dylib. Paths are absolute. */
export interface UnitRecord {
  /** File stem shared by the unit's outputs, e.g. `libmemchr-e102caa6b5297c52`. */
  stem: string;
  /** Crate (library target) name, `_` for `-`. */
  crate: string;
  role: ModuleRole;
  /** The package's manifest directory. */
  dir: string;
  so: string;
  rlib: string;
  /** The wrapper build and link args it was made with (HOTGEN_FLAGS_KEY). */
  flags: string;
  /** `.so` paths of its dylib dependencies. */
  deps: string[];
  /** When the wrapper and rustc ran for this unit (absent in records of an older wrapper). */
  timing?: UnitTiming;
}

/**
 * The `timing` line of a record: points in time are ms since the Unix epoch (the
 * wrapper's `SystemTime`, comparable with `Date.now()`), durations ms.
 */
export interface UnitTiming {
  /** The wrapper process started (cargo spawned it). */
  wrapperStart: number;
  /** rustc was spawned. */
  rustcStart: number;
  /** rustc (both calls, for a cdylib crate) exited. */
  rustcEnd: number;
  /** The wrapper was about to write the record and exit. */
  wrapperEnd: number;
  /** Time in the linker, within rustcStart..rustcEnd (the wrapper runs the real linker and times it). */
  linkMs: number;
}

/** A dylib the host maps, with its dependencies by module name. */
export interface HotModule {
  /** Package name for workspace crates; the file stem without `lib` for registry ones (`memchr-e102caa6b5297c52`). */
  name: string;
  role: ModuleRole;
  /** The `.so` cargo's wrapper wrote (never mapped itself: the host maps snapshots). */
  source: string;
  deps: string[];
}

const ROLES: readonly string[] = ['entry', 'reloadable', 'frozen', 'registry'];

/** Parses one record's text; undefined when it is not a complete record. */
export function parseRecord(stem: string, text: string): UnitRecord | undefined {
  const rec: Partial<UnitRecord> & { deps: string[] } = { stem, deps: [], flags: '' };
  for (const line of text.split('\n')) {
    const tab = line.indexOf('\t');
    if (tab < 0) continue;
    const k = line.slice(0, tab);
    const v = line.slice(tab + 1);
    if (k === 'dep') rec.deps.push(v);
    else if (k === 'timing') rec.timing = parseTiming(v);
    else if (k === 'role') rec.role = ROLES.includes(v) ? (v as ModuleRole) : undefined;
    else if (k === 'crate' || k === 'dir' || k === 'so' || k === 'rlib' || k === 'flags') rec[k] = v;
  }
  return rec.crate && rec.role && rec.so && rec.rlib && rec.dir !== undefined ? (rec as UnitRecord) : undefined;
}

function parseTiming(v: string): UnitTiming | undefined {
  const n = v.split('\t').map(Number);
  if (n.length !== 5 || !n.every(Number.isFinite)) return undefined;
  const [wrapperStart, rustcStart, rustcEnd, wrapperEnd, linkMs] = n;
  return { wrapperStart, rustcStart, rustcEnd, wrapperEnd, linkMs };
}

/** Every record in `dir` by stem (empty when the directory does not exist). */
export async function readUnits(dir: string): Promise<Map<string, UnitRecord>> {
  const out = new Map<string, UnitRecord>();
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch {
    return out;
  }
  // At once: one file per crate of the graph (dozens), read on every build.
  const recs = await Promise.all(names.filter((n) => !n.startsWith('.')).map(async (n) => parseRecord(n, await fs.readFile(path.join(dir, n), 'utf8').catch(() => ''))));
  for (const rec of recs) if (rec) out.set(rec.stem, rec);
  return out;
}

/**
 * The output stem of a library artifact (`.../deps/libfoo-<hash>.rlib` or `.rmeta` →
 * `libfoo-<hash>`). For a root unit cargo lists the uplifted `<profile>/libfoo.rlib` and
 * only the `.rmeta` in `deps/`, so files in `deps/` win.
 */
export function artifactStem(a: CargoArtifact): string | undefined {
  const libs = a.filenames.filter((f) => /\.(rlib|rmeta)$/.test(f));
  const file = libs.find((f) => path.basename(path.dirname(f)) === 'deps') ?? libs[0];
  return file ? path.basename(file).replace(/\.(rlib|rmeta)$/, '') : undefined;
}

/**
 * The entry's record: the one this build's artifacts name for the entry package when
 * given, else the newest record of the entry crate (a build made elsewhere).
 */
export async function entryRecord(units: Map<string, UnitRecord>, plan: HotPlan, artifacts?: readonly CargoArtifact[]): Promise<UnitRecord | undefined> {
  const lib = plan.crates.find((c) => c.name === plan.entry)?.lib;
  const candidates = [...units.values()].filter((u) => u.role === 'entry' && u.crate === lib);
  if (artifacts) {
    const stems = new Set(artifacts.map(artifactStem));
    const hit = candidates.find((u) => stems.has(u.stem));
    if (hit) return hit;
  }
  let best: { rec: UnitRecord; mtime: number } | undefined;
  for (const rec of candidates) {
    const st = await fs.stat(rec.so).catch(() => undefined);
    if (st && (!best || st.mtimeMs > best.mtime)) best = { rec, mtime: st.mtimeMs };
  }
  return best?.rec;
}

/**
 * The modules reachable from `entry` through the records' dependencies, in topological
 * order (every module after its dependencies). Workspace modules are named by their
 * plan package (matched on the library name); a dependency without a record is an
 * error string in `missing`.
 */
export function moduleGraph(units: Map<string, UnitRecord>, entry: UnitRecord, plan: HotPlan): { modules: HotModule[]; missing: string[] } {
  const bySo = new Map([...units.values()].map((u) => [u.so, u]));
  const pkgByLib = new Map(plan.crates.flatMap((c) => (c.lib ? [[c.lib, c.name] as const] : [])));
  const nameOf = (u: UnitRecord) => (u.role === 'registry' ? u.stem.replace(/^lib/, '') : (pkgByLib.get(u.crate) ?? u.crate));
  const modules: HotModule[] = [];
  const missing: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (u: UnitRecord) => {
    if (state.get(u.so)) return;
    state.set(u.so, 'visiting');
    const deps: string[] = [];
    for (const d of u.deps) {
      const dep = bySo.get(d);
      if (!dep) {
        missing.push(d);
        continue;
      }
      visit(dep);
      deps.push(nameOf(dep));
    }
    state.set(u.so, 'done');
    modules.push({ name: nameOf(u), role: u.role, source: u.so, deps });
  };
  visit(entry);
  return { modules, missing };
}

/**
 * The plan of a build without cargo (loader/fastbuild.ts runs it): the wrapper's replay
 * and rustc `.d` files of the last build tell which crates read a changed file; the
 * change goes to cargo when cargo would do more than run those crates again (a build
 * script, a file no crate reads); loader/relink.ts decides which crates above them run too.
 */
import { promises as fs, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { decideRelink, type RelinkDecision, type SourceBaseline } from './relink.js';
import type { HotModule, UnitRecord } from './units.js';

/** How the wrapper ran one unit: to run it again. */
export interface Replay {
  cwd: string;
  /** rustc's path, then rustc's arguments, as cargo passed them to the wrapper. */
  args: string[];
  env: Record<string, string>;
}

/** Parses a replay file (`cwd`, `arg`..., `env NAME=value`..., tag and value NUL-terminated); undefined when incomplete. */
export function parseReplay(buf: Buffer): Replay | undefined {
  const parts = buf.toString('utf8').split('\0');
  const r: Replay = { cwd: '', args: [], env: {} };
  for (let i = 0; i + 1 < parts.length; i += 2) {
    const [tag, v] = [parts[i], parts[i + 1]];
    if (tag === 'cwd') r.cwd = v;
    else if (tag === 'arg') r.args.push(v);
    else if (tag === 'env') {
      const eq = v.indexOf('=');
      if (eq > 0) r.env[v.slice(0, eq)] = v.slice(eq + 1);
    }
  }
  return r.cwd && r.args.length > 1 ? r : undefined;
}

/**
 * The source files a rustc `.d` file (Makefile syntax, `--emit dep-info`) lists: each
 * source has a rule of its own with no prerequisites (`src/lib.rs:`). Relative paths are
 * resolved against `cwd` (rustc's working directory); `\ ` is an escaped space.
 */
export function depInfoSources(text: string, cwd: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^((?:\\.|[^:\\])+):\s*$/.exec(line);
    if (m) out.push(path.resolve(cwd, m[1].replace(/\\(.)/g, '$1')));
  }
  return out;
}

/** One unit to run again. */
export interface FastUnit {
  /** Module name. */
  name: string;
  rec: UnitRecord;
  replay: Replay;
  /** The wrapper's replay file of the unit. */
  replayFile: string;
  /** rustc's dep-info file of the unit, and its text before the run. */
  dFile: string;
  dBefore: string;
  /** Names of other units of the plan it waits for. */
  after: string[];
}

/** Inputs of {@link planFastBuild}: the last good build and what changed since. */
export interface FastPlanInput {
  /** Files changed since the last good build started (absolute). */
  changed: readonly string[];
  /** The module graph of the last good build, in topological order. */
  modules: readonly HotModule[];
  /** Its unit records by stem. */
  units: ReadonlyMap<string, UnitRecord>;
  replayDir: string;
  /**
   * Replay and `.d` files read before, by stem (filled here; the caller drops it after a
   * cargo build and updates it after a build without cargo, {@link FastResult.depInfo}).
   */
  cache?: Map<string, UnitFiles>;
  /** Set: dependents run only when an edit may change what they see (loader/relink.ts). */
  relink?: { baseline: SourceBaseline; stale: ReadonlySet<string>; root: string };
}

/** A unit's replay file (parsed) and rustc `.d` text, undefined where missing. */
export interface UnitFiles {
  replay?: Replay;
  d?: string;
}

/**
 * The units to run again (topological order; empty: nothing changed), or why cargo must
 * build instead. `relink` (when asked for) says which crates above the edited ones are
 * left alone, and why each edited crate's dependents run or not (loader/relink.ts).
 */
export type FastPlan = { ok: true; units: FastUnit[]; relink?: RelinkDecision } | { ok: false; reason: string };

/**
 * rustc's dep-info file of a unit: `<crate>-<hash>.d` in cargo's `--out-dir` for it (the
 * deps directory; a cdylib crate's dylib and rlib are elsewhere, in `hotgen-dylib/`).
 */
function depFile(rec: UnitRecord, replay: Replay): string {
  const at = replay.args.indexOf('--out-dir');
  const eq = replay.args.find((a) => a.startsWith('--out-dir='));
  const outDir = at >= 0 ? replay.args[at + 1] : eq?.slice('--out-dir='.length);
  return path.join(outDir ? path.resolve(replay.cwd, outDir) : path.dirname(rec.rlib), `${rec.stem.replace(/^lib/, '')}.d`);
}

/**
 * Why cargo would run the unit's build script again for a change to `changed` (absolute
 * paths), or undefined when it would not or the unit has none (no `OUT_DIR` in its
 * environment). Cargo's rule (the Cargo Book, "Build Scripts", `rerun-if-changed`): a
 * build script that printed no `rerun-if-changed` runs again when any file of its package
 * changes; one that did, when a listed file, or a file under a listed directory, changes.
 * Paths are relative to the package's directory. The printed lines are in `output`, beside
 * `OUT_DIR`.
 */
export function buildScriptRerun(replay: Replay, changed: readonly string[]): string | undefined {
  const outDir = replay.env.OUT_DIR;
  if (!outDir) return undefined;
  let printed: string;
  try {
    printed = readFileSync(path.join(path.dirname(outDir), 'output'), 'utf8');
  } catch {
    return 'its build script has not run in this target directory';
  }
  const pkg = replay.env.CARGO_MANIFEST_DIR ?? replay.cwd;
  const watched = [...printed.matchAll(/^cargo::?rerun-if-changed=(.+)$/gm)].map((m) => path.resolve(pkg, m[1]));
  if (watched.length === 0) return 'its build script runs again on any change in the package (it prints no rerun-if-changed)';
  const hit = changed.find((f) => watched.some((w) => f === w || f.startsWith(w + path.sep)));
  return hit ? `its build script watches ${hit}` : undefined;
}

/** Each workspace module's replay and `.d` files (through `cache`), and the modules reading each source file. */
export async function readUnitFiles(i: Pick<FastPlanInput, 'modules' | 'units' | 'replayDir' | 'cache'>) {
  const bySo = new Map([...i.units.values()].map((u) => [u.so, u]));
  const owners = new Map<string, Set<string>>();
  const replays = new Map<string, { rec: UnitRecord; replay?: Replay; d?: string }>();
  await Promise.all(
    i.modules
      .filter((m) => m.role !== 'registry')
      .map(async (m) => {
        const rec = bySo.get(m.source);
        if (!rec) return;
        let files = i.cache?.get(rec.stem);
        if (!files?.replay || files.d === undefined) {
          const replay = await fs.readFile(path.join(i.replayDir, rec.stem)).then(parseReplay, () => undefined);
          const d = replay && (await fs.readFile(depFile(rec, replay), 'utf8').catch(() => undefined));
          files = { replay, d };
          i.cache?.set(rec.stem, files);
        }
        const { replay, d } = files;
        replays.set(m.name, { rec, replay, d });
        for (const f of replay && d !== undefined ? depInfoSources(d, replay.cwd) : []) owners.set(f, (owners.get(f) ?? new Set()).add(m.name));
      }),
  );
  return { replays, owners };
}

/** Decides whether the change can be built without cargo, and which units run again. Reads the `.d` and replay files. */
export async function planFastBuild(i: FastPlanInput): Promise<FastPlan> {
  const { replays, owners } = await readUnitFiles(i);
  const files = new Map<string, string[]>();
  for (const f of i.changed) {
    const who = owners.get(f);
    if (!who) return { ok: false, reason: `${f} is not a source file of a crate built in this session` };
    if (!statSync(f, { throwIfNoEntry: false })?.isFile()) return { ok: false, reason: `${f} is gone` };
    for (const n of who) files.set(n, [...(files.get(n) ?? []), f]);
  }
  const dirty = new Set(files.keys());
  for (const n of dirty) {
    const replay = replays.get(n)?.replay;
    const why = replay && buildScriptRerun(replay, i.changed);
    if (why) return { ok: false, reason: `${n}: ${why}` };
  }
  const relink = i.relink
    ? decideRelink({
        ...i.relink,
        modules: i.modules,
        dirty,
        files,
        args: new Map([...replays].map(([n, r]) => [n, r.replay?.args ?? []])),
      })
    : undefined;
  const rebuild = new Set(relink?.rebuild);
  if (!relink) for (const m of i.modules) if (dirty.has(m.name) || m.deps.some((d) => rebuild.has(d))) rebuild.add(m.name);
  const units: FastUnit[] = [];
  for (const m of i.modules) {
    if (!rebuild.has(m.name)) continue;
    const r = replays.get(m.name);
    if (!r?.replay) return { ok: false, reason: `no replay file for ${m.name} yet (cargo builds it first)` };
    if (r.d === undefined) return { ok: false, reason: `no rustc dep-info file for ${m.name} (cargo builds it)` };
    units.push({ name: m.name, rec: r.rec, replay: r.replay, replayFile: path.join(i.replayDir, r.rec.stem), dFile: depFile(r.rec, r.replay), dBefore: r.d, after: m.deps.filter((d) => rebuild.has(d)) });
  }
  return { ok: true, units, relink };
}

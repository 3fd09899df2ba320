/**
 * Which crates a build without cargo runs again when some edits leave a crate's interface
 * as its dependents see it (loader/bodyedit.ts): the edited crate only, not the crates
 * above it. Their dylibs, built against the previous version, are what a rebuild would
 * produce except for the crate hash (SVH) they record for it; the dynamic linker never
 * reads that hash, rustc does, so such a dependent is *stale*: before rustc compiles
 * anything that loads it (its own dependents, on a later edit), it is compiled again
 * first. A cargo build compiles every stale crate again by itself: cargo rebuilds a unit
 * whose dependency's output is newer than its own (Cargo's fingerprint.rs, "dependency
 * rebuilt"), so none is stale after one.
 */
import { promises as fs, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { bodyOnlyEdit } from './bodyedit.js';

/** The text of a source file as read, with the stat that dates it. */
export interface SourceRead {
  text: string;
  mtimeMs: number;
  size: number;
}

/**
 * Coarse file timestamps: Linux stamps a write with a clock that may lag the real time by
 * a timer tick (up to 10 ms at HZ=100; the kernel's `current_time()`), so a file counts as
 * unmodified since a build started only when its mtime is this much earlier.
 */
const TIMESTAMP_SLACK_MS = 10;

/** Reads a source file and its stat (undefined when it cannot be read). Synchronous: a few small files on the reload's path. */
export function readSource(file: string): SourceRead | undefined {
  try {
    const st = statSync(file);
    return { text: readFileSync(file, 'utf8'), mtimeMs: st.mtimeMs, size: st.size };
  } catch {
    return undefined;
  }
}

/** Whether `file` still is what `read` saw (same size, mtime and text). */
function unchanged(file: string, read: SourceRead): boolean {
  const now = readSource(file);
  return now !== undefined && now.mtimeMs === read.mtimeMs && now.size === read.size && now.text === read.text;
}

/**
 * The text each workspace source file had when the dylib now built from it was compiled:
 * the "before" of the next edit's comparison. A file without one (modified while a build
 * ran, or not read yet) has its crate's dependents compiled again.
 */
export class SourceBaseline {
  private readonly texts = new Map<string, string>();
  private derived?: { macros: Set<string>; included: Set<string> };
  private generation = 0;
  private loading?: Promise<void>;

  /** The text `file` (absolute) was last compiled from, if known. */
  get(file: string): string | undefined {
    return this.texts.get(file);
  }

  /** Names of the `macro_rules!` macros the workspace's sources define (they may shadow std's, log's or tracing's). */
  macros(): ReadonlySet<string> {
    return this.derive().macros;
  }

  /** Base names of the files the workspace's sources `include!` (their text lands inside whatever item includes them). */
  included(): ReadonlySet<string> {
    return this.derive().included;
  }

  private derive() {
    this.derived ??= {
      macros: macroNames(this.texts.values()),
      included: new Set([...this.texts.values()].flatMap((t) => [...t.matchAll(/\binclude!\s*\(\s*"([^"]*)"/g)].map((m) => path.basename(m[1])))),
    };
    return this.derived;
  }

  /**
   * After a cargo build that started at `startedAt` (epoch ms): takes the text of each of
   * `files` not modified since (what rustc read), and forgets the others. Runs in the
   * background, off the reload's path; {@link ready} waits for it. A later capture or
   * {@link clear} supersedes it.
   */
  capture(files: Iterable<string> | Promise<Iterable<string>>, startedAt: number): Promise<void> {
    this.clear();
    const generation = this.generation;
    const texts = this.texts;
    this.loading = (async () => {
      const all = [...(await files)];
      await Promise.all(
        all.map(async (f) => {
          const st = await fs.stat(f).catch(() => undefined);
          if (!st || st.mtimeMs >= startedAt - TIMESTAMP_SLACK_MS) return;
          const text = await fs.readFile(f, 'utf8').catch(() => undefined);
          const again = await fs.stat(f).catch(() => undefined);
          if (text !== undefined && again?.mtimeMs === st.mtimeMs && generation === this.generation) texts.set(f, text);
        }),
      );
      if (generation === this.generation) this.derived = undefined;
    })().catch(() => this.clear());
    return this.loading;
  }

  /** Resolves when the last {@link capture} is done. */
  async ready(): Promise<void> {
    await this.loading;
  }

  /**
   * After a build without cargo compiled `reads` (read before it started): keeps each text
   * that is still the file's, and forgets the others. Returns the files that changed
   * during the build.
   */
  settle(reads: ReadonlyMap<string, SourceRead | undefined>): string[] {
    const moved: string[] = [];
    this.derived = undefined;
    for (const [f, r] of reads) {
      if (r && unchanged(f, r)) this.texts.set(f, r.text);
      else {
        this.texts.delete(f);
        moved.push(f);
      }
    }
    return moved;
  }

  /** Forgets everything (a cargo build is running). */
  clear(): void {
    this.generation++;
    this.texts.clear();
    this.derived = undefined;
  }
}

/**
 * Why the unit's rustc flags let rustc inline a non-generic function into other crates
 * (undefined: they do not). rustc infers cross-crate inlinability only with optimisation
 * on and incremental compilation off, or when told to (`-Z cross-crate-inline-threshold`,
 * `-Z inline-mir`); `-Z always-encode-mir` puts every body in the metadata.
 */
export function relinkFlags(args: readonly string[]): string | undefined {
  const opts = args.flatMap((a, i) => (a === '-C' || a === '-Z' ? [`${a}${args[i + 1] ?? ''}`] : a.startsWith('-C') || a.startsWith('-Z') ? [a] : []));
  const z = opts.find((o) => /^-Z(inline-mir|cross-crate-inline-threshold|always-encode-mir)/.test(o));
  if (z) return `it is compiled with ${z}`;
  const lto = opts.filter((o) => o.startsWith('-Clto')).pop();
  if (lto && !/^-Clto=(off|no|n|false)$/.test(lto)) return `it is compiled with ${lto}`;
  const opt = opts.filter((o) => o.startsWith('-Copt-level=')).pop()?.slice('-Copt-level='.length);
  if (opt && opt !== '0' && !opts.some((o) => o.startsWith('-Cincremental='))) return `it is compiled with opt-level ${opt} and no incremental compilation (rustc may inline small functions into other crates)`;
  return undefined;
}

/** Names of the `macro_rules!` macros defined in `texts`. */
export function macroNames(texts: Iterable<string>): Set<string> {
  const out = new Set<string>();
  for (const t of texts) for (const m of t.matchAll(/\bmacro_rules!\s*(?:r#)?([A-Za-z_][A-Za-z0-9_]*)/g)) out.add(m[1]);
  return out;
}

/** A module as the decision needs it: name and dependencies (names), in topological order. */
export interface RelinkNode {
  name: string;
  deps: readonly string[];
}

/** Inputs of {@link decideRelink}. */
export interface RelinkInput {
  /** The module graph, topological order. */
  modules: readonly RelinkNode[];
  /** Modules that read a changed file. */
  dirty: ReadonlySet<string>;
  /** Changed files (absolute) by module, and each module's rustc arguments. */
  files: ReadonlyMap<string, readonly string[]>;
  args: ReadonlyMap<string, readonly string[]>;
  baseline: SourceBaseline;
  /** Modules built against a crate hash that has changed since. */
  stale: ReadonlySet<string>;
  /** Project root, to name files in reasons. */
  root: string;
}

/** What to run: `rebuild`; `skipped`: what compiling every crate above the edited ones would add (both topological order). */
export interface RelinkDecision {
  rebuild: string[];
  skipped: string[];
  /** The changed files as read now (the "after" of each comparison). */
  reads: Map<string, SourceRead | undefined>;
  /** For each dirty module: why its dependents are compiled again, or `''` when they are not. */
  why: Map<string, string>;
}

/**
 * Decides the units of a build without cargo: each dirty module; its dependents only when
 * an edit may change what they compiled from it (and then, transitively, theirs); and
 * every stale module below anything compiled, first.
 */
export function decideRelink(i: RelinkInput): RelinkDecision {
  const reads = new Map<string, SourceRead | undefined>();
  const why = new Map<string, string>();
  const macros = i.baseline.macros();
  for (const m of i.dirty) {
    let reason = relinkFlags(i.args.get(m) ?? []) ?? '';
    for (const f of i.files.get(m) ?? []) {
      if (!reads.has(f)) reads.set(f, readSource(f));
      if (reason) continue;
      const name = path.relative(i.root, f);
      const before = i.baseline.get(f);
      const after = reads.get(f);
      if (!f.endsWith('.rs') || i.baseline.included().has(path.basename(f))) reason = `${name}: not a module file (include!d, or not Rust): where it lands is unknown`;
      else if (before === undefined || after === undefined) reason = `${name}: no copy of the text its dylib was compiled from`;
      else {
        const v = bodyOnlyEdit(before, after.text, macros);
        if (!v.bodyOnly) reason = `${name}: ${v.reason}`;
      }
    }
    why.set(m, reason);
  }
  const iface = new Set<string>();
  const rebuild = new Set<string>();
  const old = new Set<string>();
  for (const m of i.modules) {
    const depIface = m.deps.some((d) => iface.has(d));
    if (i.dirty.has(m.name) || depIface) {
      rebuild.add(m.name);
      if (depIface || why.get(m.name)) iface.add(m.name);
    }
    if (i.dirty.has(m.name) || m.deps.some((d) => old.has(d))) old.add(m.name);
  }
  // rustc refuses to load a crate built against another version of one of its dependencies:
  // whatever is compiled needs every crate below it consistent, stale ones compiled first.
  const byName = new Map(i.modules.map((m) => [m.name, m]));
  for (;;) {
    const below = new Set<string>();
    const walk = [...rebuild];
    while (walk.length) {
      for (const d of byName.get(walk.pop()!)?.deps ?? []) {
        if (below.has(d)) continue;
        below.add(d);
        walk.push(d);
      }
    }
    const stale = nextStale(i.modules, i.stale, rebuild);
    const needed = [...stale].filter((n) => below.has(n));
    if (needed.length === 0) break;
    for (const n of needed) rebuild.add(n);
  }
  const order = (s: Set<string>) => i.modules.map((m) => m.name).filter((n) => s.has(n));
  return { rebuild: order(rebuild), skipped: order(new Set([...old].filter((n) => !rebuild.has(n)))), reads, why };
}

/**
 * The stale modules after `rebuilt` were compiled: the stale ones not compiled, and every
 * module not compiled that depends, transitively, on one that was.
 */
export function nextStale(modules: readonly RelinkNode[], stale: ReadonlySet<string>, rebuilt: ReadonlySet<string>): Set<string> {
  const out = new Set([...stale].filter((n) => !rebuilt.has(n)));
  const touched = new Set<string>();
  for (const m of modules) {
    if (rebuilt.has(m.name)) touched.add(m.name);
    else if (m.deps.some((d) => touched.has(d))) {
      touched.add(m.name);
      out.add(m.name);
    }
  }
  return out;
}

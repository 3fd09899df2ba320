/**
 * Generated layered Cargo workspaces for the scale benchmarks (and for tests): N
 * library crates in about sqrt(N) layers, each crate depending on 1–3 crates of the
 * layer below, every crate of a layer used by the layer above; an `entry` library on
 * top that depends on the whole top layer and carries the hotgen shim hook
 * (`#[cfg(hotgen)] mod hotgen_entry;` + `hotgen_run`), and a bin-only package `app`.
 * Std only (no registry). Each crate has a few hundred lines of ordinary code (structs,
 * impls, generics, a trait, an enum, a `thread_local!` with `Drop`) and a `MARK`
 * constant the benchmarks edit; the entry's answer is `gen <G> sum <sum of all MARKs>`.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { block, crateLib, entryLib } from './workspace-code.js';

/** One generated library crate. */
export interface GenCrate {
  /** Package and library name (`l03_c007`, or `entry`). */
  name: string;
  /** 0 = bottom; the entry is one above the top layer. */
  layer: number;
  /** Package names it depends on by path. */
  deps: string[];
}

/** A generated workspace: the file tree plus the DAG it encodes. */
export interface GeneratedWorkspace {
  /** Relative path → file contents. */
  tree: Record<string, string>;
  /** Library crates bottom-up (layer by layer), the entry last. */
  crates: GenCrate[];
  /** Crate names per layer, bottom first (the entry not included). */
  layers: string[][];
  /** `entry`. */
  entry: string;
  /** The bin-only package, `app`. */
  bin: string;
}

/** Options of {@link generateWorkspace}. */
export interface GenOptions {
  /** Approximate lines of Rust per crate (default 300; at least one code block is always written). */
  linesPerCrate?: number;
  /** PRNG seed for the extra edges (default 1): the same seed gives the same workspace. */
  seed?: number;
  /** Layer count (default max(2, round(sqrt(n)))). */
  layers?: number;
}

/** The entry crate's package name. */
export const ENTRY = 'entry';
/** The bin-only package's name. */
export const BIN = 'app';

/** mulberry32: a tiny deterministic PRNG (returns floats in [0, 1)). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Crate name for layer `l`, index `i`. */
export function crateName(l: number, i: number): string {
  return `l${String(l).padStart(2, '0')}_c${String(i).padStart(3, '0')}`;
}

/**
 * The DAG for `n` library crates (without the entry): layers of near-equal size; crate
 * i of layer k depends on crate i mod |k-1| of layer k-1 plus 0–2 random others of that
 * layer; a crate of layer k-1 nobody picked is added to a crate of layer k.
 * @throws Error when n < 2 or the layer count is not in [2, n].
 */
export function layeredDag(n: number, opts: GenOptions = {}): { layers: string[][]; crates: GenCrate[] } {
  const L = opts.layers ?? Math.max(2, Math.round(Math.sqrt(n)));
  if (!Number.isInteger(n) || n < 2) throw new Error(`a layered workspace needs at least 2 crates, got ${n}`);
  if (!Number.isInteger(L) || L < 2 || L > n) throw new Error(`layer count ${L} is not in [2, ${n}]`);
  const rand = prng(opts.seed ?? 1);
  const layers: string[][] = [];
  for (let l = 0; l < L; l++) {
    const size = Math.floor(n / L) + (l < n % L ? 1 : 0);
    layers.push(Array.from({ length: size }, (_, i) => crateName(l, i)));
  }
  const crates: GenCrate[] = [];
  for (let l = 0; l < L; l++) {
    const below = l > 0 ? layers[l - 1] : [];
    const level: GenCrate[] = layers[l].map((name, i) => {
      if (below.length === 0) return { name, layer: l, deps: [] };
      const deps = new Set([below[i % below.length]]);
      const extra = Math.floor(rand() * 3);
      for (let e = 0; e < extra && deps.size < Math.min(3, below.length); e++) deps.add(below[Math.floor(rand() * below.length)]);
      return { name, layer: l, deps: [...deps] };
    });
    const used = new Set(level.flatMap((c) => c.deps));
    below.forEach((b, j) => {
      if (!used.has(b)) level[j % level.length].deps.push(b);
    });
    for (const c of level) c.deps.sort();
    crates.push(...level);
  }
  return { layers, crates };
}

function manifest(name: string, deps: string[], extra = ''): string {
  return [
    '[package]',
    `name = "${name}"`,
    'version = "0.1.0"',
    'edition = "2024"',
    'publish = false',
    '',
    ...(extra ? [extra, ''] : []),
    '[dependencies]',
    ...deps.map((d) => `${d} = { path = "../${d}" }`),
    '',
  ].join('\n');
}

/** Number of code blocks that gives about `lines` lines per crate. */
function blocksFor(lines: number): number {
  const perBlock = block('x', 0).split('\n').length;
  return Math.max(1, Math.round((lines - 40) / perBlock));
}

/**
 * Generates the workspace for `n` library crates (`n` ≥ 2), plus `entry` and `app`.
 * Members live in `crates/<name>/`; the root is a virtual manifest. Deterministic for
 * the same arguments.
 * @throws Error as {@link layeredDag}.
 */
export function generateWorkspace(n: number, opts: GenOptions = {}): GeneratedWorkspace {
  const { layers, crates } = layeredDag(n, opts);
  const blocks = blocksFor(opts.linesPerCrate ?? 300);
  const entry: GenCrate = { name: ENTRY, layer: layers.length, deps: [...layers[layers.length - 1]] };
  const all = [...crates, entry];
  const tree: Record<string, string> = {
    'Cargo.toml': [
      '# Generated by bench/workspace-gen.ts: a layered workspace for the hotgen benchmarks.',
      '[workspace]',
      'resolver = "2"',
      `members = [${[...all.map((c) => c.name), BIN].map((m) => `"crates/${m}"`).join(', ')}]`,
      '',
    ].join('\n'),
  };
  for (const c of crates) {
    tree[`crates/${c.name}/Cargo.toml`] = manifest(c.name, c.deps);
    tree[`crates/${c.name}/src/lib.rs`] = crateLib(c.name, c.layer, c.deps, blocks);
  }
  tree[`crates/${ENTRY}/Cargo.toml`] = manifest(ENTRY, entry.deps) + '\n[lints.rust]\nunexpected_cfgs = { level = "warn", check-cfg = ["cfg(hotgen)"] }\n';
  tree[`crates/${ENTRY}/src/lib.rs`] = entryLib(entry.deps, blocks);
  tree[`crates/${BIN}/Cargo.toml`] = manifest(BIN, [ENTRY], '[[bin]]\nname = "app"\npath = "src/main.rs"');
  tree[`crates/${BIN}/src/main.rs`] = 'fn main() {\n    println!("sum {}", entry::total());\n}\n';
  return { tree, crates: all, layers, entry: ENTRY, bin: BIN };
}

/** Relative path of a crate's lib.rs in a generated workspace. */
export function libPath(crate: string): string {
  return `crates/${crate}/src/lib.rs`;
}

const MARK_RE = /^pub const MARK: u64 = (\d+);$/m;

/** The current `MARK` of `crate` in the workspace at `root`. @throws Error when the line is missing. */
export async function readMark(root: string, crate: string): Promise<number> {
  const m = MARK_RE.exec(await readFile(path.join(root, libPath(crate)), 'utf8'));
  if (!m) throw new Error(`${libPath(crate)}: no MARK line`);
  return Number(m[1]);
}

/** Rewrites the `MARK` line of `crate` (the one-line edit the benchmarks make). @throws Error when the line is missing. */
export async function writeMark(root: string, crate: string, value: number): Promise<void> {
  const file = path.join(root, libPath(crate));
  const text = await readFile(file, 'utf8');
  if (!MARK_RE.test(text)) throw new Error(`${libPath(crate)}: no MARK line`);
  await writeFile(file, text.replace(MARK_RE, `pub const MARK: u64 = ${value};`));
}

/** Every crate that depends on `name`, directly or not (not `name` itself). */
export function dependents(crates: readonly GenCrate[], name: string): Set<string> {
  const out = new Set<string>();
  let grew = true;
  while (grew) {
    grew = false;
    for (const c of crates) {
      if (!out.has(c.name) && c.deps.some((d) => d === name || out.has(d))) {
        out.add(c.name);
        grew = true;
      }
    }
  }
  return out;
}

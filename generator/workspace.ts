/**
 * The workspace model: members, targets and path-dependency edges from
 * `cargo metadata --no-deps --format-version 1` (offline, REFERENCE.md), checked for
 * cycles and sorted topologically. Every manifest is parsed here first, so a syntax
 * error is one line naming the file and line instead of cargo's multi-line report.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { UserError } from '../common/errors.js';
import { run } from '../common/exec.js';
import { exists } from '../common/fsx.js';
import type { CrateNode, WorkspaceGraph } from '../common/types.js';
import { parseToml } from '../common/deps-config.js';

type Table = Record<string, unknown>;
const asTable = (v: unknown): Table | undefined => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Table) : undefined);

/** A path for messages: relative to the current directory when inside it. */
export function displayPath(file: string): string {
  const rel = path.relative(process.cwd(), file);
  if (rel === '') return '.';
  return !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file;
}

async function readManifest(file: string): Promise<Table> {
  return parseManifest(await fs.readFile(file, 'utf8'), displayPath(file));
}

/**
 * Parses a Cargo.toml. A UTF-8 byte order mark is skipped, as cargo does.
 * @throws UserError naming the file, line and problem for invalid TOML.
 */
export function parseManifest(text: string, file: string): Table {
  try {
    return parseToml(text.replace(/^\uFEFF/, '')) as Table;
  } catch (err) {
    const e = err as { message?: string; line?: number; column?: number; location?: { start?: { line: number; column: number } } };
    const line = e.line ?? e.location?.start?.line;
    const column = e.column ?? e.location?.start?.column;
    const found = /but (.*) found\.?$/.exec(e.message ?? '');
    const what = found ? `unexpected ${found[1]}` : (e.message ?? String(err)).split('\n')[0];
    throw new UserError(`invalid TOML: ${what}${column ? ` (column ${column})` : ''}`, { file, line, cause: err });
  }
}

/** Finds the workspace root: `dir` if its manifest has `[workspace]` or no ancestor has one. */
async function findRoot(dir: string): Promise<string> {
  const own = path.join(dir, 'Cargo.toml');
  if (!(await exists(own))) {
    throw new UserError(`no Cargo.toml in ${path.resolve(dir)}`, { hint: 'Run hotgen in the root of a Cargo workspace (or pass -C DIR).' });
  }
  if (asTable((await readManifest(own)).workspace)) return dir;
  for (let d = path.dirname(dir); d !== path.dirname(d); d = path.dirname(d)) {
    const m = path.join(d, 'Cargo.toml');
    if ((await exists(m)) && asTable((await readManifest(m)).workspace)) return d;
  }
  return dir;
}

/** Expands one `members` glob (`*` and `?` within a path segment) to member directories. */
async function expandGlob(root: string, pattern: string): Promise<string[]> {
  let dirs = [root];
  for (const seg of pattern.split('/').filter((s) => s && s !== '.')) {
    const next: string[] = [];
    for (const d of dirs) {
      if (!/[*?[]/.test(seg)) {
        next.push(path.join(d, seg));
        continue;
      }
      const re = new RegExp('^' + seg.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$', 's');
      const ents = await fs.readdir(d, { withFileTypes: true }).catch(() => []);
      for (const e of ents) if (e.isDirectory() && re.test(e.name) && !e.name.startsWith('.')) next.push(path.join(d, e.name));
    }
    dirs = next;
  }
  const out: string[] = [];
  for (const d of dirs) if (await exists(path.join(d, 'Cargo.toml'))) out.push(path.resolve(d));
  return out;
}

/** Path dependencies of a parsed manifest (all kinds and targets), as absolute directories. */
function pathDeps(manifest: Table, dir: string): string[] {
  const tables: unknown[] = [manifest.dependencies, manifest['build-dependencies'], manifest['dev-dependencies']];
  for (const t of Object.values(asTable(manifest.target) ?? {})) {
    const tt = asTable(t) ?? {};
    tables.push(tt.dependencies, tt['build-dependencies'], tt['dev-dependencies']);
  }
  const out: string[] = [];
  for (const t of tables) for (const d of Object.values(asTable(t) ?? {})) {
    const p = asTable(d)?.path;
    if (typeof p === 'string') out.push(path.resolve(dir, p));
  }
  return out;
}

/** Parses the root manifest, every member manifest and every path dependency's manifest. */
async function preParse(root: string): Promise<void> {
  const rootFile = path.join(root, 'Cargo.toml');
  const rootManifest = await readManifest(rootFile);
  const ws = asTable(rootManifest.workspace);
  const members = (ws?.members as unknown[] | undefined)?.filter((m): m is string => typeof m === 'string') ?? [];
  if (!asTable(rootManifest.package) && members.length === 0) {
    throw new UserError('virtual manifest has no members: `[workspace] members` is empty or missing', {
      file: displayPath(rootFile),
      hint: 'List the workspace crates, e.g. members = ["crates/*"].',
    });
  }
  const seen = new Set<string>([root]);
  const queue: string[] = [];
  for (const m of members) queue.push(...(await expandGlob(root, m)));
  if (!asTable(rootManifest.package) && queue.length === 0) {
    throw new UserError(`virtual manifest has no members: no directory matching ${members.map((m) => `"${m}"`).join(', ')} has a Cargo.toml`, {
      file: displayPath(rootFile),
    });
  }
  for (const d of pathDeps(rootManifest, root)) queue.push(d);
  while (queue.length) {
    const dir = queue.shift()!;
    if (seen.has(dir)) continue;
    seen.add(dir);
    const file = path.join(dir, 'Cargo.toml');
    if (!(await exists(file))) continue;
    queue.push(...pathDeps(await readManifest(file), dir));
  }
}

interface MetaTarget {
  name: string;
  kind: string[];
  src_path: string;
}
interface MetaDep {
  name: string;
  rename?: string | null;
  kind?: string | null;
  path?: string;
}
interface MetaPackage {
  name: string;
  id: string;
  manifest_path: string;
  targets: MetaTarget[];
  dependencies: MetaDep[];
}
interface Metadata {
  packages: MetaPackage[];
  workspace_members: string[];
  workspace_root: string;
  target_directory: string;
}

const LIB_KINDS = new Set(['lib', 'rlib', 'dylib', 'cdylib', 'staticlib', 'proc-macro']);

/**
 * Runs `cargo metadata`. RUSTC_BOOTSTRAP=1 lets stable cargo read a manifest that
 * already has `cargo-features` (REFERENCE.md). When a pinned rust-toolchain.toml names
 * a toolchain rustup does not have, the read is retried with an installed one: metadata
 * does not depend on the toolchain.
 */
async function cargoMetadata(root: string): Promise<Metadata> {
  const args = ['metadata', '--no-deps', '--format-version', '1', '--offline', '--manifest-path', path.join(root, 'Cargo.toml')];
  // RUSTUP_AUTO_INSTALL=0: a missing pinned toolchain must not start a download.
  const env = { ...process.env, RUSTC_BOOTSTRAP: '1', RUSTUP_AUTO_INSTALL: '0' };
  let res = await run('cargo', args, { cwd: root, env, allowFailure: true });
  for (const tc of ['stable', 'nightly']) {
    if (res.code === 0 || !/toolchain '.*' is not installed/.test(res.stderr)) break;
    res = await run('cargo', args, { cwd: root, env: { ...env, RUSTUP_TOOLCHAIN: tc }, allowFailure: true });
  }
  if (res.code !== 0) {
    const first = res.stderr.split('\n').find((l) => /^error/.test(l)) ?? 'cargo metadata failed';
    throw new UserError(`reading the workspace: ${first.replace(/^error:\s*/, '')}`, {
      file: displayPath(path.join(root, 'Cargo.toml')),
      hint: res.stderr.trim().split('\n').slice(-10).join('\n'),
    });
  }
  return JSON.parse(res.stdout) as Metadata;
}

/**
 * Reads the workspace at or above `dir` into a graph of its members.
 * Dev-dependencies are not edges (Cargo allows dev-dependency cycles).
 * @throws UserError: no Cargo.toml, invalid TOML (file and line), a virtual manifest
 *   without members, a failing `cargo metadata`, or a path-dependency cycle (printed
 *   as `a -> b -> a`).
 */
export async function loadWorkspace(dir: string): Promise<WorkspaceGraph> {
  const root = await findRoot(path.resolve(dir));
  await preParse(root);
  const meta = await cargoMetadata(root);
  const memberIds = new Set(meta.workspace_members);
  const members = meta.packages.filter((p) => memberIds.has(p.id));
  const rootManifest = path.join(meta.workspace_root, 'Cargo.toml');
  if (members.length === 0) {
    throw new UserError('the workspace has no members', { file: displayPath(rootManifest) });
  }
  const byDir = new Map(members.map((p) => [path.dirname(p.manifest_path), p.name]));
  const crates = new Map<string, CrateNode>();
  for (const p of members) {
    const lib = p.targets.find((t) => t.kind.some((k) => LIB_KINDS.has(k)));
    const deps = new Set<string>();
    const normal = new Set<string>();
    for (const d of p.dependencies) {
      if (d.kind === 'dev' || !d.path) continue;
      const target = byDir.get(path.resolve(d.path));
      if (!target) continue;
      deps.add(target);
      if (d.kind !== 'build') normal.add(target);
    }
    const buildOnly = [...deps].filter((d) => !normal.has(d)).sort();
    crates.set(p.name, {
      name: p.name,
      libName: lib?.name.replace(/-/g, '_'),
      ...(lib ? { libSrcPath: lib.src_path } : {}),
      manifestPath: p.manifest_path,
      kinds: [...new Set(p.targets.flatMap((t) => t.kind))],
      bins: p.targets.filter((t) => t.kind.includes('bin')).map((t) => t.name),
      procMacro: !!lib?.kind.includes('proc-macro'),
      deps: [...deps].sort(),
      ...(buildOnly.length ? { buildDeps: buildOnly } : {}),
      srcDirs: [...new Set(p.targets.filter((t) => t.kind.some((k) => LIB_KINDS.has(k) || k === 'bin')).map((t) => path.dirname(t.src_path)))],
    });
  }
  const metaRoot = (await exists(rootManifest)) ? await readManifest(rootManifest) : {};
  return {
    root: meta.workspace_root,
    rootManifest,
    virtual: !asTable(metaRoot.package),
    targetDir: meta.target_directory,
    crates,
    order: topoOrder(crates, displayPath(rootManifest)),
  };
}

/**
 * Package names with every crate after its deps; ties broken by name, so the order is
 * stable. `file` names the manifest in the cycle error.
 * @throws UserError `path-dependency cycle: a -> b -> a`.
 */
export function topoOrder(crates: Map<string, Pick<CrateNode, 'name' | 'deps'>>, file?: string): string[] {
  const state = new Map<string, 1 | 2>();
  const order: string[] = [];
  const stack: string[] = [];
  const visit = (n: string): void => {
    const s = state.get(n);
    if (s === 2) return;
    if (s === 1) {
      const cycle = [...stack.slice(stack.indexOf(n)), n];
      throw new UserError(`path-dependency cycle: ${cycle.join(' -> ')}`, { file, hint: 'Cargo cannot build a cycle of normal or build dependencies; break it.' });
    }
    state.set(n, 1);
    stack.push(n);
    for (const d of [...(crates.get(n)?.deps ?? [])].sort()) if (crates.has(d)) visit(d);
    stack.pop();
    state.set(n, 2);
    order.push(n);
  };
  for (const n of [...crates.keys()].sort()) visit(n);
  return order;
}

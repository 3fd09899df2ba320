/**
 * The workspace model: members, targets and path-dependency edges, all from `cargo
 * metadata --no-deps --format-version 1 --offline` (its `workspace_root`,
 * `workspace_members` and `packages`, so `[workspace] members` globs, `exclude` and
 * `default-members` mean what they mean to cargo), checked for cycles and sorted
 * topologically. When cargo fails on a manifest, the error is one line naming the file
 * and line instead of cargo's multi-line report.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { UserError } from '../common/errors.js';
import { run } from '../common/exec.js';
import { displayPath, exists } from '../common/fsx.js';
import type { CrateNode, WorkspaceGraph } from '../common/types.js';
import { parseToml } from '../common/deps-config.js';

type Table = Record<string, unknown>;

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

/** Glob characters of `[workspace] members` (Cargo book, "Workspaces: The members and exclude fields"). */
const GLOB = /[*?[]/;

/**
 * The one-line error for cargo's failure to read the workspace from `cwd`. Cargo names
 * the manifest it failed on (` --> FILE:LINE:COL`, relative to `cwd`, or `` failed to
 * parse manifest at `FILE` `` in older releases); one that is not valid TOML is reported
 * by {@link parseManifest} (file, line, column). A `members` entry without a Cargo.toml
 * (`` failed to load manifest for workspace member `DIR` ``) is named as the user wrote
 * it. Anything else is cargo's first `error:` line, at the file and line it names.
 */
async function metadataError(stderr: string, cwd: string): Promise<UserError> {
  const located = [...stderr.matchAll(/^ *--> (.+):(\d+):\d+$/gm)].map((m) => ({ file: path.resolve(cwd, m[1]!), line: Number(m[2]) }));
  const named = [...stderr.matchAll(/failed to parse manifest at `([^`]+)`/g)].map((m) => ({ file: path.resolve(cwd, m[1]!), line: undefined }));
  for (const { file } of [...located, ...named]) {
    const text = await fs.readFile(file, 'utf8').catch(() => undefined);
    if (text === undefined) continue;
    try {
      parseManifest(text, displayPath(file));
    } catch (err) {
      return err as UserError;
    }
  }
  const missing = /failed to load manifest for workspace member `([^`]+)`\nreferenced (?:via `([^`]+)` )?by workspace at `([^`]+)`[\s\S]*?failed to read `[^`]*Cargo\.toml`/.exec(stderr);
  if (missing) {
    const [, member, via, wsManifest] = missing;
    const file = displayPath(wsManifest!);
    const rel = path.relative(path.dirname(wsManifest!), member!) || '.';
    if (via) {
      return new UserError(`\`[workspace] members\` entry ${JSON.stringify(via)} matches ${JSON.stringify(rel)}, which has no Cargo.toml`, {
        file,
        hint: `Add ${JSON.stringify(rel)} to \`[workspace] exclude\`, or narrow the pattern.`,
      });
    }
    if (GLOB.test(rel)) return new UserError(`\`[workspace] members\`: no directory matching ${JSON.stringify(rel)} has a Cargo.toml`, { file });
    return new UserError(`\`[workspace] members\`: ${JSON.stringify(rel)} has no Cargo.toml`, { file });
  }
  const first = stderr.split('\n').find((l) => /^error/.test(l)) ?? 'cargo metadata failed';
  return new UserError(`reading the workspace: ${first.replace(/^error:\s*/, '')}`, {
    file: displayPath(located[0]?.file ?? path.join(cwd, 'Cargo.toml')),
    line: located[0]?.line,
    hint: stderr.trim().split('\n').slice(-10).join('\n'),
  });
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
 * Runs `cargo metadata` in `dir` on `dir/Cargo.toml` (cargo finds the workspace root).
 * RUSTC_BOOTSTRAP=1 lets stable cargo read a manifest that already has `cargo-features`
 * (cargo treats it as a nightly: cargo's src/cargo/core/features.rs, `channel()`). When a
 * pinned rust-toolchain.toml names a toolchain rustup does not have, the read is retried
 * with an installed one: metadata does not depend on the toolchain.
 * @throws UserError as {@link metadataError}.
 */
async function cargoMetadata(dir: string): Promise<Metadata> {
  const args = ['metadata', '--no-deps', '--format-version', '1', '--offline', '--manifest-path', path.join(dir, 'Cargo.toml')];
  // RUSTUP_AUTO_INSTALL=0: a missing pinned toolchain must not start a download.
  const env = { ...process.env, RUSTC_BOOTSTRAP: '1', RUSTUP_AUTO_INSTALL: '0' };
  let res = await run('cargo', args, { cwd: dir, env, allowFailure: true });
  for (const tc of ['stable', 'nightly']) {
    if (res.code === 0 || !/toolchain '.*' is not installed/.test(res.stderr)) break;
    res = await run('cargo', args, { cwd: dir, env: { ...env, RUSTUP_TOOLCHAIN: tc }, allowFailure: true });
  }
  if (res.code !== 0) throw await metadataError(res.stderr, dir);
  return JSON.parse(res.stdout) as Metadata;
}

/**
 * Reads the workspace `dir` belongs to (as cargo decides: `dir` itself, or the ancestor
 * whose `[workspace]` lists it) into a graph of its members, exactly cargo metadata's
 * `workspace_members`. Dev-dependencies are not edges (Cargo allows dev-dependency cycles).
 * @throws UserError: no Cargo.toml in `dir`, invalid TOML (file and line), a `members`
 *   entry without a Cargo.toml, a virtual manifest without members, another failure of
 *   `cargo metadata`, or a path-dependency cycle (printed as `a -> b -> a`).
 */
export async function loadWorkspace(dir: string): Promise<WorkspaceGraph> {
  const abs = path.resolve(dir);
  if (!(await exists(path.join(abs, 'Cargo.toml')))) {
    throw new UserError(`no Cargo.toml in ${abs}`, { hint: 'Run hotgen in the root of a Cargo workspace (or pass -C DIR).' });
  }
  const meta = await cargoMetadata(abs);
  const memberIds = new Set(meta.workspace_members);
  const members = meta.packages.filter((p) => memberIds.has(p.id));
  const rootManifest = path.join(meta.workspace_root, 'Cargo.toml');
  if (members.length === 0) {
    throw new UserError('virtual manifest has no members: `[workspace] members` is empty or missing, or `exclude` removes every match', {
      file: displayPath(rootManifest),
      hint: 'List the workspace crates, e.g. members = ["crates/*"].',
    });
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
  return {
    root: meta.workspace_root,
    rootManifest,
    virtual: !members.some((p) => p.manifest_path === rootManifest),
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

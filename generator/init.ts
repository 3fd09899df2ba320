/**
 * `hotgen init`: read the workspace, plan, render hotgen's own files (common/layout.ts),
 * and only then write (so a failure writes nothing). It edits no file of the workspace:
 * hot builds get their crate types and flags from hotgen's rustc wrapper instead
 * (loader/hotbuild.ts). A workspace an older hotgen set up (manifests edited, originals
 * under `.hotgen/originals/`) gets those manifests back byte for byte first.
 * Re-running on an initialised workspace writes nothing; `dryRun` returns a unified
 * diff instead of writing.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { exists, readIfExists, sha256 } from '../common/fsx.js';
import { readConfined } from '../common/confine.js';
import { UserError } from '../common/errors.js';
import { FLAKE_FILE, JOURNAL_DIR, PLAN_FILE } from '../common/layout.js';
import { lockWorkspace } from '../common/lock.js';
import { parseSettings, readPin, type PlanSettings } from '../common/plan-read.js';
import type { Channel, HotPlan, Linker, WorkspaceGraph } from '../common/types.js';
import { unifiedDiff } from './diff.js';
import { buildPlan, resolveSettings } from './plan.js';
import { renderPlanYaml } from './plan-file.js';
import { renderFiles, type RenderedKind, type RenderOptions, type RenderResult } from './render.js';
import { gitDepsNote, lockedGitDeps } from './render-impl.js';
import { applyRenderPolicy, isLegacyEdit } from './init-policy.js';
import { assertWritable, emptyState, originalRel, ORIGINALS_DIR, readOriginal, readState, serializeState, STATE_FILE, type InitState } from './state.js';
import { applyJournaled, journalPending, recoverJournal, type FileOp } from './journal.js';
import { EJECT_BACKUP_SUFFIX } from './eject.js';
import { loadWorkspace } from './workspace.js';

/** What the user asked for on the command line (undefined = not given). */
export interface InitOptions {
  entry?: string;
  frozen?: string[];
  exclude?: string[];
  listen?: string[];
  linker?: Linker;
  profile?: string;
  channel?: Channel;
  /** Overwrite user files (flake.nix, .envrc, an entry shim, edited generated files). */
  force?: boolean;
  /** Compute and return a diff; write nothing. */
  dryRun?: boolean;
}

/** One file init changes. `before` undefined = created; `after` undefined = removed. */
export interface FileChange {
  /** Relative to the root, `/`-separated. */
  rel: string;
  before?: Buffer;
  after?: string | Buffer;
  /**
   * `stale`: a file an earlier init created that is no longer generated (e.g. the old
   * entry's shim). `restore`: a manifest an older hotgen edited, given its original bytes
   * back; `backup`: the user's later version of it, kept beside it.
   */
  kind: 'plan' | 'stale' | 'restore' | 'backup' | RenderedKind;
}

/** The outcome of {@link initWorkspace}. */
export interface InitResult {
  root: string;
  plan: HotPlan;
  /** Files whose bytes change (empty on a re-run). */
  changes: FileChange[];
  /** Notes to print (from the plan and from renderFiles). */
  notes: string[];
  /** Warnings: files kept, user edits merged. */
  warnings: string[];
  /** Dry run only: the unified diff of `changes`. */
  diff?: string;
}

/** The renderer init uses; injectable so the plan, the write policies and the state can be tested apart from the templates. */
export type Renderer = (plan: HotPlan, graph: WorkspaceGraph, opts: RenderOptions) => RenderResult;

/**
 * Runs `hotgen init` in the workspace at or above `dir`: creates (or brings up to date)
 * hotgen's own files, removes ones it no longer generates, gives manifests an older
 * hotgen edited their original bytes back, and records it all in `.hotgen/init-state.json`.
 * A file already as init would write it but recorded with an older hash (a pin edited by
 * hand) is recorded as hotgen's again.
 * @throws UserError for bad input (see workspace.ts, plan.ts, common/plan-read.ts), for an
 *   existing non-hotgen file in the way, an unwritable file, or a saved original that is
 *   missing or altered; nothing is written then.
 */
export async function initWorkspace(dir: string, opts: InitOptions, render: Renderer = renderFiles): Promise<InitResult> {
  const graph = await loadWorkspace(dir);
  const root = graph.root;
  const lock = await lockWorkspace(root, 'init', { create: !opts.dryRun });
  try {
    if (opts.dryRun && (await journalPending(root))) {
      throw new UserError('an interrupted hotgen command left its journal; run `hotgen init` without --dry-run (or `hotgen eject`) to finish it first', { file: JOURNAL_DIR });
    }
    const recovered = opts.dryRun ? undefined : await recoverJournal(root);
    const result = await initLocked(graph, opts, render);
    if (recovered) result.warnings.unshift(`undid an interrupted hotgen ${recovered} first`);
    return result;
  } finally {
    await lock?.release();
  }
}

async function initLocked(graph: WorkspaceGraph, opts: InitOptions, render: Renderer): Promise<InitResult> {
  const root = graph.root;
  const state = (await readState(root)) ?? emptyState();
  const stateEntry = (rel: string) => state.files.find((f) => f.path === rel);
  const planPath = path.join(root, PLAN_FILE);
  const planText = (await readConfined(root, PLAN_FILE))?.toString('utf8');
  const flags: Partial<PlanSettings> = {
    entry: opts.entry,
    frozen: opts.frozen,
    exclude: opts.exclude,
    listen: opts.listen,
    linker: opts.linker,
    profile: opts.profile,
    channel: opts.channel,
  };
  const fromFile = planText !== undefined ? parseSettings(planText, planPath) : { settings: {}, warnings: [] };
  const fileSettings = fromFile.settings;
  const pin = await readPin(root);
  if (pin) fileSettings.toolchain = pin;
  const settings = await resolveSettings(fileSettings, flags);
  const { plan, notes } = buildPlan(graph, settings);
  const warnings: string[] = [...fromFile.warnings];
  const read = async (rel: string) => {
    if (!current.has(rel)) current.set(rel, await readConfined(root, rel));
    return current.get(rel);
  };
  const current = new Map<string, Buffer | undefined>();
  const wanted: FileChange[] = [];

  // An older hotgen edited manifests: put the saved originals back before anything else.
  const legacy = state.files.filter(isLegacyEdit);
  for (const e of legacy) {
    const orig = await readOriginal(root, e, sha256);
    const cur = await read(e.path);
    if (cur && sha256(cur) !== e.writtenSha && !cur.equals(orig)) {
      wanted.push({ rel: e.path + EJECT_BACKUP_SUFFIX, after: cur, kind: 'backup' });
      warnings.push(`${e.path} was changed after the old init; restored the original and kept your version as ${e.path}${EJECT_BACKUP_SUFFIX}`);
    }
    wanted.push({ rel: e.path, after: orig, kind: 'restore' });
  }
  if (legacy.length > 0) notes.push(`Restored ${legacy.map((e) => e.path).join(', ')} as they were before hotgen: hot builds no longer edit the workspace.`);

  const flakeRel = FLAKE_FILE;
  let flakeExists = (await exists(path.join(root, flakeRel))) && !stateEntry(flakeRel) && !opts.force;
  if (flakeExists) {
    // A flake.nix identical to hotgen's (e.g. committed by a teammate) is hotgen's, not the user's.
    const ours = render(plan, graph, { flakeExists: false }).files.find((f) => f.kind === 'flake');
    if (ours && (await read(flakeRel))!.equals(Buffer.from(ours.content, 'utf8'))) flakeExists = false;
  }
  const rendered = render(plan, graph, { flakeExists });
  notes.push(...rendered.notes);
  const gitDeps = lockedGitDeps((await readIfExists(path.join(root, 'Cargo.lock')))?.toString('utf8') ?? '');
  if (gitDeps.length) notes.push(gitDepsNote(gitDeps));

  // Files now exactly as init would write them, whose recorded hash is older (e.g. the pin
  // edited by hand, hotgen.yaml's settings edited): recorded as hotgen's, so eject removes them.
  const adopt = new Set<string>();
  const adoptIfSame = (rel: string, cur: Buffer | undefined, content: string) => {
    const e = stateEntry(rel);
    if (e && cur && cur.equals(Buffer.from(content)) && sha256(cur) !== e.writtenSha) adopt.add(rel);
  };
  for (const f of rendered.files) {
    const cur = await read(f.path);
    adoptIfSame(f.path, cur, f.content);
    const decision = applyRenderPolicy(f, cur, stateEntry(f.path), !!opts.force, plan);
    if (decision.warning) warnings.push(decision.warning);
    if (decision.write) wanted.push({ rel: f.path, after: f.content, kind: f.kind });
  }
  const planYaml = renderPlanYaml(planText, plan, settings);
  adoptIfSame(PLAN_FILE, await read(PLAN_FILE), planYaml);
  wanted.push({ rel: PLAN_FILE, after: planYaml, kind: 'plan' });
  const renderedPaths = new Set(rendered.files.map((f) => f.path));
  for (const e of state.files) {
    if (e.action !== 'created' || renderedPaths.has(e.path) || wanted.some((w) => w.rel === e.path)) continue;
    const cur = await read(e.path);
    if (cur && sha256(cur) === e.writtenSha) wanted.push({ rel: e.path, kind: 'stale' });
    else if (cur) warnings.push(`kept ${e.path}: hotgen no longer generates it, but you edited it`);
  }

  const changes: FileChange[] = [];
  for (const w of wanted) {
    const before = await read(w.rel);
    if (w.after === undefined ? !before : before?.equals(Buffer.from(w.after))) continue;
    changes.push({ ...w, before });
  }
  const gitignore = await readIfExists(path.join(root, '.gitignore'));
  if (gitignore && !/^\/?\.hotgen\/?\s*$/m.test(gitignore.toString('utf8'))) notes.push('Add `.hotgen/` to .gitignore: it holds hotgen\'s state and build snapshots.');
  const result: InitResult = { root, plan, changes, notes, warnings };
  if (opts.dryRun) {
    result.diff = changes.map((c) => unifiedDiff(c.rel, c.before?.toString('utf8'), c.after?.toString())).join('');
    return result;
  }
  if (changes.length === 0 && adopt.size === 0) return result;

  const newState = await nextState(root, state, changes);
  for (const e of newState.files) if (adopt.has(e.path)) e.writtenSha = sha256((await read(e.path))!);
  const ops: FileOp[] = [];
  for (const c of changes) {
    // A file init replaces (--force) keeps its original bytes, for eject.
    if (c.before && c.kind !== 'restore' && c.kind !== 'backup' && !stateEntry(c.rel)) ops.push({ rel: originalRel(c.rel), after: c.before });
  }
  for (const c of changes) ops.push({ rel: c.rel, after: c.after });
  for (const c of changes) if (c.kind === 'restore') ops.push({ rel: originalRel(c.rel) });
  const stateText = serializeState(newState);
  if ((await read(STATE_FILE))?.toString('utf8') !== stateText) ops.push({ rel: STATE_FILE, after: stateText });
  for (const op of ops) await assertWritable(root, op.rel, 'Check its permissions (ls -l, lsattr) and run hotgen init again.');
  await applyJournaled(root, 'init', ops, () => removeEmptyDirs(root, ORIGINALS_DIR));
  return result;
}

/** Removes the directories under `top` (and `top`) that are empty, deepest first. */
async function removeEmptyDirs(root: string, top: string): Promise<void> {
  const walk = async (abs: string): Promise<void> => {
    const ents = await fs.readdir(abs, { withFileTypes: true }).catch(() => []);
    for (const e of ents) if (e.isDirectory()) await walk(path.join(abs, e.name));
    await fs.rmdir(abs).catch(() => undefined);
  };
  await walk(path.join(root, top));
}

async function nextState(root: string, state: InitState, changes: FileChange[]): Promise<InitState> {
  const next: InitState = structuredClone(state);
  for (const c of changes) {
    if (c.kind === 'backup') continue;
    if (c.after === undefined || c.kind === 'restore') {
      next.files = next.files.filter((f) => f.path !== c.rel);
      continue;
    }
    const writtenSha = sha256(Buffer.from(c.after));
    const e = next.files.find((f) => f.path === c.rel);
    if (e) e.writtenSha = writtenSha;
    else if (c.before) next.files.push({ path: c.rel, action: 'edited', writtenSha, originalSha: sha256(c.before) });
    else {
      next.files.push({ path: c.rel, action: 'created', writtenSha });
      const missing: string[] = [];
      for (let d = path.posix.dirname(c.rel); d !== '.' && !(await exists(path.join(root, d))); d = path.posix.dirname(d)) missing.push(d);
      for (const d of missing) if (!next.dirs.includes(d)) next.dirs.push(d);
    }
  }
  next.dirs.sort((a, b) => b.split('/').length - a.split('/').length || (a < b ? -1 : 1));
  return next;
}

/**
 * The plan: each workspace member's role (entry, reloadable, frozen, excluded), derived
 * from the workspace graph and the user's settings (flags over hotgen.yaml over
 * defaults). Reading it back from hotgen.yaml is common/plan-read.ts.
 */
import path from 'node:path';
import { UserError } from '../common/errors.js';
import { run } from '../common/exec.js';
import { checkChannel, checkLinker, checkProfileName, DEFAULT_LINKER, parseListenAddress, shown, STOP_TIMEOUT_MS } from '../common/plan-rules.js';
import type { PlanSettings } from '../common/plan-read.js';
import type { CrateNode, HotPlan, PlannedCrate, Role, WorkspaceGraph } from '../common/types.js';

/** The nightly `hotgen init` pins by default (a date rust-overlay and rustup both know). */
export const DEFAULT_NIGHTLY = 'nightly-2026-05-19';
/** Stable version pinned with `--channel stable` when `rustc +stable --version` cannot be run. */
export const FALLBACK_STABLE = '1.95.0';

/**
 * Merges settings: `flags` (command line) over `file` (hotgen.yaml, already checked by
 * parseSettings) over defaults, checking each value by its rule (common/plan-rules.ts).
 * The toolchain from the file is kept only while the channel stays the same.
 * @throws UserError for an unknown linker or channel, a malformed listen address or a
 *   profile name Cargo's rule refuses.
 */
export async function resolveSettings(file: Partial<PlanSettings>, flags: Partial<PlanSettings>): Promise<PlanSettings> {
  const pick = <K extends keyof PlanSettings>(k: K): PlanSettings[K] | undefined => (flags[k] !== undefined ? flags[k] : file[k]);
  const linker = checkLinker(pick('linker') ?? DEFAULT_LINKER);
  const channel = checkChannel(pick('channel') ?? 'nightly');
  const sameChannel = (file.channel ?? 'nightly') === channel;
  const toolchain = flags.toolchain ?? (sameChannel ? file.toolchain : undefined) ?? (channel === 'stable' ? await stableToolchain() : DEFAULT_NIGHTLY);
  const listen = pick('listen') ?? [];
  for (const a of listen) parseListenAddress(a);
  const profile = checkProfileName(pick('profile') ?? 'hot');
  return {
    entry: pick('entry'),
    frozen: pick('frozen') ?? [],
    exclude: pick('exclude') ?? [],
    listen,
    linker,
    channel,
    toolchain,
    profile,
    stopTimeoutMs: pick('stopTimeoutMs') ?? STOP_TIMEOUT_MS.default,
  };
}

/** The installed stable version (`rustc +stable --version` → `1.95.0`), else {@link FALLBACK_STABLE}. */
export async function stableToolchain(): Promise<string> {
  try {
    const r = await run('rustc', ['+stable', '--version'], { allowFailure: true, timeoutMs: 30_000 });
    return /^rustc (\d+\.\d+\.\d+)/.exec(r.stdout)?.[1] ?? FALLBACK_STABLE;
  } catch {
    return FALLBACK_STABLE;
  }
}

/** Normal-dependency closure of `start` (build-only deps are not linked into the dylibs). */
function closure(graph: WorkspaceGraph, start: string): Set<string> {
  const seen = new Set<string>();
  const stack = [start];
  while (stack.length) {
    const n = stack.pop()!;
    if (seen.has(n)) continue;
    seen.add(n);
    const c = graph.crates.get(n)!;
    for (const d of c.deps) if (!c.buildDeps?.includes(d)) stack.push(d);
  }
  return seen;
}

const isLib = (c: CrateNode) => !!c.libName && !c.procMacro;

/**
 * The entry picked automatically: the one library no other member library depends on,
 * among libraries the workspace's binaries use (all libraries when there is no binary).
 * @throws UserError naming the candidates and asking for `--entry NAME`.
 */
export function autoEntry(graph: WorkspaceGraph): string {
  const libs = [...graph.crates.values()].filter(isLib);
  const usedByLib = new Set(libs.flatMap((c) => c.deps));
  let tops = libs.filter((c) => !usedByLib.has(c.name));
  const bins = [...graph.crates.values()].filter((c) => c.bins.length > 0);
  if (bins.length) {
    const underBins = new Set(bins.flatMap((b) => [...closure(graph, b.name)]));
    tops = tops.filter((c) => underBins.has(c.name));
  }
  if (tops.length === 1) return tops[0]!.name;
  const why = tops.length === 0 ? 'no library crate is used by the workspace binaries' : `candidates: ${tops.map((c) => c.name).sort().join(', ')}`;
  throw new UserError(`cannot pick the entry crate automatically (${why}); pass --entry NAME`, {
    hint: 'The entry is the library crate whose hotgen_run the host calls (usually the one your binary calls).',
  });
}

function checkCrate(graph: WorkspaceGraph, name: string, what: string): CrateNode {
  const c = graph.crates.get(name);
  if (!c) {
    throw new UserError(`${what}: ${shown(name)} is not a workspace member`, { hint: `Members: ${[...graph.crates.keys()].sort().join(', ')}` });
  }
  if (c.procMacro) throw new UserError(`${what}: ${shown(name)} is a proc-macro crate, which cannot be built as a dylib`);
  if (!c.libName) throw new UserError(`${what}: ${shown(name)} has no library target (it is bin-only)`);
  return c;
}

/**
 * Assigns every member a role. Dependencies of a frozen crate are frozen too (a
 * never-unloaded object that NEEDs a library keeps it mapped); such additions are
 * returned as notes.
 * @throws UserError for an unknown, proc-macro or bin-only crate in entry/frozen, a frozen
 *   crate outside the entry's closure, or the entry listed as frozen or excluded.
 */
export function buildPlan(graph: WorkspaceGraph, s: PlanSettings): { plan: HotPlan; notes: string[] } {
  const entry = s.entry ?? autoEntry(graph);
  checkCrate(graph, entry, 'entry');
  for (const f of s.frozen) checkCrate(graph, f, 'frozen');
  for (const x of s.exclude) if (!graph.crates.has(x)) throw new UserError(`exclude: ${shown(x)} is not a workspace member`);
  if (s.frozen.includes(entry)) throw new UserError(`frozen: \`${entry}\` is the entry crate, which is reloaded, not frozen`);
  if (s.exclude.includes(entry)) throw new UserError(`exclude: \`${entry}\` is the entry crate`);
  const inClosure = closure(graph, entry);
  const notes: string[] = [];
  const frozen = new Set<string>();
  for (const f of s.frozen) {
    if (!inClosure.has(f)) throw new UserError(`frozen: \`${f}\` is not a dependency of the entry \`${entry}\``);
    for (const d of closure(graph, f)) {
      const c = graph.crates.get(d)!;
      if (!isLib(c) || s.exclude.includes(d) || frozen.has(d)) continue;
      frozen.add(d);
      if (!s.frozen.includes(d)) notes.push(`\`${d}\` is frozen too: the frozen crate \`${f}\` depends on it`);
    }
  }
  const role = (c: CrateNode): Role => {
    if (c.name === entry) return 'entry';
    if (!isLib(c) || !inClosure.has(c.name) || s.exclude.includes(c.name)) return 'excluded';
    return frozen.has(c.name) ? 'frozen' : 'reloadable';
  };
  const crates: PlannedCrate[] = graph.order.map((n) => {
    const c = graph.crates.get(n)!;
    return {
      name: n,
      role: role(c),
      ...(c.libName ? { lib: c.libName } : {}),
      deps: [...c.deps],
      src: c.srcDirs.map((d) => path.relative(graph.root, d).split(path.sep).join('/') || '.'),
    };
  });
  return {
    plan: {
      version: 1,
      profile: s.profile,
      channel: s.channel,
      toolchain: s.toolchain,
      linker: s.linker,
      entry,
      listen: s.listen,
      stopTimeoutMs: s.stopTimeoutMs,
      crates,
    },
    notes,
  };
}

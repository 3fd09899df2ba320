/**
 * The reload decision (DESIGN.md, "The reload", steps 2 and 3), as a pure function of
 * the plan's DAG, the loaded modules and the change set. No I/O.
 */
import type { PlannedCrate, Role } from '../common/types.js';

/** What to do about a change set. Names are package names. */
export type ReloadDecision =
  /** Nothing loaded changed. */
  | { kind: 'none' }
  /** A frozen crate is in the reload set: restart the host. `frozen` lists them (topological order). */
  | { kind: 'restart'; frozen: string[]; reason: string }
  /** Unload `unload` (reverse topological order), then load `load` (topological order). Same set. */
  | { kind: 'reload'; unload: string[]; load: string[] };

/** Roles that are mapped by the host. */
export function isModuleRole(role: Role): role is Exclude<Role, 'excluded'> {
  return role !== 'excluded';
}

/**
 * Decides what a change set means.
 * - `crates`: the plan's crates in topological order (every crate after its deps).
 * - `loaded`: package names mapped by the running host.
 * - `changed`: package names whose dylib changed (cargo `fresh: false`, or a new content hash).
 *
 * R = changed ∩ loaded, plus every loaded module that depends on one of them,
 * transitively (through any crate of the plan, loaded or not). If R holds a frozen
 * crate, the answer is a restart; otherwise R in topological order (load) and its reverse
 * (unload). Changed crates that are not loaded (excluded, unknown) are ignored, except
 * that their loaded dependents are reloaded.
 * @throws Error when `crates` is not in topological order (an internal invariant).
 */
export function decideReload(crates: readonly PlannedCrate[], loaded: ReadonlySet<string>, changed: ReadonlySet<string>): ReloadDecision {
  const index = new Map(crates.map((c, i) => [c.name, i]));
  for (const c of crates) {
    for (const d of c.deps) {
      const di = index.get(d);
      if (di !== undefined && di >= index.get(c.name)!) {
        throw new Error(`plan is not in topological order: ${c.name} comes before its dependency ${d}`);
      }
    }
  }
  // Walking in topological order, a crate is affected when it changed or any dep is affected.
  const affected = new Set<string>();
  for (const c of crates) {
    if (changed.has(c.name) || c.deps.some((d) => affected.has(d))) affected.add(c.name);
  }
  const set = crates.filter((c) => affected.has(c.name) && loaded.has(c.name) && isModuleRole(c.role));
  if (set.length === 0) return { kind: 'none' };
  const frozen = set.filter((c) => c.role === 'frozen').map((c) => c.name);
  if (frozen.length > 0) {
    const direct = frozen.filter((n) => changed.has(n));
    const named = direct.length > 0 ? direct : frozen;
    return { kind: 'restart', frozen, reason: `${named.join(', ')} changed` };
  }
  const load = set.map((c) => c.name);
  return { kind: 'reload', unload: [...load].reverse(), load };
}

/** The modules the host maps, in topological order (frozen, reloadable and entry crates). */
export function moduleCrates(crates: readonly PlannedCrate[]): PlannedCrate[] {
  return crates.filter((c) => isModuleRole(c.role));
}

/**
 * The reload decision (README, "Architecture": A reload; restart or reload, and which
 * modules), as a pure function of the plan's DAG, the loaded modules and the change set.
 * No I/O.
 */
import type { ModuleRole, Role } from '../common/types.js';

/** What the decision needs of a crate or module: its name, role and dependencies (names). */
export interface GraphNode {
  name: string;
  role: Role | ModuleRole;
  deps: readonly string[];
}

/** What to do about a change set. Names are package names. */
export type ReloadDecision =
  /** Nothing loaded changed. */
  | { kind: 'none' }
  /** A frozen crate or a registry dylib is in the reload set: restart the host. `frozen` lists them (topological order). */
  | { kind: 'restart'; frozen: string[]; reason: string }
  /** Unload `unload` (reverse topological order), then load `load` (topological order). Same set. */
  | { kind: 'reload'; unload: string[]; load: string[] };

/** Roles that are mapped by the host. */
export function isModuleRole(role: Role | ModuleRole): role is ModuleRole {
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
 * crate or a registry dylib (never unloaded), the answer is a restart; otherwise R in topological order (load) and its reverse
 * (unload). Changed crates that are not loaded (excluded, unknown) are ignored, except
 * that their loaded dependents are reloaded.
 * @throws Error when `crates` is not in topological order (an internal invariant).
 */
export function decideReload(crates: readonly GraphNode[], loaded: ReadonlySet<string>, changed: ReadonlySet<string>): ReloadDecision {
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
  const frozen = set.filter((c) => c.role === 'frozen' || c.role === 'registry').map((c) => c.name);
  if (frozen.length > 0) {
    const direct = frozen.filter((n) => changed.has(n));
    const named = direct.length > 0 ? direct : frozen;
    return { kind: 'restart', frozen, reason: `${named.join(', ')} changed` };
  }
  const load = set.map((c) => c.name);
  return { kind: 'reload', unload: [...load].reverse(), load };
}


/** What to do after the host failed (crashed, or its generation ended with an error). */
export type RecoveryStep =
  /** Restart after `delayMs`; on the set before the last swap when `rollback`. */
  | { kind: 'restart'; delayMs: number; rollback: boolean }
  /** Stop restarting until the next build+reload cycle. */
  | { kind: 'wait'; failures: number };

/** Limits of {@link RestartPolicy}, ms and counts. */
export interface RestartLimits {
  /** Failures older than this are forgotten (default 30 000 ms). */
  windowMs: number;
  /** A failure within this long of a spawn (or of a swap) is "quick" (default 2 000 ms). */
  quickMs: number;
  /** This many quick-after-spawn failures in a row → wait (default 5). */
  maxQuick: number;
}

/**
 * When and how to restart a failed host (pure; times are Date.now() values in ms):
 * - the first failure within the window restarts at once, later ones after 250 ms,
 *   doubling, at most 5 s;
 * - when the newest set (the one swapped in last) failed twice, each within `quickMs`
 *   of its swap or its host's spawn, the restart rolls back to the set before (once);
 * - `maxQuick` failures in a row, each within `quickMs` of its host's spawn: wait for a change.
 */
export class RestartPolicy {
  private failures: { at: number; quick: boolean }[] = [];
  private swappedAt = -Infinity;
  private strikes = 0;
  constructor(readonly limits: RestartLimits = { windowMs: 30_000, quickMs: 2_000, maxQuick: 5 }) {}

  /**
   * A new set of modules started running at `now`. When the last failure is at least
   * `quickMs` old, the modules before ran healthy, so earlier failures no longer count
   * as "in a row".
   */
  swapped(now: number): void {
    const last = this.failures.at(-1);
    if (last && now - last.at >= this.limits.quickMs) this.failures = [];
    this.swappedAt = now;
    this.strikes = 0;
  }

  /** The host whose generation started at `spawnedAt` (its process spawn if it never started) failed at `now`. */
  failed(now: number, spawnedAt: number): void {
    const { quickMs, windowMs, maxQuick } = this.limits;
    this.strikes = now - Math.max(spawnedAt, this.swappedAt) < quickMs ? this.strikes + 1 : 0;
    this.failures.push({ at: now, quick: now - spawnedAt < quickMs });
    this.failures = this.failures.filter((f) => now - f.at < windowMs).slice(-maxQuick);
  }

  /** The step after the failures so far; `canRollback` says whether a previous set exists. */
  next(now: number, canRollback: boolean): RecoveryStep {
    const recent = this.failures.filter((f) => now - f.at < this.limits.windowMs);
    if (recent.length >= this.limits.maxQuick && recent.every((f) => f.quick)) {
      this.failures = [];
      return { kind: 'wait', failures: recent.length };
    }
    const delayMs = recent.length <= 1 ? 0 : Math.min(250 * 2 ** (recent.length - 2), 5000);
    const rollback = canRollback && this.strikes >= 2;
    if (rollback) this.strikes = 0;
    return { kind: 'restart', delayMs, rollback };
  }
}

/**
 * Messages between the supervisor (`hotgen dev`, plain Node) and the host
 * (`loader/host.ts`, Node + koffi), sent over the Node IPC channel (stdio fd 3).
 *
 * The supervisor decides *what* to load (plan, change set, snapshots in
 * `.hotgen/gen-N/`); the host only maps, calls and unmaps. Listening sockets arrive
 * at the host as inherited descriptors listed in the env var `HOTGEN_LISTEN_FDS`
 * (comma-separated fd numbers, in `hotgen.yaml` `listen:` order).
 */
import type { ModuleRole } from '../common/types.js';

/** One dylib to map: `path` is an immutable snapshot, never a file cargo writes. */
export interface ModuleSpec {
  /** Package name. */
  name: string;
  role: ModuleRole;
  /** Absolute path of the snapshot, e.g. `<root>/.hotgen/gen-3/libapi.so`. */
  path: string;
}

/** Supervisor → host. */
export type ToHost =
  /** Map `modules` (bottom-up: topological order, frozen ones included) and start generation `generation`. */
  | { type: 'start'; generation: number; modules: ModuleSpec[]; stopTimeoutMs: number }
  /**
   * Stop the running generation, unload `unload` (names, top-down: reverse topological
   * order), verify each with RTLD_NOLOAD, map `load` (bottom-up), start `generation`.
   */
  | { type: 'reload'; generation: number; unload: string[]; load: ModuleSpec[] }
  /** Stop the running generation and exit 0. */
  | { type: 'shutdown' };

/** Durations are in ms (floating point, from `performance.now()`). */
export interface ReloadTimings {
  stopMs: number;
  unloadMs: number;
  loadMs: number;
  /** From receiving `reload` to the new generation's `hotgen_main` being called. */
  totalMs: number;
}

/** Host → supervisor. */
export type FromHost =
  /** The host process is up and waits for `start`. */
  | { type: 'ready'; pid: number }
  /** Generation `generation` is running (`hotgen_main` was called on the generation thread). */
  | { type: 'started'; generation: number; loadMs: number }
  /** A reload finished and generation `generation` runs. */
  | { type: 'reloaded'; generation: number; unloaded: string[]; loaded: string[]; timings: ReloadTimings }
  /**
   * The host cannot go on in-process; the supervisor must restart it (keeping sockets).
   * `module` names the culprit when there is one (e.g. still mapped after dlclose).
   */
  | { type: 'restart-needed'; reason: string; module?: string; cause?: HostFaultCause }
  /** `hotgen_main` returned on its own (not asked to stop), with its code (101 = panic). */
  | { type: 'generation-exit'; generation: number; code: number }
  /** Anything the user should see; `fatal` ones are followed by the host exiting. */
  | { type: 'error'; message: string; fatal: boolean; module?: string; cause?: HostFaultCause };

/**
 * Why the host reports `restart-needed` or a fatal `error` (optional field, added by the host):
 * - `stop-timeout`: the generation did not stop within `stopTimeoutMs` (the host cannot end it: kill it).
 * - `still-mapped`: a module survived dlclose (`reason` names the likely cause, e.g. nodelete).
 * - `frozen`: the reload asked to unload a frozen module.
 * - `load-failed`: dlopen of a snapshot failed (missing file, undefined symbol...).
 * - `entry-abi`: the entry lacks `hotgen_main`/`hotgen_abi_version` or speaks another ABI
 *   version; restarting with the same build fails the same way.
 * - `protocol`: a message the host cannot act on (unknown module name, start twice...).
 * - `internal`: anything else.
 */
export type HostFaultCause = 'stop-timeout' | 'still-mapped' | 'frozen' | 'load-failed' | 'entry-abi' | 'protocol' | 'internal';

/** Environment variable naming the inherited listening descriptors. */
export const LISTEN_FDS_ENV = 'HOTGEN_LISTEN_FDS';

/** Environment variable with the pid of the host's parent (the supervisor), which the host must not outlive. */
export const PARENT_PID_ENV = 'HOTGEN_PARENT_PID';

/** How the launcher configures the supervisor (JSON in the env var `HOTGEN_SUPERVISOR`). */
export interface SupervisorOptions {
  root: string;
  json: boolean;
  verbose: boolean;
  /** Build on source changes (false: `--no-watch`, reload only on request). */
  watch: boolean;
  /** Run cargo (false: `--no-build`, pick up outputs built elsewhere by their hashes). */
  build: boolean;
  /** The bound addresses, for messages (same order as the inherited fds 3, 4, ...). */
  addresses: string[];
  /** The app's arguments from `hotgen dev -- ARGS` (undefined: hotgen.yaml `app.args`). */
  args?: string[];
}

/**
 * The generation thread: one `worker_threads` Worker per generation, the only thread
 * that ever runs module code. It takes its own reference on the entry (dlopen, so the
 * entry stays mapped while it runs), checks the ABI, calls `hotgen_main` synchronously,
 * drops its reference and exits. Node joins the OS thread (`uv_thread_join` in
 * `Worker::JoinThread`, src/node_worker.cc) before it emits the Worker's `exit` event,
 * so every `thread_local!` destructor the modules registered on it (glibc runs them at
 * thread exit) has run while their code was still mapped (REFERENCE.md, "Dynamic
 * loading hazards"; the 50-reload test checks it).
 *
 * This file is both sides: imported on the host's main thread it exports
 * {@link GenerationThread}; started as a Worker it runs {@link workerMain}.
 */
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { ABI_VERSION } from '../common/types.js';
import { koffi } from '../common/ffi.js';
import { RTLD_LAZY, RTLD_LOCAL, findSymbol, lastDlError, libc, type Pointer } from './dl.js';

/** What the main thread asks a generation thread to run. Addresses are process-wide. */
export interface RunRequest {
  type: 'run';
  /** Entry module's package name (for messages). */
  name: string;
  /** Entry snapshot path, already mapped by the main thread. */
  path: string;
  generation: number;
  /** The generation's stop eventfd. */
  stopFd: number;
  /** Address of the int32 listen-fd array (0n when there is none). */
  listenFds: Pointer;
  listenFdsLen: number;
  /** Address of the pointer-sized state slot, the same for every generation of the host. */
  state: Pointer;
}

/** Why a generation could not start: the entry lacks a symbol, speaks another ABI, or failed to map. */
export type FailureKind = 'missing-symbol' | 'abi' | 'dlopen' | 'internal';

/** Worker → main thread. */
type FromWorker =
  | { type: 'entered' }
  | { type: 'failed'; kind: FailureKind; message: string }
  | { type: 'returned'; code: number };

const MARKER = 'hotgenGenerationThread';

/** A generation that could not start; `message` names the entry module. */
export class GenerationFailure extends Error {
  constructor(
    message: string,
    readonly kind: FailureKind,
  ) {
    super(message);
  }
}

/**
 * Main-thread handle on one generation Worker. Spawn ahead of time (`spawn()` boots
 * Node and koffi, about 20-40 ms) so a reload only pays for `run()`.
 */
export class GenerationThread {
  readonly #worker: Worker;
  #entered?: { resolve: () => void; reject: (e: Error) => void };
  #returned?: (code: number) => void;
  #running = false;
  /** Resolves with the Worker's exit code once its OS thread has been joined. */
  readonly exited: Promise<number>;

  private constructor() {
    this.#worker = new Worker(new URL(import.meta.url), { workerData: { [MARKER]: true } });
    this.#worker.on('message', (m: FromWorker) => this.#onMessage(m));
    this.exited = new Promise((resolve) => {
      this.#worker.on('error', (err) => {
        this.#entered?.reject(new GenerationFailure(`the generation thread failed: ${err.message}`, 'internal'));
        this.#entered = undefined;
      });
      this.#worker.on('exit', (code) => {
        this.#entered?.reject(new GenerationFailure(`the generation thread exited (code ${code}) before hotgen_main was called`, 'internal'));
        this.#entered = undefined;
        resolve(code);
      });
    });
  }

  /** Starts a Worker that waits for {@link run}. It runs no module code until then. */
  static spawn(): GenerationThread {
    return new GenerationThread();
  }

  /**
   * Runs `req` on this thread; resolves when `hotgen_main` is about to be called.
   * `onReturned` gets `hotgen_main`'s return code (the thread then drops its entry
   * reference and exits; await {@link exited} before any dlclose).
   * @throws GenerationFailure (missing symbol, ABI mismatch, dlopen error), after which
   *   the thread exits on its own.
   */
  run(req: Omit<RunRequest, 'type'>, onReturned: (code: number) => void): Promise<void> {
    if (this.#running) throw new Error('a generation thread runs only once');
    this.#running = true;
    this.#returned = onReturned;
    return new Promise((resolve, reject) => {
      this.#entered = { resolve, reject };
      this.#worker.postMessage({ type: 'run', ...req } satisfies RunRequest);
    });
  }

  /** Ends a Worker that was never given a generation (it holds no module reference). */
  async discard(): Promise<void> {
    if (this.#running) throw new Error('cannot discard a running generation thread');
    await this.#worker.terminate();
  }

  #onMessage(m: FromWorker): void {
    if (m.type === 'entered') {
      this.#entered?.resolve();
      this.#entered = undefined;
    } else if (m.type === 'failed') {
      this.#entered?.reject(new GenerationFailure(m.message, m.kind));
      this.#entered = undefined;
    } else if (m.type === 'returned') {
      this.#returned?.(m.code);
    }
  }
}

/** The koffi types of the entry ABI (DESIGN.md "Entry ABI"; pointers passed as addresses). */
function abiTypes() {
  const k = koffi();
  const RawContext = k.struct('hotgen_RawContext', {
    abi_version: 'uint32_t',
    generation: 'uint64_t',
    stop_fd: 'int32_t',
    listen_fds: 'uintptr_t',
    listen_fds_len: 'size_t',
    state: 'uintptr_t',
  });
  return {
    abiFn: k.proto('hotgen_abi_version_fn', 'uint32_t', []),
    mainFn: k.proto('hotgen_main_fn', 'int', [k.pointer(RawContext)]),
  };
}

/** Worker body: wait for one RunRequest, run it, exit. */
function workerMain(): void {
  const port = parentPort!;
  // Bind libc and declare the types while idle, so starting a generation pays only for dlopen and the call.
  libc();
  const types = abiTypes();
  port.once('message', (req: RunRequest) => {
    const post = (m: FromWorker): void => port.postMessage(m);
    try {
      runGeneration(req, types, post);
    } catch (err) {
      post({ type: 'failed', kind: 'internal', message: `${req.name}: ${(err as Error).message}` });
    }
    process.exit(0);
  });
}

function runGeneration(req: RunRequest, types: ReturnType<typeof abiTypes>, post: (m: FromWorker) => void): void {
  const c = libc();
  const k = koffi();
  const handle = c.dlopen(req.path, RTLD_LAZY | RTLD_LOCAL);
  if (handle === null) {
    post({ type: 'failed', kind: 'dlopen', message: `entry module ${req.name}: cannot map ${req.path}: ${lastDlError()}` });
    return;
  }
  try {
    const abiSym = findSymbol(handle, 'hotgen_abi_version');
    const mainSym = findSymbol(handle, 'hotgen_main');
    const missing = [abiSym ? undefined : 'hotgen_abi_version', mainSym ? undefined : 'hotgen_main'].filter(Boolean);
    if (missing.length > 0) {
      post({
        type: 'failed',
        kind: 'missing-symbol',
        message:
          `entry module ${req.name} (${req.path}) does not export ${missing.join(' and ')}: ` +
          'add `#[cfg(hotgen)] mod hotgen_entry;` and `fn hotgen_run` to its lib.rs and build with the hot profile (--cfg hotgen)',
      });
      return;
    }
    const version = k.call(abiSym, types.abiFn) as number;
    if (version !== ABI_VERSION) {
      post({
        type: 'failed',
        kind: 'abi',
        message: `entry module ${req.name} (${req.path}) implements hotgen ABI version ${version}, this hotgen needs ${ABI_VERSION}: re-run \`hotgen init\` to regenerate its hotgen_entry.rs`,
      });
      return;
    }
    const ctx = {
      abi_version: ABI_VERSION,
      generation: req.generation,
      stop_fd: req.stopFd,
      listen_fds: req.listenFds,
      listen_fds_len: req.listenFdsLen,
      state: req.state,
    };
    post({ type: 'entered' });
    const code = k.call(mainSym, types.mainFn, ctx) as number;
    post({ type: 'returned', code });
  } finally {
    c.dlclose(handle);
  }
}

if (!isMainThread && (workerData as Record<string, unknown> | null)?.[MARKER]) workerMain();

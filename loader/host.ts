/**
 * The host process (`node dist/loader/host.js`), started by the supervisor with an IPC
 * channel (stdio fd 3), the listening sockets as inherited descriptors named in
 * `HOTGEN_LISTEN_FDS`, and libstd's directory on `LD_LIBRARY_PATH` (glibc reads it
 * once, at process start). It maps module snapshots, runs each generation on its own
 * native thread ({@link GenerationThread}) and performs the ordered swap (README,
 * "A reload"): stop, join, unload top-down with verification, load bottom-up, start.
 * Anything it cannot finish in-process becomes `restart-needed` for the supervisor.
 */
import { performance } from 'node:perf_hooks';
import os from 'node:os';
import { pathToFileURL } from 'node:url';
import { koffi } from '../common/ffi.js';
import { LISTEN_FDS_ENV, PARENT_PID_ENV, type FromHost, type HostFaultCause, type ModuleSpec, type ToHost } from './protocol.js';
import { ModuleError, ModuleTable } from './modules.js';
import { GenerationFailure, GenerationThread } from './generation.js';
import { StopSignal, allocForever, writeInt32s, type Pointer } from './dl.js';

/** A running generation. `ended` resolves once its thread has been joined. */
interface Running {
  generation: number;
  thread: GenerationThread;
  stop: StopSignal;
  stopRequested: boolean;
  ended: Promise<void>;
}

/** What the message loop does after a message. */
type Next = 'continue' | 'exit';

/**
 * Parses `HOTGEN_LISTEN_FDS` ("4,5"; empty or unset = none).
 * @throws Error naming the variable when an entry is not a non-negative integer.
 */
export function parseListenFds(value: string | undefined): number[] {
  if (!value || value.trim() === '') return [];
  return value.split(',').map((s) => {
    const n = Number(s.trim());
    if (!Number.isInteger(n) || n < 0) throw new Error(`${LISTEN_FDS_ENV}=${value}: "${s}" is not a file descriptor`);
    return n;
  });
}

/** The host's state machine; `send` delivers a message to the supervisor. */
export class Host {
  readonly #modules = new ModuleTable();
  /** The state slot (one pointer), allocated once so it outlives every generation. */
  readonly #state: Pointer = allocForever(8);
  readonly #listenFds: Pointer;
  readonly #listenFdsLen: number;
  #stopTimeoutMs = 5000;
  #started = false;
  #current?: Running;
  /** Set once a restart is needed: the host then refuses further reloads. */
  #broken?: { reason: string; module?: string; cause: HostFaultCause };

  constructor(
    readonly send: (m: FromHost) => Promise<void>,
    listenFds: number[],
  ) {
    this.#listenFdsLen = listenFds.length;
    this.#listenFds = listenFds.length > 0 ? allocForever(4 * listenFds.length) : 0n;
    writeInt32s(this.#listenFds, listenFds);
  }

  /** Handles one supervisor message; messages are handled one at a time, in order. */
  async handle(msg: ToHost): Promise<Next> {
    switch (msg?.type) {
      case 'start':
        return this.#start(msg);
      case 'reload':
        await this.#reload(msg);
        return 'continue';
      case 'shutdown':
        return this.#shutdown();
      default:
        await this.send({ type: 'error', message: `host: unknown message ${JSON.stringify(msg)}`, fatal: false, cause: 'protocol' });
        return 'continue';
    }
  }

  async #start(msg: Extract<ToHost, { type: 'start' }>): Promise<Next> {
    if (this.#started) {
      await this.send({ type: 'error', message: 'host: already started; send reload instead', fatal: false, cause: 'protocol' });
      return 'continue';
    }
    this.#started = true;
    this.#stopTimeoutMs = msg.stopTimeoutMs;
    const t0 = performance.now();
    try {
      this.#modules.load(msg.modules);
      this.#startGeneration(msg.generation);
    } catch (err) {
      const f = asFault(err);
      await this.send({ type: 'error', message: f.reason, fatal: true, module: f.module, cause: f.cause });
      process.exitCode = 1;
      return 'exit';
    }
    await this.send({ type: 'started', generation: msg.generation, loadMs: performance.now() - t0 });
    return 'continue';
  }

  async #reload(msg: Extract<ToHost, { type: 'reload' }>): Promise<void> {
    if (this.#broken) {
      await this.send({ type: 'restart-needed', ...this.#broken, reason: `still waiting for a restart: ${this.#broken.reason}` });
      return;
    }
    if (!this.#started) {
      await this.send({ type: 'error', message: 'host: reload before start', fatal: false, cause: 'protocol' });
      return;
    }
    const t0 = performance.now();
    try {
      const running = this.#current?.generation;
      if (!(await this.#stopGeneration())) {
        throw new ModuleError(this.#modules.entry()?.name ?? '', `generation ${running} did not stop within ${this.#stopTimeoutMs} ms`, 'stop-timeout');
      }
      const t1 = performance.now();
      this.#modules.unload(msg.unload);
      const t2 = performance.now();
      this.#modules.load(msg.load);
      const t3 = performance.now();
      this.#startGeneration(msg.generation);
      const t4 = performance.now();
      await this.send({
        type: 'reloaded',
        generation: msg.generation,
        unloaded: msg.unload,
        loaded: msg.load.map((m: ModuleSpec) => m.name),
        timings: { stopMs: t1 - t0, unloadMs: t2 - t1, loadMs: t3 - t2, totalMs: t4 - t0 },
      });
    } catch (err) {
      this.#broken = asFault(err);
      await this.send({ type: 'restart-needed', ...this.#broken });
    }
  }

  async #shutdown(): Promise<Next> {
    const running = this.#current?.generation;
    // A generation that already overran its stop timeout in a reload will not stop now either.
    const stuck = this.#broken?.cause === 'stop-timeout';
    if (stuck || !(await this.#stopGeneration().catch(() => false))) {
      await this.send({
        type: 'error',
        message: `generation ${running} did not stop within ${this.#stopTimeoutMs} ms; killing the host`,
        fatal: true,
        cause: 'stop-timeout',
      });
      // A thread cannot be cancelled safely, and a normal exit would run the process's exit
      // handlers while it still runs module code.
      process.kill(process.pid, 'SIGKILL');
    }
    process.exitCode ??= 0;
    return 'exit';
  }

  /**
   * Starts generation `generation` of the mapped entry on a new native thread; returns
   * once the thread exists. When it ends without a stop request, sends `generation-exit`.
   * @throws ModuleError ('entry-abi', 'internal') when it cannot start.
   */
  #startGeneration(generation: number): void {
    const entry = this.#modules.entry();
    if (!entry) throw new ModuleError('', 'no entry module is loaded (a module with role "entry" must be in the load list)', 'protocol');
    const stop = new StopSignal();
    let thread: GenerationThread;
    try {
      thread = GenerationThread.start(entry, {
        generation,
        stopFd: stop.fd,
        listenFds: this.#listenFds,
        listenFdsLen: this.#listenFdsLen,
        state: this.#state,
      });
    } catch (err) {
      stop[Symbol.dispose]();
      if (err instanceof GenerationFailure) throw new ModuleError(entry.name, err.message, err.kind === 'internal' ? 'internal' : 'entry-abi');
      throw err;
    }
    const running: Running = { generation, thread, stop, stopRequested: false, ended: Promise.resolve() };
    running.ended = thread.exited.then(
      (code) => {
        stop[Symbol.dispose]();
        if (this.#current === running) this.#current = undefined;
        if (!running.stopRequested) void this.send({ type: 'generation-exit', generation, code });
      },
      async (err: Error) => {
        // Not joined: the generation stays #current, so nothing is unloaded or started over it.
        // A failed join after a stop request is reported by the reload or shutdown that asked.
        if (running.stopRequested || this.#broken) return;
        this.#broken = { reason: `host: ${err.message}`, module: entry.name, cause: 'internal' };
        await this.send({ type: 'restart-needed', ...this.#broken });
      },
    );
    this.#current = running;
  }

  /**
   * Raises the stop eventfd and waits (at most stopTimeoutMs) until the generation's
   * thread has been joined. True when no generation runs any more.
   */
  async #stopGeneration(): Promise<boolean> {
    const cur = this.#current;
    if (!cur) return true;
    cur.stopRequested = true;
    cur.stop.raise();
    if (!(await cur.thread.join(this.#stopTimeoutMs))) return false;
    await cur.ended;
    return this.#current !== cur;
  }
}

function asFault(err: unknown): { reason: string; module?: string; cause: HostFaultCause } {
  if (err instanceof ModuleError) return { reason: err.message, module: err.module || undefined, cause: err.fault };
  return { reason: `host: internal error: ${(err as Error)?.stack ?? String(err)}`, cause: 'internal' };
}

/** `PR_SET_PDEATHSIG` (`<linux/prctl.h>`): the signal this process gets when its parent dies. */
const PR_SET_PDEATHSIG = 1;
/** How long a host whose supervisor is gone gives its generation to stop before it kills itself (ms). */
const ORPHAN_GRACE_MS = 500;
/** Quiet time after a handled message before the host collects its garbage (ms). */
const IDLE_GC_MS = 50;

/**
 * Makes the kernel SIGKILL this process when the supervisor (the thread that spawned it,
 * the supervisor's main thread) dies, however it dies (prctl(2) PR_SET_PDEATHSIG), then
 * checks that the supervisor `parent` is still the parent: had it died before the call,
 * we were already reparented and no signal would come. False when it is gone; true
 * also when prctl fails (the 'disconnect' handler in {@link main} still ends us).
 */
function dieWithParent(parent: number): boolean {
  const prctl = koffi().load('libc.so.6').func('int prctl(int option, ...)');
  if (prctl(PR_SET_PDEATHSIG, 'unsigned long', os.constants.signals.SIGKILL) !== 0) return true;
  return process.ppid === parent;
}

/** Process main: wires the IPC channel to a {@link Host}. */
export function main(): void {
  if (!process.send) {
    console.error('hotgen host: start me through `hotgen dev` (needs an IPC channel)');
    process.exitCode = 2;
    return;
  }
  if (!dieWithParent(Number(process.env[PARENT_PID_ENV]) || process.ppid)) process.exit(1);
  // Started with --expose-gc (host-node.ts): the collection's job makes V8's worker thread
  // take its malloc arena now rather than under some later generation.
  globalThis.gc?.();
  const send = (m: FromHost): Promise<void> =>
    new Promise((resolve) => {
      if (!process.connected) return resolve();
      process.send!(m, undefined, undefined, () => resolve());
    });
  let host: Host;
  try {
    host = new Host(send, parseListenFds(process.env[LISTEN_FDS_ENV]));
  } catch (err) {
    void send({ type: 'error', message: `host: ${(err as Error).message}`, fatal: true, cause: 'internal' }).then(() => process.disconnect());
    process.exitCode = 1;
    return;
  }
  let queue = Promise.resolve<Next>('continue');
  // A full collection once the host is idle after a message (a reload is seconds apart from
  // the next): its heap returns to the same size each time (host-node.ts, --expose-gc).
  let gcTimer: NodeJS.Timeout | undefined;
  const collectWhenIdle = (): void => {
    const gc = globalThis.gc;
    if (!gc) return;
    clearTimeout(gcTimer);
    gcTimer = setTimeout(() => gc(), IDLE_GC_MS).unref();
  };
  /** We closed the channel ourselves (after a shutdown). */
  let leaving = false;
  const enqueue = (m: ToHost): void => {
    queue = queue.then(async (prev) => {
      if (prev === 'exit') return 'exit';
      const next = await host.handle(m).catch(async (err) => {
        await send({ type: 'restart-needed', ...asFault(err) });
        return 'continue' as Next;
      });
      if (next === 'exit' && process.connected) {
        leaving = true;
        process.disconnect();
      }
      collectWhenIdle();
      return next;
    });
  };
  process.on('message', (m) => enqueue(m as ToHost));
  // The supervisor owns the terminal: CTRL+C (reload) and CTRL+\ (quit) reach the host too
  // when it shares the terminal's process group, and must not kill a running generation.
  process.on('SIGINT', () => undefined);
  process.on('SIGQUIT', () => undefined);
  process.on('SIGTERM', () => enqueue({ type: 'shutdown' }));
  // The supervisor is gone (PR_SET_PDEATHSIG normally ends us first): end the generation
  // and exit rather than run orphaned, within ORPHAN_GRACE_MS even if a reload or a stop hangs.
  process.on('disconnect', () => {
    if (leaving) return;
    enqueue({ type: 'shutdown' });
    setTimeout(() => process.kill(process.pid, 'SIGKILL'), ORPHAN_GRACE_MS).unref();
  });
  void send({ type: 'ready', pid: process.pid });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();

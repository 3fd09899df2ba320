/**
 * The generation thread: one native thread per generation, the only thread that ever
 * runs module code. The host's main thread creates it with glibc's `pthread_create`,
 * starting at the entry's `hotgen_generation_thread` (the shim's start routine, which
 * calls `hotgen_main`), and joins it with glibc's `pthread_timedjoin_np`/
 * `pthread_tryjoin_np`, so no other thread runs module code. glibc's joins succeed only
 * once the thread has exited: `start_thread` (nptl/pthread_create.c) runs
 * `__call_tls_dtors` (every `thread_local!` destructor the modules registered on it)
 * before the thread's exit, and `__pthread_clockjoin_ex` (nptl/pthread_join_common.c)
 * waits until the kernel has cleared the thread id at exit. So every destructor ran
 * while its code was still mapped (a destructor run after its library's `dlclose` jumps
 * into unmapped memory; test/loader/host.test.ts's 50 reloads check it).
 *
 * Joins block the main thread in short slices ({@link JOIN_SLICE_MS}), turning the event
 * loop between them: a stop that takes microseconds costs no thread hop, and a slow one
 * leaves the host responsive. A generation that returns by itself is noticed by a
 * `pthread_tryjoin_np` every {@link EXIT_POLL_MS}. No libuv threadpool thread is ever
 * blocked (Node's exit waits for those).
 *
 * The main thread itself calls one module function, `hotgen_abi_version`, which returns
 * a constant and touches no thread-local.
 */
import { ABI_VERSION } from '../common/types.js';
import { koffi } from '../common/ffi.js';
import { findSymbol, libc, type Pointer } from './dl.js';

/** The entry module as the host mapped it. */
export interface EntryRef {
  /** Package name (for messages). */
  name: string;
  /** Snapshot path (for messages). */
  path: string;
  /** The host's dlopen handle on it; it stays mapped until the thread has been joined. */
  handle: Pointer;
}

/** What one generation gets in its context (README "Entry ABI"; templates/hotgen_entry.rs.hbs). Addresses are process-wide. */
export interface RunRequest {
  generation: number;
  /** The generation's stop eventfd. */
  stopFd: number;
  /** Address of the int32 listen-fd array (0n when there is none). */
  listenFds: Pointer;
  listenFdsLen: number;
  /** Address of the pointer-sized state slot, the same for every generation of the host. */
  state: Pointer;
}

/** Why a generation could not start: the entry lacks a symbol, speaks another ABI, or the thread could not be created. */
export type FailureKind = 'missing-symbol' | 'abi' | 'internal';

/** A generation that could not start; `message` names the entry module. */
export class GenerationFailure extends Error {
  constructor(
    message: string,
    readonly kind: FailureKind,
  ) {
    super(message);
  }
}

/** The koffi types of the entry ABI, declared once per process (named koffi types are global). */
interface AbiTypes {
  /** `hotgen_abi_version`'s prototype. */
  abiFn: KoffiType;
  /** Byte offsets of the RawContext fields (C layout, README "Entry ABI") and its size. */
  at: { abi_version: number; generation: number; stop_fd: number; listen_fds: number; listen_fds_len: number; state: number; size: number };
}

/** A koffi type object (typed through common/ffi.ts, the one module that imports koffi). */
type KoffiType = ReturnType<ReturnType<typeof koffi>['struct']>;

let types: AbiTypes | undefined;

function abiTypes(): AbiTypes {
  if (types) return types;
  const k = koffi();
  const context = k.struct('hotgen_RawContext', {
    abi_version: 'uint32_t',
    generation: 'uint64_t',
    stop_fd: 'int32_t',
    listen_fds: 'uintptr_t',
    listen_fds_len: 'size_t',
    state: 'uintptr_t',
  });
  const off = (f: string) => k.offsetof(context, f);
  types = {
    abiFn: k.proto('hotgen_abi_version_fn', 'uint32_t', []),
    at: {
      abi_version: off('abi_version'),
      generation: off('generation'),
      stop_fd: off('stop_fd'),
      listen_fds: off('listen_fds'),
      listen_fds_len: off('listen_fds_len'),
      state: off('state'),
      size: k.sizeof(context),
    },
  };
  return types;
}

/** Bytes of native memory per generation: the RawContext (48 bytes on LP64), then the start routine's `void *` result. */
const BLOCK = 64;
const RESULT_OFFSET = 56;
/** Longest single blocking join on the main thread (ms). */
export const JOIN_SLICE_MS = 20;
/** How often a running generation is checked for having returned by itself (ms). */
export const EXIT_POLL_MS = 250;
/** glibc errno values (x86_64/aarch64 `<errno.h>`). */
const EBUSY = 16;
const ETIMEDOUT = 110;

/** A running generation thread. */
export class GenerationThread {
  /**
   * Resolves with `hotgen_main`'s return code (101 = panic) once the thread has been
   * joined: it has exited and its thread-local destructors have run.
   */
  readonly exited: Promise<number>;
  readonly #thread: bigint;
  readonly #block: Pointer;
  readonly #generation: number;
  #resolve!: (code: number) => void;
  #reject!: (err: Error) => void;
  #joined = false;
  readonly #poll: NodeJS.Timeout;

  private constructor(thread: bigint, block: Pointer, generation: number) {
    this.#thread = thread;
    this.#block = block;
    this.#generation = generation;
    this.exited = new Promise<number>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    // Unreferenced: the IPC channel, not this check, keeps the host alive.
    this.#poll = setInterval(() => this.#settle(libc().pthread_tryjoin_np(this.#thread, this.#result), EBUSY), EXIT_POLL_MS).unref();
  }

  get #result(): Pointer {
    return this.#block + BigInt(RESULT_OFFSET);
  }

  /**
   * Checks the entry's ABI and starts generation `req.generation` on a new thread; returns
   * once the thread exists (it is then calling `hotgen_main`). The caller keeps the entry
   * mapped until {@link exited} resolves.
   * @throws GenerationFailure: 'missing-symbol' or 'abi' (nothing started), 'internal'
   *   when pthread_create fails.
   */
  static start(entry: EntryRef, req: RunRequest): GenerationThread {
    const k = koffi();
    const c = libc();
    const t = abiTypes();
    const abiSym = findSymbol(entry.handle, 'hotgen_abi_version');
    const mainSym = findSymbol(entry.handle, 'hotgen_main');
    const missing = [abiSym ? undefined : 'hotgen_abi_version', mainSym ? undefined : 'hotgen_main'].filter(Boolean);
    if (missing.length > 0) {
      throw new GenerationFailure(
        `entry module ${entry.name} (${entry.path}) does not export ${missing.join(' and ')}: ` +
          'add `#[cfg(hotgen)] mod hotgen_entry;` and `fn hotgen_run` to its lib.rs and build with the hot profile (--cfg hotgen)',
        'missing-symbol',
      );
    }
    const version = k.call(abiSym!, t.abiFn) as number;
    if (version !== ABI_VERSION) {
      throw new GenerationFailure(
        `entry module ${entry.name} (${entry.path}) implements hotgen ABI version ${version}, this hotgen needs ${ABI_VERSION}: re-run \`hotgen init\` to regenerate its hotgen_entry.rs`,
        'abi',
      );
    }
    const threadSym = findSymbol(entry.handle, 'hotgen_generation_thread');
    if (!threadSym) {
      throw new GenerationFailure(
        `entry module ${entry.name} (${entry.path}) does not export hotgen_generation_thread: its hotgen_entry.rs predates this hotgen; re-run \`hotgen init\` to regenerate it`,
        'missing-symbol',
      );
    }
    // Native memory, not a koffi temporary: the thread reads the context for its whole life.
    const block = c.calloc(1, BLOCK);
    if (block === null) throw new GenerationFailure(`entry module ${entry.name}: calloc(${BLOCK}) failed`, 'internal');
    const ctx = Buffer.alloc(t.at.size);
    ctx.writeUInt32LE(ABI_VERSION, t.at.abi_version);
    ctx.writeBigUInt64LE(BigInt(req.generation), t.at.generation);
    ctx.writeInt32LE(req.stopFd, t.at.stop_fd);
    ctx.writeBigUInt64LE(req.listenFds, t.at.listen_fds);
    ctx.writeBigUInt64LE(BigInt(req.listenFdsLen), t.at.listen_fds_len);
    ctx.writeBigUInt64LE(req.state, t.at.state);
    c.memcpy(block, ctx, ctx.length);
    const id = Buffer.alloc(8);
    const err = c.pthread_create(id, null, threadSym, block);
    if (err !== 0) {
      c.free(block);
      throw new GenerationFailure(`entry module ${entry.name}: cannot create the generation thread (pthread_create: errno ${err})`, 'internal');
    }
    return new GenerationThread(id.readBigUInt64LE(0), block, req.generation);
  }

  /**
   * Waits at most `timeoutMs` for the thread to end (after a stop request), blocking the
   * main thread for at most {@link JOIN_SLICE_MS} at a time. True once it has been joined,
   * false when it still runs at the deadline.
   * @throws Error when glibc refuses the join (the thread is then never unloaded under).
   */
  async join(timeoutMs: number): Promise<boolean> {
    const c = libc();
    const deadline = performance.now() + timeoutMs;
    const abstime = Buffer.alloc(16);
    for (;;) {
      if (this.#joined) {
        await this.exited;
        return true;
      }
      const slice = Math.min(JOIN_SLICE_MS, deadline - performance.now());
      if (slice <= 0) return false;
      // pthread_timedjoin_np measures against CLOCK_REALTIME; a clock step only changes one slice.
      const at = Date.now() + slice;
      abstime.writeBigInt64LE(BigInt(Math.floor(at / 1000)), 0);
      abstime.writeBigInt64LE(BigInt(Math.min(999_999_999, Math.floor((at % 1000) * 1e6))), 8);
      this.#settle(c.pthread_timedjoin_np(this.#thread, this.#result, abstime), ETIMEDOUT);
      if (!this.#joined) await new Promise((r) => setImmediate(r));
    }
  }

  /** Handles a join's return value: 0 = joined, `busy` = still running, anything else = broken. */
  #settle(rc: number, busy: number): void {
    if (this.#joined || rc === busy) return;
    this.#joined = true;
    clearInterval(this.#poll);
    if (rc !== 0) {
      // Not joined: the thread may still run and read its context, so the block stays allocated.
      this.#reject(new Error(`joining the thread of generation ${this.#generation} failed (errno ${rc})`));
      return;
    }
    // The shim returns the i32 code zero-extended in the pointer (hotgen_generation_thread).
    const code = Number(koffi().decode(this.#result, 'uint64_t')) | 0;
    libc().free(this.#block);
    this.#resolve(code);
  }
}

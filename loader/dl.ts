/**
 * libc's dynamic loader, threads and the few descriptor calls the host needs, through
 * koffi, bound once on the host's main thread (koffi functions belong to one isolate).
 *
 * Flag values are glibc's x86_64/aarch64 ones (`<dlfcn.h>`, `<sys/eventfd.h>`).
 */
import { koffi } from '../common/ffi.js';

/** `RTLD_LAZY`: resolve functions on first call (rustc dylibs are BIND_NOW anyway). */
export const RTLD_LAZY = 0x1;
/** `RTLD_NOLOAD`: do not load; return a (new) reference only if the object is mapped. */
export const RTLD_NOLOAD = 0x4;
/** `RTLD_GLOBAL`: the object's symbols satisfy later objects' undefined symbols. */
export const RTLD_GLOBAL = 0x100;
/** `RTLD_LOCAL`: the object's symbols are visible only through its own handle. */
export const RTLD_LOCAL = 0x0;
/** `EFD_CLOEXEC` (= `O_CLOEXEC`): the eventfd is not inherited across exec. */
export const EFD_CLOEXEC = 0o2000000;

/** An opaque `void *` as koffi 3 returns it: a bigint address, `null` for NULL. */
export type Pointer = bigint;

/** The bound libc functions. Pointers are bigints (koffi 3 maps `void *` to bigint). */
export interface Libc {
  dlopen(path: string, flags: number): Pointer | null;
  dlclose(handle: Pointer): number;
  dlerror(): string | null;
  dlsym(handle: Pointer, symbol: string): Pointer | null;
  eventfd(initval: number, flags: number): number;
  write(fd: number, buf: Buffer, len: number): number;
  close(fd: number): number;
  calloc(count: number, size: number): Pointer | null;
  free(p: Pointer): void;
  memcpy(dst: Pointer, src: Buffer, len: number): Pointer;
  /** Writes the new thread's `pthread_t` into `thread` (8 bytes); returns 0 or an errno value. */
  pthread_create(thread: Buffer, attr: null, start: Pointer, arg: Pointer): number;
  /**
   * Joins `thread` (a `pthread_t`, an address on glibc) if it has exited by `abstime` (a
   * `struct timespec` on CLOCK_REALTIME, 16 bytes); stores the start routine's result at
   * `result`. Returns 0, ETIMEDOUT or another errno value.
   */
  pthread_timedjoin_np(thread: bigint, result: Pointer, abstime: Buffer): number;
  /** Joins `thread` if it has exited; returns 0, EBUSY (still running) or another errno value. */
  pthread_tryjoin_np(thread: bigint, result: Pointer): number;
}

let bound: Libc | undefined;

/** The libc bindings, created on first use (on the host's main thread: koffi functions belong to one isolate). */
export function libc(): Libc {
  if (bound) return bound;
  const k = koffi();
  const lib = k.load('libc.so.6');
  // The process's own scope: glibc before 2.34 has the pthread functions in libpthread.so.0, which Node links.
  const own = k.load(null);
  bound = {
    dlopen: lib.func('void *dlopen(const char *path, int flags)'),
    dlclose: lib.func('int dlclose(void *handle)'),
    dlerror: lib.func('const char *dlerror()'),
    dlsym: lib.func('void *dlsym(void *handle, const char *symbol)'),
    eventfd: lib.func('int eventfd(unsigned int initval, int flags)'),
    write: lib.func('intptr_t write(int fd, const void *buf, size_t count)'),
    close: lib.func('int close(int fd)'),
    calloc: lib.func('void *calloc(size_t count, size_t size)'),
    free: lib.func('void free(void *p)'),
    memcpy: lib.func('void *memcpy(void *dst, const void *src, size_t len)'),
    // pthread_t is unsigned long on glibc (LP64: pointer-sized), declared as a pointer so it stays an exact bigint.
    pthread_create: own.func('int pthread_create(void *thread, void *attr, void *start, void *arg)'),
    pthread_timedjoin_np: own.func('int pthread_timedjoin_np(void *thread, void *result, const void *abstime)'),
    pthread_tryjoin_np: own.func('int pthread_tryjoin_np(void *thread, void *result)'),
  };
  return bound;
}

/** The last `dlerror()` text, or `fallback` when there is none. */
export function lastDlError(fallback = 'unknown dlopen error'): string {
  return libc().dlerror() ?? fallback;
}

/**
 * True when the object at `path` is still mapped in this process. Uses
 * `dlopen(path, RTLD_LAZY|RTLD_NOLOAD)`, which returns a new reference when it is:
 * that reference is dropped at once (glibc dlopen(3); checked against /proc/self/maps).
 */
export function isMapped(path: string): boolean {
  const c = libc();
  const h = c.dlopen(path, RTLD_LAZY | RTLD_NOLOAD);
  if (h === null) {
    c.dlerror();
    return false;
  }
  c.dlclose(h);
  return true;
}

/**
 * Looks up `symbol` in `handle`; null when it is not defined (or is defined as NULL,
 * which no symbol hotgen looks for is: dlsym(3) needs `dlerror()` only to tell those
 * apart). A miss clears the `dlerror()` message it leaves.
 */
export function findSymbol(handle: Pointer, symbol: string): Pointer | null {
  const c = libc();
  const p = c.dlsym(handle, symbol);
  if (p === null) c.dlerror();
  return p;
}

/** A Linux eventfd used as a generation's stop signal. Closing it is the owner's job. */
export class StopSignal implements Disposable {
  readonly fd: number;
  #closed = false;

  /** @throws Error when eventfd(2) fails. */
  constructor() {
    this.fd = libc().eventfd(0, EFD_CLOEXEC);
    if (this.fd < 0) throw new Error(`eventfd failed (errno ${koffi().errno()})`);
  }

  /** Makes the fd readable (adds 1 to the counter); safe to call more than once. */
  raise(): void {
    if (this.#closed) return;
    const one = Buffer.alloc(8);
    one.writeBigUInt64LE(1n);
    if (libc().write(this.fd, one, 8) !== 8) throw new Error(`writing the stop eventfd failed (errno ${koffi().errno()})`);
  }

  /** Closes the fd; only after the generation that polls it has ended. */
  [Symbol.dispose](): void {
    if (this.#closed) return;
    this.#closed = true;
    libc().close(this.fd);
  }
}

/**
 * Allocates `size` zeroed bytes with libc calloc that live until the process exits
 * (used for the state slot and the listen-fd array). Returns the address.
 * @throws Error when calloc fails.
 */
export function allocForever(size: number): Pointer {
  const p = libc().calloc(1, Math.max(size, 1));
  if (p === null) throw new Error(`calloc(${size}) failed`);
  return p;
}

/** Writes `values` as int32 at `address` (memory from {@link allocForever}). */
export function writeInt32s(address: Pointer, values: number[]): void {
  if (values.length === 0) return;
  const buf = Buffer.alloc(4 * values.length);
  values.forEach((v, i) => buf.writeInt32LE(v, 4 * i));
  libc().memcpy(address, buf, buf.length);
}

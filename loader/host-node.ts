/**
 * The Node options the host process (`host.js`) runs with; the supervisor
 * (loader/launcher.ts) and the benchmark driver (bench/host-driver.ts) both start it so.
 * They keep a long session's host flat: over 1000 reloads of a 10-crate workspace
 * (bench/swap.ts `measureMemory`) RSS grew by about 5 MiB and `/proc/<pid>/maps` by 4
 * to 15 lines without them; with them neither grows.
 * - `--no-opt --no-sparkplug`: no optimising or baseline JIT. The host runs a few hundred
 *   lines of JavaScript per reload, so the interpreter is fast enough, and nothing pages
 *   in TurboFan (about 4 MiB of node's text and 2 MiB of compiler memory, hundreds of
 *   reloads into a session) or grows the code space.
 * - `--min-semi-space-size=1 --max-semi-space-size=1` (MiB): a young generation of fixed
 *   size, which V8 never grows or shrinks (each change adds or removes mappings).
 * - `--expose-gc`: the host collects its garbage when idle after each message (host.ts),
 *   so its old generation returns to the same size instead of filling with promoted
 *   garbage until V8's next full collection.
 * - `--single-threaded-gc --v8-pool-size=1`: one V8 worker thread, kept mostly idle. Each
 *   thread that first calls malloc takes a glibc arena (64 MiB reserved, two mappings)
 *   from the free list, or makes a new one when the list is empty; with four workers
 *   each doing so at its first GC job, some of them hundreds of reloads in, a generation
 *   thread starting right after found the list empty and a new arena stayed mapped for
 *   good. The host collects once at start-up, so its single worker takes its arena then.
 */
export const HOST_NODE_ARGS: readonly string[] = [
  '--no-opt',
  '--no-sparkplug',
  '--min-semi-space-size=1',
  '--max-semi-space-size=1',
  '--expose-gc',
  '--single-threaded-gc',
  '--v8-pool-size=1',
];

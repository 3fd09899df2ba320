/**
 * Elapsed time during a long build, for people watching a terminal: cargo's own
 * `Compiling ...` lines say what is being built but not for how long. On a TTY a plain
 * line `building… 12 s` every {@link PROGRESS_EVERY_MS}; elsewhere (a pipe, a log file)
 * nothing periodic, only one `build finished in 42 s` line at the end of a build that
 * lasted at least that long. Never colour or cursor movement, so logs stay clean.
 */

/** How often the TTY line repeats, and the shortest build worth a line at all, ms. */
export const PROGRESS_EVERY_MS = 10_000;

/** Options for {@link startProgress}. */
export interface ProgressOptions {
  /** Where the lines go (default process.stderr); its `isTTY` picks the mode. */
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
  /** Period of the TTY line and threshold of the final line, ms (default {@link PROGRESS_EVERY_MS}). */
  everyMs?: number;
  /**
   * False while the stream is in the middle of a line someone else is writing (cargo's
   * output arrives in chunks); a tick then waits for the next period.
   */
  atLineStart?: () => boolean;
}

/** A running progress display; `done()` (or disposal) stops it and writes the final line if due. */
export interface Progress extends Disposable {
  done(): void;
}

/** `12 s` for whole seconds (the line is for humans; exact times are in the reports). */
export function formatElapsed(ms: number): string {
  return `${Math.round(ms / 1000)} s`;
}

/** Starts showing elapsed time on `opts.stream`; see the module comment for what is shown where. */
export function startProgress(opts: ProgressOptions = {}): Progress {
  const stream = opts.stream ?? process.stderr;
  const everyMs = opts.everyMs ?? PROGRESS_EVERY_MS;
  const tty = stream.isTTY === true;
  const t0 = performance.now();
  let timer: NodeJS.Timeout | undefined;
  if (tty) {
    timer = setInterval(() => {
      if (opts.atLineStart?.() !== false) stream.write(`building… ${formatElapsed(performance.now() - t0)}\n`);
    }, everyMs);
    // A tick must never keep the process alive.
    timer.unref();
  }
  let finished = false;
  const done = () => {
    if (finished) return;
    finished = true;
    clearInterval(timer);
    const ms = performance.now() - t0;
    if (!tty && ms >= everyMs) stream.write(`build finished in ${formatElapsed(ms)}\n`);
  };
  return { done, [Symbol.dispose]: done };
}

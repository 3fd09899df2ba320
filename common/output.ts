/**
 * Terminal output: human lines or JSON events (`--json`, one object per line on
 * stdout). Colour only on a TTY and only without `NO_COLOR` (https://no-color.org),
 * decided per stream: warnings go to stderr, so stderr's TTY decides their colour.
 * Nothing here draws spinners or moves the cursor.
 */

/**
 * True when ANSI colour may be written to `stream`: it is a TTY and `NO_COLOR` is unset
 * or empty (no-color.org: "when present and not an empty string" disables colour).
 */
export function colorAllowed(stream: { isTTY?: boolean }): boolean {
  return !process.env.NO_COLOR && stream.isTTY === true;
}

/** One machine-readable event. `event` names it; other fields depend on the event. */
export interface OutputEvent {
  event: string;
  [field: string]: unknown;
}

/**
 * Where commands write. Human text goes to stdout (`info`) or stderr (`warn`, `debug`).
 * With `--json`, stdout carries only {@link OutputEvent} lines; `warn` and `debug` still
 * write human text, to stderr.
 */
export class Output {
  /** Colour on stderr. */
  readonly stderrColor: boolean;
  constructor(
    readonly json: boolean = false,
    readonly verbose: boolean = false,
    private readonly stdout: NodeJS.WritableStream = process.stdout,
    private readonly stderr: NodeJS.WritableStream = process.stderr,
  ) {
    this.stderrColor = colorAllowed(stderr as { isTTY?: boolean });
  }

  /** A line of human output; suppressed in JSON mode. */
  info(text: string): void {
    if (!this.json) this.stdout.write(text + '\n');
  }

  /** A line only shown with `--verbose`. */
  debug(text: string): void {
    if (this.verbose) this.stderr.write(text + '\n');
  }

  /** A warning on stderr (also in JSON mode, where stdout is reserved for events). */
  warn(text: string): void {
    const tag = this.stderrColor ? '\x1b[33mwarning\x1b[0m' : 'warning';
    this.stderr.write(`${tag}: ${text}\n`);
  }

  /** A JSON event in JSON mode; in human mode `human` (if given) is printed instead. */
  emit(ev: OutputEvent, human?: string): void {
    if (this.json) this.stdout.write(JSON.stringify(ev) + '\n');
    else if (human !== undefined) this.info(human);
  }
}

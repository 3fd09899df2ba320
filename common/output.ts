/**
 * Terminal output: human lines or JSON events (`--json`, one object per line on
 * stdout). Colour only on a TTY and only without `NO_COLOR` (https://no-color.org).
 */

/** One machine-readable event. `event` names it; other fields depend on the event. */
export interface OutputEvent {
  event: string;
  [field: string]: unknown;
}

/** Where commands write. Human text goes to stdout (`info`) or stderr (`warn`). */
export class Output {
  readonly color: boolean;
  constructor(
    readonly json: boolean = false,
    readonly verbose: boolean = false,
    private readonly stdout: NodeJS.WritableStream = process.stdout,
    private readonly stderr: NodeJS.WritableStream = process.stderr,
  ) {
    this.color = !json && !process.env.NO_COLOR && Boolean((stdout as { isTTY?: boolean }).isTTY);
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
    this.stderr.write(`${this.paint('33', 'warning')}: ${text}\n`);
  }

  /** A JSON event in JSON mode; in human mode `human` (if given) is printed instead. */
  emit(ev: OutputEvent, human?: string): void {
    if (this.json) this.stdout.write(JSON.stringify(ev) + '\n');
    else if (human !== undefined) this.info(human);
  }

  /** Wraps text in an ANSI SGR code when colour is on. */
  paint(code: string, text: string): string {
    return this.color ? `\x1b[${code}m${text}\x1b[0m` : text;
  }
}

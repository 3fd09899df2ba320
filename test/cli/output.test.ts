/**
 * The pieces behind the conventions, in-process: formatError's exit codes and
 * report-this line, Output's colour rule (per stream, TTY only, never with NO_COLOR),
 * and the build progress lines (loader/progress.ts) on a TTY and elsewhere.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Writable } from 'node:stream';
import { CommandError, InternalError, UsageError, UserError, formatError } from '../../common/errors.js';
import { Output, colorAllowed } from '../../common/output.js';
import { formatElapsed, startProgress } from '../../loader/progress.js';

/** A writable that records what was written; `isTTY` as given. */
function sink(isTTY: boolean): Writable & { isTTY: boolean; text: () => string } {
  const chunks: string[] = [];
  const w = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(String(chunk));
      cb();
    },
  }) as Writable & { isTTY: boolean; text: () => string };
  w.isTTY = isTTY;
  w.text = () => chunks.join('');
  return w;
}

const REPORT = 'This is a bug in hotgen; please report it with the lines above.';

describe('formatError', () => {
  it('an InternalError exits 70 with its message, stack and the report-this line', () => {
    const { text, exitCode } = formatError(new InternalError('the plan lost its entry crate'));
    expect(exitCode).toBe(70);
    const lines = text.split('\n');
    expect(lines[0]).toBe('hotgen: internal error: the plan lost its entry crate');
    expect(text).toMatch(/^\s+at .*output\.test\.ts/m);
    expect(lines.at(-1)).toBe(REPORT);
  });

  it('a plain Error or a thrown string is an internal error too (exit 70)', () => {
    const plain = formatError(new TypeError("Cannot read properties of undefined (reading 'name')"));
    expect(plain.exitCode).toBe(70);
    expect(plain.text.split('\n')[0]).toBe("hotgen: internal error: Cannot read properties of undefined (reading 'name')");
    expect(plain.text.split('\n').at(-1)).toBe(REPORT);
    const str = formatError('boom');
    expect(str).toMatchObject({ exitCode: 70 });
    expect(str.text.split('\n')[0]).toBe('hotgen: internal error: boom');
  });

  it('user and usage errors: one `hotgen:` line naming the file, no report-this line', () => {
    const user = formatError(new UserError('unknown linker `bfd`', { file: 'hotgen.yaml', line: 7, hint: 'Use mold, lld, gold or default.' }));
    expect(user).toEqual({ exitCode: 1, text: 'hotgen: hotgen.yaml:7: unknown linker `bfd`\n  Use mold, lld, gold or default.' });
    const cmd = formatError(new CommandError('cargo metadata', 101, null, 'error: oops'));
    expect(cmd.exitCode).toBe(1);
    expect(cmd.text.split('\n')[0]).toBe('hotgen: `cargo metadata` exited with code 101');
    const usage = formatError(new UsageError('init: unexpected argument `x`'));
    expect(usage.exitCode).toBe(2);
    expect(usage.text.split('\n')[0]).toBe('hotgen: init: unexpected argument `x`');
    for (const t of [user.text, cmd.text, usage.text]) expect(t).not.toContain('report');
  });
});

describe('Output colour', () => {
  let saved: string | undefined;
  beforeEach(() => {
    saved = process.env.NO_COLOR;
  });
  afterEach(() => {
    if (saved === undefined) delete process.env.NO_COLOR;
    else process.env.NO_COLOR = saved;
  });

  it('colours a warning only when stderr is a TTY and NO_COLOR is unset or empty', () => {
    const cases: [boolean, string | undefined, boolean][] = [
      [true, undefined, true],
      [true, '', true],
      [true, '1', false],
      [false, undefined, false],
      [false, '1', false],
    ];
    for (const [tty, noColor, coloured] of cases) {
      if (noColor === undefined) delete process.env.NO_COLOR;
      else process.env.NO_COLOR = noColor;
      const out = sink(false);
      const err = sink(tty);
      new Output(false, false, out, err).warn('hotgen.yaml lists no address');
      expect(err.text().includes('\x1b['), `tty=${tty} NO_COLOR=${noColor}`).toBe(coloured);
      expect(err.text().replace(/\x1b\[[0-9;]*m/g, '')).toBe('warning: hotgen.yaml lists no address\n');
      expect(colorAllowed(err)).toBe(coloured);
    }
  });

  it('JSON mode: stdout gets only events; info is dropped, warn and debug go to stderr', () => {
    delete process.env.NO_COLOR;
    const out = sink(true);
    const err = sink(true);
    const o = new Output(true, true, out, err);
    o.info('human line');
    o.emit({ event: 'eject', restored: [] }, 'restored nothing');
    o.warn('careful');
    o.debug('details');
    expect(out.text()).toBe('{"event":"eject","restored":[]}\n');
    expect(err.text()).toContain('careful');
    expect(err.text()).toContain('details\n');
  });
});

describe('build progress', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'performance'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('on a TTY: a `building… N s` line each period, none once done, and none mid-line', () => {
    const s = sink(true);
    let atLineStart = true;
    const p = startProgress({ stream: s, everyMs: 10_000, atLineStart: () => atLineStart });
    vi.advanceTimersByTime(9_000);
    expect(s.text()).toBe('');
    vi.advanceTimersByTime(1_000);
    expect(s.text()).toBe('building… 10 s\n');
    atLineStart = false;
    vi.advanceTimersByTime(10_000);
    expect(s.text()).toBe('building… 10 s\n');
    atLineStart = true;
    vi.advanceTimersByTime(10_000);
    expect(s.text()).toBe('building… 10 s\nbuilding… 30 s\n');
    p.done();
    vi.advanceTimersByTime(30_000);
    expect(s.text()).toBe('building… 10 s\nbuilding… 30 s\n');
  });

  it('elsewhere: nothing periodic, one final line for a long build, nothing for a short one', () => {
    const long = sink(false);
    {
      using _p = startProgress({ stream: long, everyMs: 10_000 });
      vi.advanceTimersByTime(42_000);
      expect(long.text()).toBe('');
    }
    expect(long.text()).toBe('build finished in 42 s\n');
    const short = sink(false);
    const p = startProgress({ stream: short, everyMs: 10_000 });
    vi.advanceTimersByTime(3_000);
    p.done();
    p.done();
    expect(short.text()).toBe('');
    expect(formatElapsed(12_400)).toBe('12 s');
  });
});

/**
 * The hot build without cargo, for the common edit: only `.rs` files that workspace
 * crates already compile changed since the last good build. cargo would spend 0.2-0.5 s
 * before and between the crates on start-up, resolution and fingerprints (measured:
 * `npm run bench -- --only conduwuit`); here each affected unit (the crates that read a
 * changed file, and those above them the edit may concern: loader/fastplan.ts,
 * loader/relink.ts) runs again exactly as cargo last ran it,
 * through the rustc wrapper, from the wrapper's replay file (its working directory,
 * arguments and environment; loader/wrapper/hotgen_rustc.rs). Anything else (a manifest,
 * Cargo.lock, a build script or a file it would run again for, a new or removed file, a
 * unit without a replay file, a failed last build, a reload asked for by hand,
 * `HOTGEN_FAST_BUILD=0`) goes to cargo (loader/buildstep.ts).
 *
 * Afterwards cargo's own record of each unit is brought up to date the way cargo does it
 * (Cargo's fingerprint.rs: a path unit is fresh while its dep-info file, in
 * `.fingerprint/<package>-<hash>/dep-lib-<crate>`, is not older than the sources it lists;
 * cargo dates that file to when it started rustc), so the next cargo run does not build
 * the units again. That happens only when rustc's `.d` file of the unit is unchanged
 * (same sources, same `env!` dependencies); else cargo builds the unit once more later.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync, statSync, utimesSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { FastUnit } from './fastplan.js';
import type { ClosurePackage } from './hotbuild.js';
import type { UnitTimingOf } from './phases.js';
import { parseRecord, type UnitRecord } from './units.js';

/** Options of {@link runFastBuild}. */
export interface FastRunOptions {
  /** The rustc wrapper to run (the session's `RUSTC_WRAPPER`). */
  wrapper: string;
  /** Closure packages by directory, for cargo's fingerprint directory names. */
  closure: ReadonlyMap<string, ClosurePackage>;
  /** Where the wrapper writes its records. */
  unitsDir: string;
  /** rustc's diagnostics (rendered) and anything else the wrapper prints. */
  write: (text: string) => void;
  /** A batch process started ahead of time for `wrapper` (else one is started now). */
  batch?: ReplayBatch;
}

/** The wrapper's batch mode (loader/wrapper/fast.rs). */
const BATCH_FLAG = '--hotgen-replay';

/**
 * A `hotgen-rustc --hotgen-replay` process started ahead of time, idle on its stdin until
 * {@link runFastBuild} gives it units, so a build does not wait for a fork and an exec.
 * Used once; {@link dispose} ends an unused one (it exits on end of input).
 */
export class ReplayBatch {
  private readonly child: ChildProcess;
  /** Resolves with the exit code (null when it could not run; `spawnError` says why). */
  readonly closed: Promise<number | null>;
  spawnError?: Error;
  onStdout: (line: string) => void = () => undefined;
  onStderr: (line: string) => void = () => undefined;

  /** Starts the wrapper at `wrapper` in batch mode, running at most `jobs` units at once (default: the CPUs). */
  constructor(
    readonly wrapper: string,
    jobs = os.availableParallelism(),
  ) {
    this.child = spawn(wrapper, [BATCH_FLAG], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, HOTGEN_REPLAY_JOBS: String(Math.max(1, jobs)) } });
    lines(this.child.stdout!, (l) => this.onStdout(l));
    lines(this.child.stderr!, (l) => this.onStderr(l));
    this.child.stdin!.on('error', () => undefined);
    this.closed = new Promise((resolve) => {
      this.child.on('error', (err) => {
        this.spawnError = err;
        resolve(null);
      });
      this.child.on('close', (c) => resolve(c));
    });
  }

  /** Gives the batch its units (and ends its input). */
  send(input: string): void {
    this.child.stdin!.end(input);
  }

  /** Ends an unused batch. */
  dispose(): void {
    this.child.stdin!.end();
  }
}

/** The outcome of {@link runFastBuild}, shaped like a cargo build's. */
export interface FastResult {
  success: boolean;
  /** Rendered compiler errors (ANSI removed), empty on success. */
  errors: string;
  /** Wall time, ms, and its start, epoch ms. */
  buildMs: number;
  startedAt: number;
  /** Module names run again (all of them on success). */
  rebuilt: Set<string>;
  /** Their records, read again (stem → record). */
  records: Map<string, UnitRecord>;
  unitTimings: UnitTimingOf[];
  /** Units whose cargo dep-info was not brought up to date (their `.d` changed: cargo will build them again). */
  cargoStale: string[];
  /** rustc's `.d` text of each unit run, by stem (undefined: unreadable). */
  depInfo: Map<string, string | undefined>;
}

const ANSI = /\x1b\[[0-9;]*[A-Za-z]/g;

/**
 * Runs the plan's units, each after the ones it waits for, at most `jobs` at once, in one
 * `hotgen-rustc --hotgen-replay` process (loader/wrapper/fast.rs: no round trip through
 * this process between units); no unit starts after a failure. Never throws for compiler
 * errors.
 */
export async function runFastBuild(units: readonly FastUnit[], o: FastRunOptions): Promise<FastResult> {
  const t0 = performance.now();
  const startedAt = performance.timeOrigin + t0;
  const res: FastResult = { success: true, errors: '', buildMs: 0, startedAt, rebuilt: new Set(), records: new Map(), unitTimings: [], cargoStale: [], depInfo: new Map() };
  if (units.length === 0) return res;
  const errors: string[] = [];
  const index = new Map(units.map((u, i) => [u.name, i]));
  const invoked: Date[] = [];

  let failed = false;
  const diagnostic = (l: string) => {
    let m: Record<string, unknown> | undefined;
    if (l.startsWith('{')) {
      try {
        m = JSON.parse(l);
      } catch {
        m = undefined;
      }
    }
    if (!m) {
      if (!l.trim()) return;
      o.write(`${l}\n`);
      if (/^(error|hotgen-rustc: )/.test(l)) errors.push(`${l}\n`);
      return;
    }
    if (m.$message_type !== 'diagnostic' || typeof m.rendered !== 'string') return;
    o.write(m.rendered);
    if (String(m.level).startsWith('error')) errors.push(m.rendered);
  };
  const event = (l: string) => {
    const [what, i, v] = l.split('\t');
    const u = units[Number(i)];
    if (!u) return;
    if (what === 'start') invoked[Number(i)] = new Date(Number(v));
    else if (what === 'done' && v === '0') {
      res.rebuilt.add(u.name);
      settle(u, invoked[Number(i)] ?? new Date(), o, res);
    } else if (what === 'done') failed = true;
  };
  const batch = o.batch?.wrapper === o.wrapper ? o.batch : new ReplayBatch(o.wrapper);
  if (batch !== o.batch) o.batch?.dispose();
  const code = await new Promise<number | null>((resolve) => {
    batch.onStdout = (l) => {
      event(l);
      // Every unit done: the batch's own exit is not waited for (its last stderr lines may still come).
      if (res.rebuilt.size === units.length) resolve(0);
    };
    batch.onStderr = diagnostic;
    void batch.closed.then((c) => {
      if (batch.spawnError) errors.push(`hotgen: cannot run the rustc wrapper ${o.wrapper}: ${batch.spawnError.message}\n`);
      resolve(c);
    });
    batch.send(units.map((u) => `${u.replayFile}\t${u.after.map((n) => index.get(n)).join(',')}\n`).join(''));
  });
  res.success = code === 0 && !failed && res.rebuilt.size === units.length;
  res.errors = res.success ? '' : errors.join('').replace(ANSI, '').split('\n').slice(0, 60).join('\n').trimEnd() || 'the rustc wrapper failed';
  res.buildMs = performance.now() - t0;
  return res;
}

/** Calls `fn` with every line of `stream` (the last one even without a newline). */
function lines(stream: NodeJS.ReadableStream, fn: (line: string) => void): void {
  let partial = '';
  stream.setEncoding('utf8');
  stream.on('data', (c: string) => {
    const ls = (partial + c).split('\n');
    partial = ls.pop()!;
    ls.forEach(fn);
  });
  stream.on('end', () => partial && fn(partial));
}

/**
 * After a unit ran: reads its new record, and dates cargo's dep-info (see the module doc)
 * or notes that cargo will build it again. Synchronous (small files): on a busy machine
 * each trip through the thread pool costs a wake-up on the reload's path.
 */
function settle(u: FastUnit, invoked: Date, o: FastRunOptions, res: FastResult): void {
  const read = (f: string) => {
    try {
      return readFileSync(f, 'utf8');
    } catch {
      return undefined;
    }
  };
  const text = read(path.join(o.unitsDir, u.rec.stem));
  const rec = text === undefined ? undefined : parseRecord(u.rec.stem, text);
  const d = read(u.dFile);
  if (rec) {
    res.records.set(rec.stem, rec);
    if (rec.timing) res.unitTimings.push({ name: u.name, timing: rec.timing });
  }
  res.depInfo.set(u.rec.stem, d);
  const fingerprint = cargoDepInfo(u, o.closure);
  let dated = false;
  if (d === u.dBefore && fingerprint !== undefined) {
    try {
      utimesSync(fingerprint, invoked, invoked);
      dated = true;
    } catch {
      // No such file (another cargo layout): cargo builds the unit once more, later.
    }
  }
  if (!dated) res.cargoStale.push(u.name);
}

/**
 * cargo's dep-info file of the unit: `<profile dir>/.fingerprint/<package>-<hash>/dep-lib-<crate>`
 * (the profile dir holds `deps/`). `<hash>` is the output's own where it has one; a cdylib
 * crate's outputs carry none, so its directory is the only `<package>-*` one holding that file
 * (undefined when there are several: cargo then builds the unit once more, later).
 */
function cargoDepInfo(u: FastUnit, closure: ReadonlyMap<string, ClosurePackage>): string | undefined {
  const pkg = closure.get(u.rec.dir);
  if (!pkg) return undefined;
  const fingerprints = path.join(path.dirname(path.dirname(u.dFile)), '.fingerprint');
  const file = `dep-lib-${u.rec.crate}`;
  const hash = /-([0-9a-f]{16})$/.exec(u.rec.stem)?.[1];
  if (hash) return path.join(fingerprints, `${pkg.name}-${hash}`, file);
  let names: string[];
  try {
    names = readdirSync(fingerprints).filter((n) => n.startsWith(`${pkg.name}-`) && statSync(path.join(fingerprints, n, file), { throwIfNoEntry: false }));
  } catch {
    return undefined;
  }
  return names.length === 1 ? path.join(fingerprints, names[0], file) : undefined;
}

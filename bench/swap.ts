/**
 * Swap cost through the real host (build excluded): the time from sending `reload` to
 * the first HTTP answer from the new generation showing the new sum, with the host's
 * own stop/unload/load breakdown; interleaved with the floor (bare dlopen/dlclose of
 * the same files in the same order). Also the host's RSS across many reload cycles.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { FromHost } from '../loader/protocol.js';
import { spawnHostWithListener, rawGet, type BenchHost, type HostSpawnOptions } from './host-driver.js';
import { ChannelFloor } from './channel.js';
import { runFloor } from './floor.js';
import { fileAt, previousState, specsAt, stateOf, type HotWorkspace, type Position } from './hotws.js';
import { interleave } from './stats.js';

/** Host timings of one reload (ms), from its `reloaded` message. */
export type HostTimings = Extract<FromHost, { type: 'reloaded' }>['timings'];

/** A host running a generated workspace, alternating between two states of one reload set. */
export class SwapSession implements AsyncDisposable {
  generation = 1;
  readonly hostTimings: HostTimings[] = [];
  /** Idle time before each swap (not timed), ms. */
  idleMs = 150;
  /** The host runs `pos`'s state (else the state before it). */
  #atPos = false;

  private constructor(
    readonly host: BenchHost,
    readonly port: number,
    readonly ws: HotWorkspace,
    readonly pos: Position,
  ) {}

  /** The modules that reload for an edit at `pos`, bottom-up. */
  get reloadSet(): string[] {
    return stateOf(this.ws, this.pos).rebuilt;
  }

  /**
   * Starts a host with every module as of the state before `pos` and waits for its
   * first correct answer. `libDir` (libstd) goes first on LD_LIBRARY_PATH.
   */
  static async start(ws: HotWorkspace, pos: Position, libDir: string, hostOpts: HostSpawnOptions = {}): Promise<SwapSession> {
    const ld = [libDir, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':');
    const { host, port } = await spawnHostWithListener({ LD_LIBRARY_PATH: ld }, hostOpts);
    const s = new SwapSession(host, port, ws, pos);
    try {
      host.send({ type: 'start', generation: 1, modules: specsAt(ws, previousState(pos), ws.modules), stopTimeoutMs: 5000 });
      await host.next('started');
      await s.waitAnswer(1, stateOf(ws, previousState(pos)).sum);
    } catch (err) {
      await host[Symbol.asyncDispose]();
      throw err;
    }
    return s;
  }

  /** Polls GET / until the body is `gen <generation> sum <sum>`; returns the number of tries. @throws after 10 s. */
  async waitAnswer(generation: number, sum: number): Promise<number> {
    const want = `gen ${generation} sum ${sum}\n`;
    const deadline = Date.now() + 10_000;
    let last = '';
    for (let tries = 1; ; tries++) {
      try {
        const r = await rawGet(this.port, '/', 5000);
        if (r.status === 200 && r.body === want) return tries;
        last = `${r.status} ${JSON.stringify(r.body)}`;
      } catch (err) {
        last = (err as Error).message;
      }
      if (Date.now() > deadline) throw new Error(`no answer ${JSON.stringify(want)} within 10 s; last: ${last}`);
    }
  }

  /**
   * One reload of the reload set, toward `pos`'s state on even generations and back on
   * odd ones. Returns ms from sending `reload` to the first correct answer, asked for once
   * `reloaded` has arrived (polling during the swap measured slower: on 2 cores the polls
   * compete with the host for CPU).
   * @throws Error when the host answers anything but `reloaded` (restart-needed...).
   */
  async swap(): Promise<number> {
    this.#atPos = !this.#atPos;
    const { ms, timings } = await this.#reload(this.reloadSet);
    this.hostTimings.push(timings);
    return ms;
  }

  /**
   * A new generation of the code already mapped (a reload that unloads and loads nothing):
   * what a swap costs besides dlclose and dlopen (IPC both ways, stop, join, thread start,
   * first answer). Returns ms as {@link swap} does.
   */
  async regenerate(): Promise<number> {
    return (await this.#reload([])).ms;
  }

  async #reload(set: readonly string[]): Promise<{ ms: number; timings: HostTimings }> {
    // Real reloads are a build apart (caches cool down, the host collects its garbage).
    await new Promise((r) => setTimeout(r, this.idleMs));
    const g = ++this.generation;
    const state = this.#atPos ? this.pos : previousState(this.pos);
    const t0 = performance.now();
    this.host.send({ type: 'reload', generation: g, unload: [...set].reverse(), load: specsAt(this.ws, state, set) });
    const r = await this.host.next('reloaded');
    await this.waitAnswer(g, stateOf(this.ws, state).sum);
    return { ms: performance.now() - t0, timings: r.timings };
  }

  async [Symbol.asyncDispose](): Promise<void> {
    const r = await this.host.shutdown();
    if (r.code !== 0) throw new Error(`the host exited with ${r.code ?? r.signal} after the swaps`);
  }
}

/** Result of {@link measureSwap}; times in ms. */
export interface SwapMeasure {
  pos: Position;
  reloadSet: string[];
  swapMs: number[];
  floorMs: number[];
  hostTimings: HostTimings[];
  /** {@link SwapSession.regenerate} in the same session: the swap without dlclose/dlopen. */
  regenerateMs?: number[];
  /** The channel floor in the same session (bench/channel.ts): an IPC round trip and a loopback GET to a bare Node child. */
  channelMs?: number[];
  /** Objects the floor found still mapped after dlclose (0 expected). */
  floorStillMapped: number;
}

/**
 * Swap at `pos` through the host, `runs` times, interleaved with the floor program
 * (`floorBin`, one process per round, 2 iterations, the second taken) and with a new
 * generation that reloads nothing ({@link SwapSession.regenerate}).
 */
export async function measureSwap(ws: HotWorkspace, pos: Position, opts: { runs: number; floorBin: string; libDir: string }): Promise<SwapMeasure> {
  await using s = await SwapSession.start(ws, pos, opts.libDir);
  await using channel = await ChannelFloor.start();
  const set = s.reloadSet;
  const keep = ws.modules.filter((m) => !set.includes(m)).map((m) => fileAt(ws, previousState(pos), m));
  const reload = set.map((m) => fileAt(ws, pos, m));
  let still = 0;
  const samples = await interleave(
    [
      { name: 'hotgen', run: () => s.swap() },
      { name: 'regenerate', run: () => s.regenerate() },
      { name: 'channel', run: () => channel.measure(s.idleMs) },
      {
        name: 'floor',
        run: async () => {
          const f = await runFloor(opts.floorBin, { iterations: 2, keep, reload, libDir: opts.libDir });
          still += f.still_mapped;
          return f.total_us[1] / 1000;
        },
      },
    ],
    { runs: opts.runs, warmup: 1 },
  );
  return {
    pos,
    reloadSet: set,
    swapMs: samples.hotgen,
    floorMs: samples.floor,
    hostTimings: s.hostTimings.slice(1),
    regenerateMs: samples.regenerate,
    channelMs: samples.channel,
    floorStillMapped: still,
  };
}

/** One reading of the host's memory. */
export interface MemoryReading {
  /** Reloads done (0 = right after start). */
  cycles: number;
  /** VmRSS. */
  bytes: number;
  /** Lines of /proc/<pid>/maps (mappings). */
  mapsLines: number;
}

/** RSS and mappings of the host after the given numbers of reload cycles, plus after start (cycle 0). */
export interface MemoryMeasure {
  pos: Position;
  modules: number;
  reloadSet: number;
  rss: MemoryReading[];
  /** Distinct module files mapped in the host at the end (/proc/<pid>/maps); equal to `modules` when no old library leaked. */
  mappedModules: number;
}

/** Idle time before each reload of the memory benchmark (ms): longer than the host's idle collection delay (50 ms, host.ts). */
export const MEMORY_IDLE_MS = 100;

/**
 * Reloads at `pos` up to max(checkpoints) times, `MEMORY_IDLE_MS` apart, reading VmRSS and
 * the /proc/<pid>/maps line count 200 ms after start and after each checkpoint.
 */
export async function measureMemory(ws: HotWorkspace, pos: Position, checkpoints: number[], libDir: string): Promise<MemoryMeasure> {
  await using s = await SwapSession.start(ws, pos, libDir);
  s.idleMs = MEMORY_IDLE_MS;
  const settle = () => new Promise((r) => setTimeout(r, 200));
  const read = async (cycles: number): Promise<MemoryReading> => {
    const [bytes, maps] = await Promise.all([s.host.rssBytes(), readFile(`/proc/${s.host.pid}/maps`, 'utf8')]);
    return { cycles, bytes, mapsLines: maps.split('\n').filter(Boolean).length };
  };
  await settle();
  const rss = [await read(0)];
  const max = Math.max(...checkpoints);
  for (let c = 1; c <= max; c++) {
    await s.swap();
    if (checkpoints.includes(c)) {
      await settle();
      rss.push(await read(c));
    }
  }
  const maps = await readFile(`/proc/${s.host.pid}/maps`, 'utf8');
  const statesDir = path.dirname(stateOf(ws, 'v1').dir);
  const mapped = new Set(maps.split('\n').map((l) => l.trim().split(/\s+/).slice(5).join(' ')).filter((f) => f.startsWith(statesDir)));
  return { pos, modules: ws.modules.length, reloadSet: s.reloadSet.length, rss, mappedModules: mapped.size };
}

/** {@link measureMemory} repeated on fresh hosts; the rounds in run order. */
export interface MemoryRounds {
  pos: Position;
  modules: number;
  reloadSet: number;
  /** Reload counts at which RSS and mappings were read (besides 0, after start). */
  checkpoints: number[];
  rounds: MemoryMeasure[];
}

/**
 * `rounds` times: a fresh host reloading at `pos` up to max(`checkpoints`) times (see
 * {@link measureMemory}), one host after the other. `onRound` gets each finished round
 * and its wall time (ms) for progress output.
 */
export async function measureMemoryRounds(
  ws: HotWorkspace,
  pos: Position,
  checkpoints: number[],
  libDir: string,
  rounds: number,
  onRound?: (round: number, m: MemoryMeasure, ms: number) => void,
): Promise<MemoryRounds> {
  const out: MemoryMeasure[] = [];
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now();
    const m = await measureMemory(ws, pos, checkpoints, libDir);
    out.push(m);
    onRound?.(i, m, performance.now() - t0);
  }
  return { pos, modules: out[0]?.modules ?? ws.modules.length, reloadSet: out[0]?.reloadSet ?? 0, checkpoints, rounds: out };
}

/**
 * Swap cost through the real host (build excluded): the time from sending `reload` to
 * the first HTTP answer from the new generation showing the new sum, with the host's
 * own stop/unload/load breakdown; interleaved with the floor (bare dlopen/dlclose of
 * the same files in the same order). Also the host's RSS across many reload cycles.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { FromHost } from '../loader/protocol.js';
import { spawnHostWithListener, httpGet, type BenchHost } from './host-driver.js';
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
  static async start(ws: HotWorkspace, pos: Position, libDir: string): Promise<SwapSession> {
    const ld = [libDir, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':');
    const { host, port } = await spawnHostWithListener({ LD_LIBRARY_PATH: ld });
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
        const r = await httpGet(this.port, '/', 5000);
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
   * odd ones. Returns ms from sending `reload` to the first correct answer.
   * @throws Error when the host answers anything but `reloaded` (restart-needed...).
   */
  async swap(): Promise<number> {
    // Real reloads are a build apart; give the host's pre-spawned generation Worker time to boot (20-40 ms).
    await new Promise((r) => setTimeout(r, this.idleMs));
    const g = ++this.generation;
    const state = g % 2 === 0 ? this.pos : previousState(this.pos);
    const set = this.reloadSet;
    const t0 = performance.now();
    this.host.send({ type: 'reload', generation: g, unload: [...set].reverse(), load: specsAt(this.ws, state, set) });
    const r = await this.host.next('reloaded');
    await this.waitAnswer(g, stateOf(this.ws, state).sum);
    const ms = performance.now() - t0;
    this.hostTimings.push(r.timings);
    return ms;
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
  /** Objects the floor found still mapped after dlclose (0 expected). */
  floorStillMapped: number;
}

/**
 * Swap at `pos` through the host, `runs` times, interleaved with the floor program
 * (`floorBin`, one process per round, 2 iterations, the second taken).
 */
export async function measureSwap(ws: HotWorkspace, pos: Position, opts: { runs: number; floorBin: string; libDir: string }): Promise<SwapMeasure> {
  await using s = await SwapSession.start(ws, pos, opts.libDir);
  const set = s.reloadSet;
  const keep = ws.modules.filter((m) => !set.includes(m)).map((m) => fileAt(ws, previousState(pos), m));
  const reload = set.map((m) => fileAt(ws, pos, m));
  let still = 0;
  const samples = await interleave(
    [
      { name: 'hotgen', run: () => s.swap() },
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
  return { pos, reloadSet: set, swapMs: samples.hotgen, floorMs: samples.floor, hostTimings: s.hostTimings.slice(1), floorStillMapped: still };
}

/** RSS of the host (bytes) after the given numbers of reload cycles, plus after start (cycle 0). */
export interface MemoryMeasure {
  pos: Position;
  modules: number;
  reloadSet: number;
  rss: { cycles: number; bytes: number }[];
  /** Distinct module files mapped in the host at the end (/proc/<pid>/maps); equal to `modules` when no old library leaked. */
  mappedModules: number;
}

/** Reloads at `pos` up to max(checkpoints) times, reading VmRSS after each checkpoint. */
export async function measureMemory(ws: HotWorkspace, pos: Position, checkpoints: number[], libDir: string): Promise<MemoryMeasure> {
  await using s = await SwapSession.start(ws, pos, libDir);
  const settle = () => new Promise((r) => setTimeout(r, 200));
  await settle();
  const rss = [{ cycles: 0, bytes: await s.host.rssBytes() }];
  const max = Math.max(...checkpoints);
  for (let c = 1; c <= max; c++) {
    await s.swap();
    if (checkpoints.includes(c)) {
      await settle();
      rss.push({ cycles: c, bytes: await s.host.rssBytes() });
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
  /** Reload counts at which RSS was read (besides 0, after start). */
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

/**
 * Edit to serving and availability on the example server: `hotgen dev` against the
 * restart baseline (`cargo build` of the static binary, stop the old process, start the
 * new one, poll until it answers), on the same one-line edits, interleaved.
 */
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Linker } from '../common/types.js';
import { readPlan } from '../common/plan-read.js';
import { resolveToolchain } from '../loader/build.js';
import { modulesFromUnits, prepareHotBuild } from '../loader/hotbuild.js';
import { httpGet } from './host-driver.js';
import { DevSession, StaticServer, buildStatic, copyExample, editLayer, freePort, initExample, pollFor, type Layer } from './example.js';
import { interleave } from './stats.js';
import type { HostTimings } from './swap.js';

/** Both sides of one linker's set-up, running. */
export class ServingPair implements AsyncDisposable {
  version = 1;
  private constructor(
    readonly linker: Linker,
    readonly hotRoot: string,
    readonly hotPort: number,
    readonly dev: DevSession,
    readonly staticRoot: string,
    readonly staticPort: number,
    private server: StaticServer,
    private bin: string,
    readonly dir: string,
  ) {}

  /**
   * Copies the example twice under `dir` (emptied): `hot/` (hotgen init, then
   * `hotgen dev`) and `static/` (built and started as the baseline). Resolves once both answer.
   * `log` gets progress lines. @throws when a build or a start fails.
   */
  static async start(dir: string, linker: Linker, log: (s: string) => void = () => {}): Promise<ServingPair> {
    await rm(dir, { recursive: true, force: true });
    const hotRoot = path.join(dir, 'hot');
    const staticRoot = path.join(dir, 'static');
    await mkdir(dir, { recursive: true });
    await Promise.all([copyExample(hotRoot), copyExample(staticRoot)]);
    const [hotPort, staticPort] = [await freePort(), await freePort()];
    await initExample(hotRoot, hotPort, linker);
    const t0 = Date.now();
    const built = await buildStatic(staticRoot, linker);
    log(`  ${linker}: static baseline built in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const server = StaticServer.spawn(built.bin, staticPort, path.join(dir, 'static-store.log'));
    const dev = DevSession.spawn(hotRoot, { HOTGEN_TOOLCHAIN: process.env.HOTGEN_TOOLCHAIN || 'nightly', HOTGEN_EXAMPLE_STORE: path.join(dir, 'hot-store.log'), HOTGEN_EXAMPLE_LOG: 'error' });
    const pair = new ServingPair(linker, hotRoot, hotPort, dev, staticRoot, staticPort, server, built.bin, dir);
    try {
      const t1 = Date.now();
      await dev.waitEvent(['start'], 0);
      log(`  ${linker}: hotgen dev started in ${((Date.now() - t1) / 1000).toFixed(1)} s (first hot build included)`);
      await pollFor(hotPort, '/version', 'api v1', 60_000, 10, () => dev.assertAlive());
      await pollFor(staticPort, '/version', 'api v1', 60_000);
    } catch (err) {
      await pair[Symbol.asyncDispose]();
      throw err;
    }
    return pair;
  }

  /**
   * hotgen: write the edit, then poll `/version` until it shows it. Returns ms from the
   * write to that answer; waits (untimed) for the cycle's event and returns it too.
   */
  async hotEdit(layer: Layer): Promise<{ ms: number; event: Record<string, unknown>; want: string; body: string }> {
    const v = ++this.version;
    const mark = this.dev.events.length;
    const t0 = performance.now();
    const want = await editLayer(this.hotRoot, layer, v);
    const body = await pollFor(this.hotPort, '/version', want, 120_000, 10, () => this.dev.assertAlive());
    const ms = performance.now() - t0;
    const event = await this.dev.waitEvent(['reload', 'restart', 'build-failed', 'reload-failed', 'error'], mark, 60_000);
    if (event.event !== (layer.frozen ? 'restart' : 'reload')) throw new Error(`edit in ${layer.name}: expected a ${layer.frozen ? 'restart' : 'reload'}, got ${JSON.stringify(event)}`);
    return { ms, event, want, body };
  }

  /** Baseline: write the edit, `cargo build`, stop the old process, start the new one, poll until the answer shows it. */
  async staticEdit(layer: Layer): Promise<{ ms: number; buildMs: number; want: string; body: string }> {
    const v = ++this.version;
    const t0 = performance.now();
    const want = await editLayer(this.staticRoot, layer, v);
    const built = await buildStatic(this.staticRoot, this.linker);
    this.bin = built.bin;
    await this.restartStatic();
    const body = await pollFor(this.staticPort, '/version', want, 120_000, 10, () => this.server.assertAlive());
    return { ms: performance.now() - t0, buildMs: built.ms, want, body };
  }

  /**
   * The `.so` files of the hot copy's last hot build by module name (from the rustc
   * wrapper's records, as `hotgen dev --no-build` finds them), e.g. for the floor.
   * @throws UserError when no hot build has produced the entry yet.
   */
  async hotModuleFiles(): Promise<Map<string, string>> {
    const plan = await readPlan(this.hotRoot);
    const tc = await resolveToolchain(plan, this.hotRoot);
    const hot = await prepareHotBuild({ root: this.hotRoot, plan, plus: tc.plus, env: tc.env });
    const { modules } = await modulesFromUnits(hot, plan);
    return new Map(modules.map((m) => [m.name, m.source]));
  }

  /** @throws Error when the static server has exited. */
  assertStaticAlive(): void {
    this.server.assertAlive();
  }

  /** Stops the static server and starts the current binary again (not waiting for it to answer). */
  async restartStatic(): Promise<void> {
    await this.server.stop();
    this.server = StaticServer.spawn(this.bin, this.staticPort, path.join(this.dir, 'static-store.log'));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await Promise.all([this.dev.stop(), this.server.stop()]);
  }
}

/** Samples of {@link measureEditToServing}, ms. */
export interface EditMeasure {
  linker: Linker;
  layer: Layer['name'];
  hotgen: number[];
  restart: number[];
  /** From hotgen's events: build and swap (or restart) time per run, ms. */
  hotBuildMs: number[];
  hotSwapMs: number[];
  staticBuildMs: number[];
  /** The host's stop/unload/load breakdown of each reload (absent for restarts). */
  hotTimings: HostTimings[];
}

/** Interleaved (hotgen, restart) edits of `layer`, `runs` measured rounds after one warm-up. */
export async function measureEditToServing(pair: ServingPair, layer: Layer, runs: number): Promise<EditMeasure> {
  const m: EditMeasure = { linker: pair.linker, layer: layer.name, hotgen: [], restart: [], hotBuildMs: [], hotSwapMs: [], staticBuildMs: [], hotTimings: [] };
  let round = -1;
  const samples = await interleave(
    [
      {
        name: 'hotgen',
        run: async (i) => {
          round = i;
          const r = await pair.hotEdit(layer);
          if (i >= 1) {
            m.hotBuildMs.push(Number(r.event.buildMs ?? NaN));
            m.hotSwapMs.push(Number(r.event.swapMs ?? r.event.restartMs ?? NaN));
            if (r.event.timings) m.hotTimings.push(r.event.timings as HostTimings);
          }
          return r.ms;
        },
      },
      {
        name: 'restart',
        run: async () => {
          const r = await pair.staticEdit(layer);
          if (round >= 1) m.staticBuildMs.push(r.buildMs);
          return r.ms;
        },
      },
    ],
    { runs, warmup: 1 },
  );
  m.hotgen = samples.hotgen;
  m.restart = samples.restart;
  return m;
}

/** What a loopback load client saw. */
export interface LoadStats {
  ok: number;
  failed: number;
  refused: number;
  /** Worst request latency, ms. */
  worstMs: number;
  /** First few failure messages. */
  examples: string[];
}

/** `concurrency` loops of GET /health on fresh connections, each pausing `pauseMs` between requests. */
export function startLoad(port: number, concurrency = 2, pauseMs = 5): { end: () => Promise<LoadStats> } {
  let stop = false;
  const s: LoadStats = { ok: 0, failed: 0, refused: 0, worstMs: 0, examples: [] };
  const loop = async () => {
    while (!stop) {
      const t0 = performance.now();
      try {
        const r = await httpGet(port, '/health', 10_000);
        if (r.status === 200) s.ok++;
        else {
          s.failed++;
          if (s.examples.length < 5) s.examples.push(`status ${r.status}`);
        }
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ECONNREFUSED') s.refused++;
        else s.failed++;
        if (s.examples.length < 5) s.examples.push((err as Error).message);
      }
      s.worstMs = Math.max(s.worstMs, performance.now() - t0);
      await new Promise((r) => setTimeout(r, pauseMs));
    }
  };
  const loops = Array.from({ length: concurrency }, loop);
  return {
    async end() {
      stop = true;
      await Promise.all(loops);
      return s;
    },
  };
}

/**
 * Availability during `cycles` reloads (api edits under hotgen dev) and `cycles`
 * restarts of the static binary (no rebuild), each followed by `dwellMs` of serving so
 * both loads also see normal operation.
 */
export async function measureAvailability(pair: ServingPair, api: Layer, cycles: number, dwellMs = 250): Promise<{ hotgen: LoadStats; restart: LoadStats; cycles: number }> {
  const dwell = () => new Promise((r) => setTimeout(r, dwellMs));
  const hotLoad = startLoad(pair.hotPort);
  for (let i = 0; i < cycles; i++) {
    await pair.hotEdit(api);
    await dwell();
  }
  const hotgen = await hotLoad.end();
  const staticLoad = startLoad(pair.staticPort);
  for (let i = 0; i < cycles; i++) {
    await pair.restartStatic();
    await pollFor(pair.staticPort, '/health', 'ok', 60_000, 2, () => pair.assertStaticAlive());
    await dwell();
  }
  const restart = await staticLoad.end();
  return { hotgen, restart, cycles };
}

/** One round of {@link measureAvailabilityRounds}: the load seen during N reloads, then during N restarts. */
export interface AvailabilityRound {
  hotgen: LoadStats;
  restart: LoadStats;
}

/** Result of {@link measureAvailabilityRounds}: `cycles` reloads (and restarts) per round, rounds in run order. */
export interface AvailabilityMeasure {
  cycles: number;
  rounds: AvailabilityRound[];
}

/**
 * {@link measureAvailability} `rounds` times: each round is `cycles` reloads under
 * hotgen dev, then `cycles` restarts of the baseline (hotgen and baseline interleaved
 * round by round, A B A B ...), each side under a fresh load. `onRound` gets each
 * finished round and its wall time (ms) for progress output.
 */
export async function measureAvailabilityRounds(
  pair: ServingPair,
  api: Layer,
  cycles: number,
  rounds: number,
  onRound?: (round: number, r: AvailabilityRound, ms: number) => void,
): Promise<AvailabilityMeasure> {
  const out: AvailabilityRound[] = [];
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now();
    const { hotgen, restart } = await measureAvailability(pair, api, cycles);
    out.push({ hotgen, restart });
    onRound?.(i, { hotgen, restart }, performance.now() - t0);
  }
  return { cycles, rounds: out };
}

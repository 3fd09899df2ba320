/**
 * `npm run bench -- --only conduwuit`: edit to the first correct answer on
 * examples/conduwuit, whose start-up (database, migrations, a cache of N rows) makes a
 * restart cost seconds. hotgen dev against a fair restart baseline, interleaved on the
 * same one-line edits in `api` (top of the DAG), `service` (middle) and `database`
 * (bottom): `cargo build` of the static binary, then a restart that keeps the listening
 * socket (bench/conduwuit-setup.ts `Holder`), counted once the answer is correct (the
 * edit shows and the last row of the cache is there). Also the `api` edit against N, the
 * phases of each reload (hotgen's `--json` report) and failed requests under load across
 * many reloads and restarts. Figures: bench/conduwuit-figures.ts.
 */
import { mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { haveCommand } from '../common/exec.js';
import type { ReloadPhases } from '../loader/phases.js';
import { buildSockhold, buildStaticServer, copyConduwuit, CONDUWUIT_LAYERS, editLayer, Holder, planToolchain, waitCorrect, type ConduwuitLayer } from './conduwuit-setup.js';
import { DevSession, freePort } from './example.js';
import { startLoad, type LoadStats } from './serving.js';
import { interleave } from './stats.js';

/** What one run measures. */
export interface ConduwuitConfig {
  /** Measured rounds per edit figure (after one warm-up round). */
  runs: number;
  /** N values (rows loaded at start-up); the first is the default, where every layer is measured. */
  rows: number[];
  /** Reloads (and restarts) under load for the availability figure. */
  availability: number;
  /** Also the api edit at the default N with every build by cargo (`HOTGEN_FAST_BUILD=0`): what the build without cargo saves. */
  cargoBuild: boolean;
  /** Also the api and service edits at the default N with their dependents compiled (`HOTGEN_RELINK=0`): an edit they may see. */
  dependents: boolean;
}

/** The two configurations: full (≥ 10 runs, 100 reloads under load) and `--quick`. */
export function conduwuitConfig(quick: boolean): ConduwuitConfig {
  return quick
    ? { runs: 3, rows: [150_000, 1_000, 50_000], availability: 20, cargoBuild: true, dependents: true }
    : { runs: 10, rows: [150_000, 1_000, 50_000, 500_000], availability: 100, cargoBuild: true, dependents: true };
}

/** One measured hotgen edit. */
export interface HotSample {
  /** File write → first correct answer, ms. */
  ms: number;
  /** The cycle's report (`phases` of the `reload` event). */
  phases: ReloadPhases;
  /** The event's `buildMs` (cargo, or the build without cargo: loader/fastbuild.ts). */
  buildMs: number;
}

/** One measured restart-baseline edit. */
export interface RestartSample {
  ms: number;
  /** `cargo build` of the static binary. */
  buildMs: number;
  /** Stop the old process → first correct answer of the new one. */
  restartMs: number;
}

/** Samples of one edited crate at one N. */
export interface EditSeries {
  layer: ConduwuitLayer['name'];
  rows: number;
  /**
   * `cargo`: hotgen ran with `HOTGEN_FAST_BUILD=0` (every build by cargo); `dependents`:
   * with `HOTGEN_RELINK=0` (the edited crate's dependents compiled again, as for an edit
   * they may see: a signature, a generic or async function).
   */
  build?: 'cargo' | 'dependents';
  hotgen: HotSample[];
  restart: RestartSample[];
}

/** The whole benchmark's raw data. */
export interface ConduwuitMeasure {
  config: ConduwuitConfig;
  edits: EditSeries[];
  availability?: { rows: number; reloads: number; hotgen: LoadStats; restart: LoadStats };
  /** Load average (1 min) when each part started, for the record. */
  load: Record<string, number>;
  notes: string[];
}

/** Both sides at one N: `hotgen dev` on `hot/`, the static server behind the socket holder on `static/`. */
class Sides implements AsyncDisposable {
  version = 1;
  constructor(
    readonly rows: number,
    readonly hotRoot: string,
    readonly hotPort: number,
    readonly dev: DevSession,
    readonly staticRoot: string,
    readonly staticPort: number,
    readonly holder: Holder,
    readonly plus: string[],
    readonly mold: boolean,
  ) {}

  /** hotgen: write the edit, wait for the correct answer; then (untimed) the cycle's event. */
  async hotEdit(layer: ConduwuitLayer): Promise<HotSample> {
    const mark = this.dev.events.length;
    const t0 = performance.now();
    const want = await editLayer(this.hotRoot, layer, ++this.version);
    await waitCorrect(this.hotPort, want, this.rows, { check: () => this.dev.assertAlive() });
    const ms = performance.now() - t0;
    const ev = await this.dev.waitEvent(['reload', 'restart', 'build-failed', 'reload-failed'], mark, 120_000);
    if (ev.event !== 'reload') throw new Error(`edit in ${layer.name}: expected a reload, got ${JSON.stringify(ev).slice(0, 2000)}`);
    return { ms, phases: ev.phases as ReloadPhases, buildMs: Number(ev.buildMs) };
  }

  /** Baseline: write the edit, `cargo build`, stop the old server, start the new one on the kept socket, wait for the correct answer. */
  async restartEdit(layer: ConduwuitLayer): Promise<RestartSample> {
    const t0 = performance.now();
    const want = await editLayer(this.staticRoot, layer, ++this.version);
    const built = await buildStaticServer(this.staticRoot, this.plus, this.mold);
    const t1 = performance.now();
    await this.restart(want);
    const end = performance.now();
    return { ms: end - t0, buildMs: built.ms, restartMs: end - t1 };
  }

  /** Restarts the static server (same binary or a new build) and waits for `want` and the whole cache. */
  async restart(want = '"core":"core v1"'): Promise<void> {
    await this.holder.stop();
    await this.holder.start();
    await waitCorrect(this.staticPort, want, this.rows, { check: () => this.holder.assertAlive() });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await Promise.all([this.dev.stop(), this.holder[Symbol.asyncDispose]()]);
  }
}

/**
 * Starts both sides at `rows`: `hotgen dev` (its first hot build; the plan's toolchain, not
 * the bench's nightly) and the static server (built, then started behind the holder).
 * Databases are per side and per N under `dir` (the first start inserts the rows).
 */
async function startSides(dir: string, rows: number, sockhold: string, log: (s: string) => void, devEnv: Record<string, string> = {}): Promise<Sides> {
  const hotRoot = path.join(dir, 'hot');
  const staticRoot = path.join(dir, 'static');
  const [hotPort, staticPort] = [await freePort(), await freePort()];
  await Promise.all([copyConduwuit(hotRoot, hotPort), copyConduwuit(staticRoot, staticPort)]);
  const mold = await haveCommand('mold');
  const plus = await planToolchain(hotRoot);
  const appEnv = (side: string) => ({ CONDUWUIT_ROWS: String(rows), CONDUWUIT_DATABASE_PATH: path.join(dir, `${side}-${rows}.db`), CONDUWUIT_LOG: 'warn' });
  const t0 = performance.now();
  // An empty HOTGEN_TOOLCHAIN: the plan's pin (stable: see examples/conduwuit/README.md), not the bench's nightly.
  const dev = DevSession.spawn(hotRoot, { ...appEnv('hot'), HOTGEN_TOOLCHAIN: '', ...devEnv });
  let holder: Holder | undefined;
  try {
    const built = await buildStaticServer(staticRoot, plus, mold);
    log(`  N=${rows}: static binary built in ${(built.ms / 1000).toFixed(1)} s`);
    holder = Holder.spawn(sockhold, staticPort, built.bin, appEnv('static'));
    await holder.start();
    await waitCorrect(staticPort, '"api":"api v1"', rows, { timeoutMs: 600_000, check: () => holder!.assertAlive() });
    await dev.waitEvent(['start'], 0);
    await waitCorrect(hotPort, '"api":"api v1"', rows, { timeoutMs: 600_000, check: () => dev.assertAlive() });
    log(`  N=${rows}: both sides answer (${((performance.now() - t0) / 1000).toFixed(0)} s, builds and first starts included)`);
  } catch (err) {
    await dev.stop();
    await holder?.[Symbol.asyncDispose]();
    throw err;
  }
  return new Sides(rows, hotRoot, hotPort, dev, staticRoot, staticPort, holder, plus, mold);
}

/** Interleaved (hotgen, restart) edits of `layer`, `runs` measured rounds after one warm-up. */
async function measureEdits(s: Sides, layer: ConduwuitLayer, runs: number, log: (s: string) => void): Promise<EditSeries> {
  const series: EditSeries = { layer: layer.name, rows: s.rows, hotgen: [], restart: [] };
  let hot: HotSample | undefined;
  let restart: RestartSample | undefined;
  await interleave(
    [
      { name: 'hotgen', run: async () => ((hot = await s.hotEdit(layer)), hot.ms) },
      { name: 'restart', run: async () => ((restart = await s.restartEdit(layer)), restart.ms) },
    ],
    {
      runs,
      warmup: 1,
      onSample: (side, i) => {
        if (side === 'hotgen') series.hotgen.push(hot!);
        else {
          series.restart.push(restart!);
          log(`  N=${s.rows} ${layer.name} ${i + 1}/${runs}: hotgen ${hot!.ms.toFixed(0)} ms (overhead ${hot!.phases.overheadMs.toFixed(0)}), restart ${restart!.ms.toFixed(0)} ms`);
        }
      },
    },
  );
  return series;
}

/** Failed requests under a loopback load during `n` api reloads, then during `n` restarts (no rebuild) of the static server. */
async function measureAvailability(s: Sides, n: number, log: (s: string) => void): Promise<NonNullable<ConduwuitMeasure['availability']>> {
  const api = CONDUWUIT_LAYERS[0];
  const hotLoad = startLoad(s.hotPort);
  for (let i = 0; i < n; i++) {
    await s.hotEdit(api);
    if ((i + 1) % 10 === 0) log(`  availability: ${i + 1}/${n} reloads`);
  }
  const hotgen = await hotLoad.end();
  const restartLoad = startLoad(s.staticPort);
  for (let i = 0; i < n; i++) {
    await s.restart();
    if ((i + 1) % 10 === 0) log(`  availability: ${i + 1}/${n} restarts`);
  }
  const restart = await restartLoad.end();
  return { rows: s.rows, reloads: n, hotgen, restart };
}

/**
 * Runs the benchmark in `dir` (kept between runs: `target/` directories and databases are
 * reused). `log` gets progress lines. @throws when a build, a start or an edit fails.
 */
export async function measureConduwuit(dir: string, cfg: ConduwuitConfig, log: (s: string) => void = () => {}): Promise<ConduwuitMeasure> {
  await mkdir(dir, { recursive: true });
  const m: ConduwuitMeasure = { config: cfg, edits: [], load: {}, notes: [] };
  const sockhold = await buildSockhold(path.join(dir, 'bin'));
  const loadNow = () => +os.loadavg()[0].toFixed(2);
  for (const [k, rows] of cfg.rows.entries()) {
    m.load[`start N=${rows}`] = loadNow();
    await using sides = await startSides(dir, rows, sockhold, log);
    const layers = k === 0 ? CONDUWUIT_LAYERS : CONDUWUIT_LAYERS.slice(0, 1);
    for (const layer of layers) {
      m.load[`edits ${layer.name} N=${rows}`] = loadNow();
      m.edits.push(await measureEdits(sides, layer, cfg.runs, log));
    }
    if (k === 0 && cfg.availability > 0) {
      m.load[`availability N=${rows}`] = loadNow();
      m.availability = await measureAvailability(sides, cfg.availability, log);
    }
  }
  if (cfg.cargoBuild) {
    const rows = cfg.rows[0];
    m.load[`edits api by cargo N=${rows}`] = loadNow();
    await using sides = await startSides(dir, rows, sockhold, log, { HOTGEN_FAST_BUILD: '0' });
    m.edits.push({ ...(await measureEdits(sides, CONDUWUIT_LAYERS[0], cfg.runs, log)), build: 'cargo' });
  }
  if (cfg.dependents) {
    const rows = cfg.rows[0];
    m.load[`edits with dependents N=${rows}`] = loadNow();
    await using sides = await startSides(dir, rows, sockhold, log, { HOTGEN_RELINK: '0' });
    for (const layer of CONDUWUIT_LAYERS.slice(0, 2)) m.edits.push({ ...(await measureEdits(sides, layer, cfg.runs, log)), build: 'dependents' });
  }
  m.load.end = loadNow();
  const hot = m.edits.flatMap((e) => e.hotgen);
  const byCargo = hot.filter((h) => h.phases.buildBy === 'cargo').length;
  m.notes.push(`conduwuit: toolchain ${(await planToolchain(path.join(dir, 'hot'))).join(' ') || '(PATH)'} (the plan's), linker ${(await haveCommand('mold')) ? 'mold' : 'default'}; ${hot.length - byCargo} of ${hot.length} measured hotgen edits built without cargo, ${byCargo} by cargo`);
  return m;
}

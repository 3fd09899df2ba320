/**
 * `npm run bench [-- --quick] [-- --only startup,init,scale,memory,serving,availability]`:
 * runs the benchmarks, writes `bench/results/<YYYY-MM-DD>.json` (merged by figure id
 * with a file of the same day, so `--only` runs add up), renders the SVG charts next to
 * it and prints the markdown table. Goals are reported as met / missed and never fail
 * the run; a benchmark that errors is reported, the others still run, and the exit
 * code is then 1. Progress goes to stderr, the table to stdout.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import type { Linker } from '../common/types.js';
import { haveCommand, run } from '../common/exec.js';
import { DEFAULT_NIGHTLY } from '../generator/plan.js';
import { LAYERS } from './example.js';
import { apiSwapFigures, buildFigures, charts, editFigure, initFigures, swapFigures } from './figures.js';
import { availabilityRoundFigures, memoryRoundFigures } from './rounds-figures.js';
import { buildFloor, runFloor } from './floor.js';
import { measureInit } from './init-bench.js';
import { measureStartup, startupFigures } from './startup.js';
import { measureBuildModels } from './buildmodel.js';
import { conduwuitConfig, measureConduwuit } from './conduwuit.js';
import { conduwuitCharts, conduwuitFigures } from './conduwuit-figures.js';
import { prepareHotWorkspace } from './hotws.js';
import { repoRoot, scratchDir } from './paths.js';
import { ServingPair, measureAvailabilityRounds, measureEditToServing } from './serving.js';
import { markdownTable, type Figure } from './stats.js';
import { measureMemoryRounds, measureSwap, type HostTimings } from './swap.js';

/** Benchmark names for `--only`. */
export const BENCHES = ['startup', 'init', 'scale', 'memory', 'serving', 'availability', 'buildmodel', 'conduwuit'] as const;
/** Run only when named in `--only` (issue 8's old-vs-new build model comparison, issue 10's conduwuit example; not in the time budgets). */
const OPT_IN: readonly string[] = ['buildmodel', 'conduwuit'];
type Bench = (typeof BENCHES)[number];

/** What a run measures; `quick` must finish in 10 minutes on 2 cores, full in 45. */
export interface RunConfig {
  mode: 'quick' | 'full';
  /** Measured rounds per figure. */
  runs: number;
  initSizes: number[];
  scaleSizes: number[];
  /** The scale size whose bottom edit the memory benchmark reloads. */
  memorySize: number;
  memoryCycles: number[];
  /** Fresh hosts, each reloading max(memoryCycles) times. */
  memoryRounds: number;
  /** Layers measured per linker (the first linker gets `layers`, the others `otherLayers`). */
  layers: string[];
  otherLayers: string[];
  /** Linkers tried, in order; missing ones are skipped. */
  linkers: Linker[];
  availabilityCycles: number;
  /** Rounds of (availabilityCycles reloads, then as many restarts). */
  availabilityRounds: number;
}

/** The two configurations. */
export function config(quick: boolean): RunConfig {
  return quick
    ? { mode: 'quick', runs: 10, initSizes: [100], scaleSizes: [10, 50], memorySize: 10, memoryCycles: [1, 10, 200, 1000], memoryRounds: 3, layers: ['api'], otherLayers: [], linkers: ['mold'], availabilityCycles: 10, availabilityRounds: 3 }
    : {
        mode: 'full',
        runs: 20,
        initSizes: [10, 50, 100, 200],
        scaleSizes: [10, 50, 100, 200],
        memorySize: 50,
        memoryCycles: [1, 10, 200, 1000],
        memoryRounds: 5,
        layers: ['api', 'service', 'database', 'core'],
        otherLayers: ['api', 'service', 'database', 'core'],
        linkers: ['mold', 'lld', 'default'],
        availabilityCycles: 100,
        availabilityRounds: 10,
      };
}

/** The machine the figures come from. */
async function machine(): Promise<Record<string, unknown>> {
  const rustc = await run('rustc', [`+${process.env.HOTGEN_TOOLCHAIN}`, '-V'], { allowFailure: true }).catch(() => undefined);
  return {
    cpu: os.cpus()[0]?.model,
    cpus: os.cpus().length,
    memGiB: +(os.totalmem() / 2 ** 30).toFixed(1),
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    rustc: rustc?.stdout.trim(),
    load: os.loadavg().map((l) => +l.toFixed(2)),
  };
}

async function linkerAvailable(l: Linker): Promise<boolean> {
  if (l === 'mold') return haveCommand('mold');
  if (l === 'lld') return haveCommand('ld.lld');
  if (l === 'gold') return haveCommand('ld.gold');
  return true;
}

/** Runs the selected benchmarks; returns rows, raw data, notes and errors. */
async function runBenches(cfg: RunConfig, only: Set<Bench>, log: (s: string) => void) {
  const figures: Figure[] = [];
  const raw: Record<string, unknown> = {};
  const notes: string[] = [];
  const errors: string[] = [];
  const scratch = scratchDir();
  const tc = process.env.HOTGEN_TOOLCHAIN!;
  const libDir = (await run('rustc', [`+${tc}`, '--print', 'target-libdir'])).stdout.trim();
  const floorBin = await buildFloor(path.join(scratch, 'bin'));
  const attempt = async (name: string, fn: () => Promise<void>) => {
    const t0 = Date.now();
    log(`== ${name}`);
    try {
      await fn();
    } catch (err) {
      errors.push(`${name}: ${(err as Error).stack ?? err}`);
      log(`!! ${name} failed: ${(err as Error).message}`);
    }
    log(`== ${name} done in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  };
  const linker: Linker = (await linkerAvailable('mold')) ? 'mold' : 'default';

  if (only.has('startup')) {
    await attempt('start-up of light commands', async () => {
      const m = await measureStartup(path.join(scratch, 'startup'), cfg.runs * 2);
      raw.startup = m;
      figures.push(...startupFigures(m));
    });
  }
  if (only.has('init')) {
    for (const n of cfg.initSizes) {
      await attempt(`init ${n} crates`, async () => {
        const m = await measureInit(path.join(scratch, `init-${n}`), n, { runs: cfg.runs, linker });
        raw[`init.${n}`] = m;
        figures.push(...initFigures(m));
      });
    }
  }
  if (only.has('scale') || only.has('memory')) {
    const sizes = only.has('scale') ? cfg.scaleSizes : [cfg.memorySize];
    for (const n of sizes) {
      await attempt(`scale ${n} crates`, async () => {
        const ws = await prepareHotWorkspace(path.join(scratch, `scale-${n}`), n, linker, log);
        notes.push(...ws.notes);
        raw[`build.${n}`] = ws.states.map((s) => ({ name: s.name, buildMs: s.buildMs, rebuilt: s.rebuilt.length }));
        if (only.has('scale')) {
          figures.push(...buildFigures(ws));
          for (const pos of ['top', 'middle', 'bottom'] as const) {
            const m = await measureSwap(ws, pos, { runs: cfg.runs, floorBin, libDir });
            if (m.floorStillMapped > 0) notes.push(`floor: ${m.floorStillMapped} objects stayed mapped after dlclose (${n} crates, ${pos})`);
            raw[`swap.${n}.${pos}`] = m;
            figures.push(...swapFigures(ws, m));
            log(`  swap ${n}/${pos}: ${m.reloadSet.length} modules`);
          }
        }
        if (only.has('memory') && n === cfg.memorySize) {
          const m = await measureMemoryRounds(ws, 'bottom', cfg.memoryCycles, libDir, cfg.memoryRounds, (i, r, ms) =>
            log(`  memory round ${i + 1}/${cfg.memoryRounds}: RSS ${r.rss.map((x) => `${x.cycles}:${(x.bytes / 2 ** 20).toFixed(1)}`).join(' ')} MiB, maps ${r.rss.map((x) => `${x.cycles}:${x.mapsLines}`).join(' ')}, ${(ms / 1000).toFixed(0)} s`),
          );
          raw.memory = m;
          figures.push(...memoryRoundFigures(m));
        }
      });
    }
  }
  if (only.has('serving') || only.has('availability')) {
    let first = true;
    for (const l of cfg.linkers) {
      // Availability uses the first linker only; without serving the others have nothing to measure.
      if (!first && !only.has('serving')) break;
      if (!(await linkerAvailable(l))) {
        notes.push(`linker ${l} not found: skipped`);
        continue;
      }
      const layers = first ? cfg.layers : cfg.otherLayers;
      const withAvailability = first && only.has('availability');
      first = false;
      await attempt(`serving, ${l}`, async () => {
        await using pair = await ServingPair.start(path.join(scratch, `serving-${l}`), l, log);
        const apiSwaps: number[] = [];
        const apiTimings: HostTimings[] = [];
        if (only.has('serving')) {
          for (const name of layers) {
            const layer = LAYERS.find((x) => x.name === name)!;
            const m = await measureEditToServing(pair, layer, cfg.runs);
            raw[`edit.${l}.${name}`] = m;
            figures.push(editFigure(m));
            if (name === 'api') {
              apiSwaps.push(...m.hotSwapMs.filter(Number.isFinite));
              apiTimings.push(...m.hotTimings);
            }
            log(`  edit ${name} (${l}) measured`);
          }
        }
        if (withAvailability) {
          const a = await measureAvailabilityRounds(pair, LAYERS[0], cfg.availabilityCycles, cfg.availabilityRounds, (i, r, ms) =>
            log(`  availability round ${i + 1}/${cfg.availabilityRounds}: failed+refused ${r.hotgen.failed + r.hotgen.refused} vs ${r.restart.failed + r.restart.refused}, worst ${r.hotgen.worstMs.toFixed(1)} vs ${r.restart.worstMs.toFixed(1)} ms, ${(ms / 1000).toFixed(0)} s`),
          );
          raw.availability = a;
          figures.push(...availabilityRoundFigures(a));
        }
        if (apiSwaps.length) {
          const files = await pair.hotModuleFiles();
          const f = (c: string) => files.get(c)!;
          const floor: number[] = [];
          for (let i = 0; i < cfg.runs; i++) {
            const r = await runFloor(floorBin, { iterations: 2, keep: ['app_core', 'app_database', 'app_service'].map(f), reload: ['app_api', 'app_router'].map(f), libDir });
            floor.push(r.total_us[1] / 1000);
          }
          raw[`swap.example.${l}`] = { swapMs: apiSwaps, floorMs: floor };
          figures.push(...apiSwapFigures(l, apiSwaps, floor, apiTimings));
        }
      });
    }
  }
  if (only.has('buildmodel')) {
    await attempt('buildmodel (old vs new build model)', async () => {
      const m = await measureBuildModels(path.join(scratch, 'buildmodel'), { runs: cfg.mode === 'quick' ? 5 : 10, linker }, log);
      raw.buildmodel = m.raw;
      figures.push(...m.figures);
      notes.push(...m.notes);
      process.stdout.write(`${m.table}\n`);
    });
  }
  if (only.has('conduwuit')) {
    await attempt('conduwuit example (edit to first correct answer vs restart)', async () => {
      const m = await measureConduwuit(path.join(scratch, 'conduwuit'), conduwuitConfig(cfg.mode === 'quick'), log);
      raw.conduwuit = m;
      figures.push(...conduwuitFigures(m));
      notes.push(...m.notes, `conduwuit: load average ${JSON.stringify(m.load)}`);
    });
  }
  return { figures, raw, notes, errors };
}

/**
 * JSON for the results file: numbers rounded to 3 decimals (µs for ms values), arrays of
 * numbers and objects of numbers on one line, so a day's file stays small enough to commit.
 */
export function compactJson(value: unknown): string {
  const text = JSON.stringify(value, (_k, v) => (typeof v === 'number' && !Number.isInteger(v) ? Math.round(v * 1000) / 1000 : v), 1);
  return (
    text
      .replace(/\[\s*(-?[\d.e+-]+(?:,\s*-?[\d.e+-]+)*)\s*\]/g, (_m, body: string) => `[${body.split(/,\s*/).join(',')}]`)
      .replace(/\{\s*("\w+": -?[\d.e+-]+(?:,\s*"\w+": -?[\d.e+-]+)*)\s*\}/g, (_m, body: string) => `{${body.split(/,\s*/).join(', ')}}`) + '\n'
  );
}

/** The toolchain for cargo: the plan's dated nightly when rustup has it, else `nightly`. */
async function pickToolchain(): Promise<string> {
  if (process.env.HOTGEN_TOOLCHAIN) return process.env.HOTGEN_TOOLCHAIN;
  const r = await run('cargo', [`+${DEFAULT_NIGHTLY}`, '--version'], { allowFailure: true, env: { ...process.env, RUSTUP_AUTO_INSTALL: '0' } }).catch(() => undefined);
  return r?.code === 0 ? DEFAULT_NIGHTLY : 'nightly';
}

/** Process main; resolves with the exit code. */
export async function main(argv = process.argv.slice(2)): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { quick: { type: 'boolean' }, only: { type: 'string' }, out: { type: 'string' }, render: { type: 'string' }, help: { type: 'boolean' } },
  });
  if (values.help) {
    console.log(
      `usage: npm run bench -- [--quick] [--only ${BENCHES.join(',')}] [--out DIR]\n` +
        '       npm run bench -- --render RESULTS.json   (table and charts again, nothing measured)\n' +
        `  scratch space: $HOTGEN_BENCH_DIR (default ${scratchDir()})`,
    );
    return 0;
  }
  if (values.render) {
    const figures: Figure[] = JSON.parse(await readFile(values.render, 'utf8')).figures;
    for (const [name, svg] of Object.entries({ ...charts(figures), ...conduwuitCharts(figures) })) await writeFile(path.join(path.dirname(values.render), name), svg);
    process.stdout.write(markdownTable(figures));
    return 0;
  }
  const only = new Set<Bench>((values.only ? values.only.split(',') : BENCHES.filter((b) => !OPT_IN.includes(b))).map((s) => s.trim() as Bench));
  const unknown = [...only].filter((b) => !BENCHES.includes(b));
  if (unknown.length) {
    console.error(`unknown benchmark ${unknown.join(', ')}; known: ${BENCHES.join(', ')}`);
    return 2;
  }
  process.env.HOTGEN_TOOLCHAIN = await pickToolchain();
  const cfg = config(!!values.quick);
  const log = (s: string) => process.stderr.write(`${s}\n`);
  const t0 = Date.now();
  log(`hotgen bench (${cfg.mode}; ${[...only].join(', ')}; toolchain ${process.env.HOTGEN_TOOLCHAIN})`);
  const res = await runBenches(cfg, only, log);
  const outDir = values.out ?? path.join(repoRoot(), 'bench/results');
  await mkdir(outDir, { recursive: true });
  const date = new Date().toISOString().slice(0, 10);
  const file = path.join(outDir, `${date}.json`);
  const prev = JSON.parse((await readFile(file, 'utf8').catch(() => '{}')) || '{}');
  const byId = new Map<string, Figure>((prev.figures ?? []).map((f: Figure) => [f.id, f]));
  for (const f of res.figures) byId.set(f.id, f);
  const figures = [...byId.values()];
  const results = {
    date,
    mode: cfg.mode,
    command: `npm run bench -- ${argv.join(' ')}`.trim(),
    machine: await machine(),
    durationS: Math.round((Date.now() - t0) / 1000),
    figures,
    raw: { ...(prev.raw ?? {}), ...res.raw },
    notes: res.notes,
    errors: res.errors,
  };
  await writeFile(file, compactJson(results));
  for (const [name, svg] of Object.entries({ ...charts(figures), ...conduwuitCharts(figures) })) await writeFile(path.join(outDir, name), svg);
  process.stdout.write(markdownTable(figures));
  for (const n of res.notes) log(`note: ${n}`);
  for (const e of res.errors) log(`error: ${e}`);
  log(`wrote ${path.relative(process.cwd(), file)} and charts in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  return res.errors.length ? 1 : 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(
    (code) => (process.exitCode = code),
    (err) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}

/**
 * A generated workspace made hot and built in several states, for the swap, floor,
 * scale and memory benchmarks: `hotgen init` (the library function), then the same
 * build `hotgen dev` runs (loader/hotbuild.ts `runHotBuild`), then one one-line edit at the
 * top (entry), the middle and the bottom of the DAG, each followed by a timed
 * incremental build. Edits accumulate (top, then middle, then bottom), so the files
 * cargo rebuilds for an edit are exactly that edit's reload set; each state keeps
 * copies of only the dylibs rebuilt for it (immutable; the host maps these copies).
 */
import { copyFile, mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { HotPlan, Linker } from '../common/types.js';
import type { ModuleSpec } from '../loader/protocol.js';
import { initWorkspace } from '../generator/init.js';
import { readPlan } from '../common/plan-read.js';
import { resolveToolchain, type Toolchain } from '../loader/build.js';
import { prepareHotBuild, runHotBuild } from '../loader/hotbuild.js';
import { dependents, generateWorkspace, writeMark, type GeneratedWorkspace } from './workspace-gen.js';

/** Where an edit is made. */
export type Position = 'top' | 'middle' | 'bottom';

/** One built state of the workspace. */
export interface HotState {
  name: 'v1' | Position;
  /** Directory with copies of the dylibs rebuilt for this state (all of them for v1). */
  dir: string;
  /** Modules rebuilt for this state, bottom-up. */
  rebuilt: string[];
  /** Sum of all MARKs in this state (what the entry answers). */
  sum: number;
  /** The incremental (full for v1) build's wall time, ms. */
  buildMs: number;
  /** For positions: the edited crate. */
  crate?: string;
}

/** A prepared hot workspace. */
export interface HotWorkspace {
  n: number;
  root: string;
  gen: GeneratedWorkspace;
  plan: HotPlan;
  toolchain: Toolchain;
  /** Module names bottom-up (every library crate, the entry last). */
  modules: string[];
  /** v1, then top, middle, bottom. */
  states: HotState[];
  /** Notes (e.g. a rebuilt set that differs from the expected reload set). */
  notes: string[];
}

/** The crate edited at `pos`: the entry, the first crate of the middle layer, the first of the bottom layer. */
export function positionCrate(gen: GeneratedWorkspace, pos: Position): string {
  if (pos === 'top') return gen.entry;
  if (pos === 'middle') return gen.layers[Math.floor(gen.layers.length / 2)][0];
  return gen.layers[0][0];
}

/**
 * Generates `n` crates under `dir` (emptied first), runs init with `linker`, builds v1
 * and the three edited states. `log` gets progress lines.
 * @throws UserError/CommandError from init or cargo; Error when a build fails.
 */
export async function prepareHotWorkspace(dir: string, n: number, linker: Linker, log: (s: string) => void = () => {}): Promise<HotWorkspace> {
  await rm(dir, { recursive: true, force: true });
  const root = path.join(dir, 'ws');
  const gen = generateWorkspace(n);
  await writeGenerated(root, gen);
  await initWorkspace(root, { linker });
  const plan = await readPlan(root);
  const toolchain = await resolveToolchain(plan, root);
  const hot = await prepareHotBuild({ root, plan, plus: toolchain.plus, env: toolchain.env });
  const modules = gen.crates.map((c) => c.name);
  const notes: string[] = [];
  const states: HotState[] = [];
  const build = async (name: HotState['name'], sum: number, crate?: string): Promise<void> => {
    let stderr = '';
    const r = await runHotBuild({ root, plan, hot, toolchain, onStderr: (c) => (stderr = (stderr + c).slice(-4000)) });
    if (!r.success) throw new Error(`hot build of the ${n}-crate workspace (${name}) failed:\n${r.errors || stderr}`);
    const rebuilt = modules.filter((m) => r.rebuilt.has(m));
    const sdir = path.join(dir, 'states', name);
    await mkdir(sdir, { recursive: true });
    // Renamed copies still resolve each other's DT_NEEDED: glibc matches a loaded object's DT_SONAME.
    const source = new Map(r.modules.map((m) => [m.name, m.source]));
    for (const m of rebuilt) await copyFile(source.get(m)!, path.join(sdir, `lib${m}.so`));
    if (crate) {
      const want = [crate, ...dependents(gen.crates, crate)].sort();
      if (want.join() !== [...rebuilt].sort().join()) notes.push(`${n} crates, ${name}: cargo rebuilt ${rebuilt.length} dylibs, the reload set has ${want.length}`);
    }
    states.push({ name, dir: sdir, rebuilt, sum, buildMs: r.buildMs, crate });
    log(`  ${n} crates: ${name} build ${(r.buildMs / 1000).toFixed(1)} s, ${rebuilt.length} dylibs rebuilt`);
  };
  let sum = modules.length;
  await build('v1', sum);
  for (const pos of ['top', 'middle', 'bottom'] as const) {
    const crate = positionCrate(gen, pos);
    await writeMark(root, crate, 2);
    sum += 1;
    await build(pos, sum, crate);
  }
  return { n, root, gen, plan, toolchain, modules, states, notes };
}

/** Writes a generated tree under `root`. */
export async function writeGenerated(root: string, gen: GeneratedWorkspace): Promise<void> {
  for (const [rel, text] of Object.entries(gen.tree)) {
    const f = path.join(root, rel);
    await mkdir(path.dirname(f), { recursive: true });
    await writeFile(f, text);
  }
}

/** The state named `name`. @throws Error when absent. */
export function stateOf(ws: HotWorkspace, name: HotState['name']): HotState {
  const s = ws.states.find((x) => x.name === name);
  if (!s) throw new Error(`no state ${name}`);
  return s;
}

/** The file of `module` as of state `name` (the latest copy at or before that state). */
export function fileAt(ws: HotWorkspace, name: HotState['name'], module: string): string {
  const upto = ws.states.findIndex((s) => s.name === name);
  for (let i = upto; i >= 0; i--) if (ws.states[i].rebuilt.includes(module)) return path.join(ws.states[i].dir, `lib${module}.so`);
  throw new Error(`no build of ${module} at or before state ${name}`);
}

/** Module specs (bottom-up) for `modules` as of state `name`; the entry gets role `entry`. */
export function specsAt(ws: HotWorkspace, name: HotState['name'], modules: readonly string[]): ModuleSpec[] {
  return ws.modules
    .filter((m) => modules.includes(m))
    .map((m) => ({ name: m, role: m === ws.gen.entry ? 'entry' : 'reloadable', path: fileAt(ws, name, m) }));
}

/** The state before `pos` (v1 before top, top before middle, middle before bottom). */
export function previousState(pos: Position): HotState['name'] {
  return pos === 'top' ? 'v1' : pos === 'middle' ? 'top' : 'middle';
}

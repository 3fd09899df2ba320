/**
 * The real hot build for generator tests, in-process as `hotgen dev` runs it
 * (loader/build.ts `resolveToolchain`, loader/hotbuild.ts `prepareHotBuild` and
 * `runHotBuild`): the pinned toolchain, hotgen's rustc wrapper, `target/hotgen/`.
 */
import { run } from '../../common/exec.js';
import type { HotPlan } from '../../common/types.js';
import { readPlan } from '../../common/plan-read.js';
import { resolveToolchain } from '../../loader/build.js';
import { prepareHotBuild, runHotBuild, type HotBuild, type HotBuildResult } from '../../loader/hotbuild.js';
import type { HotModule } from '../../loader/units.js';

/** A finished hot build: the plan it built, its preparation and its result. */
export interface HotBuilt {
  plan: HotPlan;
  hot: HotBuild;
  result: HotBuildResult;
  /** Modules by name (workspace modules by package name). */
  byName: Map<string, HotModule>;
}

/**
 * Builds the workspace at `root` (initialised) the hot way.
 * @throws Error with cargo's errors when the build fails.
 */
export async function hotBuild(root: string): Promise<HotBuilt> {
  const plan = await readPlan(root);
  const toolchain = await resolveToolchain(plan, root);
  const hot = await prepareHotBuild({ root, plan, plus: toolchain.plus, env: toolchain.env });
  let stderr = '';
  const result = await runHotBuild({ root, plan, hot, toolchain, onStderr: (c) => (stderr += c), progress: false });
  if (!result.success) throw new Error(`the hot build failed:\n${result.errors}\n${stderr.slice(-4000)}`);
  return { plan, hot, result, byName: new Map(result.modules.map((m) => [m.name, m])) };
}

/** `readelf ...args` stdout. */
export async function readelf(...args: string[]): Promise<string> {
  return (await run('readelf', args)).stdout;
}

/** The DT_NEEDED entries of a shared object. */
export async function needed(so: string): Promise<string[]> {
  return [...(await readelf('-d', so)).matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]!);
}

/**
 * `hotgen doctor`: one line per check with a fix hint; exit 1 when any check fails.
 * With `--build` it also runs the real hot build (loader/hotbuild.ts), which the
 * generator's checks reach only through the callback passed here.
 */
import { UserError } from '../common/errors.js';
import type { Output } from '../common/output.js';
import type { HotPlan } from '../common/types.js';
import type { CommandSpec } from './command.js';
import { formatCheck, runDoctor, type HotBuildOutcome } from '../generator/doctor.js';
import { resolveToolchain } from '../loader/build.js';
import { prepareHotBuild, runHotBuild } from '../loader/hotbuild.js';

/**
 * The hot build as `hotgen dev` runs it (same toolchain choice, wrapper, target dir and
 * cargo arguments), for the `hot-build` check. Cargo's own output goes to stderr with
 * `--verbose` only; the compiler's errors come back in the outcome.
 * @throws UserError when the toolchain or `cargo metadata` fails (the check reports it).
 */
export function hotBuildProbe(out: Output): (root: string, plan: HotPlan) => Promise<HotBuildOutcome> {
  return async (root, plan) => {
    const toolchain = await resolveToolchain(plan, root);
    const hot = await prepareHotBuild({ root, plan, plus: toolchain.plus, env: toolchain.env });
    const r = await runHotBuild({
      root,
      plan,
      hot,
      toolchain,
      onStderr: out.verbose ? (c) => process.stderr.write(c) : () => undefined,
      progress: !out.json,
    });
    if (!r.success) return { ok: false, summary: `the hot build of \`${plan.entry}\` failed`, errors: r.errors };
    const registry = r.modules.filter((m) => m.role === 'registry').length;
    return {
      ok: true,
      summary: `built ${r.modules.length - registry} workspace and ${registry} registry dylibs for \`${plan.entry}\` in ${hot.depsDir}`,
    };
  };
}

export default {
  name: 'doctor',
  summary: "check the platform, toolchain, linker, LD_LIBRARY_PATH, hotgen's files, Nix files and (--build) the hot build",
  usage: 'hotgen doctor [--build] [--json]',
  flagHelp: [
    '--build  also run the hot build (the entry and its closure as dylibs, as `hotgen dev` builds them)',
    '--json   one {"event":"check","id","status","summary","hint","details"} object per check',
  ],
  examples: ['hotgen doctor', 'hotgen doctor --build', 'nix develop --command hotgen doctor'],
  options: { build: { type: 'boolean' } },
  async run({ cwd, out, flags }) {
    const results = await runDoctor(cwd, flags.build === true ? { hotBuild: hotBuildProbe(out) } : {});
    for (const r of results) out.emit({ event: 'check', ...r }, formatCheck(r));
    const failed = results.filter((r) => r.status === 'fail');
    out.info(failed.length ? `${failed.length} check(s) failed` : 'all checks passed');
    // Like every failing command: a `hotgen: ...` line on stderr and, with --json, an error event.
    if (failed.length) throw new UserError(`doctor: ${failed.length} check(s) failed: ${failed.map((r) => r.id).join(', ')}`);
    return 0;
  },
} satisfies CommandSpec;

/** `hotgen env`: the dev shell's environment for rustup users, for `eval "$(hotgen env)"`. */
import type { CommandSpec } from './command.js';
import { computeEnv, envValues, formatShell } from '../generator/env.js';
import { findPlanRoot } from '../common/root.js';
import { readPlan } from '../common/plan-read.js';

export default {
  name: 'env',
  summary: 'print the hot dev environment (toolchain, linker, LD_LIBRARY_PATH) for rustup users',
  usage: 'hotgen env [--json]',
  flagHelp: ['--json   print the variables as one JSON object ({"event":"env","env":{...}})'],
  examples: ['eval "$(hotgen env)"', 'hotgen env --json'],
  options: {},
  async run({ cwd, out }) {
    const root = await findPlanRoot(cwd);
    const env = await computeEnv(root, await readPlan(root));
    for (const w of env.warnings) out.warn(w);
    if (out.json) out.emit({ event: 'env', root, toolchain: env.toolchain.name, env: envValues(env) });
    else process.stdout.write(formatShell(env));
    return 0;
  },
} satisfies CommandSpec;

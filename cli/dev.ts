/** `hotgen dev`: build, run and hot-reload the workspace (loader/launcher.ts does the work). */
import type { CommandSpec } from './command.js';
import { launch } from '../loader/launcher.js';
import { findPlanRoot } from '../common/root.js';
import { readPlanFile } from '../generator/plan-file.js';

export default {
  name: 'dev',
  summary: 'build the crates, run the app, and reload changed crates while it keeps serving',
  usage: 'hotgen dev [--no-watch] [--no-build] [--json]',
  flagHelp: [
    '--no-watch   do not watch the sources; reload only on CTRL+C, SIGINT or `hotgen reload`',
    '--no-build   never run cargo; pick up dylibs built elsewhere by their content hashes',
    '--json       one JSON event per line on stdout (start, reload, restart, build-failed, crash...)',
    'Keys: CTRL+C reloads now, CTRL+\\ (or CTRL+D) quits. Signals to the pid of hotgen dev, with or without a terminal: SIGINT reloads, SIGTERM/SIGQUIT/SIGHUP quit.',
  ],
  examples: ['hotgen dev', 'hotgen dev --json > events.jsonl', 'hotgen dev --no-build   # with `cargo build --profile hot` run by your editor'],
  options: {
    'no-watch': { type: 'boolean' },
    'no-build': { type: 'boolean' },
  },
  async run({ flags, cwd, out }) {
    const root = await findPlanRoot(cwd);
    const { plan, warnings } = await readPlanFile(root);
    for (const w of warnings) out.warn(w);
    return launch({
      root,
      json: Boolean(flags.json),
      verbose: Boolean(flags.verbose),
      watch: !flags['no-watch'],
      build: !flags['no-build'],
      listen: plan.listen,
    });
  },
} satisfies CommandSpec;

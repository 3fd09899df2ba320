/** `hotgen dev`: build, run and hot-reload the workspace (loader/launcher.ts does the work). */
import type { CommandSpec } from './command.js';
import { launch } from '../loader/launcher.js';
import { findPlanRoot } from '../common/root.js';
import { readPlanFile } from '../common/plan-read.js';

export default {
  name: 'dev',
  summary: 'build the crates, run the app, and reload changed crates while it keeps serving',
  usage: 'hotgen dev [--no-watch] [--no-build] [--json] [-- ARGS...]',
  flagHelp: [
    '--no-watch   do not watch the sources; reload only on CTRL+C, SIGINT or `hotgen reload`',
    '--no-build   never run cargo; pick up dylibs built elsewhere by their content hashes',
    '--json       one JSON event per line on stdout (start, reload, restart, build-failed, crash...)',
    '-- ARGS      arguments for the app (ctx.args() in Rust), instead of hotgen.yaml `app.args`',
    'stdin goes to the app (ctx.read_line() in Rust). Keys: CTRL+C reloads now, CTRL+\\ quits. Signals to the pid of hotgen dev,',
    '  with or without a terminal: SIGINT reloads, SIGTERM/SIGQUIT/SIGHUP quit.',
  ],
  examples: ['hotgen dev', 'hotgen dev -- --config dev.toml', 'echo "1 + 2" | hotgen dev --no-watch', 'hotgen dev --json > events.jsonl', 'hotgen dev --no-build   # with `cargo build --profile hot` run by your editor'],
  passthrough: true,
  options: {
    'no-watch': { type: 'boolean' },
    'no-build': { type: 'boolean' },
  },
  async run({ flags, cwd, out, passthrough }) {
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
      ...(passthrough.length ? { args: passthrough } : {}),
    });
  },
} satisfies CommandSpec;

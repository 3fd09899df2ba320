/** `hotgen demo`: init + dev + an edit on a copy of the bundled example (loader/demo.ts). */
import { UsageError } from '../common/errors.js';
import type { CommandSpec } from './command.js';
import { DEMO_EXAMPLES, runDemo, type DemoExampleName } from '../loader/demo.js';

export default {
  name: 'demo',
  summary: 'run the whole loop on a copy of a bundled example: init, dev, edit, reload',
  usage: 'hotgen demo [--example server|conduwuit] [--keep] [--json]',
  flagHelp: [
    '--example NAME   server (default: six small std-only crates) or conduwuit (tokio, hyper, rusqlite;',
    '                 start-up loads 150 000 rows; its first build takes minutes)',
    '--keep           keep the temporary workspace and print its path',
  ],
  examples: ['hotgen demo', 'hotgen demo --example conduwuit', 'hotgen demo --keep', 'hotgen demo --json'],
  options: { keep: { type: 'boolean' }, example: { type: 'string' } },
  async run({ flags, out }) {
    const example = (flags.example ?? 'server') as string;
    if (!Object.hasOwn(DEMO_EXAMPLES, example)) throw new UsageError(`demo: --example must be one of ${Object.keys(DEMO_EXAMPLES).join(', ')}, not \`${example}\``);
    await runDemo({ out, keep: Boolean(flags.keep), example: example as DemoExampleName });
    return 0;
  },
} satisfies CommandSpec;

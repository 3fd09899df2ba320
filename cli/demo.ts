/** `hotgen demo`: init + dev + an edit on a copy of the bundled example (loader/demo.ts). */
import type { CommandSpec } from './command.js';
import { runDemo } from '../loader/demo.js';

export default {
  name: 'demo',
  summary: 'run the whole loop on a copy of the bundled example: init, dev, edit, reload',
  usage: 'hotgen demo [--keep] [--json]',
  flagHelp: ['--keep   keep the temporary workspace and print its path'],
  examples: ['hotgen demo', 'hotgen demo --keep', 'hotgen demo --json'],
  options: { keep: { type: 'boolean' } },
  async run({ flags, out }) {
    await runDemo({ out, keep: Boolean(flags.keep) });
    return 0;
  },
} satisfies CommandSpec;

/** `hotgen eject`: undo `hotgen init` byte for byte (thin wrapper over generator/eject.ts). */
import { ejectWorkspace } from '../generator/eject.js';
import type { CommandSpec } from './command.js';

export default {
  name: 'eject',
  summary: 'remove the files hotgen init created, and restore any file it (or an older hotgen) replaced or edited',
  usage: 'hotgen eject',
  flagHelp: [],
  examples: ['hotgen eject', 'hotgen eject -C path/to/workspace'],
  options: {},
  async run(ctx) {
    const r = await ejectWorkspace(ctx.cwd);
    for (const w of r.warnings) ctx.out.warn(w);
    ctx.out.emit({ event: 'eject', root: r.root, restored: r.restored, removed: r.removed, kept: r.kept });
    for (const f of r.restored) ctx.out.info(`restored ${f}`);
    for (const f of r.removed) ctx.out.info(`removed  ${f}`);
    ctx.out.info(r.restored.length + r.removed.length ? 'hotgen setup removed' : 'nothing to restore');
    return 0;
  },
} satisfies CommandSpec;

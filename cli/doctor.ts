/** `hotgen doctor`: one line per check with a fix hint; exit 1 when any check fails. */
import type { CommandSpec } from './command.js';
import { formatCheck, runDoctor } from '../generator/doctor.js';

export default {
  name: 'doctor',
  summary: 'Check the platform, toolchain, linker, LD_LIBRARY_PATH, manifests and Nix files',
  usage: 'hotgen doctor [--json]',
  flagHelp: ['--json   one {"event":"check","id","status","summary","hint"} object per check'],
  examples: ['hotgen doctor', 'nix develop --command hotgen doctor'],
  options: {},
  async run({ cwd, out }) {
    const results = await runDoctor(cwd);
    for (const r of results) out.emit({ event: 'check', ...r }, formatCheck(r));
    const failed = results.filter((r) => r.status === 'fail').length;
    out.info(failed ? `${failed} check(s) failed` : 'all checks passed');
    return failed ? 1 : 0;
  },
} satisfies CommandSpec;

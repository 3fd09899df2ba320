/** `hotgen doctor`: one line per check with a fix hint; exit 1 when any check fails. */
import { UserError } from '../common/errors.js';
import type { CommandSpec } from './command.js';
import { formatCheck, runDoctor } from '../generator/doctor.js';

export default {
  name: 'doctor',
  summary: 'check the platform, toolchain, linker, LD_LIBRARY_PATH, manifests and Nix files',
  usage: 'hotgen doctor [--json]',
  flagHelp: ['--json   one {"event":"check","id","status","summary","hint"} object per check'],
  examples: ['hotgen doctor', 'nix develop --command hotgen doctor'],
  options: {},
  async run({ cwd, out }) {
    const results = await runDoctor(cwd);
    for (const r of results) out.emit({ event: 'check', ...r }, formatCheck(r));
    const failed = results.filter((r) => r.status === 'fail');
    out.info(failed.length ? `${failed.length} check(s) failed` : 'all checks passed');
    // Like every failing command: a `hotgen: ...` line on stderr and, with --json, an error event.
    if (failed.length) throw new UserError(`doctor: ${failed.length} check(s) failed: ${failed.map((r) => r.id).join(', ')}`);
    return 0;
  },
} satisfies CommandSpec;

/** `hotgen reload`: ask the running `hotgen dev` session for a reload now and print its report. */
import type { CommandSpec } from './command.js';
import { UsageError } from '../common/errors.js';
import { findPlanRoot } from '../common/root.js';
import { sendControl } from '../loader/control.js';
import { reportLine } from '../loader/report.js';

export default {
  name: 'reload',
  summary: 'ask the running `hotgen dev` session to build and reload now; print what was swapped',
  usage: 'hotgen reload [--status] [--timeout SECONDS] [--json]',
  flagHelp: [
    '--status          print the session status (generation, mapped modules) instead of reloading',
    '--timeout SECONDS give up after this long (default: wait for the build and the swap)',
    '--json            print the session\'s answer as one JSON object ({"event":"reload-answer","ok",...})',
    'Exit codes: 0 reloaded (or nothing changed), 1 the build or the reload failed, or no session runs.',
  ],
  examples: ['hotgen reload', 'hotgen reload --json', 'hotgen reload --status'],
  options: {
    status: { type: 'boolean' },
    timeout: { type: 'string' },
  },
  async run({ flags, cwd, out }) {
    const timeoutS = flags.timeout === undefined ? 0 : Number(flags.timeout);
    if (!Number.isFinite(timeoutS) || timeoutS < 0) throw new UsageError('reload: --timeout takes a number of seconds');
    const root = await findPlanRoot(cwd);
    const res = await sendControl(root, { op: flags.status ? 'status' : 'reload' }, timeoutS * 1000);
    // The session's answer as it came, named like every other JSON line.
    if (out.json) out.emit({ event: flags.status ? 'status' : 'reload-answer', ...res });
    else if (res.ok && res.status) {
      const s = res.status;
      out.info(`session ${s.pid} in ${s.root}: host ${s.hostPid ?? 'down'}, generation ${s.generation}${s.building ? ', building' : ''}`);
      for (const m of s.modules) out.info(`  ${m.name} (${m.role}) ${m.path}`);
      if (s.lastReport) out.info(`last: ${reportLine(s.lastReport)}`);
    } else if (res.report) {
      out.info(reportLine(res.report));
      if (res.report.kind === 'build-failed' && res.report.errors) process.stderr.write(res.report.errors + '\n');
    } else if (!res.ok) process.stderr.write(`hotgen: ${res.error}\n`);
    return res.ok ? 0 : 1;
  },
} satisfies CommandSpec;

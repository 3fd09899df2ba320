/** `hotgen ci --github`: write the CI workflow (thin wrapper over generator/ci.ts). */
import { UsageError } from '../common/errors.js';
import { CI_ARCHES, WORKFLOW_FILE, writeWorkflow, type CiArch } from '../generator/ci.js';
import { findPlanRoot } from '../common/root.js';
import type { CommandSpec } from './command.js';

export default {
  name: 'ci',
  summary: `write ${WORKFLOW_FILE}: CI that checks, builds and tests in the Nix dev shell`,
  usage: 'hotgen ci --github [--arch aarch64 | --aarch64] [--force] [--dry-run]',
  flagHelp: [
    '--github          write a GitHub Actions workflow (the only CI system supported)',
    '--arch LIST       architectures besides x86_64-linux (ubuntu-latest): aarch64 runs on ubuntu-24.04-arm',
    '--aarch64         same as --arch aarch64',
    '--force           replace a workflow hotgen did not write, or one edited since',
    '--dry-run         print the workflow instead of writing it',
  ],
  examples: ['hotgen ci --github', 'hotgen ci --github --arch aarch64', 'hotgen ci --github --dry-run'],
  options: {
    github: { type: 'boolean' },
    arch: { type: 'string', multiple: true },
    aarch64: { type: 'boolean' },
    force: { type: 'boolean' },
    'dry-run': { type: 'boolean' },
  },
  async run({ flags, positionals, out, cwd }) {
    if (positionals.length) throw new UsageError(`ci: unexpected argument \`${positionals[0]}\``);
    if (flags.github !== true) throw new UsageError('ci: name the CI system: --github (the only one supported)');
    const given = ((flags.arch as string[] | undefined) ?? []).flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);
    for (const a of given) {
      if (!CI_ARCHES.includes(a as CiArch)) throw new UsageError(`ci: --arch must be one of ${CI_ARCHES.join(', ')}, not \`${a}\``);
    }
    const arch = [...given, ...(flags.aarch64 === true ? ['aarch64'] : [])] as CiArch[];
    const dryRun = flags['dry-run'] === true;
    const r = await writeWorkflow(await findPlanRoot(cwd), { arch, force: flags.force === true, dryRun });
    out.emit({ event: 'ci', file: r.file, action: r.action, systems: r.systems, ...(dryRun ? { content: r.content } : {}) });
    if (dryRun) out.info(r.content.trimEnd());
    else out.info(`${r.action === 'unchanged' ? 'unchanged' : r.action} ${WORKFLOW_FILE} (${r.systems.join(', ')})`);
    return 0;
  },
} satisfies CommandSpec;

/** `hotgen init`: make the workspace hot-reloadable (thin wrapper over generator/init.ts). */
import { UsageError } from '../common/errors.js';
import { DEFAULT_LINKER, escapeControls, orList } from '../common/plan-rules.js';
import { CHANNELS, LINKERS, type Linker } from '../common/types.js';
import { initWorkspace, type FileChange, type InitOptions, type InitResult } from '../generator/init.js';
import type { CommandContext, CommandSpec, Flags } from './command.js';

/** `--frozen a,b --frozen c` → ['a', 'b', 'c']; undefined when the flag is absent. */
function list(flags: Flags, name: string): string[] | undefined {
  const v = flags[name];
  if (v === undefined) return undefined;
  const items = (Array.isArray(v) ? v : [String(v)]).flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);
  return items;
}

function str(flags: Flags, name: string): string | undefined {
  const v = flags[name];
  return typeof v === 'string' ? v : undefined;
}

/** How a change is listed: `created`, `edited ` (a file init rewrote), `removed` or `restored` (an older hotgen's edit undone). */
function changeVerb(c: FileChange): string {
  if (c.after === undefined) return 'removed';
  if (c.kind === 'restore') return 'restored';
  return c.before ? 'edited ' : 'created';
}

function summary(ctx: CommandContext, r: InitResult): void {
  const byRole = (role: string) => r.plan.crates.filter((c) => c.role === role).map((c) => c.name);
  ctx.out.emit({ event: 'init', root: r.root, entry: r.plan.entry, changed: r.changes.map((c) => c.rel), crates: r.plan.crates });
  ctx.out.info(`entry:      ${r.plan.entry}`);
  ctx.out.info(`reloadable: ${byRole('reloadable').join(', ') || '-'}`);
  ctx.out.info(`frozen:     ${byRole('frozen').join(', ') || '-'}`);
  ctx.out.info(`excluded:   ${byRole('excluded').join(', ') || '-'}`);
  ctx.out.info(`profile ${r.plan.profile}, toolchain ${r.plan.toolchain}, linker ${r.plan.linker}`);
  if (r.changes.length === 0) ctx.out.info('nothing to change: the workspace is already initialised');
  else ctx.out.info(r.changes.map((c) => `${changeVerb(c)} ${escapeControls(c.rel)}`).join('\n'));
}

export default {
  name: 'init',
  summary: 'make the workspace hot-reloadable: write hotgen.yaml, hotgen/, flake.nix, .envrc and the entry shim (no workspace file edited)',
  usage: `hotgen init [--entry NAME] [--frozen a,b] [--exclude a,b] [--listen ADDR] [--linker ${LINKERS.join('|')}] [--profile NAME] [--channel ${CHANNELS.join('|')}] [--force] [--dry-run]`,
  flagHelp: [
    '--entry NAME        the library crate the host runs (default: the one top library under the binary)',
    '--frozen a,b        crates never unloaded (runtimes, registries), linked with -z nodelete',
    '--exclude a,b       crates never reloaded (loaded once, like registry crates, when the entry links them)',
    '--listen ADDR       a HOST:PORT the supervisor listens on (repeatable or comma list)',
    `--linker NAME       ${orList(LINKERS.map((l) => (l === DEFAULT_LINKER ? `${l} (default)` : l)))}`,
    '--profile NAME      cargo profile of hot builds (default hot, in hotgen/cargo-config.toml; dev uses [profile.dev] as it is)',
    '--channel NAME      nightly (default, pinned by date) or stable (pinned by version), in hotgen/rust-toolchain.toml',
    '--force             replace an existing flake.nix, .envrc, entry shim or a generated file you edited',
    '--dry-run           print a unified diff of every change and write nothing',
  ],
  examples: ['hotgen init', 'hotgen init --entry router --frozen core --listen 127.0.0.1:8080', 'hotgen init --dry-run', 'hotgen init --channel stable --linker lld'],
  options: {
    entry: { type: 'string' },
    frozen: { type: 'string', multiple: true },
    exclude: { type: 'string', multiple: true },
    listen: { type: 'string', multiple: true },
    linker: { type: 'string' },
    profile: { type: 'string' },
    channel: { type: 'string' },
    force: { type: 'boolean' },
    'dry-run': { type: 'boolean' },
  },
  async run(ctx) {
    const channel = str(ctx.flags, 'channel');
    if (channel !== undefined && !(CHANNELS as readonly string[]).includes(channel)) throw new UsageError(`init: --channel must be ${orList(CHANNELS)}, not \`${channel}\``);
    const linker = str(ctx.flags, 'linker');
    if (linker !== undefined && !(LINKERS as readonly string[]).includes(linker)) throw new UsageError(`init: --linker must be ${orList(LINKERS)}, not \`${linker}\``);
    const opts: InitOptions = {
      entry: str(ctx.flags, 'entry'),
      frozen: list(ctx.flags, 'frozen'),
      exclude: list(ctx.flags, 'exclude'),
      listen: list(ctx.flags, 'listen'),
      linker: linker as Linker | undefined,
      profile: str(ctx.flags, 'profile'),
      channel: channel as InitOptions['channel'],
      force: ctx.flags.force === true,
      dryRun: ctx.flags['dry-run'] === true,
    };
    const r = await initWorkspace(ctx.cwd, opts);
    for (const w of r.warnings) ctx.out.warn(w);
    if (opts.dryRun) {
      ctx.out.emit({ event: 'diff', changed: r.changes.map((c) => c.rel), diff: r.diff });
      ctx.out.info(r.diff ? r.diff.trimEnd() : 'nothing to change');
      return 0;
    }
    summary(ctx, r);
    for (const n of r.notes) ctx.out.info('\n' + n);
    return 0;
  },
} satisfies CommandSpec;

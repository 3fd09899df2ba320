/**
 * The build driver: finds the toolchain, runs `cargo build --message-format=json...`,
 * turns cargo's JSON lines into the set of rebuilt dylibs, and serialises build+reload
 * cycles (a request during a cycle waits for one more cycle; requests at once coalesce).
 */
import { run } from '../common/exec.js';
import { cargoTargetDir, profileDir, resolveRustupToolchain } from '../common/toolchain.js';
import { UserError } from '../common/errors.js';
import type { HotPlan } from '../common/types.js';
import { startProgress } from './progress.js';

/** One `compiler-artifact` message (cargo's JSON message format, "compiler-artifact" in the Cargo book). */
export interface CargoArtifact {
  packageId: string;
  manifestPath: string;
  /** Target name (library names use `_` for `-`). */
  targetName: string;
  kinds: string[];
  /** Absolute output paths (the uplifted ones in `target/<profile dir>/`). */
  filenames: string[];
  /** false = rebuilt by this build. */
  fresh: boolean;
}

/** One `compiler-message`: a rustc diagnostic of a unit (`unit` = package id + target name + kinds). */
export interface CargoDiagnostic {
  unit: string;
  /** rustc's level: `error`, `warning`, `note`, `error: internal compiler error`... */
  level: string;
  /** rustc's rendered text (with ANSI colours when cargo was asked for them). */
  rendered: string;
}

/** A parsed cargo JSON line: an artifact, a diagnostic, the final result, or something we do not use. */
export type CargoMessage =
  | { reason: 'compiler-artifact'; artifact: CargoArtifact; unit: string }
  | { reason: 'compiler-message'; diagnostic: CargoDiagnostic }
  | { reason: 'build-finished'; success: boolean }
  | { reason: 'other' };

/** The key that ties a unit's messages to its artifact (cargo sends both with the same package id and target). */
function unitKey(m: Record<string, unknown>): string {
  const t = (m.target ?? {}) as Record<string, unknown>;
  return `${String(m.package_id ?? '')} ${String(t.name ?? '')} ${JSON.stringify(t.kind ?? [])}`;
}

/**
 * Parses one stdout line of `cargo build --message-format=json*`. Non-JSON lines (a
 * build script may print to stdout) and unknown reasons give `{reason:'other'}`.
 */
export function parseCargoLine(line: string): CargoMessage {
  const t = line.trim();
  if (!t.startsWith('{')) return { reason: 'other' };
  let m: Record<string, unknown>;
  try {
    m = JSON.parse(t);
  } catch {
    return { reason: 'other' };
  }
  if (m.reason === 'build-finished') return { reason: 'build-finished', success: m.success === true };
  if (m.reason === 'compiler-message') {
    const msg = (m.message ?? {}) as Record<string, unknown>;
    return { reason: 'compiler-message', diagnostic: { unit: unitKey(m), level: String(msg.level ?? ''), rendered: String(msg.rendered ?? '') } };
  }
  if (m.reason !== 'compiler-artifact') return { reason: 'other' };
  const target = (m.target ?? {}) as Record<string, unknown>;
  return {
    reason: 'compiler-artifact',
    unit: unitKey(m),
    artifact: {
      packageId: String(m.package_id ?? ''),
      manifestPath: String(m.manifest_path ?? ''),
      targetName: String(target.name ?? ''),
      kinds: Array.isArray(target.kind) ? target.kind.map(String) : [],
      filenames: Array.isArray(m.filenames) ? m.filenames.map(String) : [],
      fresh: m.fresh === true,
    },
  };
}

export { profileDir };

/** How to call the pinned toolchain. */
export interface Toolchain {
  /** Arguments before the subcommand: `['+<toolchain>']` under rustup, `[]` when rust-toolchain.toml or a Nix shell picks it. */
  plus: string[];
  /** Environment for cargo (never downloads a toolchain). */
  env: NodeJS.ProcessEnv;
  /** `rustc --print target-libdir`: where `libstd-<hash>.so` lives (rustc book, "Command-line Arguments: --print"). */
  libstdDir: string;
  /** Absolute cargo target directory (`cargo metadata`'s `target_directory`). */
  targetDir: string;
}

/**
 * Finds how to run the plan's toolchain in `root`: `cargo +<name>` when rustup has the
 * pin or the same build under its channel name (`resolveRustupToolchain`, shared with
 * `hotgen env`; `HOTGEN_TOOLCHAIN` overrides the plan's toolchain), else plain `cargo`
 * (a Nix shell, or rustup reading rust-toolchain.toml).
 * @throws UserError when neither cargo works or `rustc --print target-libdir` fails.
 */
export async function resolveToolchain(plan: HotPlan, root: string): Promise<Toolchain> {
  const env: NodeJS.ProcessEnv = { ...process.env, RUSTUP_AUTO_INSTALL: '0' };
  let plus: string[] = [];
  const wanted = process.env.HOTGEN_TOOLCHAIN || plan.toolchain;
  if (wanted) {
    const found = await resolveRustupToolchain(wanted);
    if (found.match !== 'missing') plus = [`+${found.name}`];
  }
  const ctx = 'finding the Rust toolchain';
  const lib = await run('rustc', [...plus, '--print', 'target-libdir'], { cwd: root, env, context: ctx, timeoutMs: 60_000 });
  const libstdDir = lib.stdout.trim();
  if (!libstdDir) throw new UserError(`\`rustc ${plus.join(' ')} --print target-libdir\` printed nothing`);
  return { plus, env, libstdDir, targetDir: await cargoTargetDir(root, plus, env) };
}

/** The outcome of one cargo build. */
export interface BuildResult {
  success: boolean;
  artifacts: CargoArtifact[];
  /** Wall time of the cargo run, ms. */
  buildMs: number;
  /** When cargo was spawned, ms since the Unix epoch (sub-ms; comparable with the rustc wrapper's unit timings). */
  startedAt: number;
  /** The rendered compiler errors (ANSI removed), empty on success. */
  errors: string;
  /** Cargo's whole stderr, ANSI removed (rustc's diagnostics are not in it: they come as JSON). */
  stderr: string;
  /** Warnings cargo replayed from its cache for units it did not rebuild, summarised instead of shown (0 with `verbose`). */
  cachedWarnings: number;
}

/** Options for {@link cargoBuild}. */
export interface BuildOptions {
  root: string;
  toolchain: Toolchain;
  /** Arguments after `cargo [+tc] build` (profile, package, `--config`), and extra environment. */
  cargoArgs: readonly string[];
  env?: Readonly<Record<string, string>>;
  /** Cargo's stderr (progress lines) and rustc's diagnostics, as they come; default: our stderr. */
  onStderr?: (chunk: string) => void;
  /** Ask cargo for colour (when the terminal shows it). */
  color?: boolean;
  /** Show the warnings cargo replays for units it did not rebuild too (default: one summary line). */
  verbose?: boolean;
  /**
   * Show elapsed time on our stderr (loader/progress.ts): `building… 12 s` lines on a
   * TTY, one final line elsewhere for a long build. Default: on when cargo's stderr is
   * passed through to ours (no `onStderr`); pass false in `--json` mode.
   */
  progress?: boolean;
}

/** Cargo's per-unit summary line (`warning: \`x\` (lib) generated 3 warnings ...`), replaced by {@link cargoBuild}'s own. */
const WARNING_SUMMARY = /^(\x1b\[[0-9;]*m)*warning(\x1b\[[0-9;]*m)*: `[^`]+` \([^)]*\) generated \d+ warnings?\b/;

/**
 * Runs `cargo [+tc] build <cargoArgs> --message-format=json-diagnostic-rendered-ansi`
 * (or `json` without colour). rustc's diagnostics arrive as JSON and are shown when their
 * unit's artifact comes: those of a rebuilt unit in full, those cargo replays from its
 * cache for a fresh unit (`fresh: true`; cargo replays a fresh unit's stored messages,
 * Cargo book "JSON messages") as one count at the end, `N warnings from cargo ...;
 * --verbose shows them`. Errors are shown at once.
 * A failed build resolves with `success: false` and the errors; it never throws for
 * compiler errors (only for a missing cargo: UserError).
 */
export async function cargoBuild(opts: BuildOptions): Promise<BuildResult> {
  const { toolchain } = opts;
  const args = [...toolchain.plus, 'build', ...opts.cargoArgs, `--message-format=${opts.color ? 'json-diagnostic-rendered-ansi' : 'json'}`, `--color=${opts.color ? 'always' : 'never'}`];
  const artifacts: CargoArtifact[] = [];
  let finished: boolean | undefined;
  let atLineStart = true;
  const write =
    opts.onStderr ??
    ((c: string) => {
      atLineStart = c.endsWith('\n');
      process.stderr.write(c);
    });
  const pending = new Map<string, CargoDiagnostic[]>();
  const errors: string[] = [];
  let cachedWarnings = 0;
  let partial = '';
  using _progress = (opts.progress ?? !opts.onStderr) ? startProgress({ atLineStart: () => atLineStart }) : undefined;
  const t0 = performance.now();
  const startedAt = performance.timeOrigin + t0;
  const res = await run('cargo', args, {
    cwd: opts.root,
    env: { ...toolchain.env, ...opts.env },
    allowFailure: true,
    onStderr: (chunk) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop()!;
      const keep = lines.filter((l) => !WARNING_SUMMARY.test(l));
      if (keep.length) write(keep.join('\n') + '\n');
    },
    onStdoutLine: (line) => {
      const m = parseCargoLine(line);
      if (m.reason === 'compiler-message') {
        const d = m.diagnostic;
        if (d.level.startsWith('error')) {
          errors.push(d.rendered);
          write(d.rendered);
        } else if (d.rendered) pending.set(d.unit, [...(pending.get(d.unit) ?? []), d]);
      } else if (m.reason === 'compiler-artifact') {
        artifacts.push(m.artifact);
        const held = pending.get(m.unit) ?? [];
        pending.delete(m.unit);
        if (m.artifact.fresh && !opts.verbose) cachedWarnings += held.filter((d) => d.level === 'warning').length;
        else for (const d of held) write(d.rendered);
      } else if (m.reason === 'build-finished') finished = m.success;
    },
  });
  if (partial && !WARNING_SUMMARY.test(partial)) write(partial + '\n');
  // Units that never finished (the build failed first): their warnings are news.
  for (const held of pending.values()) for (const d of held) write(d.rendered);
  if (cachedWarnings > 0) write(`${cachedWarnings} warning${cachedWarnings === 1 ? '' : 's'} from cargo in crates it did not rebuild; --verbose shows them\n`);
  const buildMs = performance.now() - t0;
  const success = res.code === 0 && finished !== false;
  const rendered = errors.join('').replace(ANSI, '').split('\n').slice(0, 60).join('\n').trimEnd();
  return {
    success,
    artifacts,
    buildMs,
    startedAt,
    errors: success ? '' : rendered || compilerErrors(res.stderr) || `cargo exited with code ${res.code ?? res.signal}`,
    stderr: res.stderr.replace(ANSI, ''),
    cachedWarnings,
  };
}

const ANSI = /\x1b\[[0-9;]*[A-Za-z]/g;

/**
 * The `error...` blocks of cargo's rendered stderr (each from its `error` line to the
 * next blank line), ANSI removed, at most `maxLines` lines.
 */
export function compilerErrors(stderr: string, maxLines = 60): string {
  const out: string[] = [];
  let inBlock = false;
  for (const raw of stderr.replace(ANSI, '').split(/\r?\n/)) {
    if (/^(error(\[|:)|hotgen-rustc: )/.test(raw)) inBlock = true;
    else if (raw.trim() === '') inBlock = false;
    if (inBlock) out.push(raw);
  }
  return out.slice(0, maxLines).join('\n');
}

/**
 * Serialises cycles (build + reload) and coalesces requests: a request joins the running
 * cycle while that cycle is still building (its sources are not fixed yet), else it
 * waits for one more cycle, which every request made in the meantime shares. So two
 * requests at once cost one build, and a request during a build gets that build's report.
 * The cycle calls {@link seal} once its build has finished.
 */
export class CycleQueue<T> {
  private running?: Promise<T>;
  private joinable = false;
  private pending?: Promise<T>;
  constructor(private readonly cycle: () => Promise<T>) {}

  /** Resolves with the result of the cycle that serves this request. */
  request(): Promise<T> {
    if (this.running && this.joinable) return this.running;
    if (this.pending) return this.pending;
    if (!this.running) return this.start();
    const after = this.running.then(
      () => undefined,
      () => undefined,
    );
    this.pending = after.then(() => {
      this.pending = undefined;
      return this.start();
    });
    return this.pending;
  }

  /** Called by the running cycle when its build is done: later requests get a new cycle. */
  seal(): void {
    this.joinable = false;
  }

  /** True while a cycle runs or waits. */
  get busy(): boolean {
    return Boolean(this.running || this.pending);
  }

  /** Resolves when no cycle runs or waits (errors ignored). */
  async idle(): Promise<void> {
    while (this.running || this.pending) await (this.pending ?? this.running)!.catch(() => undefined);
  }

  private start(): Promise<T> {
    this.joinable = true;
    const p = this.cycle();
    this.running = p;
    const clear = () => {
      if (this.running === p) {
        this.running = undefined;
        this.joinable = false;
      }
    };
    p.then(clear, clear);
    return p;
  }
}

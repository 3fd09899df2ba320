/**
 * The build driver: finds the toolchain, runs `cargo build --message-format=json-render-diagnostics`,
 * turns cargo's JSON lines into the set of rebuilt dylibs, and serialises build+reload
 * cycles (a request during a cycle waits for one more cycle; requests at once coalesce).
 */
import { run } from '../common/exec.js';
import { cargoTargetDir, profileDir, resolveRustupToolchain } from '../generator/toolchain.js';
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

/** A parsed cargo JSON line: an artifact, the final result, or something we do not use. */
export type CargoMessage =
  | { reason: 'compiler-artifact'; artifact: CargoArtifact }
  | { reason: 'build-finished'; success: boolean }
  | { reason: 'other' };

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
  if (m.reason !== 'compiler-artifact') return { reason: 'other' };
  const target = (m.target ?? {}) as Record<string, unknown>;
  return {
    reason: 'compiler-artifact',
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
  /** `rustc --print target-libdir`: where `libstd-<hash>.so` lives (REFERENCE.md, "Toolchain"). */
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
  /** The rendered compiler errors (ANSI removed), empty on success. */
  errors: string;
  /** Cargo's whole stderr, ANSI removed. */
  stderr: string;
}

/** Options for {@link cargoBuild}. */
export interface BuildOptions {
  root: string;
  toolchain: Toolchain;
  /** Arguments after `cargo [+tc] build` (profile, package, `--config`), and extra environment. */
  cargoArgs: readonly string[];
  env?: Readonly<Record<string, string>>;
  /** Cargo's stderr (progress and rendered diagnostics) as it arrives; default: our stderr. */
  onStderr?: (chunk: string) => void;
  /** Ask cargo for colour (when the terminal shows it). */
  color?: boolean;
  /**
   * Show elapsed time on our stderr (loader/progress.ts): `building… 12 s` lines on a
   * TTY, one final line elsewhere for a long build. Default: on when cargo's stderr is
   * passed through to ours (no `onStderr`); pass false in `--json` mode.
   */
  progress?: boolean;
}

/**
 * Runs `cargo [+tc] build <cargoArgs> --message-format=json-render-diagnostics`.
 * A failed build resolves with `success: false` and the errors; it never throws for
 * compiler errors (only for a missing cargo: UserError).
 */
export async function cargoBuild(opts: BuildOptions): Promise<BuildResult> {
  const { toolchain } = opts;
  const args = [
    ...toolchain.plus,
    'build',
    ...opts.cargoArgs,
    '--message-format=json-render-diagnostics',
    `--color=${opts.color ? 'always' : 'never'}`,
  ];
  const artifacts: CargoArtifact[] = [];
  let finished: boolean | undefined;
  let atLineStart = true;
  using _progress = (opts.progress ?? !opts.onStderr) ? startProgress({ atLineStart: () => atLineStart }) : undefined;
  const t0 = performance.now();
  const res = await run('cargo', args, {
    cwd: opts.root,
    env: { ...toolchain.env, ...opts.env },
    allowFailure: true,
    onStderr:
      opts.onStderr ??
      ((c) => {
        atLineStart = c.endsWith('\n');
        process.stderr.write(c);
      }),
    onStdoutLine: (line) => {
      const m = parseCargoLine(line);
      if (m.reason === 'compiler-artifact') artifacts.push(m.artifact);
      else if (m.reason === 'build-finished') finished = m.success;
    },
  });
  const buildMs = performance.now() - t0;
  const success = res.code === 0 && finished !== false;
  return {
    success,
    artifacts,
    buildMs,
    errors: success ? '' : compilerErrors(res.stderr) || `cargo exited with code ${res.code ?? res.signal}`,
    stderr: res.stderr.replace(ANSI, ''),
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

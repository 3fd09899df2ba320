/**
 * Offline Nix for tests: Debian's nix-bin 2.8 with flakes on, no
 * substituters, no registry, a private store under a temp dir (so /nix is never
 * touched), and local stand-ins for nixpkgs and rust-overlay passed with
 * `--override-input`. Reused by every test that evaluates, enters or builds a flake.
 *
 * Checked with nix 2.8.0: the store is `local?store=DIR/store&state=...&log=...`, a store
 * whose store dir IS the temp dir, so builds run unsandboxed as the host sees them. A
 * chroot store (`--store DIR`) would run every builder as PID 1 of a PID namespace,
 * where the stand-ins' fix for Nix's kill-on-EOF race (see standin/nixpkgs/pkgs.nix)
 * cannot work, and builds then fail at random "due to signal 9".
 * `build-users-group =`: separate private stores would otherwise share the nixbld
 * users, and Nix kills every process of its build user before a build.
 */
import { cp, mkdir, writeFile } from 'node:fs/promises';
import { existsSync, realpathSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { run, type RunOptions, type RunResult } from '../../common/exec.js';
import { missingTool } from '../helpers/tools.js';
import { tempDir } from '../helpers/tree.js';

const STANDIN_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'standin');

/** Toolchain directories (rustup sysroots) the stand-in rust-overlay exposes, by channel then date/version. */
export interface StandinToolchains {
  nightly?: Record<string, string>;
  stable?: Record<string, string>;
  beta?: Record<string, string>;
}

/** What the stand-ins point at on this machine. Tools default to what is on PATH. */
export interface NixEnvOptions {
  toolchains: StandinToolchains;
  clang?: string;
  mold?: string;
  lld?: string;
  /**
   * More stand-in packages, each a `bin/` of symlinks to host programs, e.g.
   * `{ nodejs: { node: '/usr/bin/node' } }` gives `pkgs.nodejs` with `bin/node`.
   */
  extraPackages?: Record<string, Record<string, string>>;
}

/** Why offline Nix tests cannot run here, or undefined. */
export function nixMissing(): string | undefined {
  return missingTool('nix', ['--version']) ?? missingTool('nix-instantiate', ['--version']);
}

/** The sysroot of rustup toolchain `name` (e.g. `nightly`), or undefined when not installed. */
export async function rustupSysroot(name: string): Promise<string | undefined> {
  const env: NodeJS.ProcessEnv = { ...process.env, RUSTUP_AUTO_INSTALL: '0' };
  delete env.RUSTUP_TOOLCHAIN;
  const r = await run('rustc', [`+${name}`, '--print', 'sysroot'], { allowFailure: true, env }).catch(() => undefined);
  return r && r.code === 0 ? r.stdout.trim() : undefined;
}

/**
 * A flake reference for a directory: `path:<dir>`, or `.` (run with `cwd: dir`) when the
 * path has characters Nix 2.8 rejects in a flake URL (spaces, quotes; it does not
 * percent-decode either). `.` means a path flake only outside a git repository.
 */
export function pathRef(dir: string): string {
  return /^[\w@%+=:,./-]+$/.test(dir) ? `path:${dir}` : '.';
}

/** A Nix string literal (for host.nix). */
function nixStr(s: string): string {
  return JSON.stringify(s).replace(/\$\{/g, '\\${');
}

function which(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const f = path.join(dir, cmd);
    if (dir && existsSync(f)) return realpathSync(f);
  }
  return undefined;
}

/**
 * A private offline Nix setup. `await using nix = await NixEnv.create({...})` removes
 * its store and stand-ins afterwards (the store's files are read-only; removal fixes that).
 */
export class NixEnv implements AsyncDisposable {
  private constructor(
    private readonly tmp: { path: string } & AsyncDisposable,
    /** The private store's URL (`--store`). */
    readonly store: string,
    /** Its store directory: store paths are `<storeDir>/<hash>-<name>` (not /nix/store). */
    readonly storeDir: string,
    /** Stand-in nixpkgs flake directory. */
    readonly nixpkgs: string,
    /** Stand-in rust-overlay flake directory. */
    readonly rustOverlay: string,
    /** The environment every nix call gets (NIX_CONFIG and a private cache dir). */
    readonly env: NodeJS.ProcessEnv,
  ) {}

  /** Copies the stand-ins to a temp dir, writes their host.nix, prepares the store. */
  static async create(opts: NixEnvOptions): Promise<NixEnv> {
    const tmp = await tempDir('nix');
    const storeDir = path.join(tmp.path, 'store');
    const nixpkgs = path.join(tmp.path, 'nixpkgs');
    const rustOverlay = path.join(tmp.path, 'rust-overlay');
    await mkdir(storeDir);
    const store = `local?store=${storeDir}&state=${path.join(tmp.path, 'state')}&log=${path.join(tmp.path, 'log')}`;
    await cp(path.join(STANDIN_DIR, 'nixpkgs'), nixpkgs, { recursive: true });
    await cp(path.join(STANDIN_DIR, 'rust-overlay'), rustOverlay, { recursive: true });
    const tool = (given: string | undefined, cmd: string) => given ?? which(cmd) ?? `/usr/bin/${cmd}`;
    const channels = Object.entries(opts.toolchains).map(
      ([chan, byKey]) =>
        `    ${chan} = { ${Object.entries(byKey as Record<string, string>).map(([k, dir]) => `${nixStr(k)} = ${nixStr(dir)};`).join(' ')} };`,
    );
    const hostNix = [
      '# Written by test/nix/nixenv.ts: host paths the stand-ins point at.',
      '{',
      `  clang = ${nixStr(tool(opts.clang, 'clang'))};`,
      `  mold = ${nixStr(tool(opts.mold, 'mold'))};`,
      `  lld = ${nixStr(tool(opts.lld, 'ld.lld'))};`,
      '  toolchains = {',
      ...channels,
      '  };',
      '  extraPackages = {',
      ...Object.entries(opts.extraPackages ?? {}).map(
        ([pkg, bins]) => `    ${nixStr(pkg)} = { ${Object.entries(bins).map(([b, t]) => `${nixStr(b)} = ${nixStr(t)};`).join(' ')} };`,
      ),
      '  };',
      '}',
      '',
    ].join('\n');
    await writeFile(path.join(nixpkgs, 'host.nix'), hostNix);
    await writeFile(path.join(rustOverlay, 'host.nix'), hostNix);
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      NIX_CONFIG: [
        'experimental-features = nix-command flakes',
        'substituters =',
        'flake-registry =',
        'sandbox = false',
        'build-users-group =',
        'max-jobs = 4',
        'warn-dirty = false',
      ].join('\n'),
      XDG_CACHE_HOME: path.join(tmp.path, 'cache'),
      // `nix develop --command` leaves its rc directory (nix-shell.XXXXXX) in TMPDIR: keep it in ours.
      TMPDIR: path.join(tmp.path, 'tmp'),
    };
    await mkdir(env.TMPDIR!, { recursive: true });
    return new NixEnv(tmp, store, storeDir, nixpkgs, rustOverlay, env);
  }

  /** `--override-input` flags pointing the standard inputs at the stand-ins. */
  overrides(): string[] {
    return ['--override-input', 'nixpkgs', pathRef(this.nixpkgs), '--override-input', 'rust-overlay', pathRef(this.rustOverlay)];
  }

  /** Runs `nix --store <store> ...args` offline. */
  nix(args: string[], opts: RunOptions = {}): Promise<RunResult> {
    return run('nix', ['--store', this.store, ...args], { timeoutMs: 600_000, ...opts, env: { ...this.env, ...opts.env } });
  }

  /** `nix-instantiate --parse file`: the parsed expression, or a CommandError. */
  parse(file: string): Promise<RunResult> {
    return run('nix-instantiate', ['--store', this.store, '--parse', file], { env: this.env, context: `parsing ${file}` });
  }

  /** `nix flake check` (by default `--no-build`) of the flake in `dir`, with the stand-ins. */
  flakeCheck(dir: string, build = false): Promise<RunResult> {
    return this.nix(['flake', 'check', pathRef(dir), ...this.overrides(), '--no-write-lock-file', ...(build ? [] : ['--no-build'])], {
      cwd: dir,
      context: `nix flake check ${dir}`,
    });
  }

  /** `nix develop <dir>#<shell> --command ...command` with the stand-ins; runs in `cwd` (default `dir`). */
  develop(dir: string, command: string[], opts: RunOptions & { shell?: string } = {}): Promise<RunResult> {
    const ref = pathRef(dir) + (opts.shell ? `#${opts.shell}` : '');
    return this.nix(['develop', ref, ...this.overrides(), '--no-write-lock-file', '--command', ...command], {
      cwd: dir,
      context: `nix develop ${dir}`,
      ...opts,
    });
  }

  /** `nix build <dir>#<attr> --no-link --print-out-paths` with the stand-ins. */
  build(dir: string, attr: string): Promise<RunResult> {
    return this.nix(['build', `${pathRef(dir)}#${attr}`, ...this.overrides(), '--no-write-lock-file', '--no-link'], {
      cwd: dir,
      context: `nix build ${dir}#${attr}`,
    });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (!process.env.HOTGEN_KEEP_TMP) await run('chmod', ['-R', 'u+w', this.storeDir], { allowFailure: true });
    await this.tmp[Symbol.asyncDispose]();
  }
}

/** The host's Nix system string (`x86_64-linux`, `aarch64-linux`). */
export function nixSystem(): string {
  return `${os.arch() === 'arm64' ? 'aarch64' : 'x86_64'}-linux`;
}

/**
 * The hot-profile side of the example tests: the by-hand setup that `hotgen init`
 * automates, a hot build that reports cargo's change set, and a driver for mini-host.c
 * (a minimal stand-in for the hotgen host: dlopen, a generation thread, RTLD_NOLOAD checks).
 */
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import readline from 'node:readline';
import { Handlebars } from '../../common/deps.js';
import { run } from '../../common/exec.js';

/** The flags the hot profile gives every crate (what `hotgen init` writes for mold). */
export const HOT_RUSTFLAGS = ['--cfg', 'hotgen', '--check-cfg', 'cfg(hotgen)', '-C', 'prefer-dynamic', '-C', 'link-arg=-fuse-ld=mold'];

/** Which crates of an example get which edits. */
export interface HotLayout {
  /** Package name of the frozen crate (gets `-z nodelete`). */
  frozen: string;
  /** Member directories of the library crates (each gets `crate-type = ["rlib", "dylib"]`). */
  libDirs: string[];
  /** Member directory of the entry crate (gets `src/hotgen_entry.rs`). */
  entryDir: string;
}

/** Layout of examples/server. */
export const SERVER_LAYOUT: HotLayout = {
  frozen: 'app_core',
  libDirs: ['core', 'database', 'service', 'api', 'router'],
  entryDir: 'router',
};

/** Layout of examples/tokio-server. */
export const TOKIO_LAYOUT: HotLayout = { frozen: 'tk_core', libDirs: ['core', 'api', 'router'], entryDir: 'router' };

/**
 * The by-hand hot setup of a copy of an example at `dir` (what `hotgen init` automates):
 * `profile-rustflags` first in the root manifest, a `hot` profile, `-z nodelete` for the
 * frozen crate, `crate-type = ["rlib", "dylib"]` for every library, and the rendered
 * entry shim. Plain text edits, only for the known example layouts.
 * @throws Error when a library manifest has no `[lib] path` line to extend.
 */
export async function applyHotSetup(dir: string, layout: HotLayout = SERVER_LAYOUT): Promise<void> {
  const flags = (extra: string[]) => `[${[...HOT_RUSTFLAGS, ...extra].map((f) => JSON.stringify(f)).join(', ')}]`;
  const root = path.join(dir, 'Cargo.toml');
  await writeFile(
    root,
    `cargo-features = ["profile-rustflags"]\n\n${await readFile(root, 'utf8')}\n` +
      `[profile.hot]\ninherits = "dev"\nrustflags = ${flags([])}\n\n` +
      `[profile.hot.package.${layout.frozen}]\nrustflags = ${flags(['-C', 'link-arg=-Wl,-z,nodelete'])}\n`,
  );
  for (const crate of layout.libDirs) {
    const manifest = path.join(dir, crate, 'Cargo.toml');
    const text = await readFile(manifest, 'utf8');
    const edited = text.replace('path = "src/lib.rs"\n', 'path = "src/lib.rs"\ncrate-type = ["rlib", "dylib"]\n');
    if (edited === text) throw new Error(`${manifest}: no [lib] path line to extend`);
    await writeFile(manifest, edited);
  }
  const template = await readFile(path.resolve(import.meta.dirname, '../../templates/hotgen_entry.rs.hbs'), 'utf8');
  const libPath = `${layout.entryDir}/src/lib.rs`;
  const shim = Handlebars.compile(template, { noEscape: true })({ libPath, profile: 'hot' });
  await writeFile(path.join(dir, layout.entryDir, 'src', 'hotgen_entry.rs'), shim);
}

/**
 * `cargo +nightly build --locked --profile hot` in `ws`; returns the names of the dylib
 * targets cargo rebuilt (`compiler-artifact` with `fresh: false`), sorted.
 */
export async function buildHot(ws: string): Promise<string[]> {
  const r = await run('cargo', ['+nightly', 'build', '--locked', '--profile', 'hot', '--message-format=json-render-diagnostics'], {
    cwd: ws,
  });
  const rebuilt: string[] = [];
  for (const line of r.stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    const msg = JSON.parse(line);
    if (msg.reason === 'compiler-artifact' && !msg.fresh && msg.target.crate_types.includes('dylib')) rebuilt.push(msg.target.name);
  }
  return rebuilt.sort();
}

/** Compiles mini-host.c to `out` with clang. */
export async function buildMiniHost(out: string): Promise<string> {
  await run('clang', ['-O1', '-Wall', '-o', out, path.join(import.meta.dirname, 'mini-host.c'), '-ldl', '-lpthread']);
  return out;
}

/** The nightly's libstd directory: the host needs it on LD_LIBRARY_PATH from the start. */
export async function nightlyLibdir(): Promise<string> {
  return (await run('rustc', ['+nightly', '--print', 'target-libdir'])).stdout.trim();
}

/** A running mini-host (see mini-host.c for the commands). */
export interface MiniHost extends AsyncDisposable {
  /** `127.0.0.1:PORT` of the socket the host listens on and passes to every generation. */
  addr: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
  /** Sends one command line; resolves with the one-line answer; rejects if the host died. */
  command(line: string): Promise<string>;
}

/** Starts mini-host `bin` with environment `env` (must include LD_LIBRARY_PATH). */
export async function startMiniHost(bin: string, env: NodeJS.ProcessEnv): Promise<MiniHost> {
  const child = spawn(bin, [], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  const lines = readline.createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async () => {
    const r = await lines.next();
    if (r.done) throw new Error(`mini-host exited (${JSON.stringify(await exited)}); stderr:\n${stderr}`);
    return r.value;
  };
  const addr = (await next()).replace(/^listening on /, '');
  return {
    addr,
    exited,
    stderr: () => stderr,
    async command(line: string): Promise<string> {
      child.stdin.write(`${line}\n`);
      return next();
    },
    async [Symbol.asyncDispose]() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}

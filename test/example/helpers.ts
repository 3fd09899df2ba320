/**
 * Helpers for the example server's tests (and for anyone who needs the example running):
 * copying it, building it, starting the static binary, plain HTTP over 127.0.0.1, and
 * the by-hand hot setup that `hotgen init` automates.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cp, readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { Handlebars } from '../../common/deps.js';
import { run } from '../../common/exec.js';

/** Absolute path of the example workspace in this repository. */
export const EXAMPLE_DIR = path.resolve(import.meta.dirname, '../../examples/server');

/** Library crates of the example, bottom-up (the order a loader maps them in). */
export const EXAMPLE_LIBS = ['app_core', 'app_database', 'app_service', 'app_api', 'app_router'] as const;

/** Copies the example workspace (without `target/` and `data/`) to `dest`. */
export async function copyExample(dest: string): Promise<void> {
  await cp(EXAMPLE_DIR, dest, {
    recursive: true,
    filter: (src) => !['target', 'data', '.hotgen'].includes(path.basename(src)),
  });
}

/**
 * `cargo build --locked` of the example with its own target dir; returns the static
 * binary's path. Throws CommandError when the build fails.
 */
export async function buildStatic(targetDir: string, toolchain?: string): Promise<string> {
  const args = [...(toolchain ? [`+${toolchain}`] : []), 'build', '--locked', '--target-dir', targetDir];
  await run('cargo', args, { cwd: EXAMPLE_DIR, context: 'building the example server' });
  return path.join(targetDir, 'debug', 'app_server');
}

/** A running static server; `await using` kills it (SIGKILL) if it still runs. */
export interface ServerProcess extends AsyncDisposable {
  child: ChildProcess;
  /** `127.0.0.1:PORT` from the first stdout line `listening on ...`. */
  addr: string;
  /** Everything written to stderr so far. */
  stderr(): string;
  /** Resolves when the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts `bin` with `env` added to this process's environment and waits for its
 * `listening on <addr>` line. `extraStdio` become fds 3, 4, ... (e.g. a listening
 * net.Server for LISTEN_FDS). Throws when the process exits first or within 30 s prints nothing.
 */
export async function startServer(
  bin: string,
  env: Record<string, string>,
  extraStdio: unknown[] = [],
): Promise<ServerProcess> {
  const child = spawn(bin, [], {
    env: { ...process.env, HOTGEN_EXAMPLE_ADDR: '127.0.0.1:0', ...env },
    stdio: ['ignore', 'pipe', 'pipe', ...(extraStdio as never[])],
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  const addr = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`no "listening on" line within 30 s; stderr:\n${stderr}`)), 30_000);
    child.stdout!.setEncoding('utf8').on('data', (c: string) => {
      out += c;
      const m = /^listening on (\S+)\n/m.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`server exited (code ${code}, signal ${signal}) before listening; stderr:\n${stderr}`));
    });
  });
  return {
    child,
    addr,
    stderr: () => stderr,
    exited,
    async [Symbol.asyncDispose]() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}

/** One HTTP response. Header names are lower-case. */
export interface HttpResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** True when the request went over a kept-alive connection used before. */
  reusedSocket: boolean;
}

/**
 * Sends one request to `addr` (`host:port`). Without `agent`, a fresh connection that
 * is closed afterwards. Rejects on connection errors (e.g. ECONNREFUSED, ECONNRESET).
 */
export function request(
  addr: string,
  method: string,
  urlPath: string,
  opts: { body?: string; agent?: http.Agent; headers?: Record<string, string> } = {},
): Promise<HttpResult> {
  const [host, port] = splitAddr(addr);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host, port, method, path: urlPath, agent: opts.agent ?? false, headers: opts.headers },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body, reusedSocket: req.reusedSocket }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** `host:port` → [host, port]. */
export function splitAddr(addr: string): [string, number] {
  const i = addr.lastIndexOf(':');
  return [addr.slice(0, i), Number(addr.slice(i + 1))];
}

/** The flags the hot profile gives every crate (what `hotgen init` writes for mold). */
export const HOT_RUSTFLAGS = ['--cfg', 'hotgen', '--check-cfg', 'cfg(hotgen)', '-C', 'prefer-dynamic', '-C', 'link-arg=-fuse-ld=mold'];

/**
 * The by-hand hot setup of a copy of the example at `dir` (what `hotgen init` automates):
 * `profile-rustflags` first in the root manifest, a `hot` profile, `-z nodelete` for
 * `app_core`, `crate-type = ["rlib", "dylib"]` for every library, and the rendered entry
 * shim in `router/src/hotgen_entry.rs`. Plain text edits: only for this known layout.
 */
export async function applyHotSetup(dir: string): Promise<void> {
  const flags = (extra: string[]) => `[${[...HOT_RUSTFLAGS, ...extra].map((f) => JSON.stringify(f)).join(', ')}]`;
  const root = path.join(dir, 'Cargo.toml');
  await writeFile(
    root,
    `cargo-features = ["profile-rustflags"]\n\n${await readFile(root, 'utf8')}\n` +
      `[profile.hot]\ninherits = "dev"\nrustflags = ${flags([])}\n\n` +
      `[profile.hot.package.app_core]\nrustflags = ${flags(['-C', 'link-arg=-Wl,-z,nodelete'])}\n`,
  );
  for (const crate of ['core', 'database', 'service', 'api', 'router']) {
    const manifest = path.join(dir, crate, 'Cargo.toml');
    const text = await readFile(manifest, 'utf8');
    const edited = text.replace('path = "src/lib.rs"\n', 'path = "src/lib.rs"\ncrate-type = ["rlib", "dylib"]\n');
    if (edited === text) throw new Error(`${manifest}: no [lib] path line to extend`);
    await writeFile(manifest, edited);
  }
  const template = await readFile(path.resolve(import.meta.dirname, '../../templates/hotgen_entry.rs.hbs'), 'utf8');
  const shim = Handlebars.compile(template, { noEscape: true })({ libPath: 'router/src/lib.rs', profile: 'hot' });
  await writeFile(path.join(dir, 'router', 'src', 'hotgen_entry.rs'), shim);
}

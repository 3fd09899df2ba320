/**
 * Helpers for the example servers' tests (and for anyone who needs an example running):
 * copying, building, starting the static binary, plain HTTP over 127.0.0.1.
 * The hot-profile side is in hot.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cp } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { run } from '../../common/exec.js';

/** Absolute path of the example workspace in this repository. */
export const EXAMPLE_DIR = path.resolve(import.meta.dirname, '../../examples/server');

/** Absolute path of the tokio example (needs Debian's librust-tokio-dev sources). */
export const TOKIO_EXAMPLE_DIR = path.resolve(import.meta.dirname, '../../examples/tokio-server');

/** Library crates of the example, bottom-up (the order a loader maps them in). */
export const EXAMPLE_LIBS = ['app_core', 'app_database', 'app_service', 'app_api', 'app_router'] as const;

/** Copies an example workspace (default: examples/server; without `target/` and `data/`) to `dest`. */
export async function copyExample(dest: string, from = EXAMPLE_DIR): Promise<void> {
  await cp(from, dest, {
    recursive: true,
    filter: (src) => !['target', 'data', '.hotgen'].includes(path.basename(src)),
  });
}

/**
 * `cargo build --locked` of an example (default: examples/server) with its own target
 * dir; returns the path of its binary `bin`. Throws CommandError when the build fails.
 */
export async function buildStatic(targetDir: string, example = EXAMPLE_DIR, bin = 'app_server'): Promise<string> {
  await run('cargo', ['build', '--locked', '--target-dir', targetDir], { cwd: example, context: `building ${example}` });
  return path.join(targetDir, 'debug', bin);
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

/**
 * Drives the real host (`dist/loader/host.js`) over IPC as the supervisor does: stdio
 * ['ignore', 'ignore', 'pipe', 'ipc', ...sockets] (or output inherited), libstd on LD_LIBRARY_PATH, listening
 * sockets at fds 4, 5, ... named in HOTGEN_LISTEN_FDS. Also a plain HTTP GET and the
 * host's RSS from /proc.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { LISTEN_FDS_ENV, type FromHost, type ToHost } from '../loader/protocol.js';
import { HOST_NODE_ARGS } from '../loader/host-node.js';
import { repoRoot } from './paths.js';

/** How {@link BenchHost} spawns the host. */
export interface HostSpawnOptions {
  /** The host script; default `<repo>/dist/loader/host.js`. */
  hostJs?: string;
  /** Node options before the script; default the supervisor's (loader/host-node.ts). */
  nodeArgs?: readonly string[];
  /**
   * 'pipe' (default): stdout ignored, the last 4000 chars of stderr kept for error messages;
   * 'inherit': both go to this process's stdout and stderr (tests, to see the host's output).
   */
  output?: 'pipe' | 'inherit';
  /** Default wait of {@link BenchHost.next} in ms (30 000). */
  nextTimeoutMs?: number;
}

/** A spawned host; `await using` kills it when it still runs. */
export class BenchHost implements AsyncDisposable {
  readonly child: ChildProcess;
  readonly #queue: FromHost[] = [];
  #wake?: () => void;
  #stderr = '';
  readonly #nextTimeoutMs: number;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  /** Spawns the host with `env` added; `listenFds` become fds 4, 5, ... named in HOTGEN_LISTEN_FDS. */
  constructor(env: NodeJS.ProcessEnv, listenFds: number[] = [], opts: HostSpawnOptions = {}) {
    const hostJs = opts.hostJs ?? path.join(repoRoot(), 'dist/loader/host.js');
    const inherit = opts.output === 'inherit';
    this.#nextTimeoutMs = opts.nextTimeoutMs ?? 30_000;
    this.child = spawn(process.execPath, [...(opts.nodeArgs ?? HOST_NODE_ARGS), hostJs], {
      stdio: ['ignore', inherit ? 'inherit' : 'ignore', inherit ? 'inherit' : 'pipe', 'ipc', ...listenFds],
      env: { ...process.env, ...env, [LISTEN_FDS_ENV]: listenFds.map((_, i) => 4 + i).join(',') },
    });
    this.child.stderr?.setEncoding('utf8').on('data', (c: string) => (this.#stderr = (this.#stderr + c).slice(-4000)));
    this.child.on('message', (m) => {
      this.#queue.push(m as FromHost);
      this.#wake?.();
    });
    this.exited = new Promise((resolve) => this.child.on('exit', (code, signal) => resolve({ code, signal })));
    void this.exited.then(() => this.#wake?.());
  }

  /** The host's process id. */
  get pid(): number {
    return this.child.pid!;
  }

  /** Sends one IPC message to the host. */
  send(m: ToHost): void {
    this.child.send(m);
  }

  /**
   * The next message, which must be of `type` when given; waits `timeoutMs` (default from
   * {@link HostSpawnOptions.nextTimeoutMs}).
   * @throws Error on another message (restart-needed, error...), host exit or timeout, with the host's stderr tail when piped.
   */
  async next<T extends FromHost['type']>(type?: T, timeoutMs = this.#nextTimeoutMs): Promise<Extract<FromHost, { type: T }>> {
    const deadline = Date.now() + timeoutMs;
    const what = type ?? 'a message';
    while (this.#queue.length === 0) {
      const fail = (why: string) => new Error(`host: ${why} while waiting for ${what}${this.#stderrTail()}`);
      if (this.child.exitCode !== null || this.child.signalCode !== null) throw fail(`exited (${this.child.exitCode ?? this.child.signalCode})`);
      const left = deadline - Date.now();
      if (left <= 0) throw fail(`no message within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.#wake = undefined;
    }
    const m = this.#queue.shift()!;
    if (type && m.type !== type) throw new Error(`host: expected ${type}, got ${JSON.stringify(m)}${this.#stderrTail()}`);
    return m as Extract<FromHost, { type: T }>;
  }

  #stderrTail(): string {
    return this.child.stderr ? `; stderr:\n${this.#stderr}` : '';
  }

  /** Distinct file paths under `under` mapped in the host (from /proc/<pid>/maps). */
  async mappedFiles(under: string): Promise<string[]> {
    const maps = await readFile(`/proc/${this.pid}/maps`, 'utf8');
    const files = maps
      .split('\n')
      .map((l) => l.trim().split(/\s+/).slice(5).join(' '))
      .filter((f) => f.startsWith(under));
    return [...new Set(files)].sort();
  }

  /** Resident set size of the host in bytes (`VmRSS` of /proc/<pid>/status). */
  async rssBytes(): Promise<number> {
    return vmRssBytes(this.pid);
  }

  /** Sends shutdown and waits for the exit (kills after `timeoutMs`). */
  async shutdown(timeoutMs = 10_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.child.exitCode === null && this.child.signalCode === null && this.child.connected) this.send({ type: 'shutdown' });
    const t = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    const r = await this.exited;
    clearTimeout(t);
    return r;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
  }
}

/** `VmRSS` of /proc/<pid>/status in bytes. @throws Error when the line is missing (process gone). */
export async function vmRssBytes(pid: number): Promise<number> {
  const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}

/**
 * Binds 127.0.0.1:0, spawns a host with that socket as its only listener and closes this
 * process's copy right after the spawn (as loader/launcher.ts does), so only the host
 * ever accepts on it. Waits for the host's `ready`.
 */
export async function spawnHostWithListener(env: NodeJS.ProcessEnv, opts: HostSpawnOptions = {}): Promise<{ host: BenchHost; port: number }> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0, backlog: 511 }, resolve));
  const fd = (server as unknown as { _handle: { fd: number } })._handle.fd;
  const port = (server.address() as net.AddressInfo).port;
  let host: BenchHost;
  try {
    host = new BenchHost(env, [fd], opts);
  } finally {
    server.close();
  }
  await host.next('ready');
  return { host, port };
}

/**
 * One `GET <urlPath> HTTP/1.0` written on a fresh TCP connection, read until the server
 * closes it: the least client work between "the server can answer" and "the answer is
 * here" (node:http's client adds about 0.7 ms per request on a busy 2-core machine), for
 * the swap clock. Resolves with the status (0 when the response has no status line) and
 * the body. Rejects on connection errors or after `timeoutMs`.
 */
export function rawGet(port: number, urlPath: string, timeoutMs = 10_000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const s = net.connect({ host: '127.0.0.1', port, noDelay: true }, () => s.end(`GET ${urlPath} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n`));
    s.setTimeout(timeoutMs, () => s.destroy(new Error(`GET ${urlPath} timed out after ${timeoutMs} ms`)));
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('error', reject);
    s.on('close', (hadError) => {
      if (hadError) return;
      const text = Buffer.concat(chunks).toString('utf8');
      const split = text.indexOf('\r\n\r\n');
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      resolve({ status: status ? Number(status[1]) : 0, body: split < 0 ? '' : text.slice(split + 4) });
    });
  });
}

/** One GET on a fresh connection; resolves with status and body. Rejects on connection errors or after `timeoutMs`. */
export function httpGet(port: number, urlPath: string, timeoutMs = 10_000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${urlPath} timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

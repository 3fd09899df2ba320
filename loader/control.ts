/**
 * The session's control inputs: the control socket `<root>/.hotgen/control.sock`
 * (newline-delimited JSON, used by `hotgen reload`) and the terminal (CTRL+C = reload,
 * CTRL+\ = quit, as conduwuit; signals when stdin is not a TTY).
 *
 * Access control: the socket is created under the 0700 `.hotgen/` directory with a
 * 0077 umask and chmod'ed to 0600, and Linux requires write permission on a socket file
 * to connect(2) to it (unix(7), "Pathname socket ownership and permissions"), so peers
 * of another uid are refused by the kernel (root excepted). Plain Node cannot read
 * SO_PEERCRED, so there is no second, in-process uid check.
 */
import { controlSocketPath, isListening } from '../common/session.js';
import net from 'node:net';
import { promises as fs } from 'node:fs';
import { UserError } from '../common/errors.js';
import { ensureHotgenDir } from './snapshot.js';
import type { ReloadReport } from './report.js';

/** A request line. */
export type ControlRequest = { op: 'reload' } | { op: 'status' };

/** What `status` answers. */
export interface SessionStatus {
  pid: number;
  root: string;
  hostPid?: number;
  /** The running generation of the current host (0 when none runs). */
  generation: number;
  /** Mapped modules (topological order) and their snapshot paths. */
  modules: { name: string; role: string; path: string }[];
  building: boolean;
  lastReport?: ReloadReport;
}

/** A response line. `report` is present for `reload` (also when it failed). */
export type ControlResponse =
  | { ok: true; report?: ReloadReport; status?: SessionStatus }
  | { ok: false; error: string; report?: ReloadReport };

/** What the server calls. */
export interface ControlHandler {
  reload(): Promise<ControlResponse>;
  status(): SessionStatus;
}

export { controlSocketPath, isListening };

/** Longest request line accepted, bytes. */
const MAX_LINE = 64 * 1024;

/** A listening control socket; `await using` closes it and removes the file. */
export interface ControlServer extends AsyncDisposable {
  readonly path: string;
  close(): Promise<void>;
}

/**
 * Listens on `<root>/.hotgen/control.sock` (mode 0600). A stale socket file (nobody
 * listening) is replaced.
 * @throws UserError when another session already listens there, or the path is longer
 *   than a unix socket address allows (107 bytes on Linux, unix(7)).
 */
export async function startControlServer(root: string, handler: ControlHandler): Promise<ControlServer> {
  await ensureHotgenDir(root);
  const file = controlSocketPath(root);
  if (Buffer.byteLength(file) > 107) {
    throw new UserError('the control socket path is too long for a unix socket (max 107 bytes)', { file, hint: 'Move the workspace to a shorter path.' });
  }
  if (await isListening(file)) {
    throw new UserError(`a hotgen dev session already runs in ${root}`, { hint: 'Use `hotgen reload` to talk to it, or stop it first.' });
  }
  await fs.rm(file, { force: true });
  const sockets = new Set<net.Socket>();
  const server = net.createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    serveConnection(sock, handler);
  });
  const oldMask = process.umask(0o077);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(file, () => resolve());
    });
  } finally {
    process.umask(oldMask);
  }
  await fs.chmod(file, 0o600);
  const close = async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await fs.rm(file, { force: true });
  };
  return { path: file, close, [Symbol.asyncDispose]: close };
}

function serveConnection(sock: net.Socket, handler: ControlHandler): void {
  let buf = '';
  let chain = Promise.resolve();
  sock.setEncoding('utf8');
  sock.on('error', () => sock.destroy());
  sock.on('data', (chunk: string) => {
    buf += chunk;
    if (buf.length > MAX_LINE && !buf.includes('\n')) {
      sock.end(JSON.stringify({ ok: false, error: 'request line too long' }) + '\n');
      return;
    }
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (!line) continue;
      // Answers go out in request order, even when a reload takes longer than a later status.
      chain = chain.then(async () => {
        const res = await answer(line, handler);
        if (!sock.destroyed) sock.write(JSON.stringify(res) + '\n');
      });
    }
  });
}

async function answer(line: string, handler: ControlHandler): Promise<ControlResponse> {
  let req: { op?: unknown };
  try {
    req = JSON.parse(line);
  } catch {
    return { ok: false, error: 'request is not JSON' };
  }
  try {
    if (req.op === 'reload') return await handler.reload();
    if (req.op === 'status') return { ok: true, status: handler.status() };
    return { ok: false, error: `unknown op ${JSON.stringify(req.op)} (expected "reload" or "status")` };
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  }
}


/**
 * Sends one request to the session in `root` and resolves with its answer.
 * `timeoutMs` 0 waits forever (a reload may include a long build).
 * @throws UserError when no session runs there, it is not ours to talk to, it closes
 *   before answering, or the timeout passes.
 */
export function sendControl(root: string, req: ControlRequest, timeoutMs = 0): Promise<ControlResponse> {
  const file = controlSocketPath(root);
  return new Promise((resolve, reject) => {
    const s = net.connect(file);
    let buf = '';
    let done = false;
    const finish = (err: Error | undefined, res?: ControlResponse) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      if (err) reject(err);
      else resolve(res!);
    };
    const timer = timeoutMs > 0 ? setTimeout(() => finish(new UserError(`the hotgen dev session did not answer within ${timeoutMs} ms`, { file })), timeoutMs) : undefined;
    s.setEncoding('utf8');
    s.on('connect', () => s.write(JSON.stringify(req) + '\n'));
    s.on('data', (chunk: string) => {
      buf += chunk;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      try {
        finish(undefined, JSON.parse(buf.slice(0, nl)));
      } catch (err) {
        finish(new UserError('the hotgen dev session sent an answer that is not JSON', { file, cause: err }));
      }
    });
    s.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') {
        finish(new UserError(`no hotgen dev session runs in ${root}`, { hint: 'Start one with `hotgen dev` (in another terminal).' }));
      } else if (err.code === 'EACCES') {
        finish(new UserError('the hotgen dev session belongs to another user', { file }));
      } else finish(new UserError(`cannot reach the hotgen dev session: ${err.message}`, { file, cause: err }));
    });
    s.on('close', () => finish(new UserError('the hotgen dev session ended before answering', { file })));
  });
}

/** What the terminal can ask for. */
export interface TerminalHandlers {
  reload(): void;
  quit(): void;
}

/**
 * Binds the signals: SIGINT = reload, SIGQUIT/SIGTERM/SIGHUP = quit. On a terminal,
 * CTRL+C and CTRL+\ are these signals (the terminal sends them to the foreground process
 * group, the launcher's, which forwards them here: loader/launcher.ts). hotgen never
 * reads stdin: it belongs to the app, and even touching `process.stdin` would make Node
 * switch a shared pipe to non-blocking mode under the app's reads.
 */
export function attachTerminal(h: TerminalHandlers): Disposable {
  const onInt = () => h.reload();
  const onQuit = () => h.quit();
  process.on('SIGINT', onInt);
  for (const s of ['SIGQUIT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, onQuit);
  return {
    [Symbol.dispose]() {
      process.off('SIGINT', onInt);
      for (const s of ['SIGQUIT', 'SIGTERM', 'SIGHUP'] as const) process.off(s, onQuit);
    },
  };
}

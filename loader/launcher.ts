/**
 * Starting the processes of a `hotgen dev` session with the listening sockets:
 * - the launcher (`hotgen dev` itself) binds every `listen:` address, spawns the
 *   supervisor with a lifeline at fd 3 and the sockets as fds 4, 5, ... and closes its
 *   own copies, so the only process that ever accepts is the host (the supervisor never
 *   polls a raw inherited fd; connections arriving while no generation accepts wait in
 *   the kernel backlog);
 * - the supervisor spawns the host ({@link HostProcess}) with an IPC channel at fd 3 and
 *   the sockets at fds 4, 5, ...
 * Plain Node cannot hold a listening socket without accepting on it, hence two processes.
 * How the three processes end together is in {@link launch}.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { lockWorkspace } from '../common/lock.js';
import { lookup } from 'node:dns/promises';
import net from 'node:net';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { InternalError, UserError, tail } from '../common/errors.js';
import { parseListenAddress } from '../common/plan-rules.js';
import { LISTEN_FDS_ENV, PARENT_PID_ENV, type FromHost, type ToHost } from './protocol.js';
import type { SupervisorOptions } from './protocol.js';
import { HOST_NODE_ARGS } from './host-node.js';

/** Env var carrying the supervisor's options (JSON) from the launcher. */
export const SUPERVISOR_ENV = 'HOTGEN_SUPERVISOR';

/** `host:port` / `[v6]:port` split by the one listen grammar (common/plan-rules.ts). @throws UserError for anything else. */
export function parseAddress(addr: string): { host: string; port: number } {
  return parseListenAddress(addr, { file: 'hotgen.yaml' });
}

/**
 * The kernel descriptor of a listening net.Server. `_handle.fd` is undocumented but has
 * been stable on Unix since Node 0.x (libuv's uv_fileno).
 * @throws InternalError when this Node does not expose it.
 */
export function serverFd(server: net.Server): number {
  const fd = (server as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new InternalError('cannot read the listening socket descriptor (net.Server._handle.fd) on this Node');
  return fd;
}

/** Bound sockets: `fds[i]` listens on `addresses[i]` (with the real port when 0 was asked). */
export interface Bound {
  servers: net.Server[];
  fds: number[];
  addresses: string[];
}

/**
 * Binds every address. Host names are resolved first, so the listen calls and the
 * caller's spawn run without an event-loop turn in between (the launcher never accepts).
 * @throws UserError naming the address when it is in use or cannot be bound.
 */
export async function bindAll(addresses: readonly string[]): Promise<Bound> {
  const targets = await Promise.all(
    addresses.map(async (a) => {
      const { host, port } = parseAddress(a);
      const ip = net.isIP(host) ? host : (await lookup(host)).address;
      return { a, ip, port };
    }),
  );
  const servers = targets.map(() => net.createServer());
  await Promise.all(
    servers.map(
      (s, i) =>
        new Promise<void>((resolve, reject) => {
          s.once('error', (err: NodeJS.ErrnoException) =>
            reject(new UserError(`cannot listen on ${targets[i].a}: ${err.code === 'EADDRINUSE' ? 'the address is in use' : err.message}`, { file: 'hotgen.yaml' })),
          );
          s.listen({ host: targets[i].ip, port: targets[i].port, backlog: 511 }, () => resolve());
        }),
    ),
  ).catch((err) => {
    for (const s of servers) s.close();
    throw err;
  });
  const fds = servers.map(serverFd);
  const bound = servers.map((s) => {
    const ad = s.address() as net.AddressInfo;
    return ad.family === 'IPv6' ? `[${ad.address}]:${ad.port}` : `${ad.address}:${ad.port}`;
  });
  return { servers, fds, addresses: bound };
}

/** Signals the launcher passes on to the supervisor (control.ts `attachTerminal` says what each does). */
const FORWARDED = ['SIGINT', 'SIGQUIT', 'SIGTERM', 'SIGHUP'] as const;

/**
 * Runs a session: binds `addresses`, spawns the supervisor with them, and resolves with
 * its exit code (128 + signal number when it was killed).
 *
 * Signals: the supervisor runs in a session of its own (`detached`, i.e. setsid(2)), so
 * no signal meant for a process group reaches it: neither the terminal's (CTRL+C,
 * CTRL+\, a hang-up) nor a
 * `kill -INT -<pgid>`. Every SIGINT, SIGQUIT, SIGTERM and SIGHUP for the session
 * therefore arrives here, at the pid the user knows, and this process passes each one
 * on with kill(2), always and exactly once (no copy can also arrive from the group;
 * the other way, forwarding only what did not come from the terminal, would need the
 * sender's pid, which Node's signal events do not carry).
 * The supervisor then does what its banner says: SIGINT reloads, the others quit. On a
 * terminal CTRL+C and CTRL+\ are those signals, sent by the terminal to this process's
 * group. stdin is the app's: the host inherits it and reads it from its own session,
 * which job control allows (Linux `__tty_check_change`, drivers/tty/tty_jobctrl.c,
 * checks only the caller's own controlling terminal); hotgen never reads it.
 *
 * Lifeline: the supervisor's fd 3 is a socket pair whose other end only this process
 * holds, so the supervisor reads EOF there as soon as this process is gone, by any
 * signal, SIGKILL included, and ends the session (supervisor.ts `Session.orphaned`).
 *
 * The session holds the workspace lock (common/lock.ts) from before the bind until the
 * supervisor has exited, so `init` and `eject` wait for it and then refuse.
 * @throws UserError when another hotgen command holds the lock (naming its pid) or an
 *   address cannot be bound.
 */
export async function launch(opts: Omit<SupervisorOptions, 'addresses'> & { listen: string[] }): Promise<number> {
  const { listen, ...rest } = opts;
  // One writer per workspace: init and eject wait for this session to end (common/lock.ts).
  const lock = await lockWorkspace(rest.root, 'dev');
  try {
    return await runSession(rest, listen);
  } finally {
    await lock?.release();
  }
}

async function runSession(rest: Omit<SupervisorOptions, 'addresses'>, listen: string[]): Promise<number> {
  const bound = await bindAll(listen);
  const script = fileURLToPath(new URL('./supervisor.js', import.meta.url));
  const supervisorOpts: SupervisorOptions = { ...rest, addresses: bound.addresses };
  const child = spawn(process.execPath, [script], {
    stdio: ['inherit', 'inherit', 'inherit', 'pipe', ...bound.fds],
    env: { ...process.env, [SUPERVISOR_ENV]: JSON.stringify(supervisorOpts) },
    detached: true,
  });
  for (const s of bound.servers) s.close();
  const lifeline = child.stdio[3] as net.Socket | null;
  lifeline?.on('error', () => undefined);
  const forward = (sig: NodeJS.Signals) => child.kill(sig);
  for (const sig of FORWARDED) process.on(sig, forward);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (c, s) => resolve([c, s]));
  }).finally(() => {
    for (const sig of FORWARDED) process.off(sig, forward);
    lifeline?.destroy();
  });
  if (signal) return 128 + (os.constants.signals[signal] ?? 0);
  return code ?? 1;
}

/** How a host process ended; `tail` holds the last lines of its stderr. */
export class HostExit extends Error {
  constructor(
    readonly code: number | null,
    readonly signal: NodeJS.Signals | null,
    readonly tail: string,
  ) {
    super(`host ${signal ? `was killed by ${signal}` : `exited with code ${code}`}`);
    this.name = 'HostExit';
  }
  /** `exited with code 1` / `was killed by SIGSEGV`. */
  get how(): string {
    return this.signal ? `was killed by ${this.signal}` : `exited with code ${this.code}`;
  }
}

/** Options for {@link HostProcess.spawn}. */
export interface HostSpawnOptions {
  /** Listening descriptors in this process, passed to the host as fds 4, 5, ... */
  fds: number[];
  /** Prepended to LD_LIBRARY_PATH (glibc reads it once, at process start). */
  libstdDir: string;
  /** Send the host's stdout to our stderr (with `--json`, stdout carries only events). */
  stdoutToStderr: boolean;
  /** Messages no {@link HostProcess.next} call is waiting for. */
  onMessage: (m: FromHost) => void;
  /** The host ended without {@link HostProcess.stop}/{@link HostProcess.kill}. */
  onExit: (e: HostExit) => void;
  /** The host script (default: host.js beside this file). */
  script?: string;
  /** What the app gets: arguments (as {@link APP_ARGS_ENV}), extra environment, working directory (absolute). */
  app?: { args: string[]; env: Record<string, string>; cwd: string };
}

/**
 * The app's arguments for the shim's `ctx.args()`: each argument's UTF-8 bytes in
 * lowercase hex, each followed by `;` (an environment variable cannot hold NUL, hex needs
 * no parser beyond a few lines of Rust, and `[]` and `[""]` stay apart).
 */
export const APP_ARGS_ENV = 'HOTGEN_ARGS';

/** {@link APP_ARGS_ENV}'s value for `args`. */
export function encodeArgs(args: readonly string[]): string {
  return args.map((a) => `${Buffer.from(a, 'utf8').toString('hex')};`).join('');
}

const live = new Set<ChildProcess>();
process.on('exit', killAllHosts);

/** SIGKILLs every host this process spawned that has not exited yet (also one still starting). */
export function killAllHosts(): void {
  for (const c of live) c.kill('SIGKILL');
}

/** A host process and its IPC channel. */
export class HostProcess {
  private waiters: { types: string[]; resolve: (m: FromHost) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }[] = [];
  private ended?: HostExit;
  private expected = false;
  /** The end of the host's stderr (for crash reports). */
  private stderrEnd = '';
  private readonly exited: Promise<HostExit>;
  /** Date.now() when the process was spawned. */
  readonly spawnedAt = Date.now();
  /** When its first generation reported `started` (ms since the epoch); the start of "right after starting". */
  startedAt?: number;

  private constructor(
    private readonly child: ChildProcess,
    private readonly opts: HostSpawnOptions,
  ) {
    live.add(child);
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      process.stderr.write(chunk);
      this.stderrEnd = (this.stderrEnd + chunk).slice(-16_384);
    });
    child.on('message', (m: FromHost) => this.dispatch(m));
    child.on('error', () => undefined);
    this.exited = new Promise((resolve) => {
      child.once('close', (code, signal) => {
        live.delete(child);
        const e = new HostExit(code, signal, tail(this.stderrEnd, 20));
        this.ended = e;
        for (const w of this.waiters.splice(0)) {
          clearTimeout(w.timer);
          w.reject(e);
        }
        if (!this.expected) opts.onExit(e);
        resolve(e);
      });
    });
  }

  /**
   * Starts `node host.js` with stdio [stdin, stdout, pipe, ipc, ...fds] in its own
   * session, naming this process in `HOTGEN_PARENT_PID` (the host dies with it: host.ts).
   * stdin is this process's (the terminal or the pipe `hotgen dev` got), so the app reads
   * it; hotgen itself never reads stdin.
   */
  static spawn(opts: HostSpawnOptions): HostProcess {
    const script = opts.script ?? fileURLToPath(new URL('./host.js', import.meta.url));
    const fdList = opts.fds.map((_, i) => 4 + i).join(',');
    const ld = [opts.libstdDir, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':');
    const child = spawn(process.execPath, [...HOST_NODE_ARGS, script], {
      stdio: ['inherit', opts.stdoutToStderr ? 2 : 'inherit', 'pipe', 'ipc', ...opts.fds],
      env: {
        ...process.env,
        ...opts.app?.env,
        [APP_ARGS_ENV]: encodeArgs(opts.app?.args ?? []),
        [LISTEN_FDS_ENV]: fdList,
        [PARENT_PID_ENV]: String(process.pid),
        LD_LIBRARY_PATH: ld,
      },
      cwd: opts.app?.cwd,
      // Its own process group: the terminal's signals reach the supervisor only.
      detached: true,
    });
    return new HostProcess(child, opts);
  }

  /** The host's pid. */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Sends a message. @throws HostExit when the host has ended. */
  send(m: ToHost): void {
    if (this.ended) throw this.ended;
    if (!this.child.connected) throw new HostExit(null, null, tail(this.stderrEnd, 20));
    this.child.send(m);
  }

  /**
   * Resolves with the next message of one of `types` (a non-fatal `error` never counts).
   * @throws HostExit when the host ends first; Error after `timeoutMs`.
   */
  next<K extends FromHost['type']>(types: K[], timeoutMs: number): Promise<Extract<FromHost, { type: K }>> {
    if (this.ended) return Promise.reject(this.ended);
    return new Promise((resolve, reject) => {
      const w = {
        types: types as string[],
        resolve: resolve as (m: FromHost) => void,
        reject,
        timer: setTimeout(() => {
          this.waiters = this.waiters.filter((x) => x !== w);
          reject(new Error(`the host did not answer (${types.join(' or ')}) within ${timeoutMs} ms`));
        }, timeoutMs),
      };
      this.waiters.push(w);
    });
  }

  /** Asks the host to shut down, waits up to `timeoutMs`, then kills it. */
  async stop(timeoutMs: number): Promise<void> {
    this.expected = true;
    if (this.ended) return;
    try {
      this.send({ type: 'shutdown' });
    } catch {
      this.kill();
    }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.exited, new Promise((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
    if (!this.ended) {
      this.kill();
      await this.exited;
    }
  }

  /** Kills the host at once (SIGKILL); its exit is not reported as a crash. */
  kill(): void {
    this.expected = true;
    if (!this.ended) this.child.kill('SIGKILL');
  }

  private dispatch(m: FromHost): void {
    const counts = !(m.type === 'error' && !m.fatal);
    const i = counts ? this.waiters.findIndex((w) => w.types.includes(m.type)) : -1;
    if (i < 0) {
      this.opts.onMessage(m);
      return;
    }
    const [w] = this.waiters.splice(i, 1);
    clearTimeout(w.timer);
    w.resolve(m);
  }
}


/**
 * The example server (examples/server) under `hotgen dev` and as the restart baseline
 * (its static `app_server` binary): copies, set-up, processes, the one-line edits and
 * polling for the first answer that shows an edit.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cp, readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import type { Linker } from '../common/types.js';
import { run } from '../common/exec.js';
import { initWorkspace } from '../generator/init.js';
import { httpGet } from './host-driver.js';
import { repoRoot } from './paths.js';

/** A layer of the example that the benchmark edits, and where. */
export interface Layer {
  name: 'api' | 'service' | 'database' | 'core';
  /** File relative to the workspace root holding `"<name> vN"`. */
  file: string;
  /** True for the frozen crate (an edit restarts the host). */
  frozen: boolean;
}

/** The four edited layers, top to bottom. */
export const LAYERS: readonly Layer[] = [
  { name: 'api', file: 'api/src/lib.rs', frozen: false },
  { name: 'service', file: 'service/src/lib.rs', frozen: false },
  { name: 'database', file: 'database/src/lib.rs', frozen: false },
  { name: 'core', file: 'core/src/lib.rs', frozen: true },
];

/** A free TCP port on 127.0.0.1 (bound and released). */
export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const { port } = s.address() as net.AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

/** Copies examples/server (without target/, data/, .hotgen/) to `dest`. */
export async function copyExample(dest: string): Promise<void> {
  const src = path.join(repoRoot(), 'examples/server');
  await cp(src, dest, { recursive: true, filter: (f) => !['target', 'data', '.hotgen'].includes(path.basename(f)) });
}

/**
 * The one-line edit: `"<layer> vN"` becomes `"<layer> v<version>"` in the layer's file.
 * Returns the string `/version` answers with once the edit is live.
 * @throws Error when the file has no such string.
 */
export async function editLayer(root: string, layer: Layer, version: number): Promise<string> {
  const file = path.join(root, layer.file);
  const text = await readFile(file, 'utf8');
  const re = new RegExp(`"${layer.name} v\\d+"`);
  if (!re.test(text)) throw new Error(`${layer.file}: no "${layer.name} vN" string to edit`);
  await writeFile(file, text.replace(re, `"${layer.name} v${version}"`));
  return `${layer.name} v${version}`;
}

/**
 * Polls GET `urlPath` every `intervalMs` until the body contains `want`; returns that body.
 * Connection errors (refused while restarting) are retried. `check` runs before every
 * try and may throw to give up early (e.g. the server process has exited).
 * @throws Error after `timeoutMs`, with the last answer or error; whatever `check` throws.
 */
export async function pollFor(port: number, urlPath: string, want: string, timeoutMs = 120_000, intervalMs = 10, check?: () => void): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    check?.();
    try {
      const r = await httpGet(port, urlPath, 5000);
      if (r.status === 200 && r.body.includes(want)) return r.body;
      last = `${r.status} ${JSON.stringify(r.body)}`;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`GET ${urlPath} on port ${port} never showed ${JSON.stringify(want)} within ${timeoutMs} ms; last: ${last}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Cargo toolchain selector for the bench (`+<HOTGEN_TOOLCHAIN>` or `+nightly`). */
export function toolchainArgs(): string[] {
  return [`+${process.env.HOTGEN_TOOLCHAIN || 'nightly'}`];
}

/** `hotgen init` (library call) on a copy at `root`: entry app_router, app_core frozen, listening on `port`. */
export async function initExample(root: string, port: number, linker: Linker): Promise<void> {
  await initWorkspace(root, { entry: 'app_router', frozen: ['app_core'], listen: [`127.0.0.1:${port}`], linker });
}

/** RUSTFLAGS for the baseline's static build with `linker` (the same link-arg the hot profile uses). */
export function baselineRustflags(linker: Linker): string {
  return linker === 'default' ? '' : `-C link-arg=-fuse-ld=${linker}`;
}

/**
 * `cargo build -p app_server` (the dev profile: the static binary) in `root` with the
 * linker's flags; returns the binary's path and the wall time (ms).
 * @throws CommandError when the build fails.
 */
export async function buildStatic(root: string, linker: Linker): Promise<{ bin: string; ms: number }> {
  const t0 = performance.now();
  const flags = baselineRustflags(linker);
  await run('cargo', [...toolchainArgs(), 'build', '--offline', '--quiet', '-p', 'app_server'], {
    cwd: root,
    env: { ...process.env, ...(flags ? { RUSTFLAGS: flags } : {}) },
    context: 'building the static baseline',
  });
  return { bin: path.join(root, 'target/debug/app_server'), ms: performance.now() - t0 };
}

/** A running static server (the baseline). */
export class StaticServer {
  private constructor(
    readonly child: ChildProcess,
    readonly exited: Promise<unknown>,
  ) {}

  /** Spawns `bin` listening on 127.0.0.1:`port` with its store at `store`. Does not wait for it to answer. */
  static spawn(bin: string, port: number, store: string): StaticServer {
    const child = spawn(bin, [], {
      stdio: ['ignore', 'ignore', 'ignore'],
      env: { ...process.env, HOTGEN_EXAMPLE_ADDR: `127.0.0.1:${port}`, HOTGEN_EXAMPLE_STORE: store, HOTGEN_EXAMPLE_LOG: 'error' },
    });
    return new StaticServer(child, new Promise((r) => child.once('exit', r)));
  }

  /** @throws Error when the server has exited. */
  assertAlive(): void {
    if (this.child.exitCode !== null || this.child.signalCode !== null) throw new Error(`the static server exited (${this.child.exitCode ?? this.child.signalCode})`);
  }

  /** SIGTERM (it finishes requests in flight and exits 0), SIGKILL after `graceMs`; resolves once it exited. */
  async stop(graceMs = 10_000): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    const t = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(t);
  }
}

/** A `hotgen dev --json` session; `events` collects its JSON events. */
export class DevSession {
  readonly events: Record<string, unknown>[] = [];
  stderr = '';
  readonly exited: Promise<number | null>;

  private constructor(readonly child: ChildProcess) {
    let partial = '';
    child.stdout!.setEncoding('utf8').on('data', (c: string) => {
      const lines = (partial + c).split('\n');
      partial = lines.pop()!;
      for (const l of lines) {
        if (!l.trim()) continue;
        try {
          this.events.push(JSON.parse(l));
        } catch {
          this.stderr += `${l}\n`;
        }
      }
    });
    child.stderr!.setEncoding('utf8').on('data', (c: string) => (this.stderr = (this.stderr + c).slice(-8000)));
    this.exited = new Promise((r) => child.once('exit', (code) => r(code)));
  }

  /** Spawns `node dist/cli/hotgen.js dev --json` in `root`; `env` is added to ours. */
  static spawn(root: string, env: Record<string, string>): DevSession {
    const cli = path.join(repoRoot(), 'dist/cli/hotgen.js');
    return new DevSession(spawn(process.execPath, [cli, 'dev', '--json'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } }));
  }

  /**
   * The first event at index ≥ `from` whose `event` is one of `kinds`.
   * @throws Error when the session exits first or after `timeoutMs`.
   */
  async waitEvent(kinds: string[], from: number, timeoutMs = 900_000): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.events.slice(from).find((e) => kinds.includes(String(e.event)));
      if (hit) return hit;
      this.assertAlive();
      if (Date.now() > deadline) throw new Error(`no ${kinds.join('/')} event within ${timeoutMs} ms; stderr:\n${this.stderr.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** @throws Error with the stderr tail when the session has exited. */
  assertAlive(): void {
    if (this.child.exitCode !== null || this.child.signalCode !== null) {
      throw new Error(`hotgen dev exited (${this.child.exitCode ?? this.child.signalCode}); stderr:\n${this.stderr.slice(-3000)}`);
    }
  }

  /** SIGTERM, SIGKILL after 15 s. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    this.child.kill('SIGTERM');
    const t = setTimeout(() => this.child.kill('SIGKILL'), 15_000);
    await this.exited;
    clearTimeout(t);
  }
}

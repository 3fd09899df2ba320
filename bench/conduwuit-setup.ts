/**
 * examples/conduwuit for the benchmark (bench/conduwuit.ts): copies, the one-line edits,
 * the static build, the restart baseline's socket holder (bench/conduwuit/sockhold.c:
 * the listening socket is kept across restarts and passed as LISTEN_FDS=1 / LISTEN_PID,
 * as systemd and systemfd do), and the check for the first *correct* answer.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cp, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { run } from '../common/exec.js';
import { readPlan } from '../common/plan-read.js';
import { resolveRustupToolchain } from '../common/toolchain.js';
import { httpGet } from './host-driver.js';
import { repoRoot } from './paths.js';

/** The crates the benchmark edits, top to bottom of the DAG; each has `"<name> vN"` in `file`. */
export const CONDUWUIT_LAYERS = [
  { name: 'api', file: 'src/api/src/lib.rs', pos: 'top' },
  { name: 'service', file: 'src/service/src/lib.rs', pos: 'middle' },
  { name: 'database', file: 'src/database/src/lib.rs', pos: 'bottom' },
] as const;
/** One edited crate. */
export type ConduwuitLayer = (typeof CONDUWUIT_LAYERS)[number];

/**
 * Copies examples/conduwuit to `dest` (sources, manifests, hotgen's files; not `target/`,
 * `data/` or `.hotgen/`), over an earlier copy whose `target/` is kept (a warm start), and
 * points `hotgen.yaml`'s `listen:` at `port`.
 */
export async function copyConduwuit(dest: string, port: number): Promise<void> {
  const src = path.join(repoRoot(), 'examples/conduwuit');
  await cp(src, dest, { recursive: true, force: true, filter: (f) => !['target', 'data', '.hotgen'].includes(path.basename(f)) });
  const plan = path.join(dest, 'hotgen.yaml');
  const text = await readFile(plan, 'utf8');
  if (!/^listen: \[.*\]$/m.test(text)) throw new Error(`${plan}: no one-line listen: setting to point at port ${port}`);
  await writeFile(plan, text.replace(/^listen: \[.*\]$/m, `listen: [ 127.0.0.1:${port} ]`));
}

/**
 * The one-line edit: `"<crate> vN"` becomes `"<crate> v<version>"`. Returns what
 * `/version` shows once the edit serves (`"api":"api v7"`).
 * @throws Error when the file has no such string.
 */
export async function editLayer(root: string, layer: ConduwuitLayer, version: number): Promise<string> {
  const file = path.join(root, layer.file);
  const text = await readFile(file, 'utf8');
  const re = new RegExp(`"${layer.name} v\\d+"`);
  if (!re.test(text)) throw new Error(`${layer.file}: no "${layer.name} vN" string to edit`);
  await writeFile(file, text.replace(re, `"${layer.name} v${version}"`));
  return `"${layer.name}":"${layer.name} v${version}"`;
}

/** The key of the last row start-up loads into the cache (`k0149999` for 150 000 rows). */
export function lastKey(rows: number): string {
  return `k${String(rows - 1).padStart(7, '0')}`;
}

/**
 * Polls until the server answers correctly: `GET /version` shows `want` and `GET
 * /kv/<last key>` finds the row (only a server whose start-up loaded the whole cache has
 * it). Every 10 ms; each request may wait `requestMs` (a restarting server's backlog).
 * `check` runs before each try and may throw to give up.
 * @throws Error after `timeoutMs` with the last answer.
 */
export async function waitCorrect(port: number, want: string, rows: number, opts: { timeoutMs?: number; requestMs?: number; check?: () => void } = {}): Promise<void> {
  const deadline = Date.now() + (opts.timeoutMs ?? 180_000);
  const key = lastKey(rows);
  let last = '';
  for (;;) {
    opts.check?.();
    try {
      const v = await httpGet(port, '/version', opts.requestMs ?? 60_000);
      if (v.status === 200 && v.body.includes(want)) {
        const kv = await httpGet(port, `/kv/${key}`, opts.requestMs ?? 60_000);
        if (kv.status === 200 && kv.body.includes(`"key":"${key}"`)) return;
        last = `/kv/${key}: ${kv.status} ${kv.body.slice(0, 200)}`;
      } else last = `/version: ${v.status} ${v.body.slice(0, 300)}`;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`port ${port} never answered ${want} with row ${key}; last: ${last}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** `cargo +<tc>` for the plan's pinned toolchain (hotgen dev builds with the same one). */
export async function planToolchain(root: string): Promise<string[]> {
  const plan = await readPlan(root);
  const tc = await resolveRustupToolchain(plan.toolchain);
  return tc.match === 'missing' ? [] : [`+${tc.name}`];
}

/**
 * The restart baseline's build, as a user runs it: `cargo build -p conduwuit-server`
 * (dev profile, like the hot profile), linked with mold like the hot build when there is
 * mold. Returns the binary and the wall time (ms).
 * @throws CommandError when the build fails.
 */
export async function buildStaticServer(root: string, plus: string[], mold: boolean): Promise<{ bin: string; ms: number }> {
  const t0 = performance.now();
  await run('cargo', [...plus, 'build', '--offline', '--quiet', '-p', 'conduwuit-server'], {
    cwd: root,
    env: { ...process.env, RUSTUP_AUTO_INSTALL: '0', ...(mold ? { RUSTFLAGS: '-C link-arg=-fuse-ld=mold' } : {}) },
    context: 'building the static conduwuit-server',
  });
  return { bin: path.join(root, 'target/debug/conduwuit-server'), ms: performance.now() - t0 };
}

/** Compiles the socket holder into `outDir` (when its source is newer); returns its path. */
export async function buildSockhold(outDir: string): Promise<string> {
  const src = path.join(repoRoot(), 'bench/conduwuit/sockhold.c');
  const bin = path.join(outDir, 'sockhold');
  const [s, b] = await Promise.all([stat(src), stat(bin).catch(() => undefined)]);
  if (!b || b.mtimeMs < s.mtimeMs) {
    await mkdir(outDir, { recursive: true });
    await run('cc', ['-O2', '-Wall', '-o', bin, src], { context: 'compiling the socket holder' });
  }
  return bin;
}

/** The restart baseline: sockhold holding 127.0.0.1:`port`, running the static server with `env`. */
export class Holder implements AsyncDisposable {
  private readonly answers: string[] = [];
  private waiting?: () => void;
  stderr = '';

  private constructor(private readonly child: ChildProcess) {
    let partial = '';
    child.stdout!.setEncoding('utf8').on('data', (c: string) => {
      const ls = (partial + c).split('\n');
      partial = ls.pop()!;
      this.answers.push(...ls);
      this.waiting?.();
    });
    child.stderr!.setEncoding('utf8').on('data', (c: string) => (this.stderr = (this.stderr + c).slice(-8000)));
    child.once('exit', () => this.waiting?.());
  }

  /** Binds the port (the holder exits at once when it cannot) and waits for nothing else. */
  static spawn(sockhold: string, port: number, bin: string, env: Record<string, string>): Holder {
    return new Holder(spawn(sockhold, ['127.0.0.1', String(port), bin], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } }));
  }

  private async command(line: string): Promise<string> {
    this.assertAlive();
    this.child.stdin!.write(`${line}\n`);
    while (this.answers.length === 0) {
      this.assertAlive();
      await new Promise<void>((r) => (this.waiting = r));
    }
    return this.answers.shift()!;
  }

  /** Starts the server (not waiting for it to answer). */
  async start(): Promise<void> {
    const a = await this.command('start');
    if (!a.startsWith('pid ')) throw new Error(`sockhold: ${a}`);
  }

  /** SIGTERM to the server (it finishes the requests in flight), and waits until it exited. */
  async stop(): Promise<void> {
    await this.command('stop');
  }

  /** The binary for later starts. */
  async setBin(bin: string): Promise<void> {
    await this.command(`bin ${bin}`);
  }

  /** @throws Error with the holder's stderr when it has exited. */
  assertAlive(): void {
    if (this.child.exitCode !== null || this.child.signalCode !== null) throw new Error(`sockhold exited (${this.child.exitCode ?? this.child.signalCode}): ${this.stderr.slice(-2000)}`);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.stdin!.end();
    const t = setTimeout(() => this.child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(t);
  }
}

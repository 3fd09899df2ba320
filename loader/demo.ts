/**
 * `hotgen demo`: the whole product on a bundled example, end to end, through the
 * real CLI: copy `examples/<name>` to a temp dir, `hotgen init`, `hotgen dev --json`,
 * ask the example's probe URL, edit a string in its `api` crate, wait for the reload,
 * ask again, and print both answers with the timings.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { UserError, tail } from '../common/errors.js';
import { atomicWrite } from '../common/fsx.js';
import { run } from '../common/exec.js';
import type { Output } from '../common/output.js';

const here = path.dirname(fileURLToPath(import.meta.url));
/** The package root (dist/loader/demo.js → ../..). */
const packageRoot = path.resolve(here, '..', '..');
const cliPath = path.join(packageRoot, 'dist', 'cli', 'hotgen.js');

/** A bundled example the demo can run: how to init it, what to ask, what to edit. */
interface DemoExample {
  /** `hotgen init` flags besides `-C` and `--listen`. */
  init: string[];
  /** The URL path whose answer shows the edit. */
  probe: string;
  /** Where the edited string lives (relative to the example) and what the demo changes it to. */
  edit: { file: string; from: string; to: string };
  /** Said before the first build. */
  firstBuild: string;
}

/** The examples `hotgen demo --example` runs; the first is the default. */
export const DEMO_EXAMPLES = {
  // Six small std-only crates: a quick first build.
  server: {
    init: ['--frozen', 'app_core'],
    probe: '/hello',
    edit: { file: 'api/src/lib.rs', from: 'hello from api v1', to: 'hello from api v2 (hot-reloaded)' },
    firstBuild: 'the first build takes a while',
  },
  // conduwuit-shaped (tokio, hyper, rusqlite, tracing): a restart costs a database open and a cache load.
  conduwuit: {
    init: ['--entry', 'conduwuit_router', '--frozen', 'conduwuit_core', '--channel', 'stable', '--force'],
    probe: '/version',
    edit: { file: 'src/api/src/lib.rs', from: 'api v1', to: 'api v2 (hot-reloaded)' },
    firstBuild: 'the first build compiles tokio, hyper, rusqlite and tracing: minutes',
  },
} satisfies Record<string, DemoExample>;

/** A name of {@link DEMO_EXAMPLES}. */
export type DemoExampleName = keyof typeof DEMO_EXAMPLES;

/** Options for {@link runDemo}. `keep`: leave the temp workspace in place and print its path. */
export interface DemoOptions {
  out: Output;
  keep?: boolean;
  /** Which bundled example (default `server`). */
  example?: DemoExampleName;
  /** Bound for each wait (first build, reload), ms. Default 600 000. */
  timeoutMs?: number;
}

/** What the demo measured. Times in ms. */
export interface DemoResult {
  dir: string;
  before: string;
  after: string;
  /** From the file write to the first answer showing the edit. */
  editToServingMs: number;
  /** The reload event `hotgen dev` reported (modules, swapMs, buildMs...). */
  reload: Record<string, unknown>;
  /** The first start event (build and start of the first generation). */
  start: Record<string, unknown>;
}

/**
 * Runs the demo. @throws UserError when a step fails (with the tail of `hotgen dev`'s
 * output), after stopping `hotgen dev`.
 */
export async function runDemo(opts: DemoOptions): Promise<DemoResult> {
  const { out } = opts;
  const timeoutMs = opts.timeoutMs ?? 600_000;
  const name = opts.example ?? 'server';
  const ex: DemoExample = DEMO_EXAMPLES[name];
  const { edit } = ex;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hotgen-demo-'));
  const example = path.join(packageRoot, 'examples', name);
  await cp(example, dir, { recursive: true, filter: (src) => !/[/\\](target|data|\.hotgen)$/.test(src) });
  out.info(`demo: copied examples/${name} to ${dir}`);

  const initFlags = ['--listen', '127.0.0.1:0', ...ex.init];
  const init = await run(process.execPath, [cliPath, 'init', '-C', dir, ...initFlags], { context: 'hotgen init' });
  out.info(`demo: $ hotgen init ${initFlags.join(' ')}`);
  out.info(indent(init.stdout.trim().split('\n').slice(0, 12).join('\n')));

  const dev = new DevProcess(dir);
  try {
    out.info(`demo: $ hotgen dev   (building the hot profile; ${ex.firstBuild})`);
    const listening = await dev.next((e) => e.event === 'listening', timeoutMs);
    const address = (listening.addresses as string[])[0];
    const start = await dev.next((e) => e.event === 'start', timeoutMs);
    out.info(`demo: ${describe(start)}; serving on http://${address}`);
    const before = await get(address, ex.probe);
    out.info(`demo: GET ${ex.probe} → ${before.trim()}`);

    const file = path.join(dir, edit.file);
    const source = await readFile(file, 'utf8');
    if (!source.includes(edit.from)) throw new UserError(`the example's string \`${edit.from}\` was not found`, { file });
    const t0 = performance.now();
    await atomicWrite(file, source.replace(edit.from, edit.to));
    out.info(`demo: edited ${edit.file}: "${edit.from}" → "${edit.to}"`);
    const reload = await dev.next((e) => e.event === 'reload' || e.event === 'build-failed' || e.event === 'reload-failed', timeoutMs);
    if (reload.event !== 'reload') throw new UserError(`hotgen dev reported ${reload.event}: ${String(reload.message ?? reload.errors ?? '')}`);
    let after = '';
    while (!after.includes(edit.to)) {
      after = await get(address, ex.probe);
      if (performance.now() - t0 > timeoutMs) throw new UserError('the edited string never appeared');
    }
    const editToServingMs = performance.now() - t0;
    out.info(`demo: ${describe(reload)}`);
    out.info(`demo: GET ${ex.probe} → ${after.trim()}`);
    out.info(`demo: edit to serving in ${(editToServingMs / 1000).toFixed(2)} s; the process, its socket and its state stayed up`);
    const result = { dir, before, after, editToServingMs, reload, start };
    out.emit({ event: 'demo', ...result });
    return result;
  } catch (err) {
    if (err instanceof UserError && !err.opts.hint) {
      throw new UserError(err.message, { ...err.opts, hint: `last output of hotgen dev:\n${tail(dev.log, 15)}` });
    }
    throw err;
  } finally {
    await dev.stop();
    if (opts.keep) out.info(`demo: kept ${dir}`);
    else await rm(dir, { recursive: true, force: true });
  }
}

function describe(e: Record<string, unknown>): string {
  const mods = (e.modules as string[] | undefined)?.join(', ') ?? '';
  const ms = (k: string) => (typeof e[k] === 'number' ? `${(e[k] as number).toFixed(1)} ms` : '?');
  const build = typeof e.buildMs === 'number' ? `; build ${((e.buildMs as number) / 1000).toFixed(1)} s` : '';
  if (e.event === 'reload') return `reloaded ${(e.modules as string[]).length} modules (${mods}) in ${ms('swapMs')}${build}`;
  return `started ${(e.modules as string[]).length} modules (${mods}) in ${ms('startMs')}${build}`;
}

function indent(text: string): string {
  return text.replace(/^/gm, '    ');
}

/** `hotgen dev --json` as a child process whose events can be awaited in order. */
class DevProcess {
  readonly child: ChildProcess;
  log = '';
  private events: Record<string, unknown>[] = [];
  private waiter?: () => void;
  private exited = false;

  constructor(dir: string) {
    this.child = spawn(process.execPath, [cliPath, 'dev', '--json', '-C', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      this.log += line + '\n';
      try {
        this.events.push(JSON.parse(line));
      } catch {
        return;
      }
      this.waiter?.();
    });
    this.child.stderr!.on('data', (chunk: Buffer) => {
      this.log += chunk.toString();
    });
    this.child.on('exit', () => {
      this.exited = true;
      this.waiter?.();
    });
  }

  /** The next event (in arrival order) matching `pred`; earlier non-matching ones are dropped. */
  async next(pred: (e: Record<string, unknown>) => boolean, timeoutMs: number): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      while (this.events.length) {
        const e = this.events.shift()!;
        if (pred(e)) return e;
        if (e.event === 'crash' || e.event === 'error') throw new UserError(`hotgen dev: ${String(e.message ?? e.event)}`);
      }
      if (this.exited) throw new UserError(`hotgen dev exited early (code ${this.child.exitCode})`);
      if (Date.now() > deadline) throw new UserError(`timed out after ${timeoutMs} ms waiting for hotgen dev`);
      await new Promise<void>((resolve) => {
        this.waiter = resolve;
        setTimeout(resolve, 1000);
      });
    }
  }

  async stop(): Promise<void> {
    if (this.exited) return;
    const done = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 15_000);
    await done;
    clearTimeout(timer);
  }
}

/** `GET path` on `address` (HOST:PORT) with a fresh connection; resolves to the body. */
export function get(address: string, urlPath: string): Promise<string> {
  const { hostname, port } = new URL(`http://${address}`);
  return new Promise((resolve, reject) => {
    const req = http.get({ host: hostname, port, path: urlPath, agent: false, timeout: 30_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve(body));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${urlPath} timed out`)));
    req.on('error', reject);
  });
}

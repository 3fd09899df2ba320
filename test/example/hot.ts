/**
 * The hot side of the example tests: `hotgen init` (the library function; it edits no
 * workspace file), the hot build `hotgen dev` runs (loader/hotbuild.ts: cargo through
 * hotgen's rustc wrapper) with cargo's change set, and a driver for mini-host.c (a
 * minimal stand-in for the hotgen host: dlopen, a generation thread, RTLD_NOLOAD checks).
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { run } from '../../common/exec.js';
import { ABI_VERSION, type HotPlan } from '../../common/types.js';
import { initWorkspace } from '../../generator/init.js';
import { readPlan } from '../../common/plan-read.js';
import { resolveToolchain, type Toolchain } from '../../loader/build.js';
import { prepareHotBuild, runHotBuild, type HotBuild } from '../../loader/hotbuild.js';
import type { HotModule } from '../../loader/units.js';

/** Which crates of an example get which role. */
export interface HotLayout {
  /** Package name of the entry crate (its root file has `#[cfg(hotgen)] mod hotgen_entry;`). */
  entry: string;
  /** Package name of the frozen crate (the wrapper links it with `-z nodelete`). */
  frozen: string;
}

/** Layout of examples/server. */
export const SERVER_LAYOUT: HotLayout = { entry: 'app_router', frozen: 'app_core' };

/** Layout of examples/tokio-server. */
export const TOKIO_LAYOUT: HotLayout = { entry: 'tk_router', frozen: 'tk_core' };

/** A copy of an example set up for hot builds. */
export interface HotExample {
  root: string;
  plan: HotPlan;
  toolchain: Toolchain;
  hot: HotBuild;
}

/**
 * `hotgen init` on a copy of an example at `dir` (entry and frozen crate from `layout`,
 * mold), then what `hotgen dev` does before its first build: the plan, the toolchain,
 * the hot build's closure and wrapper.
 * @throws UserError/CommandError from init, cargo or rustc.
 */
export async function applyHotSetup(dir: string, layout: HotLayout = SERVER_LAYOUT): Promise<HotExample> {
  await initWorkspace(dir, { entry: layout.entry, frozen: [layout.frozen], linker: 'mold' });
  const plan = await readPlan(dir);
  const toolchain = await resolveToolchain(plan, dir);
  const hot = await prepareHotBuild({ root: dir, plan, plus: toolchain.plus, env: toolchain.env });
  return { root: dir, plan, toolchain, hot };
}

/** One hot build of an example. */
export interface HotBuilt {
  /** Workspace modules cargo rebuilt (`fresh: false`), sorted. */
  rebuilt: string[];
  /** Registry dylibs (role `registry`), bottom-up: a host maps them first, once. */
  registry: HotModule[];
  /** Every module, bottom-up. */
  modules: HotModule[];
  /** The `.so` the build wrote for workspace module `name`. @throws Error for an unknown name. */
  lib(name: string): string;
}

/**
 * The hot build `hotgen dev` runs, in `ex.root`.
 * @throws Error with cargo's errors when the build fails.
 */
export async function buildHot(ex: HotExample): Promise<HotBuilt> {
  let stderr = '';
  const r = await runHotBuild({ root: ex.root, plan: ex.plan, hot: ex.hot, toolchain: ex.toolchain, onStderr: (c) => (stderr = (stderr + c).slice(-4000)) });
  if (!r.success) throw new Error(`hot build of ${ex.root} failed:\n${r.errors || stderr}`);
  const byName = new Map(r.modules.map((m) => [m.name, m]));
  return {
    rebuilt: [...r.rebuilt].filter((n) => byName.get(n)?.role !== 'registry').sort(),
    registry: r.modules.filter((m) => m.role === 'registry'),
    modules: r.modules,
    lib(name: string): string {
      const m = byName.get(name);
      if (!m || m.role === 'registry') throw new Error(`no workspace module ${name} in the hot build (have ${[...byName.keys()].join(', ')})`);
      return m.source;
    },
  };
}

/** Compiles mini-host.c to `out` with clang, for the entry ABI of this hotgen. */
export async function buildMiniHost(out: string): Promise<string> {
  await run('clang', ['-O1', '-Wall', `-DHOTGEN_ABI_VERSION=${ABI_VERSION}`, '-o', out, path.join(import.meta.dirname, 'mini-host.c'), '-ldl', '-lpthread']);
  return out;
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

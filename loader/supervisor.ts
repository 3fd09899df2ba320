/**
 * The supervisor process of `hotgen dev` (plain Node, no native code), started by the
 * launcher (loader/launcher.ts) with a lifeline at fd 3 and the listening sockets as fds
 * 4, 5, ... It owns the terminal, the control socket, the build driver and, through a
 * {@link HostKeeper} (loader/keeper.ts), the host process: it runs build+reload cycles
 * (loader/build.ts), decides reloads (loader/reloadset.ts), takes snapshots
 * (loader/snapshot.ts) and restarts the host, with the same sockets, when it dies or a
 * restart is needed. Only the host ever accepts on the sockets.
 */
import { readFileSync, readdirSync, promises as fs } from 'node:fs';
import net from 'node:net';
import { isatty } from 'node:tty';
import { pathToFileURL } from 'node:url';
import path from 'node:path';
import { formatError, UserError } from '../common/errors.js';
import { confinedDir } from '../common/confine.js';
import { PLAN_FILE, REPLAY_DIR } from '../common/layout.js';
import { Output } from '../common/output.js';
import { sha256 } from '../common/fsx.js';
import type { HotPlan } from '../common/types.js';
import { CycleQueue, resolveToolchain, type Toolchain } from './build.js';
import { modulesFromUnits, prepareHotBuild, type HotBuild } from './hotbuild.js';
import { BuildMemory, buildStep, outputChanges } from './buildstep.js';
import type { HotModule } from './units.js';
import { attachTerminal, startControlServer, type ControlResponse, type ControlServer, type SessionStatus } from './control.js';
import { HostKeeper } from './keeper.js';
import { SUPERVISOR_ENV, killAllHosts } from './launcher.js';
import { readPlan } from '../common/plan-read.js';
import { decideReload } from './reloadset.js';
import { CycleClock, epochNow, type ChangeMark } from './phases.js';
import { reportEvent, reportLine, reportOk, type ReloadReport } from './report.js';
import { SnapshotStore, ensureHotgenDir, type Snapshot } from './snapshot.js';
import { outputPaths, sourcePaths, watchPaths, type Watcher } from './watch.js';
import type { SupervisorOptions } from './protocol.js';

/** The supervisor's end of the launcher's lifeline (launcher.ts `launch`): EOF there = the launcher is gone. */
const LIFELINE_FD = 3;
/** The first listening socket; the others follow. */
const FIRST_LISTEN_FD = 4;
/** How long an orphaned session gives the host to stop its generation before killing it (ms). */
const ORPHAN_GRACE_MS = 500;

/** One `hotgen dev` session. `run()` resolves with the exit code once the user quits. */
export class Session {
  private readonly out: Output;
  private readonly store: SnapshotStore;
  /** The module graph of the last good build, in topological order. */
  private modules: HotModule[] = [];
  private tc!: Toolchain;
  private hot!: HotBuild;
  /** sha256 of Cargo.lock when the hot build was prepared (the keeper keeps the running host's as `hostStamp`). */
  private lockSha = '';
  /** A manifest or Cargo.lock changed since the hot build was prepared. */
  private manifestsChanged = false;
  private readonly keeper: HostKeeper;
  private lastReport?: ReloadReport;
  private readonly queue = new CycleQueue(() => this.cycle());
  private quitting = false;
  private quitAt = 0;
  /** Set once the launcher is gone ({@link orphaned}). */
  private orphan = false;
  private control?: ControlServer;
  private terminal?: Disposable;
  /** performance.now() of the last source event (watch mode), to rebuild when a save lands mid-build. */
  private lastChangeAt = -1;
  /** The first source change not yet taken by a cycle (for the report's phases). */
  private change?: ChangeMark;
  /** What changed since the last build, and that build (loader/buildstep.ts). */
  private readonly memory = new BuildMemory();
  /** Where the rustc wrapper leaves how to run each workspace unit again (the session's only). */
  private readonly replayDir: string;
  private quit!: (code: number) => void;
  private readonly done = new Promise<number>((r) => (this.quit = r));

  constructor(
    private readonly opts: SupervisorOptions,
    private readonly plan: HotPlan,
    fds: number[],
    appCwd: string,
  ) {
    this.out = new Output(opts.json, opts.verbose);
    this.store = new SnapshotStore(opts.root);
    this.replayDir = path.join(opts.root, REPLAY_DIR);
    this.keeper = new HostKeeper({
      out: this.out,
      store: this.store,
      fds,
      stopTimeoutMs: plan.stopTimeoutMs,
      stdoutToStderr: opts.json,
      app: {
        args: opts.args ?? plan.app?.args ?? [],
        env: plan.app?.env ?? {},
        cwd: appCwd,
      },
      libstdDir: () => this.tc.libstdDir,
      stamp: () => this.lockSha,
      quitting: () => this.quitting,
      onAppDone: () => void this.stop(),
      onReport: (r) => (this.lastReport = r),
    });
  }

  /** Runs the session until quit; resolves with the exit code. */
  async run(): Promise<number> {
    const { root } = this.opts;
    watchLifeline(() => void this.orphaned());
    this.tc = await resolveToolchain(this.plan, root);
    await this.clearReplays();
    await this.prepare();
    this.out.debug(`hotgen dev: cargo ${this.tc.plus.join(' ') || '(toolchain from PATH)'}; libstd in ${this.tc.libstdDir}; dylibs from ${this.hot.depsDir}`);
    if (this.opts.addresses.length === 0) this.out.warn('hotgen.yaml has no `listen:` address: the app gets no listening socket');
    await using control = await startControlServer(root, { reload: () => this.requestReload(), status: () => this.status() });
    this.control = control;
    await this.store.clear();
    using terminal = attachTerminal({ reload: () => void this.requestReload(), quit: () => void this.stop() });
    this.terminal = terminal;
    await using _watch = await this.startWatcher();
    await using _replays = {
      [Symbol.asyncDispose]: async () => {
        this.memory.close();
        await this.clearReplays();
      },
    };
    this.out.emit(
      { event: 'listening', addresses: this.opts.addresses, pid: process.pid },
      `hotgen dev: listening on ${this.opts.addresses.join(', ') || '(no sockets)'}; ` +
        (isatty(0) ? 'CTRL+C reloads, CTRL+\\ quits' : 'SIGINT reloads, SIGTERM quits'),
    );
    void this.requestReload();
    return await this.done;
  }

  /** (Re)reads the workspace's dependency closure and readies the wrapper (loader/hotbuild.ts). */
  private async prepare(): Promise<void> {
    this.lockSha = await this.currentLockSha();
    this.hot = await prepareHotBuild({ root: this.opts.root, plan: this.plan, plus: this.tc.plus, env: this.tc.env });
    // The replay files hold the whole environment: owner-only, and only this session's (removed at the start and the end).
    await ensureHotgenDir(this.opts.root);
    await fs.mkdir(this.replayDir, { recursive: true, mode: 0o700 });
    this.hot.env.HOTGEN_REPLAY_DIR = this.replayDir;
    this.manifestsChanged = false;
  }

  private async clearReplays(): Promise<void> {
    await fs.rm(this.replayDir, { recursive: true, force: true });
  }

  private async currentLockSha(): Promise<string> {
    // Synchronous (one small file, each cycle): no trip through the thread pool on the reload's path.
    let buf: Buffer | undefined;
    try {
      buf = readFileSync(path.join(this.opts.root, 'Cargo.lock'));
    } catch {
      buf = undefined;
    }
    return buf ? sha256(buf) : '';
  }

  private async startWatcher(): Promise<Watcher | undefined> {
    if (!this.opts.watch) return undefined;
    const trigger = () => void this.requestReload(false);
    if (this.opts.build) {
      const { paths, ignore } = sourcePaths(this.opts.root, this.plan);
      const onEvent = (file: string) => {
        this.lastChangeAt = performance.now();
        this.memory.changed.add(file);
        if (/(^|\/)Cargo\.(toml|lock)$/.test(file)) this.manifestsChanged = true;
        if (!this.change) {
          const mark: ChangeMark = { file, at: epochNow() };
          this.change = mark;
          fs.stat(file).then((st) => (mark.mtimeMs = st.mtimeMs), () => undefined);
        }
      };
      return watchPaths(paths, { ignore, onChange: trigger, onEvent });
    }
    // Builds made elsewhere write one dylib after another: wait for a quiet second.
    const { paths, ignore, depth } = outputPaths(this.hot.depsDir);
    return watchPaths(paths, { ignore, depth, debounceMs: 1000, onChange: trigger });
  }

  /** Queues a cycle (coalesced) and answers with its report; `manual` (not the watcher): cargo builds. */
  private async requestReload(manual = true): Promise<ControlResponse> {
    if (this.quitting) return { ok: false, error: 'the session is stopping' };
    if (manual) this.memory.manual = true;
    const r = await this.queue.request();
    return reportOk(r) ? { ok: true, report: r } : { ok: false, error: reportLine(r), report: r };
  }

  private status(): SessionStatus {
    return {
      pid: process.pid,
      root: this.opts.root,
      hostPid: this.keeper.host?.pid,
      generation: this.keeper.host ? this.keeper.generation : 0,
      modules: this.keeper.specs([...this.keeper.loaded.values()]),
      building: this.queue.busy,
      lastReport: this.lastReport,
    };
  }

  /** One build + reload cycle; never throws (failures become reports). */
  private async cycle(): Promise<ReloadReport> {
    let report: ReloadReport;
    const clock = new CycleClock(this.change);
    this.change = undefined;
    try {
      report = await this.cycleInner(clock);
    } catch (err) {
      report = { kind: 'error', message: err instanceof UserError ? err.message : formatError(err).text };
    }
    if (report.kind === 'reload') report.phases = clock.finish({ swap: { ...report.timings!, ipcMs: report.ipcMs } });
    else if (report.kind === 'restart' || report.kind === 'start') report.phases = clock.finish({ restartMs: report.restartMs });
    else if (report.kind === 'none') report.phases = clock.finish();
    this.lastReport = report;
    this.out.emit(reportEvent(report), reportLine(report));
    // Off the reload's path (a fork and an exec): the next build's batch process.
    if (this.memory.last && !this.quitting) this.memory.ready(this.hot.env.RUSTC_WRAPPER);
    return report;
  }

  private async cycleInner(clock: CycleClock): Promise<ReloadReport> {
    let buildMs: number | undefined;
    const rebuilt = new Set<string>();
    await clock.time('prepareMs', async () => {
      if (this.manifestsChanged || (await this.currentLockSha()) !== this.lockSha) await this.prepare();
    });
    let modules: HotModule[] | undefined;
    // A save that lands while cargo runs may or may not be in this build: build again.
    for (let round = 0; this.opts.build; round++) {
      // A change seen from now on is in this round's build (or the next one's): not a new cycle's.
      this.change = undefined;
      const started = performance.now();
      const b = await buildStep({
        root: this.opts.root,
        plan: this.plan,
        hot: this.hot,
        toolchain: this.tc,
        memory: this.memory,
        replayDir: this.replayDir,
        clock,
        color: Boolean(process.stderr.isTTY) && !process.env.NO_COLOR,
        progress: !this.opts.json,
        verbose: this.opts.verbose,
        write: (t) => process.stderr.write(t),
        debug: (l) => this.out.debug(l),
      });
      buildMs = (buildMs ?? 0) + b.buildMs;
      for (const n of b.rebuilt) rebuilt.add(n);
      if (this.lastChangeAt > started && round < 2) continue;
      this.queue.seal();
      if (!b.success) return { kind: 'build-failed', buildMs, errors: b.errors, serving: this.keeper.host !== undefined };
      modules = b.modules;
      break;
    }
    this.queue.seal();
    const k = this.keeper;
    return k.exclusive(async () => {
      modules ??= await clock.time('unitsMs', async () => (await modulesFromUnits(this.hot, this.plan)).modules);
      const mods = modules;
      const { changed, missing } = await clock.time('hashMs', () => outputChanges(mods, k.loaded, rebuilt));
      if (missing.length > 0) {
        const what = this.opts.build ? 'cargo did not produce' : 'no build has produced';
        return { kind: 'error', message: `${what} ${missing.map((f) => path.relative(this.opts.root, f)).join(', ')}; what runs keeps running`, buildMs };
      }
      this.modules = modules;
      const snapshotAll = () => clock.time('snapshotMs', () => this.snapshotAll());
      if (!k.host) {
        const reason = k.loaded.size === 0 ? 'start' : 'the host was down';
        return k.restartWith(await snapshotAll(), reason, buildMs);
      }
      const sameGraph = modules.length === k.loaded.size && modules.every((m) => k.loaded.has(m.name));
      if (!sameGraph || this.lockSha !== k.hostStamp) {
        return k.restartWith(await snapshotAll(), 'the dependency graph changed (Cargo.lock or a manifest)', buildMs);
      }
      const d = decideReload(modules, new Set(k.loaded.keys()), changed);
      if (d.kind === 'none') return { kind: 'none', buildMs };
      if (d.kind === 'restart') return k.restartWith(await snapshotAll(), d.reason, buildMs);
      const byName = new Map(modules.map((m) => [m.name, m]));
      const fresh = await clock.time('snapshotMs', () => this.store.take(d.load.map((name) => ({ name, role: byName.get(name)!.role, source: byName.get(name)!.source }))));
      return k.reload(d.unload, fresh, buildMs);
    });
  }

  /** Quits: waits for a running cycle, stops the host, resolves `run()` with 0. A second call (1 s or more later) kills at once. */
  private async stop(): Promise<void> {
    if (this.quitting) {
      // The same quit can arrive twice at once (a SIGTERM to every process of a cgroup
      // reaches the launcher, which passes it on, and this process).
      if (performance.now() - this.quitAt < 1000) return;
      killAllHosts();
      killBuilds();
      process.exit(130);
    }
    this.quitting = true;
    this.quitAt = performance.now();
    if (this.queue.busy) this.out.info('hotgen dev: finishing the running cycle, then quitting (again to force)');
    await this.queue.idle();
    await this.keeper.exclusive(async () => {
      await this.keeper.stopHost(this.plan.stopTimeoutMs + 3000);
      await this.store.clear();
    });
    this.out.emit({ event: 'quit' }, 'hotgen dev: stopped');
    this.quit(0);
  }

  /**
   * The launcher is gone (its lifeline closed), by whatever signal: nobody can quit this
   * session any more, so it ends at once, within 2 s (issue 9): the builds are killed,
   * the control socket is closed and its file removed, the terminal is restored, the
   * host gets ORPHAN_GRACE_MS to stop its generation and is killed after that, and this
   * process exits. No cycle is waited for.
   */
  private async orphaned(): Promise<void> {
    if (this.orphan) return;
    this.orphan = true;
    this.quitting = true;
    this.keeper.close();
    killBuilds();
    // Whatever read our output may be gone with the launcher.
    for (const s of [process.stdout, process.stderr]) s.on('error', () => undefined);
    this.out.warn('hotgen dev: the launcher is gone; stopping the app and exiting');
    this.terminal?.[Symbol.dispose]();
    await this.control?.close().catch(() => undefined);
    const timer = new Promise((r) => setTimeout(r, ORPHAN_GRACE_MS + 500));
    await Promise.race([this.keeper.host?.stop(ORPHAN_GRACE_MS), timer]);
    killAllHosts();
    process.exit(1);
  }

  private async snapshotAll(): Promise<Snapshot[]> {
    return this.store.take(this.modules.map((m) => ({ name: m.name, role: m.role, source: m.source })));
  }
}

/** Calls `onGone` once the launcher's end of the lifeline at {@link LIFELINE_FD} closes (EOF or error). */
function watchLifeline(onGone: () => void): void {
  const lifeline = new net.Socket({ fd: LIFELINE_FD, readable: true, writable: false });
  lifeline.on('data', () => undefined);
  lifeline.once('end', onGone);
  lifeline.once('error', onGone);
  lifeline.once('close', onGone);
  // The session's own handles keep the process alive; the lifeline must not after it ends.
  lifeline.unref();
}

/**
 * SIGKILLs every other process of this process group: the cargo, rustc and build-script
 * processes the build driver started (they inherit the group; the launcher made this
 * process a group leader with setsid, and the host runs in a session of its own). They
 * hold the listening sockets (inherited descriptors are not close-on-exec) and must not
 * outlive the session. Reads /proc/<pid>/stat (proc(5): the 5th field is the group).
 */
function killBuilds(): void {
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]) === process.pid) process.kill(pid, 'SIGKILL');
    } catch {
      // It ended meanwhile.
    }
  }
}

/** Process main: reads {@link SupervisorOptions} and the fds from the launcher and runs a session. */
export async function main(): Promise<number> {
  const raw = process.env[SUPERVISOR_ENV];
  if (!raw) throw new UserError('the supervisor is started by `hotgen dev`, not directly');
  delete process.env[SUPERVISOR_ENV];
  const opts = JSON.parse(raw) as SupervisorOptions;
  const plan = await readPlan(opts.root);
  const appCwd = await confinedDir(opts.root, plan.app?.cwd ?? '.', PLAN_FILE, '`app.cwd`');
  const fds = opts.addresses.map((_, i) => FIRST_LISTEN_FD + i);
  return new Session(opts, plan, fds, appCwd).run();
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const json = /"json":true/.test(process.env[SUPERVISOR_ENV] ?? '');
  main().then(
    (code) => (process.exitCode = code),
    (err) => {
      const { text, exitCode } = formatError(err);
      if (json) process.stdout.write(JSON.stringify({ event: 'error', exitCode, message: text }) + '\n');
      process.stderr.write(text + '\n');
      process.exitCode = exitCode;
    },
  );
}

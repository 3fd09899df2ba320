/**
 * The supervisor process of `hotgen dev` (plain Node, no native code), started by the
 * launcher (loader/launcher.ts) with the listening sockets as fds 3, 4, ... It owns
 * the terminal, the control socket, the build driver and the host process: it runs
 * build+reload cycles (loader/build.ts), decides reloads (loader/reloadset.ts), takes
 * snapshots (loader/snapshot.ts) and restarts the host, with the same sockets, when it
 * dies or a restart is needed. Only the host ever accepts on the sockets.
 */
import { pathToFileURL } from 'node:url';
import path from 'node:path';
import { formatError, UserError } from '../common/errors.js';
import { Output } from '../common/output.js';
import { readIfExists, sha256 } from '../common/fsx.js';
import type { HotPlan } from '../common/types.js';
import { CycleQueue, resolveToolchain, type Toolchain } from './build.js';
import { modulesFromUnits, prepareHotBuild, runHotBuild, type HotBuild } from './hotbuild.js';
import type { HotModule } from './units.js';
import { attachTerminal, startControlServer, type ControlResponse, type SessionStatus } from './control.js';
import { HostExit, HostProcess, SUPERVISOR_ENV } from './launcher.js';
import { readPlan } from '../generator/plan.js';
import { RestartPolicy, decideReload } from './reloadset.js';
import { reportEvent, reportLine, reportOk, type ReloadReport } from './report.js';
import { SnapshotStore, fileState, type Snapshot } from './snapshot.js';
import { outputPaths, sourcePaths, watchPaths, type Watcher } from './watch.js';
import type { FromHost, ModuleSpec, SupervisorOptions } from './protocol.js';

/** A reload that the host refused because the new modules are unusable, or a host that died. */
class CycleFault extends Error {}

/** A started host that died before it answered `started` (e.g. an entry that aborts at once). */
class StartCrash extends CycleFault {
  constructor(
    readonly host: HostProcess,
    readonly exit: HostExit,
  ) {
    super(`the host died while starting (${exit.how})${exit.tail ? '\n' + exit.tail : ''}`);
  }
}

/** One `hotgen dev` session. `run()` resolves with the exit code once the user quits. */
export class Session {
  private readonly out: Output;
  private readonly store: SnapshotStore;
  /** The module graph of the last good build, in topological order. */
  private modules: HotModule[] = [];
  private tc!: Toolchain;
  private hot!: HotBuild;
  /** sha256 of Cargo.lock when the hot build was prepared, and when the running host started. */
  private lockSha = '';
  private hostLockSha = '';
  /** A manifest or Cargo.lock changed since the hot build was prepared. */
  private manifestsChanged = false;
  private host?: HostProcess;
  /** The last good set: snapshots the running host maps (or would map after a crash). */
  private loaded = new Map<string, Snapshot>();
  /** The set before the last swap (its snapshots are kept), for a rollback when the new set keeps crashing. */
  private previous?: Map<string, Snapshot>;
  private readonly policy = new RestartPolicy();
  private generation = 0;
  private lastReport?: ReloadReport;
  private section: Promise<unknown> = Promise.resolve();
  private readonly queue = new CycleQueue(() => this.cycle());
  private quitting = false;
  private quitAt = 0;
  /** performance.now() of the last source event (watch mode), to rebuild when a save lands mid-build. */
  private lastChangeAt = -1;
  private quit!: (code: number) => void;
  private readonly done = new Promise<number>((r) => (this.quit = r));

  constructor(
    private readonly opts: SupervisorOptions,
    private readonly plan: HotPlan,
    private readonly fds: number[],
  ) {
    this.out = new Output(opts.json, opts.verbose);
    this.store = new SnapshotStore(opts.root);
  }

  /** Runs the session until quit; resolves with the exit code. */
  async run(): Promise<number> {
    const { root } = this.opts;
    this.tc = await resolveToolchain(this.plan, root);
    await this.prepare();
    this.out.debug(`hotgen dev: cargo ${this.tc.plus.join(' ') || '(toolchain from PATH)'}; libstd in ${this.tc.libstdDir}; dylibs from ${this.hot.depsDir}`);
    if (this.opts.addresses.length === 0) this.out.warn('hotgen.yaml has no `listen:` address: the app gets no listening socket');
    await using _control = await startControlServer(root, { reload: () => this.requestReload(), status: () => this.status() });
    await this.store.clear();
    using _term = attachTerminal({ reload: () => void this.requestReload(), quit: () => void this.stop() });
    await using _watch = await this.startWatcher();
    this.out.emit(
      { event: 'listening', addresses: this.opts.addresses, pid: process.pid },
      `hotgen dev: listening on ${this.opts.addresses.join(', ') || '(no sockets)'}; ` +
        (process.stdin.isTTY ? 'CTRL+C reloads, CTRL+\\ quits' : 'SIGINT reloads, SIGTERM quits'),
    );
    void this.requestReload();
    return await this.done;
  }

  /** (Re)reads the workspace's dependency closure and readies the wrapper (loader/hotbuild.ts). */
  private async prepare(): Promise<void> {
    this.lockSha = await this.currentLockSha();
    this.hot = await prepareHotBuild({ root: this.opts.root, plan: this.plan, plus: this.tc.plus, env: this.tc.env });
    this.manifestsChanged = false;
  }

  private async currentLockSha(): Promise<string> {
    const buf = await readIfExists(path.join(this.opts.root, 'Cargo.lock'));
    return buf ? sha256(buf) : '';
  }

  private async startWatcher(): Promise<Watcher | undefined> {
    if (!this.opts.watch) return undefined;
    const trigger = () => void this.requestReload();
    if (this.opts.build) {
      const { paths, ignore } = sourcePaths(this.opts.root, this.plan);
      const onEvent = (file: string) => {
        this.lastChangeAt = performance.now();
        if (/(^|\/)Cargo\.(toml|lock)$/.test(file)) this.manifestsChanged = true;
      };
      return watchPaths(paths, { ignore, onChange: trigger, onEvent });
    }
    // Builds made elsewhere write one dylib after another: wait for a quiet second.
    const { paths, ignore, depth } = outputPaths(this.hot.depsDir);
    return watchPaths(paths, { ignore, depth, debounceMs: 1000, onChange: trigger });
  }

  /** Queues a cycle (coalesced) and answers with its report. */
  private async requestReload(): Promise<ControlResponse> {
    if (this.quitting) return { ok: false, error: 'the session is stopping' };
    const r = await this.queue.request();
    return reportOk(r) ? { ok: true, report: r } : { ok: false, error: reportLine(r), report: r };
  }

  private status(): SessionStatus {
    return {
      pid: process.pid,
      root: this.opts.root,
      hostPid: this.host?.pid,
      generation: this.host ? this.generation : 0,
      modules: this.specs([...this.loaded.values()]).map(({ name, role, path }) => ({ name, role, path })),
      building: this.queue.busy,
      lastReport: this.lastReport,
    };
  }

  /** Runs `fn` after every earlier host-changing section (crash recovery and cycles never interleave). */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.section.then(fn, fn);
    this.section = p.catch(() => undefined);
    return p;
  }

  /** One build + reload cycle; never throws (failures become reports). */
  private async cycle(): Promise<ReloadReport> {
    let report: ReloadReport;
    try {
      report = await this.cycleInner();
    } catch (err) {
      report = { kind: 'error', message: err instanceof UserError ? err.message : formatError(err).text };
    }
    this.lastReport = report;
    this.out.emit(reportEvent(report), reportLine(report));
    return report;
  }

  private async cycleInner(): Promise<ReloadReport> {
    let buildMs: number | undefined;
    const rebuilt = new Set<string>();
    if (this.manifestsChanged || (await this.currentLockSha()) !== this.lockSha) await this.prepare();
    let modules: HotModule[] | undefined;
    // A save that lands while cargo runs may or may not be in this build: build again.
    for (let round = 0; this.opts.build; round++) {
      const started = performance.now();
      const b = await runHotBuild({
        root: this.opts.root,
        plan: this.plan,
        hot: this.hot,
        toolchain: this.tc,
        color: Boolean(process.stderr.isTTY) && !process.env.NO_COLOR,
        progress: !this.opts.json,
      });
      buildMs = (buildMs ?? 0) + b.buildMs;
      for (const n of b.rebuilt) rebuilt.add(n);
      if (this.lastChangeAt > started && round < 2) continue;
      this.queue.seal();
      if (!b.success) return { kind: 'build-failed', buildMs, errors: b.errors };
      modules = b.modules;
      break;
    }
    this.queue.seal();
    return this.exclusive(async () => {
      modules ??= (await modulesFromUnits(this.hot, this.plan)).modules;
      const changed = new Set(rebuilt);
      const missing: string[] = [];
      for (const m of modules) {
        const prev = this.loaded.get(m.name);
        const st = await fileState(m.source, prev?.source === m.source ? prev.state : undefined);
        if (!st) missing.push(m.source);
        else if (!prev || prev.state.sha256 !== st.sha256) changed.add(m.name);
      }
      if (missing.length > 0) {
        const what = this.opts.build ? 'cargo did not produce' : 'no build has produced';
        return { kind: 'error', message: `${what} ${missing.map((f) => path.relative(this.opts.root, f)).join(', ')}; what runs keeps running`, buildMs };
      }
      this.modules = modules;
      if (!this.host) {
        const reason = this.loaded.size === 0 ? 'start' : 'the host was down';
        return this.restartWith(await this.snapshotAll(), reason, buildMs);
      }
      const sameGraph = modules.length === this.loaded.size && modules.every((m) => this.loaded.has(m.name));
      if (!sameGraph || this.lockSha !== this.hostLockSha) {
        return this.restartWith(await this.snapshotAll(), 'the dependency graph changed (Cargo.lock or a manifest)', buildMs);
      }
      const d = decideReload(modules, new Set(this.loaded.keys()), changed);
      if (d.kind === 'none') return { kind: 'none', buildMs };
      if (d.kind === 'restart') return this.restartWith(await this.snapshotAll(), d.reason, buildMs);
      const byName = new Map(modules.map((m) => [m.name, m]));
      const fresh = await this.store.take(d.load.map((name) => ({ name, role: byName.get(name)!.role, source: byName.get(name)!.source })));
      return this.reload(d.unload, fresh, buildMs);
    });
  }

  private async reload(unload: string[], fresh: Snapshot[], buildMs: number | undefined): Promise<ReloadReport> {
    const host = this.host!;
    const generation = this.generation + 1;
    let answer: FromHost;
    try {
      host.send({ type: 'reload', generation, unload, load: this.specs(fresh) });
      answer = await host.next(['reloaded', 'restart-needed'], this.plan.stopTimeoutMs + 60_000);
    } catch (err) {
      // The host died mid-swap, or hangs (a timeout): either way back to the last good build.
      let what: string;
      if (err instanceof HostExit) {
        this.crashed(host, err);
        what = `the host died during the reload (${err.how})`;
      } else {
        host.kill();
        what = (err as Error).message;
      }
      const back = await this.restartWith([...this.loaded.values()], 'recovering', buildMs).catch((e: Error) => e);
      const how = back instanceof Error ? `and could not restart: ${back.message}` : 'restarted from the last good build';
      return { kind: 'error', message: `${what}; ${how}`, buildMs };
    }
    if (answer.type === 'reloaded') {
      this.generation = generation;
      this.previous = new Map(this.loaded);
      this.policy.swapped(Date.now());
      for (const s of fresh) this.loaded.set(s.name, s);
      await this.prune([]);
      return { kind: 'reload', generation, modules: answer.loaded, unloaded: answer.unloaded, swapMs: answer.timings.totalMs, buildMs, timings: answer.timings };
    }
    if (answer.type !== 'restart-needed') throw new Error('unreachable');
    const next = new Map(this.loaded);
    for (const s of fresh) next.set(s.name, s);
    const reason = answer.module ? `${answer.module}: ${answer.reason}` : answer.reason;
    if (answer.cause === 'entry-abi' || answer.cause === 'load-failed') {
      await this.restartWith([...this.loaded.values()], 'recovering', buildMs);
      return { kind: 'error', message: `the new build cannot be loaded (${reason}); restarted from the last good build`, buildMs };
    }
    return this.restartWith([...next.values()], reason, buildMs);
  }

  /**
   * Stops the current host (if any) and starts one on `mods`. If those modules are
   * refused (bad entry, dlopen failure) and differ from the last good set, falls back
   * to the last good set and reports the refusal as an error.
   */
  private async restartWith(mods: Snapshot[], reason: string, buildMs?: number): Promise<ReloadReport> {
    const t0 = performance.now();
    const old = this.host;
    this.host = undefined;
    if (old) await old.stop(this.plan.stopTimeoutMs + 3000);
    try {
      await this.startHost(mods);
    } catch (err) {
      const lastGood = [...this.loaded.values()];
      const same = lastGood.length === mods.length && lastGood.every((s, i) => s.path === mods[i].path);
      if (same || lastGood.length === 0) throw err;
      await this.startHost(lastGood);
      return { kind: 'error', message: `${(err as Error).message}; restarted from the last good build`, buildMs };
    }
    const restartMs = performance.now() - t0;
    const names = mods.filter((m) => m.role !== 'registry').map((m) => m.name);
    const registry = mods.length - names.length;
    if (reason === 'start') return { kind: 'start', generation: this.generation, modules: names, registry, restartMs, buildMs };
    return { kind: 'restart', generation: this.generation, reason, modules: names, registry, restartMs, buildMs };
  }

  /** Spawns a host, starts generation 1 on `mods`, and makes them the last good set. */
  private async startHost(mods: Snapshot[]): Promise<void> {
    const host = HostProcess.spawn({
      fds: this.fds,
      libstdDir: this.tc.libstdDir,
      stdoutToStderr: this.opts.json,
      onMessage: (m) => this.onHostMessage(host, m),
      onExit: (e) => this.onHostExit(host, e),
    });
    try {
      await host.next(['ready'], 30_000);
      host.send({ type: 'start', generation: 1, modules: this.specs(mods), stopTimeoutMs: this.plan.stopTimeoutMs });
      const m = await host.next(['started', 'error'], 120_000);
      if (m.type === 'error') throw new CycleFault(m.module ? `${m.module}: ${m.message}` : m.message);
      host.startedAt = Date.now();
    } catch (err) {
      host.kill();
      if (err instanceof HostExit) throw new StartCrash(host, err);
      throw err;
    }
    this.host = host;
    this.hostLockSha = this.lockSha;
    this.generation = 1;
    const current = [...this.loaded.values()];
    const same = current.length === mods.length && current.every((s, i) => s.path === mods[i].path);
    if (!same && current.length > 0) this.previous = this.loaded;
    if (!same) this.policy.swapped(Date.now());
    this.loaded = new Map(mods.map((s) => [s.name, s]));
    await this.prune(mods.map((s) => s.path));
  }

  private onHostMessage(host: HostProcess, m: FromHost): void {
    if (m.type === 'error') this.out.emit({ event: 'host-error', ...m }, `host: ${m.message}`);
    else if (m.type === 'generation-exit' && host === this.host && !this.quitting) {
      if (m.code === 0) {
        this.out.info(`the app returned 0 from generation ${m.generation}; stopping`);
        void this.stop();
      } else {
        this.out.emit({ event: 'generation-exit', ...m }, `generation ${m.generation} ended with code ${m.code}${m.code === 101 ? ' (a panic)' : ''}`);
        this.policy.failed(Date.now(), host.startedAt ?? host.spawnedAt);
        void this.recover(host, `generation ${m.generation} ended with code ${m.code}`);
      }
    } else if (m.type === 'restart-needed' && host === this.host) void this.recover(host, m.reason);
  }

  private onHostExit(host: HostProcess, e: HostExit): void {
    // Inside the section: a reload waiting on this host handles the exit itself and replaces it.
    void this.exclusive(async () => {
      if (host !== this.host || this.quitting) return;
      this.crashed(host, e);
      await this.recoverNow(host, `it ${e.how}`);
    });
  }

  private crashed(host: HostProcess, e: HostExit): void {
    this.policy.failed(Date.now(), host.startedAt ?? host.spawnedAt);
    this.out.emit({ event: 'crash', pid: host.pid, code: e.code, signal: e.signal, stderr: e.tail }, `host ${e.how}${e.tail ? '; last lines of its stderr:\n' + e.tail.replace(/^/gm, '  ') : ''}`);
  }

  private recover(host: HostProcess, reason: string): Promise<void> {
    return this.exclusive(() => this.recoverNow(host, reason));
  }

  /**
   * Restarts a dead or failed host as {@link RestartPolicy} says. A restarted host that
   * dies before it has started counts as one more failure, and the policy decides
   * again (roll back, back off, or wait). Call inside a section.
   */
  private async recoverNow(host: HostProcess, reason: string): Promise<void> {
    if (host !== this.host || this.quitting) return;
    // After a restart whose host died while starting, no host runs: `this.host` is undefined.
    let current: HostProcess | undefined = host;
    for (;;) {
      const step = this.policy.next(Date.now(), this.previous !== undefined);
      if (step.kind === 'wait') {
        host.kill();
        this.host = undefined;
        this.out.warn(`the host failed ${step.failures} times right after starting; waiting for a change (save a file, CTRL+C or \`hotgen reload\`)`);
        return;
      }
      if (step.delayMs > 0) await new Promise((r) => setTimeout(r, step.delayMs));
      if (current !== this.host || this.quitting) return;
      const back = step.rollback ? this.previous : undefined;
      let r: ReloadReport;
      try {
        if (back) {
          this.previous = undefined;
          r = await this.restartWith([...back.values()], `${reason} twice right after starting; rolled back to the previous build`);
          this.previous = undefined;
        } else r = await this.restartWith([...this.loaded.values()], reason);
      } catch (err) {
        if (err instanceof StartCrash && !this.quitting) {
          this.crashed(err.host, err.exit);
          reason = `it ${err.exit.how}`;
          current = undefined;
          continue;
        }
        r = { kind: 'error', message: `could not restart the host: ${(err as Error).message}` };
      }
      this.lastReport = r;
      this.out.emit(reportEvent(r), reportLine(r));
      return;
    }
  }

  /** Quits: waits for a running cycle, stops the host, resolves `run()` with 0. A second call (1 s or more later) kills at once. */
  private async stop(): Promise<void> {
    if (this.quitting) {
      // The same quit often arrives twice at once (a group-wide SIGTERM plus the launcher's copy).
      if (performance.now() - this.quitAt < 1000) return;
      this.host?.kill();
      process.exit(130);
    }
    this.quitting = true;
    this.quitAt = performance.now();
    if (this.queue.busy) this.out.info('hotgen dev: finishing the running cycle, then quitting (again to force)');
    await this.queue.idle();
    await this.exclusive(async () => {
      await this.host?.stop(this.plan.stopTimeoutMs + 3000);
      this.host = undefined;
      await this.store.clear();
    });
    this.out.emit({ event: 'quit' }, 'hotgen dev: stopped');
    this.quit(0);
  }

  private async prune(extra: string[]): Promise<void> {
    const keep = [...this.loaded.values(), ...(this.previous?.values() ?? [])].map((s) => s.path);
    await this.store.prune([...extra, ...keep]);
  }

  private async snapshotAll(): Promise<Snapshot[]> {
    return this.store.take(this.modules.map((m) => ({ name: m.name, role: m.role, source: m.source })));
  }

  private specs(snaps: Snapshot[]): ModuleSpec[] {
    return snaps.map((s) => ({ name: s.name, role: s.role, path: s.path }));
  }
}

/** Process main: reads {@link SupervisorOptions} and the fds from the launcher and runs a session. */
export async function main(): Promise<number> {
  const raw = process.env[SUPERVISOR_ENV];
  if (!raw) throw new UserError('the supervisor is started by `hotgen dev`, not directly');
  delete process.env[SUPERVISOR_ENV];
  const opts = JSON.parse(raw) as SupervisorOptions;
  const plan = await readPlan(opts.root);
  const fds = opts.addresses.map((_, i) => 3 + i);
  return new Session(opts, plan, fds).run();
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

/**
 * The host side of a `hotgen dev` session (used by loader/supervisor.ts): which host
 * process runs which module set, the swap of a reload, restarts of the host with the
 * same sockets, and the way back after a crash as {@link RestartPolicy} says (restart,
 * roll back to the previous set, back off, or wait for a change).
 */
import type { Output } from '../common/output.js';
import { HostExit, HostProcess, type HostSpawnOptions } from './launcher.js';
import { RestartPolicy } from './reloadset.js';
import { reportEvent, reportLine, type ReloadReport } from './report.js';
import type { Snapshot, SnapshotStore } from './snapshot.js';
import type { FromHost, ModuleSpec } from './protocol.js';

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

/** What a {@link HostKeeper} needs from its session. */
export interface KeeperOptions {
  out: Output;
  store: SnapshotStore;
  /** Listening descriptors of the supervisor, passed to every host. */
  fds: number[];
  /** `stop_timeout_ms` of the plan (ms). */
  stopTimeoutMs: number;
  /** Send the host's stdout to stderr (`--json`). */
  stdoutToStderr: boolean;
  /** The app's arguments, extra environment and working directory (absolute). */
  app: HostSpawnOptions['app'];
  /** libstd's directory (known once the toolchain is resolved). */
  libstdDir: () => string;
  /** What the session builds against now (the sha256 of Cargo.lock); a started host keeps it as {@link HostKeeper.hostStamp}. */
  stamp: () => string;
  /** True once the session quits: no recovery then. */
  quitting: () => boolean;
  /** The app returned 0 from its generation on its own: the session should quit. */
  onAppDone: () => void;
  /** A recovery ended with this report (the keeper prints it). */
  onReport: (r: ReloadReport) => void;
}

/** Keeps one host running the last good module set; every host-changing step runs in {@link exclusive}. */
export class HostKeeper {
  /** The running host (undefined while none runs, e.g. after repeated crashes). */
  host?: HostProcess;
  /** The last good set: snapshots the running host maps (or would map after a crash). */
  loaded = new Map<string, Snapshot>();
  /** The set before the last swap (its snapshots are kept), for a rollback when the new set keeps crashing. */
  previous?: Map<string, Snapshot>;
  /** The running generation of the current host. */
  generation = 0;
  /** {@link KeeperOptions.stamp} when the running host started. */
  hostStamp = '';
  private readonly policy = new RestartPolicy();
  private section: Promise<unknown> = Promise.resolve();
  /** Set by {@link close}: no host is started any more. */
  private closed = false;

  constructor(private readonly o: KeeperOptions) {}

  /** Runs `fn` after every earlier host-changing section (crash recovery and cycles never interleave). */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.section.then(fn, fn);
    this.section = p.catch(() => undefined);
    return p;
  }

  /** From now on no host is started (the session is ending at once). */
  close(): void {
    this.closed = true;
  }

  /** Swaps `unload` for `fresh` in the running host; call inside a section. */
  async reload(unload: string[], fresh: Snapshot[], buildMs: number | undefined): Promise<ReloadReport> {
    const host = this.host!;
    const generation = this.generation + 1;
    let answer: FromHost;
    const sent = performance.now();
    let roundTrip: number;
    try {
      host.send({ type: 'reload', generation, unload, load: this.specs(fresh) });
      answer = await host.next(['reloaded', 'restart-needed'], this.o.stopTimeoutMs + 60_000);
      roundTrip = performance.now() - sent;
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
      // After this section (before any later snapshot): the new generation runs already.
      void this.exclusive(() => this.prune([])).catch(() => undefined);
      const ipcMs = Math.max(0, roundTrip - answer.timings.totalMs);
      return { kind: 'reload', generation, modules: answer.loaded, unloaded: answer.unloaded, swapMs: answer.timings.totalMs, buildMs, timings: answer.timings, ipcMs };
    }
    if (answer.type !== 'restart-needed') throw new Error('unreachable');
    // A generation that overran its stop timeout cannot be ended in-process: kill its host now, so
    // the connections it accepted are reset at once rather than after a second stop timeout.
    if (answer.cause === 'stop-timeout') host.kill();
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
   * to the last good set and reports the refusal as an error. Call inside a section.
   */
  async restartWith(mods: Snapshot[], reason: string, buildMs?: number): Promise<ReloadReport> {
    const t0 = performance.now();
    const old = this.host;
    this.host = undefined;
    if (old) await old.stop(this.o.stopTimeoutMs + 3000);
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

  /** Stops the running host (up to `timeoutMs`, then kills it); none runs afterwards. */
  async stopHost(timeoutMs: number): Promise<void> {
    const host = this.host;
    this.host = undefined;
    await host?.stop(timeoutMs);
  }

  /** The module list the host protocol takes. */
  specs(snaps: Snapshot[]): ModuleSpec[] {
    return snaps.map((s) => ({ name: s.name, role: s.role, path: s.path }));
  }

  /** Spawns a host, starts generation 1 on `mods`, and makes them the last good set. */
  private async startHost(mods: Snapshot[]): Promise<void> {
    if (this.closed) throw new CycleFault('the session is ending');
    const host = HostProcess.spawn({
      fds: this.o.fds,
      libstdDir: this.o.libstdDir(),
      stdoutToStderr: this.o.stdoutToStderr,
      app: this.o.app,
      onMessage: (m) => this.onHostMessage(host, m),
      onExit: (e) => this.onHostExit(host, e),
    });
    try {
      await host.next(['ready'], 30_000);
      host.send({ type: 'start', generation: 1, modules: this.specs(mods), stopTimeoutMs: this.o.stopTimeoutMs });
      const m = await host.next(['started', 'error'], 120_000);
      if (m.type === 'error') throw new CycleFault(m.module ? `${m.module}: ${m.message}` : m.message);
      host.startedAt = Date.now();
    } catch (err) {
      host.kill();
      if (err instanceof HostExit) throw new StartCrash(host, err);
      throw err;
    }
    this.host = host;
    this.hostStamp = this.o.stamp();
    this.generation = 1;
    const current = [...this.loaded.values()];
    const same = current.length === mods.length && current.every((s, i) => s.path === mods[i].path);
    if (!same && current.length > 0) this.previous = this.loaded;
    if (!same) this.policy.swapped(Date.now());
    this.loaded = new Map(mods.map((s) => [s.name, s]));
    await this.prune(mods.map((s) => s.path));
  }

  private onHostMessage(host: HostProcess, m: FromHost): void {
    if (m.type === 'error') this.o.out.emit({ event: 'host-error', ...m }, `host: ${m.message}`);
    else if (m.type === 'generation-exit' && host === this.host && !this.o.quitting()) {
      if (m.code === 0) {
        this.o.out.info(`the app returned 0 from generation ${m.generation}; stopping`);
        this.o.onAppDone();
      } else {
        this.o.out.emit({ event: 'generation-exit', ...m }, `generation ${m.generation} ended with code ${m.code}${m.code === 101 ? ' (a panic)' : ''}`);
        this.policy.failed(Date.now(), host.startedAt ?? host.spawnedAt);
        void this.recover(host, `generation ${m.generation} ended with code ${m.code}`);
      }
    } else if (m.type === 'restart-needed' && host === this.host) void this.recover(host, m.reason);
  }

  private onHostExit(host: HostProcess, e: HostExit): void {
    // Inside the section: a reload waiting on this host handles the exit itself and replaces it.
    void this.exclusive(async () => {
      if (host !== this.host || this.o.quitting()) return;
      this.crashed(host, e);
      await this.recoverNow(host, `it ${e.how}`);
    });
  }

  private crashed(host: HostProcess, e: HostExit): void {
    this.policy.failed(Date.now(), host.startedAt ?? host.spawnedAt);
    this.o.out.emit({ event: 'crash', pid: host.pid, code: e.code, signal: e.signal, stderr: e.tail }, `host ${e.how}${e.tail ? '; last lines of its stderr:\n' + e.tail.replace(/^/gm, '  ') : ''}`);
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
    if (host !== this.host || this.o.quitting()) return;
    // After a restart whose host died while starting, no host runs: `this.host` is undefined.
    let current: HostProcess | undefined = host;
    for (;;) {
      const step = this.policy.next(Date.now(), this.previous !== undefined);
      if (step.kind === 'wait') {
        host.kill();
        this.host = undefined;
        this.o.out.warn(`the host failed ${step.failures} times right after starting; waiting for a change (save a file, CTRL+C or \`hotgen reload\`)`);
        return;
      }
      if (step.delayMs > 0) await new Promise((r) => setTimeout(r, step.delayMs));
      if (current !== this.host || this.o.quitting()) return;
      const back = step.rollback ? this.previous : undefined;
      let r: ReloadReport;
      try {
        if (back) {
          this.previous = undefined;
          r = await this.restartWith([...back.values()], `${reason} twice right after starting; rolled back to the previous build`);
          this.previous = undefined;
        } else r = await this.restartWith([...this.loaded.values()], reason);
      } catch (err) {
        if (err instanceof StartCrash && !this.o.quitting()) {
          this.crashed(err.host, err.exit);
          reason = `it ${err.exit.how}`;
          current = undefined;
          continue;
        }
        r = { kind: 'error', message: `could not restart the host: ${(err as Error).message}` };
      }
      this.o.onReport(r);
      this.o.out.emit(reportEvent(r), reportLine(r));
      return;
    }
  }

  private async prune(extra: string[]): Promise<void> {
    const keep = [...this.loaded.values(), ...(this.previous?.values() ?? [])].map((s) => s.path);
    await this.o.store.prune([...extra, ...keep]);
  }
}

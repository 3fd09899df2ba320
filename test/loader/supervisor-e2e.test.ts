/**
 * End to end: `hotgen init` on a copy of examples/server, then `hotgen dev --json` with
 * real cargo, real dlopen (the host) and real HTTP on 127.0.0.1. The steps share one
 * session and run in order.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { cp, readFile, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../../common/exec.js';
import { tempDir } from '../helpers/tree.js';
import { missingTool, skipUnless, tools } from '../helpers/tools.js';

const repo = fileURLToPath(new URL('../../', import.meta.url));
let cli = '';
const example = path.join(repo, 'examples/server');
const ready = existsSync(path.join(repo, 'loader/host.ts')) && existsSync(path.join(example, 'router/src/lib.rs'));

type Ev = Record<string, unknown> & { event: string };

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const { port } = s.address() as net.AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

function get(port: number, p: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: p, agent: false, timeout: 15_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${p} timed out`)));
    req.on('error', reject);
  });
}

/** A client that keeps sending requests on fresh connections and counts every failure. */
function loadClient(port: number) {
  let stop = false;
  const failures: string[] = [];
  let ok = 0;
  const loop = (async () => {
    while (!stop) {
      try {
        const r = await get(port, '/health');
        if (r.status === 200) ok++;
        else failures.push(`status ${r.status}`);
      } catch (err) {
        failures.push((err as Error).message);
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  return {
    failures,
    ok: () => ok,
    async end() {
      stop = true;
      await loop;
    },
  };
}

describe.skipIf(skipUnless(tools.nightly(), tools.mold()) || !ready)('hotgen dev on the example server (real cargo, dlopen, HTTP)', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let root: string;
  let port: number;
  let dev: ChildProcess;
  let exited: Promise<number | null>;
  const events: Ev[] = [];
  let stderr = '';
  let client: ReturnType<typeof loadClient>;

  /** Resolves with the first event at or after `from` matching `pred`. */
  async function waitEvent(pred: (e: Ev) => boolean, from: number, timeoutMs = 240_000): Promise<Ev> {
    const t0 = Date.now();
    for (;;) {
      const hit = events.slice(from).find(pred);
      if (hit) return hit;
      if (Date.now() - t0 > timeoutMs) throw new Error(`no matching event; events: ${JSON.stringify(events.slice(from))}\nstderr tail:\n${stderr.slice(-3000)}`);
      if (dev.exitCode !== null) throw new Error(`hotgen dev exited (${dev.exitCode}); stderr tail:\n${stderr.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  const cycleEvents = ['reload', 'restart', 'start', 'unchanged', 'build-failed', 'reload-failed'];
  const nextCycle = (from: number) => waitEvent((e) => cycleEvents.includes(e.event), from);
  const edit = async (rel: string, from: string, to: string) => {
    const f = path.join(root, rel);
    const text = await readFile(f, 'utf8');
    expect(text).toContain(from);
    await writeFile(f, text.replace(from, to));
  };
  const hotgen = (args: string[]) => run(process.execPath, [cli, ...args], { cwd: root, allowFailure: true, env: { ...process.env, ...devEnv() } });
  const devEnv = () => ({
    HOTGEN_EXAMPLE_STORE: path.join(root, 'store.log'),
    // rustup may lack the plan's dated nightly under that name; `nightly` is the same build here.
    ...(missingTool('cargo', ['+nightly-2026-05-19', '--version']) ? { HOTGEN_TOOLCHAIN: 'nightly' } : {}),
  });

  beforeAll(async () => {
    dir = await tempDir('e2e-dev');
    cli = path.join(repo, 'dist/cli/hotgen.js');
    root = path.join(dir.path, 'server');
    await cp(example, root, { recursive: true, filter: (src) => !src.includes(`${path.sep}target`) });
    port = await freePort();
    const init = await hotgen(['init', '--entry', 'app_router', '--frozen', 'app_core', '--listen', `127.0.0.1:${port}`]);
    expect(init.code, init.stderr).toBe(0);
    dev = spawn(process.execPath, [cli, 'dev', '--json'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...devEnv() } });
    exited = new Promise((r) => dev.once('exit', (code) => r(code)));
    let partial = '';
    dev.stdout!.setEncoding('utf8').on('data', (c: string) => {
      const lines = (partial + c).split('\n');
      partial = lines.pop()!;
      for (const l of lines) if (l.trim()) events.push(JSON.parse(l));
    });
    dev.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  });

  afterAll(async () => {
    await client?.end();
    if (dev && dev.exitCode === null) {
      dev.kill('SIGTERM');
      await exited;
    }
    await dir?.[Symbol.asyncDispose]();
  });

  it('builds, starts every module bottom-up and serves on the bound address', async () => {
    const start = await waitEvent((e) => e.event === 'start', 0);
    expect(start.modules).toEqual(['app_core', 'app_database', 'app_service', 'app_api', 'app_router']);
    expect((await get(port, '/hello')).body).toBe('hello from api v1\n');
    client = loadClient(port);
  });

  it('an edit in api reloads exactly api and router, in order, and keeps the state', async () => {
    const before = Number((await get(port, '/count')).body);
    const mark = events.length;
    await edit('api/src/lib.rs', 'hello from api v1', 'hello from api v2');
    const ev = await nextCycle(mark);
    expect(ev).toMatchObject({ event: 'reload', modules: ['app_api', 'app_router'], unloaded: ['app_router', 'app_api'] });
    expect((await get(port, '/hello')).body).toBe('hello from api v2\n');
    expect(Number((await get(port, '/count')).body)).toBeGreaterThan(before);
  });

  it('an edit in database reloads database, service, api, router', async () => {
    const mark = events.length;
    await edit('database/src/lib.rs', '"database v1"', '"database v2"');
    const ev = await nextCycle(mark);
    expect(ev).toMatchObject({ event: 'reload', modules: ['app_database', 'app_service', 'app_api', 'app_router'] });
    expect((await get(port, '/version')).body).toContain('database v2');
  });

  it('an edit in the frozen core restarts the host with the sockets kept', async () => {
    const mark = events.length;
    await edit('core/src/lib.rs', '"core v1"', '"core v2"');
    const ev = await nextCycle(mark);
    expect(ev).toMatchObject({ event: 'restart', reason: 'app_core changed' });
    expect((await get(port, '/version')).body).toContain('core v2');
  });

  it('`hotgen reload` from a second process gets the report of its reload', async () => {
    await edit('api/src/lib.rs', 'hello from api v2', 'hello from api v3');
    const r = await hotgen(['reload', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const answer = JSON.parse(r.stdout);
    expect(answer).toMatchObject({ ok: true, report: { kind: 'reload', modules: ['app_api', 'app_router'] } });
    expect((await get(port, '/hello')).body).toBe('hello from api v3\n');
    const human = await hotgen(['reload']);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^(nothing changed|reloaded .*); build \d+\.\d s\n$/);
    expect((await stat(path.join(root, '.hotgen/control.sock'))).mode & 0o777).toBe(0o600);
  });

  it('a build error keeps the old answer and shows the error; fixing it reloads', async () => {
    const mark = events.length;
    await edit('api/src/lib.rs', 'hello from api v3\";', 'hello from api v4\"; const BROKEN: u32 = "x";');
    const ev = await nextCycle(mark);
    expect(ev.event).toBe('build-failed');
    expect(String(ev.errors)).toMatch(/error\[E0308\]/);
    expect((await get(port, '/hello')).body).toBe('hello from api v3\n');
    const failed = await hotgen(['reload']);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toMatch(/^build failed/);
    const mark2 = events.length;
    await edit('api/src/lib.rs', ' const BROKEN: u32 = "x";', '');
    expect(await waitEvent((e) => e.event === 'reload', mark2)).toMatchObject({ modules: ['app_api', 'app_router'] });
    expect((await get(port, '/hello')).body).toBe('hello from api v4\n');
  });

  it('an entry speaking another ABI version is refused: the last good build keeps serving', async () => {
    await edit('router/src/hotgen_entry.rs', 'pub const ABI_VERSION: u32 = 1;', 'pub const ABI_VERSION: u32 = 2;');
    const r = await hotgen(['reload', '--json']);
    expect(r.code).toBe(1);
    const answer = JSON.parse(r.stdout);
    expect(answer.ok).toBe(false);
    expect(answer.report.kind).toBe('error');
    expect(answer.report.message).toMatch(/^the new build cannot be loaded \(app_router: .*ABI version 2.*\); restarted from the last good build$/);
    expect((await get(port, '/hello')).body).toBe('hello from api v4\n');
    const mark = events.length;
    await edit('router/src/hotgen_entry.rs', 'pub const ABI_VERSION: u32 = 2;', 'pub const ABI_VERSION: u32 = 1;');
    expect(await waitEvent((e) => e.event === 'reload', mark)).toMatchObject({ modules: ['app_router'] });
    expect((await get(port, '/hello')).body).toBe('hello from api v4\n');
  });

  it('a module linked with -z nodelete is detected at its unload, named, and handled by a restart', async () => {
    const manifest = path.join(root, 'Cargo.toml');
    const original = await readFile(manifest, 'utf8');
    const flags = original.match(/\[profile\.hot\]\ninherits = "dev"\nrustflags = (\[[^\]]*\])/);
    expect(flags).not.toBeNull();
    const nodelete = flags![1].replace(/,?\s*\]$/, ', "-C", "link-arg=-Wl,-z,nodelete"]');
    let mark = events.length;
    await writeFile(manifest, `${original}\n[profile.hot.package.app_api]\nrustflags = ${nodelete}\n`);
    // The api mapped now was built without nodelete: it still unloads.
    expect(await nextCycle(mark)).toMatchObject({ event: 'reload', modules: ['app_api', 'app_router'] });
    mark = events.length;
    await edit('api/src/lib.rs', 'hello from api v4', 'hello from api v5');
    const ev = await nextCycle(mark);
    expect(ev.event).toBe('restart');
    expect(String(ev.reason)).toMatch(/app_api/);
    expect((await get(port, '/hello')).body).toBe('hello from api v5\n');
    mark = events.length;
    await writeFile(manifest, original);
    expect(['reload', 'restart']).toContain((await nextCycle(mark)).event);
    mark = events.length;
    await edit('api/src/lib.rs', 'hello from api v5', 'hello from api v4');
    expect(await nextCycle(mark)).toMatchObject({ event: 'reload', modules: ['app_api', 'app_router'] });
  });

  it('no request failed or was refused across the reloads and the restart', async () => {
    await client.end();
    expect(client.failures).toEqual([]);
    expect(client.ok()).toBeGreaterThan(0);
  });

  it('a segfaulting handler takes down only the host: restarted, and the next request succeeds', async () => {
    // Two failures within 2 s of a swap roll back to the previous build; let this build settle first.
    await new Promise((r) => setTimeout(r, 2500));
    const mark = events.length;
    await get(port, '/segv').catch(() => undefined);
    const crash = await waitEvent((e) => e.event === 'crash', mark);
    expect(crash.signal).toBe('SIGSEGV');
    expect(String(crash.stderr)).toContain('/segv');
    await waitEvent((e) => e.event === 'restart', mark);
    expect((await get(port, '/hello')).body).toBe('hello from api v4\n');
  });

  it('an aborting handler: the host is restarted and the next request succeeds; a panicking one answers 500', async () => {
    const mark = events.length;
    await get(port, '/abort').catch(() => undefined);
    expect(await waitEvent((e) => e.event === 'crash', mark)).toMatchObject({ signal: 'SIGABRT' });
    await waitEvent((e) => e.event === 'restart', mark);
    expect((await get(port, '/hello')).status).toBe(200);
    expect((await get(port, '/panic')).status).toBe(500);
    expect((await get(port, '/hello')).body).toBe('hello from api v4\n');
  });

  it('a new entry that aborts as soon as it runs: restarted, then rolled back to the previous build', async () => {
    const mark = events.length;
    await edit('router/src/lib.rs', 'fn hotgen_run(ctx: &hotgen_entry::Context) -> i32 {', 'fn hotgen_run(ctx: &hotgen_entry::Context) -> i32 {\n    std::process::abort();');
    // The abort lands either before the host confirms the swap (the reload fails) or just after
    // (the new set then fails twice right after starting): both end on the previous build.
    const back = await waitEvent((e) => (e.event === 'restart' && String(e.reason).includes('rolled back')) || e.event === 'reload-failed', mark);
    if (back.event === 'restart') expect(back.reason).toMatch(/SIGABRT twice right after starting; rolled back to the previous build/);
    else expect(back.message).toMatch(/the host died during the reload \(was killed by SIGABRT\); restarted from the last good build/);
    expect(events.slice(mark).filter((e) => e.event === 'crash').every((e) => e.signal === 'SIGABRT')).toBe(true);
    expect((await get(port, '/hello')).body).toBe('hello from api v4\n');
    const mark2 = events.length;
    await edit('router/src/lib.rs', '\n    std::process::abort();', '');
    expect(await nextCycle(mark2)).toMatchObject({ event: 'reload', modules: ['app_router'] });
    expect((await get(port, '/hello')).body).toBe('hello from api v4\n');
  });

  it('a new entry that aborts 300 ms into its generation: restarted once, then rolled back to the previous build', async () => {
    const mark = events.length;
    await edit('router/src/lib.rs', 'fn hotgen_run(ctx: &hotgen_entry::Context) -> i32 {', 'fn hotgen_run(ctx: &hotgen_entry::Context) -> i32 {\n    std::thread::sleep(std::time::Duration::from_millis(300)); std::process::abort();');
    expect(await nextCycle(mark)).toMatchObject({ event: 'reload', modules: ['app_router'] });
    const back = await waitEvent((e) => e.event === 'restart' && String(e.reason).includes('rolled back'), mark);
    expect(back.reason).toBe('it was killed by SIGABRT twice right after starting; rolled back to the previous build');
    const between = events.slice(mark, events.indexOf(back));
    expect(between.filter((e) => e.event === 'crash').map((e) => e.signal)).toEqual(['SIGABRT', 'SIGABRT']);
    expect(between.filter((e) => e.event === 'restart')).toHaveLength(1);
    expect((await get(port, '/hello')).body).toBe('hello from api v4\n');
    const mark2 = events.length;
    await edit('router/src/lib.rs', '\n    std::thread::sleep(std::time::Duration::from_millis(300)); std::process::abort();', '');
    expect(await nextCycle(mark2)).toMatchObject({ event: 'reload', modules: ['app_router'] });
    expect((await get(port, '/hello')).body).toBe('hello from api v4\n');
  });

  it('quits on SIGTERM: stops the host and exits 0', async () => {
    const status = JSON.parse((await hotgen(['reload', '--status', '--json'])).stdout);
    const hostPid = status.status.hostPid as number;
    expect(hostPid).toBeGreaterThan(0);
    dev.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(events.at(-1)?.event).toBe('quit');
    expect(() => process.kill(hostPid, 0)).toThrow();
    const after = await hotgen(['reload']);
    expect(after.code).toBe(1);
    expect(after.stderr).toMatch(/no hotgen dev session runs/);
  });
});

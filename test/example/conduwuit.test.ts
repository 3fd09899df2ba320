/**
 * The conduwuit-shaped example (examples/conduwuit: tokio, hyper 0.14, tracing, rusqlite,
 * from Debian's crate sources) under `hotgen dev --json`, as a user runs it after
 * `hotgen init`: real cargo, a real host, real HTTP on 127.0.0.1, one session shared by
 * the steps in order; then the static binary against the same HTTP checks. Needs
 * `.ci/setup`'s Debian crate packages (librust-hyper-dev, librust-rusqlite-dev, ...).
 *
 * `CONDUWUIT_LOG_RELOAD=layer` in the environment switches the example to
 * tracing-subscriber's reload layer; the log-filter step then fails (SIGSEGV: tracing's
 * callsite registry still lists the unloaded copies' callsites; examples/conduwuit/README.md).
 */
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, readdir, rename, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../bench/example.js';
import { Dev, hotgen, quitAllDevs, type DevEvent } from '../loader/fixtures/dev-session.js';
import { tempDir } from '../helpers/tree.js';
import { skipUnless, tools } from '../helpers/tools.js';
import { buildStatic, copyExample, request, startServer } from './helpers.js';

const EXAMPLE = path.resolve(import.meta.dirname, '../../examples/conduwuit');
/** Small, so that start-up (insert, then load every row into the cache) takes milliseconds. */
const ROWS = 3000;
const CRATES = ['conduwuit_core', 'conduwuit_database', 'conduwuit_service', 'conduwuit_api', 'conduwuit_admin', 'conduwuit_router'];
const ABOVE_API = ['conduwuit_api', 'conduwuit_admin', 'conduwuit_router'];

const debianCrates = () =>
  ['hyper-0.14.19', 'rusqlite-0.28.0', 'tracing-subscriber-0.3.16', 'serde_json-1.0.87', 'listenfd-1.0.0'].every((c) =>
    existsSync(`/usr/share/cargo/registry/${c}/Cargo.toml`),
  )
    ? undefined
    : 'Debian crate sources missing (run .ci/setup: librust-hyper-dev, librust-rusqlite-dev, ...)';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The HTTP checks both ways of running the app must pass, on a fresh database of ROWS rows. */
async function checkHttp(addr: string, filter: string): Promise<void> {
  const get = (p: string) => request(addr, 'GET', p);
  expect((await get('/health')).body).toBe('ok\n');
  expect(JSON.parse((await get('/version')).body)).toEqual({
    core: 'core v1', database: 'database v1', service: 'service v1', api: 'api v1', admin: 'admin v1', router: 'router v1',
  });
  const row = await get('/kv/k0000001');
  expect(row.status).toBe(200);
  expect(JSON.parse(row.body)).toMatchObject({ key: 'k0000001', tags: ['t1', 'g1'] });
  expect(JSON.parse(JSON.parse(row.body).value)).toMatchObject({ id: 1, name: 'row 1' });
  expect((await get('/kv/k9999999')).status).toBe(404);
  const t5 = Array.from({ length: ROWS }, (_, i) => i).filter((i) => i % 97 === 5).length;
  expect(JSON.parse((await get('/search?tag=t5')).body)).toMatchObject({ tag: 't5', count: t5 });
  expect((await request(addr, 'PUT', '/kv/probe', { body: '{"tags":["probe"]}' })).status).toBe(201);
  expect((await request(addr, 'PUT', '/kv/probe', { body: '{"tags":["probe"],"n":2}' })).status).toBe(200);
  expect(JSON.parse((await get('/kv/probe')).body)).toEqual({ key: 'probe', value: '{"tags":["probe"],"n":2}', tags: ['probe'] });
  expect(JSON.parse((await get('/search?tag=probe')).body)).toEqual({ tag: 'probe', count: 1, keys: ['probe'] });
  expect(JSON.parse((await get('/stats')).body)).toMatchObject({ rows: ROWS + 1, logFilter: filter });
  expect((await get('/panic')).status).toBe(500);
  expect((await get('/nope')).status).toBe(404);
  expect((await request(addr, 'POST', '/health')).status).toBe(405);
  expect((await request(addr, 'POST', '/admin', { body: 'ping' })).body).toBe('pong\n');
  expect((await request(addr, 'POST', '/admin', { body: 'recent 1' })).body).toBe('probe\n');
  expect((await request(addr, 'POST', '/admin', { body: 'log-filter conduwuit=loud' })).status).toBe(400);
}

/** Two loops of GET /kv/k0000001 on fresh connections until `end()`; every failure is kept. */
function loadClient(addr: string) {
  let stop = false;
  let ok = 0;
  const failures: string[] = [];
  const loop = async () => {
    while (!stop) {
      try {
        const r = await request(addr, 'GET', '/kv/k0000001');
        if (r.status === 200 && JSON.parse(r.body).key === 'k0000001') ok++;
        else failures.push(`status ${r.status}: ${r.body}`);
      } catch (err) {
        failures.push((err as Error).message);
      }
      await sleep(5);
    }
  };
  const loops = [loop(), loop()];
  return { failures, ok: () => ok, end: () => ((stop = true), Promise.all(loops)) };
}

describe.skipIf(skipUnless(tools.cargo(), tools.mold(), debianCrates()))('example conduwuit', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let root: string;
  let addr: string;
  let dev: Dev;
  let staticBin: Promise<string>;
  const env = () => ({ CONDUWUIT_ROWS: String(ROWS), CONDUWUIT_DATABASE_PATH: path.join(tmp.path, 'hot.db'), CONDUWUIT_LOG: 'info' });

  const cycles = ['reload', 'restart', 'start', 'unchanged', 'build-failed', 'reload-failed', 'crash'];
  const nextCycle = (from: number) => dev.waitEvent((e) => cycles.includes(e.event), from);
  const edit = async (rel: string, from: string, to: string) => {
    const f = path.join(root, rel);
    const text = await readFile(f, 'utf8');
    expect(text).toContain(from);
    await writeFile(f, text.replace(from, to));
  };
  const stats = async () => JSON.parse((await request(addr, 'GET', '/stats')).body);
  const admin = (command: string) => request(addr, 'POST', '/admin', { body: command });

  beforeAll(async () => {
    tmp = await tempDir('conduwuit');
    root = path.join(tmp.path, 'hot');
    await copyExample(root, EXAMPLE);
    // The static binary is built from its own pristine copy, alongside the hot build.
    await copyExample(path.join(tmp.path, 'static'), EXAMPLE);
    staticBin = buildStatic(path.join(tmp.path, 'static-target'), path.join(tmp.path, 'static'), 'conduwuit-server');
    staticBin.catch(() => {});
    const port = await freePort();
    addr = `127.0.0.1:${port}`;
    // As a user would; --force regenerates the committed entry shim should the template have moved on.
    const init = await hotgen(root, ['init', '--entry', 'conduwuit_router', '--frozen', 'conduwuit_core', '--channel', 'stable', '--listen', addr, '--force']);
    expect(init.code, init.stderr).toBe(0);
    dev = new Dev(root, [], env());
  });

  afterAll(async () => {
    await quitAllDevs();
    await staticBin?.catch(() => {});
    await tmp?.[Symbol.asyncDispose]();
  });

  it('builds, starts the crates bottom-up and answers the HTTP checks', async () => {
    const start = await dev.waitEvent((e) => e.event === 'start', 0, 420_000);
    expect(start.modules).toEqual(CRATES);
    // tokio, hyper, tracing-core, rusqlite, ... are registry dylibs, mapped once below the crates.
    expect(start.registry).toBeGreaterThan(40);
    await checkHttp(addr, 'info');
  }, 480_000);

  it('reloads api, service and database in DAG order under load, failing no request; the cache and the open database survive', async () => {
    const before = await stats();
    expect((await request(addr, 'PUT', '/kv/survivor', { body: '{"tags":["kept"]}' })).status).toBe(201);
    const client = loadClient(addr);
    const cases: [string, string, string[]][] = [
      ['api', 'api', ABOVE_API],
      ['service', 'service', ['conduwuit_service', ...ABOVE_API]],
      ['database', 'database', ['conduwuit_database', 'conduwuit_service', ...ABOVE_API]],
    ];
    for (const [crate, field, modules] of cases) {
      const mark = dev.events.length;
      await edit(`src/${crate}/src/lib.rs`, `"${crate} v1"`, `"${crate} v2"`);
      expect(await nextCycle(mark)).toMatchObject({ event: 'reload', modules, unloaded: [...modules].reverse() });
      expect(JSON.parse((await request(addr, 'GET', '/version')).body)[field]).toBe(`${crate} v2`);
    }
    await client.end();
    expect(client.failures).toEqual([]);
    expect(client.ok()).toBeGreaterThan(0);
    // Read back from the cache (GET /kv reads only the cache) of the state built at start-up.
    expect(JSON.parse((await request(addr, 'GET', '/kv/survivor')).body)).toMatchObject({ key: 'survivor', tags: ['kept'] });
    const after = await stats();
    expect(after).toMatchObject({ pid: before.pid, bootMs: before.bootMs, generations: before.generations + 3, rows: ROWS + 2 });
    // The same connection keeps working for the reloaded database crate.
    expect((await request(addr, 'PUT', '/kv/later', { body: 'x' })).status).toBe(201);
    expect((await admin('recent 1')).body).toBe('later\n');
  });

  it('after 50 reloads of api, changing the log filter at runtime works and the host does not crash', async () => {
    const hostPid = (await stats()).pid;
    const mark0 = dev.events.length;
    // Each generation's api registers tracing callsites (debug events of GET /kv, /search).
    expect((await admin('log-filter info,conduwuit_api=debug')).body).toBe('log filter: info -> info,conduwuit_api=debug\n');
    const exercise = async (want: string) => {
      expect(JSON.parse((await request(addr, 'GET', '/version')).body).api).toBe(want);
      expect((await request(addr, 'GET', '/kv/k0000002')).status).toBe(200);
      expect((await request(addr, 'GET', '/kv/missing')).status).toBe(404);
      expect((await request(addr, 'GET', '/search?tag=g3')).status).toBe(200);
    };
    // Two real edits outside a function body (so api, admin and router are compiled): A grows
    // the api dylib by 64 KiB of data, B does not, so the two copies map at different
    // addresses and the old callsites' memory moves.
    const deps = path.join(root, 'target', 'hotgen', 'hot', 'deps');
    const stash = async (variant: string) => {
      const names = (await readdir(deps)).filter((f) => /^libconduwuit_(api|admin|router)-[0-9a-f]{16}\.so$/.test(f));
      expect(names).toHaveLength(3);
      await mkdir(path.join(tmp.path, variant), { recursive: true });
      for (const n of names) await copyFile(path.join(deps, n), path.join(tmp.path, variant, n));
      return names;
    };
    let mark = dev.events.length;
    await edit('src/api/src/lib.rs', '"api v2"\n}', '"api v3"\n}\npub static RELOAD_PADDING: [u8; 65536] = [1; 65536];');
    // conduwuit_service too: the database edit above left it stale (compiled against the
    // previous conduwuit_database), and it is compiled before anything above it.
    expect(await nextCycle(mark)).toMatchObject({ event: 'reload', modules: ['conduwuit_service', ...ABOVE_API] });
    await exercise('api v3');
    const names = await stash('A');
    mark = dev.events.length;
    await edit('src/api/src/lib.rs', '"api v3"\n}\npub static RELOAD_PADDING: [u8; 65536] = [1; 65536];', '"api v4"\n}');
    expect(await nextCycle(mark)).toMatchObject({ event: 'reload', modules: ABOVE_API });
    await exercise('api v4');
    await stash('B');
    // 48 more: put one build's dylibs back in place (as a build run elsewhere would) and
    // ask for a reload (SIGINT); cargo finds nothing to do, hotgen the changed content.
    for (let i = 0; i < 48; i++) {
      const variant = i % 2 === 0 ? 'A' : 'B';
      for (const n of names) {
        await copyFile(path.join(tmp.path, variant, n), path.join(deps, `${n}.tmp`));
        await rename(path.join(deps, `${n}.tmp`), path.join(deps, n));
      }
      mark = dev.events.length;
      dev.child.kill('SIGINT');
      expect(await nextCycle(mark)).toMatchObject({ event: 'reload', modules: ABOVE_API });
      await exercise(variant === 'A' ? 'api v3' : 'api v4');
    }
    expect(dev.events.slice(mark0).filter((e: DevEvent) => e.event === 'reload')).toHaveLength(50);

    // Off for conduwuit_api, then on again: a GET /kv/<key> logs its key at debug only when on.
    expect((await admin('log-filter info')).body).toBe('log filter: info,conduwuit_api=debug -> info\n');
    expect((await request(addr, 'GET', '/kv/while-off')).status).toBe(404);
    expect((await admin('log-filter info,conduwuit_api=debug')).status).toBe(200);
    expect((await request(addr, 'GET', '/kv/while-on')).status).toBe(404);
    for (let t = 0; !dev.stderr.includes('while-on') && t < 100; t++) await sleep(50);
    expect(dev.stderr).toContain('while-on');
    expect(dev.stderr).not.toContain('while-off');
    expect((await admin('log-filter info')).status).toBe(200);
    expect((await stats()).pid).toBe(hostPid);
    expect(dev.events.slice(mark0).filter((e) => ['crash', 'restart'].includes(e.event))).toEqual([]);
  }, 400_000);

  it('a core edit restarts the host with the sockets kept; the database keeps what was written', async () => {
    const before = await stats();
    const client = loadClient(addr);
    const mark = dev.events.length;
    await edit('src/core/src/lib.rs', '"core v1"', '"core v2"');
    expect(await nextCycle(mark)).toMatchObject({ event: 'restart', reason: 'conduwuit_core changed', modules: CRATES });
    expect(JSON.parse((await request(addr, 'GET', '/version')).body)).toMatchObject({ core: 'core v2', api: 'api v4' });
    await client.end();
    expect(client.failures).toEqual([]);
    const after = await stats();
    expect(after.pid).not.toBe(before.pid);
    expect(after).toMatchObject({ rows: ROWS + 3, generations: 1 });
    expect(JSON.parse((await request(addr, 'GET', '/kv/survivor')).body)).toMatchObject({ tags: ['kept'] });
    expect(await dev.quit()).toBe(0);
  });

  it('the static binary passes the same HTTP checks, on a socket from LISTEN_FDS, and stops on SIGTERM', async () => {
    const bin = await staticBin;
    const listener = net.createServer();
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    const { port } = listener.address() as net.AddressInfo;
    // The listening socket becomes the child's fd 3 (sd_listen_fds(3) convention).
    const inherited = { _handle: (listener as unknown as { _handle: unknown })._handle, pause() {}, _readableState: {} };
    await using server = await startServer(
      bin,
      { ...env(), CONDUWUIT_DATABASE_PATH: path.join(tmp.path, 'static.db'), LISTEN_FDS: '1', CONDUWUIT_ADDRESS: '127.0.0.1:1' },
      [inherited],
    );
    listener.close();
    expect(server.addr).toBe(`127.0.0.1:${port}`);
    await checkHttp(server.addr, 'info');
    expect(JSON.parse((await request(server.addr, 'GET', '/stats')).body)).toMatchObject({ generation: 0, generations: 1, pid: server.child.pid });
    const slow = request(server.addr, 'GET', '/sleep');
    await sleep(100);
    server.child.kill('SIGTERM');
    expect((await slow).body).toBe('slept 300 ms\n');
    expect(await server.exited).toEqual({ code: 0, signal: null });
  });

  it('hotgen demo --example conduwuit: init, dev, an api edit and its reload on a fresh copy', async () => {
    await quitAllDevs();
    // This file's target directory: the registry dylibs are built already; the copy's own crates are not.
    const r = await hotgen(tmp.path, ['demo', '--example', 'conduwuit', '--json'], { CARGO_TARGET_DIR: path.join(root, 'target'), CONDUWUIT_ROWS: String(ROWS) });
    expect(r.code, r.stderr).toBe(0);
    const demo = r.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as DevEvent)
      .find((e) => e.event === 'demo');
    expect(demo, r.stdout).toBeDefined();
    expect(JSON.parse(demo!.before as string)).toMatchObject({ api: 'api v1', core: 'core v1' });
    expect(JSON.parse(demo!.after as string)).toMatchObject({ api: 'api v2 (hot-reloaded)', core: 'core v1' });
    expect((demo!.reload as DevEvent).modules).toEqual(ABOVE_API);
  });
});

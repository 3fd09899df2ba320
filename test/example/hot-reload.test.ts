/**
 * The example's side of the entry ABI, without the real loader: a tiny C host
 * (mini-host.c) maps the example's dylibs, runs `hotgen_main` on a generation thread,
 * and swaps crates after real edits and rebuilds, while real HTTP requests check that
 * the answer changes, the state (request counter, open store) is kept, every reloaded
 * module really unmaps (RTLD_NOLOAD), and the frozen core never does.
 */
import { cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import http from 'node:http';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/tree.js';
import { skipUnless, tools } from '../helpers/tools.js';
import { EXAMPLE_LIBS, copyExample, request } from './helpers.js';
import { applyHotSetup, buildHot, buildMiniHost, startMiniHost, type HotExample } from './hot.js';

/** Copies the example, runs init, builds the mini-host; returns the set-up and paths. */
async function prepare(ws: string): Promise<{ ex: HotExample; host: string; libdir: string }> {
  await copyExample(ws);
  const ex = await applyHotSetup(ws);
  return { ex, host: await buildMiniHost(path.join(ws, 'mini-host')), libdir: ex.toolchain.libstdDir };
}

describe.skipIf(skipUnless(tools.nightly(), tools.mold(), tools.clang()))('example server, reloaded in a minimal host', () => {
  it('swaps api, then database, keeping the counter and the store; every unload verified', async () => {
    await using ws = await tempDir('example-reload');
    const { ex, host, libdir } = await prepare(ws.path);
    let built = await buildHot(ex);
    expect(built.rebuilt).toEqual([...EXAMPLE_LIBS].sort());

    // Snapshots as the supervisor takes them: renamed copies, which still find each other by SONAME.
    let gen = 0;
    const snapshot = async (names: readonly string[]) => {
      const dir = path.join(ws.path, '.hotgen', `gen-${++gen}`);
      await mkdir(dir, { recursive: true });
      for (const n of names) await cp(built.lib(n), path.join(dir, `lib${n}.so`));
      return (n: string) => path.join(dir, `lib${n}.so`);
    };
    await using h = await startMiniHost(host, {
      ...process.env,
      LD_LIBRARY_PATH: libdir,
      HOTGEN_EXAMPLE_STORE: path.join(ws.path, 'data', 'store.log'),
      HOTGEN_EXAMPLE_LOG: 'debug',
    });
    const loaded = new Map<string, string>();
    const load = async (at: (n: string) => string, names: readonly string[]) => {
      for (const n of names) {
        expect(await h.command(`load ${at(n)} ${n === 'app_router' ? 'local' : 'global'}`)).toBe('ok');
        loaded.set(n, at(n));
      }
    };
    const unload = async (names: readonly string[]) => {
      const answers = [];
      for (const n of names) answers.push(`${n} ${await h.command(`unload ${loaded.get(n)}`)}`);
      return answers;
    };
    const get = async (p: string) => (await request(h.addr, 'GET', p)).body;

    // Generation 1: everything mapped bottom-up.
    await load(await snapshot(EXAMPLE_LIBS), EXAMPLE_LIBS);
    expect(await h.command('run 1')).toBe('ok');
    expect(await get('/hello')).toBe('hello from api v1\n');
    expect((await request(h.addr, 'PUT', '/kv/kept', { body: 'across reloads' })).status).toBe(201);
    const before = Number(await get('/count'));

    // Edit api: cargo rebuilds api and router; swap exactly those, top-down then bottom-up.
    const apiSrc = path.join(ws.path, 'api', 'src', 'lib.rs');
    await writeFile(apiSrc, (await readFile(apiSrc, 'utf8')).replace('hello from api v1', 'hello from api v2'));
    const apiSet = ['app_api', 'app_router'];
    built = await buildHot(ex);
    expect(built.rebuilt).toEqual(apiSet);
    const gen2 = await snapshot(apiSet);
    expect(await h.command('stop')).toBe('stopped 0');
    expect(await unload(['app_router', 'app_api'])).toEqual(['app_router unloaded', 'app_api unloaded']);
    await load(gen2, apiSet);
    expect(await h.command('run 2')).toBe('ok');
    expect(await get('/hello')).toBe('hello from api v2\n');
    expect(Number(await get('/count'))).toBe(before + 2);
    expect(await get('/kv/kept')).toBe('across reloads');

    // Edit database: database and everything above it are rebuilt and swapped; the
    // store stays open (its data is a core type) and keeps serving.
    const dbSrc = path.join(ws.path, 'database', 'src', 'lib.rs');
    await writeFile(dbSrc, (await readFile(dbSrc, 'utf8')).replace('"database v1"', '"database v2"'));
    const dbSet = ['app_api', 'app_database', 'app_router', 'app_service'];
    built = await buildHot(ex);
    expect(built.rebuilt).toEqual(dbSet);
    const gen3 = await snapshot(dbSet);
    expect(await h.command('stop')).toBe('stopped 0');
    expect(await unload(['app_router', 'app_api', 'app_service', 'app_database'])).toEqual([
      'app_router unloaded',
      'app_api unloaded',
      'app_service unloaded',
      'app_database unloaded',
    ]);
    await load(gen3, ['app_database', 'app_service', 'app_api', 'app_router']);
    expect(await h.command('run 3')).toBe('ok');
    expect(await get('/version')).toBe('core v1, database v2, service v1, api v1, router v1\n');
    expect(await get('/kv/kept')).toBe('across reloads');
    expect((await request(h.addr, 'PUT', '/kv/new', { body: 'after the swap' })).status).toBe(201);

    // Many more swaps of api+router (fresh snapshots of the same build), each after
    // requests whose thread-local destructors must run before the unload.
    for (let i = 4; i < 24; i++) {
      const next = await snapshot(apiSet);
      expect(await get('/hello')).toBe('hello from api v2\n');
      expect(await h.command('stop')).toBe('stopped 0');
      expect(await unload(['app_router', 'app_api'])).toEqual(['app_router unloaded', 'app_api unloaded']);
      await load(next, apiSet);
      expect(await h.command(`run ${i}`)).toBe('ok');
    }
    const stats = JSON.parse(await get('/stats'));
    expect(stats).toMatchObject({ generation: 23, generations: 23, keys: 2 });
    expect(h.stderr()).toMatch(/api handled \d+ requests on this thread/);

    // Everything unloads top-down except the frozen core (-z nodelete).
    expect(await h.command('stop')).toBe('stopped 0');
    expect(await unload(['app_router', 'app_api', 'app_service', 'app_database', 'app_core'])).toEqual([
      'app_router unloaded',
      'app_api unloaded',
      'app_service unloaded',
      'app_database unloaded',
      'app_core mapped',
    ]);
    void h.command('quit').catch(() => {});
    expect(await h.exited).toEqual({ code: 0, signal: null });
  });

  it('drops no request of a continuous load across 15 swaps of api and router', async () => {
    await using ws = await tempDir('example-load');
    const { ex, host, libdir } = await prepare(ws.path);
    const built = await buildHot(ex);
    await using h = await startMiniHost(host, {
      ...process.env,
      LD_LIBRARY_PATH: libdir,
      HOTGEN_EXAMPLE_STORE: path.join(ws.path, 'data', 'store.log'),
    });
    // The build's own files (not snapshots): the same files are unloaded and loaded again.
    const lib = built.lib;
    for (const n of EXAMPLE_LIBS) expect(await h.command(`load ${lib(n)} ${n === 'app_router' ? 'local' : 'global'}`)).toBe('ok');
    expect(await h.command('run 1')).toBe('ok');

    // Two clients on fresh connections, two on kept-alive ones, each looping until told to stop.
    let running = true;
    const failures: string[] = [];
    let answered = 0;
    const client = async (agent?: http.Agent) => {
      while (running) {
        try {
          const r = await request(h.addr, 'GET', '/hello', { agent });
          if (r.status === 200 && r.body === 'hello from api v1\n') answered++;
          else failures.push(`${r.status} ${r.body}`);
        } catch (err) {
          failures.push(String(err));
        }
      }
    };
    const agents = [new http.Agent({ keepAlive: true, maxSockets: 1 }), new http.Agent({ keepAlive: true, maxSockets: 1 })];
    const clients = [client(), client(), client(agents[0]), client(agents[1])];
    try {
      for (let gen = 2; gen <= 16; gen++) {
        const seen = answered;
        while (answered < seen + 20 && failures.length === 0) await new Promise((r) => setTimeout(r, 5));
        expect(await h.command('stop')).toBe('stopped 0');
        expect(await h.command(`unload ${lib('app_router')}`)).toBe('unloaded');
        expect(await h.command(`unload ${lib('app_api')}`)).toBe('unloaded');
        expect(await h.command(`load ${lib('app_api')} global`)).toBe('ok');
        expect(await h.command(`load ${lib('app_router')} local`)).toBe('ok');
        expect(await h.command(`run ${gen}`)).toBe('ok');
      }
    } finally {
      running = false;
      await Promise.all(clients);
      for (const a of agents) a.destroy();
    }
    expect(failures).toEqual([]);
    expect(answered).toBeGreaterThan(15 * 20);
  });
});

/**
 * End to end: `hotgen init` on a copy of examples/server, then `hotgen dev --json` with
 * real cargo, real dlopen (the host) and real HTTP on 127.0.0.1. The steps share one
 * session and run in order.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { tempDir } from '../helpers/tree.js';
import { skipUnless, tools } from '../helpers/tools.js';
import { Dev, exampleReady, quitAllDevs, get, hotgen as runHotgen, initExample, loadClient, toolchainEnv, type DevEvent } from './fixtures/dev-session.js';
import { ABI_VERSION } from '../../common/types.js';

describe.skipIf(skipUnless(tools.nightly(), tools.mold()) || !exampleReady)('hotgen dev on the example server (real cargo, dlopen, HTTP)', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let root: string;
  let port: number;
  let dev: Dev;
  let client: ReturnType<typeof loadClient>;

  /** Resolves with the first event at or after `from` matching `pred`. */
  const waitEvent = (pred: (e: DevEvent) => boolean, from: number) => dev.waitEvent(pred, from);
  const cycleEvents = ['reload', 'restart', 'start', 'unchanged', 'build-failed', 'reload-failed'];
  const nextCycle = (from: number) => waitEvent((e) => cycleEvents.includes(e.event), from);
  const edit = async (rel: string, from: string, to: string) => {
    const f = path.join(root, rel);
    const text = await readFile(f, 'utf8');
    expect(text).toContain(from);
    await writeFile(f, text.replace(from, to));
  };
  const hotgen = (args: string[]) => runHotgen(root, args, devEnv());
  const devEnv = () => ({
    HOTGEN_EXAMPLE_STORE: path.join(root, 'store.log'),
    ...toolchainEnv(),
  });

  beforeAll(async () => {
    dir = await tempDir('e2e-dev');
    root = path.join(dir.path, 'server');
    const made = await initExample(dir.path, devEnv());
    port = made.port;
    expect(made.init.code, made.init.stderr).toBe(0);
    dev = new Dev(root, [], devEnv());
  });

  afterAll(async () => {
    await client?.end();
    await quitAllDevs();
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
    const mark = dev.events.length;
    await edit('api/src/lib.rs', 'hello from api v1', 'hello from api v2');
    const ev = await nextCycle(mark);
    expect(ev).toMatchObject({ event: 'reload', modules: ['app_api', 'app_router'], unloaded: ['app_router', 'app_api'] });
    expect((await get(port, '/hello')).body).toBe('hello from api v2\n');
    expect(Number((await get(port, '/count')).body)).toBeGreaterThan(before);
  });

  it('an edit in database reloads database, service, api, router', async () => {
    const mark = dev.events.length;
    await edit('database/src/lib.rs', '"database v1"', '"database v2"');
    const ev = await nextCycle(mark);
    expect(ev).toMatchObject({ event: 'reload', modules: ['app_database', 'app_service', 'app_api', 'app_router'] });
    expect((await get(port, '/version')).body).toContain('database v2');
  });

  it('an edit in the frozen core restarts the host with the sockets kept', async () => {
    const mark = dev.events.length;
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
    expect(human.stdout).toMatch(/^(nothing changed|reloaded .*); build \d+\.\d s( \([^)]*\))?(; noticed \+\d+ ms)?\n$/);
    expect((await stat(path.join(root, '.hotgen/control.sock'))).mode & 0o777).toBe(0o600);
  });

  it('a build error keeps the old answer and shows the error; fixing it reloads', async () => {
    const mark = dev.events.length;
    await edit('api/src/lib.rs', 'hello from api v3\";', 'hello from api v4\"; const BROKEN: u32 = "x";');
    const ev = await nextCycle(mark);
    expect(ev.event).toBe('build-failed');
    expect(String(ev.errors)).toMatch(/error\[E0308\]/);
    expect((await get(port, '/hello')).body).toBe('hello from api v3\n');
    const failed = await hotgen(['reload']);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toMatch(/^build failed/);
    const mark2 = dev.events.length;
    await edit('api/src/lib.rs', ' const BROKEN: u32 = "x";', '');
    expect(await waitEvent((e) => e.event === 'reload', mark2)).toMatchObject({ modules: ['app_api', 'app_router'] });
    expect((await get(port, '/hello')).body).toBe('hello from api v4\n');
  });

  it('an entry speaking another ABI version is refused: the last good build keeps serving', async () => {
    await edit('router/src/hotgen_entry.rs', `pub const ABI_VERSION: u32 = ${ABI_VERSION};`, `pub const ABI_VERSION: u32 = ${ABI_VERSION + 1};`);
    const r = await hotgen(['reload', '--json']);
    expect(r.code).toBe(1);
    const answer = JSON.parse(r.stdout);
    expect(answer.ok).toBe(false);
    expect(answer.report.kind).toBe('error');
    expect(answer.report.message).toMatch(new RegExp(`^the new build cannot be loaded \\(app_router: .*ABI version ${ABI_VERSION + 1}\\b.*\\); restarted from the last good build$`));
    expect((await get(port, '/hello')).body).toBe('hello from api v4\n');
    const mark = dev.events.length;
    await edit('router/src/hotgen_entry.rs', `pub const ABI_VERSION: u32 = ${ABI_VERSION + 1};`, `pub const ABI_VERSION: u32 = ${ABI_VERSION};`);
    expect(await waitEvent((e) => e.event === 'reload', mark)).toMatchObject({ modules: ['app_router'] });
    expect((await get(port, '/hello')).body).toBe('hello from api v4\n');
  });

  it('a module linked with -z nodelete is detected at its unload, named, and handled by a restart', async () => {
    // The user's own tuning of the hot profile goes into hotgen's cargo config (watched by hotgen dev).
    const config = path.join(root, 'hotgen/cargo-config.toml');
    const original = await readFile(config, 'utf8');
    expect(original).toMatch(/^\[profile\.hot\]\ninherits = "dev"$/m);
    let mark = dev.events.length;
    await writeFile(config, `${original}\n[unstable]\nprofile-rustflags = true\n\n[profile.hot.package.app_api]\nrustflags = ["-C", "link-arg=-Wl,-z,nodelete"]\n`);
    // The api mapped now was built without nodelete: it still unloads.
    expect(await nextCycle(mark)).toMatchObject({ event: 'reload', modules: ['app_api', 'app_router'] });
    mark = dev.events.length;
    await edit('api/src/lib.rs', 'hello from api v4', 'hello from api v5');
    const ev = await nextCycle(mark);
    expect(ev.event).toBe('restart');
    expect(String(ev.reason)).toMatch(/app_api.*nodelete/);
    expect((await get(port, '/hello')).body).toBe('hello from api v5\n');
    mark = dev.events.length;
    await writeFile(config, original);
    expect(['reload', 'restart']).toContain((await nextCycle(mark)).event);
    mark = dev.events.length;
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
    const mark = dev.events.length;
    await get(port, '/segv').catch(() => undefined);
    const crash = await waitEvent((e) => e.event === 'crash', mark);
    expect(crash.signal).toBe('SIGSEGV');
    expect(String(crash.stderr)).toContain('/segv');
    await waitEvent((e) => e.event === 'restart', mark);
    expect((await get(port, '/hello')).body).toBe('hello from api v4\n');
  });

  it('an aborting handler: the host is restarted and the next request succeeds; a panicking one answers 500', async () => {
    const mark = dev.events.length;
    await get(port, '/abort').catch(() => undefined);
    expect(await waitEvent((e) => e.event === 'crash', mark)).toMatchObject({ signal: 'SIGABRT' });
    await waitEvent((e) => e.event === 'restart', mark);
    expect((await get(port, '/hello')).status).toBe(200);
    expect((await get(port, '/panic')).status).toBe(500);
    expect((await get(port, '/hello')).body).toBe('hello from api v4\n');
  });

  it('a new entry that aborts as soon as it runs: restarted, then rolled back to the previous build', async () => {
    const mark = dev.events.length;
    await edit('router/src/lib.rs', 'fn hotgen_run(ctx: &hotgen_entry::Context) -> i32 {', 'fn hotgen_run(ctx: &hotgen_entry::Context) -> i32 {\n    std::process::abort();');
    // The abort lands either before the host confirms the swap (the reload fails) or just after
    // (the new set then fails twice right after starting): both end on the previous build.
    const back = await waitEvent((e) => (e.event === 'restart' && String(e.reason).includes('rolled back')) || e.event === 'reload-failed', mark);
    if (back.event === 'restart') expect(back.reason).toMatch(/SIGABRT twice right after starting; rolled back to the previous build/);
    else expect(back.message).toMatch(/the host died during the reload \(was killed by SIGABRT\); restarted from the last good build/);
    expect(dev.events.slice(mark).filter((e) => e.event === 'crash').every((e) => e.signal === 'SIGABRT')).toBe(true);
    expect((await get(port, '/hello')).body).toBe('hello from api v4\n');
    const mark2 = dev.events.length;
    await edit('router/src/lib.rs', '\n    std::process::abort();', '');
    expect(await nextCycle(mark2)).toMatchObject({ event: 'reload', modules: ['app_router'] });
    expect((await get(port, '/hello')).body).toBe('hello from api v4\n');
  });

  it('a new entry that aborts 300 ms into its generation: restarted once, then rolled back to the previous build', async () => {
    const mark = dev.events.length;
    await edit('router/src/lib.rs', 'fn hotgen_run(ctx: &hotgen_entry::Context) -> i32 {', 'fn hotgen_run(ctx: &hotgen_entry::Context) -> i32 {\n    std::thread::sleep(std::time::Duration::from_millis(300)); std::process::abort();');
    expect(await nextCycle(mark)).toMatchObject({ event: 'reload', modules: ['app_router'] });
    const back = await waitEvent((e) => e.event === 'restart' && String(e.reason).includes('rolled back'), mark);
    expect(back.reason).toBe('it was killed by SIGABRT twice right after starting; rolled back to the previous build');
    const between = dev.events.slice(mark, dev.events.indexOf(back));
    expect(between.filter((e) => e.event === 'crash').map((e) => e.signal)).toEqual(['SIGABRT', 'SIGABRT']);
    expect(between.filter((e) => e.event === 'restart')).toHaveLength(1);
    expect((await get(port, '/hello')).body).toBe('hello from api v4\n');
    const mark2 = dev.events.length;
    await edit('router/src/lib.rs', '\n    std::thread::sleep(std::time::Duration::from_millis(300)); std::process::abort();', '');
    expect(await nextCycle(mark2)).toMatchObject({ event: 'reload', modules: ['app_router'] });
    expect((await get(port, '/hello')).body).toBe('hello from api v4\n');
  });

  it('quits on SIGTERM: stops the host and exits 0', async () => {
    const status = JSON.parse((await hotgen(['reload', '--status', '--json'])).stdout);
    const hostPid = status.status.hostPid as number;
    expect(hostPid).toBeGreaterThan(0);
    expect(await dev.quit()).toBe(0);
    expect(dev.events.at(-1)?.event).toBe('quit');
    expect(() => process.kill(hostPid, 0)).toThrow();
    const after = await hotgen(['reload']);
    expect(after.code).toBe(1);
    expect(after.stderr).toMatch(/no hotgen dev session runs/);
  });
});

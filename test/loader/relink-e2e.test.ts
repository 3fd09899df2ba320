/**
 * Dependents not compiled again, end to end: `hotgen dev --json` on a copy of
 * examples/server (real cargo, the rustc wrapper, a real host, HTTP on 127.0.0.1). An edit
 * inside a non-generic function's body compiles that crate alone, and the dependents
 * built against its previous version run on top of the new dylib, answering with the new
 * code; a crate left stale by that is compiled before anything above it; an edit a
 * dependent may see (a `pub const`) compiles the dependents.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skipUnless, tools } from '../helpers/tools.js';
import { editExample, exampleReady, exampleSuite, get as httpGet, type DevEvent } from './fixtures/dev-session.js';

type Cycle = DevEvent & { modules?: string[]; phases: { buildBy: string; crates: { name: string }[] } };

describe.skipIf(skipUnless(tools.nightly(), tools.mold()) || !exampleReady)('an edit its dependents cannot see compiles the edited crate alone (example server)', () => {
  const suite = exampleSuite('relink-e2e', ['--verbose']);
  const cycles = ['reload', 'restart', 'start', 'unchanged', 'build-failed', 'reload-failed'];
  /** Edits `rel`, waits for the cycle it causes; returns the event and the crates rustc compiled. */
  const editAndWait = async (rel: string, from: string, to: string) => {
    const mark = suite.dev.events.length;
    await editExample(suite.root, rel, from, to);
    const ev = (await suite.dev.waitEvent((e) => cycles.includes(e.event), mark)) as Cycle;
    return { ev, compiled: ev.phases?.crates.map((c) => c.name) };
  };
  const get = (p: string) => httpGet(suite.port, p);
  const stats = async () => JSON.parse((await get('/stats')).body) as { keys: number; pid: number };

  beforeAll(() => suite.start());
  afterAll(() => suite.end());

  it('a body edit in the bottom crate compiles it alone; the crates above, not compiled, run on the new dylib', async () => {
    const before = await stats();
    const { ev, compiled } = await editAndWait('database/src/lib.rs', '.len()\n}', '.len() + 1000\n}');
    expect(ev).toMatchObject({ event: 'reload', modules: ['app_database', 'app_service', 'app_api', 'app_router'], phases: { buildBy: 'replay' } });
    expect(compiled).toEqual(['app_database']);
    expect(suite.dev.stderr).toMatch(/app_database: only the body of non-generic functions changed/);
    const after = await stats();
    expect(after.keys).toBe(before.keys + 1000);
    expect(after.pid).toBe(before.pid);
  });

  it('an edit above a stale crate compiles the stale crate first', async () => {
    const { ev, compiled } = await editAndWait('api/src/lib.rs', '"ok\\n".to_string()', '"ok, v2\\n".to_string()');
    expect(ev.event).toBe('reload');
    // app_service, built against the previous app_database, is below app_api: rustc would refuse to load it as it is.
    expect(compiled).toEqual(['app_service', 'app_api']);
    expect((await get('/health')).body).toBe('ok, v2\n');
  });

  it('a body edit in a trait impl method (Display, called through format! from above): the crate alone; an edit dependents may see compiles them', async () => {
    let { ev, compiled } = await editAndWait('service/src/lib.rs', 'characters of A-Z a-z 0-9 . _ -', 'characters: letters, digits, . _ -');
    expect(ev.event).toBe('reload');
    expect(compiled, suite.dev.stderr.slice(-1500)).toEqual(['app_service']);
    const r = await fetch(`http://127.0.0.1:${suite.port}/kv/bad!key`, { method: 'PUT', body: 'x' });
    expect(r.status).toBe(400);
    expect(await r.text()).toContain('characters: letters, digits, . _ -');

    ({ ev, compiled } = await editAndWait('service/src/lib.rs', '"service v1"', '"service v2"'));
    expect(ev.event).toBe('reload');
    expect(compiled).toEqual(['app_service', 'app_api', 'app_router']);
    expect(suite.dev.stderr).toMatch(/app_service: its dependents are compiled again: service\/src\/lib\.rs: the change at line \d+ is outside any function body/);
    expect((await get('/version')).body).toContain('service v2');
    expect((await stats()).keys).toBeGreaterThanOrEqual(1000);
  });

  it('a body edit that drops a generic copy a crate above links to hands the build to cargo, which compiles the crates above', async () => {
    const probe = (v: string) => `let probe: Vec<(u8, u16, u32)> = vec![${v}];\n    drop(probe);\n    `;
    let { ev, compiled } = await editAndWait('database/src/lib.rs', 'store.map.read().unwrap_or_else(|e| e.into_inner()).len() + 1000', `${probe('(1, 2, 3)')}store.map.read().unwrap_or_else(|e| e.into_inner()).len() + 1000`);
    expect(compiled).toEqual(['app_database']);
    // app_service now uses the same instances of Vec's generic code: with shared generics it binds to app_database's copies.
    ({ ev, compiled } = await editAndWait('service/src/lib.rs', '    Stats {\n', `    ${probe('(4, 5, 6)')}Stats {\n`));
    expect(compiled).toEqual(['app_service']);
    ({ ev, compiled } = await editAndWait('database/src/lib.rs', probe('(1, 2, 3)'), ''));
    expect(suite.dev.stderr).toMatch(/app_database no longer defines .*: cargo builds the crates above/);
    expect(ev).toMatchObject({ event: 'reload', modules: ['app_database', 'app_service', 'app_api', 'app_router'] });
    expect(compiled).toEqual(expect.arrayContaining(['app_service', 'app_api', 'app_router']));
    expect((await stats()).keys).toBeGreaterThanOrEqual(1000);
    expect((await get('/health')).body).toBe('ok, v2\n');
  });
});

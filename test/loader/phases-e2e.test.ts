/**
 * Where a reload's time goes, end to end: `hotgen dev --json` on a copy of examples/server
 * (real cargo, the rustc wrapper, a real host, HTTP on 127.0.0.1). An edit to a source
 * file is built without cargo and its report carries every phase; a manifest edit and a
 * reload asked for by hand go through cargo; `HOTGEN_FAST_BUILD=0` is not needed for that.
 * Only shapes and sums are asserted, never how long anything took.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skipUnless, tools } from '../helpers/tools.js';
import { editExample, exampleReady, exampleSuite, get as httpGet, hotgen as runHotgen, type DevEvent } from './fixtures/dev-session.js';

type Phases = Record<string, number | string | { name: string; rustcMs: number; linkMs: number; wrapperMs: number }[] | undefined>;

/** The sequential phases (loader/phases.ts) add up to the total. */
function sequentialSum(p: Phases): number {
  const keys = ['watchMs', 'debounceMs', 'prepareMs', 'cargoMs', 'unitsMs', 'hashMs', 'snapshotMs', 'stopMs', 'unloadMs', 'loadMs', 'startMs', 'ipcMs', 'restartMs', 'otherMs'];
  return keys.reduce((s, k) => s + ((p[k] as number | undefined) ?? 0), 0);
}

describe.skipIf(skipUnless(tools.nightly(), tools.mold()) || !exampleReady)('the phases of a reload, and the build without cargo (example server)', () => {
  const suite = exampleSuite('phases-e2e', ['--verbose']);
  const cycles = ['reload', 'restart', 'start', 'unchanged', 'build-failed', 'reload-failed'];
  const nextCycle = (from: number) => suite.dev.waitEvent((e) => cycles.includes(e.event), from);
  const edit = (rel: string, from: string, to: string) => editExample(suite.root, rel, from, to);
  const get = (p: string) => httpGet(suite.port, p);

  beforeAll(() => suite.start());
  afterAll(() => suite.end());

  it('an edit to a source file: built without cargo; each rebuilt crate with its rustc and link time; the phases add up', async () => {
    const mark = suite.dev.events.length;
    await edit('api/src/lib.rs', 'hello from api v1', 'hello from api v2');
    const ev = (await nextCycle(mark)) as DevEvent & { phases: Phases };
    expect(ev).toMatchObject({ event: 'reload', modules: ['app_api', 'app_router'] });
    expect((await get('/hello')).body).toBe('hello from api v2\n');
    const p = ev.phases;
    expect(p.buildBy).toBe('replay');
    const crates = p.crates as { name: string; rustcMs: number; linkMs: number; wrapperMs: number }[];
    expect(crates.map((c) => c.name)).toEqual(['app_api', 'app_router']);
    for (const c of crates) {
      expect(c.rustcMs, c.name).toBeGreaterThan(0);
      expect(c.linkMs, c.name).toBeGreaterThan(0);
    }
    for (const k of ['watchMs', 'debounceMs', 'noticedMs', 'cargoMs', 'rustcMs', 'linkMs', 'cargoOwnMs', 'hashMs', 'snapshotMs', 'stopMs', 'unloadMs', 'loadMs', 'startMs', 'ipcMs', 'totalMs', 'overheadMs']) {
      expect(typeof p[k], k).toBe('number');
    }
    expect(p.noticedMs as number).toBeCloseTo((p.watchMs as number) + (p.debounceMs as number) + (p.prepareMs as number), 6);
    expect(sequentialSum(p)).toBeCloseTo(p.totalMs as number, 3);
    const swap = (p.stopMs as number) + (p.unloadMs as number) + (p.loadMs as number) + (p.startMs as number);
    expect(p.overheadMs as number).toBeCloseTo((p.totalMs as number) - (p.rustcMs as number) - swap, 3);
    expect(ev.buildMs).toBeCloseTo(p.cargoMs as number, 3);
  });

  it('a manifest edit goes through cargo (and says why with --verbose); so does a reload asked for by hand', async () => {
    let mark = suite.dev.events.length;
    await edit('api/Cargo.toml', '[lints]', '# a comment\n[lints]');
    let ev = (await nextCycle(mark)) as DevEvent & { phases: Phases };
    // A comment: cargo finds nothing to rebuild (or rebuilds app_api, should it ever track the manifest's bytes).
    expect(['unchanged', 'reload']).toContain(ev.event);
    expect(ev.phases.buildBy).toBe('cargo');
    expect(suite.dev.stderr).toMatch(/cargo builds this change: .*Cargo\.toml is not a source file/);

    mark = suite.dev.events.length;
    const r = await runHotgen(suite.root, ['reload', '--json'], suite.env());
    expect(r.code, r.stderr).toBe(0);
    ev = (await nextCycle(mark)) as DevEvent & { phases: Phases };
    expect(ev).toMatchObject({ event: 'unchanged', phases: { buildBy: 'cargo', crates: [] } });
    expect(ev.phases.noticedMs).toBeUndefined();

    // The next source edit is built without cargo again.
    mark = suite.dev.events.length;
    await edit('api/src/lib.rs', 'hello from api v2', 'hello from api v4');
    ev = (await nextCycle(mark)) as DevEvent & { phases: Phases };
    expect(ev).toMatchObject({ event: 'reload', phases: { buildBy: 'replay' } });
    expect((await get('/hello')).body).toBe('hello from api v4\n');
  });

  it('a compiler error from a build without cargo is reported, and fixing it reloads', async () => {
    let mark = suite.dev.events.length;
    await edit('api/src/lib.rs', 'hello from api v4";', 'hello from api v5"; const BROKEN: u32 = "x";');
    const failed = await nextCycle(mark);
    expect(failed).toMatchObject({ event: 'build-failed', serving: true });
    expect(String(failed.errors)).toMatch(/^error\[E0308\]/m);
    expect((await get('/hello')).body).toBe('hello from api v4\n');
    mark = suite.dev.events.length;
    await edit('api/src/lib.rs', 'const BROKEN: u32 = "x";', '');
    const fixed = (await nextCycle(mark)) as DevEvent & { phases: Phases };
    // After a failed build, cargo builds (it knows what the failure left undone).
    expect(fixed).toMatchObject({ event: 'reload', phases: { buildBy: 'cargo' } });
    expect((await get('/hello')).body).toBe('hello from api v5\n');
  });
});

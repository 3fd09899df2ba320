/**
 * loader/phases.ts and the report's text line (loader/report.ts): where a cycle's time
 * went, from the rustc wrapper's unit timings (written here in the wrapper's record
 * format) and the clock the supervisor keeps; no timing is asserted, only the arithmetic
 * and the shapes.
 */
import { describe, expect, it } from 'vitest';
import { buildPhases, CycleClock, epochNow, unionMs, type UnitTimingOf } from '../../loader/phases.js';
import { parseRecord } from '../../loader/units.js';
import { reportEvent, reportLine, type ReloadReport } from '../../loader/report.js';

const unit = (name: string, wrapperStart: number, rustcStart: number, rustcEnd: number, wrapperEnd: number, linkMs: number): UnitTimingOf => ({
  name,
  timing: { wrapperStart, rustcStart, rustcEnd, wrapperEnd, linkMs },
});

describe('unionMs', () => {
  it('adds disjoint intervals, counts overlaps once, ignores empty ones', () => {
    expect(unionMs([])).toBe(0);
    expect(unionMs([[0, 10], [20, 25]])).toBe(15);
    expect(unionMs([[0, 10], [5, 15], [12, 13]])).toBe(15);
    expect(unionMs([[30, 40], [0, 10], [9, 31]])).toBe(40);
    expect(unionMs([[5, 5], [7, 6]])).toBe(0);
  });
});

describe('the timing line of a unit record', () => {
  const base = 'crate\tapp_api\nrole\treloadable\ndir\t/w/api\nso\t/d/libapp_api-aa.so\nrlib\t/d/libapp_api-aa.rlib\nflags\tk\n';
  it('parses the five numbers the wrapper writes', () => {
    const rec = parseRecord('libapp_api-aa', `${base}timing\t1000.5\t1002.25\t1900\t1901\t310.125\n`);
    expect(rec?.timing).toEqual({ wrapperStart: 1000.5, rustcStart: 1002.25, rustcEnd: 1900, wrapperEnd: 1901, linkMs: 310.125 });
  });
  it('leaves it out when absent or malformed, and keeps the record', () => {
    expect(parseRecord('libapp_api-aa', base)?.timing).toBeUndefined();
    expect(parseRecord('libapp_api-aa', `${base}timing\t1\t2\t3\n`)?.timing).toBeUndefined();
    expect(parseRecord('libapp_api-aa', `${base}timing\t1\t2\tx\t4\t5\n`)?.crate).toBe('app_api');
  });
});

describe('buildPhases', () => {
  it('splits each rebuilt crate into rustc, link and wrapper time, in start order; the rest of cargo is its own', () => {
    // cargo ran 0..1000 (epoch 10 000 ..11 000): router after api, serially.
    const t = 10_000;
    const b = buildPhases(t, 1000, [
      unit('router', t + 600, t + 610, t + 900, t + 905, 100),
      unit('api', t + 100, t + 104, t + 500, t + 502, 50),
    ]);
    expect(b.crates).toEqual([
      { name: 'api', rustcMs: 346, linkMs: 50, wrapperMs: 6 },
      { name: 'router', rustcMs: 190, linkMs: 100, wrapperMs: 15 },
    ]);
    expect(b.rustcMs).toBe(396 + 290);
    expect(b.linkMs).toBe(150);
    expect(b.wrapperMs).toBe(21);
    expect(b.cargoOwnMs).toBe(1000 - 402 - 305);
  });

  it('counts crates built at once by their union, and ignores records of earlier builds', () => {
    const t = 50_000;
    const b = buildPhases(t, 500, [unit('a', t + 10, t + 10, t + 210, t + 210, 0), unit('b', t + 110, t + 110, t + 310, t + 310, 0), unit('old', t - 9000, t - 8990, t - 8000, t - 7990, 10)]);
    expect(b.crates!.map((c) => c.name)).toEqual(['a', 'b']);
    expect(b.rustcMs).toBe(300);
    expect(b.cargoOwnMs).toBe(200);
  });
});

describe('CycleClock', () => {
  it('without a change: no watch phases, and the sequential phases add up to the total', async () => {
    const clock = new CycleClock();
    await clock.time('prepareMs', () => new Promise((r) => setTimeout(r, 5)));
    clock.addBuild(epochNow(), 30, []);
    clock.add('hashMs', 2);
    clock.add('snapshotMs', 3);
    const p = clock.finish({ swap: { stopMs: 4, unloadMs: 1, loadMs: 6, totalMs: 13, ipcMs: 0.5 } });
    expect(p.watchMs).toBeUndefined();
    expect(p.noticedMs).toBeUndefined();
    expect(p.prepareMs).toBeGreaterThan(0);
    expect(p).toMatchObject({ cargoMs: 30, crates: [], hashMs: 2, snapshotMs: 3, stopMs: 4, unloadMs: 1, loadMs: 6, startMs: 2, ipcMs: 0.5 });
    const covered = p.prepareMs + p.cargoMs! + p.hashMs! + p.snapshotMs! + p.stopMs! + p.unloadMs! + p.loadMs! + p.startMs! + p.ipcMs!;
    expect(p.totalMs).toBeGreaterThanOrEqual(p.prepareMs);
    // `otherMs` is what no phase covers (never negative: here the made-up durations exceed the real time).
    expect(p.otherMs).toBeCloseTo(Math.max(0, p.totalMs - covered), 6);
    expect(p.overheadMs).toBeCloseTo(Math.max(0, p.totalMs - 13), 6);
  });

  it('with a change: watch latency from the mtime, debounce to the cycle start, noticed = both + prepare; total from the mtime', () => {
    const now = epochNow();
    const clock = new CycleClock({ file: '/w/api/src/lib.rs', at: now - 40, mtimeMs: now - 45 });
    clock.add('prepareMs', 2);
    const p = clock.finish({ restartMs: 100 });
    expect(p.watchMs).toBeCloseTo(5, 6);
    expect(p.debounceMs).toBeGreaterThanOrEqual(40);
    expect(p.noticedMs).toBeCloseTo(p.watchMs! + p.debounceMs! + 2, 6);
    expect(p.totalMs).toBeGreaterThanOrEqual(45);
    expect(p.restartMs).toBe(100);
    expect(p.stopMs).toBeUndefined();
    expect(p.crates).toBeUndefined();
  });

  it('an mtime later than the event (a clock quirk, or a second write) counts as no watch latency', () => {
    const now = epochNow();
    const p = new CycleClock({ file: 'f', at: now, mtimeMs: now + 50 }).finish();
    expect(p.watchMs).toBe(0);
  });
});

describe('the report line and event with phases', () => {
  const phases = new CycleClock({ file: 'f', at: epochNow() - 52 }).finish({ swap: { stopMs: 1, unloadMs: 1, loadMs: 30, totalMs: 41 } });
  phases.crates = [
    { name: 'api', rustcMs: 800, linkMs: 100, wrapperMs: 3 },
    { name: 'admin', rustcMs: 550, linkMs: 50, wrapperMs: 3 },
    { name: 'router', rustcMs: 1300, linkMs: 120, wrapperMs: 3 },
  ];
  const reload: ReloadReport = { kind: 'reload', generation: 2, modules: ['api', 'admin', 'router'], unloaded: ['router', 'admin', 'api'], swapMs: 41, buildMs: 3900, phases };

  it('stays one line: the crates rebuilt (rustc + link, s) and the change → build start', () => {
    expect(reportLine(reload)).toMatch(/^reloaded 3 modules \(api, admin, router\) in 41\.0 ms; build 3\.9 s \(api 0\.9, admin 0\.6, router 1\.4\); noticed \+5\d ms$/);
    expect(reportLine({ ...reload, phases: { ...phases, noticedMs: undefined, crates: [] } })).toBe('reloaded 3 modules (api, admin, router) in 41.0 ms; build 3.9 s');
    expect(reportLine({ ...reload, buildMs: undefined })).toBe('reloaded 3 modules (api, admin, router) in 41.0 ms');
    const many = Array.from({ length: 9 }, (_, i) => ({ name: `c${i}`, rustcMs: 100, linkMs: 0, wrapperMs: 0 }));
    expect(reportLine({ kind: 'restart', generation: 1, reason: 'Cargo.lock changed', modules: [], restartMs: 900, buildMs: 20_000, phases: { ...phases, noticedMs: undefined, crates: many } })).toBe(
      'restarted host (Cargo.lock changed) in 900 ms; build 20.0 s (c0 0.1, c1 0.1, c2 0.1, c3 0.1, c4 0.1, c5 0.1, 3 more)',
    );
  });

  it('puts every phase into the JSON event', () => {
    const ev = reportEvent(reload);
    expect(ev).toMatchObject({ event: 'reload', phases: { crates: phases.crates, noticedMs: phases.noticedMs, stopMs: 1, loadMs: 30, startMs: 9 } });
    expect(JSON.parse(JSON.stringify(ev)).phases.totalMs).toBeGreaterThan(0);
    expect(reportEvent({ kind: 'none', buildMs: 100, phases })).toMatchObject({ event: 'unchanged', phases: { totalMs: phases.totalMs } });
  });
});

/** Goals and charts from known measurements (the bench reports goals, it never fails on them). */
import { describe, expect, it } from 'vitest';
import { charts, editFigure, initFigures, swapFigures } from '../../bench/figures.js';
import type { HotWorkspace } from '../../bench/hotws.js';

const ten = (v: number) => Array.from({ length: 10 }, () => v);
const timings = { stopMs: 1, unloadMs: 0.5, loadMs: 0.5, totalMs: 3 };

describe('figures', () => {
  it('edit to serving: the api goal is one third of the restart', () => {
    const base = { linker: 'mold' as const, hotBuildMs: ten(500), hotSwapMs: ten(4), staticBuildMs: ten(800), hotTimings: [] };
    expect(editFigure({ ...base, layer: 'api', hotgen: ten(300), restart: ten(900) }).goal).toEqual({ text: '≤ 1/3 of restart', met: true });
    expect(editFigure({ ...base, layer: 'api', hotgen: ten(301), restart: ten(900) }).goal?.met).toBe(false);
    expect(editFigure({ ...base, layer: 'core', hotgen: ten(301), restart: ten(900) }).goal).toBeUndefined();
  });

  it('swap: within 3× of the floor, and under 100 ms at 100 crates', () => {
    const ws = (n: number) => ({ n, modules: Array.from({ length: n + 1 }, (_, i) => `m${i}`) }) as unknown as HotWorkspace;
    const m = (swap: number, floor: number) => ({ pos: 'bottom' as const, reloadSet: ['a', 'b'], swapMs: ten(swap), floorMs: ten(floor), hostTimings: ten(0).map(() => timings), floorStillMapped: 0 });
    expect(swapFigures(ws(50), m(30, 10))[0].goal?.met).toBe(true);
    expect(swapFigures(ws(50), m(31, 10))[0].goal?.met).toBe(false);
    expect(swapFigures(ws(100), m(120, 50))[0].goal).toEqual({ text: '≤ 3× floor (met), < 100 ms (missed)', met: false });
    expect(swapFigures(ws(100), m(90, 50))[0].params).toEqual({ modules: 101, reloadSet: 2 });
    // The host's unload+load step (0.5 + 0.5 ms) against a 0.4 ms floor: within 3×.
    const step = swapFigures(ws(50), m(31, 0.4))[1];
    expect(step).toMatchObject({ id: 'swap.50.bottom.unload+load', hotgen: { median: 1 }, goal: { met: true } });
    expect(swapFigures(ws(50), m(31, 0.3))[1].goal?.met).toBe(false);
    // The same swap with nothing reloaded goes in the note when it was measured.
    expect(swapFigures(ws(50), m(30, 10))[0].note).not.toContain('nothing reloaded');
    expect(swapFigures(ws(50), { ...m(30, 10), regenerateMs: ten(2.5) })[0].note).toContain('the same with nothing reloaded: 2.50 ms to first answer');
    expect(swapFigures(ws(50), { ...m(30, 10), channelMs: ten(1.5) })[0].note).toContain('channel floor (IPC round trip + loopback GET, bare Node child): 1.50 ms');
  });

  it('init at 100 crates is held against 2 s', () => {
    const f = initFigures({ n: 100, init: ten(1500), metadata: ten(100), excludingMetadata: ten(1400) });
    expect(f[0].goal).toEqual({ text: '< 2 s', met: true });
  });

  it('charts: edit bars and swap lines appear only when their rows exist', () => {
    expect(charts([])).toEqual({});
    const edit = editFigure({ linker: 'mold', layer: 'api', hotgen: ten(300), restart: ten(900), hotBuildMs: ten(1), hotSwapMs: ten(1), staticBuildMs: ten(1), hotTimings: [] });
    expect(Object.keys(charts([edit]))).toEqual(['edit-to-serving.svg']);
  });
});

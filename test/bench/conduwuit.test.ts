/**
 * The conduwuit benchmark's pieces that run without the example's builds: the socket
 * holder (a real listening socket kept across restarts of a real server process, passed
 * as LISTEN_FDS/LISTEN_PID), the one-line edit, and the rows and charts made from a
 * measure (goals, phase segments, the N chart).
 */
import { describe, expect, it } from 'vitest';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { buildSockhold, CONDUWUIT_LAYERS, editLayer, Holder, lastKey, waitCorrect } from '../../bench/conduwuit-setup.js';
import { conduwuitCharts, conduwuitFigures, hotBreakdown } from '../../bench/conduwuit-figures.js';
import type { ConduwuitMeasure, EditSeries, HotSample } from '../../bench/conduwuit.js';
import { freePort } from '../../bench/example.js';
import { httpGet } from '../../bench/host-driver.js';
import { tempDir } from '../helpers/tree.js';
import { missingTool, skipUnless } from '../helpers/tools.js';

/** A server speaking just enough of the example's API, on the inherited fd 3 only when LISTEN_PID is its own pid. */
const SERVER = `#!${process.execPath}
const http = require('node:http');
if (process.env.LISTEN_FDS !== '1' || process.env.LISTEN_PID !== String(process.pid)) { console.error('no socket for me'); process.exit(3); }
const started = Date.now();
const server = http.createServer((req, res) => {
  if (req.url === '/version') return res.end(JSON.stringify({ api: process.env.WANT_API, pid: process.pid }));
  if (req.url === '/kv/' + process.env.LAST_KEY) return res.end(JSON.stringify({ key: process.env.LAST_KEY }));
  res.statusCode = 404; res.end('no');
});
// Start-up takes a while, as the example's does: requests wait in the backlog meanwhile.
setTimeout(() => server.listen({ fd: 3 }), 300);
process.on('SIGTERM', () => server.close(() => process.exit(0)));
`;

describe.skipIf(skipUnless(missingTool('cc', ['--version'])))('the restart baseline\'s socket holder', () => {
  it('keeps the socket across restarts: a request made while no server runs is answered by the next one', async () => {
    await using dir = await tempDir('sockhold');
    const bin = await buildSockhold(path.join(dir.path, 'bin'));
    const server = path.join(dir.path, 'server.js');
    await writeFile(server, SERVER);
    await chmod(server, 0o755);
    const port = await freePort();
    await using holder = Holder.spawn(bin, port, server, { WANT_API: 'api v1', LAST_KEY: lastKey(150_000) });
    await holder.start();
    await waitCorrect(port, '"api":"api v1"', 150_000, { timeoutMs: 20_000 });
    const first = JSON.parse((await httpGet(port, '/version')).body).pid;
    await holder.stop();
    // Nobody accepts now; the connection waits in the kernel's backlog.
    const pending = httpGet(port, '/version', 20_000);
    await new Promise((r) => setTimeout(r, 200));
    await holder.start();
    const answer = await pending;
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body).pid).not.toBe(first);
    await holder.stop();
    holder.assertAlive();
  });
});

describe('the one-line edit', () => {
  it('bumps "<crate> vN" and says what /version shows; a file without the string is an error', async () => {
    await using dir = await tempDir('conduwuit-edit');
    const api = CONDUWUIT_LAYERS[0];
    await mkdir(path.join(dir.path, 'src/api/src'), { recursive: true });
    await writeFile(path.join(dir.path, api.file), 'pub fn version() -> &\'static str {\n    "api v1"\n}\n');
    expect(await editLayer(dir.path, api, 7)).toBe('"api":"api v7"');
    expect(await readFile(path.join(dir.path, api.file), 'utf8')).toContain('"api v7"');
    await expect(editLayer(dir.path, CONDUWUIT_LAYERS[1], 2)).rejects.toThrow();
    expect(lastKey(150_000)).toBe('k0149999');
    expect(lastKey(1000)).toBe('k0000999');
  });
});

describe('conduwuit rows and charts', () => {
  const phases = (rustc: number, link: number, overhead: number) => ({
    watchMs: 2, debounceMs: 10, prepareMs: 1, cargoMs: rustc + 40, rustcMs: rustc, linkMs: link, wrapperMs: 5, cargoOwnMs: 35,
    unitsMs: 4, hashMs: 3, snapshotMs: 5, stopMs: 2, unloadMs: 1, loadMs: 4, startMs: 1, ipcMs: 2, otherMs: 1, totalMs: rustc + 90, overheadMs: overhead,
  });
  const hot = (ms: number, overhead = 80): HotSample => ({ ms, buildMs: ms - 100, phases: { ...phases(ms - 150, 300, overhead), crates: [] } });
  const series = (layer: EditSeries['layer'], rows: number, hotMs: number[], restartMs: number[]): EditSeries => ({
    layer,
    rows,
    hotgen: hotMs.map((x) => hot(x)),
    restart: restartMs.map((x) => ({ ms: x, buildMs: x - 1800, restartMs: 1800 })),
  });
  const m: ConduwuitMeasure = {
    config: { runs: 3, rows: [150_000, 1000], availability: 20, cargoBuild: true, dependents: true },
    edits: [
      series('api', 150_000, [2000, 2100, 2200], [7000, 7100, 7200]),
      series('service', 150_000, [2600, 2700, 2800], [7000, 7100, 7200]),
      series('database', 150_000, [3500, 3600, 3700], [3000, 3100, 3200]),
      series('api', 1000, [2000, 2000, 2000], [5000, 5000, 5000]),
      { ...series('api', 150_000, [2500, 2600, 2700], [7000, 7100, 7200]), build: 'cargo' },
      { ...series('api', 150_000, [2400, 2450, 2500], [7000, 7100, 7200]), build: 'dependents' },
    ],
    availability: { rows: 150_000, reloads: 20, hotgen: { ok: 900, failed: 0, refused: 0, worstMs: 40, examples: [] }, restart: { ok: 500, failed: 0, refused: 0, worstMs: 1900, examples: [] } },
    load: {},
    notes: [],
  };

  it('edit rows per crate with their goals, overhead rows, rows against N, availability', () => {
    const f = conduwuitFigures(m);
    const byId = (id: string) => f.find((x) => x.id === id)!;
    expect(f.map((x) => x.id)).toEqual([
      'conduwuit.edit.api', 'conduwuit.edit.service', 'conduwuit.edit.database',
      'conduwuit.edit.api.dependents', 'conduwuit.edit.api.cargo',
      'conduwuit.overhead.api', 'conduwuit.overhead.service', 'conduwuit.overhead.database', 'conduwuit.overhead.api.cargo', 'conduwuit.overhead.api.dependents',
      'conduwuit.rows.1000', 'conduwuit.rows.150000', 'conduwuit.availability',
    ]);
    // The edit by cargo is compared, not judged: no goal; nor is its overhead, and it is not a point against N.
    expect(byId('conduwuit.edit.api.cargo')).toMatchObject({ hotgen: { median: 2600 }, baseline: { median: 7100 } });
    expect(byId('conduwuit.edit.api.cargo').goal).toBeUndefined();
    expect(byId('conduwuit.overhead.api.cargo').goal).toBeUndefined();
    expect(byId('conduwuit.edit.api.dependents')).toMatchObject({ hotgen: { median: 2450 }, label: expect.stringContaining('HOTGEN_RELINK=0') });
    expect(byId('conduwuit.edit.api.dependents').goal).toBeUndefined();
    expect(byId('conduwuit.rows.150000').hotgen.median).toBe(2100);

    // api 2100 ≤ 7100 / 3 = 2367: met; service 2700 > 2367: missed; database 3600 ≥ 3100: missed.
    expect(byId('conduwuit.edit.api')!.goal).toEqual({ text: '≤ 1/3 of restart', met: true });
    expect(byId('conduwuit.edit.service')!.goal?.met).toBe(false);
    expect(byId('conduwuit.edit.database')!.goal).toEqual({ text: '< restart', met: false });
    expect(byId('conduwuit.edit.api')!.params).toMatchObject({ rows: 150_000, 'hot:link': 300, 'restart:restart to first correct answer': 1800 });
    expect(byId('conduwuit.overhead.api')).toMatchObject({ unit: 'ms', hotgen: { median: 80 }, goal: { text: '< 100 ms', met: true } });
    expect(byId('conduwuit.rows.1000')!.params).toMatchObject({ rows: 1000, restartOnly: 1800 });
    expect(byId('conduwuit.availability')).toMatchObject({ unit: 'count', hotgen: { median: 0 }, goal: { met: true } });
    // The segments and the time to the first answer add up to the edit-to-serving time.
    const b = hotBreakdown(m.edits[0].hotgen[1]);
    expect(Object.values(b).reduce((x, y) => x + y, 0)).toBeCloseTo(2100, 6);
  });

  it('three charts, drawn from the rows alone', () => {
    const c = conduwuitCharts(conduwuitFigures(m));
    expect(Object.keys(c).sort()).toEqual(['conduwuit-edit.svg', 'conduwuit-phases.svg', 'conduwuit-vs-rows.svg']);
    expect(c['conduwuit-phases.svg']).toContain('hotgen, api');
    expect(c['conduwuit-phases.svg']).toContain('restart, database');
    expect(c['conduwuit-phases.svg']).toContain('hotgen, api, by cargo');
    expect(c['conduwuit-phases.svg']).toContain('hotgen, api, dependents too');
    expect(c['conduwuit-phases.svg']).toContain('to first correct answer');
    expect(c['conduwuit-vs-rows.svg']).toContain('restart alone');
    expect(conduwuitCharts([])).toEqual({});
  });
});

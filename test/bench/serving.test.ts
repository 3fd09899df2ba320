/**
 * Edit to serving on the example: when the clock stops, the edit really is live (the
 * answer that stopped it contains the new string, and so does an independent request
 * afterwards), under `hotgen dev` (api: a reload of api and router; core: a host
 * restart) and for the restart baseline. Real cargo, dlopen and HTTP on 127.0.0.1.
 */
import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { LAYERS, editLayer, pollFor } from '../../bench/example.js';
import { ServingPair, startLoad } from '../../bench/serving.js';
import { httpGet } from '../../bench/host-driver.js';
import { tempDir } from '../helpers/tree.js';
import { skipUnless, tools } from '../helpers/tools.js';

const repo = path.resolve(import.meta.dirname, '../..');
const ready = existsSync(path.join(repo, 'loader/supervisor.ts')) && existsSync(path.join(repo, 'examples/server/router/src/lib.rs'));

describe.skipIf(skipUnless(tools.nightly()) || !ready)('edit-to-serving benchmark on the example', () => {
  it('stops the clock only on an answer with the edit, for hotgen dev and for the restart baseline', async () => {
    await using dir = await tempDir('bench-serving');
    process.env.HOTGEN_TOOLCHAIN ||= 'nightly';
    await using pair = await ServingPair.start(dir.path, tools.mold() ? 'default' : 'mold');
    const [api, , , core] = LAYERS;

    const load = startLoad(pair.hotPort, 1, 20);
    const hot = await pair.hotEdit(api);
    expect(hot.want).toBe('api v2');
    expect(hot.body).toContain('api v2');
    expect(hot.event).toMatchObject({ event: 'reload', modules: ['app_api', 'app_router'] });
    expect((await httpGet(pair.hotPort, '/version')).body).toContain('api v2');
    const seen = await load.end();
    // Every request sent while api and router were swapped was answered.
    expect({ failed: seen.failed, refused: seen.refused, examples: seen.examples }).toEqual({ failed: 0, refused: 0, examples: [] });
    expect(seen.ok).toBeGreaterThanOrEqual(1);
    // What the floor maps: the hot build's own files, named by cargo's hash.
    const files = await pair.hotModuleFiles();
    expect([...files.keys()]).toEqual(['app_core', 'app_database', 'app_service', 'app_api', 'app_router']);
    for (const [name, file] of files) expect(path.relative(pair.hotRoot, file)).toMatch(new RegExp(`^target/hotgen/hot/deps/lib${name}-[0-9a-f]{16}\\.so$`));

    const cold = await pair.staticEdit(api);
    expect(cold.want).toBe('api v3');
    expect(cold.body).toContain('api v3');
    expect((await httpGet(pair.staticPort, '/version')).body).toContain('api v3');
    expect(cold.ms).toBeGreaterThan(cold.buildMs);

    const restart = await pair.hotEdit(core);
    expect(restart.body).toContain('core v4');
    expect(restart.event).toMatchObject({ event: 'restart' });
    expect((await httpGet(pair.hotPort, '/version')).body).toContain('core v4');
  });

  it('pollFor waits for the string and fails with the last answer when it never comes', async () => {
    await using dir = await tempDir('bench-poll');
    await expect(pollFor(1, '/x', 'y', 300)).rejects.toThrow(/never showed "y".*last: .*ECONNREFUSED/);
    // No workspace there: the edit names the source file it could not read.
    await expect(editLayer(dir.path, LAYERS[0], 2)).rejects.toMatchObject({ code: 'ENOENT', path: expect.stringContaining(dir.path) });
  });
});

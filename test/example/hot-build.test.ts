/**
 * The example under the hot setup that `hotgen init` automates (applied here by hand,
 * see helpers.applyHotSetup): every library crate becomes lib<name>.so, the frozen
 * crate carries NODELETE, the entry exports the ABI, and plain builds are unaffected.
 */
import path from 'node:path';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { run } from '../../common/exec.js';
import { tempDir } from '../helpers/tree.js';
import { skipUnless, tools } from '../helpers/tools.js';
import { EXAMPLE_LIBS, copyExample } from './helpers.js';
import { applyHotSetup } from './hot.js';

describe.skipIf(skipUnless(tools.nightly(), tools.mold(), tools.readelf()))('example server, hot profile', () => {
  it('builds every library as a dylib with the entry ABI and a nodelete core', async () => {
    await using ws = await tempDir('example-hot');
    await copyExample(ws.path);
    await applyHotSetup(ws.path);
    await run('cargo', ['+nightly', 'build', '--locked', '--profile', 'hot'], { cwd: ws.path });

    const out = path.join(ws.path, 'target', 'hot');
    const lib = (name: string) => path.join(out, `lib${name}.so`);
    for (const name of EXAMPLE_LIBS) expect(existsSync(lib(name)), `lib${name}.so`).toBe(true);

    const exported = (await run('nm', ['-D', '--defined-only', lib('app_router')])).stdout;
    expect(exported).toMatch(/ T hotgen_main$/m);
    expect(exported).toMatch(/ T hotgen_abi_version$/m);
    for (const name of EXAMPLE_LIBS.filter((n) => n !== 'app_router')) {
      expect((await run('nm', ['-D', '--defined-only', lib(name)])).stdout).not.toMatch(/hotgen_main/);
    }

    const dynamic = async (name: string) => (await run('readelf', ['-d', lib(name)])).stdout;
    const needed = (text: string) => [...text.matchAll(/\(NEEDED\).*\[lib(app_\w+)\.so\]/g)].map((m) => m[1]).sort();
    expect(await dynamic('app_core')).toMatch(/FLAGS_1.*NODELETE/);
    for (const name of EXAMPLE_LIBS.filter((n) => n !== 'app_core')) {
      expect(await dynamic(name), name).not.toMatch(/NODELETE/);
    }
    // The crate DAG shows up as NEEDED edges: what a loader orders by.
    expect(needed(await dynamic('app_database'))).toEqual(['app_core']);
    expect(needed(await dynamic('app_service'))).toEqual(['app_core', 'app_database']);
    expect(needed(await dynamic('app_router'))).toEqual(['app_api', 'app_core', 'app_database', 'app_service']);
    expect((await run('readelf', ['-p', '.comment', lib('app_api')])).stdout).toMatch(/mold/);
  });
});

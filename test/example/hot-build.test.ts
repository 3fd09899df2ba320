/**
 * The example after `hotgen init` (which edits none of its files) and the hot build
 * `hotgen dev` runs: every library crate becomes `lib<crate>-<hash>.so` with that name
 * as its SONAME, the frozen crate carries NODELETE, the entry exports the ABI, and the
 * crate DAG shows up as DT_NEEDED edges.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { run } from '../../common/exec.js';
import { hashTree, tempDir } from '../helpers/tree.js';
import { skipUnless, tools } from '../helpers/tools.js';
import { EXAMPLE_LIBS, copyExample } from './helpers.js';
import { applyHotSetup, buildHot } from './hot.js';

describe.skipIf(skipUnless(tools.nightly(), tools.mold(), tools.readelf()))('example server, hot build', () => {
  it('builds every library as a dylib with the entry ABI and a nodelete core, editing no file of the example', async () => {
    await using ws = await tempDir('example-hot');
    await copyExample(ws.path);
    const before = await hashTree(ws.path);
    const ex = await applyHotSetup(ws.path);
    const built = await buildHot(ex);
    const after = await hashTree(ws.path);
    for (const [file, sha] of Object.entries(before)) expect(after[file], file).toBe(sha);

    expect(built.rebuilt).toEqual([...EXAMPLE_LIBS].sort());
    expect(built.registry).toEqual([]);
    expect(built.modules.map((m) => m.name)).toEqual([...EXAMPLE_LIBS]);
    const lib = built.lib;
    for (const name of EXAMPLE_LIBS) {
      expect(path.dirname(lib(name))).toBe(ex.hot.depsDir);
      expect(path.basename(lib(name))).toMatch(new RegExp(`^lib${name}-[0-9a-f]{16}\\.so$`));
    }

    const exported = (await run('nm', ['-D', '--defined-only', lib('app_router')])).stdout;
    expect(exported).toMatch(/ T hotgen_main$/m);
    expect(exported).toMatch(/ T hotgen_abi_version$/m);
    for (const name of EXAMPLE_LIBS.filter((n) => n !== 'app_router')) {
      expect((await run('nm', ['-D', '--defined-only', lib(name)])).stdout).not.toMatch(/hotgen_main/);
    }

    const dynamic = async (name: string) => (await run('readelf', ['-d', lib(name)])).stdout;
    const needed = (text: string) => [...text.matchAll(/\(NEEDED\).*\[lib(app_\w+)-[0-9a-f]{16}\.so\]/g)].map((m) => m[1]).sort();
    for (const name of EXAMPLE_LIBS) expect(/\(SONAME\)\s+Library soname: \[([^\]]+)\]/.exec(await dynamic(name))?.[1]).toBe(path.basename(lib(name)));
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

/**
 * loader/units.ts: the rustc wrapper's unit records (written here into a temp dir in the
 * wrapper's format) and the module graph built from them; which output names a cargo
 * artifact's unit.
 */
import { describe, expect, it } from 'vitest';
import { mkdir, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { HotPlan } from '../../common/types.js';
import type { CargoArtifact } from '../../loader/build.js';
import { artifactStem, entryRecord, moduleGraph, parseRecord, readUnits, type UnitRecord } from '../../loader/units.js';
import { tempDir } from '../helpers/tree.js';

/** The text the wrapper writes for one dylib (loader/wrapper/hotgen_rustc.rs `build_dylib`). */
function recordText(r: { crate: string; role: string; dir: string; so: string; rlib?: string; flags?: string; deps?: string[] }): string {
  const rlib = r.rlib ?? r.so.replace(/\.so$/, '.rlib');
  return `crate\t${r.crate}\nrole\t${r.role}\ndir\t${r.dir}\nso\t${r.so}\nrlib\t${rlib}\nflags\t${r.flags ?? 'k1'}\n${(r.deps ?? []).map((d) => `dep\t${d}\n`).join('')}`;
}

// A plan whose package names differ from their library names (`app-api` → `app_api`).
const plan: HotPlan = {
  version: 1,
  profile: 'hot',
  channel: 'nightly',
  toolchain: 'nightly',
  linker: 'default',
  entry: 'app-router',
  listen: [],
  stopTimeoutMs: 5000,
  crates: [
    { name: 'app-core', role: 'frozen', lib: 'app_core', deps: [], src: ['core/src'] },
    { name: 'app-service', role: 'reloadable', lib: 'app_service', deps: ['app-core'], src: ['service/src'] },
    { name: 'app-api', role: 'reloadable', lib: 'app_api', deps: ['app-core'], src: ['api/src'] },
    { name: 'app-router', role: 'entry', lib: 'app_router', deps: ['app-api', 'app-service'], src: ['router/src'] },
  ],
};

const DEPS = '/w/target/hotgen/hot/deps';
const so = (stem: string) => `${DEPS}/${stem}.so`;

describe('parseRecord', () => {
  it('reads every field and the dependencies in order', () => {
    const text = recordText({ crate: 'app_api', role: 'reloadable', dir: '/w/api', so: so('libapp_api-aa'), flags: 'f00d', deps: [so('libapp_core-cc'), so('libitoa-11')] });
    expect(parseRecord('libapp_api-aa', text)).toEqual({
      stem: 'libapp_api-aa',
      crate: 'app_api',
      role: 'reloadable',
      dir: '/w/api',
      so: so('libapp_api-aa'),
      rlib: `${DEPS}/libapp_api-aa.rlib`,
      flags: 'f00d',
      deps: [so('libapp_core-cc'), so('libitoa-11')],
    });
  });

  it('accepts every module role, and a record without flags (an older wrapper) as flags ""', () => {
    for (const role of ['entry', 'reloadable', 'frozen', 'registry']) {
      expect(parseRecord('libx-1', recordText({ crate: 'x', role, dir: '/d', so: so('libx-1') }))?.role).toBe(role);
    }
    const noFlags = recordText({ crate: 'x', role: 'registry', dir: '/d', so: so('libx-1') }).replace(/^flags\t.*\n/m, '');
    expect(parseRecord('libx-1', noFlags)?.flags).toBe('');
  });

  it('rejects an incomplete record, an unknown role, and text that is not a record', () => {
    const full = recordText({ crate: 'x', role: 'reloadable', dir: '/d', so: so('libx-1') });
    for (const key of ['crate', 'role', 'dir', 'so', 'rlib']) {
      expect(parseRecord('libx-1', full.replace(new RegExp(`^${key}\\t.*\\n`, 'm'), '')), `without ${key}`).toBeUndefined();
    }
    expect(parseRecord('libx-1', full.replace('role\treloadable', 'role\texcluded'))).toBeUndefined();
    expect(parseRecord('libx-1', '')).toBeUndefined();
    expect(parseRecord('libx-1', 'not a record\n')).toBeUndefined();
  });
});

describe('readUnits', () => {
  it('reads the complete records of a directory by stem, skipping the wrapper temp files and broken ones', async () => {
    await using dir = await tempDir('units-read');
    await writeFile(path.join(dir.path, 'libapp_core-cc'), recordText({ crate: 'app_core', role: 'frozen', dir: '/w/core', so: so('libapp_core-cc') }));
    await writeFile(path.join(dir.path, 'libmemchr-11'), recordText({ crate: 'memchr', role: 'registry', dir: '/reg/memchr', so: so('libmemchr-11') }));
    // The wrapper writes `.<stem>.<pid>` and renames it: a half-written record is never read.
    await writeFile(path.join(dir.path, '.libapp_api-aa.4242'), recordText({ crate: 'app_api', role: 'reloadable', dir: '/w/api', so: so('libapp_api-aa') }));
    await writeFile(path.join(dir.path, 'libtruncated-22'), 'crate\ttruncated\nrole\treloadable\n');
    const units = await readUnits(dir.path);
    expect([...units.keys()].sort()).toEqual(['libapp_core-cc', 'libmemchr-11']);
    expect(units.get('libmemchr-11')).toMatchObject({ stem: 'libmemchr-11', crate: 'memchr', role: 'registry' });
  });

  it('is empty for a directory that does not exist (no hot build yet)', async () => {
    await using dir = await tempDir('units-none');
    expect((await readUnits(path.join(dir.path, 'hotgen-units'))).size).toBe(0);
  });
});

describe('moduleGraph', () => {
  /** Records of a router over api and service over a frozen core, with two registry dylibs; plus one record nothing reaches. */
  function records(extra: Partial<Record<string, string[]>> = {}): Map<string, UnitRecord> {
    const defs: [stem: string, crate: string, role: string, deps: string[]][] = [
      ['libapp_router-rr', 'app_router', 'entry', extra.router ?? [so('libapp_api-aa'), so('libapp_service-ss'), so('libapp_core-cc')]],
      ['libapp_api-aa', 'app_api', 'reloadable', [so('libapp_core-cc'), so('libitoa-11')]],
      ['libapp_service-ss', 'app_service', 'reloadable', [so('libapp_core-cc')]],
      ['libapp_core-cc', 'app_core', 'frozen', [so('libmemchr-22')]],
      ['libitoa-11', 'itoa', 'registry', []],
      ['libmemchr-22', 'memchr', 'registry', []],
      // A stale build of api with another hash (e.g. other features): not reachable from the entry.
      ['libapp_api-00', 'app_api', 'reloadable', []],
    ];
    const out = new Map<string, UnitRecord>();
    for (const [stem, crate, role, deps] of defs) out.set(stem, parseRecord(stem, recordText({ crate, role, dir: `/w/${crate}`, so: so(stem), deps }))!);
    return out;
  }

  it('lists what the entry reaches in topological order, workspace modules by package name, registry ones by file stem', () => {
    const units = records();
    const { modules, missing } = moduleGraph(units, units.get('libapp_router-rr')!, plan);
    expect(missing).toEqual([]);
    expect(modules.map((m) => m.name)).toEqual(['memchr-22', 'app-core', 'itoa-11', 'app-api', 'app-service', 'app-router']);
    const pos = new Map(modules.map((m, i) => [m.name, i]));
    for (const m of modules) for (const d of m.deps) expect(pos.get(d)!, `${d} before ${m.name}`).toBeLessThan(pos.get(m.name)!);
    expect(modules.find((m) => m.name === 'app-api')).toEqual({ name: 'app-api', role: 'reloadable', source: so('libapp_api-aa'), deps: ['app-core', 'itoa-11'] });
    expect(modules.find((m) => m.name === 'memchr-22')).toEqual({ name: 'memchr-22', role: 'registry', source: so('libmemchr-22'), deps: [] });
    expect(modules.at(-1)).toMatchObject({ role: 'entry', deps: ['app-api', 'app-service', 'app-core'] });
    expect(modules.filter((m) => m.source === so('libapp_api-00'))).toEqual([]);
  });

  it('names a dependency that has no record, and still orders the rest', () => {
    const units = records({ router: [so('libapp_api-aa'), so('libgone-99')] });
    const { modules, missing } = moduleGraph(units, units.get('libapp_router-rr')!, plan);
    expect(missing).toEqual([so('libgone-99')]);
    expect(modules.map((m) => m.name)).toEqual(['memchr-22', 'app-core', 'itoa-11', 'app-api', 'app-router']);
    expect(modules.at(-1)?.deps).toEqual(['app-api']);
  });

  it('falls back to the crate name for a library the plan does not know', () => {
    const units = records();
    const { modules } = moduleGraph(units, units.get('libapp_router-rr')!, { ...plan, crates: plan.crates.filter((c) => c.name !== 'app-service') });
    expect(modules.map((m) => m.name)).toContain('app_service');
  });
});

describe('artifactStem', () => {
  const art = (filenames: string[], kinds = ['lib']): CargoArtifact => ({ packageId: 'p', manifestPath: '/w/x/Cargo.toml', targetName: 'x', kinds, filenames, fresh: false });

  it('prefers the deps/ file: a root unit lists the uplifted <profile>/libx.rlib first and only the .rmeta in deps/', () => {
    expect(artifactStem(art(['/w/target/hotgen/hot/libx.rlib', '/w/target/hotgen/hot/deps/libx-0f1e2d3c4b5a6978.rmeta']))).toBe('libx-0f1e2d3c4b5a6978');
  });

  it('takes the stem of a dependency unit (rlib and rmeta in deps/) and ignores other outputs', () => {
    expect(artifactStem(art(['/w/target/hotgen/hot/deps/libx-aa.so', '/w/target/hotgen/hot/deps/libx-aa.rlib', '/w/target/hotgen/hot/deps/libx-aa.rmeta']))).toBe('libx-aa');
    expect(artifactStem(art(['/w/target/hotgen/hot/libx.rlib']))).toBe('libx');
  });

  it('is undefined for an artifact without a library output (a binary, a build script)', () => {
    expect(artifactStem(art(['/w/target/hotgen/hot/app'], ['bin']))).toBeUndefined();
    expect(artifactStem(art([], ['custom-build']))).toBeUndefined();
  });
});

describe('entryRecord', () => {
  it("takes the record this build's artifacts name, else the entry record whose .so is newest", async () => {
    await using dir = await tempDir('units-entry');
    const deps = path.join(dir.path, 'deps');
    await mkdir(deps);
    const units = new Map<string, UnitRecord>();
    for (const [stem, crate, role] of [
      ['libapp_router-old', 'app_router', 'entry'],
      ['libapp_router-new', 'app_router', 'entry'],
      ['libapp_api-aa', 'app_api', 'reloadable'],
      ['libother_entry-ee', 'other_entry', 'entry'],
    ] as const) {
      const file = path.join(deps, `${stem}.so`);
      await writeFile(file, stem);
      units.set(stem, parseRecord(stem, recordText({ crate, role, dir: '/w', so: file }))!);
    }
    // The api is the newest file of all; only entry records of the plan's entry count.
    await utimes(path.join(deps, 'libapp_router-old.so'), 1000, 1000);
    await utimes(path.join(deps, 'libapp_router-new.so'), 2000, 2000);
    await utimes(path.join(deps, 'libapp_api-aa.so'), 3000, 3000);
    await utimes(path.join(deps, 'libother_entry-ee.so'), 3000, 3000);
    expect((await entryRecord(units, plan))?.stem).toBe('libapp_router-new');
    const built: CargoArtifact = { packageId: 'r', manifestPath: '/w/router/Cargo.toml', targetName: 'app_router', kinds: ['lib'], filenames: [path.join(dir.path, 'libapp_router.rlib'), path.join(deps, 'libapp_router-old.rmeta')], fresh: true };
    expect((await entryRecord(units, plan, [built]))?.stem).toBe('libapp_router-old');
    expect(await entryRecord(new Map([...units].filter(([k]) => !k.startsWith('libapp_router'))), plan)).toBeUndefined();
  });
});

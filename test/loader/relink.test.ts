import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { decideRelink, macroNames, nextStale, relinkFlags, SourceBaseline, readSource, type RelinkInput } from '../../loader/relink.js';
import { tempDir } from '../helpers/tree.js';

// core <- db <- svc <- api <- router, and admin on api.
const graph = [
  { name: 'core', deps: [] },
  { name: 'db', deps: ['core'] },
  { name: 'svc', deps: ['core', 'db'] },
  { name: 'api', deps: ['svc', 'db'] },
  { name: 'admin', deps: ['api'] },
  { name: 'router', deps: ['api', 'admin', 'svc'] },
];
const SRC = 'pub fn version() -> &\'static str {\n    "v1"\n}\n\npub const LIMIT: u32 = 1;\n';
const DEV = ['--crate-name', 'x', '-C', 'debuginfo=2', '-C', 'incremental=/t/incremental'];

describe('decideRelink', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  const file = (m: string) => path.join(dir.path, `${m}.rs`);
  let baseline: SourceBaseline;
  beforeEach(async () => {
    dir = await tempDir('relink');
    for (const m of graph) writeFileSync(file(m.name), SRC);
    baseline = new SourceBaseline();
    await baseline.capture(graph.map((m) => file(m.name)), Date.now() + 1000);
  });
  afterEach(() => dir[Symbol.asyncDispose]());

  const input = (edited: string[], over: Partial<RelinkInput> = {}): RelinkInput => ({
    modules: graph,
    dirty: new Set(edited),
    files: new Map(edited.map((m) => [m, [file(m)]])),
    args: new Map(graph.map((m) => [m.name, DEV])),
    baseline,
    stale: new Set(),
    root: dir.path,
    ...over,
  });

  it('a body edit compiles the crate alone; the dependents are skipped (run only should the file move)', () => {
    writeFileSync(file('db'), SRC.replace('"v1"', '"v2"'));
    const d = decideRelink(input(['db']));
    expect(d).toMatchObject({ rebuild: ['db'], skipped: ['svc', 'api', 'admin', 'router'] });
    expect(d.why.get('db')).toBe('');
    expect(d.reads.get(file('db'))?.text).toContain('"v2"');
    expect(nextStale(graph, new Set(), new Set(d.rebuild))).toEqual(new Set(['svc', 'api', 'admin', 'router']));
  });

  it('an edit outside a function body compiles everything above it', () => {
    writeFileSync(file('svc'), SRC.replace('LIMIT: u32 = 1', 'LIMIT: u32 = 2'));
    const d = decideRelink(input(['svc']));
    expect(d).toMatchObject({ rebuild: ['svc', 'api', 'admin', 'router'], skipped: [] });
    expect(d.why.get('svc')).toMatch(/^svc\.rs: the change at line 5 is outside any function body/);
  });

  it('stale crates below anything compiled are compiled first, and so are those left stale by this build', () => {
    writeFileSync(file('api'), SRC.replace('"v1"', '"v2"'));
    // svc was built against an older db: compiling api loads it.
    expect(decideRelink(input(['api'], { stale: new Set(['svc', 'admin', 'router']) })).rebuild).toEqual(['svc', 'api']);
    // db and router edited together: router loads admin and api, built against the old db.
    writeFileSync(file('db'), SRC.replace('"v1"', '"v2"'));
    writeFileSync(file('router'), SRC.replace('"v1"', '"v2"'));
    const d = decideRelink(input(['db', 'router']));
    expect(d.rebuild).toEqual(['db', 'svc', 'api', 'admin', 'router']);
    expect(nextStale(graph, new Set(['admin']), new Set(['db']))).toEqual(new Set(['admin', 'svc', 'api', 'router']));
  });

  it('no text to compare with, or flags that let rustc inline across crates: the dependents are compiled', async () => {
    writeFileSync(file('db'), SRC.replace('"v1"', '"v2"'));
    expect(decideRelink(input(['db'], { baseline: new SourceBaseline() }))).toMatchObject({ rebuild: ['db', 'svc', 'api', 'admin', 'router'], why: new Map([['db', 'db.rs: no copy of the text its dylib was compiled from']]) });
    const o3 = new Map(graph.map((m) => [m.name, ['-C', 'opt-level=3']]));
    expect(decideRelink(input(['db'], { args: o3 })).why.get('db')).toMatch(/opt-level 3 and no incremental/);
    expect(relinkFlags(['-C', 'opt-level=3', '-C', 'incremental=/x'])).toBeUndefined();
    expect(relinkFlags(['-Copt-level=1'])).toMatch(/opt-level 1/);
    expect(relinkFlags(['-Z', 'inline-mir'])).toMatch(/-Zinline-mir/);
    expect(relinkFlags(DEV)).toBeUndefined();
    // An allowed macro, then a macro of the crate's own that shadows it.
    writeFileSync(file('db'), SRC.replace('"v1"', 'info!("x"); "v1"'));
    expect(decideRelink(input(['db'])).why.get('db')).toBe('');
    writeFileSync(file('core'), 'macro_rules! info { ($e:expr) => { pub fn shadow() {} } }');
    writeFileSync(file('svc'), SRC.replace('"v1"', 'info!("x"); "v1"'));
    baseline = new SourceBaseline();
    await baseline.capture([file('svc'), file('core')], Date.now() + 1000);
    writeFileSync(file('svc'), SRC.replace('"v1"', 'info!("y"); "v1"'));
    expect(baseline.macros()).toEqual(new Set(['info']));
    expect(decideRelink(input(['svc'])).why.get('svc')).toMatch(/inside info!/);
    // A file that is include!d: its text lands in whatever item includes it.
    writeFileSync(file('core'), 'impl<T> W<T> { include!("db.rs"); }');
    await baseline.capture([file('db'), file('core')], Date.now() + 1000);
    writeFileSync(file('db'), SRC.replace('"v1"', '"v2"'));
    expect(decideRelink(input(['db'])).why.get('db')).toMatch(/^db\.rs: not a module file/);
    expect(relinkFlags(['-C', 'lto=thin'])).toMatch(/-Clto=thin/);
    expect(relinkFlags(['-C', 'lto=off'])).toBeUndefined();
    expect(macroNames(['macro_rules! a { } macro_rules!b{}'])).toEqual(new Set(['a', 'b']));
  });
});

describe('SourceBaseline', () => {
  it('keeps the text a build compiled: not a file modified since the build started, nor one that moved during it', async () => {
    await using dir = await tempDir('baseline');
    const a = path.join(dir.path, 'a.rs');
    const b = path.join(dir.path, 'b.rs');
    writeFileSync(a, 'fn a() {}');
    writeFileSync(b, 'fn b() {}');
    const t = Date.now();
    utimesSync(a, new Date(t - 5000), new Date(t - 5000));
    const base = new SourceBaseline();
    await base.capture([a, b], t - 1000);
    expect(base.get(a)).toBe('fn a() {}');
    expect(base.get(b)).toBeUndefined();

    const read = readSource(a)!;
    expect(base.settle(new Map([[a, read]]))).toEqual([]);
    writeFileSync(b, 'fn b() { 1; }');
    const rb = readSource(b)!;
    writeFileSync(b, 'fn b() { 2; }');
    expect(base.settle(new Map([[b, rb]]))).toEqual([b]);
    expect(base.get(b)).toBeUndefined();
  });
});

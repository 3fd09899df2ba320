/** Roles, entry selection, settings precedence and hotgen.yaml round trips (no cargo needed). */
import { describe, expect, it } from 'vitest';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../../common/errors.js';
import type { CrateNode, WorkspaceGraph } from '../../common/types.js';
import { readPin, readPlan, readSettings, type PlanSettings } from '../../common/plan-read.js';
import { autoEntry, buildPlan, DEFAULT_NIGHTLY, resolveSettings } from '../../generator/plan.js';
import { renderPlanYaml } from '../../generator/plan-file.js';
import { TOOLCHAIN_FILE } from '../../common/layout.js';
import { topoOrder } from '../../generator/workspace.js';
import { tempDir } from '../helpers/tree.js';

type Spec = { deps?: string[]; bin?: boolean; noLib?: boolean; proc?: boolean; build?: string[] };

/** A graph from a compact description (what loadWorkspace would return). */
export function graphOf(specs: Record<string, Spec>): WorkspaceGraph {
  const crates = new Map<string, CrateNode>();
  for (const [name, s] of Object.entries(specs)) {
    crates.set(name, {
      name,
      libName: s.noLib ? undefined : name.replace(/-/g, '_'),
      manifestPath: `/ws/${name}/Cargo.toml`,
      kinds: [...(s.noLib ? [] : [s.proc ? 'proc-macro' : 'lib']), ...(s.bin ? ['bin'] : [])],
      bins: s.bin ? [name] : [],
      procMacro: !!s.proc,
      deps: [...(s.deps ?? []), ...(s.build ?? [])].sort(),
      ...(s.build ? { buildDeps: s.build } : {}),
      srcDirs: [`/ws/${name}/src`],
    });
  }
  return { root: '/ws', rootManifest: '/ws/Cargo.toml', virtual: true, targetDir: '/ws/target', crates, order: topoOrder(crates) };
}

const conduwuit = () =>
  graphOf({
    macros: { proc: true },
    core: { deps: ['macros'] },
    database: { deps: ['core'] },
    service: { deps: ['core', 'database'] },
    api: { deps: ['core', 'database', 'service'] },
    admin: { deps: ['api', 'core', 'database', 'macros', 'service'] },
    router: { deps: ['admin', 'api', 'core', 'service'] },
    conduwuit: { noLib: true, bin: true, deps: ['admin', 'api', 'core', 'database', 'router', 'service'] },
    tools: { deps: ['core'] },
  });

const settings = (over: Partial<PlanSettings> = {}): PlanSettings => ({
  frozen: [], exclude: [], listen: [], linker: 'mold', channel: 'nightly', toolchain: DEFAULT_NIGHTLY, profile: 'hot', stopTimeoutMs: 5000, ...over,
});

function userError(fn: () => unknown): UserError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(UserError);
    expect((e as Error).message).not.toContain('\n');
    return e as UserError;
  }
  throw new Error('expected a UserError');
}

describe('plan', () => {
  it('picks the one top library under the binary and assigns roles', () => {
    const g = conduwuit();
    expect(autoEntry(g)).toBe('router');
    const { plan, notes } = buildPlan(g, settings({ frozen: ['database'] }));
    const role = Object.fromEntries(plan.crates.map((c) => [c.name, c.role]));
    expect(role).toEqual({
      macros: 'excluded', core: 'frozen', database: 'frozen', service: 'reloadable', api: 'reloadable',
      admin: 'reloadable', router: 'entry', conduwuit: 'excluded', tools: 'excluded',
    });
    expect(notes.join()).toContain('`core` is frozen too');
    expect(plan.crates.map((c) => c.name).indexOf('core')).toBeLessThan(plan.crates.map((c) => c.name).indexOf('database'));
    expect(plan.crates.find((c) => c.name === 'conduwuit')!.lib).toBeUndefined();
    expect(plan.crates.find((c) => c.name === 'api')!.src).toEqual(['api/src']);
  });

  it('asks for --entry when there is no single top library', () => {
    const g = graphOf({ a: {}, b: {}, app: { noLib: true, bin: true, deps: ['a', 'b'] } });
    expect(userError(() => autoEntry(g)).message).toMatch(/candidates: a, b\); pass --entry NAME/);
    expect(buildPlan(g, settings({ entry: 'b' })).plan.entry).toBe('b');
  });

  it('rejects unknown, proc-macro and bin-only crates by name', () => {
    const g = conduwuit();
    expect(userError(() => buildPlan(g, settings({ entry: 'nope' }))).message).toContain('`nope` is not a workspace member');
    expect(userError(() => buildPlan(g, settings({ frozen: ['macros'] }))).message).toContain('`macros` is a proc-macro');
    expect(userError(() => buildPlan(g, settings({ entry: 'macros' }))).message).toContain('`macros` is a proc-macro');
    expect(userError(() => buildPlan(g, settings({ entry: 'conduwuit' }))).message).toContain('bin-only');
    expect(userError(() => buildPlan(g, settings({ frozen: ['tools'] }))).message).toContain('not a dependency of the entry');
    expect(userError(() => buildPlan(g, settings({ frozen: ['router'] }))).message).toContain('entry crate');
  });

  it('leaves build-only dependencies and --exclude out of the hot set', () => {
    const g = graphOf({ gen: {}, lib: { build: ['gen'] }, app: { deps: ['lib'], bin: true } });
    const role = Object.fromEntries(buildPlan(g, settings()).plan.crates.map((c) => [c.name, c.role]));
    expect(role).toEqual({ gen: 'excluded', lib: 'reloadable', app: 'entry' });
    const r2 = Object.fromEntries(buildPlan(g, settings({ exclude: ['lib'] })).plan.crates.map((c) => [c.name, c.role]));
    expect(r2.lib).toBe('excluded');
  });

  it('prints a dependency cycle', () => {
    expect(userError(() => graphOf({ a: { deps: ['b'] }, b: { deps: ['c'] }, c: { deps: ['a'] } })).message).toBe('path-dependency cycle: a -> b -> c -> a');
  });
});

describe('settings', () => {
  it('flags override hotgen.yaml, which overrides defaults; a channel switch re-pins', async () => {
    const s = await resolveSettings({ linker: 'lld', entry: 'x', toolchain: 'nightly-2026-01-01' }, { entry: 'y' });
    expect(s).toMatchObject({ linker: 'lld', entry: 'y', toolchain: 'nightly-2026-01-01', channel: 'nightly', profile: 'hot', listen: [] });
    const st = await resolveSettings({ toolchain: 'nightly-2026-01-01' }, { channel: 'stable' });
    expect(st.toolchain).toMatch(/^1\.\d+\.\d+$/);
    await expect(resolveSettings({}, { listen: ['nonsense'] })).rejects.toThrow(UserError);
    await expect(resolveSettings({ linker: 'ld.bfd' as never }, {})).rejects.toThrow(/unknown linker/);
  });
});

describe('hotgen.yaml', () => {
  it('keeps user comments, re-reads edited settings, and is unchanged when nothing changes', async () => {
    const g = conduwuit();
    const s = settings({ listen: ['127.0.0.1:8080'] });
    const { plan } = buildPlan(g, s);
    const first = renderPlanYaml(undefined, plan, s);
    expect(renderPlanYaml(first, plan, s)).toBe(first);
    const edited = first.replace('frozen: []', '# my note: core owns the runtime\nfrozen: [ core ] # keep').replace('linker: mold', 'linker: lld');
    const s2 = await resolveSettings(readSettings(edited, 'hotgen.yaml'), {});
    expect(s2).toMatchObject({ frozen: ['core'], linker: 'lld', listen: ['127.0.0.1:8080'], entry: 'router' });
    const plan2 = buildPlan(g, s2).plan;
    const second = renderPlanYaml(edited, plan2, s2);
    expect(second).toContain('# my note: core owns the runtime\nfrozen: [ core ] # keep');
    expect(second).toContain('  - name: core\n    role: frozen\n');
    expect(second).not.toMatch(/^toolchain:/m);
    await using dir = await tempDir('plan');
    await writeFile(path.join(dir.path, 'hotgen.yaml'), second);
    await expect(readPlan(dir.path)).rejects.toThrow(/^no toolchain pin in hotgen\/rust-toolchain\.toml/);
    // The pin lives in hotgen/rust-toolchain.toml (rustup's format), not in hotgen.yaml.
    await mkdir(path.join(dir.path, 'hotgen'));
    await writeFile(path.join(dir.path, TOOLCHAIN_FILE), `# pin\n[toolchain]\nchannel = "${plan2.toolchain}"\ncomponents = ["rust-src"]\n`);
    expect(await readPin(dir.path)).toBe(plan2.toolchain);
    const read = await readPlan(dir.path);
    expect(read).toEqual(plan2);
  });

  it('an older plan\'s `toolchain:` key is read when there is no pin file, and dropped (comments kept) on the next render', async () => {
    const g = conduwuit();
    const s = settings();
    const { plan } = buildPlan(g, s);
    const old = renderPlanYaml(undefined, plan, s).replace('profile: hot', '# pinned by date\ntoolchain: nightly-2026-01-01\nprofile: hot');
    await using dir = await tempDir('plan');
    await writeFile(path.join(dir.path, 'hotgen.yaml'), old);
    expect((await readPlan(dir.path)).toolchain).toBe('nightly-2026-01-01');
    const settingsFromFile = readSettings(old, 'hotgen.yaml');
    expect(settingsFromFile.toolchain).toBe('nightly-2026-01-01');
    const next = renderPlanYaml(old, plan, s);
    expect(next).not.toMatch(/^toolchain:/m);
    expect(next).toContain('# Linker of the hot profile: mold, lld, gold or default.\nlinker: mold\n');
    expect(renderPlanYaml(next, plan, s)).toBe(next);
    // Once the pin file exists it wins over a stale key.
    await mkdir(path.join(dir.path, 'hotgen'));
    await writeFile(path.join(dir.path, TOOLCHAIN_FILE), '[toolchain]\nchannel = "nightly-2026-05-19"\n');
    expect((await readPlan(dir.path)).toolchain).toBe('nightly-2026-05-19');
  });

  it('readPlan: missing or invalid file is a user error naming it', async () => {
    await using dir = await tempDir('plan');
    await expect(readPlan(dir.path)).rejects.toThrow(/no hotgen.yaml/);
    await writeFile(path.join(dir.path, 'hotgen.yaml'), 'version: 1\nentry: [\n');
    const err = (await readPlan(dir.path).catch((e: unknown) => e)) as UserError;
    expect(err).toBeInstanceOf(UserError);
    expect(err.opts.file).toContain('hotgen.yaml');
    await writeFile(path.join(dir.path, 'hotgen.yaml'), 'version: 1\nentry: a\n');
    await expect(readPlan(dir.path)).rejects.toThrow(/missing one of/);
  });
});

import { describe, expect, it } from 'vitest';
import { decideReload, moduleCrates } from '../../loader/reloadset.js';
import type { PlannedCrate, Role } from '../../common/types.js';

const crate = (name: string, role: Role, deps: string[] = []): PlannedCrate => ({ name, role, lib: name, deps, src: [`${name}/src`] });

// conduwuit's DAG (REFERENCE.md), with core frozen, macros a proc-macro, router the entry.
const conduwuit: PlannedCrate[] = [
  crate('macros', 'excluded'),
  crate('core', 'frozen', ['macros']),
  crate('database', 'reloadable', ['core']),
  crate('service', 'reloadable', ['core', 'database']),
  crate('api', 'reloadable', ['core', 'database', 'service']),
  crate('admin', 'reloadable', ['api', 'core', 'database', 'macros', 'service']),
  crate('router', 'entry', ['admin', 'api', 'core', 'service']),
  crate('conduwuit', 'excluded', ['router', 'admin', 'api', 'core', 'database', 'service']),
];
const loadedAll = new Set(moduleCrates(conduwuit).map((c) => c.name));

describe('decideReload', () => {
  it('reloads a changed crate and every loaded dependent, unloading top-down', () => {
    expect(decideReload(conduwuit, loadedAll, new Set(['api']))).toEqual({
      kind: 'reload',
      unload: ['router', 'admin', 'api'],
      load: ['api', 'admin', 'router'],
    });
  });

  it('reloads database and everything above it, not core', () => {
    const d = decideReload(conduwuit, loadedAll, new Set(['database']));
    expect(d).toEqual({ kind: 'reload', unload: ['router', 'admin', 'api', 'service', 'database'], load: ['database', 'service', 'api', 'admin', 'router'] });
  });

  it('reloads only the entry when only the entry changed', () => {
    expect(decideReload(conduwuit, loadedAll, new Set(['router']))).toEqual({ kind: 'reload', unload: ['router'], load: ['router'] });
  });

  it('restarts when a frozen crate changed, naming it', () => {
    const d = decideReload(conduwuit, loadedAll, new Set(['core', 'database', 'service', 'api', 'admin', 'router']));
    expect(d).toEqual({ kind: 'restart', frozen: ['core'], reason: 'core changed' });
  });

  it('treats a change in an excluded proc-macro crate through its loaded dependents (core is frozen: restart)', () => {
    expect(decideReload(conduwuit, loadedAll, new Set(['macros']))).toMatchObject({ kind: 'restart', frozen: ['core'] });
  });

  it('ignores changes that touch nothing loaded', () => {
    expect(decideReload(conduwuit, loadedAll, new Set(['conduwuit']))).toEqual({ kind: 'none' });
    expect(decideReload(conduwuit, loadedAll, new Set())).toEqual({ kind: 'none' });
    expect(decideReload(conduwuit, loadedAll, new Set(['not-in-plan']))).toEqual({ kind: 'none' });
  });

  it('does not load modules that are not loaded now', () => {
    const loaded = new Set(['core', 'database', 'service', 'api', 'router']);
    expect(decideReload(conduwuit, loaded, new Set(['api']))).toEqual({ kind: 'reload', unload: ['router', 'api'], load: ['api', 'router'] });
  });

  it('handles a diamond: both sides reload once, in a topological order', () => {
    const dag = [crate('base', 'reloadable'), crate('left', 'reloadable', ['base']), crate('right', 'reloadable', ['base']), crate('top', 'entry', ['left', 'right'])];
    const all = new Set(dag.map((c) => c.name));
    expect(decideReload(dag, all, new Set(['base']))).toEqual({ kind: 'reload', unload: ['top', 'right', 'left', 'base'], load: ['base', 'left', 'right', 'top'] });
    expect(decideReload(dag, all, new Set(['left']))).toEqual({ kind: 'reload', unload: ['top', 'left'], load: ['left', 'top'] });
  });

  it('restarts when a frozen crate sits above a changed reloadable one', () => {
    const dag = [crate('util', 'reloadable'), crate('rt', 'frozen', ['util']), crate('app', 'entry', ['rt'])];
    expect(decideReload(dag, new Set(['util', 'rt', 'app']), new Set(['util']))).toMatchObject({ kind: 'restart', frozen: ['rt'] });
  });

  it('rejects a plan that is not in topological order', () => {
    const bad = [crate('api', 'reloadable', ['database']), crate('database', 'reloadable')];
    expect(() => decideReload(bad, new Set(['api', 'database']), new Set(['api']))).toThrow(/topological/);
  });
});

import { describe, expect, it } from 'vitest';
import { RestartPolicy, decideReload, isModuleRole, type GraphNode } from '../../loader/reloadset.js';
import type { ModuleRole, PlannedCrate, Role } from '../../common/types.js';

const crate = (name: string, role: Role, deps: string[] = []): PlannedCrate => ({ name, role, lib: name, deps, src: [`${name}/src`] });

// conduwuit's DAG (test/generator/fixtures/conduwuit.ts), with core frozen, macros a proc-macro, router the entry.
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
const loadedAll = new Set(conduwuit.filter((c) => isModuleRole(c.role)).map((c) => c.name));

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

  it('restarts when a registry dylib changed, naming it, even though nothing of the workspace changed', () => {
    // What the supervisor passes: the wrapper's module graph (registry dylibs named by file stem).
    const node = (name: string, role: ModuleRole, deps: string[] = []): GraphNode => ({ name, role, deps });
    const graph = [
      node('memchr-0123456789abcdef', 'registry'),
      node('itoa-fedcba9876543210', 'registry'),
      node('core', 'frozen', ['memchr-0123456789abcdef']),
      node('api', 'reloadable', ['core', 'itoa-fedcba9876543210']),
      node('router', 'entry', ['api']),
    ];
    const all = new Set(graph.map((n) => n.name));
    expect(decideReload(graph, all, new Set(['itoa-fedcba9876543210']))).toEqual({
      kind: 'restart',
      frozen: ['itoa-fedcba9876543210'],
      reason: 'itoa-fedcba9876543210 changed',
    });
    // Below a frozen crate: both are listed, the changed registry dylib is the one named.
    expect(decideReload(graph, all, new Set(['memchr-0123456789abcdef']))).toEqual({
      kind: 'restart',
      frozen: ['memchr-0123456789abcdef', 'core'],
      reason: 'memchr-0123456789abcdef changed',
    });
    // A workspace edit above the registry dylibs is still a plain reload.
    expect(decideReload(graph, all, new Set(['api']))).toEqual({ kind: 'reload', unload: ['router', 'api'], load: ['api', 'router'] });
  });

  it('rejects a plan that is not in topological order', () => {
    const bad = [crate('api', 'reloadable', ['database']), crate('database', 'reloadable')];
    expect(() => decideReload(bad, new Set(['api', 'database']), new Set(['api']))).toThrow(/topological/);
  });
});

describe('RestartPolicy', () => {
  it('restarts a first failure at once and backs off while failures repeat', () => {
    const p = new RestartPolicy();
    p.swapped(0);
    p.failed(10_000, 5_000);
    expect(p.next(10_000, true)).toEqual({ kind: 'restart', delayMs: 0, rollback: false });
    p.failed(15_000, 11_000);
    expect(p.next(15_000, true)).toEqual({ kind: 'restart', delayMs: 250, rollback: false });
    p.failed(20_000, 16_000);
    expect(p.next(20_000, true)).toEqual({ kind: 'restart', delayMs: 500, rollback: false });
    // Past the window the count starts over.
    p.failed(90_000, 21_000);
    expect(p.next(90_000, true)).toEqual({ kind: 'restart', delayMs: 0, rollback: false });
  });

  it('rolls back when the newest set fails twice right after starting, once', () => {
    const p = new RestartPolicy();
    p.swapped(1_000);
    p.failed(1_300, 0); // 300 ms after the swap, in a host spawned long before
    expect(p.next(1_300, true)).toMatchObject({ kind: 'restart', rollback: false });
    p.failed(1_700, 1_310); // 390 ms after the restart
    expect(p.next(1_700, true)).toMatchObject({ kind: 'restart', rollback: true });
    p.failed(1_900, 1_710);
    expect(p.next(1_900, true)).toMatchObject({ rollback: false });
  });

  it('does not roll back a set that ran a while, nor without a previous set', () => {
    const p = new RestartPolicy();
    p.swapped(0);
    p.failed(5_000, 0);
    p.failed(5_500, 5_010);
    expect(p.next(5_500, true)).toMatchObject({ rollback: false });
    const q = new RestartPolicy();
    q.swapped(0);
    q.failed(100, 0);
    q.failed(300, 110);
    expect(q.next(300, false)).toMatchObject({ kind: 'restart', rollback: false });
  });

  it('waits for a change after five failures in a row right after their spawns', () => {
    const p = new RestartPolicy();
    let t = 0;
    for (let i = 0; i < 4; i++) {
      p.failed(t + 100, t);
      expect(p.next(t + 100, false).kind).toBe('restart');
      t += 1_000;
    }
    p.failed(t + 100, t);
    expect(p.next(t + 100, false)).toEqual({ kind: 'wait', failures: 5 });
    // Then it starts over.
    p.failed(t + 5_000, t + 4_900);
    expect(p.next(t + 5_000, false)).toEqual({ kind: 'restart', delayMs: 0, rollback: false });
  });

  it('a swap after a healthy spell starts the count afresh, so an earlier bad build cannot turn a rollback into a wait', () => {
    const p = new RestartPolicy();
    // A bad build: two quick failures, rolled back (the rollback swap comes right after them).
    p.swapped(0);
    p.failed(300, 0);
    expect(p.next(300, true)).toMatchObject({ rollback: false });
    p.failed(700, 310);
    expect(p.next(700, true)).toMatchObject({ rollback: true });
    p.swapped(710);
    // A good build 5 s later, then another bad one: two quick failures roll back again.
    p.swapped(5_000);
    p.swapped(8_000);
    p.failed(8_300, 0);
    expect(p.next(8_300, true)).toEqual({ kind: 'restart', delayMs: 0, rollback: false });
    p.failed(8_700, 8_310);
    expect(p.next(8_700, true)).toMatchObject({ kind: 'restart', rollback: true });
  });
});

/**
 * The generated benchmark workspaces: the intended layered DAG (pure), and a small one
 * that really builds with cargo, whose `cargo metadata` edges are that DAG and whose
 * binary prints the sum of the MARKs (which follows an edit).
 */
import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { run } from '../../common/exec.js';
import { dependents, generateWorkspace, layeredDag, readMark, writeMark } from '../../bench/workspace-gen.js';
import { writeGenerated } from '../../bench/hotws.js';
import { tempDir } from '../helpers/tree.js';
import { skipUnless, tools } from '../helpers/tools.js';

describe('layeredDag', () => {
  for (const n of [10, 50, 100, 200]) {
    it(`${n} crates: about sqrt(n) layers, deps only into the layer below, every crate used`, () => {
      const { layers, crates } = layeredDag(n);
      expect(layers.length).toBe(Math.max(2, Math.round(Math.sqrt(n))));
      expect(layers.flat()).toHaveLength(n);
      expect(new Set(crates.map((c) => c.name)).size).toBe(n);
      const layerOf = new Map(crates.map((c) => [c.name, c.layer]));
      for (const c of crates) {
        if (c.layer === 0) expect(c.deps).toEqual([]);
        else {
          expect(c.deps.length).toBeGreaterThanOrEqual(1);
          expect(c.deps.length).toBeLessThanOrEqual(4);
          for (const d of c.deps) expect(layerOf.get(d)).toBe(c.layer - 1);
        }
      }
      for (let l = 0; l < layers.length - 1; l++) {
        const used = new Set(crates.filter((c) => c.layer === l + 1).flatMap((c) => c.deps));
        expect([...used].sort()).toEqual([...layers[l]].sort());
      }
      const avg = crates.filter((c) => c.layer > 0).reduce((s, c) => s + c.deps.length, 0) / (n - layers[0].length);
      expect(avg).toBeGreaterThan(1.2);
    });
  }

  it('is deterministic for a seed and differs across seeds', () => {
    expect(layeredDag(50, { seed: 3 })).toEqual(layeredDag(50, { seed: 3 }));
    expect(layeredDag(50, { seed: 3 })).not.toEqual(layeredDag(50, { seed: 4 }));
  });

  it('rejects sizes it cannot layer', () => {
    expect(() => layeredDag(1)).toThrow(/at least 2/);
    expect(() => layeredDag(5, { layers: 6 })).toThrow(/layer count/);
  });

  it('has a few hundred lines per crate, and the entry sits on the whole top layer', () => {
    const g = generateWorkspace(10);
    const lines = g.tree['crates/l00_c000/src/lib.rs'].split('\n').length;
    expect(lines).toBeGreaterThan(200);
    expect(lines).toBeLessThan(500);
    expect(g.crates.at(-1)).toEqual({ name: 'entry', layer: g.layers.length, deps: [...g.layers.at(-1)!] });
    expect(g.tree['crates/entry/src/lib.rs']).toContain('#[cfg(hotgen)]\nmod hotgen_entry;');
    expect(g.tree['crates/entry/src/lib.rs']).toContain('fn hotgen_run(ctx: &hotgen_entry::Context) -> i32');
    expect(g.tree['crates/app/Cargo.toml']).toContain('[[bin]]');
    expect(dependents(g.crates, 'entry').size).toBe(0);
    expect(dependents(g.crates, g.layers[0][0]).has('entry')).toBe(true);
  });
});

describe.skipIf(skipUnless(tools.cargo()))('a generated workspace, built by cargo', () => {
  it('builds, forms the intended DAG in cargo metadata, and the binary sums the MARKs', async () => {
    await using dir = await tempDir('bench-gen');
    const g = generateWorkspace(5, { linesPerCrate: 120 });
    await writeGenerated(dir.path, g);
    const meta = JSON.parse((await run('cargo', ['metadata', '--no-deps', '--format-version', '1', '--offline'], { cwd: dir.path })).stdout);
    const edges = new Map<string, string[]>(
      meta.packages.map((p: { name: string; dependencies: { name: string; path?: string }[] }) => [p.name, p.dependencies.filter((d) => d.path).map((d) => d.name).sort()]),
    );
    for (const c of g.crates) expect(edges.get(c.name), c.name).toEqual([...c.deps].sort());
    expect(edges.get('app')).toEqual(['entry']);

    const target = path.join(dir.path, 'target');
    await run('cargo', ['build', '--offline', '--quiet'], { cwd: dir.path, env: { ...process.env, CARGO_TARGET_DIR: target } });
    const bin = path.join(target, 'debug/app');
    expect((await run(bin, [])).stdout).toBe(`sum ${g.crates.length}\n`);

    const bottom = g.layers[0][0];
    expect(await readMark(dir.path, bottom)).toBe(1);
    await writeMark(dir.path, bottom, 5);
    await run('cargo', ['build', '--offline', '--quiet'], { cwd: dir.path, env: { ...process.env, CARGO_TARGET_DIR: target } });
    expect((await run(bin, [])).stdout).toBe(`sum ${g.crates.length + 4}\n`);
  });
});

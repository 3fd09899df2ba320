/**
 * The generated Nix files, and hotgen's own flake.nix, are formatted in the standard Nix
 * format (RFC 166, what nixfmt and `nix fmt` with nixfmt-tree print). No nixfmt binary
 * comes from a registry reachable here, so every variant passes the layout rules of
 * test/nix/nix-style.ts; where a nixfmt binary exists (`HOTGEN_NIXFMT`, or `nixfmt` on
 * PATH) the same files also pass `nixfmt --check`, byte for byte. The templates were
 * written to nixfmt 1.4.0's output (its own test suite passing on the build used).
 */
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../../common/exec.js';
import type { Linker } from '../../common/types.js';
import { renderFiles } from '../../generator/render.js';
import { missingTool } from '../helpers/tools.js';
import { tempDir } from '../helpers/tree.js';
import { fixtureGraph, fixturePlan, type FixtureOptions } from '../nix/fixtures.js';
import { checkNixStyle } from '../nix/nix-style.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const NIXFMT = process.env.HOTGEN_NIXFMT ?? 'nixfmt';

/** Every Nix file init can write, per variant: linkers, channels, profiles, a user flake, unusual workspace names. */
function variants(): { name: string; path: string; content: string }[] {
  const out: { name: string; path: string; content: string }[] = [];
  const linkers: Linker[] = ['mold', 'lld', 'gold', 'default'];
  const cases: [string, FixtureOptions, string][] = [
    ...linkers.map((linker): [string, FixtureOptions, string] => [linker, { linker }, '/work/ws']),
    ['stable', { channel: 'stable', toolchain: '1.95.0', profile: 'dev' }, '/work/ws'],
    ['user-flake', { flakeExists: true, profile: 'a-long_profile-name-0123456789-0123456789-0123456789' }, '/work/ws'],
    ['long-root', {}, `/work/${'w'.repeat(140)}`],
    ['odd-root', {}, '/work/we"ird ${x} \\ \'\' ws'],
  ];
  for (const [name, o, root] of cases) {
    const r = renderFiles(fixturePlan(o), fixtureGraph(root), { flakeExists: Boolean(o.flakeExists), realpath: (p) => p });
    for (const f of r.files) if (f.path.endsWith('.nix')) out.push({ name: `${name}: ${f.path}`, path: f.path, content: f.content });
  }
  return out;
}

describe('generated Nix is formatted', () => {
  it('every variant of flake.nix and nix/hotgen.nix, and hotgen\'s own flake.nix, follow the standard layout rules', () => {
    const files = [...variants(), { name: 'hotgen flake.nix', path: 'flake.nix', content: readFileSync(path.join(REPO, 'flake.nix'), 'utf8') }];
    expect(files.filter((f) => f.path === 'flake.nix').length).toBeGreaterThanOrEqual(8);
    for (const f of files) expect(checkNixStyle(f.content), f.name).toEqual([]);
  });

  it('the layout checker finds what nixfmt would change', () => {
    const good = '{\n  a = [\n    1\n    2\n  ];\n  b =\n    let\n      x = 1;\n    in\n    x;\n  s = \'\'\n    echo "$x"\n  \'\';\n}\n';
    expect(checkNixStyle(good)).toEqual([]);
    const problems = (text: string) => checkNixStyle(text).map((p) => `${p.line}: ${p.message}`);
    expect(problems('{\n      a = 1;\n}\n')).toEqual(['2: indentation grows by 6 spaces (at most one level of 2)']);
    expect(problems('{\n  a = [\n    1\n    ];\n}\n')).toEqual(['4: ] at indentation 4, its opener\'s line (2) at 2']);
    expect(problems('{\n  b =\n    let\n      x = 1;\n  in\n    x;\n}\n')).toEqual(['5: in at indentation 2, its let\'s line (3) at 4']);
    expect(problems('{\n  a = {\n  b = 1;\n  };\n}\n')).toEqual(['3: indentation 2 inside the bracket opened on line 2 (at 2)']);
    expect(problems('{\n  s = \'\'\n    x\n    y\'\';\n}\n')).toEqual(["4: an indented string's closing '' must start its line"]);
    expect(problems(`{\n  a = [ ${'x '.repeat(50)}];\n}\n`)).toEqual(['2: code line of 108 characters (at most 100 after the indentation)']);
    expect(problems('{\n\ta = 1; \n}\n\n')).toEqual([
      '5: the file must end with exactly one newline',
      '2: tab',
      '2: trailing whitespace',
      '2: indentation 1 is not a multiple of two spaces',
      '2: indentation 1 inside the bracket opened on line 1 (at 0)',
    ]);
    expect(problems('{\n  a = 1;\n\n\n  b = 2;\n}\n')).toEqual(['4: two blank lines in a row']);
  });

  // nixfmt is in neither Debian nor npm, so CI cannot install it: an optional check (not
  // skipUnless, which HOTGEN_REQUIRE_TOOLS=1 turns into a failure); the layout check above always runs.
  it.skipIf(missingTool(NIXFMT, ['--version']) !== undefined)('nixfmt --check accepts every variant and hotgen\'s own flake.nix unchanged', async () => {
    await using tmp = await tempDir('nixfmt');
    const files = [path.join(REPO, 'flake.nix')];
    for (const [i, f] of variants().entries()) {
      const file = path.join(tmp.path, `${i}-${path.basename(f.path)}`);
      await writeFile(file, f.content);
      files.push(file);
    }
    const r = await run(NIXFMT, ['--check', ...files], { allowFailure: true });
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
  });
});

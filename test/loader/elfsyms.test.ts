import { describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { run } from '../../common/exec.js';
import { dynamicSymbols, lostSymbols } from '../../loader/elfsyms.js';
import { tempDir } from '../helpers/tree.js';
import { missingTool } from '../helpers/tools.js';

describe('dynamicSymbols', () => {
  it('lists what a real Rust dylib defines, as nm -D --defined-only does, and not what it imports', async () => {
    await using dir = await tempDir('elfsyms');
    const src = path.join(dir.path, 'lib.rs');
    writeFileSync(src, [
      '#[unsafe(no_mangle)] pub extern "C" fn hg_exported() -> usize { unsafe { strlen(c"abc".as_ptr()) } }',
      'pub fn mangled(v: &[u32]) -> Vec<u32> { v.to_vec() }',
      'unsafe extern "C" { fn strlen(s: *const core::ffi::c_char) -> usize; }',
    ].join('\n'));
    const so = path.join(dir.path, 'libelfsyms.so');
    const r = await run('rustc', ['--edition=2024', '--crate-type', 'dylib', '-C', 'prefer-dynamic', '--crate-name', 'elfsyms', src, '-o', so], { allowFailure: true });
    expect(r.code, r.stderr).toBe(0);
    const { defined: ex, undefined: needs } = dynamicSymbols(so)!;
    expect(ex.has('hg_exported')).toBe(true);
    expect([...ex].some((s) => s.includes('7mangled'))).toBe(true);
    expect(ex.has('strlen')).toBe(false);
    expect(needs.has('strlen')).toBe(true);
    if (!missingTool('nm', ['--version'])) {
      const nm = await run('nm', ['-D', '--defined-only', so]);
      const names = new Set(nm.stdout.split('\n').map((l) => l.trim().split(/\s+/)).filter((f) => f.length === 3 && /[A-Z]/.test(f[1]) && f[1] !== 'U').map((f) => f[2].replace(/@.*$/, '')));
      expect(ex).toEqual(names);
      const nmU = await run('nm', ['-D', '--undefined-only', so]);
      expect(needs).toEqual(new Set(nmU.stdout.split('\n').map((l) => l.trim().split(/\s+/)).filter((f) => f.length === 2).map((f) => f[1].replace(/@.*$/, ''))));
    }
  });

  it('undefined for what is not a readable 64-bit little-endian ELF file', async () => {
    await using dir = await tempDir('elfsyms');
    const f = path.join(dir.path, 'not.so');
    writeFileSync(f, 'not an elf file, just text that is long enough to have a header'.repeat(2));
    expect(dynamicSymbols(f)).toBeUndefined();
    expect(dynamicSymbols(path.join(dir.path, 'missing.so'))).toBeUndefined();
  });

  it('lostSymbols names what the second set lacks and something needs', () => {
    expect(lostSymbols(new Set(['a', 'b', 'c']), new Set(['a', 'd']), new Set(['b', 'c', 'x']))).toEqual(['b', 'c']);
    expect(lostSymbols(new Set(['a', 'b']), new Set(['a']), new Set(['x']))).toEqual([]);
    expect(lostSymbols(new Set(['a']), new Set(['a', 'b']), new Set(['a', 'b']))).toEqual([]);
  });
});

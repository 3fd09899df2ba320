/** The swap floor program on tiny shared objects: loads, unloads, and sees an object that stays mapped. */
import { describe, expect, it } from 'vitest';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { run } from '../../common/exec.js';
import { CommandError } from '../../common/errors.js';
import { buildFloor, runFloor } from '../../bench/floor.js';
import { tempDir } from '../helpers/tree.js';
import { missingTool, skipUnless } from '../helpers/tools.js';

describe.skipIf(skipUnless(missingTool('cc', ['--version'])))('floor.c', () => {
  it('maps keep once, loads and unloads the reload list N times (each verified gone), and counts one that stays mapped', async () => {
    await using dir = await tempDir('bench-floor');
    const d = dir.path;
    await writeFile(path.join(d, 'base.c'), 'int base_data = 40;\n');
    await writeFile(path.join(d, 'mid.c'), 'extern int base_data;\nint mid_value(void) { return base_data + 2; }\n');
    await writeFile(path.join(d, 'top.c'), 'int mid_value(void);\nint top_value(void) { return mid_value() * 2; }\n');
    const so = (name: string, extra: string[] = []) => path.join(d, `lib${name}${extra.length ? '-nodelete' : ''}.so`);
    await run('cc', ['-shared', '-fPIC', '-o', so('base'), path.join(d, 'base.c')]);
    // mid needs base's data symbol (bound at load time even with RTLD_LAZY): it resolves only
    // because floor maps base RTLD_GLOBAL first.
    await run('cc', ['-shared', '-fPIC', '-o', so('mid'), path.join(d, 'mid.c')]);
    await run('cc', ['-shared', '-fPIC', '-o', so('top'), path.join(d, 'top.c')]);
    await run('cc', ['-shared', '-fPIC', '-Wl,-z,nodelete', '-o', so('top', ['nodelete']), path.join(d, 'top.c')]);
    const bin = await buildFloor(path.join(d, 'bin'));

    const r = await runFloor(bin, { iterations: 3, keep: [so('base')], reload: [so('mid'), so('top')] });
    expect(r.iterations).toBe(3);
    expect(r.modules).toBe(2);
    for (const k of ['open_us', 'close_us', 'total_us'] as const) {
      expect(r[k]).toHaveLength(3);
      for (const v of r[k]) expect(Number.isFinite(v)).toBe(true);
    }
    r.total_us.forEach((t, i) => expect(t).toBeCloseTo(r.open_us[i] + r.close_us[i], 1));
    expect(r.still_mapped).toBe(0);

    const sticky = await runFloor(bin, { iterations: 2, keep: [so('base')], reload: [so('mid'), so('top', ['nodelete'])] });
    // nodelete keeps top mapped; mid stays too since the mapped top still references its symbol scope.
    expect(sticky.still_mapped).toBeGreaterThanOrEqual(2);

    const err = await runFloor(bin, { iterations: 1, keep: [], reload: [so('mid')] }).catch((e: CommandError) => e);
    expect(err).toBeInstanceOf(CommandError);
    expect((err as CommandError).stderrTail).toMatch(/undefined symbol: base_data/);
  });
});

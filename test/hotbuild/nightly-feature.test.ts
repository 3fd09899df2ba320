/**
 * Issue 8, the lockfile case: a registry crate whose build script enables a nightly
 * feature the pinned nightly no longer has (Debian's proc-macro2 1.0.47:
 * `proc_macro_span_shrink`, E0635). `hotgen dev` and `hotgen doctor --build` name the
 * crate and the fix; after `hotgen init --channel stable` the same workspace hot-builds
 * and runs. Real cargo, the built CLI.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { run } from '../../common/exec.js';
import { CLI, cliBuilt, cliEnv, hotgen, jsonLines, MODES } from '../cli/run.js';
import { skipUnless, tools } from '../helpers/tools.js';
import { tempDir, writeTree } from '../helpers/tree.js';
import { Dev, quitAllDevs, toolchainEnv } from '../loader/fixtures/dev-session.js';
import { missingProcMacro2, missingStable, procMacro2Workspace } from './fixture.js';

/** The line `nightlyFeatureHint` (loader/hotbuild.ts) adds for this crate. */
const HINT =
  /^hotgen: registry crate `proc-macro2` 1\.0\.47 enables the nightly feature `proc_macro_span_shrink`, which \S+ no longer has \(E0635\)\. Fix: `cargo update -p proc-macro2` .*, or `hotgen init --channel stable`\.$/m;

const skip =
  (!cliBuilt && skipUnless(`${CLI} missing (run npx tsc -p .)`)) ||
  skipUnless(tools.cargo(), tools.nightly(), missingStable(), tools.mold(), missingProcMacro2());

describe.skipIf(skip)('a lockfile crate that enables a nightly feature the pin lacks (proc-macro2 1.0.47)', () => {
  afterAll(quitAllDevs);

  it('dev and doctor --build name the crate and the fix; --channel stable hot-builds', async () => {
    await using tmp = await tempDir('nightly-feature');
    const root = tmp.path;
    await writeTree(root, procMacro2Workspace());
    await run('cargo', ['+stable', 'generate-lockfile'], { cwd: root, context: 'cargo generate-lockfile' });
    expect(await readFile(path.join(root, 'Cargo.lock'), 'utf8')).toMatch(/name = "proc-macro2"\nversion = "1\.0\.47"/);
    // The workspace itself is fine: an ordinary stable build passes.
    await run('cargo', ['+stable', 'build'], { cwd: root, context: 'cargo +stable build' });

    const init = await hotgen(root, ['init', '--listen', '127.0.0.1:0']);
    expect(init.code, init.stderr).toBe(0);

    // hotgen dev: the first build fails with the hint; the session stays up until quit.
    const dev = new Dev(root, ['--no-watch'], toolchainEnv());
    const failed = await dev.waitEvent((e) => e.event === 'build-failed' || e.event === 'start', 0, 600_000);
    expect(failed.event, JSON.stringify(failed)).toBe('build-failed');
    expect(String(failed.errors)).toMatch(/error\[E0635\]: unknown feature `proc_macro_span_shrink`/);
    expect(String(failed.errors)).toMatch(HINT);
    expect(await dev.quit()).toBe(0);

    // hotgen doctor --build: the hot-build check fails with the same fix as its hint.
    const doctor = await run(process.execPath, [CLI, 'doctor', '--build', '--json'], { cwd: root, env: cliEnv(true), allowFailure: true, timeoutMs: 600_000 });
    expect(doctor.code, doctor.stderr).toBe(1);
    const check = jsonLines(doctor.stdout, doctor.stderr).find((e) => e.id === 'hot-build');
    expect(check, doctor.stdout).toMatchObject({ status: 'fail' });
    expect(`hotgen: ${String(check!.hint)}`).toMatch(HINT);

    // The fix the line offers: the stable channel builds the same lockfile.
    const stable = await hotgen(root, ['init', '--channel', 'stable', '--listen', '127.0.0.1:0'], MODES[3]);
    expect(stable.code, stable.stderr).toBe(0);
    const ok = new Dev(root, ['--no-watch'], {});
    const start = await ok.waitEvent((e) => e.event === 'start' || e.event === 'build-failed', 0, 600_000);
    expect(start, ok.stderr.slice(-3000)).toMatchObject({ event: 'start', modules: ['pm_core', 'pm_app'], registry: 2 });
    expect(await ok.quit()).toBe(0);
  });
});

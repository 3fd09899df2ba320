/**
 * `hotgen eject` also removes what other commands left in the workspace: the linker
 * wrapper dir of `hotgen env`, the workflow of `hotgen ci` (unless edited), snapshots
 * and a dead control socket of past `hotgen dev` sessions, then `hotgen/` and `.hotgen/`
 * themselves once empty; it leaves build outputs (the hot build's `target/hotgen/`)
 * alone; and it refuses, changing nothing, while a dev session listens on the control socket.
 */
import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../../common/errors.js';
import { run } from '../../common/exec.js';
import { atomicWrite } from '../../common/fsx.js';
import { writeWorkflow, WORKFLOW_FILE } from '../../generator/ci.js';
import { devSessionRunning, ejectWorkspace } from '../../generator/eject.js';
import { LINKER_WRAPPER } from '../../generator/env.js';
import { initWorkspace, type Renderer } from '../../generator/init.js';
import { linkerScript } from '../../common/toolchain.js';
import { STATE_FILE } from '../../generator/state.js';
import { CARGO_CONFIG_FILE, FLAKE_FILE, NIX_MODULE_FILE, TOOLCHAIN_FILE } from '../../common/layout.js';
import { startControlServer, type ControlHandler } from '../../loader/control.js';
import { SnapshotStore } from '../../loader/snapshot.js';
import { missingTool, skipUnless, tools } from '../helpers/tools.js';
import { hashTree, tempDir, writeTree } from '../helpers/tree.js';
import { smallTree } from './fixtures/small.js';

const stub: Renderer = (plan) => ({
  files: [
    { path: FLAKE_FILE, kind: 'flake', content: '# flake\n' },
    { path: NIX_MODULE_FILE, kind: 'flake-module', content: `# module ${plan.toolchain}\n` },
    { path: TOOLCHAIN_FILE, kind: 'toolchain', content: `[toolchain]\nchannel = "${plan.toolchain}"\n` },
    { path: CARGO_CONFIG_FILE, kind: 'cargo-config', content: '[profile.hot]\ninherits = "dev"\n' },
    { path: 'crates/app/src/hotgen_entry.rs', kind: 'entry-shim', content: `// shim for ${plan.entry}\n` },
  ],
  notes: [],
});

/** A stand-in for a hot build's output: the hot target dir under target/ (a build output, like target/ itself). */
const HOT_OUTPUT = 'target/hotgen/hot/deps/libapp-0123456789abcdef.so';

/** Every path under `dir` with its kind and, for regular files, a hash: sockets included. */
async function snapshotAll(dir: string): Promise<Record<string, string>> {
  const hashes = await hashTree(dir, ['target', '.hotgen']);
  const hot = path.join(dir, '.hotgen');
  const kinds: Record<string, string> = {};
  if (existsSync(hot)) {
    for (const rel of (await readdir(hot, { recursive: true })).sort()) {
      const st = await stat(path.join(hot, rel));
      kinds[`.hotgen/${rel}`] = st.isSocket() ? 'socket' : st.isDirectory() ? 'dir' : `file ${st.size} ${st.mode.toString(8)}`;
    }
  }
  return { ...hashes, ...kinds };
}

/** A workspace after `init`, `hotgen env` (its linker wrapper), `hotgen ci --github` and a dev session's snapshot. */
async function fullyUsed(root: string): Promise<Record<string, string>> {
  await writeTree(root, smallTree());
  const before = await hashTree(root, ['target']);
  await initWorkspace(root, {}, stub);
  await atomicWrite(path.join(root, LINKER_WRAPPER), linkerScript('/usr/bin/clang', '/usr/bin/ld.mold'), 0o755);
  await writeWorkflow(root);
  await writeFile(path.join(root, 'libcore.so'), 'not really a dylib');
  await new SnapshotStore(root).take([{ name: 'core', role: 'reloadable', source: path.join(root, 'libcore.so') }]);
  await writeTree(root, { [HOT_OUTPUT]: 'not really a dylib either' });
  await rm(path.join(root, 'libcore.so'));
  expect(existsSync(path.join(root, '.hotgen', 'gen-1', 'libcore.so'))).toBe(true);
  return before;
}

const handler: ControlHandler = {
  reload: async () => ({ ok: true }),
  status: () => ({ pid: process.pid, root: '', generation: 0, modules: [], building: false }),
};

describe.skipIf(skipUnless(tools.cargo()))('eject removes what every hotgen command left', () => {
  it('removes .hotgen/bin/, the unedited workflow, old snapshots, hotgen/ and .hotgen/ itself: the tree is as before init', async () => {
    await using dir = await tempDir('eject-extra');
    const before = await fullyUsed(dir.path);
    const r = await ejectWorkspace(dir.path);
    expect(r.removed).toEqual(expect.arrayContaining([WORKFLOW_FILE, '.hotgen/bin/', '.hotgen/', FLAKE_FILE, NIX_MODULE_FILE, TOOLCHAIN_FILE, CARGO_CONFIG_FILE, 'hotgen.yaml']));
    expect(r.warnings).toEqual([]);
    expect(await hashTree(dir.path, ['target'])).toEqual(before);
    for (const gone of ['.hotgen', '.github', 'hotgen', 'nix']) expect(existsSync(path.join(dir.path, gone)), gone).toBe(false);
    // The hot build's output is a build output: eject leaves it, as it leaves target/.
    expect(await readFile(path.join(dir.path, HOT_OUTPUT), 'utf8')).toBe('not really a dylib either');
  });

  it('removes hotgen/ once empty even when init did not record creating it, and keeps it while it holds your file', async () => {
    await using dir = await tempDir('eject-extra');
    await fullyUsed(dir.path);
    const stateFile = path.join(dir.path, STATE_FILE);
    const state = JSON.parse(await readFile(stateFile, 'utf8')) as { dirs: string[] };
    expect(state.dirs).toContain('hotgen');
    await writeFile(stateFile, JSON.stringify({ ...state, dirs: state.dirs.filter((d) => d !== 'hotgen') }));
    await ejectWorkspace(dir.path);
    expect(existsSync(path.join(dir.path, 'hotgen'))).toBe(false);

    await using other = await tempDir('eject-extra');
    await fullyUsed(other.path);
    await writeFile(path.join(other.path, 'hotgen', 'notes.md'), 'mine\n');
    const r = await ejectWorkspace(other.path);
    expect(r.warnings).toEqual([]);
    expect(await readdir(path.join(other.path, 'hotgen'))).toEqual(['notes.md']);
  });

  it('keeps an edited workflow with a warning, and a workflow hotgen did not write without one', async () => {
    await using dir = await tempDir('eject-extra');
    await fullyUsed(dir.path);
    const wf = path.join(dir.path, WORKFLOW_FILE);
    const edited = (await readFile(wf, 'utf8')) + '# my extra step\n';
    await writeFile(wf, edited);
    const r = await ejectWorkspace(dir.path);
    expect(r.kept).toContain(WORKFLOW_FILE);
    expect(r.warnings.join('\n')).toMatch(/kept \.github\/workflows\/hotgen\.yml: you edited it/);
    expect(await readFile(wf, 'utf8')).toBe(edited);
    expect(existsSync(path.join(dir.path, '.hotgen'))).toBe(false);

    await using other = await tempDir('eject-extra');
    await fullyUsed(other.path);
    const mine = 'name: my own hotgen workflow\non: push\n';
    await writeFile(path.join(other.path, WORKFLOW_FILE), mine);
    const r2 = await ejectWorkspace(other.path);
    expect(r2.removed).not.toContain(WORKFLOW_FILE);
    expect(r2.warnings).toEqual([]);
    expect(await readFile(path.join(other.path, WORKFLOW_FILE), 'utf8')).toBe(mine);
  });

  it('keeps .hotgen/ when something hotgen did not create is left in it, naming it', async () => {
    await using dir = await tempDir('eject-extra');
    await fullyUsed(dir.path);
    await writeFile(path.join(dir.path, '.hotgen', 'my-notes.txt'), 'mine\n');
    const r = await ejectWorkspace(dir.path);
    expect(r.kept).toContain('.hotgen/');
    expect(r.warnings.join('\n')).toMatch(/kept \.hotgen\/: it still holds my-notes\.txt/);
    expect(await readdir(path.join(dir.path, '.hotgen'))).toEqual(['my-notes.txt']);
  });

  it('refuses while a hotgen dev session listens, changing nothing; works once it stopped', async () => {
    await using dir = await tempDir('eject-extra');
    const before = await fullyUsed(dir.path);
    const used = await snapshotAll(dir.path);
    {
      await using _server = await startControlServer(dir.path, handler);
      expect(await devSessionRunning(dir.path)).toBe(true);
      const err = await ejectWorkspace(dir.path).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UserError);
      expect((err as UserError).message).toMatch(/^a hotgen dev session is running in .*; stop it before ejecting \(nothing was changed\)$/);
      expect((err as UserError).message).not.toContain('\n');
      expect(await snapshotAll(dir.path)).toEqual({ ...used, '.hotgen/control.sock': 'socket' });
    }
    expect(await devSessionRunning(dir.path)).toBe(false);
    await ejectWorkspace(dir.path);
    expect(await hashTree(dir.path, ['target'])).toEqual(before);
    expect(existsSync(path.join(dir.path, '.hotgen'))).toBe(false);
  });

  it.skipIf(skipUnless(missingTool('python3')))('a control.sock nobody listens on (a crashed session) does not block eject and is removed', async () => {
    await using dir = await tempDir('eject-extra');
    const before = await fullyUsed(dir.path);
    const sock = path.join(dir.path, '.hotgen', 'control.sock');
    // Bound and never unlinked, as a killed session leaves it (Node unlinks on close, so python binds it).
    await run('python3', ['-c', 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])', sock]);
    expect((await stat(sock)).isSocket()).toBe(true);
    expect(await devSessionRunning(dir.path)).toBe(false);
    const r = await ejectWorkspace(dir.path);
    expect(r.warnings).toEqual([]);
    expect(await hashTree(dir.path, ['target'])).toEqual(before);
    expect(existsSync(path.join(dir.path, '.hotgen'))).toBe(false);
  });
});

/**
 * Hostile input against hotgen's own state, through the real CLI: crafted state files
 * (`..`, absolute paths, wrong types), `.hotgen` as a symlink, a file or another user's
 * directory, symlinked generated files and originals, a corrupt journal, a full disk
 * and a read-only file system. Each case asserts the exit code, the first line of the
 * message, and the SHA-256 of every file in the workspace and in a directory outside it
 * that the crafted input points at: nothing changes anywhere.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { chmod, cp, lstat, mkdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { run } from '../../common/exec.js';
import { JOURNAL_DIR, ORIGINALS_DIR, PLAN_FILE, STATE_FILE } from '../../common/layout.js';
import { skipUnless } from '../helpers/tools.js';
import { hashTree, tempDir, writeTree } from '../helpers/tree.js';
import { hotgen } from './cli.js';
import { smallTree } from './fixtures/small.js';

const INIT = ['init', '--entry', 'app'];
const everything = (dir: string) => hashTree(dir, ['target']);

let shared: Promise<{ pre: string; post: string }> | undefined;
let sharedDir: ({ path: string } & AsyncDisposable) | undefined;
afterAll(async () => sharedDir?.[Symbol.asyncDispose]());

/** A workspace (with its Cargo.lock) before and after `hotgen init`, made once per file and copied per case. */
function templates(): Promise<{ pre: string; post: string }> {
  shared ??= (async () => {
    sharedDir = await tempDir('hostile-tpl');
    return makeTemplates(sharedDir.path);
  })();
  return shared;
}

async function makeTemplates(base: string): Promise<{ pre: string; post: string }> {
  const pre = path.join(base, 'pre');
  await writeTree(pre, smallTree());
  await run('cargo', ['metadata', '--format-version', '1', '--offline'], { cwd: pre });
  const post = path.join(base, 'post');
  await cp(pre, post, { recursive: true });
  const r = await hotgen(post, ...INIT);
  if (r.code !== 0) throw new Error(r.stderr);
  return { pre, post };
}

interface Case {
  name: string;
  from: 'pre' | 'post';
  /** Crafts the hostile input; `outside` is a directory beside the workspace. */
  setup: (ws: string, outside: string) => Promise<void>;
  args: string[];
  message: RegExp;
  code?: number;
}

const stateWith = async (ws: string, edit: (s: Record<string, unknown>) => unknown) => {
  const file = path.join(ws, STATE_FILE);
  const s = JSON.parse(await readFile(file, 'utf8'));
  await writeFile(file, typeof edit(s) === 'string' ? (edit(s) as string) : JSON.stringify(s));
};
const firstCreated = (s: Record<string, unknown>) => (s.files as { path: unknown; action: unknown; writtenSha: unknown }[]).find((f) => f.action === 'created')!;
const corrupt = (why: string) => new RegExp(`^hotgen: \\.hotgen/init-state\\.json: corrupt hotgen state: ${why}`);

const CASES: Case[] = [
  ...(['eject', 'init'] as const).flatMap((cmd): Case[] => [
    { name: `${cmd}: a state path with ..`, from: 'post', args: cmd === 'eject' ? ['eject'] : INIT, message: corrupt('path "\\.\\./outside/victim\\.txt" is not a normalised path'), setup: (ws) => stateWith(ws, (s) => { firstCreated(s).path = '../outside/victim.txt'; }) },
    { name: `${cmd}: an absolute state path`, from: 'post', args: cmd === 'eject' ? ['eject'] : INIT, message: corrupt('path "/.+victim\\.txt" is absolute'), setup: (ws, out) => stateWith(ws, (s) => { firstCreated(s).path = path.join(out, 'victim.txt'); }) },
  ]),
  { name: 'a state path that climbs out after a normal prefix', from: 'post', args: ['eject'], message: corrupt('path "crates/\\.\\./\\.\\./outside/victim\\.txt" is not a normalised path'), setup: (ws) => stateWith(ws, (s) => { firstCreated(s).path = 'crates/../../outside/victim.txt'; }) },
  { name: 'a state path that is a number', from: 'post', args: ['eject'], message: corrupt('expected a relative path, found 42'), setup: (ws) => stateWith(ws, (s) => { firstCreated(s).path = 42; }) },
  { name: 'a state path with a NUL byte', from: 'post', args: ['eject'], message: corrupt('path "hotgen\\.yaml\\\\u0000\\.\\./x" contains a NUL byte'), setup: (ws) => stateWith(ws, (s) => { firstCreated(s).path = 'hotgen.yaml\u0000../x'; }) },
  { name: 'a state path with a newline that climbs out', from: 'post', args: ['eject'], message: corrupt('path "hotgen\\.yaml\\\\n/\\.\\./\\.\\./x" is not a normalised path'), setup: (ws) => stateWith(ws, (s) => { firstCreated(s).path = 'hotgen.yaml\n/../../x'; }) },
  { name: 'a state path inside .hotgen', from: 'post', args: ['eject'], message: corrupt("\\.hotgen/lock: hotgen's own state is not a workspace file"), setup: (ws) => stateWith(ws, (s) => { firstCreated(s).path = '.hotgen/lock'; }) },
  { name: 'an unknown action', from: 'post', args: ['eject'], message: corrupt('hotgen\\.yaml: action must be "edited" or "created"'), setup: (ws) => stateWith(ws, (s) => { const f = (s.files as { path: string; action: string }[]).find((x) => x.path === PLAN_FILE)!; f.action = 'deleted'; }) },
  { name: 'a hash that is not hex', from: 'post', args: ['eject'], message: corrupt('.*: writtenSha must be a SHA-256 in hex'), setup: (ws) => stateWith(ws, (s) => { firstCreated(s).writtenSha = '$(rm -rf /)'; }) },
  { name: '`files` that is not a list', from: 'post', args: ['eject'], message: corrupt('`files` must be a list'), setup: (ws) => stateWith(ws, (s) => { s.files = { path: 'x' }; }) },
  { name: 'a `dirs` entry with ..', from: 'post', args: ['eject'], message: corrupt('path "\\.\\." is not a normalised path'), setup: (ws) => stateWith(ws, (s) => { s.dirs = ['..']; }) },
  { name: 'a newer state version', from: 'post', args: ['eject'], message: corrupt('unknown version 2 \\(this hotgen reads version 1\\)'), setup: (ws) => stateWith(ws, (s) => { s.version = 2; }) },
  { name: 'a state file that is not JSON', from: 'post', args: INIT, message: corrupt('not JSON'), setup: (ws) => stateWith(ws, () => '{"version": 1, "files": [') },
  { name: 'a state file that is a JSON array', from: 'post', args: ['eject'], message: corrupt('expected a JSON object'), setup: (ws) => stateWith(ws, () => '[]') },
  {
    name: 'the state file is a symlink to a crafted file outside',
    from: 'post', args: ['eject'], message: /^hotgen: \.hotgen\/init-state\.json: is a symlink; hotgen does not write or remove through symlinks/,
    setup: async (ws, out) => {
      await writeFile(path.join(out, 'state.json'), JSON.stringify({ version: 1, files: [], dirs: [] }));
      await rm(path.join(ws, STATE_FILE));
      await symlink(path.join(out, 'state.json'), path.join(ws, STATE_FILE));
    },
  },
  ...(['init', 'eject', 'env'] as const).map((cmd): Case => ({
    name: `${cmd}: .hotgen is a symlink to a directory outside`,
    from: cmd === 'init' ? 'pre' : 'post', args: cmd === 'init' ? INIT : [cmd],
    message: /^hotgen: \.hotgen: is a symlink; hotgen keeps its state only in a real directory of the workspace/,
    setup: async (ws, out) => {
      const target = path.join(out, 'state-dir');
      await mkdir(target, { mode: 0o755 });
      if (await lstat(path.join(ws, '.hotgen')).then(() => true, () => false)) await cp(path.join(ws, '.hotgen'), target, { recursive: true });
      await rm(path.join(ws, '.hotgen'), { recursive: true, force: true });
      await symlink(target, path.join(ws, '.hotgen'));
    },
  })),
  ...(['init', 'eject'] as const).map((cmd): Case => ({
    name: `${cmd}: .hotgen is a regular file`,
    from: 'pre', args: cmd === 'init' ? INIT : ['eject'],
    message: /^hotgen: \.hotgen: is not a directory; hotgen keeps its state there/,
    setup: (ws) => writeFile(path.join(ws, '.hotgen'), 'not a directory\n'),
  })),
  {
    name: 'the lock file is a symlink', from: 'post', args: INIT, message: /^hotgen: \.hotgen\/lock: is a symlink where hotgen does not follow one \(ELOOP in open\)/,
    setup: async (ws, out) => {
      await writeFile(path.join(out, 'victim.txt'), 'victim\n');
      await rm(path.join(ws, '.hotgen/lock'), { force: true });
      await symlink(path.join(out, 'victim.txt'), path.join(ws, '.hotgen/lock'));
    },
  },
  {
    name: 'the lock file is a directory', from: 'post', args: ['eject'], message: /^hotgen: \.hotgen\/lock: is a directory where hotgen expects a file \(EISDIR in open\)/,
    setup: async (ws) => {
      await rm(path.join(ws, '.hotgen/lock'), { force: true });
      await mkdir(path.join(ws, '.hotgen/lock'));
    },
  },
  {
    name: 'hotgen.yaml is a symlink to a file outside', from: 'pre', args: INIT, message: /^hotgen: hotgen\.yaml: is a symlink; hotgen does not write or remove through symlinks/,
    setup: async (ws, out) => {
      await writeFile(path.join(out, 'victim.txt'), 'version: 1\n');
      await symlink(path.join(out, 'victim.txt'), path.join(ws, PLAN_FILE));
    },
  },
  {
    name: 'the entry shim is a symlink to a file outside', from: 'pre', args: INIT, message: /^hotgen: crates\/app\/src\/hotgen_entry\.rs: is a symlink; hotgen does not write or remove through symlinks/,
    setup: async (ws, out) => {
      await writeFile(path.join(out, 'victim.txt'), 'victim\n');
      await symlink(path.join(out, 'victim.txt'), path.join(ws, 'crates/app/src/hotgen_entry.rs'));
    },
  },
  {
    name: "hotgen's own directory is a symlink to a directory outside", from: 'pre', args: INIT, message: /^hotgen: hotgen\/rust-toolchain\.toml: leads outside the workspace through a symlink \(hotgen -> .*\)/,
    setup: async (ws, out) => {
      await mkdir(path.join(out, 'own'));
      await symlink(path.join(out, 'own'), path.join(ws, 'hotgen'));
    },
  },
  {
    name: 'a generated file that is a symlink to a file outside, on eject', from: 'post', args: ['eject'], message: /^hotgen: \.envrc: is a symlink; hotgen does not write or remove through symlinks/,
    setup: async (ws, out) => {
      await cp(path.join(ws, '.envrc'), path.join(out, 'victim.txt'));
      await rm(path.join(ws, '.envrc'));
      await symlink(path.join(out, 'victim.txt'), path.join(ws, '.envrc'));
    },
  },
  {
    name: 'a saved original that is a symlink to a file outside', from: 'post', args: ['eject'], message: /^hotgen: \.hotgen\/originals\/\.envrc: is a symlink; hotgen does not write or remove through symlinks/,
    setup: async (ws, out) => {
      await writeFile(path.join(out, 'victim.txt'), 'export SECRET=1\n');
      await mkdir(path.join(ws, ORIGINALS_DIR));
      await symlink(path.join(out, 'victim.txt'), path.join(ws, ORIGINALS_DIR, '.envrc'));
      await stateWith(ws, (s) => {
        const f = (s.files as { path: string; action: string; originalSha?: string }[]).find((x) => x.path === '.envrc')!;
        f.action = 'edited';
        f.originalSha = 'a'.repeat(64);
      });
    },
  },
  {
    name: 'the originals directory is a symlink to a directory outside', from: 'post', args: ['eject'], message: /^hotgen: \.hotgen\/originals\/\.envrc: leads outside the workspace through a symlink/,
    setup: async (ws, out) => {
      await mkdir(path.join(out, 'orig'));
      await writeFile(path.join(out, 'orig/.envrc'), 'export SECRET=1\n');
      await symlink(path.join(out, 'orig'), path.join(ws, ORIGINALS_DIR));
      await stateWith(ws, (s) => {
        const f = (s.files as { path: string; action: string; originalSha?: string }[]).find((x) => x.path === '.envrc')!;
        f.action = 'edited';
      });
    },
  },
  {
    name: 'a journal naming a path outside the workspace', from: 'post', args: INIT, message: /^hotgen: \.hotgen\/journal\/journal\.json: corrupt hotgen state: path "\.\.\/outside\/victim\.txt" is not a normalised path/,
    setup: async (ws) => {
      await mkdir(path.join(ws, JOURNAL_DIR));
      await writeFile(path.join(ws, JOURNAL_DIR, 'journal.json'), JSON.stringify({ version: 1, command: 'init', pid: 1, entries: [{ rel: '../outside/victim.txt' }], dirs: [] }));
    },
  },
  {
    name: 'a journal that is not JSON', from: 'post', args: ['eject'], message: /^hotgen: \.hotgen\/journal\/journal\.json: corrupt journal of an interrupted hotgen command/,
    setup: async (ws) => {
      await mkdir(path.join(ws, JOURNAL_DIR));
      await writeFile(path.join(ws, JOURNAL_DIR, 'journal.json'), '{"version": 1, "entries": [');
    },
  },
];

describe('hostile state: refused with one line, exit 1, nothing changed inside or outside', () => {
  it.for(CASES)('$name', async (c) => {
    await using base = await tempDir('hostile');
    const t = await templates();
    const ws = path.join(base.path, 'ws');
    const outside = path.join(base.path, 'outside');
    await mkdir(outside);
    await cp(c.from === 'pre' ? t.pre : t.post, ws, { recursive: true, verbatimSymlinks: true });
    await c.setup(ws, outside);
    const before = { ws: await everything(ws), out: await everything(outside), outMode: (await stat(outside)).mode };
    const r = await hotgen(ws, ...c.args);
    expect(r.stderr.split('\n')[0]).toMatch(c.message);
    expect(r.code).toBe(c.code ?? 1);
    expect(await everything(ws)).toEqual(before.ws);
    expect(await everything(outside)).toEqual(before.out);
    for (const d of ['outside', 'outside/state-dir']) {
      const st = await stat(path.join(base.path, d)).catch(() => undefined);
      if (d === 'outside') expect(st!.mode).toBe(before.outMode);
      else if (st) expect(st.mode & 0o777).toBe(0o755);
    }
  });
});

const isRoot = process.getuid?.() === 0;

describe('other users and full or read-only file systems', () => {
  it.skipIf(skipUnless(isRoot ? undefined : 'needs root (useradd, chown)'))(".hotgen owned by another user (useradd) is refused, even with a crafted `..` entry: root's eject writes nothing", async () => {
    if (!execFileSync('getent', ['passwd'], { encoding: 'utf8' }).includes('hotgen-other:')) execFileSync('useradd', ['--system', '--no-create-home', 'hotgen-other']);
    const uid = Number(execFileSync('id', ['-u', 'hotgen-other'], { encoding: 'utf8' }));
    await using base = await tempDir('otheruser');
    const t = await templates();
    const ws = path.join(base.path, 'ws');
    const outside = path.join(base.path, 'root-only');
    await mkdir(outside, { mode: 0o700 });
    await cp(t.post, ws, { recursive: true });
    await stateWith(ws, (s) => { firstCreated(s).path = '../root-only/planted'; });
    execFileSync('chown', ['-R', `${uid}:${uid}`, path.join(ws, '.hotgen')]);
    const before = { ws: await everything(ws), out: await everything(outside) };
    for (const args of [['eject'], INIT]) {
      const r = await hotgen(ws, ...args);
      expect(r.stderr.split('\n')[0]).toBe(`hotgen: .hotgen: is owned by uid ${uid}, not by you (uid 0); hotgen will not use it`);
      expect(r.code).toBe(1);
    }
    expect(await everything(ws)).toEqual(before.ws);
    expect(await everything(outside)).toEqual(before.out);
    expect((await stat(path.join(ws, '.hotgen'))).uid).toBe(uid);
  });

  /** A tmpfs of `kib` KiB holding a copy of `from`, unmounted by `await using`. */
  async function tmpfs(from: string, kib: number): Promise<{ path: string } & AsyncDisposable> {
    const mnt = await tempDir('tmpfs');
    await run('mount', ['-t', 'tmpfs', '-o', `size=${kib}k`, 'tmpfs', mnt.path]);
    await cp(from, path.join(mnt.path, 'ws'), { recursive: true });
    return {
      path: path.join(mnt.path, 'ws'),
      async [Symbol.asyncDispose]() {
        await run('umount', [mnt.path], { allowFailure: true });
        await mnt[Symbol.asyncDispose]();
      },
    };
  }
  const canMount = isRoot ? undefined : 'needs root (mount -t tmpfs)';

  it.skipIf(skipUnless(canMount))('disk full at every point of init and eject: exit 1 naming ENOSPC and the file, the tree as before, no temp file', async () => {
    const t = await templates();
    const outcomes = new Set<string>();
    for (const [from, args] of [['pre', INIT], ['post', ['eject']]] as const) {
      // From nothing free to enough for the whole command (a page is 4 KiB; init writes about 10 files).
      for (const freePages of [0, 1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 24, 64]) {
        await using fs1 = await tmpfs(from === 'pre' ? t.pre : t.post, 256);
        const before = await everything(fs1.path);
        const free = Number(execFileSync('df', ['--output=avail', '-B1', fs1.path], { encoding: 'utf8' }).split('\n')[1]);
        await writeFile(path.join(fs1.path, '..', 'filler'), Buffer.alloc(Math.max(0, free - freePages * 4096)));
        const r = await hotgen(fs1.path, ...args);
        expect(r.stderr).not.toMatch(/internal error/);
        if (r.code === 0) {
          outcomes.add('done');
          continue;
        }
        outcomes.add('refused');
        expect(r.code).toBe(1);
        expect(r.stderr.split('\n')[0]).toMatch(/^hotgen: \S+: no space left on device \(ENOSPC in \w+\)$/);
        expect(await everything(fs1.path), `${args[0]} with ${freePages} pages free`).toEqual(before);
      }
    }
    expect([...outcomes].sort()).toEqual(['done', 'refused']);
  }, 300_000);

  it.skipIf(skipUnless(canMount))('a read-only file system: init and eject exit 1 naming EROFS, nothing changed', async () => {
    const t = await templates();
    for (const [from, args] of [['pre', INIT], ['post', ['eject']]] as const) {
      await using ro = await tmpfs(from === 'pre' ? t.pre : t.post, 1024);
      const before = await everything(ro.path);
      await run('mount', ['-o', 'remount,ro', path.dirname(ro.path)]);
      const r = await hotgen(ro.path, ...args);
      expect(r.stderr.split('\n')[0]).toMatch(/^hotgen: \S+: (read-only file system \(EROFS in \w+\)|is not writable \(nothing was changed\))$/);
      expect(r.code).toBe(1);
      expect(await everything(ro.path)).toEqual(before);
    }
  }, 120_000);

  it('a read-only workspace directory for a non-root user is refused before the first write', async () => {
    await using base = await tempDir('rodir');
    const t = await templates();
    const ws = path.join(base.path, 'ws');
    await cp(t.pre, ws, { recursive: true });
    await chmod(path.join(ws, 'crates/app/src'), 0o555);
    // As root the mode alone is no obstacle (CAP_DAC_OVERRIDE); chattr +i is what stops root.
    if (isRoot) execFileSync('chattr', ['+i', path.join(ws, 'crates/app/src')]);
    try {
      const before = await everything(ws);
      const r = await hotgen(ws, ...INIT);
      expect(r.stderr.split('\n')[0]).toBe('hotgen: crates/app/src/hotgen_entry.rs: the directory of this file is not writable (nothing was changed)');
      expect(r.code).toBe(1);
      expect(await everything(ws)).toEqual(before);
    } finally {
      if (isRoot) execFileSync('chattr', ['-i', path.join(ws, 'crates/app/src')]);
      await chmod(path.join(ws, 'crates/app/src'), 0o755);
    }
  });
});

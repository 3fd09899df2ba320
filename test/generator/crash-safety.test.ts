/**
 * Crash and race safety of `init` and `eject` through the real CLI: each run SIGKILLed
 * at a random moment leaves a tree that the next `init` (or `eject`) brings to exactly
 * the post-init (or pre-init) bytes, with no temp file left; concurrent runs take turns
 * on the workspace lock, and a run that cannot get it names the holder's pid.
 */
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { open, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { koffi } from '../../common/ffi.js';
import { LOCK_FILE } from '../../common/layout.js';
import { hashTree, tempDir, writeTree } from '../helpers/tree.js';
import { hotgen } from './cli.js';
import { smallTree } from './fixtures/small.js';

const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../dist/cli/hotgen.js');
const KILLS = Number(process.env.HOTGEN_KILL_LOOP ?? 50);
const INIT_ARGS = ['init', '--entry', 'app', '--listen', '127.0.0.1:8080'];

/** Every file under the workspace except build outputs, `.hotgen/` included. */
const snapshot = (dir: string) => hashTree(dir, ['target']);

/** Spawns `hotgen ...args` and SIGKILLs it after `delayMs`; resolves when it is gone. */
function runAndKill(cwd: string, args: string[], delayMs: number): Promise<{ killed: boolean }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd, stdio: 'ignore', env: { ...process.env, NO_COLOR: '1' } });
    const timer = setTimeout(() => child.kill('SIGKILL'), delayMs);
    child.on('exit', (_code, signal) => {
      clearTimeout(timer);
      resolve({ killed: signal === 'SIGKILL' });
    });
  });
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

/** A kill moment: anywhere in the run, but half of them in its last 40 %, where the writes are. */
function killAt(runMs: number, i: number): number {
  return i % 2 === 0 ? Math.random() * runMs * 1.05 : runMs * (0.6 + Math.random() * 0.45);
}

describe('a SIGKILL at any moment', () => {
  it(`init killed ${KILLS} times and eject killed ${KILLS} times: the next run restores exact bytes, no temp file left`, async () => {
    await using dir = await tempDir('killloop');
    await writeTree(dir.path, smallTree());
    const pre = await snapshot(dir.path);
    let initMs = await timed(async () => expect((await hotgen(dir.path, ...INIT_ARGS)).code).toBe(0));
    const post = await snapshot(dir.path);
    expect(Object.keys(post)).toContain('hotgen.yaml');
    let ejectMs = await timed(async () => expect((await hotgen(dir.path, 'eject')).code).toBe(0));
    expect(await snapshot(dir.path)).toEqual(pre);

    let killedMidway = 0;
    for (let i = 0; i < KILLS; i++) {
      const { killed } = await runAndKill(dir.path, INIT_ARGS, killAt(initMs, i));
      if (killed) killedMidway++;
      initMs = (initMs * 3 + (await timed(async () => expect((await hotgen(dir.path, ...INIT_ARGS)).stderr).not.toMatch(/internal error/)))) / 4;
      expect(await snapshot(dir.path), `init killed in run ${i}, then init`).toEqual(post);
      expect((await hotgen(dir.path, 'eject')).code).toBe(0);
      expect(await snapshot(dir.path), `eject after run ${i}`).toEqual(pre);
    }
    expect((await hotgen(dir.path, ...INIT_ARGS)).code).toBe(0);
    for (let i = 0; i < KILLS; i++) {
      const { killed } = await runAndKill(dir.path, ['eject'], killAt(ejectMs, i));
      if (killed) killedMidway++;
      const t = performance.now();
      const r = await hotgen(dir.path, 'eject');
      ejectMs = (ejectMs * 3 + performance.now() - t) / 4;
      // An eject that completed before the kill leaves nothing to eject: the tree is already pre-init.
      if (r.code !== 0) expect(r.stderr).toMatch(/^hotgen: nothing to eject/);
      expect(await snapshot(dir.path), `eject killed in run ${i}, then eject`).toEqual(pre);
      expect((await hotgen(dir.path, ...INIT_ARGS)).code).toBe(0);
      expect(await snapshot(dir.path), `init after run ${i}`).toEqual(post);
    }
    // Most kills must land while the command runs, or the loop proves little.
    expect(killedMidway).toBeGreaterThan(KILLS);
  }, 900_000);
});

describe('one writer at a time', () => {
  it('six concurrent inits and ejects on one workspace end in exactly the post-init or the pre-init tree', async () => {
    await using dir = await tempDir('concurrent');
    await writeTree(dir.path, smallTree());
    const pre = await snapshot(dir.path);
    expect((await hotgen(dir.path, ...INIT_ARGS)).code).toBe(0);
    const post = await snapshot(dir.path);
    expect((await hotgen(dir.path, 'eject')).code).toBe(0);
    for (let round = 0; round < 3; round++) {
      const runs = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => hotgen(dir.path, ...(i % 3 === 2 ? ['eject'] : INIT_ARGS))));
      for (const r of runs) {
        expect(r.stderr).not.toMatch(/internal error/);
        if (r.code !== 0) expect(r.stderr).toMatch(/^hotgen: (nothing to eject|\.hotgen\/lock: is held by hotgen (init|eject) \(pid \d+\))/);
      }
      const now = await snapshot(dir.path);
      expect([pre, post]).toContainEqual(now);
      expect((await hotgen(dir.path, ...INIT_ARGS)).code).toBe(0);
      expect(await snapshot(dir.path)).toEqual(post);
      expect((await hotgen(dir.path, 'eject')).code).toBe(0);
    }
  }, 300_000);

  it('a command that cannot get the lock within 2 s refuses, naming the holder pid, and changes nothing', async () => {
    await using dir = await tempDir('lockheld');
    await writeTree(dir.path, smallTree());
    expect((await hotgen(dir.path, ...INIT_ARGS)).code).toBe(0);
    const before = await snapshot(dir.path);
    // Hold the lock from this process exactly as a running command would.
    const fh = await open(path.join(dir.path, LOCK_FILE), 'r+');
    const flock = koffi().load('libc.so.6').func('int flock(int fd, int op)') as (fd: number, op: number) => number;
    expect(flock(fh.fd, 2 | 4)).toBe(0);
    await writeFile(path.join(dir.path, LOCK_FILE), JSON.stringify({ pid: 424242, command: 'dev' }) + '\n');
    try {
      for (const args of [INIT_ARGS, ['eject']]) {
        const r = await hotgen(dir.path, ...args);
        expect(r.code).toBe(1);
        expect(r.stderr.split('\n')[0]).toBe('hotgen: .hotgen/lock: is held by hotgen dev (pid 424242); hotgen runs one init, eject or dev at a time in a workspace');
      }
      expect((await snapshot(dir.path))[LOCK_FILE]).toBeDefined();
      const { [LOCK_FILE]: _held, ...rest } = await snapshot(dir.path);
      const { [LOCK_FILE]: _was, ...restBefore } = before;
      expect(rest).toEqual(restBefore);
    } finally {
      await fh.close();
    }
    expect((await hotgen(dir.path, 'eject')).code).toBe(0);
  }, 60_000);
});

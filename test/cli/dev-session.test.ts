/**
 * The conventions on a running session: `hotgen dev --no-watch` on a tiny initialised
 * workspace (real cargo, real dlopen in the host), in JSON mode and in human mode, and
 * `hotgen reload` against it in all four modes (human/--json × colour allowed/NO_COLOR=1).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { tempDir, writeTree } from '../helpers/tree.js';
import { skipUnless, tools } from '../helpers/tools.js';
import { CLI, MODES, cliBuilt, cliEnv, expectConventions, hotgen, tinyWorkspace, type Mode } from './run.js';

/** `hotgen dev --no-watch [--json]` with its output collected. */
class Dev {
  stdout = '';
  stderr = '';
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  constructor(root: string, mode: Mode) {
    const args = [CLI, 'dev', '--no-watch', ...(mode.json ? ['--json'] : [])];
    this.child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: cliEnv(mode.noColor) });
    this.exited = new Promise((r) => this.child.once('exit', (code) => r(code)));
    this.child.stdout!.setEncoding('utf8').on('data', (c: string) => (this.stdout += c));
    this.child.stderr!.setEncoding('utf8').on('data', (c: string) => (this.stderr += c));
  }
  /** Waits until stdout matches `re` (the first build included). */
  async until(re: RegExp, timeoutMs = 240_000): Promise<void> {
    const t0 = Date.now();
    while (!re.test(this.stdout)) {
      if (this.child.exitCode !== null || Date.now() - t0 > timeoutMs) {
        throw new Error(`hotgen dev (exit ${this.child.exitCode}) never printed ${re}\nstdout:\n${this.stdout}\nstderr:\n${this.stderr.slice(-3000)}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  /** SIGTERM (quit) and the exit code. */
  async quit(): Promise<number | null> {
    if (this.child.exitCode === null) this.child.kill('SIGTERM');
    return this.exited;
  }
}

describe.skipIf((!cliBuilt && skipUnless('dist/cli/hotgen.js missing (run npx tsc -p .)')) || skipUnless(tools.nightly(), tools.mold()))('hotgen dev and hotgen reload on a running session', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let root: string;
  let dev: Dev | undefined;

  beforeAll(async () => {
    tmp = await tempDir('cli-session');
    root = path.join(tmp.path, 'ws');
    await writeTree(root, tinyWorkspace(1));
    const init = await hotgen(root, ['init', '--listen', '127.0.0.1:0']);
    expect(init.code, init.stderr).toBe(0);
  });
  afterAll(async () => {
    await dev?.quit();
    await tmp?.[Symbol.asyncDispose]();
  });

  it('--json: stdout is JSON events only (listening, start, ...quit); reload answers in every mode', async () => {
    dev = new Dev(root, MODES[2]);
    await dev.until(/"event":"start"/);
    // A real change first, so one answer is a real swap.
    await writeFile(path.join(root, 'base/src/lib.rs'), 'pub fn value() -> u32 { 2 }\n');
    for (const mode of MODES) {
      const r = await hotgen(root, ['reload'], mode);
      const events = expectConventions(r, 'hotgen reload', mode, 0);
      if (mode.json) {
        expect(events).toHaveLength(1);
        expect(events[0]).toMatchObject({ event: 'reload-answer', ok: true, report: { kind: expect.stringMatching(/^(reload|none)$/) } });
      } else expect(r.stdout).toMatch(/^(reloaded \d+ modules? \(.*\) in \d+(\.\d)? ms|nothing changed); build \d+\.\d s( \([^)]*\))?(; noticed \+\d+ ms)?\n$/);
    }
    const status = await hotgen(root, ['reload', '--status'], MODES[3]);
    expect(expectConventions(status, 'hotgen reload --status', MODES[3], 0)).toEqual([
      expect.objectContaining({ event: 'status', ok: true, status: expect.objectContaining({ generation: expect.any(Number) }) }),
    ]);
    expect(await dev.quit()).toBe(0);
    const events = expectConventions({ code: 0, stdout: dev.stdout, stderr: dev.stderr }, 'hotgen dev --json', MODES[2], 0);
    expect(events[0]).toMatchObject({ event: 'listening', addresses: [expect.stringMatching(/^127\.0\.0\.1:\d+$/)] });
    expect(events.map((e) => e.event)).toContain('start');
    expect(events.filter((e) => e.event === 'reload')).toEqual([expect.objectContaining({ modules: ['base', 'app'], unloaded: ['app', 'base'] })]);
    expect(events.at(-1)).toEqual({ event: 'quit' });
    dev = undefined;
  });

  it('human mode with NO_COLOR: one line per cycle, no escapes, and `hotgen reload` answers', async () => {
    dev = new Dev(root, MODES[1]);
    await dev.until(/^started 2 modules \(base, app\)/m);
    expect(dev.stdout).toMatch(/^hotgen dev: listening on 127\.0\.0\.1:\d+; SIGINT reloads, SIGTERM quits$/m);
    const r = await hotgen(root, ['reload'], MODES[0]);
    expectConventions(r, 'hotgen reload', MODES[0], 0);
    expect(r.stdout).toMatch(/^nothing changed; build \d+\.\d s\n$/);
    expect(await dev.quit()).toBe(0);
    expectConventions({ code: 0, stdout: dev.stdout, stderr: dev.stderr }, 'hotgen dev', MODES[1], 0);
    expect(dev.stdout).toMatch(/^hotgen dev: stopped$/m);
    dev = undefined;
  });
});

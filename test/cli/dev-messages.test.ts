/**
 * What `hotgen dev` says, in text mode, on a one-crate workspace through the real CLI:
 * an honest line when the first build fails (nothing is served yet), `1 module` in the
 * singular, the compiler's warnings in full when the crate is rebuilt and as one count
 * when cargo replays them from its cache (all of them with --verbose), and a first
 * generation that panics at once reported as such, with no roll-back to a build that
 * never existed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { tempDir, writeTree } from '../helpers/tree.js';
import { skipUnless, tools } from '../helpers/tools.js';
import { cli, hotgen, toolchainEnv } from '../loader/fixtures/dev-session.js';

const LIB = `fn unused_helper() -> u32 { 7 }

pub fn answer() -> u32 { 42 }

#[cfg(hotgen)]
#[rustfmt::skip]
mod hotgen_entry;

#[cfg(hotgen)]
fn hotgen_run(ctx: &hotgen_entry::Context) -> i32 {
    if std::env::var_os("PANIC_AT_START").is_some() {
        panic!("the app panicked at start");
    }
    println!("app: generation {} up", ctx.generation());
    while !ctx.wait_stop(None) {}
    0
}
`;

/** A text-mode `hotgen dev --no-watch` whose stdout and stderr are collected; `until` waits for a pattern. */
class TextDev {
  out = '';
  readonly child;
  readonly exited: Promise<number | null>;
  constructor(root: string, flags: string[], env: NodeJS.ProcessEnv) {
    this.child = spawn(process.execPath, [cli, 'dev', '--no-watch', ...flags], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1', ...env } });
    for (const s of [this.child.stdout!, this.child.stderr!]) s.setEncoding('utf8').on('data', (c: string) => (this.out += c));
    this.exited = new Promise((r) => this.child.once('exit', (code) => r(code)));
  }
  async until(pattern: RegExp, timeoutMs = 240_000): Promise<string> {
    const t0 = Date.now();
    while (!pattern.test(this.out)) {
      if (this.child.exitCode !== null) throw new Error(`hotgen dev exited (${this.child.exitCode}) before ${pattern}:\n${this.out}`);
      if (Date.now() - t0 > timeoutMs) throw new Error(`no ${pattern} within ${timeoutMs} ms:\n${this.out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    return this.out;
  }
  async quit(): Promise<string> {
    this.child.kill('SIGTERM');
    expect(await this.exited).toBe(0);
    return this.out;
  }
}

describe.skipIf(skipUnless(tools.nightly()))('hotgen dev messages (text mode, real cargo)', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let root: string;
  const env = () => toolchainEnv();

  beforeAll(async () => {
    dir = await tempDir('messages');
    root = path.join(dir.path, 'ws');
    await writeTree(root, {
      'Cargo.toml': '[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\n\n[lib]\n',
      'src/lib.rs': LIB.replace('pub fn answer() -> u32 { 42 }', 'pub fn answer() -> u32 { "not a number" }'),
    });
    const init = await hotgen(root, ['init', '--linker', 'default'], env());
    expect(init.code, init.stderr).toBe(0);
  });
  afterAll(async () => dir?.[Symbol.asyncDispose]());

  it('a first build that fails says nothing runs yet; the rebuilt crate shows its warning in full; 1 module', async () => {
    const dev = new TextDev(root, [], env());
    const failed = await dev.until(/build failed in \d+\.\d s.*\n/);
    expect(failed).toMatch(/build failed in \d+\.\d s; nothing runs yet: fix the errors and save \(or CTRL\+C\)\n/);
    expect(failed).not.toMatch(/still serving/);
    expect(failed).toMatch(/error\[E0308\]: mismatched types/);
    await writeFile(path.join(root, 'src/lib.rs'), LIB);
    process.kill(dev.child.pid!, 'SIGINT');
    const started = await dev.until(/app: generation 1 up/);
    expect(started).toMatch(/started 1 module \(app\) in \d/);
    expect(started).toMatch(/warning: function `unused_helper` is never used/);
    expect(started).not.toMatch(/warnings? from cargo in crates it did not rebuild/);
    expect(started).not.toMatch(/generated 1 warning/);
    await dev.quit();
  });

  it('a later start summarises the cached warning in one line; --verbose shows it in full', async () => {
    const quiet = new TextDev(root, [], env());
    const text = await quiet.until(/app: generation 1 up/);
    expect(text).toMatch(/^1 warning from cargo in crates it did not rebuild; --verbose shows them$/m);
    expect(text).not.toMatch(/unused_helper/);
    await quiet.quit();
    const loud = new TextDev(root, ['--verbose'], env());
    const all = await loud.until(/app: generation 1 up/);
    expect(all).toMatch(/warning: function `unused_helper` is never used/);
    expect(all).not.toMatch(/warnings? from cargo in crates it did not rebuild/);
    await loud.quit();
  });

  it('a first generation that panics at start is reported as a panic, with no roll-back to a build that never ran', async () => {
    const dev = new TextDev(root, [], { ...env(), PANIC_AT_START: '1' });
    const text = await dev.until(/waiting for a change/, 120_000);
    expect(text).toMatch(/the app panicked at start/);
    expect(text).toMatch(/generation 1 ended with code 101 \(a panic\)/);
    expect(text).not.toMatch(/rolled back/);
    await dev.quit();
    expect(await readFile(path.join(root, 'src/lib.rs'), 'utf8')).toBe(LIB);
  });
});

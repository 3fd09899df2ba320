/**
 * Safe generation (issue 9, point 5) and the entry's `[lib] path` confinement, through
 * the real CLI on workspaces read by real `cargo metadata`: crate directories and a
 * workspace root named with newlines, quotes, `$(...)`, backticks and `${...}` give a
 * shim that compiles (rustc) with the name only inside a string literal, a hotgen.yaml
 * that reads back the same paths, a flake whose description Nix evaluates to the exact
 * name, and `hotgen env` output and a linker wrapper that sh runs without executing
 * anything from the name. An entry library outside the workspace (by `path = "../..."`
 * or through a symlinked directory) is refused naming its Cargo.toml, nothing written.
 * The escapers themselves round-trip through rustc, the YAML and the TOML parser.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmod, lstat, mkdir, readdir, readFile, readlink, symlink, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { parseToml, YAML } from '../../common/deps-config.js';
import { run } from '../../common/exec.js';
import { readPlan } from '../../common/plan-read.js';
import { renderFiles } from '../../generator/render.js';
import { entrySnippet } from '../../generator/render-impl.js';
import { rustString, tomlKey, yamlScalar } from '../../generator/escape.js';
import { linkerEnvVar, hostTriple, targetLibdir } from '../../common/toolchain.js';
import { skipUnless, tools } from '../helpers/tools.js';
import { tempDir, writeTree, type Tree } from '../helpers/tree.js';
import { NixEnv, nixMissing } from '../nix/nixenv.js';
import { fixtureGraph, fixturePlan } from '../nix/fixtures.js';
import { hotgen } from './cli.js';

/** A workspace whose only member, `app` (a library), lives in `crates/<dir>`. */
function memberIn(dir: string, extra: Tree = {}): Tree {
  return {
    'Cargo.toml': '[workspace]\nresolver = "2"\nmembers = ["crates/*"]\n',
    [`crates/${dir}/Cargo.toml`]: '[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\n',
    [`crates/${dir}/src/lib.rs`]: 'pub fn answer() -> u32 { 42 }\n',
    ...extra,
  };
}

/** Every file name under `dir` (recursively), to look for files a command must not create. */
async function names(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) out.push(e.name);
  return out;
}

/** sha256 of every file under `dir` and the target of every symlink (hashTree would follow a link to a directory). */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    const file = path.join(e.parentPath, e.name);
    const rel = path.relative(dir, file);
    if ((await lstat(file)).isSymbolicLink()) out[rel] = `-> ${await readlink(file)}`;
    else if (e.isFile()) out[rel] = createHash('sha256').update(await readFile(file)).digest('hex');
  }
  return out;
}

/** The shim's lines for a plain path, from the same template: only line 4 may differ. */
const plainShim = renderFiles(fixturePlan(), fixtureGraph('/ws'), { flakeExists: false }).files.find((f) => f.kind === 'entry-shim')!.content.split('\n');

describe.skipIf(skipUnless(tools.cargo()))('generated files escape crate directory names', () => {
  let tmp: { path: string } & AsyncDisposable;
  let n = 0;
  beforeAll(async () => {
    tmp = await tempDir('escape');
  });
  afterAll(async () => tmp?.[Symbol.asyncDispose]());

  /**
   * Inits a workspace with `app` in `crates/<dir>`; checks the shim (the path only as a
   * Rust string literal or inline code in its doc comment, every other line the
   * template's), compiles it with the snippet added to lib.rs (`--cfg hotgen`), reads
   * hotgen.yaml back, and finds no file the name's shell code would have created.
   */
  async function initWithMemberIn(dir: string, docForm: 'literal' | 'code'): Promise<void> {
    const root = path.join(tmp.path, `ws-${++n}`);
    await writeTree(root, memberIn(dir));
    const r = await hotgen(root, 'init');
    expect(r.code, r.stderr).toBe(0);
    const crate = path.join(root, 'crates', dir);
    const shim = (await readFile(path.join(crate, 'src', 'hotgen_entry.rs'), 'utf8')).split('\n');
    const libPath = `crates/${dir}/src/lib.rs`;
    const shown = docForm === 'literal' ? JSON.stringify(libPath) : '`' + libPath + '`';
    expect(shim[3]).toBe(`//! What you add to ${shown} (the one function you write is \`hotgen_run\`):`);
    expect([...shim.slice(0, 3), ...shim.slice(4)]).toEqual([...plainShim.slice(0, 3), ...plainShim.slice(4)]);

    await writeFile(path.join(crate, 'src', 'lib.rs'), 'pub fn answer() -> u32 { 42 }\n' + entrySnippet().join('\n') + '\n');
    const out = path.join(tmp.path, `rustc-${n}`);
    await mkdir(out);
    const rustc = await run('rustc', ['--edition', '2021', '--crate-type', 'lib', '--crate-name', 'app', '--cfg', 'hotgen', '--emit', 'metadata', '--out-dir', out, path.join(crate, 'src', 'lib.rs')], {
      allowFailure: true,
    });
    expect(rustc.code, rustc.stderr).toBe(0);

    const plan = await readPlan(root);
    expect(plan.crates.find((c) => c.name === 'app')!.src).toEqual([`crates/${dir}/src`]);
    const ci = await hotgen(root, 'ci', '--github', '--dry-run');
    expect(ci.code, ci.stderr).toBe(0);
    expect(await names(tmp.path)).not.toContain('pwned');

    // hotgen's state records the path as it is: a second init changes nothing, and eject
    // (lib.rs restored first: the snippet is the user's edit) brings back the exact tree.
    await writeFile(path.join(crate, 'src', 'lib.rs'), 'pub fn answer() -> u32 { 42 }\n');
    const again = await hotgen(root, 'init');
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/nothing to change/);
    const ej = await hotgen(root, 'eject');
    expect(ej.code, ej.stderr).toBe(0);
    const { 'Cargo.lock': _lock, ...left } = await snapshot(root);
    expect(left).toEqual(Object.fromEntries(Object.entries(memberIn(dir)).map(([rel, c]) => [rel, createHash('sha256').update(c).digest('hex')])));
  }

  it('a crate directory named with a newline and Rust code after it: the code stays in a string literal', () =>
    initWithMemberIn('a\npub fn injected() -> u8 { 0 }\nb', 'literal'));

  it('a crate directory named with double and single quotes and a backslash (harmless in inline code)', () => initWithMemberIn('q"uo\'te\\d', 'code'));

  it('a crate directory named with $(touch pwned) and `touch pwned` (backticks)', () => initWithMemberIn('s$(touch pwned)`touch pwned`', 'literal'));

  it('a crate directory named with ${x} and \'\'${y} (Nix interpolation)', () => initWithMemberIn("n${x}''${y}", 'code'));
});

describe.skipIf(skipUnless(tools.cargo()))('the entry library must be inside the workspace', () => {
  let tmp: { path: string } & AsyncDisposable;
  beforeAll(async () => {
    tmp = await tempDir('confine');
  });
  afterAll(async () => tmp?.[Symbol.asyncDispose]());

  /** `hotgen init` in `root` exits 1 with `first` as its first line, and no byte under `tmp` changes. */
  async function refused(root: string, first: string): Promise<void> {
    const before = await snapshot(tmp.path);
    const r = await hotgen(root, 'init');
    expect(r.code, r.stderr).toBe(1);
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines[0]).toBe(first);
    expect(lines.slice(1)).toEqual(["  Keep the entry crate's `[lib] path` inside the workspace (no symlink out of it), or pick another entry with --entry NAME."]);
    expect(await snapshot(tmp.path)).toEqual(before);
    expect(existsSync(path.join(root, '.hotgen'))).toBe(false);
  }

  it('an entry `[lib] path = "../outside/lib.rs"` is refused naming its Cargo.toml; the outside directory is untouched', async () => {
    const root = path.join(tmp.path, 'lib-path');
    await writeTree(tmp.path, {
      'lib-path/Cargo.toml': '[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\n\n[lib]\npath = "../outside/lib.rs"\n',
      'outside/lib.rs': 'pub fn answer() -> u32 { 42 }\n',
    });
    await refused(root, 'hotgen: Cargo.toml: the entry\'s library file `../outside/lib.rs` is outside the workspace, and hotgen writes hotgen_entry.rs beside it');
  });

  it('an entry whose src directory is a symlink to a directory outside the workspace is refused', async () => {
    const root = path.join(tmp.path, 'symlinked');
    await writeTree(tmp.path, { ...prefixed('symlinked', memberIn('app')), 'elsewhere/lib.rs': 'pub fn answer() -> u32 { 42 }\n' });
    await run('rm', ['-r', path.join(root, 'crates/app/src')]);
    await symlink(path.join(tmp.path, 'elsewhere'), path.join(root, 'crates/app/src'));
    await refused(
      root,
      `hotgen: crates/app/Cargo.toml: the entry's library file \`src/lib.rs\` is in \`${path.join(tmp.path, 'elsewhere')}\` through a symlink, outside the workspace, and hotgen writes hotgen_entry.rs beside it`,
    );
  });

  it('a src symlink to a directory inside the workspace is accepted; the shim lands inside', async () => {
    const root = path.join(tmp.path, 'inside');
    await writeTree(root, { ...memberIn('app'), 'shared/lib.rs': 'pub fn answer() -> u32 { 42 }\n' });
    await run('rm', ['-r', path.join(root, 'crates/app/src')]);
    await symlink('../../shared', path.join(root, 'crates/app/src'));
    const r = await hotgen(root, 'init');
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(path.join(root, 'shared', 'hotgen_entry.rs'))).toBe(true);
  });
});

describe.skipIf(skipUnless(tools.cargo()))('names Cargo refuses are validated, not escaped', () => {
  it('a package name with $(touch pwned) is refused by Cargo\'s rule: one line naming Cargo.toml and the line cargo names, nothing written', async () => {
    await using dir = await tempDir('bad-name');
    await writeTree(dir.path, { 'Cargo.toml': '[package]\nname = "app$(touch pwned)"\nversion = "0.1.0"\nedition = "2021"\n', 'src/lib.rs': '' });
    const before = await snapshot(dir.path);
    const r = await hotgen(dir.path, 'init');
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr.split('\n')[0]).toBe(
      'hotgen: Cargo.toml:2: reading the workspace: invalid character `$` in package name: `app$(touch pwned)`, characters must be Unicode XID characters (numbers, `-`, `_`, or most letters)',
    );
    expect(await snapshot(dir.path)).toEqual(before);
  });
});

/** `tree` with every path under `dir/`. */
function prefixed(dir: string, tree: Tree): Tree {
  return Object.fromEntries(Object.entries(tree).map(([k, v]) => [`${dir}/${k}`, v]));
}

const HOSTILE = 'ws "q" \'s\' $(touch pwned) `touch pwned` ${x} \'\'${y} \\ \n nl';

describe.skipIf(skipUnless(tools.cargo(), tools.nightly(), nixMissing()))('a workspace root and PATH directory with hostile names', () => {
  let tmp: { path: string } & AsyncDisposable;
  let root: string;
  let nix: NixEnv;
  beforeAll(async () => {
    tmp = await tempDir('hostile');
    root = path.join(tmp.path, HOSTILE);
    await writeTree(root, memberIn('app'));
    const r = await hotgen(root, 'init');
    if (r.code !== 0) throw new Error(`hotgen init failed: ${r.stderr}`);
    nix = await NixEnv.create({ toolchains: {} });
  });
  afterAll(async () => {
    await nix?.[Symbol.asyncDispose]();
    await tmp?.[Symbol.asyncDispose]();
  });

  it('flake.nix: Nix evaluates the description to the exact root name', async () => {
    const r = await nix.nix(['eval', '--raw', '-f', 'flake.nix', 'description'], { cwd: root });
    expect(r.stdout).toBe(`${HOSTILE}: Rust dev shell with crate-level hot reloading (hotgen)`);
    expect(await names(tmp.path)).not.toContain('pwned');
  });

  it('`eval "$(hotgen env)"` in sh sets LD_LIBRARY_PATH and the linker to the exact paths and runs nothing from the name', async () => {
    const env = await hotgen(root, 'env');
    expect(env.code, env.stderr).toBe(0);
    const script = path.join(tmp.path, 'env.sh');
    await writeFile(script, env.stdout);
    const linkerVar = linkerEnvVar(hostTriple());
    const r = await run('sh', ['-c', `unset LD_LIBRARY_PATH; . "$1"; printf '%s\\0%s' "$LD_LIBRARY_PATH" "$${linkerVar}"`, 'sh', script], { cwd: tmp.path });
    const [ld, linker] = r.stdout.split('\0');
    expect(ld).toBe(`${await targetLibdir(env.stdout.match(/RUSTUP_TOOLCHAIN=(\S+)/)![1]!)}:${path.join(root, 'target', 'hotgen', 'hot', 'deps')}`);
    expect(linker).toBe(path.join(root, '.hotgen', 'bin', 'hotgen-linker'));
    expect(await names(tmp.path)).not.toContain('pwned');
  });

  it('the linker wrapper quotes a PATH directory named with a newline, quotes and $(...): clang gets the exact arguments', async () => {
    const bin = path.join(tmp.path, 'bin $(touch pwned) "q" \'s\'\n`touch pwned`');
    await mkdir(bin);
    await writeFile(path.join(bin, 'clang'), '#!/bin/sh\nfor a in "$@"; do printf \'%s\\0\' "$a"; done\n');
    await writeFile(path.join(bin, 'ld.mold'), '#!/bin/sh\nexit 0\n');
    await chmod(path.join(bin, 'clang'), 0o755);
    await chmod(path.join(bin, 'ld.mold'), 0o755);
    const env = await run(process.execPath, [path.resolve(__dirname, '../../dist/cli/hotgen.js'), 'env'], {
      cwd: root,
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
    });
    expect(env.stderr).toBe('');
    const wrapper = path.join(root, '.hotgen', 'bin', 'hotgen-linker');
    const r = await run(wrapper, ['-o', 'out file', '$(touch pwned)'], { cwd: tmp.path });
    expect(r.stdout.split('\0')).toEqual([`--ld-path=${path.join(bin, 'ld.mold')}`, '-o', 'out file', '$(touch pwned)', '']);
    expect(await names(tmp.path)).not.toContain('pwned');
  });
});

describe('the escapers round-trip through the real languages', () => {
  const NASTY = ['plain', 'a"b\\c', 'line\nbreak\r\ttab', "it's $(x) ${y} `z`", 'bidi \u202e and \u2066 nul \u0000 del \u007f', 'nel \u0085 ls \u2028 é'];

  it.skipIf(skipUnless(tools.cargo()))('rustString: rustc compiles each literal and the program prints the same bytes', async () => {
    await using dir = await tempDir('rust-str');
    const src = `fn main() {\n${NASTY.map((s) => `    print!("{}\\u{1}", ${rustString(s)});`).join('\n')}\n}\n`;
    await writeFile(path.join(dir.path, 'main.rs'), src);
    await run('rustc', ['--edition', '2021', '-o', path.join(dir.path, 'main'), path.join(dir.path, 'main.rs')], { cwd: dir.path });
    const r = await run(path.join(dir.path, 'main'), []);
    expect(r.stdout.split('\u0001').slice(0, -1)).toEqual(NASTY);
  });

  it('yamlScalar and tomlKey read back as the same string (yaml and toml parsers)', () => {
    for (const s of [...NASTY, 'true', 'null', '- x', 'a: b', 'x #y', ' lead', 'hot profile (x86_64-linux)', '']) {
      expect(YAML.parse(`k: ${yamlScalar(s)}\n`).k, JSON.stringify(s)).toBe(s);
      if (!s.includes('\u0000')) expect(Object.keys((parseToml(`[p.${tomlKey(s)}]\nx = 1\n`) as { p: object }).p), JSON.stringify(s)).toEqual([s]);
    }
    expect(yamlScalar('nix develop --command cargo build --config hotgen/cargo-config.toml --profile hot')).toBe('nix develop --command cargo build --config hotgen/cargo-config.toml --profile hot');
  });
});

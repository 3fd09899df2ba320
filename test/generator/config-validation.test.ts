/**
 * Validated configuration (issue 9, point 4), through the real CLI on a workspace that
 * `hotgen init` set up (real `cargo metadata`): out-of-range, wrong-type and unknown keys
 * in hotgen.yaml, a newer `version`, the one listen-address grammar and the one
 * profile-name rule, and corrupt `crates:` entries read by `hotgen dev`. A refused case
 * exits 1 with exactly one line naming hotgen.yaml, its line and the problem, and leaves
 * every file's bytes as they were (hotgen's state under .hotgen/ included).
 */
import { beforeAll, afterAll, describe, expect, it } from 'vitest';
import { cp, readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { parseToml } from '../../common/deps-config.js';
import { CARGO_CONFIG_FILE } from '../../common/layout.js';
import { skipUnless, tools } from '../helpers/tools.js';
import { hashTree, tempDir, writeTree } from '../helpers/tree.js';
import { hotgen } from './cli.js';
import { smallTree } from './fixtures/small.js';

/** Every file's sha256 but the workspace lock's (its holder rewrites it; common/lock.ts). */
async function hashes(dir: string): Promise<Record<string, string>> {
  const all = await hashTree(dir, ['target']);
  delete all[path.join('.hotgen', 'lock')];
  return all;
}

/** A TCP socket listening on a free port of 127.0.0.1; `await using` closes it. */
async function listening(): Promise<{ port: number } & AsyncDisposable> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    [Symbol.asyncDispose]: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The 1-based line of the first line of `text` that starts with `needle` (indentation ignored). */
function lineOf(text: string, needle: string): number {
  const i = text.split('\n').findIndex((l) => l.trimStart().startsWith(needle.trimStart()));
  if (i < 0) throw new Error(`no line with ${needle}`);
  return i + 1;
}

describe.skipIf(skipUnless(tools.cargo()))('hotgen.yaml validation through the CLI', () => {
  let base: { path: string } & AsyncDisposable;
  let tmp: { path: string } & AsyncDisposable;
  let n = 0;

  beforeAll(async () => {
    base = await tempDir('cfg-base');
    tmp = await tempDir('cfg');
    await writeTree(base.path, smallTree());
    const r = await hotgen(base.path, 'init');
    if (r.code !== 0) throw new Error(`hotgen init failed: ${r.stderr}`);
  });
  afterAll(async () => {
    await base?.[Symbol.asyncDispose]();
    await tmp?.[Symbol.asyncDispose]();
  });

  /** A copy of the initialised workspace with hotgen.yaml edited (the edit must change it, except `(s) => s`); its dir and the new text. */
  async function withPlan(edit: (yaml: string) => string): Promise<{ dir: string; yaml: string }> {
    const dir = path.join(tmp.path, `ws-${++n}`);
    await cp(base.path, dir, { recursive: true });
    const file = path.join(dir, 'hotgen.yaml');
    const before = await readFile(file, 'utf8');
    const yaml = edit(before);
    await writeFile(file, yaml);
    return { dir, yaml };
  }

  const swap = (from: string, to: string) => (s: string) => s.replace(from, to);

  /** `hotgen ...args` in `dir` exits 1 with exactly `message` on stderr and changes no byte. */
  async function refused(dir: string, args: string[], message: string): Promise<void> {
    const before = await hashes(dir);
    const r = await hotgen(dir, ...args);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr.trimEnd()).toBe(message);
    expect(await hashes(dir)).toEqual(before);
  }

  /** Refused by `init` and by `dev` alike (dev checks before it binds or builds anything). */
  async function refusedByInitAndDev(edit: (yaml: string) => string, needle: string, problem: string): Promise<void> {
    const { dir, yaml } = await withPlan(edit);
    const message = `hotgen: hotgen.yaml:${lineOf(yaml, needle)}: ${problem}`;
    await refused(dir, ['init'], message);
    await refused(dir, ['dev', '--no-build', '--no-watch'], message);
  }

  const RANGE = '`stop_timeout_ms` must be a whole number of milliseconds from 100 to 600000, not';

  it('stop_timeout_ms: 3000000000 (past Node\'s 2^31-1 ms timer limit) is refused by init and dev', () =>
    refusedByInitAndDev(swap('stop_timeout_ms: 5000', 'stop_timeout_ms: 3000000000'), 'stop_timeout_ms:', `${RANGE} 3000000000`));

  it('stop_timeout_ms: -1 is refused by init and dev', () =>
    refusedByInitAndDev(swap('stop_timeout_ms: 5000', 'stop_timeout_ms: -1'), 'stop_timeout_ms:', `${RANGE} -1`));

  it('stop_timeout_ms: "abc" (a string) is refused by init and dev', () =>
    refusedByInitAndDev(swap('stop_timeout_ms: 5000', 'stop_timeout_ms: "abc"'), 'stop_timeout_ms:', `${RANGE} \`abc\``));

  it('stop_timeout_ms: 99 (below the range) and 2.5 (not whole) are refused', async () => {
    await refusedByInitAndDev(swap('stop_timeout_ms: 5000', 'stop_timeout_ms: 99'), 'stop_timeout_ms:', `${RANGE} 99`);
    await refusedByInitAndDev(swap('stop_timeout_ms: 5000', 'stop_timeout_ms: 2500.5'), 'stop_timeout_ms:', `${RANGE} 2500.5`);
  });

  it('version: 2 is refused as newer than hotgen understands (not rewritten to 1)', () =>
    refusedByInitAndDev(swap('version: 1', 'version: 2'), 'version:', 'version 2 is newer than this hotgen understands (1); upgrade hotgen to read this file'));

  it('version: "one" (wrong type) is refused', () =>
    refusedByInitAndDev(swap('version: 1', 'version: "one"'), 'version:', '`version` must be 1, not `one`'));

  it('an unknown key is a warning with its line and the nearest known key; init still succeeds', async () => {
    const { dir, yaml } = await withPlan(swap('stop_timeout_ms: 5000', 'stop_timout_ms: 2000'));
    const r = await hotgen(dir, 'init');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr.trimEnd()).toBe(`warning: hotgen.yaml:${lineOf(yaml, 'stop_timout_ms')}: unknown key \`stop_timout_ms\` (did you mean \`stop_timeout_ms\`?)`);
    // The typo is kept for the user to fix; the real key gets its default.
    const after = await readFile(path.join(dir, 'hotgen.yaml'), 'utf8');
    expect(after).toContain('stop_timout_ms: 2000');
    expect(after).toMatch(/^stop_timeout_ms: 5000$/m);
  });

  it('an unknown key with no near known key lists the known keys', async () => {
    const { dir, yaml } = await withPlan((s) => s + 'colour: blue\n');
    const r = await hotgen(dir, 'init', '--dry-run');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr.trimEnd()).toBe(
      `warning: hotgen.yaml:${lineOf(yaml, 'colour')}: unknown key \`colour\` (known keys: version, entry, frozen, exclude, listen, linker, channel, profile, stop_timeout_ms, app, crates)`,
    );
  });

  it('listen 1.2.3.4:70000 is refused at init, from the flag and from hotgen.yaml, and by dev', async () => {
    const problem = 'invalid listen address `1.2.3.4:70000`: the port 70000 is out of range (0 to 65535; 0 picks a free port)';
    await refused(base.path, ['init', '--listen', '1.2.3.4:70000'], `hotgen: ${problem}`);
    await refusedByInitAndDev(swap('listen: []', 'listen: [ 1.2.3.4:70000 ]'), 'listen:', problem);
  });

  it('listen: an unbracketed IPv6 address, a bad IPv4 address and a host with a space are refused, naming the problem', async () => {
    await refused(base.path, ['init', '--listen', '::1:8080'], 'hotgen: invalid listen address `::1:8080`: write an IPv6 address in brackets, e.g. [::1]:8080');
    await refused(base.path, ['init', '--listen', '1.2.3.400:80'], 'hotgen: invalid listen address `1.2.3.400:80`: `1.2.3.400` is not an IPv4 address');
    await refused(base.path, ['init', '--listen', 'my host:80'], 'hotgen: invalid listen address `my host:80`: `my host` is not a host name or IP address');
    await refused(base.path, ['init', '--listen', '[::1]:http'], 'hotgen: invalid listen address `[::1]:http`: the port `http` is not a number from 0 to 65535');
  });

  it('listen: [::1]:8080, localhost:0 and 0.0.0.0:65535 are accepted by the same grammar', async () => {
    const before = await hashes(base.path);
    const r = await hotgen(base.path, 'init', '--dry-run', '--listen', '[::1]:8080,localhost:0,0.0.0.0:65535');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('+listen: [ "[::1]:8080", localhost:0, 0.0.0.0:65535 ]');
    expect(await hashes(base.path)).toEqual(before);
  });

  it('a key of the wrong type is refused naming the key and its line', async () => {
    await refusedByInitAndDev(swap('frozen: []', 'frozen: 5'), 'frozen:', '`frozen` must be a list of strings, not 5');
    await refusedByInitAndDev(swap('listen: []', 'listen: "127.0.0.1:8080"'), 'listen:', '`listen` must be a list of strings, not `127.0.0.1:8080`');
    await refusedByInitAndDev(swap('linker: mold', 'linker: 7'), 'linker:', '`linker` must be a string, not 7');
    await refusedByInitAndDev(swap('linker: mold', 'linker: bfd'), 'linker:', 'unknown linker `bfd` (expected one of mold, lld, gold, default)');
  });

  it('profile names follow Cargo\'s rule: built-in, reserved, bad characters and newlines refused', async () => {
    await refused(base.path, ['init', '--profile', 'release'], "hotgen: profile `release` is one of Cargo's built-in profiles; use `dev` or a name of your own (e.g. `hot`)");
    await refused(base.path, ['init', '--profile', 'cargo-fast'], 'hotgen: profile name `cargo-fast` is reserved by Cargo; choose another name');
    await refused(base.path, ['init', '--profile', 'Debug'], 'hotgen: profile name `Debug` is reserved by Cargo; choose another name');
    await refused(base.path, ['init', '--profile', 'hot$(touch x)'], 'hotgen: invalid character `$` in profile name `hot$(touch x)`: Cargo allows letters, numbers, `_` and `-`');
    await refusedByInitAndDev(swap('profile: hot', 'profile: "hot\\nx"'), 'profile:', 'invalid character `\\n` in profile name `hot\\nx`: Cargo allows letters, numbers, `_` and `-`');
  });

  it('a profile name with non-ASCII letters (valid for Cargo) is written as a quoted TOML key', async () => {
    const { dir } = await withPlan((s) => s);
    const r = await hotgen(dir, 'init', '--profile', 'héé-2');
    expect(r.code, r.stderr).toBe(0);
    const config = await readFile(path.join(dir, CARGO_CONFIG_FILE), 'utf8');
    expect(config).toContain('[profile."héé-2"]');
    expect(parseToml(config)).toEqual({ profile: { 'héé-2': { inherits: 'dev' } } });
    // The Nix check's name must be a store name: the profile's non-ASCII letters become `_`.
    expect(await readFile(path.join(dir, 'nix/hotgen.nix'), 'utf8')).toContain('name = "hotgen-h__-2-build";');
  });

  /** dev refuses a corrupt `crates:` entry (init regenerates `crates:`, so it repairs one). */
  async function devRefuses(edit: (yaml: string) => string, needle: string, problem: string): Promise<void> {
    const { dir, yaml } = await withPlan(edit);
    await refused(dir, ['dev', '--no-build', '--no-watch'], `hotgen: hotgen.yaml:${lineOf(yaml, needle)}: ${problem}`);
    const r = await hotgen(dir, 'init');
    expect(r.code, r.stderr).toBe(0);
    expect(await readFile(path.join(dir, 'hotgen.yaml'), 'utf8')).toBe(await readFile(path.join(base.path, 'hotgen.yaml'), 'utf8'));
  }

  it('dev refuses a crates entry with an unknown role, naming the entry and its line', () =>
    devRefuses(swap('role: entry', 'role: boss'), 'role: boss', 'crates entry 2 (`app`): `role` must be one of entry, reloadable, frozen, excluded, not `boss`'));

  it('dev refuses `src` paths that leave the workspace (`..`, absolute) and init repairs them', async () => {
    await devRefuses(swap('src: [ crates/app/src ]', 'src: [ ../../etc ]'), 'src: [ ../../etc ]', 'crates entry 2 (`app`): `src`: `../../etc` is not a normalised path inside the workspace');
    await devRefuses(swap('src: [ crates/app/src ]', 'src: [ /etc ]'), 'src: [ /etc ]', 'crates entry 2 (`app`): `src`: `/etc` is not a normalised path inside the workspace');
  });

  it('dev refuses a `lib` name that is a path and a crate name with a newline', async () => {
    await devRefuses(swap('lib: app', 'lib: ../../x'), 'lib: ../../x', 'crates entry 2 (`app`): `lib`: `../../x` is not a valid library name');
    await devRefuses(swap('name: app', 'name: "app\\nx"'), '- name: "app', 'crates entry 2: `name`: `app\\nx` is not a valid package name');
  });

  it('dev refuses `crates:` of the wrong shape: not a list, an entry that is not a mapping, a crate listed twice', async () => {
    await devRefuses((s) => s.replace(/^crates:[\s\S]*$/m, 'crates: 5\n'), 'crates: 5', '`crates` must be a list, not 5 (run `hotgen init` to regenerate it)');
    await devRefuses((s) => s.replace(/^crates:\n/m, 'crates:\n  - 5\n'), '  - 5', '`crates` entry 1 must be a mapping, not 5');
    await devRefuses(
      (s) => s.replace(/^crates:\n/m, 'crates:\n  - { name: app, role: excluded, deps: [], src: [] }\n'),
      '  - name: app',
      'crates entry 3: `app` is listed twice (run `hotgen init` to regenerate it)',
    );
  });

  it('dev prints unknown keys (top level and in a crates entry) as warnings before it starts', async () => {
    // An address in use stops dev right after it has read the plan, before anything runs.
    await using busy = await listening();
    const { dir, yaml } = await withPlan((s) => s.replace('listen: []', `listen: [ 127.0.0.1:${busy.port} ]`).replace('    role: entry\n', '    role: entry\n    rol: x\n').replace('linker: mold', 'linkr: lld\nlinker: mold'));
    const before = await hashes(dir);
    const r = await hotgen(dir, 'dev', '--no-build', '--no-watch');
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr.trimEnd().split('\n')).toEqual([
      `warning: hotgen.yaml:${lineOf(yaml, 'linkr:')}: unknown key \`linkr\` (did you mean \`linker\`?)`,
      `warning: hotgen.yaml:${lineOf(yaml, 'rol: x')}: unknown key \`rol\` (did you mean \`role\`?)`,
      `hotgen: hotgen.yaml: cannot listen on 127.0.0.1:${busy.port}: the address is in use`,
    ]);
    expect(await hashes(dir)).toEqual(before);
  });
});

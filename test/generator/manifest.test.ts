/** Format-preserving manifest edits: exact bytes outside the edited keys, verified by re-parsing. */
import { describe, expect, it } from 'vitest';
import { parseToml } from '../../common/deps.js';
import { InternalError, UserError } from '../../common/errors.js';
import { editLibManifest, editRootManifest, parseManifest, verifyEdit } from '../../generator/manifest.js';
import { mergeFlags, roleRustflags, profileFlags, unitKey } from '../../generator/profile.js';
import { scanToml } from '../../generator/toml-text.js';

const roles = (entry: string, frozen: string[] = []) => [
  { name: entry, role: 'entry' as const },
  ...frozen.map((name) => ({ name, role: 'frozen' as const })),
];
const opts = { profile: 'hot', linker: 'mold' as const, roles: roles('app') };
type T = Record<string, any>;

describe('root manifest', () => {
  it('adds cargo-features first, a hot profile and per-package tables, keeping every other byte', () => {
    const src = '# my workspace\n[workspace]\nmembers = ["a"] # the crates\n\n[profile.release]\nlto = true\n';
    const out = editRootManifest(src, 'Cargo.toml', { ...opts, roles: roles('app', ['core']) });
    expect(out.startsWith('cargo-features = ["profile-rustflags"]\n# my workspace\n[workspace]\nmembers = ["a"] # the crates\n\n[profile.release]\nlto = true\n')).toBe(true);
    const t = parseToml(out) as T;
    expect(t['cargo-features']).toEqual(['profile-rustflags']);
    expect(t.profile.hot.inherits).toBe('dev');
    expect(t.profile.hot.rustflags).toEqual(['--cfg', 'hotgen', '--check-cfg', 'cfg(hotgen)', '-C', 'prefer-dynamic', '-C', 'link-arg=-fuse-ld=mold']);
    expect(t.profile.hot.package.core.rustflags).toEqual([...t.profile.hot.rustflags, '-C', 'link-arg=-Wl,-z,nodelete']);
    expect(t.profile.hot.package.app.rustflags.slice(0, 8)).toEqual(t.profile.hot.rustflags);
    expect(editRootManifest(out, 'Cargo.toml', { ...opts, roles: roles('app', ['core']) })).toBe(out);
  });

  it('merges with features already listed and never duplicates', () => {
    const src = 'cargo-features = ["edition2024"]\n[package]\nname = "x"\n';
    const out = editRootManifest(src, 'Cargo.toml', opts);
    expect(out.split('\n')[0]).toBe('cargo-features = ["edition2024", "profile-rustflags"]');
    expect(out.slice(out.indexOf('\n'))).toContain('\n[package]\nname = "x"\n');
    const again = 'cargo-features = ["profile-rustflags", "edition2024"]\n[package]\nname = "x"\n';
    expect(editRootManifest(again, 'Cargo.toml', opts).startsWith(again)).toBe(true);
  });

  it('keeps a commented-out cargo-features line as a comment (conduwuit)', () => {
    const src = '#cargo-features = ["profile-rustflags"]\n\n[workspace]\nmembers = ["src/*"]\n';
    const out = editRootManifest(src, 'Cargo.toml', opts);
    expect(out.startsWith('cargo-features = ["profile-rustflags"]\n#cargo-features = ["profile-rustflags"]\n\n[workspace]\n')).toBe(true);
  });

  it('moves a cargo-features key that is not first to the top', () => {
    const src = '[workspace]\nmembers = ["a"]\n';
    const bad = 'x = 1\ncargo-features = ["profile-rustflags"]\n[workspace]\n';
    const out = editRootManifest(bad, 'Cargo.toml', opts);
    expect(out.startsWith('cargo-features = ["profile-rustflags"]\nx = 1\n[workspace]\n')).toBe(true);
    expect(editRootManifest(src, 'Cargo.toml', opts)).toContain('[workspace]\nmembers = ["a"]\n');
  });

  it('merges [profile.dev] rustflags into the hot profile, and edits [profile.dev] itself with --profile dev', () => {
    const src = '[workspace]\nmembers = ["a"]\n\n[profile.dev]\nopt-level = 1\nrustflags = ["-C", "debuginfo=1", "-Cprefer-dynamic=true"]\n\n[profile.release]\nlto = true\n';
    const hot = parseToml(editRootManifest(src, 'Cargo.toml', opts)) as T;
    expect(hot.profile.hot.rustflags).toEqual(['-C', 'debuginfo=1', '-Cprefer-dynamic=true', '--cfg', 'hotgen', '--check-cfg', 'cfg(hotgen)', '-C', 'link-arg=-fuse-ld=mold']);
    expect(hot.profile.dev.rustflags).toEqual(['-C', 'debuginfo=1', '-Cprefer-dynamic=true']);
    const devOut = editRootManifest(src, 'Cargo.toml', { ...opts, profile: 'dev' });
    const dev = parseToml(devOut) as T;
    expect(dev.profile.hot).toBeUndefined();
    expect(dev.profile.dev.rustflags).toEqual(hot.profile.hot.rustflags);
    expect(dev.profile.dev.inherits).toBeUndefined();
    expect(devOut).toContain('[profile.dev]\nopt-level = 1\nrustflags = [');
    expect(devOut.endsWith('\n\n[profile.release]\nlto = true\n')).toBe(true);
    expect(dev.profile.dev.package.app.rustflags).toContain('hotgen_entry');
  });

  it('copes with quoted table keys, build-override tables, inline tables with comments and commented rustflags', () => {
    const src = [
      '[workspace]',
      'members = ["src/*"]',
      '',
      '[workspace.lints.clippy]',
      'cargo = "warn"',
      'needless_collect = { level = "allow", priority = 1 }   # TODO',
      '',
      '[profile.release-max-perf.build-override]',
      'inherits = "release"',
      '#rustflags = [',
      "#\t'-Ctarget-feature=-crt-static',",
      '#]',
      '',
      '[profile.dev]',
      'debug = 1',
      '#rustflags = [',
      "#\t'--cfg', 'conduit_mods',",
      '#]',
      '',
      '[profile.dev.package.core]',
      'incremental = false',
      '#rustflags = []',
      '',
      "[profile.dev.package.'*']",
      "debug = 'limited'",
      '',
      '[profile.test]',
      'incremental = false',
      '',
    ].join('\n');
    const out = editRootManifest(src, 'Cargo.toml', { profile: 'dev', linker: 'mold', roles: roles('router', ['core']) });
    const t = parseToml(out) as T;
    expect(t.profile.dev.package['*']).toEqual({ debug: 'limited' });
    expect(t.profile.dev.package.core.incremental).toBe(false);
    expect(t.profile.dev.package.core.rustflags).toContain('link-arg=-Wl,-z,nodelete');
    expect(t.profile.dev.package.router.rustflags).toContain('hotgen_entry');
    expect(t.profile['release-max-perf']['build-override']).toEqual({ inherits: 'release' });
    // Every original line survives, in order.
    let at = 0;
    for (const line of src.split('\n')) {
      at = out.indexOf(line, at);
      expect(at, line).toBeGreaterThanOrEqual(0);
    }
    expect(out).toContain("[profile.dev.package.'*']\ndebug = 'limited'\n\n[profile.dev.package.router]\nrustflags = [");
  });

  it('keeps CRLF line breaks and tab indentation', () => {
    const src = '[workspace]\r\nmembers = [\r\n\t"a",\r\n]\r\n\r\n[profile.hot]\r\n\tinherits = "dev"\r\n\topt-level = 0\r\n';
    const out = editRootManifest(src, 'Cargo.toml', { ...opts, roles: [] });
    expect(out).not.toMatch(/[^\r]\n/);
    expect(out).toContain('[workspace]\r\nmembers = [\r\n\t"a",\r\n]\r\n\r\n[profile.hot]\r\n\tinherits = "dev"\r\n\topt-level = 0\r\n\trustflags = [\r\n\t\t"--cfg", "hotgen",\r\n');
    expect((parseToml(out) as T).profile.hot.rustflags).toEqual(profileFlags('mold'));
  });

  it('uses the chosen linker, or none for default, and keeps the entry/frozen lists complete', () => {
    const src = '[workspace]\nmembers = ["a"]\n';
    for (const [linker, flag] of [['lld', 'link-arg=-fuse-ld=lld'], ['gold', 'link-arg=-fuse-ld=gold']] as const) {
      expect((parseToml(editRootManifest(src, 'Cargo.toml', { ...opts, linker })) as T).profile.hot.rustflags).toContain(flag);
    }
    const def = (parseToml(editRootManifest(src, 'Cargo.toml', { ...opts, linker: 'default' })) as T).profile.hot.rustflags as string[];
    expect(def.some((f) => f.includes('fuse-ld'))).toBe(false);
  });

  it('refuses a profile written as an inline table (one line naming file and line)', () => {
    const src = '[workspace]\nmembers = ["a"]\n[profile]\nhot = { inherits = "dev" }\n';
    const err = (() => {
      try {
        editRootManifest(src, 'Cargo.toml', opts);
      } catch (e) {
        return e as UserError;
      }
    })();
    expect(err).toBeInstanceOf(UserError);
    expect(err!.opts.line).toBe(4);
    expect(err!.message).not.toContain('\n');
  });

  it('reports invalid TOML with the file and line', () => {
    try {
      parseManifest('[package]\nname = "x"\nversion = \n', 'crates/x/Cargo.toml');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(UserError);
      expect((e as UserError).opts).toMatchObject({ file: 'crates/x/Cargo.toml', line: 3 });
      expect((e as UserError).message).toMatch(/^invalid TOML: unexpected/);
    }
  });
});

describe('member manifests', () => {
  it('adds [lib] crate-type when missing, keeping *.workspace = true fields', () => {
    const src = '[package]\nname = "a"\nversion.workspace = true\nedition = { workspace = true }\n\n[dependencies]\nb.workspace = true\n';
    const out = editLibManifest(src, 'a/Cargo.toml');
    expect(out).toBe('[package]\nname = "a"\nversion.workspace = true\nedition = { workspace = true }\n\n[lib]\ncrate-type = ["rlib", "dylib"]\n\n[dependencies]\nb.workspace = true\n');
    expect(editLibManifest(out, 'a/Cargo.toml')).toBe(out);
  });

  it('merges an existing crate-type and keeps a multi-line layout', () => {
    expect(editLibManifest('[lib]\ncrate-type = ["cdylib"]\n', 'x')).toBe('[lib]\ncrate-type = ["cdylib", "rlib", "dylib"]\n');
    expect(editLibManifest('[lib]\npath = "mod.rs"\ncrate-type = [\n\t"rlib",\n#\t"dylib",\n]\n', 'x')).toBe('[lib]\npath = "mod.rs"\ncrate-type = [\n\t"rlib",\n\t"dylib",\n]\n');
    expect(editLibManifest('[lib]\nname = "x"\n', 'x')).toBe('[lib]\nname = "x"\ncrate-type = ["rlib", "dylib"]\n');
    expect(editLibManifest('[package]\nname = "x"', 'x')).toBe('[package]\nname = "x"\n\n[lib]\ncrate-type = ["rlib", "dylib"]\n');
  });

  it('refuses lib written as dotted keys', () => {
    expect(() => editLibManifest('lib.path = "a.rs"\n[package]\nname = "x"\n', 'x')).toThrow(UserError);
    expect(() => editLibManifest('lib = { path = "a.rs" }\n[package]\nname = "x"\n', 'x')).toThrow(UserError);
  });
});

describe('verification', () => {
  const before = { package: { name: 'x' } };
  const change = [{ path: ['lib', 'crate-type'], value: ['rlib', 'dylib'] }];
  it('accepts exactly the intended change', () => {
    expect(() => verifyEdit('x', before, '[package]\nname = "x"\n[lib]\ncrate-type = ["rlib", "dylib"]\n', change, false)).not.toThrow();
  });
  it('rejects a result that does not parse, changes another key, or misses cargo-features first', () => {
    expect(() => verifyEdit('x', before, '[package]\nname = "x"\n[lib\n', change, false)).toThrow(InternalError);
    expect(() => verifyEdit('x', before, '[package]\nname = "y"\n[lib]\ncrate-type = ["rlib", "dylib"]\n', change, false)).toThrow(InternalError);
    expect(() => verifyEdit('x', before, '[package]\nname = "x"\n[lib]\ncrate-type = ["rlib", "dylib"]\n', change, true)).toThrow(/cargo-features is not the first key/);
  });
});

describe('rustflags', () => {
  it('treats spellings of one flag as the same unit', () => {
    expect(unitKey(['-Cprefer-dynamic=true'])).toBe(unitKey(['-C', 'prefer-dynamic']));
    expect(unitKey(['--cfg=hotgen'])).toBe(unitKey(['--cfg', 'hotgen']));
    expect(mergeFlags(['-Cprefer-dynamic=true'], ['-C', 'prefer-dynamic', '--cfg', 'x'])).toEqual(['-Cprefer-dynamic=true', '--cfg', 'x']);
  });
  it('gives per-package lists that repeat the profile list (Cargo replaces, not appends)', () => {
    const base = ['-C', 'debuginfo=1', ...profileFlags('lld')];
    expect(roleRustflags('frozen', base)).toEqual([...base, '-C', 'link-arg=-Wl,-z,nodelete']);
    expect(roleRustflags('reloadable', base)).toBeUndefined();
  });
});

describe('scanner', () => {
  it('finds statements across multi-line strings, arrays with comments and quoted keys', () => {
    const src = 'a = """\n[not.a.table]\n"""\nb = [ # c\n  1, # [x]\n]\n["q.k".r]\n\'s t\' = \'v#\' # end\n[[bin]]\nname = "x"\n';
    const s = scanToml(src);
    expect(s.map((x) => [x.kind, x.key.join('|'), x.table.join('|')])).toEqual([
      ['keyval', 'a', ''],
      ['keyval', 'b', ''],
      ['table', 'q.k|r', 'q.k|r'],
      ['keyval', 's t', 'q.k|r'],
      ['array-table', 'bin', 'bin'],
      ['keyval', 'name', 'bin'],
    ]);
    const sv = s[3]!;
    expect(src.slice(sv.valueStart, sv.valueEnd)).toBe("'v#'");
  });
});

/**
 * The Cargo manifest edits `hotgen init` makes, each format-preserving (toml-edit.ts)
 * and each verified: the result is re-parsed and must equal the parsed original with
 * exactly the intended keys changed, else nothing is written (InternalError).
 */
import { InternalError, UserError } from '../common/errors.js';
import { parseToml } from '../common/deps.js';
import type { Linker, Role } from '../common/types.js';
import { mergeFlags, profileFlags, roleRustflags, flagUnits } from './profile.js';
import { moveRootKeyFirst, setKey, type TomlValueText } from './toml-edit.js';
import { TomlScanError, scanToml, tomlArray, tomlArrayLines } from './toml-text.js';

/** The Cargo feature that allows `rustflags` in profiles (nightly, or stable with RUSTC_BOOTSTRAP=1). */
export const CARGO_FEATURE = 'profile-rustflags';

/** The crate types every reloadable, frozen and entry library gets (release builds stay static via rlib). */
export const HOT_CRATE_TYPES: readonly string[] = ['rlib', 'dylib'];

type Table = Record<string, unknown>;

/**
 * Parses manifest text. A syntax error becomes one line naming the file and line:
 * `<file>:<line>: invalid TOML: unexpected "x" (column N)`.
 * @throws UserError on invalid TOML.
 */
export function parseManifest(text: string, file: string): Table {
  try {
    return parseToml(text) as Table;
  } catch (err) {
    const e = err as { message?: string; line?: number; column?: number; location?: { start?: { line: number; column: number } } };
    const line = e.line ?? e.location?.start?.line;
    const column = e.column ?? e.location?.start?.column;
    const found = /but (.*) found\.?$/.exec(e.message ?? '');
    const what = found ? `unexpected ${found[1]}` : (e.message ?? String(err)).split('\n')[0];
    throw new UserError(`invalid TOML: ${what}${column ? ` (column ${column})` : ''}`, { file, line, cause: err });
  }
}

/** Options for {@link editRootManifest}. */
export interface RootEditOptions {
  /** Profile to edit (`hot` → `[profile.hot]` with `inherits = "dev"`; `dev` → `[profile.dev]`). */
  profile: string;
  linker: Linker;
  /** Crates that get a per-package rustflags table (entry and frozen), by package name. */
  roles: { name: string; role: Role }[];
}

/** One intended change: the key path and its new value. */
export interface Change {
  path: string[];
  value: unknown;
}

const table = (v: unknown): Table | undefined => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Table) : undefined);
const strings = (v: unknown): string[] | undefined => (Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : undefined);

function flagsValue(flags: string[]): TomlValueText {
  const units = flagUnits(flags);
  return { inline: tomlArray(flags), multiline: (indent, eol, close) => tomlArrayLines(units, indent, eol, close) };
}

/** The profile's full rustflags list after hotgen's merge (user flags first, hotgen's appended). */
export function mergedProfileFlags(parsed: Table, profile: string, linker: Linker): string[] {
  const profiles = table(parsed.profile) ?? {};
  const p = table(profiles[profile]) ?? {};
  let existing = strings(p.rustflags);
  // A profile that inherits dev and sets no rustflags of its own would inherit dev's; keep them.
  if (!existing && (p.inherits ?? (profile === 'dev' ? undefined : 'dev')) === 'dev') existing = strings(table(profiles.dev)?.rustflags);
  return mergeFlags(existing ?? [], profileFlags(linker));
}

/**
 * Edits the root manifest: `cargo-features` first (merged), the profile's `inherits`
 * and `rustflags`, and `[profile.<p>.package.<crate>]` rustflags for entry and frozen
 * crates. Returns the new text (=== `text` when nothing changes).
 * @throws UserError when the text is not valid TOML or a table is written inline;
 *   InternalError when the edit fails verification.
 */
export function editRootManifest(text: string, file: string, opts: RootEditOptions): string {
  const parsed = parseManifest(text, file);
  const changes: Change[] = [];
  let out = text;
  const edit = (fn: () => string) => {
    try {
      out = fn();
    } catch (err) {
      if (err instanceof TomlScanError) throw new InternalError(`${file}: cannot locate keys to edit: ${err.message}`, { cause: err });
      throw err;
    }
  };

  const P = opts.profile;
  const prof = table(table(parsed.profile)?.[P]) ?? {};
  if (!['dev', 'release', 'test', 'bench'].includes(P) && prof.inherits === undefined) {
    changes.push({ path: ['profile', P, 'inherits'], value: 'dev' });
    edit(() => setKey(out, file, ['profile', P], 'inherits', { inline: '"dev"' }, ['profile']));
  }
  const list = mergedProfileFlags(parsed, P, opts.linker);
  if (!sameList(strings(prof.rustflags), list)) {
    changes.push({ path: ['profile', P, 'rustflags'], value: list });
    edit(() => setKey(out, file, ['profile', P], 'rustflags', flagsValue(list), ['profile']));
  }
  for (const { name, role } of opts.roles) {
    const wanted = roleRustflags(role, list);
    if (!wanted) continue;
    const existing = strings(table(table(prof.package)?.[name])?.rustflags);
    const final = existing ? mergeFlags(existing, wanted) : wanted;
    if (sameList(existing, final)) continue;
    changes.push({ path: ['profile', P, 'package', name, 'rustflags'], value: final });
    edit(() => setKey(out, file, ['profile', P, 'package', name], 'rustflags', flagsValue(final), ['profile', P]));
  }
  // cargo-features last: an error above then reports lines of the user's own file.
  const features = strings(parsed['cargo-features']) ?? [];
  if (!features.includes(CARGO_FEATURE)) {
    const merged = [...features, CARGO_FEATURE];
    changes.push({ path: ['cargo-features'], value: merged });
    edit(() => setKey(out, file, [], 'cargo-features', { inline: tomlArray(merged) }));
  }
  edit(() => moveRootKeyFirst(out, 'cargo-features'));

  verifyEdit(file, parsed, out, changes, true);
  return out;
}

/**
 * Adds `rlib` and `dylib` to `[lib] crate-type` of a member manifest (adding `[lib]`
 * when missing; `lib` counts as `rlib`). Returns the new text (=== `text` when unchanged).
 * @throws UserError on invalid TOML or an inline `lib` table; InternalError on a failed verification.
 */
export function editLibManifest(text: string, file: string): string {
  const parsed = parseManifest(text, file);
  const lib = table(parsed.lib) ?? {};
  const existing = strings(lib['crate-type']);
  const merged = [...(existing ?? [])];
  for (const t of HOT_CRATE_TYPES) if (!merged.includes(t) && !(t === 'rlib' && merged.includes('lib'))) merged.push(t);
  if (existing && sameList(existing, merged)) return text;
  let out: string;
  try {
    const value = { inline: tomlArray(merged), multiline: (i: string, eol: string, close: string) => tomlArrayLines(merged.map((t) => [t]), i, eol, close) };
    out = setKey(text, file, ['lib'], 'crate-type', existing ? value : { inline: value.inline }, ['package']);
  } catch (err) {
    if (err instanceof TomlScanError) throw new InternalError(`${file}: cannot locate keys to edit: ${err.message}`, { cause: err });
    throw err;
  }
  verifyEdit(file, parsed, out, [{ path: ['lib', 'crate-type'], value: merged }], false);
  return out;
}

function sameList(a: readonly string[] | undefined, b: readonly string[]): boolean {
  return !!a && a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * Checks an edit: `after` must parse, equal `before` (parsed) with exactly `changes`
 * applied, and (root manifests) start with `cargo-features`.
 * @throws InternalError otherwise; callers then write nothing.
 */
export function verifyEdit(file: string, before: Table, after: string, changes: Change[], featuresFirst: boolean): void {
  let reparsed: Table;
  try {
    reparsed = parseToml(after) as Table;
  } catch (err) {
    throw new InternalError(`${file}: the edited manifest does not parse (${(err as Error).message}); nothing was written`, { cause: err });
  }
  const expected = structuredClone(before);
  for (const c of changes) {
    let t = expected;
    for (const k of c.path.slice(0, -1)) t = (t[k] = table(t[k]) ?? {}) as Table;
    t[c.path[c.path.length - 1]!] = c.value;
  }
  if (canonical(expected) !== canonical(reparsed)) {
    throw new InternalError(`${file}: the edited manifest does not match the intended change; nothing was written`);
  }
  const first = featuresFirst ? scanToml(after)[0] : undefined;
  if (featuresFirst && !(first?.kind === 'keyval' && first.table.length === 0 && first.key.join('.') === 'cargo-features')) {
    throw new InternalError(`${file}: cargo-features is not the first key after the edit; nothing was written`);
  }
}

function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x) =>
    x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : 1))) : x,
  );
}

/**
 * The rules for the values hotgen reads from its command line and from `hotgen.yaml`,
 * one function each, shared by `hotgen init` (generator) and `hotgen dev` (loader):
 * listen addresses, Cargo profile names, package and library names, workspace-relative
 * paths, linkers, channels and the stop timeout's range. Each check throws a one-line
 * UserError located by {@link Where}; values are shown with control characters escaped,
 * so no message spans two lines.
 */
import net from 'node:net';
import path from 'node:path';
import { UserError } from './errors.js';
import { CHANNELS, LINKERS, type Channel, type Linker } from './types.js';

/** Where a value came from: a file and its 1-based line. Both absent = the command line. */
export interface Where {
  file?: string;
  line?: number;
}

/** The hotgen.yaml format version this hotgen reads and writes. */
export const PLAN_VERSION = 1;


/** The linker `hotgen init` picks when neither `--linker` nor `linker:` names one. */
export const DEFAULT_LINKER: Linker = 'mold';


/** A list for a message: `mold, lld, gold or default`. */
export function orList(items: readonly string[]): string {
  return items.length < 2 ? items.join('') : `${items.slice(0, -1).join(', ')} or ${items.at(-1)}`;
}

/**
 * Bounds of `stop_timeout_ms` (ms). The upper bound keeps every timer the supervisor
 * derives from it (up to stop + 60 s) far below Node's limit of 2^31 - 1 ms, past which
 * setTimeout fires at once (Node docs, "setTimeout": delays above 2147483647 become 1).
 */
export const STOP_TIMEOUT_MS = { min: 100, max: 600_000, default: 5000 } as const;

// Control characters (C0, DEL, C1), line/paragraph separators and the bidi controls that
// rustc denies in comments (lint text_direction_codepoint_in_comment).
// eslint-disable-next-line no-control-regex
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** `s` with control, separator and bidi characters as `\n`, `\t`, `\r` or `\u{..}` escapes. */
export function escapeControls(s: string): string {
  return s.replace(UNPRINTABLE, (c) => NAMED[c] ?? `\\u{${c.charCodeAt(0).toString(16)}}`);
}

/** True when `s` has a character {@link escapeControls} escapes. */
export function hasControls(s: string): boolean {
  return new RegExp(UNPRINTABLE.source).test(s);
}

/** `s` in backticks for a one-line message, control characters escaped. */
export function shown(s: string): string {
  return '`' + escapeControls(s) + '`';
}

/** Any YAML value for a message: strings {@link shown}, others as JSON (cut at 40 characters). */
export function shownValue(v: unknown): string {
  if (typeof v === 'string') return shown(v);
  const j = JSON.stringify(v) ?? String(v);
  return j.length > 40 ? j.slice(0, 37) + '...' : j;
}

const fail = (message: string, where: Where): never => {
  throw new UserError(message, { file: where.file, line: where.line });
};

/**
 * A `stop_timeout_ms` value: a whole number of milliseconds within {@link STOP_TIMEOUT_MS}.
 * @throws UserError naming the key and the value otherwise.
 */
export function checkStopTimeout(v: unknown, where: Where = {}): number {
  if (typeof v === 'number' && Number.isInteger(v) && v >= STOP_TIMEOUT_MS.min && v <= STOP_TIMEOUT_MS.max) return v;
  return fail(`\`stop_timeout_ms\` must be a whole number of milliseconds from ${STOP_TIMEOUT_MS.min} to ${STOP_TIMEOUT_MS.max}, not ${shownValue(v)}`, where);
}

/** A listen address split into host (brackets removed) and port (0 = any free port). */
export interface ListenAddress {
  host: string;
  port: number;
}

const LABEL = '[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?';
const HOSTNAME = new RegExp(`^${LABEL}(?:\\.${LABEL})*\\.?$`);

/**
 * The one listen-address grammar: `HOST:PORT` with HOST an IPv4 address or a host name
 * (letters, digits, `-`, `_` in dot-separated labels of at most 63 characters), or
 * `[IPV6]:PORT`; PORT a decimal from 0 to 65535, where 0 lets the kernel pick a free port.
 * Used for `--listen`, `listen:` at init and by `hotgen dev` before it binds.
 * @throws UserError naming the address and what is wrong with it.
 */
export function parseListenAddress(addr: string, where: Where = {}): ListenAddress {
  const bad = (why: string): never => fail(`invalid listen address ${shown(addr)}: ${why}`, where);
  const m = /^(?:\[([^\]]*)\]|([^[\]]*)):([^:]*)$/.exec(addr);
  if (!m) return bad('expected HOST:PORT or [IPV6]:PORT, e.g. 127.0.0.1:8080');
  const [, v6, host, portText] = m;
  if (host?.includes(':')) bad('write an IPv6 address in brackets, e.g. [::1]:8080');
  if (!/^\d{1,5}$/.test(portText!)) bad(`the port ${shown(portText!)} is not a number from 0 to 65535`);
  const port = Number(portText);
  if (port > 65535) bad(`the port ${port} is out of range (0 to 65535; 0 picks a free port)`);
  if (v6 !== undefined) {
    if (!net.isIPv6(v6)) bad(`${shown(v6)} is not an IPv6 address`);
    return { host: v6, port };
  }
  if (/^[\d.]+$/.test(host!)) {
    if (!net.isIPv4(host!)) bad(`${shown(host!)} is not an IPv4 address`);
  } else if (host!.length > 253 || !HOSTNAME.test(host!)) {
    bad(host === '' ? 'the host is missing' : `${shown(host!)} is not a host name or IP address`);
  }
  return { host: host!, port };
}

/** Cargo's built-in profiles; hotgen can build with `dev` only (the others cannot `inherits = "dev"`). */
const BUILTIN_PROFILES = ['dev', 'release', 'test', 'bench', 'doc'];

/** Names Cargo reserves (compared lower-cased), besides any name starting with `cargo`. */
const RESERVED_PROFILES = [
  'debug', 'build-override', 'build', 'check', 'clean', 'config', 'fetch', 'fix', 'install', 'metadata',
  'package', 'publish', 'report', 'root', 'run', 'rust', 'rustc', 'rustdoc', 'target', 'tmp', 'uninstall',
];

/**
 * The one profile-name rule, Cargo's (cargo-util-schemas `validate_profile_name`, RFC 2678;
 * Cargo book, "Profiles: Custom profiles"): letters and numbers (Unicode, as Rust's
 * `char::is_alphanumeric`), `_` and `-`; not `debug`, `build-override`, a name Cargo
 * reserves (`build`, `check`, ..., `uninstall`) or one starting with `cargo`, in any case.
 * hotgen adds: not empty, and of the built-in profiles only `dev` (hotgen/cargo-config.toml
 * defines a custom profile with `inherits = "dev"`, which Cargo refuses for `release`,
 * `test` and `bench`).
 * @throws UserError naming the profile and the rule it breaks.
 */
export function checkProfileName(name: string, where: Where = {}): string {
  if (name === '') fail('the profile name is empty', where);
  const ch = [...name].find((c) => !/^[\p{Alphabetic}\p{N}_-]$/u.test(c));
  if (ch !== undefined) fail(`invalid character ${shown(ch)} in profile name ${shown(name)}: Cargo allows letters, numbers, \`_\` and \`-\``, where);
  const lower = name.toLowerCase();
  if (RESERVED_PROFILES.includes(lower) || lower.startsWith('cargo')) fail(`profile name ${shown(name)} is reserved by Cargo; choose another name`, where);
  if (BUILTIN_PROFILES.includes(name) && name !== 'dev') fail(`profile ${shown(name)} is one of Cargo's built-in profiles; use \`dev\` or a name of your own (e.g. \`hot\`)`, where);
  return name;
}

/**
 * A package name as Cargo accepts it (cargo-util-schemas `validate_name`): a Unicode XID
 * start character or `_`, then XID continue characters or `-`. Such names need no
 * escaping in any file hotgen writes, so they are validated, not escaped.
 * @throws UserError otherwise.
 */
export function checkPackageName(name: unknown, what: string, where: Where = {}): string {
  if (typeof name === 'string' && /^[\p{XID_Start}_][\p{XID_Continue}-]*$/u.test(name)) return name;
  return fail(`${what}: ${shownValue(name)} is not a valid package name`, where);
}

/** A library target name (a Rust identifier; Cargo refuses `-` in it). @throws UserError otherwise. */
export function checkLibName(name: unknown, what: string, where: Where = {}): string {
  if (typeof name === 'string' && /^[\p{XID_Start}_]\p{XID_Continue}*$/u.test(name)) return name;
  return fail(`${what}: ${shownValue(name)} is not a valid library name`, where);
}

/**
 * A path relative to the workspace root that stays inside it: `/`-separated, normalised
 * (`.` for the root itself), not absolute, no `..` segment, no NUL.
 * @throws UserError otherwise.
 */
export function checkRelativePath(p: unknown, what: string, where: Where = {}): string {
  if (typeof p === 'string' && p !== '' && !p.includes('\0') && !path.posix.isAbsolute(p) && path.posix.normalize(p) === p && !p.split('/').includes('..')) return p;
  return fail(`${what}: ${shownValue(p)} is not a normalised path inside the workspace`, where);
}

/** A linker name. @throws UserError listing the known ones otherwise. */
export function checkLinker(v: unknown, where: Where = {}): Linker {
  if (typeof v === 'string' && (LINKERS as readonly string[]).includes(v)) return v as Linker;
  return fail(`unknown linker ${shownValue(v)} (expected one of ${LINKERS.join(', ')})`, where);
}

/** A channel name. @throws UserError otherwise. */
export function checkChannel(v: unknown, where: Where = {}): Channel {
  if (typeof v === 'string' && (CHANNELS as readonly string[]).includes(v)) return v as Channel;
  return fail(`unknown channel ${shownValue(v)} (expected ${orList(CHANNELS)})`, where);
}

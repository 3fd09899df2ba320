/**
 * Escaping for every language hotgen generates: each function turns any string into a
 * literal (or a comment fragment) of one language that reads back as exactly that string,
 * newlines and quotes included, so no value can add code to a generated file. Values that
 * Cargo already restricts (profile, package and library names) are validated instead
 * (common/plan-rules.ts); they go through these functions too.
 */
import { escapeControls, hasControls } from '../common/plan-rules.js';
import { shellQuote } from '../common/exec.js';

/**
 * A Nix double-quoted string literal for `s`: `\`, `"` and `${` escaped, control
 * characters as `\n`, `\r`, `\t` (Nix manual, "String literals"; other characters,
 * control ones included, stand for themselves).
 */
export function nixString(s: string): string {
  return '"' + s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\$\{/g, '\\${').replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\t/g, '\\t') + '"';
}

/** `s` made safe inside a Nix indented string `'' ... ''`: `''` → `'''`, `${` → `''${`. */
export function nixIndented(s: string): string {
  return s.replace(/''/g, "'''").replace(/\$\{/g, "''${");
}

/**
 * A Nix store path name built from `s`: characters outside the set Nix allows in store
 * names (`A-Za-z0-9+-._?=`, Nix manual "Store path") become `_`, and a leading `.` too.
 */
export function nixStoreName(s: string): string {
  return s.replace(/[^A-Za-z0-9+\-._?=]/g, '_').replace(/^\./, '_');
}

/**
 * One POSIX shell word: unchanged when only safe characters, else single-quoted with
 * each `'` as `'\''` (newlines stand for themselves inside single quotes; POSIX
 * "Shell Command Language", 2.2.2).
 */
export const shellWord: (s: string) => string = shellQuote;

const TOML_NAMED: Record<string, string> = { '\b': '\\b', '\t': '\\t', '\n': '\\n', '\f': '\\f', '\r': '\\r' };

/** A TOML basic string literal: `\` and `"` escaped, every control character as an escape (TOML 1.0, "String"). */
export function tomlString(s: string): string {
  // eslint-disable-next-line no-control-regex
  return '"' + s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/[\u0000-\u001f\u007f]/g, (c) => TOML_NAMED[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`) + '"';
}

/** A TOML key: bare when only `A-Za-z0-9_-` (TOML 1.0, "Keys"), else a quoted {@link tomlString}. */
export function tomlKey(s: string): string {
  return /^[A-Za-z0-9_-]+$/.test(s) ? s : tomlString(s);
}

/**
 * A Rust string literal for `s`: `\` and `"` escaped, control, separator and bidi
 * characters as `\n`, `\r`, `\t` or `\u{..}` (The Rust Reference, "Character and string
 * literals"); everything else stands for itself.
 */
export function rustString(s: string): string {
  return '"' + escapeControls(s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')) + '"';
}

/**
 * `s` for a Rust `//!` comment line, as inline code: `` `s` `` when it has no control,
 * separator or bidi character and no backtick; else the {@link rustString} literal, so
 * that a newline cannot end the comment (and start code), a bare CR cannot break the doc
 * comment and no bidi character trips `text_direction_codepoint_in_comment`.
 */
export function rustDocCode(s: string): string {
  return !hasControls(s) && !s.includes('`') ? '`' + s + '`' : rustString(s);
}

/**
 * A YAML scalar for `s`: plain when it is unambiguous (starts with a letter or `_`, then
 * letters, digits, spaces and `_ . / ( ) = + , -`, no trailing space, not a YAML 1.1
 * boolean or null word), else a double-quoted scalar (YAML 1.2: a JSON string is a valid
 * double-quoted scalar; DEL, C1 and the line and paragraph separators escaped too, which
 * YAML wants printable and YAML 1.1 reads as line breaks).
 */
export function yamlScalar(s: string): string {
  if (/^[\p{L}_][\p{L}\p{N}_ ./()=+,-]*$/u.test(s) && !s.endsWith(' ') && !/^(true|false|yes|no|on|off|null|y|n)$/i.test(s)) {
    return s;
  }
  return JSON.stringify(s).replace(/[\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

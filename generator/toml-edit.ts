/**
 * Targeted, format-preserving edits of TOML text: set one key (replacing only its
 * value span, or inserting one line), add a table. Everything outside the edited span
 * stays byte for byte; callers verify the result by re-parsing (manifest.ts).
 */
import { UserError } from '../common/errors.js';
import { detectEol, sameKey, scanToml, splice, tomlKey, type TomlStmt } from './toml-text.js';

/** A value to write: `inline` for one line, `lines` when the key is new or already multi-line. */
export interface TomlValueText {
  inline: string;
  /** Renders a multi-line form given the item indentation and line break. */
  multiline?: (itemIndent: string, eol: string, closeIndent: string) => string;
}

/** The indentation unit the file uses for nested lines: a tab if any line starts with one. */
export function indentUnit(text: string): string {
  return /(^|\n)\t/.test(text) ? '\t' : '    ';
}

function segmentEnd(stmts: TomlStmt[], headerIdx: number): number {
  let end = stmts[headerIdx]!.end;
  for (let i = headerIdx + 1; i < stmts.length && stmts[i]!.kind === 'keyval'; i++) end = stmts[i]!.end;
  return end;
}

function fullKey(s: TomlStmt): string[] {
  return s.kind === 'keyval' ? [...s.table, ...s.key] : s.key;
}

function startsWith(a: readonly string[], prefix: readonly string[]): boolean {
  return prefix.length <= a.length && prefix.every((k, i) => a[i] === k);
}

/**
 * Throws when `table` is (partly) written as dotted keys or an inline table, which these
 * edits do not rewrite. `file` names the manifest in the error.
 */
function assertEditable(stmts: TomlStmt[], table: string[], file: string, text: string): void {
  for (const s of stmts) {
    if (s.kind !== 'keyval') continue;
    const k = fullKey(s);
    const overlaps = (startsWith(k, table) && s.table.length < table.length) || (startsWith(table, k) && k.length <= table.length);
    if (overlaps) {
      throw new UserError(`\`${table.join('.')}\` is written as dotted keys or an inline table; hotgen edits only \`[${table.join('.')}]\` tables`, {
        file,
        line: text.slice(0, s.start).split('\n').length,
        hint: `Rewrite it as a [${table.join('.')}] table and run hotgen init again.`,
      });
    }
  }
}

/**
 * Sets `key` (one segment) in table `table` ([] = root) to `value`, keeping every other
 * byte. A new root key goes first in the file (Cargo requires `cargo-features` first);
 * a new key in a table goes after the table's last key; a missing table is added after
 * the last table whose path starts with `near` (else at the end of the file).
 * @throws UserError when the table is written as dotted keys or inline.
 */
export function setKey(text: string, file: string, table: string[], key: string, value: TomlValueText, near: string[] = []): string {
  const eol = detectEol(text);
  const unit = indentUnit(text);
  const stmts = scanToml(text);
  const existing = stmts.find((s) => s.kind === 'keyval' && sameKey(s.table, table) && sameKey(s.key, [key]));
  if (existing) {
    const old = text.slice(existing.valueStart, existing.valueEnd);
    const v = old.includes('\n') && value.multiline ? value.multiline(existing.indent + unit, eol, existing.indent) : value.inline;
    return old === v ? text : splice(text, existing.valueStart!, existing.valueEnd!, v);
  }
  if (table.length > 0) assertEditable(stmts, [...table, key], file, text);
  const line = (indent: string) =>
    `${indent}${tomlKey(key)} = ${value.multiline ? value.multiline(indent + unit, eol, indent) : value.inline}${eol}`;
  if (table.length === 0) return splice(text, 0, 0, line(''));
  const hIdx = stmts.findIndex((s) => s.kind === 'table' && sameKey(s.key, table));
  if (hIdx >= 0) {
    const lastKv = stmts.slice(hIdx + 1).findIndex((s) => s.kind !== 'keyval');
    const body = stmts.slice(hIdx + 1, lastKv < 0 ? undefined : hIdx + 1 + lastKv);
    const indent = body.length ? body[body.length - 1]!.indent : stmts[hIdx]!.indent;
    const at = segmentEnd(stmts, hIdx);
    const pre = at > 0 && text[at - 1] !== '\n' ? eol : '';
    return splice(text, at, at, pre + line(indent));
  }
  assertEditable(stmts, table, file, text);
  const block = `[${table.map(tomlKey).join('.')}]${eol}${line('')}`;
  let at = text.length;
  if (near.length) {
    const lastNear = stmts.map((s, i) => [s, i] as const).filter(([s]) => s.kind !== 'keyval' && startsWith(s.key, near)).pop();
    if (lastNear) at = afterTrailingComments(text, segmentEnd(stmts, lastNear[1]), stmts.find((s) => s.start >= segmentEnd(stmts, lastNear[1]))?.start);
  }
  const pre = at > 0 && text[at - 1] !== '\n' ? eol + eol : at > 0 ? eol : '';
  return splice(text, at, at, pre + block);
}

/**
 * Extends `at` over the comment lines that directly follow it (no blank line between),
 * such as a commented-out key of the table that ends there, so a new table does not
 * split them from it. With no statement after (`next` undefined) that is the file's end.
 */
function afterTrailingComments(text: string, at: number, next: number | undefined): number {
  if (next === undefined) return text.length;
  while (at < next) {
    const m = /^[ \t]*#[^\n]*(\n|$)/.exec(text.slice(at, next));
    if (!m) break;
    at += m[0].length;
  }
  return at;
}

/**
 * Moves the root key `key` to the very top of the file when it is not already the
 * first statement (Cargo reads `cargo-features` only as the first key).
 */
export function moveRootKeyFirst(text: string, key: string): string {
  const stmts = scanToml(text);
  const idx = stmts.findIndex((s) => s.kind === 'keyval' && s.table.length === 0 && sameKey(s.key, [key]));
  if (idx <= 0) return text;
  const s = stmts[idx]!;
  let line = text.slice(s.start, s.end);
  if (!line.endsWith('\n')) line += detectEol(text);
  return line + splice(text, s.start, s.end, '');
}

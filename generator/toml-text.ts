/**
 * A minimal TOML statement scanner for byte-exact, targeted edits.
 *
 * Why not a TOML library: @decimalturn/toml-patch 3.3 put `profile.hot = {...}` as an
 * inline dotted key above `cargo-features` when no `[profile]` table existed (checked),
 * which breaks Cargo's "cargo-features must be the first key" rule. Here we only locate
 * statements (table headers, key/value lines with their value spans) and splice text;
 * every caller re-parses the result with a real TOML parser (see `manifest.ts`).
 */

/** One top-level statement of a TOML document. Offsets are UTF-16 indices into the text. */
export interface TomlStmt {
  kind: 'table' | 'array-table' | 'keyval';
  /** Header: the table path. Key/value: the (dotted) key, relative to `table`. */
  key: string[];
  /** The table this statement opens (header) or belongs to (key/value; [] = root). */
  table: string[];
  /** Offset of the start of the statement's first line (indentation included). */
  start: number;
  /** Offset just past the statement's last line break (or the end of the text). */
  end: number;
  /** Key/value only: the value's span, without trailing whitespace or comment. */
  valueStart?: number;
  valueEnd?: number;
  /** The leading whitespace of the statement's first line. */
  indent: string;
}

/** Thrown for text the scanner cannot follow; callers turn it into an error naming the file. */
export class TomlScanError extends Error {}

/**
 * Splits `text` into statements. Comments and blank lines are not statements.
 * @throws TomlScanError on an unterminated string or bracket, or a malformed key.
 */
export function scanToml(text: string): TomlStmt[] {
  const out: TomlStmt[] = [];
  let i = 0;
  let table: string[] = [];
  const n = text.length;
  const isWs = (c: string) => c === ' ' || c === '\t';

  const toEol = (p: number): number => {
    while (p < n && text[p] !== '\n') p++;
    return p < n ? p + 1 : p;
  };

  const readKey = (p: number, stop: string): { key: string[]; p: number } => {
    const key: string[] = [];
    for (;;) {
      while (p < n && isWs(text[p]!)) p++;
      const c = text[p];
      if (c === '"' || c === "'") {
        const s = readString(text, p);
        key.push(s.value);
        p = s.end;
      } else {
        const m = /^[A-Za-z0-9_-]+/.exec(text.slice(p, p + 256));
        if (!m) throw new TomlScanError(`malformed key at offset ${p}`);
        key.push(m[0]);
        p += m[0].length;
      }
      while (p < n && isWs(text[p]!)) p++;
      if (text[p] === '.') {
        p++;
        continue;
      }
      if (!stop.includes(text[p] ?? '')) throw new TomlScanError(`malformed key at offset ${p}`);
      return { key, p };
    }
  };

  while (i < n) {
    const lineStart = i;
    while (i < n && isWs(text[i]!)) i++;
    const indent = text.slice(lineStart, i);
    const c = text[i];
    if (c === undefined) break;
    if (c === '#' || c === '\n' || c === '\r') {
      i = toEol(i);
      continue;
    }
    if (c === '[') {
      const arr = text[i + 1] === '[';
      const { key, p } = readKey(i + (arr ? 2 : 1), ']');
      if (arr && text[p + 1] !== ']') throw new TomlScanError(`malformed table header at offset ${i}`);
      table = key;
      i = toEol(p);
      out.push({ kind: arr ? 'array-table' : 'table', key, table: key, start: lineStart, end: i, indent });
      continue;
    }
    const { key, p } = readKey(i, '=');
    let q = p + 1;
    while (q < n && isWs(text[q]!)) q++;
    const valueStart = q;
    const valueEnd = skipValue(text, q);
    out.push({ kind: 'keyval', key, table, start: lineStart, end: toEol(valueEnd), valueStart, valueEnd, indent });
    i = toEol(valueEnd);
  }
  return out;
}

/** Reads a basic or literal (possibly multi-line) string starting at `p`; returns its decoded value and end. */
function readString(text: string, p: number): { value: string; end: number } {
  const q = text[p]!;
  const multi = text.startsWith(q.repeat(3), p);
  const delim = multi ? q.repeat(3) : q;
  let i = p + delim.length;
  let value = '';
  while (i < text.length) {
    if (text.startsWith(delim, i)) {
      let end = i + delim.length;
      // A multi-line string may end with up to two extra quotes that belong to its value.
      while (multi && text[end] === q && end - i < 5) end++;
      return { value, end };
    }
    const c = text[i]!;
    if (!multi && c === '\n') break;
    if (q === '"' && c === '\\') {
      const e = text[i + 1];
      const map: Record<string, string> = { n: '\n', t: '\t', r: '\r', '"': '"', '\\': '\\', b: '\b', f: '\f' };
      value += e !== undefined && map[e] !== undefined ? map[e] : '\\' + (e ?? '');
      i += 2;
      continue;
    }
    value += c;
    i++;
  }
  throw new TomlScanError(`unterminated string at offset ${p}`);
}

/** Returns the offset just past the value starting at `p` (comments inside arrays skipped). */
function skipValue(text: string, p: number): number {
  let depth = 0;
  let i = p;
  let lastSignificant = p;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '"' || c === "'") {
      i = readString(text, i).end;
      lastSignificant = i;
      continue;
    }
    if (c === '#') {
      if (depth === 0) break;
      while (i < text.length && text[i] !== '\n') i++;
      continue;
    }
    if (c === '\n' && depth === 0) break;
    if (c === '[' || c === '{') depth++;
    else if (c === ']' || c === '}') depth--;
    if (c !== ' ' && c !== '\t' && c !== '\r' && c !== '\n') lastSignificant = i + 1;
    i++;
  }
  if (depth !== 0) throw new TomlScanError(`unterminated array or table at offset ${p}`);
  return lastSignificant;
}

/** The line break the file uses (`\r\n` when its first line break is CRLF). */
export function detectEol(text: string): string {
  const i = text.indexOf('\n');
  return i > 0 && text[i - 1] === '\r' ? '\r\n' : '\n';
}

/** Same key path. */
export function sameKey(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((k, i) => k === b[i]);
}

/** A TOML key segment, bare when possible. */
export function tomlKey(k: string): string {
  return /^[A-Za-z0-9_-]+$/.test(k) ? k : tomlString(k);
}

/** A TOML basic string literal. */
export function tomlString(s: string): string {
  const named: Record<string, string> = { '\b': '\\b', '\t': '\\t', '\n': '\\n', '\f': '\\f', '\r': '\\r' };
  // eslint-disable-next-line no-control-regex
  return '"' + s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/[\u0000-\u001f\u007f]/g, (c) => named[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`) + '"';
}

/** A one-line TOML array of strings, e.g. `["rlib", "dylib"]`. */
export function tomlArray(items: readonly string[]): string {
  return '[' + items.map(tomlString).join(', ') + ']';
}

/**
 * A multi-line TOML array, one group of items per line, e.g. rustflags as
 * `"-C", "prefer-dynamic",` lines. `indent` is the item indentation.
 */
export function tomlArrayLines(groups: readonly (readonly string[])[], indent: string, eol: string, closeIndent = ''): string {
  if (groups.length === 0) return '[]';
  return '[' + eol + groups.map((g) => indent + g.map(tomlString).join(', ') + ',' + eol).join('') + closeIndent + ']';
}

/** Replaces `[start, end)` of `text` with `insert`. */
export function splice(text: string, start: number, end: number, insert: string): string {
  return text.slice(0, start) + insert + text.slice(end);
}

/**
 * A Rust lexer just good enough to compare two versions of a source file token by token:
 * comments and whitespace dropped, string/char/raw-string literals and lifetimes kept
 * whole, delimiters matched. Not a parser: loader/bodyedit.ts reads item structure from
 * the tokens. Lexical rules from the Rust Reference, "Lexical structure".
 */

/** One token. `line` is 1-based, `col` 0-based (UTF-16 units); `close`/`open` index the matching delimiter. */
export interface Token {
  /** `id` identifier or keyword, `lt` lifetime or label, `lit` literal, `p` one punctuation character, `open`/`close` a delimiter. */
  k: 'id' | 'lt' | 'lit' | 'p' | 'open' | 'close';
  v: string;
  line: number;
  col: number;
  /** For `open`/`close`: the index of the matching delimiter. */
  match?: number;
  /** The innermost `open` token enclosing this one (-1 at the top level). */
  parent: number;
}

const IDENT = /(?:r#)?[\p{XID_Start}_][\p{XID_Continue}]*/uy;
const NUMBER = /[0-9][0-9A-Za-z_]*(?:\.[0-9][0-9A-Za-z_]*)?/y;
const RAW_STRING = /(?:b|c)?r(#*)"/y;
const PREFIXED = /(?:b|c)"|b'/y;
const PAIRS: Record<string, string> = { ')': '(', ']': '[', '}': '{' };

/**
 * Tokens of `src` (a leading BOM and `#!` line skipped).
 * @throws Error naming the line when a literal or comment is unterminated or delimiters do not match.
 */
export function tokenize(src: string): Token[] {
  const out: Token[] = [];
  const stack: number[] = [];
  let i = src.charCodeAt(0) === 0xfeff ? 1 : 0;
  if (src.startsWith('#!', i) && !src.startsWith('#![', i)) i = src.indexOf('\n', i) < 0 ? src.length : src.indexOf('\n', i);
  let line = 1;
  let lineStart = 0;
  const fail = (what: string): never => {
    throw new Error(`line ${line}: ${what}`);
  };
  /** Advances over `src[i, j)`, counting newlines. */
  const skipTo = (j: number) => {
    for (let n = src.indexOf('\n', i); n >= 0 && n < j; n = src.indexOf('\n', n + 1)) {
      line++;
      lineStart = n + 1;
    }
    i = j;
  };
  const push = (k: Token['k'], end: number) => {
    out.push({ k, v: src.slice(i, end), line, col: i - lineStart, parent: stack.length ? stack[stack.length - 1] : -1 });
    skipTo(end);
  };
  /** The end of a quoted literal whose body starts at `j`, closed by `q`, with backslash escapes. */
  const quoted = (j: number, q: string) => {
    for (; j < src.length; j++) {
      if (src[j] === '\\') j++;
      else if (src[j] === q) return j + 1;
    }
    return fail('unterminated literal');
  };
  const at = (re: RegExp) => {
    re.lastIndex = i;
    return re.exec(src);
  };
  let m: RegExpExecArray | null;
  while (i < src.length) {
    const c = src[i];
    if (c === '\n' || c === ' ' || c === '\t' || c === '\r') {
      skipTo(i + 1);
    } else if (src.startsWith('//', i)) {
      const n = src.indexOf('\n', i);
      skipTo(n < 0 ? src.length : n);
    } else if (src.startsWith('/*', i)) {
      let depth = 0;
      let j = i;
      do {
        if (src.startsWith('/*', j)) (depth++, (j += 2));
        else if (src.startsWith('*/', j)) (depth--, (j += 2));
        else if (j >= src.length) fail('unterminated block comment');
        else j++;
      } while (depth > 0);
      skipTo(j);
    } else if ((m = at(RAW_STRING))) {
      const end = src.indexOf(`"${m[1]}`, i + m[0].length);
      if (end < 0) fail('unterminated raw string');
      push('lit', end + 1 + m[1].length);
    } else if ((m = at(PREFIXED))) {
      push('lit', quoted(i + m[0].length, m[0].slice(-1)));
    } else if ((m = at(IDENT))) {
      push('id', i + m[0].length);
    } else if (c === '"') {
      push('lit', quoted(i + 1, '"'));
    } else if (c === "'") {
      if (src[i + 1] === '\\') push('lit', quoted(i + 1, "'"));
      else {
        const cp = src.codePointAt(i + 1);
        const w = cp !== undefined && cp > 0xffff ? 2 : 1;
        if (src[i + 1 + w] === "'") push('lit', i + 2 + w);
        else {
          IDENT.lastIndex = i + 1;
          const lt = IDENT.exec(src) ?? fail('a lone quote');
          push('lt', i + 1 + lt[0].length);
        }
      }
    } else if ((m = at(NUMBER))) {
      push('lit', i + m[0].length);
    } else if (c === '(' || c === '[' || c === '{') {
      push('open', i + 1);
      stack.push(out.length - 1);
    } else if (c === ')' || c === ']' || c === '}') {
      const o = stack.pop();
      if (o === undefined || out[o].v !== PAIRS[c]) fail(`unmatched ${c}`);
      push('close', i + 1);
      out[out.length - 1].match = o;
      out[out.length - 1].parent = stack.length ? stack[stack.length - 1] : -1;
      out[o!].match = out.length - 1;
    } else {
      push('p', i + (src.codePointAt(i)! > 0xffff ? 2 : 1));
    }
  }
  if (stack.length) {
    line = out[stack[stack.length - 1]].line;
    fail(`unclosed ${out[stack[stack.length - 1]].v}`);
  }
  return out;
}

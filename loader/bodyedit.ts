/**
 * Whether an edit of a Rust source file can change what the crate's dependents compiled
 * from it. When it cannot, the dependents' dylibs built against the old version are the
 * ones a rebuild would produce (up to the crate hash they record) and need not be built
 * again: the build relinks nothing and loads the new dylib under them.
 *
 * What a dependent takes from an upstream crate, and so what an edit must leave alone
 * (rustc's `cross_crate_inlinable` and metadata encoding, compiler/rustc_mir_transform
 * src/cross_crate_inline.rs and compiler/rustc_metadata/src/rmeta/encoder.rs): the crate's
 * items and signatures, the MIR of generic, `#[inline]`, `async` and `const` functions and
 * of closures it can name, constants, macros, and the spans of all of those (panic
 * locations, debug line tables). A non-generic, non-inline function's body is compiled
 * only into the crate's own object code and called by its symbol, whose name depends on
 * the item's path and type and the crate's `-C metadata`, not on the body. Without
 * optimisation or with incremental compilation (the dev profile), rustc marks no other
 * function cross-crate inlinable; loader/fastbuild.ts checks the unit's flags.
 *
 * So an edit qualifies when every changed token is inside the body of one such function,
 * itself at module level or in a non-generic `impl`, the changed tokens declare no item
 * and no attribute and call no macro but the expression macros of std, log, tracing and
 * serde_json listed below, and no token after the function moved, unless nothing after
 * it is code a dependent compiles (generic, `async`, `const`, `#[inline]`, a trait, a
 * macro). The check is conservative: anything it does not recognise rebuilds the dependents.
 */
import { tokenize, type Token } from './rusttokens.js';

/** The verdict on one file's edit: `fn` names the function whose body changed (undefined: only comments or layout changed). */
export type EditVerdict = { bodyOnly: true; fn?: string } | { bodyOnly: false; reason: string };

/** Macros whose expansion is an expression or statement that declares no item visible outside the function. */
export const EXPRESSION_MACROS: ReadonlySet<string> = new Set(
  ('format format_args print println eprint eprintln write writeln panic assert assert_eq assert_ne debug_assert ' +
    'debug_assert_eq debug_assert_ne unreachable unimplemented todo vec matches dbg concat stringify line column file ' +
    'module_path env option_env trace debug info warn error event span trace_span debug_span info_span warn_span ' +
    'error_span log json').split(' '),
);

/** Attributes a qualifying function, `impl` or `mod` may carry: none of them changes where its code is compiled. */
const HARMLESS_ATTRS = new Set(['doc', 'allow', 'warn', 'deny', 'forbid', 'expect', 'must_use', 'cold', 'deprecated', 'cfg', 'no_mangle', 'export_name', 'link_section', 'track_caller', 'test', 'rustfmt', 'clippy', 'unsafe']);
const ITEM_WORDS = new Set(['fn', 'struct', 'enum', 'union', 'trait', 'impl', 'mod', 'static', 'const', 'macro_rules', 'extern']);
const QUALIFIERS = new Set(['pub', 'default', 'unsafe', 'async', 'const', 'extern', 'safe']);
const KEYWORDS = new Set(['if', 'while', 'match', 'return', 'in', 'as', 'let', 'mut', 'ref', 'move', 'else', 'loop', 'for', 'break', 'continue', 'yield', 'await']);

/** The words that make code after the edited function something a dependent may compile itself. */
const DOWNSTREAM_WORDS = new Set(['async', 'const', 'inline', 'derive', 'macro_rules', 'trait']);

/**
 * Decides whether the edit from `before` to `after` (the whole file's text) changes only
 * the body of non-generic, non-inline functions, as the module doc defines it.
 * `localMacros`: names of the `macro_rules!` macros the workspace defines (they shadow the allowed ones).
 * Never throws: text that does not lex gives `bodyOnly: false`.
 */
export function bodyOnlyEdit(before: string, after: string, localMacros: ReadonlySet<string> = new Set()): EditVerdict {
  let o: Token[];
  let n: Token[];
  try {
    o = tokenize(before);
    n = tokenize(after);
  } catch (e) {
    return { bodyOnly: false, reason: `does not lex: ${(e as Error).message}` };
  }
  const same = (a: Token, b: Token) => a.k === b.k && a.v === b.v;
  let p = 0;
  while (p < o.length && p < n.length && same(o[p], n[p])) p++;
  let s = 0;
  while (s < o.length - p && s < n.length - p && same(o[o.length - 1 - s], n[n.length - 1 - s])) s++;
  const delta = n.length - o.length;
  if (p === o.length && p === n.length) {
    const moved = n.findIndex((t, i) => t.line !== o[i].line || t.col !== o[i].col);
    if (moved < 0) return { bodyOnly: true };
    const risk = downstreamCode(n, moved);
    return risk ? { bodyOnly: false, reason: `code after line ${n[moved].line} moved and ${risk}` } : { bodyOnly: true };
  }
  const [a, b] = [p, n.length - s];
  // The innermost group enclosing the change in both versions (its open in the common prefix).
  let g = a >= n.length ? -1 : n[a].k === 'close' ? n[a].match! : n[a].parent;
  while (g >= 0 && n[g].match! < b) g = n[g].parent;
  for (const [toks, lo, hi] of [[o, a, o.length - s], [n, a, b]] as const) {
    const bad = changedTokens(toks, lo, hi, localMacros);
    if (bad) return { bodyOnly: false, reason: bad };
  }
  // Up from the change to the function whose body holds it: only expression groups between.
  let f = g;
  for (; f >= 0; f = n[f].parent) {
    const kind = groupKind(n, f);
    if (kind.kind === 'fn') break;
    if (kind.kind === 'macro' && !allowedMacro(kind.name, localMacros)) return { bodyOnly: false, reason: `the change is inside ${kind.name}!(...)` };
    if (kind.kind === 'attr') return { bodyOnly: false, reason: `the change is inside an attribute (line ${n[f].line})` };
    if (kind.kind !== 'expr' && kind.kind !== 'macro') return { bodyOnly: false, reason: `the change is in ${kind.kind === 'item' ? `a ${kind.name}` : `an ${kind.kind}`} at line ${n[f].line}, not in a function body` };
  }
  if (f < 0) return { bodyOnly: false, reason: `the change at line ${n[Math.min(a, n.length - 1)].line} is outside any function body` };
  const fk = groupKind(n, f);
  const header = fnHeader(n, fk.start, f);
  if (header) return { bodyOnly: false, reason: `fn ${fk.name}: ${header}` };
  for (let c = n[f].parent; c >= 0; c = n[c].parent) {
    const ck = groupKind(n, c);
    const why = ck.kind === 'mod' ? attrs(n, ck.start) : ck.kind === 'impl' ? implHeader(n, ck.start, c) : `it is inside ${ck.kind === 'fn' ? `fn ${ck.name}` : `a ${ck.kind === 'item' ? ck.name : ck.kind}`}`;
    if (why) return { bodyOnly: false, reason: `fn ${fk.name}: ${why}` };
  }
  const end = n[f].match!;
  for (let i = end + 1; i < n.length; i++) {
    if (n[i].line !== o[i - delta].line || n[i].col !== o[i - delta].col) {
      const risk = downstreamCode(n, end + 1);
      if (risk) return { bodyOnly: false, reason: `the code after fn ${fk.name} moved and ${risk}` };
      break;
    }
  }
  return { bodyOnly: true, fn: fk.name };
}

/** What introduces a group (`name`: the item's or macro's, else empty); `start` is the index of the first token of its header (attributes included). */
interface GroupKind {
  kind: 'fn' | 'impl' | 'mod' | 'trait' | 'item' | 'macro' | 'attr' | 'expr';
  name: string;
  start: number;
}

/** Classifies the group opened at `g` from the tokens before it, back to the previous `;`, `}` or opening delimiter. */
function groupKind(t: readonly Token[], g: number): GroupKind {
  let start = g;
  for (let i = g - 1; i >= 0 && i > t[g].parent; ) {
    const x = t[i];
    if (x.k === 'open' || x.v === '}' || x.v === ';') break;
    if (x.k === 'close') {
      start = x.match!;
      i = x.match! - 1;
      continue;
    }
    start = i--;
  }
  const prev = t[g - 1];
  if (prev?.v === '#' || (prev?.v === '!' && t[g - 2]?.v === '#')) return { kind: 'attr', name: '', start };
  if (prev?.v === '!' && t[g - 2]?.k === 'id' && !KEYWORDS.has(t[g - 2].v)) return { kind: 'macro', name: t[g - 2].v, start };
  if (t[g].v !== '{') return { kind: 'expr', name: '', start };
  let i = skipAttrs(t, start, g);
  while (i < g && QUALIFIERS.has(t[i].v)) {
    if (t[i].v === 'const' && t[i + 1]?.v !== 'fn' && !QUALIFIERS.has(t[i + 1]?.v)) return { kind: 'item', name: 'const', start };
    if (t[i].v === 'pub' && t[i + 1]?.v === '(') i = t[i + 1].match! + 1;
    else i += t[i].v === 'extern' && t[i + 1]?.k === 'lit' ? 2 : 1;
  }
  const w = t[i]?.v;
  if (w === 'fn') return { kind: 'fn', name: t[i + 1]?.v ?? '', start };
  if (w === 'impl' || w === 'mod' || w === 'trait') return { kind: w, name: t[i + 1]?.v ?? '', start };
  if (w !== undefined && ITEM_WORDS.has(w)) return { kind: 'item', name: w, start };
  return { kind: 'expr', name: '', start };
}

/** The index after the outer attributes (`#[...]`) starting at `i`. */
function skipAttrs(t: readonly Token[], i: number, end: number): number {
  while (i < end && t[i].v === '#' && t[i + 1]?.v === '[') i = t[i + 1].match! + 1;
  return i;
}

/** Why the attributes starting at `i` disqualify the item (undefined: they do not). */
function attrs(t: readonly Token[], i: number): string | undefined {
  for (; t[i]?.v === '#' && t[i + 1]?.v === '['; i = t[i + 1].match! + 1) {
    const name = t[i + 2]?.v ?? '';
    if (!HARMLESS_ATTRS.has(name)) return `it has the attribute #[${name}]`;
    if (name === 'unsafe' && !['no_mangle', 'export_name', 'link_section'].includes(t[i + 4]?.v)) return `it has the attribute #[unsafe(${t[i + 4]?.v})]`;
  }
  return undefined;
}

/** Why the generic parameter list opening with `<` at `i` has a type or const parameter (undefined: lifetimes only, or no list). */
function typeParams(t: readonly Token[], i: number): string | undefined {
  if (t[i]?.v !== '<') return undefined;
  for (let depth = 0; i < t.length; i++) {
    if (t[i].v === '<') depth++;
    else if (t[i].v === '>') {
      if (--depth === 0) return undefined;
    } else if (t[i].k !== 'lt' && t[i].v !== ',' && t[i].v !== ':' && t[i].v !== '+') return 'it is generic';
  }
  return 'it is generic';
}

/** Why the function whose header starts at `start` and whose body opens at `body` disqualifies the edit. */
function fnHeader(t: readonly Token[], start: number, body: number): string | undefined {
  const a = attrs(t, start);
  if (a) return a;
  let i = skipAttrs(t, start, body);
  for (; t[i].v !== 'fn'; i++) if (t[i].v === 'async' || t[i].v === 'const') return `it is ${t[i].v}`;
  const generic = typeParams(t, i + 2);
  if (generic) return generic;
  for (; i < body; i++) if (t[i].v === 'impl') return 'its signature has an impl Trait type';
  return undefined;
}

/** Why the `impl` block whose header starts at `start` (body at `body`) disqualifies a function in it. */
function implHeader(t: readonly Token[], start: number, body: number): string | undefined {
  const a = attrs(t, start);
  if (a) return a;
  let i = skipAttrs(t, start, body);
  while (t[i].v !== 'impl') i++;
  const generic = typeParams(t, i + 1);
  if (generic) return `its impl block ${generic}`;
  for (i++; i < body; i++) if (t[i].v === 'impl') return 'its impl block names an impl Trait type';
  return undefined;
}

/** Whether a macro name is one of the expression macros and not shadowed by the crate's own. */
function allowedMacro(name: string, local: ReadonlySet<string>): boolean {
  return EXPRESSION_MACROS.has(name) && !local.has(name);
}

/** Why the changed tokens `t[lo, hi)` disqualify the edit: an item or attribute declared, another macro called. */
function changedTokens(t: readonly Token[], lo: number, hi: number, local: ReadonlySet<string>): string | undefined {
  for (let i = lo; i < hi; i++) {
    const x = t[i];
    if (x.v === '#') return `line ${x.line} changes an attribute`;
    if (x.k === 'id' && ITEM_WORDS.has(x.v) && t[i - 1]?.v !== '.' && t[i - 1]?.v !== ':') return `line ${x.line} changes an item (${x.v})`;
    const name = x.k === 'id' && t[i + 1]?.v === '!' && t[i + 2]?.k === 'open' ? x.v : x.v === '!' && t[i - 1]?.k === 'id' && t[i + 1]?.k === 'open' ? t[i - 1].v : undefined;
    if (name !== undefined && !KEYWORDS.has(name) && !allowedMacro(name, local)) return `line ${x.line} calls the macro ${name}!`;
  }
  return undefined;
}

/** Why tokens from `from` on hold code a dependent may compile itself (undefined: none). */
function downstreamCode(t: readonly Token[], from: number): string | undefined {
  for (let i = from; i < t.length; i++) {
    const x = t[i];
    if (x.k !== 'id') continue;
    if (DOWNSTREAM_WORDS.has(x.v)) return `line ${x.line} has ${x.v} code`;
    if ((x.v === 'fn' || x.v === 'struct' || x.v === 'enum' || x.v === 'union' || x.v === 'type') && typeParams(t, i + 2)) return `line ${x.line} has a generic ${x.v}`;
    if (x.v === 'impl' && (typeParams(t, i + 1) || !['}', ';', '{', ']', 'unsafe', undefined].includes(t[i - 1]?.v))) return `line ${x.line} has a generic impl or impl Trait type`;
  }
  return undefined;
}

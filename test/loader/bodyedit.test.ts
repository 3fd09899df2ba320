import { describe, expect, it } from 'vitest';
import { bodyOnlyEdit } from '../../loader/bodyedit.js';
import { tokenize } from '../../loader/rusttokens.js';

/** `src` with `from` replaced by `to` (which must occur once). */
function edit(src: string, from: string, to: string): [string, string] {
  expect(src.split(from).length, `${from} occurs once`).toBe(2);
  return [src, src.replace(from, to)];
}
const ok = (pair: [string, string], local?: Set<string>) => expect(bodyOnlyEdit(pair[0], pair[1], local)).toMatchObject({ bodyOnly: true });
const no = (pair: [string, string], reason: RegExp, local?: Set<string>) => {
  const v = bodyOnlyEdit(pair[0], pair[1], local);
  expect(v.bodyOnly, JSON.stringify(v)).toBe(false);
  if (!v.bodyOnly) expect(v.reason).toMatch(reason);
};

const API = `//! The API.
use std::collections::HashMap;

/// This crate's part of \`GET /version\`.
pub fn version() -> &'static str {
    "api v1"
}

pub(crate) fn table(n: u8) -> HashMap<String, u8> {
    let mut m = HashMap::new();
    m.insert(format!("n{n}"), n);
    m
}

pub struct Api<'a> { name: &'a str }

impl<'a> Api<'a> {
    pub fn name(&self) -> &'a str {
        match self.name { "" => "none", n => n }
    }
}

fn plain(x: u32) -> u32 {
    let f = |y: u32| y + 1;
    f(x) * 2
}
`;
const TAIL = `
pub async fn handle() -> u32 { 1 }

pub fn generic<T: Clone>(t: &T) -> T { t.clone() }

#[inline]
pub fn small() -> u32 { 7 }

impl<T> Wrap<T> {
    pub fn get(&self) -> u32 { 3 }
}

pub trait Named {
    fn named(&self) -> &str { "default" }
}

pub const LIMIT: usize = { 1 << 20 };

#[tracing::instrument]
pub fn traced() -> u32 { 5 }

pub fn opaque() -> impl Fn() -> u32 { || 9 }

pub fn outer() -> u32 {
    impl Named for u8 { fn named(&self) -> &str { "u8" } }
    fn inner() -> u32 { 4 }
    inner()
}

pub struct Wrap<T>(T);
`;

describe('bodyOnlyEdit', () => {
  it('accepts an edit inside the body of a non-generic function', () => {
    ok(edit(API, '"api v1"', '"api v2"'));
    ok(edit(API, 'm.insert(format!("n{n}"), n);', 'm.insert(format!("k{n}"), n + 1);'));
    ok(edit(API, '"" => "none"', '"" => "nobody"'));
    ok(edit(API, 'y + 1', 'y + 2'));
    ok(edit(API + TAIL, '"api v1"', '"api v3"'));
    // A UTF-8 BOM and CRLF line ends, as editors on other systems leave them.
    ok(edit(`\ufeff${API.replace(/\n/g, '\r\n')}${TAIL}`, '"api v1"', '"api v4"'));
    no(edit(`\ufeff${API.replace(/\n/g, '\r\n')}${TAIL}`, '"api v1"', '"api v4";\r\n    "x"'), /moved and line \d+ has async code/);
  });

  it('accepts calls to expression macros, and lines added when nothing after them is compiled by a dependent', () => {
    ok(edit(API, '    "api v1"', '    tracing::info!(v = 1, "asked");\n    println!("x");\n    "api v1"'));
    ok(edit(API, '//! The API.', '//! The API, now with\n//! two lines.'));
  });

  it('refuses an edit a dependent may see', () => {
    no(edit(API + TAIL, 'pub async fn handle() -> u32 { 1 }', 'pub async fn handle() -> u32 { 2 }'), /handle: it is async/);
    no(edit(API + TAIL, 't.clone() }', 't.clone().clone() }'), /generic: it is generic/);
    no(edit(API + TAIL, '{ 7 }', '{ 8 }'), /small: it has the attribute #\[inline\]/);
    no(edit(API + TAIL, '{ 3 }', '{ 4 }'), /get: its impl block it is generic/);
    no(edit(API + TAIL, '"default"', '"other"'), /inside a trait/);
    no(edit(API + TAIL, '{ 1 << 20 }', '{ 1 << 21 }'), /in a const/);
    no(edit(API + TAIL, '{ 5 }', '{ 6 }'), /#\[tracing\]/);
    no(edit(API + TAIL, '|| 9', '|| 10'), /impl Trait/);
    no(edit(API + TAIL, '"u8"', '"byte"'), /named: it is inside fn outer/);
    no(edit(API + TAIL, '{ 4 }', '{ 5 }'), /inside fn outer/);
    no(edit(API, 'fn plain(x: u32)', 'fn plain(x: u64)'), /outside any function body/);
    no(edit(API, '-> u32 {\n    let f', '-> u64 {\n    let f'), /outside any function body/);
    no(edit(API, '    "api v1"', '    fn helper() {}\n    "api v1"'), /changes an item \(fn\)/);
    no(edit(API, '    "api v1"', '    #[allow(unused)]\n    let _x = 1;\n    "api v1"'), /changes an attribute/);
    no(edit(API, '    "api v1"', '    my_macro!(1);\n    "api v1"'), /calls the macro my_macro!/);
    no(edit(API, '    "api v1"', '    info!(1);\n    "api v1"'), /calls the macro info!/, new Set(['info']));
    no(edit(API, 'format!("n{n}")', 'my_format!("n{n}")'), /calls the macro my_format!/);
  });

  it('refuses a line added above code a dependent compiles (its spans move)', () => {
    no(edit(API + TAIL, '    "api v1"', '    let v = "api v1";\n    v'), /moved and line \d+ has async code/);
    no(edit(API + TAIL, '//! The API.', '//! The API.\n//! More.'), /moved and line \d+ has async code/);
    ok(edit(API + TAIL, '    "api v1"', '    let v = "api v1"; v'));
  });

  it('lexes raw strings, byte strings, chars, lifetimes and nested comments', () => {
    const t = tokenize(`fn f<'a>(x: &'a str) -> char { let _ = r#"a "quoted" } b"#; let _ = b'}'; /* { /* } */ */ '}' }`);
    expect(t.filter((x) => x.k === 'lit').map((x) => x.v)).toEqual([`r#"a "quoted" } b"#`, `b'}'`, `'}'`]);
    expect(t.filter((x) => x.k === 'lt').map((x) => x.v)).toEqual([`'a`, `'a`]);
    expect(t.filter((x) => x.k === 'open').map((x) => x.v)).toEqual(['(', '{']);
    expect(() => tokenize('fn f() { "unterminated }')).toThrow(/line 1: unterminated literal/);
    expect(() => tokenize('fn f() { )')).toThrow(/unmatched \)/);
    no(['fn f() {}', 'fn f() { "x }'], /does not lex/);
  });
});

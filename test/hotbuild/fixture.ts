/**
 * A third-party-shaped Cargo workspace for the acceptance tests of issue 8, built
 * offline from Debian's crate sources (`.cargo/config.toml` replaces crates-io with the
 * directory source /usr/share/cargo/registry, `net.offline = true`):
 *
 * ```text
 * ws_server (bin only) ─► ws_app (entry: HTTP/1.1 on ctx.listeners())
 *                          ├─► ws_ffi (crate-type = ["cdylib", "rlib"]) ─► ws_render, memchr
 *                          ├─► ws_render (mid level: the body's first line) ─► ws_text, regex, log, ws_macros (proc_macro)
 *                          └─► ws_text ─► ws_base, regex, memchr, log
 *                                         ws_base ─► memchr, log, cfg-if (no_std), ws_compat (vendor/, excluded)
 * fuzz/ (its own workspace, excluded)
 * ```
 *
 * Four workspace libraries share registry crates (memchr, log, regex), which the old
 * manifest-editing hot build could not link (`memchr` only shows up once). The entry
 * carries the snippet `hotgen init` prints (`entrySnippet()`), committed before `init`,
 * and no manifest declares `cfg(hotgen)`.
 */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { run } from '../../common/exec.js';
import { entrySnippet } from '../../generator/render-impl.js';
import type { Tree } from '../helpers/tree.js';
import { missingTool } from '../helpers/tools.js';

/** Where Debian's `librust-*-dev` packages put crate sources. */
export const DEBIAN_REGISTRY = '/usr/share/cargo/registry';

/** The Debian crate sources (package: directory) of {@link thirdPartyWorkspace} (bookworm's versions). */
const WORKSPACE_CRATES: Record<string, string> = {
  'librust-regex-dev': 'regex-1.7.1',
  'librust-log-dev': 'log-0.4.17',
  'librust-memchr-dev': 'memchr-2.5.0',
  'librust-cfg-if-dev': 'cfg-if-1.0.0',
  'librust-aho-corasick-dev': 'aho-corasick-0.7.19',
  'librust-regex-syntax-dev': 'regex-syntax-0.6.27',
};
/** Those of {@link procMacro2Workspace}: exactly proc-macro2 1.0.47, which fails on today's nightly. */
const PROC_MACRO2_CRATES: Record<string, string> = {
  'librust-proc-macro2-dev': 'proc-macro2-1.0.47',
  'librust-unicode-ident-dev': 'unicode-ident-1.0.0',
};

function missingIn(needed: Record<string, string>): string | undefined {
  const missing = Object.entries(needed).filter(([, dir]) => !existsSync(path.join(DEBIAN_REGISTRY, dir, 'Cargo.toml')));
  return missing.length ? `Debian crate sources missing: ${missing.map(([, dir]) => dir).join(', ')} (apt-get install ${missing.map(([pkg]) => pkg).join(' ')}; .ci/setup does)` : undefined;
}

/** Why {@link thirdPartyWorkspace} cannot be built here, or undefined. */
export const missingCrates = (): string | undefined => missingIn(WORKSPACE_CRATES);
/** Why {@link procMacro2Workspace} cannot be built here, or undefined. */
export const missingProcMacro2 = (): string | undefined => missingIn(PROC_MACRO2_CRATES);

/** Why `cargo +stable` cannot run here, or undefined. */
export const missingStable = (): string | undefined => missingTool('cargo', ['+stable', '--version']);

/** The directory source every fixture uses (as examples/tokio-server/.cargo/config.toml). */
export const CARGO_CONFIG = [
  '# No registry is reachable: crates come from Debian packaged sources.',
  '[source.crates-io]',
  'replace-with = "debian"',
  '',
  '[source.debian]',
  `directory = "${DEBIAN_REGISTRY}"`,
  '',
  '[net]',
  'offline = true',
  '',
].join('\n');

/** The first line of every answer before and after the mid-level edit. */
export const RENDER_V1 = 'render v1';
export const RENDER_V2 = 'render v2';
/** The mid-level crate's source, relative to the root; the edit replaces RENDER_V1 with RENDER_V2. */
export const MID_SOURCE = 'crates/render/src/lib.rs';

/** Workspace libraries in the entry's closure, bottom-up (a topological order). */
export const WORKSPACE_LIBS = ['ws_base', 'ws_text', 'ws_render', 'ws_ffi', 'ws_app'];
/** Registry crates (and the excluded vendored crate) in the entry's closure, as library names. */
export const REGISTRY_LIBS = ['memchr', 'log', 'cfg_if', 'regex', 'regex_syntax', 'aho_corasick', 'ws_compat'];

/**
 * The entry's `mod hot { ... }`: the snippet `init` prints, with the body of
 * `hotgen_run` replaced by a call to the crate's serve loop.
 * @throws Error when the snippet no longer has the shape this fixture relies on.
 */
export function hotModule(body: string[]): string {
  const lines = entrySnippet();
  const start = lines.findIndex((l) => /^ {4}fn hotgen_run\(ctx: &hotgen_entry::Context\) -> i32 \{$/.test(l));
  const end = lines.findIndex((l, i) => i > start && l === '    }');
  if (start < 0 || end < 0 || lines[0]?.startsWith('//') !== true || !lines.includes('#[allow(unexpected_cfgs)]')) {
    throw new Error(`entrySnippet() changed shape; update test/hotbuild/fixture.ts:\n${lines.join('\n')}`);
  }
  return [...lines.slice(0, start + 1), ...body.map((l) => `        ${l}`), ...lines.slice(end)].join('\n') + '\n';
}

const HOT_BODY = [
  'let listener = match ctx.listeners() {',
  '    Ok(mut l) if !l.is_empty() => l.remove(0),',
  '    _ => return 1,',
  '};',
  'match crate::serve(listener, &|t: std::time::Duration| ctx.wait_stop(Some(t))) {',
  '    Ok(_) => 0,',
  '    Err(_) => 1,',
  '}',
];

const pkg = (name: string, extra = '') =>
  `[package]\nname = "${name}"\nversion.workspace = true\nedition.workspace = true\nlicense.workspace = true\npublish = false\n${extra}`;

/** The main fixture: the workspace of the module comment, with `.gitignore` (target/). */
export function thirdPartyWorkspace(): Tree {
  return {
    '.cargo/config.toml': CARGO_CONFIG,
    '.gitignore': '/target\n',
    'README.md': '# textsrv\n\nA small text service (hotgen acceptance fixture).\n',
    'Cargo.toml': [
      '[workspace]',
      'resolver = "2"',
      'members = ["crates/*", "server"]',
      '# fuzz/ is its own workspace (cargo fuzz); vendor/ holds patched third-party code',
      'exclude = ["fuzz", "vendor"]',
      '',
      '[workspace.package]',
      'version = "0.3.1"',
      'edition = "2021"',
      'license = "MIT OR Apache-2.0"',
      '',
      '[workspace.dependencies]',
      'log = "0.4.17"',
      'memchr = "2.5"',
      'cfg-if = "1.0"',
      'regex = { version = "1.7", default-features = false, features = ["std", "perf"] }',
      'ws_base = { path = "crates/base" }',
      'ws_text = { path = "crates/text" }',
      'ws_render = { path = "crates/render" }',
      'ws_ffi = { path = "crates/ffi" }',
      'ws_macros = { path = "crates/macros" }',
      '',
      '[profile.release]',
      'codegen-units = 4',
      '',
    ].join('\n'),

    // Excluded: a vendored crate used through a path dependency (not a member).
    'vendor/compat/Cargo.toml': '[package]\nname = "ws_compat"\nversion = "0.1.0"\nedition = "2018"\nlicense = "MIT"\n',
    'vendor/compat/src/lib.rs': '//! Vendored helpers.\n\n/// `n`, at most `max`.\npub fn clamp_len(n: usize, max: usize) -> usize {\n    if n > max { max } else { n }\n}\n',

    // Excluded: cargo-fuzz's own workspace, never built by these tests.
    'fuzz/Cargo.toml': [
      '[package]',
      'name = "ws_fuzz"',
      'version = "0.0.0"',
      'edition = "2021"',
      'publish = false',
      '',
      '[dependencies]',
      'ws_text = { path = "../crates/text" }',
      '',
      '[workspace]',
      'members = ["."]',
      '',
    ].join('\n'),
    'fuzz/src/main.rs': 'fn main() {\n    let _ = ws_text::words("fuzz me");\n}\n',

    'crates/base/Cargo.toml': pkg(
      'ws_base',
      '\n[dependencies]\nmemchr.workspace = true\nlog.workspace = true\ncfg-if.workspace = true\nws_compat = { path = "../../vendor/compat" }\n',
    ),
    'crates/base/src/lib.rs': [
      '//! Byte-level helpers.',
      '',
      '/// How often `needle` occurs in `hay`.',
      'pub fn count_byte(hay: &[u8], needle: u8) -> usize {',
      '    memchr::memchr_iter(needle, hay).count()',
      '}',
      '',
      '/// `s` cut to at most `max` bytes (on a char boundary).',
      'pub fn truncate(s: &str, max: usize) -> &str {',
      '    let mut n = ws_compat::clamp_len(s.len(), max);',
      '    while !s.is_char_boundary(n) {',
      '        n -= 1;',
      '    }',
      '    log::trace!("truncate to {n}");',
      '    &s[..n]',
      '}',
      '',
      'cfg_if::cfg_if! {',
      '    if #[cfg(target_os = "linux")] {',
      '        /// The platform this was built for.',
      '        pub fn platform() -> &\'static str { "linux" }',
      '    } else {',
      '        /// The platform this was built for.',
      '        pub fn platform() -> &\'static str { "other" }',
      '    }',
      '}',
      '',
      '#[cfg(test)]',
      'mod tests {',
      '    #[test]',
      '    fn counts_and_truncates() {',
      '        assert_eq!(super::count_byte(b"a\\nb\\n", b\'\\n\'), 2);',
      '        assert_eq!(super::truncate("héllo", 2), "h");',
      '    }',
      '}',
      '',
    ].join('\n'),

    'crates/text/Cargo.toml': pkg(
      'ws_text',
      '\n[dependencies]\nws_base.workspace = true\nregex.workspace = true\nmemchr.workspace = true\nlog.workspace = true\n',
    ),
    'crates/text/src/lib.rs': [
      '//! Text helpers.',
      '',
      'use regex::Regex;',
      '',
      '/// The ASCII words of `s`.',
      '///',
      '/// ```',
      '/// assert_eq!(ws_text::words("/hello/big-world"), ["hello", "big", "world"]);',
      '/// ```',
      'pub fn words(s: &str) -> Vec<&str> {',
      '    let re = Regex::new("[A-Za-z0-9]+").expect("valid regex");',
      '    re.find_iter(s).map(|m| m.as_str()).collect()',
      '}',
      '',
      '/// Where the head of an HTTP request ends (after the blank line), if it has.',
      'pub fn head_end(buf: &[u8]) -> Option<usize> {',
      '    memchr::memmem::find(buf, b"\\r\\n\\r\\n").map(|i| i + 4)',
      '}',
      '',
      '/// Lines in `s` (a last line without a newline counts).',
      'pub fn line_count(s: &str) -> usize {',
      '    // A warning the workspace has always had (third-party code is rarely spotless).',
      '    let unused_limit = 4096;',
      '    let n = ws_base::count_byte(s.as_bytes(), b\'\\n\');',
      '    log::debug!("{n} newlines");',
      '    if s.ends_with(\'\\n\') || s.is_empty() { n } else { n + 1 }',
      '}',
      '',
      '#[cfg(test)]',
      'mod tests {',
      '    #[test]',
      '    fn words_and_lines() {',
      '        assert_eq!(super::words("a b"), ["a", "b"]);',
      '        assert_eq!(super::line_count("a\\nb"), 2);',
      '        assert_eq!(super::head_end(b"GET / HTTP/1.1\\r\\n\\r\\nx"), Some(18));',
      '    }',
      '}',
      '',
    ].join('\n'),

    'crates/macros/Cargo.toml': pkg('ws_macros', '\n[lib]\nproc-macro = true\n'),
    'crates/macros/src/lib.rs': [
      '//! `#[derive(Named)]`: an inherent `TYPE_NAME` constant (plain `proc_macro`, no syn).',
      '',
      'use proc_macro::{TokenStream, TokenTree};',
      '',
      '#[proc_macro_derive(Named)]',
      'pub fn derive_named(input: TokenStream) -> TokenStream {',
      '    let mut tokens = input.into_iter();',
      '    let mut name = None;',
      '    while let Some(t) = tokens.next() {',
      '        if let TokenTree::Ident(i) = &t {',
      '            let s = i.to_string();',
      '            if s == "struct" || s == "enum" {',
      '                name = tokens.next().map(|n| n.to_string());',
      '                break;',
      '            }',
      '        }',
      '    }',
      '    let name = name.expect("#[derive(Named)] on a struct or enum");',
      '    format!("impl {name} {{ pub const TYPE_NAME: &\'static str = \\"{name}\\"; }}").parse().unwrap()',
      '}',
      '',
    ].join('\n'),

    'crates/render/Cargo.toml': pkg(
      'ws_render',
      '\n[dependencies]\nws_text.workspace = true\nws_macros.workspace = true\nregex.workspace = true\nlog.workspace = true\n',
    ),
    [MID_SOURCE]: [
      '//! The first line of every answer.',
      '',
      'use ws_macros::Named;',
      '',
      '/// Which renderer answered.',
      `pub const VERSION: &str = "${RENDER_V1}";`,
      '',
      '/// A rendered page.',
      '#[derive(Named, Debug)]',
      'pub struct Page {',
      '    pub words: usize,',
      '}',
      '',
      '/// The first line of the answer to `path`.',
      'pub fn render(path: &str) -> String {',
      '    let page = Page { words: ws_text::words(path).len() };',
      '    let digits = regex::Regex::new("[0-9]").expect("valid regex").find_iter(path).count();',
      '    log::info!("render {path}");',
      '    format!("{VERSION} {} words={} digits={digits}", Page::TYPE_NAME, page.words)',
      '}',
      '',
      '#[cfg(test)]',
      'mod tests {',
      '    #[test]',
      '    fn renders() {',
      `        assert_eq!(super::render("/a1/b"), "${RENDER_V1} Page words=2 digits=1");`,
      '    }',
      '}',
      '',
    ].join('\n'),

    'crates/ffi/Cargo.toml': pkg(
      'ws_ffi',
      '\n[lib]\ncrate-type = ["cdylib", "rlib"]\n\n[dependencies]\nws_render.workspace = true\nmemchr.workspace = true\n',
    ),
    'crates/ffi/src/lib.rs': [
      '//! A C ABI for other languages (the cdylib), and the answer\'s footer for Rust callers.',
      '',
      '/// Adler-32 of `bytes`.',
      'pub fn checksum(bytes: &[u8]) -> u32 {',
      '    let (mut a, mut b) = (1u32, 0u32);',
      '    for &x in bytes {',
      '        a = (a + x as u32) % 65521;',
      '        b = (b + a) % 65521;',
      '    }',
      '    (b << 16) | a',
      '}',
      '',
      '/// The footer line under `body`.',
      'pub fn footer(body: &str) -> String {',
      '    let spaces = memchr::memchr_iter(b\' \', body.as_bytes()).count();',
      '    format!("checksum={:08x} spaces={spaces} via {}", checksum(body.as_bytes()), ws_render::VERSION.len())',
      '}',
      '',
      '/// C entry point: Adler-32 of `len` bytes at `ptr`.',
      '///',
      '/// # Safety',
      '/// `ptr` must point to `len` readable bytes.',
      '#[no_mangle]',
      'pub unsafe extern "C" fn ws_ffi_checksum(ptr: *const u8, len: usize) -> u32 {',
      '    checksum(std::slice::from_raw_parts(ptr, len))',
      '}',
      '',
      '#[cfg(test)]',
      'mod tests {',
      '    #[test]',
      '    fn adler32() {',
      '        assert_eq!(super::checksum(b"Wikipedia"), 0x11e60398);',
      '    }',
      '}',
      '',
    ].join('\n'),

    'crates/app/Cargo.toml': pkg(
      'ws_app',
      '\n[dependencies]\nws_text.workspace = true\nws_render.workspace = true\nws_ffi.workspace = true\nlog.workspace = true\n',
    ),
    'crates/app/src/lib.rs': [
      '//! The HTTP/1.1 front: an accept loop that joins its threads before it returns.',
      '',
      'use std::io::{self, Read, Write};',
      'use std::net::{Shutdown, TcpListener, TcpStream};',
      'use std::thread::{self, JoinHandle};',
      'use std::time::Duration;',
      '',
      '/// The body of the answer to `GET <path>`.',
      'pub fn respond(path: &str) -> String {',
      '    let first = ws_render::render(path);',
      '    format!("{first}\\n{}\\n", ws_ffi::footer(&first))',
      '}',
      '',
      '/// Serves on `listener` until `stop(pause)` (which may block up to `pause`) says stop;',
      '/// then joins every connection thread and returns the number of connections.',
      'pub fn serve(listener: TcpListener, stop: &dyn Fn(Duration) -> bool) -> io::Result<u64> {',
      '    listener.set_nonblocking(true)?;',
      '    let mut workers: Vec<JoinHandle<()>> = Vec::new();',
      '    let mut accepted = 0u64;',
      '    let result = loop {',
      '        match listener.accept() {',
      '            Ok((stream, _)) => {',
      '                accepted += 1;',
      '                workers.push(thread::spawn(move || handle(stream)));',
      '            }',
      '            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {',
      '                if stop(Duration::from_millis(20)) {',
      '                    break Ok(accepted);',
      '                }',
      '            }',
      '            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}',
      '            Err(e) => break Err(e),',
      '        }',
      '        let (done, running): (Vec<_>, Vec<_>) = workers.into_iter().partition(|w| w.is_finished());',
      '        for w in done {',
      '            let _ = w.join();',
      '        }',
      '        workers = running;',
      '    };',
      '    for w in workers {',
      '        let _ = w.join();',
      '    }',
      '    result',
      '}',
      '',
      'fn handle(mut stream: TcpStream) {',
      '    let _ = stream.set_nonblocking(false);',
      '    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));',
      '    let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));',
      '    let mut buf = Vec::new();',
      '    let mut chunk = [0u8; 2048];',
      '    while ws_text::head_end(&buf).is_none() {',
      '        match stream.read(&mut chunk) {',
      '            Ok(0) | Err(_) => return,',
      '            Ok(n) => buf.extend_from_slice(&chunk[..n]),',
      '        }',
      '        if buf.len() > 64 * 1024 {',
      '            return;',
      '        }',
      '    }',
      '    let head = String::from_utf8_lossy(&buf);',
      '    let mut parts = head.split(\' \');',
      '    let (status, body) = match (parts.next(), parts.next()) {',
      '        (Some("GET"), Some(path)) => ("200 OK", respond(path)),',
      '        _ => ("405 Method Not Allowed", "GET only\\n".to_string()),',
      '    };',
      '    let answer = format!(',
      '        "HTTP/1.1 {status}\\r\\nContent-Type: text/plain\\r\\nContent-Length: {}\\r\\nConnection: close\\r\\n\\r\\n{body}",',
      '        body.len()',
      '    );',
      '    let _ = stream.write_all(answer.as_bytes());',
      '    let _ = stream.shutdown(Shutdown::Write);',
      '}',
      '',
      hotModule(HOT_BODY),
      '#[cfg(test)]',
      'mod tests {',
      '    #[test]',
      '    fn answers() {',
      `        assert!(super::respond("/x").starts_with("${RENDER_V1} Page words=1"));`,
      '    }',
      '}',
      '',
    ].join('\n'),

    // Bin-only package: the production server.
    'server/Cargo.toml': pkg('ws_server', '\n[[bin]]\nname = "textsrv"\npath = "src/main.rs"\n\n[dependencies]\nws_app = { path = "../crates/app" }\n'),
    'server/src/main.rs': [
      'use std::net::TcpListener;',
      'use std::time::Duration;',
      '',
      'fn main() -> std::io::Result<()> {',
      '    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:8080".to_string());',
      '    let listener = TcpListener::bind(&addr)?;',
      '    println!("listening on {}", listener.local_addr()?);',
      '    ws_app::serve(listener, &|pause: Duration| {',
      '        std::thread::sleep(pause);',
      '        false',
      '    })?;',
      '    Ok(())',
      '}',
      '',
    ].join('\n'),
  };
}

/** An entry that only waits for the stop request (for fixtures that need not serve). */
const WAIT_ONLY = ['ctx.wait_stop(None);', '0'];

/**
 * Issue 8's lockfile case: proc-macro2 1.0.47 (the version Debian packages) enables
 * `proc_macro_span_shrink` when its build script sees a nightly rustc, and the pinned
 * nightly no longer has it (E0635). It is reached twice, as usual: through a
 * proc-macro crate (`pm_derive`) and as a normal dependency of a library in the
 * entry's closure (`pm_core` lexes with its fallback lexer).
 */
export function procMacro2Workspace(): Tree {
  const manifest = (name: string, extra: string) => `[package]\nname = "${name}"\nversion = "0.1.0"\nedition = "2021"\n${extra}`;
  return {
    '.cargo/config.toml': CARGO_CONFIG,
    '.gitignore': '/target\n',
    'Cargo.toml': '[workspace]\nresolver = "2"\nmembers = ["core", "derive", "app"]\n',
    'core/Cargo.toml': manifest('pm_core', '\n[dependencies]\nproc-macro2 = "1.0"\n'),
    'core/src/lib.rs': [
      '/// Whether `s` lexes as Rust tokens (proc-macro2\'s fallback lexer, outside any macro).',
      'pub fn lexes(s: &str) -> bool {',
      '    s.parse::<proc_macro2::TokenStream>().is_ok()',
      '}',
      '',
    ].join('\n'),
    'derive/Cargo.toml': manifest('pm_derive', '\n[lib]\nproc-macro = true\n\n[dependencies]\nproc-macro2 = "1.0"\n'),
    'derive/src/lib.rs': [
      'use proc_macro::TokenStream;',
      '',
      '/// `shout!(ident)`: the tokens, upper-cased, as a string literal.',
      '#[proc_macro]',
      'pub fn shout(input: TokenStream) -> TokenStream {',
      '    let text = proc_macro2::TokenStream::from(input).to_string().to_uppercase();',
      '    proc_macro2::TokenStream::from(proc_macro2::TokenTree::Literal(proc_macro2::Literal::string(&text))).into()',
      '}',
      '',
    ].join('\n'),
    'app/Cargo.toml': manifest('pm_app', '\n[dependencies]\npm_core = { path = "../core" }\npm_derive = { path = "../derive" }\n'),
    'app/src/lib.rs': [
      '/// A greeting, if it lexes.',
      'pub fn answer() -> String {',
      '    format!("{} {}", pm_derive::shout!(hello), pm_core::lexes("a + b"))',
      '}',
      '',
      hotModule(WAIT_ONLY),
    ].join('\n'),
  };
}

/** One workspace `cargo metadata` accepts that `init` and the hot build must accept too. */
export interface BadInputCase {
  name: string;
  /** Written under the temporary directory; the workspace root is `<tmp>/ws`. */
  tree: Tree;
  /** Symbolic links to create (link path → target), relative to the temporary directory. */
  symlinks?: Record<string, string>;
  /** The entry package and its shim, relative to the root. */
  entry: string;
  shim: string;
  /** Workspace modules the hot build must produce, bottom-up. */
  modules: string[];
}

const small = (name: string, deps = '', lib = '') =>
  `[package]\nname = "${name}"\nversion = "0.1.0"\nedition = "2021"\n${lib}${deps ? `\n[dependencies]\n${deps}` : ''}`;
const entryLib = (call: string) => [`/// The answer.`, `pub fn answer() -> u32 {`, `    ${call} + 1`, `}`, '', hotModule(WAIT_ONLY)].join('\n');
const baseLib = 'pub fn value() -> u32 {\n    41\n}\n';

/** The "Bad input" list of issue 8: BOM, default-members, a renamed package, `[lib] path` elsewhere, a symlinked member. */
export function badInputCases(): BadInputCase[] {
  return [
    {
      name: 'a member manifest with a UTF-8 BOM',
      tree: {
        'ws/Cargo.toml': '[workspace]\nresolver = "2"\nmembers = ["base", "app"]\n',
        'ws/base/Cargo.toml': `\uFEFF${small('bom_base')}`,
        'ws/base/src/lib.rs': baseLib,
        'ws/app/Cargo.toml': `\uFEFF${small('bom_app', 'bom_base = { path = "../base" }\n')}`,
        'ws/app/src/lib.rs': entryLib('bom_base::value()'),
      },
      entry: 'bom_app',
      shim: 'app/src/hotgen_entry.rs',
      modules: ['bom_base', 'bom_app'],
    },
    {
      name: 'default-members',
      tree: {
        'ws/Cargo.toml': '[workspace]\nresolver = "2"\nmembers = ["base", "app", "cli"]\ndefault-members = ["cli"]\n',
        'ws/base/Cargo.toml': small('dm_base'),
        'ws/base/src/lib.rs': baseLib,
        'ws/app/Cargo.toml': small('dm_app', 'dm_base = { path = "../base" }\n'),
        'ws/app/src/lib.rs': entryLib('dm_base::value()'),
        'ws/cli/Cargo.toml': small('dm_cli', 'dm_app = { path = "../app" }\n'),
        'ws/cli/src/main.rs': 'fn main() {\n    println!("{}", dm_app::answer());\n}\n',
      },
      entry: 'dm_app',
      shim: 'app/src/hotgen_entry.rs',
      modules: ['dm_base', 'dm_app'],
    },
    {
      name: 'a renamed package dependency',
      tree: {
        'ws/Cargo.toml': '[workspace]\nresolver = "2"\nmembers = ["base", "app"]\n',
        'ws/base/Cargo.toml': small('rn-base-impl'),
        'ws/base/src/lib.rs': baseLib,
        'ws/app/Cargo.toml': small('rn_app', 'util = { package = "rn-base-impl", path = "../base" }\n'),
        'ws/app/src/lib.rs': entryLib('util::value()'),
      },
      entry: 'rn_app',
      shim: 'app/src/hotgen_entry.rs',
      modules: ['rn-base-impl', 'rn_app'],
    },
    {
      name: '[lib] path elsewhere',
      tree: {
        'ws/Cargo.toml': '[workspace]\nresolver = "2"\nmembers = ["base", "app"]\n',
        'ws/base/Cargo.toml': small('lp_base', '', '\n[lib]\nname = "lp_core"\npath = "code/core.rs"\n'),
        'ws/base/code/core.rs': baseLib,
        'ws/app/Cargo.toml': small('lp_app', 'lp_base = { path = "../base" }\n', '\n[lib]\npath = "lib/app.rs"\n'),
        'ws/app/lib/app.rs': entryLib('lp_core::value()'),
      },
      entry: 'lp_app',
      shim: 'app/lib/hotgen_entry.rs',
      modules: ['lp_base', 'lp_app'],
    },
    {
      name: 'a symlinked member directory',
      tree: {
        'shared/base/Cargo.toml': small('sl_base'),
        'shared/base/src/lib.rs': baseLib,
        'ws/Cargo.toml': '[workspace]\nresolver = "2"\nmembers = ["base", "app"]\n',
        'ws/app/Cargo.toml': small('sl_app', 'sl_base = { path = "../base" }\n'),
        'ws/app/src/lib.rs': entryLib('sl_base::value()'),
      },
      symlinks: { 'ws/base': '../shared/base' },
      entry: 'sl_app',
      shim: 'app/src/hotgen_entry.rs',
      modules: ['sl_base', 'sl_app'],
    },
  ];
}

/** `git` in `dir` with a fixed identity (never the user's config). */
export async function git(dir: string, args: string[]): Promise<string> {
  const env = {
    ...process.env,
    GIT_AUTHOR_NAME: 'fixture',
    GIT_AUTHOR_EMAIL: 'fixture@example.invalid',
    GIT_COMMITTER_NAME: 'fixture',
    GIT_COMMITTER_EMAIL: 'fixture@example.invalid',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_CONFIG_NOSYSTEM: '1',
  };
  return (await run('git', args, { cwd: dir, env, context: `git ${args.join(' ')}` })).stdout;
}

/**
 * Makes `dir` a git repository with everything in it committed; generates Cargo.lock
 * first (`cargo generate-lockfile`, offline from the directory source) so the lockfile
 * is committed as in a real project.
 */
export async function commitAll(dir: string, cargoToolchain = '+stable'): Promise<void> {
  if (!existsSync(path.join(dir, 'Cargo.lock'))) {
    await run('cargo', [cargoToolchain, 'generate-lockfile'], { cwd: dir, context: 'cargo generate-lockfile' });
  }
  await git(dir, ['init', '-q', '-b', 'main']);
  await git(dir, ['add', '-A']);
  await git(dir, ['commit', '-q', '-m', 'fixture']);
}

/** `git status --porcelain` lines (untracked directories collapsed, as git shows them). */
export async function gitStatus(dir: string): Promise<string[]> {
  return (await git(dir, ['status', '--porcelain'])).split('\n').filter(Boolean);
}

/** Replaces `from` by `to` in `file` (must occur). */
export async function editFile(file: string, from: string, to: string): Promise<void> {
  const text = await readFile(file, 'utf8');
  if (!text.includes(from)) throw new Error(`${file}: no ${JSON.stringify(from)}`);
  await writeFile(file, text.replace(from, to));
}

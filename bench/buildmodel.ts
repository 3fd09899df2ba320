/**
 * The build-model comparison of issue 8 (`--only buildmodel`): the hot build through
 * hotgen's rustc wrapper in its own target directory (loader/hotbuild.ts, "new") against
 * the previous manifest-editing model ("old": `crate-type = ["rlib", "dylib"]` on every
 * workspace library, `cargo-features = ["profile-rustflags"]` and a `[profile.hot]` with
 * `--cfg hotgen -C prefer-dynamic -C link-arg=-fuse-ld=<linker>` in the root manifest,
 * `-z nodelete` for the frozen crate, `--cfg hotgen_entry` for the entry, built with
 * `cargo build --profile hot -p <entry> --lib`). The old model's code is gone, so its
 * edits are written here as text into a copy of a workspace whose layout we know.
 *
 * Two workspaces, each copied twice (one copy per model, same path length):
 * - `server`: examples/server (entry app_router; api top, service middle, database bottom, core frozen);
 * - `registry`: a fixture generated here, the same layout plus a sibling of database, whose
 *   libraries share registry crates (memchr, regex, log; Debian's sources in
 *   /usr/share/cargo/registry as a directory source; see {@link registryFixture}). The old model cannot build it (`cannot satisfy dependencies so
 *   `memchr` only shows up once`): that is recorded as its result, and only the new
 *   model is measured there.
 *
 * Timed, interleaved old/new after one warm-up round: the cold hot build (target/
 * removed first; for the new model with and without `prepareHotBuild`, i.e. full
 * `cargo metadata` and compiling the wrapper), and the incremental hot build after a
 * one-line edit in the top, middle and bottom crate (rounds go old-top, new-top,
 * old-middle, ..., so every edit's pair sees the same machine state). The swap that
 * follows a build runs the same host code in both models and is not timed here.
 */
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { HotPlan, Linker } from '../common/types.js';
import { run } from '../common/exec.js';
import { initWorkspace } from '../generator/init.js';
import { readPlan } from '../common/plan-read.js';
import { cargoBuild, resolveToolchain, type Toolchain } from '../loader/build.js';
import { prepareHotBuild, runHotBuild, type HotBuild } from '../loader/hotbuild.js';
import { LAYERS, copyExample, editLayer, type Layer } from './example.js';
import { interleave, summarize, type Figure, type Summary } from './stats.js';

/** The two build models. */
export type Model = 'old' | 'new';
/** Where the one-line edit is made: api (top), service (middle), database (bottom). */
export type EditPos = 'top' | 'middle' | 'bottom';

const EDITS: Record<EditPos, Layer> = {
  top: LAYERS.find((l) => l.name === 'api')!,
  middle: LAYERS.find((l) => l.name === 'service')!,
  bottom: LAYERS.find((l) => l.name === 'database')!,
};
const POSITIONS: readonly EditPos[] = ['top', 'middle', 'bottom'];

/** The middle-edit goal of issue 8: the new model at most 10 % slower (medians). */
export const MIDDLE_GOAL_RATIO = 1.1;

/** Options of {@link measureBuildModels}. */
export interface BuildModelOptions {
  /** Measured rounds per figure (each model once per round). */
  runs: number;
  /** Unmeasured rounds first. Default 1. */
  warmup?: number;
  linker: Linker;
}

/** A workspace measured under both models. */
interface Case {
  id: 'server' | 'registry';
  label: string;
  /** Package names. */
  entry: string;
  frozen: string;
  /** Member directories of the libraries (the old model's `crate-type` edits). */
  libDirs: string[];
  /** True when the old model is expected to fail here (else its failure is an error). */
  oldMayFail: boolean;
  /** Writes the workspace (no target/) into `dest`. */
  write: (dest: string) => Promise<void>;
}

/** One timed build. */
interface Sample {
  /** Wall time of the whole step, ms (cold, new: prepare + build). */
  ms: number;
  /** Wall time of the build call alone (old: cargo; new: `runHotBuild`), ms. */
  buildMs: number;
  /** Cargo's own wall time as the build driver measured it, ms. */
  cargoMs: number;
  /** New model, cold: `prepareHotBuild` (cargo metadata + wrapper compile), ms. */
  prepareMs?: number;
  /** Workspace libraries rebuilt (sorted). */
  rebuilt: string[];
}

/** A failed build: the first error line. */
class BuildFailure extends Error {
  constructor(
    readonly line: string,
    readonly detail: string,
  ) {
    super(line);
  }
}

/** One copy of a case, built by one model. */
interface Side {
  model: Model;
  root: string;
  /** Removes target/ and builds everything. */
  cold(): Promise<Sample>;
  /** Builds what changed. */
  build(): Promise<Sample>;
}

/** Raw samples of one case. */
export interface CaseRaw {
  /** Set when the old model cannot build this workspace: its first error line. */
  oldFailed?: string;
  /** Distinct crates the old model's `only shows up once` errors name. */
  oldFailedCrates?: string[];
  samples: Record<Model, { cold: Sample[] } & Partial<Record<EditPos, Sample[]>>>;
}

/** What {@link measureBuildModels} returns. */
export interface BuildModelResult {
  figures: Figure[];
  raw: { cases: Record<string, CaseRaw>; load: { start: number[]; end: number[] }; runs: number; warmup: number; toolchain: string };
  notes: string[];
  /** The markdown table: figure, old, new, new/old. */
  table: string;
}

const FLAG_BASE = ['--cfg', 'hotgen', '--check-cfg', 'cfg(hotgen)', '-C', 'prefer-dynamic'];

/**
 * The old model's manifest edits, as `hotgen init` of the previous version made them
 * (`git show HEAD~1:generator/manifest.ts`, `profile.ts`): `cargo-features` first in the
 * root manifest, `[profile.hot]` with the base flags and the linker, per-package
 * rustflags (they replace the profile's) for the frozen crate (`-z nodelete`) and the
 * entry (`--cfg hotgen_entry`), and `crate-type = ["rlib", "dylib"]` after each
 * library's `[lib]` header. Plain text edits: only for the two layouts of this file.
 * @throws Error when a library manifest has no `[lib]` header.
 */
export async function applyOldModel(root: string, c: Pick<Case, 'entry' | 'frozen' | 'libDirs'>, linker: Linker): Promise<void> {
  const base = [...FLAG_BASE, ...(linker === 'default' ? [] : ['-C', `link-arg=-fuse-ld=${linker}`])];
  const flags = (extra: string[]) => `[${[...base, ...extra].map((f) => JSON.stringify(f)).join(', ')}]`;
  const manifest = path.join(root, 'Cargo.toml');
  await writeFile(
    manifest,
    `cargo-features = ["profile-rustflags"]\n\n${await readFile(manifest, 'utf8')}\n` +
      `[profile.hot]\ninherits = "dev"\nrustflags = ${flags([])}\n\n` +
      `[profile.hot.package.${c.frozen}]\nrustflags = ${flags(['-C', 'link-arg=-Wl,-z,nodelete'])}\n\n` +
      `[profile.hot.package.${c.entry}]\nrustflags = ${flags(['--cfg', 'hotgen_entry', '--check-cfg', 'cfg(hotgen_entry)'])}\n`,
  );
  for (const dir of c.libDirs) {
    const file = path.join(root, dir, 'Cargo.toml');
    const text = await readFile(file, 'utf8');
    const edited = text.replace(/^\[lib\]\n/m, '[lib]\ncrate-type = ["rlib", "dylib"]\n');
    if (edited === text) throw new Error(`${file}: no [lib] header to extend`);
    await writeFile(file, edited);
  }
}

/** The first `error` line of cargo's output (ANSI removed). */
function firstError(text: string): string {
  const lines = text.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '').split('\n');
  return (lines.find((l) => /only shows up once/.test(l)) ?? lines.find((l) => /^error/.test(l)) ?? lines.filter(Boolean).at(-1) ?? '').trim();
}

function oldSide(root: string, entry: string, tc: Toolchain, libs: Set<string>): Side {
  const build = async (): Promise<Sample> => {
    let tail = '';
    const t0 = performance.now();
    const r = await cargoBuild({
      root,
      toolchain: tc,
      cargoArgs: ['--profile', 'hot', '-p', entry, '--lib'],
      env: { CARGO_TARGET_DIR: path.join(root, 'target') },
      onStderr: (c) => (tail = (tail + c).slice(-200_000)),
      progress: false,
    });
    const ms = performance.now() - t0;
    if (!r.success) throw new BuildFailure(firstError(r.errors || tail), r.errors || tail);
    const rebuilt = r.artifacts.filter((a) => !a.fresh && a.kinds.includes('dylib') && libs.has(a.targetName)).map((a) => a.targetName);
    return { ms, buildMs: ms, cargoMs: r.buildMs, rebuilt: rebuilt.sort() };
  };
  return {
    model: 'old',
    root,
    build,
    cold: async () => {
      await rm(path.join(root, 'target'), { recursive: true, force: true });
      return build();
    },
  };
}

function newSide(root: string, plan: HotPlan, tc: Toolchain, libs: Set<string>): Side {
  let hot: HotBuild | undefined;
  const prepare = async (): Promise<number> => {
    const t0 = performance.now();
    hot = await prepareHotBuild({ root, plan, plus: tc.plus, env: tc.env });
    return performance.now() - t0;
  };
  const build = async (): Promise<Sample> => {
    if (!hot) await prepare();
    let tail = '';
    const t0 = performance.now();
    const r = await runHotBuild({ root, plan, hot: hot!, toolchain: tc, onStderr: (c) => (tail = (tail + c).slice(-200_000)), progress: false });
    const ms = performance.now() - t0;
    if (!r.success) throw new BuildFailure(firstError(r.errors || tail), r.errors || tail);
    return { ms, buildMs: ms, cargoMs: r.buildMs, rebuilt: [...r.rebuilt].filter((m) => libs.has(m)).sort() };
  };
  return {
    model: 'new',
    root,
    build,
    cold: async () => {
      await rm(path.join(root, 'target'), { recursive: true, force: true });
      const prepareMs = await prepare();
      const b = await build();
      return { ...b, ms: prepareMs + b.buildMs, prepareMs };
    },
  };
}

/** examples/server. */
const SERVER: Case = {
  id: 'server',
  label: 'examples/server',
  entry: 'app_router',
  frozen: 'app_core',
  libDirs: ['core', 'database', 'service', 'api', 'router'],
  oldMayFail: false,
  write: (dest) => copyExample(dest),
};

/** The Debian directory source (as examples/tokio-server/.cargo/config.toml). */
export const DEBIAN_REGISTRY = '/usr/share/cargo/registry';

/**
 * The shared-registry fixture: examples/server's layout (core ← database ← service ←
 * api ← router, entry router, core frozen) plus `text`, a sibling of database, so that
 * two independent libraries (database, text) and the four above them use memchr, regex
 * and log from Debian's sources. The diamond is what breaks the old model: database's
 * and text's dylibs each embed their own copy of those rlibs, and service links both.
 * `"<layer> v1"` strings as in the example, so {@link editLayer} edits both workspaces alike.
 */
export function registryFixture(): Record<string, string> {
  const pkg = (name: string, deps: string[]) =>
    `[package]\nname = "${name}"\nversion = "0.1.0"\nedition = "2021"\npublish = false\n\n[lib]\npath = "src/lib.rs"\n\n[dependencies]\n` +
    deps.map((d) => (d.startsWith('rx_') ? `${d} = { path = "../${d.slice(3)}" }\n` : `${d}.workspace = true\n`)).join('');
  const shared = ['log', 'memchr', 'regex'];
  return {
    'Cargo.toml':
      '[workspace]\nresolver = "2"\nmembers = ["core", "database", "text", "service", "api", "router"]\n\n' +
      '[workspace.dependencies]\nlog = "0.4"\nmemchr = "2"\nregex = "1"\n\n' +
      '[workspace.lints.rust]\nunexpected_cfgs = { level = "warn", check-cfg = ["cfg(hotgen)"] }\n',
    '.cargo/config.toml': `[source.crates-io]\nreplace-with = "debian"\n\n[source.debian]\ndirectory = "${DEBIAN_REGISTRY}"\n`,
    '.gitignore': '/target/\n',
    'core/Cargo.toml': pkg('rx_core', []),
    'core/src/lib.rs': `//! Shared plumbing without registry crates: configuration and line counting.
pub const VERSION: &str = "core v1";

/// Number of lines in \`buf\`.
pub fn count_lines(buf: &[u8]) -> usize {
    buf.iter().filter(|&&b| b == b'\\n').count() + usize::from(!buf.is_empty() && !buf.ends_with(b"\\n"))
}

/// \`key=value\` settings, one per line; \`#\` starts a comment.
#[derive(Debug, Default, Clone)]
pub struct Config {
    pub pairs: Vec<(String, String)>,
}

impl Config {
    pub fn parse(text: &str) -> Config {
        let mut pairs = Vec::new();
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("");
            if let Some((k, v)) = line.split_once('=') {
                pairs.push((k.trim().to_string(), v.trim().to_string()));
            }
        }
        Config { pairs }
    }
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}
`,
    'text/Cargo.toml': pkg('rx_text', ['rx_core', ...shared]),
    'text/src/lib.rs': `//! Text helpers over memchr and regex (a sibling of database: neither depends on the other).
use std::sync::OnceLock;

pub const VERSION: &str = "text v1";

/// Byte offsets where each line starts.
pub fn line_starts(buf: &[u8]) -> Vec<usize> {
    let mut out = vec![0];
    out.extend(memchr::memchr_iter(b'\\n', buf).map(|i| i + 1).filter(|&i| i < buf.len()));
    out
}

/// Words of \`text\` (regex \`\\w+\`), lower-cased.
pub fn words(text: &str) -> Vec<String> {
    static RE: OnceLock<regex::Regex> = OnceLock::new();
    RE.get_or_init(|| regex::Regex::new(r"\\w+").unwrap()).find_iter(text).map(|m| m.as_str().to_lowercase()).collect()
}

struct StderrLog;
impl log::Log for StderrLog {
    fn enabled(&self, m: &log::Metadata) -> bool {
        m.level() <= log::max_level()
    }
    fn log(&self, r: &log::Record) {
        if self.enabled(r.metadata()) {
            eprintln!("[{}] {}: {}", r.level(), r.target(), r.args());
        }
    }
    fn flush(&self) {}
}

static LOGGER: StderrLog = StderrLog;

/// Installs the stderr logger once (later calls change the level only).
pub fn init_log(level: log::LevelFilter) {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let _ = log::set_logger(&LOGGER);
    });
    log::set_max_level(level);
    log::debug!("{} lines in the config", rx_core::count_lines(b"a=1\\n"));
}
`,
    'database/Cargo.toml': pkg('rx_database', ['rx_core', ...shared]),
    'database/src/lib.rs': `//! An in-memory key-value store with a line-oriented dump format.
use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock};

pub const VERSION: &str = "database v1";

fn key_re() -> &'static regex::Regex {
    static RE: OnceLock<regex::Regex> = OnceLock::new();
    RE.get_or_init(|| regex::Regex::new(r"^[a-z0-9_][a-z0-9_.-]{0,63}$").unwrap())
}

#[derive(Debug, PartialEq)]
pub enum DbError {
    BadKey(String),
    BadRecord(usize),
}

#[derive(Default)]
pub struct Db {
    map: Mutex<BTreeMap<String, Vec<u8>>>,
}

impl Db {
    pub fn new() -> Db {
        Db::default()
    }
    pub fn put(&self, key: &str, value: &[u8]) -> Result<(), DbError> {
        if !key_re().is_match(key) {
            return Err(DbError::BadKey(key.to_string()));
        }
        log::debug!("put {key} ({} bytes)", value.len());
        self.map.lock().unwrap().insert(key.to_string(), value.to_vec());
        Ok(())
    }
    pub fn get(&self, key: &str) -> Option<Vec<u8>> {
        self.map.lock().unwrap().get(key).cloned()
    }
    pub fn delete(&self, key: &str) -> bool {
        self.map.lock().unwrap().remove(key).is_some()
    }
    pub fn keys_matching(&self, re: &regex::Regex) -> Vec<String> {
        self.map.lock().unwrap().keys().filter(|k| re.is_match(k)).cloned().collect()
    }
    pub fn len(&self) -> usize {
        self.map.lock().unwrap().len()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// \`key\\tvalue\\n\` per record.
    pub fn dump(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (k, v) in self.map.lock().unwrap().iter() {
            out.extend_from_slice(k.as_bytes());
            out.push(b'\\t');
            out.extend_from_slice(v);
            out.push(b'\\n');
        }
        out
    }
    /// Loads a dump; returns the number of records.
    pub fn load(&self, buf: &[u8]) -> Result<usize, DbError> {
        let mut starts = vec![0];
        starts.extend(memchr::memchr_iter(b'\\n', buf).map(|i| i + 1).filter(|&i| i < buf.len()));
        let mut n = 0;
        for (i, &s) in starts.iter().enumerate() {
            let end = memchr::memchr(b'\\n', &buf[s..]).map_or(buf.len(), |e| s + e);
            let line = &buf[s..end];
            if line.is_empty() {
                continue;
            }
            let tab = memchr::memchr(b'\\t', line).ok_or(DbError::BadRecord(i + 1))?;
            let key = std::str::from_utf8(&line[..tab]).map_err(|_| DbError::BadRecord(i + 1))?;
            self.put(key, &line[tab + 1..])?;
            n += 1;
        }
        log::info!("loaded {n} records ({} lines)", rx_core::count_lines(buf));
        Ok(n)
    }
}
`,
    'service/Cargo.toml': pkg('rx_service', ['rx_core', 'rx_database', 'rx_text', ...shared]),
    'service/src/lib.rs': `//! Commands over the store: get, set, del, grep, count.
use rx_database::{Db, DbError};

pub const VERSION: &str = "service v1";

#[derive(Debug, PartialEq)]
pub enum Command {
    Get(String),
    Set(String, String),
    Del(String),
    Grep(String),
    Count,
}

pub fn parse(line: &str) -> Option<Command> {
    static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let re = RE.get_or_init(|| regex::Regex::new(r"^(get|set|del|grep|count)(?:\\s+(\\S+))?(?:\\s+(.*))?$").unwrap());
    let c = re.captures(line.trim())?;
    let arg = |i: usize| c.get(i).map(|m| m.as_str().to_string());
    match &c[1] {
        "get" => Some(Command::Get(arg(2)?)),
        "set" => Some(Command::Set(arg(2)?, arg(3).unwrap_or_default())),
        "del" => Some(Command::Del(arg(2)?)),
        "grep" => Some(Command::Grep(arg(2)?)),
        _ => Some(Command::Count),
    }
}

pub struct Service {
    pub db: Db,
}

impl Service {
    pub fn new() -> Service {
        Service { db: Db::new() }
    }
    pub fn run(&self, cmd: Command) -> Result<String, String> {
        log::debug!("{cmd:?}");
        match cmd {
            Command::Get(k) => self.db.get(&k).map(|v| String::from_utf8_lossy(&v).into_owned()).ok_or_else(|| format!("no key {k}")),
            Command::Set(k, v) => self.db.put(&k, v.as_bytes()).map(|()| "ok".into()).map_err(|e| match e {
                DbError::BadKey(k) => format!("bad key {k:?}"),
                DbError::BadRecord(n) => format!("bad record {n}"),
            }),
            Command::Del(k) => Ok(if self.db.delete(&k) { "deleted" } else { "absent" }.into()),
            Command::Grep(p) => {
                let re = regex::Regex::new(&p).map_err(|e| e.to_string())?;
                Ok(self.db.keys_matching(&re).join(" "))
            }
            Command::Count => Ok(self.db.len().to_string()),
        }
    }
    /// Runs a script of commands, one per line; returns one answer per command.
    pub fn script(&self, text: &str) -> Vec<String> {
        let body = text.as_bytes();
        let mut out = Vec::with_capacity(rx_core::count_lines(body).max(rx_text::line_starts(body).len()));
        for line in text.lines().filter(|l| memchr::memchr(b'#', l.as_bytes()) != Some(0)) {
            out.push(match parse(line) {
                Some(c) => self.run(c).unwrap_or_else(|e| format!("error: {e}")),
                None => format!("error: cannot parse {line:?}"),
            });
        }
        out
    }
}

impl Default for Service {
    fn default() -> Self {
        Service::new()
    }
}
`,
    'api/Cargo.toml': pkg('rx_api', ['rx_core', 'rx_database', 'rx_text', 'rx_service', ...shared]),
    'api/src/lib.rs': `//! HTTP-ish request lines to service commands.
use rx_service::{Command, Service};

pub const VERSION: &str = "api v1";

pub struct Response {
    pub status: u16,
    pub body: String,
}

fn request_re() -> &'static regex::Regex {
    static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    RE.get_or_init(|| regex::Regex::new(r"^(GET|PUT|DELETE) /(kv|grep|count|version)(?:/([^ ?]+))?(?:\\?(\\S*))? HTTP/1\\.[01]$").unwrap())
}

/// Handles one request line plus body.
pub fn handle(svc: &Service, request_line: &str, body: &[u8]) -> Response {
    let Some(c) = request_re().captures(request_line) else {
        log::info!("bad request {request_line:?}");
        return Response { status: 400, body: "bad request".into() };
    };
    let arg = c.get(3).map(|m| m.as_str().to_string());
    let cmd = match (&c[1], &c[2], arg) {
        ("GET", "version", _) => {
            let v = [rx_core::VERSION, rx_database::VERSION, rx_text::VERSION, rx_service::VERSION, VERSION];
            return Response { status: 200, body: v.join(", ") };
        }
        ("GET", "kv", Some(k)) => Command::Get(k),
        ("PUT", "kv", Some(k)) => Command::Set(k, String::from_utf8_lossy(body).into_owned()),
        ("DELETE", "kv", Some(k)) => Command::Del(k),
        ("GET", "grep", Some(p)) => Command::Grep(p),
        ("GET", "count", _) => Command::Count,
        _ => return Response { status: 404, body: "not found".into() },
    };
    match svc.run(cmd) {
        Ok(body) => Response { status: 200, body },
        Err(e) => Response { status: if memchr::memmem::find(e.as_bytes(), b"no key").is_some() { 404 } else { 400 }, body: e },
    }
}
`,
    'router/Cargo.toml': `${pkg('rx_router', ['rx_core', 'rx_database', 'rx_text', 'rx_service', 'rx_api', ...shared])}\n[lints]\nworkspace = true\n`,
    // The crate-root form of the hook, as examples/server has it (the cfg declared in
    // [workspace.lints]), so both workspaces compile the same kind of entry.
    'router/src/lib.rs': `//! The entry: splits a byte stream into requests and answers them.
#[cfg(hotgen)]
#[rustfmt::skip]
mod hotgen_entry;

/// One generation under \`hotgen dev\` (not served by this benchmark).
#[cfg(hotgen)]
fn hotgen_run(ctx: &hotgen_entry::Context) -> i32 {
    let _ = ctx;
    0
}

pub const VERSION: &str = "router v1";

/// Answers every request in \`input\` (\`<request line>\\n<body length>\\n<body>\`), one status line each.
pub fn serve(svc: &rx_service::Service, input: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < input.len() {
        let Some(nl) = memchr::memchr(b'\\n', &input[at..]) else { break };
        let line = String::from_utf8_lossy(&input[at..at + nl]).into_owned();
        at += nl + 1;
        let len_end = memchr::memchr(b'\\n', &input[at..]).map_or(input.len(), |e| at + e);
        let len: usize = std::str::from_utf8(&input[at..len_end]).ok().and_then(|s| s.trim().parse().ok()).unwrap_or(0);
        at = (len_end + 1).min(input.len());
        let body = &input[at..(at + len).min(input.len())];
        at = (at + len).min(input.len());
        let r = rx_api::handle(svc, &line, body);
        log::debug!("{line} -> {}", r.status);
        out.push(format!("{} {}", r.status, r.body));
    }
    out
}
`,
  };
}

const REGISTRY: Case = {
  id: 'registry',
  label: 'shared registry deps (memchr, regex, log)',
  entry: 'rx_router',
  frozen: 'rx_core',
  libDirs: ['core', 'database', 'text', 'service', 'api', 'router'],
  oldMayFail: true,
  write: async (dest) => {
    for (const [rel, text] of Object.entries(registryFixture())) {
      await mkdir(path.dirname(path.join(dest, rel)), { recursive: true });
      await writeFile(path.join(dest, rel), text);
    }
  },
};

/** Library names (`_` for `-`) of a case, as cargo reports them. */
async function libNames(root: string, tc: Toolchain): Promise<Set<string>> {
  const r = await run('cargo', [...tc.plus, 'metadata', '--no-deps', '--format-version', '1', '--offline'], { cwd: root, env: tc.env });
  const meta = JSON.parse(r.stdout) as { packages: { name: string; targets: { name: string; kind: string[] }[] }[] };
  return new Set(meta.packages.flatMap((p) => p.targets.filter((t) => t.kind.some((k) => k.endsWith('lib'))).flatMap((t) => [t.name, p.name])));
}

/**
 * Writes a case twice under `dir` (`old/`, `new/`: the same bytes and path length),
 * with one Cargo.lock for both, runs init (new model; it edits no workspace file) in
 * both so the entry shim is the same file, then the old model's edits in `old/`.
 */
async function setUp(dir: string, c: Case, linker: Linker): Promise<{ old: string; fresh: string; plan: HotPlan; tc: Toolchain; libs: Set<string> }> {
  await rm(dir, { recursive: true, force: true });
  const template = path.join(dir, 'src');
  await c.write(template);
  const old = path.join(dir, 'old');
  const fresh = path.join(dir, 'new');
  await initWorkspace(template, { entry: c.entry, frozen: [c.frozen], listen: ['127.0.0.1:0'], linker });
  const plan = await readPlan(template);
  const tc = await resolveToolchain(plan, template);
  await run('cargo', [...tc.plus, 'generate-lockfile', '--offline'], { cwd: template, env: tc.env, context: `locking ${c.label}` });
  const libs = await libNames(template, tc);
  for (const d of [old, fresh]) await cp(template, d, { recursive: true, filter: (f) => path.basename(f) !== 'target' });
  await applyOldModel(old, c, linker);
  return { old, fresh, plan: await readPlan(fresh), tc: await resolveToolchain(plan, fresh), libs };
}

/** The old model needs `cargo-features` (nightly; stable only with RUSTC_BOOTSTRAP=1, as the old hotgen did). */
async function oldToolchain(tc: Toolchain, root: string): Promise<{ tc: Toolchain; note?: string }> {
  const v = (await run('rustc', [...tc.plus, '-V'], { cwd: root, env: tc.env })).stdout;
  if (v.includes('nightly')) return { tc };
  return { tc: { ...tc, env: { ...tc.env, RUSTC_BOOTSTRAP: '1' } }, note: `old model built with RUSTC_BOOTSTRAP=1 on ${v.trim()}` };
}

const toS = (ms: number[]) => ms.map((x) => x / 1000);

/**
 * Measures one case: cold builds, then the three edits, interleaved old/new; when the
 * old model fails its cold build, only the new model is measured and the failure is the
 * old model's result.
 */
async function measureCase(dir: string, c: Case, o: BuildModelOptions, log: (s: string) => void): Promise<CaseRaw> {
  const s = await setUp(dir, c, o.linker);
  const oldTc = await oldToolchain(s.tc, s.old);
  const sides: Side[] = [oldSide(s.old, c.entry, oldTc.tc, s.libs), newSide(s.fresh, s.plan, s.tc, s.libs)];
  const raw: CaseRaw = { samples: { old: { cold: [] }, new: { cold: [] } } };
  // Is the old model able to build this workspace at all? (Also the page-in round.)
  try {
    const t = await sides[0].cold();
    log(`  ${c.id}: old model builds (${(t.ms / 1000).toFixed(1)} s)`);
  } catch (err) {
    if (!(err instanceof BuildFailure) || !c.oldMayFail) throw err;
    raw.oldFailed = err.line;
    raw.oldFailedCrates = [...new Set([...err.detail.matchAll(/dependencies so `([^`]+)` only shows up once/g)].map((m) => m[1]!))].sort();
    log(`  ${c.id}: old model fails: ${err.line}${raw.oldFailedCrates.length ? ` (${raw.oldFailedCrates.length} crates: ${raw.oldFailedCrates.join(', ')})` : ''}`);
  }
  const live = raw.oldFailed ? sides.slice(1) : sides;
  const warmup = o.warmup ?? 1;
  await interleave(
    live.map((side) => ({
      name: side.model,
      run: async (i) => {
        const r = await side.cold();
        if (i >= warmup) raw.samples[side.model].cold.push(r);
        log(`  ${c.id} cold ${side.model}${i < warmup ? ' (warm-up)' : ` #${i - warmup + 1}`}: ${(r.ms / 1000).toFixed(2)} s${r.prepareMs !== undefined ? ` (prepare ${(r.prepareMs / 1000).toFixed(2)} s)` : ''}`);
        return r.ms;
      },
    })),
    { runs: o.runs, warmup },
  );
  // Edits accumulate; both copies get the same edit with the same version each round.
  await interleave(
    POSITIONS.flatMap((pos) =>
      live.map((side) => ({
        name: `${side.model}.${pos}`,
        run: async (i: number) => {
          await editLayer(side.root, EDITS[pos], i + 2);
          const r = await side.build();
          if (i >= warmup) (raw.samples[side.model][pos] ??= []).push(r);
          log(`  ${c.id} ${pos} edit ${side.model}${i < warmup ? ' (warm-up)' : ` #${i - warmup + 1}`}: ${(r.ms / 1000).toFixed(2)} s, rebuilt ${r.rebuilt.join(' ')}`);
          return r.ms;
        },
      })),
    ),
    { runs: o.runs, warmup },
  );
  return raw;
}

function figureOf(c: Pick<Case, 'id' | 'label'>, raw: CaseRaw, id: string, label: string, pick: (s: Sample) => number, which: 'cold' | EditPos): Figure {
  const nw = raw.samples.new[which]!;
  const od = raw.samples.old[which];
  const f: Figure = { id: `buildmodel.${c.id}.${id}`, bench: 'buildmodel', label: `${c.label}: ${label}`, unit: 's', hotgen: summarize(toS(nw.map(pick))) };
  if (od?.length) f.baseline = { label: 'old model', ...summarize(toS(od.map(pick))) };
  else if (raw.oldFailed) {
    const crates = raw.oldFailedCrates ?? [];
    f.note = `old model failed: ${raw.oldFailed}${crates.length > 1 ? ` (${crates.length} crates: ${crates.join(', ')})` : ''}`;
  }
  if (which === 'middle' && f.baseline) {
    const ratio = f.hotgen.median / f.baseline.median;
    f.goal = { text: `new ≤ ${MIDDLE_GOAL_RATIO.toFixed(2)}× old (median; ${ratio.toFixed(2)}×)`, met: ratio <= MIDDLE_GOAL_RATIO };
  }
  return f;
}

/** Figures of one case. */
export function caseFigures(c: Pick<Case, 'id' | 'label'>, raw: CaseRaw): Figure[] {
  const out = [
    figureOf(c, raw, 'cold', 'cold hot build (new: with prepareHotBuild)', (s) => s.ms, 'cold'),
    figureOf(c, raw, 'cold-build', 'cold hot build, build call only', (s) => s.buildMs, 'cold'),
  ];
  for (const pos of POSITIONS) {
    if (raw.samples.new[pos]?.length) out.push(figureOf(c, raw, `edit.${pos}`, `${pos} edit (${EDITS[pos].name}) → dylibs rebuilt`, (s) => s.ms, pos));
  }
  return out;
}

function cellOf(s: Summary | undefined): string {
  return s ? `${s.median.toFixed(2)} / ${s.p95.toFixed(2)} s (${s.n})` : '';
}

/** The markdown table: figure, old (median / p95 (n)), new, new/old (medians), goal. */
export function buildModelTable(figures: readonly Figure[]): string {
  const rows = ['| figure | old model median / p95 (n) | new model median / p95 (n) | new/old | goal |', '|---|---|---|---|---|'];
  const shown = new Set<string>();
  for (const f of figures) {
    const failure = f.note?.replace(/^old model failed: /, '').replace(/`/g, "'");
    const first = failure !== undefined && !shown.has(failure);
    if (failure !== undefined) shown.add(failure);
    const old = f.baseline ? cellOf(f.baseline) : failure === undefined ? '—' : first ? `**failed**: \`${failure}\`` : '**failed** (as above)';
    const ratio = f.baseline && f.baseline.median > 0 ? `${(f.hotgen.median / f.baseline.median).toFixed(2)}×` : '';
    const goal = f.goal ? `${f.goal.text}: **${f.goal.met ? 'met' : 'missed'}**` : '';
    rows.push(`| ${f.label.replace(/\|/g, '\\|')} | ${old.replace(/\|/g, '\\|')} | ${cellOf(f.hotgen)} | ${ratio} | ${goal} |`);
  }
  return rows.join('\n') + '\n';
}

/**
 * Runs both cases under `dir` (emptied per case) and returns figures (hotgen = the new
 * model, baseline = the old one), raw samples, notes and the markdown table.
 */
export async function measureBuildModels(dir: string, o: BuildModelOptions, log: (s: string) => void = () => {}): Promise<BuildModelResult> {
  const start = os.loadavg();
  const cases: Record<string, CaseRaw> = {};
  const figures: Figure[] = [];
  const notes: string[] = [];
  for (const c of [SERVER, REGISTRY]) {
    log(`  buildmodel: ${c.label}`);
    const raw = await measureCase(path.join(dir, c.id), c, o, log);
    cases[c.id] = raw;
    figures.push(...caseFigures(c, raw));
    for (const pos of POSITIONS) {
      const o2 = raw.samples.old[pos]?.map((s) => s.rebuilt.join(' '));
      const n2 = raw.samples.new[pos]?.map((s) => s.rebuilt.join(' '));
      if (o2 && n2 && new Set([...o2, ...n2]).size > 1) notes.push(`buildmodel ${c.id} ${pos}: rebuilt sets differ: old ${[...new Set(o2)].join(' | ')}; new ${[...new Set(n2)].join(' | ')}`);
    }
    const nc = raw.samples.new.cold;
    const ne = POSITIONS.flatMap((p) => raw.samples.new[p] ?? []);
    if (nc.length && ne.length) {
      const beyond = summarize(ne.map((s) => s.buildMs - s.cargoMs)).median;
      notes.push(`buildmodel ${c.id}: new model's prepareHotBuild on a fresh target ${(summarize(nc.map((s) => s.prepareMs ?? 0)).median / 1000).toFixed(2)} s median; runHotBuild beyond cargo's own time ${beyond.toFixed(0)} ms median (edits)`);
    }
  }
  const toolchain = process.env.HOTGEN_TOOLCHAIN ?? '';
  return { figures, raw: { cases, load: { start, end: os.loadavg() }, runs: o.runs, warmup: o.warmup ?? 1, toolchain }, notes, table: buildModelTable(figures) };
}

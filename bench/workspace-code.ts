/**
 * The Rust source of the generated benchmark crates (see workspace-gen.ts): ordinary
 * code of realistic volume, the `MARK` constant, the DAG visit that sums every MARK
 * once, and a `thread_local!` whose `Drop` runs when the generation thread exits.
 */

/**
 * One block of ordinary code (~70 lines), suffixed with `k` so blocks do not clash:
 * a struct with impls, a generic cache, a trait with two impls, an enum and a fold.
 */
export function block(name: string, k: number): string {
  return `
/// A record kept in the ${name} cache (block ${k}).
#[derive(Debug, Clone, PartialEq)]
pub struct Record${k} {
    pub id: u64,
    pub label: String,
    pub tags: Vec<String>,
    pub weight: f64,
}

impl Record${k} {
    pub fn new(id: u64, label: &str) -> Self {
        Record${k} { id, label: label.to_string(), tags: Vec::new(), weight: id as f64 * 0.5 }
    }
    pub fn tagged(mut self, tag: &str) -> Self {
        self.tags.push(tag.to_string());
        self
    }
    pub fn score(&self) -> f64 {
        self.weight * (1.0 + self.tags.len() as f64) + self.label.len() as f64
    }
}

impl fmt::Display for Record${k} {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{} [{}] {:.2}", self.label, self.id, self.tags.join(","), self.weight)
    }
}

/// A bounded map that counts hits and misses.
pub struct Cache${k}<K, V> {
    map: BTreeMap<K, V>,
    cap: usize,
    pub hits: u64,
    pub misses: u64,
}

impl<K: Ord + Clone, V: Clone> Cache${k}<K, V> {
    pub fn new(cap: usize) -> Self {
        Cache${k} { map: BTreeMap::new(), cap, hits: 0, misses: 0 }
    }
    pub fn get_or_insert_with(&mut self, key: K, make: impl FnOnce() -> V) -> V {
        if let Some(v) = self.map.get(&key) {
            self.hits += 1;
            return v.clone();
        }
        self.misses += 1;
        if self.map.len() >= self.cap {
            let first = self.map.keys().next().cloned();
            if let Some(first) = first {
                self.map.remove(&first);
            }
        }
        let v = make();
        self.map.insert(key, v.clone());
        v
    }
}

pub trait Shape${k} {
    fn area(&self) -> f64;
    fn describe(&self) -> String {
        format!("shape with area {:.3}", self.area())
    }
}

pub struct Circle${k}(pub f64);
pub struct Rect${k}(pub f64, pub f64);

impl Shape${k} for Circle${k} {
    fn area(&self) -> f64 {
        std::f64::consts::PI * self.0 * self.0
    }
}

impl Shape${k} for Rect${k} {
    fn area(&self) -> f64 {
        self.0 * self.1
    }
}

pub enum Command${k} {
    Put(u64, String),
    Get(u64),
    Batch(Vec<Command${k}>),
}

pub fn apply${k}(cache: &mut Cache${k}<u64, Record${k}>, cmd: &Command${k}) -> f64 {
    match cmd {
        Command${k}::Put(id, label) => cache.get_or_insert_with(*id, || Record${k}::new(*id, label).tagged("${name}")).score(),
        Command${k}::Get(id) => cache.get_or_insert_with(*id, || Record${k}::new(*id, "miss")).score(),
        Command${k}::Batch(cmds) => cmds.iter().map(|c| apply${k}(cache, c)).sum(),
    }
}

pub fn workload${k}(n: u64) -> f64 {
    let mut cache = Cache${k}::new(16);
    let shapes: Vec<Box<dyn Shape${k}>> = vec![Box::new(Circle${k}(n as f64)), Box::new(Rect${k}(2.0, n as f64))];
    let batch = Command${k}::Batch((0..n).map(|i| if i % 3 == 0 { Command${k}::Get(i / 2) } else { Command${k}::Put(i, format!("r{i}")) }).collect());
    apply${k}(&mut cache, &batch) + shapes.iter().map(|s| s.area()).sum::<f64>()
}
`;
}

const PRELUDE = `#![allow(dead_code)]
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
`;

/** The MARK constant, the visit over the DAG and the thread-local with Drop, for crate `name`. */
function core(name: string, deps: string[]): string {
  return `
pub const NAME: &str = "${name}";
/// The line the benchmarks edit; the entry's answer is the sum of every crate's MARK.
pub const MARK: u64 = 1;

#[inline(never)]
pub fn mark() -> u64 {
    MARK
}

/// Per-thread scratch space; its destructor runs when the generation thread exits.
struct Scratch {
    seen: BTreeMap<&'static str, u64>,
}

impl Drop for Scratch {
    fn drop(&mut self) {
        DROPS.fetch_add(1, Ordering::Relaxed);
        self.seen.clear();
    }
}

static DROPS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch { seen: BTreeMap::new() });
}

/// How many Scratch values were dropped in this process (thread exits).
pub fn drops() -> u64 {
    DROPS.load(Ordering::Relaxed)
}

/// Adds this crate's MARK (and, first, its dependencies') to \`sum\`, once per crate.
pub fn visit(seen: &mut Vec<&'static str>, sum: &mut u64) {
    if seen.contains(&NAME) {
        return;
    }
    seen.push(NAME);
${deps.map((d) => `    ${d}::visit(seen, sum);`).join('\n')}
    *sum += mark();
    SCRATCH.with(|s| s.borrow_mut().seen.insert(NAME, *sum));
}
`;
}

/** lib.rs of a layered crate with `blocks` code blocks. */
export function crateLib(name: string, layer: number, deps: string[], blocks: number): string {
  const body = Array.from({ length: blocks }, (_, k) => block(name, k)).join('');
  return `//! Generated crate ${name} (layer ${layer}) for the hotgen benchmarks.\n${PRELUDE}${core(name, deps)}${body}`;
}

/**
 * lib.rs of the entry: like a layered crate, plus \`total()\` and, behind
 * \`#[cfg(hotgen)]\`, \`hotgen_run\`: accepts on the first listening socket until stop and
 * answers every connection \`HTTP/1.1 200\` with \`gen <G> sum <total>\`.
 */
export function entryLib(deps: string[], blocks: number): string {
  return `${crateLib('entry', -1, deps, blocks).replace('(layer -1)', '(the entry)')}
/// The sum of every crate's MARK in the workspace.
pub fn total() -> u64 {
    let mut seen = Vec::new();
    let mut sum = 0;
    visit(&mut seen, &mut sum);
    sum
}

#[cfg(hotgen)]
mod hotgen_entry;

#[cfg(hotgen)]
#[repr(C)]
struct PollFd {
    fd: i32,
    events: i16,
    revents: i16,
}

#[cfg(hotgen)]
unsafe extern "C" {
    fn poll(fds: *mut PollFd, nfds: std::ffi::c_ulong, timeout: i32) -> i32;
}

#[cfg(hotgen)]
fn hotgen_run(ctx: &hotgen_entry::Context) -> i32 {
    use std::io::{Read, Write};
    use std::os::fd::AsRawFd;
    let body = format!("gen {} sum {}\\n", ctx.generation(), total());
    let listener = match ctx.listeners() {
        Ok(l) => l.into_iter().next(),
        Err(_) => return 1,
    };
    let Some(listener) = listener else {
        ctx.wait_stop(None);
        return 0;
    };
    let _ = listener.set_nonblocking(true);
    loop {
        let mut fds = [
            PollFd { fd: listener.as_raw_fd(), events: 1, revents: 0 },
            PollFd { fd: ctx.stop_fd(), events: 1, revents: 0 },
        ];
        if unsafe { poll(fds.as_mut_ptr(), 2, -1) } < 0 {
            continue;
        }
        if fds[1].revents != 0 {
            return 0;
        }
        while let Ok((mut s, _)) = listener.accept() {
            let _ = s.set_nonblocking(false);
            let mut buf = [0u8; 2048];
            let _ = s.read(&mut buf);
            let _ = write!(s, "HTTP/1.1 200 OK\\r\\nContent-Length: {}\\r\\nConnection: close\\r\\n\\r\\n{}", body.len(), body);
        }
    }
}
`;
}

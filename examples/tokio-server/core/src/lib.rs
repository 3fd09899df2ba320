//! The frozen layer: owns the tokio runtime (its worker threads, reactor and timers
//! outlive every generation, and tokio's code and thread-locals live in this dylib,
//! which is never unloaded) and the state kept across generations.

use std::any::Any;
use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::os::fd::RawFd;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::RwLock;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::task::Poll;

pub use tokio;

/// Shown by `GET /version`.
pub const VERSION: &str = "tk_core v1";

/// Everything that survives a reload.
pub struct AppState {
    /// The multi-threaded runtime every generation runs on.
    pub runtime: tokio::runtime::Runtime,
    /// Requests answered since the process started.
    pub requests: AtomicU64,
    /// An in-memory key-value map (the std example has the durable store).
    pub kv: RwLock<HashMap<String, String>>,
}

impl AppState {
    /// Starts the runtime with `workers` threads named `tokio-worker`.
    pub fn new(workers: usize) -> io::Result<AppState> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers.max(1))
            .thread_name("tokio-worker")
            .enable_all()
            .build()?;
        Ok(AppState { runtime, requests: AtomicU64::new(0), kv: RwLock::new(HashMap::new()) })
    }
}

/// A boxed task, so the runtime's task machinery for it is compiled here (frozen).
pub type BoxTask = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// Tasks of one generation. `spawn` is not generic on purpose: a generic `tokio::spawn`
/// would compile tokio's task harness into the calling (reloadable) crate, and a worker
/// thread may still run a harness's last steps just after its task was joined. Here the
/// harness is this crate's code; only the future's own poll and drop live in the caller,
/// and both have finished when `join_all` returns.
#[derive(Default)]
pub struct TaskGroup {
    handles: Vec<tokio::task::JoinHandle<()>>,
}

impl TaskGroup {
    /// Spawns `task` on the current runtime; forgets the handles of finished tasks.
    pub fn spawn(&mut self, task: BoxTask) {
        self.handles.retain(|h| !h.is_finished());
        self.handles.push(tokio::spawn(task));
    }

    /// Waits for every task; returns how many panicked.
    pub async fn join_all(&mut self) -> usize {
        let mut panicked = 0;
        for h in self.handles.drain(..) {
            if h.await.is_err() {
                panicked += 1;
            }
        }
        panicked
    }
}

/// Runs `fut`, turning a panic inside it into `Err` (like `futures`' `catch_unwind`).
pub async fn catch_unwind<F: Future>(fut: F) -> Result<F::Output, Box<dyn Any + Send>> {
    let mut fut = std::pin::pin!(fut);
    std::future::poll_fn(move |cx| match std::panic::catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(cx))) {
        Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
        Ok(Poll::Pending) => Poll::Pending,
        Err(e) => Poll::Ready(Err(e)),
    })
    .await
}

/// Logs one line to stderr.
pub fn log(msg: std::fmt::Arguments<'_>) {
    eprintln!("[{}] {msg}", std::thread::current().name().unwrap_or("-"));
}

unsafe extern "C" {
    fn pipe(fds: *mut i32) -> i32;
    fn write(fd: i32, buf: *const u8, n: usize) -> isize;
    fn signal(sig: i32, handler: usize) -> usize;
}

static SIGNAL_PIPE_WRITE: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_signal(_sig: i32) {
    let fd = SIGNAL_PIPE_WRITE.load(Ordering::Relaxed);
    if fd >= 0 {
        unsafe { write(fd, &1u8, 1) };
    }
}

/// For the static binary: a descriptor that becomes readable on SIGTERM or SIGINT.
pub fn signal_pipe() -> io::Result<RawFd> {
    let mut fds = [-1i32; 2];
    if unsafe { pipe(fds.as_mut_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    SIGNAL_PIPE_WRITE.store(fds[1], Ordering::Relaxed);
    for sig in [2, 15] {
        if unsafe { signal(sig, on_signal as extern "C" fn(i32) as usize) } == usize::MAX {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(fds[0])
}

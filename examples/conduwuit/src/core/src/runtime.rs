//! The tokio runtime and the non-generic ways the crates above spawn on it.
//!
//! `spawn` takes a boxed future on purpose: a generic `tokio::spawn` would compile
//! tokio's task harness (and its waker vtable) into the calling crate, which is unloaded
//! on a reload, while a worker thread may still run the harness's last steps just after
//! the task was joined. Here the harness is this crate's code; only the future's own
//! poll and drop live in the caller, and both have finished when its handle is joined.

use std::future::Future;
use std::io;
use std::pin::Pin;

use tokio::runtime::Handle;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A task as the crates above hand it over.
pub type BoxTask = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// The multi-threaded runtime the server runs on, for the life of the process.
pub struct Runtime {
    runtime: tokio::runtime::Runtime,
}

impl Runtime {
    /// Starts `workers` worker threads (at least one) named `conduwuit-worker`.
    pub fn new(workers: usize) -> io::Result<Runtime> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers.max(1))
            .thread_name("conduwuit-worker")
            .enable_all()
            .build()?;
        tracing::info!(workers = workers.max(1), "tokio runtime started");
        Ok(Runtime { runtime })
    }

    /// The runtime's handle.
    pub fn handle(&self) -> &Handle {
        self.runtime.handle()
    }

    /// Spawns `task`; the caller must join the handle before its code may be unloaded.
    pub fn spawn(&self, task: BoxTask) -> JoinHandle<()> {
        self.runtime.spawn(task)
    }

    /// Runs `fut` to completion on the calling thread, inside the runtime.
    pub fn block_on(&self, fut: Pin<Box<dyn Future<Output = ()> + Send + '_>>) {
        self.runtime.block_on(fut)
    }
}

/// Tasks of one generation (e.g. one per connection), joined together at its end.
pub struct TaskGroup {
    handle: Handle,
    tasks: Vec<JoinHandle<()>>,
}

impl TaskGroup {
    /// An empty group spawning on `handle`.
    pub fn new(handle: &Handle) -> TaskGroup {
        TaskGroup { handle: handle.clone(), tasks: Vec::new() }
    }

    /// Spawns `task`; forgets the handles of tasks that have finished.
    pub fn spawn(&mut self, task: BoxTask) {
        self.tasks.retain(|t| !t.is_finished());
        self.tasks.push(self.handle.spawn(task));
    }

    /// Tasks spawned and not known to have finished.
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    /// True when no task is pending.
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// Waits for every task; returns how many panicked.
    pub async fn join_all(&mut self) -> usize {
        let mut panicked = 0;
        for t in self.tasks.drain(..) {
            if t.await.is_err() {
                panicked += 1;
            }
        }
        panicked
    }
}

/// The sending side of a stop signal: `trigger` wakes every `StopSignal`.
pub struct Shutdown {
    tx: watch::Sender<bool>,
}

/// The receiving side of a stop signal; cheap to clone, one per task.
#[derive(Clone)]
pub struct StopSignal {
    rx: watch::Receiver<bool>,
}

impl Shutdown {
    /// A new, untriggered signal and its first receiver.
    pub fn new() -> (Shutdown, StopSignal) {
        let (tx, rx) = watch::channel(false);
        (Shutdown { tx }, StopSignal { rx })
    }

    /// Asks every receiver to stop.
    pub fn trigger(&self) {
        self.tx.send_replace(true);
    }
}

impl StopSignal {
    /// True once triggered.
    pub fn is_set(&self) -> bool {
        *self.rx.borrow()
    }

    /// Resolves once triggered (or when the `Shutdown` was dropped).
    pub fn wait(&mut self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(async move {
            while !*self.rx.borrow_and_update() {
                if self.rx.changed().await.is_err() {
                    return;
                }
            }
        })
    }
}

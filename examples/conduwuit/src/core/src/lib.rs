//! The frozen layer (hotgen.yaml `frozen: [conduwuit_core]`): configuration, the tracing
//! subscriber with its runtime-changeable filter, the tokio runtime, and every type that
//! lives in hotgen's state slot across reloads (the open database, the in-memory cache).
//! Its code is never unloaded, so what it owns may outlive any generation; the crates
//! above it only run code on these values while a generation runs.

pub mod config;
pub mod log;
pub mod runtime;
pub mod signal;
pub mod state;

pub use config::Config;
pub use log::{Log, LogReload};
pub use runtime::{BoxTask, Runtime, Shutdown, StopSignal, TaskGroup};
pub use state::{Cache, Entry, State};

pub use rusqlite;
pub use tokio;
pub use tracing;

/// This crate's part of `GET /version`.
pub const VERSION: &str = "core v1";

/// Runs `fut`, turning a panic inside it into `Err` (like `futures`' `catch_unwind`).
pub async fn catch_unwind<F: std::future::Future>(fut: F) -> Result<F::Output, Box<dyn std::any::Any + Send>> {
    let mut fut = std::pin::pin!(fut);
    std::future::poll_fn(move |cx| {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| fut.as_mut().poll(cx))) {
            Ok(std::task::Poll::Ready(v)) => std::task::Poll::Ready(Ok(v)),
            Ok(std::task::Poll::Pending) => std::task::Poll::Pending,
            Err(e) => std::task::Poll::Ready(Err(e)),
        }
    })
    .await
}

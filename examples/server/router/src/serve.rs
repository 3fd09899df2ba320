//! The accept loop of one generation.

use std::cell::Cell;
use std::io;
use std::net::TcpListener;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::Ordering;
use std::time::Duration;

use app_core::shutdown::wait_readable;
use app_core::{AppState, Config, WorkerPool};
use app_database::Compactor;

use crate::conn::{ConnCtx, serve_connection};

/// Connections accepted on this thread (the generation thread); dropped at its exit.
struct Accepted(Cell<u64>);

impl Drop for Accepted {
    fn drop(&mut self) {
        app_core::debug!("router accepted {} connections on this thread", self.0.get());
    }
}

thread_local! {
    static ACCEPTED: Accepted = const { Accepted(Cell::new(0)) };
}

/// Serves HTTP on `listeners` until `stop_fd` becomes readable, then stops accepting,
/// answers the requests in flight (with `Connection: close`), joins every thread it
/// started and returns. Connections still in the listen backlog stay there for whoever
/// serves next. Dropping `listeners` closes only these descriptors (under `hotgen dev`
/// they are dups). `generation` is 0 for the static binary.
/// Errors: the listeners cannot be polled, or the threads cannot be started.
pub fn serve(
    listeners: Vec<TcpListener>,
    stop_fd: RawFd,
    state: &'static AppState,
    config: &Config,
    generation: u64,
) -> io::Result<()> {
    // O_NONBLOCK is shared with every dup of the socket; every generation wants it set.
    for l in &listeners {
        l.set_nonblocking(true)?;
    }
    let served = state.generations.fetch_add(1, Ordering::Relaxed) + 1;
    let compactor = Compactor::start(&state.store, config.compact_every)?;
    let mut pool = WorkerPool::new("http-worker", config.min_workers, config.max_workers)?;
    let cx = ConnCtx { state, generation, stop_fd, idle_timeout: config.idle_timeout, stop_grace: config.stop_grace };
    let addrs: Vec<String> = listeners.iter().filter_map(|l| l.local_addr().ok()).map(|a| a.to_string()).collect();
    app_core::info!(
        "generation {generation} serving on {} ({} generations, {} requests so far)",
        addrs.join(", "),
        served,
        state.requests.load(Ordering::Relaxed)
    );

    let mut fds: Vec<RawFd> = listeners.iter().map(|l| l.as_raw_fd()).collect();
    fds.push(stop_fd);
    let result = loop {
        let ready = match wait_readable(&fds, None) {
            Ok(r) => r,
            Err(e) => break Err(e),
        };
        if ready[listeners.len()] {
            break Ok(());
        }
        for (listener, _) in listeners.iter().zip(&ready).filter(|(_, r)| **r) {
            if let Err(e) = accept_all(listener, &mut pool, cx) {
                app_core::warn!("accept: {e}; pausing");
                // Out of descriptors or memory: back off instead of spinning on poll.
                if wait_readable(&[stop_fd], Some(Duration::from_millis(50)))?[0] {
                    break;
                }
            }
        }
    };
    app_core::info!("generation {generation} stopping: finishing requests in flight");
    drop(pool);
    drop(compactor);
    app_core::info!("generation {generation} stopped");
    result
}

fn accept_all(listener: &TcpListener, pool: &mut WorkerPool, cx: ConnCtx) -> io::Result<()> {
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                ACCEPTED.with(|a| a.0.set(a.0.get() + 1));
                pool.execute(move || serve_connection(stream, cx))?;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            // The client gave up before we accepted: nothing to do.
            Err(e) if e.kind() == io::ErrorKind::ConnectionAborted => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

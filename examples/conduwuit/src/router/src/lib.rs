//! The entry crate: start-up (`boot`), the hyper service that routes every request, and
//! the accept loop of one generation (`serve`). Under `hotgen dev` the host calls
//! `hotgen_run` (below) once per generation; the static binary calls `boot` and `serve`.

use std::convert::Infallible;
use std::future::{Future, poll_fn};
use std::io;
use std::net::TcpListener as StdListener;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::Poll;
use std::time::{Duration, Instant};

use conduwuit_api::{json, text};
use conduwuit_core::tokio::io::Interest;
use conduwuit_core::tokio::io::unix::AsyncFd;
use conduwuit_core::tokio::net::{TcpListener, TcpStream};
use conduwuit_core::{Config, Log, Runtime, Shutdown, State, StopSignal, TaskGroup};
use hyper::server::conn::Http;
use hyper::{Body, Request, Response, StatusCode};
use tracing::{Instrument, debug, info, info_span, warn};

/// This crate's part of `GET /version`.
pub fn version() -> &'static str {
    "router v1"
}

/// How long a connection may take to finish once the generation is stopping.
const DRAIN: Duration = Duration::from_secs(3);

unsafe extern "C" {
    fn dup(fd: i32) -> i32;
}

/// Start-up, once per process: tracing, the runtime, the database (opened, migrated) and
/// the cache built from `config.rows` rows.
pub fn boot(config: Config) -> Result<State, String> {
    let t0 = Instant::now();
    let log = Log::init(&config.log, config.log_reload)?;
    let span = info_span!("boot", rows = config.rows, db = %config.database_path.display());
    let _entered = span.enter();
    let runtime = Runtime::new(config.worker_threads).map_err(|e| format!("cannot start the runtime: {e}"))?;
    let db = conduwuit_database::open(&config.database_path)
        .map_err(|e| format!("{}: {e}", config.database_path.display()))?;
    let cache = conduwuit_service::load_cache(&db, config.rows)?;
    let took = t0.elapsed();
    info!(ms = took.as_millis() as u64, "ready");
    Ok(State::new(config, log, runtime, db, cache, took))
}

/// Serves on the first of `listeners` until `stop_fd` is readable; then stops accepting,
/// lets every connection finish (at most `DRAIN`), stops the background services and
/// returns, leaving no task of this generation on the runtime. Runs inside `state.runtime`.
pub async fn serve(state: &'static State, listeners: Vec<StdListener>, stop_fd: RawFd) -> io::Result<()> {
    let std_listener = listeners.into_iter().next().ok_or_else(|| io::Error::other("no listening socket"))?;
    std_listener.set_nonblocking(true)?;
    let listener = TcpListener::from_std(std_listener)?;
    // SAFETY: dup(2) on a descriptor the caller keeps open; the copy is owned below.
    let copy = unsafe { dup(stop_fd) };
    if copy < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `copy` is a fresh descriptor nothing else owns.
    let stop = AsyncFd::with_interest(unsafe { OwnedFd::from_raw_fd(copy) }, Interest::READABLE)?;
    let services = conduwuit_service::Services::start(state);
    let (shutdown, stopping) = Shutdown::new();
    let mut connections = TaskGroup::new(state.runtime.handle());
    let ids = AtomicU64::new(0);
    info!(addr = %listener.local_addr()?, generation = state.generation.load(Ordering::Relaxed), "serving");
    loop {
        // Stop wins over a pending accept: what waits in the backlog is the next generation's.
        let accepted = poll_fn(|cx| {
            if stop.poll_read_ready(cx).is_ready() {
                return Poll::Ready(None);
            }
            listener.poll_accept(cx).map(Some)
        })
        .await;
        match accepted {
            None => break,
            Some(Ok((stream, peer))) => {
                let id = ids.fetch_add(1, Ordering::Relaxed);
                let span = info_span!("conn", id, %peer);
                connections.spawn(Box::pin(connection(stream, state, stopping.clone()).instrument(span)));
            }
            Some(Err(e)) => {
                warn!(error = %e, "accept failed");
                conduwuit_core::tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    drop(listener);
    shutdown.trigger();
    let open = connections.len();
    let panicked = connections.join_all().await;
    let services_panicked = services.stop().await;
    info!(connections = open, panicked, services_panicked, "stopped");
    Ok(())
}

/// One HTTP/1.1 connection, closed gracefully once `stop` is set.
async fn connection(stream: TcpStream, state: &'static State, mut stop: StopSignal) {
    let _ = stream.set_nodelay(true);
    let service = hyper::service::service_fn(move |req| async move { Ok::<_, Infallible>(route(state, req).await) });
    let mut conn = pin!(Http::new().http1_only(true).serve_connection(stream, service));
    let mut stopped = stop.wait();
    let mut deadline = None;
    let result = poll_fn(|cx| {
        if deadline.is_none() && stopped.as_mut().poll(cx).is_ready() {
            conn.as_mut().graceful_shutdown();
            deadline = Some(Box::pin(conduwuit_core::tokio::time::sleep(DRAIN)));
        }
        if let Some(d) = deadline.as_mut()
            && d.as_mut().poll(cx).is_ready()
        {
            return Poll::Ready(Err(None));
        }
        conn.as_mut().poll(cx).map_err(Some)
    })
    .await;
    match result {
        Ok(()) => {}
        Err(None) => warn!("connection dropped: still open {DRAIN:?} after stop"),
        Err(Some(e)) => debug!(error = %e, "connection error"),
    }
}

/// Every request: `/version` here, `/admin` to the admin crate, the rest to the API.
async fn route(state: &'static State, req: Request<Body>) -> Response<Body> {
    state.requests.fetch_add(1, Ordering::Relaxed);
    let span = info_span!("request", method = %req.method(), path = req.uri().path());
    let answer = async move {
        match req.uri().path() {
            "/version" => versions(),
            "/admin" => conduwuit_admin::handle(state, req).await,
            _ => conduwuit_api::handle(state, req).await,
        }
    };
    match conduwuit_core::catch_unwind(answer.instrument(span)).await {
        Ok(r) => r,
        Err(_) => text(StatusCode::INTERNAL_SERVER_ERROR, "internal error: the handler panicked"),
    }
}

fn versions() -> Response<Body> {
    json(
        StatusCode::OK,
        serde_json_versions(&[
            ("core", conduwuit_core::VERSION),
            ("database", conduwuit_database::version()),
            ("service", conduwuit_service::version()),
            ("api", conduwuit_api::version()),
            ("admin", conduwuit_admin::version()),
            ("router", version()),
        ]),
    )
}

fn serde_json_versions(parts: &[(&str, &str)]) -> serde_json::Value {
    serde_json::Value::Object(parts.iter().map(|(k, v)| (k.to_string(), serde_json::Value::from(*v))).collect())
}

/// Runs one generation's `serve` on the state's runtime, from a thread outside it.
pub fn run_generation(state: &'static State, listeners: Vec<StdListener>, stop_fd: RawFd) -> io::Result<()> {
    let mut result = Ok(());
    state.runtime.block_on(Box::pin(async { result = serve(state, listeners, stop_fd).await }));
    result
}

/// Builds the state or says why it cannot (a panic: the host reports it and restarts).
pub fn boot_from_env() -> State {
    let config = Config::load().unwrap_or_else(|e| panic!("conduwuit: configuration: {e}"));
    boot(config).unwrap_or_else(|e| panic!("conduwuit: start-up failed: {e}"))
}

// Hot reloading (hotgen): compiled only by the hot build, which sets `--cfg hotgen`.
#[allow(unexpected_cfgs)]
#[path = "."]
mod hot {
    #[cfg(hotgen)]
    #[path = "hotgen_entry.rs"]
    #[rustfmt::skip] // keeps `cargo fmt` working where the file is absent
    mod hotgen_entry;

    // SAFETY: `State` and every type in it are defined in std, in the frozen
    // `conduwuit_core` or in registry crates (tokio, rusqlite, tracing-subscriber), and hold
    // only data (owned strings, the cache's maps, the SQLite connection, the runtime): no
    // trait object, function pointer or `&'static` reference into a reloadable crate. The
    // runtime's workers run this crate's or a reloadable crate's code only while a
    // generation runs: `serve` joins every task it spawned before it returns.
    #[cfg(hotgen)]
    unsafe impl hotgen_entry::FrozenState for conduwuit_core::State {}

    /// One generation: the state (database, cache, runtime, tracing) is built by the
    /// first and kept in hotgen's state slot for every later one.
    #[cfg(hotgen)]
    fn hotgen_run(ctx: &hotgen_entry::Context) -> i32 {
        let state: &'static conduwuit_core::State = ctx.state(super::boot_from_env);
        state.begin_generation(ctx.generation());
        let listeners = match ctx.listeners() {
            Ok(l) => l,
            Err(e) => {
                tracing::error!(error = %e, "cannot use the host's listening sockets");
                return 1;
            }
        };
        match super::run_generation(state, listeners, ctx.stop_fd()) {
            Ok(()) => 0,
            Err(e) => {
                tracing::error!(generation = ctx.generation(), error = %e, "generation failed");
                1
            }
        }
    }
}

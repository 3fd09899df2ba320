//! The whole server as one static executable: the baseline a restart is compared with.
//!
//! Listens on the sockets passed by systemd's socket activation (`LISTEN_FDS`, with
//! `LISTEN_PID` = this process) or binds `HOTGEN_EXAMPLE_ADDR` (default
//! 127.0.0.1:8080), prints `listening on <addr>` on stdout, and serves until SIGTERM or
//! SIGINT, then finishes the requests in flight and exits 0.

use std::net::TcpListener;
use std::os::fd::FromRawFd;
use std::process::ExitCode;

use app_core::{AppState, Config};

/// First inherited descriptor under systemd's convention (sd_listen_fds(3)).
const SD_LISTEN_FDS_START: i32 = 3;

fn inherited_listeners() -> Option<Vec<TcpListener>> {
    let n: i32 = std::env::var("LISTEN_FDS").ok()?.parse().ok()?;
    if let Ok(pid) = std::env::var("LISTEN_PID")
        && pid.parse::<u32>().ok()? != std::process::id()
    {
        return None;
    }
    // SAFETY: under the LISTEN_FDS convention these descriptors are ours and listening.
    Some((0..n).map(|i| unsafe { TcpListener::from_raw_fd(SD_LISTEN_FDS_START + i) }).collect())
}

fn run() -> std::io::Result<()> {
    let config = Config::from_env();
    app_core::log::set_level(config.log_level);
    let stop_fd = app_core::shutdown::signal_pipe()?;
    let listeners = match inherited_listeners() {
        Some(l) if !l.is_empty() => l,
        _ => vec![TcpListener::bind(&config.addr)?],
    };
    for l in &listeners {
        println!("listening on {}", l.local_addr()?);
    }
    let store = app_database::open(&config.store_path)?;
    // The state lives as long as the process, as under `hotgen dev`.
    let state: &'static AppState = Box::leak(Box::new(AppState::new(store)));
    app_router::serve(listeners, stop_fd, state, &config, 0)
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            app_core::error!("{e}");
            ExitCode::FAILURE
        }
    }
}

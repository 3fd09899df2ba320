//! The static binary: the same app without hotgen, as an ordinary `cargo build` makes it
//! (the restart baseline). It takes its listening socket from `LISTEN_FDS` (systemd socket
//! activation, `systemfd`) when given one, so a restart keeps the socket and loses no
//! connection; otherwise it binds `CONDUWUIT_ADDRESS`. SIGTERM or SIGINT stops it.

use std::io::Write;
use std::net::TcpListener;
use std::process::ExitCode;

use conduwuit_core::Config;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("conduwuit: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let config = Config::load().map_err(|e| format!("configuration: {e}"))?;
    let listener = match listenfd::ListenFd::from_env().take_tcp_listener(0) {
        Ok(Some(l)) => l,
        Ok(None) => {
            TcpListener::bind(&config.address).map_err(|e| format!("cannot listen on {}: {e}", config.address))?
        }
        Err(e) => return Err(format!("LISTEN_FDS: descriptor 3 is not a TCP listener: {e}")),
    };
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let state: &'static conduwuit_core::State = Box::leak(Box::new(conduwuit_router::boot(config)?));
    state.begin_generation(0);
    let stop_fd = conduwuit_core::signal::stop_pipe().map_err(|e| format!("cannot catch signals: {e}"))?;
    tracing::info!(%addr, boot_ms = state.boot_time.as_millis() as u64, "static server up");
    println!("listening on {addr}");
    let _ = std::io::stdout().flush();
    conduwuit_router::run_generation(state, vec![listener], stop_fd).map_err(|e| e.to_string())
}

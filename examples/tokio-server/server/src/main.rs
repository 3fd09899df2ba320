//! The tokio server as one static executable: binds `HOTGEN_EXAMPLE_ADDR` (default
//! 127.0.0.1:8080), prints `listening on <addr>`, stops on SIGTERM/SIGINT with exit 0.

use std::net::TcpListener;
use std::process::ExitCode;

fn run() -> std::io::Result<()> {
    let stop_fd = tk_core::signal_pipe()?;
    let listener = TcpListener::bind(std::env::var("HOTGEN_EXAMPLE_ADDR").as_deref().unwrap_or("127.0.0.1:8080"))?;
    println!("listening on {}", listener.local_addr()?);
    let state: &'static tk_core::AppState = Box::leak(Box::new(tk_core::AppState::new(2)?));
    state.runtime.block_on(tk_router::serve(vec![listener], stop_fd, state))
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

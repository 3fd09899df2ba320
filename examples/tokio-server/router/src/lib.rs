//! The entry crate: an async accept loop on the frozen crate's runtime. Every task it
//! spawns is joined before `serve` returns, so no code of this crate (or of `tk_api`)
//! is left on the runtime's threads when the generation ends.

use std::future::poll_fn;
use std::io;
use std::net::TcpListener as StdListener;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::task::Poll;
use std::time::Duration;

use tk_core::{AppState, TaskGroup};
use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncReadExt, AsyncWriteExt, Interest};
use tokio::net::{TcpListener, TcpStream};

unsafe extern "C" {
    fn dup(fd: i32) -> i32;
}

const MAX_HEAD: usize = 16 * 1024;
const MAX_BODY: usize = 1024 * 1024;

/// Serves on the first of `listeners` until `stop_fd` is readable, then stops accepting,
/// waits for every connection task and returns. Must run inside `state.runtime`.
pub async fn serve(listeners: Vec<StdListener>, stop_fd: RawFd, state: &'static AppState) -> io::Result<()> {
    let std_listener = listeners.into_iter().next().ok_or_else(|| io::Error::other("no listening socket"))?;
    std_listener.set_nonblocking(true)?;
    let listener = TcpListener::from_std(std_listener)?;
    let copy = unsafe { dup(stop_fd) };
    if copy < 0 {
        return Err(io::Error::last_os_error());
    }
    let stop = AsyncFd::with_interest(unsafe { OwnedFd::from_raw_fd(copy) }, Interest::READABLE)?;
    tk_core::log(format_args!("serving on {}", listener.local_addr()?));
    let mut tasks = TaskGroup::default();
    loop {
        // Stop wins over a pending accept: what is still in the backlog waits for the next generation.
        let accepted = poll_fn(|cx| {
            if stop.poll_read_ready(cx).is_ready() {
                return Poll::Ready(None);
            }
            listener.poll_accept(cx).map(Some)
        })
        .await;
        match accepted {
            None => break,
            Some(Ok((stream, _))) => tasks.spawn(Box::pin(connection(stream, state))),
            Some(Err(e)) => {
                tk_core::log(format_args!("accept: {e}"));
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    drop(listener);
    let panicked = tasks.join_all().await;
    tk_core::log(format_args!("stopped ({panicked} connection tasks panicked)"));
    Ok(())
}

async fn connection(mut stream: TcpStream, state: &'static AppState) {
    let answer = match tokio::time::timeout(Duration::from_secs(4), read_request(&mut stream)).await {
        Ok(Ok((method, path, body))) => {
            // A panicking handler is answered 500.
            tk_core::catch_unwind(tk_api::handle(state, &method, &path, &body))
                .await
                .unwrap_or_else(|_| (500, "internal error: the handler panicked\n".to_string()))
        }
        Ok(Err(e)) => (400, format!("{e}\n")),
        Err(_) => (408, "request timeout\n".to_string()),
    };
    let (status, body) = answer;
    let head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        if status < 300 { "OK" } else { "Error" },
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body.as_bytes()).await;
    let _ = stream.shutdown().await;
    // Drain until the client closes, so unread bytes never turn the close into a reset.
    let mut sink = [0u8; 1024];
    let _ = tokio::time::timeout(Duration::from_millis(500), async {
        while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
    })
    .await;
}

async fn read_request(stream: &mut TcpStream) -> io::Result<(String, String, Vec<u8>)> {
    let mut buf = Vec::new();
    let end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        if buf.len() > MAX_HEAD {
            return Err(io::Error::other("header too large"));
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(io::Error::other("connection closed mid-request"));
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = std::str::from_utf8(&buf[..end]).map_err(|_| io::Error::other("header is not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or("").split(' ');
    let (method, target) = (first.next().unwrap_or("").to_string(), first.next().unwrap_or("/").to_string());
    let mut length = 0usize;
    for line in lines {
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().map_err(|_| io::Error::other("bad Content-Length"))?;
        }
    }
    if length > MAX_BODY {
        return Err(io::Error::other("body too large"));
    }
    let mut body = buf[end + 4..].to_vec();
    while body.len() < length {
        let mut chunk = vec![0u8; length - body.len()];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(io::Error::other("connection closed mid-body"));
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(length);
    let path = target.split('?').next().unwrap_or("/").to_string();
    Ok((method, path, body))
}

#[cfg(hotgen)]
#[rustfmt::skip] // generated by `hotgen init`; absent in an ordinary checkout
mod hotgen_entry;

// SAFETY: `AppState` is defined in the frozen `tk_core`, and so is tokio, compiled into
// it; the runtime, the counter and the map of owned strings hold no pointer into a
// reloadable crate once a generation has returned: `serve` joins every task it spawned
// (through `tk_core::TaskGroup`, whose task harness is `tk_core`'s code) before it returns.
#[cfg(hotgen)]
unsafe impl hotgen_entry::FrozenState for AppState {}

/// One generation under `hotgen dev`, on the runtime kept in the state.
#[cfg(hotgen)]
fn hotgen_run(ctx: &hotgen_entry::Context) -> i32 {
    let state = ctx.state(|| AppState::new(2).unwrap_or_else(|e| panic!("cannot start the tokio runtime: {e}")));
    let listeners = match ctx.listeners() {
        Ok(l) => l,
        Err(e) => {
            tk_core::log(format_args!("cannot use the host's listening sockets: {e}"));
            return 1;
        }
    };
    match state.runtime.block_on(serve(listeners, ctx.stop_fd(), state)) {
        Ok(()) => 0,
        Err(e) => {
            tk_core::log(format_args!("generation {} failed: {e}", ctx.generation()));
            1
        }
    }
}

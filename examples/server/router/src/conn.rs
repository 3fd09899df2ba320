//! One client connection on a worker thread: requests in, responses out, until the
//! client closes, goes idle, or the generation stops.

use std::cell::Cell;
use std::io::{self, BufReader, Read};
use std::net::{Shutdown, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use app_api::{Ctx, Response};
use app_core::AppState;
use app_core::shutdown::{is_signalled, wait_readable};

use crate::http::{ReadError, read_request, write_response};

/// Longest time to receive one request once its first byte arrived, or to send a response.
const IO_TIMEOUT: Duration = Duration::from_secs(4);

/// What every connection of one generation shares.
#[derive(Clone, Copy)]
pub struct ConnCtx {
    pub state: &'static AppState,
    pub generation: u64,
    pub stop_fd: RawFd,
    /// How long a connection may wait for its next request.
    pub idle_timeout: Duration,
    /// After stop: how long a connection still waits for a request before it is closed.
    pub stop_grace: Duration,
}

/// Requests served on this thread; a destructor with code in this crate, run at thread exit.
struct Served(Cell<u64>);

impl Drop for Served {
    fn drop(&mut self) {
        app_core::debug!("router served {} requests on this thread", self.0.get());
    }
}

thread_local! {
    static SERVED: Served = const { Served(Cell::new(0)) };
}

/// Serves `stream` until it closes. Errors are logged, never returned.
pub fn serve_connection(stream: TcpStream, cx: ConnCtx) {
    let peer = stream.peer_addr().map(|a| a.to_string()).unwrap_or_else(|_| "?".into());
    match serve(&stream, cx) {
        Ok(Ending::Answered) => linger_close(&stream),
        Ok(Ending::Quiet) => {}
        Err(e) => app_core::debug!("connection {peer}: {e}"),
    }
}

/// How a connection ended, which decides how it is closed.
enum Ending {
    /// After a response marked `Connection: close`: the client may still be sending.
    Answered,
    /// The client closed, or the connection was idle: nothing unread, close at once.
    Quiet,
}

fn serve(stream: &TcpStream, cx: ConnCtx) -> io::Result<Ending> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let _ = stream.set_nodelay(true);
    let mut reader = BufReader::new(stream);
    let mut writer = stream;
    let mut fresh = true;
    loop {
        if reader.buffer().is_empty() && !wait_for_request(stream.as_raw_fd(), cx, fresh) {
            return Ok(Ending::Quiet);
        }
        fresh = false;
        let (req, keep_alive) = match read_request(&mut reader) {
            Ok(r) => r,
            Err(ReadError::Closed) => return Ok(Ending::Quiet),
            Err(ReadError::Bad(status, msg)) => {
                write_response(&mut writer, &Response::text(status, format!("{msg}\n")), true)?;
                return Ok(Ending::Answered);
            }
            Err(ReadError::Io(e)) => return Err(e),
        };
        let request_no = cx.state.count_request();
        SERVED.with(|s| s.0.set(s.0.get() + 1));
        let ctx = Ctx { state: cx.state, generation: cx.generation, request_no, versions_above: &[crate::VERSION] };
        let resp = catch_unwind(AssertUnwindSafe(|| app_api::handle(&ctx, &req))).unwrap_or_else(|_| {
            app_core::error!("{} {}: the handler panicked", req.method, req.path);
            Response::text(500, "internal error: the handler panicked\n".to_string())
        });
        // Once stop is requested, every answer closes its connection.
        let close = !keep_alive || is_signalled(cx.stop_fd);
        write_response(&mut writer, &resp, close)?;
        if close {
            return Ok(Ending::Answered);
        }
    }
}

/// How long, after stop, a connection that has not sent its first request yet may take
/// to send it: its client connected to make one (only under heavy load does it take
/// more than a moment), so it is answered rather than cut off. Below the host's 5 s
/// stop bound.
const FRESH_GRACE: Duration = Duration::from_secs(2);

/// Waits until the client sends (true) or the connection should close (false): idle
/// for too long, or stop requested and no request arrived within the grace period
/// (`FRESH_GRACE` for a connection that has not sent a request yet).
fn wait_for_request(fd: RawFd, cx: ConnCtx, fresh: bool) -> bool {
    let ready = match wait_readable(&[fd, cx.stop_fd], Some(cx.idle_timeout)) {
        Ok(r) => r,
        Err(_) => return false,
    };
    if ready[0] {
        return true;
    }
    if !ready[1] {
        return false; // idle timeout
    }
    // Stopping: a client that just connected or is about to reuse this connection
    // most likely sends within the grace period; answer it rather than cut it off.
    let grace = if fresh { FRESH_GRACE.max(cx.stop_grace) } else { cx.stop_grace };
    wait_readable(&[fd], Some(grace)).map(|r| r[0]).unwrap_or(false)
}

/// Closes without resetting: stop sending, then drain what the client still sends
/// (briefly), so a response in flight is not destroyed by a TCP RST.
fn linger_close(stream: &TcpStream) {
    let _ = stream.shutdown(Shutdown::Write);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(100)));
    let deadline = Instant::now() + Duration::from_millis(500);
    let mut sink = [0u8; 4096];
    let mut s = stream;
    while Instant::now() < deadline {
        match s.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
}

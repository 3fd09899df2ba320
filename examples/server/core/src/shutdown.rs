//! Stop signals as file descriptors that become readable, so one `poll` waits for both
//! work and stop. Under `hotgen dev` the host provides that descriptor (`ctx.stop_fd()`);
//! the static binary gets one from [`signal_pipe`], written by a SIGTERM/SIGINT handler.

use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

#[repr(C)]
struct PollFd {
    fd: i32,
    events: i16,
    revents: i16,
}

unsafe extern "C" {
    fn poll(fds: *mut PollFd, nfds: std::ffi::c_ulong, timeout: i32) -> i32;
    fn pipe(fds: *mut i32) -> i32;
    fn write(fd: i32, buf: *const u8, n: usize) -> isize;
    fn signal(sig: i32, handler: usize) -> usize;
}

const POLLIN: i16 = 0x1;
const POLLERR: i16 = 0x8;
const POLLHUP: i16 = 0x10;
const SIGINT: i32 = 2;
const SIGTERM: i32 = 15;
const SIG_ERR: usize = usize::MAX;

/// Waits until one of `fds` is readable (or closed by the peer) or `timeout` passes
/// (`None` = forever). Returns one flag per descriptor; all false on timeout.
/// EINTR is retried with the full timeout again, which only lengthens a wait.
pub fn wait_readable(fds: &[RawFd], timeout: Option<Duration>) -> io::Result<Vec<bool>> {
    let mut p: Vec<PollFd> = fds.iter().map(|&fd| PollFd { fd, events: POLLIN, revents: 0 }).collect();
    let ms = timeout.map_or(-1, |t| t.as_millis().min(i32::MAX as u128) as i32);
    loop {
        let n = unsafe { poll(p.as_mut_ptr(), p.len() as std::ffi::c_ulong, ms) };
        if n >= 0 {
            return Ok(p.iter().map(|p| p.revents & (POLLIN | POLLERR | POLLHUP) != 0).collect());
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// True when `fd` is readable right now (the stop descriptor is never drained, so
/// once signalled it stays readable).
pub fn is_signalled(fd: RawFd) -> bool {
    wait_readable(&[fd], Some(Duration::ZERO)).map(|r| r[0]).unwrap_or(true)
}

static SIGNAL_PIPE_WRITE: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_signal(_sig: i32) {
    // Only async-signal-safe work here: one write(2).
    let fd = SIGNAL_PIPE_WRITE.load(Ordering::Relaxed);
    if fd >= 0 {
        let b = 1u8;
        unsafe { write(fd, &b, 1) };
    }
}

/// Installs SIGTERM and SIGINT handlers and returns a descriptor that becomes readable
/// when either arrives. For the static binary only: under `hotgen dev` the host owns
/// the signals. Call once per process.
pub fn signal_pipe() -> io::Result<RawFd> {
    let mut fds = [-1i32; 2];
    if unsafe { pipe(fds.as_mut_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    SIGNAL_PIPE_WRITE.store(fds[1], Ordering::Relaxed);
    let handler = on_signal as extern "C" fn(i32) as usize;
    for sig in [SIGTERM, SIGINT] {
        // glibc's signal() has BSD semantics: the handler stays and slow calls restart.
        if unsafe { signal(sig, handler) } == SIG_ERR {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(fds[0])
}

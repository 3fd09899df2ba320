//! For the static binary: SIGTERM and SIGINT make a descriptor readable, the same kind
//! of stop signal hotgen hands to every generation.

use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicI32, Ordering};

unsafe extern "C" {
    fn pipe(fds: *mut i32) -> i32;
    fn write(fd: i32, buf: *const u8, n: usize) -> isize;
    fn signal(sig: i32, handler: usize) -> usize;
}

static SIGNAL_PIPE_WRITE: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_signal(_sig: i32) {
    let fd = SIGNAL_PIPE_WRITE.load(Ordering::Relaxed);
    if fd >= 0 {
        // SAFETY: write(2) is async-signal-safe; the buffer is a valid 1-byte value.
        unsafe { write(fd, &1u8, 1) };
    }
}

/// A descriptor that becomes readable on SIGTERM or SIGINT.
pub fn stop_pipe() -> io::Result<RawFd> {
    let mut fds = [-1i32; 2];
    // SAFETY: `fds` has room for the two descriptors pipe(2) writes.
    if unsafe { pipe(fds.as_mut_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    SIGNAL_PIPE_WRITE.store(fds[1], Ordering::Relaxed);
    for sig in [2, 15] {
        // SAFETY: `on_signal` only does async-signal-safe work.
        if unsafe { signal(sig, on_signal as extern "C" fn(i32) as usize) } == usize::MAX {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(fds[0])
}

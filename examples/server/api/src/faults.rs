//! Routes that misbehave on purpose, for the fault tests.

use std::time::Duration;

use crate::{Request, Response};

/// `GET /sleep?ms=N`: answers after N ms (at most 10 s), to hold a request in flight.
pub fn sleep(req: &Request) -> Response {
    let ms: u64 = req.query_param("ms").and_then(|v| v.parse().ok()).unwrap_or(100).min(10_000);
    std::thread::sleep(Duration::from_millis(ms));
    Response::text(200, format!("slept {ms} ms\n"))
}

/// `GET /panic`: a handler bug. The router catches it and answers 500.
pub fn panic() -> Response {
    panic!("GET /panic was requested");
}

/// `GET /abort`: ends the process with SIGABRT.
pub fn abort() -> Response {
    app_core::error!("GET /abort: aborting the process");
    std::process::abort();
}

/// `GET /segv`: writes through a null pointer; the process dies with SIGSEGV.
pub fn segv() -> Response {
    app_core::error!("GET /segv: writing through a null pointer");
    // SAFETY: not safe at all, on purpose: this route exists to crash the process.
    unsafe { std::ptr::null_mut::<u8>().write_volatile(1) };
    Response::text(500, "still alive?\n".to_string())
}

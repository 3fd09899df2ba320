//! The request handlers: one function per route, from a parsed request to a response.

mod faults;
mod http;

use std::cell::Cell;

use app_core::AppState;
use app_service::{ServiceError, Stored};
pub use http::{Request, Response, reason};

/// The answer of `GET /hello`. Edit it and save: under `hotgen dev` only this crate and
/// the router are rebuilt and swapped.
pub const GREETING: &str = "hello from api v1";

/// Shown by `GET /version`.
pub const VERSION: &str = "api v1";

/// What a handler gets besides the request.
pub struct Ctx<'a> {
    /// The state kept across generations.
    pub state: &'a AppState,
    /// The generation serving this request (0 for the static binary).
    pub generation: u64,
    /// This request's number, counted over the process's life.
    pub request_no: u64,
    /// The versions of the layers above this one (the router's), for `GET /version`.
    pub versions_above: &'a [&'a str],
}

/// Requests handled on this thread; a destructor with code in this crate, run at thread exit.
struct Handled(Cell<u64>);

impl Drop for Handled {
    fn drop(&mut self) {
        app_core::debug!("api handled {} requests on this thread", self.0.get());
    }
}

thread_local! {
    static HANDLED: Handled = const { Handled(Cell::new(0)) };
}

/// Routes a request. Never fails: every error becomes a status code. `/panic` panics
/// (the router turns that into a 500), `/abort` and `/segv` end the process on purpose.
pub fn handle(ctx: &Ctx<'_>, req: &Request) -> Response {
    HANDLED.with(|h| h.0.set(h.0.get() + 1));
    let path = req.path.as_str();
    match (req.method.as_str(), path) {
        ("GET", "/hello") => Response::text(200, format!("{GREETING}\n")),
        ("GET", "/count") => Response::text(200, format!("{}\n", ctx.request_no)),
        ("GET", "/version") => version(ctx),
        ("GET", "/stats") => stats(ctx),
        ("GET", "/health") => Response::text(200, "ok\n".to_string()),
        ("GET", "/sleep") => faults::sleep(req),
        ("GET", "/panic") => faults::panic(),
        ("GET", "/abort") => faults::abort(),
        ("GET", "/segv") => faults::segv(),
        (m, p) if p.starts_with("/kv/") => kv(ctx, m, &p["/kv/".len()..], req),
        (_, "/hello" | "/count" | "/version" | "/stats" | "/health" | "/sleep" | "/panic" | "/abort" | "/segv") => {
            Response::text(405, "method not allowed\n".to_string()).with_header("Allow", "GET")
        }
        _ => Response::text(404, format!("no route for {path}\n")),
    }
}

fn version(ctx: &Ctx<'_>) -> Response {
    let mut parts = vec![app_core::VERSION, app_database::VERSION, app_service::VERSION, VERSION];
    parts.extend_from_slice(ctx.versions_above);
    Response::text(200, format!("{}\n", parts.join(", ")))
}

fn stats(ctx: &Ctx<'_>) -> Response {
    let s = app_service::stats(ctx.state);
    let json = format!(
        "{{\"requests\":{},\"keys\":{},\"generation\":{},\"generations\":{},\"uptime_ms\":{},\"pid\":{}}}\n",
        s.requests,
        s.keys,
        ctx.generation,
        s.generations,
        s.uptime_ms,
        std::process::id()
    );
    Response::new(200, "application/json", json.into_bytes())
}

fn kv(ctx: &Ctx<'_>, method: &str, key: &str, req: &Request) -> Response {
    let result = match method {
        "GET" => app_service::get_value(ctx.state, key).map(|v| match v {
            Some(v) => Response::text(200, v),
            None => Response::text(404, format!("no key {key}\n")),
        }),
        "PUT" => match std::str::from_utf8(&req.body) {
            Err(_) => Ok(Response::text(400, "the value must be UTF-8\n".to_string())),
            Ok(value) => app_service::put_value(ctx.state, key, value).map(|s| match s {
                Stored::Created => Response::text(201, "created\n".to_string()),
                Stored::Updated => Response::text(200, "updated\n".to_string()),
            }),
        },
        "DELETE" => app_service::delete_value(ctx.state, key).map(|existed| {
            if existed {
                Response::new(204, "text/plain", Vec::new())
            } else {
                Response::text(404, format!("no key {key}\n"))
            }
        }),
        _ => return Response::text(405, "method not allowed\n".to_string()).with_header("Allow", "GET, PUT, DELETE"),
    };
    result.unwrap_or_else(|e| {
        let status = match e {
            ServiceError::InvalidKey => 400,
            ServiceError::TooLarge => 413,
            ServiceError::Storage(_) => 500,
        };
        if status == 500 {
            app_core::error!("{method} /kv/{key}: {e}");
        }
        Response::text(status, format!("{e}\n"))
    })
}

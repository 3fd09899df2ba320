//! Admin commands over HTTP: `POST /admin` with one command line as the body (conduwuit
//! reads them from an admin room; the shape is the same: parse, run, answer text).

use conduwuit_api::{body_text, text};
use conduwuit_core::State;
use hyper::{Body, Method, Request, Response, StatusCode};
use tracing::{info, info_span, warn};

/// This crate's part of `GET /version`.
pub fn version() -> &'static str {
    "admin v1"
}

const HELP: &str = "commands: ping | log-filter [DIRECTIVES] | stats | recent [N] | help";

/// Answers `POST /admin`.
pub async fn handle(state: &'static State, req: Request<Body>) -> Response<Body> {
    if req.method() != Method::POST {
        return text(StatusCode::METHOD_NOT_ALLOWED, "POST a command to /admin");
    }
    match body_text(req).await {
        Ok(line) => {
            let (status, answer) = run(state, line.trim());
            text(status, &answer)
        }
        Err(r) => r,
    }
}

/// Runs one command line; returns the status and the answer.
pub fn run(state: &'static State, line: &str) -> (StatusCode, String) {
    let _span = info_span!("admin", command = line).entered();
    let (command, args) = line.split_once(char::is_whitespace).map_or((line, ""), |(c, a)| (c, a.trim()));
    info!(command, "admin command");
    match command {
        "ping" => (StatusCode::OK, "pong".into()),
        "help" => (StatusCode::OK, HELP.into()),
        "log-filter" if args.is_empty() => (StatusCode::OK, state.log.filter()),
        "log-filter" => match state.log.set_filter(args) {
            Ok(old) => (StatusCode::OK, format!("log filter: {old} -> {args}")),
            Err(e) => {
                warn!(error = %e, "log-filter refused");
                (StatusCode::BAD_REQUEST, e)
            }
        },
        "stats" => {
            let cache = state.cache();
            (
                StatusCode::OK,
                format!("rows {}, tags {}, boot {} ms", cache.len(), cache.tags(), state.boot_time.as_millis()),
            )
        }
        "recent" => {
            let n = args.parse().unwrap_or(5);
            match conduwuit_database::recent(&state.db(), n) {
                Ok(keys) => (StatusCode::OK, keys.join(" ")),
                Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
            }
        }
        _ => (StatusCode::BAD_REQUEST, format!("unknown command `{command}`; {HELP}")),
    }
}

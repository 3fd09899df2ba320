//! The HTTP API: handlers that answer JSON (or plain text) from the service layer.

use std::sync::atomic::Ordering;
use std::time::Duration;

use conduwuit_core::State;
use hyper::{Body, Method, Request, Response, StatusCode};
use serde_json::json;
use tracing::{debug, debug_span, warn};

/// This crate's part of `GET /version`.
pub fn version() -> &'static str {
    "api v1"
}

/// A response with `body` as `content_type`.
pub fn respond(status: StatusCode, content_type: &str, body: String) -> Response<Body> {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut().insert(hyper::header::CONTENT_TYPE, content_type.parse().expect("a valid header value"));
    r
}

/// A JSON response.
pub fn json(status: StatusCode, value: serde_json::Value) -> Response<Body> {
    respond(status, "application/json", format!("{value}\n"))
}

/// A plain-text response (a newline is added).
pub fn text(status: StatusCode, body: &str) -> Response<Body> {
    respond(status, "text/plain; charset=utf-8", format!("{body}\n"))
}

/// The body of `req` as UTF-8 (at most 1 MiB).
pub async fn body_text(req: Request<Body>) -> Result<String, Response<Body>> {
    let bytes = hyper::body::to_bytes(req.into_body())
        .await
        .map_err(|e| text(StatusCode::BAD_REQUEST, &format!("cannot read the body: {e}")))?;
    if bytes.len() > 1 << 20 {
        return Err(text(StatusCode::PAYLOAD_TOO_LARGE, "body too large"));
    }
    String::from_utf8(bytes.to_vec()).map_err(|_| text(StatusCode::BAD_REQUEST, "the body is not UTF-8"))
}

/// Answers one API request (every path but `/admin` and `/version`).
pub async fn handle(state: &'static State, req: Request<Body>) -> Response<Body> {
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    match (&method, path.as_str()) {
        (&Method::GET, "/health") => text(StatusCode::OK, "ok"),
        (&Method::GET, "/stats") => stats(state),
        (&Method::GET, "/search") => search(state, req.uri().query().unwrap_or("")),
        (&Method::GET, "/sleep") => {
            conduwuit_core::tokio::time::sleep(Duration::from_millis(300)).await;
            text(StatusCode::OK, "slept 300 ms")
        }
        (&Method::GET, "/panic") => panic!("GET /panic"),
        (_, p) if p.starts_with("/kv/") => kv(state, req, &p[4..]).await,
        (_, "/health" | "/stats" | "/search" | "/sleep" | "/panic") => {
            text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
        }
        _ => {
            debug!(%method, path, "no such route");
            text(StatusCode::NOT_FOUND, "not found")
        }
    }
}

async fn kv(state: &'static State, req: Request<Body>, key: &str) -> Response<Body> {
    if key.is_empty() || key.contains('/') {
        return text(StatusCode::BAD_REQUEST, "bad key");
    }
    match *req.method() {
        Method::GET => kv_get(state, key),
        Method::PUT => match body_text(req).await {
            Ok(value) => kv_put(state, key, &value),
            Err(r) => r,
        },
        _ => text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed"),
    }
}

fn kv_get(state: &'static State, key: &str) -> Response<Body> {
    let _span = debug_span!("kv_get", key).entered();
    match conduwuit_service::get(state, key) {
        Some(entry) => {
            debug!(key, "kv hit");
            json(StatusCode::OK, json!({ "key": key, "value": entry.value, "tags": entry.tags }))
        }
        None => {
            debug!(key, "kv miss");
            json(StatusCode::NOT_FOUND, json!({ "key": key, "error": "not found" }))
        }
    }
}

fn kv_put(state: &'static State, key: &str, value: &str) -> Response<Body> {
    let _span = debug_span!("kv_put", key, bytes = value.len()).entered();
    match conduwuit_service::put(state, key, value) {
        Ok(created) => {
            let status = if created { StatusCode::CREATED } else { StatusCode::OK };
            json(status, json!({ "key": key, "created": created }))
        }
        Err(e) => {
            warn!(key, error = %e, "kv put failed");
            text(StatusCode::INTERNAL_SERVER_ERROR, &e)
        }
    }
}

fn stats(state: &'static State) -> Response<Body> {
    let cache = state.cache();
    json(
        StatusCode::OK,
        json!({
            "rows": cache.len(),
            "tags": cache.tags(),
            "requests": state.requests.load(Ordering::Relaxed),
            "generation": state.generation.load(Ordering::Relaxed),
            "generations": state.generations.load(Ordering::Relaxed),
            "bootMs": state.boot_time.as_secs_f64() * 1000.0,
            "pid": std::process::id(),
            "logFilter": state.log.filter(),
        }),
    )
}

fn search(state: &'static State, query: &str) -> Response<Body> {
    let tag = query.split('&').find_map(|kv| kv.strip_prefix("tag=")).unwrap_or("");
    if tag.is_empty() {
        return text(StatusCode::BAD_REQUEST, "search needs ?tag=");
    }
    let (count, keys) = conduwuit_service::search(state, tag, 10);
    debug!(tag, count, "search");
    json(StatusCode::OK, json!({ "tag": tag, "count": count, "keys": keys }))
}

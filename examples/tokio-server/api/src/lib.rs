//! The handlers, async.

use std::sync::atomic::Ordering;
use std::time::Duration;

use tk_core::AppState;

/// The answer of `GET /hello`.
pub const GREETING: &str = "hello from tokio api v1";

/// Answers one request: (status, body).
pub async fn handle(state: &AppState, method: &str, path: &str, body: &[u8]) -> (u16, String) {
    let n = state.requests.fetch_add(1, Ordering::Relaxed) + 1;
    match (method, path) {
        ("GET", "/hello") => (200, format!("{GREETING}\n")),
        ("GET", "/count") => (200, format!("{n}\n")),
        ("GET", "/version") => (200, format!("{}, tk_api v1\n", tk_core::VERSION)),
        ("GET", "/sleep") => {
            tokio::time::sleep(Duration::from_millis(300)).await;
            (200, "slept 300 ms\n".to_string())
        }
        ("GET", "/panic") => panic!("GET /panic was requested"),
        ("GET", p) if p.starts_with("/kv/") => match state.kv.read().unwrap().get(&p[4..]) {
            Some(v) => (200, v.clone()),
            None => (404, "no such key\n".to_string()),
        },
        ("PUT", p) if p.starts_with("/kv/") => match std::str::from_utf8(body) {
            Ok(v) => {
                state.kv.write().unwrap().insert(p[4..].to_string(), v.to_string());
                (200, "stored\n".to_string())
            }
            Err(_) => (400, "the value must be UTF-8\n".to_string()),
        },
        _ => (404, format!("no route for {method} {path}\n")),
    }
}

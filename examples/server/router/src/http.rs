//! Minimal HTTP/1.1 framing: request line, headers, `Content-Length` bodies, keep-alive.

use std::io::{self, BufRead, Read, Write};

use app_api::{Request, Response, reason};

const MAX_LINE: u64 = 8 * 1024;
const MAX_HEADERS: usize = 100;
/// Largest request body read, in bytes.
pub const MAX_BODY: usize = 1024 * 1024;

/// Why no request was read.
#[derive(Debug)]
pub enum ReadError {
    /// The peer closed the connection before sending a byte of a new request.
    Closed,
    /// A malformed or unsupported request: answer `status` with `message`, then close.
    Bad(u16, &'static str),
    /// The connection failed or timed out mid-request.
    Io(io::Error),
}

impl From<io::Error> for ReadError {
    fn from(e: io::Error) -> Self {
        ReadError::Io(e)
    }
}

fn read_line(r: &mut impl BufRead, line: &mut Vec<u8>) -> Result<usize, ReadError> {
    line.clear();
    let n = r.by_ref().take(MAX_LINE).read_until(b'\n', line)?;
    if n > 0 && !line.ends_with(b"\n") {
        return Err(if n as u64 >= MAX_LINE {
            ReadError::Bad(431, "line too long")
        } else {
            ReadError::Io(io::ErrorKind::UnexpectedEof.into())
        });
    }
    while line.last().is_some_and(|&b| b == b'\n' || b == b'\r') {
        line.pop();
    }
    Ok(n)
}

/// Reads one request; returns it and whether the connection may stay open after it.
pub fn read_request(r: &mut impl BufRead) -> Result<(Request, bool), ReadError> {
    let mut line = Vec::new();
    // Tolerate empty lines between requests (RFC 9112 section 2.2).
    loop {
        if read_line(r, &mut line)? == 0 {
            return Err(ReadError::Closed);
        }
        if !line.is_empty() {
            break;
        }
    }
    let text = std::str::from_utf8(&line).map_err(|_| ReadError::Bad(400, "request line is not UTF-8"))?;
    let mut parts = text.split(' ');
    let (Some(method), Some(target), Some(version), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ReadError::Bad(400, "malformed request line"));
    };
    let mut keep_alive = match version {
        "HTTP/1.1" => true,
        "HTTP/1.0" => false,
        _ => return Err(ReadError::Bad(505, "only HTTP/1.0 and HTTP/1.1")),
    };
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) || !target.starts_with('/') {
        return Err(ReadError::Bad(400, "malformed request line"));
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut req =
        Request { method: method.to_string(), path: path.to_string(), query: query.to_string(), ..Default::default() };

    loop {
        read_line(r, &mut line)?;
        if line.is_empty() {
            break;
        }
        if req.headers.len() == MAX_HEADERS {
            return Err(ReadError::Bad(431, "too many headers"));
        }
        let text = std::str::from_utf8(&line).map_err(|_| ReadError::Bad(400, "header is not UTF-8"))?;
        let Some((name, value)) = text.split_once(':') else {
            return Err(ReadError::Bad(400, "malformed header"));
        };
        if name.is_empty() || name.ends_with(' ') || name.starts_with([' ', '\t']) {
            return Err(ReadError::Bad(400, "malformed header"));
        }
        req.headers.push((name.to_ascii_lowercase(), value.trim().to_string()));
    }

    if let Some(conn) = req.header("connection") {
        for token in conn.split(',').map(|t| t.trim().to_ascii_lowercase()) {
            match token.as_str() {
                "close" => keep_alive = false,
                "keep-alive" => keep_alive = true,
                _ => {}
            }
        }
    }
    if req.header("transfer-encoding").is_some() {
        return Err(ReadError::Bad(501, "transfer-encoding is not supported; send Content-Length"));
    }
    let mut length: Option<usize> = None;
    for (_, v) in req.headers.iter().filter(|(n, _)| n == "content-length") {
        let n: usize = v.parse().map_err(|_| ReadError::Bad(400, "bad Content-Length"))?;
        if length.is_some_and(|l| l != n) {
            return Err(ReadError::Bad(400, "conflicting Content-Length"));
        }
        length = Some(n);
    }
    let length = length.unwrap_or(0);
    if length > MAX_BODY {
        return Err(ReadError::Bad(413, "body too large"));
    }
    req.body = vec![0; length];
    r.read_exact(&mut req.body)?;
    Ok((req, keep_alive))
}

/// Writes `resp` with `Content-Length` and `Connection` headers.
pub fn write_response(w: &mut impl Write, resp: &Response, close: bool) -> io::Result<()> {
    let mut head = format!("HTTP/1.1 {} {}\r\n", resp.status, reason(resp.status));
    if resp.status != 204 {
        head.push_str(&format!("Content-Type: {}\r\nContent-Length: {}\r\n", resp.content_type, resp.body.len()));
    }
    for (name, value) in &resp.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(if close { "Connection: close\r\n\r\n" } else { "Connection: keep-alive\r\n\r\n" });
    let mut out = head.into_bytes();
    out.extend_from_slice(&resp.body);
    w.write_all(&out)?;
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str) -> Result<(Request, bool), ReadError> {
        read_request(&mut io::BufReader::new(raw.as_bytes()))
    }

    #[test]
    fn parses_a_put_with_a_body_and_keep_alive() {
        let (req, keep) = parse("PUT /kv/a?x=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabcNEXT").unwrap();
        assert_eq!((req.method.as_str(), req.path.as_str(), req.query.as_str()), ("PUT", "/kv/a", "x=1"));
        assert_eq!(req.body, b"abc");
        assert!(keep);
    }

    #[test]
    fn connection_close_and_http10() {
        assert!(!parse("GET / HTTP/1.1\r\nConnection: close\r\n\r\n").unwrap().1);
        assert!(!parse("GET / HTTP/1.0\r\n\r\n").unwrap().1);
        assert!(parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").unwrap().1);
    }

    #[test]
    fn rejects_bad_input() {
        assert!(matches!(parse(""), Err(ReadError::Closed)));
        assert!(matches!(parse("GET /\r\n\r\n"), Err(ReadError::Bad(400, _))));
        assert!(matches!(parse("GET / HTTP/2\r\n\r\n"), Err(ReadError::Bad(505, _))));
        assert!(matches!(parse("PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"), Err(ReadError::Bad(501, _))));
        assert!(matches!(parse("PUT / HTTP/1.1\r\nContent-Length: 5\r\n\r\nab"), Err(ReadError::Io(_))));
    }
}

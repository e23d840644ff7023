//! The HTTP probe, with the few lines of HTTP/1.1 client it needs.
//!
//! One request per check, `Connection: close`, over a plain tokio
//! `TcpStream`: readiness needs a status line and a body, not a client
//! library with pools and TLS.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{Backoff, Ctx, Failure, Seen};
use crate::port::ContainerPort;

/// How long one request may take.
const REQUEST_LIMIT: Duration = Duration::from_secs(5);
/// The most of a response body the probe reads.
const MAX_RESPONSE: usize = 1 << 20;
/// How much of a body a message quotes.
const QUOTE: usize = 200;

type StatusFn = Arc<dyn Fn(u16) -> bool + Send + Sync>;
type BodyFn = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// Waits for an HTTP endpoint to answer as expected; from
/// [`WaitFor::http`](super::WaitFor::http).
///
/// By default any 2xx status passes, whatever the body.
///
/// ```
/// use dockhand::WaitFor;
/// let probe = WaitFor::http(9200, "/_cluster/health")
///     .header("Accept", "application/json")
///     .status_matches(|s| s == 200 || s == 204)
///     .body_matches(|body| body.contains("\"status\":\"green\""));
/// let post = WaitFor::http(8080, "/ping").method("POST").body("hello").status(201);
/// # let _ = (probe, post);
/// ```
#[derive(Clone)]
pub struct HttpProbe {
    port: ContainerPort,
    path: String,
    method: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    status: Status,
    expect_body: Option<Body>,
    pub(super) timeout: Option<Duration>,
}

#[derive(Clone)]
enum Status {
    Success,
    Is(u16),
    Matches(StatusFn),
}

#[derive(Clone)]
enum Body {
    Contains(String),
    Matches(BodyFn),
}

impl HttpProbe {
    pub(super) fn new(port: ContainerPort, path: String) -> Self {
        let path = if path.starts_with('/') {
            path
        } else {
            format!("/{path}")
        };
        HttpProbe {
            port,
            path,
            method: "GET".into(),
            headers: Vec::new(),
            body: Vec::new(),
            status: Status::Success,
            expect_body: None,
            timeout: None,
        }
    }

    /// Uses this method instead of `GET`.
    pub fn method(mut self, method: impl Into<String>) -> Self {
        self.method = method.into().to_ascii_uppercase();
        self
    }

    /// Adds a request header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sends this request body (with its `Content-Length`).
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Passes only on this status.
    pub fn status(mut self, status: u16) -> Self {
        self.status = Status::Is(status);
        self
    }

    /// Passes on the statuses `accept` says yes to.
    pub fn status_matches(mut self, accept: impl Fn(u16) -> bool + Send + Sync + 'static) -> Self {
        self.status = Status::Matches(Arc::new(accept));
        self
    }

    /// Also requires the body to contain `text`.
    pub fn body_contains(mut self, text: impl Into<String>) -> Self {
        self.expect_body = Some(Body::Contains(text.into()));
        self
    }

    /// Also requires `accept` to say yes to the body (invalid UTF-8 replaced).
    pub fn body_matches(mut self, accept: impl Fn(&str) -> bool + Send + Sync + 'static) -> Self {
        self.expect_body = Some(Body::Matches(Arc::new(accept)));
        self
    }

    pub(super) fn validate(&self, exposed: &[ContainerPort]) -> Result<(), String> {
        super::port::check_published(self.port, exposed)?;
        let token = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic());
        if !token(&self.method) || !token(&self.path) {
            return Err(format!(
                "HTTP probe `{} {}`: the method and path must be non-empty, without spaces or control characters",
                self.method, self.path
            ));
        }
        if self
            .headers
            .iter()
            .any(|(k, v)| !token(k) || k.contains(':') || v.contains(['\r', '\n']))
        {
            return Err("HTTP probe: a header name or value is malformed".into());
        }
        Ok(())
    }

    pub(super) async fn run(&self, ctx: &Ctx<'_>, seen: &Seen) -> Result<(), Failure> {
        let addr = super::published_addr(ctx, self.port, seen).await;
        let mut backoff = Backoff::http();
        loop {
            match tokio::time::timeout(REQUEST_LIMIT, self.request(addr)).await {
                Ok(Ok(resp)) => match self.verdict(&resp) {
                    None => return Ok(()),
                    Some(why) => seen.set(format!(
                        "{} {} on {addr} answered {why}",
                        self.method, self.path
                    )),
                },
                Ok(Err(why)) => seen.set(format!("{why} on {addr} (container port {})", self.port)),
                Err(_) => seen.set(format!(
                    "no answer within {REQUEST_LIMIT:?} from {addr} (container port {})",
                    self.port
                )),
            }
            backoff.pause().await;
        }
    }

    /// `None` when the response passes, else what was wrong with it.
    fn verdict(&self, resp: &Response) -> Option<String> {
        let status_ok = match &self.status {
            Status::Success => (200..300).contains(&resp.status),
            Status::Is(s) => resp.status == *s,
            Status::Matches(f) => f(resp.status),
        };
        let text = String::from_utf8_lossy(&resp.body);
        let body_ok = match &self.expect_body {
            None => true,
            Some(Body::Contains(s)) => text.contains(s.as_str()),
            Some(Body::Matches(f)) => f(&text),
        };
        if status_ok && body_ok {
            return None;
        }
        let mut quote: String = text.chars().take(QUOTE).collect();
        if quote.len() < text.len() {
            quote.push('…');
        }
        let problem = if status_ok {
            "; the body did not match"
        } else {
            ""
        };
        Some(format!("HTTP {}{problem}; body: {quote:?}", resp.status))
    }

    async fn request(&self, addr: SocketAddr) -> Result<Response, String> {
        let mut stream = TcpStream::connect(addr).await.map_err(|e| match e.kind() {
            std::io::ErrorKind::ConnectionRefused => "connection refused".to_string(),
            _ => format!("cannot connect: {e}"),
        })?;
        let _ = stream.set_nodelay(true);
        let mut req = format!(
            "{} {} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nUser-Agent: dockhand\r\n",
            self.method, self.path
        );
        for (k, v) in &self.headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        if !self.body.is_empty() {
            req.push_str(&format!("Content-Length: {}\r\n", self.body.len()));
        }
        req.push_str("\r\n");
        let mut bytes = req.into_bytes();
        bytes.extend_from_slice(&self.body);
        let closed =
            |e: std::io::Error| format!("connection closed while sending the request ({e})");
        stream.write_all(&bytes).await.map_err(closed)?;
        let head_only = self.method == "HEAD";
        let mut buf = Vec::new();
        let mut chunk = [0u8; 8192];
        loop {
            let n = match stream.read(&mut chunk).await {
                Ok(n) => n,
                // A reset after a whole response is still a response.
                Err(e) => match parse(&buf, true, head_only) {
                    Ok(Some(resp)) => return Ok(resp),
                    _ => {
                        return Err(format!(
                            "connection reset before a response ({e}; the engine's port proxy \
                             does that while nothing listens in the container)"
                        ))
                    }
                },
            };
            buf.extend_from_slice(&chunk[..n]);
            if let Some(resp) = parse(&buf, n == 0, head_only)? {
                return Ok(resp);
            }
            if buf.len() > MAX_RESPONSE {
                return parse(&buf, true, head_only)?
                    .ok_or_else(|| "response larger than 1 MiB".to_string());
            }
        }
    }
}

/// A parsed HTTP response.
#[derive(Debug, PartialEq, Eq)]
struct Response {
    status: u16,
    body: Vec<u8>,
}

/// Parses `buf` as a response: `Ok(None)` while more bytes are needed, an
/// error when it cannot be one (or the connection closed mid-way, at `eof`).
fn parse(buf: &[u8], eof: bool, head_only: bool) -> Result<Option<Response>, String> {
    let incomplete = |what: &str| {
        if eof {
            Err(if buf.is_empty() {
                "connection closed before a response (is the service listening yet?)".to_string()
            } else {
                format!("connection closed in the middle of the response {what}")
            })
        } else {
            Ok(None)
        }
    };
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return incomplete("head");
    };
    let head = String::from_utf8_lossy(&buf[..end]);
    let rest = &buf[end + 4..];
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .strip_prefix("HTTP/")
        .and_then(|s| s.split_whitespace().nth(1))
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| format!("not an HTTP response: {:?}", truncate(status_line)))?;
    if (100..200).contains(&status) {
        // An interim answer (100 Continue); the real one follows.
        return parse(rest, eof, head_only);
    }
    let (mut length, mut chunked) = (None, false);
    for line in lines {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let (k, v) = (k.trim(), v.trim());
        if k.eq_ignore_ascii_case("content-length") {
            length = v.parse::<usize>().ok();
        } else if k.eq_ignore_ascii_case("transfer-encoding") {
            chunked = v.to_ascii_lowercase().contains("chunked");
        }
    }
    if head_only || status == 204 || status == 304 {
        return Ok(Some(Response {
            status,
            body: Vec::new(),
        }));
    }
    if chunked {
        return match dechunk(rest)? {
            Some(body) => Ok(Some(Response { status, body })),
            None => incomplete("body"),
        };
    }
    match length {
        Some(n) if rest.len() >= n => Ok(Some(Response {
            status,
            body: rest[..n].to_vec(),
        })),
        Some(_) => incomplete("body"),
        None if eof => Ok(Some(Response {
            status,
            body: rest.to_vec(),
        })),
        None => Ok(None),
    }
}

/// Decodes a chunked body; `Ok(None)` until the last chunk arrived.
fn dechunk(mut rest: &[u8]) -> Result<Option<Vec<u8>>, String> {
    let mut body = Vec::new();
    loop {
        let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") else {
            return Ok(None);
        };
        let size_text = String::from_utf8_lossy(&rest[..eol]);
        let size_hex = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_hex, 16)
            .map_err(|_| format!("bad chunk size {:?} in the response", truncate(&size_text)))?;
        rest = &rest[eol + 2..];
        if size == 0 {
            return Ok(Some(body));
        }
        if rest.len() < size + 2 {
            return Ok(None);
        }
        body.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(80).collect()
}

impl fmt::Display for HttpProbe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "HTTP {} {} on port {} answering ",
            self.method, self.path, self.port
        )?;
        match &self.status {
            Status::Success => f.write_str("2xx")?,
            Status::Is(s) => write!(f, "{s}")?,
            Status::Matches(_) => f.write_str("an accepted status")?,
        }
        match &self.expect_body {
            None => Ok(()),
            Some(Body::Contains(s)) => write!(f, " with a body containing {s:?}"),
            Some(Body::Matches(_)) => f.write_str(" with an accepted body"),
        }
    }
}

impl fmt::Debug for HttpProbe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HttpProbe({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(status: u16, body: &str) -> Result<Option<Response>, String> {
        Ok(Some(Response {
            status,
            body: body.as_bytes().to_vec(),
        }))
    }

    #[test]
    fn parses_lengths_chunks_and_eof_bodies() {
        let fixed = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
        assert_eq!(parse(fixed, false, false), ok(200, "hello"));
        assert_eq!(parse(&fixed[..fixed.len() - 1], false, false), Ok(None));
        assert!(parse(&fixed[..fixed.len() - 1], true, false)
            .unwrap_err()
            .contains("middle"));

        let chunked = b"HTTP/1.1 500 Oops\r\ntransfer-encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        assert_eq!(parse(chunked, false, false), ok(500, "abcde"));
        assert_eq!(parse(&chunked[..60], false, false), Ok(None));

        let until_eof = b"HTTP/1.0 404 Not Found\r\nServer: x\r\n\r\nnope";
        assert_eq!(parse(until_eof, false, false), Ok(None));
        assert_eq!(parse(until_eof, true, false), ok(404, "nope"));

        let interim = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n";
        assert_eq!(parse(interim, false, false), ok(204, ""));
        assert_eq!(
            parse(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n", false, true),
            ok(200, "")
        );
    }

    #[test]
    fn says_what_is_wrong() {
        assert!(parse(b"", true, false)
            .unwrap_err()
            .contains("before a response"));
        assert!(parse(b"SSH-2.0-OpenSSH\r\n\r\n", false, false)
            .unwrap_err()
            .contains("not an HTTP response"));
        let probe = HttpProbe::new(ContainerPort::tcp(80), "health".into()).body_contains("up");
        assert_eq!(probe.path, "/health");
        let down = Response {
            status: 200,
            body: b"down".to_vec(),
        };
        assert_eq!(
            probe.verdict(&down).unwrap(),
            "HTTP 200; the body did not match; body: \"down\""
        );
        let up = Response {
            status: 200,
            body: b"all up".to_vec(),
        };
        assert_eq!(probe.verdict(&up), None);
        let err = Response {
            status: 503,
            body: b"all up".to_vec(),
        };
        assert!(probe.verdict(&err).unwrap().starts_with("HTTP 503;"));
    }
}

//! Shared helpers of the cross-crate integration tests in `tests/`.
//!
//! * [`Server`] starts a listener on either adapter ([`Adapter`]), bound to 127.0.0.1 on
//!   port 0, and stops it when dropped. [`both!`] turns one test body into a test per
//!   adapter (`name::tokio` and `name::smol`).
//! * Clients: [`Hyper`] (the hyper 1.x client, for well-formed traffic), [`Raw`] (a
//!   plain `std::net::TcpStream`, for malformed input and exact bytes) and [`curl`].
//! * [`wait_until`] polls a condition with a bounded deadline (never a fixed sleep used
//!   to synchronise).

/// The README's examples, compiled (and run where they do not serve forever) as
/// doctests so they cannot drift from the API.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeExamples;

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode, Version};
use http_body_util::{BodyExt, Full};
use roadrunner_core::{Info, Listener, Options, Request, RequestExt, Response, Routes, StartError};

/// Safety net for every blocking read of a test client. Never used to synchronise:
/// a test that reaches it has failed.
pub const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// Which adapter serves a test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Adapter {
    /// `roadrunner-tokio`, on a multi-threaded tokio runtime owned by the [`Server`].
    Tokio,
    /// `roadrunner-smol`, on its shared multi-threaded executor.
    Smol,
}

/// Generates one `#[test]` per adapter from one body: `both!(name, |adapter| { .. })`
/// makes `name::tokio` and `name::smol` (a module per case, so that no identifier
/// pasting crate is needed; `cargo test name::` runs both).
#[macro_export]
macro_rules! both {
    ($name:ident, |$adapter:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            fn case($adapter: $crate::Adapter) $body

            #[test]
            fn tokio() {
                case($crate::Adapter::Tokio)
            }

            #[test]
            fn smol() {
                case($crate::Adapter::Smol)
            }
        }
    };
}

/// `Options::new(0, routes)` bound to 127.0.0.1.
pub fn opts(routes: Routes) -> Options {
    let mut o = Options::new(0, routes);
    o.ip = Ipv4Addr::LOCALHOST.into();
    o
}

/// A running listener on one adapter. Dropping it stops the listener.
pub struct Server {
    listener: Option<Listener>,
    rt: Option<tokio::runtime::Runtime>,
    port: u16,
}

fn tokio_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("building a tokio runtime")
}

impl Server {
    /// Starts a listener with `opts` (the caller's port and ip are kept; use [`opts`]
    /// for 127.0.0.1:0), named by [`unique_name`]: listener names are unique within
    /// a process and tests run in parallel. Panics if it does not start.
    pub fn start(adapter: Adapter, opts: Options) -> Server {
        Server::start_named(adapter, &unique_name("test"), opts)
    }

    /// Like [`Server::start`] with a listener name.
    pub fn start_named(adapter: Adapter, name: &str, opts: Options) -> Server {
        match Server::try_start(adapter, name, opts) {
            Ok(s) => s,
            Err(e) => panic!("{adapter:?} listener did not start: {e}"),
        }
    }

    /// Starts a listener, returning the adapter's error as is.
    pub fn try_start(adapter: Adapter, name: &str, opts: Options) -> Result<Server, StartError> {
        let (listener, rt) = match adapter {
            Adapter::Tokio => {
                let rt = tokio_runtime();
                let l = roadrunner_tokio::start_on(rt.handle().clone(), name, opts);
                match l {
                    Ok(l) => (l, Some(rt)),
                    Err(e) => {
                        rt.shutdown_background();
                        return Err(e);
                    }
                }
            }
            Adapter::Smol => (roadrunner_smol::start(name, opts)?, None),
        };
        let port = listener.port();
        Ok(Server {
            listener: Some(listener),
            rt,
            port,
        })
    }

    /// The port bound.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:port`.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// `http://127.0.0.1:port{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }

    /// The listener handle.
    pub fn listener(&self) -> &Listener {
        self.listener.as_ref().expect("listener present until stop")
    }

    /// The counters now.
    pub fn info(&self) -> Info {
        self.listener().info()
    }

    /// Polls `info()` until `pred` holds (bounded by 5 s), returning that snapshot.
    pub fn wait_info(&self, what: &str, pred: impl Fn(&Info) -> bool) -> Info {
        let mut last = self.info();
        let ok = wait_until(Duration::from_secs(5), || {
            last = self.info();
            pred(&last)
        });
        assert!(ok, "{what}: not reached within 5 s; last info: {last:?}");
        last
    }

    /// Takes the listener out (the runtime stays until the `Server` is dropped).
    pub fn take_listener(&mut self) -> Listener {
        self.listener.take().expect("listener present until stop")
    }

    /// Calls `listener.stop().await` (from a plain thread, through `smol::block_on`:
    /// `stop` works from any executor) and returns once it has returned. The runtime
    /// (tokio) is kept until the `Server` is dropped.
    pub fn stop(&mut self) {
        if let Some(l) = self.listener.take() {
            smol::block_on(l.stop());
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        drop(self.listener.take());
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

/// `prefix-N`, with N distinct for every call in this process.
pub fn unique_name(prefix: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    format!("{prefix}-{}", N.fetch_add(1, Ordering::Relaxed))
}

/// Polls `cond` every few milliseconds until it holds or `limit` passes.
/// Returns whether it held in time.
pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

// ---------------------------------------------------------------------------------
// Handlers shared by several files.

/// Echoes the request body, with the request's content type when it has one.
pub async fn echo(req: Request) -> Response {
    let ct = req.headers().get(http::header::CONTENT_TYPE).cloned();
    let mut resp = Response::new(req.into_body());
    if let Some(ct) = ct {
        resp.headers_mut().insert(http::header::CONTENT_TYPE, ct);
    }
    resp
}

/// Answers with the request path.
pub async fn path(req: Request) -> String {
    req.uri().path().to_owned()
}

/// Answers `peer_port` (the port of the client's socket as the server sees it).
pub async fn peer_port(req: Request) -> String {
    req.peer_addr().map(|a| a.port()).unwrap_or(0).to_string()
}

// ---------------------------------------------------------------------------------
// The hyper client.

/// A response as the hyper client got it.
#[derive(Debug)]
pub struct HResp {
    /// Status.
    pub status: StatusCode,
    /// Version of the status line.
    pub version: Version,
    /// Headers.
    pub headers: HeaderMap,
    /// The whole body.
    pub body: Bytes,
}

impl HResp {
    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body as text.
    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body).expect("utf-8 body")
    }
}

/// One HTTP/1.1 connection of the hyper 1.x client, on a current-thread tokio runtime
/// of its own; requests go out one at a time on that same connection.
pub struct Hyper {
    rt: tokio::runtime::Runtime,
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    port: u16,
}

impl Hyper {
    /// Connects and handshakes.
    pub fn connect(port: u16) -> Hyper {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("client runtime");
        let sender = rt.block_on(async {
            let tcp = tokio::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port))
                .await
                .expect("connect");
            let (sender, conn) =
                hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp))
                    .await
                    .expect("handshake");
            tokio::spawn(async move {
                let _ = conn.await;
            });
            sender
        });
        Hyper { rt, sender, port }
    }

    /// Sends `req` on this connection; `Err` when hyper fails (connection closed...).
    pub fn try_send(&mut self, req: http::Request<Full<Bytes>>) -> Result<HResp, String> {
        let sender = &mut self.sender;
        self.rt.block_on(async {
            let fut = async {
                sender.ready().await.map_err(|e| format!("ready: {e}"))?;
                let resp = sender
                    .send_request(req)
                    .await
                    .map_err(|e| format!("send: {e}"))?;
                let (parts, body) = resp.into_parts();
                let body = body
                    .collect()
                    .await
                    .map_err(|e| format!("body: {e}"))?
                    .to_bytes();
                Ok(HResp {
                    status: parts.status,
                    version: parts.version,
                    headers: parts.headers,
                    body,
                })
            };
            tokio::time::timeout(IO_TIMEOUT, fut)
                .await
                .unwrap_or_else(|_| Err("no response within 5 s".to_owned()))
        })
    }

    /// Sends `req`, panicking on failure.
    pub fn send(&mut self, req: http::Request<Full<Bytes>>) -> HResp {
        let desc = format!("{} {}", req.method(), req.uri());
        self.try_send(req)
            .unwrap_or_else(|e| panic!("hyper client, {desc}: {e}"))
    }

    /// A request builder with `Host` set (hyper's low-level client does not add it).
    pub fn req(&self, method: &str, path: &str) -> http::request::Builder {
        http::Request::builder()
            .method(method)
            .uri(path)
            .header("host", format!("127.0.0.1:{}", self.port))
    }

    /// `GET path`.
    pub fn get(&mut self, path: &str) -> HResp {
        let req = self
            .req("GET", path)
            .body(Full::default())
            .expect("request");
        self.send(req)
    }

    /// `method path` with `body` (no content type).
    pub fn call(&mut self, method: &str, path: &str, body: &'static [u8]) -> HResp {
        let req = self
            .req(method, path)
            .body(Full::new(Bytes::from_static(body)))
            .expect("request");
        self.send(req)
    }

    /// `POST path` with a content type and a body.
    pub fn post(&mut self, path: &str, content_type: &str, body: impl Into<Bytes>) -> HResp {
        let req = self
            .req("POST", path)
            .header("content-type", content_type)
            .body(Full::new(body.into()))
            .expect("request");
        self.send(req)
    }
}

/// `GET path` on a fresh hyper connection.
pub fn hyper_get(port: u16, path: &str) -> HResp {
    Hyper::connect(port).get(path)
}

// ---------------------------------------------------------------------------------
// The raw client.

/// A response parsed from raw bytes, as strictly as the tests need (CRLF line ends).
#[derive(Clone, Debug)]
pub struct RawResp {
    /// `HTTP/1.1`.
    pub version: String,
    /// Status code.
    pub status: u16,
    /// Reason phrase.
    pub reason: String,
    /// Header fields in order, names as sent.
    pub headers: Vec<(String, String)>,
    /// The body (empty for HEAD, 1xx, 204, 304).
    pub body: Vec<u8>,
}

impl RawResp {
    /// The first header named `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name`.
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// True if a comma-separated header `name` has `token` (any case).
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.header_all(name)
            .iter()
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }

    /// The body as text.
    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body).expect("utf-8 body")
    }
}

/// What [`parse_response`] found.
pub enum Parsed {
    /// A response and the number of bytes it took.
    Done(RawResp, usize),
    /// More bytes are needed.
    Partial,
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Parses one response from `buf`. `head_only`: the response to a HEAD request (no
/// body whatever its headers say). `eof`: no more bytes will come (a body without
/// framing ends here). Panics on a malformed response: that is a server bug.
pub fn parse_response(buf: &[u8], head_only: bool, eof: bool) -> Parsed {
    let Some(end) = find(buf, b"\r\n\r\n") else {
        return Parsed::Partial;
    };
    let head = std::str::from_utf8(&buf[..end])
        .unwrap_or_else(|_| panic!("response head is not UTF-8: {:?}", &buf[..end]));
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default().to_owned();
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let reason = parts.next().unwrap_or_default().to_owned();
    assert!(
        version.starts_with("HTTP/1."),
        "bad status line {status_line:?}"
    );
    let headers: Vec<(String, String)> = lines
        .map(|l| {
            assert!(
                !l.contains('\n') && !l.contains('\r'),
                "bare CR/LF in {l:?}"
            );
            let (n, v) = l
                .split_once(':')
                .unwrap_or_else(|| panic!("header line without ':' {l:?}"));
            (n.to_owned(), v.trim().to_owned())
        })
        .collect();
    let mut resp = RawResp {
        version,
        status,
        reason,
        headers,
        body: Vec::new(),
    };
    let start = end + 4;
    if head_only || (100..200).contains(&status) || status == 204 || status == 304 {
        return Parsed::Done(resp, start);
    }
    if resp.has_token("transfer-encoding", "chunked") {
        let mut pos = start;
        loop {
            let Some(le) = find(&buf[pos..], b"\r\n") else {
                return Parsed::Partial;
            };
            let size_line = std::str::from_utf8(&buf[pos..pos + le]).expect("chunk size");
            let size = usize::from_str_radix(size_line.split(';').next().unwrap_or("").trim(), 16)
                .unwrap_or_else(|_| panic!("bad chunk size {size_line:?}"));
            pos += le + 2;
            if size == 0 {
                let Some(te) = find(&buf[pos..], b"\r\n") else {
                    return Parsed::Partial;
                };
                // Skip trailer fields up to the empty line.
                if te == 0 {
                    return Parsed::Done(resp, pos + 2);
                }
                let Some(tend) = find(&buf[pos..], b"\r\n\r\n") else {
                    return Parsed::Partial;
                };
                return Parsed::Done(resp, pos + tend + 4);
            }
            if buf.len() < pos + size + 2 {
                return Parsed::Partial;
            }
            resp.body.extend_from_slice(&buf[pos..pos + size]);
            assert_eq!(&buf[pos + size..pos + size + 2], b"\r\n", "chunk end");
            pos += size + 2;
        }
    }
    if let Some(cl) = resp.header("content-length") {
        let n: usize = cl
            .parse()
            .unwrap_or_else(|_| panic!("bad content-length {cl:?}"));
        if buf.len() < start + n {
            return Parsed::Partial;
        }
        resp.body = buf[start..start + n].to_vec();
        return Parsed::Done(resp, start + n);
    }
    if !eof {
        return Parsed::Partial;
    }
    resp.body = buf[start..].to_vec();
    Parsed::Done(resp, buf.len())
}

/// Splits everything a server sent before closing into responses. Panics if bytes are
/// left that do not make a complete response.
pub fn parse_all(mut buf: &[u8]) -> Vec<RawResp> {
    let mut out = Vec::new();
    while !buf.is_empty() {
        match parse_response(buf, false, true) {
            Parsed::Done(r, n) => {
                out.push(r);
                buf = &buf[n..];
            }
            Parsed::Partial => panic!(
                "incomplete response after {} complete ones: {:?}",
                out.len(),
                String::from_utf8_lossy(buf)
            ),
        }
    }
    out
}

/// How a read that waits for the server to close ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Closed {
    /// Orderly close (FIN): read returned 0.
    Eof,
    /// The server reset the connection (it closed with unread input from us).
    Reset,
}

/// A plain blocking TCP client with a read buffer.
pub struct Raw {
    /// The socket.
    pub stream: TcpStream,
    buf: Vec<u8>,
}

fn is_reset(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted
    )
}

impl Raw {
    /// Connects to 127.0.0.1:`port`, with [`IO_TIMEOUT`] as read timeout.
    pub fn connect(port: u16) -> Raw {
        let stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).expect("connect");
        stream
            .set_read_timeout(Some(IO_TIMEOUT))
            .expect("read timeout");
        stream.set_nodelay(true).expect("nodelay");
        Raw {
            stream,
            buf: Vec::new(),
        }
    }

    /// The client's own address (the server's `peer_addr`).
    pub fn local_addr(&self) -> SocketAddr {
        self.stream.local_addr().expect("local addr")
    }

    /// Writes all of `bytes` in one write call.
    pub fn send(&mut self, bytes: impl AsRef<[u8]>) {
        self.stream.write_all(bytes.as_ref()).expect("write");
    }

    /// Writes, returning the error instead of panicking.
    pub fn try_send(&mut self, bytes: impl AsRef<[u8]>) -> io::Result<()> {
        self.stream.write_all(bytes.as_ref())
    }

    /// Reads once more into the buffer: `Ok(0)` at EOF.
    fn fill(&mut self) -> io::Result<usize> {
        let mut tmp = [0u8; 16 * 1024];
        let n = self.stream.read(&mut tmp)?;
        self.buf.extend_from_slice(&tmp[..n]);
        Ok(n)
    }

    fn read_one(&mut self, head_only: bool) -> RawResp {
        let mut eof = false;
        loop {
            if let Parsed::Done(r, n) = parse_response(&self.buf, head_only, eof) {
                self.buf.drain(..n);
                return r;
            }
            if eof {
                panic!(
                    "connection closed before a complete response; got {:?}",
                    String::from_utf8_lossy(&self.buf)
                );
            }
            match self.fill() {
                Ok(0) => eof = true,
                Ok(_) => {}
                Err(e) if is_reset(&e) => eof = true,
                Err(e) => panic!(
                    "no complete response within {IO_TIMEOUT:?} ({e}); got {:?}",
                    String::from_utf8_lossy(&self.buf)
                ),
            }
        }
    }

    /// Reads one complete response.
    pub fn response(&mut self) -> RawResp {
        self.read_one(false)
    }

    /// Reads the response to a HEAD request (no body).
    pub fn head_response(&mut self) -> RawResp {
        self.read_one(true)
    }

    /// Reads until the server closes; returns everything not yet consumed and how it
    /// closed. Panics if the server keeps the connection open past [`IO_TIMEOUT`].
    pub fn read_until_close(&mut self) -> (Vec<u8>, Closed) {
        loop {
            match self.fill() {
                Ok(0) => return (std::mem::take(&mut self.buf), Closed::Eof),
                Ok(_) => {}
                Err(e) if is_reset(&e) => return (std::mem::take(&mut self.buf), Closed::Reset),
                Err(e) => panic!(
                    "the server did not close the connection within {IO_TIMEOUT:?} ({e}); \
                     unread bytes: {:?}",
                    String::from_utf8_lossy(&self.buf)
                ),
            }
        }
    }

    /// Asserts that the server closes the connection with nothing more sent.
    pub fn expect_close(&mut self) {
        let (rest, _) = self.read_until_close();
        assert!(
            rest.is_empty(),
            "expected the server to close with nothing more, got {:?}",
            String::from_utf8_lossy(&rest)
        );
    }

    /// Reads everything until the server closes and parses it into responses.
    pub fn responses_until_close(&mut self) -> Vec<RawResp> {
        let (rest, _) = self.read_until_close();
        parse_all(&rest)
    }

    /// True if nothing unread is buffered.
    pub fn buffer_is_empty(&self) -> bool {
        self.buf.is_empty()
    }
}

/// `GET path HTTP/1.1` with a Host header.
pub fn get_req(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n")
}

/// An HTTP-date as RFC 9110 §5.6.7 writes it (IMF-fixdate), checked by shape:
/// `Sun, 06 Nov 1994 08:49:37 GMT`.
pub fn is_imf_fixdate(s: &str) -> bool {
    let b = s.as_bytes();
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    b.len() == 29
        && DAYS.contains(&&s[0..3])
        && &s[3..5] == ", "
        && digits(5..7)
        && b[7] == b' '
        && MONTHS.contains(&&s[8..11])
        && b[11] == b' '
        && digits(12..16)
        && b[16] == b' '
        && digits(17..19)
        && b[19] == b':'
        && digits(20..22)
        && b[22] == b':'
        && digits(23..25)
        && &s[25..] == " GMT"
}

// ---------------------------------------------------------------------------------
// curl.

/// Runs `curl` with `args` (plus `-sS` and a 10 s cap), feeding `stdin`. Fails the test
/// if curl cannot be run: CI installs it, a missing curl is a broken setup.
pub fn curl(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "--max-time", "10"])
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run curl (it must be installed for these tests): {e}"));
    if let Some(data) = stdin {
        let mut pipe = child.stdin.take().expect("stdin");
        let data = data.to_vec();
        // Written from a thread so that a large input cannot deadlock against stdout.
        std::thread::spawn(move || {
            let _ = pipe.write_all(&data);
        });
    }
    let out = child.wait_with_output().expect("curl output");
    assert!(
        out.status.success(),
        "curl {args:?} failed: {:?}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A header value, for building requests.
pub fn hv(s: &'static str) -> HeaderValue {
    HeaderValue::from_static(s)
}

// ---------------------------------------------------------------------------------
// Runtime-neutral pieces for handlers, and draining a [`Server`].

/// A sleep on `adapter`'s own timer (`tokio::time::sleep` on tokio, `smol::Timer` on
/// smol), for handlers that are slow on purpose.
pub fn rt_sleep(adapter: Adapter, d: Duration) -> roadrunner_core::BoxFuture<()> {
    match adapter {
        Adapter::Tokio => Box::pin(tokio::time::sleep(d)),
        Adapter::Smol => Box::pin(async move {
            smol::Timer::after(d).await;
        }),
    }
}

/// True if a TCP connect to 127.0.0.1:`port` is refused (nobody listens).
pub fn connect_refused(port: u16) -> bool {
    match TcpStream::connect((Ipv4Addr::LOCALHOST, port)) {
        Err(e) => e.kind() == io::ErrorKind::ConnectionRefused,
        Ok(_) => false,
    }
}

impl Server {
    /// A clonable handle of the listener, usable after it has been taken or drained.
    pub fn handle(&self) -> roadrunner_core::ListenerRef {
        self.listener().handle()
    }

    /// Takes the listener and runs `drain(timeout)` on a thread of its own, the way an
    /// application of the adapter would await it (on tokio: from the listener's
    /// runtime, through its handle; on smol: `smol::block_on`). The thread returns
    /// the outcome and how long `drain` took.
    pub fn drain_in_background(
        &mut self,
        timeout: Duration,
    ) -> std::thread::JoinHandle<(roadrunner_core::DrainOutcome, Duration)> {
        let listener = self.take_listener();
        let rt = self.rt.as_ref().map(|rt| rt.handle().clone());
        std::thread::spawn(move || {
            let t0 = Instant::now();
            let outcome = match rt {
                Some(handle) => handle.block_on(listener.drain(timeout)),
                None => smol::block_on(listener.drain(timeout)),
            };
            (outcome, t0.elapsed())
        })
    }
}

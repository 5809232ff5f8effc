//! Helpers shared by the handler-kind tests (`streaming`, `loops`, `sendfile`,
//! `manual_body`, `tls`, `demo_ops`): a wire client generic over the byte stream (plain
//! TCP or TLS) that can read a chunked body chunk by chunk, TLS material made with
//! `tls_config::self_signed`, a one-shot gate a test opens for a handler, and temporary
//! files.
//!
//! Each test file uses only part of this module.
#![allow(dead_code)]

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use roadrunner_core::rustls;
use roadrunner_core::rustls::pki_types::ServerName;
use roadrunner_tests::{parse_response, Closed, Parsed, RawResp, IO_TIMEOUT};

// ---------------------------------------------------------------------------------
// Gates.

/// A gate the test opens for a handler: the handler side awaits [`GateRx::pass`],
/// the test calls [`Gate::open`] (once per pass). Runtime-neutral (async-channel).
#[derive(Clone)]
pub struct Gate(smol::channel::Sender<()>);

/// The handler's side of a [`Gate`]; cheap to clone into route state.
#[derive(Clone)]
pub struct GateRx(smol::channel::Receiver<()>);

pub fn gate() -> (Gate, GateRx) {
    let (tx, rx) = smol::channel::unbounded();
    (Gate(tx), GateRx(rx))
}

impl Gate {
    /// Lets one waiting (or the next) `pass` through.
    pub fn open(&self) {
        self.0.try_send(()).expect("gate receiver alive");
    }
}

impl GateRx {
    /// Waits until the test opens the gate. Panics if the test side is gone.
    pub async fn pass(&self) {
        self.0.recv().await.expect("the test dropped the gate");
    }
}

/// A streamed response held open by the test: `first` at once, then, once the gate
/// opens, `last` and the end (or, with `fail`, an error that aborts the response).
pub fn held_stream(gate: GateRx, fail: bool) -> roadrunner_core::Response {
    use roadrunner_core::{Body, Frame};
    let body = smol::stream::unfold(0, move |step| {
        let gate = gate.clone();
        async move {
            match step {
                0 => Some((Ok(Frame::Data("first".into())), 1)),
                1 => {
                    gate.pass().await;
                    Some((Ok(Frame::Data("last".into())), 2))
                }
                2 if fail => Some((Err(io::Error::other("held stream failed")), 3)),
                _ => None,
            }
        }
    });
    roadrunner_core::Response::new(Body::from_try_stream(body))
}

// ---------------------------------------------------------------------------------
// A wire client over any byte stream.

/// One piece of a chunked body as it came over the wire.
#[derive(Debug, PartialEq, Eq)]
pub enum Chunk {
    /// A data chunk (never empty).
    Data(Vec<u8>),
    /// The last chunk, with its trailer fields (names as sent, values trimmed).
    Last(Vec<(String, String)>),
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn is_closed_err(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            // rustls: the TCP stream ended without a close_notify.
            | io::ErrorKind::UnexpectedEof
    )
}

/// A blocking HTTP/1.1 client over `S` with a read buffer: whole responses, or a
/// response head and then its chunks one at a time.
pub struct Wire<S> {
    pub io: S,
    buf: Vec<u8>,
}

/// A wire client over plain TCP.
pub type TcpWire = Wire<TcpStream>;
/// A wire client over a rustls client session.
pub type TlsWire = Wire<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>;

/// Connects to 127.0.0.1:`port` with [`IO_TIMEOUT`] as read timeout.
pub fn tcp(port: u16) -> TcpStream {
    let s = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).expect("connect");
    s.set_read_timeout(Some(IO_TIMEOUT)).expect("read timeout");
    s.set_nodelay(true).expect("nodelay");
    s
}

impl TcpWire {
    pub fn connect(port: u16) -> TcpWire {
        Wire::new(tcp(port))
    }
}

impl<S: Read + Write> Wire<S> {
    pub fn new(io: S) -> Self {
        Wire {
            io,
            buf: Vec::new(),
        }
    }

    pub fn send(&mut self, bytes: impl AsRef<[u8]>) {
        self.io.write_all(bytes.as_ref()).expect("write");
        self.io.flush().expect("flush");
    }

    /// One more read into the buffer; `Ok(0)` at EOF (a reset counts as EOF).
    fn fill(&mut self) -> io::Result<usize> {
        let mut tmp = [0u8; 64 * 1024];
        match self.io.read(&mut tmp) {
            Ok(n) => {
                self.buf.extend_from_slice(&tmp[..n]);
                Ok(n)
            }
            Err(e) if is_closed_err(&e) => Ok(0),
            Err(e) => Err(e),
        }
    }

    /// Reads more, panicking on EOF or timeout with `what` and the unread bytes.
    fn more(&mut self, what: &str) {
        match self.fill() {
            Ok(0) => panic!(
                "{what}: connection closed; unread {:?}",
                String::from_utf8_lossy(&self.buf)
            ),
            Ok(_) => {}
            Err(e) => panic!(
                "{what}: nothing within {IO_TIMEOUT:?} ({e}); unread {:?}",
                String::from_utf8_lossy(&self.buf)
            ),
        }
    }

    /// Reads at least `n` buffered bytes.
    fn want(&mut self, n: usize, what: &str) {
        while self.buf.len() < n {
            self.more(what);
        }
    }

    /// Reads one CRLF-terminated line (without the CRLF).
    fn line(&mut self, what: &str) -> String {
        loop {
            if let Some(i) = find(&self.buf, b"\r\n") {
                let line = String::from_utf8(self.buf[..i].to_vec())
                    .unwrap_or_else(|_| panic!("{what}: line is not UTF-8"));
                self.buf.drain(..i + 2);
                return line;
            }
            self.more(what);
        }
    }

    /// Reads a response head only (status line and fields); the body stays unread.
    pub fn head(&mut self) -> RawResp {
        loop {
            if let Parsed::Done(r, n) = parse_response(&self.buf, true, false) {
                self.buf.drain(..n);
                return r;
            }
            self.more("response head");
        }
    }

    /// Reads the next chunk of a chunked body whose head was read with [`Wire::head`].
    pub fn chunk(&mut self) -> Chunk {
        let size_line = self.line("chunk size");
        let size = usize::from_str_radix(size_line.split(';').next().unwrap_or("").trim(), 16)
            .unwrap_or_else(|_| panic!("bad chunk size line {size_line:?}"));
        if size == 0 {
            let mut trailers = Vec::new();
            loop {
                let l = self.line("trailer section");
                if l.is_empty() {
                    return Chunk::Last(trailers);
                }
                let (n, v) = l
                    .split_once(':')
                    .unwrap_or_else(|| panic!("trailer line without ':' {l:?}"));
                trailers.push((n.to_owned(), v.trim().to_owned()));
            }
        }
        self.want(size + 2, "chunk data");
        assert_eq!(
            &self.buf[size..size + 2],
            b"\r\n",
            "chunk not ended by CRLF"
        );
        let data = self.buf[..size].to_vec();
        self.buf.drain(..size + 2);
        Chunk::Data(data)
    }

    /// Reads chunks up to and including the last one: the body and the trailers.
    pub fn rest_of_chunked(&mut self) -> (Vec<u8>, Vec<(String, String)>) {
        let mut body = Vec::new();
        loop {
            match self.chunk() {
                Chunk::Data(d) => body.extend_from_slice(&d),
                Chunk::Last(t) => return (body, t),
            }
        }
    }

    fn read_one(&mut self, head_only: bool) -> RawResp {
        let mut eof = false;
        loop {
            if let Parsed::Done(r, n) = parse_response(&self.buf, head_only, eof) {
                self.buf.drain(..n);
                return r;
            }
            assert!(
                !eof,
                "connection closed before a complete response; got {:?}",
                String::from_utf8_lossy(&self.buf)
            );
            match self.fill() {
                Ok(0) => eof = true,
                Ok(_) => {}
                Err(e) => panic!(
                    "no complete response within {IO_TIMEOUT:?} ({e}); got {} bytes",
                    self.buf.len()
                ),
            }
        }
    }

    /// Reads one whole response.
    pub fn response(&mut self) -> RawResp {
        self.read_one(false)
    }

    /// Reads the response to a HEAD request.
    pub fn head_response(&mut self) -> RawResp {
        self.read_one(true)
    }

    /// Reads until the server closes: everything unread, and how it closed (a TLS
    /// session that ends without close_notify counts as `Eof`).
    pub fn read_until_close(&mut self) -> (Vec<u8>, Closed) {
        let mut tmp = [0u8; 64 * 1024];
        loop {
            match self.io.read(&mut tmp) {
                Ok(0) => return (std::mem::take(&mut self.buf), Closed::Eof),
                Ok(n) => self.buf.extend_from_slice(&tmp[..n]),
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    return (std::mem::take(&mut self.buf), Closed::Eof)
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted
                    ) =>
                {
                    return (std::mem::take(&mut self.buf), Closed::Reset)
                }
                Err(e) => panic!(
                    "the server did not close within {IO_TIMEOUT:?} ({e}); unread {:?}",
                    String::from_utf8_lossy(&self.buf)
                ),
            }
        }
    }

    pub fn buffer_is_empty(&self) -> bool {
        self.buf.is_empty()
    }
}

/// A chunked request body: `parts` as chunks, then the last chunk and `trailers`
/// (`"name: value\r\n"` lines, or empty).
pub fn chunked(parts: &[&[u8]], trailers: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for p in parts {
        out.extend_from_slice(format!("{:x}\r\n", p.len()).as_bytes());
        out.extend_from_slice(p);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n");
    out.extend_from_slice(trailers.as_bytes());
    out.extend_from_slice(b"\r\n");
    out
}

// ---------------------------------------------------------------------------------
// TLS.

/// A self-signed certificate for `localhost` (and 127.0.0.1), with the server and
/// client configurations built on it (ring provider).
pub struct TlsKit {
    pub server: Arc<rustls::ServerConfig>,
    pub client: Arc<rustls::ClientConfig>,
    /// The certificate in PEM, for curl's `--cacert`.
    pub cert_pem: String,
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The server side is the library's own development helper, so every TLS test also
/// checks that what it makes serves.
pub fn tls_kit() -> TlsKit {
    let dev = roadrunner_core::tls_config::self_signed(&["localhost", "127.0.0.1"])
        .expect("self-signed certificate");
    let mut roots = rustls::RootCertStore::empty();
    roots.add(dev.cert).expect("trust the certificate");
    let mut client = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    client.alpn_protocols = vec![b"http/1.1".to_vec()];
    TlsKit {
        server: dev.config,
        client: Arc::new(client),
        cert_pem: dev.cert_pem,
    }
}

impl TlsKit {
    /// A client session to `localhost` over a fresh TCP connection (the handshake
    /// happens on first use).
    pub fn connect(&self, port: u16) -> TlsWire {
        let conn = rustls::ClientConnection::new(
            self.client.clone(),
            ServerName::try_from("localhost").expect("server name"),
        )
        .expect("client connection");
        Wire::new(rustls::StreamOwned::new(conn, tcp(port)))
    }
}

/// The first flight of a TLS client (its ClientHello records), as bytes.
pub fn client_hello(kit: &TlsKit) -> Vec<u8> {
    let mut conn = rustls::ClientConnection::new(
        kit.client.clone(),
        ServerName::try_from("localhost").expect("server name"),
    )
    .expect("client connection");
    let mut out = Vec::new();
    while conn.wants_write() {
        conn.write_tls(&mut out).expect("write_tls");
    }
    out
}

// ---------------------------------------------------------------------------------
// Temporary files.

/// A file in the temp directory, removed on drop.
pub struct TempFile {
    pub path: PathBuf,
}

impl TempFile {
    /// Writes `bytes` to a fresh file named after `stem`.
    pub fn with(stem: &str, bytes: &[u8]) -> TempFile {
        let path = std::env::temp_dir().join(format!(
            "{}-{}",
            roadrunner_tests::unique_name(&format!("roadrunner-tests-{stem}")),
            std::process::id()
        ));
        std::fs::write(&path, bytes).expect("writing a temp file");
        TempFile { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The query parameter `name` as a number, if it is one.
pub fn query<T: std::str::FromStr>(req: &roadrunner_core::Request, name: &str) -> Option<T> {
    use roadrunner_core::RequestExt;
    req.query(name)?.parse().ok()
}

//! The HTTP/3 load client: the `h3-load` mode, its invocation by the harness
//! (pinned with `taskset`, like h2load), and the one-request check every server
//! passes before it is loaded.
//!
//! It is plain `quinn` with the little of HTTP/3 a GET needs (`h3_wire`), since
//! on two cores the client shares the machine with the server it measures, and
//! a client on the `h3` crate is reported to cost about twice as much per
//! request. Per connection it
//! opens its control stream with an empty SETTINGS (so the QPACK dynamic table
//! stays at capacity 0 and the server's QPACK streams stay silent), reads and
//! ignores the server's unidirectional streams, and runs M request streams in a
//! closed loop: open a stream, write one pre-encoded HEADERS frame (static-table
//! and literal QPACK only) and finish, read the response's frames to the
//! stream's end (HEADERS must start with `:status: 200`; DATA counted, unknown
//! frames skipped), repeat until the duration is up. Everything runs on one
//! thread (a tokio current-thread runtime); the response is read in the chunks
//! quinn holds, never copied. The certificate is not checked (the servers' are
//! self-signed); TLS 1.3, ALPN `h3`. A stream that fails (an error, a status
//! other than 200, a malformed response, no answer in time) stops and counts
//! as an error; the run's report is one line on stdout: `requests=N errors=N
//! body_bytes=N secs=S cpu_secs=S p50_us=X p99_us=X`, its own CPU time
//! included, and what the first failure was on stderr.

use std::cell::{Cell, RefCell};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use quinn::crypto::rustls::QuicClientConfig;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use crate::client_stats::{own_cpu_secs, ClientReport, Histogram};
use crate::h3_wire::{request_frame, ResponseReader};
use crate::load::Outcome;

/// What the report counts.
const UNIT: &str = "requests";

/// Connections of the h3 scenarios.
pub const CONNECTIONS: u32 = 10;
/// Concurrent request streams per connection; both servers allow 100.
pub const STREAMS: u32 = 50;

/// A connection or request that takes longer than this has stalled.
const STALL_LIMIT: Duration = Duration::from_secs(10);

/// `H3_NO_ERROR`, the application code the connections are closed with.
const H3_NO_ERROR: u32 = 0x100;

/// What `h3-load` is asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadArgs {
    /// `https://127.0.0.1:PORT/PATH`.
    pub url: String,
    pub connections: u32,
    /// Concurrent request streams per connection.
    pub streams: u32,
    /// Seconds of requests.
    pub secs: u64,
}

/// Where the requests go, from `https://IP:PORT/PATH`.
#[derive(Debug, PartialEq)]
struct Target {
    addr: SocketAddr,
    /// `IP:PORT`, the `:authority`.
    authority: String,
    path: String,
}

impl Target {
    fn parse(url: &str) -> Result<Target, String> {
        let rest = url
            .strip_prefix("https://")
            .ok_or_else(|| format!("expected an https:// URL, got `{url}`"))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, "/"),
        };
        let addr = authority
            .parse()
            .map_err(|_| format!("expected IP:PORT in `{url}`"))?;
        Ok(Target {
            addr,
            authority: authority.into(),
            path: path.into(),
        })
    }
}

/// The `h3-load` mode: runs the load and prints its report line.
pub fn run(args: &LoadArgs) -> Result<(), String> {
    let rt = runtime()?;
    // Streams share their counters through `Rc`s, so they run as local tasks.
    let local = tokio::task::LocalSet::new();
    let report = local.block_on(&rt, load(args))?;
    println!("{}", report.line(UNIT));
    Ok(())
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot build tokio runtime: {e}"))
}

/// What the streams add to as they go.
#[derive(Default)]
struct Shared {
    requests: Cell<u64>,
    body_bytes: Cell<u64>,
    errors: Cell<u64>,
    first_error: RefCell<Option<String>>,
    latency: RefCell<Histogram>,
}

impl Shared {
    fn fail(&self, e: String) {
        self.errors.set(self.errors.get() + 1);
        self.first_error.borrow_mut().get_or_insert(e);
    }
}

async fn load(args: &LoadArgs) -> Result<ClientReport, String> {
    let target = Target::parse(&args.url)?;
    let endpoint = client_endpoint()?;
    let request = request_frame(&target.authority, &target.path);
    let mut conns = Vec::with_capacity(args.connections as usize);
    for i in 0..args.connections {
        let conn = tokio::time::timeout(STALL_LIMIT, open(&endpoint, target.addr))
            .await
            .map_err(|_| format!("connection {i}: no handshake within {STALL_LIMIT:?}"))?
            .map_err(|e| format!("connection {i}: {e}"))?;
        conns.push(conn);
    }

    let shared = Rc::new(Shared::default());
    let cpu_before = own_cpu_secs()?;
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.secs);
    let mut tasks = Vec::with_capacity(conns.len() * args.streams as usize);
    for conn in &conns {
        for _ in 0..args.streams {
            tasks.push(tokio::task::spawn_local(stream_loop(
                conn.quic.clone(),
                request.clone(),
                deadline,
                shared.clone(),
            )));
        }
    }
    for task in &mut tasks {
        if tokio::time::timeout_at((deadline + STALL_LIMIT).into(), &mut *task)
            .await
            .is_err()
        {
            task.abort();
            shared.fail(format!("no response within {STALL_LIMIT:?}"));
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let cpu_secs = own_cpu_secs()? - cpu_before;
    close(&endpoint, &conns).await;
    if let Some(e) = shared.first_error.borrow().as_deref() {
        eprintln!(
            "h3-load: {} of {} streams failed; the first: {e}",
            shared.errors.get(),
            tasks.len()
        );
    }
    let latency = shared.latency.borrow();
    Ok(ClientReport {
        count: shared.requests.get(),
        errors: shared.errors.get(),
        body_bytes: Some(shared.body_bytes.get()),
        secs,
        cpu_secs,
        p50_us: latency.quantile_us(0.5),
        p99_us: latency.quantile_us(0.99),
    })
}

/// Requests on one stream after another until `deadline`.
async fn stream_loop(
    quic: quinn::Connection,
    request: Bytes,
    deadline: Instant,
    shared: Rc<Shared>,
) {
    let mut sent = Instant::now();
    while sent < deadline {
        match exchange(&quic, request.clone()).await {
            Ok(body) => {
                let now = Instant::now();
                shared.latency.borrow_mut().record(now - sent);
                shared.requests.set(shared.requests.get() + 1);
                shared.body_bytes.set(shared.body_bytes.get() + body);
                sent = now;
            }
            Err(e) => return shared.fail(e),
        }
    }
}

/// One request on a new stream; the response's body length.
async fn exchange(quic: &quinn::Connection, request: Bytes) -> Result<u64, String> {
    let (mut send, mut recv) = quic
        .open_bi()
        .await
        .map_err(|e| format!("open a stream: {e}"))?;
    send.write_chunk(request)
        .await
        .map_err(|e| format!("write: {e}"))?;
    send.finish().map_err(|e| format!("finish: {e}"))?;
    let mut response = ResponseReader::default();
    while let Some(chunk) = recv
        .read_chunk(usize::MAX, true)
        .await
        .map_err(|e| format!("read: {e}"))?
    {
        response.feed(&chunk.bytes)?;
    }
    response.finish()
}

/// An HTTP/3 connection, its control stream open.
struct Conn {
    quic: quinn::Connection,
    /// Held open for the connection's life: closing it is a connection error
    /// (`H3_CLOSED_CRITICAL_STREAM`).
    _control: quinn::SendStream,
}

async fn open(endpoint: &quinn::Endpoint, addr: SocketAddr) -> Result<Conn, String> {
    let quic = endpoint
        .connect(addr, "localhost")
        .map_err(|e| format!("connect {addr}: {e}"))?
        .await
        .map_err(|e| format!("handshake with {addr}: {e}"))?;
    let mut control = quic
        .open_uni()
        .await
        .map_err(|e| format!("open the control stream: {e}"))?;
    // Stream type 0x00 (control), then a SETTINGS frame (type 0x04) with no
    // setting: the defaults, a QPACK table capacity of 0 and no blocked streams.
    control
        .write_all(&[0x00, 0x04, 0x00])
        .await
        .map_err(|e| format!("write the control stream: {e}"))?;
    tokio::spawn(discard_uni_streams(quic.clone()));
    Ok(Conn {
        quic,
        _control: control,
    })
}

/// Reads the server's unidirectional streams (control, QPACK, grease) and
/// drops what they carry: its SETTINGS change nothing this client sends.
async fn discard_uni_streams(quic: quinn::Connection) {
    while let Ok(mut stream) = quic.accept_uni().await {
        tokio::spawn(async move {
            while let Ok(Some(_)) = stream.read_chunk(usize::MAX, true).await {}
        });
    }
}

/// Closes every connection with `H3_NO_ERROR` and waits (briefly) for the
/// server to hear of it, so it does not keep them until their idle timeout.
async fn close(endpoint: &quinn::Endpoint, conns: &[Conn]) {
    for conn in conns {
        conn.quic.close(quinn::VarInt::from_u32(H3_NO_ERROR), b"");
    }
    let _ = tokio::time::timeout(Duration::from_secs(1), endpoint.wait_idle()).await;
}

/// A client endpoint on `127.0.0.1`, with the large receive buffer.
fn client_endpoint() -> Result<quinn::Endpoint, String> {
    let socket = crate::h3_server::udp_socket(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))?;
    let mut endpoint = quinn::Endpoint::new(
        quinn::EndpointConfig::default(),
        None,
        socket,
        Arc::new(quinn::TokioRuntime),
    )
    .map_err(|e| format!("cannot start the QUIC endpoint: {e}"))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| format!("TLS configuration: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"h3".to_vec()];
    let quic = QuicClientConfig::try_from(tls).map_err(|e| format!("QUIC TLS: {e}"))?;
    endpoint.set_default_client_config(quinn::ClientConfig::new(Arc::new(quic)));
    Ok(endpoint)
}

/// Takes any certificate (the servers' are self-signed), but still checks the
/// handshake signatures, so the TLS work is what a real client does.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The HEADERS frame of `GET https://AUTHORITY/PATH`, encoded once for the run:
/// QPACK with no dynamic table (a zero preams M --duration S URL`.
pub struct H3LoadCommand<'a> {
    /// Core the client is pinned to.
    pub cpu: usize,
    /// Start it under `setpriv --pdeathsig KILL` (see [`crate::pin`]).
    pub pdeathsig: bool,
    /// This harness's binary, which holds the client.
    pub self_exe: &'a Path,
    /// `https://127.0.0.1:PORT/PATH`.
    pub url: &'a str,
    /// Body bytes every response must carry, to catch truncated responses.
    pub body_len: u64,
}

impl H3LoadCommand<'_> {
    fn args(&self, secs: u64) -> Vec<String> {
        vec![
            "h3-load".into(),
            "--connections".into(),
            CONNECTIONS.to_string(),
            "--streams".into(),
            STREAMS.to_string(),
            "--duration".into(),
            secs.to_string(),
            self.url.into(),
        ]
    }

    /// The command line as shown in reports (without `setpriv`).
    pub fn display(&self, secs: u64) -> String {
        crate::pin::display_own(self.cpu, &self.args(secs))
    }

    /// Runs the client for `secs` seconds and reads its report; a body byte
    /// count other than `body_len` per request is printed as a warning.
    pub fn run(&self, secs: u64) -> Result<Outcome, String> {
        let args = self.args(secs);
        let stdout =
            crate::pin::run_own(self.cpu, self.pdeathsig, self.self_exe, &args, "h3-load")?;
        let r = ClientReport::parse(&stdout, UNIT)
            .ok_or_else(|| format!("cannot parse h3-load output:\n{stdout}"))?;
        if r.body_bytes != Some(r.count * self.body_len) {
            eprintln!(
                "warning: h3-load: {} body bytes for {} requests of {} bytes",
                r.body_bytes.unwrap_or(0),
                r.count,
                self.body_len
            );
        }
        let latency = [r.p50_us, r.p99_us];
        Ok(Outcome::from_own_client(
            r.count, r.secs, r.cpu_secs, latency, r.errors,
        ))
    }
}

/// One connection, one `GET path` that must be answered `200` with `body_len`
/// body bytes (unpinned), so a misbehaving server fails loudly instead of
/// producing fast nonsense.
pub fn smoke_check(port: u16, path: &str, body_len: u64) -> Result<(), String> {
    runtime()?.block_on(async {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let endpoint = client_endpoint()?;
        let conn = tokio::time::timeout(STALL_LIMIT, open(&endpoint, addr))
            .await
            .map_err(|_| format!("no handshake within {STALL_LIMIT:?}"))??;
        let request = request_frame(&addr.to_string(), path);
        let body = tokio::time::timeout(STALL_LIMIT, exchange(&conn.quic, request))
            .await
            .map_err(|_| format!("no response within {STALL_LIMIT:?}"))??;
        close(&endpoint, &[conn]).await;
        if body == body_len {
            Ok(())
        } else {
            Err(format!("{body} body bytes, expected {body_len}"))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_round_trip() {
        let r = ClientReport {
            count: 1_234_567,
            errors: 1,
            body_bytes: Some(16_049_371),
            secs: 10.0012,
            cpu_secs: 9.5,
            p50_us: Some(2310.5),
            p99_us: None,
        };
        let printed = format!("noise\n{}\n", r.line(UNIT));
        assert_eq!(ClientReport::parse(&printed, UNIT), Some(r));
        assert_eq!(ClientReport::parse("requests=1 errors=0\n", UNIT), None);
    }

    #[test]
    fn targets() {
        assert_eq!(
            Target::parse("https://127.0.0.1:443/big?bytes=65536"),
            Ok(Target {
                addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 443)),
                authority: "127.0.0.1:443".into(),
                path: "/big?bytes=65536".into(),
            })
        );
        assert_eq!(Target::parse("https://127.0.0.1:1").unwrap().path, "/");
        assert!(Target::parse("http://127.0.0.1:1/").is_err());
        assert!(Target::parse("https://localhost:1/").is_err());
    }

    #[test]
    fn display() {
        let c = H3LoadCommand {
            cpu: 1,
            pdeathsig: true,
            self_exe: Path::new("/x/roadrunner-bench"),
            url: "https://127.0.0.1:PORT/",
            body_len: 13,
        };
        assert_eq!(
            c.display(10),
            "taskset -c 1 roadrunner-bench h3-load --connections 10 --streams 50 --duration 10 \
             https://127.0.0.1:PORT/"
        );
    }
}

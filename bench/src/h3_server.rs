//! The HTTP/3 baseline: `h3` on `h3-quinn` (quinn), with the library defaults.
//!
//! Like the other baselines it runs on a tokio *current-thread* runtime, since
//! the harness pins it to one core, and serves what the demo serves for the
//! scenarios: `GET /` with `200 text/plain "Hello, world!"`, and `GET
//! /big?bytes=N` with N bytes sent in 16 KiB slices of a piece allocated per
//! response, with no length announced, as the hyper-h2 baseline streams them.
//! Each connection and each request stream gets its own task, as h3's server
//! example does. The certificate is a fresh self-signed one for `localhost`;
//! TLS 1.3 only, ALPN `h3`.
//!
//! Both this server and the load client ask for a large UDP receive buffer:
//! the bursts of 64 KiB responses to 500 streams overflowed even 8 MiB on the
//! project's machine (the kernel's default is about 200 KiB), and every lost
//! packet costs retransmissions and a congestion-window cut that would be
//! measured as the server's cost.

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::Arc;

use bytes::Bytes;
use h3::server::RequestResolver;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderValue, Response, StatusCode};
use quinn::crypto::rustls::QuicServerConfig;
use rustls::pki_types::PrivateKeyDer;
use socket2::{Domain, Protocol, Socket, Type};

use crate::hyper_server::BODY;

/// The receive buffer asked for on every UDP socket of the h3 scenarios.
const UDP_RECV_BUFFER: usize = 32 << 20;

/// The slices `/big` is sent in, as the demo's handler streams it.
const PIECE: usize = 16 * 1024;

/// Serves forever on UDP `127.0.0.1:port` (0 picks a free port). Prints
/// `listening on https://127.0.0.1:PORT` as the first stdout line once the
/// socket is bound, the harness's readiness signal.
pub fn run(port: u16) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot build tokio runtime: {e}"))?;
    rt.block_on(serve(port))
}

async fn serve(port: u16) -> Result<(), String> {
    let socket = udp_socket(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))?;
    let config = quinn::ServerConfig::with_crypto(Arc::new(tls_config()?));
    let endpoint = quinn::Endpoint::new(
        quinn::EndpointConfig::default(),
        Some(config),
        socket,
        Arc::new(quinn::TokioRuntime),
    )
    .map_err(|e| format!("cannot start the QUIC endpoint: {e}"))?;
    let local = endpoint
        .local_addr()
        .map_err(|e| format!("local_addr: {e}"))?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening on https://{local}")
        .and_then(|()| out.flush())
        .map_err(|e| format!("cannot write to stdout: {e}"))?;
    drop(out);
    while let Some(incoming) = endpoint.accept().await {
        tokio::spawn(async move {
            // Errors are handshakes that failed or peers going away; nothing to do.
            let _ = connection(incoming).await;
        });
    }
    Err("the QUIC endpoint closed".into())
}

async fn connection(incoming: quinn::Incoming) -> Result<(), Box<dyn std::error::Error>> {
    let conn = incoming.await?;
    let mut h3 = h3::server::Connection::new(h3_quinn::Connection::new(conn)).await?;
    while let Some(resolver) = h3.accept().await? {
        tokio::spawn(async move {
            // As above: a stream error is the peer going away.
            let _ = request(resolver).await;
        });
    }
    Ok(())
}

async fn request(
    resolver: RequestResolver<h3_quinn::Connection, Bytes>,
) -> Result<(), Box<dyn std::error::Error>> {
    let (req, mut stream) = resolver.resolve_request().await?;
    let mut resp = Response::new(());
    match req.uri().path() {
        "/" => {
            let headers = resp.headers_mut();
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
            // hyper's `Full` body announces its length; so does this one.
            headers.insert(CONTENT_LENGTH, HeaderValue::from(BODY.len()));
            stream.send_response(resp).await?;
            stream.send_data(Bytes::from_static(BODY)).await?;
        }
        "/big" => {
            let mut left = req
                .uri()
                .query()
                .into_iter()
                .flat_map(|q| q.split('&'))
                .find_map(|kv| kv.strip_prefix("bytes="))
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(1 << 20);
            resp.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            );
            stream.send_response(resp).await?;
            // One fresh piece per response, as the demo's handler allocates, so
            // both servers do the same handler work.
            let piece = Bytes::from(vec![b'x'; PIECE]);
            while left > 0 {
                let n = left.min(PIECE);
                left -= n;
                stream.send_data(piece.slice(..n)).await?;
            }
        }
        _ => {
            *resp.status_mut() = StatusCode::NOT_FOUND;
            stream.send_response(resp).await?;
        }
    }
    stream.finish().await?;
    Ok(())
}

/// TLS 1.3 with ALPN `h3` and a fresh self-signed certificate for `localhost`.
fn tls_config() -> Result<QuicServerConfig, String> {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])
        .map_err(|e| format!("cannot make a certificate: {e}"))?;
    let key = PrivateKeyDer::try_from(made.signing_key.serialize_der())
        .map_err(|e| format!("certificate key: {e}"))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .and_then(|b| {
            b.with_no_client_auth()
                .with_single_cert(vec![made.cert.der().clone()], key)
        })
        .map_err(|e| format!("TLS configuration: {e}"))?;
    tls.alpn_protocols = vec![b"h3".to_vec()];
    QuicServerConfig::try_from(tls).map_err(|e| format!("QUIC TLS configuration: {e}"))
}

/// A UDP socket bound to `addr` with a receive buffer of [`UDP_RECV_BUFFER`],
/// or a warning on stderr saying why it is smaller.
pub fn udp_socket(addr: SocketAddr) -> Result<UdpSocket, String> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))
        .map_err(|e| format!("cannot open a UDP socket: {e}"))?;
    // SO_RCVBUF is capped at `net.core.rmem_max` (208 KiB on a stock kernel);
    // SO_RCVBUFFORCE is not, but needs CAP_NET_ADMIN.
    if force_recv_buffer(&socket).is_err() {
        let _ = socket.set_recv_buffer_size(UDP_RECV_BUFFER);
    }
    match socket.recv_buffer_size() {
        // Linux reports twice what was set: the other half is its bookkeeping.
        Ok(n) if n >= UDP_RECV_BUFFER => {}
        got => eprintln!(
            "roadrunner-bench: warning: UDP receive buffer of {got:?} bytes, asked for \
             {UDP_RECV_BUFFER}: packets may be dropped under load (raise \
             net.core.rmem_max, or run as root)"
        ),
    }
    socket
        .bind(&addr.into())
        .map_err(|e| format!("cannot bind UDP {addr}: {e}"))?;
    Ok(socket.into())
}

fn force_recv_buffer(socket: &Socket) -> std::io::Result<()> {
    let size = libc::c_int::try_from(UDP_RECV_BUFFER).expect("the buffer size fits a C int");
    // SAFETY: the descriptor is open for the call, and the option value is a
    // `c_int` whose size is passed with it.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUFFORCE,
            (&size as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

//! The `h3` crate's client over quinn, as the HTTP/3 tests use it: connecting with a
//! test certificate, and fetching whole responses.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use bytes::{Buf, Bytes};
use h3::client::SendRequest;
use roadrunner_core::http::{HeaderMap, Request as HttpRequest, StatusCode};
use roadrunner_core::{Http1Options, Http3Options, Options, Protocol, Routes};
use roadrunner_tests::opts;

/// A client runtime of its own, so the test thread can block on it.
pub fn client_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime")
}

/// Options serving HTTP/1.1 on TLS and HTTP/3 beside it, with `kit`'s certificate.
pub fn h3_opts(routes: Routes, kit: &crate::kinds::TlsKit) -> Options {
    let mut o = opts(routes);
    o.tls = Some(kit.server.clone());
    o.protocols = vec![
        Protocol::Http1(Http1Options::default()),
        Protocol::Http3(Http3Options {
            listeners: 2,
            ..Http3Options::default()
        }),
    ];
    o
}

pub type Requests = SendRequest<h3_quinn::OpenStreams, Bytes>;

/// An HTTP/3 connection of the `h3` crate.
pub struct Client {
    pub send: Requests,
    pub quic: quinn::Connection,
    /// Ends with the connection, saying how.
    pub closed: tokio::task::JoinHandle<h3::error::ConnectionError>,
    pub endpoint: quinn::Endpoint,
}

/// A QUIC client endpoint trusting `kit`'s certificate, speaking `h3`.
pub fn endpoint(kit: &crate::kinds::TlsKit) -> quinn::Endpoint {
    let mut tls = (*kit.client).clone();
    tls.alpn_protocols = vec![b"h3".to_vec()];
    let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(tls).expect("TLS 1.3");
    let mut endpoint =
        quinn::Endpoint::client((Ipv4Addr::LOCALHOST, 0).into()).expect("client endpoint");
    endpoint.set_default_client_config(quinn::ClientConfig::new(Arc::new(crypto)));
    endpoint
}

pub async fn try_connect(
    kit: &crate::kinds::TlsKit,
    to: SocketAddr,
) -> Result<Client, quinn::ConnectionError> {
    try_connect_with(kit, to, &mut h3::client::builder()).await
}

pub async fn try_connect_with(
    kit: &crate::kinds::TlsKit,
    to: SocketAddr,
    h3: &mut h3::client::Builder,
) -> Result<Client, quinn::ConnectionError> {
    let endpoint = endpoint(kit);
    let quic = endpoint.connect(to, "localhost").expect("connect").await?;
    let (mut driver, send) = h3
        .build(h3_quinn::Connection::new(quic.clone()))
        .await
        .expect("h3 client");
    let closed = tokio::spawn(async move { driver.wait_idle().await });
    Ok(Client {
        send,
        quic,
        closed,
        endpoint,
    })
}

pub async fn connect(kit: &crate::kinds::TlsKit, port: u16) -> Client {
    try_connect(kit, (Ipv4Addr::LOCALHOST, port).into())
        .await
        .expect("QUIC handshake")
}

/// A response as the client read it.
pub struct Got {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    pub trailers: Option<HeaderMap>,
}

pub fn get(path: &str) -> HttpRequest<()> {
    HttpRequest::get(format!("https://localhost{path}"))
        .body(())
        .expect("request")
}

pub fn post(path: &str) -> HttpRequest<()> {
    HttpRequest::post(format!("https://localhost{path}"))
        .body(())
        .expect("request")
}

pub async fn fetch(
    send: &mut Requests,
    req: HttpRequest<()>,
    body: Option<Bytes>,
) -> Result<Got, h3::error::StreamError> {
    let mut stream = send.send_request(req).await?;
    if let Some(body) = body {
        stream.send_data(body).await?;
    }
    stream.finish().await?;
    let resp = stream.recv_response().await?;
    let mut got = Vec::new();
    while let Some(mut chunk) = stream.recv_data().await? {
        while chunk.has_remaining() {
            let piece = chunk.chunk();
            got.extend_from_slice(piece);
            let n = piece.len();
            chunk.advance(n);
        }
    }
    let trailers = stream.recv_trailers().await?;
    Ok(Got {
        status: resp.status(),
        headers: resp.headers().clone(),
        body: got,
        trailers,
    })
}

/// The stream error code of a reset or refused stream.
pub fn reset_code(e: &h3::error::StreamError) -> Option<u64> {
    match e {
        h3::error::StreamError::RemoteTerminate { code, .. } => Some(code.value()),
        _ => None,
    }
}

//! The hyper 1.x client, for well-formed traffic.

use std::net::Ipv4Addr;

use crate::IO_TIMEOUT;
use bytes::Bytes;
use http::{HeaderMap, StatusCode, Version};
use http_body_util::{BodyExt, Full};

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

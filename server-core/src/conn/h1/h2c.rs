//! `Upgrade: h2c` (RFC 7540 §3.2): an HTTP/1.1 request that asks to continue the
//! connection as HTTP/2 is answered `101`, and the connection, with that request as
//! its stream 1, goes to the HTTP/2 driver.

use base64::Engine;
use bytes::BytesMut;
use http::{header, HeaderMap, HeaderValue, StatusCode};

use super::{Conn, Stop};
use crate::conn::reason::Reason;
use crate::request::Request;
use crate::runtime::{ByteStream, Runtime};

/// What the HTTP/2 driver takes over.
pub(crate) struct H2c {
    /// The request that carried the upgrade, answered on stream 1.
    pub(crate) req: Request,
    /// The client's SETTINGS, from `HTTP2-Settings`.
    pub(crate) settings: Vec<u8>,
    /// Bytes the client sent after its request (the start of its preface).
    pub(crate) early: BytesMut,
}

/// The decoded `HTTP2-Settings` of a request that asks for `h2c`, if it does, validly.
fn wanted(headers: &HeaderMap) -> Option<Vec<u8>> {
    let asks = headers
        .get_all(header::UPGRADE)
        .iter()
        .any(|v| has_token(v, "h2c"));
    let connection_names_it = headers
        .get_all(header::CONNECTION)
        .iter()
        .any(|v| has_token(v, "http2-settings"));
    let mut settings = headers.get_all("http2-settings").iter();
    let (Some(value), None) = (settings.next(), settings.next()) else {
        return None;
    };
    if !asks || !connection_names_it {
        return None;
    }
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(value.as_bytes())
        .ok()
}

fn has_token(value: &HeaderValue, token: &str) -> bool {
    value
        .to_str()
        .is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
}

/// A request that upgrades the connection, with its decoded settings.
pub(super) struct Wanted(Request, Vec<u8>);

impl<R: Runtime, S: ByteStream> Conn<'_, R, S> {
    /// `Err` with the request when it asks for `h2c` and may have it: plain TCP
    /// serving both protocols (on TLS, ALPN decides).
    pub(super) fn h2c_upgrade(&self, req: Request) -> Result<Request, Box<Wanted>> {
        let allowed = self.shared.tls.is_none() && self.shared.plain == crate::conn::Plain::Sniff;
        match allowed.then(|| wanted(req.headers())).flatten() {
            Some(settings) => Err(Box::new(Wanted(req, settings))),
            None => Ok(req),
        }
    }

    /// Answers `101` and keeps what the HTTP/2 driver needs; the connection then ends
    /// as HTTP/1.1 with [`Reason::Upgraded`].
    pub(super) async fn switch_to_h2(&mut self, up: Box<Wanted>) -> Stop {
        let Wanted(req, settings) = *up;
        let mut headers = HeaderMap::new();
        headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
        headers.insert(header::UPGRADE, HeaderValue::from_static("h2c"));
        let parts = {
            let mut resp = http::Response::new(());
            *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
            *resp.headers_mut() = headers;
            resp.into_parts().0
        };
        if let Err(stop) = self.write_full(&parts, &[]) {
            return stop;
        }
        if let Err(stop) = self.flush().await {
            return stop;
        }
        let early = self.codec.take_upgraded().unwrap_or_default();
        self.h2c = Some(Box::new(H2c {
            req,
            settings,
            early,
        }));
        Stop(Reason::Upgraded)
    }

    /// The upgrade to HTTP/2, once [`switch_to_h2`](Self::switch_to_h2) has answered.
    pub(crate) fn take_h2c(&mut self) -> Option<Box<H2c>> {
        self.h2c.take()
    }
}

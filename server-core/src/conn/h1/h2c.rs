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

impl<R: Runtime, S: ByteStream> Conn<'_, R, S> {
    /// The decoded `HTTP2-Settings` when `req` asks for `h2c` and may have it: plain
    /// TCP serving both protocols (on TLS, ALPN decides).
    pub(super) fn h2c_settings(&self, req: &Request) -> Option<Vec<u8>> {
        let allowed = self.shared.tls.is_none() && self.shared.plain == crate::conn::Plain::Sniff;
        allowed.then(|| wanted(req.headers())).flatten()
    }

    /// Answers `101` to the request [`h2c_settings`](Self::h2c_settings) accepted;
    /// the connection then ends as HTTP/1.1 with [`Reason::Upgraded`] and
    /// [`take_h2c`](Self::take_h2c) has what the HTTP/2 driver needs.
    pub(super) async fn switch_to_h2(&mut self) -> Stop {
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
            self.h2c = None;
            return stop;
        }
        if let Err(stop) = self.flush().await {
            self.h2c = None;
            return stop;
        }
        if let Some(up) = &mut self.h2c {
            up.early = self.codec.take_upgraded().unwrap_or_default();
        }
        Stop(Reason::Upgraded)
    }

    /// The upgrade to HTTP/2, once [`switch_to_h2`](Self::switch_to_h2) has answered.
    pub(crate) fn take_h2c(&mut self) -> Option<Box<H2c>> {
        self.h2c.take()
    }
}

//! The opening handshake, server side, as pure functions of a request head: RFC 6455
//! §4.2 over HTTP/1.1 (`GET` with `Upgrade: websocket`, answered `101`), and RFC 8441
//! (HTTP/2) and RFC 9220 (HTTP/3) extended CONNECT with `:protocol` `websocket`,
//! answered `200`. Both give a [`Handshake`] that negotiates the subprotocol and
//! permessage-deflate the same way, whichever HTTP version carried it.

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use http::header::{
    HeaderMap, HeaderName, HeaderValue, CONNECTION, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_EXTENSIONS,
    SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_PROTOCOL, SEC_WEBSOCKET_VERSION, UPGRADE,
};
use http::{Method, StatusCode, Version};
use sha1::{Digest, Sha1};

use crate::deflate::DeflateParams;
use crate::extension::{self, is_token, split_list};

/// The GUID RFC 6455 §1.3 appends to the key before hashing.
pub const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key` (the key as sent, base64 text):
/// base64 of the SHA-1 of the key followed by [`GUID`].
pub fn accept_key(key: &[u8]) -> String {
    let mut sha = Sha1::new();
    sha.update(key);
    sha.update(GUID.as_bytes());
    STANDARD.encode(sha.finalize())
}

/// A valid opening request, to be answered with [`Handshake::accept`].
#[derive(Clone, Debug)]
pub struct Handshake {
    /// `Sec-WebSocket-Accept`, for a request over HTTP/1.1; extended CONNECT has none.
    accept: Option<HeaderValue>,
    protocols: Vec<String>,
    deflate: Option<(DeflateParams, HeaderValue)>,
}

/// What the server agrees to.
#[derive(Clone, Copy, Debug, Default)]
pub struct AcceptOptions<'a> {
    /// Subprotocols the server speaks, most preferred first; the first one the client
    /// offered is chosen. Compared exactly (subprotocol names are case-sensitive).
    pub protocols: &'a [&'a str],
    /// Whether permessage-deflate may be agreed.
    pub deflate: bool,
}

/// The answer to a valid request.
#[derive(Clone, Debug)]
pub struct Accepted {
    /// `101 Switching Protocols` over HTTP/1.1, `200 OK` for extended CONNECT.
    pub status: StatusCode,
    /// The response's header fields.
    pub headers: HeaderMap,
    /// The subprotocol chosen, if any.
    pub protocol: Option<String>,
    /// permessage-deflate as agreed, for [`Session::new`](crate::Session::new).
    pub deflate: Option<DeflateParams>,
}

/// Checks an HTTP/1.1 upgrade request (RFC 6455 §4.2.1): `GET`, HTTP/1.1 or later,
/// `Upgrade` listing `websocket`, `Connection` listing `upgrade` (both
/// case-insensitive), a `Sec-WebSocket-Key` that is the base64 of 16 bytes, and
/// `Sec-WebSocket-Version: 13`.
pub fn check_upgrade(
    method: &Method,
    version: Version,
    headers: &HeaderMap,
) -> Result<Handshake, HandshakeError> {
    let fail = |kind| HandshakeError {
        kind,
        extended_connect: false,
    };
    if method != Method::GET {
        return Err(fail(HandshakeErrorKind::NotGet));
    }
    if version < Version::HTTP_11 {
        return Err(fail(HandshakeErrorKind::HttpVersion));
    }
    if !lists_token(headers, &UPGRADE, "websocket") {
        return Err(fail(HandshakeErrorKind::NoUpgrade));
    }
    if !lists_token(headers, &CONNECTION, "upgrade") {
        return Err(fail(HandshakeErrorKind::NoConnectionUpgrade));
    }
    if !version_13(headers) {
        return Err(fail(HandshakeErrorKind::UnsupportedVersion));
    }
    let key = single(headers, &SEC_WEBSOCKET_KEY)
        .filter(|key| matches!(STANDARD.decode(key.as_bytes()), Ok(k) if k.len() == 16))
        .ok_or(fail(HandshakeErrorKind::BadKey))?;
    let accept = HeaderValue::from_str(&accept_key(key.as_bytes()))
        .map_err(|_| fail(HandshakeErrorKind::BadKey))?;
    Ok(Handshake {
        accept: Some(accept),
        protocols: protocols(headers).ok_or(fail(HandshakeErrorKind::BadProtocols))?,
        deflate: extension::negotiate(headers),
    })
}

/// Checks an extended CONNECT (RFC 8441 over HTTP/2, RFC 9220 over HTTP/3): method
/// `CONNECT`, `:protocol` `websocket` (case-insensitive) and
/// `Sec-WebSocket-Version: 13`. There is no key and no accept: the answer is `200`.
pub fn check_extended_connect(
    method: &Method,
    protocol: Option<&str>,
    headers: &HeaderMap,
) -> Result<Handshake, HandshakeError> {
    let fail = |kind| HandshakeError {
        kind,
        extended_connect: true,
    };
    if method != Method::CONNECT {
        return Err(fail(HandshakeErrorKind::NotConnect));
    }
    if !protocol.is_some_and(|p| p.eq_ignore_ascii_case("websocket")) {
        return Err(fail(HandshakeErrorKind::NotWebSocket));
    }
    if !version_13(headers) {
        return Err(fail(HandshakeErrorKind::UnsupportedVersion));
    }
    Ok(Handshake {
        accept: None,
        protocols: protocols(headers).ok_or(fail(HandshakeErrorKind::BadProtocols))?,
        deflate: extension::negotiate(headers),
    })
}

impl Handshake {
    /// The subprotocols the client offered, in its order of preference.
    pub fn protocols(&self) -> &[String] {
        &self.protocols
    }

    /// Whether the client made a permessage-deflate offer the server can take.
    pub fn deflate_offered(&self) -> bool {
        self.deflate.is_some()
    }

    /// The first of `preference` the client offered.
    pub fn select_protocol<'a>(&self, preference: &[&'a str]) -> Option<&'a str> {
        preference
            .iter()
            .copied()
            .find(|p| self.protocols.iter().any(|o| o == p))
    }

    /// The response: status, header fields, and what was agreed. A client whose
    /// subprotocols the server does not speak gets a response without
    /// `Sec-WebSocket-Protocol`, and decides itself whether to go on (RFC 6455 §4.2.2).
    pub fn accept(&self, options: &AcceptOptions<'_>) -> Accepted {
        let mut headers = HeaderMap::new();
        let status = match &self.accept {
            Some(accept) => {
                headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
                headers.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
                headers.insert(SEC_WEBSOCKET_ACCEPT, accept.clone());
                StatusCode::SWITCHING_PROTOCOLS
            }
            None => StatusCode::OK,
        };
        let protocol = self.select_protocol(options.protocols);
        // The client's own tokens, so always a valid field value.
        if let Some(value) = protocol.and_then(|p| HeaderValue::from_str(p).ok()) {
            headers.insert(SEC_WEBSOCKET_PROTOCOL, value);
        }
        let deflate = self.deflate.as_ref().filter(|_| options.deflate);
        if let Some((_, value)) = deflate {
            headers.insert(SEC_WEBSOCKET_EXTENSIONS, value.clone());
        }
        Accepted {
            status,
            headers,
            protocol: protocol.map(str::to_owned),
            deflate: deflate.map(|(params, _)| *params),
        }
    }
}

/// A request that is not a valid opening handshake: answer it with
/// [`status`](Self::status) and [`headers`](Self::headers) and no upgrade.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HandshakeError {
    kind: HandshakeErrorKind,
    extended_connect: bool,
}

/// What is wrong with the request.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HandshakeErrorKind {
    /// An upgrade that is not a `GET` (400).
    NotGet,
    /// An upgrade over HTTP/1.0 (400).
    HttpVersion,
    /// No `websocket` in `Upgrade` (400).
    NoUpgrade,
    /// No `upgrade` in `Connection` (400).
    NoConnectionUpgrade,
    /// `Sec-WebSocket-Key` missing, repeated, or not the base64 of 16 bytes (400).
    BadKey,
    /// `Sec-WebSocket-Version` missing or not 13 (426, with
    /// `Sec-WebSocket-Version: 13`).
    UnsupportedVersion,
    /// A `Sec-WebSocket-Protocol` element that is not a token (400).
    BadProtocols,
    /// An extended CONNECT with another method (400).
    NotConnect,
    /// An extended CONNECT whose `:protocol` is not `websocket` (400).
    NotWebSocket,
}

impl HandshakeError {
    /// What is wrong.
    pub fn kind(&self) -> HandshakeErrorKind {
        self.kind
    }

    /// The status to answer with: `426 Upgrade Required` for a version other than 13,
    /// `400 Bad Request` otherwise.
    pub fn status(&self) -> StatusCode {
        match self.kind {
            HandshakeErrorKind::UnsupportedVersion => StatusCode::UPGRADE_REQUIRED,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// The header fields to answer with. A 426 names version 13 (RFC 6455 §4.2.2)
    /// and, over HTTP/1.1, the protocol to upgrade to (RFC 9110 §15.5.22); HTTP/2 and
    /// HTTP/3 forbid `Upgrade` and `Connection`, so extended CONNECT gets neither.
    pub fn headers(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if self.kind == HandshakeErrorKind::UnsupportedVersion {
            headers.insert(SEC_WEBSOCKET_VERSION, HeaderValue::from_static("13"));
            if !self.extended_connect {
                headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
                headers.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
            }
        }
        headers
    }
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.kind {
            HandshakeErrorKind::NotGet => "WebSocket upgrade with a method other than GET",
            HandshakeErrorKind::HttpVersion => "WebSocket upgrade before HTTP/1.1",
            HandshakeErrorKind::NoUpgrade => "no websocket in Upgrade",
            HandshakeErrorKind::NoConnectionUpgrade => "no upgrade in Connection",
            HandshakeErrorKind::BadKey => "missing or malformed Sec-WebSocket-Key",
            HandshakeErrorKind::UnsupportedVersion => "Sec-WebSocket-Version is not 13",
            HandshakeErrorKind::BadProtocols => "malformed Sec-WebSocket-Protocol",
            HandshakeErrorKind::NotConnect => "extended CONNECT with another method",
            HandshakeErrorKind::NotWebSocket => "extended CONNECT for another protocol",
        })
    }
}

impl std::error::Error for HandshakeError {}

/// Whether any of the `name` fields lists `token` (ASCII case-insensitive).
fn lists_token(headers: &HeaderMap, name: &HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .flat_map(|v| split_list(v.as_bytes()))
        .any(|t| t.eq_ignore_ascii_case(token.as_bytes()))
}

/// The value of a field that appears exactly once.
fn single<'h>(headers: &'h HeaderMap, name: &HeaderName) -> Option<&'h HeaderValue> {
    let mut all = headers.get_all(name).iter();
    let first = all.next()?;
    all.next().is_none().then_some(first)
}

fn version_13(headers: &HeaderMap) -> bool {
    single(headers, &SEC_WEBSOCKET_VERSION).is_some_and(|v| v.as_bytes() == b"13")
}

/// The offered subprotocols, or `None` if an element is not a token.
fn protocols(headers: &HeaderMap) -> Option<Vec<String>> {
    let mut out = Vec::new();
    for value in headers.get_all(SEC_WEBSOCKET_PROTOCOL) {
        for p in split_list(value.as_bytes()) {
            if !is_token(p) {
                return None;
            }
            // Tokens are ASCII.
            out.push(String::from_utf8_lossy(p).into_owned());
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_6455_accept_key() {
        // RFC 6455 §1.3.
        assert_eq!(
            accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn single_field() {
        let mut h = HeaderMap::new();
        assert!(single(&h, &SEC_WEBSOCKET_KEY).is_none());
        h.append(SEC_WEBSOCKET_KEY, HeaderValue::from_static("a"));
        assert!(single(&h, &SEC_WEBSOCKET_KEY).is_some());
        h.append(SEC_WEBSOCKET_KEY, HeaderValue::from_static("b"));
        assert!(single(&h, &SEC_WEBSOCKET_KEY).is_none());
    }
}

//! Which protocol a connection speaks: on TLS the ALPN protocol the handshake settled
//! on, on plain TCP the listener's protocols and, when both HTTP/1.1 and HTTP/2 are
//! served there, the client's first bytes (the HTTP/2 connection preface).

use crate::options::Protocol;

/// A connection's protocol, and so its driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Proto {
    Http1,
    Http2,
}

/// What a plain-TCP listener serves, from its options.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Plain {
    /// One protocol: no need to look at the first bytes.
    Only(Proto),
    /// HTTP/1.1 and prior-knowledge HTTP/2: the first bytes decide.
    Sniff,
}

/// What a plain-TCP listener with these protocols serves.
pub(crate) fn plain(protocols: &[Protocol]) -> Plain {
    let h1 = protocols.iter().any(|p| matches!(p, Protocol::Http1(_)));
    let h2 = protocols.iter().any(|p| matches!(p, Protocol::Http2(_)));
    match (h1, h2) {
        (true, true) => Plain::Sniff,
        (false, true) => Plain::Only(Proto::Http2),
        _ => Plain::Only(Proto::Http1),
    }
}

/// The HTTP/2 connection preface (RFC 9113 §3.4).
pub(crate) const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// The protocol ALPN negotiated; HTTP/1.1 when the client offered none.
pub(crate) fn by_alpn(alpn: Option<&[u8]>) -> Proto {
    match alpn {
        Some(b"h2") => Proto::Http2,
        _ => Proto::Http1,
    }
}

/// The protocol the client's first bytes announce, or `None` while they still could
/// be the start of the HTTP/2 preface.
pub(crate) fn by_preface(first: &[u8]) -> Option<Proto> {
    let n = first.len().min(PREFACE.len());
    if first[..n] != PREFACE[..n] {
        return Some(Proto::Http1);
    }
    (n == PREFACE.len()).then_some(Proto::Http2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_listeners_sniff_only_when_they_serve_both() {
        use crate::options::{Http1Options, Http2Options};
        let h1 = Protocol::Http1(Http1Options::default());
        let h2 = Protocol::Http2(Http2Options::default());
        assert_eq!(plain(std::slice::from_ref(&h1)), Plain::Only(Proto::Http1));
        assert_eq!(plain(std::slice::from_ref(&h2)), Plain::Only(Proto::Http2));
        assert_eq!(plain(&[h1, h2]), Plain::Sniff);
    }

    #[test]
    fn alpn_picks_the_driver() {
        assert_eq!(by_alpn(Some(b"h2")), Proto::Http2);
        assert_eq!(by_alpn(Some(b"http/1.1")), Proto::Http1);
        assert_eq!(by_alpn(None), Proto::Http1);
    }

    #[test]
    fn the_preface_decides_as_soon_as_it_can() {
        assert_eq!(by_preface(b""), None);
        assert_eq!(by_preface(b"PRI * HT"), None);
        assert_eq!(by_preface(PREFACE), Some(Proto::Http2));
        assert_eq!(
            by_preface(&[PREFACE, b"\0\0\x12\x04"].concat()),
            Some(Proto::Http2)
        );
        assert_eq!(by_preface(b"GET / HTTP/1.1\r\n"), Some(Proto::Http1));
        assert_eq!(by_preface(b"PRI * HTTP/1.1\r\n"), Some(Proto::Http1));
        assert_eq!(by_preface(b"P"), None);
        assert_eq!(by_preface(b"POST"), Some(Proto::Http1));
    }
}

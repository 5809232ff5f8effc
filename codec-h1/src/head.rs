//! Request head: parsing a scanned head with `httparse`, and the framing rules that keep
//! request smuggling out (RFC 9112 §6).

use std::mem::MaybeUninit;

use bytes::Bytes;
use http::header::{self, HeaderName, HeaderValue};
use http::{HeaderMap, Method, Uri, Version};

use crate::config::Config;
use crate::error::ErrorKind;
use crate::scan::{self, LineScanner};

/// How the request body is framed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyKind {
    /// No body: no framing header, or `Content-Length: 0`.
    Empty,
    /// `Content-Length: n` with n > 0.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// A parsed request head.
#[derive(Debug)]
pub struct RequestHead {
    /// The request method.
    pub method: Method,
    /// The request target as sent.
    pub uri: Uri,
    /// `HTTP_10` or `HTTP_11`.
    pub version: Version,
    /// All header fields, in order.
    pub headers: HeaderMap,
    /// How the body is framed.
    pub body: BodyKind,
    /// What the request asks for: HTTP/1.1 unless `Connection: close`; HTTP/1.0 only
    /// with `Connection: keep-alive`.
    pub keep_alive: bool,
    /// `Expect: 100-continue` on a request with a body.
    pub expect_continue: bool,
    /// `Connection: upgrade` plus an `Upgrade` header on an HTTP/1.1 request.
    pub upgrade: bool,
}

/// Header slots that live on the stack; `max_header_count` up to this needs no heap.
const STACK_SLOTS: usize = 128;

/// Parses a complete head (as found by the scanner) into a [`RequestHead`], with room
/// for `max_headers` fields.
/// `spare`: an empty map to hold the fields, instead of a new one.
pub(crate) fn parse(
    head: &Bytes,
    max_headers: usize,
    spare: Option<HeaderMap>,
) -> Result<RequestHead, ErrorKind> {
    with_slots(max_headers, |slots| parse_into(head, slots, None, spare))
}

/// Parses a head the scanner has not seen: one that ends in the first CRLFCRLF of the
/// buffer it came from (see [`scan::whole_head_end`]). When what `httparse` returns shows
/// that the scan would pass it, the scan is skipped; otherwise the scan runs on it
/// first, so every error is the one it would have been with the head in pieces.
pub(crate) fn parse_unscanned(
    head: &Bytes,
    config: &Config,
    spare: Option<HeaderMap>,
) -> Result<RequestHead, ErrorKind> {
    with_slots(config.max_header_count, |slots| {
        parse_into(head, slots, Some(config), spare)
    })
}

/// Calls `f` with `max` header slots.
fn with_slots<'b, R>(
    max: usize,
    f: impl FnOnce(&mut [MaybeUninit<httparse::Header<'b>>]) -> R,
) -> R {
    // Uninitialised slots cost nothing to make, so a fresh array per request is free.
    if max <= STACK_SLOTS {
        let mut slots = [const { MaybeUninit::uninit() }; STACK_SLOTS];
        f(&mut slots[..max])
    } else {
        let mut slots = Vec::with_capacity(max);
        slots.resize_with(max, MaybeUninit::uninit);
        f(&mut slots)
    }
}

fn parse_into<'b>(
    head: &'b Bytes,
    slots: &mut [MaybeUninit<httparse::Header<'b>>],
    unscanned: Option<&Config>,
    spare: Option<HeaderMap>,
) -> Result<RequestHead, ErrorKind> {
    let mut req = httparse::Request::new(&mut []);
    let status = req.parse_with_uninit_headers(head, slots);
    if let Some(config) = unscanned {
        let whole = matches!(status, Ok(httparse::Status::Complete(n)) if n == head.len());
        if !whole || !scan::whole_head_passes(head, &req, config) {
            LineScanner::request().scan(head, config)?;
        }
    }
    match status {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err(ErrorKind::BadRequest("malformed head")),
        Err(httparse::Error::TooManyHeaders) => return Err(ErrorKind::TooManyHeaders),
        Err(_) => return Err(ErrorKind::BadRequest("malformed header field")),
    }
    let (Some(method), Some(path), Some(v)) = (req.method, req.path, req.version) else {
        return Err(ErrorKind::BadRequest("malformed request line"));
    };
    let method = Method::from_bytes(method.as_bytes())
        .map_err(|_| ErrorKind::BadRequest("invalid method"))?;
    let uri = Uri::from_maybe_shared(head.slice_ref(path.as_bytes()))
        .map_err(|_| ErrorKind::BadRequest("invalid request target"))?;
    let version = if v == 0 {
        Version::HTTP_10
    } else {
        Version::HTTP_11
    };
    let fields = Fields::collect(head, req.headers, spare)?;
    fields.into_head(method, uri, version)
}

/// Parses a complete trailer section (field lines and the final empty line).
pub(crate) fn parse_trailers(block: &Bytes, count: usize) -> Result<HeaderMap, ErrorKind> {
    // Trailers are rare; a fresh array keeps the hot path's slots simple.
    let mut slots = vec![httparse::EMPTY_HEADER; count];
    match httparse::parse_headers(block, &mut slots) {
        Ok(httparse::Status::Complete((_, fields))) => {
            let mut map = HeaderMap::with_capacity(fields.len());
            for f in fields {
                let (name, value) = field(block, f)?;
                map.append(name, value);
            }
            Ok(map)
        }
        Ok(httparse::Status::Partial) => Err(ErrorKind::BadRequest("malformed trailers")),
        Err(httparse::Error::TooManyHeaders) => Err(ErrorKind::TooManyHeaders),
        Err(_) => Err(ErrorKind::BadRequest("malformed trailer field")),
    }
}

fn field(buf: &Bytes, f: &httparse::Header<'_>) -> Result<(HeaderName, HeaderValue), ErrorKind> {
    let name = HeaderName::from_bytes(f.name.as_bytes())
        .map_err(|_| ErrorKind::BadRequest("invalid field name"))?;
    // `slice_ref` needs a sub-slice of `buf`: httparse values point into it, and an empty
    // value is special-cased by `slice_ref`.
    let value = HeaderValue::from_maybe_shared(buf.slice_ref(f.value))
        .map_err(|_| ErrorKind::BadRequest("invalid field value"))?;
    Ok((name, value))
}

/// Header fields plus what they say about framing and connection handling.
struct Fields {
    map: HeaderMap,
    content_length: Option<u64>,
    te: Option<Codings>,
    hosts: usize,
    close: bool,
    keep_alive: bool,
    conn_upgrade: bool,
    upgrade: bool,
    expect_continue: bool,
}

/// Transfer codings seen so far, across all `Transfer-Encoding` lines.
#[derive(Default)]
struct Codings {
    chunked: bool,
    other: bool,
}

impl Fields {
    fn collect(
        head: &Bytes,
        raw: &[httparse::Header<'_>],
        spare: Option<HeaderMap>,
    ) -> Result<Self, ErrorKind> {
        let map = match spare {
            Some(mut map) => {
                map.reserve(raw.len());
                map
            }
            None => HeaderMap::with_capacity(raw.len()),
        };
        // Spelled out rather than `..Default::default()`, which would build and drop a
        // second, empty map per request.
        let mut f = Fields {
            map,
            content_length: None,
            te: None,
            hosts: 0,
            close: false,
            keep_alive: false,
            conn_upgrade: false,
            upgrade: false,
            expect_continue: false,
        };
        for h in raw {
            let (name, value) = field(head, h)?;
            let v = h.value;
            if name == header::CONTENT_LENGTH {
                f.content_length(v)?;
            } else if name == header::TRANSFER_ENCODING {
                f.transfer_encoding(v)?;
            } else if name == header::HOST {
                f.hosts += 1;
                if !valid_host(trim(v)) {
                    return Err(ErrorKind::BadRequest("invalid host"));
                }
            } else if name == header::CONNECTION {
                for t in list(v) {
                    f.close |= t.eq_ignore_ascii_case(b"close");
                    f.keep_alive |= t.eq_ignore_ascii_case(b"keep-alive");
                    f.conn_upgrade |= t.eq_ignore_ascii_case(b"upgrade");
                }
            } else if name == header::EXPECT {
                f.expect_continue |= trim(v).eq_ignore_ascii_case(b"100-continue");
            } else if name == header::UPGRADE {
                f.upgrade = true;
            }
            f.map.append(name, value);
        }
        Ok(f)
    }

    fn content_length(&mut self, v: &[u8]) -> Result<(), ErrorKind> {
        const BAD: ErrorKind = ErrorKind::BadRequest("invalid content-length");
        for item in v.split(|&b| b == b',') {
            let n = parse_decimal(trim(item)).ok_or(BAD)?;
            if self.content_length.is_some_and(|m| m != n) {
                return Err(ErrorKind::BadRequest("conflicting content-length"));
            }
            self.content_length = Some(n);
        }
        Ok(())
    }

    fn transfer_encoding(&mut self, v: &[u8]) -> Result<(), ErrorKind> {
        let te = self.te.get_or_insert_with(Codings::default);
        for coding in list(v) {
            if te.chunked {
                return Err(ErrorKind::BadRequest(
                    "chunked is not the final transfer coding",
                ));
            }
            let name = trim(coding.split(|&b| b == b';').next().unwrap_or_default());
            if name.eq_ignore_ascii_case(b"chunked") {
                te.chunked = true;
            } else {
                te.other = true;
            }
        }
        Ok(())
    }

    fn into_head(
        self,
        method: Method,
        uri: Uri,
        version: Version,
    ) -> Result<RequestHead, ErrorKind> {
        let http11 = version == Version::HTTP_11;
        if self.hosts > 1 {
            return Err(ErrorKind::BadRequest("more than one host"));
        }
        if http11 && self.hosts == 0 {
            return Err(ErrorKind::BadRequest("missing host"));
        }
        let body = match (self.te, self.content_length) {
            (Some(_), Some(_)) => {
                return Err(ErrorKind::BadRequest(
                    "content-length with transfer-encoding",
                ))
            }
            (Some(_), None) if !http11 => {
                return Err(ErrorKind::BadRequest("transfer-encoding in HTTP/1.0"))
            }
            (Some(te), None) if te.other || !te.chunked => {
                if !te.other {
                    return Err(ErrorKind::BadRequest("empty transfer-encoding"));
                }
                return Err(ErrorKind::UnsupportedTransferCoding);
            }
            (Some(_), None) => BodyKind::Chunked,
            (None, Some(0)) | (None, None) => BodyKind::Empty,
            (None, Some(n)) => BodyKind::Length(n),
        };
        Ok(RequestHead {
            method,
            uri,
            version,
            headers: self.map,
            body,
            keep_alive: if http11 {
                !self.close
            } else {
                self.keep_alive && !self.close
            },
            expect_continue: self.expect_continue && body != BodyKind::Empty,
            upgrade: http11 && self.conn_upgrade && self.upgrade,
        })
    }
}

/// The non-empty elements of a comma-separated list, whitespace trimmed.
pub(crate) fn list(v: &[u8]) -> impl Iterator<Item = &[u8]> {
    v.split(|&b| b == b',').map(trim).filter(|t| !t.is_empty())
}

fn trim(v: &[u8]) -> &[u8] {
    let start = v
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .unwrap_or(v.len());
    let end = v
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map_or(start, |i| i + 1);
    &v[start..end]
}

/// `1*DIGIT` into a u64; `None` for anything else, including overflow.
fn parse_decimal(v: &[u8]) -> Option<u64> {
    if v.is_empty() {
        return None;
    }
    v.iter().try_fold(0u64, |n, &b| {
        let d = b.checked_sub(b'0').filter(|d| *d < 10)?;
        n.checked_mul(10)?.checked_add(u64::from(d))
    })
}

/// A 256-entry membership table for `extra` plus ASCII letters and digits (`hex`: only
/// the hex letters).
const fn byte_table(extra: &[u8], hex: bool) -> [bool; 256] {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = if hex {
            c.is_ascii_hexdigit()
        } else {
            c.is_ascii_alphanumeric()
        };
        b += 1;
    }
    let mut i = 0;
    while i < extra.len() {
        table[extra[i] as usize] = true;
        i += 1;
    }
    table
}

/// Bytes of a reg-name (unreserved, pct-encoded, sub-delims): a table, because every
/// request's `host` goes through here and a `contains` per byte showed up in the profile
/// (one `memchr` call per dot of an IPv4 host).
const REG_NAME: [bool; 256] = byte_table(b"-._~%!$&'()*+,;=", false);
/// Bytes of an IP literal between the brackets (IPv6, IPvFuture).
const IP_LITERAL: [bool; 256] = byte_table(b":.vV-_~!$&'()*+,;=", true);

/// `uri-host [ ":" port ]` (RFC 9112 §3.2, RFC 3986 §3.2.2): an IP literal in
/// brackets or a reg-name, then digits after a colon. Empty is allowed (a target with
/// no authority); userinfo, paths and spaces are not.
fn valid_host(v: &[u8]) -> bool {
    let (host, port) = if v.first() == Some(&b'[') {
        match v.iter().position(|&b| b == b']') {
            Some(end) => {
                let literal = &v[1..end];
                let ok = !literal.is_empty() && literal.iter().all(|&b| IP_LITERAL[usize::from(b)]);
                if !ok {
                    return false;
                }
                (&v[..0], &v[end + 1..])
            }
            None => return false,
        }
    } else {
        match v.iter().position(|&b| b == b':') {
            Some(colon) => (&v[..colon], &v[colon..]),
            None => (v, &v[v.len()..]),
        }
    };
    let reg_name = host.iter().all(|&b| REG_NAME[usize::from(b)]);
    let port_ok = match port.split_first() {
        None => true,
        Some((b':', digits)) => digits.iter().all(u8::is_ascii_digit),
        Some(_) => false,
    };
    reg_name && port_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<RequestHead, ErrorKind> {
        parse(&Bytes::copy_from_slice(s.as_bytes()), 16, None)
    }

    fn bad(s: &str) -> bool {
        matches!(p(s), Err(ErrorKind::BadRequest(_)))
    }

    #[test]
    fn decimal() {
        assert_eq!(parse_decimal(b"0"), Some(0));
        assert_eq!(parse_decimal(b"18446744073709551615"), Some(u64::MAX));
        for v in [
            &b""[..],
            b"+5",
            b"-5",
            b"0x5",
            b"5 5",
            b"18446744073709551616",
            b"5a",
        ] {
            assert_eq!(parse_decimal(v), None, "{v:?}");
        }
    }

    #[test]
    fn basic() {
        let h = p("POST /a?b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nX: \r\n\r\n").unwrap();
        assert_eq!(h.method, Method::POST);
        assert_eq!(h.uri, "/a?b");
        assert_eq!(h.body, BodyKind::Length(5));
        assert!(h.keep_alive && !h.expect_continue && !h.upgrade);
        assert_eq!(h.headers["x"], "");
    }

    #[test]
    fn content_length_rules() {
        let cl = |v: &str| {
            p(&format!(
                "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: {v}\r\n\r\n"
            ))
        };
        assert_eq!(cl("5, 5").unwrap().body, BodyKind::Length(5));
        assert_eq!(cl("0").unwrap().body, BodyKind::Empty);
        for v in [
            "+5",
            "0x5",
            "",
            "5 5",
            "5,6",
            "18446744073709551616",
            "5,",
            "-1",
        ] {
            assert!(matches!(cl(v), Err(ErrorKind::BadRequest(_))), "{v}");
        }
        assert!(bad(
            "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"
        ));
        let same = "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n";
        assert_eq!(p(same).unwrap().body, BodyKind::Length(5));
    }

    #[test]
    fn transfer_encoding_rules() {
        let te = |v: &str| {
            p(&format!(
                "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: {v}\r\n\r\n"
            ))
        };
        assert_eq!(te("chunked").unwrap().body, BodyKind::Chunked);
        assert_eq!(te("Chunked").unwrap().body, BodyKind::Chunked);
        for v in ["gzip", "gzip, chunked", "identity"] {
            assert_eq!(
                te(v).unwrap_err(),
                ErrorKind::UnsupportedTransferCoding,
                "{v}"
            );
        }
        for v in ["chunked, chunked", "chunked, gzip", ""] {
            assert!(matches!(te(v), Err(ErrorKind::BadRequest(_))), "{v}");
        }
        assert!(bad("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"));
        assert!(bad(
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"
        ));
        assert!(bad("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"));
    }

    #[test]
    fn host_rules() {
        assert!(bad("GET / HTTP/1.1\r\n\r\n"));
        assert!(bad("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n"));
        assert!(p("GET / HTTP/1.0\r\n\r\n").is_ok());
        assert!(bad("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n"));
    }

    #[test]
    fn host_values() {
        let host = |v: &str| p(&format!("GET / HTTP/1.1\r\nHost: {v}\r\n\r\n"));
        for ok in [
            "x",
            "example.com",
            "example.com:8080",
            "127.0.0.1:80",
            "[::1]:443",
            "[::1]",
            "",
            "a-b_c~d%20",
            "h:",
        ] {
            assert!(host(ok).is_ok(), "{ok:?} should be accepted");
        }
        for bad in [
            "a b", "t:abc", "t/path", "user@t", "[::1", "[::1]x", "[]", "t:1:2", "t?q", "t#f",
        ] {
            assert_eq!(
                host(bad).err(),
                Some(ErrorKind::BadRequest("invalid host")),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn field_syntax() {
        assert!(bad("GET / HTTP/1.1\r\nHost : x\r\n\r\n"));
        assert!(bad("GET / HTTP/1.1\r\nHost: x\r\nA B: c\r\n\r\n"));
        assert!(bad("GET / HTTP/1.1\r\nHost: x\r\nnocolon\r\n\r\n"));
        assert!(bad("GET / HTTP/1.1\r\nHost: x\r\nA: b\0c\r\n\r\n"));
        assert!(bad("GET / HTTP/1.1\r\nHost: x\r\nA: b\rc\r\n\r\n"));
        assert!(bad("GET / HTTP/1.1\r\nHost: x\r\nA: b\x01c\r\n\r\n"));
        assert!(bad("GET / HTTP/1.1\r\nHost: x\r\nA: b\x7fc\r\n\r\n"));
        assert_eq!(
            p("GET / HTTP/1.1\r\nHost: x\r\nA: b\tc\r\n\r\n")
                .unwrap()
                .headers["a"],
            "b\tc"
        );
    }

    #[test]
    fn connection_semantics() {
        let h = |s: &str| p(s).unwrap();
        assert!(!h("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").keep_alive);
        assert!(!h("GET / HTTP/1.0\r\n\r\n").keep_alive);
        assert!(h("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").keep_alive);
        let up = "GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n";
        assert!(h(up).upgrade);
        assert!(!h("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n").upgrade);
        assert!(!h("GET / HTTP/1.0\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n").upgrade);
        let exp = "POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n";
        assert!(h(exp).expect_continue);
        assert!(!h("GET / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\r\n").expect_continue);
    }

    #[test]
    fn header_counts_on_and_off_the_stack() {
        let head = |n: usize| {
            let fields: String = (0..n).map(|i| format!("X-{i}: v\r\n")).collect();
            Bytes::from(format!("GET / HTTP/1.1\r\nHost: x\r\n{fields}\r\n"))
        };
        assert_eq!(
            parse(&head(99), 100, None).map(|h| h.headers.len()),
            Ok(100)
        );
        assert_eq!(
            parse(&head(100), 100, None).err(),
            Some(ErrorKind::TooManyHeaders)
        );
        assert_eq!(
            parse(&head(199), 200, None).map(|h| h.headers.len()),
            Ok(200)
        );
        assert_eq!(
            parse(&head(200), 200, None).err(),
            Some(ErrorKind::TooManyHeaders)
        );
    }

    #[test]
    fn trailers() {
        let t = parse_trailers(&Bytes::from_static(b"A: 1\r\nB: 2\r\n\r\n"), 4).unwrap();
        assert_eq!(t["a"], "1");
        assert_eq!(t["b"], "2");
        assert!(parse_trailers(&Bytes::from_static(b"A : 1\r\n\r\n"), 4).is_err());
    }
}

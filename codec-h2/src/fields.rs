//! From a decoded header list to a request or trailers, and from a response to the
//! fields to encode (RFC 9113 §8.2, §8.3). Every broken rule makes the message
//! malformed: a stream error PROTOCOL_ERROR, the connection goes on (§8.1.1).
//!
//! HTTP/3 has the same rules (RFC 9114 §4.2, §4.3) with its own stream error
//! (H3_MESSAGE_ERROR), so the checks themselves ([`parse_request_head`],
//! [`parse_trailers`]) take any list of fields and say only what is [`Malformed`].

use bytes::Bytes;
use http::header::{self, HeaderName, HeaderValue};
use http::uri::{Authority, Parts, PathAndQuery, Scheme};
use http::{HeaderMap, Method, StatusCode, Uri};

use crate::error::{ErrorCode, StreamError};
use crate::hpack::DecodedList;

/// A request's pseudo-headers and fields, checked.
#[derive(Debug)]
pub struct RequestHead {
    /// `:method`.
    pub method: Method,
    /// `:scheme`, `:authority` (or `host`) and `:path`; authority alone for CONNECT, path
    /// alone when a non-HTTP scheme has no authority.
    pub uri: Uri,
    /// The regular fields, split `cookie` fields joined into one.
    pub headers: HeaderMap,
    /// `:protocol` of an extended CONNECT (RFC 8441), a token such as `websocket`.
    pub protocol: Option<Bytes>,
    /// The `content-length`, if sent.
    pub content_length: Option<u64>,
}

/// Why a request or trailer section is malformed; each protocol maps it to its own
/// stream error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Malformed(pub &'static str);

impl std::fmt::Display for Malformed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "malformed message: {}", self.0)
    }
}

impl std::error::Error for Malformed {}

/// Checks a request's header list. `connect_protocol`: we advertised
/// SETTINGS_ENABLE_CONNECT_PROTOCOL, so `:protocol` is allowed.
pub fn request_head(
    stream: u32,
    fields: DecodedList,
    connect_protocol: bool,
) -> Result<RequestHead, StreamError> {
    parse_request_head(fields, connect_protocol).map_err(|m| malformed(stream, m.0))
}

/// Checks a request's fields, in the order they came, as [`request_head`] does, for
/// any protocol with HTTP/2's field rules (HTTP/3's are the same).
pub fn parse_request_head(
    fields: impl IntoIterator<Item = (Bytes, Bytes)>,
    connect_protocol: bool,
) -> Result<RequestHead, Malformed> {
    let err = Malformed;
    let mut method = None;
    let mut scheme = None;
    let mut authority = None;
    let mut path = None;
    let mut protocol = None;
    let mut regular = Regular::default();
    for (name, value) in fields {
        let Some(pseudo) = name.strip_prefix(b":") else {
            regular.push(name, value).map_err(err)?;
            continue;
        };
        if regular.any {
            return Err(err("pseudo-header after a regular field"));
        }
        let slot = match pseudo {
            b"method" => &mut method,
            b"scheme" => &mut scheme,
            b"authority" => &mut authority,
            b"path" => &mut path,
            b"protocol" if connect_protocol => &mut protocol,
            _ => return Err(err("unknown pseudo-header")),
        };
        if slot.is_some() {
            return Err(err("repeated pseudo-header"));
        }
        check_value(&value).map_err(err)?;
        *slot = Some(value);
    }

    let method = Method::from_bytes(&method.ok_or(err("missing :method"))?)
        .map_err(|_| err("invalid :method"))?;
    let authority = match (authority, &regular.host) {
        (Some(a), Some(h)) if !a.eq_ignore_ascii_case(h) => {
            return Err(err("host and :authority differ"))
        }
        (a, h) => a.or_else(|| h.clone()),
    };
    let authority = authority
        .map(|a| {
            if a.contains(&b'@') {
                return Err(err("userinfo in :authority"));
            }
            Authority::from_maybe_shared(a).map_err(|_| err("invalid :authority"))
        })
        .transpose()?;

    let uri = if method == Method::CONNECT && protocol.is_none() {
        if scheme.is_some() || path.is_some() {
            return Err(err("CONNECT with :scheme or :path"));
        }
        let Some(authority) = authority else {
            return Err(err("CONNECT without :authority"));
        };
        Uri::from(authority)
    } else {
        if protocol.is_some() && method != Method::CONNECT {
            return Err(err(":protocol without CONNECT"));
        }
        if let Some(p) = &protocol {
            if p.is_empty() || HeaderName::from_bytes(p).is_err() {
                return Err(err("invalid :protocol"));
            }
        }
        let scheme = scheme.ok_or(err("missing :scheme"))?;
        let path = path.ok_or(err("missing :path"))?;
        if path.as_ref() == b"*" {
            if method != Method::OPTIONS {
                return Err(err(":path * without OPTIONS"));
            }
        } else if path.first() != Some(&b'/') || path.contains(&b'#') {
            return Err(err("invalid :path"));
        }
        let scheme = Scheme::try_from(&scheme[..]).map_err(|_| err("invalid :scheme"))?;
        let path = PathAndQuery::from_maybe_shared(path).map_err(|_| err("invalid :path"))?;
        let web = scheme == Scheme::HTTP || scheme == Scheme::HTTPS;
        match authority {
            Some(authority) => {
                let mut parts = Parts::default();
                parts.scheme = Some(scheme);
                parts.authority = Some(authority);
                parts.path_and_query = Some(path);
                Uri::from_parts(parts).map_err(|_| err("invalid request target"))?
            }
            None if web || protocol.is_some() => return Err(err("missing :authority")),
            // `Uri` cannot hold a scheme without an authority.
            None => Uri::from(path),
        }
    };
    Ok(RequestHead {
        method,
        uri,
        content_length: regular.content_length,
        headers: regular.finish(),
        protocol,
    })
}

/// Checks a trailer section: regular fields only.
pub fn trailers(stream: u32, fields: DecodedList) -> Result<HeaderMap, StreamError> {
    parse_trailers(fields).map_err(|m| malformed(stream, m.0))
}

/// Checks a trailer section's fields, as [`trailers`] does, for any protocol.
pub fn parse_trailers(
    fields: impl IntoIterator<Item = (Bytes, Bytes)>,
) -> Result<HeaderMap, Malformed> {
    let mut regular = Regular::default();
    for (name, value) in fields {
        if name.first() == Some(&b':') {
            return Err(Malformed("pseudo-header in trailers"));
        }
        regular.push(name, value).map_err(Malformed)?;
    }
    Ok(regular.finish())
}

/// The fields to encode for a response head: `:status` first, then `headers` without
/// the connection-specific fields HTTP/2 forbids (§8.2.2).
pub fn response_fields<'a>(
    status: &'a StatusCode,
    headers: &'a HeaderMap,
) -> impl Iterator<Item = (&'a [u8], &'a [u8])> + 'a {
    std::iter::once((&b":status"[..], status.as_str().as_bytes())).chain(trailer_fields(headers))
}

/// The size of a field section as SETTINGS_MAX_HEADER_LIST_SIZE (RFC 9113 §6.5.2) and
/// HTTP/3's SETTINGS_MAX_FIELD_SECTION_SIZE (RFC 9114 §4.2.2) count it: each field's
/// name and value, plus 32.
pub fn field_section_size<'a>(fields: impl Iterator<Item = (&'a [u8], &'a [u8])>) -> u64 {
    fields.map(|(n, v)| (n.len() + v.len() + 32) as u64).sum()
}

/// The fields to encode for trailers: `headers` without connection-specific fields.
pub fn trailer_fields(headers: &HeaderMap) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
    headers
        .iter()
        .filter(move |(name, _)| !outgoing_connection_specific(name, headers))
        .map(|(name, value)| (name.as_str().as_bytes(), value.as_bytes()))
}

/// The fields RFC 9113 §8.2.2 forbids (`te` is allowed in requests, with `trailers`).
const CONNECTION_SPECIFIC: [&[u8]; 5] = [
    b"connection",
    b"keep-alive",
    b"proxy-connection",
    b"transfer-encoding",
    b"upgrade",
];

/// Also drops the fields a `connection` field names, as an HTTP/1.1 origin would mean.
fn outgoing_connection_specific(name: &HeaderName, headers: &HeaderMap) -> bool {
    let name = name.as_str().as_bytes();
    CONNECTION_SPECIFIC.contains(&name)
        || name == b"te"
        || headers.get_all(header::CONNECTION).iter().any(|v| {
            v.as_bytes()
                .split(|&b| b == b',')
                .any(|t| trim(t).eq_ignore_ascii_case(name))
        })
}

fn malformed(stream: u32, reason: &'static str) -> StreamError {
    StreamError {
        stream,
        code: ErrorCode::PROTOCOL_ERROR,
        reason,
    }
}

/// Regular fields as they are checked and gathered.
#[derive(Default)]
struct Regular {
    map: HeaderMap,
    /// Whether any regular field came yet: pseudo-headers must come first.
    any: bool,
    host: Option<Bytes>,
    content_length: Option<u64>,
    /// The `cookie` crumbs joined with "; " (§8.2.3).
    cookie: Option<Vec<u8>>,
}

impl Regular {
    fn push(&mut self, name: Bytes, value: Bytes) -> Result<(), &'static str> {
        self.any = true;
        // `HeaderName` would quietly lowercase; HTTP/2 makes uppercase malformed.
        if name.is_empty() || name.iter().any(u8::is_ascii_uppercase) {
            return Err("invalid field name");
        }
        let name = HeaderName::from_bytes(&name).map_err(|_| "invalid field name")?;
        check_value(&value)?;
        if CONNECTION_SPECIFIC.contains(&name.as_str().as_bytes()) {
            return Err("connection-specific field");
        }
        if name == header::TE && !value.eq_ignore_ascii_case(b"trailers") {
            return Err("te other than trailers");
        }
        if name == header::CONTENT_LENGTH {
            self.content_length(&value)?;
        }
        if name == header::HOST {
            if self.host.is_some() {
                return Err("repeated host");
            }
            self.host = Some(value.clone());
        }
        let value = HeaderValue::from_maybe_shared(value).map_err(|_| "invalid field value")?;
        if name == header::COOKIE {
            match &mut self.cookie {
                Some(c) => {
                    c.extend_from_slice(b"; ");
                    c.extend_from_slice(value.as_bytes());
                }
                None => self.cookie = Some(value.as_bytes().to_vec()),
            }
            return Ok(());
        }
        self.map.append(name, value);
        Ok(())
    }

    /// Several values, as fields or a list, are allowed only if all the same.
    fn content_length(&mut self, v: &[u8]) -> Result<(), &'static str> {
        for item in v.split(|&b| b == b',') {
            let n = parse_decimal(trim(item)).ok_or("invalid content-length")?;
            if self.content_length.is_some_and(|m| m != n) {
                return Err("conflicting content-length");
            }
            self.content_length = Some(n);
        }
        Ok(())
    }

    fn finish(mut self) -> HeaderMap {
        if let Some(cookie) = self.cookie {
            // Each crumb was checked, and "; " is a valid joint.
            if let Ok(v) = HeaderValue::from_maybe_shared(Bytes::from(cookie)) {
                self.map.insert(header::COOKIE, v);
            }
        }
        self.map
    }
}

/// RFC 9113 §8.2.1: no NUL, CR or LF, no whitespace at either end. Other control
/// characters are refused when the value becomes a `HeaderValue`.
fn check_value(v: &[u8]) -> Result<(), &'static str> {
    if v.iter().any(|&b| matches!(b, b'\0' | b'\r' | b'\n')) {
        return Err("NUL, CR or LF in a field value");
    }
    let ws = |b: Option<&u8>| matches!(b, Some(b' ' | b'\t'));
    if ws(v.first()) || ws(v.last()) {
        return Err("whitespace around a field value");
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hpack::{Decoder, Encoder};

    const GET: [(&str, &str); 4] = [
        (":method", "GET"),
        (":scheme", "https"),
        (":authority", "example.com"),
        (":path", "/a?b"),
    ];

    fn list(fields: &[(&str, &str)]) -> DecodedList {
        let mut block = Vec::new();
        let pairs = fields.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes()));
        Encoder::new().encode(pairs, &mut block);
        Decoder::new()
            .decode(&block, usize::MAX)
            .expect("test blocks decode")
    }

    fn req(fields: &[(&str, &str)]) -> Result<RequestHead, StreamError> {
        request_head(7, list(fields), false)
    }

    fn get_with(extra: &[(&str, &str)]) -> Result<RequestHead, StreamError> {
        req(&[&GET[..], extra].concat())
    }

    #[track_caller]
    fn assert_malformed(r: Result<impl std::fmt::Debug, StreamError>, reason: &str) {
        let e = r.expect_err(reason);
        assert_eq!(
            (e.stream, e.code, e.reason),
            (7, ErrorCode::PROTOCOL_ERROR, reason)
        );
    }

    #[test]
    fn a_plain_request_gives_method_uri_and_headers() {
        let head = get_with(&[("accept", "*/*"), ("x-a", "1"), ("x-a", "2")]).expect("valid");
        assert_eq!(head.method, Method::GET);
        assert_eq!(head.uri, "https://example.com/a?b");
        assert_eq!(head.headers.get_all("x-a").iter().count(), 2);
        assert_eq!(head.headers["accept"], "*/*");
        assert_eq!(head.protocol, None);
        assert_eq!(head.content_length, None);
    }

    #[test]
    fn field_names_must_be_lowercase_tokens() {
        assert_malformed(get_with(&[("X-Upper", "1")]), "invalid field name");
        assert_malformed(get_with(&[("a b", "1")]), "invalid field name");
        assert_malformed(get_with(&[("a\"b", "1")]), "invalid field name");
        assert_malformed(get_with(&[("", "1")]), "invalid field name");
    }

    #[test]
    fn field_values_have_no_nul_cr_lf_or_outer_whitespace() {
        for bad in ["a\0b", "a\rb", "a\nb"] {
            assert_malformed(get_with(&[("x", bad)]), "NUL, CR or LF in a field value");
        }
        for bad in [" a", "a ", "\ta", "a\t"] {
            assert_malformed(get_with(&[("x", bad)]), "whitespace around a field value");
        }
        assert_malformed(get_with(&[("x", "a\x01b")]), "invalid field value");
        assert_malformed(
            req(&[(":method", "GET "), (":scheme", "https"), (":path", "/")]),
            "whitespace around a field value",
        );
        assert!(get_with(&[("x", ""), ("y", "a b\tc")]).is_ok());
    }

    #[test]
    fn connection_specific_fields_are_malformed() {
        for name in [
            "connection",
            "keep-alive",
            "proxy-connection",
            "transfer-encoding",
            "upgrade",
        ] {
            assert_malformed(get_with(&[(name, "x")]), "connection-specific field");
        }
        assert_malformed(get_with(&[("te", "gzip")]), "te other than trailers");
        assert!(get_with(&[("te", "trailers")]).is_ok());
    }

    #[test]
    fn pseudo_headers_are_known_single_and_first() {
        assert_malformed(get_with(&[(":status", "200")]), "unknown pseudo-header");
        assert_malformed(get_with(&[(":foo", "x")]), "unknown pseudo-header");
        assert_malformed(get_with(&[(":path", "/")]), "repeated pseudo-header");
        assert_malformed(get_with(&[(":method", "GET")]), "repeated pseudo-header");
        assert_malformed(
            req(&[
                (":method", "GET"),
                ("x", "1"),
                (":scheme", "https"),
                (":path", "/"),
            ]),
            "pseudo-header after a regular field",
        );
    }

    #[test]
    fn method_scheme_and_path_are_required() {
        assert_malformed(
            req(&[(":scheme", "https"), (":path", "/")]),
            "missing :method",
        );
        assert_malformed(
            req(&[(":method", "GET"), (":path", "/")]),
            "missing :scheme",
        );
        assert_malformed(
            req(&[(":method", "GET"), (":scheme", "https")]),
            "missing :path",
        );
        assert_malformed(
            req(&[(":method", "GET"), (":scheme", "https"), (":path", "/")]),
            "missing :authority",
        );
        let r = &[(":method", "G T"), (":scheme", "https"), (":path", "/")];
        assert_malformed(req(r), "invalid :method");
        let r = &[
            (":method", "GET"),
            (":scheme", "ht tp"),
            (":authority", "a"),
            (":path", "/"),
        ];
        assert_malformed(req(r), "invalid :scheme");
    }

    #[test]
    fn a_scheme_without_authority_gives_a_path_only_uri() {
        let head = req(&[(":method", "GET"), (":scheme", "foo"), (":path", "/x")]).expect("valid");
        assert_eq!(head.uri, "/x");
    }

    #[test]
    fn path_is_non_empty_absolute_or_star_for_options() {
        let with_path = |p| {
            req(&[
                (":method", "GET"),
                (":scheme", "https"),
                (":authority", "a"),
                (":path", p),
            ])
        };
        assert_malformed(with_path(""), "invalid :path");
        assert_malformed(with_path("a"), "invalid :path");
        assert_malformed(with_path("/a#frag"), "invalid :path");
        assert_malformed(with_path("*"), ":path * without OPTIONS");
        let star = req(&[
            (":method", "OPTIONS"),
            (":scheme", "https"),
            (":authority", "a"),
            (":path", "*"),
        ]);
        assert_eq!(star.expect("OPTIONS *").uri.path(), "*");
    }

    #[test]
    fn connect_has_only_method_and_authority() {
        let head =
            req(&[(":method", "CONNECT"), (":authority", "example.com:443")]).expect("valid");
        assert_eq!(head.method, Method::CONNECT);
        assert_eq!(
            head.uri.authority().map(|a| a.as_str()),
            Some("example.com:443")
        );
        assert_malformed(req(&[(":method", "CONNECT")]), "CONNECT without :authority");
        assert_malformed(
            req(&[
                (":method", "CONNECT"),
                (":authority", "a:1"),
                (":path", "/"),
            ]),
            "CONNECT with :scheme or :path",
        );
        assert_malformed(
            req(&[
                (":method", "CONNECT"),
                (":authority", "a:1"),
                (":scheme", "https"),
            ]),
            "CONNECT with :scheme or :path",
        );
    }

    #[test]
    fn protocol_needs_the_setting_and_extended_connect() {
        let ws = [
            (":method", "CONNECT"),
            (":protocol", "websocket"),
            (":scheme", "https"),
            (":authority", "example.com"),
            (":path", "/chat"),
        ];
        assert_malformed(req(&ws), "unknown pseudo-header");
        let head = request_head(7, list(&ws), true).expect("extended CONNECT");
        assert_eq!(head.protocol.as_deref(), Some(&b"websocket"[..]));
        assert_eq!(head.uri, "https://example.com/chat");
        let mut get = ws;
        get[0].1 = "GET";
        assert_malformed(
            request_head(7, list(&get), true),
            ":protocol without CONNECT",
        );
        assert_malformed(request_head(7, list(&ws[..4]), true), "missing :path");
        let mut bad = ws;
        bad[1].1 = "web socket";
        assert_malformed(request_head(7, list(&bad), true), "invalid :protocol");
    }

    #[test]
    fn host_and_authority_must_agree() {
        assert!(get_with(&[("host", "EXAMPLE.com")]).is_ok());
        assert_malformed(
            get_with(&[("host", "other.com")]),
            "host and :authority differ",
        );
        assert_malformed(
            req(&[
                (":method", "GET"),
                (":scheme", "https"),
                (":path", "/"),
                ("host", "a"),
                ("host", "a"),
            ]),
            "repeated host",
        );
        let head = req(&[
            (":method", "GET"),
            (":scheme", "http"),
            (":path", "/"),
            ("host", "h:8080"),
        ]);
        assert_eq!(head.expect("host as authority").uri, "http://h:8080/");
        assert_malformed(
            req(&[
                (":method", "GET"),
                (":scheme", "https"),
                (":authority", "u@h"),
                (":path", "/"),
            ]),
            "userinfo in :authority",
        );
        assert_malformed(
            req(&[
                (":method", "GET"),
                (":scheme", "https"),
                (":authority", "a b"),
                (":path", "/"),
            ]),
            "invalid :authority",
        );
    }

    #[test]
    fn content_length_is_strict_and_repeats_only_identically() {
        let len = |v: &[(&str, &str)]| get_with(v).map(|h| h.content_length);
        assert_eq!(len(&[("content-length", "42")]), Ok(Some(42)));
        assert_eq!(
            len(&[("content-length", "42"), ("content-length", "42")]),
            Ok(Some(42))
        );
        assert_eq!(len(&[("content-length", "42, 42")]), Ok(Some(42)));
        assert_malformed(
            len(&[("content-length", "42"), ("content-length", "43")]),
            "conflicting content-length",
        );
        for bad in ["", "+1", "-1", "0x10", "1 2", "18446744073709551616", "4,"] {
            assert_malformed(len(&[("content-length", bad)]), "invalid content-length");
        }
    }

    #[test]
    fn the_checks_take_any_list_of_fields_and_name_what_is_malformed() {
        let pair = |n: &'static str, v: &'static str| (Bytes::from(n), Bytes::from(v));
        let fields = vec![
            pair(":method", "GET"),
            pair(":scheme", "https"),
            pair(":authority", "a.example"),
            pair(":path", "/"),
        ];
        let head = parse_request_head(fields.clone(), false).expect("valid");
        assert_eq!(head.uri, "https://a.example/");
        let mut bad = fields;
        bad.push(pair(":status", "200"));
        assert_eq!(
            parse_request_head(bad, false).map(drop),
            Err(Malformed("unknown pseudo-header"))
        );
        assert_eq!(
            parse_trailers([pair(":path", "/")]).map(drop),
            Err(Malformed("pseudo-header in trailers"))
        );
    }

    #[test]
    fn split_cookies_are_joined() {
        let head = get_with(&[
            ("cookie", "a=1"),
            ("x", "y"),
            ("cookie", "b=2"),
            ("cookie", "c=3"),
        ])
        .expect("valid");
        let cookies: Vec<_> = head.headers.get_all("cookie").iter().collect();
        assert_eq!(cookies, ["a=1; b=2; c=3"]);
    }

    #[test]
    fn trailers_have_no_pseudo_headers_and_the_same_field_rules() {
        let t = trailers(7, list(&[("grpc-status", "0"), ("x", "1")])).expect("valid");
        assert_eq!(t["grpc-status"], "0");
        assert_malformed(
            trailers(7, list(&[(":path", "/")])),
            "pseudo-header in trailers",
        );
        assert_malformed(
            trailers(7, list(&[("x", "1"), (":status", "200")])),
            "pseudo-header in trailers",
        );
        assert_malformed(trailers(7, list(&[("Upper", "1")])), "invalid field name");
        assert_malformed(
            trailers(7, list(&[("connection", "close")])),
            "connection-specific field",
        );
        assert_malformed(
            trailers(7, list(&[("x", "a\nb")])),
            "NUL, CR or LF in a field value",
        );
    }

    #[test]
    fn responses_start_with_status_and_drop_connection_specific_fields() {
        let mut h = HeaderMap::new();
        for (n, v) in [
            ("content-type", "text/plain"),
            ("connection", "close, x-hop"),
            ("x-hop", "1"),
            ("keep-alive", "timeout=5"),
            ("transfer-encoding", "chunked"),
            ("upgrade", "h2c"),
            ("proxy-connection", "x"),
            ("te", "trailers"),
            ("x-end", "2"),
        ] {
            h.append(n, HeaderValue::from_static(v));
        }
        let status = StatusCode::NOT_FOUND;
        let fields: Vec<_> = response_fields(&status, &h).collect();
        let expect: [(&[u8], &[u8]); 3] = [
            (b":status", b"404"),
            (b"content-type", b"text/plain"),
            (b"x-end", b"2"),
        ];
        assert_eq!(fields, expect);
        assert_eq!(trailer_fields(&h).count(), 2);
    }
}

//! Property tests: split invariance, request round trip, response round trip.

mod common;

use common::*;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use proptest::prelude::*;
use roadrunner_h1::{BodyKind, Config, ErrorKind, Event, ServerConn};

#[derive(Debug, Clone)]
enum Body {
    None,
    Length(Vec<u8>),
    Chunked {
        chunks: Vec<(Vec<u8>, Option<String>)>,
        trailers: Vec<(String, String)>,
    },
}

#[derive(Debug, Clone)]
struct Req {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Body,
}

fn field_name() -> impl Strategy<Value = String> {
    "x-[a-z0-9-]{0,10}"
}

fn field_value() -> impl Strategy<Value = String> {
    // No leading or trailing whitespace: it is not part of a field value.
    prop_oneof!["", "[!-~]", "[!-~][ -~]{0,20}[!-~]"]
}

fn fields() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec((field_name(), field_value()), 0..6)
}

fn body() -> impl Strategy<Value = Body> {
    let ext = prop::option::of("[a-z]{1,5}(=[a-z0-9]{1,5})?");
    let chunk = (prop::collection::vec(any::<u8>(), 1..40), ext);
    prop_oneof![
        Just(Body::None),
        prop::collection::vec(any::<u8>(), 1..100).prop_map(Body::Length),
        (prop::collection::vec(chunk, 0..5), fields())
            .prop_map(|(chunks, trailers)| Body::Chunked { chunks, trailers }),
    ]
}

fn request() -> impl Strategy<Value = Req> {
    let method = prop_oneof![
        Just("GET".to_owned()),
        Just("POST".to_owned()),
        Just("PUT".to_owned()),
        Just("DELETE".to_owned()),
        "[A-Z]{1,10}",
    ];
    let path = "(/[a-zA-Z0-9._~-]{0,8}){1,4}(\\?[a-z0-9=&]{0,10})?";
    (method, path, fields(), body()).prop_map(|(method, path, headers, body)| Req {
        method,
        path,
        headers,
        body,
    })
}

fn serialize(r: &Req) -> Vec<u8> {
    let mut out = format!("{} {} HTTP/1.1\r\nhost: example.com\r\n", r.method, r.path).into_bytes();
    for (n, v) in &r.headers {
        out.extend_from_slice(format!("{n}: {v}\r\n").as_bytes());
    }
    match &r.body {
        Body::None => out.extend_from_slice(b"\r\n"),
        Body::Length(b) => {
            out.extend_from_slice(format!("content-length: {}\r\n\r\n", b.len()).as_bytes());
            out.extend_from_slice(b);
        }
        Body::Chunked { chunks, trailers } => {
            out.extend_from_slice(b"transfer-encoding: chunked\r\n\r\n");
            for (data, ext) in chunks {
                let ext = ext.as_ref().map(|e| format!(";{e}")).unwrap_or_default();
                out.extend_from_slice(format!("{:X}{ext}\r\n", data.len()).as_bytes());
                out.extend_from_slice(data);
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(b"0\r\n");
            for (n, v) in trailers {
                out.extend_from_slice(format!("{n}: {v}\r\n").as_bytes());
            }
            out.extend_from_slice(b"\r\n");
        }
    }
    out
}

/// The events a request must produce.
fn expected(r: &Req) -> Vec<Ev> {
    let mut headers = vec![("host".to_owned(), b"example.com".to_vec())];
    headers.extend(
        r.headers
            .iter()
            .map(|(n, v)| (n.clone(), v.clone().into_bytes())),
    );
    let (kind, data, trailers) = match &r.body {
        Body::None => (BodyKind::Empty, vec![], None),
        Body::Length(b) => {
            headers.push((
                "content-length".to_owned(),
                b.len().to_string().into_bytes(),
            ));
            (BodyKind::Length(b.len() as u64), b.clone(), None)
        }
        Body::Chunked { chunks, trailers } => {
            headers.push(("transfer-encoding".to_owned(), b"chunked".to_vec()));
            let data = chunks.iter().flat_map(|(d, _)| d.clone()).collect();
            let t = (!trailers.is_empty()).then(|| {
                trailers
                    .iter()
                    .map(|(n, v)| (n.clone(), v.clone().into_bytes()))
                    .collect()
            });
            (BodyKind::Chunked, data, t)
        }
    };
    let mut evs = vec![Ev::Req {
        method: r.method.clone(),
        uri: r.path.clone(),
        version: http::Version::HTTP_11,
        headers,
        body: kind,
        keep_alive: true,
        expect_continue: false,
        upgrade: false,
    }];
    if !data.is_empty() {
        evs.push(Ev::Data(data));
    }
    evs.push(Ev::End(trailers));
    evs
}

/// `BWS` (RFC 9110 §5.6.3).
fn bws() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop_oneof![Just(b' '), Just(b'\t')], 0..3)
}

/// A token (RFC 9110 §5.6.2).
fn token() -> impl Strategy<Value = Vec<u8>> {
    "[-!#$%&'*+.^_`|~0-9A-Za-z]{1,8}".prop_map(String::into_bytes)
}

/// A quoted-string (RFC 9110 §5.6.4): qdtext and quoted-pairs, obs-text included.
fn quoted() -> impl Strategy<Value = Vec<u8>> {
    let qdtext = prop_oneof![
        Just(b'\t'),
        Just(b' '),
        Just(0x21u8),
        0x23u8..=0x5b,
        0x5du8..=0x7e,
        0x80u8..=0xff,
    ]
    .prop_map(|b| vec![b]);
    let pair = prop_oneof![Just(b'\t'), Just(b' '), 0x21u8..=0x7e, 0x80u8..=0xff]
        .prop_map(|b| vec![b'\\', b]);
    prop::collection::vec(prop_oneof![3 => qdtext, 1 => pair], 0..8).prop_map(|parts| {
        let mut v = vec![b'"'];
        v.extend(parts.concat());
        v.push(b'"');
        v
    })
}

/// `*( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )` (RFC 9112 §7.1.1).
fn chunk_ext() -> impl Strategy<Value = Vec<u8>> {
    let value = (bws(), bws(), prop_oneof![token(), quoted()])
        .prop_map(|(before, after, val)| [before, b"=".to_vec(), after, val].concat());
    let one = (bws(), bws(), token(), prop::option::of(value)).prop_map(
        |(before, after, name, value)| {
            [
                before,
                b";".to_vec(),
                after,
                name,
                value.unwrap_or_default(),
            ]
            .concat()
        },
    );
    prop::collection::vec(one, 0..4).prop_map(|exts| exts.concat())
}

/// Bytes that are not allowed where they are put in [`bad_chunk_ext`].
fn not_tchar() -> impl Strategy<Value = u8> {
    any::<u8>().prop_filter("not a tchar", |b| {
        !b.is_ascii_alphanumeric() && !b"!#$%&'*+-.^_`|~".contains(b)
    })
}

/// A chunk extension that breaks RFC 9112 §7.1.1 in one place.
fn bad_chunk_ext() -> impl Strategy<Value = Vec<u8>> {
    let control = prop_oneof![0x00u8..=0x08, 0x0au8..=0x1f, Just(0x7fu8)];
    prop_oneof![
        // Whitespace at the end of the line.
        (
            chunk_ext(),
            prop::collection::vec(prop_oneof![Just(b' '), Just(b'\t')], 1..3)
        )
            .prop_map(|(ext, ws)| [ext, ws].concat()),
        // `;` with no name, or `=` with no value.
        (chunk_ext(), bws()).prop_map(|(ext, ws)| [ext, b";".to_vec(), ws].concat()),
        (chunk_ext(), token(), bws()).prop_map(|(ext, name, ws)| [
            ext,
            b";".to_vec(),
            name,
            b"=".to_vec(),
            ws
        ]
        .concat()),
        // A quoted value never closed.
        (chunk_ext(), token(), quoted()).prop_map(|(ext, name, mut q)| {
            q.pop();
            [ext, b";".to_vec(), name, b"=".to_vec(), q].concat()
        }),
        // A control byte inside a quoted value.
        (chunk_ext(), token(), control).prop_map(|(ext, name, c)| {
            [
                ext,
                b";".to_vec(),
                name,
                b"=\"".to_vec(),
                vec![c],
                b"\"".to_vec(),
            ]
            .concat()
        }),
        // Something other than a token char inside a name or a token value.
        (
            chunk_ext(),
            token(),
            not_tchar().prop_filter("separator", |b| *b != b';' && *b != b'='),
            token()
        )
            .prop_map(|(ext, a, bad, b)| [ext, b";".to_vec(), a, vec![bad], b].concat()),
        (
            chunk_ext(),
            token(),
            token(),
            not_tchar().prop_filter("separator", |b| *b != b';'),
            token()
        )
            .prop_map(|(ext, name, a, bad, b)| {
                [ext, b";".to_vec(), name, b"=".to_vec(), a, vec![bad], b].concat()
            }),
    ]
}

/// A POST with a chunked body: each chunk's data with the bytes after its size, then
/// those after the last chunk's size.
fn chunked_request(chunks: &[(Vec<u8>, Vec<u8>)], last_ext: &[u8]) -> Vec<u8> {
    let mut out = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for (data, ext) in chunks {
        out.extend_from_slice(format!("{:x}", data.len()).as_bytes());
        out.extend_from_slice(ext);
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(data);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0");
    out.extend_from_slice(last_ext);
    out.extend_from_slice(b"\r\n\r\n");
    out
}

/// Cuts `input` at the given points (taken modulo its length).
fn split<'a>(input: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
    cuts.push(0);
    cuts.push(input.len());
    cuts.sort_unstable();
    cuts.windows(2).map(|w| &input[w[0]..w[1]]).collect()
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn split_invariance(reqs in prop::collection::vec(request(), 1..5),
                        cuts in prop::collection::vec(any::<usize>(), 0..40)) {
        let input: Vec<u8> = reqs.iter().flat_map(serialize).collect();
        let config = Config::default();
        let whole = run_pieces(&config, [&input[..]], true);
        let pieces = run_pieces(&config, split(&input, &cuts), true);
        prop_assert_eq!(&whole, &pieces);
        let bytewise = run_pieces(&config, input.chunks(1), true);
        prop_assert_eq!(&whole, &bytewise);
    }

    /// Corrupted input must be refused (or accepted) the same way however it is split.
    #[test]
    fn split_invariance_corrupted(reqs in prop::collection::vec(request(), 1..4),
                                  edits in prop::collection::vec((any::<usize>(), any::<u8>()), 1..4),
                                  cuts in prop::collection::vec(any::<usize>(), 0..40)) {
        let mut input: Vec<u8> = reqs.iter().flat_map(serialize).collect();
        for (at, byte) in edits {
            let at = at % input.len();
            input[at] = byte;
        }
        let config = Config { max_content_length: 64, max_header_count: 6, ..Config::default() };
        let whole = run_pieces(&config, [&input[..]], true);
        prop_assert_eq!(&whole, &run_pieces(&config, split(&input, &cuts), true));
        prop_assert_eq!(&whole, &run_pieces(&config, input.chunks(1), true));
    }

    /// Valid chunk extensions carry no meaning here: the body decodes exactly as it
    /// does without them, however the input is split.
    #[test]
    fn chunk_extensions_are_ignored(
        chunks in prop::collection::vec((prop::collection::vec(any::<u8>(), 1..20), chunk_ext()), 0..4),
        last_ext in chunk_ext(),
        cuts in prop::collection::vec(any::<usize>(), 0..20),
    ) {
        let with = chunked_request(&chunks, &last_ext);
        let plain: Vec<(Vec<u8>, Vec<u8>)> = chunks.iter().map(|(d, _)| (d.clone(), vec![])).collect();
        let without = chunked_request(&plain, b"");
        let config = Config::default();
        let expected = run_pieces(&config, [&without[..]], true).0;
        prop_assert!(matches!(expected.last(), Some(Ev::End(None))), "{:?}", expected);
        prop_assert_eq!(&run_pieces(&config, [&with[..]], true).0, &expected);
        prop_assert_eq!(&run_pieces(&config, split(&with, &cuts), true).0, &expected);
    }

    /// An extension that breaks the grammar anywhere is refused, whichever chunk it is on.
    #[test]
    fn bad_chunk_extensions_are_refused(
        chunks in prop::collection::vec((prop::collection::vec(any::<u8>(), 1..20), chunk_ext()), 1..4),
        bad in bad_chunk_ext(),
        at in any::<usize>(),
    ) {
        let mut chunks = chunks;
        let at = at % (chunks.len() + 1);
        let last_ext = if at == chunks.len() {
            bad.clone()
        } else {
            chunks[at].1 = bad.clone();
            vec![]
        };
        let input = chunked_request(&chunks, &last_ext);
        let (evs, _) = run_pieces(&Config::default(), input.chunks(7), true);
        prop_assert!(
            matches!(evs.last(), Some(Ev::Err(ErrorKind::BadRequest(_)))),
            "{:?}: {:?}", String::from_utf8_lossy(&bad), evs
        );
    }

    #[test]
    fn request_round_trip(reqs in prop::collection::vec(request(), 1..4)) {
        let input: Vec<u8> = reqs.iter().flat_map(serialize).collect();
        let (evs, _) = run_pieces(&Config::default(), [&input[..]], true);
        let expected: Vec<Ev> = reqs.iter().flat_map(expected).collect();
        prop_assert_eq!(normalize(evs), normalize(expected));
    }

    #[test]
    fn response_round_trip(
        status in prop_oneof![200u16..600, Just(204u16), Just(304u16)],
        headers in fields(),
        body in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..30), 0..4),
        known_len in any::<bool>(),
        head in any::<bool>(),
        http10 in any::<bool>(),
        trailers in fields(),
    ) {
        let req: &[u8] = match (head, http10) {
            (true, true) => b"HEAD / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
            (true, false) => b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n",
            (false, true) => b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
            (false, false) => b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        };
        let mut conn = ServerConn::new(Config::default());
        conn.recv(req);
        prop_assert!(matches!(conn.poll_event(), Ok(Some(Event::Request(_)))));
        let mut map = HeaderMap::new();
        for (n, v) in &headers {
            map.append(HeaderName::from_bytes(n.as_bytes()).unwrap(), HeaderValue::from_str(v).unwrap());
        }
        let mut tmap = HeaderMap::new();
        for (n, v) in &trailers {
            tmap.append(HeaderName::from_bytes(n.as_bytes()).unwrap(), HeaderValue::from_str(v).unwrap());
        }
        let all: Vec<u8> = body.concat();
        let len = known_len.then_some(all.len() as u64);
        let status = StatusCode::from_u16(status).unwrap();
        let mut out = Vec::new();
        conn.send_response(status, &map, len, now(), &mut out).unwrap();
        for piece in &body {
            conn.send_data(piece, &mut out).unwrap();
        }
        conn.send_end(Some(&tmap), &mut out).unwrap();

        let mut slots = [httparse::EMPTY_HEADER; 64];
        let mut resp = httparse::Response::new(&mut slots);
        let n = match resp.parse(&out) {
            Ok(httparse::Status::Complete(n)) => n,
            other => return Err(TestCaseError::fail(format!("unparsable response {other:?}"))),
        };
        prop_assert_eq!(resp.code, Some(status.as_u16()));
        let got: Vec<(String, String)> = resp.headers.iter()
            .filter(|h| !["date", "content-length", "transfer-encoding", "connection"].contains(&h.name))
            .map(|h| (h.name.to_owned(), String::from_utf8(h.value.to_vec()).unwrap()))
            .collect();
        prop_assert_eq!(by_name(got), by_name(headers.clone()));
        let field = |name: &str| resp.headers.iter().find(|h| h.name == name).map(|h| h.value.to_vec());
        let rest = &out[n..];
        let no_body = head || status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED;
        let (got_body, got_trailers) = if no_body {
            prop_assert!(rest.is_empty());
            (vec![], vec![])
        } else if let Some(cl) = field("content-length") {
            prop_assert_eq!(String::from_utf8(cl).unwrap(), all.len().to_string());
            (rest.to_vec(), vec![])
        } else if field("transfer-encoding").as_deref() == Some(b"chunked") {
            dechunk(rest)
        } else {
            prop_assert!(http10 && conn.is_closed(), "close-delimited only for HTTP/1.0");
            (rest.to_vec(), vec![])
        };
        if !no_body {
            prop_assert_eq!(got_body, all);
        }
        if !no_body && !known_len && !http10 {
            prop_assert_eq!(by_name(got_trailers), by_name(trailers));
        }
        prop_assert!(field("date").is_some());
    }
}

/// A `HeaderMap` keeps the values of one name together; sorting by name (stably) makes
/// lists comparable without losing the order of repeated fields.
fn by_name<V>(mut fields: Vec<(String, V)>) -> Vec<(String, V)> {
    fields.sort_by(|a, b| a.0.cmp(&b.0));
    fields
}

fn normalize(evs: Vec<Ev>) -> Vec<Ev> {
    evs.into_iter()
        .map(|e| match e {
            Ev::Req {
                method,
                uri,
                version,
                headers,
                body,
                keep_alive,
                expect_continue,
                upgrade,
            } => {
                let headers = by_name(headers);
                Ev::Req {
                    method,
                    uri,
                    version,
                    headers,
                    body,
                    keep_alive,
                    expect_continue,
                    upgrade,
                }
            }
            Ev::End(t) => Ev::End(t.map(by_name)),
            other => other,
        })
        .collect()
}

/// Strict chunked decoding for checking the encoder.
fn dechunk(mut b: &[u8]) -> (Vec<u8>, Vec<(String, String)>) {
    let mut body = Vec::new();
    loop {
        let line_end = b
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("chunk size line");
        let size = usize::from_str_radix(std::str::from_utf8(&b[..line_end]).unwrap(), 16).unwrap();
        b = &b[line_end + 2..];
        if size == 0 {
            break;
        }
        body.extend_from_slice(&b[..size]);
        assert_eq!(&b[size..size + 2], b"\r\n");
        b = &b[size + 2..];
    }
    let mut slots = [httparse::EMPTY_HEADER; 64];
    let Ok(httparse::Status::Complete((n, fields))) = httparse::parse_headers(b, &mut slots) else {
        panic!("bad trailer section");
    };
    assert_eq!(n, b.len(), "bytes after the trailer section");
    let trailers = fields
        .iter()
        .map(|h| {
            (
                h.name.to_owned(),
                String::from_utf8(h.value.to_vec()).unwrap(),
            )
        })
        .collect();
    (body, trailers)
}

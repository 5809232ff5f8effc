//! The opening handshake: RFC 6455 §4.2 over HTTP/1.1, RFC 8441 / RFC 9220 extended
//! CONNECT.

use roadrunner_ws::http::{HeaderMap, HeaderValue, Method, StatusCode, Version};
use roadrunner_ws::{
    check_extended_connect, check_upgrade, AcceptOptions, DeflateParams, HandshakeErrorKind,
};

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

fn headers(fields: &[(&'static str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (name, value) in fields {
        h.append(*name, HeaderValue::from_str(value).unwrap());
    }
    h
}

fn upgrade_request() -> HeaderMap {
    headers(&[
        ("host", "server.example.com"),
        ("upgrade", "websocket"),
        ("connection", "Upgrade"),
        ("sec-websocket-key", KEY),
        ("sec-websocket-version", "13"),
    ])
}

fn without(mut h: HeaderMap, name: &str) -> HeaderMap {
    h.remove(name);
    h
}

fn with(mut h: HeaderMap, name: &'static str, value: &str) -> HeaderMap {
    h.insert(name, HeaderValue::from_str(value).unwrap());
    h
}

fn upgrade_error(method: Method, version: Version, h: &HeaderMap) -> HandshakeErrorKind {
    check_upgrade(&method, version, h).unwrap_err().kind()
}

#[test]
fn valid_upgrade_is_answered_101_with_the_accept_key() {
    let hs = check_upgrade(&Method::GET, Version::HTTP_11, &upgrade_request()).unwrap();
    let a = hs.accept(&AcceptOptions::default());
    assert_eq!(a.status, StatusCode::SWITCHING_PROTOCOLS);
    assert_eq!(a.headers["upgrade"], "websocket");
    assert_eq!(a.headers["connection"], "Upgrade");
    assert_eq!(
        a.headers["sec-websocket-accept"],
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    );
    assert!(!a.headers.contains_key("sec-websocket-protocol"));
    assert!(!a.headers.contains_key("sec-websocket-extensions"));
    assert_eq!((a.protocol, a.deflate), (None, None));
}

#[test]
fn upgrade_and_connection_are_case_insensitive_tokens_in_lists() {
    let h = with(upgrade_request(), "upgrade", "h2c, WebSocket");
    let h = with(h, "connection", "keep-alive, UPGRADE");
    assert!(check_upgrade(&Method::GET, Version::HTTP_11, &h).is_ok());
    let mut h = without(upgrade_request(), "connection");
    h.append("connection", HeaderValue::from_static("keep-alive"));
    h.append("connection", HeaderValue::from_static("upgrade"));
    assert!(check_upgrade(&Method::GET, Version::HTTP_11, &h).is_ok());
}

#[test]
fn later_http_versions_are_fine_and_earlier_are_400() {
    assert!(check_upgrade(&Method::GET, Version::HTTP_2, &upgrade_request()).is_ok());
    let e = check_upgrade(&Method::GET, Version::HTTP_10, &upgrade_request()).unwrap_err();
    assert_eq!(e.kind(), HandshakeErrorKind::HttpVersion);
    assert_eq!(e.status(), StatusCode::BAD_REQUEST);
    assert!(e.headers().is_empty());
}

#[test]
fn bad_requests_are_400() {
    let h = upgrade_request();
    let cases = [
        (
            upgrade_error(Method::POST, Version::HTTP_11, &h),
            HandshakeErrorKind::NotGet,
        ),
        (
            upgrade_error(
                Method::GET,
                Version::HTTP_11,
                &without(h.clone(), "upgrade"),
            ),
            HandshakeErrorKind::NoUpgrade,
        ),
        (
            upgrade_error(
                Method::GET,
                Version::HTTP_11,
                &with(h.clone(), "upgrade", "websockets"),
            ),
            HandshakeErrorKind::NoUpgrade,
        ),
        (
            upgrade_error(
                Method::GET,
                Version::HTTP_11,
                &without(h.clone(), "connection"),
            ),
            HandshakeErrorKind::NoConnectionUpgrade,
        ),
        (
            upgrade_error(
                Method::GET,
                Version::HTTP_11,
                &with(h.clone(), "connection", "close"),
            ),
            HandshakeErrorKind::NoConnectionUpgrade,
        ),
        (
            upgrade_error(
                Method::GET,
                Version::HTTP_11,
                &with(h.clone(), "sec-websocket-protocol", "a b"),
            ),
            HandshakeErrorKind::BadProtocols,
        ),
    ];
    for (got, want) in cases {
        assert_eq!(got, want);
    }
    let e = check_upgrade(&Method::POST, Version::HTTP_11, &h).unwrap_err();
    assert_eq!(e.status(), StatusCode::BAD_REQUEST);
}

#[test]
fn key_must_be_the_base64_of_16_bytes_sent_once() {
    let h = upgrade_request();
    for bad in [
        "",
        "dGhlIHNhbXBsZSBub25jZQ",   // no padding
        "dGhlIHNhbXBsZSBub25jZXg=", // 17 bytes
        "dGhlIHNhbXBsZSBub25j",     // 15 bytes
        "dGhlIHNhbXBsZSBub25jZQ==x",
        "!GhlIHNhbXBsZSBub25jZQ==",
    ] {
        let e = upgrade_error(
            Method::GET,
            Version::HTTP_11,
            &with(h.clone(), "sec-websocket-key", bad),
        );
        assert_eq!(e, HandshakeErrorKind::BadKey, "{bad:?}");
    }
    assert_eq!(
        upgrade_error(
            Method::GET,
            Version::HTTP_11,
            &without(h.clone(), "sec-websocket-key")
        ),
        HandshakeErrorKind::BadKey
    );
    let mut twice = h.clone();
    twice.append("sec-websocket-key", HeaderValue::from_static(KEY));
    assert_eq!(
        upgrade_error(Method::GET, Version::HTTP_11, &twice),
        HandshakeErrorKind::BadKey
    );
}

#[test]
fn other_versions_get_426_naming_13() {
    let h = upgrade_request();
    for h in [
        without(h.clone(), "sec-websocket-version"),
        with(h.clone(), "sec-websocket-version", "8"),
        with(h.clone(), "sec-websocket-version", "13, 8"),
    ] {
        let e = check_upgrade(&Method::GET, Version::HTTP_11, &h).unwrap_err();
        assert_eq!(e.kind(), HandshakeErrorKind::UnsupportedVersion);
        assert_eq!(e.status(), StatusCode::UPGRADE_REQUIRED);
        let headers = e.headers();
        assert_eq!(headers["sec-websocket-version"], "13");
        assert_eq!(headers["upgrade"], "websocket");
        assert_eq!(headers["connection"], "Upgrade");
    }
}

#[test]
fn subprotocol_is_the_servers_first_preference_the_client_offered() {
    let h = with(
        upgrade_request(),
        "sec-websocket-protocol",
        "chat, superchat",
    );
    let hs = check_upgrade(&Method::GET, Version::HTTP_11, &h).unwrap();
    assert_eq!(hs.protocols(), ["chat", "superchat"]);
    let a = hs.accept(&AcceptOptions {
        protocols: &["mqtt", "superchat", "chat"],
        deflate: false,
    });
    assert_eq!(a.protocol.as_deref(), Some("superchat"));
    assert_eq!(a.headers["sec-websocket-protocol"], "superchat");

    let none = hs.accept(&AcceptOptions {
        protocols: &["mqtt", "Chat"],
        deflate: false,
    });
    assert_eq!(none.protocol, None);
    assert!(!none.headers.contains_key("sec-websocket-protocol"));
    assert_eq!(none.status, StatusCode::SWITCHING_PROTOCOLS);
}

#[test]
fn protocols_across_several_fields_keep_the_clients_order() {
    let mut h = upgrade_request();
    h.append("sec-websocket-protocol", HeaderValue::from_static("a"));
    h.append("sec-websocket-protocol", HeaderValue::from_static("b, c"));
    let hs = check_upgrade(&Method::GET, Version::HTTP_11, &h).unwrap();
    assert_eq!(hs.protocols(), ["a", "b", "c"]);
    assert_eq!(hs.select_protocol(&["c", "b"]), Some("c"));
}

#[test]
fn permessage_deflate_is_agreed_only_when_allowed() {
    let h = with(
        upgrade_request(),
        "sec-websocket-extensions",
        "permessage-deflate; client_max_window_bits; server_no_context_takeover",
    );
    let hs = check_upgrade(&Method::GET, Version::HTTP_11, &h).unwrap();
    assert!(hs.deflate_offered());
    let a = hs.accept(&AcceptOptions {
        protocols: &[],
        deflate: true,
    });
    assert_eq!(
        a.headers["sec-websocket-extensions"],
        "permessage-deflate; server_no_context_takeover"
    );
    assert_eq!(
        a.deflate,
        Some(DeflateParams {
            server_no_context_takeover: true,
            ..DeflateParams::default()
        })
    );
    let off = hs.accept(&AcceptOptions {
        protocols: &[],
        deflate: false,
    });
    assert_eq!(off.deflate, None);
    assert!(!off.headers.contains_key("sec-websocket-extensions"));
}

#[test]
fn malformed_offer_is_declined_for_the_next() {
    let mut h = upgrade_request();
    h.append(
        "sec-websocket-extensions",
        HeaderValue::from_static("permessage-deflate; server_max_window_bits=20"),
    );
    h.append(
        "sec-websocket-extensions",
        HeaderValue::from_static("permessage-deflate; server_max_window_bits=12"),
    );
    let hs = check_upgrade(&Method::GET, Version::HTTP_11, &h).unwrap();
    let a = hs.accept(&AcceptOptions {
        protocols: &[],
        deflate: true,
    });
    assert_eq!(
        a.headers["sec-websocket-extensions"],
        "permessage-deflate; server_max_window_bits=12"
    );
    assert_eq!(a.deflate.unwrap().server_max_window_bits, 12);
}

fn connect_request() -> HeaderMap {
    headers(&[
        ("sec-websocket-version", "13"),
        ("sec-websocket-protocol", "chat"),
        ("sec-websocket-extensions", "permessage-deflate"),
    ])
}

#[test]
fn extended_connect_is_answered_200_without_key_or_accept() {
    let hs =
        check_extended_connect(&Method::CONNECT, Some("websocket"), &connect_request()).unwrap();
    let a = hs.accept(&AcceptOptions {
        protocols: &["chat"],
        deflate: true,
    });
    assert_eq!(a.status, StatusCode::OK);
    assert!(!a.headers.contains_key("sec-websocket-accept"));
    assert!(!a.headers.contains_key("upgrade"));
    assert!(!a.headers.contains_key("connection"));
    assert_eq!(a.headers["sec-websocket-protocol"], "chat");
    assert_eq!(a.headers["sec-websocket-extensions"], "permessage-deflate");
    assert_eq!(a.deflate, Some(DeflateParams::default()));
}

#[test]
fn extended_connect_negotiates_like_an_upgrade() {
    let mut h1 = upgrade_request();
    for (name, value) in connect_request().iter() {
        h1.insert(name, value.clone());
    }
    let options = AcceptOptions {
        protocols: &["x", "chat"],
        deflate: true,
    };
    let over_h1 = check_upgrade(&Method::GET, Version::HTTP_11, &h1)
        .unwrap()
        .accept(&options);
    let over_h2 = check_extended_connect(&Method::CONNECT, Some("websocket"), &connect_request())
        .unwrap()
        .accept(&options);
    assert_eq!(over_h1.protocol, over_h2.protocol);
    assert_eq!(over_h1.deflate, over_h2.deflate);
    assert_eq!(
        over_h1.headers["sec-websocket-extensions"],
        over_h2.headers["sec-websocket-extensions"]
    );
}

#[test]
fn extended_connect_refusals() {
    let h = connect_request();
    let e = check_extended_connect(&Method::GET, Some("websocket"), &h).unwrap_err();
    assert_eq!(
        (e.kind(), e.status()),
        (HandshakeErrorKind::NotConnect, StatusCode::BAD_REQUEST)
    );
    for protocol in [None, Some("webtransport")] {
        let e = check_extended_connect(&Method::CONNECT, protocol, &h).unwrap_err();
        assert_eq!(e.kind(), HandshakeErrorKind::NotWebSocket);
    }
    assert!(check_extended_connect(&Method::CONNECT, Some("WebSocket"), &h).is_ok());
    let e = check_extended_connect(
        &Method::CONNECT,
        Some("websocket"),
        &without(h, "sec-websocket-version"),
    )
    .unwrap_err();
    assert_eq!(e.status(), StatusCode::UPGRADE_REQUIRED);
    let headers = e.headers();
    assert_eq!(headers["sec-websocket-version"], "13");
    assert!(
        !headers.contains_key("upgrade"),
        "HTTP/2 and HTTP/3 forbid Upgrade"
    );
    assert!(!headers.contains_key("connection"));
}

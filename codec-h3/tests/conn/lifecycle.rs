//! A connection's life beyond single requests: graceful shutdown, the flood budgets,
//! and the endpoint's own decisions (refusing, Retry, TLS that cannot do QUIC).

use std::sync::Arc;

use roadrunner_h3::http::{HeaderMap, StatusCode};
use roadrunner_h3::quinn_proto::{ConnectionError, TransportErrorCode};
use roadrunner_h3::{
    frame, rustls, CloseReason, Config, ConfigError, Endpoint, ErrorCode, Event, ServerConn,
};

use crate::pair::{app_code, get, request, tls, Network, Pair, Setup};

fn closed_locally(p: &Pair) -> Option<ErrorCode> {
    p.events.iter().find_map(|e| match e {
        Event::Closed(CloseReason::Local(e)) => Some(e.code),
        _ => None,
    })
}

#[test]
fn shutdown_lets_streams_in_flight_finish_and_refuses_new_ones() {
    let mut p = Pair::new();
    let a = p.client.send_request(&get("/a"), b"", true);
    let b = p
        .client
        .send_request(&request("POST", "/b", &[]), b"part", false);
    p.run();
    assert!(matches!(p.expect_event(), Event::Request { stream, .. } if stream == a));
    assert!(matches!(p.expect_event(), Event::Request { stream, .. } if stream == b));
    assert!(matches!(p.expect_event(), Event::Data { .. }));

    p.server().shutdown();
    p.run();
    assert_eq!(p.client.goaway, Some(8), "the first stream not opened");
    let c = p.client.send_request(&get("/c"), b"", true);
    p.run();
    assert_eq!(
        p.client.responses[&c].reset,
        Some(ErrorCode::H3_REQUEST_REJECTED.0),
        "a stream past the GOAWAY is not processed"
    );
    assert!(p.event().is_none());

    p.server()
        .send_response(a, StatusCode::OK, &HeaderMap::new(), true)
        .expect("a");
    p.run_for(std::time::Duration::from_secs(1));
    assert!(!p.server().is_closed(), "b is still in flight");
    let mut rest = Vec::new();
    frame::encode_data(b" and the rest", &mut rest);
    p.client.write_request(b, rest, true);
    p.run();
    assert!(matches!(
        p.expect_event(),
        Event::Data {
            end_stream: true,
            ..
        }
    ));
    p.server()
        .send_response(b, StatusCode::OK, &HeaderMap::new(), true)
        .expect("b");
    p.run_until(|p| p.client.lost.is_some());
    assert!(p.client.responses[&a].complete() && p.client.responses[&b].complete());
    assert_eq!(closed_locally(&p), Some(ErrorCode::H3_NO_ERROR));
    assert_eq!(
        p.client.lost.as_ref().and_then(app_code),
        Some(ErrorCode::H3_NO_ERROR.0)
    );
}

#[test]
fn shutdown_of_an_idle_connection_closes_it_at_once() {
    let mut p = Pair::new();
    p.server().shutdown();
    assert!(p.server().is_closed());
    p.run_until(|p| p.client.lost.is_some());
    assert_eq!(closed_locally(&p), Some(ErrorCode::H3_NO_ERROR));
    p.run_until(|p| p.server().is_drained());
    assert_eq!(p.endpoint.open_connections(), 0);
}

#[test]
fn empty_data_frames_run_the_budget_dry() {
    let mut p = Pair::new();
    let id = p.client.open_request();
    let mut bytes = p.client.headers_frame(id, &request("POST", "/", &[]));
    for _ in 0..300 {
        frame::encode_data(b"", &mut bytes);
    }
    p.client.write(id, bytes, false);
    p.run_until(|p| p.client.lost.is_some());
    assert_eq!(closed_locally(&p), Some(ErrorCode::H3_EXCESSIVE_LOAD));
    assert_eq!(
        p.client.lost.as_ref().and_then(app_code),
        Some(ErrorCode::H3_EXCESSIVE_LOAD.0)
    );
}

#[test]
fn unknown_frames_on_the_control_stream_run_the_budget_dry() {
    let mut p = Pair::with(Config::default(), Network::default(), Setup::Bare);
    let mut bytes = p.client.settings_bytes();
    for _ in 0..255 {
        frame::encode_unknown(0x21, b"", &mut bytes);
    }
    let control = p.client.open_uni(bytes, false);
    p.run();
    assert!(closed_locally(&p).is_none(), "within the burst");
    let mut more = Vec::new();
    for _ in 0..2 {
        frame::encode_unknown(0x40, b"x", &mut more);
    }
    p.client.write(control, more, false);
    p.run_until(|p| p.client.lost.is_some());
    assert_eq!(closed_locally(&p), Some(ErrorCode::H3_EXCESSIVE_LOAD));
}

#[test]
fn streams_opened_and_reset_at_once_run_the_budget_dry() {
    let mut p = Pair::new();
    let mut reset = 0;
    for _ in 0..20 {
        if p.client.lost.is_some() {
            break;
        }
        for _ in 0..40 {
            let s = p.client.send_request(&get("/"), b"", false);
            p.client.reset(s, ErrorCode::H3_REQUEST_CANCELLED.0, true);
            reset += 1;
        }
        p.run_for(std::time::Duration::from_millis(200));
    }
    assert_eq!(closed_locally(&p), Some(ErrorCode::H3_EXCESSIVE_LOAD));
    assert!(reset > 200, "not before the burst: {reset}");
}

#[test]
fn a_client_may_be_refused_or_asked_to_retry() {
    let mut p = Pair::unconnected(Config::default(), Network::default(), Setup::Full);
    p.endpoint.set_accepting(false);
    p.run_until(|p| p.client.lost.is_some());
    assert!(p.conn.is_none());
    assert_eq!(p.endpoint_answers, 1);
    match p.client.lost.as_ref() {
        Some(ConnectionError::ConnectionClosed(close)) => {
            assert_eq!(close.error_code, TransportErrorCode::CONNECTION_REFUSED)
        }
        other => panic!("refused: {other:?}"),
    }

    let config = Config {
        validate_addresses: true,
        ..Config::default()
    };
    let mut p = Pair::with(config, Network::default(), Setup::Full);
    assert_eq!(p.endpoint_answers, 1, "a Retry, then the connection");
    let s = p.client.send_request(&get("/"), b"", true);
    p.run();
    assert!(matches!(p.expect_event(), Event::Request { stream, .. } if stream == s));
}

#[test]
fn tls_without_tls13_is_refused_when_the_endpoint_is_built() {
    let (server, _) = tls();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls12 = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS12])
        .expect("versions")
        .with_no_client_auth()
        .with_cert_resolver(server.cert_resolver.clone());
    let e = Endpoint::new(Arc::new(tls12), Config::default()).expect_err("no TLS 1.3");
    assert!(matches!(e, ConfigError::Tls(_)), "{e}");
    let bad = Config {
        max_streams_bidi: 0,
        ..Config::default()
    };
    assert!(matches!(
        Endpoint::new(server, bad),
        Err(ConfigError::Invalid(_))
    ));
}

#[test]
fn the_endpoint_and_connections_can_move_between_threads() {
    fn send<T: Send>() {}
    send::<Endpoint>();
    send::<ServerConn>();
}

//! Requests answered: heads, bodies, trailers, many streams, and the same on a network
//! that loses and reorders datagrams.

use std::collections::{HashMap, VecDeque};

use roadrunner_h3::bytes::Bytes;
use roadrunner_h3::http::{HeaderMap, HeaderValue, Method, StatusCode};
use roadrunner_h3::qpack::{Decoder, DecoderConfig};
use roadrunner_h3::{frame, Config, Event, SendError};

use crate::pair::{get, request, Network, Pair, Setup};

/// An application that answers each request with its own body, in the pieces it came
/// in, releasing each piece as it takes it.
#[derive(Default)]
pub struct Echo {
    /// Per stream: pieces not yet taken by `send_data`, and whether the body ended.
    queues: HashMap<u64, (VecDeque<Bytes>, bool)>,
    /// Streams whose response has ended.
    pub done: Vec<u64>,
}

impl Echo {
    /// Takes the server's events and answers what can be answered.
    pub fn serve(&mut self, p: &mut Pair) {
        while let Some(event) = p.event() {
            match event {
                Event::Request {
                    stream, end_stream, ..
                } => {
                    p.server()
                        .send_response(stream, StatusCode::OK, &HeaderMap::new(), false)
                        .expect("head");
                    self.queues.insert(stream, (VecDeque::new(), end_stream));
                }
                Event::Data {
                    stream,
                    data,
                    end_stream,
                } => {
                    p.server().release(stream, data.len());
                    let (queue, ended) = self.queues.get_mut(&stream).expect("known stream");
                    if !data.is_empty() {
                        queue.push_back(data);
                    }
                    *ended |= end_stream;
                }
                Event::Writable { .. } => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        for (&stream, (queue, ended)) in self.queues.iter_mut() {
            while let Some(piece) = queue.front() {
                let last = *ended && queue.len() == 1;
                match p.server().send_data(stream, piece.clone(), last) {
                    Ok(()) => {
                        queue.pop_front();
                        if last {
                            self.done.push(stream);
                        }
                    }
                    Err(SendError::Full) => break,
                    Err(e) => panic!("send_data: {e}"),
                }
            }
            if queue.is_empty() && *ended && !self.done.contains(&stream) {
                p.server()
                    .send_data(stream, Bytes::new(), true)
                    .expect("end");
                self.done.push(stream);
            }
        }
    }
}

/// A body of `len` bytes that differ from one position to the next.
pub fn body(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

#[test]
fn a_get_is_answered() {
    let mut p = Pair::new();
    let s = p.client.send_request(&get("/hello?x=1"), b"", true);
    p.run();
    let Event::Request {
        stream,
        head,
        end_stream,
    } = p.expect_event()
    else {
        panic!("a request")
    };
    assert_eq!(stream, s);
    assert_eq!(head.method, Method::GET);
    assert_eq!(head.uri, "https://localhost/hello?x=1");
    assert!(end_stream, "the FIN came with the HEADERS");
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("text/plain"));
    p.server()
        .send_response(stream, StatusCode::OK, &headers, false)
        .expect("head");
    p.server()
        .send_data(stream, "hi there".into(), true)
        .expect("body");
    p.run();
    let r = &p.client.responses[&s];
    assert!(r.complete());
    assert_eq!(r.status(), Some(200));
    assert_eq!(r.header("content-type"), Some("text/plain"));
    assert_eq!(r.body, b"hi there");
    assert!(p.event().is_none());
    // Forgotten once the client has acknowledged the whole response.
    p.run_until(|p| p.server().open_streams() == 0);
    assert_eq!(
        p.server().send_data(stream, "more".into(), true),
        Err(SendError::UnknownStream)
    );
}

#[test]
fn a_head_over_the_clients_max_field_section_size_is_refused_before_encoding() {
    let mut p = Pair::unconnected(Config::default(), Network::default(), Setup::Full);
    // Advertised in the client's SETTINGS, and enforced by its decoder.
    p.client.decoder = Decoder::new(DecoderConfig {
        max_field_section_size: 200,
        ..DecoderConfig::default()
    });
    p.run_until(|p| p.conn.is_some() && p.server().peer_settings().is_some());
    let s = p.client.send_request(&get("/"), b"", true);
    p.run_until(|p| p.event().is_some());
    let mut big = HeaderMap::new();
    // 5 + 200 + 32 = 237 alone, 279 with `:status` (7 + 3 + 32); `x-small` is 139
    // alone and 181 with `:status`.
    big.insert(
        "x-big",
        HeaderValue::from_str(&"v".repeat(200)).expect("value"),
    );
    let mut small = HeaderMap::new();
    small.insert(
        "x-small",
        HeaderValue::from_str(&"v".repeat(100)).expect("value"),
    );
    assert_eq!(
        p.server().send_response(s, StatusCode::OK, &big, false),
        Err(SendError::TooLarge)
    );
    p.server()
        .send_response(s, StatusCode::OK, &small, false)
        .expect("a head within the limit");
    p.server().send_data(s, "hi".into(), false).expect("body");
    assert_eq!(p.server().send_trailers(s, &big), Err(SendError::TooLarge));
    p.server()
        .send_trailers(s, &small)
        .expect("trailers within the limit");
    p.run_until(|p| p.client.responses[&s].complete());
    let r = &p.client.responses[&s];
    assert_eq!(r.status(), Some(200));
    assert_eq!(r.body, b"hi");
    let expected = ("x-small".to_owned(), "v".repeat(100));
    assert_eq!(r.sections.len(), 2, "head and trailers: {:?}", r.sections);
    assert!(r.sections[0].contains(&expected));
    assert_eq!(r.sections[1], [expected]);
    assert!(
        p.client.lost.is_none(),
        "the client's decoder took every section"
    );
}

#[test]
fn a_post_body_is_echoed_across_many_datagrams() {
    let mut p = Pair::new();
    let sent = body(300_000);
    let s = p.client.send_request(
        &request("POST", "/echo", &[("content-length", "300000")]),
        &sent,
        true,
    );
    let mut echo = Echo::default();
    let mut pieces = 0;
    p.run_until(|p| {
        pieces += p
            .events
            .iter()
            .filter(|e| matches!(e, Event::Data { .. }))
            .count();
        echo.serve(p);
        p.client.responses[&s].complete()
    });
    let r = &p.client.responses[&s];
    assert_eq!(r.status(), Some(200));
    assert_eq!(r.body.len(), sent.len());
    assert!(r.body == sent, "the body came back as it went");
    assert!(pieces > 10, "in many pieces: {pieces}");
    assert!(p.to_server.sent > 200, "{} datagrams", p.to_server.sent);
}

#[test]
fn trailers_go_both_ways() {
    let mut p = Pair::new();
    let id = p.client.open_request();
    let s = u64::from(id);
    let mut bytes = p
        .client
        .headers_frame(id, &request("POST", "/grpc", &[("te", "trailers")]));
    frame::encode_data(b"ping", &mut bytes);
    let trailers = [("grpc-timeout".to_owned(), "1S".to_owned())];
    bytes.extend(p.client.headers_frame(id, &trailers));
    p.client.write(id, bytes, true);
    p.run();
    assert!(matches!(
        p.expect_event(),
        Event::Request {
            end_stream: false,
            ..
        }
    ));
    let Event::Data { data, .. } = p.expect_event() else {
        panic!("the body")
    };
    assert_eq!(&data[..], b"ping");
    let Event::Trailers { stream, trailers } = p.expect_event() else {
        panic!("the trailers")
    };
    assert_eq!(stream, s);
    assert_eq!(trailers["grpc-timeout"], "1S");
    assert!(p.event().is_none(), "the trailers ended the body");

    p.server()
        .send_response(s, StatusCode::OK, &HeaderMap::new(), false)
        .expect("head");
    p.server().send_data(s, "pong".into(), false).expect("body");
    let mut t = HeaderMap::new();
    t.insert("grpc-status", HeaderValue::from_static("0"));
    p.server().send_trailers(s, &t).expect("trailers");
    assert_eq!(
        p.server().send_data(s, "late".into(), false),
        Err(SendError::InvalidState)
    );
    p.run();
    let r = &p.client.responses[&s];
    assert!(r.complete());
    assert_eq!(r.body, b"pong");
    assert_eq!(r.sections.len(), 2, "head and trailers");
    assert_eq!(r.sections[1], [("grpc-status".to_owned(), "0".to_owned())]);
}

#[test]
fn many_concurrent_streams_are_answered() {
    let mut p = Pair::new();
    let streams: Vec<u64> = (0..60)
        .map(|i| {
            let path = format!("/{i}");
            p.client
                .send_request(&request("POST", &path, &[]), &body(5000 + i * 10), true)
        })
        .collect();
    let mut echo = Echo::default();
    p.run_until(|p| {
        echo.serve(p);
        streams.iter().all(|s| p.client.responses[s].complete())
    });
    for (i, s) in streams.iter().enumerate() {
        assert_eq!(
            p.client.responses[s].body,
            body(5000 + i * 10),
            "stream {s}"
        );
    }
    p.run_until(|p| p.server().open_streams() == 0);
}

#[test]
fn an_informational_head_may_come_first_and_extended_connect_has_its_protocol() {
    let mut p = Pair::new();
    let s = p.client.send_request(
        &request(
            "CONNECT",
            "/chat",
            &[(":protocol", "websocket"), ("sec-websocket-version", "13")],
        ),
        b"",
        false,
    );
    p.run();
    let Event::Request { head, .. } = p.expect_event() else {
        panic!("a request")
    };
    assert_eq!(head.protocol.as_deref(), Some(&b"websocket"[..]));
    assert_eq!(head.uri, "https://localhost/chat");
    assert!(p.server().peer_settings().is_some());
    p.server()
        .send_response(
            s,
            StatusCode::from_u16(103).expect("103"),
            &HeaderMap::new(),
            false,
        )
        .expect("an early hint");
    p.server()
        .send_response(s, StatusCode::OK, &HeaderMap::new(), false)
        .expect("the final head");
    assert_eq!(
        p.server()
            .send_response(s, StatusCode::OK, &HeaderMap::new(), false),
        Err(SendError::InvalidState),
        "one final head"
    );
    p.server()
        .send_data(s, "frame".into(), false)
        .expect("data");
    p.run();
    let r = &p.client.responses[&s];
    assert_eq!(r.sections.len(), 2);
    assert_eq!(r.status(), Some(200));
    assert_eq!(r.body, b"frame");
    // The session's bytes from the client come as body.
    let mut data = Vec::new();
    frame::encode_data(b"hello", &mut data);
    p.client.write_request(s, data, false);
    p.run();
    assert!(matches!(
        p.expect_event(),
        Event::Data {
            end_stream: false,
            ..
        }
    ));
}

#[test]
fn requests_complete_over_a_network_that_loses_and_reorders() {
    let net = Network {
        drop_every: Some(5),
        swap_pairs: true,
    };
    let mut p = Pair::with(Config::default(), net, Setup::Full);
    let streams: Vec<u64> = (0..8)
        .map(|i| {
            p.client
                .send_request(&request("POST", "/", &[]), &body(40_000 + i), true)
        })
        .collect();
    let mut echo = Echo::default();
    p.run_until(|p| {
        echo.serve(p);
        streams.iter().all(|s| p.client.responses[s].complete())
    });
    for (i, s) in streams.iter().enumerate() {
        assert!(p.client.responses[s].body == body(40_000 + i), "stream {s}");
    }
    assert!(p.to_server.dropped > 10 && p.to_client.dropped > 10);
    p.run_until(|p| p.server().open_streams() == 0);
}

#[test]
fn an_idle_connection_gives_its_buffers_back_and_serves_on() {
    let mut p = Pair::new();
    let mut echo = Echo::default();
    let mut exchange = |p: &mut Pair, len: usize| {
        let sent = body(len);
        let s = p
            .client
            .send_request(&request("POST", "/echo", &[]), &sent, true);
        p.run_until(|p| {
            echo.serve(p);
            p.client.responses[&s].complete()
        });
        assert!(p.client.responses[&s].body == sent, "echoed whole");
        p.run_until(|p| p.server().open_streams() == 0);
    };
    exchange(&mut p, 50_000);
    let held = p.server().buffer_capacity();
    p.server().release_buffers();
    let released = p.server().buffer_capacity();
    assert!(held > 0, "the exchange left buffer room: {held}");
    assert_eq!(released, 0, "every buffer was empty, so all went back");
    exchange(&mut p, 50_000);
}

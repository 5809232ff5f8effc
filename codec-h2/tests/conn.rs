//! The server connection against a scripted client: frames built with the crate's own
//! encoders and an HPACK encoder, the server's output decoded frame by frame.

use bytes::{Bytes, BytesMut};
use roadrunner_h2::conn::{Config, Event, ServerConn, PREFACE};
use roadrunner_h2::frame::{self, Frame};
use roadrunner_h2::http::{HeaderMap, StatusCode};
use roadrunner_h2::{Decoder, Encoder};
use roadrunner_h2::{ErrorCode, Settings};

/// A scripted client and the server it talks to.
struct Pair {
    server: ServerConn,
    enc: Encoder,
    dec: Decoder,
    /// What the server wrote and the client has not read yet.
    wire: BytesMut,
}

impl Pair {
    fn new(config: Config) -> Pair {
        Pair::with_client_settings(config, &Settings::default())
    }

    fn with_client_settings(config: Config, settings: &Settings) -> Pair {
        let mut pair = Pair {
            server: ServerConn::new(config),
            enc: Encoder::new(),
            dec: Decoder::new(),
            wire: BytesMut::new(),
        };
        let mut hello = PREFACE.to_vec();
        frame::encode_settings(settings, &mut hello);
        pair.send(&hello);
        let frames = pair.frames();
        assert!(matches!(frames[0], Frame::Settings(_)), "{frames:?}");
        assert!(
            frames.iter().any(|f| matches!(f, Frame::SettingsAck)),
            "{frames:?}"
        );
        frame::encode_settings_ack(&mut hello);
        let mut ack = Vec::new();
        frame::encode_settings_ack(&mut ack);
        pair.send(&ack);
        pair
    }

    /// Feeds bytes and collects the events they cause.
    fn send(&mut self, bytes: &[u8]) -> Vec<Event> {
        self.server.recv(bytes);
        let mut events = Vec::new();
        while let Ok(Some(event)) = self.server.poll_event() {
            events.push(event);
        }
        events
    }

    fn block(&mut self, fields: &[(&str, &str)]) -> Vec<u8> {
        let mut block = Vec::new();
        self.enc.encode(
            fields.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())),
            &mut block,
        );
        block
    }

    fn request(&mut self, stream: u32, extra: &[(&str, &str)], end_stream: bool) -> Vec<Event> {
        let mut fields = vec![
            (":method", if end_stream { "GET" } else { "POST" }),
            (":scheme", "https"),
            (":authority", "example.com"),
            (":path", "/"),
        ];
        fields.extend_from_slice(extra);
        let block = self.block(&fields);
        let mut out = Vec::new();
        frame::encode_headers(stream, &block, end_stream, 16_384, &mut out);
        self.send(&out)
    }

    /// Everything the server has to write, as frames.
    fn frames(&mut self) -> Vec<Frame> {
        let mut out = Vec::new();
        self.server.poll_transmit(&mut out);
        self.wire.extend_from_slice(&out);
        let mut frames = Vec::new();
        while let Ok(Some(frame)) = frame::decode(&mut self.wire, 1 << 24) {
            frames.push(frame);
        }
        frames
    }

    /// The fields of a HEADERS frame the server sent.
    fn fields(&mut self, fragment: &Bytes) -> Vec<(String, String)> {
        let list = self.dec.decode(fragment, 1 << 20).expect("server HPACK");
        list.into_iter()
            .map(|(n, v)| {
                (
                    String::from_utf8_lossy(&n).into_owned(),
                    String::from_utf8_lossy(&v).into_owned(),
                )
            })
            .collect()
    }
}

fn rst(frames: &[Frame], id: u32) -> Option<ErrorCode> {
    frames.iter().find_map(|f| match f {
        Frame::RstStream { stream, code } if *stream == id => Some(*code),
        _ => None,
    })
}

fn goaway(frames: &[Frame]) -> Option<(u32, ErrorCode)> {
    frames.iter().find_map(|f| match f {
        Frame::GoAway {
            last_stream, code, ..
        } => Some((*last_stream, *code)),
        _ => None,
    })
}

#[test]
fn a_get_is_answered_with_head_and_body() {
    let mut p = Pair::new(Config::default());
    let events = p.request(1, &[], true);
    let [Event::Request {
        stream: 1,
        head,
        end_stream: true,
    }] = &events[..]
    else {
        panic!("{events:?}")
    };
    assert_eq!(head.method, "GET");
    assert_eq!(head.uri.path(), "/");
    let mut headers = HeaderMap::new();
    headers.insert("content-type", "text/plain".parse().expect("value"));
    p.server
        .send_response(1, StatusCode::OK, &headers, false)
        .expect("head");
    p.server
        .send_data(1, Bytes::from_static(b"hi"), true)
        .expect("body");
    let frames = p.frames();
    let Frame::Headers {
        stream: 1,
        fragment,
        end_stream: false,
        ..
    } = &frames[0]
    else {
        panic!("{frames:?}")
    };
    let fields = p.fields(&fragment.clone());
    assert_eq!(fields[0], (":status".into(), "200".into()));
    assert!(fields.contains(&("content-type".into(), "text/plain".into())));
    assert!(matches!(
        &frames[1],
        Frame::Data { stream: 1, data, end_stream: true, .. } if &data[..] == b"hi"
    ));
    assert_eq!(
        p.server.open_streams(),
        0,
        "the stream is done and forgotten"
    );
}

#[test]
fn a_body_is_delivered_and_the_window_reopens_only_as_it_is_released() {
    let mut p = Pair::new(Config::default());
    p.request(1, &[("content-length", "40000")], false);
    let mut out = Vec::new();
    for i in 0..4 {
        frame::encode_data(1, &[7u8; 10_000], i == 3, &mut out);
    }
    let events = p.send(&out);
    let total: usize = events
        .iter()
        .map(|e| match e {
            Event::Data { data, .. } => data.len(),
            _ => 0,
        })
        .sum();
    assert_eq!(total, 40_000);
    assert!(
        matches!(
            events.last(),
            Some(Event::Data {
                end_stream: true,
                ..
            })
        ),
        "{events:?}"
    );
    // Nothing released yet: no WINDOW_UPDATE, whatever the threshold.
    assert!(!p
        .frames()
        .iter()
        .any(|f| matches!(f, Frame::WindowUpdate { .. })));
    p.server.release(1, 40_000);
    let frames = p.frames();
    assert!(
        frames.iter().any(|f| matches!(
            f,
            Frame::WindowUpdate {
                stream: 0,
                increment: 40_000
            }
        )),
        "{frames:?}"
    );
}

#[test]
fn a_peer_sending_past_the_window_ends_the_connection() {
    let mut p = Pair::new(Config::default());
    p.request(1, &[], false);
    let mut out = Vec::new();
    for _ in 0..5 {
        frame::encode_data(1, &[0u8; 16_384], false, &mut out);
    }
    p.server.recv(&out);
    let mut failed = None;
    loop {
        match p.server.poll_event() {
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(e) => {
                failed = Some(e.code);
                break;
            }
        }
    }
    assert_eq!(failed, Some(ErrorCode::FLOW_CONTROL_ERROR));
    assert_eq!(
        goaway(&p.frames()),
        Some((1, ErrorCode::FLOW_CONTROL_ERROR))
    );
    assert!(p.server.is_closed());
}

#[test]
fn streams_over_max_concurrent_streams_are_refused() {
    let mut p = Pair::new(Config {
        max_concurrent_streams: 1,
        ..Config::default()
    });
    assert_eq!(p.request(1, &[], true).len(), 1);
    assert!(p.request(3, &[], true).is_empty(), "not surfaced");
    assert_eq!(rst(&p.frames(), 3), Some(ErrorCode::REFUSED_STREAM));
    // Once the first is answered, a new stream is served.
    p.server
        .send_response(1, StatusCode::OK, &HeaderMap::new(), true)
        .expect("answer");
    p.frames();
    assert_eq!(p.request(5, &[], true).len(), 1);
}

#[test]
fn a_continuation_flood_is_stopped_with_enhance_your_calm() {
    let mut p = Pair::new(Config::default());
    let mut out = Vec::new();
    let block = p.block(&[(":method", "GET"), (":scheme", "https"), (":path", "/")]);
    let mut head = Vec::new();
    frame::encode_headers(1, &block, true, 16_384, &mut head);
    // HEADERS without END_HEADERS, then CONTINUATIONs that never end.
    head[4] &= !0x4;
    out.extend_from_slice(&head);
    for _ in 0..8 {
        let mut cont = vec![0, 0x08, 0x00, 0x09, 0x00, 0, 0, 0, 1];
        cont.extend_from_slice(&[0x40; 2048]);
        out.extend_from_slice(&cont);
    }
    p.server.recv(&out);
    let failed = loop {
        match p.server.poll_event() {
            Ok(Some(_)) => {}
            Ok(None) => break None,
            Err(e) => break Some(e.code),
        }
    };
    assert_eq!(failed, Some(ErrorCode::ENHANCE_YOUR_CALM));
    assert_eq!(
        goaway(&p.frames()).map(|g| g.1),
        Some(ErrorCode::ENHANCE_YOUR_CALM)
    );
}

#[test]
fn a_header_list_over_the_cap_gets_431_and_a_reset() {
    let mut p = Pair::new(Config {
        max_header_list_size: 1000,
        ..Config::default()
    });
    let big = "x".repeat(2000);
    assert!(p.request(1, &[("x-big", &big)], true).is_empty());
    let frames = p.frames();
    let Some(Frame::Headers { fragment, .. }) = frames
        .iter()
        .find(|f| matches!(f, Frame::Headers { stream: 1, .. }))
    else {
        panic!("{frames:?}")
    };
    let fields = p.fields(&fragment.clone());
    assert_eq!(fields[0], (":status".into(), "431".into()));
    assert_eq!(rst(&frames, 1), Some(ErrorCode::NO_ERROR));
    // The connection (and its HPACK state) goes on.
    assert_eq!(p.request(3, &[], true).len(), 1);
}

#[test]
fn a_body_over_max_content_length_gets_413_before_the_handler_sees_it() {
    let mut p = Pair::new(Config {
        max_content_length: 100,
        ..Config::default()
    });
    assert!(p.request(1, &[("content-length", "101")], false).is_empty());
    let frames = p.frames();
    let Some(Frame::Headers { fragment, .. }) = frames
        .iter()
        .find(|f| matches!(f, Frame::Headers { stream: 1, .. }))
    else {
        panic!("{frames:?}")
    };
    assert_eq!(p.fields(&fragment.clone())[0].1, "413");
    assert_eq!(rst(&frames, 1), Some(ErrorCode::NO_ERROR));
}

#[test]
fn a_body_that_disagrees_with_content_length_resets_the_stream() {
    let mut p = Pair::new(Config::default());
    p.request(1, &[("content-length", "10")], false);
    let mut out = Vec::new();
    frame::encode_data(1, b"short", true, &mut out);
    let events = p.send(&out);
    assert!(
        matches!(events.last(), Some(Event::Reset { stream: 1, code }) if *code == ErrorCode::PROTOCOL_ERROR),
        "{events:?}"
    );
    assert_eq!(rst(&p.frames(), 1), Some(ErrorCode::PROTOCOL_ERROR));
}

#[test]
fn the_one_byte_block_0x3f_is_a_compression_error_not_a_panic() {
    let mut p = Pair::new(Config::default());
    let mut out = Vec::new();
    frame::encode_headers(1, &[0x3f], true, 16_384, &mut out);
    p.server.recv(&out);
    let err = p.server.poll_event().expect_err("a connection error");
    assert_eq!(err.code, ErrorCode::COMPRESSION_ERROR);
    assert_eq!(
        goaway(&p.frames()).map(|g| g.1),
        Some(ErrorCode::COMPRESSION_ERROR)
    );
}

#[test]
fn graceful_shutdown_announces_then_names_the_last_stream() {
    let mut p = Pair::new(Config::default());
    p.request(1, &[], true);
    p.server.shutdown();
    let frames = p.frames();
    assert_eq!(goaway(&frames), Some(((1 << 31) - 1, ErrorCode::NO_ERROR)));
    let Some(ping) = frames.iter().find_map(|f| match f {
        Frame::Ping { ack: false, data } => Some(*data),
        _ => None,
    }) else {
        panic!("{frames:?}")
    };
    // A stream sent before the client saw the GOAWAY is still served...
    assert_eq!(p.request(3, &[], true).len(), 1);
    let mut out = Vec::new();
    frame::encode_ping(true, ping, &mut out);
    p.send(&out);
    assert_eq!(goaway(&p.frames()), Some((3, ErrorCode::NO_ERROR)));
    // ...one after the final GOAWAY is not.
    assert!(p.request(5, &[], true).is_empty());
    assert_eq!(rst(&p.frames(), 5), Some(ErrorCode::REFUSED_STREAM));
    for id in [1, 3] {
        p.server
            .send_response(id, StatusCode::OK, &HeaderMap::new(), true)
            .expect("in-flight streams finish");
    }
    p.frames();
    assert!(p.server.is_closed());
}

#[test]
fn a_response_waits_for_the_peers_window_and_goes_negative_on_settings() {
    let mut p = Pair::new(Config::default());
    p.request(1, &[], true);
    p.server
        .send_response(1, StatusCode::OK, &HeaderMap::new(), false)
        .expect("head");
    let body = Bytes::from(vec![1u8; 60_000]);
    p.server.send_data(1, body, true).expect("body");
    let sent = |frames: &[Frame]| -> usize {
        frames
            .iter()
            .map(|f| match f {
                Frame::Data { data, .. } => data.len(),
                _ => 0,
            })
            .sum()
    };
    let first = p.frames();
    assert_eq!(sent(&first), 60_000, "within the default 65,535 window");
    p.request(3, &[], true);
    p.server
        .send_response(3, StatusCode::OK, &HeaderMap::new(), false)
        .expect("head");
    p.server
        .send_data(3, Bytes::from(vec![2u8; 10_000]), true)
        .expect("body");
    // Only 5,535 bytes of connection window are left.
    assert_eq!(sent(&p.frames()), 5_535);
    // A lower initial window makes stream 3's window negative: nothing more flows even
    // when the connection window reopens...
    let mut out = Vec::new();
    frame::encode_settings(
        &Settings {
            initial_window_size: Some(1000),
            ..Settings::default()
        },
        &mut out,
    );
    frame::encode_window_update(0, 100_000, &mut out);
    p.send(&out);
    assert_eq!(sent(&p.frames()), 0, "stream window negative");
    // ...until the stream's window is positive again.
    let mut out = Vec::new();
    frame::encode_window_update(3, 64_535 - 1000 + 4_465, &mut out);
    p.send(&out);
    assert_eq!(sent(&p.frames()), 4_465);
}

#[test]
fn pings_are_answered_and_a_peer_reset_is_an_event() {
    let mut p = Pair::new(Config::default());
    let mut out = Vec::new();
    frame::encode_ping(false, *b"12345678", &mut out);
    p.send(&out);
    assert!(p
        .frames()
        .iter()
        .any(|f| matches!(f, Frame::Ping { ack: true, data } if data == b"12345678")));
    p.request(1, &[], false);
    let mut out = Vec::new();
    frame::encode_rst_stream(1, ErrorCode::CANCEL, &mut out);
    let events = p.send(&out);
    assert!(
        matches!(events[..], [Event::Reset { stream: 1, code }] if code == ErrorCode::CANCEL),
        "{events:?}"
    );
    assert_eq!(
        p.server
            .send_response(1, StatusCode::OK, &HeaderMap::new(), true)
            .unwrap_err(),
        roadrunner_h2::conn::SendError::UnknownStream
    );
}

#[test]
fn a_frame_inside_a_header_block_and_a_bad_preface_end_the_connection() {
    let mut p = Pair::new(Config::default());
    let block = p.block(&[(":method", "GET"), (":scheme", "https"), (":path", "/")]);
    let mut out = Vec::new();
    frame::encode_headers(1, &block, true, 16_384, &mut out);
    out[4] &= !0x4;
    frame::encode_ping(false, [0; 8], &mut out);
    p.server.recv(&out);
    assert_eq!(
        p.server.poll_event().expect_err("interrupted block").code,
        ErrorCode::PROTOCOL_ERROR
    );

    let mut server = ServerConn::new(Config::default());
    server.recv(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(
        server.poll_event().expect_err("not HTTP/2").code,
        ErrorCode::PROTOCOL_ERROR
    );
}

#[test]
fn frames_after_the_peers_own_reset_are_answered_stream_closed() {
    // h2spec http2/5.1/8 and /9: the stream is closed by the client's RST_STREAM, and
    // DATA or HEADERS on it then are a stream error STREAM_CLOSED (RFC 9113 §5.1).
    for late_headers in [false, true] {
        let mut p = Pair::new(Config::default());
        p.request(1, &[], false);
        let mut out = Vec::new();
        frame::encode_rst_stream(1, ErrorCode::CANCEL, &mut out);
        if late_headers {
            let block = p.block(&[(":method", "GET"), (":scheme", "https"), (":path", "/")]);
            frame::encode_headers(1, &block, true, 16_384, &mut out);
        } else {
            frame::encode_data(1, b"late", true, &mut out);
        }
        p.send(&out);
        let frames = p.frames();
        assert_eq!(
            rst(&frames, 1),
            Some(ErrorCode::STREAM_CLOSED),
            "{frames:?}"
        );
        assert!(
            goaway(&frames).is_none(),
            "the connection goes on: {frames:?}"
        );
        assert_eq!(p.request(3, &[], true).len(), 1);
    }
}

#[test]
fn a_response_that_ends_before_the_request_body_frees_the_stream_when_the_body_ends() {
    let mut p = Pair::new(Config {
        max_concurrent_streams: 1,
        ..Config::default()
    });
    assert_eq!(p.request(1, &[], false).len(), 1);
    p.server
        .send_response(1, StatusCode::UNAUTHORIZED, &HeaderMap::new(), true)
        .expect("early answer");
    p.frames();
    let mut out = Vec::new();
    frame::encode_data(1, b"rest", true, &mut out);
    p.send(&out);
    assert_eq!(p.server.open_streams(), 0, "done both ways: forgotten");
    assert_eq!(p.request(3, &[], true).len(), 1, "its slot is free");
}

#[test]
fn an_extended_connect_carries_more_than_max_content_length() {
    let mut p = Pair::new(Config {
        max_content_length: 100,
        enable_connect_protocol: true,
        ..Config::default()
    });
    let block = p.block(&[
        (":method", "CONNECT"),
        (":protocol", "websocket"),
        (":scheme", "https"),
        (":authority", "example.com"),
        (":path", "/chat"),
    ]);
    let mut out = Vec::new();
    frame::encode_headers(1, &block, false, 16_384, &mut out);
    let events = p.send(&out);
    assert!(
        matches!(&events[..], [Event::Request { head, .. }] if head.protocol.as_deref() == Some(&b"websocket"[..])),
        "{events:?}"
    );
    p.server
        .send_response(1, StatusCode::OK, &HeaderMap::new(), false)
        .expect("a 200 opens the tunnel");
    // Ten times the cap, in pieces the application releases as it takes them.
    let mut received = 0;
    for _ in 0..10 {
        let mut data = Vec::new();
        frame::encode_data(1, &[b'x'; 100], false, &mut data);
        for event in p.send(&data) {
            let Event::Data { data, .. } = event else {
                panic!("{event:?}")
            };
            received += data.len();
            p.server.release(1, data.len());
        }
    }
    assert_eq!(received, 1000);
    let frames = p.frames();
    assert_eq!(rst(&frames, 1), None, "{frames:?}");
}

#[test]
fn a_head_over_the_peers_max_header_list_size_is_refused_before_encoding() {
    let settings = Settings {
        max_header_list_size: Some(200),
        ..Settings::default()
    };
    let mut p = Pair::with_client_settings(Config::default(), &settings);
    p.request(1, &[], true);
    p.request(3, &[], false);
    let mut big = HeaderMap::new();
    // 5 + 200 + 32 = 237 alone, 279 with `:status` (7 + 3 + 32); `x-small` is 139
    // alone and 181 with `:status`.
    big.insert("x-big", "v".repeat(200).parse().expect("value"));
    assert_eq!(
        p.server.send_response(1, StatusCode::OK, &big, true),
        Err(roadrunner_h2::conn::SendError::TooLarge)
    );
    assert!(p.frames().is_empty(), "nothing is sent for a refused head");
    let mut small = HeaderMap::new();
    small.insert("x-small", "v".repeat(100).parse().expect("value"));
    p.server
        .send_response(1, StatusCode::OK, &small, true)
        .expect("a head within the limit");
    p.server
        .send_response(3, StatusCode::OK, &HeaderMap::new(), false)
        .expect("head");
    assert_eq!(
        p.server.send_trailers(3, &big),
        Err(roadrunner_h2::conn::SendError::TooLarge)
    );
    p.server
        .send_trailers(3, &small)
        .expect("trailers within the limit");
    // Every block decodes: the refused ones left the HPACK table as it was.
    let frames = p.frames();
    let blocks: Vec<Bytes> = frames
        .iter()
        .filter_map(|f| match f {
            Frame::Headers { fragment, .. } => Some(fragment.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(blocks.len(), 3, "{frames:?}");
    let expected = ("x-small".to_string(), "v".repeat(100));
    assert!(p.fields(&blocks[0]).contains(&expected));
    assert_eq!(p.fields(&blocks[1]), [(":status".into(), "200".into())]);
    assert_eq!(p.fields(&blocks[2]), [expected]);
}

use super::*;

const MAX: u32 = DEFAULT_MAX_FRAME_SIZE;

fn raw(ty: u8, flags: u8, stream: u32, payload: &[u8]) -> BytesMut {
    let mut out = Vec::new();
    put_head(&mut out, payload.len(), ty, flags, stream);
    out.extend_from_slice(payload);
    BytesMut::from(&out[..])
}

/// Decodes one whole frame that must be valid, checking it was all consumed.
fn ok(ty: u8, flags: u8, stream: u32, payload: &[u8]) -> Frame {
    let mut buf = raw(ty, flags, stream, payload);
    let frame = decode(&mut buf, MAX).unwrap().unwrap();
    assert!(buf.is_empty());
    frame
}

fn conn_err(ty: u8, flags: u8, stream: u32, payload: &[u8], code: ErrorCode) {
    let mut buf = raw(ty, flags, stream, payload);
    match decode(&mut buf, MAX) {
        Err(FrameError::Conn(e)) => assert_eq!(e.code, code, "{}", e.reason),
        other => panic!("want a connection {code}, got {other:?}"),
    }
}

/// A stream error must consume its frame so the next one can be read.
fn stream_err(ty: u8, flags: u8, stream: u32, payload: &[u8], code: ErrorCode) {
    let mut buf = raw(ty, flags, stream, payload);
    buf.extend_from_slice(&raw(PING, 0, 0, &[7; 8]));
    match decode(&mut buf, MAX) {
        Err(FrameError::Stream(e)) => {
            assert_eq!((e.stream, e.code), (stream, code), "{}", e.reason)
        }
        other => panic!("want a stream {code}, got {other:?}"),
    }
    let next = decode(&mut buf, MAX).unwrap().unwrap();
    assert_eq!(
        next,
        Frame::Ping {
            ack: false,
            data: [7; 8]
        }
    );
}

#[test]
fn incomplete_frames_wait_and_consume_nothing() {
    let whole = raw(DATA, 0, 1, b"hello");
    for cut in 0..whole.len() {
        let mut buf = BytesMut::from(&whole[..cut]);
        assert_eq!(decode(&mut buf, MAX), Ok(None));
        assert_eq!(buf.len(), cut);
    }
}

#[test]
fn exactly_one_frame_is_consumed() {
    let mut buf = raw(PING, ACK, 0, &[1; 8]);
    buf.extend_from_slice(&raw(DATA, 0, 3, b"x"));
    buf.extend_from_slice(&[0, 0]);
    assert!(matches!(
        decode(&mut buf, MAX),
        Ok(Some(Frame::Ping { ack: true, .. }))
    ));
    assert_eq!(buf.len(), HEADER_LEN + 1 + 2);
    assert!(matches!(
        decode(&mut buf, MAX),
        Ok(Some(Frame::Data { stream: 3, .. }))
    ));
    assert_eq!(&buf[..], &[0, 0]);
}

#[test]
fn payloads_share_the_receive_buffer() {
    let mut buf = raw(DATA, 0, 1, b"payload");
    let at = buf.as_ptr() as usize + HEADER_LEN;
    let Some(Frame::Data { data, .. }) = decode(&mut buf, MAX).unwrap() else {
        panic!("not DATA");
    };
    assert_eq!(data.as_ptr() as usize, at);
}

#[test]
fn a_frame_over_max_frame_size_is_refused_from_its_header() {
    let mut buf = raw(DATA, 0, 1, &vec![0; MAX as usize + 1]);
    buf.truncate(HEADER_LEN);
    match decode(&mut buf, MAX) {
        Err(FrameError::Conn(e)) => assert_eq!(e.code, ErrorCode::FRAME_SIZE_ERROR),
        other => panic!("{other:?}"),
    }
    let mut buf = raw(DATA, 0, 1, &vec![0; MAX as usize + 1]);
    assert!(decode(&mut buf, MAX + 1).unwrap().is_some());
    conn_err(
        0xfa,
        0,
        0,
        &vec![0; MAX as usize + 1],
        ErrorCode::FRAME_SIZE_ERROR,
    );
}

#[test]
fn data_frames_strip_padding_but_count_it() {
    assert_eq!(
        ok(DATA, END_STREAM, 5, b"abc"),
        Frame::Data {
            stream: 5,
            data: Bytes::from_static(b"abc"),
            end_stream: true,
            flow_len: 3
        }
    );
    assert_eq!(
        ok(DATA, PADDED, 5, b"\x02abc\0\0"),
        Frame::Data {
            stream: 5,
            data: Bytes::from_static(b"abc"),
            end_stream: false,
            flow_len: 6
        }
    );
    // Padding may take everything after the Pad Length octet.
    assert_eq!(
        ok(DATA, PADDED, 5, b"\x02\0\0"),
        Frame::Data {
            stream: 5,
            data: Bytes::new(),
            end_stream: false,
            flow_len: 3
        }
    );
}

#[test]
fn padding_as_long_as_the_payload_is_a_protocol_error() {
    conn_err(DATA, PADDED, 1, b"\x03ab", ErrorCode::PROTOCOL_ERROR);
    conn_err(DATA, PADDED, 1, b"\x01", ErrorCode::PROTOCOL_ERROR);
    conn_err(DATA, PADDED, 1, b"\xff", ErrorCode::PROTOCOL_ERROR);
    conn_err(HEADERS, PADDED, 1, b"\x03ab", ErrorCode::PROTOCOL_ERROR);
    // With priority fields the padding may not eat into them either.
    let payload = b"\x01\0\0\0\0\x10";
    conn_err(
        HEADERS,
        PADDED | PRIORITY_FLAG,
        1,
        payload,
        ErrorCode::PROTOCOL_ERROR,
    );
}

#[test]
fn a_padded_frame_without_room_for_pad_length_is_a_frame_size_error() {
    conn_err(DATA, PADDED, 1, b"", ErrorCode::FRAME_SIZE_ERROR);
    conn_err(HEADERS, PADDED, 1, b"", ErrorCode::FRAME_SIZE_ERROR);
    conn_err(
        HEADERS,
        PRIORITY_FLAG,
        1,
        b"\0\0\0\0",
        ErrorCode::FRAME_SIZE_ERROR,
    );
    let payload = b"\0\0\0\0\0";
    conn_err(
        HEADERS,
        PADDED | PRIORITY_FLAG,
        1,
        payload,
        ErrorCode::FRAME_SIZE_ERROR,
    );
}

#[test]
fn headers_frames_with_padding_and_priority() {
    assert_eq!(
        ok(HEADERS, END_HEADERS, 1, b"block"),
        Frame::Headers {
            stream: 1,
            fragment: Bytes::from_static(b"block"),
            end_stream: false,
            end_headers: true,
            priority: None
        }
    );
    let payload = b"\x01\x80\0\0\x03\x0fblock\0";
    let flags = PADDED | PRIORITY_FLAG | END_STREAM;
    assert_eq!(
        ok(HEADERS, flags, 7, payload),
        Frame::Headers {
            stream: 7,
            fragment: Bytes::from_static(b"block"),
            end_stream: true,
            end_headers: false,
            priority: Some(Priority {
                dependency: 3,
                exclusive: true,
                weight: 15
            })
        }
    );
}

#[test]
fn headers_depending_on_their_own_stream_are_left_to_the_connection() {
    let Frame::Headers { priority, .. } = ok(HEADERS, PRIORITY_FLAG, 3, b"\0\0\0\x03\0") else {
        panic!("not HEADERS");
    };
    let err = priority.unwrap().check(3).unwrap_err();
    assert_eq!((err.stream, err.code), (3, ErrorCode::PROTOCOL_ERROR));
}

#[test]
fn frames_that_need_a_stream_refuse_stream_zero() {
    let cases: [(u8, &[u8]); 5] = [
        (DATA, b"x"),
        (HEADERS, b"x"),
        (PRIORITY, b"\0\0\0\x01\0"),
        (RST_STREAM, b"\0\0\0\0"),
        (CONTINUATION, b"x"),
    ];
    for (ty, payload) in cases {
        conn_err(ty, 0, 0, payload, ErrorCode::PROTOCOL_ERROR);
    }
}

#[test]
fn connection_frames_refuse_a_stream() {
    conn_err(SETTINGS, 0, 1, b"", ErrorCode::PROTOCOL_ERROR);
    conn_err(SETTINGS, ACK, 1, b"", ErrorCode::PROTOCOL_ERROR);
    conn_err(PING, 0, 1, &[0; 8], ErrorCode::PROTOCOL_ERROR);
    conn_err(GOAWAY, 0, 1, &[0; 8], ErrorCode::PROTOCOL_ERROR);
}

#[test]
fn the_reserved_bit_is_ignored() {
    let mut buf = raw(RST_STREAM, 0, 0, &[0, 0, 0, 8]);
    buf[5] |= 0x80;
    buf[8] = 3;
    assert_eq!(
        decode(&mut buf, MAX),
        Ok(Some(Frame::RstStream {
            stream: 3,
            code: ErrorCode::CANCEL
        }))
    );
    // A stream-0 frame with only the reserved bit set is still on stream 0.
    let mut buf = raw(PING, 0, 0, &[0; 8]);
    buf[5] = 0x80;
    assert!(matches!(
        decode(&mut buf, MAX),
        Ok(Some(Frame::Ping { .. }))
    ));
    assert_eq!(
        ok(GOAWAY, 0, 0, b"\x80\0\0\x05\0\0\0\x01"),
        Frame::GoAway {
            last_stream: 5,
            code: ErrorCode::PROTOCOL_ERROR,
            debug: Bytes::new()
        }
    );
    assert_eq!(
        ok(WINDOW_UPDATE, 0, 0, b"\x80\0\0\x01"),
        Frame::WindowUpdate {
            stream: 0,
            increment: 1
        }
    );
}

#[test]
fn priority_frames() {
    assert_eq!(
        ok(PRIORITY, 0, 5, b"\0\0\0\x03\xff"),
        Frame::Priority {
            stream: 5,
            priority: Priority {
                dependency: 3,
                exclusive: false,
                weight: 255
            }
        }
    );
    stream_err(PRIORITY, 0, 5, b"\0\0\0\x03", ErrorCode::FRAME_SIZE_ERROR);
    stream_err(
        PRIORITY,
        0,
        5,
        b"\0\0\0\x03\0\0",
        ErrorCode::FRAME_SIZE_ERROR,
    );
    stream_err(PRIORITY, 0, 5, b"\x80\0\0\x05\0", ErrorCode::PROTOCOL_ERROR);
}

#[test]
fn rst_stream_frames() {
    assert_eq!(
        ok(RST_STREAM, 0xff, 1, b"\0\0\x12\x34"),
        Frame::RstStream {
            stream: 1,
            code: ErrorCode(0x1234)
        }
    );
    conn_err(RST_STREAM, 0, 1, b"\0\0\0", ErrorCode::FRAME_SIZE_ERROR);
    conn_err(RST_STREAM, 0, 1, b"\0\0\0\0\0", ErrorCode::FRAME_SIZE_ERROR);
}

#[test]
fn settings_frames() {
    assert_eq!(
        ok(SETTINGS, 0, 0, b"\0\x03\0\0\0\x64\0\x99\0\0\0\x01"),
        Frame::Settings(Settings {
            max_concurrent_streams: Some(100),
            ..Settings::default()
        })
    );
    assert_eq!(
        ok(SETTINGS, 0, 0, b""),
        Frame::Settings(Settings::default())
    );
    assert_eq!(ok(SETTINGS, ACK, 0, b""), Frame::SettingsAck);
    conn_err(SETTINGS, 0, 0, b"\0\x03\0\0\0", ErrorCode::FRAME_SIZE_ERROR);
    conn_err(
        SETTINGS,
        ACK,
        0,
        b"\0\x03\0\0\0\x01",
        ErrorCode::FRAME_SIZE_ERROR,
    );
    conn_err(
        SETTINGS,
        0,
        0,
        b"\0\x02\0\0\0\x02",
        ErrorCode::PROTOCOL_ERROR,
    );
    conn_err(
        SETTINGS,
        0,
        0,
        b"\0\x04\x80\0\0\0",
        ErrorCode::FLOW_CONTROL_ERROR,
    );
    conn_err(
        SETTINGS,
        0,
        0,
        b"\0\x05\0\0\x3f\xff",
        ErrorCode::PROTOCOL_ERROR,
    );
    conn_err(
        SETTINGS,
        0,
        0,
        b"\0\x05\x01\0\0\0",
        ErrorCode::PROTOCOL_ERROR,
    );
    conn_err(
        SETTINGS,
        0,
        0,
        b"\0\x08\0\0\0\x02",
        ErrorCode::PROTOCOL_ERROR,
    );
}

#[test]
fn push_promise_is_refused_by_a_server() {
    conn_err(
        PUSH_PROMISE,
        END_HEADERS,
        1,
        b"\0\0\0\x02",
        ErrorCode::PROTOCOL_ERROR,
    );
}

#[test]
fn ping_frames() {
    assert_eq!(
        ok(PING, ACK | 0xf0, 0, b"12345678"),
        Frame::Ping {
            ack: true,
            data: *b"12345678"
        }
    );
    conn_err(PING, 0, 0, b"1234567", ErrorCode::FRAME_SIZE_ERROR);
    conn_err(PING, 0, 0, b"123456789", ErrorCode::FRAME_SIZE_ERROR);
}

#[test]
fn goaway_frames() {
    assert_eq!(
        ok(GOAWAY, 0, 0, b"\0\0\0\x07\0\0\0\x0bcalm down"),
        Frame::GoAway {
            last_stream: 7,
            code: ErrorCode::ENHANCE_YOUR_CALM,
            debug: Bytes::from_static(b"calm down")
        }
    );
    conn_err(
        GOAWAY,
        0,
        0,
        b"\0\0\0\x07\0\0\0",
        ErrorCode::FRAME_SIZE_ERROR,
    );
}

#[test]
fn window_update_frames() {
    assert_eq!(
        ok(WINDOW_UPDATE, 0, 9, b"\x7f\xff\xff\xff"),
        Frame::WindowUpdate {
            stream: 9,
            increment: 0x7fff_ffff
        }
    );
    conn_err(
        WINDOW_UPDATE,
        0,
        9,
        b"\0\0\x01",
        ErrorCode::FRAME_SIZE_ERROR,
    );
    conn_err(
        WINDOW_UPDATE,
        0,
        0,
        b"\0\0\0\0\x01",
        ErrorCode::FRAME_SIZE_ERROR,
    );
    conn_err(WINDOW_UPDATE, 0, 0, b"\0\0\0\0", ErrorCode::PROTOCOL_ERROR);
    stream_err(WINDOW_UPDATE, 0, 9, b"\0\0\0\0", ErrorCode::PROTOCOL_ERROR);
    // Only the reserved bit set is still an increment of 0.
    stream_err(
        WINDOW_UPDATE,
        0,
        9,
        b"\x80\0\0\0",
        ErrorCode::PROTOCOL_ERROR,
    );
}

#[test]
fn continuation_frames() {
    assert_eq!(
        ok(CONTINUATION, END_HEADERS | PADDED, 3, b"\x01rest"),
        Frame::Continuation {
            stream: 3,
            fragment: Bytes::from_static(b"\x01rest"),
            end_headers: true
        }
    );
}

#[test]
fn unknown_types_and_flags_are_ignored() {
    assert_eq!(
        ok(0x0a, 0xff, 0, b"whatever"),
        Frame::Unknown {
            ty: 0x0a,
            stream: 0
        }
    );
    assert_eq!(
        ok(0xff, 0, 11, b""),
        Frame::Unknown {
            ty: 0xff,
            stream: 11
        }
    );
    assert_eq!(
        ok(DATA, 0xf6, 1, b"x"),
        Frame::Data {
            stream: 1,
            data: Bytes::from_static(b"x"),
            end_stream: false,
            flow_len: 1
        }
    );
}

fn decode_all(bytes: &[u8]) -> Vec<Frame> {
    let mut buf = BytesMut::from(bytes);
    let mut frames = Vec::new();
    while let Some(f) = decode(&mut buf, MAX_MAX_FRAME_SIZE).unwrap() {
        frames.push(f);
    }
    assert!(buf.is_empty());
    frames
}

#[test]
fn a_field_block_is_split_at_the_peers_max_frame_size() {
    let block: Vec<u8> = (0..40_000u32).map(|i| i as u8).collect();
    let mut out = Vec::new();
    encode_headers(1, &block, true, MAX, &mut out);
    let frames = decode_all(&out);
    assert_eq!(frames.len(), 3);
    let mut joined = Vec::new();
    for (i, f) in frames.iter().enumerate() {
        let last = i == frames.len() - 1;
        match f {
            Frame::Headers {
                stream: 1,
                fragment,
                end_stream: true,
                end_headers,
                priority: None,
            } if i == 0 => {
                assert_eq!(*end_headers, last);
                joined.extend_from_slice(fragment);
            }
            Frame::Continuation {
                stream: 1,
                fragment,
                end_headers,
            } if i > 0 => {
                assert_eq!(*end_headers, last);
                joined.extend_from_slice(fragment);
            }
            other => panic!("frame {i}: {other:?}"),
        }
    }
    assert_eq!(joined, block);
    out.clear();
    encode_headers(1, &block, true, 100, &mut out);
    assert_eq!(
        decode_all(&out),
        frames,
        "a limit below 16384 counts as 16384"
    );
    out.clear();
    encode_headers(1, b"", false, MAX, &mut out);
    assert_eq!(out, raw(HEADERS, END_HEADERS, 1, b""));
}

#[test]
fn data_can_be_written_as_a_head_and_a_separate_payload() {
    let mut out = Vec::new();
    encode_data_head(3, 5, true, &mut out);
    assert_eq!(out.len(), HEADER_LEN);
    out.extend_from_slice(b"hello");
    let mut whole = Vec::new();
    encode_data(3, b"hello", true, &mut whole);
    assert_eq!(out, whole);
    assert_eq!(out, raw(DATA, END_STREAM, 3, b"hello"));
}

#[test]
fn control_frames_encode_to_their_wire_form() {
    let mut out = Vec::new();
    encode_settings_ack(&mut out);
    assert_eq!(out, raw(SETTINGS, ACK, 0, b""));
    out.clear();
    encode_ping(true, *b"abcdefgh", &mut out);
    assert_eq!(out, raw(PING, ACK, 0, b"abcdefgh"));
    out.clear();
    encode_rst_stream(5, ErrorCode::CANCEL, &mut out);
    assert_eq!(out, raw(RST_STREAM, 0, 5, b"\0\0\0\x08"));
    out.clear();
    encode_window_update(0, 1000, &mut out);
    assert_eq!(out, raw(WINDOW_UPDATE, 0, 0, b"\0\0\x03\xe8"));
    out.clear();
    encode_goaway(9, ErrorCode::NO_ERROR, b"bye", &mut out);
    assert_eq!(out, raw(GOAWAY, 0, 0, b"\0\0\0\x09\0\0\0\0bye"));
    out.clear();
    let settings = Settings {
        max_concurrent_streams: Some(100),
        enable_push: Some(false),
        ..Settings::default()
    };
    encode_settings(&settings, &mut out);
    assert_eq!(out, raw(SETTINGS, 0, 0, b"\0\x02\0\0\0\0\0\x03\0\0\0\x64"));
}

#[test]
fn goaway_debug_data_is_cut_to_fit_any_peer() {
    let mut out = Vec::new();
    encode_goaway(1, ErrorCode::NO_ERROR, &[b'x'; 20_000], &mut out);
    assert_eq!(out.len(), HEADER_LEN + MAX as usize);
    assert!(matches!(
        decode(&mut BytesMut::from(&out[..]), MAX),
        Ok(Some(Frame::GoAway { .. }))
    ));
}

use super::*;

const LIMIT: u64 = 100;

fn server(kind: StreamKind) -> FrameDecoder {
    FrameDecoder::new(kind, Side::Server, LIMIT)
}

fn control_open() -> FrameDecoder {
    let mut d = server(StreamKind::Control);
    let mut buf = wire(|o| encode_settings(&Settings::default(), o));
    assert!(matches!(d.decode(&mut buf), Ok(Some(Frame::Settings(_)))));
    d
}

fn wire(f: impl FnOnce(&mut Vec<u8>)) -> BytesMut {
    let mut out = Vec::new();
    f(&mut out);
    BytesMut::from(&out[..])
}

/// Decodes everything in `buf`, which must end between frames.
fn all(d: &mut FrameDecoder, mut buf: BytesMut) -> Result<Vec<Frame>, ConnError> {
    let mut frames = Vec::new();
    while let Some(f) = d.decode(&mut buf)? {
        frames.push(f);
    }
    d.finish(&buf)?;
    Ok(frames)
}

fn code(d: &mut FrameDecoder, buf: BytesMut) -> ErrorCode {
    all(d, buf).expect_err("must fail").code
}

#[test]
fn buffered_frames_wait_whole_and_consume_nothing_until_then() {
    let whole = wire(|o| encode_headers(b"abcdef", o));
    for cut in 0..whole.len() {
        let mut d = server(StreamKind::Request);
        let mut buf = BytesMut::from(&whole[..cut]);
        assert_eq!(d.decode(&mut buf), Ok(None));
        assert_eq!(buf.len(), cut);
        buf.extend_from_slice(&whole[cut..]);
        assert_eq!(
            d.decode(&mut buf),
            Ok(Some(Frame::Headers(Bytes::from_static(b"abcdef"))))
        );
        assert!(buf.is_empty());
    }
}

#[test]
fn data_payloads_stream_out_as_they_arrive() {
    let mut d = server(StreamKind::Request);
    let mut buf = wire(|o| encode_headers(b"h", o));
    let mut data = Vec::new();
    encode_data_header(10, &mut data);
    buf.extend_from_slice(&data);
    buf.extend_from_slice(b"0123");
    assert_eq!(
        d.decode(&mut buf),
        Ok(Some(Frame::Headers(Bytes::from_static(b"h"))))
    );
    assert_eq!(d.decode(&mut buf), Ok(Some(Frame::Data { len: 10 })));
    assert_eq!(
        d.decode(&mut buf),
        Ok(Some(Frame::DataChunk(Bytes::from_static(b"0123"))))
    );
    assert_eq!(d.decode(&mut buf), Ok(None));
    assert!(d.finish(&buf).is_err(), "inside a DATA payload");
    // The rest of this frame, an empty one, and the start of a third.
    buf.extend_from_slice(b"456789");
    encode_data(b"", &mut data);
    buf.extend_from_slice(&[0x00, 0x05, b'a']);
    assert_eq!(
        d.decode(&mut buf),
        Ok(Some(Frame::DataChunk(Bytes::from_static(b"456789"))))
    );
    assert_eq!(d.decode(&mut buf), Ok(Some(Frame::Data { len: 5 })));
    assert_eq!(
        d.decode(&mut buf),
        Ok(Some(Frame::DataChunk(Bytes::from_static(b"a"))))
    );
    assert_eq!(d.decode(&mut buf), Ok(None));
    buf.extend_from_slice(b"bcde");
    assert_eq!(
        d.decode(&mut buf),
        Ok(Some(Frame::DataChunk(Bytes::from_static(b"bcde"))))
    );
    assert_eq!(d.finish(&buf), Ok(()));
    let empty = all(&mut server(StreamKind::Request), {
        let mut b = wire(|o| encode_headers(b"", o));
        b.extend_from_slice(&wire(|o| encode_data(b"", o)));
        b
    });
    assert_eq!(
        empty,
        Ok(vec![Frame::Headers(Bytes::new()), Frame::Data { len: 0 }])
    );
}

#[test]
fn an_oversized_headers_frame_is_skipped_unbuffered() {
    let mut d = server(StreamKind::Request);
    // Only the header of a frame declaring a megabyte.
    let mut head = Vec::new();
    varint::encode(HEADERS, &mut head);
    varint::encode(1 << 20, &mut head);
    let mut buf = BytesMut::from(&head[..]);
    assert_eq!(
        d.decode(&mut buf),
        Ok(Some(Frame::HeadersTooLarge { len: 1 << 20 }))
    );
    assert!(buf.is_empty());
    let mut left = 1 << 20;
    while left > 0 {
        let n = 4000.min(left);
        buf.extend_from_slice(&vec![0xff; n]);
        assert_eq!(d.decode(&mut buf), Ok(None));
        assert!(buf.is_empty(), "skipped bytes are not kept");
        left -= n;
    }
    // It counted as the request's HEADERS: DATA may follow.
    buf.extend_from_slice(&wire(|o| encode_data(b"x", o)));
    assert_eq!(d.decode(&mut buf), Ok(Some(Frame::Data { len: 1 })));
    let at_limit = wire(|o| encode_headers(&[7; LIMIT as usize], o));
    assert!(matches!(
        all(&mut server(StreamKind::Request), at_limit).as_deref(),
        Ok([Frame::Headers(_)])
    ));
}

#[test]
fn unknown_and_reserved_frames_are_skipped_anywhere_but_first_on_control() {
    for ty in [0x21, 0x40, 0x0a, 0x1234_5678] {
        let mut buf = wire(|o| encode_headers(b"h", o));
        buf.extend_from_slice(&wire(|o| encode_unknown(ty, b"padding", o)));
        buf.extend_from_slice(&wire(|o| encode_data(b"d", o)));
        let frames = all(&mut server(StreamKind::Request), buf).expect("valid");
        assert_eq!(frames[1], Frame::Unknown { ty, len: 7 });
        assert_eq!(frames.len(), 4);
        let mut control = control_open();
        let buf = wire(|o| encode_unknown(ty, b"x", o));
        assert_eq!(
            all(&mut control, buf),
            Ok(vec![Frame::Unknown { ty, len: 1 }])
        );
        let buf = wire(|o| encode_unknown(ty, b"x", o));
        assert_eq!(
            code(&mut server(StreamKind::Control), buf),
            ErrorCode::H3_MISSING_SETTINGS
        );
    }
}

#[test]
fn http2_frame_types_are_unexpected_everywhere() {
    for ty in HTTP2_ONLY {
        for kind in [StreamKind::Request, StreamKind::Control, StreamKind::Push] {
            let buf = wire(|o| encode_unknown(ty, &[0; 8], o));
            let mut d = FrameDecoder::new(kind, Side::Client, LIMIT);
            assert_eq!(code(&mut d, buf), ErrorCode::H3_FRAME_UNEXPECTED);
        }
        let buf = wire(|o| encode_unknown(ty, &[0; 8], o));
        assert_eq!(
            code(&mut control_open(), buf),
            ErrorCode::H3_FRAME_UNEXPECTED
        );
    }
}

#[test]
fn the_control_stream_takes_settings_once_then_control_frames() {
    let mut d = server(StreamKind::Control);
    let settings = Settings {
        qpack_max_table_capacity: Some(4096),
        ..Settings::default()
    };
    let mut buf = wire(|o| encode_settings(&settings, o));
    buf.extend_from_slice(&wire(|o| encode_goaway(8, o)));
    buf.extend_from_slice(&wire(|o| encode_max_push_id(3, o)));
    buf.extend_from_slice(&wire(|o| encode_cancel_push(2, o)));
    assert_eq!(
        all(&mut d, buf),
        Ok(vec![
            Frame::Settings(settings),
            Frame::GoAway { id: 8 },
            Frame::MaxPushId { push_id: 3 },
            Frame::CancelPush { push_id: 2 },
        ])
    );
    let again = wire(|o| encode_settings(&settings, o));
    assert_eq!(code(&mut d, again), ErrorCode::H3_FRAME_UNEXPECTED);
    let goaway = wire(|o| encode_goaway(8, o));
    assert_eq!(
        code(&mut server(StreamKind::Control), goaway),
        ErrorCode::H3_MISSING_SETTINGS
    );
    type Encode = fn(&mut Vec<u8>);
    let not_here: [Encode; 4] = [
        |o| encode_data(b"x", o),
        |o| encode_data_header(1 << 30, o),
        |o| encode_headers(b"x", o),
        |o| encode_push_promise(1, b"x", o),
    ];
    for f in not_here {
        assert_eq!(
            code(&mut control_open(), wire(f)),
            ErrorCode::H3_FRAME_UNEXPECTED
        );
    }
    let mut client = FrameDecoder::new(StreamKind::Control, Side::Client, LIMIT);
    let mut buf = wire(|o| encode_settings(&settings, o));
    buf.extend_from_slice(&wire(|o| encode_max_push_id(3, o)));
    assert_eq!(code(&mut client, buf), ErrorCode::H3_FRAME_UNEXPECTED);
}

#[test]
fn a_servers_request_stream_follows_headers_data_trailers() {
    let ok = |frames: &[fn(&mut Vec<u8>)]| {
        let mut buf = BytesMut::new();
        for f in frames {
            buf.extend_from_slice(&wire(f));
        }
        all(&mut server(StreamKind::Request), buf).map(|f| f.len())
    };
    let headers: fn(&mut Vec<u8>) = |o| encode_headers(b"h", o);
    let data: fn(&mut Vec<u8>) = |o| encode_data(b"d", o);
    assert_eq!(ok(&[headers, data, data, headers]), Ok(6));
    assert_eq!(ok(&[headers, headers]), Ok(2));
    for bad in [
        &[data][..],
        &[headers, headers, data],
        &[headers, data, headers, headers],
        &[headers, |o| encode_goaway(0, o)],
        &[headers, |o| encode_settings(&Settings::default(), o)],
        &[headers, |o| encode_cancel_push(0, o)],
        &[headers, |o| encode_max_push_id(0, o)],
        &[|o| encode_push_promise(0, b"", o)],
    ] {
        assert_eq!(
            ok(bad).map_err(|e| e.code),
            Err(ErrorCode::H3_FRAME_UNEXPECTED)
        );
    }
    // A client reading responses takes interim HEADERS and PUSH_PROMISE.
    let mut buf = wire(|o| encode_headers(b"1", o));
    buf.extend_from_slice(&wire(|o| encode_push_promise(4, b"p", o)));
    buf.extend_from_slice(&wire(|o| encode_headers(b"2", o)));
    buf.extend_from_slice(&wire(|o| encode_data(b"d", o)));
    let mut client = FrameDecoder::new(StreamKind::Request, Side::Client, LIMIT);
    let frames = all(&mut client, buf).expect("valid");
    assert_eq!(
        frames[1],
        Frame::PushPromise {
            push_id: 4,
            fields: Bytes::from_static(b"p")
        }
    );
    let mut push = FrameDecoder::new(StreamKind::Push, Side::Client, LIMIT);
    let promise = wire(|o| encode_push_promise(4, b"p", o));
    assert_eq!(code(&mut push, promise), ErrorCode::H3_FRAME_UNEXPECTED);
}

#[test]
fn frame_sizes_are_checked_before_payloads_arrive() {
    let header_only = |ty: u64, len: u64| {
        let mut buf = Vec::new();
        varint::encode(ty, &mut buf);
        varint::encode(len, &mut buf);
        BytesMut::from(&buf[..])
    };
    let mut d = server(StreamKind::Control);
    let mut buf = header_only(SETTINGS, MAX_SETTINGS_LEN + 1);
    assert_eq!(
        d.decode(&mut buf).map_err(|e| e.code),
        Err(ErrorCode::H3_EXCESSIVE_LOAD)
    );
    let mut d = FrameDecoder::new(StreamKind::Request, Side::Client, LIMIT);
    let mut buf = header_only(PUSH_PROMISE, LIMIT + 9);
    assert_eq!(
        d.decode(&mut buf).map_err(|e| e.code),
        Err(ErrorCode::H3_EXCESSIVE_LOAD)
    );
    for ty in [GOAWAY, CANCEL_PUSH, MAX_PUSH_ID] {
        let mut buf = header_only(ty, 9);
        assert_eq!(
            control_open().decode(&mut buf).map_err(|e| e.code),
            Err(ErrorCode::H3_FRAME_ERROR)
        );
    }
}

#[test]
fn payloads_must_match_their_lengths() {
    let raw = |ty: u64, payload: &[u8]| wire(|o| encode_unknown(ty, payload, o));
    for ty in [GOAWAY, CANCEL_PUSH, MAX_PUSH_ID] {
        for payload in [&[][..], &[0x01, 0x00], &[0x40], &[0x80, 0, 0, 1, 2]] {
            assert_eq!(
                code(&mut control_open(), raw(ty, payload)),
                ErrorCode::H3_FRAME_ERROR,
                "{ty} {payload:?}"
            );
        }
        // A longer-than-needed integer is still one integer.
        let frames = all(&mut control_open(), raw(ty, &[0x40, 0x05])).expect("valid");
        assert_eq!(frames.len(), 1);
    }
    let mut settings = server(StreamKind::Control);
    assert_eq!(
        code(&mut settings, raw(SETTINGS, &[0x01])),
        ErrorCode::H3_FRAME_ERROR
    );
    let mut client = FrameDecoder::new(StreamKind::Request, Side::Client, LIMIT);
    assert_eq!(
        code(&mut client, raw(PUSH_PROMISE, &[0x40])),
        ErrorCode::H3_FRAME_ERROR
    );
}

#[test]
fn a_stream_must_end_between_frames() {
    let mut d = server(StreamKind::Request);
    let mut buf = BytesMut::from(&[0x01][..]);
    assert_eq!(d.decode(&mut buf), Ok(None));
    assert_eq!(
        d.finish(&buf).map_err(|e| e.code),
        Err(ErrorCode::H3_FRAME_ERROR)
    );
    let mut buf = wire(|o| encode_unknown(0x21, b"abc", o));
    buf.truncate(buf.len() - 1);
    assert!(matches!(
        d.decode(&mut buf),
        Ok(Some(Frame::Unknown { .. }))
    ));
    assert_eq!(d.decode(&mut buf), Ok(None));
    assert!(buf.is_empty());
    assert!(d.finish(&buf).is_err(), "inside a skipped payload");
    assert_eq!(server(StreamKind::Request).finish(&BytesMut::new()), Ok(()));
}

#[test]
fn encodings_match_rfc_9114_layouts() {
    type Encode = fn(&mut Vec<u8>);
    let cases: [(Encode, &[u8]); 7] = [
        (|o| encode_data(b"hi", o), &[0x00, 0x02, b'h', b'i']),
        (|o| encode_headers(&[0xd1], o), &[0x01, 0x01, 0xd1]),
        (|o| encode_cancel_push(1, o), &[0x03, 0x01, 0x01]),
        (|o| encode_goaway(300, o), &[0x07, 0x02, 0x41, 0x2c]),
        (|o| encode_max_push_id(0, o), &[0x0d, 0x01, 0x00]),
        (
            |o| encode_push_promise(64, b"f", o),
            &[0x05, 0x03, 0x40, 0x40, b'f'],
        ),
        (
            |o| {
                let s = Settings {
                    qpack_max_table_capacity: Some(0),
                    ..Settings::default()
                };
                encode_settings(&s, o)
            },
            // The capacity, then the reserved setting 0x1f * 7 + 0x21 = 0xfa.
            &[0x04, 0x05, 0x01, 0x00, 0x40, 0xfa, 0x00],
        ),
    ];
    for (f, expect) in cases {
        assert_eq!(&wire(f)[..], expect);
    }
}

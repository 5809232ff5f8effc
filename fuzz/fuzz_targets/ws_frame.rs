//! Feeds a WebSocket `Session` (no permessage-deflate) arbitrary bytes in arbitrary
//! splits, driven as a driver would: every event drained, every message echoed, the
//! application closing when the input says so, the output taken after each read.
//!
//! Checks that it never panics; that `poll_event` fails at most once and says nothing
//! after; that the output is whole, unmasked server frames, ending with the close
//! frame once the session failed or closed, with nothing after it; that buffered input
//! stays within one frame and the message within its cap; and that the split of the
//! input does not change the events or the output.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use roadrunner_ws::{CloseCode, Config, Event, Session};

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    small_limits: bool,
    /// The application closes after this many events.
    close_after: Option<u8>,
    splits: Vec<u16>,
    data: &'a [u8],
}

/// What one run looked like from the outside.
#[derive(Debug, PartialEq)]
struct Outcome {
    events: Vec<Event>,
    error: Option<roadrunner_ws::ProtocolError>,
    /// The error's code, when no close frame was queued before it.
    error_close: Option<CloseCode>,
    /// The frames written other than pongs (opcode, payload). Pongs are left out:
    /// they go ahead of what is queued when they are made, and past a burst only the
    /// latest ping is sure of an answer, so they depend on when output is taken.
    frames: Vec<(u8, Vec<u8>)>,
}

fuzz_target!(|input: Input<'_>| {
    let (max_frame, max_message) = if input.small_limits {
        (64, 150)
    } else {
        (1 << 16, 1 << 17)
    };
    let config = Config::new(max_frame, max_message).expect("message cap over frame cap");
    let whole = run(&input, config.clone(), &[]);
    let split = run(&input, config, &input.splits);
    assert_eq!(whole, split, "the split changed the outcome");
});

fn run(input: &Input<'_>, config: Config, splits: &[u16]) -> Outcome {
    let (max_frame, max_message) = (config.max_frame_size(), config.max_message_size());
    let data = input.data;
    let mut cuts: Vec<usize> = splits
        .iter()
        .map(|&s| usize::from(s) % (data.len() + 1))
        .collect();
    cuts.extend([0, data.len()]);
    cuts.sort_unstable();

    let mut session = Session::new(config, None);
    let mut outcome = Outcome {
        events: Vec::new(),
        error: None,
        error_close: None,
        frames: Vec::new(),
    };
    let mut out = Vec::new();
    for w in cuts.windows(2) {
        if !session.wants_read() {
            assert!(outcome.error.is_some() || session.is_closed() || !session.can_send());
            break;
        }
        session.recv(&data[w[0]..w[1]]);
        loop {
            let could_send = session.can_send();
            match session.poll_event() {
                Ok(Some(event)) => {
                    assert!(outcome.error.is_none(), "an event after the error");
                    match &event {
                        Event::Text(t) => {
                            assert!(t.len() <= max_message);
                            let _ = session.send_text(t.clone());
                        }
                        Event::Binary(b) => {
                            assert!(b.len() <= max_message);
                            let _ = session.send_binary(b.clone());
                        }
                        _ => {}
                    }
                    outcome.events.push(event);
                    if input.close_after == Some(outcome.events.len() as u8) {
                        let _ = session.close(CloseCode::NORMAL, "enough");
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    assert!(outcome.error.is_none(), "a second error");
                    outcome.error = Some(e);
                    if could_send {
                        outcome.error_close = Some(e.close_code());
                    }
                }
            }
        }
        assert!(
            session.buffered_input() <= 14 + max_frame + max_message,
            "buffered {}",
            session.buffered_input()
        );
        session.poll_transmit(&mut out);
    }
    check_output(&mut outcome, &out, &session);
    outcome
}

/// The output is whole server frames; a close frame, if any, is the last one; the
/// latest ping is answered.
fn check_output(outcome: &mut Outcome, out: &[u8], session: &Session) {
    let mut buf = out;
    let mut pongs = Vec::new();
    let mut closes = 0;
    let mut last_close = None;
    while !buf.is_empty() {
        assert!(last_close.is_none(), "a frame after the close frame");
        assert!(buf.len() >= 2, "partial header");
        let (b0, b1) = (buf[0], buf[1]);
        assert_eq!(b1 & 0x80, 0, "masked server frame");
        assert_eq!(b0 & 0x70, 0, "reserved bits without deflate");
        let (len, at) = match b1 & 0x7f {
            126 => (usize::from(u16::from_be_bytes([buf[2], buf[3]])), 4),
            127 => (
                u64::from_be_bytes(buf[2..10].try_into().unwrap()) as usize,
                10,
            ),
            n => (usize::from(n), 2),
        };
        let payload = &buf[at..at + len];
        let opcode = b0 & 0x0f;
        if opcode >= 8 {
            assert!(len <= 125 && b0 & 0x80 != 0, "bad control frame");
        }
        if opcode == 8 {
            closes += 1;
            assert!(len >= 2);
            let code = CloseCode::new(u16::from_be_bytes([payload[0], payload[1]]));
            assert!(code.is_valid());
            last_close = Some(code);
        }
        if opcode == 0xa {
            pongs.push(payload.to_vec());
        } else {
            outcome.frames.push((opcode, payload.to_vec()));
        }
        buf = &buf[at + len..];
    }
    assert!(closes <= 1, "more than one close frame");
    let pings: Vec<&[u8]> = outcome
        .events
        .iter()
        .filter_map(|e| match e {
            Event::Ping(p) => Some(&p[..]),
            _ => None,
        })
        .collect();
    assert!(
        pongs.iter().all(|p| pings.contains(&&p[..])),
        "a pong for no ping"
    );
    if let Some(last) = pings.last() {
        assert!(
            pongs.iter().any(|p| p == last),
            "the latest ping unanswered"
        );
    }
    if outcome.error.is_some() {
        assert!(last_close.is_some(), "no close frame after an error");
        assert!(session.is_closed());
    }
    if let Some(code) = outcome.error_close {
        assert_eq!(
            last_close,
            Some(code),
            "the close frame does not carry the error's code"
        );
    }
}

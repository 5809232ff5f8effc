//! Round trips under proptest: what a client encodes the session decodes, in any
//! fragmentation and any split of the input; what the session sends a client decodes.

mod common;

use common::*;
use proptest::prelude::*;
use roadrunner_ws::bytes::{Bytes, BytesMut};
use roadrunner_ws::{Config, DeflateParams, ErrorKind, Event, Session};

#[derive(Clone, Debug)]
enum Message {
    Text(String),
    Binary(Vec<u8>),
}

impl Message {
    fn bytes(&self) -> &[u8] {
        match self {
            Message::Text(t) => t.as_bytes(),
            Message::Binary(b) => b,
        }
    }

    fn opcode(&self) -> u8 {
        match self {
            Message::Text(_) => TEXT,
            Message::Binary(_) => BINARY,
        }
    }

    fn event(&self) -> Event {
        match self {
            Message::Text(t) => Event::Text(t.clone()),
            Message::Binary(b) => Event::Binary(Bytes::from(b.clone())),
        }
    }
}

fn message() -> impl Strategy<Value = Message> {
    prop_oneof![
        ".{0,200}".prop_map(Message::Text),
        proptest::collection::vec(any::<u8>(), 0..400).prop_map(Message::Binary),
    ]
}

/// A message with where to cut it into fragments, whether to compress it, whether to
/// put a ping after each fragment, and a mask key.
type Framed = (Message, Vec<prop::sample::Index>, bool, Vec<bool>, [u8; 4]);

fn framed_message() -> impl Strategy<Value = Framed> {
    (
        message(),
        proptest::collection::vec(any::<prop::sample::Index>(), 0..4),
        any::<bool>(),
        proptest::collection::vec(any::<bool>(), 4),
        any::<[u8; 4]>(),
    )
}

/// Cut points into `len` bytes: sorted, within `0..=len`.
fn cuts(len: usize, idx: &[prop::sample::Index]) -> Vec<usize> {
    let mut c: Vec<usize> = idx.iter().map(|i| i.index(len + 1)).collect();
    c.sort_unstable();
    c
}

/// Splits `data` at `cuts` (empty pieces included).
fn pieces<'a>(data: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut start = 0;
    for &c in cuts {
        out.push(&data[start..c]);
        start = c;
    }
    out.push(&data[start..]);
    out
}

/// Encodes messages as a client: fragments (with pings between), compressed or not.
/// Returns the wire and the events a server should report.
fn encode(messages: &[Framed], mut deflate: Option<&mut ClientDeflate>) -> (Vec<u8>, Vec<Event>) {
    let (mut wire, mut expected) = (Vec::new(), Vec::new());
    for (msg, idx, compress, pings, key) in messages {
        let compressed;
        let (payload, rsv1) = match deflate.as_deref_mut() {
            Some(d) if *compress => {
                compressed = d.compress(msg.bytes());
                (&compressed[..], true)
            }
            _ => (msg.bytes(), false),
        };
        let parts = pieces(payload, &cuts(payload.len(), idx));
        let last = parts.len() - 1;
        for (i, part) in parts.iter().enumerate() {
            let opcode = if i == 0 { msg.opcode() } else { CONT };
            wire.extend(frame(i == last, rsv1 && i == 0, opcode, part, *key));
            if i < last && pings[i % pings.len()] {
                let p = format!("ping {i}");
                wire.extend(frame(true, false, PING, p.as_bytes(), *key));
                expected.push(Event::Ping(Bytes::from(p)));
            }
        }
        expected.push(msg.event());
    }
    (wire, expected)
}

/// Feeds `wire` in the given chunk sizes, draining events after each.
fn feed(session: &mut Session, wire: &[u8], splits: &[prop::sample::Index]) -> Vec<Event> {
    let mut got = Vec::new();
    for piece in pieces(wire, &cuts(wire.len(), splits)) {
        session.recv(piece);
        let (evs, err) = events(session);
        assert_eq!(err, None);
        got.extend(evs);
    }
    got
}

/// Feeds `wire` as [`feed`] does, through `recv_bytes`: each piece split off one
/// buffer (so that it continues what is buffered in memory), or copied into a buffer
/// of its own where `fresh` says so.
fn feed_owned(
    session: &mut Session,
    wire: &[u8],
    splits: &[prop::sample::Index],
    fresh: &[bool],
) -> Vec<Event> {
    let mut got = Vec::new();
    let mut rest = BytesMut::from(wire);
    for (i, piece) in pieces(wire, &cuts(wire.len(), splits)).iter().enumerate() {
        let split = rest.split_to(piece.len());
        if fresh.get(i).copied().unwrap_or(false) {
            session.recv_bytes(BytesMut::from(&split[..]));
        } else {
            session.recv_bytes(split);
        }
        let (evs, err) = events(session);
        assert_eq!(err, None);
        got.extend(evs);
    }
    got
}

proptest! {
    #[test]
    fn frames_round_trip_from_owned_buffers(
        messages in proptest::collection::vec(framed_message(), 0..6),
        splits in proptest::collection::vec(any::<prop::sample::Index>(), 0..8),
        fresh in proptest::collection::vec(any::<bool>(), 9),
    ) {
        let (wire, expected) = encode(&messages, None);
        let mut s = Session::new(Config::default(), None);
        prop_assert_eq!(feed_owned(&mut s, &wire, &splits, &fresh), expected);
        prop_assert!(s.buffered_input() == 0);
    }

    #[test]
    fn frames_round_trip(
        messages in proptest::collection::vec(framed_message(), 0..6),
        splits in proptest::collection::vec(any::<prop::sample::Index>(), 0..8),
    ) {
        let (wire, expected) = encode(&messages, None);
        let mut s = Session::new(Config::default(), None);
        prop_assert_eq!(feed(&mut s, &wire, &splits), expected);
        prop_assert!(s.buffered_input() == 0);
    }

    #[test]
    fn deflate_messages_round_trip(
        messages in proptest::collection::vec(framed_message(), 0..6),
        no_context in any::<bool>(),
        splits in proptest::collection::vec(any::<prop::sample::Index>(), 0..8),
    ) {
        let mut client = ClientDeflate::new(no_context);
        let (wire, expected) = encode(&messages, Some(&mut client));
        let mut s = Session::new(Config::default(), Some(DeflateParams::default()));
        prop_assert_eq!(feed(&mut s, &wire, &splits), expected);
    }

    #[test]
    fn utf8_across_fragments_matches_std(
        bytes in prop_oneof![
            ".{0,40}".prop_map(String::into_bytes),
            proptest::collection::vec(any::<u8>(), 0..40),
            (".{1,40}", any::<prop::sample::Index>(), any::<u8>()).prop_map(|(s, i, b)| {
                let mut v = s.into_bytes();
                let at = i.index(v.len());
                v[at] = b;
                v
            }),
        ],
        idx in proptest::collection::vec(any::<prop::sample::Index>(), 0..5),
    ) {
        let mut s = Session::new(Config::default(), None);
        let parts = pieces(&bytes, &cuts(bytes.len(), &idx));
        let last = parts.len() - 1;
        let mut seen = 0;
        let mut outcome = None;
        for (i, part) in parts.iter().enumerate() {
            let opcode = if i == 0 { TEXT } else { CONT };
            s.recv(&frame(i == last, false, opcode, part, KEY));
            seen += part.len();
            let (evs, err) = events(&mut s);
            // Fail fast: as soon as the bytes so far cannot start valid text (or, at
            // the end, are not text).
            let doomed = match std::str::from_utf8(&bytes[..seen]) {
                Ok(_) => false,
                Err(e) => e.error_len().is_some() || i == last,
            };
            prop_assert_eq!(err.is_some(), doomed, "after fragment {}", i);
            if let Some(e) = err {
                prop_assert_eq!(e.kind(), ErrorKind::InvalidUtf8);
                outcome = Some(Err(()));
                break;
            }
            if let Some(ev) = evs.into_iter().next() {
                outcome = Some(Ok(ev));
            }
        }
        match std::str::from_utf8(&bytes) {
            Ok(text) => prop_assert_eq!(outcome, Some(Ok(Event::Text(text.to_owned())))),
            Err(_) => prop_assert_eq!(outcome, Some(Err(()))),
        }
    }

    #[test]
    fn sent_messages_decode_on_the_client(
        messages in proptest::collection::vec(message(), 0..8),
        deflate in proptest::option::of((any::<bool>(), 8u8..=15)),
    ) {
        let params = deflate.map(|(no_context, bits)| DeflateParams {
            server_no_context_takeover: no_context,
            server_max_window_bits: bits,
            ..DeflateParams::default()
        });
        let mut s = Session::new(Config::default(), params);
        for m in &messages {
            match m {
                Message::Text(t) => s.send_text(t.clone()).unwrap(),
                Message::Binary(b) => s.send_binary(b.clone()).unwrap(),
            }
        }
        let frames = transmitted(&mut s);
        prop_assert_eq!(frames.len(), messages.len());
        let mut client = ClientInflate::new();
        for (f, m) in frames.iter().zip(&messages) {
            prop_assert!(f.fin);
            prop_assert_eq!(f.opcode, m.opcode());
            prop_assert!(!f.rsv1 || params.is_some());
            let payload = if f.rsv1 { client.inflate(&f.payload) } else { f.payload.clone() };
            prop_assert_eq!(&payload[..], m.bytes());
        }
    }
}

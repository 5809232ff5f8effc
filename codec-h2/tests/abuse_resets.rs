//! Known HTTP/2 attacks by resets and header blocks, replayed against `ServerConn`
//! (the harness is in `abuse/`): rapid reset, server-provoked resets (MadeYouReset),
//! reset and CONTINUATION floods, and an HPACK bomb. Each test checks that what the
//! server holds stays under a fixed bound, that the events and output per input byte
//! stay bounded, and where the abuse is clear that the connection ends with
//! `GOAWAY(ENHANCE_YOUR_CALM)`.

mod abuse;

use abuse::*;

#[test]
fn rapid_reset_ends_with_enhance_your_calm_and_never_exceeds_the_stream_limit() {
    let mut d = Driver::new(Config::default(), true, never);
    let mut c = Client::new();
    for i in 0..10_000 {
        let id = 2 * i + 1;
        c.get(id);
        c.rst(id);
    }
    let attack = c.take();
    let mark = heap_mark();
    let taken = d.feed(&attack);
    let growth = heap_growth(mark);
    d.assert_calm("reset by the peer");
    // The burst of 200 resets, then the next one ends it.
    assert_eq!(d.requests, 201);
    // Read no further than the read that held the 201st pair.
    let pair = attack.len() / 10_000;
    assert!(taken <= 201 * pair + READ, "{taken} of {}", attack.len());
    assert!(d.max_handlers <= 1);
    assert_bounded(&d);
    assert!(growth < 256 * 1024, "heap grew {growth}");
}

#[test]
fn resets_never_let_the_work_in_flight_exceed_max_concurrent_streams() {
    let mut d = Driver::new(Config::default(), true, never);
    let mut c = Client::new();
    // Fill the limit with handlers that keep working...
    for i in 0..100 {
        c.get(2 * i + 1);
    }
    // ...then reset the oldest and open another, again and again.
    for i in 0..1000 {
        c.rst(2 * i + 1);
        c.get(2 * (i + 100) + 1);
    }
    let attack = c.take();
    d.feed(&attack);
    assert!(d.max_handlers <= 100, "{} handlers at once", d.max_handlers);
    d.assert_calm("reset by the peer");
    assert_eq!(d.seen.resets, 0, "nothing refused: each reset freed a slot");
    assert_bounded(&d);
}

#[test]
fn a_client_that_cancels_no_more_than_it_completes_is_served() {
    let slow = |h: &RequestHead| (h.uri.path() != "/slow").then_some(0);
    let mut d = Driver::new(Config::default(), true, slow);
    let mut c = Client::new();
    for i in 0..2000 {
        c.request(4 * i + 1, "/slow", &[], true);
        c.rst(4 * i + 1);
        c.get(4 * i + 3);
    }
    let attack = c.take();
    assert_eq!(d.feed(&attack), attack.len());
    d.transmit();
    d.assert_alive();
    assert_eq!(d.requests, 4000);

    // Two cancelled for each completed: the budget drains by one every three streams,
    // so it is dry after about 600; a little sooner, since a completed stream counts
    // once its response has gone out, after the read that asked for it.
    let mut d = Driver::new(Config::default(), true, slow);
    let mut c = Client::new();
    for i in 0..2000 {
        c.request(6 * i + 1, "/slow", &[], true);
        c.rst(6 * i + 1);
        c.request(6 * i + 3, "/slow", &[], true);
        c.rst(6 * i + 3);
        c.get(6 * i + 5);
    }
    d.feed(&c.take());
    d.assert_calm("reset by the peer");
    assert!((450..=610).contains(&d.requests), "{}", d.requests);
}

/// Streams the server is made to reset: each provocation opens a stream, then breaks a
/// rule on it.
fn provoke(c: &mut Client, id: u32, how: u32) {
    match how {
        // A WINDOW_UPDATE that takes the stream's send window past 2^31-1.
        0 => {
            c.get(id);
            frame::encode_window_update(id, (1 << 31) - 1, &mut c.out);
        }
        // DATA after END_STREAM.
        1 => {
            c.get(id);
            frame::encode_data(id, b"x", false, &mut c.out);
        }
        // A body shorter than its content-length.
        2 => {
            c.request(id, "/", &[("content-length", "10")], false);
            frame::encode_data(id, b"x", true, &mut c.out);
        }
        // Trailers without END_STREAM.
        _ => {
            c.request(id, "/", &[], false);
            frame::encode_headers(id, &[], false, 16_384, &mut c.out);
        }
    }
}

#[test]
fn made_you_reset_ends_with_enhance_your_calm() {
    for reads in [true, false] {
        let mut d = Driver::new(Config::default(), reads, never);
        let mut c = Client::new();
        for i in 0..10_000 {
            provoke(&mut c, 2 * i + 1, i % 4);
        }
        let attack = c.take();
        let mark = heap_mark();
        let taken = d.feed(&attack);
        let growth = heap_growth(mark);
        d.assert_calm("for the peer's errors");
        assert_eq!(d.seen.resets, 200, "the burst, then GOAWAY");
        assert!(taken < attack.len() / 20, "{taken} of {}", attack.len());
        assert!(d.max_handlers <= 1, "each handler was stopped by its Reset");
        assert_bounded(&d);
        assert!(growth < 256 * 1024, "heap grew {growth}");
    }
}

#[test]
fn a_reset_flood_of_frames_answered_with_rst_stream_is_stopped() {
    // WINDOW_UPDATE with increment 0 on a closed stream: each one is answered with a
    // RST_STREAM, which a client that never reads leaves in the backlog.
    let mut d = Driver::new(Config::default(), false, at_once);
    let mut c = Client::new();
    c.get(1);
    for _ in 0..100_000 {
        c.out
            .extend_from_slice(&[0, 0, 4, 0x8, 0, 0, 0, 0, 1, 0, 0, 0, 0]);
    }
    let attack = c.take();
    d.feed(&attack);
    d.assert_calm("for the peer's errors");
    assert_eq!(d.seen.resets, 200);
    assert_bounded(&d);
}

#[test]
fn a_continuation_flood_of_empty_frames_is_stopped() {
    let mut d = Driver::new(Config::default(), true, at_once);
    let mut c = Client::new();
    c.get(1);
    let mut out = c.take();
    // HEADERS without END_HEADERS, then empty CONTINUATIONs that never end.
    out[4] &= !0x4;
    for _ in 0..100_000 {
        out.extend_from_slice(&[0, 0, 0, 0x9, 0, 0, 0, 0, 1]);
    }
    let taken = d.feed(&out);
    d.assert_calm("CONTINUATION");
    assert!(taken <= READ, "stopped within the first read: {taken}");
    assert_eq!(d.requests, 0);
    assert_bounded(&d);

    // A block split into MAX_CONTINUATIONS small frames is still served.
    let mut d = Driver::new(Config::default(), true, at_once);
    let mut c = Client::new();
    let mut block = Vec::new();
    let fields = [
        (":method", "GET"),
        (":scheme", "https"),
        (":authority", "example.com"),
        (
            ":path",
            "/a/path/long/enough/to/split/into/many/pieces/of/a/block/xyz",
        ),
    ];
    c.enc.encode(
        fields.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())),
        &mut block,
    );
    let parts = MAX_CONTINUATIONS as usize + 1;
    assert!(block.len() >= parts, "{}", block.len());
    let mut out = Vec::new();
    let step = block.len().div_ceil(parts);
    for (i, piece) in block.chunks(step).enumerate() {
        let last = (i + 1) * step >= block.len();
        let (ty, flags) = if i == 0 { (0x1, 0x1) } else { (0x9, 0) };
        let flags = flags | if last { 0x4 } else { 0 };
        out.extend_from_slice(&(piece.len() as u32).to_be_bytes()[1..]);
        out.extend_from_slice(&[ty, flags, 0, 0, 0, 1]);
        out.extend_from_slice(piece);
    }
    d.feed(&out);
    d.assert_alive();
    assert_eq!(d.requests, 1);
}

/// A HEADERS block for `GET /` on the static table, then `extra`.
fn raw_get(stream: u32, extra: &[u8], out: &mut Vec<u8>) {
    let mut block = vec![0x82, 0x87, 0x84, 0x01, 11];
    block.extend_from_slice(b"example.com");
    block.extend_from_slice(extra);
    frame::encode_headers(stream, &block, true, 16_384, out);
}

/// An HPACK integer with a 7-bit prefix (string lengths).
fn hpack_len(n: usize, out: &mut Vec<u8>) {
    if n < 127 {
        out.push(n as u8);
        return;
    }
    out.push(127);
    let mut rest = n - 127;
    while rest >= 128 {
        out.push(0x80 | (rest & 0x7f) as u8);
        rest >>= 7;
    }
    out.push(rest as u8);
}

#[test]
fn an_hpack_bomb_is_answered_431_with_bounded_memory_and_the_connection_goes_on() {
    let mut d = Driver::new(Config::default(), true, at_once);
    // A 4000-byte value into the dynamic table (index 62)...
    let mut entry = vec![0x40, 6];
    entry.extend_from_slice(b"x-bomb");
    hpack_len(4000, &mut entry);
    entry.extend_from_slice(&[b'b'; 4000]);
    let mut out = Vec::new();
    raw_get(1, &entry, &mut out);
    d.feed(&out);
    assert_eq!(d.requests, 1);
    // ...then blocks of 16,000 references to it: 64 MB of fields each.
    let mut attack = Vec::new();
    for i in 0..50 {
        raw_get(2 * i + 3, &[0xbe; 16_000], &mut attack);
    }
    let mark = heap_mark();
    assert_eq!(d.feed(&attack), attack.len());
    let growth = heap_growth(mark);
    d.transmit();
    d.assert_alive();
    assert_eq!(d.seen.statuses.get(&431), Some(&50));
    assert!(growth < 512 * 1024, "heap grew {growth}");
    assert_bounded(&d);
    // The table is in step: a request using it is served.
    let mut out = Vec::new();
    raw_get(103, &[0xbe], &mut out);
    d.feed(&out);
    assert_eq!(d.requests, 2);
}

#[test]
fn empty_header_fields_count_32_bytes_each() {
    // 2,000 literal fields with an empty name and value: 6 KB on the wire, 64 KB as
    // a list, over max_header_list_size.
    let mut d = Driver::new(Config::default(), true, at_once);
    let mut out = Vec::new();
    raw_get(1, &[0, 0, 0].repeat(2000), &mut out);
    // The same through the table: one empty entry, then 16,000 one-byte references.
    let mut block = vec![0x40, 0, 0];
    block.extend_from_slice(&[0xbe; 16_000]);
    raw_get(3, &block, &mut out);
    let mark = heap_mark();
    d.feed(&out);
    let growth = heap_growth(mark);
    d.transmit();
    assert_eq!(d.seen.statuses.get(&431), Some(&2));
    assert!(growth < 256 * 1024, "heap grew {growth}");
    // Under the limit, an empty name is malformed: the stream is reset, the
    // connection goes on.
    let mut out = Vec::new();
    raw_get(5, &[0, 0, 0].repeat(100), &mut out);
    d.feed(&out);
    d.transmit();
    assert_eq!(d.seen.resets, 3);
    d.assert_alive();
}

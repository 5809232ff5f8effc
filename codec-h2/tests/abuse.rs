//! Known HTTP/2 attacks replayed against `ServerConn`, driven as a well-behaved driver
//! drives it (reads of 4 KiB only while `wants_read`, events drained after each read,
//! `poll_transmit` only while the client reads). Each test checks that what the server
//! holds stays under a fixed bound (its own count, `buffered`, and the heap a
//! counting allocator sees grow on the test's thread), that the events and output per
//! input byte stay bounded, and where the abuse is clear that the connection ends
//! with `GOAWAY(ENHANCE_YOUR_CALM)`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};

use bytes::{Bytes, BytesMut};
use roadrunner_h2::abuse::{MAX_CONTINUATIONS, MAX_UNREAD_ACKS};
use roadrunner_h2::conn::{Buffered, Config, Event, ServerConn, PREFACE};
use roadrunner_h2::frame::{self, Frame, Priority};
use roadrunner_h2::http::{HeaderMap, StatusCode};
use roadrunner_h2::{ConnError, Decoder, Encoder, ErrorCode, RequestHead, Settings};

/// Counts the bytes live on each thread, so a test sees what its own server holds.
struct Counting;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn note(delta: isize) {
    // `try_with`: allocations during thread teardown are not counted.
    let _ = LIVE.try_with(|live| {
        let now = live.get() + delta;
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

// SAFETY: every call is forwarded unchanged to the system allocator; the counters are
// thread-local `Cell`s with const initialisers, which do not allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `alloc`'s contract, passed on as is.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            note(layout.size() as isize);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note(-(layout.size() as isize));
        // SAFETY: `ptr` came from `System.alloc` with this `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller upholds `realloc`'s contract, passed on as is.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            note(new_size as isize - layout.size() as isize);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Starts measuring: returns the bytes live now, and makes that the peak.
fn heap_mark() -> isize {
    let live = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(live));
    live
}

/// How far the heap grew above `mark` at its peak.
fn heap_growth(mark: isize) -> isize {
    PEAK.with(Cell::get) - mark
}

/// The size of the reads the driver does.
const READ: usize = 4096;

/// What the client saw the server write.
#[derive(Default, Debug)]
struct Seen {
    bytes: usize,
    resets: usize,
    window_updates: usize,
    data_frames: usize,
    data: usize,
    ping_acks: usize,
    settings_acks: usize,
    statuses: BTreeMap<u16, usize>,
    goaway: Option<(ErrorCode, Bytes)>,
}

/// How the application answers a request: `Some(n)` a 200 with `n` body bytes,
/// `None` a handler that keeps working until the stream is reset.
type Answer = fn(&RequestHead) -> Option<usize>;

fn at_once(_: &RequestHead) -> Option<usize> {
    Some(0)
}

fn never(_: &RequestHead) -> Option<usize> {
    None
}

/// A server and the driver around it.
struct Driver {
    server: ServerConn,
    /// Whether the client reads: if not, the driver's socket is full and it never
    /// calls `poll_transmit`.
    reads: bool,
    answer: Answer,
    dec: Decoder,
    wire: BytesMut,
    seen: Seen,
    /// Streams whose handler is running.
    handlers: BTreeSet<u32>,
    max_handlers: usize,
    /// Body bytes each stream still has to send, waiting for `Writable`.
    bodies: BTreeMap<u32, usize>,
    requests: usize,
    events: usize,
    error: Option<ConnError>,
    peak: Buffered,
    fed: usize,
}

impl Driver {
    fn new(config: Config, reads: bool, answer: Answer) -> Driver {
        let mut d = Driver {
            server: ServerConn::new(config),
            reads,
            answer,
            dec: Decoder::new(),
            wire: BytesMut::new(),
            seen: Seen::default(),
            handlers: BTreeSet::new(),
            max_handlers: 0,
            bodies: BTreeMap::new(),
            requests: 0,
            events: 0,
            error: None,
            peak: Buffered::default(),
            fed: 0,
        };
        let mut hello = PREFACE.to_vec();
        frame::encode_settings(&Settings::default(), &mut hello);
        frame::encode_settings_ack(&mut hello);
        d.feed(&hello);
        d.transmit();
        d
    }

    /// Feeds `attack` as the client sends it, for as long as the server reads;
    /// returns how much was taken.
    fn feed(&mut self, attack: &[u8]) -> usize {
        let mut at = 0;
        while at < attack.len() && self.server.wants_read() {
            let n = READ.min(attack.len() - at);
            self.server.recv(&attack[at..at + n]);
            at += n;
            self.fed += n;
            self.drain();
            let b = self.server.buffered();
            self.peak.input = self.peak.input.max(b.input);
            self.peak.control = self.peak.control.max(b.control);
            self.peak.responses = self.peak.responses.max(b.responses);
            if self.reads {
                self.transmit();
            }
        }
        at
    }

    fn drain(&mut self) {
        loop {
            match self.server.poll_event() {
                Ok(Some(event)) => {
                    assert!(self.error.is_none(), "an event after the error");
                    self.events += 1;
                    self.handle(event);
                }
                Ok(None) => return,
                Err(e) => {
                    assert!(self.error.is_none(), "a second error");
                    self.error = Some(e);
                    // Every stream went with the connection.
                    self.handlers.clear();
                    self.bodies.clear();
                }
            }
        }
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::Request { stream, head, .. } => {
                self.requests += 1;
                let Some(len) = (self.answer)(&head) else {
                    self.handlers.insert(stream);
                    self.max_handlers = self.max_handlers.max(self.handlers.len());
                    return;
                };
                self.server
                    .send_response(stream, StatusCode::OK, &HeaderMap::new(), len == 0)
                    .expect("head");
                if len > 0 {
                    self.handlers.insert(stream);
                    self.max_handlers = self.max_handlers.max(self.handlers.len());
                    self.bodies.insert(stream, len);
                    self.write_body(stream);
                }
            }
            Event::Data { stream, data, .. } => self.server.release(stream, data.len()),
            Event::Reset { stream, .. } => {
                // The handler stops before the next event, as the driver must.
                self.handlers.remove(&stream);
                self.bodies.remove(&stream);
            }
            Event::Writable { stream } => self.write_body(stream),
            Event::Trailers { .. } => {}
        }
    }

    /// Sends body chunks until the stream's queue is full or the body is out.
    fn write_body(&mut self, stream: u32) {
        while let Some(left) = self.bodies.get(&stream).copied() {
            let n = left.min(16_384);
            let chunk = Bytes::from(vec![b'x'; n]);
            match self.server.send_data(stream, chunk, n == left) {
                Ok(()) if n == left => {
                    self.bodies.remove(&stream);
                    self.handlers.remove(&stream);
                }
                Ok(()) => {
                    self.bodies.insert(stream, left - n);
                }
                Err(_) => return,
            }
        }
    }

    /// The client reads what the server wrote.
    fn transmit(&mut self) {
        let mut out = Vec::new();
        self.server.poll_transmit(&mut out);
        self.seen.bytes += out.len();
        self.wire.extend_from_slice(&out);
        while let Some(f) = frame::decode(&mut self.wire, 1 << 24).expect("valid frames") {
            match f {
                Frame::RstStream { .. } => self.seen.resets += 1,
                Frame::WindowUpdate { .. } => self.seen.window_updates += 1,
                Frame::Data { data, .. } => {
                    self.seen.data_frames += 1;
                    self.seen.data += data.len();
                }
                Frame::Ping { ack: true, .. } => self.seen.ping_acks += 1,
                Frame::SettingsAck => self.seen.settings_acks += 1,
                Frame::Headers { fragment, .. } => {
                    let list = self.dec.decode(&fragment, 1 << 20).expect("server HPACK");
                    if let Some((_, v)) = list.fields().iter().find(|(n, _)| n == ":status") {
                        let status = std::str::from_utf8(v).expect("ascii").parse().expect("u16");
                        *self.seen.statuses.entry(status).or_default() += 1;
                    }
                }
                Frame::GoAway { code, debug, .. } => self.seen.goaway = Some((code, debug)),
                _ => {}
            }
        }
    }

    /// Asserts the connection ended with `ENHANCE_YOUR_CALM` for `reason`.
    fn assert_calm(&mut self, reason: &str) {
        self.transmit();
        let e = self.error.as_ref().expect("the connection failed");
        assert_eq!(e.code, ErrorCode::ENHANCE_YOUR_CALM, "{e}");
        assert!(e.reason.contains(reason), "{e}");
        let (code, _) = self.seen.goaway.as_ref().expect("a GOAWAY went out");
        assert_eq!(*code, ErrorCode::ENHANCE_YOUR_CALM);
        assert!(self.server.is_closed());
    }

    fn assert_alive(&self) {
        assert!(self.error.is_none(), "{:?}", self.error);
        assert!(self.seen.goaway.is_none());
    }
}

/// Builds what a client sends.
struct Client {
    enc: Encoder,
    out: Vec<u8>,
}

impl Client {
    fn new() -> Client {
        Client {
            enc: Encoder::new(),
            out: Vec::new(),
        }
    }

    fn request(&mut self, stream: u32, path: &str, extra: &[(&str, &str)], end_stream: bool) {
        let method = if end_stream { "GET" } else { "POST" };
        let mut fields = vec![
            (":method", method),
            (":scheme", "https"),
            (":authority", "example.com"),
            (":path", path),
        ];
        fields.extend_from_slice(extra);
        let mut block = Vec::new();
        self.enc.encode(
            fields.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())),
            &mut block,
        );
        frame::encode_headers(stream, &block, end_stream, 16_384, &mut self.out);
    }

    fn get(&mut self, stream: u32) {
        self.request(stream, "/", &[], true);
    }

    fn rst(&mut self, stream: u32) {
        frame::encode_rst_stream(stream, ErrorCode::CANCEL, &mut self.out);
    }

    fn take(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }
}

/// What any attack below may make the server hold: a read, a frame, a header block,
/// and a few KiB of answers.
const BUFFERED_BOUND: usize = 64 * 1024;

fn assert_bounded(d: &Driver) {
    assert!(d.peak.input <= 16_393 + READ, "{:?}", d.peak);
    assert!(d.peak.control <= BUFFERED_BOUND, "{:?}", d.peak);
}

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

#[test]
fn a_data_dribble_is_served_with_window_updates_batched_by_the_threshold() {
    let mut d = Driver::new(Config::default(), true, never);
    let mut c = Client::new();
    c.request(1, "/", &[], false);
    for _ in 0..100_000 {
        frame::encode_data(1, b"x", false, &mut c.out);
    }
    let attack = c.take();
    assert_eq!(d.feed(&attack), attack.len());
    d.transmit();
    d.assert_alive();
    // One event per frame, and one update per window per 32 KiB released.
    assert_eq!(d.events, 100_001);
    let per_window = 100_000 / 32_768 + 1;
    assert!(d.seen.window_updates <= 2 * per_window, "{:?}", d.seen);
    assert_bounded(&d);
}

#[test]
fn tiny_window_updates_get_tiny_frames_but_no_more_output_than_input() {
    let mut d = Driver::new(Config::default(), true, |_| Some(1 << 20));
    let mut c = Client::new();
    c.get(1);
    d.feed(&c.take());
    assert_eq!(d.seen.data, 65_535, "the default windows");
    // One byte of window at a time, on the stream and the connection.
    let mut attack = Vec::new();
    for _ in 0..20_000 {
        frame::encode_window_update(1, 1, &mut attack);
        frame::encode_window_update(0, 1, &mut attack);
    }
    let before = d.seen.bytes;
    assert_eq!(d.feed(&attack), attack.len());
    d.assert_alive();
    assert_eq!(d.seen.data, 65_535 + 20_000, "exactly the window granted");
    assert!(
        d.seen.bytes - before <= attack.len(),
        "output per input byte"
    );
    assert!(d.peak.responses <= 64 * 1024 + 16_384, "{:?}", d.peak);
}

#[test]
fn a_window_update_flood_does_not_grow_the_servers_work() {
    // 100 responses waiting on the connection window, then a flood of 1-byte
    // connection WINDOW_UPDATEs: each lets out one byte and costs O(1).
    let mut d = Driver::new(Config::default(), true, |_| Some(100_000));
    let mut c = Client::new();
    for i in 0..100 {
        c.get(2 * i + 1);
    }
    d.feed(&c.take());
    assert!(
        d.peak.responses <= 100 * (64 * 1024 + 16_384),
        "{:?}",
        d.peak
    );
    let mut attack = Vec::new();
    for _ in 0..30_000 {
        frame::encode_window_update(0, 1, &mut attack);
    }
    let mark = heap_mark();
    assert_eq!(d.feed(&attack), attack.len());
    let growth = heap_growth(mark);
    d.assert_alive();
    assert_eq!(d.seen.data, 65_535 + 30_000);
    assert!(growth < 256 * 1024, "heap grew {growth}");
}

#[test]
fn a_ping_flood_the_client_never_reads_is_stopped() {
    let mut d = Driver::new(Config::default(), false, at_once);
    let mut attack = Vec::new();
    for i in 0..100_000u64 {
        frame::encode_ping(false, i.to_be_bytes(), &mut attack);
    }
    d.feed(&attack);
    d.assert_calm("unread");
    assert_eq!(d.seen.ping_acks, MAX_UNREAD_ACKS as usize);
    assert_bounded(&d);

    // Even read one ping at a time, the backlog of answers is what counts.
    let mut d = Driver::new(Config::default(), false, at_once);
    let mut taken = 0;
    for ping in attack.chunks(17).take(1000) {
        taken += d.feed(ping);
    }
    d.assert_calm("unread");
    assert!(taken <= (MAX_UNREAD_ACKS as usize + 1) * 17);
}

#[test]
fn pings_answered_as_they_come_are_served() {
    let mut d = Driver::new(Config::default(), true, at_once);
    let mut attack = Vec::new();
    for i in 0..10_000u64 {
        frame::encode_ping(false, i.to_be_bytes(), &mut attack);
    }
    for ping in attack.chunks(17) {
        d.feed(ping);
    }
    d.assert_alive();
    assert_eq!(d.seen.ping_acks, 10_000);
}

#[test]
fn a_settings_flood_is_stopped_whether_or_not_the_client_reads() {
    for reads in [true, false] {
        let mut d = Driver::new(Config::default(), reads, never);
        let mut c = Client::new();
        // 100 open streams: each new initial window walks all of them.
        for i in 0..100 {
            c.get(2 * i + 1);
        }
        let mut attack = c.take();
        for i in 0..100_000 {
            let settings = Settings {
                initial_window_size: Some(1000 + i % 2),
                ..Settings::default()
            };
            frame::encode_settings(&settings, &mut attack);
        }
        let taken = d.feed(&attack);
        d.assert_calm("SETTINGS");
        // The hello's SETTINGS, the burst of 64 and what 100 requests earned.
        assert!(d.seen.settings_acks <= 1 + 64 + 100, "{:?}", d.seen);
        assert!(taken < attack.len() / 100, "{taken}");
        assert_bounded(&d);
    }
}

#[test]
fn a_priority_flood_is_stopped_and_a_reprioritising_client_is_not() {
    let mut d = Driver::new(Config::default(), true, at_once);
    let mut attack = Vec::new();
    for i in 0..100_000u32 {
        let priority = Priority {
            dependency: (i % 100) * 2 + 1,
            exclusive: i % 3 == 0,
            weight: i as u8,
        };
        frame::encode_priority((i % 100) * 2 + 3, &priority, &mut attack);
    }
    let taken = d.feed(&attack);
    d.assert_calm("PRIORITY");
    assert!(taken <= 1001 * 14 + READ, "{taken}");
    assert_bounded(&d);

    // Five PRIORITY frames per request, over 1000 requests.
    let mut d = Driver::new(Config::default(), true, at_once);
    let mut c = Client::new();
    for i in 0..1000u32 {
        let id = 2 * i + 1;
        c.get(id);
        for w in 0..5 {
            let priority = Priority {
                dependency: 0,
                exclusive: false,
                weight: w,
            };
            frame::encode_priority(id, &priority, &mut c.out);
        }
    }
    let attack = c.take();
    assert_eq!(d.feed(&attack), attack.len());
    d.assert_alive();
    assert_eq!(d.requests, 1000);
}

#[test]
fn empty_frames_are_stopped() {
    let empty_data = |out: &mut Vec<u8>| frame::encode_data(1, &[], false, out);
    let unknown = |out: &mut Vec<u8>| out.extend_from_slice(&[0, 0, 0, 0xfa, 0, 0, 0, 0, 0]);
    // Acknowledgements of nothing the server sent.
    let settings_ack = |out: &mut Vec<u8>| frame::encode_settings_ack(out);
    let ping_ack = |out: &mut Vec<u8>| frame::encode_ping(true, [0; 8], out);
    let floods: [fn(&mut Vec<u8>); 4] = [empty_data, unknown, settings_ack, ping_ack];
    for flood in floods {
        let mut d = Driver::new(Config::default(), true, never);
        let mut c = Client::new();
        c.request(1, "/", &[], false);
        let mut attack = c.take();
        for _ in 0..100_000 {
            flood(&mut attack);
        }
        let taken = d.feed(&attack);
        d.assert_calm("empty frames");
        // The burst of 256, and 4 earned by the request.
        assert!(taken <= 261 * 17 + READ, "{taken}");
        assert_eq!(d.events, 1, "the request; no event per empty frame");
        assert_bounded(&d);
    }
}

#[test]
fn a_client_that_never_reads_large_responses_holds_bounded_queues() {
    let mut d = Driver::new(Config::default(), false, |_| Some(10 << 20));
    let mut c = Client::new();
    for i in 0..100 {
        c.get(2 * i + 1);
    }
    let mark = heap_mark();
    d.feed(&c.take());
    // The client reads now and then, but never opens a window.
    for _ in 0..10 {
        d.transmit();
    }
    let growth = heap_growth(mark);
    d.assert_alive();
    assert_eq!(d.seen.data, 65_535, "no more than the connection window");
    let per_stream = 64 * 1024 + 16_384;
    assert!(d.peak.responses <= 100 * per_stream, "{:?}", d.peak);
    assert!(d.server.buffered().responses <= 100 * per_stream);
    assert!(growth < (100 * per_stream) as isize, "heap grew {growth}");
    assert_eq!(
        d.events, 100,
        "the requests; no Writable while the window is shut"
    );
}

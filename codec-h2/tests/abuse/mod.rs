//! The harness of the abuse tests: a driver that drives `ServerConn` as a
//! well-behaved server would (reads of 4 KiB only while `wants_read`, events drained
//! after each read, `poll_transmit` only while the client reads), a scripted client,
//! and a counting allocator that shows the heap each test's thread holds.
#![allow(dead_code, unused_imports)] // each test crate uses a different subset

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};

// What the tests use too, so that one `use abuse::*` brings it.
pub use bytes::{Bytes, BytesMut};
pub use roadrunner_h2::abuse::{MAX_CONTINUATIONS, MAX_UNREAD_ACKS};
pub use roadrunner_h2::conn::{Buffered, Config, Event, ServerConn, PREFACE};
pub use roadrunner_h2::frame::{self, Frame, Priority};
pub use roadrunner_h2::http::{HeaderMap, StatusCode};
pub use roadrunner_h2::{ConnError, Decoder, Encoder, ErrorCode, RequestHead, Settings};

/// Counts the bytes live on each thread, so a test sees what its own server holds.
pub struct Counting;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

pub fn note(delta: isize) {
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
pub static ALLOCATOR: Counting = Counting;

/// Starts measuring: returns the bytes live now, and makes that the peak.
pub fn heap_mark() -> isize {
    let live = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(live));
    live
}

/// How far the heap grew above `mark` at its peak.
pub fn heap_growth(mark: isize) -> isize {
    PEAK.with(Cell::get) - mark
}

/// The size of the reads the driver does.
pub const READ: usize = 4096;

/// What the client saw the server write.
#[derive(Default, Debug)]
pub struct Seen {
    pub bytes: usize,
    pub resets: usize,
    pub window_updates: usize,
    pub data_frames: usize,
    pub data: usize,
    pub ping_acks: usize,
    pub settings_acks: usize,
    pub statuses: BTreeMap<u16, usize>,
    pub goaway: Option<(ErrorCode, Bytes)>,
}

/// How the application answers a request: `Some(n)` a 200 with `n` body bytes,
/// `None` a handler that keeps working until the stream is reset.
type Answer = fn(&RequestHead) -> Option<usize>;

pub fn at_once(_: &RequestHead) -> Option<usize> {
    Some(0)
}

pub fn never(_: &RequestHead) -> Option<usize> {
    None
}

/// A server and the driver around it.
pub struct Driver {
    pub server: ServerConn,
    /// Whether the client reads: if not, the driver's socket is full and it never
    /// calls `poll_transmit`.
    pub reads: bool,
    pub answer: Answer,
    pub dec: Decoder,
    pub wire: BytesMut,
    pub seen: Seen,
    /// Streams whose handler is running.
    pub handlers: BTreeSet<u32>,
    pub max_handlers: usize,
    /// Body bytes each stream still has to send, waiting for `Writable`.
    pub bodies: BTreeMap<u32, usize>,
    pub requests: usize,
    pub events: usize,
    pub error: Option<ConnError>,
    pub peak: Buffered,
    pub fed: usize,
}

impl Driver {
    pub fn new(config: Config, reads: bool, answer: Answer) -> Driver {
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
    pub fn feed(&mut self, attack: &[u8]) -> usize {
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

    pub fn drain(&mut self) {
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

    pub fn handle(&mut self, event: Event) {
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
    pub fn write_body(&mut self, stream: u32) {
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
    pub fn transmit(&mut self) {
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
    pub fn assert_calm(&mut self, reason: &str) {
        self.transmit();
        let e = self.error.as_ref().expect("the connection failed");
        assert_eq!(e.code, ErrorCode::ENHANCE_YOUR_CALM, "{e}");
        assert!(e.reason.contains(reason), "{e}");
        let (code, _) = self.seen.goaway.as_ref().expect("a GOAWAY went out");
        assert_eq!(*code, ErrorCode::ENHANCE_YOUR_CALM);
        assert!(self.server.is_closed());
    }

    pub fn assert_alive(&self) {
        assert!(self.error.is_none(), "{:?}", self.error);
        assert!(self.seen.goaway.is_none());
    }
}

/// Builds what a client sends.
pub struct Client {
    pub enc: Encoder,
    pub out: Vec<u8>,
}

impl Client {
    pub fn new() -> Client {
        Client {
            enc: Encoder::new(),
            out: Vec::new(),
        }
    }

    pub fn request(&mut self, stream: u32, path: &str, extra: &[(&str, &str)], end_stream: bool) {
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

    pub fn get(&mut self, stream: u32) {
        self.request(stream, "/", &[], true);
    }

    pub fn rst(&mut self, stream: u32) {
        frame::encode_rst_stream(stream, ErrorCode::CANCEL, &mut self.out);
    }

    pub fn take(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }
}

/// What any attack below may make the server hold: a read, a frame, a header block,
/// and a few KiB of answers.
pub const BUFFERED_BOUND: usize = 64 * 1024;

pub fn assert_bounded(d: &Driver) {
    assert!(d.peak.input <= 16_393 + READ, "{:?}", d.peak);
    assert!(d.peak.control <= BUFFERED_BOUND, "{:?}", d.peak);
}

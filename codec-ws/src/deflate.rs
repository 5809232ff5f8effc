//! permessage-deflate (RFC 7692) inside a session: inflating received messages within
//! the message cap, deflating sent ones within the agreed window.
//!
//! `flate2`'s pure-Rust backend always keeps a 32 KiB window. Inflating with it
//! decodes any sender's window size, so `client_max_window_bits` needs nothing. It
//! cannot compress within a smaller window, so under `server_max_window_bits` below 15
//! a message is compressed alone (no context from earlier messages) when it fits the
//! window, since no back-reference can then reach further than the message itself, and
//! sent uncompressed otherwise (RFC 7692 §6 lets any message go uncompressed).

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// What RFC 7692 §7.2.2 has the receiver append to a message before inflating it, and
/// §7.2.1 has the sender strip.
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];
/// Inflated bytes are produced this many at a time, so an inflation bomb is caught
/// within one chunk of the cap.
const CHUNK: usize = 16 * 1024;

/// The parameters of an agreed permessage-deflate, from the handshake
/// ([`Accepted::deflate`](crate::Accepted)) to the session
/// ([`Session::new`](crate::Session::new)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeflateParams {
    /// The server resets its compression context after each message.
    pub server_no_context_takeover: bool,
    /// The client resets its compression context after each message.
    pub client_no_context_takeover: bool,
    /// The server's LZ77 window, in bits (8–15).
    pub server_max_window_bits: u8,
    /// The client's LZ77 window, in bits (8–15).
    pub client_max_window_bits: u8,
}

impl Default for DeflateParams {
    /// Context takeover both ways and full windows: what a bare `permessage-deflate`
    /// agrees to.
    fn default() -> Self {
        DeflateParams {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
        }
    }
}

/// Where inflated bytes go; it refuses them once the message is over its cap or the
/// text stops being UTF-8.
pub(crate) trait Sink {
    type Error;
    fn take(&mut self, bytes: &[u8]) -> Result<(), Self::Error>;
}

/// The inflate error when the sink accepts everything but the data is not DEFLATE.
pub(crate) enum InflateError<E> {
    Corrupt,
    Sink(E),
}

/// The receiving half: one inflate context for the whole session (context takeover).
pub(crate) struct Inflater {
    inner: Decompress,
    scratch: Box<[u8]>,
    /// The stream ended (a block with BFINAL) and nothing came after it in this
    /// message, so the tail would only be the start of a stored block never finished.
    ended_clean: bool,
}

impl Inflater {
    pub(crate) fn new() -> Self {
        Inflater {
            inner: Decompress::new(false),
            scratch: vec![0; CHUNK].into_boxed_slice(),
            ended_clean: false,
        }
    }

    /// Inflates the next piece of a compressed message into `sink`.
    pub(crate) fn inflate<S: Sink>(
        &mut self,
        input: &[u8],
        sink: &mut S,
    ) -> Result<(), InflateError<S::Error>> {
        if !input.is_empty() {
            self.ended_clean = false;
        }
        self.run(input, sink)
    }

    /// Ends a message: inflates the tail the sender stripped.
    pub(crate) fn finish<S: Sink>(&mut self, sink: &mut S) -> Result<(), InflateError<S::Error>> {
        if std::mem::take(&mut self.ended_clean) {
            return Ok(());
        }
        self.run(&TAIL, sink)
    }

    fn run<S: Sink>(
        &mut self,
        mut input: &[u8],
        sink: &mut S,
    ) -> Result<(), InflateError<S::Error>> {
        loop {
            let (in0, out0) = (self.inner.total_in(), self.inner.total_out());
            let status = self
                .inner
                .decompress(input, &mut self.scratch, FlushDecompress::None)
                .map_err(|_| InflateError::Corrupt)?;
            // Both deltas are bounded by the slices just passed in; `min` keeps a
            // backend that said otherwise from making a panic of it.
            let consumed = ((self.inner.total_in() - in0) as usize).min(input.len());
            let produced = ((self.inner.total_out() - out0) as usize).min(self.scratch.len());
            input = &input[consumed..];
            sink.take(&self.scratch[..produced])
                .map_err(InflateError::Sink)?;
            if status == Status::StreamEnd {
                // A final block ends the DEFLATE stream; what follows in the message
                // (RFC 7692 §7.2.3.3) starts a new one with an empty window.
                self.inner.reset(false);
                self.ended_clean = input.is_empty();
                if input.is_empty() {
                    return Ok(());
                }
                continue;
            }
            let output_full = produced == self.scratch.len();
            let stuck = consumed == 0 && produced == 0;
            if !output_full && (input.is_empty() || stuck) {
                return Ok(());
            }
        }
    }
}

/// The sending half, made at the first compressed message (its tables are the bulk of
/// a session's memory).
pub(crate) struct Deflater {
    inner: Option<Compress>,
    level: u32,
    /// Messages are compressed alone (no context takeover, or a window below 15 bits).
    fresh_each_message: bool,
    /// The longest message that may be compressed: the window, under 15 bits.
    max_len: usize,
}

impl Deflater {
    pub(crate) fn new(params: &DeflateParams, level: u32) -> Self {
        let bits = params.server_max_window_bits.clamp(8, 15);
        Deflater {
            inner: None,
            level,
            fresh_each_message: params.server_no_context_takeover || bits < 15,
            max_len: if bits < 15 { 1 << bits } else { usize::MAX },
        }
    }

    /// A message's compressed payload, with the tail stripped; `None` to send it
    /// uncompressed.
    pub(crate) fn compress(&mut self, data: &[u8]) -> Option<Vec<u8>> {
        if data.len() > self.max_len {
            return None;
        }
        let level = self.level;
        let c = self
            .inner
            .get_or_insert_with(|| Compress::new(Compression::new(level), false));
        let out = deflate_sync(c, data);
        if self.fresh_each_message || out.is_none() {
            // After a failure the context may hold input the peer never saw; a fresh
            // context is always valid, references to the past are optional.
            c.reset();
        }
        out
    }
}

/// Compresses `data` and flushes to a byte boundary, then strips the tail.
fn deflate_sync(c: &mut Compress, mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(data.len() / 2 + 64);
    loop {
        if out.capacity() - out.len() < 64 {
            out.reserve(out.capacity().max(256));
        }
        let in0 = c.total_in();
        c.compress_vec(data, &mut out, FlushCompress::Sync).ok()?;
        // Bounded by `data.len()`, and held to it whatever the backend says.
        data = &data[((c.total_in() - in0) as usize).min(data.len())..];
        // Output room left over means the flush completed.
        if data.is_empty() && out.len() < out.capacity() {
            break;
        }
    }
    if !out.ends_with(&TAIL) {
        return None;
    }
    out.truncate(out.len() - TAIL.len());
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Collect(Vec<u8>, usize);

    impl Sink for Collect {
        type Error = ();
        fn take(&mut self, bytes: &[u8]) -> Result<(), ()> {
            if self.0.len() + bytes.len() > self.1 {
                return Err(());
            }
            self.0.extend_from_slice(bytes);
            Ok(())
        }
    }

    fn inflate_message(inf: &mut Inflater, payload: &[u8], cap: usize) -> Result<Vec<u8>, ()> {
        let mut sink = Collect(Vec::new(), cap);
        inf.inflate(payload, &mut sink).map_err(|_| ())?;
        inf.finish(&mut sink).map_err(|_| ())?;
        Ok(sink.0)
    }

    #[test]
    fn rfc_7692_examples() {
        // §7.2.3.1: "Hello" in one compressed message.
        let mut inf = Inflater::new();
        let hello = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
        assert_eq!(inflate_message(&mut inf, &hello, 100).unwrap(), b"Hello");
        // §7.2.3.2: the second "Hello" references the first (context takeover).
        assert_eq!(
            inflate_message(&mut inf, &[0xf2, 0x00, 0x11, 0x00, 0x00], 100).unwrap(),
            b"Hello"
        );
        // §7.2.3.3: a block with BFINAL, then an empty stored block's first byte.
        let mut inf = Inflater::new();
        let last = [0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00];
        assert_eq!(inflate_message(&mut inf, &last, 100).unwrap(), b"Hello");
        assert_eq!(inflate_message(&mut inf, &hello, 100).unwrap(), b"Hello");
        // §7.2.3.4: "Hello" in a stored block.
        let stored = [
            0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00,
        ];
        assert_eq!(
            inflate_message(&mut Inflater::new(), &stored, 100).unwrap(),
            b"Hello"
        );
    }

    #[test]
    fn final_block_ending_the_message_leaves_the_next_one_readable() {
        let mut inf = Inflater::new();
        let final_only = [0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
        assert_eq!(
            inflate_message(&mut inf, &final_only, 100).unwrap(),
            b"Hello"
        );
        let hello = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
        assert_eq!(inflate_message(&mut inf, &hello, 100).unwrap(), b"Hello");
    }

    #[test]
    fn sink_refusal_stops_inflation_within_a_chunk() {
        let mut def = Deflater::new(&DeflateParams::default(), 9);
        let bomb = def.compress(&vec![0; 50_000_000]).unwrap();
        assert!(bomb.len() < 100_000, "{}", bomb.len());
        let mut sink = Collect(Vec::new(), 1_000_000);
        let r = Inflater::new().inflate(&bomb, &mut sink);
        assert!(matches!(r, Err(InflateError::Sink(()))));
        assert!(sink.0.len() <= 1_000_000 && sink.0.len() > 1_000_000 - CHUNK);
    }

    #[test]
    fn garbage_is_corrupt() {
        let mut sink = Collect(Vec::new(), 100);
        let r = Inflater::new().inflate(&[0xff, 0xff, 0xff, 0xff], &mut sink);
        assert!(matches!(r, Err(InflateError::Corrupt)));
    }

    #[test]
    fn compress_round_trips_with_and_without_context() {
        for no_context in [false, true] {
            let params = DeflateParams {
                server_no_context_takeover: no_context,
                ..DeflateParams::default()
            };
            let mut def = Deflater::new(&params, 1);
            let mut inf = Inflater::new();
            for msg in [
                &b"hello hello hello"[..],
                b"",
                b"hello again",
                &[7; 100_000],
            ] {
                let wire = def.compress(msg).unwrap();
                assert_eq!(inflate_message(&mut inf, &wire, 1 << 20).unwrap(), msg);
            }
        }
    }

    #[test]
    fn small_window_compresses_only_what_fits() {
        let params = DeflateParams {
            server_max_window_bits: 9,
            ..DeflateParams::default()
        };
        let mut def = Deflater::new(&params, 6);
        let first = def.compress(&[b'a'; 512]).unwrap();
        assert!(def.compress(&[b'a'; 513]).is_none());
        // Each message stands alone: a fresh inflater reads the second.
        let second = def.compress(b"aaaa").unwrap();
        assert_eq!(
            inflate_message(&mut Inflater::new(), &first, 1000).unwrap(),
            [b'a'; 512]
        );
        assert_eq!(
            inflate_message(&mut Inflater::new(), &second, 1000).unwrap(),
            b"aaaa"
        );
    }
}

//! The receiving half of a session: frames read from the buffered input, messages
//! assembled from their fragments, within the caps.
//!
//! Text and compressed payloads are consumed as they arrive, so bad UTF-8 and
//! inflation past the cap fail on the bytes that show them, before the rest of the
//! frame is read. Uncompressed binary frames wait whole in the input buffer, so a
//! message of one frame is handed out without a copy.

use bytes::{Buf, Bytes, BytesMut};

use crate::close::{self, CloseCode};
use crate::deflate::{InflateError, Inflater, Sink};
use crate::error::ErrorKind;
use crate::frame::{self, Header, OpCode};
use crate::mask;
use crate::utf8::Validator;

/// What a frame (or the last frame of a message) gave.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Received {
    Text(String),
    Binary(Bytes),
    Ping(Bytes),
    Pong(Bytes),
    Close(CloseCode, String),
}

/// The frame whose payload is being read.
#[derive(Clone, Copy)]
struct Current {
    header: Header,
    /// Payload bytes already taken out of the input.
    consumed: usize,
}

/// A data message whose last frame has not arrived.
struct Partial {
    text: bool,
    compressed: bool,
    /// The payload so far, inflated if compressed.
    buf: Vec<u8>,
    utf8: Validator,
}

pub(crate) struct Receiver {
    input: BytesMut,
    current: Option<Current>,
    message: Option<Partial>,
    /// Present when permessage-deflate was agreed.
    inflater: Option<Inflater>,
    max_frame_size: usize,
    max_message_size: usize,
}

/// How far the current data frame got.
enum Step {
    NeedMore,
    FrameDone,
    Message(Received),
}

impl Receiver {
    pub(crate) fn new(max_frame_size: usize, max_message_size: usize, deflate: bool) -> Self {
        Receiver {
            input: BytesMut::new(),
            current: None,
            message: None,
            inflater: deflate.then(Inflater::new),
            max_frame_size,
            max_message_size,
        }
    }

    pub(crate) fn extend(&mut self, data: &[u8]) {
        self.input.extend_from_slice(data);
    }

    pub(crate) fn extend_owned(&mut self, data: BytesMut) {
        if self.input.is_empty() {
            self.input = data;
        } else {
            // O(1) when `data` was split off right behind the input; a copy otherwise.
            self.input.unsplit(data);
        }
    }

    /// Frees the input and any message in assembly: nothing more will be read.
    pub(crate) fn stop(&mut self) {
        self.input = BytesMut::new();
        self.message = None;
        self.current = None;
    }

    /// Bytes received and not yet taken: at most one frame's header and payload once
    /// [`poll`](Self::poll) has said it needs more.
    pub(crate) fn buffered(&self) -> usize {
        self.input.len()
    }

    /// The size of the message being assembled.
    pub(crate) fn partial_len(&self) -> usize {
        self.message.as_ref().map_or(0, |m| m.buf.len())
    }

    /// Reads frames until one gives something or the input runs out. With `discard`
    /// (a close frame was sent), data payloads are skipped unread: the messages they
    /// make would be dropped anyway.
    pub(crate) fn poll(&mut self, discard: bool) -> Result<Option<Received>, ErrorKind> {
        if self.input.is_empty() {
            // Nothing can progress without input: a frame in progress waits for its
            // payload, and a payload of zero bytes completes with its header.
            return Ok(None);
        }
        let polled = self.next(discard);
        if self.input.is_empty() && self.input.capacity() == 0 {
            // Used up, and no room of its own: a view of the driver's buffer
            // (`recv_bytes`), which the driver can reuse once no view holds it.
            self.input = BytesMut::new();
        }
        polled
    }

    fn next(&mut self, discard: bool) -> Result<Option<Received>, ErrorKind> {
        loop {
            let Some(current) = self.current else {
                let Some((header, n)) = frame::parse_header(&self.input)? else {
                    return Ok(None);
                };
                self.start(&header)?;
                self.input.advance(n);
                self.current = Some(Current {
                    header,
                    consumed: 0,
                });
                continue;
            };
            if current.header.opcode.is_control() {
                // Checked at most 125 bytes by the header parser.
                let len = current.header.len as usize;
                if self.input.len() < len {
                    return Ok(None);
                }
                let mut payload = self.input.split_to(len);
                mask::apply(&mut payload, current.header.mask, 0);
                self.current = None;
                return control(current.header.opcode, payload.freeze()).map(Some);
            }
            match self.data(current, discard)? {
                Step::NeedMore => return Ok(None),
                Step::FrameDone => {}
                Step::Message(m) => return Ok(Some(m)),
            }
        }
    }

    /// The checks of a data frame's header that depend on the message in progress and
    /// the caps; starts the message on its first frame.
    fn start(&mut self, header: &Header) -> Result<(), ErrorKind> {
        if header.opcode.is_control() {
            return Ok(());
        }
        if header.len > self.max_frame_size as u64 {
            return Err(ErrorKind::FrameTooLarge);
        }
        match (header.opcode, &self.message) {
            (OpCode::Continuation, None) => return Err(ErrorKind::UnexpectedContinuation),
            (OpCode::Continuation, Some(_)) if header.rsv1 => return Err(ErrorKind::ReservedBits),
            (OpCode::Continuation, Some(_)) => {}
            (_, Some(_)) => return Err(ErrorKind::ExpectedContinuation),
            (_, None) if header.rsv1 && self.inflater.is_none() => {
                return Err(ErrorKind::ReservedBits)
            }
            (opcode, None) => {
                self.message = Some(Partial {
                    text: opcode == OpCode::Text,
                    compressed: header.rsv1,
                    buf: Vec::new(),
                    utf8: Validator::default(),
                });
            }
        }
        let message = self.message.as_ref();
        let compressed = message.is_some_and(|m| m.compressed);
        // Compressed frames are counted as they inflate: their wire size says nothing
        // of the message's.
        let total = (self.partial_len() as u64).saturating_add(header.len);
        if !compressed && total > self.max_message_size as u64 {
            return Err(ErrorKind::MessageTooLarge);
        }
        Ok(())
    }

    /// Takes what has arrived of the current data frame's payload.
    fn data(&mut self, mut current: Current, discard: bool) -> Result<Step, ErrorKind> {
        let header = current.header;
        // Checked against `max_frame_size` (a usize) when the header came in.
        let len = header.len as usize;
        let Some(message) = self.message.as_mut() else {
            return Err(ErrorKind::UnexpectedContinuation);
        };
        if discard {
            message.buf = Vec::new();
        }
        if !discard && !message.text && !message.compressed {
            let remaining = len - current.consumed;
            if self.input.len() < remaining {
                return Ok(Step::NeedMore);
            }
            let mut payload = self.input.split_to(remaining);
            mask::apply(&mut payload, header.mask, current.consumed);
            self.current = None;
            if header.fin && message.buf.is_empty() {
                self.message = None;
                return Ok(Step::Message(Received::Binary(payload.freeze())));
            }
            append_capped(&mut message.buf, &payload, self.max_message_size)?;
        } else {
            let n = self.input.len().min(len - current.consumed);
            if !discard {
                let chunk = &mut self.input[..n];
                mask::apply(chunk, header.mask, current.consumed);
                feed(
                    message,
                    self.inflater.as_mut(),
                    chunk,
                    self.max_message_size,
                )?;
            }
            self.input.advance(n);
            current.consumed += n;
            if current.consumed < len {
                self.current = Some(current);
                return Ok(Step::NeedMore);
            }
            self.current = None;
        }
        if !header.fin {
            return Ok(Step::FrameDone);
        }
        match self.message.take() {
            Some(message) if !discard => {
                finish(message, self.inflater.as_mut(), self.max_message_size).map(Step::Message)
            }
            _ => Ok(Step::FrameDone),
        }
    }
}

/// A control frame's meaning.
fn control(opcode: OpCode, payload: Bytes) -> Result<Received, ErrorKind> {
    Ok(match opcode {
        OpCode::Ping => Received::Ping(payload),
        OpCode::Pong => Received::Pong(payload),
        _ => {
            let (code, reason) = close::parse(&payload)?;
            Received::Close(code, reason)
        }
    })
}

/// Adds a piece of payload to a message: inflated if compressed, checked if text.
fn feed(
    message: &mut Partial,
    inflater: Option<&mut Inflater>,
    chunk: &[u8],
    cap: usize,
) -> Result<(), ErrorKind> {
    let mut sink = MessageSink { message, cap };
    if sink.message.compressed {
        // Compressed messages start only when an inflater exists.
        let inflater = inflater.ok_or(ErrorKind::ReservedBits)?;
        inflater.inflate(chunk, &mut sink).map_err(inflate_error)
    } else {
        sink.take(chunk)
    }
}

/// The whole message, once its last frame is in.
fn finish(
    mut message: Partial,
    inflater: Option<&mut Inflater>,
    cap: usize,
) -> Result<Received, ErrorKind> {
    if message.compressed {
        let inflater = inflater.ok_or(ErrorKind::ReservedBits)?;
        let mut sink = MessageSink {
            message: &mut message,
            cap,
        };
        inflater.finish(&mut sink).map_err(inflate_error)?;
    }
    if !message.text {
        return Ok(Received::Binary(Bytes::from(message.buf)));
    }
    message.utf8.finish().map_err(|_| ErrorKind::InvalidUtf8)?;
    // Validated piece by piece already; a failure here would be the same verdict.
    String::from_utf8(message.buf)
        .map(Received::Text)
        .map_err(|_| ErrorKind::InvalidUtf8)
}

fn inflate_error(e: InflateError<ErrorKind>) -> ErrorKind {
    match e {
        InflateError::Corrupt => ErrorKind::InvalidCompressedData,
        InflateError::Sink(kind) => kind,
    }
}

/// A message's buffer as the destination of payload bytes.
struct MessageSink<'a> {
    message: &'a mut Partial,
    cap: usize,
}

impl Sink for MessageSink<'_> {
    type Error = ErrorKind;

    fn take(&mut self, bytes: &[u8]) -> Result<(), ErrorKind> {
        append_capped(&mut self.message.buf, bytes, self.cap)?;
        if self.message.text {
            self.message
                .utf8
                .feed(bytes)
                .map_err(|_| ErrorKind::InvalidUtf8)?;
        }
        Ok(())
    }
}

/// Appends within `cap`, growing the buffer by doubling but never past `cap`, so a
/// message's memory is bounded by the cap rather than by twice it.
fn append_capped(buf: &mut Vec<u8>, bytes: &[u8], cap: usize) -> Result<(), ErrorKind> {
    let need = buf.len() + bytes.len();
    if need > cap {
        return Err(ErrorKind::MessageTooLarge);
    }
    if need > buf.capacity() {
        let target = need.max(buf.capacity() * 2).min(cap);
        buf.reserve_exact(target - buf.len());
    }
    buf.extend_from_slice(bytes);
    Ok(())
}

//! The sending half of a session: frames queued by commands and handed out to the
//! driver, whole or one at a time for vectored writes.

use std::collections::VecDeque;

use bytes::Bytes;

use crate::deflate::{DeflateParams, Deflater};
use crate::frame::{OpCode, ServerHeader};

/// Pongs waiting to be handed out, at most.
const MAX_PONGS: usize = 16;

/// One frame ready to write: [`header`](Self::header) then
/// [`payload`](Self::payload), kept apart so a driver can write them vectored without
/// copying the payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutgoingFrame {
    header: ServerHeader,
    payload: Bytes,
    opcode: OpCode,
}

impl OutgoingFrame {
    fn new(rsv1: bool, opcode: OpCode, payload: Bytes) -> Self {
        OutgoingFrame {
            header: ServerHeader::new(true, rsv1, opcode, payload.len()),
            payload,
            opcode,
        }
    }

    /// The frame's header (2 to 10 bytes; a server never masks).
    pub fn header(&self) -> &[u8] {
        self.header.as_bytes()
    }

    /// The frame's payload.
    pub fn payload(&self) -> &Bytes {
        &self.payload
    }

    /// Header and payload together, in bytes.
    pub fn len(&self) -> usize {
        self.header().len() + self.payload.len()
    }

    /// Never true: every frame has a header. Here for the `len` convention.
    pub fn is_empty(&self) -> bool {
        false
    }
}

pub(crate) struct Sender {
    /// Messages, pings, unsolicited pongs and the close frame, in the order queued.
    queue: VecDeque<OutgoingFrame>,
    /// Answers to pings, ahead of the queue (control frames may come between any two
    /// frames). At most [`MAX_PONGS`]: past that the newest replaces the last, so a
    /// ping flood costs a few pongs' memory (RFC 6455 §5.5.3 allows answering only
    /// the latest ping), while a burst of pings still gets every answer.
    pongs: VecDeque<OutgoingFrame>,
    queued: usize,
    deflater: Option<Deflater>,
    close_handed_out: bool,
}

impl Sender {
    pub(crate) fn new(deflate: Option<&DeflateParams>, level: u32) -> Self {
        Sender {
            queue: VecDeque::new(),
            pongs: VecDeque::new(),
            queued: 0,
            deflater: deflate.map(|p| Deflater::new(p, level)),
            close_handed_out: false,
        }
    }

    /// Queues a whole data message, compressed when permessage-deflate allows.
    pub(crate) fn message(&mut self, opcode: OpCode, data: Bytes) {
        let compressed = self.deflater.as_mut().and_then(|d| d.compress(&data));
        let frame = match compressed {
            Some(c) => OutgoingFrame::new(true, opcode, Bytes::from(c)),
            None => OutgoingFrame::new(false, opcode, data),
        };
        self.push(frame);
    }

    /// Queues a control frame after what is already queued; the caller has checked
    /// its length.
    pub(crate) fn control(&mut self, opcode: OpCode, payload: Bytes) {
        self.push(OutgoingFrame::new(false, opcode, payload));
    }

    /// Queues the answer to a ping.
    pub(crate) fn auto_pong(&mut self, payload: Bytes) {
        if self.pongs.len() == MAX_PONGS {
            if let Some(old) = self.pongs.pop_back() {
                self.queued -= old.len();
            }
        }
        let frame = OutgoingFrame::new(false, OpCode::Pong, payload);
        self.queued += frame.len();
        self.pongs.push_back(frame);
    }

    fn push(&mut self, frame: OutgoingFrame) {
        self.queued += frame.len();
        self.queue.push_back(frame);
    }

    /// The next frame to write.
    pub(crate) fn next(&mut self) -> Option<OutgoingFrame> {
        let frame = self.pongs.pop_front().or_else(|| self.queue.pop_front())?;
        self.queued -= frame.len();
        if frame.opcode == OpCode::Close {
            self.close_handed_out = true;
        }
        Some(frame)
    }

    /// Bytes of frames (headers included) not yet handed out.
    pub(crate) fn queued(&self) -> usize {
        self.queued
    }

    /// Whether the close frame has been handed out to the driver.
    pub(crate) fn close_handed_out(&self) -> bool {
        self.close_handed_out
    }
}

//! The server side of one WebSocket connection, after the handshake.

use std::fmt;

use bytes::{Bytes, BytesMut};

use crate::close::{self, CloseCode, MAX_REASON_LEN};
use crate::config::Config;
use crate::deflate::DeflateParams;
use crate::error::{CloseError, ProtocolError, SendError};
use crate::frame::{OpCode, MAX_CONTROL_PAYLOAD};
use crate::recv::{Received, Receiver};
use crate::send::{OutgoingFrame, Sender};

/// What the session tells the application.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A whole text message, checked to be UTF-8 (and inflated, if compressed).
    Text(String),
    /// A whole binary message (inflated, if compressed).
    Binary(Bytes),
    /// A ping. Its pong is already queued; nothing to do but perhaps note liveness.
    Ping(Bytes),
    /// A pong (an answer to [`Session::send_ping`], or unsolicited).
    Pong(Bytes),
    /// The peer's close frame. If the server had not sent one, its answer (the same
    /// code, or 1000 when the peer gave none) is queued; nothing more is read.
    Close {
        /// The peer's code; [`CloseCode::NO_STATUS`] for a close frame without one.
        code: CloseCode,
        /// The peer's reason, possibly empty.
        reason: String,
    },
}

/// The server side of a WebSocket connection (RFC 6455 §5–§7), with permessage-deflate
/// when the handshake agreed to it. No sockets, no clock.
///
/// # Call order
///
/// 1. Feed what the socket read to [`recv`](Self::recv) or
///    [`recv_bytes`](Self::recv_bytes) (read only while
///    [`wants_read`](Self::wants_read)).
/// 2. Drain [`poll_event`](Self::poll_event) until it returns `Ok(None)` (or `Err`).
/// 3. Issue commands ([`send_text`](Self::send_text), [`send_binary`](Self::send_binary),
///    [`send_ping`](Self::send_ping), [`send_pong`](Self::send_pong),
///    [`close`](Self::close)) whenever the application wants.
/// 4. After any of the above, write out what [`poll_transmit`](Self::poll_transmit)
///    (or, frame by frame, [`poll_frame`](Self::poll_frame)) hands out.
/// 5. Once [`is_closed`](Self::is_closed), write what was handed out and close the
///    connection.
///
/// # What the driver owns
///
/// - **Backpressure.** Commands always queue; [`buffered`](Self::buffered) says how
///   many bytes wait to be handed out. A handler that sends faster than the peer reads
///   grows that number (and the driver's own write buffer): the driver decides when to
///   stop taking its messages, or to end the session. The session's own output is
///   bounded: one pong (for the latest ping) and one close frame.
/// - **Timeouts.** The session has no clock. After the server's close frame is out
///   ([`is_closing`](Self::is_closing)), the driver should wait a bounded time for the
///   peer's (a few seconds), then close the connection anyway. Idle and keep-alive
///   pings are the driver's too.
/// - **End of stream.** If the socket ends before [`is_closed`](Self::is_closed), the
///   connection closed abnormally (1006 in RFC 6455's words): drop the session.
pub struct Session {
    recv: Receiver,
    send: Sender,
    /// The server's close frame is queued: no more frames may be queued after it.
    close_queued: bool,
    /// The peer's close frame has arrived: nothing after it is read.
    peer_closed: bool,
    failed: Option<ProtocolError>,
}

impl Session {
    /// A session on a connection whose handshake is done; `deflate` is what the
    /// handshake agreed for permessage-deflate ([`Accepted::deflate`](crate::Accepted)).
    pub fn new(config: Config, deflate: Option<DeflateParams>) -> Self {
        Session {
            recv: Receiver::new(
                config.max_frame_size(),
                config.max_message_size(),
                deflate.is_some(),
            ),
            send: Sender::new(deflate.as_ref(), config.compression_level()),
            close_queued: false,
            peer_closed: false,
            failed: None,
        }
    }

    /// Buffers bytes read from the peer. Ignored once nothing more is read (the peer
    /// closed, or the session failed).
    pub fn recv(&mut self, data: &[u8]) {
        if self.wants_read() {
            self.recv.extend(data);
        }
    }

    /// Buffers bytes read from the peer as [`recv`](Self::recv) does, without copying
    /// them when nothing is buffered, or when `data` continues the buffered bytes in
    /// memory (both split from one buffer). A binary message of one frame is then
    /// handed out as a slice of `data`, unmasked in place: a driver that reads into a
    /// `BytesMut` and passes what it read, split off, copies nothing.
    pub fn recv_bytes(&mut self, data: BytesMut) {
        if self.wants_read() {
            self.recv.extend_owned(data);
        }
    }

    /// Whether reading the socket still matters: not after the peer's close frame nor
    /// after a failure. While [`poll_event`](Self::poll_event) is drained after every
    /// [`recv`](Self::recv), the input buffer holds at most one unfinished frame
    /// (`max_frame_size` plus a 14-byte header), and the message in assembly at most
    /// `max_message_size`.
    pub fn wants_read(&self) -> bool {
        !self.peer_closed && self.failed.is_none()
    }

    /// The next event from what has been received, or `Ok(None)` until more arrives.
    /// `Err` once, when the peer broke the protocol or a cap: a close frame with the
    /// error's code is queued (unless the server's was already), nothing more is read,
    /// and once that close frame is handed out the session [`is_closed`](Self::is_closed).
    ///
    /// Once the server's close frame is queued, received messages, pings and pongs are
    /// dropped unread (the application has ended the conversation, and no pong may
    /// follow a close frame); only the peer's close is reported. After the peer's close
    /// nothing more is read (RFC 6455 §1.4: data after it is discarded).
    #[must_use = "events and the session's failure must be handled"]
    pub fn poll_event(&mut self) -> Result<Option<Event>, ProtocolError> {
        loop {
            if !self.wants_read() {
                return Ok(None);
            }
            let received = match self.recv.poll(self.close_queued) {
                Ok(Some(received)) => received,
                Ok(None) => return Ok(None),
                Err(kind) => return Err(self.fail(ProtocolError::new(kind))),
            };
            let event = match received {
                Received::Close(code, reason) => {
                    self.peer_closed = true;
                    self.recv.stop();
                    if !self.close_queued {
                        let answer = if code == CloseCode::NO_STATUS {
                            CloseCode::NORMAL
                        } else {
                            code
                        };
                        self.queue_close(answer, "");
                    }
                    Event::Close { code, reason }
                }
                _ if self.close_queued => continue,
                Received::Text(text) => Event::Text(text),
                Received::Binary(data) => Event::Binary(data),
                Received::Ping(payload) => {
                    self.send.auto_pong(payload.clone());
                    Event::Ping(payload)
                }
                Received::Pong(payload) => Event::Pong(payload),
            };
            return Ok(Some(event));
        }
    }

    fn fail(&mut self, e: ProtocolError) -> ProtocolError {
        self.failed = Some(e);
        self.recv.stop();
        if !self.close_queued {
            self.queue_close(e.close_code(), "");
        }
        e
    }

    fn queue_close(&mut self, code: CloseCode, reason: &str) {
        self.close_queued = true;
        self.send
            .control(OpCode::Close, Bytes::from(close::payload(code, reason)));
    }

    /// Queues a text message, sent as one frame (compressed under
    /// permessage-deflate).
    pub fn send_text(&mut self, text: impl Into<String>) -> Result<(), SendError> {
        self.check_open()?;
        let text: String = text.into();
        self.send
            .message(OpCode::Text, Bytes::from(text.into_bytes()));
        Ok(())
    }

    /// Queues a binary message, sent as one frame (compressed under
    /// permessage-deflate). Uncompressed, the payload is handed out without a copy.
    pub fn send_binary(&mut self, data: impl Into<Bytes>) -> Result<(), SendError> {
        self.check_open()?;
        self.send.message(OpCode::Binary, data.into());
        Ok(())
    }

    /// Queues a ping (at most 125 bytes).
    pub fn send_ping(&mut self, payload: impl Into<Bytes>) -> Result<(), SendError> {
        self.send_control(OpCode::Ping, payload.into())
    }

    /// Queues an unsolicited pong (at most 125 bytes), as a heartbeat; pings are
    /// answered without it.
    pub fn send_pong(&mut self, payload: impl Into<Bytes>) -> Result<(), SendError> {
        self.send_control(OpCode::Pong, payload.into())
    }

    fn send_control(&mut self, opcode: OpCode, payload: Bytes) -> Result<(), SendError> {
        self.check_open()?;
        if payload.len() > MAX_CONTROL_PAYLOAD {
            return Err(SendError::ControlTooLong);
        }
        self.send.control(opcode, payload);
        Ok(())
    }

    fn check_open(&self) -> Result<(), SendError> {
        if self.close_queued {
            Err(SendError::Closed)
        } else {
            Ok(())
        }
    }

    /// Starts the closing handshake: queues a close frame with `code` and `reason`
    /// after everything already queued. Messages from the peer are dropped from now
    /// on; the session waits for the peer's close frame (see the driver's timeout in
    /// the type's docs).
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), CloseError> {
        if self.close_queued {
            return Err(CloseError::AlreadyClosing);
        }
        if !code.is_valid() {
            return Err(CloseError::InvalidCode);
        }
        if reason.len() > MAX_REASON_LEN {
            return Err(CloseError::ReasonTooLong);
        }
        self.queue_close(code, reason);
        Ok(())
    }

    /// Appends every queued frame to `out`; returns whether there was any.
    pub fn poll_transmit(&mut self, out: &mut Vec<u8>) -> bool {
        let start = out.len();
        while let Some(frame) = self.send.next() {
            out.extend_from_slice(frame.header());
            out.extend_from_slice(frame.payload());
        }
        out.len() > start
    }

    /// The next queued frame, header and payload apart for a vectored write.
    #[must_use = "a frame handed out is no longer queued"]
    pub fn poll_frame(&mut self) -> Option<OutgoingFrame> {
        self.send.next()
    }

    /// Bytes queued and not yet handed out (frame headers included). The driver's
    /// measure for backpressure: see the type's docs.
    pub fn buffered(&self) -> usize {
        self.send.queued()
    }

    /// Bytes received and not yet consumed, plus the message being assembled.
    pub fn buffered_input(&self) -> usize {
        self.recv.buffered() + self.recv.partial_len()
    }

    /// Whether messages may still be sent (no close frame queued).
    pub fn can_send(&self) -> bool {
        !self.close_queued
    }

    /// The server's close frame is handed out and the peer's has not come: the driver
    /// should bound this wait with a timeout.
    pub fn is_closing(&self) -> bool {
        self.send.close_handed_out() && !self.is_closed()
    }

    /// Nothing more will be sent or read: the close handshake completed (both close
    /// frames exchanged) or the session failed, and the server's close frame has been
    /// handed out. Write it, then close the connection (RFC 6455 §7.1.1: the server
    /// closes TCP first).
    pub fn is_closed(&self) -> bool {
        self.send.close_handed_out() && (self.peer_closed || self.failed.is_some())
    }

    /// Why the session failed, if it did.
    pub fn error(&self) -> Option<ProtocolError> {
        self.failed
    }
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("close_queued", &self.close_queued)
            .field("peer_closed", &self.peer_closed)
            .field("failed", &self.failed)
            .field("buffered", &self.buffered())
            .field("buffered_input", &self.buffered_input())
            .finish_non_exhaustive()
    }
}

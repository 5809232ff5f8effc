//! The application's side of a connection: responses in, queued per stream and handed
//! to QUIC as fast as it takes them (the peer's flow control and the connection's send
//! window decide), resets, and the connection's end.

use http::StatusCode;
use quinn_proto::{Dir, FinishError, Side, WriteError};
use roadrunner_h2::{field_section_size, response_fields, trailer_fields};

use super::streams::{Phase, Respond};
use super::*;
use crate::frame;

impl ServerConn {
    /// Answers `stream` with a response head; `end_stream` when there is no body. An
    /// informational (1xx) head may come before the final one.
    pub fn send_response(
        &mut self,
        stream: u64,
        status: StatusCode,
        headers: &HeaderMap,
        end_stream: bool,
    ) -> Result<(), SendError> {
        if self.app_stream(stream)?.respond != Respond::Idle {
            return Err(SendError::InvalidState);
        }
        if status.is_informational() && end_stream {
            return Err(SendError::InvalidState);
        }
        // Checked before encoding: an encoded section would have changed the QPACK
        // encoder's state even if it were never sent.
        self.fits_peer(response_fields(&status, headers))?;
        self.queue_head(stream, status, headers, end_stream);
        self.pump(stream);
        self.finish_command();
        Ok(())
    }

    /// Queues response body bytes, sent as the peer's flow control allows; `end_stream`
    /// ends the response. [`SendError::Full`] (the bytes not taken) while
    /// [`STREAM_QUEUE`] bytes wait: [`Event::Writable`] says when to go on.
    pub fn send_data(
        &mut self,
        stream: u64,
        data: Bytes,
        end_stream: bool,
    ) -> Result<(), SendError> {
        let r = self.app_stream(stream)?;
        if r.respond != Respond::Open {
            return Err(SendError::InvalidState);
        }
        if r.queued >= STREAM_QUEUE {
            r.full = true;
            return Err(SendError::Full);
        }
        if !data.is_empty() {
            let mut head = Vec::with_capacity(16);
            frame::encode_data_header(data.len() as u64, &mut head);
            r.push(head.into());
            r.push(data);
        }
        if end_stream {
            r.respond = Respond::Ending;
        }
        self.pump(stream);
        self.finish_command();
        Ok(())
    }

    /// Ends the response with trailer fields, after its data.
    pub fn send_trailers(&mut self, stream: u64, trailers: &HeaderMap) -> Result<(), SendError> {
        if self.app_stream(stream)?.respond != Respond::Open {
            return Err(SendError::InvalidState);
        }
        self.fits_peer(trailer_fields(trailers))?;
        let section = self.encode_section(stream, trailer_fields(trailers));
        if let Some(r) = self.requests.get_mut(&stream) {
            r.push(section);
            r.respond = Respond::Ending;
        }
        self.pump(stream);
        self.finish_command();
        Ok(())
    }

    /// Whether a field section of `fields` is within the peer's
    /// SETTINGS_MAX_FIELD_SECTION_SIZE (RFC 9114 §4.2.2: a peer may refuse a larger
    /// one). Until its SETTINGS arrive there is no limit to keep.
    fn fits_peer<'a>(
        &self,
        fields: impl Iterator<Item = (&'a [u8], &'a [u8])>,
    ) -> Result<(), SendError> {
        match self.peer_settings().and_then(|s| s.max_field_section_size) {
            Some(max) if field_section_size(fields) > max => Err(SendError::TooLarge),
            _ => Ok(()),
        }
    }

    /// Gives `stream` up with `code`: a response not yet complete is reset
    /// (RESET_STREAM), and a request not all read is stopped (STOP_SENDING). The stream
    /// is no longer the application's.
    ///
    /// H3_REQUEST_REJECTED tells the client the request was not processed and may be
    /// retried (§4.1.1); a refused stream costs nothing more than its two frames. After
    /// a complete response (ended by `end_stream` or trailers), only the request is
    /// stopped and the response still goes out whole: with H3_NO_ERROR, this is how to
    /// say the rest of a body is not wanted (§4.1.2).
    pub fn reset(&mut self, stream: u64, code: ErrorCode) -> Result<(), SendError> {
        let r = self.app_stream(stream)?;
        r.app = false;
        if matches!(r.respond, Respond::Idle | Respond::Open) {
            self.reset_sending(stream, code);
        }
        self.stop_reading(stream, code);
        self.forget_if_done(stream);
        self.finish_command();
        Ok(())
    }

    /// The application has consumed `len` bytes of `stream`'s body: once it holds less
    /// than [`READ_AHEAD`], the stream is read again, which gives the peer flow-control
    /// credit. A handler that never reads its body holds its client back this way.
    pub fn release(&mut self, stream: u64, len: usize) {
        let Some(r) = self.requests.get_mut(&stream) else {
            return;
        };
        r.unreleased = r.unreleased.saturating_sub(len);
        if let Err(e) = self.read_request(stream) {
            self.end(e);
        }
        self.finish_command();
    }

    /// Starts a graceful shutdown (§5.2): GOAWAY names the first request stream the
    /// client has not opened yet, no more are allowed, those already opened finish,
    /// and the connection closes (H3_NO_ERROR) once the last one is done.
    pub fn shutdown(&mut self) {
        if self.closed || self.goaway.is_some() {
            return;
        }
        let first_refused = key(StreamId::new(Side::Client, Dir::Bi, self.next_request));
        frame::encode_goaway(first_refused, self.local.control_out());
        self.goaway = Some(first_refused);
        // No credit for streams past those the client may already open.
        self.conn
            .set_max_concurrent_streams(Dir::Bi, VarInt::from_u32(0));
        self.finish_command();
    }

    /// Ends the connection at once with CONNECTION_CLOSE(`code`): for the driver's own
    /// reasons (a drain's deadline), where the peer did nothing wrong. Queued responses
    /// are dropped.
    pub fn close(&mut self, code: ErrorCode, reason: &'static str) {
        self.end(ConnError::new(code, reason));
    }

    /// Stream `k` if it is the application's to command.
    fn app_stream(&mut self, k: u64) -> Result<&mut Request, SendError> {
        self.requests
            .get_mut(&k)
            .filter(|r| r.app)
            .ok_or(SendError::UnknownStream)
    }

    /// Queues a HEADERS frame with `status` and `headers` on `k`.
    pub(super) fn queue_head(
        &mut self,
        k: u64,
        status: StatusCode,
        headers: &HeaderMap,
        end_stream: bool,
    ) {
        let section = self.encode_section(k, response_fields(&status, headers));
        let Some(r) = self.requests.get_mut(&k) else {
            return;
        };
        r.push(section);
        r.respond = match (end_stream, status.is_informational()) {
            (true, _) => Respond::Ending,
            (false, true) => Respond::Idle,
            (false, false) => Respond::Open,
        };
    }

    /// A HEADERS frame with `fields` QPACK-encoded for stream `k`; the encoder's inserts
    /// go out on our encoder stream with the command's flush.
    fn encode_section<'a>(
        &mut self,
        k: u64,
        fields: impl Iterator<Item = (&'a [u8], &'a [u8])>,
    ) -> Bytes {
        let mut section = std::mem::take(&mut self.section_scratch);
        section.clear();
        self.encoder.encode(k, fields, &mut section);
        let mut frame = Vec::with_capacity(section.len() + 16);
        frame::encode_headers(&section, &mut frame);
        self.section_scratch = section;
        frame.into()
    }

    /// Resets the sending half of `k` with `code`, dropping what it queued.
    pub(super) fn reset_sending(&mut self, k: u64, code: ErrorCode) {
        let Some(r) = self.requests.get_mut(&k) else {
            return;
        };
        r.queue.clear();
        r.queued = 0;
        r.respond = Respond::Done;
        // QUIC may have dropped the half already (the peer acknowledged all of it).
        let _ = self.conn.send_stream(r.id).reset(varint(code));
    }

    /// Gives QUIC what it takes of `k`'s queue, ends the stream once the queue is
    /// drained and the response complete, and says `Writable` if `send_data` was
    /// refused and there is room again.
    pub(super) fn pump(&mut self, k: u64) {
        let Some(r) = self.requests.get_mut(&k) else {
            return;
        };
        let mut send = self.conn.send_stream(r.id);
        while !r.queue.is_empty() {
            match send.write_chunks(r.queue.make_contiguous()) {
                Ok(written) => {
                    r.queue.drain(..written.chunks);
                    r.queued -= written.bytes;
                    if written.bytes == 0 {
                        break;
                    }
                }
                // Blocked: QUIC says Writable when the peer grants more. Stopped: the
                // Stopped event that comes with it resets the stream.
                Err(WriteError::Blocked | WriteError::Stopped(_)) => break,
                Err(WriteError::ClosedStream) => {
                    r.queue.clear();
                    r.queued = 0;
                    r.respond = Respond::Done;
                }
            }
        }
        if r.queue.is_empty() && r.respond == Respond::Ending {
            r.respond = match send.finish() {
                Ok(()) => Respond::Finished,
                // The Stopped event resets the stream.
                Err(FinishError::Stopped(_)) => Respond::Ending,
                Err(FinishError::ClosedStream) => Respond::Done,
            };
        }
        if r.full && r.queued < STREAM_QUEUE && r.respond == Respond::Open {
            r.full = false;
            self.events.push_back(Event::Writable { stream: k });
        }
        if r.phase == Phase::Done && r.respond == Respond::Done {
            self.forget_if_done(k);
        }
    }
}

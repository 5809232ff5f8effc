//! The application's side of a connection: responses in, and everything queued going
//! out as the peer's windows allow.

use super::*;

impl ServerConn {
    /// Answers `stream` with a response head; `end_stream` when there is no body.
    pub fn send_response(
        &mut self,
        stream: u32,
        status: StatusCode,
        headers: &HeaderMap,
        end_stream: bool,
    ) -> Result<(), SendError> {
        let max_frame = self.peer.max_frame_size;
        let s = self.open_stream(stream)?;
        let next = stream::on_send(s.state, SendEvent::Headers { end_stream })
            .map_err(|_| SendError::InvalidState)?;
        if !s.head.is_empty() || !s.data.is_empty() {
            return Err(SendError::InvalidState);
        }
        // Checked before encoding: an encoded block would have changed the HPACK
        // table even if it were never sent.
        self.fits_peer(fields::response_fields(&status, headers))?;
        let mut block = std::mem::take(&mut self.block_scratch);
        block.clear();
        self.enc
            .encode(fields::response_fields(&status, headers), &mut block);
        let s = self.open_stream(stream)?;
        s.head.reserve(block.len() + frame::HEADER_LEN);
        frame::encode_headers(stream, &block, end_stream, max_frame, &mut s.head);
        s.state = next;
        self.block_scratch = block;
        self.mark_ready(stream);
        Ok(())
    }

    /// Queues response body bytes; they go out as the peer's windows allow.
    pub fn send_data(
        &mut self,
        stream: u32,
        data: Bytes,
        end_stream: bool,
    ) -> Result<(), SendError> {
        let s = self.open_stream(stream)?;
        if s.end_after_data || matches!(s.state, State::HalfClosedLocal | State::Closed(_)) {
            return Err(SendError::InvalidState);
        }
        if s.queued >= STREAM_QUEUE {
            s.blocked = true;
            return Err(SendError::Full);
        }
        s.queued += data.len();
        if !data.is_empty() {
            s.data.push_back(data);
        }
        s.end_after_data = end_stream;
        self.mark_ready(stream);
        Ok(())
    }

    /// Ends the response with trailer fields (after its data has gone out).
    pub fn send_trailers(&mut self, stream: u32, trailers: &HeaderMap) -> Result<(), SendError> {
        let max_frame = self.peer.max_frame_size;
        self.open_stream(stream)?;
        self.fits_peer(fields::trailer_fields(trailers))?;
        let mut block = Vec::new();
        self.enc
            .encode(fields::trailer_fields(trailers), &mut block);
        let s = self.open_stream(stream)?;
        if s.end_after_data || matches!(s.state, State::HalfClosedLocal | State::Closed(_)) {
            return Err(SendError::InvalidState);
        }
        let mut frames = Vec::new();
        frame::encode_headers(stream, &block, true, max_frame, &mut frames);
        s.trailers = Some(frames);
        s.end_after_data = true;
        self.mark_ready(stream);
        Ok(())
    }

    /// Whether a header section of `fields` is within the peer's
    /// SETTINGS_MAX_HEADER_LIST_SIZE (RFC 9113 §6.5.2: a peer may refuse a larger one).
    fn fits_peer<'a>(
        &self,
        fields: impl Iterator<Item = (&'a [u8], &'a [u8])>,
    ) -> Result<(), SendError> {
        match self.peer.max_header_list_size {
            Some(max) if fields::field_section_size(fields) > u64::from(max) => {
                Err(SendError::TooLarge)
            }
            _ => Ok(()),
        }
    }

    /// Resets `stream` with `code` (an aborted response, a handler that failed).
    pub fn reset(&mut self, stream: u32, code: ErrorCode) -> Result<(), SendError> {
        if !self.streams.contains_key(&stream) {
            return Err(SendError::UnknownStream);
        }
        self.reset_stream(stream, code);
        Ok(())
    }

    /// The application has consumed `len` bytes of `stream`'s body: the peer may send
    /// that much more (a WINDOW_UPDATE goes out once enough has been released).
    pub fn release(&mut self, stream: u32, len: usize) {
        let len = len.min(u32::MAX as usize) as u32;
        self.conn_recv.release(len);
        if let Some(increment) = self.conn_recv.take_update() {
            frame::encode_window_update(0, increment, &mut self.out);
        }
        if let Some(s) = self.streams.get_mut(&stream) {
            s.recv.release(len);
            if matches!(s.state, State::Open | State::HalfClosedLocal) {
                if let Some(increment) = s.recv.take_update() {
                    frame::encode_window_update(stream, increment, &mut self.out);
                }
            }
        }
    }

    /// Starts a graceful shutdown: no new streams after those the peer has already
    /// sent; those in flight finish. The connection closes once they have.
    pub fn shutdown(&mut self) {
        if self.shutdown == Shutdown::Running && self.failed.is_none() {
            frame::encode_goaway(
                stream::MAX_STREAM_ID,
                ErrorCode::NO_ERROR,
                b"",
                &mut self.out,
            );
            frame::encode_ping(false, SHUTDOWN_PING, &mut self.out);
            self.shutdown = Shutdown::Announced;
        }
    }

    /// Ends a graceful shutdown without waiting any longer for the answer to its PING:
    /// the final GOAWAY names the last stream received so far. For a client that does
    /// not answer PINGs; the connection closes once its streams are done.
    pub fn finish_shutdown(&mut self) {
        if self.failed.is_none() && !matches!(self.shutdown, Shutdown::Final { .. }) {
            let last = self.ids.last_opened();
            frame::encode_goaway(last, ErrorCode::NO_ERROR, b"", &mut self.out);
            self.shutdown = Shutdown::Final { last };
        }
    }

    /// Ends the connection at once with GOAWAY(`code`) naming the last stream
    /// processed: for a driver's own reasons (a timeout), where no frame was wrong.
    /// Queued responses are dropped; [`is_closed`](Self::is_closed) is true after it.
    pub fn close(&mut self, code: ErrorCode, reason: &'static str) {
        if self.failed.is_none() {
            self.fail(ConnError::new(code, reason));
        }
    }

    /// Writes what is ready to go out into `out`: control frames, response heads, and
    /// body data as far as the peer's windows allow, up to about [`TRANSMIT_BUDGET`]
    /// bytes of data per call (call again once `out` is written). Returns whether it
    /// wrote anything.
    pub fn poll_transmit(&mut self, out: &mut Vec<u8>) -> bool {
        self.transmit(out)
    }

    /// As [`poll_transmit`](Self::poll_transmit), but body data is shared, not copied:
    /// `out` holds the frame bytes and the body slices for a vectored write.
    pub fn poll_transmit_vectored(&mut self, out: &mut Transmit) -> bool {
        self.transmit(out)
    }

    fn transmit(&mut self, out: &mut impl Sink) -> bool {
        let start = out.written();
        out.frames().append(&mut self.out);
        self.unread_acks.taken();
        let max_frame = self.peer.max_frame_size;
        let budget_end = out.written() + TRANSMIT_BUDGET;
        let mut waiting = VecDeque::new();
        while let Some(id) = self.ready.pop_front() {
            if out.written() >= budget_end {
                self.ready.push_front(id);
                break;
            }
            let Some(s) = self.streams.get_mut(&id) else {
                continue;
            };
            s.in_ready = false;
            out.frames().append(&mut s.head);
            while let Some(chunk) = s.data.front_mut() {
                if out.written() >= budget_end {
                    break;
                }
                let n = sendable(chunk.len(), &self.conn_send, &s.send, max_frame);
                if n == 0 {
                    break;
                }
                let piece = chunk.split_to(n);
                if chunk.is_empty() {
                    s.data.pop_front();
                }
                s.queued -= n;
                s.send.spend(n as u32);
                self.conn_send.spend(n as u32);
                let last = s.data.is_empty() && s.end_after_data && s.trailers.is_none();
                frame::encode_data_head(id, n as u32, last, out.frames());
                out.payload(piece);
                if last {
                    s.state = stream::on_send(s.state, SendEvent::Data { end_stream: true })
                        .unwrap_or(s.state);
                }
            }
            if s.data.is_empty() && s.end_after_data {
                if let Some(trailers) = s.trailers.take() {
                    out.frames().extend_from_slice(&trailers);
                    s.state = stream::on_send(s.state, SendEvent::Headers { end_stream: true })
                        .unwrap_or(s.state);
                } else if s.state != State::HalfClosedLocal
                    && !matches!(s.state, State::Closed(_))
                    && s.queued == 0
                {
                    // An empty final DATA frame: the body ended after its last bytes
                    // had already gone out.
                    frame::encode_data(id, &[], true, out.frames());
                    s.state = stream::on_send(s.state, SendEvent::Data { end_stream: true })
                        .unwrap_or(s.state);
                }
                s.end_after_data = false;
            }
            if s.blocked && s.queued < STREAM_QUEUE {
                s.blocked = false;
                self.events.push_back(Event::Writable { stream: id });
            }
            if !s.data.is_empty() {
                s.in_ready = true;
                waiting.push_back(id);
            }
            self.forget_if_done(id);
        }
        // Streams not reached this time keep their turn ahead of those served.
        self.ready.append(&mut waiting);
        out.written() > start
    }

    /// A stream that has sent and received everything is forgotten.
    pub(super) fn forget_if_done(&mut self, id: u32) {
        let done = self.streams.get(&id).is_some_and(|s| {
            s.state == State::Closed(ClosedBy::EndStream) && s.head.is_empty() && s.data.is_empty()
        });
        if done {
            self.streams.remove(&id);
            self.budgets.earn(Work::Response);
        }
    }

    pub(super) fn open_stream(&mut self, id: u32) -> Result<&mut Stream, SendError> {
        self.streams.get_mut(&id).ok_or(SendError::UnknownStream)
    }

    pub(super) fn mark_ready(&mut self, id: u32) {
        if let Some(s) = self.streams.get_mut(&id) {
            if !s.in_ready {
                s.in_ready = true;
                self.ready.push_back(id);
            }
        }
    }
}

//! The peer's side of a connection: frames in, each checked against the stream table,
//! the windows and the limits, turned into events or into the resets and GOAWAY the
//! RFC prescribes.

use super::*;

impl ServerConn {
    /// Processes one frame; `false` when more input is needed.
    pub(super) fn step(&mut self) -> Result<bool, ConnError> {
        if self.preface_seen < PREFACE.len() {
            let want = PREFACE.len() - self.preface_seen;
            let n = want.min(self.buf.len());
            if self.buf[..n] != PREFACE[self.preface_seen..self.preface_seen + n] {
                return Err(ConnError::new(
                    ErrorCode::PROTOCOL_ERROR,
                    "bad connection preface",
                ));
            }
            let _ = self.buf.split_to(n);
            self.preface_seen += n;
            if self.preface_seen < PREFACE.len() {
                return Ok(false);
            }
        }
        let frame = match frame::decode(&mut self.buf, DEFAULT_MAX_FRAME_SIZE) {
            Ok(Some(frame)) => frame,
            Ok(None) => return Ok(false),
            Err(FrameError::Conn(e)) => return Err(e),
            Err(FrameError::Stream(e)) => {
                self.stream_error(e)?;
                return Ok(true);
            }
        };
        if let Some(block) = &self.block {
            // Nothing may come between a HEADERS frame and its last CONTINUATION.
            if !matches!(&frame, Frame::Continuation { stream, .. } if *stream == block.stream) {
                return Err(ConnError::new(
                    ErrorCode::PROTOCOL_ERROR,
                    "a header block was interrupted",
                ));
            }
        }
        if abuse::is_empty(&frame) {
            self.budgets.spend(Cost::Empty)?;
        }
        self.on_frame(frame)?;
        Ok(true)
    }

    pub(super) fn on_frame(&mut self, frame: Frame) -> Result<(), ConnError> {
        match frame {
            Frame::Data {
                stream,
                data,
                end_stream,
                flow_len,
            } => self.on_data(stream, data, end_stream, flow_len),
            Frame::Headers {
                stream,
                fragment,
                end_stream,
                end_headers,
                priority,
            } => {
                let mut fragments = BytesMut::from(&fragment[..]);
                if fragments.len() > self.config.max_header_block {
                    return Err(calm("header block over max_header_block"));
                }
                let block = Block {
                    stream,
                    end_stream,
                    priority,
                    fragments: std::mem::take(&mut fragments),
                    continuations: 0,
                };
                if end_headers {
                    self.on_block(block)
                } else {
                    self.block = Some(block);
                    Ok(())
                }
            }
            Frame::Continuation {
                fragment,
                end_headers,
                ..
            } => {
                let Some(mut block) = self.block.take() else {
                    return Err(ConnError::new(
                        ErrorCode::PROTOCOL_ERROR,
                        "CONTINUATION without a header block",
                    ));
                };
                if block.fragments.len() + fragment.len() > self.config.max_header_block {
                    return Err(calm("header block over max_header_block"));
                }
                abuse::continuation(&mut block.continuations)?;
                block.fragments.extend_from_slice(&fragment);
                if end_headers {
                    self.on_block(block)
                } else {
                    self.block = Some(block);
                    Ok(())
                }
            }
            Frame::Priority { stream, .. } => {
                self.budgets.spend(Cost::Priority)?;
                if let Some(s) = self.streams.get_mut(&stream) {
                    s.state = stream::on_recv(s.state, RecvEvent::Priority)
                        .map_err(|v| v.for_stream(stream).err())
                        .unwrap_or(s.state);
                }
                Ok(())
            }
            Frame::RstStream { stream, code } => self.on_rst(stream, code),
            Frame::Settings(settings) => self.on_settings(&settings),
            Frame::SettingsAck => {
                if self.settings_acked {
                    // We sent one SETTINGS: this acknowledges nothing.
                    return self.budgets.spend(Cost::Empty);
                }
                self.settings_acked = true;
                let new = self.config.stream_window;
                for s in self.streams.values_mut() {
                    s.recv.apply_initial_delta(DEFAULT_WINDOW, new);
                }
                Ok(())
            }
            Frame::Ping { ack: false, data } => {
                self.unread_acks.queue()?;
                frame::encode_ping(true, data, &mut self.out);
                Ok(())
            }
            Frame::Ping { ack: true, data } => {
                if data != SHUTDOWN_PING || self.shutdown != Shutdown::Announced {
                    // The only PING we send is the shutdown's.
                    return self.budgets.spend(Cost::Empty);
                }
                let last = self.ids.last_opened();
                frame::encode_goaway(last, ErrorCode::NO_ERROR, b"", &mut self.out);
                self.shutdown = Shutdown::Final { last };
                Ok(())
            }
            Frame::GoAway { .. } => {
                // The client will open no more streams; those open finish as usual.
                Ok(())
            }
            Frame::WindowUpdate {
                stream: 0,
                increment,
            } => {
                // Every stream with data left is still in `ready` (poll_transmit keeps
                // it there), so the next poll_transmit uses the window: listing them
                // again per update would let a flood of updates grow `ready`.
                self.conn_send
                    .apply_increment(increment)
                    .map_err(|e| flow_conn(e, 0))?;
                Ok(())
            }
            Frame::WindowUpdate { stream, increment } => {
                self.check_known(stream)?;
                if self.after_reset(stream, RecvEvent::WindowUpdate)? {
                    return Ok(());
                }
                if let Some(s) = self.streams.get_mut(&stream) {
                    if let Err(e) = s.send.apply_increment(increment) {
                        let err = e.for_stream(stream)?;
                        return self.stream_error(err);
                    }
                }
                Ok(())
            }
            Frame::Unknown { .. } => Ok(()),
        }
    }

    /// A whole header block: a new request, or trailers.
    pub(super) fn on_block(&mut self, block: Block) -> Result<(), ConnError> {
        let id = block.stream;
        // Decoded whatever becomes of the stream: the HPACK state is the connection's.
        let decoded = self
            .dec
            .decode(&block.fragments, self.config.max_header_list_size);
        let decoded = match decoded {
            Err(DecodeError::Compression(e)) => return Err(e.into()),
            Ok(list) => Ok(list),
            Err(DecodeError::TooLarge(_)) => Err(()),
        };
        if let Some(s) = self.streams.get_mut(&id) {
            // Trailers: only with END_STREAM, on a stream still receiving.
            let next = match stream::on_recv(
                s.state,
                RecvEvent::Headers {
                    end_stream: block.end_stream,
                },
            ) {
                Ok(next) => next,
                Err(v) => {
                    let err = v.for_stream(id)?;
                    return self.stream_error(err);
                }
            };
            s.state = next;
            let trailers = match decoded {
                Ok(list) => fields::trailers(id, list),
                Err(_) => Err(StreamError {
                    stream: id,
                    code: ErrorCode::PROTOCOL_ERROR,
                    reason: "trailers over max_header_list_size",
                }),
            };
            match trailers.and_then(|t| self.check_length_at_end(id).map(|()| t)) {
                Ok(trailers) => {
                    self.events.push_back(Event::Trailers {
                        stream: id,
                        trailers,
                    });
                    self.forget_if_done(id);
                }
                Err(e) => self.stream_error(e)?,
            }
            return Ok(());
        }
        if self.after_reset(
            id,
            RecvEvent::Headers {
                end_stream: block.end_stream,
            },
        )? {
            return Ok(());
        }
        if !self.ids.is_idle(id) {
            return Err(ConnError::new(
                ErrorCode::STREAM_CLOSED,
                "HEADERS on a closed stream",
            ));
        }
        self.ids.open(id)?;
        if let Some(priority) = block.priority {
            if let Err(e) = priority.check(id) {
                return self.stream_error(e);
            }
        }
        if let Shutdown::Final { last } = self.shutdown {
            if id > last {
                // Past the final GOAWAY: the client knows it was not processed.
                self.send_rst(id, ErrorCode::REFUSED_STREAM);
                return Ok(());
            }
        }
        if self.streams.len() >= self.config.max_concurrent_streams as usize {
            self.budgets.spend(Cost::ProvokedReset)?;
            self.send_rst(id, ErrorCode::REFUSED_STREAM);
            return Ok(());
        }
        let state = stream::on_recv(
            State::Idle,
            RecvEvent::Headers {
                end_stream: block.end_stream,
            },
        )
        .map_err(|_| ConnError::new(ErrorCode::PROTOCOL_ERROR, "bad HEADERS"))?;
        let mut s = self.new_stream(state);
        let list = match decoded {
            Ok(list) => list,
            Err(_) => {
                self.streams.insert(id, s);
                return self.refuse(id, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
            }
        };
        let head = match fields::request_head(id, list, self.config.enable_connect_protocol) {
            Ok(head) => head,
            Err(e) => {
                self.streams.insert(id, s);
                return self.stream_error(e);
            }
        };
        s.content_length = head.content_length;
        s.tunnel = head.protocol.is_some();
        let too_large = head
            .content_length
            .is_some_and(|n| n > self.config.max_content_length);
        let empty_mismatch = block.end_stream && head.content_length.is_some_and(|n| n != 0);
        s.surfaced = !too_large && !empty_mismatch;
        self.streams.insert(id, s);
        if too_large {
            return self.refuse(id, StatusCode::PAYLOAD_TOO_LARGE);
        }
        if empty_mismatch {
            return self.stream_error(StreamError {
                stream: id,
                code: ErrorCode::PROTOCOL_ERROR,
                reason: "content-length with no body",
            });
        }
        self.budgets.earn(Work::Request);
        self.events.push_back(Event::Request {
            stream: id,
            head,
            end_stream: block.end_stream,
        });
        Ok(())
    }

    pub(super) fn on_data(
        &mut self,
        id: u32,
        data: Bytes,
        end_stream: bool,
        flow_len: u32,
    ) -> Result<(), ConnError> {
        // The connection window counts every DATA frame, whatever becomes of it.
        self.conn_recv
            .consume(flow_len)
            .map_err(|e| flow_conn(e, 0))?;
        let padding = flow_len - data.len() as u32;
        let Some(s) = self.streams.get_mut(&id) else {
            self.conn_recv.release(flow_len);
            if self.after_reset(id, RecvEvent::Data { end_stream })? {
                return Ok(());
            }
            return Err(ConnError::new(
                if self.ids.is_idle(id) {
                    ErrorCode::PROTOCOL_ERROR
                } else {
                    ErrorCode::STREAM_CLOSED
                },
                "DATA on a stream that is not open",
            ));
        };
        let next = match stream::on_recv(s.state, RecvEvent::Data { end_stream }) {
            Ok(next) => next,
            Err(v) => {
                self.conn_recv.release(flow_len);
                let err = v.for_stream(id)?;
                return self.stream_error(err);
            }
        };
        s.recv.consume(flow_len).map_err(|e| flow_conn(e, id))?;
        s.state = next;
        s.received += data.len() as u64;
        // Padding is nobody's to consume: hand it back at once.
        if padding > 0 {
            s.recv.release(padding);
            self.conn_recv.release(padding);
        }
        if !s.tunnel && s.received > self.config.max_content_length {
            let surfaced = s.surfaced;
            self.conn_recv.release(data.len() as u32);
            if surfaced {
                self.events.push_back(Event::Reset {
                    stream: id,
                    code: ErrorCode::CANCEL,
                });
            }
            return self.refuse(id, StatusCode::PAYLOAD_TOO_LARGE);
        }
        if s.content_length.is_some_and(|n| s.received > n) {
            return self.stream_error(StreamError {
                stream: id,
                code: ErrorCode::PROTOCOL_ERROR,
                reason: "more DATA than content-length",
            });
        }
        if end_stream {
            if let Err(e) = self.check_length_at_end(id) {
                return self.stream_error(e);
            }
        }
        if !data.is_empty() || end_stream {
            self.events.push_back(Event::Data {
                stream: id,
                data,
                end_stream,
            });
        }
        if end_stream {
            // A response that ended first left the stream waiting for this.
            self.forget_if_done(id);
        }
        Ok(())
    }

    pub(super) fn on_rst(&mut self, id: u32, code: ErrorCode) -> Result<(), ConnError> {
        self.check_known(id)?;
        let Some(s) = self.streams.get_mut(&id) else {
            return Ok(());
        };
        // Cut short before its response was complete: work thrown away.
        let cut_short = matches!(s.state, State::Open | State::HalfClosedRemote);
        s.state = State::Closed(ClosedBy::PeerReset);
        let surfaced = s.surfaced;
        if cut_short {
            self.budgets.spend(Cost::PeerReset)?;
        }
        self.drop_stream(id, ClosedBy::PeerReset);
        if surfaced {
            self.events.push_back(Event::Reset { stream: id, code });
        }
        Ok(())
    }

    pub(super) fn on_settings(&mut self, settings: &Settings) -> Result<(), ConnError> {
        self.budgets.spend(Cost::Settings)?;
        self.unread_acks.queue()?;
        let old = self.peer.initial_window_size;
        self.peer.apply(settings);
        if let Some(new) = settings.initial_window_size {
            for s in self.streams.values_mut() {
                s.send
                    .apply_initial_delta(old, new)
                    .map_err(|e| flow_conn(e, 0))?;
            }
        }
        if let Some(size) = settings.header_table_size {
            self.enc.set_max_table_size(size as usize);
        }
        frame::encode_settings_ack(&mut self.out);
        Ok(())
    }

    /// Frames on a stream id the client never opened are a connection error.
    pub(super) fn check_known(&self, id: u32) -> Result<(), ConnError> {
        if self.ids.is_idle(id) {
            return Err(ConnError::new(
                ErrorCode::PROTOCOL_ERROR,
                "frame on an idle stream",
            ));
        }
        Ok(())
    }

    pub(super) fn check_length_at_end(&self, id: u32) -> Result<(), StreamError> {
        let Some(s) = self.streams.get(&id) else {
            return Ok(());
        };
        match s.content_length {
            Some(n) if n != s.received => Err(StreamError {
                stream: id,
                code: ErrorCode::PROTOCOL_ERROR,
                reason: "body length differs from content-length",
            }),
            _ => Ok(()),
        }
    }

    /// Answers `id` with `status` and no body, then stops its request with
    /// `RST_STREAM(NO_ERROR)` (RFC 9113 §8.1: the client may stop sending).
    pub(super) fn refuse(&mut self, id: u32, status: StatusCode) -> Result<(), ConnError> {
        self.budgets.spend(Cost::ProvokedReset)?;
        let mut block = Vec::new();
        self.enc.encode(
            fields::response_fields(&status, &HeaderMap::new()),
            &mut block,
        );
        frame::encode_headers(id, &block, true, self.peer.max_frame_size, &mut self.out);
        self.send_rst(id, ErrorCode::NO_ERROR);
        Ok(())
    }

    /// A stream-level error: reset it, and tell the application if it knew it.
    pub(super) fn stream_error(&mut self, e: StreamError) -> Result<(), ConnError> {
        self.budgets.spend(Cost::ProvokedReset)?;
        if self.streams.get(&e.stream).is_some_and(|s| s.surfaced) {
            self.events.push_back(Event::Reset {
                stream: e.stream,
                code: e.code,
            });
        }
        self.send_rst(e.stream, e.code);
        Ok(())
    }

    pub(super) fn reset_stream(&mut self, id: u32, code: ErrorCode) {
        self.send_rst(id, code);
    }

    pub(super) fn send_rst(&mut self, id: u32, code: ErrorCode) {
        frame::encode_rst_stream(id, code, &mut self.out);
        if let Some(s) = self.streams.get(&id) {
            // What the stream still holds of the connection window is free again.
            let held = s.recv.held();
            self.conn_recv.release(held);
        }
        self.drop_stream(id, ClosedBy::LocalReset);
    }

    pub(super) fn drop_stream(&mut self, id: u32, by: ClosedBy) {
        if self.streams.remove(&id).is_some() {
            if self.recent_resets.len() == RECENT_RESETS {
                self.recent_resets.pop_front();
            }
            self.recent_resets.push_back((id, by));
        }
    }

    /// A frame on a stream reset recently: handled here, as the stream table says for
    /// how it closed (`true`), or not a recently reset stream (`false`).
    pub(super) fn after_reset(&mut self, id: u32, event: RecvEvent) -> Result<bool, ConnError> {
        let Some(&(_, by)) = self.recent_resets.iter().find(|(s, _)| *s == id) else {
            return Ok(false);
        };
        if let Err(v) = stream::on_recv(State::Closed(by), event) {
            let e = v.for_stream(id)?;
            // A reset the peer provoked, like any other (MadeYouReset).
            self.budgets.spend(Cost::ProvokedReset)?;
            frame::encode_rst_stream(id, e.code, &mut self.out);
        }
        Ok(true)
    }
}

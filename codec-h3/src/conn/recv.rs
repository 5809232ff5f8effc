//! The peer's side of request streams: QUIC's events in, each stream's frames decoded,
//! its field sections through QPACK and the field rules, turned into events or into the
//! answers and resets RFC 9114 §4.1 prescribes.

use bytes::{Bytes, BytesMut};
use http::StatusCode;
use quinn_proto::{Dir, ReadError, StreamEvent};
use roadrunner_h2::{parse_request_head, parse_trailers};

use super::streams::{Phase, Request, Respond};
use super::*;
use crate::abuse::{Cost, Work};
use crate::frame::Frame;
use crate::qpack::{DecodeError, FieldSection};

/// The most read from a request stream at once.
const READ_CHUNK: usize = 16 * 1024;

/// How a read from a QUIC stream ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Read {
    /// It stopped at the size asked for: there may be more.
    More,
    /// Nothing more for now.
    Blocked,
    /// The stream ended; everything is read.
    Fin,
    /// The peer reset the stream, with this code.
    Reset(u64),
    /// QUIC no longer has the stream (stopped or already finished).
    Closed,
}

/// Appends up to `max` bytes of stream `id` to `buf`: how the read ended and how many
/// bytes came. Reading gives the peer flow-control credit for what was read.
pub(super) fn read_into(
    conn: &mut Connection,
    id: StreamId,
    buf: &mut BytesMut,
    max: usize,
) -> (Read, usize) {
    let mut stream = conn.recv_stream(id);
    let Ok(mut chunks) = stream.read(true) else {
        return (Read::Closed, 0);
    };
    let mut got = 0;
    let read = loop {
        if got >= max {
            break Read::More;
        }
        match chunks.next(max - got) {
            Ok(Some(chunk)) => {
                got += chunk.bytes.len();
                buf.extend_from_slice(&chunk.bytes);
            }
            Ok(None) => break Read::Fin,
            Err(ReadError::Blocked) => break Read::Blocked,
            Err(ReadError::Reset(code)) => break Read::Reset(code.into_inner()),
        }
    };
    // The credit it may have to send goes out with the next transmit.
    let _ = chunks.finalize();
    (read, got)
}

impl ServerConn {
    /// QUIC's events since the last input.
    pub(super) fn drive(&mut self) -> Result<(), ConnError> {
        while let Some(event) = self.conn.poll() {
            match event {
                quinn_proto::Event::ConnectionLost { reason } => {
                    self.lost(reason);
                    return Ok(());
                }
                quinn_proto::Event::Connected => self.local.open(&mut self.conn),
                quinn_proto::Event::Stream(event) => self.on_stream_event(event)?,
                quinn_proto::Event::HandshakeDataReady
                | quinn_proto::Event::DatagramReceived
                | quinn_proto::Event::DatagramsUnblocked => {}
            }
        }
        Ok(())
    }

    fn on_stream_event(&mut self, event: StreamEvent) -> Result<(), ConnError> {
        match event {
            StreamEvent::Opened { dir: Dir::Bi } => self.accept_requests(),
            StreamEvent::Opened { dir: Dir::Uni } => self.accept_uni(),
            StreamEvent::Readable { id } if id.dir() == Dir::Bi => self.read_request(key(id)),
            StreamEvent::Readable { id } => self.read_uni(id),
            StreamEvent::Writable { id } if self.local.contains(id) => Ok(()),
            StreamEvent::Writable { id } => {
                self.pump(key(id));
                Ok(())
            }
            StreamEvent::Finished { id } => {
                self.on_finished(key(id));
                Ok(())
            }
            StreamEvent::Stopped { id, .. } if self.local.contains(id) => Err(
                super::streams::closed_critical("the peer stopped one of our critical streams"),
            ),
            StreamEvent::Stopped { id, error_code } => {
                self.on_stopped(key(id), ErrorCode(error_code.into_inner()))
            }
            StreamEvent::Available { dir: Dir::Uni } => {
                self.local.open(&mut self.conn);
                Ok(())
            }
            StreamEvent::Available { dir: Dir::Bi } => Ok(()),
        }
    }

    /// Takes every request stream the client has opened, and reads what each holds.
    fn accept_requests(&mut self) -> Result<(), ConnError> {
        while let Some(id) = self.conn.streams().accept(Dir::Bi) {
            self.next_request = id.index() + 1;
            if self.goaway.is_some_and(|g| key(id) >= g) {
                // Past our GOAWAY: not processed, so the client may retry it (§5.2).
                self.budgets.spend(Cost::ProvokedReset)?;
                let code = varint(ErrorCode::H3_REQUEST_REJECTED);
                let _ = self.conn.send_stream(id).reset(code);
                let _ = self.conn.recv_stream(id).stop(code);
                continue;
            }
            self.requests
                .insert(key(id), Request::new(id, self.config.max_header_block));
            self.read_request(key(id))?;
        }
        Ok(())
    }

    /// Reads stream `k` while it wants more, decoding what comes.
    pub(super) fn read_request(&mut self, k: u64) -> Result<(), ConnError> {
        loop {
            let Some(r) = self.requests.get_mut(&k) else {
                return Ok(());
            };
            if !r.wants_read() {
                // A stream not read for now (waiting for QPACK inserts, or for the
                // application to release its body) still learns of its reset.
                if r.phase != Phase::Done && !r.fin {
                    if let Ok(Some(code)) = self.conn.recv_stream(r.id).received_reset() {
                        return self.on_peer_reset(k, ErrorCode(code.into_inner()));
                    }
                }
                return Ok(());
            }
            let (read, _) = read_into(&mut self.conn, r.id, &mut r.buf, READ_CHUNK);
            match read {
                Read::More | Read::Blocked => {}
                Read::Fin => r.fin = true,
                Read::Reset(code) => return self.on_peer_reset(k, ErrorCode(code)),
                // Stopped by us, which set the phase to Done first.
                Read::Closed => return Ok(()),
            }
            self.decode_request(k)?;
            if read == Read::Blocked {
                return Ok(());
            }
        }
    }

    /// Decodes the frames in stream `k`'s buffer, and its end once all is in.
    pub(super) fn decode_request(&mut self, k: u64) -> Result<(), ConnError> {
        loop {
            let Some(r) = self.requests.get_mut(&k) else {
                return Ok(());
            };
            if !matches!(r.phase, Phase::Head | Phase::Body | Phase::Trailers) {
                return Ok(());
            }
            let Some(frame) = r.frames.decode(&mut r.buf)? else {
                break;
            };
            match frame {
                Frame::Headers(section) => self.on_headers(k, section)?,
                Frame::HeadersTooLarge { .. } => {
                    // Skipped unread: whatever it referenced is released (RFC 9204 §4.4.2).
                    self.decoder.cancel_stream(k);
                    self.section_too_large(k)?;
                }
                Frame::Data { len: 0 } | Frame::Unknown { .. } => {
                    self.budgets.spend(Cost::Empty)?;
                }
                Frame::Data { .. } => {}
                Frame::DataChunk(data) => self.on_data(k, data)?,
                Frame::Settings(_)
                | Frame::GoAway { .. }
                | Frame::MaxPushId { .. }
                | Frame::CancelPush { .. }
                | Frame::PushPromise { .. } => {
                    // The frame decoder refuses these on a server's request stream.
                    return Err(ConnError::new(
                        ErrorCode::H3_FRAME_UNEXPECTED,
                        "control frame on a request stream",
                    ));
                }
            }
        }
        match self.requests.get(&k) {
            Some(r) if r.fin => self.on_end(k),
            _ => Ok(()),
        }
    }

    /// A HEADERS frame: the request's head, or its trailers.
    fn on_headers(&mut self, k: u64, section: Bytes) -> Result<(), ConnError> {
        match self.decoder.decode(k, section) {
            Ok(Some(fields)) => self.on_fields(k, fields),
            Ok(None) => {
                if let Some(r) = self.requests.get_mut(&k) {
                    r.phase = match r.phase {
                        Phase::Head => Phase::HeadBlocked,
                        _ => Phase::TrailersBlocked,
                    };
                }
                Ok(())
            }
            Err(DecodeError::TooLarge) => self.section_too_large(k),
            Err(DecodeError::Failed(e)) => Err(e),
        }
    }

    /// Sections the inserts since have made decodable, and their streams read on.
    pub(super) fn resume_unblocked(&mut self) -> Result<(), ConnError> {
        while let Some((k, result)) = self.decoder.poll_unblocked() {
            match result {
                Ok(fields) => self.on_fields(k, fields)?,
                Err(DecodeError::TooLarge) => self.section_too_large(k)?,
                Err(DecodeError::Failed(e)) => return Err(e),
            }
            self.decode_request(k)?;
            self.read_request(k)?;
        }
        Ok(())
    }

    /// A decoded section, for the head or the trailers as the phase says.
    fn on_fields(&mut self, k: u64, fields: FieldSection) -> Result<(), ConnError> {
        let Some(r) = self.requests.get_mut(&k) else {
            return Ok(());
        };
        if matches!(r.phase, Phase::Head | Phase::HeadBlocked) {
            return self.on_request_head(k, fields);
        }
        let trailers = match parse_trailers(fields) {
            Ok(trailers) => trailers,
            Err(_) => return self.stream_error(k, ErrorCode::H3_MESSAGE_ERROR),
        };
        if r.content_length.is_some_and(|n| n != r.received) {
            // The body ended with the trailers, short of its content-length.
            return self.stream_error(k, ErrorCode::H3_MESSAGE_ERROR);
        }
        r.phase = Phase::Trailers;
        if r.app {
            self.events.push_back(Event::Trailers {
                stream: k,
                trailers,
            });
        }
        Ok(())
    }

    fn on_request_head(&mut self, k: u64, fields: FieldSection) -> Result<(), ConnError> {
        let head = match parse_request_head(fields, self.config.enable_connect_protocol) {
            Ok(head) => head,
            Err(_) => return self.stream_error(k, ErrorCode::H3_MESSAGE_ERROR),
        };
        let max = self.config.max_content_length;
        let Some(r) = self.requests.get_mut(&k) else {
            return Ok(());
        };
        r.phase = Phase::Body;
        r.content_length = head.content_length;
        r.tunnel = head.protocol.is_some();
        if !r.tunnel && head.content_length.is_some_and(|n| n > max) {
            return self.refuse(k, StatusCode::PAYLOAD_TOO_LARGE);
        }
        // The end is known now if the stream's FIN came right behind its HEADERS.
        let end_stream = r.fin && r.buf.is_empty();
        if end_stream {
            if head.content_length.is_some_and(|n| n != 0) {
                // A content-length, and no body.
                return self.stream_error(k, ErrorCode::H3_MESSAGE_ERROR);
            }
            r.phase = Phase::Done;
        }
        r.app = true;
        self.budgets.earn(Work::Request);
        self.events.push_back(Event::Request {
            stream: k,
            head,
            end_stream,
        });
        Ok(())
    }

    fn on_data(&mut self, k: u64, data: Bytes) -> Result<(), ConnError> {
        let max = self.config.max_content_length;
        let Some(r) = self.requests.get_mut(&k) else {
            return Ok(());
        };
        r.received += data.len() as u64;
        if !r.tunnel && r.received > max {
            return self.refuse(k, StatusCode::PAYLOAD_TOO_LARGE);
        }
        if r.content_length.is_some_and(|n| r.received > n) {
            // More DATA than the content-length said.
            return self.stream_error(k, ErrorCode::H3_MESSAGE_ERROR);
        }
        if r.app {
            r.unreleased += data.len();
            self.events.push_back(Event::Data {
                stream: k,
                data,
                end_stream: false,
            });
        }
        Ok(())
    }

    /// The stream ended and its frames are all decoded.
    fn on_end(&mut self, k: u64) -> Result<(), ConnError> {
        let Some(r) = self.requests.get_mut(&k) else {
            return Ok(());
        };
        if !matches!(r.phase, Phase::Head | Phase::Body | Phase::Trailers) {
            return Ok(());
        }
        r.frames.finish(&r.buf)?;
        match r.phase {
            // §4.1.2: a stream that ends without a whole request.
            Phase::Head => self.stream_error(k, ErrorCode::H3_REQUEST_INCOMPLETE),
            // The body ended short of its content-length, or past it.
            Phase::Body if r.content_length.is_some_and(|n| n != r.received) => {
                self.stream_error(k, ErrorCode::H3_MESSAGE_ERROR)
            }
            Phase::Body => {
                r.phase = Phase::Done;
                if r.app {
                    self.end_body(k);
                }
                self.forget_if_done(k);
                Ok(())
            }
            Phase::Trailers => {
                r.phase = Phase::Done;
                self.forget_if_done(k);
                Ok(())
            }
            Phase::HeadBlocked | Phase::TrailersBlocked | Phase::Done => Ok(()),
        }
    }

    /// Says the body of `k` ended: on its last piece if that is the last event queued,
    /// else with an empty piece.
    fn end_body(&mut self, k: u64) {
        if let Some(Event::Data {
            stream, end_stream, ..
        }) = self.events.back_mut()
        {
            if *stream == k {
                *end_stream = true;
                return;
            }
        }
        self.events.push_back(Event::Data {
            stream: k,
            data: Bytes::new(),
            end_stream: true,
        });
    }

    /// A field section over a limit: `431` for a request head, malformed trailers.
    fn section_too_large(&mut self, k: u64) -> Result<(), ConnError> {
        match self.requests.get(&k).map(|r| r.phase) {
            Some(Phase::Head | Phase::HeadBlocked) => {
                self.refuse(k, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE)
            }
            // Trailers too large to decode: a malformed message.
            Some(_) => self.stream_error(k, ErrorCode::H3_MESSAGE_ERROR),
            None => Ok(()),
        }
    }

    /// The peer reset its half of stream `k` (RESET_STREAM).
    fn on_peer_reset(&mut self, k: u64, code: ErrorCode) -> Result<(), ConnError> {
        let Some(r) = self.requests.get_mut(&k) else {
            return Ok(());
        };
        let cut_short = !r.response_complete();
        if cut_short {
            self.budgets.spend(Cost::PeerReset)?;
        }
        // QUIC has freed the receiving half already.
        self.abandon(k, code, ErrorCode::H3_REQUEST_CANCELLED);
        Ok(())
    }

    /// The peer asked us to stop sending on stream `k` (STOP_SENDING).
    fn on_stopped(&mut self, k: u64, code: ErrorCode) -> Result<(), ConnError> {
        let Some(r) = self.requests.get_mut(&k) else {
            return Ok(());
        };
        if !r.response_complete() {
            self.budgets.spend(Cost::PeerReset)?;
        }
        // The code of the STOP_SENDING goes back in our RESET_STREAM (RFC 9000 §3.5);
        // the request is of no use to anyone now.
        self.abandon(k, code, code);
        Ok(())
    }

    /// Our response's end was acknowledged: the response went out whole.
    fn on_finished(&mut self, k: u64) {
        if let Some(r) = self.requests.get_mut(&k) {
            if r.respond == Respond::Finished {
                r.respond = Respond::Done;
                self.budgets.earn(Work::Response);
                self.forget_if_done(k);
            }
        }
    }

    /// A stream error for the peer's fault (§4.1.2): reset both halves with `code`.
    pub(super) fn stream_error(&mut self, k: u64, code: ErrorCode) -> Result<(), ConnError> {
        self.budgets.spend(Cost::ProvokedReset)?;
        self.abandon(k, code, code);
        Ok(())
    }

    /// Answers `k` with `status` and no body, and asks the client to stop sending its
    /// request with H3_NO_ERROR (§4.1.2: the response does not need the rest). A
    /// response already begun is reset instead.
    pub(super) fn refuse(&mut self, k: u64, status: StatusCode) -> Result<(), ConnError> {
        self.budgets.spend(Cost::ProvokedReset)?;
        let Some(r) = self.requests.get_mut(&k) else {
            return Ok(());
        };
        if r.app {
            r.app = false;
            self.events.push_back(Event::Reset {
                stream: k,
                code: ErrorCode::H3_REQUEST_CANCELLED,
            });
        }
        self.stop_reading(k, ErrorCode::H3_NO_ERROR);
        match self.requests.get(&k).map(|r| r.respond) {
            Some(Respond::Idle) => self.queue_head(k, status, &HeaderMap::new(), true),
            // The application's response has begun: it cannot become a 413.
            Some(Respond::Open) => self.reset_sending(k, ErrorCode::H3_REQUEST_CANCELLED),
            // A complete response goes out as it is.
            Some(Respond::Ending | Respond::Finished | Respond::Done) | None => {}
        }
        self.pump(k);
        self.forget_if_done(k);
        Ok(())
    }

    /// Gives up stream `k`: its response (unless complete) is reset with `send_code`,
    /// its request is read no further, and the application, if it had the stream, hears
    /// `Reset` with `event_code`.
    fn abandon(&mut self, k: u64, event_code: ErrorCode, send_code: ErrorCode) {
        let Some(r) = self.requests.get_mut(&k) else {
            return;
        };
        if r.app {
            r.app = false;
            self.events.push_back(Event::Reset {
                stream: k,
                code: event_code,
            });
        }
        if !r.response_complete() {
            self.reset_sending(k, send_code);
        }
        self.stop_reading(k, send_code);
        self.forget_if_done(k);
    }

    /// Reads no more of `k`'s request, telling the peer with STOP_SENDING(`code`) and
    /// our QPACK decoder that its sections are abandoned.
    pub(super) fn stop_reading(&mut self, k: u64, code: ErrorCode) {
        let Some(r) = self.requests.get_mut(&k) else {
            return;
        };
        if r.phase == Phase::Done {
            return;
        }
        r.phase = Phase::Done;
        r.buf = BytesMut::new();
        // Stopping a stream QUIC has freed (the peer reset it) is a harmless error.
        let _ = self.conn.recv_stream(r.id).stop(varint(code));
        self.decoder.cancel_stream(k);
    }

    /// Forgets stream `k` once both its halves are done.
    pub(super) fn forget_if_done(&mut self, k: u64) {
        if self.requests.get(&k).is_some_and(Request::is_done) {
            self.requests.remove(&k);
        }
    }
}

//! The per-connection state machine tying parsing and encoding together.

use std::time::SystemTime;

use bytes::{Buf, Bytes, BytesMut};
use http::header::{self, HeaderMap};
use http::{Method, StatusCode, Version};

use crate::body::{BodyDecoder, Decoded};
use crate::config::Config;
use crate::encode::{self, ConnectionHeader, DateCache, FramingHeader};
use crate::error::{Error, ErrorKind, SendError};
use crate::head::{self, BodyKind, RequestHead};
use crate::scan::{self, LineScanner};

/// Receive buffer capacity taken at the first byte (and again after
/// [`ServerConn::release_buffers`]).
const FIRST_BUFFER: usize = 1024;

/// What [`ServerConn::poll_event`] reports.
#[derive(Debug)]
pub enum Event {
    /// A request head was parsed; its body events follow.
    Request(RequestHead),
    /// A piece of the request body, split off the receive buffer without copying.
    Data(Bytes),
    /// End of the request body; `Some(trailers)` when a chunked body carried trailer fields.
    End(Option<HeaderMap>),
}

/// Where reading stands.
#[derive(Debug)]
enum Read {
    /// Waiting for (or parsing) the next request head.
    Head,
    /// Handing out the body of the current request.
    Body(BodyDecoder),
    /// The current request is fully read; waiting for its response to end.
    Done,
    /// The response ended before the body was read: the rest is read and dropped.
    Discard(BodyDecoder),
    /// The announced Content-Length is over the cap; the error is reported next.
    TooLarge,
    /// An error was reported, or the connection is closed: nothing more is parsed.
    Dead,
    /// A 101 response was sent: the buffered bytes belong to the new protocol.
    Upgraded { taken: bool },
}

/// Facts about the request being answered.
#[derive(Debug, Default)]
struct Current {
    active: bool,
    head_method: bool,
    http10: bool,
    keep_alive: bool,
    expect_continue: bool,
    continue_sent: bool,
    upgrade: bool,
}

/// Where writing stands.
#[derive(Debug)]
enum Write {
    /// No response head sent for the current request.
    Idle,
    /// The head is sent; the body is framed as `body`.
    Started { body: OutBody, close: bool },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OutBody {
    /// No body may be sent (HEAD, 1xx, 204, 304): data is dropped.
    Dropped,
    /// Bytes still allowed by the content-length.
    Length(u64),
    Chunked,
    /// Delimited by closing the connection (HTTP/1.0, unknown length).
    UntilClose,
}

/// A sans-IO HTTP/1.1 server connection: bytes in through [`recv`](Self::recv), events out
/// of [`poll_event`](Self::poll_event), responses written by the `send_*` methods.
///
/// Requests are answered strictly in order: the next pipelined request is not parsed
/// before [`send_end`](Self::send_end) of the current response. If the response ends
/// before the request body was read, the rest of the body is read and dropped (under the
/// same caps) before the next request; if instead the body was never asked for with
/// `100 Continue`, the connection closes after the response.
#[derive(Debug)]
pub struct ServerConn {
    config: Config,
    buf: BytesMut,
    scanner: LineScanner,
    read: Read,
    write: Write,
    req: Current,
    date: DateCache,
    eof: bool,
    closed: bool,
    failed: bool,
    error_answered: bool,
    close_requested: bool,
    /// An emptied map for the next request's fields ([`recycle_headers`](Self::recycle_headers)).
    spare_headers: Option<HeaderMap>,
}

/// The most fields a recycled map may have room for: a larger one is let go, so that
/// one large response does not pin its memory for the connection's life.
const SPARE_FIELDS_MAX: usize = 64;

impl ServerConn {
    /// A connection waiting for its first request.
    pub fn new(config: Config) -> Self {
        ServerConn {
            config,
            buf: BytesMut::new(),
            scanner: LineScanner::request(),
            read: Read::Head,
            write: Write::Idle,
            req: Current::default(),
            date: DateCache::new(),
            eof: false,
            closed: false,
            failed: false,
            error_answered: false,
            close_requested: false,
            spare_headers: None,
        }
    }

    /// Gives back a header map the caller is done with (the last response's, say): it
    /// is emptied and holds the next request's fields, which then cost no allocation.
    pub fn recycle_headers(&mut self, mut map: HeaderMap) {
        if map.capacity() <= SPARE_FIELDS_MAX {
            map.clear();
            self.spare_headers = Some(map);
        }
    }

    /// The limits in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Buffers bytes received from the peer (any split; may hold several pipelined
    /// requests). Ignored once the connection is closed or failed.
    pub fn recv(&mut self, data: &[u8]) {
        if !self.closed && !matches!(self.read, Read::Dead) {
            // Room for a typical head from the start: grown from a first small read by
            // doubling, the buffer was copied anew every few reads when requests came in
            // one read each (five reallocations for sixteen small pipelined requests).
            if self.buf.capacity() == 0 {
                self.buf.reserve(data.len().max(FIRST_BUFFER));
            }
            self.buf.extend_from_slice(data);
        }
    }

    /// Gives back the memory held for parsing when nothing is buffered (an idle
    /// kept-alive connection); it is allocated again by the next request. Returns
    /// whether anything was released.
    pub fn release_buffers(&mut self) -> bool {
        if !self.buf.is_empty() || !matches!(self.read, Read::Head) {
            return false;
        }
        self.buf = BytesMut::new();
        true
    }

    /// Whether the connection waits for a new request with nothing of it received yet
    /// (every response sent, no byte buffered).
    pub fn awaits_request(&self) -> bool {
        self.buf.is_empty() && matches!(self.read, Read::Head) && matches!(self.write, Write::Idle)
    }

    /// Tells the codec the peer closed its sending side. Requests already buffered are
    /// still served; a request cut short becomes [`ErrorKind::UnexpectedEof`], and with
    /// nothing of a new request received the connection just closes.
    pub fn recv_eof(&mut self) {
        self.eof = true;
    }

    /// The next event; `Ok(None)` when more input is needed, or when the current request
    /// is complete and its response has not ended yet. After an error, `Ok(None)` forever.
    #[must_use = "events and errors must be handled"]
    pub fn poll_event(&mut self) -> Result<Option<Event>, Error> {
        loop {
            match &mut self.read {
                Read::Head => return self.poll_head(),
                Read::Body(dec) => {
                    return match dec.decode(&mut self.buf, &self.config) {
                        Ok(Some(Decoded::Data(d))) => Ok(Some(Event::Data(d))),
                        Ok(Some(Decoded::End(t))) => {
                            self.read = Read::Done;
                            Ok(Some(Event::End(t)))
                        }
                        Ok(None) if self.eof => Err(self.fail(ErrorKind::UnexpectedEof)),
                        Ok(None) => Ok(None),
                        Err(kind) => Err(self.fail(kind)),
                    };
                }
                Read::Discard(dec) => match dec.decode(&mut self.buf, &self.config) {
                    Ok(Some(Decoded::Data(_))) => {}
                    Ok(Some(Decoded::End(_))) => self.read = Read::Head,
                    // The response is already out: nobody to tell, so just close.
                    Ok(None) if !self.eof => return Ok(None),
                    Ok(None) | Err(_) => {
                        self.shut();
                        return Ok(None);
                    }
                },
                Read::TooLarge => return Err(self.fail(ErrorKind::BodyTooLarge)),
                Read::Done | Read::Dead | Read::Upgraded { .. } => return Ok(None),
            }
        }
    }

    fn poll_head(&mut self) -> Result<Option<Event>, Error> {
        // A head that arrived whole, as most do, is parsed once, not scanned first.
        if self.scanner.is_fresh() {
            if let Some(end) = scan::whole_head_end(&self.buf) {
                let head = self.buf.split_to(end).freeze();
                let spare = self.spare_headers.take();
                let parsed = head::parse_unscanned(&head, &self.config, spare);
                return self.start_request(parsed, &head).map(Some);
            }
        }
        let section = match self.scanner.scan(&self.buf, &self.config) {
            Ok(Some(section)) => section,
            Ok(None) if !self.eof => return Ok(None),
            Ok(None) if self.scanner.is_idle(&self.buf) => {
                self.shut();
                return Ok(None);
            }
            Ok(None) => return Err(self.fail_head(ErrorKind::UnexpectedEof, None)),
            Err(kind) => return Err(self.fail_head(kind, None)),
        };
        self.scanner = LineScanner::request();
        self.buf.advance(section.start);
        let head = self.buf.split_to(section.end - section.start).freeze();
        let spare = self.spare_headers.take();
        let parsed = head::parse(&head, self.config.max_header_count, spare);
        self.start_request(parsed, &head).map(Some)
    }

    /// Starts reading the body of a parsed request, or fails it.
    fn start_request(
        &mut self,
        parsed: Result<RequestHead, ErrorKind>,
        head: &[u8],
    ) -> Result<Event, Error> {
        let head = match parsed {
            Ok(head) => head,
            Err(kind) => return Err(self.fail_head(kind, Some(head))),
        };
        self.req = Current {
            active: true,
            head_method: head.method == Method::HEAD,
            http10: head.version == Version::HTTP_10,
            keep_alive: head.keep_alive,
            expect_continue: head.expect_continue,
            continue_sent: false,
            upgrade: head.upgrade,
        };
        self.read = match head.body {
            BodyKind::Empty => Read::Body(BodyDecoder::Length(0)),
            BodyKind::Length(n) if n > self.config.max_content_length => Read::TooLarge,
            BodyKind::Length(n) => Read::Body(BodyDecoder::Length(n)),
            BodyKind::Chunked => Read::Body(BodyDecoder::chunked()),
        };
        Ok(Event::Request(head))
    }

    /// Fails the request whose head is being read: `head` when it is already split off
    /// the buffer, else it starts where the scanner skipped to. The facts of the previous
    /// request must not shape the error response, but its method must: whatever else is
    /// wrong, a client that sent `HEAD` reads no body (RFC 9110 §9.3.2), so the request is
    /// taken as HEAD as soon as its method token is complete.
    fn fail_head(&mut self, kind: ErrorKind, head: Option<&[u8]>) -> Error {
        let start =
            head.unwrap_or_else(|| self.buf.get(self.scanner.start()..).unwrap_or_default());
        let head_method = start.starts_with(b"HEAD ");
        self.req = Current {
            head_method,
            ..Current::default()
        };
        self.fail(kind)
    }

    /// Marks the connection dead after a peer error; one error response may follow.
    fn fail(&mut self, kind: ErrorKind) -> Error {
        self.read = Read::Dead;
        self.failed = true;
        self.buf = BytesMut::new();
        Error::new(kind)
    }

    /// Closes for good: nothing more is read or answered.
    fn shut(&mut self) {
        self.read = Read::Dead;
        self.closed = true;
        self.buf = BytesMut::new();
    }

    /// Writes `HTTP/1.1 100 Continue` if the current request expects it and neither it nor
    /// the final response has been sent (and the body is not already refused as too large).
    pub fn send_continue(&mut self, out: &mut Vec<u8>) {
        let r = &mut self.req;
        if r.active
            && r.expect_continue
            && !r.continue_sent
            && !self.failed
            && matches!(self.write, Write::Idle)
            && matches!(self.read, Read::Body(_) | Read::Done)
        {
            r.continue_sent = true;
            out.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
        }
    }

    /// Starts the response to the current request, or, after `poll_event` returned an
    /// error, the one error response (the connection closes after it). Like any response
    /// to HEAD, the error response to a request that began with the `HEAD` method token
    /// has no body, however malformed the rest of it was.
    ///
    /// `body_len`: `Some(n)` frames the body with `content-length: n`; `None` (unknown)
    /// uses chunked for HTTP/1.1 and close-delimited for HTTP/1.0. The codec writes its own
    /// framing and skips `content-length`/`transfer-encoding` in `headers`. `now` fills the
    /// `date` header unless `headers` holds one.
    pub fn send_response(
        &mut self,
        status: StatusCode,
        headers: &HeaderMap,
        body_len: Option<u64>,
        now: SystemTime,
        out: &mut Vec<u8>,
    ) -> Result<(), SendError> {
        if !matches!(self.write, Write::Idle) || matches!(self.read, Read::Upgraded { .. }) {
            return Err(SendError::AlreadyStarted);
        }
        let for_error = self.failed && !self.error_answered;
        if !self.req.active && !for_error {
            return Err(SendError::NoRequest);
        }
        let switching = status == StatusCode::SWITCHING_PROTOCOLS;
        if switching && (self.failed || !self.req.upgrade) {
            return Err(SendError::UnexpectedUpgrade);
        }
        let r = &self.req;
        let no_body = status.is_informational()
            || status == StatusCode::NO_CONTENT
            || status == StatusCode::NOT_MODIFIED;
        let (framing, body) = match body_len {
            _ if no_body => (FramingHeader::None, OutBody::Dropped),
            Some(n) if r.head_method => (FramingHeader::Length(n), OutBody::Dropped),
            None if r.head_method => (FramingHeader::None, OutBody::Dropped),
            Some(n) => (FramingHeader::Length(n), OutBody::Length(n)),
            None if r.http10 => (FramingHeader::None, OutBody::UntilClose),
            None => (FramingHeader::Chunked, OutBody::Chunked),
        };
        // One walk over the (usually few) fields instead of two hashed lookups: both
        // showed up per response in the driver bench's profile.
        let (mut caller_close, mut has_date) = (false, false);
        for (name, value) in headers {
            if name == header::CONNECTION {
                caller_close |= encode::has_token(value.as_bytes(), b"close");
            } else if name == header::DATE {
                has_date = true;
            }
        }
        // A client told to wait for 100 Continue may never send the body we would have
        // to read past, so the connection cannot be reused.
        let body_unsent =
            r.expect_continue && !r.continue_sent && matches!(self.read, Read::Body(_));
        let close = self.close_requested
            || self.failed
            || !r.keep_alive
            || caller_close
            || body_unsent
            || body == OutBody::UntilClose
            || matches!(self.read, Read::TooLarge);
        let connection = if switching {
            ConnectionHeader::Pass
        } else if close {
            ConnectionHeader::Close
        } else if r.http10 {
            ConnectionHeader::KeepAlive
        } else {
            ConnectionHeader::Pass
        };
        let date = (!has_date).then(|| self.date.get(now));
        encode::write_head(out, status, headers, date, framing, connection);
        self.error_answered |= for_error;
        if switching {
            self.read = Read::Upgraded { taken: false };
        }
        self.write = Write::Started {
            body,
            close: close && !switching,
        };
        Ok(())
    }

    /// Body bytes of the current response: chunk-framed when chunked, dropped silently
    /// when the response has no body (HEAD, 1xx, 204, 304).
    pub fn send_data(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<(), SendError> {
        let Write::Started { body, .. } = &mut self.write else {
            return Err(SendError::NotStarted);
        };
        match body {
            OutBody::Dropped => {}
            OutBody::Length(left) => {
                let n = data.len() as u64;
                if n > *left {
                    return Err(SendError::BodyTooLong);
                }
                *left -= n;
                out.extend_from_slice(data);
            }
            OutBody::Chunked => encode::write_chunk(out, data),
            OutBody::UntilClose => out.extend_from_slice(data),
        }
        Ok(())
    }

    /// How many body bytes of the response in progress the caller may write to the
    /// peer itself, unframed (for zero-copy file sends): the rest of a content-length
    /// body, or 0 when the body is dropped (HEAD, 204, 304). `None` when the body
    /// needs framing (chunked, or close-delimited) or no response is in progress.
    pub fn direct_body_remaining(&self) -> Option<u64> {
        match &self.write {
            Write::Started {
                body: OutBody::Length(left),
                ..
            } => Some(*left),
            Write::Started {
                body: OutBody::Dropped,
                ..
            } => Some(0),
            _ => None,
        }
    }

    /// Counts `n` body bytes the caller wrote to the peer itself (see
    /// [`direct_body_remaining`](Self::direct_body_remaining)).
    pub fn body_sent_directly(&mut self, n: u64) -> Result<(), SendError> {
        match &mut self.write {
            Write::Started {
                body: OutBody::Length(left),
                ..
            } if n <= *left => {
                *left -= n;
                Ok(())
            }
            Write::Started {
                body: OutBody::Length(_),
                ..
            } => Err(SendError::BodyTooLong),
            Write::Started {
                body: OutBody::Dropped,
                ..
            } if n == 0 => Ok(()),
            Write::Started { .. } => Err(SendError::BodyTooLong),
            _ => Err(SendError::NotStarted),
        }
    }

    /// Ends the response: the last chunk and `trailers` when chunked (trailers are ignored
    /// otherwise). Afterwards `poll_event` moves on to the next request, unless the
    /// connection closes. Ending a content-length body short is an error and closes.
    pub fn send_end(
        &mut self,
        trailers: Option<&HeaderMap>,
        out: &mut Vec<u8>,
    ) -> Result<(), SendError> {
        let Write::Started { body, close } = self.write else {
            return Err(SendError::NotStarted);
        };
        self.write = Write::Idle;
        self.req.active = false;
        match body {
            OutBody::Length(left) if left > 0 => {
                self.shut();
                return Err(SendError::BodyTooShort);
            }
            OutBody::Chunked => encode::write_last_chunk(out, trailers),
            _ => {}
        }
        if matches!(self.read, Read::Upgraded { .. }) {
            return Ok(());
        }
        if close || self.close_requested || self.failed {
            self.shut();
            return Ok(());
        }
        self.read = match std::mem::replace(&mut self.read, Read::Head) {
            Read::Body(dec) => Read::Discard(dec),
            _ => Read::Head,
        };
        if self.eof && self.buf.is_empty() {
            self.shut();
        }
        Ok(())
    }

    /// Asks that the connection close after the current response (`connection: close` is
    /// written if its head is not sent yet). With no request in progress it closes now.
    pub fn close_after_response(&mut self) {
        self.close_requested = true;
        let owed = self.req.active || (self.failed && !self.error_answered);
        if !owed && matches!(self.write, Write::Idle) && !matches!(self.read, Read::Upgraded { .. })
        {
            self.shut();
        }
    }

    /// True once the connection must close: after a response that ends it has been
    /// ended, or after the peer's EOF with nothing left to answer. The driver then
    /// flushes its output and closes.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// After a `101 Switching Protocols` response: the bytes received after the upgrade
    /// request that the codec did not consume, which belong to the new protocol. Returns
    /// them once; `None` otherwise.
    pub fn take_upgraded(&mut self) -> Option<BytesMut> {
        match &mut self.read {
            Read::Upgraded { taken } if !*taken => {
                *taken = true;
                Some(self.buf.split())
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderMap, StatusCode};
    use std::time::SystemTime;

    fn started(request: &[u8], len: Option<u64>) -> ServerConn {
        let mut conn = ServerConn::new(Config::default());
        conn.recv(request);
        while let Ok(Some(_)) = conn.poll_event() {}
        let mut out = Vec::new();
        conn.send_response(
            StatusCode::OK,
            &HeaderMap::new(),
            len,
            SystemTime::UNIX_EPOCH,
            &mut out,
        )
        .expect("response starts");
        conn
    }

    #[test]
    fn direct_bytes_count_against_the_content_length() {
        let mut conn = started(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", Some(10));
        assert_eq!(conn.direct_body_remaining(), Some(10));
        conn.body_sent_directly(4).expect("within the length");
        assert_eq!(conn.direct_body_remaining(), Some(6));
        assert!(matches!(
            conn.body_sent_directly(7),
            Err(SendError::BodyTooLong)
        ));
        conn.body_sent_directly(6).expect("the rest");
        conn.send_end(None, &mut Vec::new())
            .expect("a complete body ends cleanly");
        assert!(!conn.is_closed());
    }

    #[test]
    fn head_responses_take_no_direct_bytes() {
        let mut conn = started(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n", Some(10));
        assert_eq!(conn.direct_body_remaining(), Some(0));
        assert!(conn.body_sent_directly(1).is_err());
    }

    #[test]
    fn buffers_are_released_only_when_idle_and_come_back() {
        let mut conn = ServerConn::new(Config::default());
        conn.recv(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HT");
        assert!(matches!(conn.poll_event(), Ok(Some(Event::Request(_)))));
        assert!(!conn.release_buffers(), "a request is in progress");
        while let Ok(Some(_)) = conn.poll_event() {}
        let mut out = Vec::new();
        conn.send_response(
            StatusCode::OK,
            &HeaderMap::new(),
            Some(0),
            SystemTime::UNIX_EPOCH,
            &mut out,
        )
        .and_then(|()| conn.send_end(None, &mut out))
        .expect("answered");
        assert_eq!(conn.poll_event().ok().flatten().map(|_| ()), None);
        assert!(
            !conn.release_buffers(),
            "part of the next request is buffered"
        );
        conn.recv(b"TP/1.1\r\nHost: x\r\n\r\n");
        match conn.poll_event() {
            Ok(Some(Event::Request(head))) => assert_eq!(head.uri.path(), "/b"),
            other => panic!("expected /b, got {:?}", other.map(|e| e.is_some())),
        }
        while let Ok(Some(_)) = conn.poll_event() {}
        conn.send_response(
            StatusCode::OK,
            &HeaderMap::new(),
            Some(0),
            SystemTime::UNIX_EPOCH,
            &mut out,
        )
        .and_then(|()| conn.send_end(None, &mut out))
        .expect("answered");
        assert!(conn.release_buffers());
        conn.recv(b"GET /c HTTP/1.1\r\nHost: x\r\n\r\n");
        match conn.poll_event() {
            Ok(Some(Event::Request(head))) => assert_eq!(head.uri.path(), "/c"),
            other => panic!("expected /c, got {:?}", other.map(|e| e.is_some())),
        }
    }

    #[test]
    fn chunked_bodies_need_framing() {
        let conn = started(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", None);
        assert_eq!(conn.direct_body_remaining(), None);
    }
}

//! Drives one HTTP/2 connection: socket → codec-h2 → one exchange per stream → codec
//! → socket, all in the connection's task. Each poll moves whatever can move: bytes
//! read into the codec, its events into exchanges, answers and body frames back into
//! the codec, and its output to the socket.

use std::future::poll_fn;
use std::io::IoSlice;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use roadrunner_h2::conn::SendError;
use roadrunner_h2::{Config, ErrorCode, Event, ServerConn, Transmit};

use super::alarm::Alarm;
use super::mux::{Abandon, Activity, RecvClock, Refused, StreamCodec, Streams};
use super::reason::Reason;
use super::Setup;
use crate::drain::{DrainEvent, DrainEvents};
use crate::listener::Shared;
use crate::request::Request;
use crate::runtime::{ByteStream, Runtime};
use crate::scratch::{poll_read_with, Layer, READ_SIZE};

/// How long a drain waits for the answer to its PING before the final GOAWAY (RFC 9113
/// §6.8: at least one round trip, so streams already on their way are not refused).
const GOAWAY_GRACE: Duration = Duration::from_secs(1);

/// The codec's limits from the listener's options.
pub(crate) fn config(opts: &crate::options::Options) -> Config {
    let h2 = opts.http2();
    Config {
        max_concurrent_streams: h2.max_concurrent_streams,
        conn_window: h2.conn_window,
        stream_window: h2.stream_window,
        window_refill_threshold: h2.window_refill_threshold,
        max_header_block: h2.max_header_block as usize,
        max_header_list_size: h2
            .max_header_list_size
            .unwrap_or(h2.max_header_block.saturating_mul(2))
            as usize,
        max_content_length: opts.max_content_length,
        // Extended CONNECT (RFC 8441): how WebSocket runs over HTTP/2.
        enable_connect_protocol: true,
    }
}

/// Writes what it can of `out` in one vectored write, and drops it from `out`.
fn write_some(
    io: &mut impl ByteStream,
    out: &mut Transmit,
    cx: &mut Context<'_>,
) -> Poll<std::io::Result<usize>> {
    let mut slices = [IoSlice::new(&[]); 64];
    let n = out.slices(&mut slices);
    let written = ready!(io.poll_write_vectored(cx, &slices[..n]))?;
    out.advance(written);
    Poll::Ready(Ok(written))
}

struct Driver<R: Runtime, S> {
    rt: R,
    io: S,
    peer: SocketAddr,
    shared: Arc<Shared>,
    codec: ServerConn,
    streams: Streams<R>,
    out: Transmit,
    alarm: Alarm<R>,
    drain: Option<DrainEvents>,
    clock: RecvClock,
    write_stalled_since: Option<Instant>,
    peer_done: bool,
    /// When the drain notice arrived (the first GOAWAY and its PING went out).
    draining_since: Option<Instant>,
}

/// Serves an HTTP/2 connection until it ends. `codec` has been given what was read
/// so far; `upgraded` is the request of an `Upgrade: h2c`, answered on stream 1.
pub(super) async fn serve<R: Runtime, S: ByteStream>(
    at: &Setup<R>,
    io: S,
    codec: ServerConn,
    upgraded: Option<Request>,
) -> Reason {
    let (rt, shared) = (&at.rt, &at.shared);
    let mut d = Driver {
        rt: rt.clone(),
        io,
        peer: at.peer,
        shared: shared.clone(),
        codec,
        streams: Streams::new(rt.clone(), shared.clone(), at.peer, http::Version::HTTP_2),
        out: Transmit::new(),
        alarm: Alarm::new(rt.clone()),
        drain: shared
            .graceful_drain
            .then(|| DrainEvents::since(at.notices)),
        clock: RecvClock::new(at.accepted, &shared.limits),
        write_stalled_since: None,
        peer_done: false,
        draining_since: None,
    };
    if let Some(req) = upgraded {
        // Its body was read, and `requests_served` counted it, on HTTP/1.1.
        if d.streams.start_whole(&mut d.codec, 1, req) {
            d.clock.on_request();
        }
    }
    let reason = poll_fn(|cx| d.poll(cx)).await;
    // What the codec still has to say (a GOAWAY) goes out, within `send_timeout`.
    d.codec.poll_transmit_vectored(&mut d.out);
    let (io, out) = (&mut d.io, &mut d.out);
    let limit = shared.limits.send_timeout;
    let _ = super::alarm::within(&mut d.alarm, limit, |cx| {
        while !out.is_empty() {
            match write_some(io, out, cx) {
                Poll::Ready(Ok(n)) if n > 0 => {}
                Poll::Ready(_) => return Poll::Ready(()),
                Poll::Pending => return Poll::Pending,
            }
        }
        io.poll_shutdown(cx).map(|_| ())
    })
    .await;
    drop(d.streams);
    reason
}

impl<R: Runtime, S: ByteStream> Driver<R, S> {
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Reason> {
        loop {
            if let Some(reason) = self.poll_drain(cx) {
                return Poll::Ready(reason);
            }
            if let Err(reason) = self.read(cx) {
                return Poll::Ready(reason);
            }
            if let Err(reason) = self.take_events() {
                return Poll::Ready(reason);
            }
            self.streams.poll(&mut self.codec, cx);
            if let Err(reason) = self.write(cx) {
                return Poll::Ready(reason);
            }
            if let Err(reason) = self.take_events() {
                return Poll::Ready(reason);
            }
            if self.streams.take_writable() {
                continue;
            }
            if self.codec.is_closed() && self.out.is_empty() {
                return Poll::Ready(Reason::Done);
            }
            if self.peer_done && self.streams.is_empty() {
                return Poll::Ready(Reason::Done);
            }
            // Commands may have produced output without new input. Taken only once the
            // socket has taken the last, so a peer that does not read leaves the
            // backlog in the codec, which then stops reading (flood defence).
            if self.out.is_empty() && self.codec.poll_transmit_vectored(&mut self.out) {
                continue;
            }
            return match self.poll_timers(cx) {
                Some(reason) => Poll::Ready(reason),
                None => Poll::Pending,
            };
        }
    }

    /// A drain notice starts the codec's graceful shutdown (GOAWAY); the kill ends
    /// the connection.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Option<Reason> {
        let events = self.drain.as_mut()?;
        let mut noticed = self.shared.drain.closing();
        while let Poll::Ready(event) = events.poll_event(&self.shared.drain, cx) {
            match event {
                DrainEvent::Notice { .. } => noticed = true,
                DrainEvent::Kill => return Some(Reason::Drain),
            }
        }
        if noticed {
            self.start_shutdown();
        }
        None
    }

    fn start_shutdown(&mut self) {
        self.codec.shutdown();
        self.draining_since.get_or_insert_with(|| self.rt.now());
    }

    fn read(&mut self, cx: &mut Context<'_>) -> Result<(), Reason> {
        while !self.peer_done && self.codec.wants_read() {
            let codec = &mut self.codec;
            match poll_read_with(Layer::Http, &mut self.io, cx, READ_SIZE, |d| codec.recv(d)) {
                Poll::Ready(Ok(0)) => self.peer_done = true,
                Poll::Ready(Ok(n)) => self.clock.on_bytes(n),
                Poll::Ready(Err(e)) => return Err(Reason::of_io(&e)),
                Poll::Pending => break,
            }
            // Let the codec digest what arrived before reading more.
            self.take_events()?;
        }
        Ok(())
    }

    fn take_events(&mut self) -> Result<(), Reason> {
        loop {
            match self.codec.poll_event() {
                Ok(Some(event)) => self.on_event(event),
                Ok(None) => return Ok(()),
                Err(e) => {
                    tracing::debug!(
                        target: "roadrunner",
                        event = "request.bad",
                        listener = &*self.shared.name,
                        peer = %self.peer,
                        error = %e,
                    );
                    self.codec.poll_transmit_vectored(&mut self.out);
                    return Err(Reason::ProtocolError);
                }
            }
        }
    }

    fn on_event(&mut self, event: Event) {
        let (streams, codec) = (&mut self.streams, &mut self.codec);
        match event {
            Event::Request {
                stream,
                head,
                end_stream,
            } => {
                if streams.on_request(codec, stream.into(), head, end_stream) {
                    self.clock.on_request();
                }
            }
            Event::Data {
                stream,
                data,
                end_stream,
            } => streams.on_data(codec, stream.into(), data, end_stream),
            Event::Trailers { stream, trailers } => streams.on_trailers(stream.into(), trailers),
            Event::Reset { stream, .. } => streams.on_reset(stream.into()),
            // The held frame of that stream can go in now: poll the tasks again.
            Event::Writable { .. } => streams.on_writable(),
        }
    }

    fn write(&mut self, cx: &mut Context<'_>) -> Result<(), Reason> {
        loop {
            if self.out.is_empty() && !self.codec.poll_transmit_vectored(&mut self.out) {
                self.write_stalled_since = None;
                return Ok(());
            }
            match write_some(&mut self.io, &mut self.out, cx) {
                Poll::Ready(Ok(0)) => return Err(Reason::SocketError),
                Poll::Ready(Ok(_)) => self.write_stalled_since = None,
                Poll::Ready(Err(e)) => return Err(Reason::of_io(&e)),
                Poll::Pending => {
                    self.write_stalled_since
                        .get_or_insert_with(|| self.rt.now());
                    return Ok(());
                }
            }
        }
    }

    /// An idle connection gives back its buffers until its next stream.
    fn hibernate(&mut self) {
        self.codec.release_buffers();
        self.out.release();
        self.streams.shrink();
        tracing::trace!(target: "roadrunner", event = "conn.hibernate", peer = %self.peer);
    }

    /// `keep_alive_timeout` with no stream open, `send_timeout` on a peer that stopped
    /// reading, and the wait for the answer to the shutdown PING.
    fn poll_timers(&mut self, cx: &mut Context<'_>) -> Option<Reason> {
        loop {
            let now = self.alarm.now();
            let activity = Activity {
                idle: self.streams.is_empty(),
                head: self.codec.is_reading_headers(),
                receiving: self.streams.awaits_peer(),
            };
            // Passed read deadlines end the connection here; the next one is only a
            // time to look again.
            let read = match self.clock.poll(now, activity) {
                Ok(at) => at,
                Err(reason) => {
                    // A GOAWAY naming the last stream served, so the client knows
                    // which requests to retry.
                    self.codec.close(ErrorCode::NO_ERROR, reason.as_str());
                    return Some(reason);
                }
            };
            if self.clock.take_hibernate(now) {
                self.hibernate();
                continue;
            }
            let send_timeout = self.shared.limits.send_timeout;
            let stalled = self.write_stalled_since.map(|t| t + send_timeout);
            let grace = self.draining_since.map(|t| t + GOAWAY_GRACE);
            if stalled.is_some_and(|at| now >= at) {
                return Some(Reason::SendTimeout);
            }
            if grace.is_some_and(|at| now >= at) {
                // The grace for the PING's answer ends, not the connection.
                self.codec.finish_shutdown();
                self.draining_since = None;
                // The final GOAWAY is queued: poll again to write it.
                cx.waker().wake_by_ref();
                return None;
            }
            let at = [read, stalled, grace].into_iter().flatten().min()?;
            self.alarm.arm(at);
            if !self.alarm.poll_fired(cx) {
                return None;
            }
        }
    }
}

/// Stream ids come from the codec and are 31-bit; one that does not fit is no stream.
fn h2_id(id: u64) -> Result<u32, Refused> {
    u32::try_from(id).map_err(|_| Refused::Gone)
}

fn refused(e: SendError) -> Refused {
    match e {
        SendError::Full => Refused::Full,
        SendError::InvalidState => Refused::InvalidState,
        SendError::UnknownStream => Refused::Gone,
        SendError::TooLarge => Refused::TooLarge,
    }
}

impl StreamCodec for ServerConn {
    fn send_response(
        &mut self,
        id: u64,
        status: StatusCode,
        headers: &HeaderMap,
        end: bool,
    ) -> Result<(), Refused> {
        ServerConn::send_response(self, h2_id(id)?, status, headers, end).map_err(refused)
    }

    fn send_data(&mut self, id: u64, data: Bytes, end: bool) -> Result<(), Refused> {
        ServerConn::send_data(self, h2_id(id)?, data, end).map_err(refused)
    }

    fn send_trailers(&mut self, id: u64, trailers: &HeaderMap) -> Result<(), Refused> {
        ServerConn::send_trailers(self, h2_id(id)?, trailers).map_err(refused)
    }

    fn abandon(&mut self, id: u64, why: Abandon) {
        let code = match why {
            Abandon::Refuse => ErrorCode::REFUSED_STREAM,
            Abandon::Internal => ErrorCode::INTERNAL_ERROR,
        };
        if let Ok(id) = h2_id(id) {
            let _ = self.reset(id, code);
        }
    }

    fn release(&mut self, id: u64, len: usize) {
        if let Ok(id) = h2_id(id) {
            ServerConn::release(self, id, len);
        }
    }
}

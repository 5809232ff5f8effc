//! Drives one HTTP/2 connection: socket → codec-h2 → one exchange per stream → codec
//! → socket, all in the connection's task. Each poll moves whatever can move: bytes
//! read into the codec, its events into exchanges, answers and body frames back into
//! the codec, and its output to the socket.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::io::IoSlice;
use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, StatusCode};
use roadrunner_h2::conn::SendError;
use roadrunner_h2::{Config, ErrorCode, Event, RequestHead, ServerConn, StreamMap, Transmit};

use super::alarm::Alarm;
use super::reason::Reason;
use super::Setup;
use crate::body::{Body, Frame};
use crate::counters::RequestSlot;
use crate::drain::{DrainEvent, DrainEvents};
use crate::exchange::{admit, report_body_failure, BodyFailure, Done, Exchange};
use crate::handler::status_response;
use crate::incoming::{BodyError, Pipe};
use crate::listener::{ListenerRef, Shared};
use crate::request::{Request, RequestContext, Trailers};
use crate::runtime::{ByteStream, Runtime};
use crate::scratch::{poll_read_with, Layer, READ_SIZE};
use crate::upgrade::{ConnectProtocol, OnUpgrade};

mod clock;
mod tunnel;

use clock::{Activity, RecvClock};
use tunnel::{Progress, Tunnel};

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

/// One stream's exchange.
struct Task {
    /// The request, until its body is in (`body_buffering: auto`: read in full before
    /// the handler runs, as on HTTP/1.1).
    pending: Option<(Request, BytesMut)>,
    /// `body_buffering: manual`: the body flowing to the handler as it reads, before
    /// and after it has answered. Flow-control credit goes back only as the handler
    /// takes chunks, so the peer cannot make us buffer more than a stream window.
    incoming: Option<Incoming>,
    running: Option<Exchange>,
    /// The response body still being sent.
    body: Option<Body>,
    /// What the codec could not take yet (the stream's queue was full): a frame, or
    /// (`Some(None)`) the body's end.
    held: Option<Option<Frame>>,
    done: Option<Done>,
    /// An extended CONNECT: the stream may become a session's byte stream.
    tunnel: Option<Tunnel>,
    /// Held until the stream ends: `max_concurrent_requests` counts it.
    _slot: RequestSlot,
}

impl Task {
    /// Whether the stream waits for request bytes from the peer: a body being
    /// buffered, or read by a handler that has taken all that came.
    fn awaits_peer(&self) -> bool {
        if self.tunnel.is_some() {
            // A session's silence is its own business (WebSocket has its own timeouts).
            return false;
        }
        match &self.incoming {
            Some(incoming) => {
                incoming.end.is_none() && incoming.queue.is_empty() && incoming.pipe.wanted()
            }
            None => self.pending.is_some(),
        }
    }
}

/// A request body the handler reads itself.
struct Incoming {
    pipe: Pipe,
    queue: VecDeque<Bytes>,
    /// How the body ended, once it has; handed over after the queue.
    end: Option<Result<Option<HeaderMap>, BodyError>>,
}

struct Driver<R: Runtime, S> {
    rt: R,
    io: S,
    peer: SocketAddr,
    shared: Arc<Shared>,
    codec: ServerConn,
    tasks: StreamMap<Task>,
    out: Transmit,
    alarm: Alarm<R>,
    drain: Option<DrainEvents>,
    clock: RecvClock,
    write_stalled_since: Option<Instant>,
    peer_done: bool,
    /// A stream's send queue has room again since the tasks were last polled.
    writable: bool,
    /// Scratch list of the streams to poll.
    ids: Vec<u32>,
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
        tasks: StreamMap::default(),
        out: Transmit::new(),
        alarm: Alarm::new(rt.clone()),
        drain: shared
            .graceful_drain
            .then(|| DrainEvents::since(at.notices)),
        clock: RecvClock::new(at.accepted, &shared.limits),
        write_stalled_since: None,
        peer_done: false,
        writable: false,
        ids: Vec::new(),
        draining_since: None,
    };
    if let Some(req) = upgraded {
        d.start_upgraded(req);
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
    drop(d.tasks);
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
            self.poll_tasks(cx);
            if let Err(reason) = self.write(cx) {
                return Poll::Ready(reason);
            }
            if let Err(reason) = self.take_events() {
                return Poll::Ready(reason);
            }
            if std::mem::take(&mut self.writable) {
                continue;
            }
            if self.codec.is_closed() && self.out.is_empty() {
                return Poll::Ready(Reason::Done);
            }
            if self.peer_done && self.tasks.is_empty() {
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
        match event {
            Event::Request {
                stream,
                head,
                end_stream,
            } => self.on_request(stream, head, end_stream),
            Event::Data {
                stream,
                data,
                end_stream,
            } => {
                let Some(task) = self.tasks.get_mut(&stream) else {
                    // Nobody reads it any more (the response is done): let it flow.
                    self.codec.release(stream, data.len());
                    return;
                };
                if let Some(tunnel) = &mut task.tunnel {
                    tunnel.on_data(data, end_stream);
                    return;
                }
                if let Some(incoming) = &mut task.incoming {
                    if !data.is_empty() {
                        incoming.queue.push_back(data);
                    }
                    if end_stream {
                        incoming.end = Some(Ok(None));
                    }
                    return;
                }
                // Buffered here (bounded by max_content_length, which the codec
                // enforces), so the window reopens at once.
                self.codec.release(stream, data.len());
                if let Some((_, body)) = &mut task.pending {
                    body.extend_from_slice(&data);
                }
                if end_stream {
                    self.start(stream);
                }
            }
            Event::Trailers { stream, trailers } => {
                let Some(task) = self.tasks.get_mut(&stream) else {
                    return;
                };
                if let Some(tunnel) = &mut task.tunnel {
                    tunnel.on_data(Bytes::new(), true);
                    return;
                }
                if let Some(incoming) = &mut task.incoming {
                    incoming.end = Some(Ok(Some(trailers)));
                    return;
                }
                if let Some((req, _)) = &mut task.pending {
                    req.extensions_mut().insert(Trailers(trailers));
                }
                self.start(stream);
            }
            Event::Reset { stream, .. } => {
                if let Some(mut task) = self.tasks.remove(&stream) {
                    if let Some(incoming) = task.incoming.take() {
                        incoming.pipe.finish(Err(BodyError::Aborted));
                    }
                    if let Some(done) = &mut task.done {
                        done.abort();
                    }
                }
            }
            // The held frame of that stream can go in now: poll the tasks again.
            Event::Writable { .. } => self.writable = true,
        }
    }

    fn on_request(&mut self, stream: u32, head: RequestHead, end_stream: bool) {
        self.shared.counters.served.fetch_add(1, Ordering::Relaxed);
        let Some(slot) = admit(&self.shared, self.peer) else {
            let _ = self.codec.reset(stream, ErrorCode::REFUSED_STREAM);
            return;
        };
        self.clock.on_request();
        let content_length = head.content_length;
        let mut req = Request::new(Body::empty());
        *req.method_mut() = head.method;
        *req.uri_mut() = head.uri;
        *req.version_mut() = http::Version::HTTP_2;
        *req.headers_mut() = head.headers;
        let tunnel = head.protocol.map(|protocol| {
            req.extensions_mut().insert(ConnectProtocol(protocol));
            Tunnel::default()
        });
        req.extensions_mut().insert(RequestContext {
            listener: ListenerRef::new(self.shared.clone()),
            peer: self.peer,
            id: self.shared.next_request_id(),
            params: Default::default(),
            state: None,
        });
        // A tunnel's body is the session's input: its handler runs at once.
        let manual = self.shared.limits.manual_body && !end_stream && tunnel.is_none();
        let incoming = manual.then(|| {
            let pipe = Pipe::default();
            *req.body_mut() = Body::incoming(pipe.clone(), content_length);
            Incoming {
                pipe,
                queue: VecDeque::new(),
                end: None,
            }
        });
        let start_now = end_stream || manual || tunnel.is_some();
        self.tasks.insert(
            stream,
            Task {
                pending: Some((req, BytesMut::new())),
                incoming,
                running: None,
                body: None,
                held: None,
                done: None,
                tunnel,
                _slot: slot,
            },
        );
        if start_now {
            self.start(stream);
        }
    }

    /// Runs the handler of the request that upgraded the connection, on stream 1 (its
    /// body was read, and `requests_served` counted it, on HTTP/1.1).
    fn start_upgraded(&mut self, req: Request) {
        let Some(slot) = admit(&self.shared, self.peer) else {
            let _ = self.codec.reset(1, ErrorCode::REFUSED_STREAM);
            return;
        };
        self.clock.on_request();
        self.tasks.insert(
            1,
            Task {
                pending: Some((req, BytesMut::new())),
                incoming: None,
                running: None,
                body: None,
                held: None,
                done: None,
                tunnel: None,
                _slot: slot,
            },
        );
        self.start(1);
    }

    /// The request is whole (or, read by the handler itself, has begun): run its
    /// handler.
    fn start(&mut self, stream: u32) {
        let Some(task) = self.tasks.get_mut(&stream) else {
            return;
        };
        let Some((mut req, body)) = task.pending.take() else {
            return;
        };
        if !body.is_empty() {
            *req.body_mut() = body.freeze().into();
        }
        task.running = Some(Exchange::start(&self.rt, &self.shared, req));
    }

    fn poll_tasks(&mut self, cx: &mut Context<'_>) {
        // Reused: a list allocated per wake would cost every poll of the connection.
        let mut ids = std::mem::take(&mut self.ids);
        ids.extend(self.tasks.keys().copied());
        for &id in &ids {
            self.poll_task(id, cx);
        }
        ids.clear();
        self.ids = ids;
    }

    fn poll_task(&mut self, id: u32, cx: &mut Context<'_>) {
        self.feed(id, cx);
        let Some(task) = self.tasks.get_mut(&id) else {
            return;
        };
        if task.running.is_none() && task.tunnel.is_some() {
            match self.poll_tunnel(id, cx) {
                Progress::Open => {}
                Progress::Done => self.finish(id, true),
                Progress::Failed => {
                    let _ = self.codec.reset(id, ErrorCode::INTERNAL_ERROR);
                    self.finish(id, false);
                }
            }
            return;
        }
        if let Some(exchange) = &mut task.running {
            let Poll::Ready(answer) = exchange.poll_answer(cx) else {
                return;
            };
            task.running = None;
            let (mut parts, body) = answer.resp.into_parts();
            task.done = Some(answer.done);
            if task.tunnel.is_some() {
                self.answer_connect(id, &mut parts, body);
                // Now a tunnel to carry, or a body to send.
                return self.poll_task(id, cx);
            }
            let end = body.is_empty();
            let sent = if parts.status == StatusCode::SWITCHING_PROTOCOLS {
                // No 101 on HTTP/2 (RFC 9113 §8.6): upgrades go by extended CONNECT.
                let (parts, _) = status_response(StatusCode::INTERNAL_SERVER_ERROR).into_parts();
                self.codec
                    .send_response(id, parts.status, &parts.headers, false)
            } else {
                self.codec
                    .send_response(id, parts.status, &parts.headers, end)
            };
            if sent.is_err() {
                self.finish(id, false);
                return;
            }
            if end {
                self.finish(id, true);
                return;
            }
            if let Some(task) = self.tasks.get_mut(&id) {
                task.body = Some(body);
            }
        }
        self.pump_body(id, cx);
    }

    /// The answer to an extended CONNECT: a 2xx with a session opens the tunnel; any
    /// other answer is sent as usual and what the peer sent for the tunnel is dropped.
    fn answer_connect(&mut self, id: u32, parts: &mut http::response::Parts, body: Body) {
        let session = parts
            .extensions
            .remove::<OnUpgrade>()
            .and_then(|on| on.take());
        let Some(task) = self.tasks.get_mut(&id) else {
            return;
        };
        let (Some(session), true) = (session, parts.status.is_success()) else {
            if let Some(tunnel) = task.tunnel.take() {
                self.codec.release(id, tunnel.queued());
            }
            let end = body.is_empty();
            match self
                .codec
                .send_response(id, parts.status, &parts.headers, end)
            {
                Ok(()) if !end => task.body = Some(body),
                sent => self.finish(id, sent.is_ok()),
            }
            return;
        };
        // The exchange ends with the answer, as with a 101; the session is not part
        // of it.
        task.done = None;
        if self
            .codec
            .send_response(id, parts.status, &parts.headers, false)
            .is_err()
        {
            self.finish(id, false);
            return;
        }
        self.open_tunnel(id, session);
    }

    /// Hands queued request body chunks to the handler as it takes them, giving the
    /// peer that much window back.
    fn feed(&mut self, id: u32, cx: &mut Context<'_>) {
        let Some(incoming) = self.tasks.get_mut(&id).and_then(|t| t.incoming.as_mut()) else {
            return;
        };
        while incoming.pipe.poll_room(cx).is_ready() {
            if let Some(chunk) = incoming.queue.pop_front() {
                let len = chunk.len();
                incoming.pipe.put(chunk);
                self.codec.release(id, len);
                continue;
            }
            if let Some(end) = incoming.end.take() {
                incoming.pipe.finish(end);
                if let Some(task) = self.tasks.get_mut(&id) {
                    task.incoming = None;
                }
            }
            return;
        }
    }

    /// Moves response frames into the codec while it takes them.
    fn pump_body(&mut self, id: u32, cx: &mut Context<'_>) {
        loop {
            let Some(task) = self.tasks.get_mut(&id) else {
                return;
            };
            let Some(body) = task.body.as_mut() else {
                return;
            };
            let next = match task.held.take() {
                Some(held) => held.map(Ok),
                None => match catch_unwind(AssertUnwindSafe(|| body.poll_any(cx))) {
                    Ok(Poll::Pending) => return,
                    Ok(Poll::Ready(next)) => next.map(|r| r.map_err(BodyFailure::Failed)),
                    Err(payload) => Some(Err(BodyFailure::Panicked(payload))),
                },
            };
            let (frame, sent) = match next {
                Some(Ok(Frame::Data(data))) => {
                    let sent = self.codec.send_data(id, data.clone(), false);
                    (Some(Frame::Data(data)), sent.map(|()| false))
                }
                Some(Ok(Frame::Trailers(t))) => {
                    let sent = self.codec.send_trailers(id, &t);
                    (Some(Frame::Trailers(t)), sent.map(|()| true))
                }
                None => {
                    let sent = self.codec.send_data(id, Bytes::new(), true);
                    (None, sent.map(|()| true))
                }
                Some(Err(failure)) => {
                    report_body_failure(&self.shared, &failure);
                    let _ = self.codec.reset(id, ErrorCode::INTERNAL_ERROR);
                    self.finish(id, false);
                    return;
                }
            };
            match sent {
                Ok(true) => {
                    self.finish(id, true);
                    return;
                }
                Ok(false) => {}
                Err(SendError::Full) => {
                    // Kept for when the stream has room again (`Event::Writable`).
                    if let Some(task) = self.tasks.get_mut(&id) {
                        task.held = Some(frame);
                    }
                    return;
                }
                Err(_) => {
                    self.finish(id, false);
                    return;
                }
            }
        }
    }

    /// The stream's exchange is over: `request.stop` is reported as its `Done` drops.
    fn finish(&mut self, id: u32, complete: bool) {
        if let Some(mut task) = self.tasks.remove(&id) {
            if let Some(incoming) = task.incoming.take() {
                // The answer is complete; a reader kept past it must not wait forever.
                incoming.pipe.finish(Err(BodyError::Aborted));
            }
            if let (false, Some(done)) = (complete, &mut task.done) {
                done.abort();
            }
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
        self.tasks.shrink_to_fit();
        self.ids = Vec::new();
        tracing::trace!(target: "roadrunner", event = "conn.hibernate", peer = %self.peer);
    }

    /// `keep_alive_timeout` with no stream open, `send_timeout` on a peer that stopped
    /// reading, and the wait for the answer to the shutdown PING.
    fn poll_timers(&mut self, cx: &mut Context<'_>) -> Option<Reason> {
        loop {
            let now = self.alarm.now();
            let activity = Activity {
                idle: self.tasks.is_empty(),
                head: self.codec.is_reading_headers(),
                receiving: self.tasks.values().any(Task::awaits_peer),
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

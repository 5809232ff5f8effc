//! The streams of one multiplexed connection (HTTP/2, HTTP/3), whatever carries them:
//! one exchange per request stream, fed from the codec's events and answered through
//! its commands. A protocol's driver owns the transport (socket or QUIC), the timers
//! and the connection's end; everything between a request head and the end of its
//! response is here, once for both protocols.

use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasherDefault;
use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, StatusCode, Version};
use roadrunner_h2::{IdHasher, RequestHead};

use crate::body::{Body, Frame};
use crate::counters::RequestSlot;
use crate::exchange::{admit, report_body_failure, BodyFailure, Done, Exchange};
use crate::handler::status_response;
use crate::incoming::{BodyError, Pipe};
use crate::listener::{ListenerRef, Shared};
use crate::request::{Request, RequestContext, Trailers};
use crate::runtime::Runtime;
use crate::upgrade::{ConnectProtocol, OnUpgrade};

mod clock;
mod tunnel;

pub(super) use clock::{Activity, RecvClock};
use tunnel::{Progress, Tunnel};

/// Why a codec did not take a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Refused {
    /// The stream's send queue is full: the codec says when it has room again.
    Full,
    /// The stream cannot send that now (its response already ended).
    InvalidState,
    /// The stream is gone.
    Gone,
    /// The header section is over the peer's limit on its size; nothing was sent.
    TooLarge,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Refused::Full => "the stream's send queue is full",
            Refused::InvalidState => "the stream cannot send that now",
            Refused::Gone => "the stream is gone",
            Refused::TooLarge => "the header section is over the peer's limit",
        })
    }
}

/// How a stream is given up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Abandon {
    /// Not processed, may be retried: over `max_concurrent_requests`.
    Refuse,
    /// The server failed (a body that errored or panicked, a session that died).
    Internal,
}

/// The commands of a multiplexing codec that answer request streams.
pub(super) trait StreamCodec {
    fn send_response(
        &mut self,
        id: u64,
        status: StatusCode,
        headers: &HeaderMap,
        end: bool,
    ) -> Result<(), Refused>;
    fn send_data(&mut self, id: u64, data: Bytes, end: bool) -> Result<(), Refused>;
    fn send_trailers(&mut self, id: u64, trailers: &HeaderMap) -> Result<(), Refused>;
    fn abandon(&mut self, id: u64, why: Abandon);
    /// The application has consumed `len` body bytes of `id`: the peer may send more.
    fn release(&mut self, id: u64, len: usize);
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
    fn new(req: Request, slot: RequestSlot) -> Self {
        Task {
            pending: Some((req, BytesMut::new())),
            incoming: None,
            running: None,
            body: None,
            held: None,
            done: None,
            tunnel: None,
            _slot: slot,
        }
    }

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

/// The request streams of one connection and their exchanges.
pub(super) struct Streams<R: Runtime> {
    rt: R,
    shared: Arc<Shared>,
    peer: SocketAddr,
    version: Version,
    tasks: HashMap<u64, Task, BuildHasherDefault<IdHasher>>,
    /// A stream's send queue has room again since the tasks were last polled.
    writable: bool,
    /// Scratch list of the streams to poll.
    ids: Vec<u64>,
}

impl<R: Runtime> Streams<R> {
    pub(super) fn new(rt: R, shared: Arc<Shared>, peer: SocketAddr, version: Version) -> Self {
        Streams {
            rt,
            shared,
            peer,
            version,
            tasks: HashMap::default(),
            writable: false,
            ids: Vec::new(),
        }
    }

    /// No stream is open.
    pub(super) fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// Some stream waits for request bytes from the peer.
    pub(super) fn awaits_peer(&self) -> bool {
        self.tasks.values().any(Task::awaits_peer)
    }

    /// True once if a stream's queue had room again since the last call: the tasks
    /// should be polled again.
    pub(super) fn take_writable(&mut self) -> bool {
        std::mem::take(&mut self.writable)
    }

    /// A stream's send queue has room again.
    pub(super) fn on_writable(&mut self) {
        self.writable = true;
    }

    /// An idle connection gives back its buffers.
    pub(super) fn shrink(&mut self) {
        self.tasks.shrink_to_fit();
        self.ids = Vec::new();
    }

    /// A request head. False if it was refused (`max_concurrent_requests`).
    pub(super) fn on_request(
        &mut self,
        codec: &mut impl StreamCodec,
        id: u64,
        head: RequestHead,
        end_stream: bool,
    ) -> bool {
        self.shared.counters.served.fetch_add(1, Ordering::Relaxed);
        let Some(slot) = admit(&self.shared, self.peer) else {
            codec.abandon(id, Abandon::Refuse);
            return false;
        };
        let content_length = head.content_length;
        let mut req = Request::new(Body::empty());
        *req.method_mut() = head.method;
        *req.uri_mut() = head.uri;
        *req.version_mut() = self.version;
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
        let mut task = Task::new(req, slot);
        task.incoming = incoming;
        task.tunnel = tunnel;
        self.tasks.insert(id, task);
        if start_now {
            self.start(id);
        }
        true
    }

    /// Runs the handler of a request already read whole on stream `id` (HTTP/2's
    /// `Upgrade: h2c`, whose request came on HTTP/1.1 and was counted there). False if
    /// it was refused.
    pub(super) fn start_whole(
        &mut self,
        codec: &mut impl StreamCodec,
        id: u64,
        req: Request,
    ) -> bool {
        let Some(slot) = admit(&self.shared, self.peer) else {
            codec.abandon(id, Abandon::Refuse);
            return false;
        };
        self.tasks.insert(id, Task::new(req, slot));
        self.start(id);
        true
    }

    /// Request body bytes.
    pub(super) fn on_data(
        &mut self,
        codec: &mut impl StreamCodec,
        id: u64,
        data: Bytes,
        end_stream: bool,
    ) {
        let Some(task) = self.tasks.get_mut(&id) else {
            // Nobody reads it any more (the response is done): let it flow.
            codec.release(id, data.len());
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
        // Buffered here (bounded by max_content_length, which the codec enforces), so
        // the window reopens at once.
        codec.release(id, data.len());
        if let Some((_, body)) = &mut task.pending {
            body.extend_from_slice(&data);
        }
        if end_stream {
            self.start(id);
        }
    }

    /// Request trailers, which end the body.
    pub(super) fn on_trailers(&mut self, id: u64, trailers: HeaderMap) {
        let Some(task) = self.tasks.get_mut(&id) else {
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
        self.start(id);
    }

    /// The stream is gone (reset by the peer, or by the codec for a broken rule).
    pub(super) fn on_reset(&mut self, id: u64) {
        if let Some(mut task) = self.tasks.remove(&id) {
            if let Some(incoming) = task.incoming.take() {
                incoming.pipe.finish(Err(BodyError::Aborted));
            }
            if let Some(done) = &mut task.done {
                done.abort();
            }
        }
    }

    /// The request is whole (or, read by the handler itself, has begun): run its
    /// handler.
    fn start(&mut self, id: u64) {
        let Some(task) = self.tasks.get_mut(&id) else {
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

    /// Moves every stream as far as it goes: bodies to handlers, answers and body
    /// frames into the codec, sessions through their tunnels.
    pub(super) fn poll(&mut self, codec: &mut impl StreamCodec, cx: &mut Context<'_>) {
        // Reused: a list allocated per wake would cost every poll of the connection.
        let mut ids = std::mem::take(&mut self.ids);
        ids.extend(self.tasks.keys().copied());
        for &id in &ids {
            self.poll_task(codec, id, cx);
        }
        ids.clear();
        self.ids = ids;
    }

    fn poll_task(&mut self, codec: &mut impl StreamCodec, id: u64, cx: &mut Context<'_>) {
        self.feed(codec, id, cx);
        let Some(task) = self.tasks.get_mut(&id) else {
            return;
        };
        if task.running.is_none() && task.tunnel.is_some() {
            match self.poll_tunnel(codec, id, cx) {
                Progress::Open => {}
                Progress::Done => self.finish(id, true),
                Progress::Failed => {
                    codec.abandon(id, Abandon::Internal);
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
                self.answer_connect(codec, id, &mut parts, body);
                // Now a tunnel to carry, or a body to send.
                return self.poll_task(codec, id, cx);
            }
            let sent = if parts.status == StatusCode::SWITCHING_PROTOCOLS {
                // No 101 on HTTP/2 and HTTP/3 (RFC 9113 §8.6, RFC 9114 §4.5): upgrades
                // go by extended CONNECT.
                let (parts, _) = status_response(StatusCode::INTERNAL_SERVER_ERROR).into_parts();
                self.send_head(codec, id, &parts, false)
            } else {
                self.send_head(codec, id, &parts, body.is_empty())
            };
            match sent {
                Ok(false) => {
                    if let Some(task) = self.tasks.get_mut(&id) {
                        task.body = Some(body);
                    }
                }
                ended => {
                    self.finish(id, ended.is_ok());
                    return;
                }
            }
        }
        self.pump_body(codec, id, cx);
    }

    /// The answer to an extended CONNECT: a 2xx with a session opens the tunnel; any
    /// other answer is sent as usual and what the peer sent for the tunnel is dropped.
    fn answer_connect(
        &mut self,
        codec: &mut impl StreamCodec,
        id: u64,
        parts: &mut http::response::Parts,
        body: Body,
    ) {
        let session = parts
            .extensions
            .remove::<OnUpgrade>()
            .and_then(|on| on.take());
        let Some(task) = self.tasks.get_mut(&id) else {
            return;
        };
        let (Some(session), true) = (session, parts.status.is_success()) else {
            if let Some(tunnel) = task.tunnel.take() {
                codec.release(id, tunnel.queued());
            }
            match self.send_head(codec, id, parts, body.is_empty()) {
                Ok(false) => {
                    if let Some(task) = self.tasks.get_mut(&id) {
                        task.body = Some(body);
                    }
                }
                ended => self.finish(id, ended.is_ok()),
            }
            return;
        };
        // The exchange ends with the answer, as with a 101; the session is not part
        // of it.
        task.done = None;
        match self.send_head(codec, id, parts, false) {
            Ok(false) => self.open_tunnel(id, session),
            ended => self.finish(id, ended.is_ok()),
        }
    }

    /// Sends a response head, with the stream's end when `end`; whether the response
    /// ended there. A head over the peer's limit on header size would be refused by
    /// the peer: a bare `500` stands in and ends the response (its body is dropped),
    /// and if even that does not fit, the stream is reset.
    fn send_head(
        &mut self,
        codec: &mut impl StreamCodec,
        id: u64,
        parts: &http::response::Parts,
        end: bool,
    ) -> Result<bool, Refused> {
        match codec.send_response(id, parts.status, &parts.headers, end) {
            Err(Refused::TooLarge) => {}
            sent => return sent.map(|()| end),
        }
        tracing::error!(
            target: "roadrunner",
            event = "response.error",
            listener = &*self.shared.name,
            error = %Refused::TooLarge,
            "the response head is over the peer's limit; answering 500",
        );
        let status = StatusCode::INTERNAL_SERVER_ERROR;
        if let Some(done) = self.tasks.get_mut(&id).and_then(|t| t.done.as_mut()) {
            done.set_status(status);
        }
        let (bare, _) = status_response(status).into_parts();
        let sent = codec.send_response(id, bare.status, &bare.headers, true);
        if sent.is_err() {
            codec.abandon(id, Abandon::Internal);
        }
        sent.map(|()| true)
    }

    /// Hands queued request body chunks to the handler as it takes them, giving the
    /// peer that much window back.
    fn feed(&mut self, codec: &mut impl StreamCodec, id: u64, cx: &mut Context<'_>) {
        let Some(incoming) = self.tasks.get_mut(&id).and_then(|t| t.incoming.as_mut()) else {
            return;
        };
        while incoming.pipe.poll_room(cx).is_ready() {
            if let Some(chunk) = incoming.queue.pop_front() {
                let len = chunk.len();
                incoming.pipe.put(chunk);
                codec.release(id, len);
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
    fn pump_body(&mut self, codec: &mut impl StreamCodec, id: u64, cx: &mut Context<'_>) {
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
                    let sent = codec.send_data(id, data.clone(), false);
                    (Some(Frame::Data(data)), sent.map(|()| false))
                }
                Some(Ok(Frame::Trailers(t))) => {
                    let sent = codec.send_trailers(id, &t);
                    (Some(Frame::Trailers(t)), sent.map(|()| true))
                }
                None => {
                    let sent = codec.send_data(id, Bytes::new(), true);
                    (None, sent.map(|()| true))
                }
                Some(Err(failure)) => {
                    report_body_failure(&self.shared, &failure);
                    codec.abandon(id, Abandon::Internal);
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
                Err(Refused::Full) => {
                    // Kept for when the stream has room again (`on_writable`).
                    if let Some(task) = self.tasks.get_mut(&id) {
                        task.held = Some(frame);
                    }
                    return;
                }
                Err(Refused::TooLarge) => {
                    // Trailers the peer would refuse: the body cannot end cleanly.
                    codec.abandon(id, Abandon::Internal);
                    self.finish(id, false);
                    return;
                }
                Err(_) => {
                    self.finish(id, false);
                    return;
                }
            }
        }
    }

    /// The connection is gone: every stream's exchange ends unfinished.
    pub(super) fn abort_all(&mut self) {
        let mut ids = std::mem::take(&mut self.ids);
        ids.extend(self.tasks.keys().copied());
        for &id in &ids {
            self.finish(id, false);
        }
        ids.clear();
        self.ids = ids;
    }

    /// The stream's exchange is over: `request.stop` is reported as its `Done` drops.
    fn finish(&mut self, id: u64, complete: bool) {
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
}

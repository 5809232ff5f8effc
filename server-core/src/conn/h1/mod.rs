//! Drives one HTTP/1.1 connection: socket → codec → handler → codec → socket.
//!
//! Responses to requests that were already buffered (pipelining) are gathered and
//! written together when the next read is due, so a pipelined batch costs one write.

mod call;
mod h2c;

pub(crate) use h2c::H2c;
mod respond;

use std::future::poll_fn;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant, SystemTime};

use bytes::{Bytes, BytesMut};
use roadrunner_h1::{BodyKind, Event, RequestHead, ServerConn};

use super::alarm::{within, Alarm, TimedOut};
use super::clock::ReadClock;
use super::reason::Reason;
use super::DrainFlags;
use crate::body::Body;
use crate::exchange::{Answer, Done, Exchange};
use crate::incoming::Pipe;
use crate::listener::{ListenerRef, Shared};
use crate::request::{Request, RequestContext, Trailers};
use crate::runtime::{ByteStream, Runtime};
use crate::scratch::{poll_read_with, Layer, READ_SIZE};

/// How long closing may wait on a peer that does not read.
const CLOSE_GRACE: Duration = Duration::from_secs(1);
/// Lingering close (RFC 9112 §9.6): after an answer sent while the client may still
/// be sending, what comes is read and dropped for at most this long in all, ...
const LINGER_TIME: Duration = Duration::from_secs(5);
/// ... for at most this long between two reads, ...
const LINGER_IDLE: Duration = Duration::from_secs(1);
/// ... and at most this many bytes.
const LINGER_BYTES: usize = 64 * 1024 * 1024;
/// Write what has gathered once it is this large, even mid-batch.
const FLUSH_AT: usize = 64 * 1024;

/// The connection is over, and why.
struct Stop(Reason);

/// One HTTP/1.1 connection's state.
pub(super) struct Conn<'f, R: Runtime, S> {
    rt: R,
    codec: ServerConn,
    alarm: Alarm<R>,
    clock: ReadClock,
    /// Wall-clock time for `date` headers: taken at each read, and again after a
    /// handler that had to wait, so a pipelined batch reads the clock once.
    wall: SystemTime,
    out: Vec<u8>,
    /// The exchanges whose answers are in `out`: they end (`request.stop`) once it is
    /// written, or abort if it never is.
    unflushed: Vec<Done>,
    served: u32,
    /// The upgrade to HTTP/2 this connection ended with, if it did.
    h2c: Option<Box<h2c::H2c>>,
    /// A request body was refused while the client may still be sending it.
    linger: bool,
    io: S,
    peer: SocketAddr,
    shared: Arc<Shared>,
    flags: &'f DrainFlags,
}

impl<'f, R: Runtime, S: ByteStream> Conn<'f, R, S> {
    pub(super) fn new(
        rt: &R,
        io: S,
        peer: SocketAddr,
        shared: Arc<Shared>,
        flags: &'f DrainFlags,
        accepted: Instant,
        first: &[u8],
    ) -> Self {
        let mut codec = ServerConn::new(shared.limits.h1.clone());
        let mut clock = ReadClock::fresh(accepted, &shared.limits);
        if !first.is_empty() {
            codec.recv(first);
            clock.on_bytes(first.len());
        }
        Conn {
            rt: rt.clone(),
            codec,
            alarm: Alarm::new(rt.clone()),
            clock,
            wall: rt.wall(),
            out: Vec::new(),
            unflushed: Vec::new(),
            served: 0,
            h2c: None,
            linger: false,
            io,
            peer,
            shared,
            flags,
        }
    }

    /// The socket, for the driver that takes the connection over.
    pub(super) fn into_io(self) -> S {
        self.io
    }

    /// Serves requests until the connection is done; says why it ended.
    pub(super) async fn run(&mut self) -> Reason {
        let reason = match self.serve().await {
            Ok(()) => Reason::Done,
            Err(Stop(Reason::Upgraded)) if self.h2c.is_some() => {
                Box::pin(self.switch_to_h2()).await.0
            }
            Err(Stop(reason)) => reason,
        };
        self.abort_unflushed();
        reason
    }

    /// Answers that never reached the socket did not complete.
    fn abort_unflushed(&mut self) {
        for mut done in self.unflushed.drain(..) {
            done.abort();
        }
    }

    /// Closes the write side (a TLS `close_notify` first), giving a peer that does
    /// not read at most `CLOSE_GRACE`, so an ending connection always ends. After
    /// an answer to a request whose body was refused, it then reads and drops what
    /// the peer still sends until the peer closes too (bounded by the `LINGER_*`
    /// limits): closing a socket with unread input makes the kernel send a reset,
    /// and a reset can destroy the answer before the client has read it.
    pub(super) async fn close(&mut self) {
        let io = &mut self.io;
        if within(&mut self.alarm, CLOSE_GRACE, |cx| io.poll_shutdown(cx))
            .await
            .is_ok_and(|shut| shut.is_ok())
            && self.linger
        {
            self.linger().await;
        }
    }

    async fn linger(&mut self) {
        let end = self.rt.now() + LINGER_TIME;
        let mut left = LINGER_BYTES;
        loop {
            let wait = LINGER_IDLE.min(end.saturating_duration_since(self.rt.now()));
            let io = &mut self.io;
            let read = within(&mut self.alarm, wait, |cx| {
                poll_read_with(Layer::Http, io, cx, READ_SIZE, |_| {})
            });
            match read.await {
                Ok(Ok(n)) if n > 0 && n < left => left -= n,
                _ => return,
            }
        }
    }

    // Each large local below lives across at most one `await`, its scope ended by a
    // block: the compiler gives a local that spans two `await`s (moved from or not)
    // room of its own in the connection's future, which every idle connection pays
    // for (`footprint::a_connection_task_is_small`).
    async fn serve(&mut self) -> Result<(), Stop> {
        loop {
            let mut exchange = {
                let mut req = {
                    let Some(head) = self.next_head().await? else {
                        return Ok(());
                    };
                    self.shared.counters.served.fetch_add(1, Ordering::Relaxed);
                    self.served += 1;
                    if self.served >= self.shared.limits.max_keep_alive_requests {
                        self.codec.close_after_response();
                    }
                    self.clock.body();
                    if self.shared.limits.manual_body && head.body != BodyKind::Empty {
                        // Boxed: a rare path whose state would otherwise enlarge every
                        // idle connection's future.
                        Box::pin(self.serve_manual(head)).await?;
                        continue;
                    }
                    self.request(head, Body::empty())
                };
                self.read_body(&mut req).await?;
                if let Some(settings) = self.h2c_settings(&req) {
                    // Answered in `run`, so no await here holds the request.
                    self.h2c = Some(Box::new(h2c::H2c {
                        req,
                        settings,
                        early: Default::default(),
                    }));
                    return Err(Stop(Reason::Upgraded));
                }
                Exchange::start(&self.rt, &self.shared, req)
            };
            // Polled here, and the response sent from here, rather than in `async fn`s
            // of their own, which would move the request and the response into and out
            // of their futures.
            let mut waited = false;
            let answer = poll_fn(|cx| {
                let poll = exchange.poll_answer(cx);
                waited |= poll.is_pending();
                poll
            })
            .await;
            drop(exchange);
            if waited {
                self.wall = self.rt.wall();
            }
            {
                let Answer {
                    resp,
                    panicked,
                    done,
                } = answer;
                if panicked {
                    self.codec.close_after_response();
                }
                if Self::is_buffered(&resp) {
                    self.respond_buffered(resp, done)?;
                } else {
                    self.respond(resp, done, None).await?;
                }
            }
            self.after_response().await?;
        }
    }

    /// A request whose body the handler reads itself (`body_buffering: manual`),
    /// answered.
    async fn serve_manual(&mut self, head: RequestHead) -> Result<(), Stop> {
        // A body over the cap is refused before the handler runs, in this mode too.
        let first = match self.codec.poll_event() {
            Ok(event) => event,
            Err(e) => return Err(self.fail(e).await),
        };
        let hint = match head.body {
            BodyKind::Length(n) => Some(n),
            BodyKind::Empty | BodyKind::Chunked => None,
        };
        let expect_continue = head.expect_continue;
        let pipe = Pipe::default();
        let req = self.request(head, Body::incoming(pipe.clone(), hint));
        let (resp, done, pumping) = self.call_pumping(req, pipe, first, expect_continue).await?;
        self.respond(resp, done, pumping).await?;
        self.after_response().await
    }

    /// Between one response and the next request: what has gathered is written once
    /// it is large.
    async fn after_response(&mut self) -> Result<(), Stop> {
        self.clock.await_next();
        if self.out.len() >= FLUSH_AT {
            self.flush().await?;
        }
        Ok(())
    }

    /// The next request head, reading as needed; `None` once the connection is done.
    async fn next_head(&mut self) -> Result<Option<RequestHead>, Stop> {
        loop {
            // Only what is needed after the match is kept: the codec's whole result
            // would stay in this future across the `await`s below.
            let error = match self.codec.poll_event() {
                Ok(Some(Event::Request(head))) => return Ok(Some(head)),
                // Body events only ever follow their request head.
                Ok(Some(_)) => return Err(Stop(Reason::ProtocolError)),
                Ok(None) => None,
                Err(e) => Some(e),
            };
            if let Some(e) = error {
                return Err(self.fail(e).await);
            }
            if self.codec.is_closed() {
                self.flush().await?;
                return Ok(None);
            }
            self.await_input().await?;
        }
    }

    /// Writes the answers gathered so far, then reads once: the codec needs more
    /// input for the next request.
    async fn await_input(&mut self) -> Result<(), Stop> {
        let answered = !self.out.is_empty();
        self.flush().await?;
        if answered && self.codec.awaits_request() {
            self.io.peer_turn();
        }
        self.fill().await
    }

    /// The request for `head`, with its context attached.
    #[inline(always)]
    fn request(&self, head: RequestHead, body: Body) -> Request {
        let mut req = Request::new(body);
        *req.method_mut() = head.method;
        *req.uri_mut() = head.uri;
        *req.version_mut() = head.version;
        *req.headers_mut() = head.headers;
        req.extensions_mut().insert(RequestContext {
            listener: ListenerRef::new(self.shared.clone()),
            peer: self.peer,
            id: self.shared.next_request_id(),
            params: Default::default(),
            state: None,
        });
        req
    }

    /// Reads the request's body in full into `req`. By reference: moving the head in
    /// and the large `Request` out of this future cost a `memcpy` each per request.
    async fn read_body(&mut self, req: &mut Request) -> Result<(), Stop> {
        let mut body = BodyBuf::Empty;
        loop {
            match self.codec.poll_event() {
                Ok(Some(Event::Data(chunk))) => body.push(chunk),
                Ok(Some(Event::End(trailers))) => {
                    if let Some(t) = trailers {
                        req.extensions_mut().insert(Trailers(t));
                    }
                    break;
                }
                Ok(Some(Event::Request(_))) => return Err(Stop(Reason::ProtocolError)),
                Ok(None) => {
                    // Only now, with the body wanted and not yet refused by a cap.
                    self.codec.send_continue(&mut self.out);
                    self.flush().await?;
                    self.fill().await?;
                }
                Err(e) => return Err(self.fail(e).await),
            }
        }
        *req.body_mut() = body.finish();
        Ok(())
    }

    /// Writes out what has gathered.
    async fn flush(&mut self) -> Result<(), Stop> {
        let mut sent = 0;
        while sent < self.out.len() {
            let (io, buf) = (&mut self.io, &self.out[sent..]);
            let limit = self.shared.limits.send_timeout;
            let wait = within(&mut self.alarm, limit, |cx| io.poll_write(cx, buf));
            let failed = match wait.await {
                Err(timed_out) => Stop::from(timed_out),
                Ok(Ok(0)) => Stop(Reason::SocketError),
                Ok(Err(e)) => Stop(Reason::of_io(&e)),
                Ok(Ok(n)) => {
                    sent += n;
                    continue;
                }
            };
            self.abort_unflushed();
            return Err(failed);
        }
        // Their last bytes are written: the exchanges are complete.
        self.unflushed.clear();
        self.out.clear();
        if self.out.capacity() > FLUSH_AT {
            self.out = Vec::new();
        }
        Ok(())
    }

    /// An idle connection gives back its buffers until its next request.
    fn hibernate(&mut self) {
        self.codec.release_buffers();
        self.out = Vec::new();
        tracing::trace!(target: "roadrunner", event = "conn.hibernate", peer = %self.peer);
    }

    /// Reads once into the codec, within the clock's deadlines.
    async fn fill(&mut self) -> Result<(), Stop> {
        if self.clock.awaiting_head() && self.flags.enter_idle() {
            return Err(Stop(Reason::Drain));
        }
        loop {
            let (io, codec) = (&mut self.io, &mut self.codec);
            let (clock, alarm) = (&mut self.clock, &mut self.alarm);
            let read = poll_fn(|cx| {
                let read = poll_read_with(Layer::Http, io, cx, READ_SIZE, |data| codec.recv(data));
                if let Poll::Ready(r) = read {
                    return Poll::Ready(Some(r));
                }
                // Only a read that must wait needs the timer.
                alarm.arm(clock.wake_at(alarm.now()));
                if alarm.poll_fired(cx) {
                    return Poll::Ready(None);
                }
                Poll::Pending
            });
            match read.await {
                Some(Ok(0)) => {
                    self.flags.leave_idle();
                    self.codec.recv_eof();
                    return Ok(());
                }
                Some(Ok(n)) => {
                    self.flags.leave_idle();
                    self.wall = self.rt.wall();
                    self.clock.on_bytes(n);
                    return Ok(());
                }
                Some(Err(e)) => return Err(Stop(Reason::of_io(&e))),
                None => {
                    let now = self.rt.now();
                    if self.clock.take_hibernate(now) {
                        self.hibernate();
                    }
                    self.clock.on_timer(now).map_err(|e| Stop(e.into()))?;
                }
            }
        }
    }
}

/// A send that timed out ends the connection.
impl From<TimedOut> for Stop {
    fn from(_: TimedOut) -> Self {
        Stop(Reason::SendTimeout)
    }
}

/// A request body gathered from its pieces, copying only when there are several.
enum BodyBuf {
    Empty,
    One(Bytes),
    Many(BytesMut),
}

impl BodyBuf {
    fn push(&mut self, chunk: Bytes) {
        *self = match std::mem::replace(self, BodyBuf::Empty) {
            BodyBuf::Empty => BodyBuf::One(chunk),
            BodyBuf::One(first) => {
                let mut all = BytesMut::with_capacity(first.len() + chunk.len());
                all.extend_from_slice(&first);
                all.extend_from_slice(&chunk);
                BodyBuf::Many(all)
            }
            BodyBuf::Many(mut all) => {
                all.extend_from_slice(&chunk);
                BodyBuf::Many(all)
            }
        }
    }

    fn finish(self) -> Body {
        match self {
            BodyBuf::Empty => Body::empty(),
            BodyBuf::One(b) => b.into(),
            BodyBuf::Many(all) => all.freeze().into(),
        }
    }
}

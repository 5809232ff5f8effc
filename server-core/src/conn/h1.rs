//! Drives one HTTP/1.1 connection: socket → codec → handler → codec → socket.
//!
//! Responses to requests that were already buffered (pipelining) are gathered and
//! written together when the next read is due, so a pipelined batch costs one write.

use std::future::poll_fn;
use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Instant, SystemTime};

use bytes::{Bytes, BytesMut};
use http::StatusCode;
use roadrunner_h1::{Event, RequestHead, ServerConn};

use super::clock::ReadClock;
use super::DrainFlags;
use crate::body::{Body, Frame, FrameStream, Kind};
use crate::handler::status_response;
use crate::listener::{ListenerRef, Shared};
use crate::panic::{message, CatchUnwind};
use crate::request::{Request, RequestContext, RequestExt, Response, Trailers};
use crate::runtime::{before, read, shutdown, ByteStream, Runtime, Timer};

const READ_BUF: usize = 16 * 1024;
/// Write what has gathered once it is this large, even mid-batch.
const FLUSH_AT: usize = 64 * 1024;

/// The connection is over (peer gone, timed out, or answered with a closing response).
struct Stop;

/// One HTTP/1.1 connection's state.
pub(super) struct Conn<'f, R: Runtime, S> {
    codec: ServerConn,
    timer: R::Timer,
    clock: ReadClock,
    /// The timer's deadline, `None` once it has fired. It is only moved earlier; when
    /// it fires early the clock says so and it is re-armed, which saves a timer update
    /// per keep-alive request.
    armed: Option<Instant>,
    rbuf: Box<[u8]>,
    out: Vec<u8>,
    served: u32,
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
    ) -> Self {
        let now = Instant::now();
        let deadline = now + shared.limits.request_timeout;
        Conn {
            codec: ServerConn::new(shared.limits.h1.clone()),
            timer: rt.timer(deadline),
            clock: ReadClock::fresh(now, &shared.limits),
            armed: Some(deadline),
            rbuf: vec![0; READ_BUF].into_boxed_slice(),
            out: Vec::new(),
            served: 0,
            io,
            peer,
            shared,
            flags,
        }
    }

    /// Serves requests until the connection is done.
    pub(super) async fn run(&mut self) {
        let _ = self.serve().await;
    }

    /// Sends what is pending and closes the write side.
    pub(super) async fn close(&mut self) {
        let _ = shutdown(&mut self.io).await;
    }

    async fn serve(&mut self) -> Result<(), Stop> {
        loop {
            let head = match self.next_head().await? {
                Some(head) => head,
                None => return Ok(()),
            };
            self.shared.counters.served.fetch_add(1, Ordering::Relaxed);
            self.served += 1;
            if self.served >= self.shared.limits.max_keep_alive_requests {
                self.codec.close_after_response();
            }
            self.clock.body();
            let req = self.read_request(head).await?;
            let resp = self.call(req).await;
            self.respond(resp).await?;
            self.clock.await_next();
            if self.out.len() >= FLUSH_AT {
                self.flush().await?;
            }
        }
    }

    /// The next request head, reading as needed; `None` once the connection is done.
    async fn next_head(&mut self) -> Result<Option<RequestHead>, Stop> {
        loop {
            match self.codec.poll_event() {
                Ok(Some(Event::Request(head))) => return Ok(Some(head)),
                // Body events only ever follow their request head.
                Ok(Some(_)) => return Err(Stop),
                Ok(None) if self.codec.is_closed() => {
                    self.flush().await?;
                    return Ok(None);
                }
                Ok(None) => {
                    self.flush().await?;
                    self.fill().await?;
                }
                Err(e) => return Err(self.fail(e).await),
            }
        }
    }

    /// The request with its body read in full.
    async fn read_request(&mut self, head: RequestHead) -> Result<Request, Stop> {
        let mut req = Request::new(Body::empty());
        *req.method_mut() = head.method;
        *req.uri_mut() = head.uri;
        *req.version_mut() = head.version;
        *req.headers_mut() = head.headers;
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
                Ok(Some(Event::Request(_))) => return Err(Stop),
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
        req.extensions_mut().insert(RequestContext {
            listener: ListenerRef::new(self.shared.clone()),
            peer: self.peer,
            id: self.shared.next_request_id(),
            params: Default::default(),
            state: None,
        });
        Ok(req)
    }

    /// Runs the handler pipeline; a panic becomes a `500` and closes the connection.
    async fn call(&mut self, req: Request) -> Response {
        let method = req.method().clone();
        let uri = req.uri().clone();
        let id = req.request_id().unwrap_or_default();
        let started =
            tracing::enabled!(target: "roadrunner", tracing::Level::INFO).then(Instant::now);
        tracing::debug!(
            target: "roadrunner",
            event = "request.start",
            listener = &*self.shared.name,
            request_id = id,
            %method,
            path = uri.path(),
        );
        let dispatch = self.shared.dispatch.load();
        let outcome =
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| dispatch.dispatch(req)))
            {
                Ok(fut) => CatchUnwind(fut).await,
                Err(payload) => Err(payload),
            };
        let resp = outcome.unwrap_or_else(|payload| {
            tracing::error!(
                target: "roadrunner",
                event = "request.exception",
                listener = &*self.shared.name,
                request_id = id,
                %method,
                path = uri.path(),
                panic = message(&*payload),
            );
            self.codec.close_after_response();
            status_response(StatusCode::INTERNAL_SERVER_ERROR)
        });
        if let Some(started) = started {
            tracing::info!(
                target: "roadrunner",
                event = "request.stop",
                listener = &*self.shared.name,
                request_id = id,
                %method,
                path = uri.path(),
                status = resp.status().as_u16(),
                duration_us = started.elapsed().as_micros() as u64,
            );
        }
        resp
    }

    /// Sends `resp`: a buffered body in one go, a streamed one frame by frame.
    async fn respond(&mut self, resp: Response) -> Result<(), Stop> {
        if self.shared.drain.closing() || self.flags.noticed() {
            self.codec.close_after_response();
        }
        let (parts, body) = resp.into_parts();
        match body.into_kind() {
            Kind::Empty => self.write_full(&parts, &[]),
            Kind::Full(bytes) => self.write_full(&parts, &bytes),
            Kind::Stream(stream) => self.write_stream(&parts, stream).await,
        }
    }

    fn write_full(&mut self, parts: &http::response::Parts, body: &[u8]) -> Result<(), Stop> {
        let out = &mut self.out;
        self.codec
            .send_response(
                parts.status,
                &parts.headers,
                Some(body.len() as u64),
                SystemTime::now(),
                out,
            )
            .and_then(|()| self.codec.send_data(body, out))
            .and_then(|()| self.codec.send_end(None, out))
            .map_err(send_failed)
    }

    /// Streams a body, flushing each frame. Meanwhile the socket is watched, so a peer
    /// that resets the connection ends the stream (and the handler driving it) at
    /// once rather than at the next write.
    async fn write_stream(
        &mut self,
        parts: &http::response::Parts,
        mut stream: FrameStream,
    ) -> Result<(), Stop> {
        let now = SystemTime::now();
        self.codec
            .send_response(parts.status, &parts.headers, None, now, &mut self.out)
            .map_err(send_failed)?;
        let mut peer_eof = false;
        let trailers = loop {
            self.flush().await?;
            let (io, rbuf, codec) = (&mut self.io, &mut self.rbuf, &mut self.codec);
            let next = poll_fn(|cx| {
                match catch_unwind(AssertUnwindSafe(|| stream.as_mut().poll_next(cx))) {
                    Ok(Poll::Ready(frame)) => return Poll::Ready(Ok(Some(frame))),
                    Err(payload) => return Poll::Ready(Err(payload)),
                    Ok(Poll::Pending) => {}
                }
                while !peer_eof {
                    match io.poll_read(cx, rbuf) {
                        // Bytes of a pipelined request wait in the codec.
                        Poll::Ready(Ok(n)) if n > 0 => codec.recv(&rbuf[..n]),
                        // A half-closed peer may still read the response.
                        Poll::Ready(Ok(_)) => peer_eof = true,
                        Poll::Ready(Err(_)) => return Poll::Ready(Ok(None)),
                        Poll::Pending => break,
                    }
                }
                Poll::Pending
            })
            .await;
            match next {
                Ok(Some(Some(Frame::Data(data)))) => self
                    .codec
                    .send_data(&data, &mut self.out)
                    .map_err(send_failed)?,
                Ok(Some(Some(Frame::Trailers(t)))) => break Some(t),
                Ok(Some(None)) => break None,
                Ok(None) => return Err(Stop),
                Err(payload) => {
                    tracing::error!(
                        target: "roadrunner",
                        event = "request.exception",
                        listener = &*self.shared.name,
                        panic = message(&*payload),
                        "response stream panicked after the response had started",
                    );
                    return Err(Stop);
                }
            }
        };
        if peer_eof {
            self.codec.recv_eof();
        }
        self.codec
            .send_end(trailers.as_ref(), &mut self.out)
            .map_err(send_failed)
    }

    /// Answers a protocol error with its status; the codec closes after it.
    async fn fail(&mut self, e: roadrunner_h1::Error) -> Stop {
        tracing::debug!(
            target: "roadrunner",
            event = "request.bad",
            listener = &*self.shared.name,
            peer = %self.peer,
            error = %e,
        );
        let (parts, body) = status_response(e.status()).into_parts();
        let _ = self.write_full(&parts, body.as_bytes());
        let _ = self.flush().await;
        Stop
    }

    /// Writes out what has gathered. Most writes fit the socket buffer at once, so the
    /// write deadline (`send_timeout`) is armed only once the peer stops taking bytes.
    async fn flush(&mut self) -> Result<(), Stop> {
        let mut sent = 0;
        let mut deadline = None;
        while sent < self.out.len() {
            let (io, buf) = (&mut self.io, &self.out[sent..]);
            let n = match poll_fn(|cx| Poll::Ready(io.poll_write(cx, buf))).await {
                Poll::Ready(r) => r,
                Poll::Pending => {
                    let d = *deadline
                        .get_or_insert_with(|| Instant::now() + self.shared.limits.send_timeout);
                    if self.armed.is_none_or(|armed| d < armed) {
                        self.timer.reset(d);
                        self.armed = Some(d);
                    }
                    let (io, buf) = (&mut self.io, &self.out[sent..]);
                    match before(&mut self.timer, poll_fn(|cx| io.poll_write(cx, buf))).await {
                        Some(r) => r,
                        None => {
                            self.armed = None;
                            if Instant::now() >= d {
                                return Err(Stop);
                            }
                            continue;
                        }
                    }
                }
            };
            match n {
                Ok(0) | Err(_) => return Err(Stop),
                Ok(n) => sent += n,
            }
        }
        self.out.clear();
        if self.out.capacity() > FLUSH_AT {
            self.out = Vec::new();
        }
        Ok(())
    }

    /// Reads once into the codec, within the clock's deadlines.
    async fn fill(&mut self) -> Result<(), Stop> {
        if self.clock.awaiting_head() && self.flags.enter_idle() {
            return Err(Stop);
        }
        loop {
            let wake = self.clock.wake_at(Instant::now());
            if self.armed.is_none_or(|armed| wake < armed) {
                self.timer.reset(wake);
                self.armed = Some(wake);
            }
            match before(&mut self.timer, read(&mut self.io, &mut self.rbuf)).await {
                Some(Ok(0)) => {
                    self.flags.leave_idle();
                    self.codec.recv_eof();
                    return Ok(());
                }
                Some(Ok(n)) => {
                    self.flags.leave_idle();
                    self.codec.recv(&self.rbuf[..n]);
                    self.clock.on_bytes(n, Instant::now());
                    return Ok(());
                }
                Some(Err(_)) => return Err(Stop),
                None => {
                    self.armed = None;
                    self.clock.on_timer(Instant::now()).map_err(|_| Stop)?;
                }
            }
        }
    }
}

fn send_failed(e: roadrunner_h1::SendError) -> Stop {
    tracing::error!(target: "roadrunner", event = "response.error", error = %e);
    Stop
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

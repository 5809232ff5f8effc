//! Sending responses: buffered bodies in one go, streamed ones frame by frame.

use std::fs::File;
use std::future::poll_fn;
use std::os::unix::fs::FileExt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::task::Poll;

use http::StatusCode;

use super::call::Pumping;
use super::{Conn, Stop};
use crate::body::{Frame, FrameStream, Kind, FILE_CHUNK};
use crate::conn::alarm::within;
use crate::conn::reason::Reason;
use crate::conn::upgraded::carry;
use crate::exchange::{poll_response_frame, report_body_failure, Done};
use crate::handler::status_response;
use crate::request::Response;
use crate::runtime::{ByteStream, Runtime};
use crate::scratch::{poll_read_with, Layer};
use crate::upgrade::OnUpgrade;

/// How many bytes of pipelined requests are read while a response streams.
const PIPELINE_READ_BUDGET: usize = 64 * 1024;

impl<R: Runtime, S: ByteStream> Conn<'_, R, S> {
    /// Sends `resp`: a buffered body in one go, a streamed one frame by frame (while
    /// a request body still `pumping` keeps flowing to its reader). `done` reports
    /// the exchange's end once the response is out, or aborted.
    pub(super) async fn respond(
        &mut self,
        resp: Response,
        done: Done,
        pumping: Option<Box<Pumping>>,
    ) -> Result<(), Stop> {
        self.close_if_draining();
        let (mut parts, body) = resp.into_parts();
        if parts.status == StatusCode::SWITCHING_PROTOCOLS {
            if let Some(pumping) = pumping {
                pumping.abandon();
            }
            return Err(Box::pin(self.switch(&mut parts, done)).await);
        }
        let kind = body.into_kind();
        let pumping = match pumping {
            Some(pumping) if !matches!(kind, Kind::Stream(_)) => {
                pumping.abandon();
                None
            }
            pumping => pumping,
        };
        let sent = match kind {
            Kind::Empty => self.write_full(&parts, &[]),
            Kind::Full(bytes) => self.write_full(&parts, &bytes),
            // Boxed: their state would otherwise enlarge every connection's future.
            Kind::Stream(stream) => Box::pin(self.write_stream(&parts, stream, pumping)).await,
            Kind::File { file, offset, len } => {
                Box::pin(self.write_file(&parts, file, offset, len)).await
            }
            Kind::Incoming { .. } => {
                // Nothing pumps a request body once its handler has returned.
                tracing::error!(
                    target: "roadrunner",
                    event = "response.error",
                    error = "a handler returned an unread request body as its response body",
                );
                let (parts, body) = status_response(StatusCode::INTERNAL_SERVER_ERROR).into_parts();
                self.write_full(&parts, body.as_bytes())
            }
        };
        self.sent(parts, done, sent)
    }

    /// Whether [`respond_buffered`](Self::respond_buffered) can send `resp`: its body
    /// is in memory and it switches no protocol.
    pub(super) fn is_buffered(resp: &Response) -> bool {
        resp.status() != StatusCode::SWITCHING_PROTOCOLS && resp.body().len().is_some()
    }

    /// Sends a response whose body is in memory, without an `await`: the common case,
    /// kept out of [`respond`](Self::respond)'s future so that the response is not
    /// moved into it.
    #[inline]
    pub(super) fn respond_buffered(&mut self, resp: Response, done: Done) -> Result<(), Stop> {
        self.close_if_draining();
        let (parts, body) = resp.into_parts();
        let sent = self.write_full(&parts, body.as_bytes());
        self.sent(parts, done, sent)
    }

    fn close_if_draining(&mut self) {
        if self.shared.drain.closing() || self.flags.noticed() {
            self.codec.close_after_response();
        }
    }

    /// After a response went into `out` (or failed to).
    fn sent(
        &mut self,
        mut parts: http::response::Parts,
        mut done: Done,
        sent: Result<(), Stop>,
    ) -> Result<(), Stop> {
        // The response's map, emptied, holds the next request's fields: two
        // allocations fewer per kept-alive request.
        self.codec
            .recycle_headers(std::mem::take(&mut parts.headers));
        match sent {
            // Complete once `out` is written (`flush`).
            Ok(()) => self.unflushed.push(done),
            Err(_) => done.abort(),
        }
        sent
    }

    pub(super) fn write_full(
        &mut self,
        parts: &http::response::Parts,
        body: &[u8],
    ) -> Result<(), Stop> {
        let out = &mut self.out;
        self.codec
            .send_response(
                parts.status,
                &parts.headers,
                Some(body.len() as u64),
                self.wall,
                out,
            )
            .and_then(|()| self.codec.send_data(body, out))
            .and_then(|()| self.codec.send_end(None, out))
            .map_err(send_failed)
    }

    /// Sends the `101` head and hands the connection to the response's session, or
    /// closes it when there is none: bytes after a switch are not HTTP/1.1 any more,
    /// and nothing else may read them.
    async fn switch(&mut self, parts: &mut http::response::Parts, mut done: Done) -> Stop {
        let session = parts
            .extensions
            .remove::<OnUpgrade>()
            .and_then(|on| on.take());
        if let Err(e) = self.write_full(parts, &[]) {
            done.abort();
            return e;
        }
        if let Err(e) = self.flush().await {
            done.abort();
            return e;
        }
        // The exchange ends with the switch; the session is not part of it.
        drop(done);
        let early = self.codec.take_upgraded().unwrap_or_default();
        let Some(session) = session else {
            return Stop(Reason::Upgraded);
        };
        let listener = Some(crate::listener::ListenerRef::new(self.shared.clone()));
        let (up, ends) = crate::upgrade::pair(&early, listener);
        let session = match catch_unwind(AssertUnwindSafe(|| session(up))) {
            Ok(session) => session,
            Err(_) => return Stop(Reason::Upgraded),
        };
        Stop(carry(&mut self.io, ends, session).await)
    }

    /// Sends a file region: zero-copy where the stream supports it, otherwise read
    /// and written in chunks. A file shorter than announced closes the connection.
    async fn write_file(
        &mut self,
        parts: &http::response::Parts,
        file: File,
        offset: u64,
        len: u64,
    ) -> Result<(), Stop> {
        self.codec
            .send_response(
                parts.status,
                &parts.headers,
                Some(len),
                self.rt.wall(),
                &mut self.out,
            )
            .map_err(send_failed)?;
        self.flush().await?;
        // Zero for HEAD, 204 and 304: the head alone is the answer.
        let mut left = self.codec.direct_body_remaining().unwrap_or(0);
        let mut pos = offset;
        let mut copy = false;
        while left > 0 {
            let sent = if copy {
                let n = left.min(FILE_CHUNK as u64) as usize;
                self.out.resize(n, 0);
                file.read_exact_at(&mut self.out, pos)
                    .map_err(|_| Stop(Reason::ResponseAborted))?;
                self.flush().await?;
                n
            } else {
                let io = &mut self.io;
                let limit = self.shared.limits.send_timeout;
                let wait = within(&mut self.alarm, limit, |cx| {
                    io.poll_sendfile(cx, &file, pos, left)
                });
                match wait.await? {
                    Ok(0) => return Err(Stop(Reason::SocketError)),
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::Unsupported => {
                        copy = true;
                        continue;
                    }
                    Err(e) => return Err(Stop(Reason::of_io(&e))),
                }
            };
            self.codec
                .body_sent_directly(sent as u64)
                .map_err(send_failed)?;
            left -= sent as u64;
            pos += sent as u64;
        }
        self.codec
            .send_end(None, &mut self.out)
            .map_err(send_failed)
    }

    /// Streams a body, flushing each frame. Meanwhile the socket is watched, so a peer
    /// that resets the connection ends the stream (and the handler driving it) at
    /// once rather than at the next write; a request body still `pumping` is fed to
    /// its reader meanwhile (a duplex exchange).
    async fn write_stream(
        &mut self,
        parts: &http::response::Parts,
        mut stream: FrameStream,
        mut pumping: Option<Box<Pumping>>,
    ) -> Result<(), Stop> {
        self.codec
            .send_response(parts.status, &parts.headers, None, self.wall, &mut self.out)
            .map_err(send_failed)?;
        let mut peer_eof = false;
        // A client may pipeline its next requests meanwhile; take only so much of them
        // before leaving the rest in the socket (backpressure).
        let mut read_budget = PIPELINE_READ_BUDGET;
        let ended = loop {
            if let Err(stop) = self.flush().await {
                if let Some(pumping) = pumping {
                    pumping.abandon();
                }
                return Err(stop);
            }
            let next = poll_fn(|cx| {
                if let Poll::Ready(frame) = poll_response_frame(&mut stream, cx) {
                    return Poll::Ready(Ok(frame));
                }
                if let Some(Pumping { pipe, pump }) = pumping.as_deref_mut() {
                    if !pump.done && self.poll_pump(cx, pipe, pump).is_ready() {
                        pump.done = true;
                    }
                    if let Some(reason) = pump.dead {
                        return Poll::Ready(Err(Stop(reason)));
                    }
                    return Poll::Pending;
                }
                while !peer_eof && read_budget > 0 {
                    // Bytes of a pipelined request wait in the codec.
                    let codec = &mut self.codec;
                    let read = poll_read_with(Layer::Http, &mut self.io, cx, read_budget, |data| {
                        codec.recv(data)
                    });
                    match read {
                        Poll::Ready(Ok(n)) if n > 0 => read_budget -= n,
                        // A half-closed peer may still read the response.
                        Poll::Ready(Ok(_)) => peer_eof = true,
                        Poll::Ready(Err(e)) => return Poll::Ready(Err(Stop(Reason::of_io(&e)))),
                        Poll::Pending => break,
                    }
                }
                Poll::Pending
            })
            .await;
            match next {
                Ok(Some(Ok(Frame::Data(data)))) => {
                    if let Err(stop) = self.codec.send_data(&data, &mut self.out) {
                        break Err(send_failed(stop));
                    }
                }
                Ok(Some(Ok(Frame::Trailers(t)))) => break Ok(Some(t)),
                Ok(None) => break Ok(None),
                Ok(Some(Err(failure))) => {
                    // Closing without the terminating chunk is how HTTP/1.1 says the
                    // body is incomplete.
                    report_body_failure(&self.shared, &failure);
                    break Err(Stop(Reason::ResponseAborted));
                }
                Err(stop) => break Err(stop),
            }
        };
        if let Some(pumping) = pumping {
            pumping.abandon();
        }
        let trailers = ended?;
        if peer_eof {
            self.codec.recv_eof();
        }
        self.codec
            .send_end(trailers.as_ref(), &mut self.out)
            .map_err(send_failed)
    }

    /// Answers a protocol error with its status; the codec closes after it.
    pub(super) async fn fail(&mut self, e: roadrunner_h1::Error) -> Stop {
        tracing::debug!(
            target: "roadrunner",
            event = "request.bad",
            listener = &*self.shared.name,
            peer = %self.peer,
            error = %e,
        );
        self.linger = true;
        let reason = match e.kind() {
            roadrunner_h1::ErrorKind::UnexpectedEof => Reason::PeerReset,
            _ => Reason::ProtocolError,
        };
        // Nothing held across the `await`: this future is part of every connection's.
        {
            let (parts, body) = status_response(e.status()).into_parts();
            let _ = self.write_full(&parts, body.as_bytes());
        }
        let _ = self.flush().await;
        Stop(reason)
    }
}

fn send_failed(e: roadrunner_h1::SendError) -> Stop {
    tracing::error!(target: "roadrunner", event = "response.error", error = %e);
    Stop(Reason::ResponseAborted)
}

//! Running the handler pipeline: with the body already read, or (manual buffering)
//! while pumping the body to the handler as it asks for it.

use std::any::Any;
use std::future::{poll_fn, Future};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use http::{Method, StatusCode, Uri};
use roadrunner_h1::Event;

use super::{Conn, Stop};
use crate::conn::reason::Reason;
use crate::handler::{status_response, BoxFuture};
use crate::incoming::{BodyError, Pipe};
use crate::options::HandlerSpawn;
use crate::panic::{message, CatchUnwind, Running};
use crate::request::{Request, RequestExt, Response};
use crate::runtime::{ByteStream, Runtime};
use crate::scratch::{poll_read_with, Layer, READ_SIZE};

type Panic = Box<dyn Any + Send>;

/// What the end of a call reports on; gathered only while someone listens to the
/// `roadrunner` events, so an unobserved server pays nothing for it.
struct CallInfo {
    method: Method,
    uri: Uri,
    id: u64,
    started: Instant,
}

/// How the pump left the request body.
#[derive(Default)]
struct Pump {
    /// A body event taken from the codec before the handler started.
    first: Option<Event>,
    /// The body ended (cleanly or not); nothing more to read for it.
    done: bool,
    /// The `100 Continue` interim response has been written (or was not needed).
    continued: bool,
    sent: usize,
    /// The body broke the protocol: answer with its status, then close.
    error: Option<roadrunner_h1::Error>,
    /// The socket failed or the peer was too slow: close without answering.
    dead: Option<Reason>,
}

impl<R: Runtime, S: ByteStream> Conn<'_, R, S> {
    /// Runs the pipeline on a request whose body was read in full; a panic becomes a
    /// `500` and closes the connection.
    pub(super) async fn call(&mut self, req: Request) -> Response {
        let (info, mut running) = self.start_call(req);
        let mut waited = false;
        let outcome = poll_fn(|cx| {
            let poll = Pin::new(&mut running).poll(cx);
            waited |= poll.is_pending();
            poll
        })
        .await;
        if waited {
            self.wall = self.rt.wall();
        }
        self.finish_call(info, outcome)
    }

    /// Runs the pipeline while feeding it the request body through `pipe`, reading the
    /// socket only as fast as the handler takes chunks. `expect_continue`: the client
    /// waits for `100 Continue`, sent when the handler first asks for data. `first` is
    /// a body event already taken from the codec (checked for caps before the handler
    /// was allowed to run).
    pub(super) async fn call_pumping(
        &mut self,
        req: Request,
        pipe: Pipe,
        first: Option<Event>,
        expect_continue: bool,
    ) -> Result<Response, Stop> {
        // The interim response must not sit behind earlier pipelined answers.
        self.flush().await?;
        let (info, mut running) = self.start_call(req);
        let mut pump = Pump {
            first,
            continued: !expect_continue,
            ..Pump::default()
        };
        let outcome = poll_fn(|cx| {
            if let Poll::Ready(out) = Pin::new(&mut running).poll(cx) {
                return Poll::Ready(out);
            }
            if !pump.done && self.poll_pump(cx, &pipe, &mut pump).is_ready() {
                pump.done = true;
            }
            Poll::Pending
        })
        .await;
        self.wall = self.rt.wall();
        if !pump.done {
            // A reader kept past the handler's end must not wait forever.
            pipe.finish(Err(BodyError::Aborted));
        }
        if let Some(reason) = pump.dead {
            return Err(Stop(reason));
        }
        let resp = self.finish_call(info, outcome);
        Ok(match pump.error {
            Some(e) => {
                self.codec.close_after_response();
                self.linger = true;
                status_response(e.status())
            }
            None => resp,
        })
    }

    fn start_call(&self, req: Request) -> (Option<Box<CallInfo>>, Running<BoxFuture<Response>>) {
        let info = tracing::enabled!(target: "roadrunner", tracing::Level::ERROR).then(|| {
            let info = Box::new(CallInfo {
                method: req.method().clone(),
                uri: req.uri().clone(),
                id: req.request_id().unwrap_or_default(),
                started: self.rt.now(),
            });
            tracing::debug!(
                target: "roadrunner",
                event = "request.start",
                listener = &*self.shared.name,
                request_id = info.id,
                method = %info.method,
                path = info.uri.path(),
            );
            info
        });
        let dispatch = self.shared.dispatch.load();
        // User code may run inside `dispatch` itself, before any future exists.
        let running = match catch_unwind(AssertUnwindSafe(|| dispatch.dispatch(req))) {
            Err(payload) => Running::Failed(Some(payload)),
            Ok(fut) if self.shared.limits.handler_spawn == HandlerSpawn::Task => {
                let (tx, rx) = async_channel::bounded(1);
                self.rt.spawn(async move {
                    let _ = tx.send(CatchUnwind(fut).await).await;
                });
                Running::Spawned(Box::pin(rx))
            }
            Ok(fut) => Running::Inline(CatchUnwind(fut)),
        };
        (info, running)
    }

    fn finish_call(
        &mut self,
        info: Option<Box<CallInfo>>,
        outcome: Result<Response, Panic>,
    ) -> Response {
        let resp = outcome.unwrap_or_else(|payload| {
            if let Some(info) = &info {
                tracing::error!(
                    target: "roadrunner",
                    event = "request.exception",
                    listener = &*self.shared.name,
                    request_id = info.id,
                    method = %info.method,
                    path = info.uri.path(),
                    panic = message(&*payload),
                );
            }
            self.codec.close_after_response();
            status_response(StatusCode::INTERNAL_SERVER_ERROR)
        });
        if let Some(info) = info {
            tracing::info!(
                target: "roadrunner",
                event = "request.stop",
                listener = &*self.shared.name,
                request_id = info.id,
                method = %info.method,
                path = info.uri.path(),
                status = resp.status().as_u16(),
                duration_us = self.rt.now().saturating_duration_since(info.started).as_micros() as u64,
            );
        }
        resp
    }

    /// Moves request body data from the socket into `pipe`; ready once the body has
    /// ended one way or another.
    fn poll_pump(&mut self, cx: &mut Context<'_>, pipe: &Pipe, pump: &mut Pump) -> Poll<()> {
        loop {
            if pipe.poll_room(cx).is_pending() {
                return Poll::Pending;
            }
            let event = match pump.first.take() {
                Some(event) => Ok(Some(event)),
                None => self.codec.poll_event(),
            };
            match event {
                Ok(Some(Event::Data(data))) => {
                    pipe.put(data);
                    continue;
                }
                Ok(Some(Event::End(trailers))) => {
                    pipe.finish(Ok(trailers));
                    return Poll::Ready(());
                }
                Ok(Some(Event::Request(_))) => {
                    return self.pump_failed(pipe, pump, Reason::ProtocolError);
                }
                Err(e) => {
                    pipe.finish(Err(BodyError::Protocol {
                        status: e.status(),
                        reason: e.to_string(),
                    }));
                    pump.error = Some(e);
                    return Poll::Ready(());
                }
                Ok(None) => {}
            }
            if !pump.continued {
                if !pipe.wanted() {
                    pipe.wait_wanted(cx);
                    return Poll::Pending;
                }
                if pump.sent == 0 {
                    self.codec.send_continue(&mut self.out);
                }
                while pump.sent < self.out.len() {
                    match self.io.poll_write(cx, &self.out[pump.sent..]) {
                        Poll::Ready(Ok(n)) if n > 0 => pump.sent += n,
                        Poll::Ready(Ok(_)) => {
                            return self.pump_failed(pipe, pump, Reason::SocketError)
                        }
                        Poll::Ready(Err(e)) => {
                            return self.pump_failed(pipe, pump, Reason::of_io(&e))
                        }
                        Poll::Pending => return Poll::Pending,
                    }
                }
                self.out.clear();
                pump.continued = true;
            }
            let codec = &mut self.codec;
            match poll_read_with(Layer::Http, &mut self.io, cx, READ_SIZE, |data| {
                codec.recv(data)
            }) {
                Poll::Ready(Ok(0)) => self.codec.recv_eof(),
                Poll::Ready(Ok(n)) => self.clock.on_bytes(n),
                Poll::Ready(Err(e)) => return self.pump_failed(pipe, pump, Reason::of_io(&e)),
                Poll::Pending => {
                    let now = self.rt.now();
                    self.alarm.arm(self.clock.wake_at(now));
                    if !self.alarm.poll_fired(cx) {
                        return Poll::Pending;
                    }
                    if let Err(e) = self.clock.on_timer(self.rt.now()) {
                        return self.pump_failed(pipe, pump, e.into());
                    }
                }
            }
        }
    }

    fn pump_failed(&mut self, pipe: &Pipe, pump: &mut Pump, reason: Reason) -> Poll<()> {
        pipe.finish(Err(BodyError::Aborted));
        pump.dead = Some(reason);
        Poll::Ready(())
    }
}

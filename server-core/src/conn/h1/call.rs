//! Running a request's exchange: with the body already read, or (manual buffering)
//! while pumping the body to the handler as it asks for it, which may go on while the
//! response streams (a duplex exchange).

use std::future::poll_fn;
use std::task::{Context, Poll};

use roadrunner_h1::Event;

use super::{Conn, Stop};
use crate::conn::reason::Reason;
use crate::exchange::{Answer, Done, Exchange};
use crate::handler::status_response;
use crate::incoming::{BodyError, Pipe};
use crate::request::{Request, Response};
use crate::runtime::{ByteStream, Runtime};
use crate::scratch::{poll_read_with, Layer, READ_SIZE};

/// How the pump left the request body.
#[derive(Default)]
pub(super) struct Pump {
    /// A body event taken from the codec before the handler started.
    first: Option<Event>,
    /// The body ended (cleanly or not); nothing more to read for it.
    pub(super) done: bool,
    /// The `100 Continue` interim response has been written (or was not needed).
    continued: bool,
    sent: usize,
    /// The body broke the protocol: answer with its status, then close.
    error: Option<roadrunner_h1::Error>,
    /// The socket failed or the peer was too slow: close without answering.
    pub(super) dead: Option<Reason>,
}

/// A request body still flowing to its reader after the handler has answered.
pub(super) struct Pumping {
    pub(super) pipe: Pipe,
    pub(super) pump: Pump,
}

impl Pumping {
    /// Nobody will read the rest: a reader kept anyway must not wait forever.
    pub(super) fn abandon(self) {
        if !self.pump.done {
            self.pipe.finish(Err(BodyError::Aborted));
        }
    }
}

impl<R: Runtime, S: ByteStream> Conn<'_, R, S> {
    /// The handler's response; one that panicked closes the connection after it.
    fn answered(&mut self, answer: Answer) -> (Response, Done) {
        if answer.panicked {
            self.codec.close_after_response();
        }
        (answer.resp, answer.done)
    }

    /// Runs the exchange while feeding it the request body through `pipe`, reading the
    /// socket only as fast as the handler takes chunks. `expect_continue`: the client
    /// waits for `100 Continue`, sent when the handler first asks for data. `first` is
    /// a body event already taken from the codec (checked for caps before the handler
    /// was allowed to run). A body still arriving when the handler answers comes back
    /// as [`Pumping`], to be fed on while the response is sent.
    pub(super) async fn call_pumping(
        &mut self,
        req: Request,
        pipe: Pipe,
        first: Option<Event>,
        expect_continue: bool,
    ) -> Result<(Response, Done, Option<Box<Pumping>>), Stop> {
        // The interim response must not sit behind earlier pipelined answers.
        self.flush().await?;
        let mut exchange = Exchange::start(&self.rt, &self.shared, req);
        let mut pump = Pump {
            first,
            continued: !expect_continue,
            ..Pump::default()
        };
        let answer = poll_fn(|cx| {
            if let Poll::Ready(answer) = exchange.poll_answer(cx) {
                return Poll::Ready(answer);
            }
            if !pump.done && self.poll_pump(cx, &pipe, &mut pump).is_ready() {
                pump.done = true;
            }
            Poll::Pending
        })
        .await;
        self.wall = self.rt.wall();
        if let Some(reason) = pump.dead {
            return Err(Stop(reason));
        }
        let (resp, mut done) = self.answered(answer);
        if let Some(e) = pump.error {
            self.codec.close_after_response();
            self.linger = true;
            done.set_status(e.status());
            return Ok((status_response(e.status()), done, None));
        }
        // The final response goes out next: no `100 Continue` may follow it.
        pump.continued = true;
        // Boxed: rare, and large enough to widen every connection's future.
        let pumping = (!pump.done).then(|| Box::new(Pumping { pipe, pump }));
        Ok((resp, done, pumping))
    }

    /// Moves request body data from the socket into `pipe`; ready once the body has
    /// ended one way or another.
    pub(super) fn poll_pump(
        &mut self,
        cx: &mut Context<'_>,
        pipe: &Pipe,
        pump: &mut Pump,
    ) -> Poll<()> {
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

//! A connection's one timer. It is made only when the connection first has to wait
//! (most reads and writes find the socket ready, and a connection that never waits
//! never registers a timer), and it is only ever moved earlier: when it goes off
//! early, the caller re-checks its own deadlines and arms it again.

use std::future::Future;
use std::pin::Pin;
use std::task::Context;
use std::time::Instant;

use crate::runtime::{Runtime, Timer};

pub(crate) struct Alarm<R: Runtime> {
    rt: R,
    timer: Option<R::Timer>,
    /// When it goes off; `None` when disarmed (never armed, or gone off).
    armed: Option<Instant>,
}

impl<R: Runtime> Alarm<R> {
    pub(crate) fn new(rt: R) -> Self {
        Alarm {
            rt,
            timer: None,
            armed: None,
        }
    }

    /// The runtime's clock.
    pub(crate) fn now(&self) -> Instant {
        self.rt.now()
    }

    /// Makes sure the alarm goes off no later than `at`.
    pub(crate) fn arm(&mut self, at: Instant) {
        if self.armed.is_some_and(|armed| armed <= at) {
            return;
        }
        match &mut self.timer {
            Some(timer) => timer.reset(at),
            None => self.timer = Some(self.rt.timer(at)),
        }
        self.armed = Some(at);
    }

    /// True once the armed alarm has gone off; it is then disarmed.
    pub(crate) fn poll_fired(&mut self, cx: &mut Context<'_>) -> bool {
        let (Some(timer), Some(_)) = (&mut self.timer, self.armed) else {
            return false;
        };
        if Pin::new(timer).poll(cx).is_ready() {
            self.armed = None;
            return true;
        }
        false
    }
}

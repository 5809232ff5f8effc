//! A connection's one timer. It is made only when the connection first has to wait
//! (most reads and writes find the socket ready, and a connection that never waits
//! never registers a timer), and it is only ever moved earlier: when it goes off
//! early, the caller re-checks its own deadlines and arms it again.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

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

/// The deadline passed before the operation was ready.
#[derive(Debug)]
pub(crate) struct TimedOut;

/// Polls `op` until it is ready, giving up after `limit`. Most socket operations are
/// ready at once, so the alarm is armed (and the clock read) only once `op` waits.
// Not `async fn`s themselves: a layer of future around `wait` would be carried in every
// connection's state.
pub(crate) fn within<'a, R: Runtime, T: 'a, F>(
    alarm: &'a mut Alarm<R>,
    limit: Duration,
    op: F,
) -> impl Future<Output = Result<T, TimedOut>> + 'a
where
    F: FnMut(&mut Context<'_>) -> Poll<T> + 'a,
{
    wait(alarm, Err(limit), op)
}

/// Polls `op` until it is ready, giving up at `deadline`.
pub(crate) fn until<'a, R: Runtime, T: 'a, F>(
    alarm: &'a mut Alarm<R>,
    deadline: Instant,
    op: F,
) -> impl Future<Output = Result<T, TimedOut>> + 'a
where
    F: FnMut(&mut Context<'_>) -> Poll<T> + 'a,
{
    wait(alarm, Ok(deadline), op)
}

/// `deadline`: fixed (`Ok`), or this long after the first wait (`Err`).
async fn wait<R: Runtime, T>(
    alarm: &mut Alarm<R>,
    deadline: Result<Instant, Duration>,
    mut op: impl FnMut(&mut Context<'_>) -> Poll<T>,
) -> Result<T, TimedOut> {
    let mut at = deadline.ok();
    poll_fn(|cx| {
        if let Poll::Ready(v) = op(cx) {
            return Poll::Ready(Ok(v));
        }
        let at = *at.get_or_insert_with(|| alarm.now() + deadline.err().unwrap_or_default());
        // The alarm may go off early, armed for an earlier deadline: arm it again.
        loop {
            alarm.arm(at);
            if !alarm.poll_fired(cx) {
                return Poll::Pending;
            }
            if alarm.now() >= at {
                return Poll::Ready(Err(TimedOut));
            }
        }
    })
    .await
}

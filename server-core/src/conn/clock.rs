//! The read-side deadlines of a connection: header timeout, keep-alive idle timeout,
//! body inactivity, and the slow-client (minimum rate) guard.

use std::time::{Duration, Instant};

use crate::listener::Limits;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    /// No byte of the next request yet.
    AwaitHead,
    /// Part of a request head has arrived.
    Head,
    /// The head is in; the body is being read.
    Body,
}

/// The peer was too slow or too quiet: the connection ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Expired {
    /// A request (or, on a fresh connection, its first byte) took over `request_timeout`.
    Request,
    /// No next request within `keep_alive_timeout`.
    KeepAlive,
    /// Fewer than `min_bytes_per_second` on average.
    TooSlow,
}

/// Tracks what the next read may wait for. Deadlines that start "when we next wait"
/// are resolved lazily in [`wake_at`](Self::wake_at), so that a pipelined batch costs
/// one clock read instead of several per request.
#[derive(Debug)]
pub(crate) struct ReadClock {
    stage: Stage,
    /// `None` until the next wait fixes it.
    deadline: Option<Instant>,
    /// On a fresh connection `request_timeout` runs from the accept, not the first byte.
    fresh: bool,
    started: Option<Instant>,
    bytes: u64,
    next_check: Option<Instant>,
    request_timeout: Duration,
    keep_alive_timeout: Duration,
    min_bytes_per_second: u64,
    rate_check_interval: Duration,
    hibernate_after: Option<Duration>,
    /// When an idle connection gives its buffers back; `None` once done, or not idle.
    hibernate_at: Option<Instant>,
    hibernated: bool,
}

impl ReadClock {
    /// A connection accepted at `now`.
    pub(crate) fn fresh(now: Instant, l: &Limits) -> Self {
        ReadClock {
            stage: Stage::AwaitHead,
            deadline: Some(now + l.request_timeout),
            fresh: true,
            started: None,
            bytes: 0,
            next_check: None,
            request_timeout: l.request_timeout,
            keep_alive_timeout: l.keep_alive_timeout,
            min_bytes_per_second: l.min_bytes_per_second,
            rate_check_interval: l.rate_check_interval,
            hibernate_after: l.hibernate_after,
            hibernate_at: None,
            hibernated: false,
        }
    }

    /// A response was just completed: wait for the next request.
    pub(crate) fn await_next(&mut self) {
        self.stage = Stage::AwaitHead;
        self.deadline = None;
        self.fresh = false;
        self.started = None;
        self.bytes = 0;
        self.next_check = None;
        self.hibernate_at = None;
        self.hibernated = false;
    }

    /// True between requests, before any byte of the next one.
    pub(crate) fn awaiting_head(&self) -> bool {
        self.stage == Stage::AwaitHead
    }

    /// The head is complete; the body (if any) comes next.
    pub(crate) fn body(&mut self) {
        self.stage = Stage::Body;
        self.deadline = None;
    }

    fn start(&mut self, now: Instant) {
        self.started = Some(now);
        if self.min_bytes_per_second > 0 {
            self.next_check = Some(now + self.rate_check_interval);
        }
    }

    /// `n` bytes arrived. The deadlines they move, and the start of the rate check,
    /// are fixed at the next wait: a request that never waits never reads the clock.
    pub(crate) fn on_bytes(&mut self, n: usize) {
        self.bytes += n as u64;
        self.hibernate_at = None;
        match self.stage {
            Stage::AwaitHead => {
                self.stage = Stage::Head;
                if !self.fresh {
                    self.deadline = None;
                }
            }
            Stage::Head => {}
            // The body has no overall deadline, only one for silence.
            Stage::Body => self.deadline = None,
        }
    }

    /// When the timer must wake the connection, for a wait starting at `now`.
    pub(crate) fn wake_at(&mut self, now: Instant) -> Instant {
        if self.stage != Stage::AwaitHead && self.started.is_none() {
            self.start(now);
        }
        let deadline = *self.deadline.get_or_insert_with(|| match self.stage {
            Stage::AwaitHead => now + self.keep_alive_timeout,
            Stage::Head | Stage::Body => now + self.request_timeout,
        });
        if self.stage == Stage::AwaitHead && !self.hibernated && self.hibernate_at.is_none() {
            self.hibernate_at = self.hibernate_after.map(|h| now + h);
        }
        [self.next_check, self.hibernate_at]
            .into_iter()
            .flatten()
            .fold(deadline, Instant::min)
    }

    /// True once, when an idle connection has waited `hibernate_after`.
    pub(crate) fn take_hibernate(&mut self, now: Instant) -> bool {
        if self.hibernate_at.is_some_and(|at| now >= at) {
            self.hibernate_at = None;
            self.hibernated = true;
            return true;
        }
        false
    }

    /// The timer fired at `now` (possibly early): a deadline passed, or it is time for
    /// a rate check, or nothing is due yet.
    pub(crate) fn on_timer(&mut self, now: Instant) -> Result<(), Expired> {
        if self.deadline.is_some_and(|d| now >= d) {
            return Err(match self.stage {
                Stage::AwaitHead if !self.fresh => Expired::KeepAlive,
                _ => Expired::Request,
            });
        }
        if let (Some(check), Some(started)) = (self.next_check, self.started) {
            if now >= check {
                let owed =
                    self.min_bytes_per_second as f64 * now.duration_since(started).as_secs_f64();
                if (self.bytes as f64) < owed {
                    return Err(Expired::TooSlow);
                }
                self.next_check = Some(check + self.rate_check_interval);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(min_bps: u64) -> Limits {
        Limits {
            min_bytes_per_second: min_bps,
            ..Limits::for_tests()
        }
    }

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn fresh_connection_has_request_timeout_from_accept() {
        let t0 = Instant::now();
        let mut c = ReadClock::fresh(t0, &limits(0));
        assert_eq!(c.wake_at(t0), t0 + 30 * S);
        c.on_bytes(10);
        assert_eq!(c.wake_at(t0 + 20 * S), t0 + 30 * S);
        assert_eq!(c.on_timer(t0 + 30 * S), Err(Expired::Request));
    }

    #[test]
    fn kept_alive_connection_idles_then_gets_request_timeout() {
        let t0 = Instant::now();
        let mut c = ReadClock::fresh(t0, &limits(0));
        c.await_next();
        assert_eq!(c.wake_at(t0), t0 + 60 * S);
        assert_eq!(
            c.wake_at(t0 + 5 * S),
            t0 + 60 * S,
            "fixed by the first wait"
        );
        c.on_bytes(1);
        assert_eq!(c.wake_at(t0 + 50 * S), t0 + 80 * S);
    }

    #[test]
    fn body_deadline_slides_with_each_byte() {
        let t0 = Instant::now();
        let mut c = ReadClock::fresh(t0, &limits(0));
        c.body();
        assert_eq!(c.wake_at(t0), t0 + 30 * S);
        c.on_bytes(1);
        c.on_bytes(1);
        assert_eq!(c.wake_at(t0 + 35 * S), t0 + 65 * S);
    }

    #[test]
    fn early_timer_fire_is_harmless() {
        let t0 = Instant::now();
        let mut c = ReadClock::fresh(t0, &limits(0));
        c.await_next();
        c.wake_at(t0);
        assert_eq!(c.on_timer(t0 + S), Ok(()));
        assert_eq!(c.on_timer(t0 + 60 * S), Err(Expired::KeepAlive));
    }

    #[test]
    fn body_started_by_a_pipelined_head_is_rate_checked() {
        let t0 = Instant::now();
        let mut c = ReadClock::fresh(t0, &limits(100));
        c.await_next();
        c.body();
        assert_eq!(c.wake_at(t0), t0 + S);
        assert_eq!(c.on_timer(t0 + S), Err(Expired::TooSlow));
    }

    #[test]
    fn idle_connection_hibernates_once_then_waits_for_its_deadline() {
        let t0 = Instant::now();
        let mut l = limits(0);
        l.hibernate_after = Some(5 * S);
        let mut c = ReadClock::fresh(t0, &l);
        c.await_next();
        assert_eq!(c.wake_at(t0), t0 + 5 * S);
        assert!(!c.take_hibernate(t0 + 4 * S));
        assert!(c.take_hibernate(t0 + 5 * S));
        assert!(!c.take_hibernate(t0 + 6 * S), "only once per idle period");
        assert_eq!(c.wake_at(t0 + 5 * S), t0 + 60 * S);
        c.on_bytes(1);
        c.await_next();
        assert_eq!(
            c.wake_at(t0 + 8 * S),
            t0 + 13 * S,
            "again after the next request"
        );
    }

    #[test]
    fn a_request_in_progress_does_not_hibernate() {
        let t0 = Instant::now();
        let mut l = limits(0);
        l.hibernate_after = Some(S);
        let mut c = ReadClock::fresh(t0, &l);
        c.on_bytes(1);
        assert_eq!(c.wake_at(t0), t0 + 30 * S);
        assert!(!c.take_hibernate(t0 + 2 * S));
    }

    #[test]
    fn slow_peer_is_cut_at_a_rate_check() {
        let t0 = Instant::now();
        let mut c = ReadClock::fresh(t0, &limits(100));
        c.on_bytes(150);
        assert_eq!(c.wake_at(t0), t0 + S);
        assert_eq!(c.on_timer(t0 + S), Ok(()));
        assert_eq!(c.wake_at(t0 + S), t0 + 2 * S);
        c.on_bytes(10);
        assert_eq!(c.on_timer(t0 + 2 * S), Err(Expired::TooSlow));
    }

    #[test]
    fn no_rate_check_while_idle_or_when_off() {
        let t0 = Instant::now();
        let mut c = ReadClock::fresh(t0, &limits(100));
        assert_eq!(c.wake_at(t0), t0 + 30 * S);
        let mut off = ReadClock::fresh(t0, &limits(0));
        off.on_bytes(1);
        assert_eq!(off.wake_at(t0), t0 + 30 * S);
        c.await_next();
        assert_eq!(c.wake_at(t0), t0 + 60 * S);
    }
}

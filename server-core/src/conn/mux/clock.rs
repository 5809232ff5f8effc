//! The read-side deadlines of a multiplexed connection (HTTP/2, HTTP/3), from the
//! options HTTP/1.1 uses (`request_timeout`, `keep_alive_timeout`,
//! `min_bytes_per_second`), applied to what the connection is doing rather than to one
//! request at a time:
//!
//! - until its first request, a fresh connection has `request_timeout` from the
//!   accept (a client that opens a connection and sends nothing, or only a preface);
//! - with no stream, `keep_alive_timeout` from when the last one ended;
//! - a header block begun and not finished (HEADERS waiting for its CONTINUATIONs, a
//!   request stream's HEADERS frame partly received) has `request_timeout`;
//! - while some stream waits for request bytes from the peer, the connection may be
//!   silent no longer than `request_timeout`, and must deliver `min_bytes_per_second`
//!   on average, checked every `rate_check_interval` (the slow-client guard). A stream
//!   whose handler has not asked for more is not waiting on the peer: flow control
//!   holds the peer back, so its silence is ours.
//!
//! Streams whose handlers are still answering have no read deadline, as on HTTP/1.1.
//! And, with `hibernate_after`, a connection idle that long gives its buffers back,
//! once per idle stretch.

use std::time::{Duration, Instant};

use crate::conn::reason::Reason;
use crate::listener::Limits;

/// What the connection is doing as it is about to wait.
#[derive(Clone, Copy, Debug, Default)]
pub(in crate::conn) struct Activity {
    /// No stream is open.
    pub idle: bool,
    /// A header block is partly received.
    pub head: bool,
    /// Some stream waits for request bytes from the peer.
    pub receiving: bool,
}

pub(in crate::conn) struct RecvClock {
    request_timeout: Duration,
    keep_alive_timeout: Duration,
    min_bytes_per_second: u64,
    rate_check_interval: Duration,
    hibernate_after: Option<Duration>,
    /// The current idle stretch has hibernated.
    hibernated: bool,
    /// Until the first request: `request_timeout` from the accept.
    fresh_until: Option<Instant>,
    idle_since: Option<Instant>,
    head_since: Option<Instant>,
    watch: Option<Watch>,
    /// Bytes read from the peer, ever.
    received: u64,
}

/// A stretch of time during which the peer owes request bytes.
struct Watch {
    started: Instant,
    received_at_start: u64,
    /// `received` when last looked at, and when that changed.
    seen: u64,
    last_byte: Instant,
    next_check: Option<Instant>,
}

impl RecvClock {
    /// A connection accepted at `accepted`.
    pub(in crate::conn) fn new(accepted: Instant, l: &Limits) -> Self {
        RecvClock {
            request_timeout: l.request_timeout,
            keep_alive_timeout: l.keep_alive_timeout,
            min_bytes_per_second: l.min_bytes_per_second,
            rate_check_interval: l.rate_check_interval,
            hibernate_after: l.hibernate_after,
            hibernated: false,
            fresh_until: Some(accepted + l.request_timeout),
            idle_since: None,
            head_since: None,
            watch: None,
            received: 0,
        }
    }

    /// `n` bytes were read. Only counted here: the clock is read at the next wait.
    pub(in crate::conn) fn on_bytes(&mut self, n: usize) {
        self.received += n as u64;
    }

    /// A request has arrived: the connection is no longer fresh, and its idle stretch
    /// (if any) is over, even when the request ends before the clock is next polled.
    pub(in crate::conn) fn on_request(&mut self) {
        self.fresh_until = None;
        self.idle_since = None;
        self.hibernated = false;
    }

    /// True once per idle stretch, when it has lasted `hibernate_after`: time for the
    /// connection to give its buffers back. Call after [`poll`](Self::poll).
    pub(in crate::conn) fn take_hibernate(&mut self, now: Instant) -> bool {
        let due = self.hibernate_at().is_some_and(|at| now >= at);
        self.hibernated |= due;
        due
    }

    fn hibernate_at(&self) -> Option<Instant> {
        match (self.idle_since, self.hibernate_after) {
            (Some(idle), Some(after)) if !self.hibernated => Some(idle + after),
            _ => None,
        }
    }

    /// Brings the clock up to `now` given what the connection is doing: the reason to
    /// end it if a deadline has passed, or else when to look again (`None`: nothing to
    /// wait for).
    pub(in crate::conn) fn poll(
        &mut self,
        now: Instant,
        a: Activity,
    ) -> Result<Option<Instant>, Reason> {
        if !a.idle {
            self.hibernated = false;
        }
        since(&mut self.idle_since, a.idle, now);
        since(&mut self.head_since, a.head, now);
        let hibernate_at = self.hibernate_at();
        if !a.receiving {
            self.watch = None;
        }
        let received = self.received;
        let watch = a.receiving.then(|| {
            let w = self.watch.get_or_insert_with(|| Watch {
                started: now,
                received_at_start: received,
                seen: received,
                last_byte: now,
                next_check: (self.min_bytes_per_second > 0).then(|| now + self.rate_check_interval),
            });
            if w.seen != received {
                w.seen = received;
                w.last_byte = now;
            }
            &mut *w
        });

        let idle = self
            .fresh_until
            .is_none()
            .then_some(self.idle_since)
            .flatten();
        let deadlines = [
            (self.fresh_until, Reason::RequestTimeout),
            (
                idle.map(|t| t + self.keep_alive_timeout),
                Reason::KeepAliveTimeout,
            ),
            (
                self.head_since.map(|t| t + self.request_timeout),
                Reason::RequestTimeout,
            ),
            (
                watch.as_ref().map(|w| w.last_byte + self.request_timeout),
                Reason::RequestTimeout,
            ),
        ];
        let mut next = hibernate_at;
        for (at, reason) in deadlines {
            let Some(at) = at else { continue };
            if now >= at {
                return Err(reason);
            }
            next = Some(next.map_or(at, |n| n.min(at)));
        }
        if let Some(w) = watch {
            if let Some(check) = w.next_check {
                if now >= check {
                    let owed = self.min_bytes_per_second as f64
                        * now.duration_since(w.started).as_secs_f64();
                    if ((received - w.received_at_start) as f64) < owed {
                        return Err(Reason::SlowClient);
                    }
                    w.next_check = Some(check + self.rate_check_interval);
                }
                let check = w.next_check.unwrap_or(check);
                next = Some(next.map_or(check, |n| n.min(check)));
            }
        }
        Ok(next)
    }
}

/// Keeps `slot` at the start of the current stretch of `on`, or clears it.
fn since(slot: &mut Option<Instant>, on: bool, now: Instant) {
    if !on {
        *slot = None;
    } else if slot.is_none() {
        *slot = Some(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    fn limits(min_bps: u64) -> Limits {
        let mut l = Limits::for_tests();
        l.request_timeout = 10 * S;
        l.keep_alive_timeout = 60 * S;
        l.min_bytes_per_second = min_bps;
        l.rate_check_interval = S;
        l
    }

    const IDLE: Activity = Activity {
        idle: true,
        head: false,
        receiving: false,
    };
    const BUSY: Activity = Activity {
        idle: false,
        head: false,
        receiving: false,
    };
    const RECEIVING: Activity = Activity {
        idle: false,
        head: false,
        receiving: true,
    };

    #[test]
    fn a_fresh_connection_has_request_timeout_then_keep_alive_once_served() {
        let t0 = Instant::now();
        let mut c = RecvClock::new(t0, &limits(0));
        assert_eq!(c.poll(t0 + S, IDLE), Ok(Some(t0 + 10 * S)));
        assert_eq!(c.poll(t0 + 10 * S, IDLE), Err(Reason::RequestTimeout));

        let mut c = RecvClock::new(t0, &limits(0));
        c.on_request();
        assert_eq!(c.poll(t0 + S, BUSY), Ok(None));
        assert_eq!(c.poll(t0 + 2 * S, IDLE), Ok(Some(t0 + 62 * S)));
        assert_eq!(c.poll(t0 + 61 * S, IDLE), Ok(Some(t0 + 62 * S)));
        assert_eq!(c.poll(t0 + 62 * S, IDLE), Err(Reason::KeepAliveTimeout));
    }

    #[test]
    fn a_request_served_between_polls_restarts_the_idle_stretch() {
        let t0 = Instant::now();
        let mut c = RecvClock::new(t0, &limits(0));
        c.on_request();
        assert_eq!(c.poll(t0 + S, IDLE), Ok(Some(t0 + 61 * S)));
        // Answered at once: the clock never saw the stream open.
        c.on_request();
        assert_eq!(c.poll(t0 + 50 * S, IDLE), Ok(Some(t0 + 110 * S)));
    }

    #[test]
    fn an_unfinished_header_block_has_request_timeout() {
        let t0 = Instant::now();
        let mut c = RecvClock::new(t0, &limits(0));
        c.on_request();
        let head = Activity { head: true, ..BUSY };
        assert_eq!(c.poll(t0 + S, head), Ok(Some(t0 + 11 * S)));
        c.on_bytes(100);
        assert_eq!(
            c.poll(t0 + 5 * S, head),
            Ok(Some(t0 + 11 * S)),
            "bytes do not extend it"
        );
        assert_eq!(c.poll(t0 + 11 * S, head), Err(Reason::RequestTimeout));
    }

    #[test]
    fn a_receiving_stream_may_be_silent_for_request_timeout_after_the_last_byte() {
        let t0 = Instant::now();
        let mut c = RecvClock::new(t0, &limits(0));
        c.on_request();
        assert_eq!(c.poll(t0, RECEIVING), Ok(Some(t0 + 10 * S)));
        c.on_bytes(1);
        assert_eq!(c.poll(t0 + 4 * S, RECEIVING), Ok(Some(t0 + 14 * S)));
        assert_eq!(c.poll(t0 + 14 * S, RECEIVING), Err(Reason::RequestTimeout));
        // Handlers answering, nobody waiting on the peer: no read deadline.
        let mut c = RecvClock::new(t0, &limits(0));
        c.on_request();
        assert_eq!(c.poll(t0 + 100 * S, BUSY), Ok(None));
    }

    #[test]
    fn an_idle_stretch_hibernates_once() {
        let t0 = Instant::now();
        let mut l = limits(0);
        l.hibernate_after = Some(5 * S);
        let mut c = RecvClock::new(t0, &l);
        c.on_request();
        assert_eq!(c.poll(t0, IDLE), Ok(Some(t0 + 5 * S)));
        assert!(!c.take_hibernate(t0 + 4 * S));
        assert!(c.take_hibernate(t0 + 5 * S));
        assert_eq!(c.poll(t0 + 5 * S, IDLE), Ok(Some(t0 + 60 * S)));
        assert!(!c.take_hibernate(t0 + 6 * S), "once per idle stretch");
        assert_eq!(c.poll(t0 + 7 * S, BUSY), Ok(None));
        assert_eq!(c.poll(t0 + 8 * S, IDLE), Ok(Some(t0 + 13 * S)));
        assert!(c.take_hibernate(t0 + 13 * S));
    }

    #[test]
    fn a_slow_sender_fails_the_rate_check_and_a_fast_one_does_not() {
        let t0 = Instant::now();
        let mut c = RecvClock::new(t0, &limits(100));
        c.on_request();
        assert_eq!(c.poll(t0, RECEIVING), Ok(Some(t0 + S)));
        c.on_bytes(150);
        assert_eq!(c.poll(t0 + S, RECEIVING), Ok(Some(t0 + 2 * S)));
        c.on_bytes(40);
        assert_eq!(c.poll(t0 + 2 * S, RECEIVING), Err(Reason::SlowClient));

        let mut c = RecvClock::new(t0, &limits(100));
        c.on_request();
        for i in 0..5 {
            assert!(c.poll(t0 + i * S, RECEIVING).is_ok());
            c.on_bytes(100);
        }
        // A new stretch starts its own average.
        assert_eq!(c.poll(t0 + 5 * S, BUSY), Ok(None));
        assert_eq!(c.poll(t0 + 9 * S, RECEIVING), Ok(Some(t0 + 10 * S)));
    }
}

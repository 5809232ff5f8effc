//! Listener counters and the connection slot that keeps `active_clients` exact.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

/// A snapshot of a listener's counters, as `info()` returns it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Info {
    /// Connections open now.
    pub active_clients: usize,
    /// The configured connection cap.
    pub max_clients: usize,
    /// Requests whose head parsed, since start (404 and 413 answers included).
    pub requests_served: u64,
    /// Connections closed at accept because `max_clients` was reached.
    pub rejected: u64,
    /// The configured in-flight h2/h3 request cap (`None` = no cap).
    pub max_concurrent_requests: Option<usize>,
    /// Streams refused because `max_concurrent_requests` was reached.
    pub throttled: u64,
}

/// The live counters of one listener.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    active: AtomicUsize,
    /// Connections that do not watch for drain notices (`graceful_drain: false`).
    pub(crate) unwatched: AtomicUsize,
    /// Notified whenever a connection ends, for drain to re-check the count.
    pub(crate) conn_ended: event_listener::Event,
    pub(crate) served: AtomicU64,
    pub(crate) rejected: AtomicU64,
    pub(crate) throttled: AtomicU64,
    /// Multiplexed requests in flight (h2, h3), against `max_concurrent_requests`.
    in_flight: AtomicUsize,
}

impl Counters {
    pub(crate) fn active(&self) -> usize {
        self.active.load(Ordering::Acquire)
    }
}

/// One unit of `active_clients`, held by a connection for its whole life. The count is
/// given back in `Drop`, which runs on every way a connection task can end (return,
/// panic unwinding, or the task being dropped), so the counter cannot drift.
#[derive(Debug)]
pub(crate) struct ConnSlot {
    counters: Arc<Counters>,
}

impl ConnSlot {
    /// Takes a slot unless `max` are already taken.
    pub(crate) fn try_acquire(counters: &Arc<Counters>, max: usize) -> Option<ConnSlot> {
        counters
            .active
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()
            .map(|_| ConnSlot {
                counters: counters.clone(),
            })
    }
}

impl Drop for ConnSlot {
    fn drop(&mut self) {
        self.counters.active.fetch_sub(1, Ordering::AcqRel);
        self.counters.conn_ended.notify(usize::MAX);
    }
}

/// One in-flight multiplexed request (h2, h3), held from its head until its response
/// has ended, so `max_concurrent_requests` counts exactly like `active_clients`.
#[derive(Debug)]
pub(crate) struct RequestSlot {
    counters: Arc<Counters>,
}

impl RequestSlot {
    /// Takes a slot unless `max` are taken (`None`: no cap); a refusal counts in
    /// `throttled`.
    pub(crate) fn try_acquire(counters: &Arc<Counters>, max: Option<usize>) -> Option<Self> {
        let max = max.unwrap_or(usize::MAX);
        let taken = counters
            .in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            });
        if taken.is_err() {
            counters.throttled.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        Some(RequestSlot {
            counters: counters.clone(),
        })
    }
}

impl Drop for RequestSlot {
    fn drop(&mut self) {
        self.counters.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_stop_at_the_cap_and_come_back_on_drop() {
        let c = Arc::new(Counters::default());
        let a = ConnSlot::try_acquire(&c, 2).expect("first");
        let b = ConnSlot::try_acquire(&c, 2).expect("second");
        assert!(ConnSlot::try_acquire(&c, 2).is_none());
        assert_eq!(c.active(), 2);
        drop(a);
        assert_eq!(c.active(), 1);
        let r = std::panic::catch_unwind(move || {
            let _held = b;
            panic!("handler blew up");
        });
        assert!(r.is_err());
        assert_eq!(c.active(), 0);
    }

    #[test]
    fn request_slots_stop_at_the_cap_count_refusals_and_come_back() {
        let c = Arc::new(Counters::default());
        let a = RequestSlot::try_acquire(&c, Some(2)).expect("first");
        let _b = RequestSlot::try_acquire(&c, Some(2)).expect("second");
        assert!(RequestSlot::try_acquire(&c, Some(2)).is_none());
        assert!(RequestSlot::try_acquire(&c, Some(2)).is_none());
        assert_eq!(c.throttled.load(Ordering::Relaxed), 2);
        drop(a);
        let _c = RequestSlot::try_acquire(&c, Some(2)).expect("freed by the drop");
        assert_eq!(c.throttled.load(Ordering::Relaxed), 2);
        let uncapped: Vec<_> = (0..100)
            .map(|_| RequestSlot::try_acquire(&c, None).expect("no cap"))
            .collect();
        assert_eq!(uncapped.len(), 100);
    }

    #[test]
    fn concurrent_churn_returns_to_zero() {
        let c = Arc::new(Counters::default());
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let c = c.clone();
                std::thread::spawn(move || {
                    for _ in 0..10_000 {
                        if let Some(s) = ConnSlot::try_acquire(&c, 4) {
                            assert!(c.active() <= 4);
                            drop(s);
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("no panic");
        }
        assert_eq!(c.active(), 0);
    }
}

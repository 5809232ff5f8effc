//! Virtual time: a clock that moves only when the simulation is told to move it, and
//! the timers armed on it.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant, SystemTime};

use crate::runtime::Timer;

/// What the clock shows on the wall at virtual time zero (2023-11-14T22:13:20Z), so
/// that `date` headers are the same on every run.
const WALL_BASE_SECS: u64 = 1_700_000_000;

/// The virtual clock and its timer heap.
pub(super) struct Clock {
    base: Instant,
    wall_base: SystemTime,
    state: Mutex<State>,
}

struct State {
    elapsed: Duration,
    /// Every arming of every timer, earliest first. Entries of timers since dropped or
    /// re-armed stay until they reach the top, where they are skipped.
    heap: BinaryHeap<Reverse<Entry>>,
    next_seq: u64,
}

/// One arming of a timer; current while the timer's slot still has its `seq`.
struct Entry {
    at: Instant,
    seq: u64,
    slot: Weak<Mutex<Slot>>,
}

impl Entry {
    fn is_current(&self) -> bool {
        self.slot
            .upgrade()
            .is_some_and(|slot| lock(&slot).seq == self.seq)
    }
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Entry {}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Entry {
    /// By deadline, then by arming order: timers due at the same instant fire in the
    /// order they were armed, on every run.
    fn cmp(&self, other: &Self) -> Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// A timer's shared state: its deadline, which arming that is, and who waits on it.
struct Slot {
    at: Instant,
    seq: u64,
    waker: Option<Waker>,
}

/// The simulation is single-threaded and a panicking test poisons nothing it reads
/// afterwards, so a poisoned lock is simply taken.
pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Clock {
    pub(super) fn new() -> Self {
        Clock {
            base: Instant::now(),
            wall_base: SystemTime::UNIX_EPOCH + Duration::from_secs(WALL_BASE_SECS),
            state: Mutex::new(State {
                elapsed: Duration::ZERO,
                heap: BinaryHeap::new(),
                next_seq: 0,
            }),
        }
    }

    pub(super) fn elapsed(&self) -> Duration {
        lock(&self.state).elapsed
    }

    pub(super) fn now(&self) -> Instant {
        self.base + self.elapsed()
    }

    pub(super) fn wall(&self) -> SystemTime {
        self.wall_base + self.elapsed()
    }

    /// Sets `slot` to fire at `at`, superseding its earlier arming.
    fn arm(&self, slot: &Arc<Mutex<Slot>>, at: Instant) {
        let mut state = lock(&self.state);
        let seq = state.next_seq;
        state.next_seq += 1;
        {
            let mut s = lock(slot);
            s.at = at;
            s.seq = seq;
        }
        state.heap.push(Reverse(Entry {
            at,
            seq,
            slot: Arc::downgrade(slot),
        }));
    }

    /// The earliest deadline of a live timer, if any is armed.
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        let mut state = lock(&self.state);
        while let Some(Reverse(top)) = state.heap.peek() {
            if top.is_current() {
                return Some(top.at);
            }
            state.heap.pop();
        }
        None
    }

    /// Moves the clock to `at` (never backwards) and returns the wakers of the timers
    /// now due, in firing order.
    pub(super) fn advance_to(&self, at: Instant) -> Vec<Waker> {
        let mut state = lock(&self.state);
        state.elapsed = state.elapsed.max(at.saturating_duration_since(self.base));
        let now = self.base + state.elapsed;
        let mut due = Vec::new();
        while state.heap.peek().is_some_and(|Reverse(top)| top.at <= now) {
            let Some(Reverse(entry)) = state.heap.pop() else {
                break;
            };
            if let Some(slot) = entry.slot.upgrade() {
                let mut slot = lock(&slot);
                if slot.seq == entry.seq {
                    due.extend(slot.waker.take());
                }
            }
        }
        due
    }
}

/// A one-shot timer on the virtual clock ([`Runtime::timer`](crate::runtime::Runtime::timer)
/// of [`Sim`](super::Sim)). It is ready once the simulation's clock has reached its
/// deadline.
pub struct SimTimer {
    clock: Arc<Clock>,
    slot: Arc<Mutex<Slot>>,
}

impl SimTimer {
    pub(super) fn new(clock: Arc<Clock>, at: Instant) -> Self {
        let slot = Arc::new(Mutex::new(Slot {
            at,
            seq: 0,
            waker: None,
        }));
        clock.arm(&slot, at);
        SimTimer { clock, slot }
    }

    /// When it fires.
    pub fn deadline(&self) -> Instant {
        lock(&self.slot).at
    }
}

impl Future for SimTimer {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // Clock before slot, the order `advance_to` takes them in: the clock cannot
        // move between the check and the registration.
        let state = lock(&self.clock.state);
        let mut slot = lock(&self.slot);
        if self.clock.base + state.elapsed >= slot.at {
            return Poll::Ready(());
        }
        slot.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl Timer for SimTimer {
    fn reset(&mut self, deadline: Instant) {
        self.clock.arm(&self.slot, deadline);
    }
}

impl std::fmt::Debug for SimTimer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let at = self.deadline().saturating_duration_since(self.clock.base);
        f.debug_struct("SimTimer").field("at", &at).finish()
    }
}

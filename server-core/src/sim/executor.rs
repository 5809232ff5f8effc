//! The simulation's executor: tasks polled one at a time on the caller's thread, and
//! the driving calls (`run_until_stalled`, `advance`, `block_on`) that move its clock.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant, SystemTime};

use super::clock::{lock, Clock, SimTimer};
use crate::runtime::Runtime;

/// Polls at one virtual instant after which the simulation is taken to be spinning
/// (tasks waking each other forever without time moving) and the test is failed,
/// rather than left to hang.
const MAX_POLLS_PER_INSTANT: usize = 1_000_000;

type BoxTask = Pin<Box<dyn Future<Output = ()> + Send>>;
type RunQueue = Mutex<VecDeque<Arc<Task>>>;

/// A deterministic runtime for tests: a single-threaded executor and a virtual clock.
///
/// Nothing runs until the test drives it, on its own thread: [`run_until_stalled`]
/// polls every woken task until none is left, [`advance`] moves the clock forward
/// firing the timers it passes, and [`block_on`] runs a future of the test's together
/// with the tasks, moving the clock straight to the next timer whenever everything
/// waits. A timeout therefore takes no real time, and happens at exactly the virtual
/// instant the code under test asked for, however loaded the machine is.
///
/// Clones share the executor and the clock. Tasks still pending when the test ends are
/// never polled again; they hold a clone themselves, so they are freed with the
/// process rather than with the last handle the test drops.
///
/// [`run_until_stalled`]: Sim::run_until_stalled
/// [`advance`]: Sim::advance
/// [`block_on`]: Sim::block_on
#[derive(Clone)]
pub struct Sim {
    pub(super) clock: Arc<Clock>,
    queue: Arc<RunQueue>,
}

impl Default for Sim {
    fn default() -> Self {
        Sim::new()
    }
}

impl Sim {
    /// A simulation at virtual time zero, with no tasks.
    pub fn new() -> Self {
        Sim {
            clock: Arc::new(Clock::new()),
            queue: Arc::default(),
        }
    }

    /// Virtual time since the simulation was created.
    pub fn elapsed(&self) -> Duration {
        self.clock.elapsed()
    }

    /// A timer firing `d` from now on the virtual clock.
    pub fn sleep(&self, d: Duration) -> SimTimer {
        SimTimer::new(self.clock.clone(), self.clock.now() + d)
    }

    /// Polls every runnable task, and those they wake, until none is runnable. The
    /// clock does not move.
    pub fn run_until_stalled(&self) {
        for _ in 0..MAX_POLLS_PER_INSTANT {
            let Some(task) = lock(&self.queue).pop_front() else {
                return;
            };
            task.run();
        }
        panic!(
            "sim livelock: tasks kept waking each other {MAX_POLLS_PER_INSTANT} times at \
             virtual time {:?}",
            self.elapsed()
        );
    }

    /// Runs what is runnable, then moves the clock forward by `d`, firing the timers
    /// it passes in deadline order and running the tasks they wake at each one's
    /// instant before moving on.
    pub fn advance(&self, d: Duration) {
        let target = self.clock.now() + d;
        self.run_until_stalled();
        while let Some(at) = self.clock.next_deadline().filter(|at| *at <= target) {
            self.fire(at);
        }
        self.fire(target);
    }

    /// Runs `fut` on this thread together with the spawned tasks until it completes.
    /// Whenever neither it nor any task can progress, the clock jumps to the next
    /// timer's deadline.
    ///
    /// # Panics
    ///
    /// When everything waits and no timer is armed: nothing could ever wake `fut`.
    pub fn block_on<F: Future>(&self, fut: F) -> F::Output {
        let mut fut = pin!(fut);
        let woken = Arc::new(Flag(AtomicBool::new(true)));
        let waker = Waker::from(woken.clone());
        let mut cx = Context::from_waker(&waker);
        loop {
            if woken.0.swap(false, Ordering::AcqRel) {
                if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
                    return out;
                }
            }
            self.run_until_stalled();
            if woken.0.load(Ordering::Acquire) {
                continue;
            }
            let Some(at) = self.clock.next_deadline() else {
                panic!(
                    "sim deadlock at virtual time {:?}: the future waits, no task is \
                     runnable and no timer is armed",
                    self.elapsed()
                );
            };
            self.fire(at);
        }
    }

    /// Moves the clock to `at`, wakes the timers due, and runs what they woke.
    fn fire(&self, at: Instant) {
        for waker in self.clock.advance_to(at) {
            waker.wake();
        }
        self.run_until_stalled();
    }
}

impl Runtime for Sim {
    type Timer = SimTimer;

    fn spawn<F>(&self, fut: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let task = Arc::new(Task {
            fut: Mutex::new(Some(Box::pin(fut))),
            queued: AtomicBool::new(true),
            queue: Arc::downgrade(&self.queue),
        });
        lock(&self.queue).push_back(task);
    }

    fn timer(&self, deadline: Instant) -> SimTimer {
        SimTimer::new(self.clock.clone(), deadline)
    }

    fn now(&self) -> Instant {
        self.clock.now()
    }

    fn wall(&self) -> SystemTime {
        self.clock.wall()
    }
}

impl std::fmt::Debug for Sim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sim")
            .field("elapsed", &self.elapsed())
            .field("runnable", &lock(&self.queue).len())
            .finish()
    }
}

/// A spawned future; its waker puts it back on the run queue.
struct Task {
    /// `None` once completed.
    fut: Mutex<Option<BoxTask>>,
    /// On the run queue already: a second wake adds nothing.
    queued: AtomicBool,
    queue: Weak<RunQueue>,
}

impl Task {
    fn run(self: Arc<Self>) {
        self.queued.store(false, Ordering::Release);
        let waker = Waker::from(self.clone());
        let mut cx = Context::from_waker(&waker);
        let mut fut = lock(&self.fut);
        if fut
            .as_mut()
            .is_some_and(|f| f.as_mut().poll(&mut cx).is_ready())
        {
            *fut = None;
        }
    }
}

impl Wake for Task {
    fn wake(self: Arc<Self>) {
        if self.queued.swap(true, Ordering::AcqRel) {
            return;
        }
        if let Some(queue) = self.queue.upgrade() {
            lock(&queue).push_back(self);
        }
    }
}

/// The waker of `block_on`'s own future.
struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::Release);
    }
}

//! Drain notices: how a listener tells its connections to wind down, and how it ends
//! those still alive at the deadline.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use event_listener::Event;

/// The lifecycle phase of a listener.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Serving; new connections are accepted.
    Accepting,
    /// `drain` is in progress: the listen socket is closed, connections are finishing.
    Draining,
}

/// What `drain` ended with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DrainOutcome {
    /// Every connection finished before the timeout.
    Drained,
    /// The timeout passed with `remaining` connections alive; they were ended.
    TimedOut {
        /// Connections still alive when the timeout fired.
        remaining: usize,
    },
}

const ACCEPTING: u8 = 0;
const DRAINING: u8 = 1;
const KILLING: u8 = 2;

/// Drain state shared by a listener and its connections.
#[derive(Debug, Default)]
pub(crate) struct Drain {
    phase: AtomicU8,
    /// Bumped by every notice (`notify_drain` or `drain`).
    notices: AtomicU64,
    deadline: Mutex<Option<Instant>>,
    event: Event,
}

impl Drain {
    pub(crate) fn status(&self) -> Status {
        match self.phase.load(Ordering::Acquire) {
            ACCEPTING => Status::Accepting,
            _ => Status::Draining,
        }
    }

    /// Sends a notice carrying `deadline` to every watching connection.
    pub(crate) fn notify(&self, deadline: Option<Instant>) {
        if let Ok(mut d) = self.deadline.lock() {
            *d = deadline;
        }
        self.notices.fetch_add(1, Ordering::AcqRel);
        self.event.notify(usize::MAX);
    }

    /// Enters the draining phase and sends the notice.
    pub(crate) fn start(&self, deadline: Instant) {
        self.phase.store(DRAINING, Ordering::Release);
        self.notify(Some(deadline));
    }

    /// Tells every watching connection to end now.
    pub(crate) fn kill(&self) {
        self.phase.store(KILLING, Ordering::Release);
        self.event.notify(usize::MAX);
    }

    /// The deadline of the latest notice, if it had one.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.deadline.lock().ok().and_then(|d| *d)
    }

    pub(crate) fn notices(&self) -> u64 {
        self.notices.load(Ordering::Acquire)
    }

    /// Waits for the next notice or kill.
    pub(crate) fn listen(&self) -> event_listener::EventListener {
        self.event.listen()
    }

    /// Whether responses should now close their connection.
    pub(crate) fn closing(&self) -> bool {
        self.phase.load(Ordering::Acquire) != ACCEPTING
    }

    /// Resolves when the connection must end: at once if a notice arrives while it is
    /// `idle` (between requests), or when drain kills what is left. A notice that finds
    /// it busy is recorded in `noticed`, so its response closes the connection.
    /// `seen` is the notice count when the connection was set up: a notice after that
    /// is for it, even one sent before this future is first polled.
    pub(crate) async fn watch(&self, idle: &AtomicBool, noticed: &AtomicBool, seen: u64) {
        let mut events = DrainEvents::since(seen);
        std::future::poll_fn(|cx| loop {
            match std::task::ready!(events.poll_event(self, cx)) {
                DrainEvent::Kill => return std::task::Poll::Ready(()),
                DrainEvent::Notice { .. } => {
                    noticed.store(true, Ordering::Release);
                    if idle.load(Ordering::Acquire) {
                        return std::task::Poll::Ready(());
                    }
                }
            }
        })
        .await
    }
}

/// What drain tells a connection, as an event its driver polls together with its
/// socket and timers: a multiplexed driver acts on a notice at once (HTTP/2 sends
/// GOAWAY, HTTP/3 its GOAWAY frame) and ends its streams on a kill.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DrainEvent {
    /// Wind down: finish what is in flight, take nothing new; the listener ends what
    /// is left at `deadline`, when there is one (`notify_drain` has none).
    Notice { deadline: Option<Instant> },
    /// The drain deadline passed: end now.
    Kill,
}

/// A connection's stream of [`DrainEvent`]s from one [`Drain`].
pub(crate) struct DrainEvents {
    seen: u64,
    killed: bool,
    wait: Option<event_listener::EventListener>,
    /// The waker `wait` is registered with. A connection polls its drain events on
    /// every wake-up; while this still wakes the polling task, a look at the counters
    /// is enough, and the listener (a lock on the event's list) is left alone.
    waker: Option<std::task::Waker>,
}

impl DrainEvents {
    /// Events after the `seen`-th notice.
    pub(crate) fn since(seen: u64) -> Self {
        DrainEvents {
            seen,
            killed: false,
            wait: None,
            waker: None,
        }
    }

    /// The next event of `drain`; each notice once, and the kill once.
    pub(crate) fn poll_event(
        &mut self,
        drain: &Drain,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<DrainEvent> {
        use std::future::Future;
        loop {
            // Listening first, so a notice sent between the checks still wakes us.
            let wait = self.wait.get_or_insert_with(|| drain.listen());
            let event = if !self.killed && drain.phase.load(Ordering::Acquire) == KILLING {
                self.killed = true;
                Some(DrainEvent::Kill)
            } else {
                let notices = drain.notices();
                (notices != self.seen).then(|| {
                    self.seen = notices;
                    DrainEvent::Notice {
                        deadline: drain.deadline(),
                    }
                })
            };
            if let Some(event) = event {
                // The listener may be spent on this event; a spent one would not wake
                // us for the next, so the next poll listens afresh.
                self.wait = None;
                self.waker = None;
                return std::task::Poll::Ready(event);
            }
            if self.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                // Not fired (the counters say so), and it wakes this task when it does.
                return std::task::Poll::Pending;
            }
            if std::pin::Pin::new(wait).poll(cx).is_pending() {
                self.waker = Some(cx.waker().clone());
                return std::task::Poll::Pending;
            }
            self.wait = None;
            self.waker = None;
        }
    }
}

/// One task's view of a listener's drain notices: ready once per notice sent after it
/// was made (loop handlers and upgraded sessions wait on it).
pub(crate) struct Notices {
    listener: Option<crate::ListenerRef>,
    events: DrainEvents,
}

impl Notices {
    pub(crate) fn new(listener: Option<crate::ListenerRef>) -> Self {
        let seen = listener.as_ref().map_or(0, |l| l.drain_state().notices());
        Notices {
            listener,
            events: DrainEvents::since(seen),
        }
    }

    /// Ready with the notice's deadline when a new notice has arrived; never ready
    /// without a listener.
    pub(crate) fn poll_notice(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Instant>> {
        let Some(listener) = &self.listener else {
            return std::task::Poll::Pending;
        };
        loop {
            match std::task::ready!(self.events.poll_event(listener.drain_state(), cx)) {
                DrainEvent::Notice { deadline } => return std::task::Poll::Ready(deadline),
                // The connection is being ended; its session learns that from its IO.
                DrainEvent::Kill => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_lite::future::{block_on, poll_once};
    use std::time::Duration;

    fn next(drain: &Drain, events: &mut DrainEvents) -> Option<DrainEvent> {
        block_on(poll_once(std::future::poll_fn(|cx| {
            events.poll_event(drain, cx)
        })))
    }

    #[test]
    fn notices_and_the_kill_arrive_as_events() {
        let drain = Drain::default();
        let mut events = DrainEvents::since(drain.notices());
        assert_eq!(next(&drain, &mut events), None, "nothing yet");
        drain.notify(None);
        assert_eq!(
            next(&drain, &mut events),
            Some(DrainEvent::Notice { deadline: None })
        );
        assert_eq!(next(&drain, &mut events), None, "each notice once");
        let deadline = Instant::now() + Duration::from_secs(5);
        drain.start(deadline);
        assert_eq!(
            next(&drain, &mut events),
            Some(DrainEvent::Notice {
                deadline: Some(deadline)
            })
        );
        drain.kill();
        assert_eq!(next(&drain, &mut events), Some(DrainEvent::Kill));
        assert_eq!(next(&drain, &mut events), None, "the kill once");
    }

    #[test]
    fn a_notice_sent_before_the_first_poll_is_not_lost() {
        let drain = Drain::default();
        let seen = drain.notices();
        drain.notify(None);
        let mut events = DrainEvents::since(seen);
        assert_eq!(
            next(&drain, &mut events),
            Some(DrainEvent::Notice { deadline: None })
        );
    }

    /// Counts its wake-ups.
    struct Count(std::sync::atomic::AtomicUsize);

    impl std::task::Wake for Count {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn every_notice_wakes_a_task_that_keeps_polling_with_one_waker() {
        let drain = Drain::default();
        let count = std::sync::Arc::new(Count(Default::default()));
        let waker = std::task::Waker::from(count.clone());
        let mut cx = std::task::Context::from_waker(&waker);
        let mut events = DrainEvents::since(drain.notices());
        let woken = || count.0.load(Ordering::SeqCst);
        for round in 1..=3 {
            assert!(events.poll_event(&drain, &mut cx).is_pending());
            assert!(events.poll_event(&drain, &mut cx).is_pending());
            drain.notify(None);
            assert_eq!(woken(), round, "notice {round} wakes the task");
            assert_eq!(
                events.poll_event(&drain, &mut cx),
                std::task::Poll::Ready(DrainEvent::Notice { deadline: None })
            );
        }
        assert!(events.poll_event(&drain, &mut cx).is_pending());
        drain.kill();
        assert_eq!(woken(), 4, "the kill wakes it too");
        assert_eq!(
            events.poll_event(&drain, &mut cx),
            std::task::Poll::Ready(DrainEvent::Kill)
        );
    }

    #[test]
    fn a_waiting_poller_is_woken_by_a_notice() {
        let drain = std::sync::Arc::new(Drain::default());
        let seen = drain.notices();
        let notifier = drain.clone();
        let t = std::thread::spawn(move || notifier.notify(None));
        let mut events = DrainEvents::since(seen);
        let event = block_on(std::future::poll_fn(|cx| events.poll_event(&drain, cx)));
        t.join().expect("notifier");
        assert_eq!(event, DrainEvent::Notice { deadline: None });
    }
}

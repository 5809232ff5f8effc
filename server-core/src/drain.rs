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
    pub(crate) async fn watch(&self, idle: &AtomicBool, noticed: &AtomicBool, mut seen: u64) {
        loop {
            let wake = self.event.listen();
            if self.phase.load(Ordering::Acquire) == KILLING {
                return;
            }
            let now = self.notices();
            if now != seen {
                seen = now;
                noticed.store(true, Ordering::Release);
            }
            if noticed.load(Ordering::Acquire) && idle.load(Ordering::Acquire) {
                return;
            }
            wake.await;
        }
    }
}

/// One task's view of a listener's drain notices: ready once per notice sent after it
/// was made (loop handlers and upgraded sessions wait on it).
pub(crate) struct Notices {
    listener: Option<crate::ListenerRef>,
    seen: u64,
    wait: Option<event_listener::EventListener>,
}

impl Notices {
    pub(crate) fn new(listener: Option<crate::ListenerRef>) -> Self {
        let seen = listener.as_ref().map_or(0, |l| l.drain_state().notices());
        Notices {
            listener,
            seen,
            wait: None,
        }
    }

    /// Ready with the notice's deadline when a new notice has arrived; never ready
    /// without a listener.
    pub(crate) fn poll_notice(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Instant>> {
        use std::future::Future;
        let Some(listener) = &self.listener else {
            return std::task::Poll::Pending;
        };
        let drain = listener.drain_state();
        loop {
            let notices = drain.notices();
            if notices != self.seen {
                self.seen = notices;
                self.wait = None;
                return std::task::Poll::Ready(drain.deadline());
            }
            let wait = self.wait.get_or_insert_with(|| drain.listen());
            if std::pin::Pin::new(wait).poll(cx).is_pending() {
                return std::task::Poll::Pending;
            }
            self.wait = None;
        }
    }
}

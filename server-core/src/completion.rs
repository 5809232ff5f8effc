//! Watching a response to its end: what a middleware that times requests (or counts
//! bytes, or releases a resource) needs, since the handler's answer is only the head
//! of a response whose body may stream for long after.

use std::sync::{Arc, Mutex};

use http::StatusCode;

use crate::panic::message;
use crate::request::Response;

/// How a response ended, as told to a watcher set with [`on_complete`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Completion {
    /// The status sent (the server's own where it replaced the handler's, such as the
    /// `400` for a request body that broke the protocol).
    pub status: StatusCode,
    /// False when the response was cut short: its stream failed, the peer left, or
    /// the response was dropped unsent.
    pub complete: bool,
}

type Watcher = Box<dyn FnOnce(Completion) + Send>;

/// The watchers of one response, kept in its extensions until the exchange ends.
#[derive(Clone, Default)]
pub(crate) struct Watchers(Arc<Pending>);

#[derive(Default)]
struct Pending(Mutex<Vec<(StatusCode, Watcher)>>);

impl Watchers {
    /// Tells every watcher how the response ended.
    pub(crate) fn fire(self, end: Completion) {
        self.0.fire(|_| end);
    }
}

impl Pending {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(StatusCode, Watcher)>> {
        // Watchers run outside the lock: a panic cannot leave the list half-changed.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn fire(&self, end: impl Fn(StatusCode) -> Completion) {
        let watchers = std::mem::take(&mut *self.lock());
        for (status, watch) in watchers {
            let done = end(status);
            if let Err(payload) =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| watch(done)))
            {
                tracing::error!(
                    target: "roadrunner",
                    event = "request.exception",
                    panic = message(&*payload),
                    "a completion watcher panicked",
                );
            }
        }
    }
}

/// A response dropped before the exchange took it (replaced by a middleware further
/// out) still tells its watchers, as cut short.
impl Drop for Pending {
    fn drop(&mut self) {
        self.fire(|status| Completion {
            status,
            complete: false,
        });
    }
}

/// Calls `watch` once, when `resp` has ended: its last byte written (a streamed body
/// included), or the response cut short. A middleware that measures a request from
/// start to end sets one on the response `next` gave it:
///
/// ```
/// use std::time::Instant;
/// use roadrunner_core::{on_complete, Next, Options, Request, Routes};
///
/// let mut opts = Options::new(0, Routes::handler(|_req: Request| async { "hi" }));
/// opts.middlewares.push(|req: Request, next: Next| async move {
///     let (path, start) = (req.uri().path().to_owned(), Instant::now());
///     let mut resp = next.run(req).await;
///     on_complete(&mut resp, move |end| {
///         eprintln!("{path}: {} in {:?}, complete: {}", end.status, start.elapsed(), end.complete);
///     });
///     resp
/// });
/// ```
///
/// `watch` runs on the connection's task as the exchange ends, so it should be short
/// (record, or send on a channel). A middleware further out that replaces the
/// response, rather than changing it, drops it unsent: `watch` is then called with
/// `complete: false` and the status the response had when `watch` was set.
pub fn on_complete(resp: &mut Response, watch: impl FnOnce(Completion) + Send + 'static) {
    let status = resp.status();
    let watchers = resp.extensions_mut().get_or_insert_default::<Watchers>();
    watchers.0.lock().push((status, Box::new(watch)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handler::IntoResponse;
    use std::sync::mpsc;

    #[test]
    fn each_watcher_is_told_once_in_the_order_set() {
        let (tx, rx) = mpsc::channel();
        let mut resp = "ok".into_response();
        for n in 0..2 {
            let tx = tx.clone();
            on_complete(&mut resp, move |end| tx.send((n, end)).expect("send"));
        }
        let watchers = resp.extensions_mut().remove::<Watchers>().expect("set");
        let end = Completion {
            status: StatusCode::OK,
            complete: true,
        };
        watchers.fire(end);
        drop(resp);
        assert_eq!(rx.try_iter().collect::<Vec<_>>(), [(0, end), (1, end)]);
    }

    #[test]
    fn a_response_dropped_unsent_is_cut_short() {
        let (tx, rx) = mpsc::channel();
        let mut resp = (StatusCode::CREATED, "made").into_response();
        on_complete(&mut resp, move |end| tx.send(end).expect("send"));
        drop(resp);
        let told = rx.try_recv().expect("told on drop");
        assert_eq!((told.status, told.complete), (StatusCode::CREATED, false));
    }
}

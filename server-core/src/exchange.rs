//! One request's exchange, on any protocol: the handler called through the router and
//! middleware (inline or in a task of its own), a panic turned into a `500`, the
//! request telemetry, and the response body read frame by frame. A driver hands it a
//! request and sends what comes back in its own framing.

use std::any::Any;
use std::future::Future;
use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use http::{Method, StatusCode, Uri};

use crate::body::{BoxError, Frame, FrameStream};
use crate::completion::{Completion, Watchers};
use crate::counters::RequestSlot;
use crate::handler::{status_response, BoxFuture};
use crate::listener::Shared;
use crate::options::HandlerSpawn;
use crate::panic::{message, CatchUnwind, Running};
use crate::request::{Request, RequestExt, Response};
use crate::runtime::Runtime;

/// Admits a multiplexed request (h2, h3) against `max_concurrent_requests`, for as
/// long as the slot is held. `None`: refuse it (`REFUSED_STREAM` on h2,
/// `H3_REQUEST_REJECTED` on h3); `throttled` has gone up and `request.throttled` was
/// emitted. HTTP/1.1 does not take slots: one connection, one request at a time.
pub(crate) fn admit(shared: &Shared, peer: SocketAddr) -> Option<RequestSlot> {
    let slot = RequestSlot::try_acquire(&shared.counters, shared.max_concurrent_requests);
    if slot.is_none() {
        tracing::warn!(
            target: "roadrunner",
            event = "request.throttled",
            listener = &*shared.name,
            peer = %peer,
            max_concurrent_requests = shared.max_concurrent_requests,
        );
    }
    slot
}

/// What the end of an exchange reports on; gathered only while someone listens to the
/// `roadrunner` events, so an unobserved server pays nothing for it.
struct CallInfo {
    shared: Arc<Shared>,
    method: Method,
    uri: Uri,
    id: u64,
    started: Instant,
}

/// A handler running for one request.
pub(crate) struct Exchange {
    info: Option<Box<CallInfo>>,
    running: Running<BoxFuture<Response>>,
    /// `alt-svc` to add to the response: HTTP/3 is served beside this protocol.
    alt_svc: Option<http::HeaderValue>,
}

/// The handler's answer.
pub(crate) struct Answer {
    pub(crate) resp: Response,
    /// The handler panicked and `resp` is the `500` standing in for its answer; the
    /// connection (h1) or stream (h2, h3) should not be trusted further.
    pub(crate) panicked: bool,
    /// Reports the exchange's end once the response is out.
    pub(crate) done: Done,
}

impl Exchange {
    /// Starts the handler for `req`: emits `request.start` and runs the listener's
    /// dispatch (router and middleware), inline or spawned as `handler_spawn` says.
    pub(crate) fn start<R: Runtime>(rt: &R, shared: &Arc<Shared>, req: Request) -> Exchange {
        let info = tracing::enabled!(target: "roadrunner", tracing::Level::ERROR).then(|| {
            let info = Box::new(CallInfo {
                shared: shared.clone(),
                method: req.method().clone(),
                uri: req.uri().clone(),
                id: req.request_id().unwrap_or_default(),
                started: rt.now(),
            });
            tracing::debug!(
                target: "roadrunner",
                event = "request.start",
                listener = &*shared.name,
                request_id = info.id,
                method = %info.method,
                path = info.uri.path(),
            );
            info
        });
        let alt_svc = match req.version() {
            http::Version::HTTP_3 => None,
            _ => shared.alt_svc.clone(),
        };
        let dispatch = shared.dispatch.load();
        // User code may run inside `dispatch` itself, before any future exists.
        let running = match catch_unwind(AssertUnwindSafe(|| dispatch.dispatch(req))) {
            Err(payload) => Running::Failed(Some(payload)),
            Ok(fut) if shared.limits.handler_spawn == HandlerSpawn::Task => {
                let (tx, rx) = async_channel::bounded(1);
                rt.spawn(async move {
                    let _ = tx.send(CatchUnwind(fut).await).await;
                });
                Running::Spawned(Box::pin(rx))
            }
            Ok(fut) => Running::Inline(CatchUnwind(fut)),
        };
        Exchange {
            info,
            running,
            alt_svc,
        }
    }

    /// Polls the handler; a panic becomes a `500` and `request.exception`.
    pub(crate) fn poll_answer(&mut self, cx: &mut Context<'_>) -> Poll<Answer> {
        let outcome = std::task::ready!(Pin::new(&mut self.running).poll(cx));
        Poll::Ready(self.answer(outcome))
    }

    #[inline]
    fn answer(&mut self, outcome: Result<Response, Box<dyn Any + Send>>) -> Answer {
        let info = self.info.take();
        let panicked = outcome.is_err();
        let mut resp = match outcome {
            Ok(resp) => resp,
            Err(payload) => {
                if let Some(info) = &info {
                    tracing::error!(
                        target: "roadrunner",
                        event = "request.exception",
                        listener = &*info.shared.name,
                        request_id = info.id,
                        method = %info.method,
                        path = info.uri.path(),
                        panic = message(&*payload),
                    );
                }
                status_response(StatusCode::INTERNAL_SERVER_ERROR)
            }
        };
        if let Some(alt_svc) = self.alt_svc.take() {
            // A handler's own advertisement stands.
            resp.headers_mut()
                .entry(http::header::ALT_SVC)
                .or_insert(alt_svc);
        }
        let done = Done {
            info,
            status: resp.status(),
            aborted: false,
            watchers: resp.extensions_mut().remove(),
        };
        Answer {
            resp,
            panicked,
            done,
        }
    }
}

impl Future for Exchange {
    type Output = Answer;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Answer> {
        self.poll_answer(cx)
    }
}

/// The end of an exchange: `request.stop` is emitted, and the response's
/// [`on_complete`](crate::on_complete) watchers told, when this is dropped, so both
/// cover the whole response, body included, however it ends.
pub(crate) struct Done {
    info: Option<Box<CallInfo>>,
    status: StatusCode,
    aborted: bool,
    watchers: Option<Watchers>,
}

impl Done {
    /// The response did not go out whole (its stream failed, or the peer left).
    pub(crate) fn abort(&mut self) {
        self.aborted = true;
    }

    /// The status actually sent, when the driver replaced the handler's.
    pub(crate) fn set_status(&mut self, status: StatusCode) {
        self.status = status;
    }
}

impl Drop for Done {
    fn drop(&mut self) {
        if let Some(watchers) = self.watchers.take() {
            watchers.fire(Completion {
                status: self.status,
                complete: !self.aborted,
            });
        }
        let Some(info) = self.info.take() else {
            return;
        };
        let now = (info.shared.now)();
        tracing::info!(
            target: "roadrunner",
            event = "request.stop",
            listener = &*info.shared.name,
            request_id = info.id,
            method = %info.method,
            path = info.uri.path(),
            status = self.status.as_u16(),
            complete = !self.aborted,
            duration_us = now.saturating_duration_since(info.started).as_micros() as u64,
        );
    }
}

/// Why a response body stopped short.
pub(crate) enum BodyFailure {
    /// Its stream returned an error.
    Failed(BoxError),
    /// Its stream panicked.
    Panicked(Box<dyn Any + Send>),
}

/// The next frame of a response stream, with a panic inside the stream caught and
/// reported like a failure.
pub(crate) fn poll_response_frame(
    stream: &mut FrameStream,
    cx: &mut Context<'_>,
) -> Poll<Option<Result<Frame, BodyFailure>>> {
    match catch_unwind(AssertUnwindSafe(|| stream.as_mut().poll_next(cx))) {
        Ok(Poll::Pending) => Poll::Pending,
        Ok(Poll::Ready(None)) => Poll::Ready(None),
        Ok(Poll::Ready(Some(Ok(frame)))) => Poll::Ready(Some(Ok(frame))),
        Ok(Poll::Ready(Some(Err(e)))) => Poll::Ready(Some(Err(BodyFailure::Failed(e)))),
        Err(payload) => Poll::Ready(Some(Err(BodyFailure::Panicked(payload)))),
    }
}

/// Reports a response body that stopped short: `response.error` for a failure,
/// `request.exception` for a panic.
pub(crate) fn report_body_failure(shared: &Shared, failure: &BodyFailure) {
    match failure {
        BodyFailure::Failed(e) => tracing::error!(
            target: "roadrunner",
            event = "response.error",
            listener = &*shared.name,
            error = %e,
            "response stream failed; aborting the response",
        ),
        BodyFailure::Panicked(payload) => tracing::error!(
            target: "roadrunner",
            event = "request.exception",
            listener = &*shared.name,
            panic = message(&**payload),
            "response stream panicked after the response had started",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Options, Routes};
    use std::sync::Mutex;
    use tracing_subscriber::layer::{Context as LayerContext, Layer, SubscriberExt};

    /// Records the `event` field of every event.
    struct Names(Arc<Mutex<Vec<String>>>);

    impl<S: tracing::Subscriber> Layer<S> for Names {
        fn on_event(&self, event: &tracing::Event<'_>, _: LayerContext<'_, S>) {
            struct Visit<'a>(&'a mut Option<String>);
            impl tracing::field::Visit for Visit<'_> {
                fn record_str(&mut self, f: &tracing::field::Field, v: &str) {
                    if f.name() == "event" {
                        *self.0 = Some(v.to_owned());
                    }
                }
                fn record_debug(&mut self, _: &tracing::field::Field, _: &dyn std::fmt::Debug) {}
            }
            let mut name = None;
            event.record(&mut Visit(&mut name));
            self.0.lock().expect("names").extend(name);
        }
    }

    #[test]
    fn admission_over_the_cap_is_throttled_and_told() {
        let mut opts = Options::new(0, Routes::handler(|_req: Request| async { "ok" }));
        opts.max_concurrent_requests = Some(1);
        let rt = crate::footprint::Recorder::default();
        let listener = crate::Listener::start("admission", opts, rt, |_| {
            Ok(crate::footprint::OneConnection(true.into()))
        })
        .expect("starts");
        let shared = listener.handle().shared().clone();
        let names = Arc::new(Mutex::new(Vec::new()));
        let subscriber = tracing_subscriber::registry().with(Names(names.clone()));
        tracing::subscriber::with_default(subscriber, || {
            let peer = "127.0.0.1:9".parse().expect("addr");
            let held = admit(&shared, peer).expect("the first is admitted");
            assert!(admit(&shared, peer).is_none(), "the second is over the cap");
            drop(held);
            assert!(admit(&shared, peer).is_some(), "room again");
        });
        assert_eq!(
            shared
                .counters
                .throttled
                .load(std::sync::atomic::Ordering::Relaxed),
            1
        );
        assert_eq!(*names.lock().expect("names"), ["request.throttled"]);
    }
}

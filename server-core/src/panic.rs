//! Turning a handler's panic into a value, so it costs one response, not a task.

use std::any::Any;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};

/// Polls the inner future, catching a panic from any poll.
pub(crate) struct CatchUnwind<F>(pub(crate) F);

impl<F: Future + Unpin> Future for CatchUnwind<F> {
    type Output = Result<F::Output, Box<dyn Any + Send>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // The future is dropped right after a panic and never polled again, so no
        // broken invariant inside it can be observed.
        match catch_unwind(AssertUnwindSafe(|| Pin::new(&mut self.0).poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Err(payload) => Poll::Ready(Err(payload)),
        }
    }
}

/// A handler's future: run inside the connection's task, or in a task of its own
/// whose outcome comes back through a channel (`handler_spawn: Task`).
pub(crate) enum Running<F: Future> {
    Inline(CatchUnwind<F>),
    Spawned(Pin<Box<async_channel::Receiver<Outcome<F::Output>>>>),
    /// Panicked before a future existed.
    Failed(Option<Box<dyn Any + Send>>),
}

/// A handler's result, or its panic.
pub(crate) type Outcome<T> = Result<T, Box<dyn Any + Send>>;

impl<F: Future + Unpin> Future for Running<F> {
    type Output = Outcome<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut *self {
            Running::Inline(fut) => Pin::new(fut).poll(cx),
            Running::Spawned(rx) => match futures_lite::Stream::poll_next(rx.as_mut(), cx) {
                Poll::Ready(Some(outcome)) => Poll::Ready(outcome),
                // The task ended without sending: it was dropped with the runtime.
                Poll::Ready(None) => Poll::Ready(Err(Box::new("handler task was dropped"))),
                Poll::Pending => Poll::Pending,
            },
            Running::Failed(payload) => Poll::Ready(Err(payload
                .take()
                .unwrap_or_else(|| Box::new("handler polled after it failed")))),
        }
    }
}

/// The message of a panic payload, when it has one.
pub(crate) fn message(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(non-string panic payload)")
}

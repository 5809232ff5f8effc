//! Loop handlers: long-lived responses whose parts are sent as messages arrive from
//! other tasks, told of drain notices and of the connection closing.
//!
//! The loop runs inside the response body: the connection polls it as it writes, so
//! it needs no task of its own and no runtime, and a slow client slows the loop down
//! (each [`Loop::send`] waits until the previous part has been taken).

use std::future::{poll_fn, Future};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use crate::drain::Notices;
use async_channel::{Receiver, Sender};
use bytes::Bytes;
use futures_lite::Stream;
use http::HeaderMap;

use crate::body::{Body, Frame};
use crate::request::{Request, RequestExt};

/// How many messages a mailbox holds before senders wait.
pub const MAILBOX_CAPACITY: usize = 64;

/// What a loop is woken by.
#[derive(Debug, PartialEq, Eq)]
pub enum LoopEvent<M> {
    /// A message from a [`Mailbox`].
    Message(M),
    /// The listener asks connections to wind down, by `deadline` when it has one.
    Drain {
        /// When the listener will end what is left.
        deadline: Option<Instant>,
    },
    /// The connection is closing (the client went away, or drain cut it). The loop
    /// gets this one last poll to clean up; what it sends now is dropped, and it is
    /// not polled again after it next waits.
    Closed,
}

/// A handle other tasks use to send a loop messages. Sending fails once the loop has
/// ended, which is how holders of mailboxes learn that the client is gone.
#[derive(Debug)]
pub struct Mailbox<M>(Sender<M>);

impl<M> Clone for Mailbox<M> {
    fn clone(&self) -> Self {
        Mailbox(self.0.clone())
    }
}

/// Why [`Mailbox::try_send`] did not send; the message comes back.
#[derive(Debug, PartialEq, Eq)]
pub enum TrySendError<M> {
    /// The mailbox holds [`MAILBOX_CAPACITY`] messages already.
    Full(M),
    /// The loop has ended.
    Ended(M),
}

/// The loop has ended; the message comes back.
#[derive(Debug, PartialEq, Eq)]
pub struct LoopEnded<M>(pub M);

impl<M> Mailbox<M> {
    pub(crate) fn new(tx: Sender<M>) -> Self {
        Mailbox(tx)
    }

    /// Sends `msg`, waiting while the mailbox is full.
    pub async fn send(&self, msg: M) -> Result<(), LoopEnded<M>> {
        self.0.send(msg).await.map_err(|e| LoopEnded(e.0))
    }

    /// Sends `msg` if there is room now.
    pub fn try_send(&self, msg: M) -> Result<(), TrySendError<M>> {
        self.0.try_send(msg).map_err(|e| match e {
            async_channel::TrySendError::Full(m) => TrySendError::Full(m),
            async_channel::TrySendError::Closed(m) => TrySendError::Ended(m),
        })
    }

    /// True once the loop has ended.
    pub fn is_closed(&self) -> bool {
        self.0.is_closed()
    }
}

/// What the loop hands to the connection, shared between [`Loop`] and its body.
#[derive(Default)]
struct Outbox {
    part: Option<Frame>,
    closed: bool,
    /// The loop waiting in `send` for the part to be taken.
    sender: Option<Waker>,
}

/// The loop's side: receive events, send parts.
pub struct Loop<M> {
    rx: Pin<Box<Receiver<M>>>,
    tx: Sender<M>,
    outbox: Arc<Mutex<Outbox>>,
    notices: Notices,
}

impl<M: Send + 'static> Loop<M> {
    /// A mailbox for other tasks to send this loop messages.
    pub fn mailbox(&self) -> Mailbox<M> {
        Mailbox(self.tx.clone())
    }

    /// The next event: a message, a drain notice, or the connection closing.
    pub async fn next(&mut self) -> LoopEvent<M> {
        poll_fn(|cx| self.poll_event(cx)).await
    }

    fn poll_event(&mut self, cx: &mut Context<'_>) -> Poll<LoopEvent<M>> {
        if lock(&self.outbox).closed {
            return Poll::Ready(LoopEvent::Closed);
        }
        if let Poll::Ready(deadline) = self.notices.poll_notice(cx) {
            return Poll::Ready(LoopEvent::Drain { deadline });
        }
        match self.rx.as_mut().poll_next(cx) {
            Poll::Ready(Some(msg)) => Poll::Ready(LoopEvent::Message(msg)),
            // The loop holds a sender itself, so the channel cannot end first.
            Poll::Ready(None) | Poll::Pending => Poll::Pending,
        }
    }

    /// Sends one part of the body, once the previous one has been taken.
    pub async fn send(&mut self, data: impl Into<Bytes>) {
        self.put(Frame::Data(data.into())).await;
    }

    /// Ends the body with trailer fields (chunked HTTP/1.1).
    pub async fn finish_with_trailers(mut self, trailers: HeaderMap) {
        self.put(Frame::Trailers(trailers)).await;
    }

    async fn put(&mut self, frame: Frame) {
        let mut frame = Some(frame);
        poll_fn(|cx| {
            let mut outbox = lock(&self.outbox);
            if outbox.closed {
                return Poll::Ready(());
            }
            if outbox.part.is_some() {
                outbox.sender = Some(cx.waker().clone());
                return Poll::Pending;
            }
            outbox.part = frame.take();
            Poll::Ready(())
        })
        .await;
    }
}

impl<M> Drop for Loop<M> {
    fn drop(&mut self) {
        self.rx.close();
    }
}

/// A streamed body driven by a loop: `run` gets the [`Loop`] and the response ends
/// when it returns.
///
/// ```
/// use roadrunner_core::{loop_body, LoopEvent, Request, Response};
///
/// async fn events(req: Request) -> Response {
///     Response::new(loop_body(&req, |mut lp: roadrunner_core::Loop<String>| async move {
///         let mailbox = lp.mailbox();
///         // ...hand `mailbox` to whatever produces events...
///         # drop(mailbox);
///         loop {
///             match lp.next().await {
///                 LoopEvent::Message(msg) => lp.send(msg + "\n").await,
///                 LoopEvent::Drain { .. } => {
///                     lp.send("server going down\n").await;
///                     break;
///                 }
///                 LoopEvent::Closed => break,
///             }
///         }
///     }))
/// }
/// ```
pub fn loop_body<M, F, Fut>(req: &Request, run: F) -> Body
where
    M: Send + 'static,
    F: FnOnce(Loop<M>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = async_channel::bounded(MAILBOX_CAPACITY);
    let outbox = Arc::new(Mutex::new(Outbox::default()));
    let lp = Loop {
        rx: Box::pin(rx),
        tx,
        outbox: outbox.clone(),
        notices: Notices::new(req.listener().cloned()),
    };
    Body::from_stream(LoopStream {
        task: Some(Box::pin(run(lp))),
        outbox,
    })
}

struct LoopStream {
    task: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
    outbox: Arc<Mutex<Outbox>>,
}

impl LoopStream {
    fn take_part(&self) -> Option<Frame> {
        let mut outbox = lock(&self.outbox);
        let part = outbox.part.take();
        if part.is_some() {
            if let Some(w) = outbox.sender.take() {
                w.wake();
            }
        }
        part
    }
}

impl Stream for LoopStream {
    type Item = Frame;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Frame>> {
        if let Some(part) = self.take_part() {
            return Poll::Ready(Some(part));
        }
        let Some(task) = self.task.as_mut() else {
            return Poll::Ready(None);
        };
        if task.as_mut().poll(cx).is_ready() {
            self.task = None;
        }
        match self.take_part() {
            Some(part) => Poll::Ready(Some(part)),
            None if self.task.is_none() => Poll::Ready(None),
            None => Poll::Pending,
        }
    }
}

impl Drop for LoopStream {
    fn drop(&mut self) {
        let Some(mut task) = self.task.take() else {
            return;
        };
        lock(&self.outbox).closed = true;
        // One last poll so the loop sees `Closed` and can clean up; a panic there must
        // not escape a destructor.
        let mut cx = Context::from_waker(Waker::noop());
        let _ = catch_unwind(AssertUnwindSafe(|| task.as_mut().poll(&mut cx)));
    }
}

fn lock(outbox: &Mutex<Outbox>) -> std::sync::MutexGuard<'_, Outbox> {
    // The outbox holds no invariant a panic could break midway.
    outbox.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_lite::{future, StreamExt};

    fn request() -> Request {
        Request::new(Body::empty())
    }

    #[test]
    fn parts_follow_messages_and_the_body_ends_with_the_loop() {
        let req = request();
        let (mb_tx, mb_rx) = std::sync::mpsc::channel();
        let mut body = loop_body(&req, move |mut lp: Loop<u32>| {
            mb_tx.send(lp.mailbox()).expect("test receiver alive");
            async move {
                while let LoopEvent::Message(n) = lp.next().await {
                    if n == 0 {
                        break;
                    }
                    lp.send(format!("{n};")).await;
                }
            }
        });
        let mailbox = mb_rx.recv().expect("mailbox handed out");
        for n in [1, 2, 3, 0] {
            mailbox.try_send(n).expect("room in the mailbox");
        }
        let parts: Vec<Frame> = future::block_on((&mut body).collect());
        let text: Vec<u8> = parts
            .into_iter()
            .flat_map(|f| match f {
                Frame::Data(d) => d.to_vec(),
                Frame::Trailers(_) => panic!("no trailers sent"),
            })
            .collect();
        assert_eq!(text, b"1;2;3;");
        drop(body);
        assert!(mailbox.is_closed(), "a finished loop closes its mailbox");
    }

    #[test]
    fn dropping_the_body_tells_the_loop_it_is_closed() {
        let req = request();
        let (seen_tx, seen_rx) = std::sync::mpsc::channel();
        let mut body = loop_body(&req, move |mut lp: Loop<()>| async move {
            let ev = lp.next().await;
            seen_tx.send(ev).expect("test receiver alive");
        });
        let waker = Waker::noop();
        let mut cx = Context::from_waker(waker);
        assert!(Pin::new(&mut body).poll_next(&mut cx).is_pending());
        drop(body);
        assert_eq!(seen_rx.try_recv(), Ok(LoopEvent::Closed));
    }

    #[test]
    fn a_full_mailbox_is_not_an_ended_loop() {
        let req = request();
        let (mb_tx, mb_rx) = std::sync::mpsc::channel();
        let body = loop_body(&req, move |lp: Loop<usize>| {
            mb_tx.send(lp.mailbox()).expect("test receiver alive");
            async move {
                std::future::pending::<()>().await;
                drop(lp);
            }
        });
        let mailbox = mb_rx.recv().expect("mailbox handed out");
        for n in 0..MAILBOX_CAPACITY {
            mailbox.try_send(n).expect("room");
        }
        assert_eq!(mailbox.try_send(99), Err(TrySendError::Full(99)));
        drop(body);
        assert_eq!(mailbox.try_send(100), Err(TrySendError::Ended(100)));
    }

    #[test]
    fn trailers_end_the_body() {
        let req = request();
        let body = loop_body(&req, |mut lp: Loop<()>| async move {
            lp.send("x").await;
            let mut t = HeaderMap::new();
            t.insert("x-done", http::HeaderValue::from_static("1"));
            lp.finish_with_trailers(t).await;
        });
        let parts: Vec<Frame> = future::block_on(body.collect());
        assert_eq!(parts.len(), 2);
        assert!(matches!(&parts[1], Frame::Trailers(t) if t["x-done"] == "1"));
    }
}

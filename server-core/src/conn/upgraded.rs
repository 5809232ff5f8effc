//! Carrying an upgraded session over a whole connection (HTTP/1.1 after `101`): the
//! socket is pumped into the session's inbound pipe only while it has room, and the
//! session's outbound pipe into the socket (vectored: a frame's header and payload in
//! one write), all in the connection's own task.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

use super::reason::Reason;
use crate::handler::BoxFuture;
use crate::panic::{message, CatchUnwind};
use crate::runtime::ByteStream;
use crate::upgrade::Ends;

/// How many times one poll of the connection feeds its session before it yields.
const ROUNDS: usize = 16;

/// The waker the session is polled with: it notes that the session asked to be
/// polled, and wakes the connection's task. Most wake-ups of the connection are its
/// socket's, and the session, which waits on its pipe, has nothing to do then until
/// the carry feeds it; so it is polled only when it asked, or was just fed.
#[derive(Default)]
struct Nudge {
    asked: AtomicBool,
    /// The connection's task.
    task: Mutex<Option<Waker>>,
}

impl Nudge {
    fn set_task(&self, task: &Waker) {
        let mut slot = self.task.lock().unwrap_or_else(|e| e.into_inner());
        if !slot.as_ref().is_some_and(|w| w.will_wake(task)) {
            *slot = Some(task.clone());
        }
    }
}

impl Wake for Nudge {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.asked.store(true, Ordering::Release);
        if let Some(task) = &*self.task.lock().unwrap_or_else(|e| e.into_inner()) {
            task.wake_by_ref();
        }
    }
}

/// Runs `session` until it ends and what it wrote has gone out, or the socket fails.
///
/// The session runs in this task, so handing it bytes wakes no one: after putting
/// bytes in its pipe, the loop polls it again itself (a wake-up would poll the whole
/// connection once more, for each message). Otherwise it is polled only when its own
/// waker was woken (see [`Nudge`]).
pub(crate) async fn carry<S: ByteStream>(io: &mut S, ends: Ends, session: BoxFuture<()>) -> Reason {
    let mut session = Some(CatchUnwind(session));
    let (mut peer_done, mut shut) = (false, false);
    let nudge = Arc::new(Nudge {
        asked: AtomicBool::new(true),
        task: Mutex::new(None),
    });
    let session_waker = Waker::from(nudge.clone());
    ends.inbound.served_after_session(&session_waker);
    ends.outbound.served_after_session(&session_waker);
    poll_fn(|cx| {
        nudge.set_task(cx.waker());
        let mut fed = false;
        for _ in 0..ROUNDS {
            let asked = nudge.asked.swap(false, Ordering::AcqRel);
            if let Some(running) = session.as_mut().filter(|_| asked || fed) {
                let mut session_cx = Context::from_waker(&session_waker);
                if let Poll::Ready(outcome) = Pin::new(running).poll(&mut session_cx) {
                    if let Err(payload) = outcome {
                        tracing::error!(
                            target: "roadrunner",
                            event = "request.exception",
                            panic = message(&*payload),
                            "an upgraded session panicked",
                        );
                    }
                    // Dropping the session's `Upgraded` would do the same; closing here
                    // also covers a session that leaked it.
                    session = None;
                    ends.outbound.close();
                    ends.inbound.break_off();
                }
            }
            // Out before in: what the session sent may hold the buffer the next read
            // would go into (a payload echoed without a copy), and once it is written
            // that buffer is free to reuse.
            if let Poll::Ready(reason) = send(io, cx, &ends, session.is_none(), &mut shut) {
                return Poll::Ready(reason);
            }
            fed = false;
            while !peer_done {
                let mut drained = false;
                // Full, or nothing to read: when full, the rest stays in the socket, so
                // TCP holds the peer back.
                match ends.inbound.poll_fill(cx, |cx, buf, max| {
                    let read = io.poll_read_into(cx, buf, max);
                    drained = matches!(read, Poll::Ready(Ok(n)) if n < max);
                    read
                }) {
                    Poll::Ready(Ok(0)) => {
                        peer_done = true;
                        fed = true;
                        ends.inbound.close();
                    }
                    Poll::Ready(Ok(_)) => {
                        fed = true;
                        // A read that did not fill its room took all there was: the
                        // next bytes are the peer's to send (most often once it has
                        // read the answer), so the next read may wait for them rather
                        // than try (a `recv` that says `EAGAIN` on smol).
                        if drained {
                            io.peer_turn();
                        }
                        // The session takes these first; the next round reads again
                        // (a read that finds nothing costs as much as one that finds
                        // bytes).
                        if session.is_some() {
                            break;
                        }
                    }
                    Poll::Ready(Err(e)) => return Poll::Ready(Reason::of_io(&e)),
                    Poll::Pending => break,
                }
            }
            if !fed || session.is_none() {
                return Poll::Pending;
            }
        }
        // A peer that keeps sending to a session that keeps reading: the other
        // connections of this thread get their turn first, then the session what it
        // was just fed.
        session_waker.wake_by_ref();
        Poll::Pending
    })
    .await
}

/// Writes what the session wrote, as far as the socket takes it: `Ready` once all it
/// will send is out (the session has `ended`) or the socket failed.
fn send<S: ByteStream>(
    io: &mut S,
    cx: &mut Context<'_>,
    ends: &Ends,
    ended: bool,
    shut: &mut bool,
) -> Poll<Reason> {
    let waker = cx.waker();
    loop {
        let mut failed = None;
        let mut blocked = false;
        let sent = ends.outbound.poll_peek_vectored(waker, |data| {
            // One slice (a short frame, copied whole) is a plain write: `send(2)`
            // costs the kernel a little less than `writev(2)`.
            let written = match data {
                [one] => io.poll_write(cx, one),
                _ => io.poll_write_vectored(cx, data),
            };
            match written {
                Poll::Ready(Ok(0)) => {
                    failed = Some(Reason::SocketError);
                    0
                }
                Poll::Ready(Ok(n)) => n,
                Poll::Ready(Err(e)) => {
                    failed = Some(Reason::of_io(&e));
                    0
                }
                Poll::Pending => {
                    blocked = true;
                    0
                }
            }
        });
        if let Some(reason) = failed {
            ends.outbound.break_off();
            return Poll::Ready(reason);
        }
        match sent {
            Poll::Ready(Some(())) if !blocked => {}
            Poll::Ready(Some(())) | Poll::Pending => return Poll::Pending,
            // All the session will send is out.
            Poll::Ready(None) if ended => return Poll::Ready(Reason::Upgraded),
            Poll::Ready(None) => {
                // It closed its side but still reads: half-close.
                if !*shut {
                    match io.poll_shutdown(cx) {
                        Poll::Ready(Ok(())) => *shut = true,
                        Poll::Ready(Err(e)) => return Poll::Ready(Reason::of_io(&e)),
                        Poll::Pending => {}
                    }
                }
                return Poll::Pending;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;
    use std::io;
    use std::sync::atomic::AtomicUsize;

    /// What a [`Socket`] saw, in order.
    #[derive(Debug, PartialEq)]
    enum Seen {
        /// A read of `n` bytes into `room`.
        Read { n: usize, room: usize },
        /// A `peer_turn` hint.
        Turn,
    }

    /// A socket that reads `chunks` in order, as much of each as a read has room for,
    /// then has nothing (never ready again); it keeps what is written and logs its
    /// reads and hints.
    #[derive(Default)]
    struct Socket {
        chunks: VecDeque<Vec<u8>>,
        written: Vec<u8>,
        seen: Vec<Seen>,
    }

    impl ByteStream for Socket {
        fn poll_read(&mut self, _: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
            let Some(chunk) = self.chunks.front_mut() else {
                return Poll::Pending;
            };
            let n = chunk.len().min(buf.len());
            buf[..n].copy_from_slice(&chunk[..n]);
            chunk.drain(..n);
            if chunk.is_empty() {
                self.chunks.pop_front();
            }
            self.seen.push(Seen::Read { n, room: buf.len() });
            Poll::Ready(Ok(n))
        }

        fn peer_turn(&mut self) {
            self.seen.push(Seen::Turn);
        }

        fn poll_write(&mut self, _: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
            self.written.extend_from_slice(buf);
            Poll::Ready(Ok(buf.len()))
        }

        fn poll_shutdown(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    #[test]
    fn a_read_that_takes_all_there_was_hints_that_the_next_bytes_are_the_peers_turn() {
        // Larger than the pipe: some reads fill their room.
        let big = vec![1; 256 * 1024];
        let mut io = Socket {
            chunks: [big, vec![2; 10], vec![3; 10]].into(),
            ..Socket::default()
        };
        let (mut up, ends) = crate::upgrade::pair(b"", None);
        let sink: BoxFuture<()> = Box::pin(async move {
            let mut buf = vec![0; 64 * 1024];
            while let Ok(1..) = up.read(&mut buf).await {}
        });
        let waker = Waker::from(Arc::new(Count::default()));
        let mut cx = Context::from_waker(&waker);
        let mut carried = Box::pin(carry(&mut io, ends, sink));
        for _ in 0..1000 {
            assert!(carried.as_mut().poll(&mut cx).is_pending());
        }
        drop(carried);
        assert!(io.chunks.is_empty(), "all read");
        // Each read is followed by a hint exactly when it did not fill its room.
        let mut short = 0;
        for (i, seen) in io.seen.iter().enumerate() {
            if let Seen::Read { n, room } = *seen {
                let hinted = io.seen.get(i + 1) == Some(&Seen::Turn);
                assert_eq!(hinted, n < room, "{:?}", io.seen);
                short += usize::from(n < room);
            }
        }
        let full = io.seen.len() - 2 * short;
        assert!(short >= 2 && full >= 1, "{:?}", io.seen);
    }

    #[derive(Default)]
    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn what_the_last_round_before_a_yield_read_still_reaches_the_session() {
        // Exactly as many reads as one poll has rounds: the last one is put in the
        // pipe just before the carry yields, and nothing more comes.
        let chunks: Vec<Vec<u8>> = (0..ROUNDS as u8).map(|i| vec![i; 10]).collect();
        let mut io = Socket {
            chunks: chunks.iter().cloned().collect(),
            ..Socket::default()
        };
        let (mut up, ends) = crate::upgrade::pair(b"", None);
        let echo: BoxFuture<()> = Box::pin(async move {
            let mut buf = [0; 64];
            while let Ok(n @ 1..) = up.read(&mut buf).await {
                if up.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
        });
        let count = Arc::new(Count::default());
        let waker = Waker::from(count.clone());
        let mut cx = Context::from_waker(&waker);
        let mut carried = Box::pin(carry(&mut io, ends, echo));
        let mut polls = 0;
        loop {
            let before = count.0.load(Ordering::SeqCst);
            assert!(carried.as_mut().poll(&mut cx).is_pending());
            polls += 1;
            if count.0.load(Ordering::SeqCst) == before || polls == 100 {
                break;
            }
        }
        drop(carried);
        assert_eq!(io.written, chunks.concat(), "after {polls} polls");
    }
}

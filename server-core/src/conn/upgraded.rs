//! Carrying an upgraded session over a whole connection (HTTP/1.1 after `101`): the
//! socket is pumped into the session's inbound pipe only while it has room, and the
//! session's outbound pipe into the socket (vectored: a frame's header and payload in
//! one write), all in the connection's own task.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::{Context, Poll};

use super::reason::Reason;
use crate::handler::BoxFuture;
use crate::panic::{message, CatchUnwind};
use crate::runtime::ByteStream;
use crate::upgrade::Ends;

/// How many times one poll of the connection feeds its session before it yields.
const ROUNDS: usize = 16;

/// Runs `session` until it ends and what it wrote has gone out, or the socket fails.
///
/// The session runs in this task, so handing it bytes wakes no one: after putting
/// bytes in its pipe, the loop polls it again itself (a wake-up would poll the whole
/// connection once more, for each message).
pub(crate) async fn carry<S: ByteStream>(io: &mut S, ends: Ends, session: BoxFuture<()>) -> Reason {
    let mut session = Some(CatchUnwind(session));
    let (mut peer_done, mut shut) = (false, false);
    ends.inbound.served_after_session();
    ends.outbound.served_after_session();
    poll_fn(|cx| {
        for _ in 0..ROUNDS {
            if let Some(running) = &mut session {
                if let Poll::Ready(outcome) = Pin::new(running).poll(cx) {
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
            let mut fed = false;
            while !peer_done {
                // Full, or nothing to read: when full, the rest stays in the socket, so
                // TCP holds the peer back.
                match ends
                    .inbound
                    .poll_fill(cx, |cx, buf, max| io.poll_read_into(cx, buf, max))
                {
                    Poll::Ready(Ok(0)) => {
                        peer_done = true;
                        fed = true;
                        ends.inbound.close();
                    }
                    Poll::Ready(Ok(_)) => {
                        fed = true;
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
        // connections of this thread get their turn first.
        cx.waker().wake_by_ref();
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

//! Carrying an upgraded session over a whole connection (HTTP/1.1 after `101`): the
//! socket is pumped into the session's inbound pipe only while it has room, and the
//! session's outbound pipe into the socket, all in the connection's own task.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::Poll;

use super::reason::Reason;
use crate::handler::BoxFuture;
use crate::panic::{message, CatchUnwind};
use crate::runtime::ByteStream;
use crate::scratch::{poll_read_with, Layer};
use crate::upgrade::Ends;

/// Runs `session` until it ends and what it wrote has gone out, or the socket fails.
pub(crate) async fn carry<S: ByteStream>(io: &mut S, ends: Ends, session: BoxFuture<()>) -> Reason {
    let mut session = Some(CatchUnwind(session));
    let (mut peer_done, mut shut) = (false, false);
    poll_fn(|cx| {
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
        while !peer_done {
            let Poll::Ready(room) = ends.inbound.poll_room(cx) else {
                // Full: leave the rest in the socket, so TCP holds the peer back.
                break;
            };
            let inbound = &ends.inbound;
            match poll_read_with(Layer::Http, io, cx, room, |data| inbound.put(data)) {
                Poll::Ready(Ok(0)) => {
                    peer_done = true;
                    ends.inbound.close();
                }
                Poll::Ready(Ok(_)) => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Reason::of_io(&e)),
                Poll::Pending => break,
            }
        }
        loop {
            let mut failed = None;
            let mut blocked = false;
            let waker = cx.waker().clone();
            let sent = ends
                .outbound
                .poll_peek(&waker, |data| match io.poll_write(cx, data) {
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
                });
            if let Some(reason) = failed {
                ends.outbound.break_off();
                return Poll::Ready(reason);
            }
            match sent {
                Poll::Ready(Some(())) if !blocked => {}
                Poll::Ready(Some(())) | Poll::Pending => return Poll::Pending,
                // All the session will send is out.
                Poll::Ready(None) if session.is_none() => return Poll::Ready(Reason::Upgraded),
                Poll::Ready(None) => {
                    // It closed its side but still reads: half-close.
                    if !shut {
                        match io.poll_shutdown(cx) {
                            Poll::Ready(Ok(())) => shut = true,
                            Poll::Ready(Err(e)) => return Poll::Ready(Reason::of_io(&e)),
                            Poll::Pending => {}
                        }
                    }
                    return Poll::Pending;
                }
            }
        }
    })
    .await
}

//! Extended CONNECT (RFC 8441 on HTTP/2, RFC 9220 on HTTP/3): a stream whose request
//! carries `:protocol` becomes, once its handler answers 2xx with a session, a duplex
//! byte stream for that session (WebSocket over HTTP/2 and HTTP/3). The peer's DATA flows into the session's inbound pipe and
//! flow-control credit goes back only as the pipe takes it, so a session that does not
//! read holds the peer back by the stream's window; what the session writes goes out
//! as DATA while the stream's send queue has room. The session runs in the
//! connection's task, as an HTTP/1.1 upgrade does.

use std::collections::VecDeque;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;

use super::{Refused, StreamCodec, Streams};
use crate::handler::BoxFuture;
use crate::listener::ListenerRef;
use crate::panic::{message, CatchUnwind};
use crate::runtime::Runtime;
use crate::upgrade::{Ends, Session};

/// An extended CONNECT stream: its request body, held until a session takes it.
#[derive(Default)]
pub(super) struct Tunnel {
    /// DATA from the peer not yet in the inbound pipe; its window is still spent.
    queue: VecDeque<Bytes>,
    /// The peer ended its side (END_STREAM).
    peer_done: bool,
    /// The session's pipes, once the handler has answered with one.
    ends: Option<Ends>,
    session: Option<CatchUnwind<BoxFuture<()>>>,
}

impl Tunnel {
    /// Data from the peer, for the session.
    pub(super) fn on_data(&mut self, data: Bytes, end_stream: bool) {
        if !data.is_empty() {
            self.queue.push_back(data);
        }
        self.peer_done |= end_stream;
    }

    /// What is queued for a session that will never come.
    pub(super) fn queued(&self) -> usize {
        self.queue.iter().map(Bytes::len).sum()
    }
}

/// How a tunnel stands after a poll.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Progress {
    /// Still carrying.
    Open,
    /// The session is done and all it wrote has gone to the codec, END_STREAM too.
    Done,
    /// The stream cannot go on (reset, or the codec refused it).
    Failed,
}

impl<R: Runtime> Streams<R> {
    /// Starts `session` on stream `id`, whose 2xx head has been queued.
    pub(super) fn open_tunnel(&mut self, id: u64, session: Session) {
        let listener = Some(ListenerRef::new(self.shared.clone()));
        let (up, ends) = crate::upgrade::pair(b"", listener);
        let Some(tunnel) = self.tasks.get_mut(&id).and_then(|t| t.tunnel.as_mut()) else {
            return;
        };
        tunnel.ends = Some(ends);
        // A session that panics before its first poll is ended like one that panics
        // later: the stream is closed.
        tunnel.session = catch_unwind(AssertUnwindSafe(|| session(up)))
            .ok()
            .map(CatchUnwind);
    }

    /// Moves bytes both ways and polls the session.
    pub(super) fn poll_tunnel(
        &mut self,
        codec: &mut impl StreamCodec,
        id: u64,
        cx: &mut Context<'_>,
    ) -> Progress {
        let Some(tunnel) = self.tasks.get_mut(&id).and_then(|t| t.tunnel.as_mut()) else {
            return Progress::Failed;
        };
        let Some(ends) = &tunnel.ends else {
            return Progress::Open;
        };
        if let Some(running) = &mut tunnel.session {
            if let Poll::Ready(outcome) = Pin::new(running).poll(cx) {
                if let Err(payload) = outcome {
                    tracing::error!(
                        target: "roadrunner",
                        event = "request.exception",
                        panic = message(&*payload),
                        "an upgraded session panicked",
                    );
                }
                tunnel.session = None;
                ends.outbound.close();
                ends.inbound.break_off();
            }
        }
        while let Some(chunk) = tunnel.queue.front_mut() {
            let Poll::Ready(room) = ends.inbound.poll_room(cx) else {
                break;
            };
            let piece = chunk.split_to(room.min(chunk.len()));
            if chunk.is_empty() {
                tunnel.queue.pop_front();
            }
            ends.inbound.put(&piece);
            codec.release(id, piece.len());
        }
        if tunnel.queue.is_empty() && tunnel.peer_done {
            ends.inbound.close();
        }
        let waker = cx.waker().clone();
        loop {
            let mut refused = None;
            // The session's bytes as they were put (a message's payload, or what was
            // copied in): the codec queues them without a copy.
            let taken = ends.outbound.poll_take_bytes(&waker, |data| {
                match codec.send_data(id, data, false) {
                    Ok(()) => true,
                    Err(e) => {
                        refused = Some(e);
                        false
                    }
                }
            });
            match (taken, refused) {
                // The stream's queue is full: `Event::Writable` polls again.
                (_, Some(Refused::Full)) => return Progress::Open,
                (_, Some(e)) => {
                    tracing::debug!(target: "roadrunner", event = "tunnel.refused", stream = id, error = %e);
                    return Progress::Failed;
                }
                (Poll::Ready(Some(())), None) => {}
                (Poll::Pending, None) => return Progress::Open,
                (Poll::Ready(None), None) if tunnel.session.is_some() => {
                    // The session closed its side and still reads: half-close.
                    let _ = codec.send_data(id, Bytes::new(), true);
                    return Progress::Open;
                }
                (Poll::Ready(None), None) => {
                    return match codec.send_data(id, Bytes::new(), true) {
                        Ok(()) | Err(Refused::InvalidState) => Progress::Done,
                        // The stream's queue is full with the session's last bytes: the
                        // end goes when `Event::Writable` polls again.
                        Err(Refused::Full) => Progress::Open,
                        Err(_) => Progress::Failed,
                    };
                }
            }
        }
    }
}

//! The acceptor pool: tasks pulling connections from one listen socket.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use event_listener::Event;
use futures_lite::future;

use crate::conn;
use crate::counters::ConnSlot;
use crate::listener::Shared;
use crate::runtime::{Acceptor, ByteStream, Runtime};

/// Pause after a failed accept (out of file descriptors, say), so a persistent error
/// does not spin the acceptor.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(10);

/// The pool takes turns at the socket: one acceptor waits on it at a time and hands
/// the turn on as soon as it has a connection, then admits it. Runtimes wake every
/// task waiting on a socket when it becomes readable, so without turns each new
/// connection would wake the whole pool to find one winner.
#[derive(Debug, Default)]
pub(crate) struct Turn {
    taken: AtomicBool,
    free: Event,
}

impl Turn {
    async fn take(&self) -> TurnHeld<'_> {
        loop {
            if !self.taken.swap(true, Ordering::AcqRel) {
                return TurnHeld(self);
            }
            let free = self.free.listen();
            if !self.taken.swap(true, Ordering::AcqRel) {
                return TurnHeld(self);
            }
            free.await;
        }
    }
}

/// The turn, handed on when dropped (also when a stopping acceptor is cancelled).
struct TurnHeld<'a>(&'a Turn);

impl Drop for TurnHeld<'_> {
    fn drop(&mut self) {
        self.0.taken.store(false, Ordering::Release);
        self.0.free.notify(1);
    }
}

pub(crate) async fn accept_loop<R: Runtime, A: Acceptor>(
    rt: R,
    acceptor: Arc<A>,
    shared: Arc<Shared>,
) {
    let mut stop = shared.stop.listen();
    while !shared.stopping.load(Ordering::Acquire) {
        let accepted = future::or(
            async {
                (&mut stop).await;
                None
            },
            async {
                let _turn = shared.accept_turn.take().await;
                Some(acceptor.accept().await)
            },
        )
        .await;
        match accepted {
            None => break,
            Some(Ok((stream, peer))) => admit(&rt, stream, peer, &shared),
            Some(Err(e)) => {
                tracing::warn!(
                    target: "roadrunner",
                    event = "listener.accept_error",
                    listener = &*shared.name,
                    error = %e,
                );
                let backoff = rt.timer(rt.now() + ACCEPT_ERROR_BACKOFF);
                future::or(backoff, &mut stop).await;
            }
        }
    }
    // The socket closes when the last acceptor lets go of it; only then is the port
    // free, which is what `stop` waits for.
    drop(acceptor);
    if shared.acceptors_live.fetch_sub(1, Ordering::AcqRel) == 1 {
        shared.acceptors_done.notify(usize::MAX);
    }
}

fn admit<R: Runtime, S: ByteStream>(rt: &R, stream: S, peer: SocketAddr, shared: &Arc<Shared>) {
    match ConnSlot::try_acquire(&shared.counters, shared.max_clients) {
        Some(slot) => {
            let at = conn::Setup::new(rt.clone(), peer, shared.clone());
            rt.spawn(conn::serve(at, stream, slot))
        }
        None => {
            shared.counters.rejected.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                target: "roadrunner",
                event = "listener.conn_rejected",
                listener = &*shared.name,
                peer = %peer,
                max_clients = shared.max_clients,
            );
            drop(stream);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_lite::future::{block_on, poll_once};

    #[test]
    fn one_acceptor_holds_the_turn_at_a_time() {
        let turn = Turn::default();
        let first = block_on(turn.take());
        let mut second = Box::pin(turn.take());
        assert!(block_on(poll_once(&mut second)).is_none(), "turn is taken");
        drop(first);
        let second = block_on(poll_once(&mut second)).expect("handed on");
        let mut third = Box::pin(turn.take());
        assert!(block_on(poll_once(&mut third)).is_none());
        drop(second);
        assert!(block_on(poll_once(&mut third)).is_some());
    }
}

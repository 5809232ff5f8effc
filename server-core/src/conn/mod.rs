//! Connection drivers: one per protocol, each polling socket, timer and handler
//! together for one connection.

mod alarm;
mod clock;
mod h1;
mod reason;
mod upgraded;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use futures_lite::future;

use crate::counters::{ConnSlot, Counters};
use crate::listener::Shared;
use crate::runtime::{ByteStream, Runtime};
use crate::tls::TlsStream;
use reason::Reason;

/// What a connection and its drain watcher tell each other.
#[derive(Debug, Default)]
pub(crate) struct DrainFlags {
    /// Set by the driver while it waits for the next request with nothing of it read.
    pub(crate) idle: AtomicBool,
    /// Set by the watcher when a drain notice arrives.
    pub(crate) noticed: AtomicBool,
}

impl DrainFlags {
    /// The driver is about to wait between requests; true if it should close instead.
    pub(crate) fn enter_idle(&self) -> bool {
        self.idle.store(true, Ordering::SeqCst);
        self.noticed.load(Ordering::SeqCst)
    }

    pub(crate) fn leave_idle(&self) {
        self.idle.store(false, Ordering::Relaxed);
    }

    pub(crate) fn noticed(&self) -> bool {
        self.noticed.load(Ordering::Acquire)
    }
}

/// Serves one accepted connection until it ends. `slot` is held for exactly as long,
/// whichever way the connection ends (the watcher dropping the driver included).
pub(crate) async fn serve<R: Runtime, S: ByteStream>(
    rt: R,
    io: S,
    peer: SocketAddr,
    shared: Arc<Shared>,
    slot: ConnSlot,
) {
    tracing::debug!(
        target: "roadrunner",
        event = "listener.accept",
        listener = &*shared.name,
        peer = %peer,
    );
    let reason = match &shared.tls {
        None => serve_h1(&rt, io, peer, &shared).await,
        Some(config) => match TlsStream::new(io, config.clone()) {
            // Boxed: the TLS session lives on the heap, so plain connections do not
            // carry room for it.
            Ok(io) => Box::pin(serve_h1(&rt, io, peer, &shared)).await,
            Err(e) => {
                tracing::warn!(target: "roadrunner", event = "tls.error", error = %e);
                Reason::TlsError
            }
        },
    };
    drop(slot);
    tracing::debug!(
        target: "roadrunner",
        event = "listener.conn_close",
        listener = &*shared.name,
        peer = %peer,
        reason = reason.as_str(),
    );
}

async fn serve_h1<R: Runtime, S: ByteStream>(
    rt: &R,
    io: S,
    peer: SocketAddr,
    shared: &Arc<Shared>,
) -> Reason {
    let flags = DrainFlags::default();
    let notices = shared.drain.notices();
    let mut conn = h1::Conn::new(rt, io, peer, shared.clone(), &flags);
    let reason = if shared.graceful_drain {
        let watch = async {
            shared
                .drain
                .watch(&flags.idle, &flags.noticed, notices)
                .await;
            Reason::Drain
        };
        future::or(conn.run(), watch).await
    } else {
        let _unwatched = Unwatched::new(&shared.counters);
        conn.run().await
    };
    conn.close().await;
    reason
}

/// Counts a connection that drain cannot reach, for as long as it lives.
struct Unwatched<'a>(&'a Counters);

impl<'a> Unwatched<'a> {
    fn new(counters: &'a Counters) -> Self {
        counters.unwatched.fetch_add(1, Ordering::AcqRel);
        Unwatched(counters)
    }
}

impl Drop for Unwatched<'_> {
    fn drop(&mut self) {
        self.0.unwatched.fetch_sub(1, Ordering::AcqRel);
    }
}

//! Connection drivers: one per protocol, each polling socket, timer and handler
//! together for one connection.

mod alarm;
mod clock;
mod dispatch;
mod h1;
mod h2;
mod h3;
mod mux;
mod reason;
mod upgraded;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use futures_lite::future;

use crate::counters::{ConnSlot, Counters};
use crate::listener::Shared;
use crate::runtime::{ByteStream, Runtime};
use crate::scratch::{poll_read_with, Layer};
use crate::tls::TlsStream;
use alarm::{until, Alarm, TimedOut};
use dispatch::Proto;
pub(crate) use dispatch::{plain, Plain};
pub(crate) use h2::config as h2_config;
pub(crate) use h3::{endpoint as h3_endpoint, start as start_h3};
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
#[expect(
    clippy::manual_async_fn,
    reason = "an async fn would keep both its arguments and their moved copies in every \
              connection's state (80 bytes per connection)"
)]
pub(crate) fn serve<R: Runtime, S: ByteStream>(
    at: Setup<R>,
    io: S,
    slot: ConnSlot,
) -> impl std::future::Future<Output = ()> {
    async move {
        tracing::debug!(
            target: "roadrunner",
            event = "listener.accept",
            listener = &*at.shared.name,
            peer = %at.peer,
        );
        let reason = match (&at.shared.tls, at.shared.plain) {
            // Straight to the driver: every async layer between here and it would keep its
            // own copy of the socket in every connection's future.
            (None, Plain::Only(Proto::Http1)) => serve_h1(&at, io, &[]).await,
            (None, Plain::Only(proto)) => Box::pin(at.drive(proto, io)).await,
            // Boxed: the TLS session lives on the heap, so plain connections do not carry
            // room for it.
            (Some(config), _) => Box::pin(at.tls(io, config)).await,
            (None, Plain::Sniff) => Box::pin(at.sniff(io)).await,
        };
        drop(slot);
        tracing::debug!(
            target: "roadrunner",
            event = "listener.conn_close",
            listener = &*at.shared.name,
            peer = %at.peer,
            reason = reason.as_str(),
        );
    }
}

/// What setting a connection up needs before its driver runs.
pub(crate) struct Setup<R> {
    rt: R,
    peer: SocketAddr,
    shared: Arc<Shared>,
    accepted: Instant,
    notices: u64,
}

impl<R: Runtime> Setup<R> {
    /// A connection from `peer`, accepted now.
    pub(crate) fn new(rt: R, peer: SocketAddr, shared: Arc<Shared>) -> Self {
        Setup {
            accepted: rt.now(),
            // Taken now, so that a notice sent while the connection is set up is seen.
            notices: shared.drain.notices(),
            rt,
            peer,
            shared,
        }
    }

    /// The TLS handshake as a step of its own, bounded by `request_timeout` from the
    /// accept (and ended by a drain notice, like an idle connection), then the driver
    /// of the protocol ALPN settled on.
    async fn tls<S: ByteStream>(&self, io: S, config: &Arc<rustls::ServerConfig>) -> Reason {
        let mut io = match TlsStream::new(io, config.clone()) {
            Ok(io) => io,
            Err(e) => {
                tracing::warn!(target: "roadrunner", event = "tls.error", error = %e);
                return Reason::TlsError;
            }
        };
        let deadline = self.accepted + self.shared.limits.request_timeout;
        let mut alarm = Alarm::new(self.rt.clone());
        let shake = async {
            match until(&mut alarm, deadline, |cx| io.poll_handshake(cx)).await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(Reason::of_io(&e)),
                Err(TimedOut) => Err(Reason::RequestTimeout),
            }
        };
        if let Err(reason) = self.unless_drained(shake).await {
            return reason;
        }
        let proto = dispatch::by_alpn(io.alpn());
        self.drive(proto, io).await
    }

    /// Plain TCP serving both HTTP/1.1 and prior-knowledge HTTP/2: the first bytes
    /// (bounded by `request_timeout` from the accept) tell which.
    async fn sniff<S: ByteStream>(&self, mut io: S) -> Reason {
        let deadline = self.accepted + self.shared.limits.request_timeout;
        let mut alarm = Alarm::new(self.rt.clone());
        let mut first = Vec::new();
        let read = async {
            loop {
                if let Some(proto) = dispatch::by_preface(&first) {
                    return Ok(proto);
                }
                let want = dispatch::PREFACE.len() - first.len();
                let got = until(&mut alarm, deadline, |cx| {
                    poll_read_with(Layer::Http, &mut io, cx, want, |b| {
                        first.extend_from_slice(b)
                    })
                });
                match got.await {
                    Ok(Ok(0)) => return Err(Reason::Done),
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => return Err(Reason::of_io(&e)),
                    Err(TimedOut) => return Err(Reason::RequestTimeout),
                }
            }
        };
        match self.unless_drained(read).await {
            Ok(proto) => self.drive_from(proto, io, &first).await,
            Err(reason) => reason,
        }
    }

    /// Runs `step` of a connection that has no request yet: a drain notice ends it.
    async fn unless_drained<T>(
        &self,
        step: impl Future<Output = Result<T, Reason>>,
    ) -> Result<T, Reason> {
        if !self.shared.graceful_drain {
            return step.await;
        }
        let (idle, noticed) = (AtomicBool::new(true), AtomicBool::new(false));
        let watch = async {
            self.shared.drain.watch(&idle, &noticed, self.notices).await;
            Err(Reason::Drain)
        };
        future::or(step, watch).await
    }

    async fn drive<S: ByteStream>(&self, proto: Proto, io: S) -> Reason {
        self.drive_from(proto, io, &[]).await
    }

    /// Runs `proto`'s driver; `first` is what was read to choose it.
    async fn drive_from<S: ByteStream>(&self, proto: Proto, io: S, first: &[u8]) -> Reason {
        match proto {
            Proto::Http1 => serve_h1(self, io, first).await,
            Proto::Http2 => {
                let _unwatched =
                    (!self.shared.graceful_drain).then(|| Unwatched::new(&self.shared.counters));
                // Boxed: its state would otherwise widen every HTTP/1.1 connection.
                let mut codec = roadrunner_h2::ServerConn::new(self.shared.limits.h2.clone());
                codec.recv(first);
                Box::pin(h2::serve(self, io, codec, None)).await
            }
        }
    }
}

async fn serve_h1<R: Runtime, S: ByteStream>(at: &Setup<R>, io: S, first: &[u8]) -> Reason {
    let (shared, notices) = (&at.shared, at.notices);
    let flags = DrainFlags::default();
    let mut conn = h1::Conn::new(
        &at.rt,
        io,
        at.peer,
        shared.clone(),
        &flags,
        at.accepted,
        first,
    );
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
    if let Some(up) = conn.take_h2c() {
        return Box::pin(serve_h2c(at, conn.into_io(), *up)).await;
    }
    conn.close().await;
    reason
}

/// Continues a connection that upgraded to HTTP/2 (`Upgrade: h2c`).
async fn serve_h2c<R: Runtime, S: ByteStream>(at: &Setup<R>, io: S, up: h1::H2c) -> Reason {
    let mut codec =
        match roadrunner_h2::ServerConn::upgrade(at.shared.limits.h2.clone(), &up.settings) {
            Ok(codec) => codec,
            Err(_) => return Reason::ProtocolError,
        };
    codec.recv(&up.early);
    let _unwatched = (!at.shared.graceful_drain).then(|| Unwatched::new(&at.shared.counters));
    h2::serve(at, io, codec, Some(up.req)).await
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

//! A running listener: the acceptor pool, its shared state, and the operator's handle.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use event_listener::Event;
use futures_lite::future;

use crate::conn;
use crate::counters::{ConnSlot, Counters, Info};
use crate::middleware::SharedMiddleware;
use crate::options::{Options, OptionsError};
use crate::router::{Dispatch, RouteError, Routes};
use crate::runtime::{Acceptor, ByteStream, Runtime};

/// Why `start` failed.
#[derive(Debug)]
pub enum StartError {
    /// The options were refused; nothing was bound.
    Options(OptionsError),
    /// Binding or listening failed.
    Bind(io::Error),
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::Options(e) => write!(f, "bad listener options: {e}"),
            StartError::Bind(e) => write!(f, "cannot bind: {e}"),
        }
    }
}

impl std::error::Error for StartError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StartError::Options(e) => Some(e),
            StartError::Bind(e) => Some(e),
        }
    }
}

/// Why `reload_routes` refused a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReloadError {
    /// The listener runs in single-handler mode: there is no table to replace.
    NoRoutes,
    /// A pattern in the new table does not compile; the old table stays.
    Route(RouteError),
}

impl std::fmt::Display for ReloadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReloadError::NoRoutes => {
                f.write_str("the listener runs a single handler: no routes to reload")
            }
            ReloadError::Route(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for ReloadError {}

/// The connection-facing settings, fixed at start.
#[derive(Debug)]
pub(crate) struct Limits {
    pub(crate) request_timeout: Duration,
    pub(crate) keep_alive_timeout: Duration,
    pub(crate) max_keep_alive_requests: u32,
    pub(crate) min_bytes_per_second: u64,
    pub(crate) rate_check_interval: Duration,
    pub(crate) h1: roadrunner_h1::Config,
}

/// State shared by the acceptors, every connection, and the handle.
pub(crate) struct Shared {
    pub(crate) name: Arc<str>,
    pub(crate) limits: Limits,
    pub(crate) dispatch: ArcSwap<Dispatch>,
    middlewares: Vec<SharedMiddleware>,
    pub(crate) counters: Arc<Counters>,
    next_request_id: AtomicU64,
    max_clients: usize,
    max_concurrent_requests: Option<usize>,
    stopping: AtomicBool,
    stop: Event,
    acceptors_live: AtomicUsize,
    acceptors_done: Event,
}

impl Shared {
    pub(crate) fn next_request_id(&self) -> u64 {
        self.next_request_id.fetch_add(1, Ordering::Relaxed)
    }

    fn signal_stop(&self) {
        self.stopping.store(true, Ordering::Release);
        self.stop.notify(usize::MAX);
    }
}

/// The handle of a running listener. Dropping it stops accepting, like [`stop`]
/// without the wait.
///
/// [`stop`]: Listener::stop
pub struct Listener {
    shared: Arc<Shared>,
    local_addr: SocketAddr,
}

impl Listener {
    /// Validates `opts`, binds through `bind` (only if they are valid), and starts
    /// `num_acceptors` acceptor tasks on `rt`. Adapters wrap this in their own `start`.
    pub fn start<R, A, B>(name: &str, opts: Options, rt: R, bind: B) -> Result<Self, StartError>
    where
        R: Runtime,
        A: Acceptor,
        B: FnOnce(&Options) -> io::Result<A>,
    {
        opts.validate().map_err(StartError::Options)?;
        let dispatch = Dispatch::compile(&opts.routes, &opts.middlewares)
            .map_err(|e| StartError::Options(OptionsError::Route(e)))?;
        let acceptor = Arc::new(bind(&opts).map_err(StartError::Bind)?);
        let local_addr = acceptor.local_addr().map_err(StartError::Bind)?;
        let h1 = opts.http1();
        let shared = Arc::new(Shared {
            name: name.into(),
            limits: Limits {
                request_timeout: opts.request_timeout,
                keep_alive_timeout: opts.keep_alive_timeout,
                max_keep_alive_requests: opts.max_keep_alive_requests,
                min_bytes_per_second: opts.min_bytes_per_second,
                rate_check_interval: opts.rate_check_interval,
                h1: roadrunner_h1::Config {
                    max_request_line: h1.max_request_line,
                    max_header_line: h1.max_header_line,
                    max_header_block: h1.max_header_block,
                    max_header_count: h1.max_header_count,
                    max_content_length: opts.max_content_length,
                },
            },
            dispatch: ArcSwap::from_pointee(dispatch),
            middlewares: opts.middlewares,
            counters: Arc::default(),
            next_request_id: AtomicU64::new(1),
            max_clients: opts.max_clients,
            max_concurrent_requests: opts.max_concurrent_requests,
            stopping: AtomicBool::new(false),
            stop: Event::new(),
            acceptors_live: AtomicUsize::new(opts.num_acceptors),
            acceptors_done: Event::new(),
        });
        for _ in 0..opts.num_acceptors {
            rt.spawn(accept_loop(rt.clone(), acceptor.clone(), shared.clone()));
        }
        tracing::info!(
            target: "roadrunner",
            event = "listener.start",
            listener = name,
            addr = %local_addr,
        );
        Ok(Listener { shared, local_addr })
    }

    /// The TCP port actually bound.
    pub fn port(&self) -> u16 {
        self.local_addr.port()
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The listener's name.
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// A snapshot of the counters.
    pub fn info(&self) -> Info {
        self.monitor().info()
    }

    /// A clonable view of the counters, for handlers and health checks.
    pub fn monitor(&self) -> Monitor {
        Monitor(self.shared.clone())
    }

    /// Atomically replaces the route table (the listener's middlewares are applied to
    /// the new one too). Requests already routed finish with the table they resolved
    /// with; every later dispatch sees the new one.
    pub fn reload_routes(&self, routes: Routes) -> Result<(), ReloadError> {
        if self.shared.dispatch.load().is_single() {
            return Err(ReloadError::NoRoutes);
        }
        let next =
            Dispatch::compile(&routes, &self.shared.middlewares).map_err(ReloadError::Route)?;
        self.shared.dispatch.store(Arc::new(next));
        Ok(())
    }

    /// Stops accepting and returns once the listen socket is closed, so the port can
    /// be bound again at once. Connections in flight are not waited on.
    pub async fn stop(self) {
        self.shared.signal_stop();
        loop {
            let done = self.shared.acceptors_done.listen();
            if self.shared.acceptors_live.load(Ordering::Acquire) == 0 {
                return;
            }
            done.await;
        }
    }
}

/// A clonable, read-only view of a listener's counters.
#[derive(Clone)]
pub struct Monitor(Arc<Shared>);

impl Monitor {
    /// A snapshot of the counters.
    pub fn info(&self) -> Info {
        let c = &self.0.counters;
        Info {
            active_clients: c.active(),
            max_clients: self.0.max_clients,
            requests_served: c.served.load(Ordering::Relaxed),
            rejected: c.rejected.load(Ordering::Relaxed),
            max_concurrent_requests: self.0.max_concurrent_requests,
            throttled: c.throttled.load(Ordering::Relaxed),
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.shared.signal_stop();
    }
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listener")
            .field("name", &self.shared.name)
            .field("local_addr", &self.local_addr)
            .finish()
    }
}

/// Pause after a failed accept (out of file descriptors, say), so a persistent error
/// does not spin the acceptor.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(10);

async fn accept_loop<R: Runtime, A: Acceptor>(rt: R, acceptor: Arc<A>, shared: Arc<Shared>) {
    let mut stop = shared.stop.listen();
    while !shared.stopping.load(Ordering::Acquire) {
        let accepted = future::or(
            async {
                (&mut stop).await;
                None
            },
            async { Some(std::future::poll_fn(|cx| acceptor.poll_accept(cx)).await) },
        )
        .await;
        match accepted {
            None => break,
            Some(Ok((stream, peer))) => admit(&rt, stream, peer, &shared),
            Some(Err(e)) => {
                tracing::warn!(target: "roadrunner", event = "listener.accept_error", listener = &*shared.name, error = %e);
                let backoff = rt.timer(Instant::now() + ACCEPT_ERROR_BACKOFF);
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
        Some(slot) => rt.spawn(conn::h1::serve(
            rt.clone(),
            stream,
            peer,
            shared.clone(),
            slot,
        )),
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

//! A running listener: its shared state, and the operator's handles.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use event_listener::Event;
use futures_lite::future;

use crate::accept::accept_loop;
use crate::counters::{Counters, Info};
use crate::drain::{Drain, DrainOutcome, Status};
use crate::handler::BoxFuture;
use crate::middleware::Middlewares;
use crate::options::{Options, OptionsError};
use crate::registry;
use crate::router::{Dispatch, RouteError, Routes};
use crate::runtime::{Acceptor, DatagramSocket, Runtime};
use crate::state::StateMap;

/// Why `start` failed.
#[derive(Debug)]
pub enum StartError {
    /// The options were refused; nothing was bound.
    Options(OptionsError),
    /// Another running listener has this name.
    NameInUse(String),
    /// Binding or listening failed.
    Bind(io::Error),
    /// The adapter could not set up its runtime (threads, reactor).
    Runtime(io::Error),
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::Options(e) => write!(f, "bad listener options: {e}"),
            StartError::NameInUse(name) => write!(f, "a listener named {name:?} is running"),
            StartError::Bind(e) => write!(f, "cannot bind: {e}"),
            StartError::Runtime(e) => write!(f, "cannot start the runtime: {e}"),
        }
    }
}

impl std::error::Error for StartError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StartError::Options(e) => Some(e),
            StartError::NameInUse(_) => None,
            StartError::Bind(e) | StartError::Runtime(e) => Some(e),
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
    pub(crate) send_timeout: Duration,
    pub(crate) max_keep_alive_requests: u32,
    pub(crate) min_bytes_per_second: u64,
    pub(crate) rate_check_interval: Duration,
    pub(crate) manual_body: bool,
    pub(crate) hibernate_after: Option<Duration>,
    pub(crate) handler_spawn: crate::options::HandlerSpawn,
    pub(crate) h1: roadrunner_h1::Config,
    pub(crate) h2: roadrunner_h2::Config,
    pub(crate) ws: roadrunner_ws::Config,
}

#[cfg(test)]
impl Limits {
    /// The defaults of the spec, for unit tests to adjust.
    pub(crate) fn for_tests() -> Self {
        Limits {
            request_timeout: Duration::from_secs(30),
            keep_alive_timeout: Duration::from_secs(60),
            send_timeout: Duration::from_secs(30),
            max_keep_alive_requests: 1000,
            min_bytes_per_second: 100,
            rate_check_interval: Duration::from_secs(1),
            manual_body: false,
            hibernate_after: None,
            handler_spawn: Default::default(),
            h1: roadrunner_h1::Config::default(),
            h2: roadrunner_h2::Config::default(),
            ws: roadrunner_ws::Config::default(),
        }
    }
}

/// A runtime's timer, type-erased for the handle's `drain`.
type Sleep = Box<dyn Fn(Instant) -> BoxFuture<()> + Send + Sync>;

/// State shared by the acceptors, every connection, and the handles.
pub(crate) struct Shared {
    pub(crate) name: Arc<str>,
    pub(crate) local_addr: SocketAddr,
    pub(crate) limits: Limits,
    pub(crate) graceful_drain: bool,
    /// What plain TCP connections speak (unused with TLS, where ALPN decides).
    pub(crate) plain: crate::conn::Plain,
    pub(crate) tls: Option<Arc<rustls::ServerConfig>>,
    pub(crate) dispatch: ArcSwap<Dispatch>,
    middlewares: Middlewares,
    state: StateMap,
    pub(crate) counters: Arc<Counters>,
    pub(crate) drain: Drain,
    next_request_id: AtomicU64,
    pub(crate) max_clients: usize,
    pub(crate) max_concurrent_requests: Option<usize>,
    pub(crate) stopping: AtomicBool,
    pub(crate) stop: Event,
    pub(crate) acceptors_live: AtomicUsize,
    pub(crate) acceptors_done: Event,
    pub(crate) accept_turn: crate::accept::Turn,
    /// Tasks holding the HTTP/3 sockets (receive tasks and QUIC connections).
    pub(crate) udp_live: AtomicUsize,
    pub(crate) udp_done: Event,
    /// `alt-svc` for HTTP/1.1 and HTTP/2 responses, when HTTP/3 is served and
    /// advertised.
    pub(crate) alt_svc: Option<http::HeaderValue>,
    /// The runtime's clock and timer, type-erased for the handles.
    pub(crate) now: Box<dyn Fn() -> Instant + Send + Sync>,
    sleep: Sleep,
}

impl Shared {
    pub(crate) fn next_request_id(&self) -> u64 {
        self.next_request_id.fetch_add(1, Ordering::Relaxed)
    }
}

/// The owner's handle of a running listener: everything a [`ListenerRef`] does, plus
/// `stop` and `drain`.
///
/// Dropping it stops the server: the listen socket closes at once (like `stop`,
/// without the wait), so keep it bound to a name for as long as the server should
/// run. `let _ = start(..)` drops it at once too; `let _listener = start(..)` keeps
/// it to the end of the scope. Connections already accepted run on to their end.
#[must_use = "dropping the Listener stops the server at once: bind it (`let listener = ...`) and keep it while the server should run"]
pub struct Listener {
    handle: ListenerRef,
}

impl Listener {
    /// Validates `opts`, binds through `bind` (only if they are valid), and starts
    /// `num_acceptors` acceptor tasks on `rt`. Adapters wrap this in their own `start`.
    ///
    /// `http3` needs UDP sockets, which only [`Listener::start_with_datagrams`] is
    /// given: here it is refused.
    #[must_use = "dropping the Listener stops the server at once: bind it (`let listener = ...`) and keep it while the server should run"]
    pub fn start<R, A, B>(name: &str, opts: Options, rt: R, bind: B) -> Result<Self, StartError>
    where
        R: Runtime,
        A: Acceptor,
        B: FnOnce(&Options) -> io::Result<A>,
    {
        if opts.http3().is_some() {
            return Err(StartError::Options(OptionsError::NotSupportedYet(
                "http3 on a runtime without UDP sockets",
            )));
        }
        Self::start_with_datagrams(name, opts, rt, |opts| {
            bind(opts).map(|a| (a, Vec::<std::convert::Infallible>::new()))
        })
    }

    /// [`Listener::start`] for a runtime with UDP: `bind` also gives the sockets that
    /// serve HTTP/3 (`http3.listeners` of them, bound to the TCP port's number; none
    /// without `http3`).
    #[must_use = "dropping the Listener stops the server at once: bind it (`let listener = ...`) and keep it while the server should run"]
    pub fn start_with_datagrams<R, A, D, B>(
        name: &str,
        opts: Options,
        rt: R,
        bind: B,
    ) -> Result<Self, StartError>
    where
        R: Runtime,
        A: Acceptor,
        D: DatagramSocket,
        B: FnOnce(&Options) -> io::Result<(A, Vec<D>)>,
    {
        opts.validate().map_err(StartError::Options)?;
        let dispatch = Dispatch::compile(&opts.routes, opts.middlewares.as_slice())
            .map_err(|e| StartError::Options(OptionsError::Route(e)))?;
        if registry::find(name).is_some() {
            return Err(StartError::NameInUse(name.to_owned()));
        }
        // Built once to refuse an unfit TLS configuration before anything is bound,
        // and again once the sockets say whether they can search for a path MTU.
        let h3 = crate::conn::h3_endpoint(&opts, false).map_err(StartError::Options)?;
        let (acceptor, udp) = bind(&opts).map_err(StartError::Bind)?;
        if h3.is_some() && udp.is_empty() {
            return Err(StartError::Bind(io::Error::other(
                "http3 is listed but no UDP socket was bound",
            )));
        }
        let never_fragment = udp.iter().all(|s| !s.may_fragment());
        let quic = match (h3, never_fragment) {
            (Some(_), true) => {
                crate::conn::h3_endpoint(&opts, true).map_err(StartError::Options)?
            }
            (h3, _) => h3,
        };
        let acceptor = Arc::new(acceptor);
        let local_addr = acceptor.local_addr().map_err(StartError::Bind)?;
        let alt_svc = opts.http3().filter(|h3| h3.alt_svc).and_then(|_| {
            let value = format!("h3=\":{}\"; ma=86400", local_addr.port());
            http::HeaderValue::from_str(&value).ok()
        });
        let h1 = opts.http1();
        let timer_rt = rt.clone();
        let shared = Arc::new(Shared {
            name: name.into(),
            local_addr,
            limits: Limits {
                request_timeout: opts.request_timeout,
                keep_alive_timeout: opts.keep_alive_timeout,
                send_timeout: opts.send_timeout,
                max_keep_alive_requests: opts.max_keep_alive_requests,
                min_bytes_per_second: opts.min_bytes_per_second,
                rate_check_interval: opts.rate_check_interval,
                manual_body: opts.body_buffering == crate::options::BodyBuffering::Manual,
                hibernate_after: opts.hibernate_after,
                handler_spawn: opts.handler_spawn,
                h2: crate::conn::h2_config(&opts),
                ws: ws_config(opts.ws.as_ref()),
                h1: roadrunner_h1::Config {
                    max_request_line: h1.max_request_line,
                    max_header_line: h1.max_header_line,
                    max_header_block: h1.max_header_block,
                    max_header_count: h1.max_header_count,
                    max_content_length: opts.max_content_length,
                },
            },
            graceful_drain: opts.graceful_drain,
            plain: crate::conn::plain(&opts.protocols),
            tls: opts
                .tls
                .as_ref()
                .map(|config| crate::tls::with_alpn(config, &opts.alpn())),
            dispatch: ArcSwap::from_pointee(dispatch),
            middlewares: opts.middlewares,
            state: opts.state,
            counters: Arc::default(),
            drain: Drain::default(),
            next_request_id: AtomicU64::new(1),
            max_clients: opts.max_clients,
            max_concurrent_requests: opts.max_concurrent_requests,
            stopping: AtomicBool::new(false),
            stop: Event::new(),
            acceptors_live: AtomicUsize::new(opts.num_acceptors),
            acceptors_done: Event::new(),
            accept_turn: Default::default(),
            udp_live: AtomicUsize::new(0),
            udp_done: Event::new(),
            alt_svc,
            now: {
                let rt = rt.clone();
                Box::new(move || rt.now())
            },
            sleep: Box::new(move |at| Box::pin(timer_rt.timer(at))),
        });
        if !registry::claim(&shared.name, &shared) {
            return Err(StartError::NameInUse(name.to_owned()));
        }
        for _ in 0..opts.num_acceptors {
            rt.spawn(accept_loop(rt.clone(), acceptor.clone(), shared.clone()));
        }
        if let Some(endpoint) = quic {
            crate::conn::start_h3(&rt, &shared, endpoint, udp);
        }
        tracing::info!(
            target: "roadrunner",
            event = "listener.start",
            listener = name,
            addr = %local_addr,
        );
        Ok(Listener {
            handle: ListenerRef(shared),
        })
    }

    /// A clonable handle for everything but stopping.
    pub fn handle(&self) -> ListenerRef {
        self.handle.clone()
    }

    /// Stops accepting and returns once the listen socket is closed, so the port can
    /// be bound again at once. Connections in flight are not waited on, except HTTP/3
    /// ones: they share the listener's UDP sockets, so they are closed
    /// (CONNECTION_CLOSE with H3_NO_ERROR) and the sockets with them.
    pub async fn stop(self) {
        self.handle.close_socket().await;
        let shared = &self.handle.0;
        loop {
            let done = shared.udp_done.listen();
            if shared.udp_live.load(Ordering::Acquire) == 0 {
                return;
            }
            done.await;
        }
    }

    /// Graceful shutdown: closes the listen socket at once, sends every connection a
    /// drain notice carrying the deadline (idle keep-alive connections close at once,
    /// busy ones answer their request with `connection: close`), and waits until no
    /// connection is left or `timeout` passes; those still alive then are ended.
    pub async fn drain(self, timeout: Duration) -> DrainOutcome {
        let shared = &self.handle.0;
        let deadline = (shared.now)() + timeout;
        // Counted before the notice: idle connections close as soon as it is sent.
        tracing::info!(
            target: "roadrunner",
            event = "drain.start",
            listener = &*shared.name,
            active = shared.counters.active(),
            timeout_ms = timeout.as_millis() as u64,
        );
        shared.drain.start(deadline);
        self.handle.close_socket().await;
        let drained = future::or(
            async {
                wait_for_count(&shared.counters, 0).await;
                true
            },
            async {
                (shared.sleep)(deadline).await;
                false
            },
        )
        .await;
        let outcome = if drained {
            DrainOutcome::Drained
        } else {
            let remaining = shared.counters.active();
            shared.drain.kill();
            // Connections that do not watch for notices cannot be ended from here.
            let unwatched = shared.counters.unwatched.load(Ordering::Acquire);
            wait_for_count(&shared.counters, unwatched).await;
            DrainOutcome::TimedOut { remaining }
        };
        tracing::info!(
            target: "roadrunner",
            event = "drain.done",
            listener = &*shared.name,
            outcome = ?outcome,
        );
        outcome
    }
}

impl std::ops::Deref for Listener {
    type Target = ListenerRef;

    fn deref(&self) -> &ListenerRef {
        &self.handle
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.handle.signal_stop();
    }
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.handle.fmt(f)
    }
}

async fn wait_for_count(counters: &Counters, target: usize) {
    loop {
        let ended = counters.conn_ended.listen();
        if counters.active() <= target {
            return;
        }
        ended.await;
    }
}

/// A clonable handle to a running listener: counters, status, notices, route reloads.
#[derive(Clone)]
pub struct ListenerRef(Arc<Shared>);

impl ListenerRef {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        ListenerRef(shared)
    }

    #[cfg(test)]
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.0
    }

    pub(crate) fn drain_state(&self) -> &Drain {
        &self.0.drain
    }

    /// The listener's runtime clock (virtual on a simulated runtime).
    pub fn now(&self) -> Instant {
        (self.0.now)()
    }

    /// Waits `d` on the listener's own runtime timer, whatever the runtime: handlers
    /// need not know whether they run on tokio or smol.
    pub fn sleep(&self, d: Duration) -> BoxFuture<()> {
        (self.0.sleep)(self.now() + d)
    }

    /// Waits until `deadline` on the listener's runtime timer.
    pub fn sleep_until(&self, deadline: Instant) -> BoxFuture<()> {
        (self.0.sleep)(deadline)
    }

    /// The running listener called `name`.
    pub fn lookup(name: &str) -> Option<ListenerRef> {
        registry::find(name).map(ListenerRef)
    }

    /// The WebSocket caps of the listener's options.
    pub(crate) fn ws_config(&self) -> roadrunner_ws::Config {
        self.0.limits.ws.clone()
    }

    /// The listener's name.
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// The TCP port actually bound.
    pub fn port(&self) -> u16 {
        self.0.local_addr.port()
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.0.local_addr
    }

    /// `Accepting`, or `Draining` once `drain` has begun.
    pub fn status(&self) -> Status {
        self.0.drain.status()
    }

    /// The deadline carried by the latest drain notice, if one was sent with one.
    pub fn drain_deadline(&self) -> Option<Instant> {
        self.0.drain.deadline()
    }

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

    /// The listener-wide state ([`Options::state`]).
    pub fn state(&self) -> &StateMap {
        &self.0.state
    }

    /// Sends every connection the drain notice (idle ones close, busy ones close after
    /// their response) without stopping the listener; new connections are accepted.
    pub fn notify_drain(&self) {
        self.0.drain.notify(None);
    }

    /// Atomically replaces the route table (the listener's middlewares are applied to
    /// the new one too). Requests already routed finish with the table they resolved
    /// with; every later dispatch sees the new one.
    pub fn reload_routes(&self, routes: Routes) -> Result<(), ReloadError> {
        if self.0.dispatch.load().is_single() {
            return Err(ReloadError::NoRoutes);
        }
        let next = Dispatch::compile(&routes, self.0.middlewares.as_slice())
            .map_err(ReloadError::Route)?;
        self.0.dispatch.store(Arc::new(next));
        Ok(())
    }

    fn signal_stop(&self) {
        registry::release(&self.0.name, &self.0);
        self.0.stopping.store(true, Ordering::Release);
        self.0.stop.notify(usize::MAX);
    }

    async fn close_socket(&self) {
        self.signal_stop();
        loop {
            let done = self.0.acceptors_done.listen();
            if self.0.acceptors_live.load(Ordering::Acquire) == 0 {
                return;
            }
            done.await;
        }
    }
}

impl std::fmt::Debug for ListenerRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listener")
            .field("name", &self.0.name)
            .field("local_addr", &self.0.local_addr)
            .finish()
    }
}

/// The codec's caps from `ws` (already validated: the message cap covers the frame
/// cap and fits in memory).
fn ws_config(ws: Option<&crate::options::WsOptions>) -> roadrunner_ws::Config {
    let Some(ws) = ws else {
        return roadrunner_ws::Config::default();
    };
    let size = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
    roadrunner_ws::Config::new(size(ws.max_frame_size), size(ws.max_message_size))
        .unwrap_or_default()
}

//! Listener options, with the spec's defaults, checked once before anything is bound.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use crate::middleware::Middlewares;
use crate::router::{RouteError, Routes};
use crate::state::StateMap;

/// Everything a listener is started with: `Options::new(port, routes)` gives the
/// spec's defaults, and every option is a public field, set by assignment or, for
/// `middlewares` and `state`, added to (`push`, `insert`).
///
/// The default address is `0.0.0.0`, every IPv4 interface, as a server in a container
/// or behind a load balancer needs; set `ip` to serve this machine alone:
///
/// ```
/// use std::net::{IpAddr, Ipv4Addr};
/// use std::time::Duration;
/// use roadrunner_core::{Next, Options, Request, Routes};
///
/// let mut opts = Options::new(8080, Routes::handler(|_req: Request| async { "hi" }));
/// assert_eq!(opts.ip, IpAddr::V4(Ipv4Addr::UNSPECIFIED));
/// opts.ip = Ipv4Addr::LOCALHOST.into();
/// opts.request_timeout = Duration::from_secs(10);
/// opts.middlewares.push(|req: Request, next: Next| next.run(req));
/// assert!(opts.validate().is_ok());
/// ```
#[derive(Clone)]
pub struct Options {
    /// TCP port; 0 lets the kernel pick one.
    pub port: u16,
    /// Address to bind. Default: `0.0.0.0`, every IPv4 interface (reachable from other
    /// machines); `Ipv4Addr::LOCALHOST.into()` for this machine only.
    pub ip: IpAddr,
    /// How requests are dispatched.
    pub routes: Routes,
    /// Listener-wide middlewares, outside every route's own; the first is outermost.
    /// Add one with `opts.middlewares.push(mw)`.
    pub middlewares: Middlewares,
    /// Listener-wide state, one value per type (`opts.state.insert(value)`), read by
    /// every handler and middleware with
    /// [`RequestExt::state`](crate::RequestExt::state).
    pub state: StateMap,
    /// Request body cap, bytes. Over it: `413`. Default 10 MB.
    pub max_content_length: u64,
    /// WebSocket caps, for every WebSocket session of the listener (the defaults when
    /// `None`).
    pub ws: Option<WsOptions>,
    /// Time allowed to read a request head on a fresh connection. Default 30 s.
    pub request_timeout: Duration,
    /// Idle time allowed between requests on a kept-alive connection. Default 60 s.
    pub keep_alive_timeout: Duration,
    /// Time a response write may stay blocked on a peer that does not read before the
    /// connection is cut. Default 30 s.
    pub send_timeout: Duration,
    /// Acceptor tasks pulling from the listen socket. Default 10.
    pub num_acceptors: usize,
    /// Requests served on one connection before it is closed. Default 1000.
    pub max_keep_alive_requests: u32,
    /// Concurrent connection cap; a connection over it is closed at once. Default 150.
    pub max_clients: usize,
    /// Listener-wide cap on in-flight h2/h3 requests; `None` = no cap. HTTP/1 is not
    /// affected.
    pub max_concurrent_requests: Option<usize>,
    /// Listen backlog. Default 1024.
    pub socket_backlog: u32,
    /// Slow-client guard while a request is being read; 0 turns it off. Default 100.
    pub min_bytes_per_second: u64,
    /// How often the slow-client guard checks. Default 1 s.
    pub rate_check_interval: Duration,
    /// Whether the body is read before the handler runs (`Auto`) or by the handler
    /// (`Manual`, through [`Body::frame`](crate::Body::frame)).
    pub body_buffering: BodyBuffering,
    /// Accepted for compatibility with the original; connection slots are RAII guards
    /// released on every exit path (panic and cancellation included), so the counter
    /// has nothing to reconcile.
    pub slot_reconciliation: Option<Duration>,
    /// Whether connections register for drain notices. Default true.
    pub graceful_drain: bool,
    /// An idle kept-alive connection gives its buffers back after this long (they are
    /// allocated again by its next request). Default: never.
    pub hibernate_after: Option<Duration>,
    /// How handlers are run. Default: inside their connection's task.
    pub handler_spawn: HandlerSpawn,
    /// Protocols served, in preference order. Default `[http1]`. On TLS this sets the
    /// ALPN list.
    pub protocols: Vec<Protocol>,
    /// Serve HTTPS with this configuration (its ALPN list is replaced by one made from
    /// `protocols`). Default: plain TCP.
    pub tls: Option<std::sync::Arc<rustls::ServerConfig>>,
}

impl Options {
    /// The spec's defaults for `port` and `routes`.
    pub fn new(port: u16, routes: Routes) -> Self {
        Options {
            port,
            ip: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            routes,
            middlewares: Middlewares::default(),
            state: StateMap::default(),
            max_content_length: 10_000_000,
            ws: None,
            request_timeout: Duration::from_secs(30),
            keep_alive_timeout: Duration::from_secs(60),
            send_timeout: Duration::from_secs(30),
            num_acceptors: 10,
            max_keep_alive_requests: 1000,
            max_clients: 150,
            max_concurrent_requests: None,
            socket_backlog: 1024,
            min_bytes_per_second: 100,
            rate_check_interval: Duration::from_secs(1),
            body_buffering: BodyBuffering::Auto,
            slot_reconciliation: None,
            graceful_drain: true,
            hibernate_after: None,
            handler_spawn: HandlerSpawn::Inline,
            protocols: vec![Protocol::Http1(Http1Options::default())],
            tls: None,
        }
    }

    /// The ALPN identifiers for TLS, in the order of `protocols` (HTTP/3 negotiates
    /// its own over QUIC).
    pub fn alpn(&self) -> Vec<&'static [u8]> {
        self.protocols
            .iter()
            .filter_map(|p| match p {
                Protocol::Http1(_) => Some(&b"http/1.1"[..]),
                Protocol::Http2(_) => Some(&b"h2"[..]),
                Protocol::Http3(_) => None,
            })
            .collect()
    }

    /// The HTTP/1 options in force (defaults when `http1` is listed bare or not at all).
    pub fn http1(&self) -> Http1Options {
        self.protocols
            .iter()
            .find_map(|p| match p {
                Protocol::Http1(o) => Some(o.clone()),
                _ => None,
            })
            .unwrap_or_default()
    }

    /// The `http2` options, or the defaults when HTTP/2 is not listed.
    pub fn http2(&self) -> Http2Options {
        self.protocols
            .iter()
            .find_map(|p| match p {
                Protocol::Http2(o) => Some(o.clone()),
                _ => None,
            })
            .unwrap_or_default()
    }

    /// The `http3` options, when HTTP/3 is listed.
    pub fn http3(&self) -> Option<Http3Options> {
        self.protocols.iter().find_map(|p| match p {
            Protocol::Http3(o) => Some(o.clone()),
            _ => None,
        })
    }

    /// Checks every option; an error names the option and why.
    pub fn validate(&self) -> Result<(), OptionsError> {
        let invalid = |option, reason| Err(OptionsError::Invalid { option, reason });
        if self.num_acceptors == 0 {
            return invalid("num_acceptors", "must be at least 1");
        }
        if self.max_keep_alive_requests == 0 {
            return invalid("max_keep_alive_requests", "must be at least 1");
        }
        if self.max_clients == 0 {
            return invalid("max_clients", "must be at least 1");
        }
        if self.max_concurrent_requests == Some(0) {
            return invalid(
                "max_concurrent_requests",
                "must be at least 1 (None = no cap)",
            );
        }
        if self.socket_backlog == 0 || self.socket_backlog > i32::MAX as u32 {
            return invalid("socket_backlog", "must be in 1..=2147483647");
        }
        if self.rate_check_interval.is_zero() {
            return invalid("rate_check_interval", "must be positive");
        }
        if self.request_timeout.is_zero() {
            return invalid("request_timeout", "must be positive");
        }
        if self.keep_alive_timeout.is_zero() {
            return invalid("keep_alive_timeout", "must be positive");
        }
        if self.send_timeout.is_zero() {
            return invalid("send_timeout", "must be positive");
        }
        if self.slot_reconciliation.is_some_and(|d| d.is_zero()) {
            return invalid("slot_reconciliation", "interval must be positive");
        }
        if self.protocols.is_empty() {
            return invalid("protocols", "must list at least one protocol");
        }
        let mut seen = [false; 3];
        for p in &self.protocols {
            let i = match p {
                Protocol::Http1(o) => {
                    o.validate()?;
                    0
                }
                Protocol::Http2(_) => 1,
                Protocol::Http3(_) => 2,
            };
            if std::mem::replace(&mut seen[i], true) {
                return invalid("protocols", "lists a protocol twice");
            }
        }
        if let Some(h3) = self.http3() {
            if self.tls.is_none() {
                return invalid("protocols", "http3 needs tls (QUIC mandates TLS 1.3)");
            }
            if h3.listeners == 0 {
                return invalid("http3.listeners", "must be at least 1");
            }
            if h3.max_streams_bidi == 0 {
                return invalid("http3.max_streams_bidi", "must be at least 1");
            }
            if h3.max_header_block == 0 || h3.max_field_section_size == Some(0) {
                return invalid("http3.max_header_block", "must be at least 1");
            }
        }
        if let Some(ws) = &self.ws {
            if ws.max_message_size < ws.max_frame_size {
                return invalid("ws.max_message_size", "must be >= ws.max_frame_size");
            }
            if usize::try_from(ws.max_message_size).is_err() {
                return invalid("ws.max_message_size", "must fit in memory");
            }
        }
        if self.hibernate_after.is_some_and(|d| d.is_zero()) {
            return invalid("hibernate_after", "must be positive");
        }
        Ok(())
    }
}

/// When the request body is read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BodyBuffering {
    /// In full, before the handler runs.
    #[default]
    Auto,
    /// By the handler, in chunks.
    Manual,
}

/// How handler futures are run: the Rust meaning of the original's `handler_spawn`
/// (which set the spawn options of handler processes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HandlerSpawn {
    /// In the connection's own task: no task, channel or allocation per request.
    #[default]
    Inline,
    /// In a task of its own per request, spawned on the runtime: a CPU-heavy handler
    /// then does not hold up its connection's timers and socket, and a multi-threaded
    /// runtime can run it on another worker. A handler still running when its
    /// connection is cut (drain deadline) runs on to its end, detached.
    Task,
}

/// One entry of the `protocols` list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// HTTP/1.1 (and 1.0).
    Http1(Http1Options),
    /// HTTP/2 (not supported yet).
    Http2(Http2Options),
    /// HTTP/3 over QUIC (not supported yet).
    Http3(Http3Options),
}

/// HTTP/1 request-size caps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Http1Options {
    /// Request line cap; over it `414`. Default 8192.
    pub max_request_line: usize,
    /// One header line's cap; over it `431`. Default 8192.
    pub max_header_line: usize,
    /// Whole header block cap; over it `431`. Default 10240.
    pub max_header_block: usize,
    /// Header count cap; over it `431`. Default 100.
    pub max_header_count: usize,
}

impl Default for Http1Options {
    fn default() -> Self {
        Http1Options {
            max_request_line: 8192,
            max_header_line: 8192,
            max_header_block: 10240,
            max_header_count: 100,
        }
    }
}

impl Http1Options {
    fn validate(&self) -> Result<(), OptionsError> {
        let fields = [
            ("http1.max_request_line", self.max_request_line),
            ("http1.max_header_line", self.max_header_line),
            ("http1.max_header_block", self.max_header_block),
            ("http1.max_header_count", self.max_header_count),
        ];
        for (option, v) in fields {
            if v == 0 || v > i32::MAX as usize {
                return Err(OptionsError::Invalid {
                    option,
                    reason: "must be in 1..=2147483647",
                });
            }
        }
        Ok(())
    }
}

/// HTTP/2 tunables, as the spec names them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Http2Options {
    /// Connection receive window peak. Default 65535.
    pub conn_window: u32,
    /// Stream receive window peak. Default 65535.
    pub stream_window: u32,
    /// Refill threshold. Default 32768.
    pub window_refill_threshold: u32,
    /// Concurrent streams per connection. Default 100.
    pub max_concurrent_streams: u32,
    /// HEADERS+CONTINUATION block cap. Default 16384.
    pub max_header_block: u32,
    /// Decoded header list cap; `None` = 2 × `max_header_block`.
    pub max_header_list_size: Option<u32>,
}

impl Default for Http2Options {
    fn default() -> Self {
        Http2Options {
            conn_window: 65535,
            stream_window: 65535,
            window_refill_threshold: 32768,
            max_concurrent_streams: 100,
            max_header_block: 16384,
            max_header_list_size: None,
        }
    }
}

/// HTTP/3 tunables, as the spec names them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Http3Options {
    /// UDP sockets sharing the port. Default 8.
    pub listeners: u16,
    /// Encoded field-section cap. Default 16384.
    pub max_header_block: u32,
    /// Concurrent bidirectional streams. Default 100.
    pub max_streams_bidi: u32,
    /// Decoded field-section cap; `None` = 2 × `max_header_block`.
    pub max_field_section_size: Option<u32>,
    /// Whether HTTP/1.1 and HTTP/2 responses advertise HTTP/3 with
    /// `alt-svc: h3=":PORT"; ma=86400`, so browsers and curl find it. Default true.
    pub alt_svc: bool,
}

impl Default for Http3Options {
    fn default() -> Self {
        Http3Options {
            listeners: 8,
            max_header_block: 16384,
            max_streams_bidi: 100,
            max_field_section_size: None,
            alt_svc: true,
        }
    }
}

/// WebSocket inbound caps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WsOptions {
    /// Per-frame payload cap. Default 10 MB.
    pub max_frame_size: u64,
    /// Reassembled (and decompressed) message cap; must be ≥ `max_frame_size`.
    pub max_message_size: u64,
}

impl Default for WsOptions {
    fn default() -> Self {
        WsOptions {
            max_frame_size: 10_000_000,
            max_message_size: 10_000_000,
        }
    }
}

/// Why a listener refused its options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OptionsError {
    /// An option has a value outside its range.
    Invalid {
        /// The option's name, as in the spec.
        option: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The option names a feature this build does not have yet.
    NotSupportedYet(&'static str),
    /// A route pattern does not compile.
    Route(RouteError),
    /// The TLS configuration cannot serve QUIC (HTTP/3 needs TLS 1.3).
    Quic(String),
}

impl std::fmt::Display for OptionsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OptionsError::Invalid { option, reason } => write!(f, "option {option}: {reason}"),
            OptionsError::NotSupportedYet(what) => write!(f, "{what} is not supported yet"),
            OptionsError::Route(e) => e.fmt(f),
            OptionsError::Quic(why) => write!(f, "http3: {why}"),
        }
    }
}

impl std::error::Error for OptionsError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> Options {
        Options::new(0, Routes::handler(|_req| async { "ok" }))
    }

    #[test]
    fn defaults_are_the_spec_s() {
        let o = opts();
        assert_eq!(o.max_content_length, 10_000_000);
        assert_eq!(o.request_timeout, Duration::from_secs(30));
        assert_eq!(o.keep_alive_timeout, Duration::from_secs(60));
        assert_eq!(o.num_acceptors, 10);
        assert_eq!(o.max_keep_alive_requests, 1000);
        assert_eq!(o.max_clients, 150);
        assert_eq!(o.max_concurrent_requests, None);
        assert_eq!(o.socket_backlog, 1024);
        assert_eq!(o.min_bytes_per_second, 100);
        assert_eq!(o.rate_check_interval, Duration::from_secs(1));
        assert!(o.graceful_drain);
        assert_eq!(o.http1(), Http1Options::default());
        assert_eq!(Http1Options::default().max_header_block, 10240);
        assert_eq!(o.validate(), Ok(()));
    }

    #[test]
    fn out_of_range_values_are_refused() {
        type Change = fn(&mut Options);
        let cases: Vec<(&str, Change)> = vec![
            ("num_acceptors", |o| o.num_acceptors = 0),
            ("max_clients", |o| o.max_clients = 0),
            ("max_keep_alive_requests", |o| o.max_keep_alive_requests = 0),
            ("max_concurrent_requests", |o| {
                o.max_concurrent_requests = Some(0)
            }),
            ("socket_backlog", |o| o.socket_backlog = 0),
            ("rate_check_interval", |o| {
                o.rate_check_interval = Duration::ZERO
            }),
            ("request_timeout", |o| o.request_timeout = Duration::ZERO),
            ("protocols", |o| o.protocols.clear()),
            ("http1.max_header_count", |o| {
                o.protocols = vec![Protocol::Http1(Http1Options {
                    max_header_count: 0,
                    ..Default::default()
                })]
            }),
        ];
        for (name, change) in cases {
            let mut o = opts();
            change(&mut o);
            match o.validate() {
                Err(OptionsError::Invalid { option, .. }) => assert_eq!(option, name),
                other => panic!("{name}: {other:?}"),
            }
        }
    }

    #[test]
    fn http3_without_tls_is_refused() {
        let mut o = opts();
        o.protocols = vec![Protocol::Http3(Http3Options::default())];
        assert!(matches!(
            o.validate(),
            Err(OptionsError::Invalid {
                option: "protocols",
                reason: "http3 needs tls (QUIC mandates TLS 1.3)"
            })
        ));
        let mut o = opts();
        o.ws = Some(WsOptions::default());
        assert_eq!(o.validate(), Ok(()));
    }

    #[test]
    fn ws_message_cap_must_cover_frame_cap() {
        let mut o = opts();
        o.ws = Some(WsOptions {
            max_frame_size: 10,
            max_message_size: 5,
        });
        assert!(matches!(
            o.validate(),
            Err(OptionsError::Invalid {
                option: "ws.max_message_size",
                ..
            })
        ));
    }

    #[test]
    fn duplicate_protocols_are_refused() {
        let mut o = opts();
        o.protocols = vec![
            Protocol::Http1(Http1Options::default()),
            Protocol::Http1(Http1Options::default()),
        ];
        assert!(matches!(
            o.validate(),
            Err(OptionsError::Invalid {
                option: "protocols",
                ..
            })
        ));
    }
}

//! An in-memory pair: our server ([`Endpoint`] and [`ServerConn`]) and a quinn-proto
//! client speaking HTTP/3 with this crate's frames and QPACK ([`Client`]), datagrams
//! moved between them over a [`Link`] that may drop or reorder them, on a simulated
//! clock that moves only to the next timer.
//!
//! A test plays the server's application: it takes the server's events from
//! [`Pair::events`] and answers through [`Pair::server`], then [`Pair::run`]s the
//! pair until nothing moves.

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use roadrunner_h3::bytes::BytesMut;
use roadrunner_h3::quinn_proto::{self, ConnectionHandle, Transmit};
use roadrunner_h3::rustls;
use roadrunner_h3::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use roadrunner_h3::{Config, DatagramEvent, Endpoint, Event, ServerConn};

mod client;

pub use client::{Client, Setup, CLIENT_STREAM_WINDOW};

pub const SERVER: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 4433);
pub const CLIENT: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 5555);

/// How a link treats the datagrams it carries, deterministically.
#[derive(Clone, Copy, Debug, Default)]
pub struct Network {
    /// Every n-th datagram is lost.
    pub drop_every: Option<usize>,
    /// Datagrams arrive in swapped pairs: the second before the first.
    pub swap_pairs: bool,
}

/// One direction of the network.
#[derive(Debug, Default)]
pub struct Link {
    net: Network,
    queue: VecDeque<Vec<u8>>,
    held: Option<Vec<u8>>,
    count: usize,
    /// Datagrams dropped so far.
    pub dropped: usize,
    /// Datagrams sent so far (dropped ones included).
    pub sent: usize,
}

impl Link {
    fn new(net: Network) -> Self {
        Link {
            net,
            ..Link::default()
        }
    }

    fn send(&mut self, datagram: Vec<u8>) {
        self.count += 1;
        self.sent += 1;
        if self.net.drop_every.is_some_and(|n| self.count % n == 0) {
            self.dropped += 1;
            return;
        }
        if !self.net.swap_pairs {
            self.queue.push_back(datagram);
            return;
        }
        match self.held.take() {
            None => self.held = Some(datagram),
            Some(first) => {
                self.queue.push_back(datagram);
                self.queue.push_back(first);
            }
        }
    }

    /// Lets a held datagram go when nothing comes to swap it with.
    fn release(&mut self) -> bool {
        match self.held.take() {
            Some(d) => {
                self.queue.push_back(d);
                true
            }
            None => false,
        }
    }

    /// Splits a transmit into its datagrams.
    fn send_transmit(&mut self, t: &Transmit, buf: &[u8]) {
        let size = t.segment_size.unwrap_or(t.size);
        for segment in buf[..t.size].chunks(size) {
            self.send(segment.to_vec());
        }
    }
}

/// A server and a client, connected in memory.
pub struct Pair {
    pub now: Instant,
    pub endpoint: Endpoint,
    pub conn: Option<(ConnectionHandle, Box<ServerConn>)>,
    /// The server's events, in order, for the test to take.
    pub events: VecDeque<Event>,
    pub client: Client,
    pub to_server: Link,
    pub to_client: Link,
    /// Datagrams the endpoint answered by itself (a Retry, a refusal).
    pub endpoint_answers: usize,
    buf: Vec<u8>,
}

/// A certificate for `localhost`, and TLS configurations that use and trust it.
pub fn tls() -> (Arc<rustls::ServerConfig>, Arc<rustls::ClientConfig>) {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("cert");
    let cert: CertificateDer<'static> = ck.cert.der().clone();
    let key = PrivateKeyDer::try_from(ck.signing_key.serialize_der()).expect("key");
    let server = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .expect("server config");
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).expect("root");
    let mut client = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    client.alpn_protocols = vec![b"h3".to_vec()];
    (Arc::new(server), Arc::new(client))
}

impl Pair {
    /// A pair with the default limits on a perfect network, connected, each side's
    /// control and QPACK streams open.
    pub fn new() -> Self {
        Pair::with(Config::default(), Network::default(), Setup::Full)
    }

    /// A pair with `config` on `net`, the client set up as `setup` says, connected.
    pub fn with(config: Config, net: Network, setup: Setup) -> Self {
        let mut pair = Pair::unconnected(config, net, setup);
        pair.run_until(|p| p.client.connected && p.conn.is_some());
        if setup == Setup::Full {
            pair.run_until(|p| {
                p.client.server_settings.is_some() && p.server().peer_settings().is_some()
            });
        }
        pair
    }

    /// A pair whose client has its first flight ready, not yet sent.
    pub fn unconnected(config: Config, net: Network, setup: Setup) -> Self {
        let (server_tls, client_tls) = tls();
        let endpoint = Endpoint::new(server_tls, config).expect("endpoint");
        let now = Instant::now();
        let client = Client::connect(now, client_tls, setup);
        Pair {
            now,
            endpoint,
            conn: None,
            events: VecDeque::new(),
            client,
            to_server: Link::new(net),
            to_client: Link::new(net),
            endpoint_answers: 0,
            buf: Vec::new(),
        }
    }

    /// The server's connection.
    pub fn server(&mut self) -> &mut ServerConn {
        &mut self.conn.as_mut().expect("the server has the connection").1
    }

    /// The next server event.
    pub fn event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The next server event, which there must be.
    #[track_caller]
    pub fn expect_event(&mut self) -> Event {
        self.events.pop_front().expect("a server event")
    }

    /// Moves datagrams (and fires timers already due) until nothing moves, without
    /// moving the clock.
    pub fn run(&mut self) {
        for _ in 0..100_000 {
            if self.step() {
                continue;
            }
            if self.to_server.release() | self.to_client.release() {
                continue;
            }
            if !self.fire_due() {
                return;
            }
        }
        panic!("the pair never went quiet");
    }

    /// Moves the clock to the next timer of either side and runs; `false` if no timer
    /// runs.
    pub fn advance(&mut self) -> bool {
        self.advance_within(None)
    }

    /// As [`advance`](Self::advance), but not past `end`.
    fn advance_within(&mut self, end: Option<Instant>) -> bool {
        let server = self.conn.as_mut().and_then(|(_, c)| c.poll_timeout());
        let client = self.client.conn.poll_timeout();
        let Some(next) = [server, client].into_iter().flatten().min() else {
            return false;
        };
        if end.is_some_and(|end| next > end) {
            return false;
        }
        self.now = self.now.max(next);
        self.run();
        true
    }

    /// Runs, moving the clock timer by timer, until `done` (at most 2,000 timers).
    #[track_caller]
    pub fn run_until(&mut self, mut done: impl FnMut(&mut Pair) -> bool) {
        self.run();
        for _ in 0..2000 {
            if done(self) {
                return;
            }
            // What `done` commanded goes out before the clock moves: else the next
            // timer may be the idle timeout, reached with a window update unsent.
            self.run();
            if done(self) {
                return;
            }
            if !self.advance() {
                break;
            }
        }
        assert!(done(self), "the pair never got there");
    }

    /// Runs with the clock moving through the timers due in the next `d`.
    pub fn run_for(&mut self, d: Duration) {
        let end = self.now + d;
        self.run();
        while self.advance_within(Some(end)) {}
        self.now = end;
    }

    fn fire_due(&mut self) -> bool {
        let now = self.now;
        let mut fired = false;
        if let Some((_, c)) = &mut self.conn {
            if c.poll_timeout().is_some_and(|t| t <= now) {
                c.handle_timeout(now);
                fired = true;
            }
        }
        if self.client.conn.poll_timeout().is_some_and(|t| t <= now) {
            self.client.conn.handle_timeout(now);
            fired = true;
        }
        fired
    }

    /// One round: each side's output to the other, and each side's reaction.
    fn step(&mut self) -> bool {
        let now = self.now;
        let mut moved = false;
        self.client.drive();
        loop {
            // quinn writes a transmit into an empty buffer.
            self.buf.clear();
            let Some(t) = self.client.conn.poll_transmit(now, 10, &mut self.buf) else {
                break;
            };
            self.to_server.send_transmit(&t, &self.buf);
            moved = true;
        }
        while let Some(d) = self.to_server.queue.pop_front() {
            moved = true;
            let data = BytesMut::from(&d[..]);
            match self
                .endpoint
                .handle_datagram(now, CLIENT, None, None, data, &mut self.buf)
            {
                Some(DatagramEvent::NewConnection(ch, conn)) => self.conn = Some((ch, conn)),
                Some(DatagramEvent::ConnectionEvent(ch, event)) => {
                    if let Some((known, c)) = &mut self.conn {
                        assert_eq!(*known, ch, "one connection");
                        c.handle_event(now, event);
                    }
                }
                Some(DatagramEvent::Response(t)) => {
                    self.endpoint_answers += 1;
                    let buf = std::mem::take(&mut self.buf);
                    self.to_client.send_transmit(&t, &buf);
                    self.buf = buf;
                }
                None => {}
            }
        }
        if let Some((ch, c)) = &mut self.conn {
            while let Some(e) = c.poll_endpoint_events() {
                if let Some(back) = self.endpoint.handle_endpoint_event(*ch, e) {
                    c.handle_event(now, back);
                }
            }
            while let Some(event) = c.poll_event() {
                self.events.push_back(event);
            }
            while let Some(t) = c.poll_transmit(now, 10, &mut self.buf) {
                self.to_client.send_transmit(&t, &self.buf);
                moved = true;
            }
        }
        while let Some(d) = self.to_client.queue.pop_front() {
            moved = true;
            self.client.receive(now, d);
        }
        moved
    }
}

/// The fields of a GET for `path`.
pub fn get(path: &str) -> Vec<(String, String)> {
    request("GET", path, &[])
}

/// The fields of a request: pseudo-headers, then `extra`.
pub fn request(method: &str, path: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut fields = vec![
        (":method".to_owned(), method.to_owned()),
        (":scheme".to_owned(), "https".to_owned()),
        (":authority".to_owned(), "localhost".to_owned()),
        (":path".to_owned(), path.to_owned()),
    ];
    fields.extend(extra.iter().map(|(n, v)| (n.to_string(), v.to_string())));
    fields
}

/// The application error code of a connection QUIC lost by the peer's close.
pub fn app_code(e: &quinn_proto::ConnectionError) -> Option<u64> {
    match e {
        quinn_proto::ConnectionError::ApplicationClosed(close) => {
            Some(close.error_code.into_inner())
        }
        _ => None,
    }
}

//! Datagrams in memory: UDP sockets on a simulated network ([`SimNetwork`]) whose
//! latency, loss and reordering the test sets, all in the virtual time of a [`Sim`].
//!
//! Loss and reordering are what a QUIC stack must survive and what a loopback socket
//! never shows; here a test chooses exactly which datagrams are lost or late, and
//! every run loses the same ones at the same virtual instants.

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::io::{self, IoSliceMut};
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use super::clock::lock;
use super::executor::Sim;
use crate::runtime::{DatagramSocket, Ecn, RecvMeta, Runtime, Transmit};

/// How many datagrams a socket holds unread by default: like a full kernel receive
/// buffer, a full queue drops what arrives.
pub const DEFAULT_RECV_QUEUE: usize = 256;

/// Segments per transmit (GSO) and per receive buffer (GRO): Linux's limit, so that
/// code on the simulation batches as it does in production.
const MAX_SEGMENTS: usize = 64;

/// The largest payload one send may carry, GSO or not: an IPv4 packet's (65,535 bytes
/// less its IP and UDP headers). The kernel refuses more with `EMSGSIZE`.
pub const MAX_SEND: usize = 65_507;

/// Where ports assigned to sockets bound to port 0 start: the IANA ephemeral range.
const FIRST_EPHEMERAL: u16 = 49152;
const EPHEMERAL_PORTS: usize = 65536 - FIRST_EPHEMERAL as usize;

/// A network of simulated UDP sockets on one [`Sim`].
///
/// A datagram sent reaches the socket bound at its destination once the one-way
/// latency of its link has passed on the virtual clock, unless a rule of the link
/// drops it, the destination's queue is full, or nothing is bound there by then: as
/// with UDP, the sender never learns of a loss. Latency is zero until set.
///
/// Clones share the network.
///
/// ```
/// use std::future::poll_fn;
/// use std::io::IoSliceMut;
/// use std::time::Duration;
/// use roadrunner_core::runtime::{DatagramSocket, RecvMeta, Transmit};
/// use roadrunner_core::sim::{Sim, SimNetwork};
///
/// let sim = Sim::new();
/// let net = SimNetwork::new(&sim);
/// let client = net.bind("198.51.100.1:0".parse().unwrap()).unwrap();
/// let server = net.bind("192.0.2.1:443".parse().unwrap()).unwrap();
/// let to = server.local_addr().unwrap();
/// net.set_latency(Duration::from_millis(20));
/// // The first datagram to the server is lost.
/// net.link(client.local_addr().unwrap(), to).drop_next(1);
///
/// sim.block_on(async {
///     for contents in [&b"lost"[..], b"hello"] {
///         let transmit = Transmit {
///             destination: to,
///             ecn: None,
///             contents,
///             segment_size: None,
///             src_ip: None,
///         };
///         poll_fn(|cx| client.poll_send(cx, &transmit)).await.unwrap();
///     }
///     let mut buf = [0u8; 1500];
///     let mut meta = [RecvMeta::default()];
///     poll_fn(|cx| server.poll_recv(cx, &mut [IoSliceMut::new(&mut buf)], &mut meta))
///         .await
///         .unwrap();
///     assert_eq!(&buf[..meta[0].len], b"hello");
/// });
/// assert_eq!(sim.elapsed(), Duration::from_millis(20));
/// ```
#[derive(Clone)]
pub struct SimNetwork {
    net: Arc<Net>,
}

struct Net {
    sim: Sim,
    state: Mutex<State>,
}

struct State {
    sockets: BTreeMap<SocketAddr, Arc<Mutex<Inbox>>>,
    next_port: u16,
    latency: Duration,
    /// Links that were configured or sent on; the others have the default latency and
    /// no rule.
    links: BTreeMap<(SocketAddr, SocketAddr), Rules>,
    /// Sockets whose send buffer a test holds full, until when.
    full: BTreeMap<SocketAddr, Instant>,
}

/// What a test set for one link.
#[derive(Default)]
struct Rules {
    /// Overrides the network's latency.
    latency: Option<Duration>,
    drop_next: usize,
    drop_every: usize,
    /// Datagrams sent since `drop_every` was set.
    counted: usize,
    delay_next: usize,
    extra: Duration,
    sent: Sent,
}

/// What was sent on a link ([`SimLink::sent`]), counted since the network began.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sent {
    /// Sends the socket took.
    pub transmits: usize,
    /// Datagrams in them (a GSO send carries several), lost or not.
    pub datagrams: usize,
    /// The most datagrams one send carried.
    pub most_datagrams: usize,
    /// The most bytes one send carried.
    pub most_bytes: usize,
    /// Sends the socket refused, as the kernel would: too large, or GSO segments that
    /// do not fit its limits.
    pub refused: usize,
    /// Sends that found the socket's send buffer full ([`SimNetwork::fill_send_buffer`])
    /// and were not taken.
    pub blocked: usize,
}

/// A socket's receive queue.
struct Inbox {
    queue: VecDeque<Datagram>,
    capacity: usize,
    receiver: Option<Waker>,
}

struct Datagram {
    from: SocketAddr,
    ecn: Option<Ecn>,
    data: Vec<u8>,
}

/// A send buffer held full until then.
struct Full(Instant);

impl Datagram {
    /// Whether GRO may put `self` in the same buffer as `other`: the kernel coalesces
    /// only what one sender sent alike.
    fn same_flow(&self, other: &Datagram) -> bool {
        (self.from, self.ecn) == (other.from, other.ecn)
    }
}

impl Rules {
    /// Applies the rules to the next datagram: `None` when it is dropped, else the
    /// delay it gets on top of the latency. Every rule counts every datagram sent,
    /// dropped or not, so that a test can tell which ones a rule hits.
    fn fate(&mut self) -> Option<Duration> {
        let mut dropped = false;
        if self.drop_next > 0 {
            self.drop_next -= 1;
            dropped = true;
        }
        if self.drop_every > 0 {
            self.counted += 1;
            dropped |= self.counted % self.drop_every == 0;
        }
        let mut extra = Duration::ZERO;
        if self.delay_next > 0 {
            self.delay_next -= 1;
            extra = self.extra;
        }
        (!dropped).then_some(extra)
    }
}

impl Sent {
    fn count(&mut self, datagrams: usize, bytes: usize) {
        self.transmits += 1;
        self.datagrams += datagrams;
        self.most_datagrams = self.most_datagrams.max(datagrams);
        self.most_bytes = self.most_bytes.max(bytes);
    }
}

impl SimNetwork {
    /// An empty network whose delays run on `sim`'s clock.
    pub fn new(sim: &Sim) -> Self {
        SimNetwork {
            net: Arc::new(Net {
                sim: sim.clone(),
                state: Mutex::new(State {
                    sockets: BTreeMap::new(),
                    next_port: FIRST_EPHEMERAL,
                    latency: Duration::ZERO,
                    links: BTreeMap::new(),
                    full: BTreeMap::new(),
                }),
            }),
        }
    }

    /// Binds a socket at `addr` with a queue of [`DEFAULT_RECV_QUEUE`] datagrams.
    pub fn bind(&self, addr: SocketAddr) -> io::Result<SimUdpSocket> {
        self.bind_with_capacity(addr, DEFAULT_RECV_QUEUE)
    }

    /// Binds a socket at `addr` that holds at most `capacity` datagrams unread. Port 0
    /// takes a free port from 49152 up. The address must be a specific one: a wildcard
    /// would leave the destination of a datagram ambiguous.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for an unspecified address, `AddrInUse` when a socket is bound
    /// there already (or no port is free).
    ///
    /// # Panics
    ///
    /// When `capacity` is zero.
    pub fn bind_with_capacity(
        &self,
        addr: SocketAddr,
        capacity: usize,
    ) -> io::Result<SimUdpSocket> {
        assert!(
            capacity > 0,
            "a socket needs room for at least one datagram"
        );
        if addr.ip().is_unspecified() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a simulated socket binds a specific address",
            ));
        }
        let mut state = lock(&self.net.state);
        let addr = if addr.port() == 0 {
            state.free_port(addr.ip())?
        } else if state.sockets.contains_key(&addr) {
            return Err(io::ErrorKind::AddrInUse.into());
        } else {
            addr
        };
        let inbox = Arc::new(Mutex::new(Inbox {
            queue: VecDeque::new(),
            capacity,
            receiver: None,
        }));
        state.sockets.insert(addr, inbox.clone());
        Ok(SimUdpSocket {
            net: self.net.clone(),
            addr,
            inbox,
        })
    }

    /// Sets the one-way latency of every link without one of its own. Datagrams
    /// already sent keep the latency they were sent with.
    pub fn set_latency(&self, latency: Duration) {
        lock(&self.net.state).latency = latency;
    }

    /// Holds the send buffer of the socket at `addr` full for `duration` from now: its
    /// sends are not taken (`WouldBlock`, or `Pending` until then), as when the kernel's
    /// buffer has no room, and it becomes writable when the time is up.
    pub fn fill_send_buffer(&self, addr: SocketAddr, duration: Duration) {
        let until = self.net.sim.now() + duration;
        lock(&self.net.state).full.insert(addr, until);
    }

    /// The one-way link from `from` to `to`, to set latency and loss on. The addresses
    /// need not be bound yet.
    pub fn link(&self, from: SocketAddr, to: SocketAddr) -> SimLink<'_> {
        SimLink {
            net: &self.net,
            key: (from, to),
        }
    }
}

impl State {
    fn free_port(&mut self, ip: IpAddr) -> io::Result<SocketAddr> {
        for _ in 0..EPHEMERAL_PORTS {
            let addr = SocketAddr::new(ip, self.next_port);
            self.next_port = self.next_port.checked_add(1).unwrap_or(FIRST_EPHEMERAL);
            if !self.sockets.contains_key(&addr) {
                return Ok(addr);
            }
        }
        Err(io::ErrorKind::AddrInUse.into())
    }
}

impl Net {
    /// Queues `datagram` at the socket bound at `to` now, if there is one with room.
    fn deliver(&self, to: SocketAddr, datagram: Datagram) {
        let Some(inbox) = lock(&self.state).sockets.get(&to).cloned() else {
            return;
        };
        let receiver = {
            let mut inbox = lock(&inbox);
            if inbox.queue.len() >= inbox.capacity {
                return;
            }
            inbox.queue.push_back(datagram);
            inbox.receiver.take()
        };
        if let Some(waker) = receiver {
            waker.wake();
        }
    }
}

impl std::fmt::Debug for SimNetwork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = lock(&self.net.state);
        f.debug_struct("SimNetwork")
            .field("bound", &state.sockets.keys().collect::<Vec<_>>())
            .field("latency", &state.latency)
            .finish_non_exhaustive()
    }
}

/// The one-way link between two addresses ([`SimNetwork::link`]): its latency, the
/// rules that drop or delay the datagrams sent on it, counted from when a rule is set,
/// and what was sent on it. Each datagram of a GSO transmit counts on its own for the
/// rules, as it would on the wire.
pub struct SimLink<'a> {
    net: &'a Net,
    key: (SocketAddr, SocketAddr),
}

impl SimLink<'_> {
    fn update(&self, f: impl FnOnce(&mut Rules)) -> &Self {
        f(lock(&self.net.state).links.entry(self.key).or_default());
        self
    }

    /// Sets this link's one-way latency, instead of the network's.
    pub fn latency(&self, latency: Duration) -> &Self {
        self.update(|r| r.latency = Some(latency))
    }

    /// Drops the next `n` datagrams sent on this link.
    pub fn drop_next(&self, n: usize) -> &Self {
        self.update(|r| r.drop_next = n)
    }

    /// Drops the `k`-th, `2k`-th, … datagram sent on this link from now on; 0 stops.
    pub fn drop_every(&self, k: usize) -> &Self {
        self.update(|r| {
            r.drop_every = k;
            r.counted = 0;
        })
    }

    /// Delays the next `n` datagrams sent on this link by `extra` on top of the
    /// latency, so that datagrams sent after them overtake them.
    pub fn delay_next(&self, n: usize, extra: Duration) -> &Self {
        self.update(|r| {
            r.delay_next = n;
            r.extra = extra;
        })
    }

    /// What has been sent on this link so far.
    pub fn sent(&self) -> Sent {
        lock(&self.net.state)
            .links
            .get(&self.key)
            .map_or_else(Sent::default, |r| r.sent)
    }
}

impl std::fmt::Debug for SimLink<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimLink")
            .field("from", &self.key.0)
            .field("to", &self.key.1)
            .finish()
    }
}

/// A UDP socket on a [`SimNetwork`]. Dropping it unbinds its address: what is still
/// in flight to it is lost.
///
/// Sending waits only while a test holds the socket's send buffer full
/// ([`SimNetwork::fill_send_buffer`]); a full destination drops instead. It offers GSO and
/// GRO: a transmit may carry 64 segments and [`MAX_SEND`] bytes, as on Linux, and a receive puts
/// consecutive queued datagrams of one sender with one ECN mark into one buffer
/// while they have the first one's size (the last may be shorter) and fit, so that
/// the caller's handling of `stride` is exercised. A datagram larger than its buffer
/// is truncated, as the kernel does.
pub struct SimUdpSocket {
    net: Arc<Net>,
    addr: SocketAddr,
    inbox: Arc<Mutex<Inbox>>,
}

impl SimUdpSocket {
    /// When the send buffer a test holds full has room again, if it is full now.
    fn full_until(&self) -> Option<Instant> {
        let now = self.net.sim.now();
        let mut state = lock(&self.net.state);
        match state.full.get(&self.addr) {
            Some(&until) if until > now => Some(until),
            Some(_) => {
                state.full.remove(&self.addr);
                None
            }
            None => None,
        }
    }

    /// Sends `transmit` unless the send buffer is full.
    fn send_now(&self, transmit: &Transmit<'_>) -> Result<io::Result<()>, Full> {
        let to = transmit.destination;
        if let Some(until) = self.full_until() {
            let mut state = lock(&self.net.state);
            state.links.entry((self.addr, to)).or_default().sent.blocked += 1;
            return Err(Full(until));
        }
        let sent = {
            let mut state = lock(&self.net.state);
            let latency = state.latency;
            let rules = state.links.entry((self.addr, to)).or_default();
            let segments = match Self::segments(transmit) {
                Ok(segments) => segments,
                Err(e) => {
                    rules.sent.refused += 1;
                    return Ok(Err(e));
                }
            };
            rules.sent.count(segments.len(), transmit.contents.len());
            let mut sent = Vec::with_capacity(segments.len());
            for data in segments {
                let delay = rules
                    .fate()
                    .map(|extra| rules.latency.unwrap_or(latency) + extra);
                if let Some(delay) = delay {
                    sent.push((delay, data));
                }
            }
            sent
        };
        for (delay, data) in sent {
            let datagram = Datagram {
                from: self.addr,
                ecn: transmit.ecn,
                data: data.to_vec(),
            };
            if delay.is_zero() {
                self.net.deliver(to, datagram);
                continue;
            }
            // Armed now, so that datagrams due at the same instant arrive in the
            // order they were sent.
            let arrival = self.net.sim.timer(self.net.sim.now() + delay);
            let net = self.net.clone();
            self.net.sim.spawn(async move {
                arrival.await;
                net.deliver(to, datagram);
            });
        }
        Ok(Ok(()))
    }

    /// How many datagrams have arrived and are not received yet.
    pub fn queued(&self) -> usize {
        lock(&self.inbox).queue.len()
    }

    /// Splits `transmit` into the datagrams that go on the wire.
    fn segments<'a>(transmit: &Transmit<'a>) -> io::Result<Vec<&'a [u8]>> {
        if transmit.contents.len() > MAX_SEND {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{} bytes in one send, over {MAX_SEND} (EMSGSIZE)",
                    transmit.contents.len()
                ),
            ));
        }
        let Some(size) = transmit.segment_size else {
            return Ok(vec![transmit.contents]);
        };
        if size == 0 || transmit.contents.len().div_ceil(size) > MAX_SEGMENTS {
            // The kernel refuses these too (EINVAL); failing loudly shows the bug.
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "segments of {size} bytes for {} bytes: none or over {MAX_SEGMENTS}",
                    transmit.contents.len()
                ),
            ));
        }
        Ok(transmit.contents.chunks(size).collect())
    }
}

impl DatagramSocket for SimUdpSocket {
    fn poll_recv(
        &self,
        cx: &mut Context<'_>,
        bufs: &mut [IoSliceMut<'_>],
        meta: &mut [RecvMeta],
    ) -> Poll<io::Result<usize>> {
        let mut inbox = lock(&self.inbox);
        if inbox.queue.is_empty() {
            inbox.receiver = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let mut filled = 0;
        for (buf, m) in bufs.iter_mut().zip(meta.iter_mut()) {
            let Some(first) = inbox.queue.pop_front() else {
                break;
            };
            let len = first.data.len().min(buf.len());
            buf[..len].copy_from_slice(&first.data[..len]);
            *m = RecvMeta {
                addr: first.from,
                len,
                stride: len,
                ecn: first.ecn,
                dst_ip: Some(self.addr.ip()),
            };
            filled += 1;
            // A truncated or empty datagram gives no stride to coalesce on.
            if len == 0 || len < first.data.len() {
                continue;
            }
            let mut segments = 1;
            while let Some(next) = inbox.queue.front() {
                let n = next.data.len();
                let joins = segments < MAX_SEGMENTS
                    && next.same_flow(&first)
                    && (1..=len).contains(&n)
                    && m.len + n <= buf.len();
                if !joins {
                    break;
                }
                buf[m.len..m.len + n].copy_from_slice(&next.data);
                m.len += n;
                segments += 1;
                inbox.queue.pop_front();
                if n < len {
                    break;
                }
            }
        }
        Poll::Ready(Ok(filled))
    }

    /// The source is always the bound address (`src_ip` is not used): a simulated
    /// socket is never bound to a wildcard.
    fn poll_send(&self, cx: &mut Context<'_>, transmit: &Transmit<'_>) -> Poll<io::Result<()>> {
        match self.send_now(transmit) {
            Err(Full(until)) => {
                let timer = self.net.sim.timer(until);
                let waker = cx.waker().clone();
                self.net.sim.spawn(async move {
                    timer.await;
                    waker.wake();
                });
                Poll::Pending
            }
            Ok(sent) => Poll::Ready(sent),
        }
    }

    fn try_send(&self, transmit: &Transmit<'_>) -> io::Result<()> {
        self.send_now(transmit)
            .unwrap_or_else(|Full(_)| Err(io::ErrorKind::WouldBlock.into()))
    }

    fn writable(self: Arc<Self>) -> Pin<Box<dyn Future<Output = io::Result<()>> + Send>> {
        let until = self.full_until();
        Box::pin(async move {
            if let Some(until) = until {
                self.net.sim.timer(until).await;
            }
            Ok(())
        })
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.addr)
    }

    fn max_transmit_segments(&self) -> usize {
        MAX_SEGMENTS
    }

    fn max_receive_segments(&self) -> usize {
        MAX_SEGMENTS
    }

    /// Never: datagrams arrive whole.
    fn may_fragment(&self) -> bool {
        false
    }
}

impl Drop for SimUdpSocket {
    fn drop(&mut self) {
        lock(&self.net.state).sockets.remove(&self.addr);
    }
}

impl std::fmt::Debug for SimUdpSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimUdpSocket")
            .field("addr", &self.addr)
            .field("queued", &self.queued())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;

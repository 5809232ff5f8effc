//! HTTP/3: one QUIC endpoint per listener, shared by its UDP sockets, and one task per
//! connection.
//!
//! Each socket has a receive task: it hands every datagram to the endpoint (behind a
//! lock, so a connection's datagrams reach it whichever socket of the `SO_REUSEPORT`
//! pool they arrive on) and routes what comes out: a new connection gets a task of its
//! own ([`driver`]), a datagram for a known one goes to that task's inbox. Connections
//! send their own datagrams, on the socket their first one came in on.
//!
//! A stop without a drain closes every connection at once (they have no socket of
//! their own to go on with); during a drain the sockets keep serving the connections
//! still open, and refuse new ones, until the last has ended.

use std::collections::HashMap;
use std::io::{self, IoSliceMut};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use async_channel::{Receiver, Sender, TrySendError};
use bytes::BytesMut;
use event_listener::Event;
use futures_lite::future;
use roadrunner_h3::quinn_proto::{ConnectionEvent, ConnectionHandle, EcnCodepoint};
use roadrunner_h3::{Config, DatagramEvent, Endpoint};

use crate::counters::ConnSlot;
use crate::drain::Status;
use crate::listener::Shared;
use crate::options::{Options, OptionsError};
use crate::runtime::{DatagramSocket, Ecn, RecvMeta, Runtime, Transmit};

mod driver;

/// Datagrams waiting for a connection's task; past this, more are dropped, as a full
/// socket buffer would (QUIC recovers them as losses).
const INBOX: usize = 256;

/// Receive buffers per socket read (each up to the socket's GRO batch).
const RECV_BUFFERS: usize = 8;

/// Room for one datagram: QUIC's packets stay within the path MTU, which on Ethernet
/// leaves at most 1472 bytes of UDP payload.
const DATAGRAM_ROOM: usize = 1500;

/// The codec's limits from the listener's options; `mtu_discovery` when the sockets
/// never fragment (the don't-fragment bit is set), so that probes can find out.
pub(crate) fn config(opts: &Options, mtu_discovery: bool) -> Option<Config> {
    let h3 = opts.http3()?;
    Some(Config {
        mtu_discovery,
        max_streams_bidi: h3.max_streams_bidi,
        idle_timeout: opts.keep_alive_timeout,
        max_header_block: h3.max_header_block as usize,
        max_field_section_size: h3
            .max_field_section_size
            .unwrap_or(h3.max_header_block.saturating_mul(2))
            as usize,
        max_content_length: opts.max_content_length,
        ..Config::default()
    })
}

/// The endpoint of `opts`, or why its TLS configuration cannot serve QUIC; `None`
/// without `http3`.
pub(crate) fn endpoint(
    opts: &Options,
    mtu_discovery: bool,
) -> Result<Option<Endpoint>, OptionsError> {
    let (Some(config), Some(tls)) = (config(opts, mtu_discovery), &opts.tls) else {
        return Ok(None);
    };
    Endpoint::new(tls.clone(), config)
        .map(Some)
        .map_err(|e| OptionsError::Quic(e.to_string()))
}

/// A listener's QUIC endpoint and its sockets, shared by the receive tasks and every
/// connection's task.
pub(crate) struct Quic<D> {
    endpoint: Mutex<Endpoint>,
    /// Each connection's inbox, by handle, until its task ends.
    routes: Mutex<HashMap<ConnectionHandle, Sender<ConnectionEvent>>>,
    /// A connection's task has ended (the receive tasks of a stopped listener wait
    /// for the last).
    ended: Event,
    /// The listener stopped without a drain: every connection closes now.
    closing: AtomicBool,
    close: Event,
    sockets: Vec<Arc<D>>,
}

impl<D> Quic<D> {
    fn endpoint(&self) -> MutexGuard<'_, Endpoint> {
        self.endpoint.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn routes(&self) -> MutexGuard<'_, HashMap<ConnectionHandle, Sender<ConnectionEvent>>> {
        self.routes.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Forgets connection `ch`, whose task is ending.
    fn forget(&self, ch: ConnectionHandle) {
        self.routes().remove(&ch);
        self.ended.notify(usize::MAX);
    }
}

/// Counts a task that holds the listener's UDP sockets, for `stop` to wait until the
/// port is free. Declared last in its owner, so it is dropped after the sockets.
pub(crate) struct UdpHolder(Arc<Shared>);

impl UdpHolder {
    pub(crate) fn new(shared: &Arc<Shared>) -> Self {
        shared.udp_live.fetch_add(1, Ordering::AcqRel);
        UdpHolder(shared.clone())
    }
}

impl Drop for UdpHolder {
    fn drop(&mut self) {
        if self.0.udp_live.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.udp_done.notify(usize::MAX);
        }
    }
}

/// Serves HTTP/3 on `sockets` through `endpoint`: one receive task per socket.
pub(crate) fn start<R: Runtime, D: DatagramSocket>(
    rt: &R,
    shared: &Arc<Shared>,
    endpoint: Endpoint,
    sockets: Vec<D>,
) {
    let quic = Arc::new(Quic {
        endpoint: Mutex::new(endpoint),
        routes: Mutex::default(),
        ended: Event::new(),
        closing: AtomicBool::new(false),
        close: Event::new(),
        sockets: sockets.into_iter().map(Arc::new).collect(),
    });
    for index in 0..quic.sockets.len() {
        let holder = UdpHolder::new(shared);
        rt.spawn(receive(
            rt.clone(),
            shared.clone(),
            quic.clone(),
            index,
            holder,
        ));
    }
}

/// What one receive task has.
struct Intake<R, D> {
    rt: R,
    shared: Arc<Shared>,
    quic: Arc<Quic<D>>,
    index: usize,
    /// Where the endpoint writes its own answers.
    answer: Vec<u8>,
}

/// Receives on socket `index` until the listener has stopped and its last connection
/// has ended.
async fn receive<R: Runtime, D: DatagramSocket>(
    rt: R,
    shared: Arc<Shared>,
    quic: Arc<Quic<D>>,
    index: usize,
    _holder: UdpHolder,
) {
    let socket = quic.sockets[index].clone();
    let room = DATAGRAM_ROOM * socket.max_receive_segments().max(1);
    let mut storage = vec![0u8; room * RECV_BUFFERS];
    let mut meta = [RecvMeta::default(); RECV_BUFFERS];
    let mut r = Intake {
        rt,
        shared,
        quic,
        index,
        answer: Vec::new(),
    };
    let mut stop = r.shared.stop.listen();
    loop {
        let stopping = r.shared.stopping.load(Ordering::Acquire);
        if stopping {
            r.on_stop();
            let ended = r.quic.ended.listen();
            if r.quic.routes().is_empty() {
                return;
            }
            let got = future::or(
                async {
                    ended.await;
                    None
                },
                recv(&*socket, &mut storage, room, &mut meta),
            )
            .await;
            if let Some(got) = got {
                r.on_batch(got, &storage, room, &meta);
            }
            continue;
        }
        let got = future::or(
            async {
                (&mut stop).await;
                None
            },
            recv(&*socket, &mut storage, room, &mut meta),
        )
        .await;
        if let Some(got) = got {
            r.on_batch(got, &storage, room, &meta);
        }
    }
}

/// One read of up to [`RECV_BUFFERS`] buffers of `room` bytes.
async fn recv<D: DatagramSocket>(
    socket: &D,
    storage: &mut [u8],
    room: usize,
    meta: &mut [RecvMeta],
) -> Option<io::Result<usize>> {
    let got = std::future::poll_fn(|cx| {
        let mut chunks = storage.chunks_mut(room);
        let mut bufs: [IoSliceMut<'_>; RECV_BUFFERS] =
            std::array::from_fn(|_| IoSliceMut::new(chunks.next().unwrap_or_default()));
        socket.poll_recv(cx, &mut bufs, meta)
    })
    .await;
    Some(got)
}

impl<R: Runtime, D: DatagramSocket> Intake<R, D> {
    /// A stop without a drain closes every connection; during a drain they go on and
    /// new ones are refused.
    fn on_stop(&mut self) {
        self.quic.endpoint().set_accepting(false);
        if self.shared.drain.status() == Status::Accepting
            && !self.quic.closing.swap(true, Ordering::AcqRel)
        {
            self.quic.close.notify(usize::MAX);
        }
    }

    fn on_batch(&mut self, got: io::Result<usize>, storage: &[u8], room: usize, meta: &[RecvMeta]) {
        let filled = match got {
            Ok(n) => n,
            Err(e) => {
                // ICMP errors surface here on some platforms; the socket goes on.
                tracing::debug!(target: "roadrunner", event = "udp.recv_error", error = %e);
                return;
            }
        };
        for (buf, m) in storage.chunks(room).zip(&meta[..filled]) {
            for datagram in m.datagrams(buf) {
                self.on_datagram(m, datagram);
            }
        }
    }

    fn on_datagram(&mut self, m: &RecvMeta, datagram: &[u8]) {
        let now = self.rt.now();
        let ecn = m.ecn.and_then(|e| EcnCodepoint::from_bits(e as u8));
        let mut slot = None;
        let event = {
            let (shared, peer) = (&self.shared, m.addr);
            let admit = || {
                slot = ConnSlot::try_acquire(&shared.counters, shared.max_clients);
                if slot.is_none() {
                    shared.counters.rejected.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(
                        target: "roadrunner",
                        event = "listener.conn_rejected",
                        listener = &*shared.name,
                        peer = %peer,
                        max_clients = shared.max_clients,
                    );
                }
                slot.is_some()
            };
            self.quic.endpoint().handle_datagram_admitting(
                now,
                m.addr,
                m.dst_ip,
                ecn,
                BytesMut::from(datagram),
                &mut self.answer,
                admit,
            )
        };
        match event {
            None => {}
            Some(DatagramEvent::ConnectionEvent(ch, event)) => {
                let inbox = self.quic.routes().get(&ch).cloned();
                if let Some(inbox) = inbox {
                    if let Err(TrySendError::Full(_)) = inbox.try_send(event) {
                        tracing::trace!(target: "roadrunner", event = "quic.inbox_full");
                    }
                }
            }
            Some(DatagramEvent::NewConnection(ch, conn)) => {
                let Some(slot) = slot else {
                    return;
                };
                let (inbox, events) = async_channel::bounded(INBOX);
                self.quic.routes().insert(ch, inbox);
                self.spawn(ch, conn, events, m.addr, slot);
            }
            Some(DatagramEvent::Response(t)) => {
                if self.quic.closing.load(Ordering::Acquire) {
                    // Every connection was closed (CONNECTION_CLOSE sent) and is
                    // forgotten at once: a late packet of one would draw a stateless
                    // reset, which its client may read after the close and report
                    // instead of it.
                    return;
                }
                let transmit = Transmit {
                    destination: t.destination,
                    ecn: t.ecn.and_then(|e| Ecn::from_bits(e as u8)),
                    contents: &self.answer[..t.size],
                    segment_size: t.segment_size,
                    src_ip: t.src_ip,
                };
                // Stateless answers are not worth waiting for a full socket.
                let _ = self.quic.sockets[self.index].try_send(&transmit);
            }
        }
    }

    fn spawn(
        &self,
        ch: ConnectionHandle,
        conn: Box<roadrunner_h3::ServerConn>,
        events: Receiver<ConnectionEvent>,
        peer: SocketAddr,
        slot: ConnSlot,
    ) {
        let task = driver::Conn {
            ch,
            conn,
            events,
            peer,
            socket: self.index,
            slot,
        };
        let serve = driver::serve(
            self.rt.clone(),
            self.shared.clone(),
            self.quic.clone(),
            task,
            UdpHolder::new(&self.shared),
        );
        self.rt.spawn(serve);
    }
}

//! Drives one HTTP/3 connection in a task of its own: datagrams from its inbox and its
//! QUIC timer into codec-h3, the codec's events into the connection's streams (the
//! same exchanges as HTTP/2's), their answers back through the codec's commands, and
//! its datagrams out on the socket its first one came in on.

use std::future::{poll_fn, Future};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use async_channel::Receiver;
use bytes::Bytes;
use futures_lite::StreamExt;
use http::{HeaderMap, StatusCode};
use roadrunner_h3::quinn_proto::{
    self, ConnectionError, ConnectionEvent, ConnectionHandle, EndpointEvent,
};
use roadrunner_h3::{CloseReason, ErrorCode, Event, SendError, ServerConn};

use super::{Quic, UdpHolder};
use crate::conn::alarm::Alarm;
use crate::conn::mux::{Abandon, Activity, RecvClock, Refused, StreamCodec, Streams};
use crate::conn::reason::Reason;
use crate::counters::ConnSlot;
use crate::drain::{DrainEvent, DrainEvents};
use crate::listener::Shared;
use crate::runtime::{DatagramSocket, Ecn, Runtime, Transmit};

/// A connection the endpoint has just accepted, and what its task needs of it.
pub(super) struct Conn {
    pub(super) ch: ConnectionHandle,
    pub(super) conn: Box<ServerConn>,
    /// The datagrams the receive tasks route to it.
    pub(super) events: Receiver<ConnectionEvent>,
    pub(super) peer: SocketAddr,
    /// The socket it sends on.
    pub(super) socket: usize,
    /// Its unit of `active_clients`.
    pub(super) slot: ConnSlot,
}

type Writable = Pin<Box<dyn Future<Output = io::Result<()>> + Send>>;

/// Bytes per send (GSO): a batch travels as one IP packet until it is split, so the
/// kernel refuses one larger than an IPv4 packet's payload (`EMSGSIZE`), and what it
/// refuses is lost. Batches this large, rather than quinn's 10 datagrams, halve the
/// system calls and acknowledgments per response; the pacer still decides how many
/// packets may leave at once.
const MAX_BATCH_BYTES: usize = 65_507;

struct Driver<R: Runtime, D> {
    rt: R,
    shared: Arc<Shared>,
    quic: Arc<Quic<D>>,
    ch: ConnectionHandle,
    conn: Box<ServerConn>,
    /// Pinned: the receiver keeps its waiting listener in place.
    events: Pin<Box<Receiver<ConnectionEvent>>>,
    peer: SocketAddr,
    streams: Streams<R>,
    alarm: Alarm<R>,
    /// The read deadlines HTTP/1.1 and HTTP/2 have too.
    clock: RecvClock,
    /// Bytes QUIC had received when the clock last heard of them.
    rx_seen: u64,
    drain: Option<DrainEvents>,
    /// Waits for the listener to stop without a drain.
    close: Option<event_listener::EventListener>,
    socket: Arc<D>,
    /// The socket's limit of datagrams per send.
    max_segments: usize,
    /// A transmit the socket could not take yet, with its datagrams (copied out of
    /// the thread's buffer, which the next connection polled reuses).
    held: Option<(quinn_proto::Transmit, Vec<u8>)>,
    writable: Option<Writable>,
    /// How the connection ended, once it has (QUIC still answers for a while).
    ended: Option<Reason>,
}

/// Serves the connection until QUIC is done with it, or the listener ends it.
pub(super) async fn serve<R: Runtime, D: DatagramSocket>(
    rt: R,
    shared: Arc<Shared>,
    quic: Arc<Quic<D>>,
    conn: Conn,
    holder: UdpHolder,
) {
    tracing::debug!(
        target: "roadrunner",
        event = "listener.accept",
        listener = &*shared.name,
        peer = %conn.peer,
        protocol = "h3",
    );
    let notices = shared.drain.notices();
    let socket = quic.sockets[conn.socket].clone();
    let mut d = Driver {
        streams: Streams::new(rt.clone(), shared.clone(), conn.peer, http::Version::HTTP_3),
        alarm: Alarm::new(rt.clone()),
        clock: RecvClock::new(rt.now(), &shared.limits),
        rx_seen: 0,
        drain: shared.graceful_drain.then(|| DrainEvents::since(notices)),
        close: None,
        max_segments: socket.max_transmit_segments().max(1),
        socket,
        held: None,
        writable: None,
        ended: None,
        ch: conn.ch,
        conn: conn.conn,
        events: Box::pin(conn.events),
        peer: conn.peer,
        rt,
        shared,
        quic,
    };
    let reason = poll_fn(|cx| d.poll(cx)).await;
    if !d.conn.is_drained() {
        // Ended early (by the listener): the endpoint must forget it all the same.
        let _ = d
            .quic
            .endpoint()
            .handle_endpoint_event(d.ch, EndpointEvent::drained());
    }
    d.quic.forget(d.ch);
    tracing::debug!(
        target: "roadrunner",
        event = "listener.conn_close",
        listener = &*d.shared.name,
        peer = %d.peer,
        reason = reason.as_str(),
    );
    // The streams' exchanges end before the slot goes, and the sockets before the
    // holder does.
    drop(d);
    drop(conn.slot);
    drop(holder);
}

impl<R: Runtime, D: DatagramSocket> Driver<R, D> {
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Reason> {
        loop {
            let now = self.rt.now();
            while let Poll::Ready(Some(event)) = self.events.poll_next(cx) {
                self.conn.handle_event(now, event);
            }
            if let Some(reason) = self.poll_stop(cx) {
                // CONNECTION_CLOSE goes out; the connection does not wait for more.
                let _ = self.flush(cx, now);
                return Poll::Ready(reason);
            }
            self.take_events();
            self.streams.poll(&mut *self.conn, cx);
            self.take_events();
            if self.streams.take_writable() {
                continue;
            }
            if let Err(reason) = self.flush(cx, now) {
                return Poll::Ready(reason);
            }
            let mut answered = false;
            while let Some(event) = self.conn.poll_endpoint_events() {
                if let Some(answer) = self.quic.endpoint().handle_endpoint_event(self.ch, event) {
                    self.conn.handle_event(now, answer);
                    answered = true;
                }
            }
            if answered {
                continue;
            }
            if self.conn.is_drained() {
                return Poll::Ready(self.ended.unwrap_or(Reason::Done));
            }
            let read = match self.poll_clock(now) {
                Ok(at) => at,
                Err(reason) => {
                    self.conn.close(ErrorCode::H3_NO_ERROR, reason.as_str());
                    let _ = self.flush(cx, now);
                    return Poll::Ready(reason);
                }
            };
            let quic = self.conn.poll_timeout();
            if quic.is_some_and(|at| at <= now) {
                self.conn.handle_timeout(now);
                continue;
            }
            let Some(at) = [read, quic].into_iter().flatten().min() else {
                return Poll::Pending;
            };
            self.alarm.arm(at);
            if !self.alarm.poll_fired(cx) {
                return Poll::Pending;
            }
        }
    }

    /// Brings the read deadlines up to `now`: the reason to end the connection, or
    /// when to look again.
    fn poll_clock(&mut self, now: Instant) -> Result<Option<Instant>, Reason> {
        if self.ended.is_some() {
            // Closed: QUIC's own timers see its last round trips through.
            return Ok(None);
        }
        let received = self.conn.quic().stats().udp_rx.bytes;
        let fresh = received.saturating_sub(self.rx_seen);
        self.rx_seen = received;
        self.clock
            .on_bytes(usize::try_from(fresh).unwrap_or(usize::MAX));
        let activity = Activity {
            idle: self.streams.is_empty(),
            head: self.conn.is_reading_headers(),
            receiving: self.streams.awaits_peer(),
        };
        let at = self.clock.poll(now, activity)?;
        if self.clock.take_hibernate(now) {
            self.hibernate();
        }
        Ok(at)
    }

    /// An idle connection gives back its buffers until its next stream. QUIC's own
    /// state (keys, packet numbers, its stream maps) stays: quinn-proto has no way to
    /// shrink it.
    fn hibernate(&mut self) {
        self.conn.release_buffers();
        self.streams.shrink();
        tracing::trace!(target: "roadrunner", event = "conn.hibernate", peer = %self.peer);
    }

    /// A drain notice starts the graceful shutdown (GOAWAY); the drain's kill, or the
    /// listener stopping without a drain, closes the connection now.
    fn poll_stop(&mut self, cx: &mut Context<'_>) -> Option<Reason> {
        loop {
            let close = self.close.get_or_insert_with(|| self.quic.close.listen());
            if self.quic.closing.load(Ordering::Acquire) {
                self.conn.close(ErrorCode::H3_NO_ERROR, "server stopping");
                return Some(Reason::Drain);
            }
            if Pin::new(close).poll(cx).is_pending() {
                break;
            }
            self.close = None;
        }
        let events = self.drain.as_mut()?;
        let mut noticed = self.shared.drain.closing();
        while let Poll::Ready(event) = events.poll_event(&self.shared.drain, cx) {
            match event {
                DrainEvent::Notice { .. } => noticed = true,
                DrainEvent::Kill => {
                    self.conn.close(ErrorCode::H3_NO_ERROR, "drain deadline");
                    return Some(Reason::Drain);
                }
            }
        }
        if noticed {
            self.conn.shutdown();
        }
        None
    }

    fn take_events(&mut self) {
        while let Some(event) = self.conn.poll_event() {
            let (streams, conn) = (&mut self.streams, &mut *self.conn);
            match event {
                Event::Request {
                    stream,
                    head,
                    end_stream,
                } => {
                    if streams.on_request(conn, stream, head, end_stream) {
                        self.clock.on_request();
                    }
                }
                Event::Data {
                    stream,
                    data,
                    end_stream,
                } => streams.on_data(conn, stream, data, end_stream),
                Event::Trailers { stream, trailers } => streams.on_trailers(stream, trailers),
                Event::Reset { stream, .. } => streams.on_reset(stream),
                Event::Writable { .. } => streams.on_writable(),
                Event::Closed(why) => {
                    streams.abort_all();
                    self.ended = Some(reason(&why));
                    if !matches!(&why, CloseReason::Local(e) if e.code == ErrorCode::H3_NO_ERROR) {
                        tracing::debug!(
                            target: "roadrunner",
                            event = "h3.closed",
                            listener = &*self.shared.name,
                            peer = %self.peer,
                            why = ?why,
                        );
                    }
                }
            }
        }
    }

    /// How many datagrams the next send may carry: as many of the path's largest as
    /// fit in [`MAX_BATCH_BYTES`].
    fn batch(&self) -> usize {
        let largest = usize::from(self.conn.quic().current_mtu()).max(1);
        (MAX_BATCH_BYTES / largest).clamp(1, self.max_segments)
    }

    /// Sends the connection's datagrams while the socket takes them.
    fn flush(&mut self, cx: &mut Context<'_>, now: Instant) -> Result<(), Reason> {
        loop {
            if let Some(writable) = &mut self.writable {
                match writable.as_mut().poll(cx) {
                    Poll::Pending => return Ok(()),
                    Poll::Ready(Err(e)) => return Err(Reason::of_io(&e)),
                    Poll::Ready(Ok(())) => self.writable = None,
                }
            }
            if let Some((t, data)) = self.held.take() {
                if self.send(&t, &data) == Sent::Blocked {
                    self.held = Some((t, data));
                    continue;
                }
            }
            let batch = self.batch();
            let built = crate::scratch::with_datagrams(|buf| {
                let Some(t) = self.conn.poll_transmit(now, batch, buf) else {
                    return false;
                };
                if self.send(&t, &buf[..t.size]) == Sent::Blocked {
                    let data = buf[..t.size].to_vec();
                    self.held = Some((t, data));
                }
                true
            });
            if !built {
                return Ok(());
            }
        }
    }

    /// Offers one transmit to the socket; when it would block, arms `writable`.
    fn send(&mut self, t: &quinn_proto::Transmit, contents: &[u8]) -> Sent {
        let transmit = Transmit {
            destination: t.destination,
            ecn: t.ecn.and_then(|e| Ecn::from_bits(e as u8)),
            contents,
            segment_size: t.segment_size,
            src_ip: t.src_ip,
        };
        match self.socket.try_send(&transmit) {
            Ok(()) => Sent::Gone,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.writable = Some(self.socket.clone().writable());
                Sent::Blocked
            }
            // Lost like any datagram; QUIC sends it again.
            Err(e) => {
                tracing::debug!(target: "roadrunner", event = "udp.send_error", error = %e);
                Sent::Gone
            }
        }
    }
}

/// What became of a transmit offered to the socket.
#[derive(PartialEq, Eq)]
enum Sent {
    /// Taken, or lost.
    Gone,
    /// The socket is full: it waits for room.
    Blocked,
}

/// The `listener.conn_close` reason for how QUIC or HTTP/3 ended the connection.
fn reason(why: &CloseReason) -> Reason {
    match why {
        CloseReason::Local(e) if e.code == ErrorCode::H3_NO_ERROR => Reason::Done,
        CloseReason::Local(_) => Reason::ProtocolError,
        CloseReason::Lost(ConnectionError::TimedOut) => Reason::KeepAliveTimeout,
        CloseReason::Lost(ConnectionError::Reset) => Reason::PeerReset,
        CloseReason::Lost(
            ConnectionError::ApplicationClosed(_) | ConnectionError::ConnectionClosed(_),
        ) => Reason::Done,
        CloseReason::Lost(ConnectionError::TransportError(_)) => Reason::ProtocolError,
        CloseReason::Lost(_) => Reason::SocketError,
    }
}

fn refused(e: SendError) -> Refused {
    match e {
        SendError::Full => Refused::Full,
        SendError::InvalidState => Refused::InvalidState,
        SendError::UnknownStream => Refused::Gone,
        SendError::TooLarge => Refused::TooLarge,
    }
}

impl StreamCodec for ServerConn {
    fn send_response(
        &mut self,
        id: u64,
        status: StatusCode,
        headers: &HeaderMap,
        end: bool,
    ) -> Result<(), Refused> {
        ServerConn::send_response(self, id, status, headers, end).map_err(refused)
    }

    fn send_data(&mut self, id: u64, data: Bytes, end: bool) -> Result<(), Refused> {
        ServerConn::send_data(self, id, data, end).map_err(refused)
    }

    fn send_trailers(&mut self, id: u64, trailers: &HeaderMap) -> Result<(), Refused> {
        ServerConn::send_trailers(self, id, trailers).map_err(refused)
    }

    fn abandon(&mut self, id: u64, why: Abandon) {
        let code = match why {
            Abandon::Refuse => ErrorCode::H3_REQUEST_REJECTED,
            Abandon::Internal => ErrorCode::H3_INTERNAL_ERROR,
        };
        let _ = self.reset(id, code);
    }

    fn release(&mut self, id: u64, len: usize) {
        ServerConn::release(self, id, len);
    }
}

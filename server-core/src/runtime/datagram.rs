//! UDP sockets for QUIC: batched, with the per-datagram metadata (ECN, segment offload,
//! destination address) that a QUIC stack needs. The core owns these small types so
//! that it never depends on the adapters' UDP library.

use std::convert::Infallible;
use std::future::Future;
use std::io::{self, IoSliceMut};
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// An Explicit Congestion Notification codepoint (the two low bits of the IP TOS or
/// traffic class byte).
#[repr(u8)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ecn {
    /// ECT(0): the sender is ECN-capable.
    Ect0 = 0b10,
    /// ECT(1): the sender is ECN-capable.
    Ect1 = 0b01,
    /// CE: congestion was experienced on the path.
    Ce = 0b11,
}

impl Ecn {
    /// The codepoint in the two low bits of `bits`; `None` for Not-ECT.
    pub fn from_bits(bits: u8) -> Option<Self> {
        match bits & 0b11 {
            0b10 => Some(Ecn::Ect0),
            0b01 => Some(Ecn::Ect1),
            0b11 => Some(Ecn::Ce),
            _ => None,
        }
    }
}

/// What arrived in one receive buffer: one datagram, or several of `stride` bytes each
/// (the last may be shorter) when the kernel coalesced them (GRO).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecvMeta {
    /// The sender.
    pub addr: SocketAddr,
    /// Bytes filled in the buffer.
    pub len: usize,
    /// Size of each datagram in the buffer; equals `len` for a single datagram.
    pub stride: usize,
    /// The ECN codepoint the datagrams carried.
    pub ecn: Option<Ecn>,
    /// The local address the datagrams were sent to, where the platform reports it.
    pub dst_ip: Option<IpAddr>,
}

impl RecvMeta {
    /// The datagrams in `buf`, the buffer this metadata describes.
    pub fn datagrams<'a>(&self, buf: &'a [u8]) -> impl Iterator<Item = &'a [u8]> {
        let filled = &buf[..self.len];
        // An empty datagram is still one, but `chunks` yields nothing for it (and
        // panics on its zero stride).
        let empty = filled.is_empty().then_some(filled);
        filled.chunks(self.stride.max(1)).chain(empty)
    }
}

impl Default for RecvMeta {
    /// Placeholder values, overwritten by a receive.
    fn default() -> Self {
        RecvMeta {
            addr: SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), 0),
            len: 0,
            stride: 0,
            ecn: None,
            dst_ip: None,
        }
    }
}

/// Datagrams to send to one destination: one datagram, or with `segment_size` several
/// of that size (the last may be shorter) handed to the kernel in one call (GSO).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transmit<'a> {
    /// Where to.
    pub destination: SocketAddr,
    /// The ECN codepoint to mark them with.
    pub ecn: Option<Ecn>,
    /// The payload: one datagram, or the segments back to back.
    pub contents: &'a [u8],
    /// Size of each segment; `None` for a single datagram. At most
    /// [`DatagramSocket::max_transmit_segments`] segments per transmit.
    pub segment_size: Option<usize>,
    /// The local address to send from, on a socket bound to a wildcard address.
    pub src_ip: Option<IpAddr>,
}

/// A bound, non-blocking UDP socket registered with a runtime's reactor.
///
/// Readiness keeps one waker per direction: one task receives and one task sends at a
/// time (a QUIC endpoint driver does both), or wakeups are lost to each other.
pub trait DatagramSocket: Send + Sync + 'static {
    /// Receives datagrams into `bufs`; returns how many buffers were filled, and
    /// `meta[i]` describes `bufs[i]`. Fills at most `min(bufs.len(), meta.len())`.
    fn poll_recv(
        &self,
        cx: &mut Context<'_>,
        bufs: &mut [IoSliceMut<'_>],
        meta: &mut [RecvMeta],
    ) -> Poll<io::Result<usize>>;

    /// Sends `transmit`, waiting while the socket buffer is full. An error that loses
    /// only this transmit (unreachable destination, too large for the path) counts as
    /// sent: UDP may drop any datagram and QUIC recovers from it.
    fn poll_send(&self, cx: &mut Context<'_>, transmit: &Transmit<'_>) -> Poll<io::Result<()>>;

    /// Sends `transmit` if the socket can take it now, else `WouldBlock`. Any number of
    /// tasks may send this way at once (each QUIC connection sends its own datagrams);
    /// errors that lose only this transmit count as sent, as with `poll_send`.
    fn try_send(&self, transmit: &Transmit<'_>) -> io::Result<()>;

    /// Completes once the socket may take a datagram again, after a `WouldBlock`. Each
    /// caller gets a future of its own, so any number of tasks may wait at once.
    fn writable(self: Arc<Self>) -> Pin<Box<dyn Future<Output = io::Result<()>> + Send>>;

    /// The address actually bound (port 0 resolved).
    fn local_addr(&self) -> io::Result<SocketAddr>;

    /// How many segments one [`Transmit`] may carry (1 without GSO).
    fn max_transmit_segments(&self) -> usize;

    /// How many datagrams one receive buffer may hold (1 without GRO); receive buffers
    /// should be this many times the largest datagram.
    fn max_receive_segments(&self) -> usize;

    /// Whether sent datagrams may be fragmented by IP (the don't-fragment bit could not
    /// be set), which a QUIC path-MTU search must know.
    fn may_fragment(&self) -> bool;
}

/// No UDP at all: the datagram socket type of a runtime that serves TCP only (a
/// listener started without sockets for HTTP/3, which then refuses `http3`).
impl DatagramSocket for Infallible {
    fn poll_recv(
        &self,
        _: &mut Context<'_>,
        _: &mut [IoSliceMut<'_>],
        _: &mut [RecvMeta],
    ) -> Poll<io::Result<usize>> {
        match *self {}
    }

    fn poll_send(&self, _: &mut Context<'_>, _: &Transmit<'_>) -> Poll<io::Result<()>> {
        match *self {}
    }

    fn try_send(&self, _: &Transmit<'_>) -> io::Result<()> {
        match *self {}
    }

    fn writable(self: Arc<Self>) -> Pin<Box<dyn Future<Output = io::Result<()>> + Send>> {
        match *self {}
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        match *self {}
    }

    fn max_transmit_segments(&self) -> usize {
        match *self {}
    }

    fn max_receive_segments(&self) -> usize {
        match *self {}
    }

    fn may_fragment(&self) -> bool {
        match *self {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datagrams_splits_by_stride() {
        let buf = [1, 1, 2, 2, 3, 0, 0];
        let meta = |len, stride| RecvMeta {
            len,
            stride,
            ..RecvMeta::default()
        };
        let split = |m: RecvMeta| m.datagrams(&buf).collect::<Vec<_>>();
        assert_eq!(split(meta(5, 2)), [&[1, 1][..], &[2, 2], &[3]]);
        assert_eq!(split(meta(5, 5)), [&buf[..5]]);
        // Typed: serde_json (feature `json`) adds comparisons that leave `[]` ambiguous.
        assert_eq!(split(meta(0, 0)), [&[0u8; 0][..]]);
    }

    #[test]
    fn ecn_bits_round_trip() {
        for ecn in [Ecn::Ect0, Ecn::Ect1, Ecn::Ce] {
            assert_eq!(Ecn::from_bits(ecn as u8 | 0b1111_0100), Some(ecn));
        }
        assert_eq!(Ecn::from_bits(0b1111_0000), None);
    }
}

//! The core's [`DatagramSocket`] on a tokio UDP socket, with quinn-udp's batched
//! system calls.

use std::future::Future;
use std::io::{self, IoSliceMut};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use quinn_udp::{EcnCodepoint, UdpSocketState, BATCH_SIZE};
use roadrunner_core::runtime::{poll_io, DatagramSocket, Ecn, RecvMeta, Transmit};
use tokio::io::Interest;

/// A UDP socket registered with tokio's reactor.
#[derive(Debug)]
pub struct UdpSocket {
    io: tokio::net::UdpSocket,
    state: UdpSocketState,
}

impl UdpSocket {
    /// Sets `socket` up for QUIC (ECN, offloads, no fragmentation) and registers it
    /// with the current tokio runtime; panics outside one, like tokio's `from_std`.
    pub fn new(socket: std::net::UdpSocket) -> io::Result<Self> {
        let state = UdpSocketState::new((&socket).into())?;
        let io = tokio::net::UdpSocket::from_std(socket)?;
        Ok(UdpSocket { io, state })
    }
}

impl DatagramSocket for UdpSocket {
    fn poll_recv(
        &self,
        cx: &mut Context<'_>,
        bufs: &mut [IoSliceMut<'_>],
        meta: &mut [RecvMeta],
    ) -> Poll<io::Result<usize>> {
        let n = bufs.len().min(meta.len()).min(BATCH_SIZE);
        let mut got = [quinn_udp::RecvMeta::default(); BATCH_SIZE];
        let filled = std::task::ready!(poll_io(
            cx,
            |cx| self.io.poll_recv_ready(cx),
            || {
                self.io.try_io(Interest::READABLE, || {
                    self.state
                        .recv((&self.io).into(), &mut bufs[..n], &mut got[..n])
                })
            },
        ))?;
        for (m, g) in meta.iter_mut().zip(&got[..filled]) {
            *m = RecvMeta {
                addr: g.addr,
                len: g.len,
                stride: g.stride,
                ecn: g.ecn.and_then(|e| Ecn::from_bits(e as u8)),
                dst_ip: g.dst_ip,
            };
        }
        Poll::Ready(Ok(filled))
    }

    fn poll_send(&self, cx: &mut Context<'_>, transmit: &Transmit<'_>) -> Poll<io::Result<()>> {
        poll_io(
            cx,
            |cx| self.io.poll_send_ready(cx),
            || self.try_send(transmit),
        )
    }

    fn try_send(&self, transmit: &Transmit<'_>) -> io::Result<()> {
        let transmit = quinn_transmit(transmit);
        // `try_io` clears the readiness tokio cached when the send would block.
        self.io.try_io(Interest::WRITABLE, || {
            self.state.send((&self.io).into(), &transmit)
        })
    }

    fn writable(self: Arc<Self>) -> Pin<Box<dyn Future<Output = io::Result<()>> + Send>> {
        Box::pin(async move { self.io.writable().await })
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.local_addr()
    }

    fn max_transmit_segments(&self) -> usize {
        self.state.max_gso_segments()
    }

    fn max_receive_segments(&self) -> usize {
        self.state.gro_segments()
    }

    fn may_fragment(&self) -> bool {
        self.state.may_fragment()
    }
}

fn quinn_transmit<'a>(transmit: &Transmit<'a>) -> quinn_udp::Transmit<'a> {
    quinn_udp::Transmit {
        destination: transmit.destination,
        ecn: transmit.ecn.and_then(|e| EcnCodepoint::from_bits(e as u8)),
        contents: transmit.contents,
        segment_size: transmit.segment_size,
        src_ip: transmit.src_ip,
    }
}

//! TLS as one more sans-IO layer: rustls' `ServerConnection` between the socket and
//! the protocol driver, presented to the driver as just another [`ByteStream`]. It
//! lives here once, so every runtime gets it.

use std::io::{self, IoSlice, Read, Write};
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use rustls::{ServerConfig, ServerConnection};

use crate::runtime::ByteStream;
use crate::scratch::{poll_read_with, Layer};

/// Ciphertext read at a time: one maximal TLS record and its header.
const RAW_READ: usize = 16 * 1024 + 5;

/// The server's TLS configuration with ALPN set from the listener's protocols.
pub(crate) fn with_alpn(config: &ServerConfig, alpn: &[&[u8]]) -> Arc<ServerConfig> {
    let mut config = config.clone();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

/// A TLS session over a byte stream. Reads drive the handshake; plaintext writes are
/// accepted into rustls and pushed out as records, before any further read or write.
pub(crate) struct TlsStream<S> {
    io: S,
    tls: ServerConnection,
    /// Records produced by rustls and not yet written, from `sent` on.
    pending: Vec<u8>,
    sent: usize,
    /// Ciphertext read but not yet taken by rustls: it takes no more while the
    /// plaintext it decrypted has not been read (its buffer is bounded), so what a
    /// read brought beyond that waits here.
    unfed: Vec<u8>,
    eof: bool,
    closing: bool,
}

impl<S: ByteStream> TlsStream<S> {
    pub(crate) fn new(io: S, config: Arc<ServerConfig>) -> io::Result<Self> {
        let tls = ServerConnection::new(config).map_err(io::Error::other)?;
        Ok(TlsStream {
            io,
            tls,
            pending: Vec::new(),
            sent: 0,
            unfed: Vec::new(),
            eof: false,
            closing: false,
        })
    }

    /// Runs the handshake to its end (its last flight written out).
    pub(crate) fn poll_handshake(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            ready!(self.poll_flush_records(cx))?;
            if !self.tls.is_handshaking() {
                return Poll::Ready(Ok(()));
            }
            ready!(self.poll_feed(cx))?;
        }
    }

    /// Reads ciphertext once and has rustls process it; an error after the peer's
    /// end of stream.
    fn poll_feed(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let fed = if !self.unfed.is_empty() {
            let unfed = std::mem::take(&mut self.unfed);
            feed(&mut self.tls, &unfed, &mut self.unfed)
        } else {
            if self.eof {
                return Poll::Ready(Err(io::ErrorKind::UnexpectedEof.into()));
            }
            let (tls, unfed) = (&mut self.tls, &mut self.unfed);
            let mut fed = Ok(());
            let n = ready!(poll_read_with(
                Layer::Tls,
                &mut self.io,
                cx,
                RAW_READ,
                |raw| {
                    fed = feed(tls, raw, unfed);
                }
            ))?;
            if n == 0 {
                self.eof = true;
            }
            fed
        };
        if let Err(e) = fed {
            // rustls has queued the alert that tells the peer why.
            let _ = self.poll_flush_records(cx);
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(()))
    }

    /// The protocol ALPN settled on, once the handshake is done.
    pub(crate) fn alpn(&self) -> Option<&[u8]> {
        self.tls.alpn_protocol()
    }

    /// Writes out every record rustls has produced.
    fn poll_flush_records(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            if self.sent == self.pending.len() {
                self.pending.clear();
                self.sent = 0;
                if !self.tls.wants_write() {
                    return Poll::Ready(Ok(()));
                }
                self.tls.write_tls(&mut self.pending)?;
            }
            let n = ready!(self.io.poll_write(cx, &self.pending[self.sent..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.sent += n;
        }
    }
}

/// Hands ciphertext to rustls and decrypts what it completes; once there is plaintext
/// to read, the rest waits in `unfed` (rustls refuses more while its plaintext buffer
/// is full, and a large upload easily brings more than that in one read).
fn feed(tls: &mut ServerConnection, mut raw: &[u8], unfed: &mut Vec<u8>) -> io::Result<()> {
    while !raw.is_empty() {
        tls.read_tls(&mut raw)?;
        let state = tls
            .process_new_packets()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        if state.plaintext_bytes_to_read() > 0 {
            unfed.extend_from_slice(raw);
            break;
        }
    }
    Ok(())
}

impl<S: ByteStream> ByteStream for TlsStream<S> {
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        loop {
            // Handshake messages and alerts must go out before we wait for the peer.
            ready!(self.poll_flush_records(cx))?;
            match self.tls.reader().read(buf) {
                Ok(n) => return Poll::Ready(Ok(n)),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
            ready!(self.poll_feed(cx))?;
        }
    }

    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        ready!(self.poll_flush_records(cx))?;
        let n = self.tls.writer().write(buf)?;
        // The bytes are taken; records that do not fit the socket now go out on the
        // next call.
        if let Poll::Ready(Err(e)) = self.poll_flush_records(cx) {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(n))
    }

    fn poll_write_vectored(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        ready!(self.poll_flush_records(cx))?;
        let n = self.tls.writer().write_vectored(bufs)?;
        if let Poll::Ready(Err(e)) = self.poll_flush_records(cx) {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(n))
    }

    fn peer_turn(&mut self) {
        self.io.peer_turn();
    }

    fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if !self.closing {
            self.tls.send_close_notify();
            self.closing = true;
        }
        ready!(self.poll_flush_records(cx))?;
        self.io.poll_shutdown(cx)
    }
}

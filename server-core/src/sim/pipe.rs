//! In-memory connections: a bounded byte queue each way between a server end (a
//! [`ByteStream`]) and a client end driven by the test.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use super::clock::lock;
use crate::runtime::ByteStream;

/// How many bytes each direction of a connection holds unread by default: like a
/// socket buffer, a writer waits once its peer has this much unread.
pub const DEFAULT_CAPACITY: usize = 64 * 1024;

/// How a connection's read side ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Closed {
    /// Orderly close: the peer shut its write side down; a read returns 0.
    Eof,
    /// The peer went away without shutting down (an abort, or closing with input left
    /// unread); a read fails with `ConnectionReset` once the bytes before it are read.
    Reset,
}

/// One direction of a connection.
struct Half {
    buf: VecDeque<u8>,
    capacity: usize,
    /// Set by the writer: no more bytes will come, after those buffered.
    closed: Option<Closed>,
    /// The reader is gone: writes fail, and what it left unread is discarded.
    reader_gone: bool,
    reader: Option<Waker>,
    writer: Option<Waker>,
}

impl Half {
    fn new(capacity: usize) -> Mutex<Half> {
        Mutex::new(Half {
            buf: VecDeque::new(),
            capacity,
            closed: None,
            reader_gone: false,
            reader: None,
            writer: None,
        })
    }

    fn poll_read(&mut self, cx: &mut Context<'_>, out: &mut [u8]) -> Poll<io::Result<usize>> {
        if out.is_empty() {
            return Poll::Ready(Ok(0));
        }
        if !self.buf.is_empty() {
            let n = out.len().min(self.buf.len());
            for (dst, src) in out.iter_mut().zip(self.buf.drain(..n)) {
                *dst = src;
            }
            wake(&mut self.writer);
            return Poll::Ready(Ok(n));
        }
        match self.closed {
            Some(Closed::Eof) => Poll::Ready(Ok(0)),
            Some(Closed::Reset) => Poll::Ready(Err(io::ErrorKind::ConnectionReset.into())),
            None => {
                self.reader = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }

    fn poll_write(&mut self, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        if self.reader_gone || self.closed.is_some() {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        if data.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let room = self.capacity - self.buf.len();
        if room == 0 {
            self.writer = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let n = room.min(data.len());
        self.buf.extend(&data[..n]);
        wake(&mut self.reader);
        Poll::Ready(Ok(n))
    }

    fn close(&mut self, how: Closed) {
        if self.closed.is_none() {
            self.closed = Some(how);
            wake(&mut self.reader);
        }
    }

    /// Like `close(Reset)`, also after an orderly shutdown: a TCP socket closed with
    /// input unread resets the connection even then.
    fn reset(&mut self) {
        self.closed = Some(Closed::Reset);
        wake(&mut self.reader);
    }

    fn drop_reader(&mut self) {
        self.reader_gone = true;
        self.buf.clear();
        wake(&mut self.writer);
    }
}

fn wake(waker: &mut Option<Waker>) {
    if let Some(w) = waker.take() {
        w.wake();
    }
}

/// Both directions of one connection.
struct Link {
    to_server: Mutex<Half>,
    to_client: Mutex<Half>,
}

/// A connection whose directions each hold at most `capacity` unread bytes: the
/// server end and the client end.
pub fn pipe(capacity: usize) -> (SimStream, Client) {
    assert!(capacity > 0, "a pipe needs room for at least one byte");
    let link = Arc::new(Link {
        to_server: Half::new(capacity),
        to_client: Half::new(capacity),
    });
    let server = SimStream { link: link.clone() };
    let client = Client {
        link,
        addr: SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
    };
    (server, client)
}

/// The server end of an in-memory connection.
///
/// Dropped, it closes like a TCP socket: the client reads what was sent and then an
/// orderly end, or a reset if bytes the client sent were left unread.
pub struct SimStream {
    link: Arc<Link>,
}

impl SimStream {
    /// Ends the connection with a reset, as a listen socket does to the connections
    /// left in its backlog when it closes.
    pub(super) fn abort(self) {
        lock(&self.link.to_client).reset();
    }
}

impl ByteStream for SimStream {
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        lock(&self.link.to_server).poll_read(cx, buf)
    }

    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        lock(&self.link.to_client).poll_write(cx, buf)
    }

    /// Completes at once: like `shutdown(2)`, it does not wait for the peer to read.
    fn poll_shutdown(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        lock(&self.link.to_client).close(Closed::Eof);
        Poll::Ready(Ok(()))
    }
}

impl Drop for SimStream {
    fn drop(&mut self) {
        let mut incoming = lock(&self.link.to_server);
        let unread = !incoming.buf.is_empty();
        incoming.drop_reader();
        drop(incoming);
        let mut outgoing = lock(&self.link.to_client);
        if unread {
            outgoing.reset();
        } else {
            outgoing.close(Closed::Eof);
        }
    }
}

impl std::fmt::Debug for SimStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimStream").finish_non_exhaustive()
    }
}

/// The test's end of an in-memory connection. Dropping it aborts the connection: the
/// server's reads fail with `ConnectionReset` and its writes with `BrokenPipe`.
pub struct Client {
    link: Arc<Link>,
    addr: SocketAddr,
}

impl Client {
    pub(super) fn set_addr(&mut self, addr: SocketAddr) {
        self.addr = addr;
    }

    /// The client's address, as the server sees its peer (unspecified for a bare
    /// [`pipe`]).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Reads what the server sent into `buf`; `Ok(0)` once it closed in order.
    pub fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        lock(&self.link.to_client).poll_read(cx, buf)
    }

    /// Writes some of `data`, waiting while the server has a full buffer unread.
    pub fn poll_write(&mut self, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        lock(&self.link.to_server).poll_write(cx, data)
    }

    /// Reads what the server sent into `buf`; `Ok(0)` once it closed in order.
    pub async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        poll_fn(|cx| self.poll_read(cx, buf)).await
    }

    /// Writes all of `data`, waiting for room as the server reads.
    pub async fn write_all(&mut self, data: impl AsRef<[u8]>) -> io::Result<()> {
        let mut data = data.as_ref();
        while !data.is_empty() {
            let n = poll_fn(|cx| self.poll_write(cx, data)).await?;
            data = &data[n..];
        }
        Ok(())
    }

    /// Reads until the server closes; returns what it sent and how it closed.
    pub async fn read_until_close(&mut self) -> (Vec<u8>, Closed) {
        let mut all = Vec::new();
        let mut buf = [0u8; 16 * 1024];
        loop {
            match self.read(&mut buf).await {
                Ok(0) => return (all, Closed::Eof),
                Ok(n) => all.extend_from_slice(&buf[..n]),
                Err(_) => return (all, Closed::Reset),
            }
        }
    }

    /// How many bytes the server has sent that the client has not read yet.
    pub fn unread(&self) -> usize {
        lock(&self.link.to_client).buf.len()
    }

    /// Shuts the write side down: the server reads an orderly end after what was sent.
    pub fn shutdown_write(&mut self) {
        lock(&self.link.to_server).close(Closed::Eof);
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        lock(&self.link.to_client).drop_reader();
        lock(&self.link.to_server).close(Closed::Reset);
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

//! Per-thread scratch space for socket reads and datagram sends. Bytes read are handed
//! on (to a codec or to rustls, which keep what they need) within the same poll, and
//! datagrams built are sent within it, so a connection needs no buffer of its own for
//! either while it waits: an idle connection holds none.

use std::cell::RefCell;
use std::io;
use std::task::{Context, Poll};

use crate::runtime::ByteStream;

/// The size of one read.
pub(crate) const READ_SIZE: usize = 16 * 1024;

/// The size of one read of an upgraded connection: a 16 KiB WebSocket message is a
/// few bytes more than 16 KiB on the wire, and its upgrade pipe takes up to 64 KiB.
const UPGRADED_READ_SIZE: usize = 64 * 1024;

thread_local! {
    static SOCKET: RefCell<Box<[u8]>> = RefCell::new(vec![0; READ_SIZE].into_boxed_slice());
    static TLS: RefCell<Box<[u8]>> = RefCell::new(vec![0; READ_SIZE].into_boxed_slice());
    static UPGRADED: RefCell<Box<[u8]>> =
        RefCell::new(vec![0; UPGRADED_READ_SIZE].into_boxed_slice());
    static DATAGRAMS: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with this thread's buffer for building the datagrams of one send (which
/// grows to the largest send built on the thread).
pub(crate) fn with_datagrams<T>(f: impl FnOnce(&mut Vec<u8>) -> T) -> T {
    DATAGRAMS.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => f(&mut buf),
        // Only a send made while building another gets here.
        Err(_) => f(&mut Vec::new()),
    })
}

/// Which scratch buffer: the HTTP drivers read through TLS, which reads the socket in
/// the same poll, so the two layers need one each; upgraded connections (which also
/// read through TLS) read larger pieces into a third, allocated on the threads that
/// carry one.
#[derive(Clone, Copy)]
pub(crate) enum Layer {
    Http,
    Tls,
    Upgraded,
}

/// Polls one read of at most `max` bytes from `io` and gives them to `sink` before
/// returning the count (`Ok(0)` at end of stream, with `sink` not called).
pub(crate) fn poll_read_with<S: ByteStream + ?Sized>(
    layer: Layer,
    io: &mut S,
    cx: &mut Context<'_>,
    max: usize,
    sink: impl FnOnce(&[u8]),
) -> Poll<io::Result<usize>> {
    let key = match layer {
        Layer::Http => &SOCKET,
        Layer::Tls => &TLS,
        Layer::Upgraded => &UPGRADED,
    };
    key.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            let n = max.min(buf.len());
            read_into(io, cx, &mut buf[..n], sink)
        }
        // Only a stream that reads another stream of the same layer gets here.
        Err(_) => read_into(io, cx, &mut vec![0; max.min(READ_SIZE)], sink),
    })
}

fn read_into<S: ByteStream + ?Sized>(
    io: &mut S,
    cx: &mut Context<'_>,
    buf: &mut [u8],
    sink: impl FnOnce(&[u8]),
) -> Poll<io::Result<usize>> {
    let n = std::task::ready!(io.poll_read(cx, buf))?;
    if n > 0 {
        sink(&buf[..n]);
    }
    Poll::Ready(Ok(n))
}

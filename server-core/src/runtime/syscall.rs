//! The two system calls an adapter makes outside its runtime's own I/O types, when its
//! socket is ready (see [`super::poll_io`]).

use std::fs::File;
use std::io;

/// One non-blocking `sendfile(2)` from `file` to the socket `socket` (Linux); an
/// adapter calls it when its socket is writable and retries on `WouldBlock`.
#[cfg(target_os = "linux")]
pub fn sendfile(
    socket: std::os::fd::BorrowedFd<'_>,
    file: &File,
    offset: u64,
    len: u64,
) -> io::Result<usize> {
    use std::os::fd::AsRawFd;
    let mut off = libc::off_t::try_from(offset).map_err(|_| io::ErrorKind::InvalidInput)?;
    let count = usize::try_from(len).unwrap_or(usize::MAX).min(1 << 30);
    // SAFETY: both descriptors are open for the duration of the call (borrowed), and
    // `off` is a valid, exclusive pointer to an off_t the kernel may update.
    let n = unsafe { libc::sendfile(socket.as_raw_fd(), file.as_raw_fd(), &mut off, count) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

/// `sendfile(2)` is Linux-only here; elsewhere the server reads and writes.
#[cfg(not(target_os = "linux"))]
pub fn sendfile(
    _socket: std::os::fd::BorrowedFd<'_>,
    _file: &File,
    _offset: u64,
    _len: u64,
) -> io::Result<usize> {
    Err(io::ErrorKind::Unsupported.into())
}

/// One non-blocking `recv(2)` from `socket` onto the end of `buf`, at most `max`
/// bytes and no more than the room `buf` has: the bytes land in its uninitialised
/// spare capacity, with no scratch buffer and no copy. For an adapter's
/// [`ByteStream::poll_read_into`] when its socket is readable; it retries on
/// `WouldBlock`.
#[cfg(unix)]
pub fn recv_into(
    socket: std::os::fd::BorrowedFd<'_>,
    buf: &mut bytes::BytesMut,
    max: usize,
) -> io::Result<usize> {
    use std::os::fd::AsRawFd;
    let room = buf.spare_capacity_mut();
    let len = room.len().min(max);
    // SAFETY: the descriptor is open for the call (borrowed), and the kernel writes
    // at most `len` bytes into `room`, which is valid for writes of `len` bytes.
    let n = unsafe { libc::recv(socket.as_raw_fd(), room.as_mut_ptr().cast(), len, 0) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let n = n as usize;
    // SAFETY: the kernel initialised the first `n <= len` bytes of the spare capacity.
    unsafe { buf.set_len(buf.len() + n) };
    Ok(n)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use bytes::BytesMut;
    use std::io::Write;
    use std::os::fd::AsFd;
    use std::os::unix::net::UnixStream;

    #[test]
    fn recv_into_appends_at_most_max_and_the_room_there_is() {
        let (mut peer, ours) = UnixStream::pair().expect("socket pair");
        ours.set_nonblocking(true).expect("non-blocking");
        let mut buf = BytesMut::with_capacity(64);
        buf.extend_from_slice(b"ab");
        assert_eq!(
            recv_into(ours.as_fd(), &mut buf, 8).map_err(|e| e.kind()),
            Err(io::ErrorKind::WouldBlock)
        );
        peer.write_all(b"hello, world").expect("write");
        assert_eq!(recv_into(ours.as_fd(), &mut buf, 5).expect("recv"), 5);
        assert_eq!(&buf[..], b"abhello");

        let mut full = BytesMut::with_capacity(4);
        full.resize(full.capacity() - 1, b'x');
        let before = full.len();
        assert_eq!(recv_into(ours.as_fd(), &mut full, 100).expect("recv"), 1);
        assert_eq!(&full[before..], b",");

        assert_eq!(recv_into(ours.as_fd(), &mut buf, 100).expect("recv"), 6);
        assert_eq!(&buf[..], b"abhello world");
        drop(peer);
        assert_eq!(recv_into(ours.as_fd(), &mut buf, 100).expect("recv"), 0);
    }
}

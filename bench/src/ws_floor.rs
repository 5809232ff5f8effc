//! The WebSocket echo floor: the least a server can do per echoed message, to
//! show what the kernel alone costs.
//!
//! One thread, one edge-triggered `epoll` loop, no runtime, no task, no lock:
//! for each ready socket `recv`s until one does not fill the room (one per
//! message in a closed loop), then for each complete frame an unmask in place
//! and one `send` of the echo, its header written over the masking key so
//! header and payload leave as one slice. It speaks only what the
//! load client sends (the opening handshake, masked data frames, a close) and
//! drops a connection on anything else. Like the baselines it sets
//! `TCP_NODELAY`.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, RawFd};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use sha1::{Digest, Sha1};

/// Room per connection: a whole 16 KiB frame and then some.
const READ_BUF: usize = 64 * 1024;
/// Ready sockets taken per `epoll_wait`.
const EVENTS: usize = 256;
/// RFC 6455 §1.3.
const GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
/// The listener's `epoll` token; connections use their descriptor.
const LISTENER: u64 = u64::MAX;

/// Serves forever on `127.0.0.1:port` (0 picks a free port), printing the
/// `listening on` line first as the other baselines do.
pub fn run(port: u16) -> Result<(), String> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let listener = TcpListener::bind(addr).map_err(|e| format!("cannot bind {addr}: {e}"))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| format!("set_nonblocking: {e}"))?;
    let local = listener
        .local_addr()
        .map_err(|e| format!("local_addr: {e}"))?;
    let mut out = io::stdout().lock();
    writeln!(out, "listening on http://{local}")
        .and_then(|()| out.flush())
        .map_err(|e| format!("cannot write to stdout: {e}"))?;
    drop(out);
    EventLoop::new()
        .and_then(|mut l| l.serve(&listener))
        .map_err(|e| format!("epoll: {e}"))
}

struct EventLoop {
    epoll: RawFd,
    /// Indexed by descriptor.
    conns: Vec<Option<Conn>>,
}

impl EventLoop {
    fn new() -> io::Result<Self> {
        // SAFETY: no pointer arguments.
        let epoll = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if epoll < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(EventLoop {
            epoll,
            conns: Vec::new(),
        })
    }

    fn ctl(&self, op: libc::c_int, fd: RawFd, events: u32, token: u64) -> io::Result<()> {
        let mut ev = libc::epoll_event { events, u64: token };
        // SAFETY: `ev` outlives the call; the kernel copies it.
        if unsafe { libc::epoll_ctl(self.epoll, op, fd, &mut ev) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    fn serve(&mut self, listener: &TcpListener) -> io::Result<()> {
        self.ctl(
            libc::EPOLL_CTL_ADD,
            listener.as_raw_fd(),
            libc::EPOLLIN as u32,
            LISTENER,
        )?;
        let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; EVENTS];
        loop {
            // SAFETY: `events` has room for `EVENTS` entries.
            let n = unsafe {
                libc::epoll_wait(self.epoll, events.as_mut_ptr(), EVENTS as libc::c_int, -1)
            };
            if n < 0 {
                let err = io::Error::last_os_error();
                if err.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(err);
            }
            for ev in &events[..n as usize] {
                let token = ev.u64;
                if token == LISTENER {
                    self.accept(listener);
                } else {
                    self.ready(token as usize);
                }
            }
        }
    }

    fn accept(&mut self, listener: &TcpListener) {
        loop {
            match listener.accept() {
                Ok((stream, _)) => {
                    let fd = stream.as_raw_fd();
                    let registered = stream
                        .set_nonblocking(true)
                        .and_then(|()| stream.set_nodelay(true))
                        .and_then(|()| {
                            let edges = libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLET;
                            self.ctl(libc::EPOLL_CTL_ADD, fd, edges as u32, fd as u64)
                        });
                    if registered.is_ok() {
                        let slot = fd as usize;
                        if self.conns.len() <= slot {
                            self.conns.resize_with(slot + 1, || None);
                        }
                        self.conns[slot] = Some(Conn::new(stream));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                // Transient errors (e.g. EMFILE) must not kill the server.
                Err(e) => {
                    eprintln!("roadrunner-bench: accept failed: {e}");
                    return;
                }
            }
        }
    }

    /// Edge-triggered, as tokio registers sockets: a read that does not fill
    /// the room left took all there was, and the next edge says when there is
    /// more; an echo the socket did not take waits for the next edge too.
    fn ready(&mut self, slot: usize) {
        let Some(conn) = self.conns.get_mut(slot).and_then(Option::as_mut) else {
            return;
        };
        if conn.serve().is_err() {
            // Dropping the stream closes it, which also leaves the epoll set.
            self.conns[slot] = None;
        }
    }
}

/// A connection: bytes read and not yet answered, and an echo the socket did
/// not take whole.
struct Conn {
    stream: TcpStream,
    buf: Box<[u8]>,
    /// Bytes of `buf` not yet consumed: `buf[start..end]`.
    start: usize,
    end: usize,
    open: bool,
    unsent: Vec<u8>,
}

/// Why a connection ends: the peer closed, broke the protocol, or an error.
struct Closed;

impl From<io::Error> for Closed {
    fn from(_: io::Error) -> Self {
        Closed
    }
}

impl Conn {
    fn new(stream: TcpStream) -> Self {
        Conn {
            stream,
            buf: vec![0; READ_BUF].into_boxed_slice(),
            start: 0,
            end: 0,
            open: false,
            unsent: Vec::new(),
        }
    }

    fn blocked(&self) -> bool {
        !self.unsent.is_empty()
    }

    /// Flushes what waits, then reads and answers until a read finds the
    /// socket drained or the socket stops taking echoes.
    fn serve(&mut self) -> Result<(), Closed> {
        self.flush()?;
        self.echo()?;
        while !self.blocked() {
            let more = self.read()?;
            self.echo()?;
            if !more {
                break;
            }
        }
        Ok(())
    }

    /// One `recv` into the room left after what is buffered; whether it
    /// filled that room (so the socket may hold more).
    fn read(&mut self) -> Result<bool, Closed> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        let room = self.buf.len() - self.end;
        if room == 0 {
            return Err(Closed);
        }
        match self.stream.read(&mut self.buf[self.end..]) {
            Ok(0) => Err(Closed),
            Ok(n) => {
                self.end += n;
                Ok(n == room)
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Answers the handshake, then every complete frame, until one is
    /// incomplete or the socket stops taking bytes.
    fn echo(&mut self) -> Result<(), Closed> {
        if !self.open && !self.handshake()? {
            return Ok(());
        }
        while !self.blocked() {
            let Some((head, len)) = frame_header(&self.buf[self.start..self.end])? else {
                return Ok(());
            };
            let b0 = self.buf[self.start];
            if b0 & 0x0F >= 0x8 {
                // Control frames: the load client sends only a close.
                return Err(Closed);
            }
            let payload = self.start + head;
            let key: [u8; 4] = self.buf[payload - 4..payload]
                .try_into()
                .map_err(|_| Closed)?;
            unmask(&mut self.buf[payload..payload + len], key);
            let out_head = server_header(b0, len);
            let from = payload - out_head.len();
            self.buf[from..payload].copy_from_slice(&out_head);
            self.start = payload + len;
            self.send(from, self.start)?;
        }
        Ok(())
    }

    /// Reads the request head, answers `101`; false while it is incomplete.
    fn handshake(&mut self) -> Result<bool, Closed> {
        let head = &self.buf[self.start..self.end];
        let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") else {
            return Ok(false);
        };
        let text = std::str::from_utf8(&head[..end]).map_err(|_| Closed)?;
        let key = text
            .split("\r\n")
            .filter_map(|l| l.split_once(':'))
            .find(|(n, _)| n.trim().eq_ignore_ascii_case("sec-websocket-key"))
            .map(|(_, v)| v.trim())
            .ok_or(Closed)?;
        let mut sha = Sha1::new();
        sha.update(key.as_bytes());
        sha.update(GUID);
        let reply = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
            BASE64.encode(sha.finalize())
        );
        self.start += end + 4;
        self.open = true;
        self.unsent.extend_from_slice(reply.as_bytes());
        self.flush()?;
        Ok(true)
    }

    /// Sends `buf[from..to]` with one `send`; what the socket does not take
    /// waits in `unsent` for `EPOLLOUT`.
    fn send(&mut self, from: usize, to: usize) -> Result<(), Closed> {
        let written = match self.stream.write(&self.buf[from..to]) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
            Err(e) => return Err(e.into()),
        };
        self.unsent.extend_from_slice(&self.buf[from + written..to]);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), Closed> {
        while !self.unsent.is_empty() {
            match self.stream.write(&self.unsent) {
                Ok(0) => return Err(Closed),
                Ok(n) => {
                    self.unsent.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }
}

/// A complete client frame at the start of `bytes`: (header length with the
/// masking key, payload length). `None` while it is incomplete; an unmasked
/// frame is refused.
fn frame_header(bytes: &[u8]) -> Result<Option<(usize, usize)>, Closed> {
    let [_, b1, rest @ ..] = bytes else {
        return Ok(None);
    };
    if b1 & 0x80 == 0 {
        return Err(Closed);
    }
    let (extra, len) = match b1 & 0x7F {
        126 if rest.len() >= 2 => (2, u16::from_be_bytes([rest[0], rest[1]]) as usize),
        127 if rest.len() >= 8 => {
            let len = u64::from_be_bytes(rest[..8].try_into().map_err(|_| Closed)?);
            (8, usize::try_from(len).map_err(|_| Closed)?)
        }
        126 | 127 => return Ok(None),
        n => (0, n as usize),
    };
    let head = 2 + extra + 4;
    if len > READ_BUF - head {
        return Err(Closed);
    }
    Ok((bytes.len() >= head + len).then_some((head, len)))
}

/// An unmasked server header for a payload of `len`: at most 4 bytes, as
/// the payloads this floor takes are under 64 KiB.
fn server_header(b0: u8, len: usize) -> Vec<u8> {
    if len < 126 {
        vec![b0, len as u8]
    } else {
        let [hi, lo] = (len as u16).to_be_bytes();
        vec![b0, 126, hi, lo]
    }
}

/// XORs `payload` with `key`, eight bytes at a time.
fn unmask(payload: &mut [u8], key: [u8; 4]) {
    let word = u64::from_ne_bytes([
        key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3],
    ]);
    let mut chunks = payload.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let v = u64::from_ne_bytes((&*chunk).try_into().unwrap_or([0; 8])) ^ word;
        chunk.copy_from_slice(&v.to_ne_bytes());
    }
    for (i, b) in chunks.into_remainder().iter_mut().enumerate() {
        *b ^= key[i % 4];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_and_masks() {
        assert_eq!(frame_header(&[0x82]).ok(), Some(None));
        assert!(frame_header(&[0x82, 0x05]).is_err(), "unmasked");
        let mut frame = vec![0x82, 0x80 | 126, 0x40, 0x00, 1, 2, 3, 4];
        assert_eq!(frame_header(&frame).ok(), Some(None));
        frame.resize(8 + 0x4000, 0);
        assert_eq!(frame_header(&frame).ok(), Some(Some((8, 0x4000))));
        assert_eq!(server_header(0x82, 20), vec![0x82, 20]);
        assert_eq!(server_header(0x82, 0x4000), vec![0x82, 126, 0x40, 0x00]);

        let key = [0x12, 0x34, 0x56, 0x78];
        let plain: Vec<u8> = (0..21).collect();
        let mut masked: Vec<u8> = plain
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ key[i % 4])
            .collect();
        unmask(&mut masked, key);
        assert_eq!(masked, plain);
    }
}

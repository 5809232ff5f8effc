//! Protocol upgrades: a handler answers `101 Switching Protocols` with a session to
//! run, and the connection then carries that session's bytes (WebSocket runs on it).
//!
//! The session gets an [`Upgraded`]: a duplex byte stream that knows no runtime. Its
//! two directions are bounded pipes the connection's driver pumps to and from the
//! socket, so a peer that sends faster than the session reads is held back by TCP
//! flow control, and a session that writes faster than the peer reads waits.
//!
//! ```
//! use roadrunner_core::upgrade::{switching_protocols, Upgraded};
//! use roadrunner_core::{http::HeaderValue, Request, Response};
//!
//! /// Echoes every byte back until the peer closes.
//! async fn echo(req: Request) -> Response {
//!     switching_protocols(HeaderValue::from_static("echo"), |mut up: Upgraded| async move {
//!         let mut buf = [0; 4096];
//!         while let Ok(n @ 1..) = up.read(&mut buf).await {
//!             if up.write_all(&buf[..n]).await.is_err() {
//!                 break;
//!             }
//!         }
//!     })
//! }
//! ```

use std::future::{poll_fn, Future};
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use bytes::{Buf, BytesMut};
use http::{header, HeaderValue, StatusCode};

use crate::drain::Notices;
use crate::handler::BoxFuture;
use crate::listener::ListenerRef;
use crate::request::Response;

/// The `:protocol` of an extended CONNECT request (RFC 8441, RFC 9220), as a request
/// extension: `websocket` for WebSocket over HTTP/2. A handler that answers it 2xx
/// with a session (see [`on_upgrade`]) gets the stream as its byte stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectProtocol(pub bytes::Bytes);

/// Bytes a pipe holds at most in each direction.
pub(crate) const PIPE_CAPACITY: usize = 64 * 1024;

pub(crate) type Session = Box<dyn FnOnce(Upgraded) -> BoxFuture<()> + Send>;

/// The session a `101` response hands the connection to; a response extension
/// (extensions must be `Clone + Sync`, hence the shared slot).
#[derive(Clone)]
pub(crate) struct OnUpgrade(Arc<Mutex<Option<Session>>>);

impl OnUpgrade {
    /// The session, once.
    pub(crate) fn take(&self) -> Option<Session> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

/// A `101 Switching Protocols` response to `upgrade` (the new protocol's token) that
/// runs `session` on the connection once the response is sent.
pub fn switching_protocols<F, Fut>(upgrade: HeaderValue, session: F) -> Response
where
    F: FnOnce(Upgraded) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut resp = Response::default();
    *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    resp.headers_mut().insert(header::UPGRADE, upgrade);
    resp.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    on_upgrade(&mut resp, session);
    resp
}

/// Attaches `session` to a `101` response the handler built itself (its own headers,
/// `Sec-WebSocket-Accept` say). A `101` without a session closes the connection right
/// after the response.
pub fn on_upgrade<F, Fut>(resp: &mut Response, session: F)
where
    F: FnOnce(Upgraded) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    resp.extensions_mut()
        .insert(OnUpgrade(Arc::new(Mutex::new(Some(Box::new(move |up| {
            Box::pin(session(up)) as BoxFuture<()>
        }))))));
}

/// The upgraded connection as the session sees it: read what the peer sends, write
/// what it should receive, close. Reads and writes wait on the peer (backpressure).
pub struct Upgraded {
    inbound: Pipe,
    outbound: Pipe,
    notices: Notices,
}

impl Upgraded {
    /// Reads into `buf`; `Ok(0)` once the peer has closed its side.
    pub async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        poll_fn(|cx| self.poll_read(cx, buf)).await
    }

    /// Polls a read (see [`read`](Self::read)).
    pub fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.inbound.poll_take(cx, buf)
    }

    /// Writes all of `data`, waiting while the outgoing buffer is full.
    pub async fn write_all(&mut self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            let n = poll_fn(|cx| self.poll_write(cx, data)).await?;
            data = &data[n..];
        }
        Ok(())
    }

    /// Polls a write of some of `data`.
    pub fn poll_write(&mut self, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        self.outbound.poll_put(cx, data)
    }

    /// Closes the sending side once what was written has gone out; the peer reads the
    /// end of the stream.
    pub fn close(&mut self) {
        self.outbound.close();
    }

    /// Waits for the listener's next drain notice; its deadline, if it has one. The
    /// session should wind down (a WebSocket sends its close frame): at the deadline
    /// the connection is ended.
    pub async fn drain_notice(&mut self) -> Option<Instant> {
        poll_fn(|cx| self.poll_drain_notice(cx)).await
    }

    /// Polls for the next drain notice (see [`drain_notice`](Self::drain_notice)).
    pub fn poll_drain_notice(&mut self, cx: &mut Context<'_>) -> Poll<Option<Instant>> {
        self.notices.poll_notice(cx)
    }
}

impl Drop for Upgraded {
    fn drop(&mut self) {
        self.outbound.close();
        self.inbound.break_off();
    }
}

/// The driver's ends of an upgraded connection's pipes.
pub(crate) struct Ends {
    /// Bytes from the peer, for the session.
    pub(crate) inbound: Pipe,
    /// Bytes from the session, for the peer.
    pub(crate) outbound: Pipe,
}

/// A session's [`Upgraded`] and the driver's ends of it; `early` is what the peer sent
/// after its upgrade request, before the switch was answered.
pub(crate) fn pair(early: &[u8], listener: Option<ListenerRef>) -> (Upgraded, Ends) {
    let inbound = Pipe::default();
    inbound.lock().buf.extend_from_slice(early);
    let outbound = Pipe::default();
    let up = Upgraded {
        inbound: inbound.clone(),
        outbound: outbound.clone(),
        notices: Notices::new(listener),
    };
    (up, Ends { inbound, outbound })
}

#[derive(Default)]
struct State {
    buf: BytesMut,
    /// The writing side is done: the reader sees the end once `buf` is empty.
    closed: bool,
    /// The reading side is gone: writes fail.
    broken: bool,
    /// The driver's end is served in the task that polls the session, after every
    /// poll of it (see [`Pipe::served_after_session`]).
    served_after_session: bool,
    reader: Option<Waker>,
    writer: Option<Waker>,
}

/// Registers `waker` in `slot`, unless the one there already wakes the same task (a
/// session waits on its pipe at every message: no clone for it).
fn register(slot: &mut Option<Waker>, waker: &Waker) {
    if !slot.as_ref().is_some_and(|w| w.will_wake(waker)) {
        *slot = Some(waker.clone());
    }
}

/// Wakes the session's side, registered in `slot`, from the driver's task `current`:
/// not when the session runs in that task, whose driver polls it again before it
/// waits. A wake-up there would only poll the whole connection once more.
fn wake_session(slot: &mut Option<Waker>, current: &Waker) {
    if slot.as_ref().is_some_and(|w| w.will_wake(current)) {
        return;
    }
    if let Some(w) = slot.take() {
        w.wake();
    }
}

/// Wakes the driver's side, registered in `slot`, after the session made progress
/// from `cx`: not when the driver is `served_after_session` in that same task.
fn wake_driver(slot: &mut Option<Waker>, served_after_session: bool, cx: &Context<'_>) {
    if served_after_session && slot.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
        return;
    }
    if let Some(w) = slot.take() {
        w.wake();
    }
}

/// A bounded byte pipe with one reader and one writer.
#[derive(Clone, Default)]
pub(crate) struct Pipe(Arc<Mutex<State>>);

impl Pipe {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Plain fields only: a panic elsewhere cannot leave them half-written.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writer: copies in as much of `data` as fits.
    pub(crate) fn poll_put(&self, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let mut s = self.lock();
        if s.broken || s.closed {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        let room = PIPE_CAPACITY.saturating_sub(s.buf.len());
        if room == 0 {
            register(&mut s.writer, cx.waker());
            return Poll::Pending;
        }
        let n = room.min(data.len());
        s.buf.extend_from_slice(&data[..n]);
        let served = s.served_after_session;
        wake_driver(&mut s.reader, served, cx);
        Poll::Ready(Ok(n))
    }

    /// Reader: takes what is buffered into `out`; `Ok(0)` at the end.
    pub(crate) fn poll_take(
        &self,
        cx: &mut Context<'_>,
        out: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let mut s = self.lock();
        if s.buf.is_empty() {
            if s.closed || out.is_empty() {
                return Poll::Ready(Ok(0));
            }
            register(&mut s.reader, cx.waker());
            return Poll::Pending;
        }
        let n = out.len().min(s.buf.len());
        out[..n].copy_from_slice(&s.buf[..n]);
        s.buf.advance(n);
        let served = s.served_after_session;
        wake_driver(&mut s.writer, served, cx);
        Poll::Ready(Ok(n))
    }

    /// Room left for the writer; registers it to be woken when there is none.
    pub(crate) fn poll_room(&self, cx: &mut Context<'_>) -> Poll<usize> {
        let mut s = self.lock();
        let room = PIPE_CAPACITY.saturating_sub(s.buf.len());
        if room == 0 {
            register(&mut s.writer, cx.waker());
            return Poll::Pending;
        }
        Poll::Ready(room)
    }

    /// Reader: runs `f` on the buffered bytes and drops the first `f` returns.
    /// `Ready(None)` at the end, `Pending` with nothing buffered.
    pub(crate) fn poll_peek(
        &self,
        waker: &Waker,
        f: impl FnOnce(&[u8]) -> usize,
    ) -> Poll<Option<()>> {
        let mut s = self.lock();
        if s.buf.is_empty() {
            if s.closed {
                return Poll::Ready(None);
            }
            register(&mut s.reader, waker);
            return Poll::Pending;
        }
        let n = f(&s.buf).min(s.buf.len());
        s.buf.advance(n);
        if s.buf.is_empty() && s.buf.capacity() > PIPE_CAPACITY {
            s.buf = BytesMut::new();
        }
        // Only room made is worth a wake-up: a writer woken for nothing would poll,
        // find the pipe full and wait again, forever if it shares the reader's task.
        if n > 0 {
            if let Some(w) = s.writer.take() {
                w.wake();
            }
        }
        Poll::Ready(Some(()))
    }

    /// Writer: no more bytes will come.
    pub(crate) fn close(&self) {
        let mut s = self.lock();
        s.closed = true;
        if let Some(w) = s.reader.take() {
            w.wake();
        }
    }

    /// Reader: gone; the writer's next write fails.
    pub(crate) fn break_off(&self) {
        let mut s = self.lock();
        s.broken = true;
        if let Some(w) = s.writer.take() {
            w.wake();
        }
    }

    /// Writer: appends bytes it has already been given room for.
    pub(crate) fn put(&self, data: &[u8]) {
        let mut s = self.lock();
        s.buf.extend_from_slice(data);
        if let Some(w) = s.reader.take() {
            w.wake();
        }
    }

    /// Writer: [`put`](Self::put) from the driver's task, `current`, which polls the
    /// session again before it waits: the session is woken only if it reads from
    /// another task.
    pub(crate) fn put_from(&self, data: &[u8], current: &Waker) {
        let mut s = self.lock();
        s.buf.extend_from_slice(data);
        wake_session(&mut s.reader, current);
    }

    /// The driver's end of this pipe is served in the task that polls the session,
    /// each time after polling it: the session's reads and writes from that task then
    /// wake no one, as the driver is about to look anyway.
    pub(crate) fn served_after_session(&self) {
        self.lock().served_after_session = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_lite::future::{block_on, poll_once};

    #[test]
    fn writes_wait_when_the_pipe_is_full_and_resume_when_read() {
        let (mut up, ends) = pair(b"early", None);
        let mut buf = [0; 16];
        assert_eq!(block_on(up.read(&mut buf)).expect("read"), 5);
        assert_eq!(&buf[..5], b"early");
        let big = vec![7u8; PIPE_CAPACITY + 10];
        let mut write = Box::pin(up.write_all(&big));
        assert!(
            block_on(poll_once(&mut write)).is_none(),
            "a full pipe waits"
        );
        let mut taken = 0;
        block_on(poll_fn(|cx| {
            ends.outbound.poll_peek(&cx.waker().clone(), |b| {
                taken += b.len();
                b.len()
            })
        }));
        assert_eq!(taken, PIPE_CAPACITY);
        assert!(
            block_on(poll_once(&mut write)).is_some(),
            "room again: done"
        );
    }

    #[test]
    fn the_end_and_a_broken_pipe_are_seen() {
        let (mut up, ends) = pair(b"", None);
        ends.inbound.close();
        assert_eq!(block_on(up.read(&mut [0; 4])).expect("eof"), 0);
        ends.outbound.break_off();
        assert!(block_on(up.write_all(b"x")).is_err());
    }
}

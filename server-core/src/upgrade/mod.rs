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

mod pipe;

use std::future::{poll_fn, Future};
use std::io;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use http::{header, HeaderValue, StatusCode};

use crate::drain::Notices;
use crate::handler::BoxFuture;
use crate::listener::ListenerRef;
use crate::request::Response;
pub(crate) use pipe::Pipe;

/// The `:protocol` of an extended CONNECT request (RFC 8441, RFC 9220), as a request
/// extension: `websocket` for WebSocket over HTTP/2. A handler that answers it 2xx
/// with a session (see [`on_upgrade`]) gets the stream as its byte stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectProtocol(pub bytes::Bytes);

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

    /// Polls a read of everything that has arrived, without copying it; `None` once
    /// the peer has closed its side.
    pub(crate) fn poll_read_all(&mut self, cx: &mut Context<'_>) -> Poll<Option<BytesMut>> {
        self.inbound.poll_take_all(cx)
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

    /// Polls a write of some of `head` then `body`, from `from` bytes into them: a
    /// frame, whose payload goes out without a copy (see [`Pipe::poll_put_parts`]).
    pub(crate) fn poll_write_parts(
        &mut self,
        cx: &mut Context<'_>,
        head: &[u8],
        body: &Bytes,
        from: usize,
    ) -> Poll<io::Result<usize>> {
        self.outbound.poll_put_parts(cx, head, body, from)
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
    let inbound = Pipe::with(early);
    let outbound = Pipe::default();
    let up = Upgraded {
        inbound: inbound.clone(),
        outbound: outbound.clone(),
        notices: Notices::new(listener),
    };
    (up, Ends { inbound, outbound })
}

#[cfg(test)]
mod tests {
    use super::pipe::PIPE_CAPACITY;
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
            ends.outbound.poll_take_bytes(&cx.waker().clone(), |b| {
                taken += b.len();
                true
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

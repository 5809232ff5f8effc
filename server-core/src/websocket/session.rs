//! A WebSocket session as its handler sees it: the codec's [`Session`] driven over the
//! upgraded connection's pipes, with the timers the codec leaves to its driver (idle,
//! closing handshake, the drain deadline), a mailbox, and backpressure on sends.

use std::future::poll_fn;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use async_channel::{Receiver, Sender};
use bytes::Bytes;
use futures_lite::Stream;
use roadrunner_ws::{CloseCode, Event, OutgoingFrame, Session};

use super::{Message, WsConfig};
use crate::handler::BoxFuture;
use crate::listener::ListenerRef;
use crate::loop_handler::{Mailbox, MAILBOX_CAPACITY};
use crate::upgrade::Upgraded;

/// The close frame goes out this long before a drain's deadline, so that it is on its
/// way before the listener ends the connection.
const DRAIN_MARGIN: Duration = Duration::from_millis(100);

/// What a session is woken by.
#[derive(Debug, PartialEq, Eq)]
pub enum WsEvent<M = ()> {
    /// A text message.
    Text(String),
    /// A binary message.
    Binary(Bytes),
    /// A ping (already answered); only with [`WsConfig::pings`].
    Ping(Bytes),
    /// A pong; only with [`WsConfig::pings`].
    Pong(Bytes),
    /// A message from a [`Mailbox`].
    Message(M),
    /// The listener is draining: wind down. Unless the session closes first, it is
    /// closed with 1001 (going away) just before `deadline`.
    Drain {
        /// When the listener ends what is left, if it has a timeout.
        deadline: Option<Instant>,
    },
}

/// The session has ended: sends fail, and [`WebSocket::next`] returns `None`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WsClosed;

impl std::fmt::Display for WsClosed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the WebSocket session has ended")
    }
}

impl std::error::Error for WsClosed {}

/// A timer, re-armed only when a deadline comes before it.
struct Timer {
    at: Instant,
    sleep: BoxFuture<()>,
}

/// One WebSocket session, handed to its handler.
pub struct WebSocket<M = ()> {
    up: Upgraded,
    codec: Session,
    config: Arc<WsConfig>,
    listener: Option<ListenerRef>,
    protocol: Option<String>,
    rx: Pin<Box<Receiver<M>>>,
    tx: Sender<M>,
    /// The frame the codec handed out and the pipe has not taken whole yet.
    pending: Option<OutgoingFrame>,
    /// Bytes of `pending` the pipe has taken.
    written: usize,
    /// When the peer last sent anything.
    heard: Option<Instant>,
    /// The server's close frame went out at this instant.
    closing_since: Option<Instant>,
    /// Close with 1001 at this instant (a drain).
    close_at: Option<Instant>,
    timer: Option<Timer>,
    /// The code of the close: the peer's, the server's, or 1006 for a connection lost.
    close_code: Option<CloseCode>,
    ended: bool,
}

impl<M: Send + 'static> WebSocket<M> {
    pub(super) fn new(
        up: Upgraded,
        codec: Session,
        config: Arc<WsConfig>,
        listener: Option<ListenerRef>,
        protocol: Option<String>,
    ) -> Self {
        let (tx, rx) = async_channel::bounded(MAILBOX_CAPACITY);
        let heard = listener.as_ref().map(ListenerRef::now);
        WebSocket {
            up,
            codec,
            config,
            listener,
            protocol,
            rx: Box::pin(rx),
            tx,
            pending: None,
            written: 0,
            heard,
            closing_since: None,
            close_at: None,
            timer: None,
            close_code: None,
            ended: false,
        }
    }

    /// The subprotocol agreed in the handshake.
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// A handle other tasks use to send this session messages ([`WsEvent::Message`]).
    pub fn mailbox(&self) -> Mailbox<M> {
        Mailbox::new(self.tx.clone())
    }

    /// Bytes queued for the client and not yet taken by the connection: a client that
    /// does not read makes it grow up to [`WsConfig::max_buffered`], where
    /// [`send`](Self::send) starts waiting. A slow consumer shows here.
    pub fn buffered(&self) -> usize {
        self.codec.buffered() + self.pending.as_ref().map_or(0, |f| f.len() - self.written)
    }

    /// The close code, once the session has ended: the client's, the server's, or
    /// 1006 when the connection was lost without a close frame.
    pub fn close_code(&self) -> Option<CloseCode> {
        self.ended.then_some(self.close_code?)
    }

    /// The next event, or `None` once the session has ended (closed by either side,
    /// timed out, or the connection lost).
    pub async fn next(&mut self) -> Option<WsEvent<M>> {
        poll_fn(|cx| self.poll_next(cx)).await
    }

    /// Sends a message, first waiting while more than [`WsConfig::max_buffered`] bytes
    /// are queued.
    pub async fn send(&mut self, msg: impl Into<Message>) -> Result<(), WsClosed> {
        let msg = msg.into();
        poll_fn(|cx| {
            if self.ended || !self.codec.can_send() {
                return Poll::Ready(Err(WsClosed));
            }
            if self.flush(cx).is_err() {
                return Poll::Ready(Err(WsClosed));
            }
            if self.buffered() > self.config.max_buffered {
                return Poll::Pending;
            }
            Poll::Ready(Ok(()))
        })
        .await?;
        let queued = match msg {
            Message::Text(text) => self.codec.send_text(text),
            Message::Binary(data) => self.codec.send_binary(data),
        };
        queued.map_err(|_| WsClosed)?;
        poll_fn(|cx| Poll::Ready(self.flush(cx))).await
    }

    /// Sends a ping (at most 125 bytes).
    pub async fn ping(&mut self, payload: impl Into<Bytes>) -> Result<(), WsClosed> {
        self.codec.send_ping(payload).map_err(|_| WsClosed)?;
        poll_fn(|cx| Poll::Ready(self.flush(cx))).await
    }

    /// Closes with `code` and `reason` and waits (at most [`WsConfig::close_timeout`])
    /// for the client's close frame; messages received meanwhile are dropped.
    pub async fn close(&mut self, code: CloseCode, reason: &str) {
        if self.codec.close(code, reason).is_ok() {
            self.close_code = Some(code);
        }
        while self.next().await.is_some() {}
    }

    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<WsEvent<M>>> {
        loop {
            if self.ended {
                return Poll::Ready(None);
            }
            if self.flush(cx).is_err() {
                return self.end(CloseCode::ABNORMAL);
            }
            if self.codec.is_closed() && self.pending.is_none() {
                // RFC 6455 §7.1.1: the server closes the connection first.
                self.up.close();
                let code = self.close_code.unwrap_or(CloseCode::NORMAL);
                return self.end(code);
            }
            match self.codec.poll_event() {
                Ok(Some(event)) => {
                    if let Some(event) = self.surface(event) {
                        return Poll::Ready(Some(event));
                    }
                    continue;
                }
                Ok(None) => {}
                Err(e) => {
                    self.close_code.get_or_insert(e.close_code());
                    continue;
                }
            }
            if self.codec.wants_read() {
                match self.up.poll_read_all(cx) {
                    Poll::Ready(None) => return self.end(CloseCode::ABNORMAL),
                    Poll::Ready(Some(data)) => {
                        self.codec.recv_bytes(data);
                        self.heard = self.now();
                        continue;
                    }
                    Poll::Pending => {}
                }
            }
            if self.codec.can_send() {
                // Only a mailbox handed out can send (the session's own sender never
                // does): without one, and with nothing left by one dropped since,
                // the channel and its listener are left alone.
                if self.tx.sender_count() > 1 || !self.rx.is_empty() {
                    if let Poll::Ready(Some(msg)) = self.rx.as_mut().poll_next(cx) {
                        return Poll::Ready(Some(WsEvent::Message(msg)));
                    }
                }
                if let Poll::Ready(deadline) = self.up.poll_drain_notice(cx) {
                    self.close_at = deadline.map(|d| {
                        let now = self.now().unwrap_or(d);
                        d.checked_sub(DRAIN_MARGIN).unwrap_or(now).max(now)
                    });
                    return Poll::Ready(Some(WsEvent::Drain { deadline }));
                }
            }
            match self.poll_timers(cx) {
                Poll::Ready(Some(code)) => return self.end(code),
                Poll::Ready(None) => continue,
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// An event for the handler, or `None` for one it does not see.
    fn surface(&mut self, event: Event) -> Option<WsEvent<M>> {
        match event {
            Event::Text(text) => Some(WsEvent::Text(text)),
            Event::Binary(data) => Some(WsEvent::Binary(data)),
            Event::Ping(p) => self.config.pings.then_some(WsEvent::Ping(p)),
            Event::Pong(p) => self.config.pings.then_some(WsEvent::Pong(p)),
            Event::Close { code, .. } => {
                self.close_code.get_or_insert(code);
                None
            }
        }
    }

    fn end(&mut self, code: CloseCode) -> Poll<Option<WsEvent<M>>> {
        self.close_code.get_or_insert(code);
        self.ended = true;
        self.rx.close();
        self.up.close();
        Poll::Ready(None)
    }

    fn now(&self) -> Option<Instant> {
        self.listener.as_ref().map(ListenerRef::now)
    }

    /// Moves what the codec queued into the connection's pipe, as far as it takes it.
    fn flush(&mut self, cx: &mut Context<'_>) -> Result<(), WsClosed> {
        if self.pending.is_none() && self.codec.buffered() == 0 {
            return Ok(());
        }
        loop {
            let frame = match &self.pending {
                Some(frame) => frame,
                None => {
                    let Some(frame) = self.codec.poll_frame() else {
                        return Ok(());
                    };
                    if self.codec.is_closing() && self.closing_since.is_none() {
                        self.closing_since = self.now();
                    }
                    self.written = 0;
                    self.pending.insert(frame)
                }
            };
            match self
                .up
                .poll_write_parts(cx, frame.header(), frame.payload(), self.written)
            {
                Poll::Ready(Ok(n)) => {
                    self.written += n;
                    if self.written == frame.len() {
                        self.pending = None;
                    }
                }
                Poll::Ready(Err(_)) => return Err(WsClosed),
                Poll::Pending => return Ok(()),
            }
        }
    }

    /// The idle timeout, the drain's close and the closing handshake's timeout: the
    /// code to end with, `None` to look again (a close was queued), or `Pending`.
    fn poll_timers(&mut self, cx: &mut Context<'_>) -> Poll<Option<CloseCode>> {
        let Some(listener) = &self.listener else {
            return Poll::Pending;
        };
        loop {
            let closing = self.closing_since.map(|t| t + self.config.close_timeout);
            let idle = match (self.config.idle_timeout, self.heard) {
                (Some(limit), Some(heard)) if self.codec.can_send() => Some(heard + limit),
                _ => None,
            };
            let close_at = self.close_at.filter(|_| self.codec.can_send());
            let Some(at) = [closing, idle, close_at].into_iter().flatten().min() else {
                return Poll::Pending;
            };
            // A timer armed no later than every deadline, and not fired, says that none
            // has passed: the clock is read only once it fires (or a deadline comes
            // before it). A timer armed for earlier is kept: when it fires the
            // deadlines are looked at again. So the idle deadline, which moves with
            // every message, costs a new timer once per idle period, not once per
            // message.
            if let Some(timer) = &mut self.timer {
                if timer.at <= at {
                    if timer.sleep.as_mut().poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                    self.timer = None;
                }
            }
            let now = listener.now();
            if closing.is_some_and(|at| now >= at) {
                return Poll::Ready(Some(CloseCode::ABNORMAL));
            }
            for (at, reason) in [(idle, "idle timeout"), (close_at, "server draining")] {
                if at.is_some_and(|at| now >= at) {
                    self.close_code = Some(CloseCode::GOING_AWAY);
                    let _ = self.codec.close(CloseCode::GOING_AWAY, reason);
                    return Poll::Ready(None);
                }
            }
            let timer = self.timer.insert(Timer {
                at,
                sleep: listener.sleep_until(at),
            });
            if timer.sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            self.timer = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_lite::future::{block_on, poll_once};

    fn session() -> WebSocket<&'static str> {
        let (up, _ends) = crate::upgrade::pair(b"", None);
        let codec = Session::new(roadrunner_ws::Config::default(), None);
        WebSocket::new(up, codec, Arc::new(WsConfig::default()), None, None)
    }

    #[test]
    fn mail_left_by_a_mailbox_dropped_since_the_last_look_arrives() {
        let mut ws = session();
        assert!(block_on(poll_once(ws.next())).is_none(), "nothing yet");
        let mailbox = ws.mailbox();
        mailbox.try_send("hello").expect("room");
        drop(mailbox);
        assert_eq!(
            block_on(poll_once(ws.next())),
            Some(Some(WsEvent::Message("hello")))
        );
    }
}

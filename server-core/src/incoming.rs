//! A request body the handler reads itself (`body_buffering: manual`): a one-chunk
//! pipe between the connection, which reads the socket only as fast as the handler
//! takes chunks, and the handler's [`Body`](crate::Body).

use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use http::{HeaderMap, StatusCode};

/// Why a request body could not be read to its end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BodyError {
    /// The body broke the protocol or a cap; the connection answers with `status`
    /// (413 for `max_content_length`, 400 for bad framing) and closes.
    Protocol {
        /// The status the server answers with.
        status: StatusCode,
        /// What was wrong.
        reason: String,
    },
    /// The peer went away, or was too slow, before the body ended.
    Aborted,
    /// A streamed body's own source failed, with its message.
    Stream(String),
}

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BodyError::Protocol { status, reason } => write!(f, "{status}: {reason}"),
            BodyError::Aborted => f.write_str("the request body was cut short"),
            BodyError::Stream(reason) => write!(f, "the body stream failed: {reason}"),
        }
    }
}

impl std::error::Error for BodyError {}

#[derive(Default)]
struct State {
    chunk: Option<Bytes>,
    end: Option<Result<Option<HeaderMap>, BodyError>>,
    /// The reader has asked for data at least once (the cue for `100 Continue`).
    wanted: bool,
    reader: Option<Waker>,
    writer: Option<Waker>,
}

/// The shared pipe.
#[derive(Clone, Default)]
pub(crate) struct Pipe(Arc<Mutex<State>>);

/// What the reader gets next.
pub(crate) enum Piece {
    Data(Bytes),
    End(Option<HeaderMap>),
}

impl Pipe {
    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is a few plain fields; a panic cannot leave them half-written.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reader: the next piece, or the error that ended the body.
    pub(crate) fn poll_read(&self, cx: &mut Context<'_>) -> Poll<Result<Piece, BodyError>> {
        let mut s = self.lock();
        if let Some(chunk) = s.chunk.take() {
            if let Some(w) = s.writer.take() {
                w.wake();
            }
            return Poll::Ready(Ok(Piece::Data(chunk)));
        }
        if let Some(end) = &mut s.end {
            return Poll::Ready(match end {
                Ok(trailers) => Ok(Piece::End(trailers.take())),
                Err(e) => Err(e.clone()),
            });
        }
        if !s.wanted {
            s.wanted = true;
            if let Some(w) = s.writer.take() {
                w.wake();
            }
        }
        s.reader = Some(cx.waker().clone());
        Poll::Pending
    }

    /// Writer: whether the reader has asked for data yet.
    pub(crate) fn wanted(&self) -> bool {
        self.lock().wanted
    }

    /// Writer: ready for another chunk once the last one was taken.
    pub(crate) fn poll_room(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut s = self.lock();
        if s.chunk.is_none() {
            return Poll::Ready(());
        }
        s.writer = Some(cx.waker().clone());
        Poll::Pending
    }

    /// Writer: registers to be woken when the reader first asks for data.
    pub(crate) fn wait_wanted(&self, cx: &mut Context<'_>) {
        self.lock().writer = Some(cx.waker().clone());
    }

    /// Writer: hands over a chunk (after `poll_room` said there is room).
    pub(crate) fn put(&self, chunk: Bytes) {
        let mut s = self.lock();
        s.chunk = Some(chunk);
        if let Some(w) = s.reader.take() {
            w.wake();
        }
    }

    /// Writer: the body ended, cleanly (with trailers, if any) or not.
    pub(crate) fn finish(&self, end: Result<Option<HeaderMap>, BodyError>) {
        let mut s = self.lock();
        s.end = Some(end);
        if let Some(w) = s.reader.take() {
            w.wake();
        }
    }
}

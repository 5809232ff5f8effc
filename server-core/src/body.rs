//! The body of a request or a response: bytes in full, or a stream of frames.

use std::fmt;
use std::fs::File;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_lite::Stream;
use http::HeaderMap;

use crate::incoming::{BodyError, Piece, Pipe};

/// One piece of a streamed body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    /// Body bytes.
    Data(Bytes),
    /// Trailer fields; the last frame when present.
    Trailers(HeaderMap),
}

/// A boxed stream of frames.
pub type FrameStream = Pin<Box<dyn Stream<Item = Frame> + Send + 'static>>;

/// A message body. Request bodies arrive read in full (`body_buffering: auto`); a
/// response body is whatever the handler gives: bytes, or a stream sent as it comes
/// (chunked on HTTP/1.1).
#[derive(Default)]
pub struct Body {
    kind: Kind,
}

#[derive(Default)]
pub(crate) enum Kind {
    #[default]
    Empty,
    Full(Bytes),
    Stream(FrameStream),
    /// A request body still arriving, read by the handler (`body_buffering: manual`).
    Incoming {
        pipe: Pipe,
        hint: Option<u64>,
    },
    /// A region of a file, sent zero-copy where the connection allows.
    File {
        file: File,
        offset: u64,
        len: u64,
    },
}

impl Body {
    /// An empty body.
    pub const fn empty() -> Self {
        Body { kind: Kind::Empty }
    }

    /// A body sent frame by frame as `stream` yields them; the response ends when the
    /// stream does.
    pub fn from_stream(stream: impl Stream<Item = Frame> + Send + 'static) -> Self {
        Body {
            kind: Kind::Stream(Box::pin(stream)),
        }
    }

    /// `len` bytes of `file` from `offset`, sent with `sendfile(2)` on plain TCP on
    /// Linux, otherwise read and written in chunks. The length is the response's
    /// `content-length`, so the region must exist.
    pub fn file(file: File, offset: u64, len: u64) -> Self {
        Body {
            kind: Kind::File { file, offset, len },
        }
    }

    /// A whole file (see [`Body::file`]).
    pub fn open(path: impl AsRef<std::path::Path>) -> std::io::Result<Self> {
        let file = File::open(path)?;
        let len = file.metadata()?.len();
        Ok(Body::file(file, 0, len))
    }

    pub(crate) fn incoming(pipe: Pipe, hint: Option<u64>) -> Self {
        Body {
            kind: Kind::Incoming { pipe, hint },
        }
    }

    /// The buffered bytes; empty for a streamed or still-arriving body.
    pub fn as_bytes(&self) -> &Bytes {
        static EMPTY: Bytes = Bytes::new();
        match &self.kind {
            Kind::Full(b) => b,
            _ => &EMPTY,
        }
    }

    /// The buffered bytes, by value (no copy); empty for a streamed or still-arriving
    /// body.
    pub fn into_bytes(self) -> Bytes {
        match self.kind {
            Kind::Full(b) => b,
            _ => Bytes::new(),
        }
    }

    /// True for a streamed or still-arriving body.
    pub fn is_stream(&self) -> bool {
        matches!(self.kind, Kind::Stream(_) | Kind::Incoming { .. })
    }

    /// The length of a buffered body; `None` for a stream or a file.
    pub fn len(&self) -> Option<usize> {
        match &self.kind {
            Kind::Empty => Some(0),
            Kind::Full(b) => Some(b.len()),
            Kind::Stream(_) | Kind::Incoming { .. } | Kind::File { .. } => None,
        }
    }

    /// The expected length in bytes, when known: a buffered body's, or an arriving
    /// body's `Content-Length`.
    pub fn size_hint(&self) -> Option<u64> {
        match &self.kind {
            Kind::Incoming { hint, .. } => *hint,
            Kind::File { len, .. } => Some(*len),
            _ => self.len().map(|n| n as u64),
        }
    }

    /// The next frame; `None` at the end. An arriving request body may end in an
    /// error instead (cut short, too large, badly framed).
    pub async fn frame(&mut self) -> Option<Result<Frame, BodyError>> {
        std::future::poll_fn(|cx| self.poll_frame(cx)).await
    }

    fn poll_frame(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Frame, BodyError>>> {
        let Kind::Incoming { pipe, .. } = &self.kind else {
            return Pin::new(self).poll_next(cx).map(|f| f.map(Ok));
        };
        let piece = std::task::ready!(pipe.poll_read(cx));
        Poll::Ready(match piece {
            Ok(Piece::Data(data)) => Some(Ok(Frame::Data(data))),
            Ok(Piece::End(trailers)) => {
                self.kind = Kind::Empty;
                trailers.map(|t| Ok(Frame::Trailers(t)))
            }
            Err(e) => {
                self.kind = Kind::Empty;
                Some(Err(e))
            }
        })
    }

    /// Reads the rest of the body into one buffer (trailers are dropped).
    pub async fn to_bytes(mut self) -> Result<Bytes, BodyError> {
        if let Kind::Full(b) = self.kind {
            return Ok(b);
        }
        let mut all = bytes::BytesMut::new();
        while let Some(frame) = self.frame().await {
            if let Frame::Data(d) = frame? {
                all.extend_from_slice(&d);
            }
        }
        Ok(all.freeze())
    }

    /// True for a buffered body with no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == Some(0)
    }

    pub(crate) fn into_kind(self) -> Kind {
        self.kind
    }
}

impl Stream for Body {
    type Item = Frame;

    /// Yields a buffered body as one frame, a streamed body frame by frame. An
    /// arriving request body that fails ends early here: use [`Body::frame`] to see
    /// the error.
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Frame>> {
        match &mut self.kind {
            Kind::Empty => Poll::Ready(None),
            Kind::Full(_) => match std::mem::take(&mut self.kind) {
                Kind::Full(b) => Poll::Ready(Some(Frame::Data(b))),
                _ => Poll::Ready(None),
            },
            Kind::Stream(s) => s.as_mut().poll_next(cx),
            Kind::Incoming { .. } => self.poll_frame(cx).map(|f| f.and_then(Result::ok)),
            Kind::File { .. } => match std::mem::take(&mut self.kind) {
                Kind::File { file, offset, len } => {
                    Poll::Ready(read_region(&file, offset, len).ok().map(Frame::Data))
                }
                _ => Poll::Ready(None),
            },
        }
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Empty => f.write_str("Body::Empty"),
            Kind::Full(b) => f.debug_tuple("Body::Full").field(b).finish(),
            Kind::Stream(_) => f.write_str("Body::Stream"),
            Kind::Incoming { hint, .. } => f
                .debug_struct("Body::Incoming")
                .field("hint", hint)
                .finish(),
            Kind::File { offset, len, .. } => f
                .debug_struct("Body::File")
                .field("offset", offset)
                .field("len", len)
                .finish(),
        }
    }
}

/// Reads a file region into memory (a file body consumed as a stream).
fn read_region(file: &File, offset: u64, len: u64) -> std::io::Result<Bytes> {
    use std::os::unix::fs::FileExt;
    let mut buf = vec![0; usize::try_from(len).map_err(|_| std::io::ErrorKind::OutOfMemory)?];
    file.read_exact_at(&mut buf, offset)?;
    Ok(buf.into())
}

impl From<Bytes> for Body {
    fn from(bytes: Bytes) -> Self {
        Body {
            kind: Kind::Full(bytes),
        }
    }
}

impl From<Vec<u8>> for Body {
    fn from(v: Vec<u8>) -> Self {
        Bytes::from(v).into()
    }
}

impl From<String> for Body {
    fn from(s: String) -> Self {
        Bytes::from(s).into()
    }
}

impl From<&'static str> for Body {
    fn from(s: &'static str) -> Self {
        Bytes::from_static(s.as_bytes()).into()
    }
}

impl From<&'static [u8]> for Body {
    fn from(s: &'static [u8]) -> Self {
        Bytes::from_static(s).into()
    }
}

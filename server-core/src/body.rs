//! The body of a request or a response: bytes in full, or a stream of frames.

use std::fmt;
use std::fs::File;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_lite::{Stream, StreamExt};
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

/// The error a streamed body may fail with.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A boxed stream of frames that may fail: an error aborts the body in the protocol's
/// own way (on HTTP/1.1 the connection closes without the terminating chunk, so the
/// peer sees a truncated body, never a complete-looking one).
pub type FrameStream = Pin<Box<dyn Stream<Item = Result<Frame, BoxError>> + Send + 'static>>;

/// How much of a file is read at a time where it cannot be sent zero-copy.
pub(crate) const FILE_CHUNK: usize = 64 * 1024;

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
    /// stream does. The [`Stream`] trait, the [`stream`](crate::stream) helpers and
    /// [`bytes`](crate::bytes) are re-exported, so no other crate is needed:
    ///
    /// ```
    /// use roadrunner_core::bytes::Bytes;
    /// use roadrunner_core::{stream, Body, Frame, Request, Response, Stream};
    ///
    /// fn lines(n: u32) -> impl Stream<Item = Frame> + Send {
    ///     stream::iter((1..=n).map(|i| Frame::Data(Bytes::from(format!("{i}\n")))))
    /// }
    ///
    /// async fn count(_req: Request) -> Response {
    ///     Response::new(Body::from_stream(lines(3)))
    /// }
    /// ```
    pub fn from_stream(stream: impl Stream<Item = Frame> + Send + 'static) -> Self {
        Self::from_try_stream(stream.map(Ok::<_, BoxError>))
    }

    /// A body sent frame by frame that may fail: an `Err` item aborts the response
    /// (see [`FrameStream`]) instead of ending it as if it were complete.
    pub fn from_try_stream<E>(stream: impl Stream<Item = Result<Frame, E>> + Send + 'static) -> Self
    where
        E: Into<BoxError> + 'static,
    {
        Body {
            kind: Kind::Stream(Box::pin(stream.map(|item| item.map_err(Into::into)))),
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
    /// error instead (cut short, too large, badly framed), and so may a stream that
    /// fails ([`BodyError::Stream`]).
    pub async fn frame(&mut self) -> Option<Result<Frame, BodyError>> {
        let next = std::future::poll_fn(|cx| self.poll_any(cx)).await?;
        Some(next.map_err(|e| match e.downcast::<BodyError>() {
            Ok(e) => *e,
            Err(e) => BodyError::Stream(e.to_string()),
        }))
    }

    /// The next frame of any kind of body; the body is empty after an error.
    pub(crate) fn poll_any(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame, BoxError>>> {
        let next = match &mut self.kind {
            Kind::Empty => None,
            Kind::Full(_) => match std::mem::take(&mut self.kind) {
                Kind::Full(b) => Some(Ok(Frame::Data(b))),
                _ => None,
            },
            Kind::Stream(s) => std::task::ready!(s.as_mut().poll_next(cx)),
            Kind::Incoming { pipe, .. } => match std::task::ready!(pipe.poll_read(cx)) {
                Ok(Piece::Data(data)) => Some(Ok(Frame::Data(data))),
                Ok(Piece::End(trailers)) => {
                    self.kind = Kind::Empty;
                    trailers.map(|t| Ok(Frame::Trailers(t)))
                }
                Err(e) => Some(Err(e.into())),
            },
            Kind::File { file, offset, len } => {
                let n = (*len).min(FILE_CHUNK as u64);
                let read = read_region(file, *offset, n);
                *offset += n;
                *len -= n;
                if *len == 0 {
                    self.kind = Kind::Empty;
                }
                Some(read.map(Frame::Data).map_err(Into::into))
            }
        };
        if matches!(next, Some(Err(_))) {
            self.kind = Kind::Empty;
        }
        Poll::Ready(next)
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

    /// Yields a buffered body as one frame, a streamed body frame by frame, a file in
    /// chunks. A body that fails ends early here: use [`Body::frame`] or the
    /// [`http_body::Body`] implementation to see the error.
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Frame>> {
        self.poll_any(cx).map(|f| f.and_then(Result::ok))
    }
}

/// The ecosystem's body trait (hyper, tower, axum), so a `Body` can be handed to them
/// without copying.
impl http_body::Body for Body {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, BoxError>>> {
        self.poll_any(cx).map(|f| {
            f.map(|r| {
                r.map(|frame| match frame {
                    Frame::Data(data) => http_body::Frame::data(data),
                    Frame::Trailers(t) => http_body::Frame::trailers(t),
                })
            })
        })
    }

    fn is_end_stream(&self) -> bool {
        matches!(self.kind, Kind::Empty)
            || matches!(&self.kind, Kind::Full(b) if b.is_empty())
            || matches!(self.kind, Kind::File { len: 0, .. })
    }

    fn size_hint(&self) -> http_body::SizeHint {
        match self.size_hint() {
            Some(n) => http_body::SizeHint::with_exact(n),
            None => http_body::SizeHint::default(),
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

/// Reads a piece of a file into memory (a file body consumed as a stream).
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

#[cfg(test)]
mod tests {
    use super::*;
    use futures_lite::future::block_on;
    use std::io::Write;

    /// Every frame `http_body::Body` yields, or the error that ended it.
    fn frames(mut body: Body) -> (Vec<http_body::Frame<Bytes>>, Option<BoxError>) {
        let mut out = Vec::new();
        loop {
            let next = block_on(std::future::poll_fn(|cx| {
                http_body::Body::poll_frame(Pin::new(&mut body), cx)
            }));
            match next {
                None => return (out, None),
                Some(Ok(frame)) => out.push(frame),
                Some(Err(e)) => return (out, Some(e)),
            }
        }
    }

    #[test]
    fn http_body_sees_data_trailers_and_errors() {
        let mut t = HeaderMap::new();
        t.insert("x-sum", http::HeaderValue::from_static("1"));
        let items: Vec<Result<Frame, std::io::Error>> = vec![
            Ok(Frame::Data(Bytes::from_static(b"ab"))),
            Ok(Frame::Trailers(t.clone())),
        ];
        let (got, err) = frames(Body::from_try_stream(futures_lite::stream::iter(items)));
        assert!(err.is_none());
        assert_eq!(got[0].data_ref(), Some(&Bytes::from_static(b"ab")));
        assert_eq!(got[1].trailers_ref(), Some(&t));

        let items: Vec<Result<Frame, std::io::Error>> = vec![
            Ok(Frame::Data(Bytes::from_static(b"ab"))),
            Err(std::io::Error::other("gone")),
            Ok(Frame::Data(Bytes::from_static(b"never"))),
        ];
        let (got, err) = frames(Body::from_try_stream(futures_lite::stream::iter(items)));
        assert_eq!(got.len(), 1);
        assert_eq!(err.expect("the error").to_string(), "gone");

        let full = Body::from("hello");
        assert_eq!(http_body::Body::size_hint(&full).exact(), Some(5));
        assert!(!http_body::Body::is_end_stream(&full));
        assert!(http_body::Body::is_end_stream(&Body::empty()));
    }

    #[test]
    fn a_failed_stream_is_an_error_for_frame_too() {
        let items: Vec<Result<Frame, std::io::Error>> = vec![Err(std::io::Error::other("gone"))];
        let mut body = Body::from_try_stream(futures_lite::stream::iter(items));
        match block_on(body.frame()) {
            Some(Err(BodyError::Stream(reason))) => assert_eq!(reason, "gone"),
            other => panic!("{other:?}"),
        }
        assert!(
            block_on(body.frame()).is_none(),
            "the body ends after its error"
        );
    }

    #[test]
    fn a_file_body_is_read_in_bounded_chunks() {
        let len = 2 * FILE_CHUNK + 123;
        let bytes: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let path = std::env::temp_dir().join(format!("rr-body-{}", std::process::id()));
        let mut f = File::create(&path).expect("create");
        f.write_all(&bytes).expect("write");
        drop(f);
        let file = File::open(&path).expect("open");
        std::fs::remove_file(&path).expect("unlink");
        let body = Body::file(file, 7, (len - 7) as u64);
        let (got, err) = frames(body);
        assert!(err.is_none());
        let sizes: Vec<usize> = got
            .iter()
            .map(|f| f.data_ref().map_or(0, Bytes::len))
            .collect();
        assert_eq!(sizes, [FILE_CHUNK, FILE_CHUNK, 123 - 7]);
        let all: Vec<u8> = got
            .iter()
            .flat_map(|f| f.data_ref().cloned().unwrap_or_default())
            .collect();
        assert_eq!(all, bytes[7..]);
    }
}

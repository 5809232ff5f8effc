//! The bounded pipes between an upgraded session and its connection's driver, one per
//! direction.
//!
//! Bytes cross them without copies where the two sides allow it: the session takes
//! what came in as one [`BytesMut`] (a WebSocket codec parses and unmasks it in place
//! and hands a binary payload on as a slice of it), and gives a frame's payload as
//! [`Bytes`] after its header, which the driver writes out together with one vectored
//! write.

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use bytes::{Buf, Bytes, BytesMut};

/// Bytes a pipe holds at most in each direction.
pub(crate) const PIPE_CAPACITY: usize = 64 * 1024;

/// A payload at most this long is copied in behind its header rather than queued as
/// a segment of its own: a copy costs less than a segment and an iovec more.
const COPY_MAX: usize = 512;

/// When the copy buffer runs out of room it grows by at least this much. A session
/// takes all that is buffered at each read, so the buffer's room is its next reads':
/// without a floor, small messages would cost an allocation each.
const GROW_MIN: usize = 4 * 1024;

/// The most slices one vectored write gets.
const MAX_SLICES: usize = 32;

#[derive(Default)]
struct State {
    /// Segments handed over whole ([`Pipe::poll_put_parts`]), ahead of `buf`.
    segments: VecDeque<Bytes>,
    /// Bytes in `segments`.
    segmented: usize,
    /// Bytes copied in, after those of `segments`.
    buf: BytesMut,
    /// The writing side is done: the reader sees the end once nothing is buffered.
    closed: bool,
    /// The reading side is gone: writes fail.
    broken: bool,
    /// The waker the driver polls the session with, when it serves its end of this
    /// pipe after every poll of the session (see [`Pipe::served_after_session`]).
    session: Option<Waker>,
    /// The room the driver's next read gets ([`Pipe::poll_fill`]): doubled each time
    /// a read fills it, so a peer sending large frames has each read in one go, while
    /// one sending small messages costs a small buffer.
    read_size: usize,
    reader: Option<Waker>,
    writer: Option<Waker>,
}

impl State {
    fn len(&self) -> usize {
        self.segmented + self.buf.len()
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn room(&self) -> usize {
        PIPE_CAPACITY.saturating_sub(self.len())
    }

    fn copy_in(&mut self, data: &[u8]) {
        if self.buf.capacity() - self.buf.len() < data.len() {
            self.buf.reserve(data.len().max(GROW_MIN));
        }
        self.buf.extend_from_slice(data);
    }

    /// The first run of contiguous buffered bytes.
    fn front(&self) -> &[u8] {
        self.segments.front().map_or(&self.buf[..], |s| &s[..])
    }

    /// What a reader gets with nothing buffered: the end once the writer is done,
    /// else a wait for `waker`; `None` with bytes to read.
    fn poll_nothing(&mut self, waker: &Waker) -> Option<Poll<Option<()>>> {
        if !self.is_empty() {
            return None;
        }
        if self.closed {
            return Some(Poll::Ready(None));
        }
        register(&mut self.reader, waker);
        Some(Poll::Pending)
    }

    /// Drops the first `n` buffered bytes (`n` at most [`len`](Self::len)).
    fn consume(&mut self, mut n: usize) {
        while let Some(front) = self.segments.front_mut() {
            if n < front.len() {
                front.advance(n);
                self.segmented -= n;
                return;
            }
            n -= front.len();
            self.segmented -= front.len();
            self.segments.pop_front();
        }
        self.buf.advance(n);
        if self.buf.is_empty() && self.buf.capacity() > PIPE_CAPACITY {
            self.buf = BytesMut::new();
        }
    }
}

/// Registers `waker` in `slot`, unless the one there already wakes the same task (a
/// session waits on its pipe at every message: no clone for it).
fn register(slot: &mut Option<Waker>, waker: &Waker) {
    if !slot.as_ref().is_some_and(|w| w.will_wake(waker)) {
        *slot = Some(waker.clone());
    }
}

/// Wakes the session's side, registered in `slot`, from the driver's: not when it is
/// the `session` the driver polls itself, which it polls again before it waits. A
/// wake-up there would only poll the whole connection once more.
fn wake_session(slot: &mut Option<Waker>, session: Option<&Waker>) {
    if slot
        .as_ref()
        .zip(session)
        .is_some_and(|(w, session)| w.will_wake(session))
    {
        return;
    }
    if let Some(w) = slot.take() {
        w.wake();
    }
}

/// Wakes the driver's side, registered in `slot`, after the session made progress
/// from `cx`: not when `cx` is that of the `session` the driver polls itself, since
/// the driver serves the pipe after each such poll.
fn wake_driver(slot: &mut Option<Waker>, session: Option<&Waker>, cx: &Context<'_>) {
    if session.is_some_and(|session| session.will_wake(cx.waker())) {
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

    /// A pipe holding `early` already.
    pub(crate) fn with(early: &[u8]) -> Self {
        let pipe = Pipe::default();
        if !early.is_empty() {
            pipe.lock().copy_in(early);
        }
        pipe
    }

    /// Writer: copies in as much of `data` as fits.
    pub(crate) fn poll_put(&self, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let mut s = self.lock();
        if s.broken || s.closed {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        let room = s.room();
        if room == 0 {
            register(&mut s.writer, cx.waker());
            return Poll::Pending;
        }
        let n = room.min(data.len());
        s.copy_in(&data[..n]);
        let State {
            reader, session, ..
        } = &mut *s;
        wake_driver(reader, session.as_ref(), cx);
        Poll::Ready(Ok(n))
    }

    /// Writer: as much as fits of `head` then `body` (a frame's header and payload),
    /// from `from` bytes into them; how many bytes it took. What it takes of a long
    /// payload is queued as it is, a slice of `body`, not copied.
    pub(crate) fn poll_put_parts(
        &self,
        cx: &mut Context<'_>,
        head: &[u8],
        body: &Bytes,
        from: usize,
    ) -> Poll<io::Result<usize>> {
        let mut s = self.lock();
        if s.broken || s.closed {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        let room = s.room();
        if room == 0 {
            register(&mut s.writer, cx.waker());
            return Poll::Pending;
        }
        let end = (head.len() + body.len()).min(from.saturating_add(room));
        let mut at = from;
        if at < head.len() {
            let stop = end.min(head.len());
            s.copy_in(&head[at..stop]);
            at = stop;
        }
        if at < end {
            let part = at - head.len()..end - head.len();
            if part.len() <= COPY_MAX {
                s.copy_in(&body[part]);
            } else {
                if !s.buf.is_empty() {
                    let copied = s.buf.split().freeze();
                    s.segmented += copied.len();
                    s.segments.push_back(copied);
                }
                s.segmented += part.len();
                s.segments.push_back(body.slice(part));
            }
        }
        let State {
            reader, session, ..
        } = &mut *s;
        wake_driver(reader, session.as_ref(), cx);
        Poll::Ready(Ok(end.saturating_sub(from)))
    }

    /// Reader: takes what is buffered into `out`; `Ok(0)` at the end.
    pub(crate) fn poll_take(
        &self,
        cx: &mut Context<'_>,
        out: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let mut s = self.lock();
        if s.is_empty() {
            if s.closed || out.is_empty() {
                return Poll::Ready(Ok(0));
            }
            register(&mut s.reader, cx.waker());
            return Poll::Pending;
        }
        let mut n = 0;
        while n < out.len() && !s.is_empty() {
            let front = s.front();
            let k = front.len().min(out.len() - n);
            out[n..n + k].copy_from_slice(&front[..k]);
            s.consume(k);
            n += k;
        }
        let State {
            writer, session, ..
        } = &mut *s;
        wake_driver(writer, session.as_ref(), cx);
        Poll::Ready(Ok(n))
    }

    /// Reader: takes everything buffered, in one piece when it was copied in (as the
    /// driver's reads are); `None` at the end.
    pub(crate) fn poll_take_all(&self, cx: &mut Context<'_>) -> Poll<Option<BytesMut>> {
        let mut s = self.lock();
        if s.is_empty() {
            if s.closed {
                return Poll::Ready(None);
            }
            register(&mut s.reader, cx.waker());
            return Poll::Pending;
        }
        let taken = match s.segments.pop_front() {
            Some(segment) => {
                s.segmented -= segment.len();
                BytesMut::from(&segment[..])
            }
            None => s.buf.split(),
        };
        let State {
            writer, session, ..
        } = &mut *s;
        wake_driver(writer, session.as_ref(), cx);
        Poll::Ready(Some(taken))
    }

    /// Room left for the writer; registers it to be woken when there is none.
    pub(crate) fn poll_room(&self, cx: &mut Context<'_>) -> Poll<usize> {
        let mut s = self.lock();
        let room = s.room();
        if room == 0 {
            register(&mut s.writer, cx.waker());
            return Poll::Pending;
        }
        Poll::Ready(room)
    }

    /// Reader: runs `f` on the buffered bytes, as slices in order (as many as one
    /// vectored write takes), and drops the first `f` returns. `Ready(None)` at the
    /// end, `Pending` with nothing buffered.
    pub(crate) fn poll_peek_vectored(
        &self,
        waker: &Waker,
        f: impl FnOnce(&[IoSlice<'_>]) -> usize,
    ) -> Poll<Option<()>> {
        let mut s = self.lock();
        if let Some(nothing) = s.poll_nothing(waker) {
            return nothing;
        }
        let n = if s.segments.is_empty() {
            // Short frames only, copied whole: one slice, no array of them to fill.
            f(&[IoSlice::new(&s.buf)]).min(s.buf.len())
        } else {
            let mut slices = [IoSlice::new(&[]); MAX_SLICES];
            let mut count = 0;
            let mut offered = 0;
            for part in s.segments.iter().map(|b| &b[..]).chain([&s.buf[..]]) {
                if count == MAX_SLICES {
                    break;
                }
                if !part.is_empty() {
                    slices[count] = IoSlice::new(part);
                    count += 1;
                    offered += part.len();
                }
            }
            f(&slices[..count]).min(offered)
        };
        s.consume(n);
        // Only room made is worth a wake-up: a writer woken for nothing would poll,
        // find the pipe full and wait again, forever if it shares the reader's task.
        if n > 0 {
            if let Some(w) = s.writer.take() {
                w.wake();
            }
        }
        Poll::Ready(Some(()))
    }

    /// Reader: offers the first buffered bytes to `f` as one `Bytes`, without a copy
    /// (a segment as it was put, or what was copied in), and drops them if `f` takes
    /// them (returns `true`). `Ready(None)` at the end, `Pending` with nothing buffered.
    pub(crate) fn poll_take_bytes(
        &self,
        waker: &Waker,
        f: impl FnOnce(Bytes) -> bool,
    ) -> Poll<Option<()>> {
        let mut s = self.lock();
        if let Some(nothing) = s.poll_nothing(waker) {
            return nothing;
        }
        let front = match s.segments.pop_front() {
            Some(segment) => {
                s.segmented -= segment.len();
                segment
            }
            None => s.buf.split().freeze(),
        };
        if !f(front.clone()) {
            // Kept, as a segment: it stays ahead of anything copied in after it.
            s.segmented += front.len();
            s.segments.push_front(front);
            return Poll::Ready(Some(()));
        }
        if let Some(w) = s.writer.take() {
            w.wake();
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
        s.copy_in(data);
        if let Some(w) = s.reader.take() {
            w.wake();
        }
    }

    /// Writer: reads bytes in with `read` (given the buffer to append to and how much
    /// it may take, which the buffer has room for) once the pipe has room. The driver
    /// calls it from its task, which polls the session again before it waits: the
    /// session is woken only if it reads from another task. `Pending` when the pipe is
    /// full, or when `read` is.
    pub(crate) fn poll_fill(
        &self,
        cx: &mut Context<'_>,
        read: impl FnOnce(&mut Context<'_>, &mut BytesMut, usize) -> Poll<io::Result<usize>>,
    ) -> Poll<io::Result<usize>> {
        let mut s = self.lock();
        let room = s.room();
        if room == 0 {
            register(&mut s.writer, cx.waker());
            return Poll::Pending;
        }
        let want = s.read_size.max(GROW_MIN).min(room);
        let spare = s.buf.capacity() - s.buf.len();
        // Growing a buffer that holds bytes may move them: only an empty one grows
        // for a full read, a nearly full one for any.
        if spare < want && (s.buf.is_empty() || spare < GROW_MIN) {
            s.buf.reserve(want);
        }
        let max = want.min(s.buf.capacity() - s.buf.len());
        let n = std::task::ready!(read(cx, &mut s.buf, max))?;
        if n == want {
            s.read_size = (want * 2).min(PIPE_CAPACITY);
        }
        if n > 0 {
            let State {
                reader, session, ..
            } = &mut *s;
            wake_session(reader, session.as_ref());
        }
        Poll::Ready(Ok(n))
    }

    /// The driver polls the session with `session` and serves its end of this pipe
    /// after every such poll: the session's reads and writes under that waker then
    /// wake no one, as the driver is about to look anyway, and bytes the driver puts
    /// in do not wake it either, as the driver polls it again.
    pub(crate) fn served_after_session(&self, session: &Waker) {
        self.lock().session = Some(session.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cx() -> Context<'static> {
        Context::from_waker(Waker::noop())
    }

    /// Everything the pipe hands out, slice by slice, consumed.
    fn drain(pipe: &Pipe) -> Vec<Vec<u8>> {
        let mut got = Vec::new();
        let _ = pipe.poll_peek_vectored(Waker::noop(), |slices| {
            got = slices.iter().map(|s| s.to_vec()).collect();
            slices.iter().map(|s| s.len()).sum()
        });
        got
    }

    #[test]
    fn bytes_are_taken_whole_without_a_copy_or_kept_in_order() {
        let pipe = Pipe::default();
        let body = Bytes::from(vec![7u8; COPY_MAX + 1]);
        let head = [0x82, 126, 2, 1];
        let put = pipe.poll_put_parts(&mut cx(), &head, &body, 0);
        assert!(matches!(put, Poll::Ready(Ok(n)) if n == head.len() + body.len()));
        assert!(matches!(
            pipe.poll_put(&mut cx(), b"tail"),
            Poll::Ready(Ok(4))
        ));
        let mut offered = Vec::new();
        let mut take = |refuse: bool| {
            let _ = pipe.poll_take_bytes(Waker::noop(), |b| {
                offered.push(b);
                !refuse
            });
        };
        take(false);
        take(true);
        take(false);
        take(false);
        take(false);
        let got: Vec<&[u8]> = offered.iter().map(|b| &b[..]).collect();
        assert_eq!(got, [&head[..], &body[..], &body[..], b"tail"]);
        assert_eq!(offered[1].as_ptr(), body.as_ptr(), "the payload itself");
        assert_eq!(
            offered[2].as_ptr(),
            body.as_ptr(),
            "offered again, not copied"
        );
        assert!(pipe.poll_take_bytes(Waker::noop(), |_| true).is_pending());
        pipe.close();
        assert_eq!(
            pipe.poll_take_bytes(Waker::noop(), |_| true),
            Poll::Ready(None)
        );
    }

    #[test]
    fn a_long_payload_goes_out_after_its_header_without_a_copy() {
        let pipe = Pipe::default();
        let body = Bytes::from(vec![7u8; COPY_MAX + 1]);
        let head = [0x82, 126, 2, 1];
        let put = pipe.poll_put_parts(&mut cx(), &head, &body, 0);
        assert!(matches!(put, Poll::Ready(Ok(n)) if n == head.len() + body.len()));
        let mut seen = Vec::new();
        let _ = pipe.poll_peek_vectored(Waker::noop(), |slices| {
            seen = slices.iter().map(|s| (s.as_ptr(), s.len())).collect();
            0
        });
        assert_eq!(seen.len(), 2, "the header, then the payload");
        assert_eq!(seen[1], (body.as_ptr(), body.len()), "the payload itself");
        assert_eq!(drain(&pipe), [head.to_vec(), body.to_vec()]);
    }

    #[test]
    fn a_short_payload_is_copied_behind_its_header() {
        let pipe = Pipe::default();
        let put = pipe.poll_put_parts(&mut cx(), &[0x82, 3], &Bytes::from_static(b"abc"), 0);
        assert!(matches!(put, Poll::Ready(Ok(5))));
        assert_eq!(drain(&pipe), [b"\x82\x03abc".to_vec()]);
    }

    #[test]
    fn a_frame_past_the_room_is_taken_in_parts_and_in_order() {
        let pipe = Pipe::default();
        assert!(matches!(
            pipe.poll_put(&mut cx(), b"first"),
            Poll::Ready(Ok(5))
        ));
        let body = Bytes::from(
            (0..PIPE_CAPACITY + 100)
                .map(|i| i as u8)
                .collect::<Vec<_>>(),
        );
        let head = [0x82, 127, 0, 0, 0, 0, 0, 1, 0, 100];
        let mut wire = Vec::new();
        let mut from = 0;
        while from < head.len() + body.len() {
            match pipe.poll_put_parts(&mut cx(), &head, &body, from) {
                Poll::Ready(Ok(n)) => from += n,
                Poll::Ready(Err(e)) => panic!("{e}"),
                Poll::Pending => {
                    assert!(pipe.lock().len() >= PIPE_CAPACITY, "waits only when full");
                    wire.extend(drain(&pipe).concat());
                }
            }
            assert!(pipe.lock().len() <= PIPE_CAPACITY);
        }
        wire.extend(drain(&pipe).concat());
        let mut want = b"first".to_vec();
        want.extend_from_slice(&head);
        want.extend_from_slice(&body);
        assert!(wire == want, "the bytes differ");
    }

    #[test]
    fn copying_reads_cross_segments_in_order() {
        let pipe = Pipe::default();
        let body = Bytes::from(vec![1u8; COPY_MAX * 2]);
        let _ = pipe.poll_put(&mut cx(), b"ab");
        let _ = pipe.poll_put_parts(&mut cx(), b"cd", &body, 0);
        let _ = pipe.poll_put(&mut cx(), b"ef");
        let mut got = Vec::new();
        let mut buf = [0; 7];
        while let Poll::Ready(Ok(n @ 1..)) = pipe.poll_take(&mut cx(), &mut buf) {
            got.extend_from_slice(&buf[..n]);
        }
        let mut want = b"abcd".to_vec();
        want.extend_from_slice(&body);
        want.extend_from_slice(b"ef");
        assert_eq!(got, want);
    }

    /// Fills the pipe with one read of `n` bytes (of at most what it is offered);
    /// returns what it was offered.
    fn fill(pipe: &Pipe, n: usize) -> usize {
        let mut offered = 0;
        let read = pipe.poll_fill(&mut cx(), |_, buf, max| {
            offered = max;
            assert!(buf.capacity() - buf.len() >= max, "room for the read");
            buf.extend_from_slice(&vec![1; n.min(max)]);
            Poll::Ready(Ok(n.min(max)))
        });
        assert!(matches!(read, Poll::Ready(Ok(_))));
        offered
    }

    #[test]
    fn reads_grow_while_they_come_back_full() {
        let pipe = Pipe::default();
        let mut offers = Vec::new();
        for _ in 0..6 {
            offers.push(fill(&pipe, usize::MAX));
            assert!(matches!(
                pipe.poll_take_all(&mut cx()),
                Poll::Ready(Some(_))
            ));
        }
        assert_eq!(offers, [4096, 8192, 16384, 32768, 65536, 65536]);
        let pipe = Pipe::default();
        let offers: Vec<usize> = (0..3).map(|_| fill(&pipe, 20)).collect();
        assert_eq!(offers, [4096; 3], "short reads keep it small");
    }

    #[test]
    fn a_session_takes_what_was_copied_in_as_one_piece() {
        let pipe = Pipe::with(b"early ");
        pipe.put(b"and late");
        let Poll::Ready(Some(taken)) = pipe.poll_take_all(&mut cx()) else {
            panic!("nothing taken");
        };
        assert_eq!(&taken[..], b"early and late");
        assert!(pipe.poll_take_all(&mut cx()).is_pending());
        pipe.close();
        assert_eq!(pipe.poll_take_all(&mut cx()), Poll::Ready(None));
    }
}

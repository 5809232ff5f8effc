//! The retry loop shared by every non-blocking operation an adapter performs outside
//! its runtime's own I/O types (sendfile, batched UDP).

use std::io;
use std::task::{ready, Context, Poll};

/// Runs `op` until it does not say `WouldBlock`, waiting on `poll_ready` in between.
///
/// `op` tries the operation once; it must return `WouldBlock` without side effects when
/// the socket is not ready, and clear any readiness the runtime cached (tokio's
/// `try_io` does both). `poll_ready` waits for the matching readiness; a runtime that
/// reports readiness only after an event since the last poll (async-io) is fine too,
/// because `op` is always tried first.
pub fn poll_io<T>(
    cx: &mut Context<'_>,
    mut poll_ready: impl FnMut(&mut Context<'_>) -> Poll<io::Result<()>>,
    mut op: impl FnMut() -> io::Result<T>,
) -> Poll<io::Result<T>> {
    loop {
        match op() {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => ready!(poll_ready(cx))?,
            done => return Poll::Ready(done),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Waker;

    #[test]
    fn retries_after_readiness_and_stops_when_not_ready() {
        let mut cx = Context::from_waker(Waker::noop());
        let mut tries = 0;
        let mut ready_polls = 0;
        let mut poll_ready = |_: &mut Context<'_>| {
            ready_polls += 1;
            if ready_polls == 1 {
                Poll::Ready(Ok(()))
            } else {
                Poll::Pending
            }
        };
        let mut op = || {
            tries += 1;
            Err::<(), _>(io::ErrorKind::WouldBlock.into())
        };
        assert!(poll_io(&mut cx, &mut poll_ready, &mut op).is_pending());
        assert_eq!((tries, ready_polls), (2, 2));

        let mut left = 1;
        let done = poll_io(
            &mut cx,
            |_| Poll::Ready(Ok(())),
            || match left {
                0 => Ok(7),
                _ => {
                    left -= 1;
                    Err(io::ErrorKind::WouldBlock.into())
                }
            },
        );
        assert!(matches!(done, Poll::Ready(Ok(7))));
    }

    #[test]
    fn other_errors_end_the_loop() {
        let mut cx = Context::from_waker(Waker::noop());
        let done = poll_io(
            &mut cx,
            |_| unreachable!("not waited on"),
            || Err::<(), _>(io::ErrorKind::BrokenPipe.into()),
        );
        assert!(matches!(done, Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::BrokenPipe));
    }
}

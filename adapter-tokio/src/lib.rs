//! Runs roadrunner on tokio.
//!
//! ```no_run
//! use roadrunner_core::{Options, Request, Routes};
//!
//! #[tokio::main]
//! async fn main() {
//!     let routes = Routes::handler(|_req: Request| async { "Hello, world!" });
//!     // Port 8080 on every interface (0.0.0.0); set `opts.ip` to bind one address.
//!     let listener = roadrunner_tokio::start("web", Options::new(8080, routes)).unwrap();
//!     println!("listening on port {}", listener.port());
//!     tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
//!     listener.stop().await;
//! }
//! ```
//!
//! To drain on SIGTERM or SIGINT (what a deploy or Ctrl-C sends), await
//! [`Listener::drain_on_signal`](roadrunner_core::Listener::drain_on_signal), or
//! [`roadrunner_core::shutdown_signal`] and then `drain`: both are in the core and run
//! on any executor.
//!
//! With `http3` in `opts.protocols` (it needs `opts.tls`), the listener also serves
//! HTTP/3 on the UDP port with the TCP port's number, on `http3.listeners` sockets
//! bound with `SO_REUSEPORT` ([`UdpSocket`]: batched, with segment offload and ECN,
//! through quinn-udp), and HTTP/1.1 and HTTP/2 responses advertise it (`alt-svc`).

#![warn(missing_docs)]

use std::fs::File;
use std::future::Future;
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use roadrunner_core::bytes::{BufMut, BytesMut};
use roadrunner_core::runtime::{poll_io, sendfile, Acceptor, ByteStream, Runtime, Timer};
use roadrunner_core::{Listener, Options, StartError};
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Handle;

pub use roadrunner_core as core;
pub use udp::UdpSocket;

mod udp;

/// Starts a listener on the current tokio runtime; outside one it fails with
/// `StartError::Runtime` (use [`start_on`] with a runtime's handle instead).
///
/// The server runs for as long as the returned [`Listener`] is kept: dropping it
/// closes the port at once. So a bare `start(..).unwrap();` is refused by the
/// `unused_must_use` lint (a warning by default, an error here):
///
/// ```compile_fail
/// #![deny(unused_must_use)]
/// use roadrunner_core::{Options, Request, Routes};
///
/// #[tokio::main]
/// async fn main() {
///     let routes = Routes::handler(|_req: Request| async { "Hello, world!" });
///     roadrunner_tokio::start("web", Options::new(8080, routes)).unwrap();
/// }
/// ```
///
/// while binding it compiles and serves until the end of `main`:
///
/// ```no_run
/// #![deny(unused_must_use)]
/// use roadrunner_core::{Options, Request, Routes};
///
/// #[tokio::main]
/// async fn main() {
///     let routes = Routes::handler(|_req: Request| async { "Hello, world!" });
///     let _listener = roadrunner_tokio::start("web", Options::new(8080, routes)).unwrap();
///     roadrunner_core::shutdown_signal().unwrap().await;
/// }
/// ```
#[must_use = "dropping the Listener stops the server at once: bind it (`let listener = ...`) and keep it while the server should run"]
pub fn start(name: &str, opts: Options) -> Result<Listener, StartError> {
    let handle = Handle::try_current().map_err(|e| StartError::Runtime(io::Error::other(e)))?;
    start_on(handle, name, opts)
}

/// Starts a listener whose tasks run on `handle`'s runtime (see [`start`] on keeping
/// the returned [`Listener`]).
#[must_use = "dropping the Listener stops the server at once: bind it (`let listener = ...`) and keep it while the server should run"]
pub fn start_on(handle: Handle, name: &str, opts: Options) -> Result<Listener, StartError> {
    check_drivers(&handle)?;
    let rt = Tokio(handle.clone());
    Listener::start_with_datagrams(name, opts, rt, |opts| {
        let bound = roadrunner_core::bind(opts)?;
        let _guard = handle.enter();
        let udp = bound
            .udp
            .into_iter()
            .map(UdpSocket::new)
            .collect::<io::Result<_>>()?;
        Ok((
            Tcp {
                listener: TcpListener::from_std(bound.tcp)?,
            },
            udp,
        ))
    })
}

/// Refuses a runtime built without its timer or IO driver. tokio panics where such a
/// runtime is first used for them, which for timers is the first connection, long
/// after `start` would have returned `Ok`; it offers no way to ask, so each driver is
/// tried once here.
fn check_drivers(handle: &Handle) -> Result<(), StartError> {
    let _entered = handle.enter();
    let missing = |driver: &str, call: &str| {
        StartError::Runtime(io::Error::other(format!(
            "the tokio runtime has no {driver} driver: build it with `{call}` (or `enable_all()`)"
        )))
    };
    if catch_unwind(|| drop(tokio::time::sleep(Duration::ZERO))).is_err() {
        return Err(missing("timer", "enable_time()"));
    }
    let (probe, _peer) = std::os::unix::net::UnixDatagram::pair().map_err(StartError::Runtime)?;
    probe.set_nonblocking(true).map_err(StartError::Runtime)?;
    if catch_unwind(AssertUnwindSafe(|| {
        tokio::net::UnixDatagram::from_std(probe)
    }))
    .is_err()
    {
        return Err(missing("IO", "enable_io()"));
    }
    Ok(())
}

/// The tokio runtime seen through the core's [`Runtime`] trait.
#[derive(Clone)]
struct Tokio(Handle);

impl Runtime for Tokio {
    type Timer = Sleep;

    fn spawn<F>(&self, fut: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.0.spawn(fut);
    }

    fn timer(&self, deadline: Instant) -> Sleep {
        // A timer may be made off the runtime's threads (`drain` awaited from any
        // thread); entering the handle ties it to this runtime's clock.
        let _runtime = self.0.enter();
        Sleep(Box::pin(tokio::time::sleep_until(deadline.into())))
    }

    fn now(&self) -> Instant {
        // tokio's clock, which a test may pause and advance.
        tokio::time::Instant::now().into_std()
    }
}

/// A boxed tokio sleep, so that it is `Unpin` and can be reset in place.
struct Sleep(Pin<Box<tokio::time::Sleep>>);

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.0.as_mut().poll(cx)
    }
}

impl Timer for Sleep {
    fn reset(&mut self, deadline: Instant) {
        self.0.as_mut().reset(deadline.into());
    }
}

/// A listening socket.
struct Tcp {
    listener: TcpListener,
}

impl Acceptor for Tcp {
    type Stream = Conn;

    async fn accept(&self) -> io::Result<(Conn, SocketAddr)> {
        let (stream, peer) = self.listener.accept().await?;
        // Responses are written whole; waiting to coalesce them only adds latency.
        let _ = stream.set_nodelay(true);
        Ok((Conn(stream), peer))
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }
}

/// An accepted connection.
struct Conn(TcpStream);

impl ByteStream for Conn {
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let mut rb = ReadBuf::new(buf);
        Pin::new(&mut self.0)
            .poll_read(cx, &mut rb)
            .map_ok(|()| rb.filled().len())
    }

    fn poll_read_into(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut BytesMut,
        max: usize,
    ) -> Poll<io::Result<usize>> {
        // tokio's own read: a short read tells it the socket is drained, so the next
        // one waits for readiness instead of trying the socket again.
        tokio_util::io::poll_read_buf(Pin::new(&mut self.0), cx, &mut (&mut *buf).limit(max))
    }

    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }

    fn poll_sendfile(
        &mut self,
        cx: &mut Context<'_>,
        file: &File,
        offset: u64,
        len: u64,
    ) -> Poll<io::Result<usize>> {
        let socket = self.0.as_fd();
        poll_io(
            cx,
            |cx| self.0.poll_write_ready(cx),
            || {
                self.0
                    .try_io(Interest::WRITABLE, || sendfile(socket, file, offset, len))
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use roadrunner_core::{Request, Routes};

    #[test]
    fn a_runtime_without_timers_or_io_is_refused_at_start() {
        let no_timers = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_io()
            .build()
            .expect("runtime");
        let no_io = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("runtime");
        for (rt, call) in [(no_timers, "enable_time()"), (no_io, "enable_io()")] {
            let opts = Options::new(0, Routes::handler(|_req: Request| async { "ok" }));
            match start_on(rt.handle().clone(), "drivers-missing", opts) {
                Err(StartError::Runtime(e)) => assert!(e.to_string().contains(call), "{e}"),
                other => panic!("{call}: {other:?}"),
            }
        }
        let all = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let opts = Options::new(0, Routes::handler(|_req: Request| async { "ok" }));
        let listener = start_on(all.handle().clone(), "drivers-present", opts);
        assert!(listener.is_ok(), "{listener:?}");
    }

    #[test]
    fn start_outside_a_runtime_is_an_error_not_a_panic() {
        let opts = Options::new(0, Routes::handler(|_req: Request| async { "ok" }));
        assert!(matches!(
            start("outside-a-runtime", opts),
            Err(StartError::Runtime(_))
        ));
    }
}

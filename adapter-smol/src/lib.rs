//! Runs roadrunner on smol, on a multi-threaded executor.
//!
//! ```no_run
//! use roadrunner_core::{Options, Request, Routes};
//!
//! let routes = Routes::handler(|_req: Request| async { "Hello, world!" });
//! // Port 8080 on every interface (0.0.0.0); set `opts.ip` to bind one address.
//! let listener = roadrunner_smol::start("web", Options::new(8080, routes)).unwrap();
//! println!("listening on port {}", listener.port());
//! smol::block_on(smol::Timer::after(std::time::Duration::from_secs(60)));
//! smol::block_on(listener.stop());
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
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{ready, Context, Poll};
use std::time::Instant;

use roadrunner_core::bytes::BytesMut;
use roadrunner_core::runtime::{
    poll_io, recv_into, sendfile, Acceptor, ByteStream, Runtime, Timer,
};
use roadrunner_core::{Listener, Options, StartError};
use smol::io::{AsyncRead, AsyncWrite};
use smol::{Async, Executor};

pub use roadrunner_core as core;
pub use udp::UdpSocket;

mod udp;

/// Starts a listener on a shared executor with one worker thread per core (made on
/// first use).
///
/// The server runs for as long as the returned [`Listener`] is kept: dropping it
/// closes the port at once. So a bare `start(..).unwrap();` is refused by the
/// `unused_must_use` lint (a warning by default, an error here):
///
/// ```compile_fail
/// #![deny(unused_must_use)]
/// use roadrunner_core::{Options, Request, Routes};
///
/// let routes = Routes::handler(|_req: Request| async { "Hello, world!" });
/// roadrunner_smol::start("web", Options::new(8080, routes)).unwrap();
/// ```
///
/// while binding it compiles and serves until it is dropped:
///
/// ```no_run
/// #![deny(unused_must_use)]
/// use roadrunner_core::{Options, Request, Routes};
///
/// let routes = Routes::handler(|_req: Request| async { "Hello, world!" });
/// let _listener = roadrunner_smol::start("web", Options::new(8080, routes)).unwrap();
/// smol::block_on(roadrunner_core::shutdown_signal().unwrap());
/// ```
#[must_use = "dropping the Listener stops the server at once: bind it (`let listener = ...`) and keep it while the server should run"]
pub fn start(name: &str, opts: Options) -> Result<Listener, StartError> {
    let executor = default_executor().map_err(StartError::Runtime)?;
    start_on(executor, name, opts)
}

/// Starts a listener on `executor`; the caller runs that executor on its own threads
/// (see [`start`] on keeping the returned [`Listener`]).
#[must_use = "dropping the Listener stops the server at once: bind it (`let listener = ...`) and keep it while the server should run"]
pub fn start_on(
    executor: Arc<Executor<'static>>,
    name: &str,
    opts: Options,
) -> Result<Listener, StartError> {
    Listener::start_with_datagrams(name, opts, Smol(executor), |opts| {
        let bound = roadrunner_core::bind(opts)?;
        let udp = bound
            .udp
            .into_iter()
            .map(UdpSocket::new)
            .collect::<io::Result<_>>()?;
        Ok((
            Tcp {
                listener: Async::new(bound.tcp)?,
            },
            udp,
        ))
    })
}

/// An executor run by `threads` threads of its own, which live as long as the process.
pub fn spawn_executor(threads: usize) -> io::Result<Arc<Executor<'static>>> {
    let ex = Arc::new(Executor::new());
    for i in 0..threads.max(1) {
        let ex = ex.clone();
        std::thread::Builder::new()
            .name(format!("roadrunner-smol-{i}"))
            .spawn(move || smol::block_on(ex.run(std::future::pending::<()>())))?;
    }
    Ok(ex)
}

/// The shared executor, one thread per core, made on first use.
fn default_executor() -> io::Result<Arc<Executor<'static>>> {
    static EXECUTOR: Mutex<Option<Arc<Executor<'static>>>> = Mutex::new(None);
    let mut slot = EXECUTOR.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(ex) = &*slot {
        return Ok(ex.clone());
    }
    let ex = spawn_executor(std::thread::available_parallelism().map_or(1, |n| n.get()))?;
    *slot = Some(ex.clone());
    Ok(ex)
}

/// A smol executor seen through the core's [`Runtime`] trait.
#[derive(Clone)]
struct Smol(Arc<Executor<'static>>);

impl Runtime for Smol {
    type Timer = SmolTimer;

    fn spawn<F>(&self, fut: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.0.spawn(fut).detach();
    }

    fn timer(&self, deadline: Instant) -> SmolTimer {
        SmolTimer(smol::Timer::at(deadline))
    }
}

/// smol's timer, which is already `Unpin` and resettable.
struct SmolTimer(smol::Timer);

impl Future for SmolTimer {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.0).poll(cx).map(|_| ())
    }
}

impl Timer for SmolTimer {
    fn reset(&mut self, deadline: Instant) {
        self.0.set_at(deadline);
    }
}

/// A listening socket registered with smol's reactor.
struct Tcp {
    listener: Async<TcpListener>,
}

impl Acceptor for Tcp {
    type Stream = Conn;

    async fn accept(&self) -> io::Result<(Conn, SocketAddr)> {
        // `Async::accept` waits through `readable()`, which keeps one waiter per task;
        // `poll_readable` keeps a single waker, which the pool's tasks would keep
        // stealing from each other in a busy loop.
        let (stream, peer) = self.listener.accept().await?;
        // Responses are written whole; waiting to coalesce them only adds latency.
        let _ = stream.get_ref().set_nodelay(true);
        Ok((
            Conn {
                io: stream,
                peer_turn: false,
            },
            peer,
        ))
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.get_ref().local_addr()
    }
}

/// An accepted connection.
struct Conn {
    io: Async<TcpStream>,
    /// [`ByteStream::peer_turn`]: the next read waits for readiness first, instead of
    /// async-io's `recv` first, which would say `EAGAIN` once per kept-alive request.
    /// Only on that hint: under a busy peer (many HTTP/2 streams) bytes are mostly
    /// there already, and waiting would send every read through the reactor.
    peer_turn: bool,
}

impl Conn {
    /// After [`ByteStream::peer_turn`], waits for readiness before the next read.
    fn poll_peer_turn(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.peer_turn {
            // Waiting here also consumes the readiness event, which a read that
            // succeeds would leave behind to be taken as new the next time.
            ready!(self.io.poll_readable(cx))?;
            self.peer_turn = false;
        }
        Poll::Ready(Ok(()))
    }
}

impl ByteStream for Conn {
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        ready!(self.poll_peer_turn(cx))?;
        Pin::new(&mut self.io).poll_read(cx, buf)
    }

    fn poll_read_into(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut BytesMut,
        max: usize,
    ) -> Poll<io::Result<usize>> {
        ready!(self.poll_peer_turn(cx))?;
        // Straight into the session's buffer: async-io's own read needs initialised
        // memory, which would mean a scratch buffer and a copy of every payload.
        let socket = self.io.get_ref().as_fd();
        poll_io(
            cx,
            |cx| self.io.poll_readable(cx),
            || recv_into(socket, buf, max),
        )
    }

    fn peer_turn(&mut self) {
        self.peer_turn = true;
    }

    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn poll_shutdown(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // async-io's `poll_close` only flushes: the FIN must be sent by hand.
        Poll::Ready(self.io.get_ref().shutdown(std::net::Shutdown::Write))
    }

    fn poll_sendfile(
        &mut self,
        cx: &mut Context<'_>,
        file: &File,
        offset: u64,
        len: u64,
    ) -> Poll<io::Result<usize>> {
        let socket = self.io.get_ref().as_fd();
        poll_io(
            cx,
            |cx| self.io.poll_writable(cx),
            || sendfile(socket, file, offset, len),
        )
    }
}

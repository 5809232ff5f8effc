//! Starting a listener on either adapter, and waiting on conditions with a deadline.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use roadrunner_core::{Info, Listener, Options, Routes, StartError};

/// Safety net for every blocking read of a test client. Never used to synchronise:
/// a test that reaches it has failed.
pub const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// The upper bound of a real-socket timing check ("closed within", "returned
/// within"): a safety net against a hang, not a measurement. The exact instants are
/// asserted on the deterministic runtime (`tests/sim_timeouts.rs`); on real sockets a
/// loaded 2-core CI machine may be late by a second or more. It equals [`IO_TIMEOUT`],
/// past which a blocking read fails anyway.
pub const SAFETY_NET: Duration = IO_TIMEOUT;

/// Which adapter serves a test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Adapter {
    /// `roadrunner-tokio`, on a multi-threaded tokio runtime owned by the [`Server`].
    Tokio,
    /// `roadrunner-smol`, on its shared multi-threaded executor.
    Smol,
}

/// Generates one `#[test]` per adapter from one body: `both!(name, |adapter| { .. })`
/// makes `name::tokio` and `name::smol` (a module per case, so that no identifier
/// pasting crate is needed; `cargo test name::` runs both).
#[macro_export]
macro_rules! both {
    ($name:ident, |$adapter:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            fn case($adapter: $crate::Adapter) $body

            #[test]
            fn tokio() {
                case($crate::Adapter::Tokio)
            }

            #[test]
            fn smol() {
                case($crate::Adapter::Smol)
            }
        }
    };
}

/// `Options::new(0, routes)` bound to 127.0.0.1.
pub fn opts(routes: Routes) -> Options {
    let mut o = Options::new(0, routes);
    o.ip = Ipv4Addr::LOCALHOST.into();
    o
}

/// A running listener on one adapter. Dropping it stops the listener.
pub struct Server {
    listener: Option<Listener>,
    rt: Option<tokio::runtime::Runtime>,
    port: u16,
}

fn tokio_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("building a tokio runtime")
}

impl Server {
    /// Starts a listener with `opts` (the caller's port and ip are kept; use [`opts`]
    /// for 127.0.0.1:0), named by [`unique_name`]: listener names are unique within
    /// a process and tests run in parallel. Panics if it does not start.
    pub fn start(adapter: Adapter, opts: Options) -> Server {
        Server::start_named(adapter, &unique_name("test"), opts)
    }

    /// Like [`Server::start`] with a listener name.
    pub fn start_named(adapter: Adapter, name: &str, opts: Options) -> Server {
        match Server::try_start(adapter, name, opts) {
            Ok(s) => s,
            Err(e) => panic!("{adapter:?} listener did not start: {e}"),
        }
    }

    /// Starts a listener, returning the adapter's error as is.
    pub fn try_start(adapter: Adapter, name: &str, opts: Options) -> Result<Server, StartError> {
        let (listener, rt) = match adapter {
            Adapter::Tokio => {
                let rt = tokio_runtime();
                let l = roadrunner_tokio::start_on(rt.handle().clone(), name, opts);
                match l {
                    Ok(l) => (l, Some(rt)),
                    Err(e) => {
                        rt.shutdown_background();
                        return Err(e);
                    }
                }
            }
            Adapter::Smol => (roadrunner_smol::start(name, opts)?, None),
        };
        let port = listener.port();
        Ok(Server {
            listener: Some(listener),
            rt,
            port,
        })
    }

    /// The port bound.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:port`.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// `http://127.0.0.1:port{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }

    /// The listener handle.
    pub fn listener(&self) -> &Listener {
        self.listener.as_ref().expect("listener present until stop")
    }

    /// The counters now.
    pub fn info(&self) -> Info {
        self.listener().info()
    }

    /// Polls `info()` until `pred` holds (bounded by 5 s), returning that snapshot.
    pub fn wait_info(&self, what: &str, pred: impl Fn(&Info) -> bool) -> Info {
        let mut last = self.info();
        let ok = wait_until(Duration::from_secs(5), || {
            last = self.info();
            pred(&last)
        });
        assert!(ok, "{what}: not reached within 5 s; last info: {last:?}");
        last
    }

    /// Takes the listener out (the runtime stays until the `Server` is dropped).
    pub fn take_listener(&mut self) -> Listener {
        self.listener.take().expect("listener present until stop")
    }

    /// Calls `listener.stop().await` (from a plain thread, through `smol::block_on`:
    /// `stop` works from any executor) and returns once it has returned. The runtime
    /// (tokio) is kept until the `Server` is dropped.
    pub fn stop(&mut self) {
        if let Some(l) = self.listener.take() {
            smol::block_on(l.stop());
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        drop(self.listener.take());
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

/// `prefix-N`, with N distinct for every call in this process.
pub fn unique_name(prefix: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    format!("{prefix}-{}", N.fetch_add(1, Ordering::Relaxed))
}

/// Polls `cond` every few milliseconds until it holds or `limit` passes.
/// Returns whether it held in time.
pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// True if a TCP connect to 127.0.0.1:`port` is refused (nobody listens).
pub fn connect_refused(port: u16) -> bool {
    match TcpStream::connect((Ipv4Addr::LOCALHOST, port)) {
        Err(e) => e.kind() == io::ErrorKind::ConnectionRefused,
        Ok(_) => false,
    }
}

impl Server {
    /// A clonable handle of the listener, usable after it has been taken or drained.
    pub fn handle(&self) -> roadrunner_core::ListenerRef {
        self.listener().handle()
    }

    /// Takes the listener and runs `drain(timeout)` on a thread of its own, the way an
    /// application of the adapter would await it (on tokio: from the listener's
    /// runtime, through its handle; on smol: `smol::block_on`). The thread returns
    /// the outcome and how long `drain` took.
    pub fn drain_in_background(
        &mut self,
        timeout: Duration,
    ) -> std::thread::JoinHandle<(roadrunner_core::DrainOutcome, Duration)> {
        let listener = self.take_listener();
        let rt = self.rt.as_ref().map(|rt| rt.handle().clone());
        std::thread::spawn(move || {
            let t0 = Instant::now();
            let outcome = match rt {
                Some(handle) => handle.block_on(listener.drain(timeout)),
                None => smol::block_on(listener.drain(timeout)),
            };
            (outcome, t0.elapsed())
        })
    }
}

//! Draining on a shutdown signal, with no async runtime: a process-wide watcher thread
//! turns the first SIGTERM or SIGINT into an event any executor can await.
//!
//! ```no_run
//! # async fn serve(listener: roadrunner_core::Listener) -> std::io::Result<()> {
//! use std::time::Duration;
//!
//! let (signal, outcome) = listener.drain_on_signal(Duration::from_secs(30))?.await;
//! eprintln!("{signal}: {outcome:?}");
//! # Ok(())
//! # }
//! ```

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{mpsc, Mutex, PoisonError};
use std::task::{ready, Context, Poll};
use std::time::Duration;

use event_listener::{Event, EventListener};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::drain::DrainOutcome;
use crate::listener::Listener;

/// A signal asking the process to shut down.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Signal {
    /// `SIGTERM`: what `kill`, systemd, Docker and Kubernetes send to stop a process.
    Terminate,
    /// `SIGINT`: Ctrl-C in a terminal.
    Interrupt,
}

impl Signal {
    /// The conventional name: `"SIGTERM"` or `"SIGINT"`.
    pub fn name(self) -> &'static str {
        match self {
            Signal::Terminate => "SIGTERM",
            Signal::Interrupt => "SIGINT",
        }
    }

    /// The signal's number on this platform.
    pub fn number(self) -> i32 {
        match self {
            Signal::Terminate => SIGTERM,
            Signal::Interrupt => SIGINT,
        }
    }

    fn from_number(number: i32) -> Option<Signal> {
        match number {
            SIGTERM => Some(Signal::Terminate),
            SIGINT => Some(Signal::Interrupt),
            _ => None,
        }
    }
}

impl std::fmt::Display for Signal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The number of the first shutdown signal, 0 until one arrives; never reset, so a
/// waiter that starts late still sees it.
static FIRST: AtomicI32 = AtomicI32::new(0);
static ARRIVED: Event = Event::new();
static INSTALLED: Mutex<bool> = Mutex::new(false);

/// Resolves to the first SIGTERM or SIGINT this process receives, from any thread.
///
/// The first call installs the handlers, process-wide and for good: from then on
/// neither signal ends the process by itself, a signal that arrives before the future
/// is awaited is kept, and every `ShutdownSignal`, made earlier or later, resolves to
/// that first one. A second SIGTERM or SIGINT ends the process the default way, so an
/// operator can still cut a slow drain short. Fails only if the handlers or their
/// thread cannot be set up; a later call tries again.
pub fn shutdown_signal() -> io::Result<ShutdownSignal> {
    install()?;
    Ok(ShutdownSignal { listener: None })
}

/// The future of [`shutdown_signal`]; needs no particular executor.
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct ShutdownSignal {
    listener: Option<EventListener>,
}

impl Future for ShutdownSignal {
    type Output = Signal;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Signal> {
        loop {
            if let Some(signal) = Signal::from_number(FIRST.load(Ordering::Acquire)) {
                return Poll::Ready(signal);
            }
            // Listening before the second look at FIRST: a signal that lands in
            // between still wakes us.
            match &mut self.listener {
                Some(listener) => {
                    ready!(Pin::new(listener).poll(cx));
                    self.listener = None;
                }
                None => self.listener = Some(ARRIVED.listen()),
            }
        }
    }
}

fn install() -> io::Result<()> {
    let mut installed = INSTALLED.lock().unwrap_or_else(PoisonError::into_inner);
    if *installed {
        return Ok(());
    }
    // The thread comes first: dropping registered `Signals` would leave SIGTERM and
    // SIGINT ignored rather than fatal, so they are registered only once a thread is
    // there to own them.
    let (give, take) = mpsc::sync_channel::<Signals>(1);
    std::thread::Builder::new()
        .name("roadrunner-signals".into())
        .spawn(move || {
            if let Ok(signals) = take.recv() {
                watch(signals);
            }
        })?;
    let signals = Signals::new([SIGTERM, SIGINT])?;
    give.send(signals)
        .map_err(|_| io::Error::other("the signal thread is gone"))?;
    *installed = true;
    Ok(())
}

fn watch(mut signals: Signals) {
    for number in signals.forever() {
        if FIRST
            .compare_exchange(0, number, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            tracing::info!(
                target: "roadrunner",
                event = "shutdown.signal",
                signal = Signal::from_number(number).map_or("?", Signal::name),
            );
            ARRIVED.notify(usize::MAX);
        } else if let Err(e) = signal_hook::low_level::emulate_default_handler(number) {
            tracing::warn!(
                target: "roadrunner",
                event = "shutdown.signal_error",
                signal = number,
                error = %e,
            );
        }
    }
}

impl Listener {
    /// Installs the shutdown-signal handlers now (see [`shutdown_signal`]) and returns
    /// a future that, on the first SIGTERM or SIGINT, runs [`Listener::drain`] with
    /// `timeout` and yields the signal and the drain's outcome. Runs on any executor.
    /// If the handlers cannot be installed the listener is dropped, which stops it.
    pub fn drain_on_signal(
        self,
        timeout: Duration,
    ) -> io::Result<impl Future<Output = (Signal, DrainOutcome)> + Send + 'static> {
        let signal = shutdown_signal()?;
        Ok(async move {
            let signal = signal.await;
            (signal, self.drain(timeout).await)
        })
    }
}

//! A deterministic in-memory runtime for tests (cargo feature `sim`): a single-threaded
//! executor on a virtual clock ([`Sim`]), in-memory connections with bounded buffers
//! ([`pipe`], [`Client`]), an in-memory listen socket ([`listen`], [`Connector`]) and
//! in-memory UDP sockets on a network with chosen latency and loss ([`SimNetwork`]).
//!
//! Timeouts are the part of a server that real sockets test badly: a test either
//! waits for real (slow) or bets on a small one being enough (flaky on a loaded
//! machine). On the simulation every deadline the core computes comes from the virtual
//! clock, which jumps to the next timer whenever nothing else can happen, so a
//! 30-second timeout takes no time and fires at exactly its instant, on every run.
//!
//! ```
//! use std::time::Duration;
//! use roadrunner_core::sim::{Closed, Sim};
//! use roadrunner_core::{Options, Request, Routes};
//!
//! let sim = Sim::new();
//! let mut opts = Options::new(0, Routes::handler(|_req: Request| async { "ok" }));
//! opts.request_timeout = Duration::from_secs(30);
//! let (_listener, connector) = sim.start("doc-example", opts).unwrap();
//! let mut client = connector.connect().unwrap();
//! // A client that sends nothing is closed at exactly request_timeout after accept.
//! let (bytes, _how): (Vec<u8>, Closed) = sim.block_on(client.read_until_close());
//! assert!(bytes.is_empty() || bytes.starts_with(b"HTTP/1.1 408"));
//! assert_eq!(sim.elapsed(), Duration::from_secs(30));
//! ```

mod acceptor;
mod clock;
mod datagram;
mod executor;
mod pipe;
#[cfg(test)]
mod tests;

pub use acceptor::{listen, Connector, SimAcceptor, LOCAL_ADDR};
pub use clock::SimTimer;
pub use datagram::{Sent, SimLink, SimNetwork, SimUdpSocket, DEFAULT_RECV_QUEUE, MAX_SEND};
pub use executor::Sim;
pub use pipe::{pipe, Client, Closed, SimStream, DEFAULT_CAPACITY};

use crate::{Listener, Options, StartError};

impl Sim {
    /// Starts a listener named `name` on this simulation, bound to [`LOCAL_ADDR`]
    /// (the address and port of `opts` are not used). Its acceptor tasks run once the
    /// simulation is driven; the connector opens connections to it.
    pub fn start(&self, name: &str, opts: Options) -> Result<(Listener, Connector), StartError> {
        let (acceptor, connector) = listen();
        let listener = Listener::start(name, opts, self.clone(), |_| Ok(acceptor))?;
        Ok((listener, connector))
    }
}

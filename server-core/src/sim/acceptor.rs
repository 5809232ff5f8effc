//! A listen socket in memory: the test connects through a [`Connector`], and the
//! listener's acceptor tasks take the server ends from a [`SimAcceptor`].

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use async_channel::{Receiver, Sender, TrySendError};

use super::pipe::{pipe, Client, SimStream, DEFAULT_CAPACITY};
use crate::runtime::Acceptor;

/// The address every simulated listener is bound to (TEST-NET-1, port 80).
pub const LOCAL_ADDR: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), 80);

/// Ports given to clients, from 1024 up; after that the next address.
const CLIENT_PORTS: u32 = 65536 - 1024;

/// A connected client's address: distinct for each of a connector's connections.
fn client_addr(n: u32) -> SocketAddr {
    // 198.51.100.0 (TEST-NET-2) onwards.
    let ip = Ipv4Addr::from(0xc633_6400 + n / CLIENT_PORTS);
    SocketAddr::new(ip.into(), (1024 + n % CLIENT_PORTS) as u16)
}

type Pending = (SimStream, SocketAddr);

/// A simulated listen socket and the connector feeding it.
pub fn listen() -> (SimAcceptor, Connector) {
    let (tx, rx) = async_channel::unbounded();
    let acceptor = SimAcceptor { backlog: rx };
    let connector = Connector {
        backlog: tx,
        next: Arc::default(),
    };
    (acceptor, connector)
}

/// The listening end: accepts the connections made through its [`Connector`].
#[derive(Debug)]
pub struct SimAcceptor {
    backlog: Receiver<Pending>,
}

impl Acceptor for SimAcceptor {
    type Stream = SimStream;

    async fn accept(&self) -> io::Result<(SimStream, SocketAddr)> {
        match self.backlog.recv().await {
            Ok(conn) => Ok(conn),
            // No connector left: like a socket nobody connects to, it waits for ever
            // (an error would only make the acceptor retry).
            Err(_) => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(LOCAL_ADDR)
    }
}

impl Drop for SimAcceptor {
    /// Like a closed listen socket, resets the connections still in the backlog.
    fn drop(&mut self) {
        self.backlog.close();
        while let Ok((stream, _)) = self.backlog.try_recv() {
            stream.abort();
        }
    }
}

/// The test's side of a simulated listen socket: opens connections to it.
#[derive(Clone, Debug)]
pub struct Connector {
    backlog: Sender<Pending>,
    next: Arc<AtomicU32>,
}

impl Connector {
    /// Connects with [`DEFAULT_CAPACITY`] each way.
    pub fn connect(&self) -> io::Result<Client> {
        self.connect_with_capacity(DEFAULT_CAPACITY)
    }

    /// Connects with buffers of `capacity` bytes each way. The connection waits in the
    /// backlog until an acceptor task runs; once the listener has closed its socket
    /// (stopped, or draining), it is refused.
    pub fn connect_with_capacity(&self, capacity: usize) -> io::Result<Client> {
        let (server, mut client) = pipe(capacity);
        let addr = client_addr(self.next.fetch_add(1, Ordering::Relaxed));
        client.set_addr(addr);
        match self.backlog.try_send((server, addr)) {
            Ok(()) => Ok(client),
            Err(TrySendError::Closed(_) | TrySendError::Full(_)) => {
                Err(io::ErrorKind::ConnectionRefused.into())
            }
        }
    }
}

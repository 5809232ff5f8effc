//! Binding a listener's sockets, once for every adapter: the adapters only register
//! the result with their reactor.

use std::io;
use std::net::{SocketAddr, TcpListener, UdpSocket};

use socket2::{Domain, Socket, Type};

use crate::options::{Options, Protocol};

/// A listener's bound sockets, non-blocking, not yet registered with any runtime.
#[derive(Debug)]
pub struct Bound {
    /// The listening TCP socket (h1, h2).
    pub tcp: TcpListener,
    /// With `http3`: `http3.listeners` UDP sockets on the TCP port's number; else none.
    pub udp: Vec<UdpSocket>,
}

/// Binds what `opts` asks for: the TCP listener on `opts.ip:opts.port`, and when
/// `http3` is in `protocols`, `http3.listeners` UDP sockets on the same port number
/// (the one the kernel picked for TCP when `opts.port` is 0), sharing it through
/// `SO_REUSEPORT` when there are several. A taken UDP port is an error, not a retry.
///
/// Does not validate `opts`.
pub fn bind(opts: &Options) -> io::Result<Bound> {
    let tcp = bind_tcp(SocketAddr::new(opts.ip, opts.port), opts.socket_backlog)?;
    let udp_sockets = opts.protocols.iter().find_map(|p| match p {
        Protocol::Http3(h3) => Some(h3.listeners),
        _ => None,
    });
    let udp = match udp_sockets {
        None => Vec::new(),
        Some(0) => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "http3.listeners must be at least 1",
            ))
        }
        Some(n) => {
            let addr = tcp.local_addr()?;
            let reuse_port = n > 1;
            (0..n)
                .map(|_| bind_udp(addr, reuse_port))
                .collect::<io::Result<_>>()
                .map_err(|e| {
                    io::Error::new(
                        e.kind(),
                        format!("http3 needs UDP port {} (the TCP port): {e}", addr.port()),
                    )
                })?
        }
    };
    Ok(Bound { tcp, udp })
}

fn bind_tcp(addr: SocketAddr, backlog: u32) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    // Validated to fit an i32; unvalidated callers get the kernel's clamp.
    socket.listen(i32::try_from(backlog).unwrap_or(i32::MAX))?;
    Ok(socket.into())
}

/// The receive buffer asked of each UDP socket: the datagrams of every client of a
/// socket wait there while its receive task is busy, and a full buffer drops them
/// (QUIC recovers, at the cost of a round trip or a timeout). The kernel caps it at
/// `net.core.rmem_max`.
const UDP_RECV_BUFFER: usize = 4 * 1024 * 1024;

fn bind_udp(addr: SocketAddr, reuse_port: bool) -> io::Result<UdpSocket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, None)?;
    // Best effort: a smaller buffer only costs losses under bursts.
    let _ = socket.set_recv_buffer_size(UDP_RECV_BUFFER);
    if reuse_port {
        socket.set_reuse_port(true)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::{Http1Options, Http3Options};
    use crate::router::Routes;
    use std::net::{IpAddr, Ipv4Addr};
    use std::os::fd::AsRawFd;
    use std::time::{Duration, Instant};

    /// Options for 127.0.0.1:`port` with http3 on `listeners` sockets, unvalidated
    /// (validation refuses http3 until it is served).
    fn h3_opts(port: u16, listeners: u16) -> Options {
        let mut o = Options::new(port, Routes::handler(|_req: crate::Request| async { "" }));
        o.ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
        o.protocols = vec![
            Protocol::Http1(Http1Options::default()),
            Protocol::Http3(Http3Options {
                listeners,
                ..Default::default()
            }),
        ];
        o
    }

    #[test]
    fn without_http3_only_tcp() {
        let mut o = h3_opts(0, 8);
        o.protocols.truncate(1);
        let bound = bind(&o).unwrap();
        assert!(bound.udp.is_empty());
        assert_ne!(bound.tcp.local_addr().unwrap().port(), 0);
    }

    #[test]
    fn port_zero_resolves_and_every_udp_socket_shares_the_tcp_port() {
        let bound = bind(&h3_opts(0, 8)).unwrap();
        let tcp = bound.tcp.local_addr().unwrap();
        assert_ne!(tcp.port(), 0);
        assert_eq!(bound.udp.len(), 8);
        for udp in &bound.udp {
            assert_eq!(udp.local_addr().unwrap(), tcp);
        }
    }

    #[test]
    fn one_listener_is_one_socket_without_reuseport() {
        let bound = bind(&h3_opts(0, 1)).unwrap();
        assert_eq!(bound.udp.len(), 1);
        let port = bound.tcp.local_addr().unwrap().port();
        assert_eq!(bound.udp[0].local_addr().unwrap().port(), port);
        assert!(!socket2::SockRef::from(&bound.udp[0]).reuse_port().unwrap());
    }

    #[test]
    fn a_given_port_is_used_for_both() {
        // Any free TCP port will do; on the rare clash with a UDP user, try another.
        for _ in 0..10 {
            let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let Ok(bound) = bind(&h3_opts(port, 2)) else {
                continue;
            };
            assert_eq!(bound.tcp.local_addr().unwrap().port(), port);
            for udp in &bound.udp {
                assert_eq!(udp.local_addr().unwrap().port(), port);
            }
            return;
        }
        panic!("no port was free for both TCP and UDP");
    }

    #[test]
    fn a_datagram_to_the_port_reaches_one_socket() {
        let bound = bind(&h3_opts(0, 4)).unwrap();
        let to = bound.tcp.local_addr().unwrap();
        let client = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        client.send_to(b"ping", to).unwrap();

        let mut fds: Vec<libc::pollfd> = bound
            .udp
            .iter()
            .map(|s| libc::pollfd {
                fd: s.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline
                .saturating_duration_since(Instant::now())
                .as_millis();
            assert!(left > 0, "no socket received the datagram");
            // SAFETY: `fds` is a valid, exclusive array of `fds.len()` pollfd structs,
            // whose descriptors stay open (borrowed from `bound`) during the call.
            let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as _, left as _) };
            if n > 0 {
                break;
            }
            assert!(n == 0 || io::Error::last_os_error().kind() == io::ErrorKind::Interrupted);
        }
        let mut buf = [0; 16];
        let mut received = 0;
        for (fd, socket) in fds.iter().zip(&bound.udp) {
            if fd.revents & libc::POLLIN != 0 {
                let (len, from) = socket.recv_from(&mut buf).unwrap();
                assert_eq!(
                    (&buf[..len], from),
                    (&b"ping"[..], client.local_addr().unwrap())
                );
                received += 1;
            }
        }
        assert_eq!(received, 1);
    }

    #[test]
    fn a_taken_udp_port_is_an_error() {
        for listeners in [1, 8] {
            let tries = (0..10).find_map(|_| {
                let taken = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
                let port = taken.local_addr().unwrap().port();
                let err = bind(&h3_opts(port, listeners)).unwrap_err();
                // The same TCP port may be in use elsewhere: then try another.
                let udp = err.to_string().contains(&format!("UDP port {port}"));
                udp.then_some(err)
            });
            let err = tries.expect("the TCP port was taken every time");
            assert_eq!(err.kind(), io::ErrorKind::AddrInUse, "{listeners}: {err}");
        }
    }

    #[test]
    fn zero_listeners_is_an_error() {
        let err = bind(&h3_opts(0, 0)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }
}

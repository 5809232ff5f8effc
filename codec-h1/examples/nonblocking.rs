//! A non-blocking HTTP/1.1 server on one thread: `mio` tells which sockets are
//! ready, the codec does HTTP. Keep-alive and pipelined requests, a request the codec
//! refuses answered with the status it gives before the connection closes, and
//! backpressure: a client that pipelines requests without reading the answers is held
//! back by TCP instead of growing the server's memory.
//!
//! `cargo run -p roadrunner-h1 --example nonblocking`, then
//! `curl -d hello http://127.0.0.1:8080/echo`.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::time::SystemTime;

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use roadrunner_h1::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use roadrunner_h1::{Config, Event, RequestHead, SendError, ServerConn};

const LISTENER: Token = Token(usize::MAX);

/// While more than this waits to be written to a connection, it is neither answered
/// nor read: its further requests stay in the kernel's buffers, and TCP's flow
/// control holds its client back until it reads.
const HIGH_WATER: usize = 64 * 1024;

fn main() -> io::Result<()> {
    let listener = TcpListener::bind(([127, 0, 0, 1], 8080).into())?;
    println!("listening on http://{}", listener.local_addr()?);
    serve(listener)
}

/// The event loop: accepts connections, and drives each one whose socket is ready.
fn serve(mut listener: TcpListener) -> io::Result<()> {
    let mut poll = Poll::new()?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    let mut clients = HashMap::new();
    let mut next = 0;
    let mut events = Events::with_capacity(256);
    loop {
        match poll.poll(&mut events, None) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            result => result?,
        }
        for event in events.iter() {
            let token = event.token();
            if token == LISTENER {
                // Readiness is reported once per change: accept until none is left.
                loop {
                    match listener.accept() {
                        Ok((mut stream, _peer)) => {
                            let token = Token(next);
                            next += 1;
                            let both = Interest::READABLE | Interest::WRITABLE;
                            poll.registry().register(&mut stream, token, both)?;
                            clients.insert(token, Client::new(stream));
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) => {
                            eprintln!("accept: {e}");
                            break;
                        }
                    }
                }
            } else if let Some(client) = clients.get_mut(&token) {
                if !client.drive() {
                    if let Some(mut client) = clients.remove(&token) {
                        poll.registry().deregister(&mut client.stream)?;
                        let _ = client.stream.shutdown(Shutdown::Write);
                    }
                }
            }
        }
    }
}

/// The application: `POST /echo` answers with the request's body, anything else
/// with its path.
fn app(head: &RequestHead, body: Vec<u8>) -> (StatusCode, Vec<u8>) {
    if head.method == Method::POST && head.uri.path() == "/echo" {
        (StatusCode::OK, body)
    } else {
        (StatusCode::OK, head.uri.path().as_bytes().to_vec())
    }
}

/// One connection: its socket, its codec, and the answers not written yet.
struct Client {
    stream: TcpStream,
    conn: ServerConn,
    out: Vec<u8>,
    /// How much of `out` the socket has taken.
    sent: usize,
    request: Option<(RequestHead, Vec<u8>)>,
}

impl Client {
    fn new(stream: TcpStream) -> Self {
        Client {
            stream,
            conn: ServerConn::new(Config::default()),
            out: Vec::new(),
            sent: 0,
            request: None,
        }
    }

    fn unsent(&self) -> usize {
        self.out.len() - self.sent
    }

    /// Does what the socket allows now: answers, writes and reads until it would
    /// block (readiness is reported once per change, so it must all be used up).
    /// False once the connection is over.
    fn drive(&mut self) -> bool {
        loop {
            if self.answer().is_err() || self.write().is_err() {
                return false;
            }
            if self.conn.is_closed() {
                // Kept until the last answer is out; the socket says when it can take more.
                return self.unsent() > 0;
            }
            if self.unsent() > HIGH_WATER {
                return true;
            }
            match self.read() {
                Ok(true) => {}
                Ok(false) => return true,
                Err(_) => return false,
            }
        }
    }

    /// Answers the requests already received, up to the high-water mark.
    fn answer(&mut self) -> Result<(), SendError> {
        while self.unsent() <= HIGH_WATER {
            match self.conn.poll_event() {
                Ok(Some(Event::Request(head))) => self.request = Some((head, Vec::new())),
                Ok(Some(Event::Data(data))) => {
                    if let Some((_, body)) = &mut self.request {
                        body.extend_from_slice(&data);
                    }
                }
                Ok(Some(Event::End(_trailers))) => {
                    if let Some((head, body)) = self.request.take() {
                        let (status, reply) = app(&head, body);
                        let mut headers = HeaderMap::new();
                        headers
                            .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
                        let now = SystemTime::now();
                        self.conn
                            .send_full(status, &headers, &reply, now, &mut self.out)?;
                    }
                }
                Ok(None) => break,
                Err(e) => return self.conn.send_error(e, SystemTime::now(), &mut self.out),
            }
        }
        // A client that sent `Expect: 100-continue` waits for this before its body.
        self.conn.send_continue(&mut self.out);
        Ok(())
    }

    /// Writes what the socket takes now.
    fn write(&mut self) -> io::Result<()> {
        while self.sent < self.out.len() {
            match self.stream.write(&self.out[self.sent..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.out.clear();
        self.sent = 0;
        Ok(())
    }

    /// Reads once into the codec; false when the socket has nothing now.
    fn read(&mut self) -> io::Result<bool> {
        let mut buf = [0; 16 * 1024];
        match self.stream.read(&mut buf) {
            Ok(0) => self.conn.recv_eof(),
            Ok(n) => self.conn.recv(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
        Ok(true)
    }
}

#[cfg(test)]
mod client;

#[cfg(test)]
mod tests {
    use super::*;
    use socket2::{Domain, Socket, Type};
    use std::time::Duration;

    fn serve_on(listener: std::net::TcpListener) -> u16 {
        listener.set_nonblocking(true).expect("non-blocking");
        let port = listener.local_addr().expect("addr").port();
        std::thread::spawn(move || serve(TcpListener::from_std(listener)));
        port
    }

    fn server() -> u16 {
        serve_on(std::net::TcpListener::bind("127.0.0.1:0").expect("bind"))
    }

    #[test]
    fn keep_alive() {
        client::keep_alive(server());
    }

    #[test]
    fn pipelining() {
        client::pipelining(server());
    }

    #[test]
    fn refused_requests_get_the_codec_s_status_then_close() {
        client::refused(server());
    }

    /// A socket with small kernel buffers (accepted sockets inherit a listener's), so
    /// that what TCP holds in flight is small beside what the client sends.
    fn small_buffers() -> Socket {
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
        socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
        socket.set_send_buffer_size(4096).expect("SO_SNDBUF");
        socket
    }

    #[test]
    fn a_client_that_does_not_read_is_held_back() {
        let listener = small_buffers();
        listener
            .bind(&std::net::SocketAddr::from(([127, 0, 0, 1], 0)).into())
            .expect("bind");
        listener.listen(16).expect("listen");
        let port = serve_on(listener.into());
        let socket = small_buffers();
        socket
            .connect(&std::net::SocketAddr::from(([127, 0, 0, 1], port)).into())
            .expect("connect");
        let stream: std::net::TcpStream = socket.into();
        // How long the client's write may go without the server taking a byte: the
        // bound of the check, not a synchronisation.
        stream
            .set_write_timeout(Some(Duration::from_secs(2)))
            .expect("timeout");
        // About 5 MB of requests, whose answers (some 20 MB) the client does not read.
        let batch = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".repeat(200_000);
        let stalled = (&stream)
            .write_all(&batch)
            .expect_err("the server stopped reading");
        assert!(
            matches!(
                stalled.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ),
            "{stalled}"
        );
        // Held back, not dropped: the answers come, in order, once the client reads.
        let mut c = client::Client::over(stream);
        for _ in 0..3 {
            let r = c.response();
            assert_eq!((r.status, r.body.as_slice()), (200, &b"/"[..]));
        }
    }
}

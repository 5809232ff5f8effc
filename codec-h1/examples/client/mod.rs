//! The example servers' tests: a raw client, and the checks both servers must pass.
//! (Not part of what a user copies.)

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// A test that reaches it has failed: never used to synchronise.
const SAFETY_NET: Duration = Duration::from_secs(5);

/// A response as it came over the wire.
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub struct Client {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    pub fn connect(port: u16) -> Client {
        Client::over(TcpStream::connect(("127.0.0.1", port)).expect("connect"))
    }

    pub fn over(stream: TcpStream) -> Client {
        stream.set_read_timeout(Some(SAFETY_NET)).expect("timeout");
        Client {
            stream,
            buf: Vec::new(),
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("send");
    }

    /// Reads more; false at the end of the stream.
    fn more(&mut self) -> bool {
        let mut tmp = [0; 16 * 1024];
        match self.stream.read(&mut tmp) {
            Ok(0) => false,
            Ok(n) => {
                self.buf.extend_from_slice(&tmp[..n]);
                true
            }
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => false,
            Err(e) => panic!("no answer within {SAFETY_NET:?}: {e}"),
        }
    }

    /// The next response; the example servers frame every body with a length.
    pub fn response(&mut self) -> Response {
        let end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i;
            }
            assert!(self.more(), "closed before a response head");
        };
        let head = String::from_utf8(self.buf[..end].to_vec()).expect("UTF-8 head");
        let mut lines = head.split("\r\n");
        let status_line = lines.next().expect("status line");
        let status = status_line[9..12].parse().expect("status");
        let headers: Vec<(String, String)> = lines
            .map(|l| l.split_once(": ").expect("a field"))
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .collect();
        let mut resp = Response {
            status,
            headers,
            body: Vec::new(),
        };
        let len: usize = resp
            .header("content-length")
            .expect("content-length")
            .parse()
            .expect("a length");
        while self.buf.len() < end + 4 + len {
            assert!(self.more(), "closed inside a body");
        }
        self.buf.drain(..end + 4);
        resp.body = self.buf.drain(..len).collect();
        resp
    }

    /// True when the server closes with nothing more sent.
    pub fn closed(&mut self) -> bool {
        while self.more() {}
        self.buf.is_empty()
    }
}

fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n")
}

/// Two requests on one connection, each answered before the next is sent.
pub fn keep_alive(port: u16) {
    let mut c = Client::connect(port);
    for path in ["/a", "/b"] {
        c.send(get(path).as_bytes());
        let r = c.response();
        assert_eq!((r.status, r.body.as_slice()), (200, path.as_bytes()));
        assert_eq!(r.header("connection"), None, "kept alive");
    }
}

/// Requests sent in one write are answered in order, a body included.
pub fn pipelining(port: u16) {
    let mut c = Client::connect(port);
    let echo = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello";
    c.send(format!("{}{echo}{}", get("/1"), get("/2")).as_bytes());
    for want in ["/1", "hello", "/2"] {
        let r = c.response();
        assert_eq!((r.status, r.body.as_slice()), (200, want.as_bytes()));
    }
}

/// A request the codec refuses is answered with the status it gives, then the
/// connection closes: the request pipelined after it is never answered.
pub fn refused(port: u16) {
    let mut c = Client::connect(port);
    let ambiguous = "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n";
    c.send(format!("{ambiguous}{}", get("/never")).as_bytes());
    let r = c.response();
    assert_eq!((r.status, r.body.as_slice()), (400, &b"Bad Request"[..]));
    assert_eq!(r.header("connection"), Some("close"));
    assert!(c.closed(), "nothing after the error answer");
    let mut c = Client::connect(port);
    c.send(b"GET / HTTP/9.9\r\nHost: x\r\n\r\n");
    assert_eq!(c.response().status, 505);
    assert!(c.closed());
}

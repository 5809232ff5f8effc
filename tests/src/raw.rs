//! The raw client: a plain `std::net::TcpStream`, for malformed input and exact bytes.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};

use crate::IO_TIMEOUT;

/// A response parsed from raw bytes, as strictly as the tests need (CRLF line ends).
#[derive(Clone, Debug)]
pub struct RawResp {
    /// `HTTP/1.1`.
    pub version: String,
    /// Status code.
    pub status: u16,
    /// Reason phrase.
    pub reason: String,
    /// Header fields in order, names as sent.
    pub headers: Vec<(String, String)>,
    /// The body (empty for HEAD, 1xx, 204, 304).
    pub body: Vec<u8>,
}

impl RawResp {
    /// The first header named `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name`.
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// True if a comma-separated header `name` has `token` (any case).
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.header_all(name)
            .iter()
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }

    /// The body as text.
    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body).expect("utf-8 body")
    }
}

/// What [`parse_response`] found.
pub enum Parsed {
    /// A response and the number of bytes it took.
    Done(RawResp, usize),
    /// More bytes are needed.
    Partial,
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Parses one response from `buf`. `head_only`: the response to a HEAD request (no
/// body whatever its headers say). `eof`: no more bytes will come (a body without
/// framing ends here). Panics on a malformed response: that is a server bug.
pub fn parse_response(buf: &[u8], head_only: bool, eof: bool) -> Parsed {
    let Some(end) = find(buf, b"\r\n\r\n") else {
        return Parsed::Partial;
    };
    let head = std::str::from_utf8(&buf[..end])
        .unwrap_or_else(|_| panic!("response head is not UTF-8: {:?}", &buf[..end]));
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default().to_owned();
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let reason = parts.next().unwrap_or_default().to_owned();
    assert!(
        version.starts_with("HTTP/1."),
        "bad status line {status_line:?}"
    );
    let headers: Vec<(String, String)> = lines
        .map(|l| {
            assert!(
                !l.contains('\n') && !l.contains('\r'),
                "bare CR/LF in {l:?}"
            );
            let (n, v) = l
                .split_once(':')
                .unwrap_or_else(|| panic!("header line without ':' {l:?}"));
            (n.to_owned(), v.trim().to_owned())
        })
        .collect();
    let mut resp = RawResp {
        version,
        status,
        reason,
        headers,
        body: Vec::new(),
    };
    let start = end + 4;
    if head_only || (100..200).contains(&status) || status == 204 || status == 304 {
        return Parsed::Done(resp, start);
    }
    if resp.has_token("transfer-encoding", "chunked") {
        let mut pos = start;
        loop {
            let Some(le) = find(&buf[pos..], b"\r\n") else {
                return Parsed::Partial;
            };
            let size_line = std::str::from_utf8(&buf[pos..pos + le]).expect("chunk size");
            let size = usize::from_str_radix(size_line.split(';').next().unwrap_or("").trim(), 16)
                .unwrap_or_else(|_| panic!("bad chunk size {size_line:?}"));
            pos += le + 2;
            if size == 0 {
                let Some(te) = find(&buf[pos..], b"\r\n") else {
                    return Parsed::Partial;
                };
                // Skip trailer fields up to the empty line.
                if te == 0 {
                    return Parsed::Done(resp, pos + 2);
                }
                let Some(tend) = find(&buf[pos..], b"\r\n\r\n") else {
                    return Parsed::Partial;
                };
                return Parsed::Done(resp, pos + tend + 4);
            }
            if buf.len() < pos + size + 2 {
                return Parsed::Partial;
            }
            resp.body.extend_from_slice(&buf[pos..pos + size]);
            assert_eq!(&buf[pos + size..pos + size + 2], b"\r\n", "chunk end");
            pos += size + 2;
        }
    }
    if let Some(cl) = resp.header("content-length") {
        let n: usize = cl
            .parse()
            .unwrap_or_else(|_| panic!("bad content-length {cl:?}"));
        if buf.len() < start + n {
            return Parsed::Partial;
        }
        resp.body = buf[start..start + n].to_vec();
        return Parsed::Done(resp, start + n);
    }
    if !eof {
        return Parsed::Partial;
    }
    resp.body = buf[start..].to_vec();
    Parsed::Done(resp, buf.len())
}

/// Splits everything a server sent before closing into responses. Panics if bytes are
/// left that do not make a complete response.
pub fn parse_all(mut buf: &[u8]) -> Vec<RawResp> {
    let mut out = Vec::new();
    while !buf.is_empty() {
        match parse_response(buf, false, true) {
            Parsed::Done(r, n) => {
                out.push(r);
                buf = &buf[n..];
            }
            Parsed::Partial => panic!(
                "incomplete response after {} complete ones: {:?}",
                out.len(),
                String::from_utf8_lossy(buf)
            ),
        }
    }
    out
}

/// How a read that waits for the server to close ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Closed {
    /// Orderly close (FIN): read returned 0.
    Eof,
    /// The server reset the connection (it closed with unread input from us).
    Reset,
}

/// A plain blocking TCP client with a read buffer.
pub struct Raw {
    /// The socket.
    pub stream: TcpStream,
    buf: Vec<u8>,
}

fn is_reset(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted
    )
}

impl Raw {
    /// Connects to 127.0.0.1:`port`, with [`IO_TIMEOUT`] as read timeout.
    pub fn connect(port: u16) -> Raw {
        let stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).expect("connect");
        stream
            .set_read_timeout(Some(IO_TIMEOUT))
            .expect("read timeout");
        stream.set_nodelay(true).expect("nodelay");
        Raw {
            stream,
            buf: Vec::new(),
        }
    }

    /// The client's own address (the server's `peer_addr`).
    pub fn local_addr(&self) -> SocketAddr {
        self.stream.local_addr().expect("local addr")
    }

    /// Writes all of `bytes` in one write call.
    pub fn send(&mut self, bytes: impl AsRef<[u8]>) {
        self.stream.write_all(bytes.as_ref()).expect("write");
    }

    /// Writes, returning the error instead of panicking.
    pub fn try_send(&mut self, bytes: impl AsRef<[u8]>) -> io::Result<()> {
        self.stream.write_all(bytes.as_ref())
    }

    /// Reads once more into the buffer: `Ok(0)` at EOF.
    fn fill(&mut self) -> io::Result<usize> {
        let mut tmp = [0u8; 16 * 1024];
        let n = self.stream.read(&mut tmp)?;
        self.buf.extend_from_slice(&tmp[..n]);
        Ok(n)
    }

    fn read_one(&mut self, head_only: bool) -> RawResp {
        let mut eof = false;
        loop {
            if let Parsed::Done(r, n) = parse_response(&self.buf, head_only, eof) {
                self.buf.drain(..n);
                return r;
            }
            if eof {
                panic!(
                    "connection closed before a complete response; got {:?}",
                    String::from_utf8_lossy(&self.buf)
                );
            }
            match self.fill() {
                Ok(0) => eof = true,
                Ok(_) => {}
                Err(e) if is_reset(&e) => eof = true,
                Err(e) => panic!(
                    "no complete response within {IO_TIMEOUT:?} ({e}); got {:?}",
                    String::from_utf8_lossy(&self.buf)
                ),
            }
        }
    }

    /// Reads one complete response.
    pub fn response(&mut self) -> RawResp {
        self.read_one(false)
    }

    /// Reads the response to a HEAD request (no body).
    pub fn head_response(&mut self) -> RawResp {
        self.read_one(true)
    }

    /// Reads until the server closes; returns everything not yet consumed and how it
    /// closed. Panics if the server keeps the connection open past [`IO_TIMEOUT`].
    pub fn read_until_close(&mut self) -> (Vec<u8>, Closed) {
        loop {
            match self.fill() {
                Ok(0) => return (std::mem::take(&mut self.buf), Closed::Eof),
                Ok(_) => {}
                Err(e) if is_reset(&e) => return (std::mem::take(&mut self.buf), Closed::Reset),
                Err(e) => panic!(
                    "the server did not close the connection within {IO_TIMEOUT:?} ({e}); \
                     unread bytes: {:?}",
                    String::from_utf8_lossy(&self.buf)
                ),
            }
        }
    }

    /// Asserts that the server closes the connection with nothing more sent.
    pub fn expect_close(&mut self) {
        let (rest, _) = self.read_until_close();
        assert!(
            rest.is_empty(),
            "expected the server to close with nothing more, got {:?}",
            String::from_utf8_lossy(&rest)
        );
    }

    /// Reads everything until the server closes and parses it into responses.
    pub fn responses_until_close(&mut self) -> Vec<RawResp> {
        let (rest, _) = self.read_until_close();
        parse_all(&rest)
    }

    /// True if nothing unread is buffered.
    pub fn buffer_is_empty(&self) -> bool {
        self.buf.is_empty()
    }
}

/// `GET path HTTP/1.1` with a Host header.
pub fn get_req(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n")
}

/// An HTTP-date as RFC 9110 §5.6.7 writes it (IMF-fixdate), checked by shape:
/// `Sun, 06 Nov 1994 08:49:37 GMT`.
pub fn is_imf_fixdate(s: &str) -> bool {
    let b = s.as_bytes();
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    b.len() == 29
        && DAYS.contains(&&s[0..3])
        && &s[3..5] == ", "
        && digits(5..7)
        && b[7] == b' '
        && MONTHS.contains(&&s[8..11])
        && b[11] == b' '
        && digits(12..16)
        && b[16] == b' '
        && digits(17..19)
        && b[19] == b':'
        && digits(20..22)
        && b[22] == b':'
        && digits(23..25)
        && &s[25..] == " GMT"
}

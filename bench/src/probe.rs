//! A minimal HTTP/1.1 client: one `GET /` on a TCP stream, response checked.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::hyper_server;

/// The request every probe sends.
pub const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";

/// How long a probe waits for a response.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Connects to `127.0.0.1:port` with a read timeout set.
pub fn connect(port: u16) -> Result<TcpStream, String> {
    let stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| format!("connect: {e}"))?;
    stream
        .set_read_timeout(Some(TIMEOUT))
        .map_err(|e| format!("set_read_timeout: {e}"))?;
    Ok(stream)
}

/// Sends one `GET /` and checks the answer, so a misbehaving server fails
/// loudly instead of producing fast nonsense.
pub fn smoke_check(port: u16) -> Result<(), String> {
    let mut stream = connect(port)?;
    stream
        .write_all(REQUEST)
        .map_err(|e| format!("write: {e}"))?;
    read_response(&mut stream)
}

/// Reads one response (headers and `content-length` body, no more) and
/// checks for `200` with body `Hello, world!`. The connection stays open.
pub fn read_response(stream: &mut TcpStream) -> Result<(), String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk).map_err(|e| format!("read: {e}"))?;
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf);
        if let Some(head_end) = text.find("\r\n\r\n") {
            let head = &text[..head_end];
            let body = &text[head_end + 4..];
            let len = head
                .lines()
                .filter_map(|l| l.split_once(':'))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
                .and_then(|(_, v)| v.trim().parse::<usize>().ok());
            if len.is_some_and(|len| body.len() < len) && n > 0 {
                continue;
            }
            if !head.starts_with("HTTP/1.1 200") {
                return Err(format!("expected `HTTP/1.1 200`, got {head:?}"));
            }
            if body.as_bytes() != hyper_server::BODY {
                return Err(format!("unexpected body {body:?}"));
            }
            return Ok(());
        }
        if n == 0 {
            return Err(format!("connection closed mid-response: {text:?}"));
        }
    }
}

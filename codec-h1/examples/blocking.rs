//! A blocking HTTP/1.1 server on `std::net` and the codec alone: a thread per
//! connection, keep-alive and pipelined requests, and a request the codec refuses
//! answered with the status it gives before the connection closes.
//!
//! `cargo run -p roadrunner-h1 --example blocking`, then
//! `curl -d hello http://127.0.0.1:8080/echo`.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::time::{Duration, SystemTime};

use roadrunner_h1::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use roadrunner_h1::{Config, Event, RequestHead, ServerConn};

fn main() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:8080")?;
    println!("listening on http://{}", listener.local_addr()?);
    serve(listener)
}

/// Serves each connection on a thread of its own.
fn serve(listener: TcpListener) -> io::Result<()> {
    for stream in listener.incoming() {
        let stream = stream?;
        std::thread::spawn(move || {
            if let Err(e) = connection(stream) {
                eprintln!("connection: {e}");
            }
        });
    }
    Ok(())
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

/// Serves one connection until the codec says it is closed.
fn connection(mut stream: TcpStream) -> io::Result<()> {
    let mut conn = ServerConn::new(Config::default());
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    let mut out = Vec::new();
    let mut buf = vec![0; 16 * 1024];
    let mut request: Option<(RequestHead, Vec<u8>)> = None;
    loop {
        // Every request already received (pipelined ones too) is answered before
        // anything is written, so a batch costs one write.
        loop {
            match conn.poll_event() {
                Ok(Some(Event::Request(head))) => request = Some((head, Vec::new())),
                Ok(Some(Event::Data(data))) => {
                    if let Some((_, body)) = &mut request {
                        body.extend_from_slice(&data);
                    }
                }
                Ok(Some(Event::End(_trailers))) => {
                    if let Some((head, body)) = request.take() {
                        let (status, reply) = app(&head, body);
                        conn.send_full(status, &headers, &reply, SystemTime::now(), &mut out)
                            .map_err(io::Error::other)?;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    conn.send_error(e, SystemTime::now(), &mut out)
                        .map_err(io::Error::other)?;
                    break;
                }
            }
        }
        // A client that sent `Expect: 100-continue` waits for this before its body.
        conn.send_continue(&mut out);
        stream.write_all(&out)?;
        out.clear();
        if conn.is_closed() {
            return linger(stream);
        }
        match stream.read(&mut buf)? {
            0 => conn.recv_eof(),
            n => conn.recv(&buf[..n]),
        }
    }
}

/// Closes a connection. Closing a socket with unread input makes the kernel send a
/// reset, which can destroy the last answer before the client has read it (a `413`
/// sent before the body, say): so the write side closes first, and what the client
/// still sends is read and dropped until it closes too (within limits).
fn linger(mut stream: TcpStream) -> io::Result<()> {
    if stream.shutdown(Shutdown::Write).is_err() {
        return Ok(());
    }
    stream.set_read_timeout(Some(Duration::from_secs(1)))?;
    let mut buf = [0; 16 * 1024];
    let mut left: usize = 1 << 20;
    while left > 0 {
        match stream.read(&mut buf) {
            Ok(n) if n > 0 => left = left.saturating_sub(n),
            _ => break,
        }
    }
    Ok(())
}

#[cfg(test)]
mod client;

#[cfg(test)]
mod tests {
    use super::*;

    fn server() -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        std::thread::spawn(move || serve(listener));
        port
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
}

//! A blocking WebSocket echo server on `std::net`, one thread per connection, offering
//! permessage-deflate: the peer the Autobahn suite runs against.
//!
//! ```sh
//! cargo run --release -p roadrunner-ws --example echo_server -- 127.0.0.1:9001 [MAX_SIZE]
//! ```
//!
//! `MAX_SIZE` is both `max_frame_size` and `max_message_size`, in bytes; the default,
//! 16 MiB, lets Autobahn's largest messages (9.1.6 and 9.2.6, 16 MiB in one frame)
//! through, where the listener's 10 MB default would close them with 1009.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use roadrunner_ws::http::header::{HeaderName, HeaderValue};
use roadrunner_ws::http::{HeaderMap, Method, StatusCode, Version};
use roadrunner_ws::{check_upgrade, AcceptOptions, Config, Event, Session};

/// Largest request head read before giving up on the client.
const MAX_HEAD: usize = 16 * 1024;
/// How long to wait for the peer's close frame or its end of stream once closing.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

fn main() -> io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:9001".to_owned());
    let max_size = match args.next() {
        Some(n) => n
            .parse()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("MAX_SIZE: {e}")))?,
        None => 16 << 20,
    };
    let config = Config::new(max_size, max_size)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let listener = TcpListener::bind(&addr)?;
    println!("listening on ws://{}/", listener.local_addr()?);
    for stream in listener.incoming() {
        let stream = stream?;
        let config = config.clone();
        thread::spawn(move || {
            if let Err(e) = serve(stream, config) {
                eprintln!("connection: {e}");
            }
        });
    }
    Ok(())
}

fn serve(mut stream: TcpStream, config: Config) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut buf = Vec::new();
    let mut chunk = vec![0; 64 * 1024];
    let (head_len, method, version, headers) = loop {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(head) = parse_head(&buf)? {
            break head;
        }
        if buf.len() > MAX_HEAD {
            return respond(
                &mut stream,
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                &HeaderMap::new(),
            );
        }
    };
    let handshake = match check_upgrade(&method, version, &headers) {
        Ok(h) => h,
        Err(e) => return respond(&mut stream, e.status(), &e.headers()),
    };
    let accepted = handshake.accept(&AcceptOptions {
        protocols: &[],
        deflate: true,
    });
    write_head(&mut stream, accepted.status, &accepted.headers)?;

    let mut session = Session::new(config, accepted.deflate);
    session.recv(&buf[head_len..]);
    let mut out = Vec::new();
    loop {
        loop {
            match session.poll_event() {
                // Echoing is all this server does; a closing session refuses, which
                // only means the echo is not needed any more.
                Ok(Some(Event::Text(text))) => {
                    let _ = session.send_text(text);
                }
                Ok(Some(Event::Binary(data))) => {
                    let _ = session.send_binary(data);
                }
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(e) => {
                    eprintln!("closing: {e} ({})", e.close_code());
                    break;
                }
            }
        }
        out.clear();
        if session.poll_transmit(&mut out) {
            stream.write_all(&out)?;
        }
        if session.is_closed() || !session.wants_read() {
            break;
        }
        if session.is_closing() {
            stream.set_read_timeout(Some(CLOSE_TIMEOUT))?;
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Ok(());
        }
        session.recv(&chunk[..n]);
    }
    linger(stream, &mut chunk)
}

/// Closes our side, then reads until the peer closes its side (or a timeout), so the
/// close frame is not lost to a reset caused by closing with unread input.
fn linger(mut stream: TcpStream, chunk: &mut [u8]) -> io::Result<()> {
    stream.shutdown(Shutdown::Write)?;
    stream.set_read_timeout(Some(CLOSE_TIMEOUT))?;
    while matches!(stream.read(chunk), Ok(n) if n > 0) {}
    Ok(())
}

type Head = (usize, Method, Version, HeaderMap);

/// The request head, once all of it is in `buf`.
fn parse_head(buf: &[u8]) -> io::Result<Option<Head>> {
    let mut slots = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut slots);
    let bad = |e: &dyn std::fmt::Display| io::Error::new(io::ErrorKind::InvalidData, e.to_string());
    let len = match req.parse(buf).map_err(|e| bad(&e))? {
        httparse::Status::Complete(len) => len,
        httparse::Status::Partial => return Ok(None),
    };
    let method = Method::from_bytes(req.method.unwrap_or("").as_bytes()).map_err(|e| bad(&e))?;
    let version = match req.version {
        Some(1) => Version::HTTP_11,
        _ => Version::HTTP_10,
    };
    let mut headers = HeaderMap::new();
    for h in req.headers.iter() {
        let name = HeaderName::from_bytes(h.name.as_bytes()).map_err(|e| bad(&e))?;
        let value = HeaderValue::from_bytes(h.value).map_err(|e| bad(&e))?;
        headers.append(name, value);
    }
    Ok(Some((len, method, version, headers)))
}

/// An error response, then the end of the connection.
fn respond(stream: &mut TcpStream, status: StatusCode, headers: &HeaderMap) -> io::Result<()> {
    let mut headers = headers.clone();
    headers.insert("content-length", HeaderValue::from_static("0"));
    headers.insert("connection", HeaderValue::from_static("close"));
    write_head(stream, status, &headers)
}

fn write_head(stream: &mut TcpStream, status: StatusCode, headers: &HeaderMap) -> io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {} {}\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    )
    .into_bytes();
    for (name, value) in headers {
        head.extend_from_slice(name.as_str().as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(value.as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"\r\n");
    stream.write_all(&head)
}

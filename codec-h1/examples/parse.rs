//! Parses a raw pipelined request stream from a literal, prints the events and the
//! response bytes the codec writes.

use std::time::SystemTime;

use roadrunner_h1::http::{HeaderMap, HeaderValue, StatusCode};
use roadrunner_h1::{Config, Event, ServerConn};

const RAW: &[u8] = b"POST /upload HTTP/1.1\r\n\
Host: example.com\r\n\
Transfer-Encoding: chunked\r\n\
\r\n\
5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Checksum: 42\r\n\r\n\
GET /bye HTTP/1.1\r\n\
Host: example.com\r\n\
Connection: close\r\n\
\r\n";

fn main() {
    let mut conn = ServerConn::new(Config::default());
    conn.recv(RAW);
    let mut out = Vec::new();
    let mut body = Vec::new();
    loop {
        match conn.poll_event() {
            Ok(Some(Event::Request(head))) => {
                println!(
                    "request: {} {} {:?} body={:?}",
                    head.method, head.uri, head.version, head.body
                );
                body.clear();
            }
            Ok(Some(Event::Data(data))) => {
                println!("data: {:?}", String::from_utf8_lossy(&data));
                body.extend_from_slice(&data);
            }
            Ok(Some(Event::End(trailers))) => {
                println!("end, trailers: {trailers:?}");
                let reply = format!("got {} bytes\n", body.len());
                let mut headers = HeaderMap::new();
                headers.insert("content-type", HeaderValue::from_static("text/plain"));
                let len = Some(reply.len() as u64);
                let now = SystemTime::now();
                if let Err(e) = conn.send_response(StatusCode::OK, &headers, len, now, &mut out) {
                    println!("send error: {e}");
                    break;
                }
                conn.send_data(reply.as_bytes(), &mut out).ok();
                conn.send_end(None, &mut out).ok();
            }
            Ok(None) => break,
            Err(e) => {
                println!("error: {e} -> {}", e.status());
                break;
            }
        }
    }
    println!("closed: {}", conn.is_closed());
    println!("--- response bytes ---\n{}", String::from_utf8_lossy(&out));
}

//! The canned-reply floor: a server on tokio that does the least an HTTP/1.1
//! server must, to show what the kernel and the runtime alone cost per request.
//!
//! It parses nothing: it counts complete requests by their blank line
//! (`\r\n\r\n`, bodiless `GET`s only, as wrk sends them) and answers each with
//! the same fixed bytes, one write per read batch. The reply carries the
//! demo's `GET /` headers and body (a fixed `date` of the real one's length),
//! so the bytes on the wire match. Like the hyper baselines it runs on a
//! tokio current-thread runtime and sets `TCP_NODELAY`.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::hyper_server::{accept_loop, bind};

/// What the demo answers to `GET /`, byte for byte but the date.
const REPLY: &[u8] = b"HTTP/1.1 200 OK\r\n\
date: Tue, 24 Nov 2026 05:00:00 GMT\r\n\
content-type: text/plain; charset=utf-8\r\n\
content-length: 13\r\n\
\r\n\
Hello, world!";

/// Read buffer per connection: a 16-deep pipelined batch of wrk's `GET /` is
/// about 700 bytes.
const READ_BUF: usize = 16 * 1024;

/// Serves forever on `127.0.0.1:port` (0 picks a free port), printing the
/// `listening on` line first as the hyper baseline does.
pub fn run(port: u16) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot build tokio runtime: {e}"))?;
    rt.block_on(async {
        let listener = bind(port).await?;
        accept_loop(listener, |stream| {
            tokio::spawn(serve(stream));
        })
        .await
    })
}

/// Answers every complete request of each read with [`REPLY`], in one write.
async fn serve(mut stream: TcpStream) {
    let mut buf = vec![0; READ_BUF];
    let mut out = Vec::new();
    let mut ends = HeadEnds::default();
    loop {
        let n = match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let requests = ends.feed(&buf[..n]);
        if requests == 0 {
            continue;
        }
        out.clear();
        for _ in 0..requests {
            out.extend_from_slice(REPLY);
        }
        if stream.write_all(&out).await.is_err() {
            return;
        }
    }
}

/// Counts `\r\n\r\n` in a byte stream fed in pieces, so a head split across
/// reads is still counted once.
#[derive(Debug, Default)]
struct HeadEnds {
    /// How many bytes of `\r\n\r\n` the input seen so far ends with (0-3).
    matched: u8,
}

impl HeadEnds {
    /// Feeds the next bytes; returns how many heads they complete.
    fn feed(&mut self, bytes: &[u8]) -> usize {
        let mut complete = 0;
        for &b in bytes {
            self.matched = match (self.matched, b) {
                (3, b'\n') => {
                    complete += 1;
                    0
                }
                (1, b'\n') => 2,
                (2, b'\r') => 3,
                (_, b'\r') => 1,
                _ => 0,
            };
        }
        complete
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n";

    #[test]
    fn counts_whole_and_pipelined_heads() {
        let mut ends = HeadEnds::default();
        assert_eq!(ends.feed(GET), 1);
        assert_eq!(ends.feed(&GET.repeat(16)), 16);
        assert_eq!(ends.feed(b"GET / HTTP/1.1\r\n\r\r\n\n"), 0);
    }

    #[test]
    fn counts_a_head_split_at_every_byte() {
        let batch = GET.repeat(3);
        for cut in 0..=batch.len() {
            let mut ends = HeadEnds::default();
            let (a, b) = batch.split_at(cut);
            assert_eq!(ends.feed(a) + ends.feed(b), 3, "cut at {cut}");
        }
        let mut ends = HeadEnds::default();
        let one_by_one: usize = batch.iter().map(|b| ends.feed(&[*b])).sum();
        assert_eq!(one_by_one, 3);
    }

    #[test]
    fn reply_is_complete_and_self_consistent() {
        let (head, body) = std::str::from_utf8(REPLY)
            .unwrap()
            .split_once("\r\n\r\n")
            .unwrap();
        assert_eq!(body.as_bytes(), crate::hyper_server::BODY);
        assert!(head.contains(&format!("content-length: {}", body.len())));
        assert_eq!(HeadEnds::default().feed(REPLY), 1);
    }
}

//! A sans-IO HTTP/1.1 server codec built on `httparse`.
//!
//! [`ServerConn`] is a pure state machine: the driver feeds it the bytes read from a
//! socket ([`ServerConn::recv`], [`ServerConn::recv_eof`]), takes parsed
//! [`Event`]s out ([`ServerConn::poll_event`]) and has responses encoded into a
//! `Vec<u8>` it then writes ([`ServerConn::send_response`], [`ServerConn::send_data`],
//! [`ServerConn::send_end`]). No sockets, no async, no clock: the time for the `date`
//! header is passed in.
//!
//! Parsing is strict where leniency enables request smuggling: conflicting or malformed
//! `Content-Length`, `Transfer-Encoding` other than a final `chunked`, bare LF line
//! ends, obsolete line folding, malformed chunk framing and missing or repeated `Host`
//! are all refused with an [`Error`] carrying the status to answer with. The caps in
//! [`Config`] hold while a head is still arriving, and any split of the input yields the
//! same events.
//!
//! Grammar is checked where a lenient reading could differ from another parser's:
//!
//! - The request-target may hold only URI characters (RFC 9112 §3.2, RFC 3986): raw
//!   bytes outside ASCII (such as unencoded UTF-8), controls, DEL, `"`, `<`, `>`, `\`,
//!   `^`, `` ` ``, `{`, `|`, `}`, a `#` fragment and a `%` not followed by two hex digits
//!   are refused with 400. Some servers (nginx) accept raw UTF-8; clients that send it
//!   must percent-encode it for this codec.
//! - Chunk extensions must follow `chunk-ext` of RFC 9112 §7.1.1 exactly (names are
//!   tokens, values tokens or quoted-strings, whitespace only around `;` and `=`, never
//!   at the end of the line); they are then ignored.
//!
//! The error response to a request whose method token is `HEAD` has no body, however
//! malformed the rest of the request is (RFC 9110 §9.3.2).
//!
//! ```
//! # // A user's crate reaches `http` through the re-export only; this stands in for
//! # // the `http` doctests could otherwise see, so an example using it fails here.
//! # mod http {}
//! use std::time::SystemTime;
//! use roadrunner_h1::http::{HeaderMap, StatusCode};
//! use roadrunner_h1::{BodyKind, Config, Event, ServerConn};
//!
//! let mut conn = ServerConn::new(Config::default());
//! conn.recv(b"POST /echo HTTP/1.1\r\nHost: example.com\r\nContent-Length: 5\r\n\r\nhello");
//!
//! let Some(Event::Request(head)) = conn.poll_event().unwrap() else { panic!("no request") };
//! assert_eq!(head.uri.path(), "/echo");
//! assert_eq!(head.body, BodyKind::Length(5));
//!
//! let mut body = Vec::new();
//! loop {
//!     match conn.poll_event().unwrap() {
//!         Some(Event::Data(data)) => body.extend_from_slice(&data),
//!         Some(Event::End(_trailers)) => break,
//!         other => panic!("unexpected {other:?}"),
//!     }
//! }
//! assert_eq!(body, b"hello");
//!
//! let mut out = Vec::new();
//! let mut headers = HeaderMap::new();
//! headers.insert("content-type", "text/plain".parse().unwrap());
//! headers.insert("date", "Sun, 06 Nov 1994 08:49:37 GMT".parse().unwrap());
//! conn.send_response(StatusCode::OK, &headers, Some(5), SystemTime::now(), &mut out).unwrap();
//! conn.send_data(&body, &mut out).unwrap();
//! conn.send_end(None, &mut out).unwrap();
//!
//! assert_eq!(
//!     out,
//!     b"HTTP/1.1 200 OK\r\n\
//!       content-type: text/plain\r\n\
//!       date: Sun, 06 Nov 1994 08:49:37 GMT\r\n\
//!       content-length: 5\r\n\
//!       \r\n\
//!       hello"
//! );
//! assert!(!conn.is_closed()); // keep-alive: ready for the next request
//! ```
//!
//! A body known whole goes out in one call, [`ServerConn::send_full`]; an error
//! `poll_event` returns is answered with [`ServerConn::send_error`], after which the
//! connection is closed. Two servers to copy, each run as a test by `cargo test -p
//! roadrunner-h1`: `examples/blocking.rs` (`std::net`, a thread per connection) and
//! `examples/nonblocking.rs` (one thread, `mio`), with keep-alive, pipelining, error
//! answers and backpressure.
//!
//! # Backpressure
//!
//! The codec reads nothing by itself: it parses what is passed to `recv`, and the next
//! pipelined request only after the current response has ended. So a client that
//! pipelines requests without reading the answers makes `out` grow for as long as the
//! caller goes on reading the socket and answering. Keep a high-water mark: while
//! more than that is waiting to be written, call neither `poll_event` nor `recv` (stop
//! reading the socket). The requests still to come then wait in the kernel's buffers,
//! and TCP's flow control holds the client back until it reads.
//!
//! ```
//! use std::time::SystemTime;
//! use roadrunner_h1::http::{HeaderMap, StatusCode};
//! use roadrunner_h1::{Config, Event, ServerConn};
//!
//! const HIGH_WATER: usize = 4096;
//! let mut conn = ServerConn::new(Config::default());
//! // A client pipelined a thousand requests and reads nothing.
//! conn.recv(&b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".repeat(1000));
//! let mut out = Vec::new();
//! let mut answered = 0;
//! while out.len() < HIGH_WATER {
//!     match conn.poll_event().unwrap() {
//!         Some(Event::End(_)) => {
//!             let ok = StatusCode::OK;
//!             conn.send_full(ok, &HeaderMap::new(), b"hi", SystemTime::now(), &mut out).unwrap();
//!             answered += 1;
//!         }
//!         Some(_) => {}
//!         None => break,
//!     }
//! }
//! // Stopped at the mark, one response past it at most; the rest waits, unparsed,
//! // until `out` has been written and the loop runs again.
//! assert!(answered < 1000);
//! assert!(out.len() < HIGH_WATER + 128);
//! ```

#![warn(missing_docs)]

mod body;
mod config;
mod conn;
mod encode;
mod error;
mod head;
mod scan;
mod whole;

pub use config::Config;
pub use conn::{Event, ServerConn};
pub use error::{Error, ErrorKind, SendError};
pub use head::{BodyKind, RequestHead};

// The types in this API come from these crates; re-exported so versions always match.
pub use bytes;
pub use http;

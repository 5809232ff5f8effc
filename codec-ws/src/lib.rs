//! A sans-IO WebSocket server codec: the opening handshake (RFC 6455 §4.2 over
//! HTTP/1.1, RFC 8441 and RFC 9220 extended CONNECT over HTTP/2 and HTTP/3), frames and
//! messages (RFC 6455), and permessage-deflate (RFC 7692). No sockets, no async, no
//! clock.
//!
//! The [`handshake`] functions check a request head and build the response:
//! [`check_upgrade`] for HTTP/1.1, [`check_extended_connect`] for HTTP/2 and HTTP/3;
//! [`Handshake::accept`] picks the subprotocol and agrees to permessage-deflate. Then a
//! [`Session`] runs the connection: bytes in ([`Session::recv`], or
//! [`Session::recv_bytes`] to take a buffer without a copy), [`Event`]s out
//! ([`Session::poll_event`]), messages in through commands ([`Session::send_text`],
//! [`Session::send_binary`], [`Session::close`]...), bytes to write out
//! ([`Session::poll_transmit`], or [`Session::poll_frame`] for vectored writes).
//!
//! The peer cannot make it panic or hold unbounded memory: a frame declaring more than
//! `max_frame_size` fails with 1009 on its header, before its payload is buffered; a
//! message over `max_message_size` fails with 1009 before it is held (counted after
//! decompression as it inflates, 16 KiB at a time, so a deflate bomb stops at the cap);
//! text is checked as it arrives, so bad UTF-8 fails with 1007 on the fragment (or the
//! part of a frame) that carries it; framing errors fail with 1002. After a failure the session's close frame is still handed out for
//! the driver to write, as rustls does with its alerts.
//!
//! ```
//! use roadrunner_ws::http::{HeaderMap, HeaderValue, Method, Version};
//! use roadrunner_ws::{check_upgrade, AcceptOptions, Config, Event, Session};
//!
//! // The handshake, on the head of an HTTP/1.1 request.
//! let mut headers = HeaderMap::new();
//! headers.insert("upgrade", HeaderValue::from_static("websocket"));
//! headers.insert("connection", HeaderValue::from_static("keep-alive, Upgrade"));
//! headers.insert("sec-websocket-key", HeaderValue::from_static("dGhlIHNhbXBsZSBub25jZQ=="));
//! headers.insert("sec-websocket-version", HeaderValue::from_static("13"));
//! let handshake = check_upgrade(&Method::GET, Version::HTTP_11, &headers).unwrap();
//! let accepted = handshake.accept(&AcceptOptions::default());
//! assert_eq!(accepted.status, 101);
//! assert_eq!(accepted.headers["sec-websocket-accept"], "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
//!
//! // The session, after the 101: a masked text frame "Hello" (RFC 6455 §5.7) comes in.
//! let mut session = Session::new(Config::default(), accepted.deflate);
//! session.recv(&[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
//! let Ok(Some(Event::Text(text))) = session.poll_event() else { panic!("no message") };
//! assert_eq!(text, "Hello");
//! assert_eq!(session.poll_event(), Ok(None));
//!
//! // Echo it; the server's frames are not masked.
//! session.send_text(text).unwrap();
//! let mut out = Vec::new();
//! session.poll_transmit(&mut out);
//! assert_eq!(out, [0x81, 0x05, b'H', b'e', b'l', b'l', b'o']);
//!
//! // The client closes (code 1000, masked with a zero key); the session answers.
//! session.recv(&[0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8]);
//! let Ok(Some(Event::Close { code, .. })) = session.poll_event() else { panic!("no close") };
//! assert_eq!(code.as_u16(), 1000);
//! out.clear();
//! session.poll_transmit(&mut out);
//! assert_eq!(out, [0x88, 0x02, 0x03, 0xe8]);
//! assert!(session.is_closed()); // write `out`, then close the connection
//! ```

#![warn(missing_docs)]

mod close;
mod config;
mod deflate;
mod error;
mod extension;
mod frame;
pub mod handshake;
mod mask;
mod recv;
mod send;
mod session;
mod utf8;

pub use close::{CloseCode, MAX_REASON_LEN};
pub use config::{Config, ConfigError, DEFAULT_MAX_SIZE};
pub use deflate::DeflateParams;
pub use error::{CloseError, ErrorKind, ProtocolError, SendError};
pub use handshake::{
    accept_key, check_extended_connect, check_upgrade, AcceptOptions, Accepted, Handshake,
    HandshakeError, HandshakeErrorKind,
};
pub use send::OutgoingFrame;
pub use session::{Event, Session};

// The types in this API come from these crates; re-exported so versions always match.
pub use bytes;
pub use http;

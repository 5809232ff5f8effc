//! A sans-IO HTTP/2 server codec (RFC 9113): frames, HPACK, streams and flow control,
//! with no sockets, no async and no clock.
//!
//! [`ServerConn`] is one connection's state machine: feed it what the socket read
//! ([`ServerConn::recv`]), take [`Event`]s out ([`ServerConn::poll_event`]), answer
//! streams with commands ([`ServerConn::send_response`], [`ServerConn::send_data`],
//! [`ServerConn::send_trailers`], [`ServerConn::reset`]), and write what
//! [`ServerConn::poll_transmit`] gives to the socket. Limits ([`Config`]) are enforced
//! inside: streams over `max_concurrent_streams` are refused, a header block over
//! `max_header_block` ends the connection with `ENHANCE_YOUR_CALM`, a header list over
//! `max_header_list_size` is answered `431`, a body over `max_content_length` `413`.
//! Floods that cost the server work without asking for any (rapid reset, provoked
//! resets, PING, SETTINGS, PRIORITY, empty frames) run down budgets refilled by useful
//! work and end in `ENHANCE_YOUR_CALM`; [`abuse`] has the numbers, and what the driver
//! must do for them to hold.
//! The layers are public too: [`frame`], HPACK ([`Decoder`], [`Encoder`]), field rules
//! ([`request_head`]), [`flow`] control and the [`stream`] state table.
//!
//! ```
//! use roadrunner_h2::http::{HeaderMap, StatusCode};
//! use roadrunner_h2::{frame, Config, Encoder, Event, ServerConn, Settings};
//!
//! let mut server = ServerConn::new(Config::default());
//!
//! // What a client sends: the preface, its SETTINGS, and a GET on stream 1.
//! let mut client = roadrunner_h2::conn::PREFACE.to_vec();
//! frame::encode_settings(&Settings::default(), &mut client);
//! let mut block = Vec::new();
//! let fields = [(":method", "GET"), (":scheme", "https"), (":authority", "a.example"), (":path", "/hi")];
//! Encoder::new().encode(fields.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())), &mut block);
//! frame::encode_headers(1, &block, true, 16_384, &mut client);
//!
//! server.recv(&client);
//! let Some(Event::Request { stream, head, .. }) = server.poll_event().unwrap() else {
//!     panic!("no request")
//! };
//! assert_eq!(head.uri.path(), "/hi");
//!
//! server.send_response(stream, StatusCode::OK, &HeaderMap::new(), false).unwrap();
//! server.send_data(stream, "hello".into(), true).unwrap();
//! let mut out = Vec::new();
//! server.poll_transmit(&mut out);
//!
//! // Our SETTINGS, the ACK of the client's, the response head, then its body.
//! let mut wire = roadrunner_h2::bytes::BytesMut::from(&out[..]);
//! let mut frames = Vec::new();
//! while let Some(f) = frame::decode(&mut wire, 16_384).unwrap() {
//!     frames.push(f);
//! }
//! assert!(matches!(frames.last(), Some(roadrunner_h2::Frame::Data { end_stream: true, .. })));
//! ```

#![warn(missing_docs)]

pub mod abuse;
pub mod conn;
mod error;
mod fields;
pub mod flow;
pub mod frame;
mod hpack;
pub mod huffman;
mod settings;
pub mod stream;
mod stream_map;
mod transmit;

pub use conn::{Buffered, Config, Event, ServerConn};
pub use error::{ConnError, ErrorCode, StreamError};
pub use fields::{
    field_section_size, parse_request_head, parse_trailers, request_head, response_fields,
    trailer_fields, trailers, Malformed, RequestHead,
};
pub use frame::{Frame, FrameError, Priority};
pub use hpack::{CompressionError, DecodeError, DecodedList, Decoder, Encoder, DEFAULT_TABLE_SIZE};
pub use settings::{
    EffectiveSettings, Settings, DEFAULT_MAX_FRAME_SIZE, MAX_MAX_FRAME_SIZE, MAX_WINDOW_SIZE,
};
pub use stream_map::{IdHasher, StreamMap};
pub use transmit::Transmit;

// The types in this API come from these crates; re-exported so versions always match.
pub use bytes;
pub use http;

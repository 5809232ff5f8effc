//! A sans-IO HTTP/3 server (RFC 9114) with QPACK (RFC 9204) over QUIC: the connection
//! layer on [`quinn_proto`], and below it the codec, with no sockets, no async and no
//! clock.
//!
//! The connection layer:
//! - [`Endpoint`]: one per UDP port, whatever number of sockets share it. Datagrams go
//!   in ([`Endpoint::handle_datagram`]); what comes out is a new connection, an event
//!   for a connection it knows (by [`quinn_proto::ConnectionHandle`]), or a datagram to
//!   send back at once. TLS is the caller's rustls configuration, made QUIC's (TLS 1.3,
//!   ALPN `h3`); the limits are a [`Config`], checked when the endpoint is built.
//! - [`ServerConn`]: one HTTP/3 connection, owning its [`quinn_proto::Connection`], so
//!   it can live in a task of its own away from the endpoint. QUIC's events in
//!   ([`ServerConn::handle_event`], [`ServerConn::handle_timeout`]); [`Event`]s out
//!   (requests with their heads checked as HTTP/2's are, bodies, trailers, resets, the
//!   end); responses in through commands ([`ServerConn::send_response`],
//!   [`ServerConn::send_data`], ...); datagrams out ([`ServerConn::poll_transmit`]).
//!   Its control and QPACK streams, the peer's, SETTINGS and GOAWAY are handled inside;
//!   the limits answer `431` and `413`, broken rules end a stream or the connection
//!   with their RFC codes, and floods run down the budgets of [`abuse`]. Flow control
//!   is QUIC's: a response waits for the client in a bounded queue, and a body the
//!   application does not [`release`](ServerConn::release) is not read, which holds
//!   the client back.
//!
//! The call order is in [`conn`]; the tests in `tests/conn` drive a server against a
//! quinn-proto client in memory, the complete example (`tests/conn/pair`).
//!
//! The codec underneath, public for other uses:
//! - [`frame`]: a [`FrameDecoder`] per stream that carries frames (request, control,
//!   push) takes them off that stream's receive buffer as they complete, enforcing
//!   which frames the stream may carry and their size limits; DATA payloads come out
//!   in zero-copy pieces as they arrive, never buffered whole. `frame::encode_*` write
//!   frames.
//! - [`Settings`], checked as they are read; [`StreamType`], the first bytes of every
//!   unidirectional stream.
//! - [`qpack`]: the [`Decoder`] for the peer's field sections and encoder stream (with
//!   blocked streams and a decoded-size limit, answered 431), and the [`Encoder`] for
//!   ours (static table, literals, and dynamic-table inserts of repeated fields).
//! - [`ErrorCode`] for every H3_* and QPACK_* code; every error that ends the
//!   connection is a [`ConnError`] carrying its code.
//!
//! A request at the codec's level, from a client's encoder to the server and back:
//!
//! ```
//! use roadrunner_h3::bytes::BytesMut;
//! use roadrunner_h3::qpack::{Decoder, DecoderConfig, Encoder};
//! use roadrunner_h3::{frame, Frame, FrameDecoder, Side, StreamKind, StreamType};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // The server's QPACK decoder; its limits go out in the server's SETTINGS.
//! let mut decoder = Decoder::new(DecoderConfig::default());
//! let settings = decoder.settings();
//!
//! // A client that has read those SETTINGS: its encoder stream and a POST.
//! let mut client = Encoder::new(4096);
//! client.apply_settings(&settings);
//! let fields = [(":method", "POST"), (":scheme", "https"), (":authority", "a.example"), (":path", "/up")];
//! let mut section = Vec::new();
//! client.encode(0, fields.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())), &mut section);
//! let mut encoder_stream = Vec::new();
//! StreamType::QPACK_ENCODER.encode(&mut encoder_stream);
//! client.poll_stream(&mut encoder_stream);
//! let mut request = Vec::new();
//! frame::encode_headers(&section, &mut request);
//! frame::encode_data(b"hello", &mut request);
//!
//! // The server: the encoder stream goes to the decoder...
//! let mut uni = BytesMut::from(&encoder_stream[..]);
//! assert_eq!(StreamType::decode(&mut uni), Some(StreamType::QPACK_ENCODER));
//! decoder.feed_encoder_stream(&uni)?;
//!
//! // ...and the request stream's frames, as they come, to a frame decoder.
//! let mut frames = FrameDecoder::new(StreamKind::Request, Side::Server, 16_384);
//! let mut buf = BytesMut::from(&request[..]);
//! let (mut head, mut body) = (None, Vec::new());
//! while let Some(f) = frames.decode(&mut buf)? {
//!     match f {
//!         // `None` would mean: blocked on inserts, back from `poll_unblocked`.
//!         Frame::Headers(section) => head = decoder.decode(0, section)?,
//!         Frame::DataChunk(chunk) => body.extend_from_slice(&chunk),
//!         _ => {}
//!     }
//! }
//! frames.finish(&buf)?; // the client's FIN came between frames
//! let head = head.expect("not blocked");
//! assert_eq!(&head.fields()[3].1[..], b"/up");
//! assert_eq!(body, b"hello");
//!
//! // The response, with the server's own encoder; its encoder stream and the
//! // decoder's acknowledgments go out on the server's two QPACK streams.
//! let mut encoder = Encoder::new(4096);
//! let mut response = Vec::new();
//! section.clear();
//! encoder.encode(0, [(&b":status"[..], &b"200"[..])], &mut section);
//! frame::encode_headers(&section, &mut response);
//! frame::encode_data(b"thanks", &mut response);
//! let mut decoder_stream = Vec::new();
//! StreamType::QPACK_DECODER.encode(&mut decoder_stream);
//! decoder.poll_stream(&mut decoder_stream);
//! assert_eq!(response[..4], [0x01, 0x03, 0x00, 0x00]); // HEADERS: prefix, then...
//! assert_eq!(response[4], 0xd9); // ...:status 200, index 25 of the static table
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]

pub mod abuse;
mod config;
pub mod conn;
mod endpoint;
mod error;
pub mod frame;
pub mod qpack;
mod settings;
pub mod stream;
pub mod varint;

pub use config::{Config, ConfigError, MAX_UNI_STREAMS};
pub use conn::{CloseReason, Event, SendError, ServerConn, READ_AHEAD, STREAM_QUEUE};
pub use endpoint::{DatagramEvent, Endpoint, ALPN};
pub use error::{ConnError, ErrorCode};
pub use frame::{Frame, FrameDecoder};
pub use qpack::{DecodeError, Decoder, DecoderConfig, Encoder, FieldSection};
pub use roadrunner_h2::RequestHead;
pub use settings::Settings;
pub use stream::{Side, StreamKind, StreamType};

// The types in this API come from these crates; re-exported so versions always match.
pub use bytes;
pub use http;
pub use quinn_proto;
pub use rustls;

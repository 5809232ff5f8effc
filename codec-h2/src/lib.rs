//! A sans-IO HTTP/2 server codec (RFC 9113): frames, HPACK, streams and flow control,
//! with no sockets, no async and no clock.
//!
//! The crate is being built in layers; what exists so far is the wire error model
//! ([`ErrorCode`], [`ConnError`], [`StreamError`]), the frame layer ([`frame`]:
//! [`Frame`], [`frame::decode`] and the encoders) and SETTINGS ([`Settings`],
//! [`EffectiveSettings`]).

#![warn(missing_docs)]

mod error;
mod fields;
pub mod flow;
pub mod frame;
mod hpack;
mod settings;
pub mod stream;

pub use error::{ConnError, ErrorCode, StreamError};
pub use fields::{request_head, response_fields, trailer_fields, trailers, RequestHead};
pub use frame::{Frame, FrameError, Priority};
pub use hpack::{CompressionError, DecodeError, DecodedList, Decoder, Encoder, DEFAULT_TABLE_SIZE};
pub use settings::{
    EffectiveSettings, Settings, DEFAULT_MAX_FRAME_SIZE, MAX_MAX_FRAME_SIZE, MAX_WINDOW_SIZE,
};

// The types in this API come from these crates; re-exported so versions always match.
pub use bytes;
pub use http;

//! A sans-IO HTTP/3 codec (RFC 9114) with QPACK (RFC 9204).

#![warn(missing_docs)]

mod error;
pub mod frame;
pub mod qpack;
mod settings;
pub mod stream;
pub mod varint;

pub use error::{ConnError, ErrorCode};
pub use frame::{Frame, FrameDecoder};
pub use qpack::{DecodeError, Decoder, DecoderConfig, Encoder, FieldSection};
pub use settings::Settings;
pub use stream::{Side, StreamKind, StreamType};

// The types in this API come from these crates; re-exported so versions always match.
pub use bytes;
pub use http;

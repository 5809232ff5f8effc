//! A sans-IO HTTP/2 server codec (RFC 9113): frames, HPACK, streams and flow control,
//! with no sockets, no async and no clock.
//!
//! The crate is being built in layers; what exists so far is the wire error model
//! ([`ErrorCode`], [`ConnError`], [`StreamError`]).

#![warn(missing_docs)]

mod error;
pub mod flow;
pub mod stream;

pub use error::{ConnError, ErrorCode, StreamError};

// The types in this API come from these crates; re-exported so versions always match.
pub use bytes;
pub use http;

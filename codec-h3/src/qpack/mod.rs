//! QPACK (RFC 9204), written for this crate: the static table, the dynamic table, the
//! [`Decoder`] that reads the peer's field sections and encoder stream, and the
//! [`Encoder`] that writes ours and reads the peer's decoder stream.
//!
//! Each side of a connection has one of each. The encoder and decoder streams are
//! unidirectional QUIC streams of their own ([`crate::StreamType::QPACK_ENCODER`],
//! [`crate::StreamType::QPACK_DECODER`]); field sections travel in HEADERS frames on
//! request streams. Since QUIC does not order streams, a section may arrive before the
//! inserts it refers to: the decoder holds it ("blocked") until they come.
//!
//! Strings are decoded from Huffman with the HPACK code in
//! [`roadrunner_h2::huffman`]; the encoder sends them plain.

mod decoder;
mod encoder;
mod field;
pub mod instruction;
mod prefix;
mod primitive;
mod static_table;
mod table;

pub use decoder::{Decoder, DecoderConfig};
pub use encoder::Encoder;
pub use field::{DecodeError, FieldSection};
pub use instruction::{DecoderInstruction, EncoderInstruction};

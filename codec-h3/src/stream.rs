//! What a QUIC stream carries in HTTP/3: the type that opens each unidirectional stream
//! (RFC 9114 §6.2, RFC 9204 §4.2), and the kinds of stream that carry frames, which
//! decide the frames allowed on them (§7.2).

use bytes::{Buf, BytesMut};

use crate::varint;

/// The type at the start of a unidirectional stream. Types other than the four
/// defined ones (the reserved `0x1f * N + 0x21` among them) must not be a connection
/// error: the stream is read and discarded, or its reading aborted with
/// H3_STREAM_CREATION_ERROR (§6.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StreamType(pub u64);

impl StreamType {
    /// The control stream: SETTINGS first, then GOAWAY and the push frames.
    pub const CONTROL: StreamType = StreamType(0x00);
    /// A push stream (server to client only), followed by its push ID.
    pub const PUSH: StreamType = StreamType(0x01);
    /// The QPACK encoder stream: encoder instructions, no frames.
    pub const QPACK_ENCODER: StreamType = StreamType(0x02);
    /// The QPACK decoder stream: decoder instructions, no frames.
    pub const QPACK_DECODER: StreamType = StreamType(0x03);

    /// Takes the stream type off the start of `buf`; `None` (with `buf` untouched)
    /// until all of it has arrived.
    pub fn decode(buf: &mut BytesMut) -> Option<StreamType> {
        let (ty, len) = varint::decode(buf)?;
        buf.advance(len);
        Some(StreamType(ty))
    }

    /// Appends the type, the first bytes to write on a new unidirectional stream.
    pub fn encode(self, out: &mut Vec<u8>) {
        varint::encode(self.0, out);
    }

    /// Whether this is one of the reserved `0x1f * N + 0x21` types (§6.2.3), which have
    /// no meaning and may be sent for padding.
    pub fn is_reserved(self) -> bool {
        varint::is_reserved(self.0)
    }
}

/// A stream that carries HTTP/3 frames, as far as the frames allowed on it go.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StreamKind {
    /// A client-initiated bidirectional stream: one request and its response.
    Request,
    /// A control stream.
    Control,
    /// A push stream: one pushed response.
    Push,
}

/// Which end of the connection this endpoint is: some frames may only travel one way
/// (PUSH_PROMISE to the client, MAX_PUSH_ID to the server).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// The endpoint that accepted the connection.
    Server,
    /// The endpoint that opened it.
    Client,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_types_decode_once_complete() {
        let mut out = Vec::new();
        StreamType::QPACK_ENCODER.encode(&mut out);
        StreamType(0x1f * 300 + 0x21).encode(&mut out);
        assert_eq!(out[0], 0x02);
        let mut buf = BytesMut::from(&out[..2]);
        assert_eq!(
            StreamType::decode(&mut buf),
            Some(StreamType::QPACK_ENCODER)
        );
        assert_eq!(
            StreamType::decode(&mut buf),
            None,
            "the second is cut short"
        );
        assert_eq!(buf.len(), 1);
        buf.extend_from_slice(&out[2..]);
        let grease = StreamType::decode(&mut buf).expect("whole now");
        assert!(grease.is_reserved() && buf.is_empty());
        assert!(!StreamType::CONTROL.is_reserved());
    }
}

//! HTTP/3 and QPACK error codes (RFC 9114 §8.1, RFC 9204 §6) and the connection error
//! that carries one.

use std::fmt;

use crate::varint;

/// An HTTP/3 application error code, as carried by CONNECTION_CLOSE, RESET_STREAM and
/// STOP_SENDING. Unknown codes are kept as they are: a receiver treats them as
/// H3_NO_ERROR (§9) but they still print as their number.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ErrorCode(pub u64);

impl ErrorCode {
    /// No error: the connection or stream closes with nothing to signal.
    pub const H3_NO_ERROR: ErrorCode = ErrorCode(0x100);
    /// A protocol violation with no more specific code.
    pub const H3_GENERAL_PROTOCOL_ERROR: ErrorCode = ErrorCode(0x101);
    /// An internal error in the HTTP stack.
    pub const H3_INTERNAL_ERROR: ErrorCode = ErrorCode(0x102);
    /// The peer created a stream this endpoint will not accept.
    pub const H3_STREAM_CREATION_ERROR: ErrorCode = ErrorCode(0x103);
    /// A stream the connection needs (control, QPACK) was closed or reset.
    pub const H3_CLOSED_CRITICAL_STREAM: ErrorCode = ErrorCode(0x104);
    /// A frame not permitted in the current state or on the current stream.
    pub const H3_FRAME_UNEXPECTED: ErrorCode = ErrorCode(0x105);
    /// A frame whose layout or size is wrong.
    pub const H3_FRAME_ERROR: ErrorCode = ErrorCode(0x106);
    /// The peer is generating excessive load.
    pub const H3_EXCESSIVE_LOAD: ErrorCode = ErrorCode(0x107);
    /// A stream or push ID used wrongly.
    pub const H3_ID_ERROR: ErrorCode = ErrorCode(0x108);
    /// An error in the payload of a SETTINGS frame.
    pub const H3_SETTINGS_ERROR: ErrorCode = ErrorCode(0x109);
    /// The control stream did not start with SETTINGS.
    pub const H3_MISSING_SETTINGS: ErrorCode = ErrorCode(0x10a);
    /// The request was rejected before any application processing.
    pub const H3_REQUEST_REJECTED: ErrorCode = ErrorCode(0x10b);
    /// The request or its response is cancelled.
    pub const H3_REQUEST_CANCELLED: ErrorCode = ErrorCode(0x10c);
    /// The client's stream ended without a whole request.
    pub const H3_REQUEST_INCOMPLETE: ErrorCode = ErrorCode(0x10d);
    /// A malformed HTTP message.
    pub const H3_MESSAGE_ERROR: ErrorCode = ErrorCode(0x10e);
    /// The TCP connection of a CONNECT request was reset or closed abnormally.
    pub const H3_CONNECT_ERROR: ErrorCode = ErrorCode(0x10f);
    /// The request cannot be served over HTTP/3; retry over HTTP/1.1.
    pub const H3_VERSION_FALLBACK: ErrorCode = ErrorCode(0x110);
    /// The decoder could not interpret an encoded field section.
    pub const QPACK_DECOMPRESSION_FAILED: ErrorCode = ErrorCode(0x200);
    /// The decoder could not interpret an instruction on the encoder stream.
    pub const QPACK_ENCODER_STREAM_ERROR: ErrorCode = ErrorCode(0x201);
    /// The encoder could not interpret an instruction on the decoder stream.
    pub const QPACK_DECODER_STREAM_ERROR: ErrorCode = ErrorCode(0x202);

    /// The code's name in RFC 9114 or RFC 9204, if it has one.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0x100 => "H3_NO_ERROR",
            0x101 => "H3_GENERAL_PROTOCOL_ERROR",
            0x102 => "H3_INTERNAL_ERROR",
            0x103 => "H3_STREAM_CREATION_ERROR",
            0x104 => "H3_CLOSED_CRITICAL_STREAM",
            0x105 => "H3_FRAME_UNEXPECTED",
            0x106 => "H3_FRAME_ERROR",
            0x107 => "H3_EXCESSIVE_LOAD",
            0x108 => "H3_ID_ERROR",
            0x109 => "H3_SETTINGS_ERROR",
            0x10a => "H3_MISSING_SETTINGS",
            0x10b => "H3_REQUEST_REJECTED",
            0x10c => "H3_REQUEST_CANCELLED",
            0x10d => "H3_REQUEST_INCOMPLETE",
            0x10e => "H3_MESSAGE_ERROR",
            0x10f => "H3_CONNECT_ERROR",
            0x110 => "H3_VERSION_FALLBACK",
            0x200 => "QPACK_DECOMPRESSION_FAILED",
            0x201 => "QPACK_ENCODER_STREAM_ERROR",
            0x202 => "QPACK_DECODER_STREAM_ERROR",
            _ => return None,
        })
    }

    /// Whether the code is one of the reserved `0x1f * N + 0x21` codes (§8.1), which
    /// an endpoint may send instead of H3_NO_ERROR to exercise its peer.
    pub fn is_reserved(self) -> bool {
        varint::is_reserved(self.0)
    }
}

impl fmt::Debug for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "ErrorCode({:#x})", self.0),
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// An error that ends the whole connection: the driver closes it with `code`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnError {
    /// The wire code for CONNECTION_CLOSE.
    pub code: ErrorCode,
    /// What was wrong, for logs (also fit for CONNECTION_CLOSE's reason phrase).
    pub reason: &'static str,
}

impl ConnError {
    /// A connection error with `code`.
    pub const fn new(code: ErrorCode, reason: &'static str) -> Self {
        ConnError { code, reason }
    }
}

impl fmt::Display for ConnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "connection error {}: {}", self.code, self.reason)
    }
}

impl std::error::Error for ConnError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_print_their_names_and_unknown_codes_their_number() {
        assert_eq!(
            ErrorCode::H3_EXCESSIVE_LOAD.to_string(),
            "H3_EXCESSIVE_LOAD"
        );
        assert_eq!(
            ErrorCode::QPACK_DECODER_STREAM_ERROR.to_string(),
            "QPACK_DECODER_STREAM_ERROR"
        );
        assert_eq!(ErrorCode(0x1234).to_string(), "ErrorCode(0x1234)");
        assert_eq!(ErrorCode(0x110).name(), Some("H3_VERSION_FALLBACK"));
        // Every code between the first and last of each range has a name.
        assert!((0x100..=0x110).all(|c| ErrorCode(c).name().is_some()));
        assert!((0x200..=0x202).all(|c| ErrorCode(c).name().is_some()));
        assert_eq!(ErrorCode(0x111).name(), None);
    }

    #[test]
    fn reserved_codes_are_recognised() {
        assert!(ErrorCode(0x21).is_reserved());
        assert!(ErrorCode(0x21 + 0x1f * 1000).is_reserved());
        assert!(!ErrorCode::H3_NO_ERROR.is_reserved());
        let e = ConnError::new(ErrorCode::H3_FRAME_ERROR, "short");
        assert_eq!(e.to_string(), "connection error H3_FRAME_ERROR: short");
    }
}

//! HTTP/2 error codes (RFC 9113 §7) and the two scopes an error can have: the whole
//! connection (GOAWAY) or one stream (RST_STREAM).

use std::fmt;

/// An HTTP/2 error code, as carried by RST_STREAM and GOAWAY. Unknown codes are kept
/// as they are (§7: they must not trigger special behaviour).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ErrorCode(pub u32);

impl ErrorCode {
    /// Graceful shutdown, or no error.
    pub const NO_ERROR: ErrorCode = ErrorCode(0x0);
    /// A protocol error with no more specific code.
    pub const PROTOCOL_ERROR: ErrorCode = ErrorCode(0x1);
    /// An unexpected internal error.
    pub const INTERNAL_ERROR: ErrorCode = ErrorCode(0x2);
    /// The peer broke the flow-control protocol.
    pub const FLOW_CONTROL_ERROR: ErrorCode = ErrorCode(0x3);
    /// A SETTINGS frame was not acknowledged in time.
    pub const SETTINGS_TIMEOUT: ErrorCode = ErrorCode(0x4);
    /// A frame arrived on a half-closed stream.
    pub const STREAM_CLOSED: ErrorCode = ErrorCode(0x5);
    /// A frame had an invalid size.
    pub const FRAME_SIZE_ERROR: ErrorCode = ErrorCode(0x6);
    /// The stream was refused before any application processing.
    pub const REFUSED_STREAM: ErrorCode = ErrorCode(0x7);
    /// The stream is no longer needed.
    pub const CANCEL: ErrorCode = ErrorCode(0x8);
    /// The header compression context cannot be maintained.
    pub const COMPRESSION_ERROR: ErrorCode = ErrorCode(0x9);
    /// A CONNECT request's connection was reset or closed.
    pub const CONNECT_ERROR: ErrorCode = ErrorCode(0xa);
    /// The peer is behaving in a way that may be abusive.
    pub const ENHANCE_YOUR_CALM: ErrorCode = ErrorCode(0xb);
    /// The transport does not meet the minimum security requirements.
    pub const INADEQUATE_SECURITY: ErrorCode = ErrorCode(0xc);
    /// The request must be retried over HTTP/1.1.
    pub const HTTP_1_1_REQUIRED: ErrorCode = ErrorCode(0xd);

    /// The code's name in RFC 9113, if it has one.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0x0 => "NO_ERROR",
            0x1 => "PROTOCOL_ERROR",
            0x2 => "INTERNAL_ERROR",
            0x3 => "FLOW_CONTROL_ERROR",
            0x4 => "SETTINGS_TIMEOUT",
            0x5 => "STREAM_CLOSED",
            0x6 => "FRAME_SIZE_ERROR",
            0x7 => "REFUSED_STREAM",
            0x8 => "CANCEL",
            0x9 => "COMPRESSION_ERROR",
            0xa => "CONNECT_ERROR",
            0xb => "ENHANCE_YOUR_CALM",
            0xc => "INADEQUATE_SECURITY",
            0xd => "HTTP_1_1_REQUIRED",
            _ => return None,
        })
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

/// An error that ends the whole connection: the codec sends GOAWAY with `code`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnError {
    /// The wire code for GOAWAY.
    pub code: ErrorCode,
    /// What was wrong, for logs (also sent as GOAWAY debug data).
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

/// An error that ends one stream: the codec sends RST_STREAM with `code`; the
/// connection and its other streams go on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamError {
    /// The stream it ends.
    pub stream: u32,
    /// The wire code for RST_STREAM.
    pub code: ErrorCode,
    /// What was wrong, for logs.
    pub reason: &'static str,
}

impl fmt::Display for StreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "stream {} error {}: {}",
            self.stream, self.code, self.reason
        )
    }
}

impl std::error::Error for StreamError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_print_their_names_and_unknown_codes_their_number() {
        assert_eq!(
            ErrorCode::ENHANCE_YOUR_CALM.to_string(),
            "ENHANCE_YOUR_CALM"
        );
        assert_eq!(ErrorCode(0x1234).to_string(), "ErrorCode(0x1234)");
        assert_eq!(ErrorCode(0xd).name(), Some("HTTP_1_1_REQUIRED"));
    }
}

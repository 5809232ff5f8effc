//! Errors: what the peer did wrong ([`ProtocolError`]) and what the caller did wrong
//! ([`SendError`], [`CloseError`]).

use std::fmt;

use crate::close::CloseCode;

/// The peer broke the protocol or a cap: the session has failed, and a close frame
/// with [`close_code`](Self::close_code) is queued for the driver to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProtocolError {
    kind: ErrorKind,
}

/// What the peer did wrong.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// RSV2 or RSV3 set, or RSV1 where permessage-deflate does not allow it (1002).
    ReservedBits,
    /// An opcode RFC 6455 reserves (1002).
    ReservedOpcode(u8),
    /// A client frame without a mask (1002).
    UnmaskedFrame,
    /// A 64-bit length with its top bit set (1002).
    InvalidLength,
    /// A control frame over 125 bytes (1002).
    ControlFrameTooLong,
    /// A control frame without FIN (1002).
    FragmentedControlFrame,
    /// A continuation frame with no message to continue (1002).
    UnexpectedContinuation,
    /// A new data message while a fragmented one is unfinished (1002).
    ExpectedContinuation,
    /// A close frame with a one-byte payload (1002).
    InvalidClosePayload,
    /// A close frame with a code that may not be sent (1002).
    InvalidCloseCode(CloseCode),
    /// Text (or a close reason) that is not UTF-8 (1007).
    InvalidUtf8,
    /// A compressed message that does not inflate (1007).
    InvalidCompressedData,
    /// A frame declaring more than `max_frame_size` (1009).
    FrameTooLarge,
    /// A message over `max_message_size`, counted after decompression (1009).
    MessageTooLarge,
}

impl ProtocolError {
    pub(crate) fn new(kind: ErrorKind) -> Self {
        ProtocolError { kind }
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The code of the close frame the session queued.
    pub fn close_code(&self) -> CloseCode {
        match self.kind {
            ErrorKind::InvalidUtf8 | ErrorKind::InvalidCompressedData => CloseCode::INVALID_PAYLOAD,
            ErrorKind::FrameTooLarge | ErrorKind::MessageTooLarge => CloseCode::MESSAGE_TOO_BIG,
            _ => CloseCode::PROTOCOL_ERROR,
        }
    }
}

impl From<ErrorKind> for ProtocolError {
    fn from(kind: ErrorKind) -> Self {
        ProtocolError::new(kind)
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            ErrorKind::ReservedBits => f.write_str("reserved bits set"),
            ErrorKind::ReservedOpcode(op) => write!(f, "reserved opcode {op:#x}"),
            ErrorKind::UnmaskedFrame => f.write_str("unmasked client frame"),
            ErrorKind::InvalidLength => f.write_str("frame length with its top bit set"),
            ErrorKind::ControlFrameTooLong => f.write_str("control frame over 125 bytes"),
            ErrorKind::FragmentedControlFrame => f.write_str("fragmented control frame"),
            ErrorKind::UnexpectedContinuation => f.write_str("continuation without a message"),
            ErrorKind::ExpectedContinuation => f.write_str("new message inside a fragmented one"),
            ErrorKind::InvalidClosePayload => f.write_str("close frame with a one-byte payload"),
            ErrorKind::InvalidCloseCode(code) => write!(f, "invalid close code {code}"),
            ErrorKind::InvalidUtf8 => f.write_str("text that is not UTF-8"),
            ErrorKind::InvalidCompressedData => {
                f.write_str("compressed data that does not inflate")
            }
            ErrorKind::FrameTooLarge => f.write_str("frame over max_frame_size"),
            ErrorKind::MessageTooLarge => f.write_str("message over max_message_size"),
        }
    }
}

impl std::error::Error for ProtocolError {}

/// Why a message, ping or pong was not queued; nothing was queued.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendError {
    /// A close frame was sent or received (or the session failed): no more frames.
    Closed,
    /// A ping or pong payload over 125 bytes.
    ControlTooLong,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SendError::Closed => "the session is closing or closed",
            SendError::ControlTooLong => "control frame payload over 125 bytes",
        })
    }
}

impl std::error::Error for SendError {}

/// Why [`Session::close`](crate::Session::close) queued nothing.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseError {
    /// A close frame was already sent or queued (or the session failed).
    AlreadyClosing,
    /// A code that may not be sent ([`CloseCode::is_valid`] is false).
    InvalidCode,
    /// A reason over [`MAX_REASON_LEN`](crate::MAX_REASON_LEN) bytes.
    ReasonTooLong,
}

impl fmt::Display for CloseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CloseError::AlreadyClosing => "a close frame was already queued",
            CloseError::InvalidCode => "close code that may not be sent",
            CloseError::ReasonTooLong => "close reason over 123 bytes",
        })
    }
}

impl std::error::Error for CloseError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_codes() {
        let cases = [
            (ErrorKind::ReservedBits, 1002),
            (ErrorKind::ReservedOpcode(3), 1002),
            (ErrorKind::UnmaskedFrame, 1002),
            (ErrorKind::InvalidLength, 1002),
            (ErrorKind::ControlFrameTooLong, 1002),
            (ErrorKind::FragmentedControlFrame, 1002),
            (ErrorKind::UnexpectedContinuation, 1002),
            (ErrorKind::ExpectedContinuation, 1002),
            (ErrorKind::InvalidClosePayload, 1002),
            (ErrorKind::InvalidCloseCode(CloseCode::new(1005)), 1002),
            (ErrorKind::InvalidUtf8, 1007),
            (ErrorKind::InvalidCompressedData, 1007),
            (ErrorKind::FrameTooLarge, 1009),
            (ErrorKind::MessageTooLarge, 1009),
        ];
        for (kind, code) in cases {
            let e = ProtocolError::new(kind);
            assert_eq!(e.close_code().as_u16(), code, "{kind:?}");
            assert!(!e.to_string().is_empty());
        }
    }
}

//! Errors: what the peer did wrong ([`Error`]) and what the caller did wrong ([`SendError`]).

use std::fmt;

use http::StatusCode;

/// A request the codec refuses; answer it with [`Error::status`], then close.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
}

/// Why a request was refused.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request line exceeds `max_request_line` (414).
    RequestLineTooLong,
    /// A header or trailer line exceeds `max_header_line` (431).
    HeaderLineTooLong,
    /// The header or trailer block exceeds `max_header_block` (431).
    HeaderBlockTooLarge,
    /// More fields than `max_header_count` (431).
    TooManyHeaders,
    /// The body exceeds `max_content_length` (413).
    BodyTooLarge,
    /// Malformed or ambiguous request (400), with a short reason.
    BadRequest(&'static str),
    /// A transfer coding other than `chunked` (501).
    UnsupportedTransferCoding,
    /// A well-formed HTTP version other than 1.0 and 1.1 (505).
    VersionNotSupported,
    /// The peer closed its side in the middle of a request (400).
    UnexpectedEof,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind) -> Self {
        Error { kind }
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The status code of the error response to send.
    pub fn status(&self) -> StatusCode {
        match self.kind {
            ErrorKind::RequestLineTooLong => StatusCode::URI_TOO_LONG,
            ErrorKind::HeaderLineTooLong
            | ErrorKind::HeaderBlockTooLarge
            | ErrorKind::TooManyHeaders => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ErrorKind::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorKind::BadRequest(_) | ErrorKind::UnexpectedEof => StatusCode::BAD_REQUEST,
            ErrorKind::UnsupportedTransferCoding => StatusCode::NOT_IMPLEMENTED,
            ErrorKind::VersionNotSupported => StatusCode::HTTP_VERSION_NOT_SUPPORTED,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            ErrorKind::RequestLineTooLong => f.write_str("request line too long"),
            ErrorKind::HeaderLineTooLong => f.write_str("header line too long"),
            ErrorKind::HeaderBlockTooLarge => f.write_str("header block too large"),
            ErrorKind::TooManyHeaders => f.write_str("too many header fields"),
            ErrorKind::BodyTooLarge => f.write_str("request body too large"),
            ErrorKind::BadRequest(why) => write!(f, "bad request: {why}"),
            ErrorKind::UnsupportedTransferCoding => f.write_str("unsupported transfer coding"),
            ErrorKind::VersionNotSupported => f.write_str("HTTP version not supported"),
            ErrorKind::UnexpectedEof => f.write_str("peer closed in the middle of a request"),
        }
    }
}

impl std::error::Error for Error {}

/// Misuse of the send API by the caller; nothing was written to `out`.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendError {
    /// There is no request (or error) waiting for a response.
    NoRequest,
    /// The response head was already sent.
    AlreadyStarted,
    /// `send_data`/`send_end` without a started response.
    NotStarted,
    /// The data would exceed the declared content-length.
    BodyTooLong,
    /// `send_end` before the declared content-length was sent; the response is broken
    /// and the connection is marked closed.
    BodyTooShort,
    /// `101 Switching Protocols` for a request that did not ask for an upgrade.
    UnexpectedUpgrade,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SendError::NoRequest => "no request is waiting for a response",
            SendError::AlreadyStarted => "the response was already started",
            SendError::NotStarted => "no response has been started",
            SendError::BodyTooLong => "body longer than the declared content-length",
            SendError::BodyTooShort => "body shorter than the declared content-length",
            SendError::UnexpectedUpgrade => "101 response to a request without upgrade",
        })
    }
}

impl std::error::Error for SendError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        let cases = [
            (ErrorKind::RequestLineTooLong, 414),
            (ErrorKind::HeaderLineTooLong, 431),
            (ErrorKind::HeaderBlockTooLarge, 431),
            (ErrorKind::TooManyHeaders, 431),
            (ErrorKind::BodyTooLarge, 413),
            (ErrorKind::BadRequest("x"), 400),
            (ErrorKind::UnsupportedTransferCoding, 501),
            (ErrorKind::VersionNotSupported, 505),
            (ErrorKind::UnexpectedEof, 400),
        ];
        for (kind, code) in cases {
            let e = Error::new(kind);
            assert_eq!(e.status().as_u16(), code, "{kind:?}");
            assert!(!e.to_string().is_empty());
        }
    }
}

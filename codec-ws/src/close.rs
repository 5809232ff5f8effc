//! Close codes and the payload of a close frame (RFC 6455 §5.5.1, §7.4).

use std::fmt;

use crate::error::ErrorKind;

/// The status code of a close frame (RFC 6455 §7.4).
///
/// Any `u16` can be held; [`is_valid`](Self::is_valid) says whether it may travel in a
/// close frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CloseCode(u16);

impl CloseCode {
    /// 1000: the purpose of the connection was fulfilled.
    pub const NORMAL: CloseCode = CloseCode(1000);
    /// 1001: the endpoint is going away (server shutting down, page navigated away).
    pub const GOING_AWAY: CloseCode = CloseCode(1001);
    /// 1002: the peer broke the protocol.
    pub const PROTOCOL_ERROR: CloseCode = CloseCode(1002);
    /// 1003: a kind of data the endpoint cannot accept (binary to a text-only endpoint).
    pub const UNSUPPORTED_DATA: CloseCode = CloseCode(1003);
    /// 1005: no code was present. Reported for an empty close frame; never sent.
    pub const NO_STATUS: CloseCode = CloseCode(1005);
    /// 1006: the connection dropped without a close frame. Never sent; for drivers to
    /// report.
    pub const ABNORMAL: CloseCode = CloseCode(1006);
    /// 1007: message data inconsistent with its type (text that is not UTF-8, or
    /// compressed data that does not inflate).
    pub const INVALID_PAYLOAD: CloseCode = CloseCode(1007);
    /// 1008: a message that violates the endpoint's policy.
    pub const POLICY_VIOLATION: CloseCode = CloseCode(1008);
    /// 1009: a frame or message over the endpoint's size caps.
    pub const MESSAGE_TOO_BIG: CloseCode = CloseCode(1009);
    /// 1010: the client expected an extension the server did not agree to.
    pub const MANDATORY_EXTENSION: CloseCode = CloseCode(1010);
    /// 1011: the server met an unexpected condition.
    pub const INTERNAL_ERROR: CloseCode = CloseCode(1011);
    /// 1015: the TLS handshake failed. Never sent.
    pub const TLS_HANDSHAKE: CloseCode = CloseCode(1015);

    /// A code from its number.
    pub const fn new(code: u16) -> Self {
        CloseCode(code)
    }

    /// The number.
    pub const fn as_u16(self) -> u16 {
        self.0
    }

    /// Whether the code may appear in a close frame: 1000–1003 and 1007–1011 (the codes
    /// RFC 6455 defines for the wire) and 3000–4999 (registered and private use).
    /// 1004–1006 and 1015 are reserved and never sent; the rest of 0–2999 is
    /// unassigned by RFC 6455, and 1012–1014, registered with IANA later, are held to
    /// the RFC's set as the Autobahn suite expects.
    pub const fn is_valid(self) -> bool {
        matches!(self.0, 1000..=1003 | 1007..=1011 | 3000..=4999)
    }
}

impl From<u16> for CloseCode {
    fn from(code: u16) -> Self {
        CloseCode(code)
    }
}

impl From<CloseCode> for u16 {
    fn from(code: CloseCode) -> Self {
        code.0
    }
}

impl fmt::Display for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// The longest reason a close frame can carry: a control frame's 125 bytes less the
/// code's two.
pub const MAX_REASON_LEN: usize = 123;

/// Reads a close frame's payload: `(code, reason)`, with [`CloseCode::NO_STATUS`] for an
/// empty payload.
pub(crate) fn parse(payload: &[u8]) -> Result<(CloseCode, String), ErrorKind> {
    match payload {
        [] => Ok((CloseCode::NO_STATUS, String::new())),
        [_] => Err(ErrorKind::InvalidClosePayload),
        [hi, lo, reason @ ..] => {
            let code = CloseCode(u16::from_be_bytes([*hi, *lo]));
            if !code.is_valid() {
                return Err(ErrorKind::InvalidCloseCode(code));
            }
            let reason = std::str::from_utf8(reason).map_err(|_| ErrorKind::InvalidUtf8)?;
            Ok((code, reason.to_owned()))
        }
    }
}

/// A close frame's payload for `code` and `reason`; the caller has checked both.
pub(crate) fn payload(code: CloseCode, reason: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + reason.len());
    out.extend_from_slice(&code.0.to_be_bytes());
    out.extend_from_slice(reason.as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_codes_are_the_rfc_set() {
        let valid: Vec<u16> = (0..=u16::MAX)
            .filter(|&c| CloseCode(c).is_valid())
            .collect();
        let mut expected: Vec<u16> = (1000..=1003).chain(1007..=1011).collect();
        expected.extend(3000..=4999);
        assert_eq!(valid, expected);
    }

    #[test]
    fn empty_payload_is_no_status() {
        assert_eq!(parse(b""), Ok((CloseCode::NO_STATUS, String::new())));
    }

    #[test]
    fn one_byte_payload_is_a_protocol_error() {
        assert_eq!(parse(&[3]), Err(ErrorKind::InvalidClosePayload));
    }

    #[test]
    fn reserved_and_unassigned_codes_are_refused() {
        for code in [
            0u16, 999, 1004, 1005, 1006, 1012, 1013, 1014, 1015, 1016, 2999, 5000,
        ] {
            assert_eq!(
                parse(&code.to_be_bytes()),
                Err(ErrorKind::InvalidCloseCode(CloseCode(code))),
                "{code}"
            );
        }
    }

    #[test]
    fn reason_must_be_utf8() {
        assert_eq!(parse(&[0x03, 0xe8, 0xff]), Err(ErrorKind::InvalidUtf8));
        assert_eq!(
            parse(&[0x03, 0xe8, b'o', b'k']),
            Ok((CloseCode::NORMAL, "ok".to_owned()))
        );
    }

    #[test]
    fn payload_round_trips() {
        let p = payload(CloseCode::new(4000), "bye");
        assert_eq!(parse(&p), Ok((CloseCode::new(4000), "bye".to_owned())));
    }
}

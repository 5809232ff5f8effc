//! SETTINGS parameters (RFC 9114 §7.2.4.1, RFC 9204 §5, RFC 9220 §3, RFC 9297 §2.1.1):
//! the values one SETTINGS frame carries, checked as they are read.

use crate::error::{ConnError, ErrorCode};
use crate::varint;

const QPACK_MAX_TABLE_CAPACITY: u64 = 0x1;
const MAX_FIELD_SECTION_SIZE: u64 = 0x6;
const QPACK_BLOCKED_STREAMS: u64 = 0x7;
const ENABLE_CONNECT_PROTOCOL: u64 = 0x8;
const H3_DATAGRAM: u64 = 0x33;

/// HTTP/2 settings with no HTTP/3 meaning (ENABLE_PUSH, MAX_CONCURRENT_STREAMS,
/// INITIAL_WINDOW_SIZE, MAX_FRAME_SIZE): receiving one is an error (§7.2.4.1).
const HTTP2_ONLY: [u64; 4] = [0x2, 0x3, 0x4, 0x5];

/// The reserved setting [`Settings::encode`] adds so that peers keep ignoring what
/// they do not know (§7.2.4.1 asks for at least one).
const GREASE: u64 = 0x1f * 7 + 0x21;

/// The parameters one SETTINGS frame carries; `None` for each one it leaves out, which
/// then has its default (0 for the QPACK ones and the flags, unlimited for
/// MAX_FIELD_SECTION_SIZE). Unknown and reserved identifiers are ignored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Settings {
    /// SETTINGS_QPACK_MAX_TABLE_CAPACITY: the most the sender's QPACK decoder lets the
    /// peer's encoder put in the dynamic table.
    pub qpack_max_table_capacity: Option<u64>,
    /// SETTINGS_MAX_FIELD_SECTION_SIZE: the largest decoded field section the sender
    /// accepts (name + value + 32 per field).
    pub max_field_section_size: Option<u64>,
    /// SETTINGS_QPACK_BLOCKED_STREAMS: how many streams the sender's decoder lets be
    /// blocked on dynamic-table inserts.
    pub qpack_blocked_streams: Option<u64>,
    /// SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 9220): whether the sender accepts
    /// extended CONNECT.
    pub enable_connect_protocol: Option<bool>,
    /// SETTINGS_H3_DATAGRAM (RFC 9297): whether the sender accepts HTTP datagrams.
    pub h3_datagram: Option<bool>,
}

impl Settings {
    /// Reads a SETTINGS payload. Errors: a truncated parameter (H3_FRAME_ERROR), an
    /// HTTP/2-only identifier, an identifier sent twice or a flag other than 0 or 1
    /// (H3_SETTINGS_ERROR).
    pub(crate) fn decode(mut payload: &[u8]) -> Result<Settings, ConnError> {
        let mut s = Settings::default();
        let mut ids = Vec::new();
        while !payload.is_empty() {
            let (id, value, len) = pair(payload).ok_or(ConnError::new(
                ErrorCode::H3_FRAME_ERROR,
                "SETTINGS parameter cut short",
            ))?;
            payload = &payload[len..];
            ids.push(id);
            match id {
                QPACK_MAX_TABLE_CAPACITY => s.qpack_max_table_capacity = Some(value),
                MAX_FIELD_SECTION_SIZE => s.max_field_section_size = Some(value),
                QPACK_BLOCKED_STREAMS => s.qpack_blocked_streams = Some(value),
                ENABLE_CONNECT_PROTOCOL => s.enable_connect_protocol = Some(flag(value)?),
                H3_DATAGRAM => s.h3_datagram = Some(flag(value)?),
                _ if HTTP2_ONLY.contains(&id) => {
                    return Err(settings_error("HTTP/2 setting in SETTINGS"));
                }
                _ => {}
            }
        }
        // Sorting is O(n log n) where pairwise checks would be quadratic in a frame
        // of a few thousand reserved parameters.
        ids.sort_unstable();
        if ids.windows(2).any(|w| w[0] == w[1]) {
            return Err(settings_error("setting identifier repeated"));
        }
        Ok(s)
    }

    /// Writes the payload: each parameter that is set, in identifier order, then one
    /// reserved parameter.
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        let entries = [
            (QPACK_MAX_TABLE_CAPACITY, self.qpack_max_table_capacity),
            (MAX_FIELD_SECTION_SIZE, self.max_field_section_size),
            (QPACK_BLOCKED_STREAMS, self.qpack_blocked_streams),
            (
                ENABLE_CONNECT_PROTOCOL,
                self.enable_connect_protocol.map(u64::from),
            ),
            (H3_DATAGRAM, self.h3_datagram.map(u64::from)),
            (GREASE, Some(0)),
        ];
        for (id, value) in entries {
            if let Some(value) = value {
                varint::encode(id, out);
                varint::encode(value, out);
            }
        }
    }
}

fn pair(buf: &[u8]) -> Option<(u64, u64, usize)> {
    let (id, a) = varint::decode(buf)?;
    let (value, b) = varint::decode(&buf[a..])?;
    Some((id, value, a + b))
}

fn flag(value: u64) -> Result<bool, ConnError> {
    match value {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(settings_error("boolean setting other than 0 or 1")),
    }
}

fn settings_error(reason: &'static str) -> ConnError {
    ConnError::new(ErrorCode::H3_SETTINGS_ERROR, reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(pairs: &[(u64, u64)]) -> Vec<u8> {
        let mut out = Vec::new();
        for &(id, value) in pairs {
            varint::encode(id, &mut out);
            varint::encode(value, &mut out);
        }
        out
    }

    fn code(pairs: &[(u64, u64)]) -> ErrorCode {
        Settings::decode(&payload(pairs))
            .expect_err("must fail")
            .code
    }

    #[test]
    fn known_settings_are_read_and_others_ignored() {
        let s = Settings::decode(&payload(&[
            (0x1, 4096),
            (0x6, 1 << 40),
            (0x7, 16),
            (0x8, 1),
            (0x33, 0),
            (0x21, 7),
            (0x0, 3),
            (0x1234, 5),
        ]))
        .expect("valid");
        assert_eq!(
            s,
            Settings {
                qpack_max_table_capacity: Some(4096),
                max_field_section_size: Some(1 << 40),
                qpack_blocked_streams: Some(16),
                enable_connect_protocol: Some(true),
                h3_datagram: Some(false),
            }
        );
        assert_eq!(Settings::decode(&[]), Ok(Settings::default()));
    }

    #[test]
    fn bad_settings_are_errors() {
        for id in HTTP2_ONLY {
            assert_eq!(code(&[(id, 0)]), ErrorCode::H3_SETTINGS_ERROR, "{id}");
        }
        assert_eq!(code(&[(0x1, 0), (0x1, 0)]), ErrorCode::H3_SETTINGS_ERROR);
        assert_eq!(
            code(&[(0x40, 0), (0x6, 1), (0x40, 1)]),
            ErrorCode::H3_SETTINGS_ERROR,
            "repeated reserved identifier"
        );
        assert_eq!(code(&[(0x8, 2)]), ErrorCode::H3_SETTINGS_ERROR);
        assert_eq!(code(&[(0x33, 7)]), ErrorCode::H3_SETTINGS_ERROR);
        let mut cut = payload(&[(0x1, 300)]);
        cut.pop();
        assert_eq!(
            Settings::decode(&cut).map_err(|e| e.code),
            Err(ErrorCode::H3_FRAME_ERROR)
        );
        assert_eq!(
            Settings::decode(&[0x06]).map_err(|e| e.code),
            Err(ErrorCode::H3_FRAME_ERROR),
            "an identifier without its value"
        );
    }

    #[test]
    fn encoding_round_trips_with_a_reserved_setting() {
        let s = Settings {
            qpack_max_table_capacity: Some(0),
            max_field_section_size: Some(32_768),
            qpack_blocked_streams: None,
            enable_connect_protocol: Some(true),
            h3_datagram: None,
        };
        let mut out = Vec::new();
        s.encode(&mut out);
        assert!(varint::is_reserved(GREASE));
        assert_eq!(Settings::decode(&out), Ok(s));
        assert!(out.ends_with(&payload(&[(GREASE, 0)])));
    }
}

//! SETTINGS parameters (RFC 9113 §6.5.2, RFC 8441 §3): the values one SETTINGS frame
//! carries, and the effective values an endpoint is bound by once they are applied.

use crate::error::{ConnError, ErrorCode};

const HEADER_TABLE_SIZE: u16 = 0x1;
const ENABLE_PUSH: u16 = 0x2;
const MAX_CONCURRENT_STREAMS: u16 = 0x3;
const INITIAL_WINDOW_SIZE: u16 = 0x4;
const MAX_FRAME_SIZE: u16 = 0x5;
const MAX_HEADER_LIST_SIZE: u16 = 0x6;
const ENABLE_CONNECT_PROTOCOL: u16 = 0x8;

/// The largest flow-control window, and so the largest SETTINGS_INITIAL_WINDOW_SIZE.
pub const MAX_WINDOW_SIZE: u32 = (1 << 31) - 1;
/// The SETTINGS_MAX_FRAME_SIZE every endpoint starts with and must always accept.
pub const DEFAULT_MAX_FRAME_SIZE: u32 = 16_384;
/// The largest SETTINGS_MAX_FRAME_SIZE allowed: the frame length field's limit.
pub const MAX_MAX_FRAME_SIZE: u32 = (1 << 24) - 1;

/// The parameters one SETTINGS frame carries; `None` for each one it leaves out.
///
/// When a frame repeats a parameter the last value wins, which is what processing
/// them in order (§6.5.3) leaves behind. Parameters this crate does not know are
/// ignored (§6.5.2).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Settings {
    /// SETTINGS_HEADER_TABLE_SIZE: the HPACK dynamic table size the sender's decoder allows.
    pub header_table_size: Option<u32>,
    /// SETTINGS_ENABLE_PUSH: whether the sender accepts server push.
    pub enable_push: Option<bool>,
    /// SETTINGS_MAX_CONCURRENT_STREAMS: how many streams the sender lets its peer open.
    pub max_concurrent_streams: Option<u32>,
    /// SETTINGS_INITIAL_WINDOW_SIZE: the sender's initial stream receive window.
    pub initial_window_size: Option<u32>,
    /// SETTINGS_MAX_FRAME_SIZE: the largest frame payload the sender accepts.
    pub max_frame_size: Option<u32>,
    /// SETTINGS_MAX_HEADER_LIST_SIZE: the largest field section the sender accepts.
    pub max_header_list_size: Option<u32>,
    /// SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441): whether the sender accepts the
    /// extended CONNECT method.
    pub enable_connect_protocol: Option<bool>,
}

impl Settings {
    /// Reads a SETTINGS payload, checking every known value's range (§6.5.2).
    pub(crate) fn decode(payload: &[u8]) -> Result<Settings, ConnError> {
        if payload.len() % 6 != 0 {
            return Err(ConnError::new(
                ErrorCode::FRAME_SIZE_ERROR,
                "SETTINGS length not a multiple of 6",
            ));
        }
        let mut s = Settings::default();
        for entry in payload.chunks_exact(6) {
            let id = u16::from_be_bytes([entry[0], entry[1]]);
            let value = u32::from_be_bytes([entry[2], entry[3], entry[4], entry[5]]);
            match id {
                HEADER_TABLE_SIZE => s.header_table_size = Some(value),
                ENABLE_PUSH => s.enable_push = Some(flag(value, "SETTINGS_ENABLE_PUSH above 1")?),
                MAX_CONCURRENT_STREAMS => s.max_concurrent_streams = Some(value),
                INITIAL_WINDOW_SIZE => {
                    if value > MAX_WINDOW_SIZE {
                        return Err(ConnError::new(
                            ErrorCode::FLOW_CONTROL_ERROR,
                            "SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1",
                        ));
                    }
                    s.initial_window_size = Some(value);
                }
                MAX_FRAME_SIZE => {
                    if !(DEFAULT_MAX_FRAME_SIZE..=MAX_MAX_FRAME_SIZE).contains(&value) {
                        return Err(ConnError::new(
                            ErrorCode::PROTOCOL_ERROR,
                            "SETTINGS_MAX_FRAME_SIZE outside 16384..=16777215",
                        ));
                    }
                    s.max_frame_size = Some(value);
                }
                MAX_HEADER_LIST_SIZE => s.max_header_list_size = Some(value),
                ENABLE_CONNECT_PROTOCOL => {
                    s.enable_connect_protocol =
                        Some(flag(value, "SETTINGS_ENABLE_CONNECT_PROTOCOL above 1")?);
                }
                _ => {}
            }
        }
        Ok(s)
    }

    /// Writes the payload: each parameter that is set, in identifier order.
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        let entries = [
            (HEADER_TABLE_SIZE, self.header_table_size),
            (ENABLE_PUSH, self.enable_push.map(u32::from)),
            (MAX_CONCURRENT_STREAMS, self.max_concurrent_streams),
            (INITIAL_WINDOW_SIZE, self.initial_window_size),
            (MAX_FRAME_SIZE, self.max_frame_size),
            (MAX_HEADER_LIST_SIZE, self.max_header_list_size),
            (
                ENABLE_CONNECT_PROTOCOL,
                self.enable_connect_protocol.map(u32::from),
            ),
        ];
        for (id, value) in entries {
            if let Some(value) = value {
                out.extend_from_slice(&id.to_be_bytes());
                out.extend_from_slice(&value.to_be_bytes());
            }
        }
    }
}

fn flag(value: u32, reason: &'static str) -> Result<bool, ConnError> {
    match value {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(ConnError::new(ErrorCode::PROTOCOL_ERROR, reason)),
    }
}

/// The values one side of a connection is bound by: the RFC defaults until SETTINGS
/// change them. A connection keeps one for its peer's settings (applied on receipt)
/// and one for its own (applied when the peer acknowledges them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EffectiveSettings {
    /// SETTINGS_HEADER_TABLE_SIZE; 4096 by default.
    pub header_table_size: u32,
    /// SETTINGS_ENABLE_PUSH; on by default.
    pub enable_push: bool,
    /// SETTINGS_MAX_CONCURRENT_STREAMS; `None` (unlimited) by default.
    pub max_concurrent_streams: Option<u32>,
    /// SETTINGS_INITIAL_WINDOW_SIZE; 65535 by default.
    pub initial_window_size: u32,
    /// SETTINGS_MAX_FRAME_SIZE; 16384 by default.
    pub max_frame_size: u32,
    /// SETTINGS_MAX_HEADER_LIST_SIZE; `None` (unlimited) by default.
    pub max_header_list_size: Option<u32>,
    /// SETTINGS_ENABLE_CONNECT_PROTOCOL; off by default.
    pub enable_connect_protocol: bool,
}

impl Default for EffectiveSettings {
    fn default() -> Self {
        EffectiveSettings {
            header_table_size: 4096,
            enable_push: true,
            max_concurrent_streams: None,
            initial_window_size: 65_535,
            max_frame_size: DEFAULT_MAX_FRAME_SIZE,
            max_header_list_size: None,
            enable_connect_protocol: false,
        }
    }
}

impl EffectiveSettings {
    /// Takes on every value `settings` carries and keeps the rest.
    pub fn apply(&mut self, settings: &Settings) {
        let s = settings;
        self.header_table_size = s.header_table_size.unwrap_or(self.header_table_size);
        self.enable_push = s.enable_push.unwrap_or(self.enable_push);
        self.max_concurrent_streams = s.max_concurrent_streams.or(self.max_concurrent_streams);
        self.initial_window_size = s.initial_window_size.unwrap_or(self.initial_window_size);
        self.max_frame_size = s.max_frame_size.unwrap_or(self.max_frame_size);
        self.max_header_list_size = s.max_header_list_size.or(self.max_header_list_size);
        self.enable_connect_protocol = s
            .enable_connect_protocol
            .unwrap_or(self.enable_connect_protocol);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: u16, value: u32) -> Vec<u8> {
        let mut e = id.to_be_bytes().to_vec();
        e.extend_from_slice(&value.to_be_bytes());
        e
    }

    fn rejects(id: u16, value: u32, code: ErrorCode) {
        let err = Settings::decode(&entry(id, value)).unwrap_err();
        assert_eq!(err.code, code, "id {id:#x} value {value}");
    }

    #[test]
    fn every_known_parameter_is_read() {
        let payload: Vec<u8> = [
            entry(1, 0),
            entry(2, 0),
            entry(3, 100),
            entry(4, MAX_WINDOW_SIZE),
            entry(5, MAX_MAX_FRAME_SIZE),
            entry(6, 8192),
            entry(8, 1),
        ]
        .concat();
        let s = Settings::decode(&payload).unwrap();
        assert_eq!(
            s,
            Settings {
                header_table_size: Some(0),
                enable_push: Some(false),
                max_concurrent_streams: Some(100),
                initial_window_size: Some(MAX_WINDOW_SIZE),
                max_frame_size: Some(MAX_MAX_FRAME_SIZE),
                max_header_list_size: Some(8192),
                enable_connect_protocol: Some(true),
            }
        );
        let mut out = Vec::new();
        s.encode(&mut out);
        assert_eq!(out, payload);
    }

    #[test]
    fn unknown_parameters_are_ignored_and_repeats_keep_the_last() {
        let payload = [
            entry(0x7, 5),
            entry(0xffff, u32::MAX),
            entry(3, 1),
            entry(3, 2),
        ]
        .concat();
        let s = Settings::decode(&payload).unwrap();
        assert_eq!(
            s,
            Settings {
                max_concurrent_streams: Some(2),
                ..Settings::default()
            }
        );
    }

    #[test]
    fn out_of_range_values_are_connection_errors() {
        rejects(2, 2, ErrorCode::PROTOCOL_ERROR);
        rejects(4, MAX_WINDOW_SIZE + 1, ErrorCode::FLOW_CONTROL_ERROR);
        rejects(4, u32::MAX, ErrorCode::FLOW_CONTROL_ERROR);
        rejects(5, DEFAULT_MAX_FRAME_SIZE - 1, ErrorCode::PROTOCOL_ERROR);
        rejects(5, MAX_MAX_FRAME_SIZE + 1, ErrorCode::PROTOCOL_ERROR);
        rejects(8, 2, ErrorCode::PROTOCOL_ERROR);
    }

    #[test]
    fn boundary_values_are_accepted() {
        for (id, value) in [(2, 1), (4, 0), (5, DEFAULT_MAX_FRAME_SIZE), (8, 0)] {
            assert!(Settings::decode(&entry(id, value)).is_ok(), "{id} {value}");
        }
    }

    #[test]
    fn a_ragged_payload_is_a_frame_size_error() {
        let err = Settings::decode(&[0, 1, 0, 0, 0]).unwrap_err();
        assert_eq!(err.code, ErrorCode::FRAME_SIZE_ERROR);
    }

    #[test]
    fn effective_values_start_at_the_rfc_defaults_and_take_what_is_sent() {
        let mut e = EffectiveSettings::default();
        assert_eq!(
            (e.header_table_size, e.enable_push, e.max_concurrent_streams),
            (4096, true, None)
        );
        assert_eq!(
            (
                e.initial_window_size,
                e.max_frame_size,
                e.max_header_list_size
            ),
            (65_535, 16_384, None)
        );
        assert!(!e.enable_connect_protocol);
        e.apply(&Settings {
            max_concurrent_streams: Some(10),
            enable_connect_protocol: Some(true),
            ..Settings::default()
        });
        e.apply(&Settings {
            initial_window_size: Some(1),
            ..Settings::default()
        });
        assert_eq!(e.max_concurrent_streams, Some(10));
        assert_eq!(e.initial_window_size, 1);
        assert!(e.enable_connect_protocol);
        assert_eq!(e.header_table_size, 4096);
    }
}

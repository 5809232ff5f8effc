//! The limits of an HTTP/3 server (the listener's `http3` options and the request
//! limits every protocol shares), checked once when the [`Endpoint`](crate::Endpoint)
//! is built.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use quinn_proto::{IdleTimeout, TransportConfig, VarInt};

use crate::qpack::DecoderConfig;

/// Unidirectional streams a client may have open at once: its control stream, its two
/// QPACK streams, and room for a few of unknown or reserved types (which are stopped and
/// read no further, so they give their slot back soon).
pub const MAX_UNI_STREAMS: u32 = 3 + 5;

/// The limits of each connection.
#[derive(Clone, Debug)]
pub struct Config {
    /// Request streams the client may have open at once: QUIC's
    /// `initial_max_streams_bidi`, raised as streams close.
    pub max_streams_bidi: u32,
    /// A connection that hears nothing from its peer for this long is closed
    /// (`max_idle_timeout`; the smaller of both sides' values applies). Zero turns it
    /// off, leaving a vanished client's connection to the driver's own timers.
    pub idle_timeout: Duration,
    /// Cap on an encoded field section (a HEADERS frame's payload); over it the request
    /// is answered `431` without the section being read.
    pub max_header_block: usize,
    /// Cap on a decoded field section (name + value + 32 per field), sent as
    /// SETTINGS_MAX_FIELD_SECTION_SIZE; over it the request is answered `431`.
    pub max_field_section_size: usize,
    /// Cap on a request body; over it the request is answered `413`.
    pub max_content_length: u64,
    /// Whether extended CONNECT (RFC 9220, WebSocket over HTTP/3) is offered:
    /// SETTINGS_ENABLE_CONNECT_PROTOCOL.
    pub enable_connect_protocol: bool,
    /// How much of one request body the client may send ahead of what has been read
    /// (QUIC's stream receive window).
    pub stream_window: u32,
    /// How much the client may send on all streams ahead of what has been read (QUIC's
    /// connection receive window); the bound on what a connection buffers from its
    /// peer.
    pub conn_window: u32,
    /// How much response data QUIC may hold for one connection, sent and not yet
    /// acknowledged or not sent yet (never more than the client's flow control
    /// allows). It bounds the data in flight: at 1 MiB, fifty 64 KiB responses on one
    /// connection waited on acknowledgments (p99 over a second on loopback).
    pub send_window: u32,
    /// The QPACK dynamic table each side may use, in bytes: advertised for the client's
    /// encoder (SETTINGS_QPACK_MAX_TABLE_CAPACITY), and the most our encoder uses.
    /// 0 keeps both sides to the static table and literals.
    pub qpack_table_capacity: usize,
    /// Request streams that may wait for QPACK inserts at once
    /// (SETTINGS_QPACK_BLOCKED_STREAMS).
    pub qpack_blocked_streams: usize,
    /// Whether a new client must first prove its address with a Retry (one more round
    /// trip): a defence against spoofed Initial packets, for a server under attack.
    pub validate_addresses: bool,
    /// Whether QUIC may probe for a path MTU above 1200 bytes. Turn on only when the
    /// UDP sockets never fragment (quinn-udp's `may_fragment()` is false).
    pub mtu_discovery: bool,
}

impl Default for Config {
    /// The listener's defaults: 100 streams, 16 KiB encoded and 32 KiB decoded field
    /// sections, 10 MB bodies; a 30 s idle timeout; receive windows of 256 KiB per
    /// stream and 1 MiB per connection, a 4 MiB send window; a 4 KiB QPACK table with
    /// 16 blocked streams.
    fn default() -> Self {
        Config {
            max_streams_bidi: 100,
            idle_timeout: Duration::from_secs(30),
            max_header_block: 16_384,
            max_field_section_size: 32_768,
            max_content_length: 10_000_000,
            enable_connect_protocol: true,
            stream_window: 256 * 1024,
            conn_window: 1024 * 1024,
            send_window: 4 * 1024 * 1024,
            qpack_table_capacity: 4096,
            qpack_blocked_streams: 16,
            validate_addresses: false,
            mtu_discovery: false,
        }
    }
}

/// Why an [`Endpoint`](crate::Endpoint) could not be built.
#[derive(Debug)]
pub enum ConfigError {
    /// A limit is out of range; the text says which.
    Invalid(&'static str),
    /// The TLS configuration cannot serve QUIC: TLS 1.3 is not enabled, or no cipher
    /// suite of its crypto provider can protect QUIC packets.
    Tls(String),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Invalid(what) => write!(f, "invalid http3 option: {what}"),
            ConfigError::Tls(why) => write!(f, "TLS configuration unfit for QUIC: {why}"),
        }
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// The QUIC transport parameters and windows for these limits.
    pub(crate) fn transport(&self) -> Result<Arc<TransportConfig>, ConfigError> {
        if self.max_streams_bidi == 0 {
            return Err(ConfigError::Invalid("max_streams_bidi must be at least 1"));
        }
        if self.stream_window == 0 || self.conn_window < self.stream_window {
            return Err(ConfigError::Invalid(
                "stream_window must be at least 1 and conn_window at least stream_window",
            ));
        }
        if self.send_window == 0 {
            return Err(ConfigError::Invalid("send_window must be at least 1"));
        }
        if self.max_header_block == 0 || self.max_field_section_size == 0 {
            return Err(ConfigError::Invalid(
                "max_header_block and max_field_section_size must be at least 1",
            ));
        }
        let idle = IdleTimeout::try_from(self.idle_timeout)
            .map_err(|_| ConfigError::Invalid("idle_timeout too long"))?;
        let mut t = TransportConfig::default();
        t.max_concurrent_bidi_streams(VarInt::from_u32(self.max_streams_bidi))
            .max_concurrent_uni_streams(VarInt::from_u32(MAX_UNI_STREAMS))
            .max_idle_timeout((!self.idle_timeout.is_zero()).then_some(idle))
            .stream_receive_window(VarInt::from_u32(self.stream_window))
            .receive_window(VarInt::from_u32(self.conn_window))
            .send_window(u64::from(self.send_window))
            // HTTP datagrams (RFC 9297) are not offered.
            .datagram_receive_buffer_size(None);
        if !self.mtu_discovery {
            t.mtu_discovery_config(None);
        }
        Ok(Arc::new(t))
    }

    /// The QPACK decoder's limits, which our SETTINGS advertise.
    pub(crate) fn decoder(&self) -> DecoderConfig {
        DecoderConfig {
            max_table_capacity: self.qpack_table_capacity,
            max_blocked_streams: self.qpack_blocked_streams,
            max_field_section_size: self.max_field_section_size,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_out_of_range_are_refused() {
        assert!(Config::default().transport().is_ok());
        let bad = [
            Config {
                max_streams_bidi: 0,
                ..Config::default()
            },
            Config {
                stream_window: 0,
                ..Config::default()
            },
            Config {
                conn_window: 1000,
                stream_window: 2000,
                ..Config::default()
            },
            Config {
                send_window: 0,
                ..Config::default()
            },
            Config {
                max_header_block: 0,
                ..Config::default()
            },
            Config {
                idle_timeout: Duration::from_secs(u64::MAX),
                ..Config::default()
            },
        ];
        for config in bad {
            assert!(
                matches!(config.transport(), Err(ConfigError::Invalid(_))),
                "{config:?}"
            );
        }
        let no_idle = Config {
            idle_timeout: Duration::ZERO,
            ..Config::default()
        };
        assert!(
            no_idle.transport().is_ok(),
            "zero turns the idle timeout off"
        );
    }
}

//! A session's limits (the listener's `ws` options).

use std::fmt;

/// Default `max_frame_size` and `max_message_size`: 10 MB.
pub const DEFAULT_MAX_SIZE: usize = 10_000_000;

/// Limits on what a peer may send, checked once when made; `Default` gives the spec
/// defaults (10 MB each).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    max_frame_size: usize,
    max_message_size: usize,
    compression_level: u32,
}

/// `max_message_size` below `max_frame_size`: a single frame the frame cap lets in
/// could never make a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The frame cap asked for.
    pub max_frame_size: usize,
    /// The message cap asked for.
    pub max_message_size: usize,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ws.max_message_size ({}) must be at least ws.max_frame_size ({})",
            self.max_message_size, self.max_frame_size
        )
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Caps on a frame's declared payload length and on a message's size (the running
    /// total of its fragments, counted after decompression under permessage-deflate);
    /// over either the session closes with 1009. `max_message_size` must be at least
    /// `max_frame_size`.
    pub fn new(max_frame_size: usize, max_message_size: usize) -> Result<Self, ConfigError> {
        if max_message_size < max_frame_size {
            return Err(ConfigError {
                max_frame_size,
                max_message_size,
            });
        }
        Ok(Config {
            max_frame_size,
            max_message_size,
            compression_level: 1,
        })
    }

    /// The deflate level (0–9, higher values taken as 9) for messages sent under
    /// permessage-deflate. The default, 1, is the fastest that compresses: a server
    /// compresses every message it sends, so speed is worth more than the last bytes.
    pub fn with_compression_level(mut self, level: u32) -> Self {
        self.compression_level = level.min(9);
        self
    }

    /// The cap on a frame's declared payload length.
    pub fn max_frame_size(&self) -> usize {
        self.max_frame_size
    }

    /// The cap on a message's size.
    pub fn max_message_size(&self) -> usize {
        self.max_message_size
    }

    /// The deflate level for sent messages.
    pub fn compression_level(&self) -> u32 {
        self.compression_level
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_frame_size: DEFAULT_MAX_SIZE,
            max_message_size: DEFAULT_MAX_SIZE,
            compression_level: 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_cap_below_frame_cap_is_refused() {
        let err = Config::new(1000, 999).unwrap_err();
        assert_eq!(err.max_frame_size, 1000);
        assert!(err.to_string().contains("max_message_size"));
        assert!(Config::new(1000, 1000).is_ok());
        assert_eq!(Config::new(0, 0).unwrap().max_frame_size(), 0);
    }

    #[test]
    fn defaults_are_the_spec_defaults() {
        let c = Config::default();
        assert_eq!(
            (c.max_frame_size(), c.max_message_size()),
            (10_000_000, 10_000_000)
        );
        assert_eq!(
            Config::new(1, 2)
                .unwrap()
                .with_compression_level(42)
                .compression_level(),
            9
        );
    }
}

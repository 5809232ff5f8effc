//! The body of a request or a response.

use bytes::Bytes;

/// A message body. Request bodies arrive read in full (`body_buffering: auto`); a
/// response body is whatever the handler gives.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Body {
    bytes: Bytes,
}

impl Body {
    /// An empty body.
    pub const fn empty() -> Self {
        Body {
            bytes: Bytes::new(),
        }
    }

    /// The whole body.
    pub fn as_bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// The whole body, by value (no copy).
    pub fn into_bytes(self) -> Bytes {
        self.bytes
    }

    /// Its length in bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// True when there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

impl From<Bytes> for Body {
    fn from(bytes: Bytes) -> Self {
        Body { bytes }
    }
}

impl From<Vec<u8>> for Body {
    fn from(v: Vec<u8>) -> Self {
        Body { bytes: v.into() }
    }
}

impl From<String> for Body {
    fn from(s: String) -> Self {
        Body { bytes: s.into() }
    }
}

impl From<&'static str> for Body {
    fn from(s: &'static str) -> Self {
        Body {
            bytes: Bytes::from_static(s.as_bytes()),
        }
    }
}

impl From<&'static [u8]> for Body {
    fn from(s: &'static [u8]) -> Self {
        Body {
            bytes: Bytes::from_static(s),
        }
    }
}

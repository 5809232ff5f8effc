//! What decoding a field section gives: its fields, or why not.

use std::fmt;

use bytes::Bytes;

use crate::error::ConnError;

/// What each field adds to a section's size beyond its name and value (RFC 9114
/// §4.2.2, the same rule as HPACK's header list size).
pub(crate) const FIELD_OVERHEAD: usize = 32;

/// The fields of one decoded section, in order, as `(name, value)`. Names and values
/// are zero-copy where they can be: slices of the HEADERS payload or of the dynamic
/// table.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldSection {
    pub(crate) fields: Vec<(Bytes, Bytes)>,
    pub(crate) size: usize,
}

impl FieldSection {
    /// The fields in order.
    pub fn fields(&self) -> &[(Bytes, Bytes)] {
        &self.fields
    }

    /// The section's size: name + value + 32 per field.
    pub fn size(&self) -> usize {
        self.size
    }
}

impl FromIterator<(Bytes, Bytes)> for FieldSection {
    fn from_iter<I: IntoIterator<Item = (Bytes, Bytes)>>(iter: I) -> Self {
        let fields: Vec<(Bytes, Bytes)> = iter.into_iter().collect();
        let size = fields
            .iter()
            .map(|(n, v)| n.len() + v.len() + FIELD_OVERHEAD)
            .sum();
        FieldSection { fields, size }
    }
}

impl IntoIterator for FieldSection {
    type Item = (Bytes, Bytes);
    type IntoIter = std::vec::IntoIter<(Bytes, Bytes)>;

    fn into_iter(self) -> Self::IntoIter {
        self.fields.into_iter()
    }
}

/// Why a field section was not decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The section is larger than SETTINGS_MAX_FIELD_SECTION_SIZE: decoding stopped
    /// as soon as it passed the limit. The connection goes on (the section was
    /// acknowledged); the request gets 431.
    TooLarge,
    /// The section is not valid QPACK (QPACK_DECOMPRESSION_FAILED): the connection
    /// must close.
    Failed(ConnError),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::TooLarge => f.write_str("field section too large"),
            DecodeError::Failed(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for DecodeError {}

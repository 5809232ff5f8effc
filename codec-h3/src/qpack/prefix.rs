//! The prefix of every encoded field section (RFC 9204 §4.5.1): the Required Insert
//! Count, sent modulo twice the most entries the decoder's table can hold, and the
//! Base, sent as a sign and a delta from it.

use super::primitive::{decode_int, encode_int, Error};
use super::table::ENTRY_OVERHEAD;

/// MaxEntries (§4.5.1.1): the most entries a table of the decoder's maximum capacity
/// can hold, each at least 32 bytes.
pub(crate) fn max_entries(max_table_capacity: u64) -> u64 {
    max_table_capacity / ENTRY_OVERHEAD as u64
}

/// A decoded prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Prefix {
    /// The Insert Count the section needs.
    pub(crate) required: u64,
    /// The Base its relative and post-Base indices count from.
    pub(crate) base: u64,
    /// The prefix's length in bytes.
    pub(crate) len: usize,
}

/// Appends the prefix for a section that needs `required` inserts, with indices
/// relative to `base`.
pub(crate) fn encode(required: u64, base: u64, max_entries: u64, out: &mut Vec<u8>) {
    if required == 0 {
        // Without dynamic references the Base is unused; Delta Base 0 is shortest.
        out.extend_from_slice(&[0, 0]);
        return;
    }
    // A reference means an entry of at least 32 bytes fit the table, so the
    // decoder's capacity allows at least one entry: `max_entries` is not 0.
    encode_int(required % (2 * max_entries) + 1, 8, 0, out);
    match base.checked_sub(required) {
        Some(delta) => encode_int(delta, 7, 0x00, out),
        None => encode_int(required - base - 1, 7, 0x80, out),
    }
}

/// Reads the prefix at the start of `section`, for a decoder whose table has seen
/// `inserted` inserts. Every error is the section's fault: QPACK_DECOMPRESSION_FAILED.
pub(crate) fn decode(
    section: &[u8],
    max_entries: u64,
    inserted: u64,
) -> Result<Prefix, &'static str> {
    let (encoded, a) = decode_int(section, 8).map_err(reason)?;
    let required = required_insert_count(encoded, max_entries, inserted)?;
    let rest = &section[a..];
    let sign = rest.first().ok_or(TRUNCATED)? & 0x80 != 0;
    let (delta, b) = decode_int(rest, 7).map_err(reason)?;
    let base = if sign {
        // §4.5.1.2: a negative Base is invalid.
        required
            .checked_sub(delta)
            .and_then(|b| b.checked_sub(1))
            .ok_or("qpack: negative Base")?
    } else {
        required.checked_add(delta).ok_or("qpack: Base too large")?
    };
    Ok(Prefix {
        required,
        base,
        len: a + b,
    })
}

/// Undoes the encoding of the Required Insert Count (§4.5.1.1): of the values it could
/// stand for, the one within `max_entries` of `inserted`.
fn required_insert_count(
    encoded: u64,
    max_entries: u64,
    inserted: u64,
) -> Result<u64, &'static str> {
    if encoded == 0 {
        return Ok(0);
    }
    let full_range = 2 * max_entries;
    if encoded > full_range {
        return Err("qpack: Required Insert Count out of range");
    }
    let max_value = inserted + max_entries;
    let max_wrapped = max_value / full_range * full_range;
    let mut required = max_wrapped + encoded - 1;
    if required > max_value {
        if required <= full_range {
            return Err("qpack: Required Insert Count out of range");
        }
        required -= full_range;
    }
    if required == 0 {
        return Err("qpack: Required Insert Count of 0 encoded as non-zero");
    }
    Ok(required)
}

const TRUNCATED: &str = "qpack: truncated field section";

fn reason(e: Error) -> &'static str {
    match e {
        Error::Incomplete => TRUNCATED,
        Error::Overflow => "qpack: integer too large",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc_9204_examples() {
        // §4.5.1.1: a 100-byte table wraps modulo 6; after 10 inserts, 4 means 9.
        assert_eq!(required_insert_count(4, max_entries(100), 10), Ok(9));
        // B.2: RIC 2, Base 0; B.4: RIC 4, Base 4 (capacity 220 -> 6 entries).
        let b2 = decode(&[0x03, 0x81], max_entries(220), 2);
        assert_eq!(
            b2,
            Ok(Prefix {
                required: 2,
                base: 0,
                len: 2
            })
        );
        let b4 = decode(&[0x05, 0x00], max_entries(220), 4);
        assert_eq!(
            b4,
            Ok(Prefix {
                required: 4,
                base: 4,
                len: 2
            })
        );
        let mut out = Vec::new();
        encode(2, 0, 6, &mut out);
        encode(4, 4, 6, &mut out);
        encode(0, 17, 6, &mut out);
        assert_eq!(out, [0x03, 0x81, 0x05, 0x00, 0x00, 0x00]);
        // §4.5.1.2: RIC 9 with sign 1 and delta 2 is Base 6.
        let mut out = Vec::new();
        encode(9, 6, max_entries(100), &mut out);
        assert_eq!(out, [0x04, 0x82]);
    }

    #[test]
    fn invalid_prefixes_are_refused() {
        let bad: [(&[u8], u64, u64, &str); 7] = [
            (&[0x01, 0x00], 0, 0, "out of range"),
            (&[0x0e, 0x00], 6, 0, "out of range"),
            // MaxEntries 6, nothing inserted: 7 stands for 6 or 18, past 0 + 6 -> 6,
            // which is fine; 1 stands for 0 (or 12, past the max): invalid.
            (&[0x01, 0x00], 6, 0, "of 0"),
            (&[0x02, 0x81], 6, 1, "negative"),
            (&[0x02, 0x82], 6, 1, "negative"),
            (&[0x02], 6, 1, "truncated"),
            (&[], 6, 1, "truncated"),
        ];
        for (wire, entries, inserted, want) in bad {
            let got = decode(wire, entries, inserted).expect_err("must fail");
            assert!(got.contains(want), "{wire:?}: {got}");
        }
        assert!(decode(&[0x07, 0x00], 6, 0).is_ok());
        let mut huge = vec![0x02];
        encode_int((1 << 62) - 2, 7, 0, &mut huge);
        let got = decode(&huge, 6, 1).expect("a Base near 2^62 is only useless");
        assert_eq!(got.base, (1 << 62) - 1);
    }

    proptest! {
        /// Whatever the decoder has seen, as long as the encoder's count is within the
        /// window the wrapping allows, the count survives the round trip.
        #[test]
        fn required_insert_counts_survive_the_wrap(
            capacity in 32..10_000u64,
            inserted in 0..100_000u64,
            back in 0..300u64,
            ahead in 0..300u64,
            delta in 0..50u64,
            post_base in any::<bool>(),
        ) {
            let entries = max_entries(capacity);
            // A blocked section may need up to MaxEntries more than inserted; a
            // section's oldest reference is at most MaxEntries behind.
            let required = (inserted + ahead % (entries + 1))
                .saturating_sub(back % entries)
                .max(1);
            let base = if post_base { required.saturating_sub(delta + 1) } else { required + delta };
            let mut out = Vec::new();
            encode(required, base, entries, &mut out);
            let got = decode(&out, entries, inserted).expect("valid");
            prop_assert_eq!(got, Prefix { required, base, len: out.len() });
        }
    }
}

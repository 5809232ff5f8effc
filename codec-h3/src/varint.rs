//! QUIC variable-length integers (RFC 9000 §16), which HTTP/3 uses for frame types and
//! lengths, settings, stream types and IDs: the two top bits of the first byte give the
//! length (1, 2, 4 or 8 bytes), the rest is the value, big-endian.

/// The largest value a variable-length integer holds: 2^62 - 1.
pub const MAX: u64 = (1 << 62) - 1;

/// Reads the integer at the start of `buf`: its value and how many bytes it took, or
/// `None` if `buf` ends first. Longer-than-needed encodings are accepted, as RFC 9000
/// allows.
pub fn decode(buf: &[u8]) -> Option<(u64, usize)> {
    let first = *buf.first()?;
    let len = 1 << (first >> 6);
    let bytes = buf.get(..len)?;
    let value = bytes[1..]
        .iter()
        .fold(u64::from(first & 0x3f), |v, &b| v << 8 | u64::from(b));
    Some((value, len))
}

/// How many bytes [`encode`] writes for `value`.
pub const fn encoded_len(value: u64) -> usize {
    if value < 1 << 6 {
        1
    } else if value < 1 << 14 {
        2
    } else if value < 1 << 30 {
        4
    } else {
        8
    }
}

/// Appends `value` in its shortest encoding.
///
/// # Panics
/// If `value` is above [`MAX`]: every value this crate writes is a length, an ID or a
/// setting, which QUIC bounds below 2^62, so a larger one is a bug in the caller.
pub fn encode(value: u64, out: &mut Vec<u8>) {
    assert!(
        value <= MAX,
        "{value} does not fit a QUIC variable-length integer"
    );
    let len = encoded_len(value);
    let tag = match len {
        1 => 0,
        2 => 1,
        4 => 2,
        _ => 3,
    };
    let bytes = (value | tag << (len * 8 - 2)).to_be_bytes();
    out.extend_from_slice(&bytes[8 - len..]);
}

/// Whether `id` is of the form `0x1f * N + 0x21`: reserved in every HTTP/3 registry
/// (frame types, settings, stream types, error codes) so that peers learn to ignore
/// what they do not know (RFC 9114 §6.2.3, §7.2.8, §7.2.4.1, §8.1).
pub const fn is_reserved(id: u64) -> bool {
    id >= 0x21 && (id - 0x21) % 0x1f == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc_9000_appendix_a_examples() {
        let cases: [(&[u8], u64); 4] = [
            (
                &[0xc2, 0x19, 0x7c, 0x5e, 0xff, 0x14, 0xe8, 0x8c],
                151_288_809_941_952_652,
            ),
            (&[0x9d, 0x7f, 0x3e, 0x7d], 494_878_333),
            (&[0x7b, 0xbd], 15_293),
            (&[0x25], 37),
        ];
        for (bytes, value) in cases {
            assert_eq!(decode(bytes), Some((value, bytes.len())));
            let mut out = Vec::new();
            encode(value, &mut out);
            assert_eq!(out, bytes);
        }
        // The two-byte encoding of 37 is valid too.
        assert_eq!(decode(&[0x40, 0x25]), Some((37, 2)));
    }

    #[test]
    fn short_input_is_incomplete() {
        assert_eq!(decode(&[]), None);
        assert_eq!(decode(&[0x40]), None);
        assert_eq!(decode(&[0xc0, 0, 0, 0, 0, 0, 0]), None);
        assert_eq!(decode(&[0xff; 8]), Some((MAX, 8)));
    }

    #[test]
    #[should_panic(expected = "does not fit")]
    fn encoding_past_the_max_is_a_bug() {
        encode(MAX + 1, &mut Vec::new());
    }

    #[test]
    fn reserved_identifiers() {
        let reserved: Vec<u64> = (0..200).filter(|&i| is_reserved(i)).collect();
        assert_eq!(reserved, [0x21, 0x40, 0x5f, 0x7e, 0x9d, 0xbc]);
        assert!(is_reserved(0x3fff_ffff_ffff_fffe));
    }

    proptest! {
        #[test]
        fn every_value_round_trips_in_its_shortest_form(value in 0..=MAX, tail in any::<u8>()) {
            let mut out = Vec::new();
            encode(value, &mut out);
            prop_assert_eq!(out.len(), encoded_len(value));
            out.push(tail);
            prop_assert_eq!(decode(&out), Some((value, out.len() - 1)));
        }
    }
}

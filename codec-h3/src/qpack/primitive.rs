//! QPACK's two primitives (RFC 9204 §4.1): HPACK's prefixed integers (RFC 7541 §5.1),
//! here up to 62 bits, and its string literals (§5.2), whose Huffman flag and length
//! may start anywhere in a byte.

use bytes::Bytes;
use roadrunner_h2::huffman;

/// The largest integer accepted: every QPACK integer is a length, an index, a count or
/// a stream ID, none of which QUIC lets past 2^62 - 1.
const MAX: u64 = (1 << 62) - 1;

/// Continuation bytes allowed after the prefix: 9 carry 63 bits, the tenth lets a
/// sender pad with one zero group; more is only a way to make us wait.
const MAX_CONTINUATIONS: usize = 10;

/// Why a primitive could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Error {
    /// The input ends first.
    Incomplete,
    /// An integer above 2^62 - 1, or longer than any such integer needs.
    Overflow,
}

/// Reads an integer with a `prefix`-bit prefix (1..=8) from the start of `buf`: its
/// value and length. The bits above the prefix are the caller's.
pub(crate) fn decode_int(buf: &[u8], prefix: u8) -> Result<(u64, usize), Error> {
    let mask = u8::MAX >> (8 - prefix);
    let first = *buf.first().ok_or(Error::Incomplete)?;
    let mut value = u64::from(first & mask);
    if value < u64::from(mask) {
        return Ok((value, 1));
    }
    for i in 0..MAX_CONTINUATIONS {
        let byte = *buf.get(1 + i).ok_or(Error::Incomplete)?;
        let bits = u64::from(byte & 0x7f);
        let shift = 7 * i as u32;
        if bits != 0 {
            let add = bits
                .checked_shl(shift)
                .filter(|add| add >> shift == bits)
                .ok_or(Error::Overflow)?;
            value = value
                .checked_add(add)
                .filter(|&v| v <= MAX)
                .ok_or(Error::Overflow)?;
        }
        if byte & 0x80 == 0 {
            return Ok((value, i + 2));
        }
    }
    Err(Error::Overflow)
}

/// Appends `value` with a `prefix`-bit prefix under `flags` (the bits above it).
pub(crate) fn encode_int(value: u64, prefix: u8, flags: u8, out: &mut Vec<u8>) {
    let max = u8::MAX >> (8 - prefix);
    let Some(mut rest) = value.checked_sub(u64::from(max)) else {
        // Below `max`, so it fits the prefix.
        out.push(flags | value as u8);
        return;
    };
    out.push(flags | max);
    while rest >= 0x80 {
        out.push(0x80 | (rest & 0x7f) as u8);
        rest >>= 7;
    }
    out.push(rest as u8);
}

/// The head of a string literal with an `n`-bit prefix (2..=8): the Huffman flag is
/// the prefix's top bit, the length an `n - 1`-bit integer. Returns whether the string
/// is Huffman-coded, its length on the wire, and the head's length.
pub(crate) fn decode_str_head(buf: &[u8], n: u8) -> Result<(bool, u64, usize), Error> {
    let first = *buf.first().ok_or(Error::Incomplete)?;
    let huffman = first & (1 << (n - 1)) != 0;
    let (len, head) = decode_int(buf, n - 1)?;
    Ok((huffman, len, head))
}

/// Appends `s` as a plain (not Huffman-coded) string literal with an `n`-bit prefix
/// under `flags`.
pub(crate) fn encode_str(s: &[u8], n: u8, flags: u8, out: &mut Vec<u8>) {
    encode_int(s.len() as u64, n - 1, flags, out);
    out.extend_from_slice(s);
}

/// The fewest bytes `encoded` bytes of Huffman code can decode to: no code is longer
/// than 30 bits, and up to 7 bits are padding. Used to refuse a string as too long
/// before decoding it.
pub(crate) fn huffman_min_len(encoded: u64) -> u64 {
    encoded.saturating_mul(8).saturating_sub(7) / 30
}

/// Decodes a Huffman-coded string (RFC 7541 Appendix B).
pub(crate) fn decode_huffman(input: &[u8]) -> Result<Bytes, huffman::Invalid> {
    // No code is shorter than 5 bits.
    let mut out = Vec::with_capacity(input.len() * 8 / 5);
    huffman::decode(input, &mut out)?;
    Ok(Bytes::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc_7541_integer_examples() {
        // C.1.1: 10 with a 5-bit prefix; C.1.2: 1337 with a 5-bit prefix; C.1.3: 42
        // at an octet boundary.
        let cases: [(u64, u8, &[u8]); 3] = [
            (10, 5, &[0x0a]),
            (1337, 5, &[0x1f, 0x9a, 0x0a]),
            (42, 8, &[0x2a]),
        ];
        for (value, prefix, wire) in cases {
            let mut out = Vec::new();
            encode_int(value, prefix, 0, &mut out);
            assert_eq!(out, wire);
            assert_eq!(decode_int(wire, prefix), Ok((value, wire.len())));
        }
    }

    #[test]
    fn integers_past_62_bits_or_too_long_are_refused() {
        let mut max = Vec::new();
        encode_int(MAX, 8, 0, &mut max);
        assert_eq!(decode_int(&max, 8), Ok((MAX, max.len())));
        let mut over = Vec::new();
        encode_int(MAX + 1, 8, 0, &mut over);
        assert_eq!(decode_int(&over, 8), Err(Error::Overflow));
        // 2^70 would wrap a u64.
        let wrap = [
            0xff, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01,
        ];
        assert_eq!(decode_int(&wrap, 8), Err(Error::Overflow));
        // Zero groups padding a small value: ten are allowed, eleven are not.
        let mut padded = vec![0x1f];
        padded.extend([0x80; 9]);
        padded.push(0x00);
        assert_eq!(decode_int(&padded, 5), Ok((31, 11)));
        padded.insert(1, 0x80);
        assert_eq!(decode_int(&padded, 5), Err(Error::Overflow));
        assert_eq!(decode_int(&[0x1f, 0x80], 5), Err(Error::Incomplete));
        assert_eq!(decode_int(&[], 5), Err(Error::Incomplete));
    }

    #[test]
    fn string_heads_take_the_flag_above_the_length() {
        // A 4-bit-prefix string (literal name): flag 0x08, 3-bit length.
        assert_eq!(decode_str_head(&[0x2d], 4), Ok((true, 5, 1)));
        assert_eq!(decode_str_head(&[0x25], 4), Ok((false, 5, 1)));
        assert_eq!(decode_str_head(&[0x87, 0x03], 8), Ok((true, 7, 1)));
        assert_eq!(decode_str_head(&[0x7f, 0x01], 8), Ok((false, 128, 2)));
        let mut out = Vec::new();
        encode_str(b"custom-key", 6, 0x40, &mut out);
        assert_eq!(&out[..1], &[0x4a]);
        assert_eq!(decode_str_head(&out, 6), Ok((false, 10, 1)));
    }

    #[test]
    fn the_huffman_bound_holds_for_the_longest_codes() {
        // Four 30-bit codes (symbol 10, "\n") take 15 bytes.
        assert_eq!(huffman_min_len(15), 3);
        assert_eq!(huffman_min_len(0), 0);
        assert_eq!(huffman_min_len(u64::MAX), u64::MAX / 30);
        assert_eq!(
            decode_huffman(&[
                0xf1, 0xe3, 0xc2, 0xe5, 0xf2, 0x3a, 0x6b, 0xa0, 0xab, 0x90, 0xf4, 0xff
            ])
            .as_deref(),
            Ok(&b"www.example.com"[..])
        );
    }

    proptest! {
        #[test]
        fn integers_round_trip(value in 0..=MAX, prefix in 1..=8u8, flags in any::<u8>()) {
            let flags = flags & !(u8::MAX >> (8 - prefix));
            let mut out = Vec::new();
            encode_int(value, prefix, flags, &mut out);
            prop_assert_eq!(out[0] & !(u8::MAX >> (8 - prefix)), flags);
            prop_assert_eq!(decode_int(&out, prefix), Ok((value, out.len())));
            for cut in 0..out.len() {
                prop_assert_eq!(decode_int(&out[..cut], prefix), Err(Error::Incomplete));
            }
        }
    }
}

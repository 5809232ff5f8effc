//! The HPACK Huffman code (RFC 7541 Appendix B), which QPACK (RFC 9204 §4.1.2) uses
//! too. Decoded here rather than by loona: its decoder rebuilds a 257-entry hash table
//! for every string and walks it bit by bit through hash lookups, which measured about
//! 50 µs per string and 0.7 µs per byte (a 16 KiB block of empty Huffman strings took
//! 370 ms of CPU).
//!
//! The code is canonical: codes of one length are consecutive, in symbol order, and
//! each length's first code follows from the shorter ones. So the lengths alone define
//! it, and a code is recognised by comparing the bits read so far with the first code
//! of that length.

/// The code length of each symbol; 256 is EOS.
const LENGTHS: [u8; 257] = [
    13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28,
    28, 28, 28, 28, 28, 28, 28, 28, 6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, 5, 5,
    5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10, 13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
    7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6, 15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6,
    6, 5, 6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28, 20, 22, 20, 20, 22, 22, 22, 23, 22,
    23, 23, 23, 23, 23, 24, 23, 24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24, 22,
    21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, 21, 21, 22, 21, 23, 22, 23, 23, 20,
    22, 22, 22, 23, 22, 22, 23, 26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, 19,
    21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27, 20, 24, 20, 21, 22, 21, 21, 23, 22,
    22, 25, 25, 24, 24, 26, 23, 26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26, 30,
];

/// Longest code.
const MAX_LEN: usize = 30;

/// The code's shape: per length, its first code, how many codes it has and where its
/// symbols start in `symbols` (ordered by length, then symbol).
struct Canonical {
    first: [u32; MAX_LEN + 1],
    count: [u32; MAX_LEN + 1],
    start: [u16; MAX_LEN + 1],
    symbols: [u16; 257],
}

const fn canonical() -> Canonical {
    let mut c = Canonical {
        first: [0; MAX_LEN + 1],
        count: [0; MAX_LEN + 1],
        start: [0; MAX_LEN + 1],
        symbols: [0; 257],
    };
    let mut s = 0;
    while s < 257 {
        c.count[LENGTHS[s] as usize] += 1;
        s += 1;
    }
    let mut len = 1;
    let mut code = 0;
    let mut start = 0;
    while len <= MAX_LEN {
        c.first[len] = code;
        c.start[len] = start;
        code = (code + c.count[len]) << 1;
        start += c.count[len] as u16;
        len += 1;
    }
    let mut filled = [0u16; MAX_LEN + 1];
    let mut s = 0;
    while s < 257 {
        let len = LENGTHS[s] as usize;
        c.symbols[(c.start[len] + filled[len]) as usize] = s as u16;
        filled[len] += 1;
        s += 1;
    }
    c
}

static CODE: Canonical = canonical();

/// A Huffman string that is not a valid encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Invalid;

/// Appends the decoding of `input` to `out`. EOS inside the string, padding longer
/// than 7 bits, or padding that is not the start of EOS (all ones) are errors (RFC
/// 7541 §5.2).
pub fn decode(input: &[u8], out: &mut Vec<u8>) -> Result<(), Invalid> {
    let mut code = 0u32;
    let mut len = 0;
    for &byte in input {
        for shift in (0..8).rev() {
            code = code << 1 | u32::from(byte >> shift & 1);
            len += 1;
            // Codes of `len` bits are `first..first + count`; a longer code's first
            // `len` bits come after them, so this never takes a prefix for a symbol.
            let index = code.wrapping_sub(CODE.first[len]);
            if index < CODE.count[len] {
                let symbol = CODE.symbols[usize::from(CODE.start[len]) + index as usize];
                out.push(u8::try_from(symbol).map_err(|_| Invalid)?);
                code = 0;
                len = 0;
            } else if len == MAX_LEN {
                // Unreachable for a complete code, but keeps `len` in bounds.
                return Err(Invalid);
            }
        }
    }
    if len > 7 || code != (1 << len) - 1 {
        return Err(Invalid);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// loona's decoder is the reference.
    fn loona(input: &[u8]) -> Result<Vec<u8>, Invalid> {
        loona_hpack::huffman::HuffmanDecoder::new()
            .decode(input)
            .map_err(|_| Invalid)
    }

    fn ours(input: &[u8]) -> Result<Vec<u8>, Invalid> {
        let mut out = Vec::new();
        decode(input, &mut out).map(|()| out)
    }

    #[test]
    fn every_symbol_decodes_as_loona_does() {
        // Each symbol's code, padded with ones, alone and between two 'a's.
        for s in 0..=255u8 {
            let mut bits: Vec<bool> = Vec::new();
            let mut push = |sym: usize| {
                let len = usize::from(LENGTHS[sym]);
                let index = CODE.symbols[usize::from(CODE.start[len])..]
                    .iter()
                    .position(|&x| usize::from(x) == sym)
                    .expect("every symbol is in the table");
                let code = CODE.first[len] + index as u32;
                bits.extend((0..len).rev().map(|i| code >> i & 1 == 1));
            };
            push(usize::from(b'a'));
            push(usize::from(s));
            push(usize::from(b'a'));
            while bits.len() % 8 != 0 {
                bits.push(true);
            }
            let bytes: Vec<u8> = bits
                .chunks(8)
                .map(|c| c.iter().fold(0, |b, &bit| b << 1 | u8::from(bit)))
                .collect();
            assert_eq!(ours(&bytes), Ok(vec![b'a', s, b'a']), "symbol {s}");
            assert_eq!(ours(&bytes), loona(&bytes), "symbol {s}");
        }
    }

    #[test]
    fn rfc_7541_examples_and_bad_strings() {
        let www = [
            0xf1, 0xe3, 0xc2, 0xe5, 0xf2, 0x3a, 0x6b, 0xa0, 0xab, 0x90, 0xf4, 0xff,
        ];
        assert_eq!(ours(&www).as_deref(), Ok(&b"www.example.com"[..]));
        assert_eq!(ours(&[]), Ok(Vec::new()));
        assert_eq!(ours(&[0xff, 0xff, 0xff, 0xff]), Err(Invalid), "EOS");
        assert_eq!(ours(&[0x07, 0xff]), Err(Invalid), "padding over 7 bits");
        assert_eq!(ours(&[0x00]), Err(Invalid), "padding of zeros");
    }

    proptest! {
        #[test]
        fn arbitrary_strings_decode_as_loona_does(input in prop::collection::vec(any::<u8>(), 0..64)) {
            prop_assert_eq!(ours(&input), loona(&input));
        }
    }
}

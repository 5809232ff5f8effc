//! HPACK (RFC 7541) on the `loona-hpack` crate, behind a small API so that the rest of
//! the codec never sees its types.
//!
//! loona-hpack 0.4.3 was read for panics on hostile input: integers are capped at four
//! continuation octets (no overflow), string lengths are checked before slicing, the
//! Huffman decoder rejects EOS and bad padding, and index 0 or past the table is an
//! error. Its `assert!` in `set_max_table_size` (once a maximum allowed size is set) is
//! avoided by never setting that maximum, and its `panic!` on evicting from an empty
//! table guards an invariant its own size bookkeeping keeps; so no `catch_unwind`.
//!
//! Two things it lacks are done in a pre-pass over each block before loona sees it:
//! - size updates are allowed only at the start of a block (loona applies them
//!   anywhere, and refuses a block that ends with one, which RFC 7541 does not
//!   forbid): the pass applies the leading ones and refuses any later one;
//! - its Huffman decoder costs about 50 µs per string (it rebuilds its code table each
//!   time), so a 16 KiB block of empty Huffman strings took 370 ms of CPU: the pass
//!   decodes Huffman strings itself ([`crate::huffman`]) and hands loona plain ones.
//!
//! Loona still does the table: indexing, insertion and eviction. The encoder is ours
//! (`hpack/encode.rs`): loona's never indexed a field whose name is in the static table.
//!
//! The encoder sends no Huffman-coded strings. Once the dynamic table holds a
//! response's repeated fields they are one byte each, so what Huffman could still save
//! is a few bytes of the values that change (`content-length`), for a bit-level pass.

use std::borrow::Cow;

use bytes::{Bytes, BytesMut};

use crate::error::{ConnError, ErrorCode};

use crate::huffman;

mod encode;
mod static_table;

pub use encode::Encoder;

/// SETTINGS_HEADER_TABLE_SIZE until a peer says otherwise (RFC 9113 §6.5.2).
pub const DEFAULT_TABLE_SIZE: usize = 4096;

/// What each field adds to a header list's size beyond its name and value (RFC 7541
/// §4.1).
const FIELD_OVERHEAD: usize = 32;

/// The fields of one header block, in order, as `(name, value)`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DecodedList {
    fields: Vec<(Bytes, Bytes)>,
    size: usize,
}

impl DecodedList {
    /// The fields in order.
    pub fn fields(&self) -> &[(Bytes, Bytes)] {
        &self.fields
    }

    /// The list's size as RFC 7541 §4.1 counts it: name + value + 32 per field.
    pub fn size(&self) -> usize {
        self.size
    }
}

impl IntoIterator for DecodedList {
    type Item = (Bytes, Bytes);
    type IntoIter = std::vec::IntoIter<(Bytes, Bytes)>;

    fn into_iter(self) -> Self::IntoIter {
        self.fields.into_iter()
    }
}

/// Why a header block could not be turned into a list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The list is larger than allowed. The whole block was still processed, so the
    /// dynamic table is in step and the connection goes on; the stream gets 431. Holds
    /// the fields that fit before the limit was passed.
    TooLarge(DecodedList),
    /// The block is not valid HPACK: the compression context is lost and the connection
    /// must end with COMPRESSION_ERROR.
    Compression(CompressionError),
}

/// A header block that breaks RFC 7541.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CompressionError {
    /// What was wrong, for logs.
    pub reason: &'static str,
}

impl From<CompressionError> for ConnError {
    fn from(e: CompressionError) -> Self {
        ConnError::new(ErrorCode::COMPRESSION_ERROR, e.reason)
    }
}

impl From<CompressionError> for DecodeError {
    fn from(e: CompressionError) -> Self {
        DecodeError::Compression(e)
    }
}

const fn compression(reason: &'static str) -> CompressionError {
    CompressionError { reason }
}

const TRUNCATED: CompressionError = compression("hpack: truncated block");
const INTEGER_TOO_BIG: CompressionError = compression("hpack: integer too large");

/// Decodes the header blocks of one connection's peer, keeping its dynamic table.
pub struct Decoder {
    inner: loona_hpack::Decoder<'static>,
    /// Our SETTINGS_HEADER_TABLE_SIZE, in force once the peer acknowledged it.
    limit: usize,
    /// The table size the peer's encoder last announced.
    table_size: usize,
    /// The bytes and fields of the last list, so the next is stored without regrowing.
    last: (usize, usize),
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new()
    }
}

impl Decoder {
    /// A decoder with the default table size of 4096.
    pub fn new() -> Self {
        Decoder {
            inner: loona_hpack::Decoder::new(),
            limit: DEFAULT_TABLE_SIZE,
            table_size: DEFAULT_TABLE_SIZE,
            last: (0, 0),
        }
    }

    /// Sets the most the peer's table may hold: our SETTINGS_HEADER_TABLE_SIZE, once
    /// the peer has acknowledged it. If the peer's table is now too big, its next block
    /// must start with a size update (RFC 7541 §4.2).
    pub fn set_max_table_size(&mut self, size: usize) {
        self.limit = size;
    }

    /// Decodes one complete header block (HEADERS plus any CONTINUATION payloads).
    /// Fields are stored only while the list stays within `max_list_size`; past it the
    /// block is still decoded, to keep the table in step, and `TooLarge` is returned.
    pub fn decode(
        &mut self,
        block: &[u8],
        max_list_size: usize,
    ) -> Result<DecodedList, DecodeError> {
        let start = self.size_updates(block)?;
        let plain = plain_strings(block.get(start..).ok_or(TRUNCATED)?)?;
        let mut list = Collector::new(max_list_size, self.last);
        self.inner
            .decode_with_cb(&plain, |name, value| list.push(&name, &value))
            .map_err(loona_error)?;
        self.last = (list.bytes.len(), list.lens.len());
        list.finish()
    }

    /// Applies the size updates at the start of `block`, returning where its fields
    /// begin.
    fn size_updates(&mut self, block: &[u8]) -> Result<usize, CompressionError> {
        let mut pos = 0;
        while let Some(rest) = block.get(pos..) {
            if rest.first().is_none_or(|&b| b & 0xe0 != 0x20) {
                break;
            }
            let (size, len) = integer(rest, 5)?;
            if size > self.limit {
                return Err(compression("hpack: table size update above the limit"));
            }
            self.inner.set_max_table_size(size);
            self.table_size = size;
            pos += len;
        }
        if self.table_size > self.limit {
            return Err(compression("hpack: missing table size update"));
        }
        Ok(pos)
    }
}

/// The field representations of `block` with every Huffman string decoded, so that
/// loona only ever sees plain strings; fails on a size update among them. A block
/// without Huffman strings (once the table is warm, a request is mostly indices) is
/// checked but not copied.
fn plain_strings(block: &[u8]) -> Result<Cow<'_, [u8]>, CompressionError> {
    if !has_huffman(block)? {
        return Ok(Cow::Borrowed(block));
    }
    let mut block = block;
    let mut out = Vec::with_capacity(block.len() * 2);
    let mut scratch = Vec::new();
    while let Some(&first) = block.first() {
        let (prefix, literal) = if first & 0x80 != 0 {
            (7, false)
        } else if first & 0x40 != 0 {
            (6, true)
        } else if first & 0x20 != 0 {
            return Err(compression("hpack: table size update after a field"));
        } else {
            (4, true)
        };
        let (index, len) = integer(block, prefix)?;
        let (head, rest) = block.split_at_checked(len).ok_or(TRUNCATED)?;
        out.extend_from_slice(head);
        block = rest;
        if literal {
            if index == 0 {
                block = plain_string(block, &mut out, &mut scratch)?;
            }
            block = plain_string(block, &mut out, &mut scratch)?;
        }
    }
    Ok(Cow::Owned(out))
}

/// Whether any string literal of `block` is Huffman-coded, checking its integers,
/// lengths and representations on the way as `plain_strings` does.
fn has_huffman(mut block: &[u8]) -> Result<bool, CompressionError> {
    while let Some(&first) = block.first() {
        let prefix = match first {
            f if f & 0x80 != 0 => 7,
            f if f & 0x40 != 0 => 6,
            f if f & 0x20 != 0 => {
                return Err(compression("hpack: table size update after a field"))
            }
            _ => 4,
        };
        let (index, len) = integer(block, prefix)?;
        block = block.get(len..).ok_or(TRUNCATED)?;
        if prefix == 7 {
            continue;
        }
        for _ in 0..if index == 0 { 2 } else { 1 } {
            let huffman = block.first().is_some_and(|b| b & 0x80 != 0);
            let (len, pos) = integer(block, 7)?;
            if huffman {
                return Ok(true);
            }
            block = block.get(pos + len..).ok_or(TRUNCATED)?;
        }
    }
    Ok(false)
}

/// Copies the string literal at the start of `buf` to `out`, decoded if Huffman-coded,
/// and returns what follows it.
fn plain_string<'b>(
    buf: &'b [u8],
    out: &mut Vec<u8>,
    scratch: &mut Vec<u8>,
) -> Result<&'b [u8], CompressionError> {
    let (len, pos) = integer(buf, 7)?;
    let (literal, rest) = buf.split_at_checked(pos + len).ok_or(TRUNCATED)?;
    if buf[0] & 0x80 == 0 {
        out.extend_from_slice(literal);
    } else {
        scratch.clear();
        huffman::decode(&literal[pos..], scratch)
            .map_err(|_| compression("hpack: invalid Huffman string"))?;
        put_integer(out, scratch.len(), 7, 0);
        out.extend_from_slice(scratch);
    }
    Ok(rest)
}

/// Appends an RFC 7541 §5.1 integer with a `prefix`-bit prefix under `flags`.
fn put_integer(out: &mut Vec<u8>, value: usize, prefix: u8, flags: u8) {
    let max = u8::MAX >> (8 - prefix);
    let Some(mut rest) = value.checked_sub(usize::from(max)) else {
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

/// An RFC 7541 §5.1 integer with a `prefix`-bit prefix: its value and length. Like
/// loona, at most four continuation octets are taken, so the value stays below 2^29 and
/// both agree on every boundary.
fn integer(buf: &[u8], prefix: u8) -> Result<(usize, usize), CompressionError> {
    let mask = u8::MAX >> (8 - prefix);
    let first = *buf.first().ok_or(TRUNCATED)?;
    let mut value = usize::from(first & mask);
    if value < usize::from(mask) {
        return Ok((value, 1));
    }
    for (i, &b) in buf.iter().skip(1).take(4).enumerate() {
        value += usize::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Ok((value, i + 2));
        }
    }
    Err(if buf.len() >= 5 {
        INTEGER_TOO_BIG
    } else {
        TRUNCATED
    })
}

/// `plain_strings` has already checked integers, lengths and Huffman strings, so what
/// is left for loona to find is a bad index.
fn loona_error(e: loona_hpack::decoder::DecoderError) -> CompressionError {
    compression(match e {
        loona_hpack::decoder::DecoderError::HeaderIndexOutOfBounds => "hpack: index out of bounds",
        _ => "hpack: invalid block",
    })
}

/// Builds the list while counting its size, storing fields only while within the limit.
struct Collector {
    max: usize,
    /// The size of every field seen, stored or not.
    counted: usize,
    /// Names and values back to back, so the whole list is one allocation.
    bytes: BytesMut,
    lens: Vec<(usize, usize)>,
}

impl Collector {
    fn new(max: usize, (bytes, fields): (usize, usize)) -> Self {
        Collector {
            max,
            counted: 0,
            bytes: BytesMut::with_capacity(bytes),
            lens: Vec::with_capacity(fields),
        }
    }

    fn push(&mut self, name: &[u8], value: &[u8]) {
        let size = name.len() + value.len() + FIELD_OVERHEAD;
        self.counted = self.counted.saturating_add(size);
        // Once past the limit nothing more is stored, so the list keeps its order.
        if self.counted <= self.max {
            self.bytes.extend_from_slice(name);
            self.bytes.extend_from_slice(value);
            self.lens.push((name.len(), value.len()));
        }
    }

    fn finish(self) -> Result<DecodedList, DecodeError> {
        let mut bytes = self.bytes.freeze();
        let mut list = DecodedList {
            fields: Vec::with_capacity(self.lens.len()),
            size: 0,
        };
        for (name_len, value_len) in self.lens {
            let name = bytes.split_to(name_len);
            let value = bytes.split_to(value_len);
            list.size += name_len + value_len + FIELD_OVERHEAD;
            list.fields.push((name, value));
        }
        if self.counted > self.max {
            return Err(DecodeError::TooLarge(list));
        }
        Ok(list)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(block: &[u8]) -> Result<DecodedList, DecodeError> {
        Decoder::new().decode(block, usize::MAX)
    }

    fn is_compression(r: Result<DecodedList, DecodeError>) -> bool {
        matches!(r, Err(DecodeError::Compression(_)))
    }

    fn pairs(list: &DecodedList) -> Vec<(&[u8], &[u8])> {
        list.fields()
            .iter()
            .map(|(n, v)| (&n[..], &v[..]))
            .collect()
    }

    #[test]
    fn the_one_byte_block_0x3f_is_an_error_not_a_panic() {
        // fluke-hpack 0.3.1 panicked here: a size update whose integer never ends.
        assert!(is_compression(decode(&[0x3f])));
    }

    #[test]
    fn hostile_blocks_are_compression_errors() {
        const INDEX: &str = "hpack: index out of bounds";
        const CUT: &str = "hpack: truncated block";
        const BIG: &str = "hpack: integer too large";
        const HUFFMAN: &str = "hpack: invalid Huffman string";
        const AFTER: &str = "hpack: table size update after a field";
        let cases: &[(&str, &[u8], &str)] = &[
            ("index 0", &[0x80], INDEX),
            ("index past the static table", &[0xbe], INDEX),
            ("index far past the table", &[0xff, 0x80, 0x01], INDEX),
            (
                "name index past the table",
                &[0x7f, 0x00, 0x01, b'a'],
                INDEX,
            ),
            ("2^32 index", &[0xff, 0x81, 0xff, 0xff, 0xff, 0x0f], BIG),
            (
                "2^32 length",
                &[0x00, 0x7f, 0x81, 0xff, 0xff, 0xff, 0x0f],
                BIG,
            ),
            ("integer cut short", &[0xff, 0x80], CUT),
            ("string cut short", &[0x00, 0x05, b'a'], CUT),
            ("missing value", &[0x00, 0x01, b'a'], CUT),
            (
                "Huffman with EOS",
                &[0x00, 0x84, 0xff, 0xff, 0xff, 0xff, 0x00],
                HUFFMAN,
            ),
            (
                "padding over 7 bits",
                &[0x00, 0x82, 0x07, 0xff, 0x00],
                HUFFMAN,
            ),
            ("padding not ones", &[0x00, 0x81, 0x00, 0x00], HUFFMAN),
            (
                "size update above the max",
                &[0x3f, 0xe2, 0x1f],
                "hpack: table size update above the limit",
            ),
            ("size update after a field", &[0x82, 0x20], AFTER),
            (
                "size update between fields",
                &[0x82, 0x3f, 0xe1, 0x1f, 0x84],
                AFTER,
            ),
        ];
        for &(what, block, reason) in cases {
            assert_eq!(
                decode(block),
                Err(DecodeError::Compression(compression(reason))),
                "{what}"
            );
        }
    }

    #[test]
    fn compression_errors_end_the_connection_with_compression_error() {
        let Err(DecodeError::Compression(e)) = decode(&[0x80]) else {
            panic!("index 0 decoded");
        };
        let conn = ConnError::from(e);
        assert_eq!(conn.code, ErrorCode::COMPRESSION_ERROR);
        assert_eq!(conn.reason, "hpack: index out of bounds");
    }

    #[test]
    fn valid_blocks_decode_in_order_with_their_size() {
        // RFC 7541 C.3.1: GET http://www.example.com/
        let block = [
            0x82, 0x86, 0x84, 0x41, 0x0f, b'w', b'w', b'w', b'.', b'e', b'x', b'a', b'm', b'p',
            b'l', b'e', b'.', b'c', b'o', b'm',
        ];
        let list = decode(&block).expect("valid");
        let expect: [(&[u8], &[u8]); 4] = [
            (b":method", b"GET"),
            (b":scheme", b"http"),
            (b":path", b"/"),
            (b":authority", b"www.example.com"),
        ];
        assert_eq!(pairs(&list), expect);
        assert_eq!(list.size(), 42 + 43 + 38 + 57);
        // Huffman-coded "www.example.com" (C.4.1), a size update alone, the
        // largest allowed size update, then an empty block.
        let huffman = [
            0x41, 0x8c, 0xf1, 0xe3, 0xc2, 0xe5, 0xf2, 0x3a, 0x6b, 0xa0, 0xab, 0x90, 0xf4, 0xff,
        ];
        let list = decode(&huffman).expect("valid Huffman");
        assert_eq!(&list.fields()[0].1[..], b"www.example.com");
        assert_eq!(decode(&[0x20]), Ok(DecodedList::default()));
        assert!(decode(&[0x3f, 0xe1, 0x1f, 0x82]).is_ok());
        assert_eq!(decode(&[]), Ok(DecodedList::default()));
    }

    #[test]
    fn a_lowered_limit_requires_a_size_update_at_the_next_block() {
        let mut d = Decoder::new();
        d.set_max_table_size(100);
        assert!(is_compression(d.decode(&[0x82], usize::MAX)));
        let mut d = Decoder::new();
        d.set_max_table_size(100);
        // 31 + 69 = 100; two updates in a row are allowed.
        assert!(d.decode(&[0x20, 0x3f, 0x45, 0x82], usize::MAX).is_ok());
        assert!(d.decode(&[0x82], usize::MAX).is_ok());
        assert!(is_compression(d.decode(&[0x3f, 0x46], usize::MAX)));
    }

    #[test]
    fn an_hpack_bomb_is_too_large_with_bounded_memory_and_the_table_stays_in_step() {
        const LIMIT: usize = 32 * 1024;
        let value = vec![b'v'; 4000];
        // One 4033-byte entry added to the table, then referenced 10,000 times: 40 MB
        // of header list from a 10 kB block.
        let mut block = vec![0x40, 0x01, b'x', 0x7f, 0xa1, 0x1e];
        block.extend_from_slice(&value);
        block.extend(std::iter::repeat_n(0x80 | 62, 10_000));
        let mut d = Decoder::new();
        let Err(DecodeError::TooLarge(list)) = d.decode(&block, LIMIT) else {
            panic!("the bomb was not too large");
        };
        assert!(list.size() <= LIMIT);
        assert_eq!(list.fields().len(), LIMIT / (1 + 4000 + 32));
        // The next block still sees the entry, and adds another before it.
        let next = [0x82, 0x40, 0x01, b'y', 0x01, b'z', 0xbe, 0xbf];
        let list = d.decode(&next, LIMIT).expect("in step");
        let expect: [(&[u8], &[u8]); 4] = [
            (b":method", b"GET"),
            (b"y", b"z"),
            (b"y", b"z"),
            (b"x", &value),
        ];
        assert_eq!(pairs(&list), expect);
    }

    #[test]
    fn an_error_after_the_limit_is_still_a_compression_error() {
        let mut d = Decoder::new();
        assert!(is_compression(d.decode(&[0x82, 0x82, 0x80], 40)));
        assert!(
            matches!(d.decode(&[0x82, 0x82], 40), Err(DecodeError::TooLarge(l)) if l.fields().is_empty())
        );
    }
}

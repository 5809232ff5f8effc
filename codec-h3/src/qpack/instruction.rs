//! The instructions on QPACK's two unidirectional streams (RFC 9204 §4.3, §4.4): their
//! parsers, which take one instruction at a time off a stream that may stop anywhere,
//! and their encodings.

use bytes::Bytes;

use super::primitive::{
    decode_huffman, decode_int, decode_str_head, encode_int, encode_str, huffman_min_len, Error,
};
use crate::error::{ConnError, ErrorCode};

/// An instruction on the encoder stream, from the encoder that builds a dynamic table
/// to the decoder that mirrors it (§4.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EncoderInstruction {
    /// Set Dynamic Table Capacity.
    SetCapacity {
        /// The new capacity, at most the decoder's SETTINGS_QPACK_MAX_TABLE_CAPACITY.
        capacity: u64,
    },
    /// Insert with Name Reference: a new entry named like an existing one.
    InsertWithNameRef {
        /// Whether `index` is into the static table rather than the dynamic one.
        static_table: bool,
        /// A static index, or a dynamic index relative to the Insert Count (0 is the
        /// newest entry).
        index: u64,
        /// The new entry's value.
        value: Bytes,
    },
    /// Insert with Literal Name.
    InsertWithLiteralName {
        /// The new entry's name.
        name: Bytes,
        /// The new entry's value.
        value: Bytes,
    },
    /// Duplicate: an existing entry inserted again as the newest.
    Duplicate {
        /// Its index relative to the Insert Count.
        index: u64,
    },
}

impl EncoderInstruction {
    /// Takes one instruction off the front of `buf`: the instruction and its length, or
    /// `Ok(None)` if `buf` ends first. A string longer than `max_string` (after
    /// Huffman decoding) is refused as soon as its declared length shows it, before
    /// it is buffered: no entry holding it could fit the table.
    pub fn parse(buf: &[u8], max_string: u64) -> Result<Option<(Self, usize)>, ConnError> {
        let Some(&first) = buf.first() else {
            return Ok(None);
        };
        let mut pos = 0;
        let instruction = if first & 0x80 != 0 {
            let Some(index) = int(buf, &mut pos, 6, encoder_error)? else {
                return Ok(None);
            };
            let Some(value) = string(buf, &mut pos, 8, max_string)? else {
                return Ok(None);
            };
            EncoderInstruction::InsertWithNameRef {
                static_table: first & 0x40 != 0,
                index,
                value,
            }
        } else if first & 0x40 != 0 {
            let Some(name) = string(buf, &mut pos, 6, max_string)? else {
                return Ok(None);
            };
            let Some(value) = string(buf, &mut pos, 8, max_string)? else {
                return Ok(None);
            };
            EncoderInstruction::InsertWithLiteralName { name, value }
        } else {
            let Some(n) = int(buf, &mut pos, 5, encoder_error)? else {
                return Ok(None);
            };
            if first & 0x20 != 0 {
                EncoderInstruction::SetCapacity { capacity: n }
            } else {
                EncoderInstruction::Duplicate { index: n }
            }
        };
        Ok(Some((instruction, pos)))
    }

    /// Appends the instruction, its strings plain (not Huffman-coded).
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            EncoderInstruction::SetCapacity { capacity } => encode_int(*capacity, 5, 0x20, out),
            EncoderInstruction::InsertWithNameRef {
                static_table,
                index,
                value,
            } => {
                let t = if *static_table { 0x40 } else { 0 };
                encode_int(*index, 6, 0x80 | t, out);
                encode_str(value, 8, 0, out);
            }
            EncoderInstruction::InsertWithLiteralName { name, value } => {
                encode_str(name, 6, 0x40, out);
                encode_str(value, 8, 0, out);
            }
            EncoderInstruction::Duplicate { index } => encode_int(*index, 5, 0, out),
        }
    }
}

/// An instruction on the decoder stream, from the decoder back to the encoder (§4.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecoderInstruction {
    /// Section Acknowledgment: the oldest unacknowledged field section with dynamic
    /// references on this stream was decoded.
    SectionAck {
        /// The stream the section came on.
        stream: u64,
    },
    /// Stream Cancellation: the stream's field sections will never be decoded.
    StreamCancel {
        /// The stream reset or abandoned.
        stream: u64,
    },
    /// Insert Count Increment: this many more inserts were received.
    InsertCountIncrement {
        /// How many; 0 is an error for the encoder to find.
        increment: u64,
    },
}

impl DecoderInstruction {
    /// Takes one instruction off the front of `buf`: the instruction and its length, or
    /// `Ok(None)` if `buf` ends first.
    pub fn parse(buf: &[u8]) -> Result<Option<(Self, usize)>, ConnError> {
        let Some(&first) = buf.first() else {
            return Ok(None);
        };
        let mut pos = 0;
        let (prefix, make): (u8, fn(u64) -> Self) = if first & 0x80 != 0 {
            (7, |stream| DecoderInstruction::SectionAck { stream })
        } else if first & 0x40 != 0 {
            (6, |stream| DecoderInstruction::StreamCancel { stream })
        } else {
            (6, |increment| DecoderInstruction::InsertCountIncrement {
                increment,
            })
        };
        let Some(n) = int(buf, &mut pos, prefix, decoder_error)? else {
            return Ok(None);
        };
        Ok(Some((make(n), pos)))
    }

    /// Appends the instruction.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match *self {
            DecoderInstruction::SectionAck { stream } => encode_int(stream, 7, 0x80, out),
            DecoderInstruction::StreamCancel { stream } => encode_int(stream, 6, 0x40, out),
            DecoderInstruction::InsertCountIncrement { increment } => {
                encode_int(increment, 6, 0x00, out)
            }
        }
    }
}

fn encoder_error(reason: &'static str) -> ConnError {
    ConnError::new(ErrorCode::QPACK_ENCODER_STREAM_ERROR, reason)
}

fn decoder_error(reason: &'static str) -> ConnError {
    ConnError::new(ErrorCode::QPACK_DECODER_STREAM_ERROR, reason)
}

/// Reads an integer at `pos`, moving past it; `None` if `buf` ends first.
fn int(
    buf: &[u8],
    pos: &mut usize,
    prefix: u8,
    error: fn(&'static str) -> ConnError,
) -> Result<Option<u64>, ConnError> {
    match decode_int(&buf[*pos..], prefix) {
        Ok((n, len)) => {
            *pos += len;
            Ok(Some(n))
        }
        Err(Error::Incomplete) => Ok(None),
        Err(Error::Overflow) => Err(error("qpack: integer too large")),
    }
}

/// Reads a string literal with an `n`-bit prefix at `pos`, moving past it; `None` if
/// `buf` ends first.
fn string(buf: &[u8], pos: &mut usize, n: u8, max: u64) -> Result<Option<Bytes>, ConnError> {
    let (huffman, len, head) = match decode_str_head(&buf[*pos..], n) {
        Ok(head) => head,
        Err(Error::Incomplete) => return Ok(None),
        Err(Error::Overflow) => return Err(encoder_error("qpack: integer too large")),
    };
    let least = if huffman { huffman_min_len(len) } else { len };
    if least > max {
        return Err(encoder_error("qpack: string larger than the table"));
    }
    // At most `max` bytes, or 30/8 of that Huffman-coded, which the table's memory
    // bounds.
    let start = *pos + head;
    let Some(raw) = usize::try_from(len)
        .ok()
        .and_then(|len| buf.get(start..start.checked_add(len)?))
    else {
        return Ok(None);
    };
    let s = if huffman {
        decode_huffman(raw).map_err(|_| encoder_error("qpack: invalid Huffman string"))?
    } else {
        Bytes::copy_from_slice(raw)
    };
    if s.len() as u64 > max {
        return Err(encoder_error("qpack: string larger than the table"));
    }
    *pos = start + raw.len();
    Ok(Some(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(wire: &[u8]) -> Result<Option<(EncoderInstruction, usize)>, ConnError> {
        EncoderInstruction::parse(wire, 1000)
    }

    #[test]
    fn rfc_9204_appendix_b_encoder_instructions() {
        let cases: [(&[u8], EncoderInstruction); 5] = [
            (
                &[0x3f, 0xbd, 0x01],
                EncoderInstruction::SetCapacity { capacity: 220 },
            ),
            (
                b"\xc0\x0fwww.example.com",
                EncoderInstruction::InsertWithNameRef {
                    static_table: true,
                    index: 0,
                    value: Bytes::from_static(b"www.example.com"),
                },
            ),
            (
                b"\x4acustom-key\x0ccustom-value",
                EncoderInstruction::InsertWithLiteralName {
                    name: Bytes::from_static(b"custom-key"),
                    value: Bytes::from_static(b"custom-value"),
                },
            ),
            (&[0x02], EncoderInstruction::Duplicate { index: 2 }),
            (
                b"\x81\x0dcustom-value2",
                EncoderInstruction::InsertWithNameRef {
                    static_table: false,
                    index: 1,
                    value: Bytes::from_static(b"custom-value2"),
                },
            ),
        ];
        for (wire, instruction) in cases {
            assert_eq!(enc(wire), Ok(Some((instruction.clone(), wire.len()))));
            for cut in 0..wire.len() {
                assert_eq!(enc(&wire[..cut]), Ok(None), "{instruction:?} cut at {cut}");
            }
            let mut out = Vec::new();
            instruction.encode(&mut out);
            assert_eq!(out, wire);
        }
    }

    #[test]
    fn huffman_strings_are_decoded() {
        // "www.example.com" Huffman-coded (RFC 7541 C.4.1) as a literal name.
        let mut wire = vec![0x6c];
        wire.extend([
            0xf1, 0xe3, 0xc2, 0xe5, 0xf2, 0x3a, 0x6b, 0xa0, 0xab, 0x90, 0xf4, 0xff,
        ]);
        wire.push(0x00);
        let Ok(Some((EncoderInstruction::InsertWithLiteralName { name, value }, 14))) = enc(&wire)
        else {
            panic!("not decoded: {:?}", enc(&wire));
        };
        assert_eq!((&name[..], &value[..]), (&b"www.example.com"[..], &b""[..]));
        let bad = [0x80, 0x81, 0x00];
        assert_eq!(
            enc(&bad).map_err(|e| e.reason),
            Err("qpack: invalid Huffman string")
        );
    }

    #[test]
    fn strings_too_large_for_the_table_are_refused_from_their_length() {
        let error = |r: Result<Option<(EncoderInstruction, usize)>, ConnError>| {
            let e = r.expect_err("must fail");
            assert_eq!(e.code, ErrorCode::QPACK_ENCODER_STREAM_ERROR);
            e.reason
        };
        // Only the heads of a 1001-byte value and name, no string bytes yet.
        let long_value = [0xc0, 0x7f, 0xea, 0x06];
        assert_eq!(
            error(enc(&long_value)),
            "qpack: string larger than the table"
        );
        let long_name = [0x5f, 0xca, 0x07];
        assert_eq!(
            error(enc(&long_name)),
            "qpack: string larger than the table"
        );
        // A Huffman length that could still decode within 1000 bytes waits...
        assert_eq!(enc(&[0xc0, 0xff, 0xab, 0x1c]), Ok(None));
        // ...one that cannot (3755 bytes decode to at least 1001) does not.
        assert_eq!(
            error(enc(&[0xc0, 0xff, 0xac, 0x1c])),
            "qpack: string larger than the table"
        );
        let huge = [
            0x3f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
        ];
        assert_eq!(error(enc(&huge)), "qpack: integer too large");
    }

    #[test]
    fn decoder_instructions_parse_and_encode() {
        let cases: [(&[u8], DecoderInstruction); 4] = [
            (&[0x84], DecoderInstruction::SectionAck { stream: 4 }),
            (&[0x48], DecoderInstruction::StreamCancel { stream: 8 }),
            (
                &[0x01],
                DecoderInstruction::InsertCountIncrement { increment: 1 },
            ),
            (
                &[0xff, 0x81, 0x01],
                DecoderInstruction::SectionAck { stream: 127 + 129 },
            ),
        ];
        for (wire, instruction) in cases {
            assert_eq!(
                DecoderInstruction::parse(wire),
                Ok(Some((instruction, wire.len())))
            );
            assert_eq!(DecoderInstruction::parse(&wire[..wire.len() - 1]), Ok(None));
            let mut out = Vec::new();
            instruction.encode(&mut out);
            assert_eq!(out, wire);
        }
        let huge = [
            0x3f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
        ];
        let e = DecoderInstruction::parse(&huge).expect_err("too large");
        assert_eq!(e.code, ErrorCode::QPACK_DECODER_STREAM_ERROR);
    }
}

//! The frame header (RFC 6455 §5.2): reading a client's, writing the server's.

use crate::error::ErrorKind;

/// The longest header the server writes: no mask key.
pub(crate) const MAX_SERVER_HEADER_LEN: usize = 10;
/// The most a control frame may carry (§5.5).
pub(crate) const MAX_CONTROL_PAYLOAD: usize = 125;

/// A frame's opcode, reserved ones excluded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OpCode {
    Continuation,
    Text,
    Binary,
    Close,
    Ping,
    Pong,
}

impl OpCode {
    fn from_bits(bits: u8) -> Result<Self, ErrorKind> {
        Ok(match bits {
            0x0 => OpCode::Continuation,
            0x1 => OpCode::Text,
            0x2 => OpCode::Binary,
            0x8 => OpCode::Close,
            0x9 => OpCode::Ping,
            0xa => OpCode::Pong,
            other => return Err(ErrorKind::ReservedOpcode(other)),
        })
    }

    fn bits(self) -> u8 {
        match self {
            OpCode::Continuation => 0x0,
            OpCode::Text => 0x1,
            OpCode::Binary => 0x2,
            OpCode::Close => 0x8,
            OpCode::Ping => 0x9,
            OpCode::Pong => 0xa,
        }
    }

    pub(crate) fn is_control(self) -> bool {
        matches!(self, OpCode::Close | OpCode::Ping | OpCode::Pong)
    }
}

/// A client frame's header, checked for everything that does not depend on the
/// session's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) fin: bool,
    pub(crate) rsv1: bool,
    pub(crate) opcode: OpCode,
    pub(crate) mask: [u8; 4],
    pub(crate) len: u64,
}

/// Reads a client frame's header from the front of `buf`: `None` until it is all
/// there, then the header and its length in bytes.
///
/// Refused here: RSV2/RSV3, reserved opcodes, control frames that are fragmented,
/// longer than 125 bytes or carry RSV1, unmasked frames, and lengths with the top bit
/// set. Each is checked as soon as the bytes that show it are in, so a bad header
/// fails without waiting for the rest of it.
pub(crate) fn parse_header(buf: &[u8]) -> Result<Option<(Header, usize)>, ErrorKind> {
    let [b0, b1, rest @ ..] = buf else {
        return Ok(None);
    };
    let fin = b0 & 0x80 != 0;
    let rsv1 = b0 & 0x40 != 0;
    if b0 & 0x30 != 0 {
        return Err(ErrorKind::ReservedBits);
    }
    let opcode = OpCode::from_bits(b0 & 0x0f)?;
    let masked = b1 & 0x80 != 0;
    let short = b1 & 0x7f;
    if opcode.is_control() {
        if !fin {
            return Err(ErrorKind::FragmentedControlFrame);
        }
        if short as usize > MAX_CONTROL_PAYLOAD {
            return Err(ErrorKind::ControlFrameTooLong);
        }
        if rsv1 {
            return Err(ErrorKind::ReservedBits);
        }
    }
    if !masked {
        return Err(ErrorKind::UnmaskedFrame);
    }
    let (len, rest) = match short {
        126 => match rest {
            [a, b, rest @ ..] => (u64::from(u16::from_be_bytes([*a, *b])), rest),
            _ => return Ok(None),
        },
        127 => match rest {
            [a, b, c, d, e, f, g, h, rest @ ..] => {
                let len = u64::from_be_bytes([*a, *b, *c, *d, *e, *f, *g, *h]);
                if len >> 63 != 0 {
                    return Err(ErrorKind::InvalidLength);
                }
                (len, rest)
            }
            [a, ..] if a & 0x80 != 0 => return Err(ErrorKind::InvalidLength),
            _ => return Ok(None),
        },
        n => (u64::from(n), rest),
    };
    let [m0, m1, m2, m3, ..] = rest else {
        return Ok(None);
    };
    let header = Header {
        fin,
        rsv1,
        opcode,
        mask: [*m0, *m1, *m2, *m3],
        len,
    };
    Ok(Some((header, buf.len() - rest.len() + 4)))
}

/// A server frame's header, ready to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ServerHeader {
    bytes: [u8; MAX_SERVER_HEADER_LEN],
    len: u8,
}

impl ServerHeader {
    /// The header of an unmasked frame with a payload of `len` bytes.
    pub(crate) fn new(fin: bool, rsv1: bool, opcode: OpCode, len: usize) -> Self {
        let mut bytes = [0; MAX_SERVER_HEADER_LEN];
        bytes[0] = (u8::from(fin) << 7) | (u8::from(rsv1) << 6) | opcode.bits();
        let n = match len {
            0..=125 => {
                // The match arm bounds `len` to one byte.
                bytes[1] = len as u8;
                2
            }
            126..=0xffff => {
                bytes[1] = 126;
                bytes[2..4].copy_from_slice(&(len as u16).to_be_bytes());
                4
            }
            _ => {
                bytes[1] = 127;
                bytes[2..10].copy_from_slice(&(len as u64).to_be_bytes());
                10
            }
        };
        ServerHeader { bytes, len: n }
    }

    /// The encoded header.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masked(b0: u8, len_bytes: &[u8]) -> Vec<u8> {
        let mut v = vec![b0];
        v.push(len_bytes[0] | 0x80);
        v.extend_from_slice(&len_bytes[1..]);
        v.extend_from_slice(&[1, 2, 3, 4]);
        v
    }

    #[test]
    fn short_medium_and_long_lengths() {
        let (h, n) = parse_header(&masked(0x82, &[5])).unwrap().unwrap();
        assert_eq!((h.len, n, h.opcode, h.fin), (5, 6, OpCode::Binary, true));
        let (h, n) = parse_header(&masked(0x02, &[126, 0x01, 0x00]))
            .unwrap()
            .unwrap();
        assert_eq!((h.len, n, h.fin), (256, 8, false));
        let mut long = [127, 0, 0, 0, 1, 0, 0, 0, 0];
        let (h, n) = parse_header(&masked(0x81, &long)).unwrap().unwrap();
        assert_eq!((h.len, n), (1 << 32, 14));
        long[1] = 0x80;
        assert_eq!(
            parse_header(&masked(0x81, &long)),
            Err(ErrorKind::InvalidLength)
        );
    }

    #[test]
    fn every_prefix_of_a_header_is_incomplete() {
        let full = masked(0x81, &[127, 0, 0, 0, 0, 0, 1, 0, 0]);
        for cut in 0..full.len() {
            assert_eq!(parse_header(&full[..cut]), Ok(None), "cut {cut}");
        }
        assert!(parse_header(&full).unwrap().is_some());
    }

    #[test]
    fn bad_length_top_bit_fails_before_the_rest_arrives() {
        assert_eq!(
            parse_header(&[0x82, 0xff, 0x80]),
            Err(ErrorKind::InvalidLength)
        );
    }

    #[test]
    fn refusals() {
        assert_eq!(parse_header(&[0xa2, 0x80]), Err(ErrorKind::ReservedBits));
        assert_eq!(parse_header(&[0x92, 0x80]), Err(ErrorKind::ReservedBits));
        assert_eq!(parse_header(&[0xc9, 0x80]), Err(ErrorKind::ReservedBits));
        for op in [3u8, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf] {
            assert_eq!(
                parse_header(&[0x80 | op, 0x80]),
                Err(ErrorKind::ReservedOpcode(op))
            );
        }
        assert_eq!(
            parse_header(&[0x09, 0x80]),
            Err(ErrorKind::FragmentedControlFrame)
        );
        assert_eq!(
            parse_header(&[0x89, 0xfe]),
            Err(ErrorKind::ControlFrameTooLong)
        );
        assert_eq!(parse_header(&[0x82, 0x05]), Err(ErrorKind::UnmaskedFrame));
        // RSV1 on a data frame is the session's call (permessage-deflate).
        assert!(parse_header(&[0xc1, 0x80, 0, 0, 0, 0]).unwrap().is_some());
    }

    #[test]
    fn server_headers() {
        assert_eq!(
            ServerHeader::new(true, false, OpCode::Text, 5).as_bytes(),
            [0x81, 5]
        );
        assert_eq!(
            ServerHeader::new(false, true, OpCode::Binary, 300).as_bytes(),
            [0x42, 126, 0x01, 0x2c]
        );
        assert_eq!(
            ServerHeader::new(true, false, OpCode::Continuation, 70_000).as_bytes(),
            [0x80, 127, 0, 0, 0, 0, 0, 0x01, 0x11, 0x70]
        );
        assert_eq!(
            ServerHeader::new(true, false, OpCode::Close, 0).as_bytes(),
            [0x88, 0]
        );
    }
}

//! The little of HTTP/3 and QPACK the `h3-load` client speaks: one pre-encoded
//! request HEADERS frame (static table and literals, no dynamic table), and a reader
//! of response frames that checks the status is 200 and counts the body.

use bytes::Bytes;

/// A response field section larger than this is refused rather than buffered.
const MAX_FIELD_SECTION: u64 = 64 * 1024;

/// The HEADERS frame of `GET https://AUTHORITY/PATH`, encoded once for the run:
/// QPACK with no dynamic table (a zero prefix), `:method: GET` and `:scheme:
/// https` as static-table entries, `:authority` and `:path` as literals with
/// static names (`:path: /` from the table).
pub(crate) fn request_frame(authority: &str, path: &str) -> Bytes {
    let mut block = vec![0x00, 0x00];
    // Indexed field lines (0b11, T = static): :method GET (17), :scheme https (23).
    block.extend_from_slice(&[0xc0 | 17, 0xc0 | 23]);
    literal_with_static_name(&mut block, 0, authority);
    if path == "/" {
        block.push(0xc0 | 1);
    } else {
        literal_with_static_name(&mut block, 1, path);
    }
    let mut frame = Vec::with_capacity(block.len() + 4);
    put_varint(&mut frame, 0x01);
    put_varint(&mut frame, block.len() as u64);
    frame.extend_from_slice(&block);
    frame.into()
}

/// A literal field line with a static name reference (0b01, N = 0, T = 1) and
/// a plain (not Huffman-coded) value.
fn literal_with_static_name(out: &mut Vec<u8>, index: u64, value: &str) {
    put_prefix_int(out, 0x50, 4, index);
    put_prefix_int(out, 0x00, 7, value.len() as u64);
    out.extend_from_slice(value.as_bytes());
}

/// A QPACK/HPACK prefixed integer (RFC 7541 §5.1) after the `flags` bits.
fn put_prefix_int(out: &mut Vec<u8>, flags: u8, bits: u32, mut value: u64) {
    let max = (1u64 << bits) - 1;
    if value < max {
        out.push(flags | value as u8);
        return;
    }
    out.push(flags | max as u8);
    value -= max;
    while value >= 0x80 {
        out.push(0x80 | (value & 0x7f) as u8);
        value >>= 7;
    }
    out.push(value as u8);
}

/// A prefixed integer in the low `bits` of `buf[0]` and on: (value, length).
fn prefix_int(buf: &[u8], bits: u32) -> Option<(u64, usize)> {
    let max = (1u64 << bits) - 1;
    let mut value = u64::from(*buf.first()?) & max;
    if value < max {
        return Some((value, 1));
    }
    for (i, &b) in buf.iter().enumerate().skip(1).take(9) {
        value += u64::from(b & 0x7f) << (7 * (i - 1));
        if b & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

/// A QUIC variable-length integer (RFC 9000 §16).
fn put_varint(out: &mut Vec<u8>, v: u64) {
    match v {
        0..0x40 => out.push(v as u8),
        0x40..0x4000 => out.extend_from_slice(&(0x4000 | v as u16).to_be_bytes()),
        0x4000..0x4000_0000 => out.extend_from_slice(&(0x8000_0000 | v as u32).to_be_bytes()),
        _ => out.extend_from_slice(&(0xc000_0000_0000_0000 | v).to_be_bytes()),
    }
}

/// A QUIC variable-length integer at the start of `buf`: (value, length).
fn varint(buf: &[u8]) -> Option<(u64, usize)> {
    let first = *buf.first()?;
    let len = 1 << (first >> 6);
    let rest = buf.get(1..len)?;
    let value = rest
        .iter()
        .fold(u64::from(first & 0x3f), |v, &b| v << 8 | u64::from(b));
    Some((value, len))
}

/// The kinds of frame a response stream carries, as far as this client cares.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Frame {
    Data,
    /// The response's HEADERS, which this client reads.
    Headers,
    /// Trailers, and every other or unknown type (grease): skipped.
    Other,
}

/// Reads a response stream's frames from chunks that split them anywhere.
#[derive(Debug, Default)]
pub(crate) struct ResponseReader {
    /// The start of a frame header cut by a chunk's end: two varints, 16 bytes
    /// at most.
    head: [u8; 16],
    head_len: usize,
    /// The frame being read and its payload bytes still to come.
    frame: Option<(Frame, u64)>,
    /// The HEADERS field section as it arrives.
    fields: Vec<u8>,
    headers_done: bool,
    body: u64,
}

impl ResponseReader {
    pub(crate) fn feed(&mut self, mut data: &[u8]) -> Result<(), String> {
        while !data.is_empty() {
            if let Some((frame, left)) = self.frame {
                let n = data.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                match frame {
                    Frame::Data => self.body += n as u64,
                    Frame::Headers => self.fields.extend_from_slice(&data[..n]),
                    Frame::Other => {}
                }
                data = &data[n..];
                self.frame = Some((frame, left - n as u64));
                if left == n as u64 {
                    self.end_frame(frame)?;
                }
                continue;
            }
            let take = data.len().min(self.head.len() - self.head_len);
            self.head[self.head_len..self.head_len + take].copy_from_slice(&data[..take]);
            let filled = &self.head[..self.head_len + take];
            let Some((kind, len, size)) = varint(filled)
                .and_then(|(kind, a)| varint(&filled[a..]).map(|(len, b)| (kind, len, a + b)))
            else {
                // 16 bytes always hold two varints, so `take` was all of `data`.
                self.head_len += take;
                break;
            };
            data = &data[size - self.head_len..];
            self.head_len = 0;
            let frame = match kind {
                0x00 if self.headers_done => Frame::Data,
                0x00 => return Err("DATA before the response's HEADERS".into()),
                0x01 if !self.headers_done => Frame::Headers,
                _ => Frame::Other,
            };
            if frame == Frame::Headers && len > MAX_FIELD_SECTION {
                return Err(format!("a {len}-byte response field section"));
            }
            self.frame = Some((frame, len));
            if len == 0 {
                self.end_frame(frame)?;
            }
        }
        Ok(())
    }

    fn end_frame(&mut self, frame: Frame) -> Result<(), String> {
        self.frame = None;
        if frame == Frame::Headers {
            check_status(&self.fields)?;
            self.headers_done = true;
        }
        Ok(())
    }

    /// The body length, once the stream has ended.
    pub(crate) fn finish(&self) -> Result<u64, String> {
        if self.head_len > 0 || self.frame.is_some() {
            Err("the response stream ended inside a frame".into())
        } else if !self.headers_done {
            Err("the response stream ended without HEADERS".into())
        } else {
            Ok(self.body)
        }
    }
}

/// The `:status` entries of the QPACK static table (RFC 9204 appendix A).
const STATIC_STATUS: [(u64, &str); 14] = [
    (24, "103"),
    (25, "200"),
    (26, "304"),
    (27, "404"),
    (28, "503"),
    (63, "100"),
    (64, "204"),
    (65, "206"),
    (66, "302"),
    (67, "400"),
    (68, "403"),
    (69, "421"),
    (70, "425"),
    (71, "500"),
];

/// `200` Huffman-coded (RFC 7541 appendix B: `2` is 00010, `0` is 00000,
/// padded with ones).
const HUFFMAN_200: [u8; 2] = [0x10, 0x01];

/// Checks that a response field section starts with `:status: 200`
/// (pseudo-fields come first, RFC 9114 §4.3): an indexed static entry, or a
/// literal with the static `:status` name. A dynamic-table reference is an
/// error, since this client's table capacity is 0.
fn check_status(section: &[u8]) -> Result<(), String> {
    let malformed = || format!("unexpected response field section {section:02x?}");
    let (required_insert_count, a) = prefix_int(section, 8).ok_or_else(malformed)?;
    if required_insert_count != 0 {
        return Err("the response refers to the QPACK dynamic table".into());
    }
    let (_delta_base, b) = prefix_int(&section[a..], 7).ok_or_else(malformed)?;
    let line = &section[a + b..];
    let status_name = |index| STATIC_STATUS.iter().find(|(i, _)| *i == index);
    let first = *line.first().ok_or_else(malformed)?;
    let status: &[u8] = if first & 0xc0 == 0xc0 {
        let (index, _) = prefix_int(line, 6).ok_or_else(malformed)?;
        status_name(index).ok_or_else(malformed)?.1.as_bytes()
    } else if first & 0xd0 == 0x50 {
        let (index, c) = prefix_int(line, 4).ok_or_else(malformed)?;
        status_name(index).ok_or_else(malformed)?;
        let value = &line[c..];
        let huffman = value.first().is_some_and(|v| v & 0x80 != 0);
        let (len, d) = prefix_int(value, 7).ok_or_else(malformed)?;
        let text = value
            .get(d..d + usize::try_from(len).unwrap_or(usize::MAX))
            .ok_or_else(malformed)?;
        match (huffman, text == HUFFMAN_200) {
            (false, _) => text,
            (true, true) => b"200",
            (true, false) => return Err("a Huffman-coded status other than 200".into()),
        }
    } else {
        return Err(malformed());
    };
    if status == b"200" {
        Ok(())
    } else {
        Err(format!("status {}", String::from_utf8_lossy(status)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers() {
        for v in [
            0,
            63,
            64,
            16_383,
            16_384,
            (1 << 30) - 1,
            1 << 30,
            (1 << 62) - 1,
        ] {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            assert_eq!(varint(&out), Some((v, out.len())), "{v}");
            assert_eq!(varint(&out[..out.len() - 1]), None, "{v}");
        }
        for (bits, v) in [(4, 14), (4, 15), (6, 71), (7, 127), (7, 300), (8, 1 << 40)] {
            let mut out = Vec::new();
            put_prefix_int(&mut out, 0, bits, v);
            assert_eq!(prefix_int(&out, bits), Some((v, out.len())), "{bits} {v}");
        }
        // RFC 7541 C.1.2: 1337 with a 5-bit prefix.
        assert_eq!(prefix_int(&[0x1f, 0x9a, 0x0a], 5), Some((1337, 3)));
    }

    #[test]
    fn request_block() {
        let frame = request_frame("127.0.0.1:8443", "/");
        let mut expected = vec![0x01, 0x15, 0x00, 0x00, 0xd1, 0xd7, 0x50, 14];
        expected.extend_from_slice(b"127.0.0.1:8443");
        expected.push(0xc1);
        assert_eq!(&frame[..], expected);
        let frame = request_frame("a:1", "/big?bytes=65536");
        assert_eq!(&frame[frame.len() - 18..frame.len() - 16], [0x51, 16]);
        assert!(frame.ends_with(b"/big?bytes=65536"));
    }

    /// A response: HEADERS with `section`, a grease frame, DATA of `body`.
    fn response(section: &[u8], body: &[u8]) -> Vec<u8> {
        let mut out = vec![0x01, section.len() as u8];
        out.extend_from_slice(section);
        out.extend_from_slice(&[0x21, 0x02, 0xaa, 0xbb]);
        put_varint(&mut out, 0x00);
        put_varint(&mut out, body.len() as u64);
        out.extend_from_slice(body);
        out
    }

    fn read(bytes: &[u8], chunk: usize) -> Result<u64, String> {
        let mut r = ResponseReader::default();
        for piece in bytes.chunks(chunk) {
            r.feed(piece)?;
        }
        r.finish()
    }

    #[test]
    fn responses_in_any_chunking() {
        // :status 200, then content-type: text/plain;charset=utf-8 (static 53).
        let ok = response(&[0x00, 0x00, 0xd9, 0xf5], &[b'x'; 300]);
        for chunk in [1, 2, 3, 7, 64, 1000] {
            assert_eq!(read(&ok, chunk), Ok(300), "{chunk}");
            assert!(read(&ok[..ok.len() - 1], chunk).is_err(), "{chunk}");
        }
        // No DATA at all.
        assert_eq!(read(&[0x01, 0x03, 0x00, 0x00, 0xd9], 2), Ok(0));
        assert!(read(&[0x00, 0x01, b'x'], 1).is_err());
        assert!(read(&[], 1).is_err());
    }

    #[test]
    fn status_encodings() {
        assert_eq!(check_status(&[0x00, 0x00, 0xd9]), Ok(()));
        assert_eq!(check_status(&[0x00, 0x00, 0xdb]), Err("status 404".into()));
        // 500 is static entry 71: 63 in the prefix, then 8.
        assert_eq!(
            check_status(&[0x00, 0x00, 0xff, 0x08]),
            Err("status 500".into())
        );
        // Literal with the :status name (24): plain and Huffman-coded values.
        assert_eq!(
            check_status(&[0x00, 0x00, 0x5f, 0x09, 3, b'2', b'0', b'0']),
            Ok(())
        );
        assert_eq!(
            check_status(&[0x00, 0x00, 0x5f, 0x09, 3, b'4', b'3', b'1']),
            Err("status 431".into())
        );
        assert_eq!(
            check_status(&[0x00, 0x00, 0x5f, 0x09, 0x82, 0x10, 0x01]),
            Ok(())
        );
        // A dynamic-table reference, a non-status first field, a truncated one.
        assert!(check_status(&[0x01, 0x00, 0x80]).is_err());
        assert!(check_status(&[0x00, 0x00, 0xd1]).is_err());
        assert!(check_status(&[0x00, 0x00, 0x5f, 0x09, 3, b'2']).is_err());
    }
}

//! Request body decoding: Content-Length and chunked (with trailers).
//!
//! Data is split off the receive buffer as `Bytes`, so it is never copied. Chunk framing
//! is read byte by byte into a small state machine, so any split of the input gives the
//! same result.

use bytes::{Buf, Bytes, BytesMut};
use http::HeaderMap;

use crate::config::Config;
use crate::error::ErrorKind;
use crate::head;
use crate::scan::LineScanner;

/// One step of body output.
#[derive(Debug)]
pub(crate) enum Decoded {
    Data(Bytes),
    End(Option<HeaderMap>),
}

/// The body decoder of one request.
#[derive(Debug)]
pub(crate) enum BodyDecoder {
    /// Bytes still to come of a Content-Length body.
    Length(u64),
    Chunked(Chunked),
}

#[derive(Debug)]
pub(crate) struct Chunked {
    state: State,
    /// Size of the current chunk while reading its size, then what is left of its data.
    size: u64,
    digits: u8,
    /// Length of the current chunk-size line, so extensions cannot run on forever.
    line: usize,
    /// Sum of all chunk sizes, held against `max_content_length`.
    total: u64,
    trailers: LineScanner,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Size,
    /// Whitespace after the size digits, before `;` or CR.
    AfterSize,
    Ext,
    SizeLf,
    Data,
    DataCr,
    DataLf,
    Trailers,
    Done,
}

const fn bad(why: &'static str) -> ErrorKind {
    ErrorKind::BadRequest(why)
}

impl BodyDecoder {
    pub(crate) fn chunked() -> Self {
        BodyDecoder::Chunked(Chunked {
            state: State::Size,
            size: 0,
            digits: 0,
            line: 0,
            total: 0,
            trailers: LineScanner::trailers(),
        })
    }

    /// Next piece of the body from `buf`; `Ok(None)` = more input needed.
    pub(crate) fn decode(
        &mut self,
        buf: &mut BytesMut,
        config: &Config,
    ) -> Result<Option<Decoded>, ErrorKind> {
        match self {
            BodyDecoder::Length(0) => Ok(Some(Decoded::End(None))),
            BodyDecoder::Length(_) if buf.is_empty() => Ok(None),
            BodyDecoder::Length(remaining) => {
                let n = take_len(*remaining, buf.len());
                *remaining -= n as u64;
                Ok(Some(Decoded::Data(buf.split_to(n).freeze())))
            }
            BodyDecoder::Chunked(c) => c.decode(buf, config),
        }
    }
}

/// `min(remaining, available)` as a usize.
fn take_len(remaining: u64, available: usize) -> usize {
    usize::try_from(remaining).map_or(available, |r| r.min(available))
}

impl Chunked {
    fn decode(
        &mut self,
        buf: &mut BytesMut,
        config: &Config,
    ) -> Result<Option<Decoded>, ErrorKind> {
        loop {
            match self.state {
                State::Data => {
                    if buf.is_empty() {
                        return Ok(None);
                    }
                    let n = take_len(self.size, buf.len());
                    self.size -= n as u64;
                    if self.size == 0 {
                        self.state = State::DataCr;
                    }
                    return Ok(Some(Decoded::Data(buf.split_to(n).freeze())));
                }
                State::Trailers => return self.trailers(buf, config),
                State::Done => return Ok(Some(Decoded::End(None))),
                _ => {
                    let Some(&b) = buf.first() else {
                        return Ok(None);
                    };
                    buf.advance(1);
                    self.step(b, config)?;
                }
            }
        }
    }

    /// One byte of chunk framing.
    fn step(&mut self, b: u8, config: &Config) -> Result<(), ErrorKind> {
        if matches!(self.state, State::Size | State::AfterSize | State::Ext) {
            self.line += 1;
            if self.line > config.max_header_line {
                return Err(bad("chunk size line too long"));
            }
        }
        self.state = match (self.state, b) {
            (State::Size, _) if b.is_ascii_hexdigit() => {
                self.digits += 1;
                if self.digits > 16 {
                    return Err(bad("chunk size too long"));
                }
                // At most 16 hex digits, so this cannot overflow a u64.
                self.size = self.size << 4 | u64::from(hex(b));
                State::Size
            }
            (State::Size, _) if self.digits == 0 => return Err(bad("missing chunk size")),
            (State::Size | State::AfterSize, b' ' | b'\t') => State::AfterSize,
            (State::Size | State::AfterSize, b';') => State::Ext,
            (State::Size | State::AfterSize | State::Ext, b'\r') => State::SizeLf,
            (State::Ext, b'\n') => return Err(bad("bare LF in chunk extension")),
            (State::Ext, _) if b.is_ascii_control() && b != b'\t' => {
                return Err(bad("control character in chunk extension"))
            }
            (State::Ext, _) => State::Ext,
            (State::SizeLf, b'\n') => {
                self.total = self
                    .total
                    .checked_add(self.size)
                    .filter(|t| *t <= config.max_content_length)
                    .ok_or(ErrorKind::BodyTooLarge)?;
                if self.size == 0 {
                    State::Trailers
                } else {
                    State::Data
                }
            }
            (State::DataCr, b'\r') => State::DataLf,
            (State::DataLf, b'\n') => {
                self.digits = 0;
                self.line = 0;
                State::Size
            }
            (State::DataCr | State::DataLf, _) => return Err(bad("missing CRLF after chunk data")),
            _ => return Err(bad("malformed chunk size line")),
        };
        Ok(())
    }

    fn trailers(
        &mut self,
        buf: &mut BytesMut,
        config: &Config,
    ) -> Result<Option<Decoded>, ErrorKind> {
        let Some(section) = self.trailers.scan(buf, config)? else {
            return Ok(None);
        };
        let block = buf.split_to(section.end).freeze();
        self.state = State::Done;
        if block.len() == 2 {
            return Ok(Some(Decoded::End(None)));
        }
        let map = head::parse_trailers(&block, config.max_header_count)?;
        Ok(Some(Decoded::End(Some(map))))
    }
}

fn hex(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        _ => b - b'A' + 10,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Body, trailers and unconsumed rest, or the error.
    type Outcome = Result<(Vec<u8>, Option<HeaderMap>, Vec<u8>), ErrorKind>;

    /// Decodes `input` fed in pieces of `step` bytes; returns the body, the trailers and
    /// the unconsumed rest, or the error.
    fn run(mut dec: BodyDecoder, input: &[u8], step: usize, config: &Config) -> Outcome {
        let mut buf = BytesMut::new();
        let mut body = Vec::new();
        let mut chunks = input.chunks(step);
        loop {
            match dec.decode(&mut buf, config)? {
                Some(Decoded::Data(d)) => {
                    assert!(!d.is_empty());
                    body.extend_from_slice(&d);
                }
                Some(Decoded::End(t)) => return Ok((body, t, buf.to_vec())),
                None => match chunks.next() {
                    Some(c) => buf.extend_from_slice(c),
                    None => return Err(ErrorKind::UnexpectedEof),
                },
            }
        }
    }

    fn chunked(input: &[u8]) -> Outcome {
        let whole = run(
            BodyDecoder::chunked(),
            input,
            input.len().max(1),
            &Config::default(),
        );
        let bytewise = run(BodyDecoder::chunked(), input, 1, &Config::default());
        // The byte-wise run stops feeding at the end, so its rest is not compared.
        let key = |r: &Outcome| format!("{:?}", r.as_ref().map(|(b, t, _)| (b.clone(), t.clone())));
        assert_eq!(key(&whole), key(&bytewise));
        whole
    }

    #[test]
    fn length() {
        let (body, t, rest) =
            run(BodyDecoder::Length(3), b"abcdef", 2, &Config::default()).unwrap();
        assert_eq!((&body[..], t, &rest[..]), (&b"abc"[..], None, &b"d"[..]));
        let r = run(BodyDecoder::Length(3), b"ab", 1, &Config::default());
        assert_eq!(r.unwrap_err(), ErrorKind::UnexpectedEof);
    }

    #[test]
    fn chunks_with_extensions_and_trailers() {
        let input = b"3;a=b\r\nabc\r\n2 ; x\r\nde\r\n0\r\nT: 1\r\nU: 2\r\n\r\nnext";
        let (body, t, rest) = chunked(input).unwrap();
        assert_eq!(body, b"abcde");
        let t = t.unwrap();
        assert_eq!(
            (t["t"].as_bytes(), t["u"].as_bytes()),
            (&b"1"[..], &b"2"[..])
        );
        assert_eq!(rest, b"next");
        let (body, t, rest) = chunked(b"A\r\n0123456789\r\n0\r\n\r\n").unwrap();
        assert_eq!(
            (&body[..], t, &rest[..]),
            (&b"0123456789"[..], None, &b""[..])
        );
    }

    #[test]
    fn malformed_sizes() {
        for input in [
            &b"x\r\n"[..],
            b"+1\r\na\r\n0\r\n\r\n",
            b"-1\r\n",
            b"\r\n",
            b";ext\r\n",
            b"00000000000000001\r\na\r\n0\r\n\r\n",
            b"1\na\r\n0\r\n\r\n",
            b"1;a\nb\r\n",
            b"1;a\rb\r\n",
            b"1;a\x00b\r\n",
            b"1\r\nab\r\n0\r\n\r\n",
            b"1\r\na\n0\r\n\r\n",
            b"1\r\na\r\n0\n\r\n",
            b"1\r\na\r\n0\r\n\n",
            b"1\r\na\r\n0\r\nT: 1\n\r\n",
            b"1 2\r\n",
        ] {
            assert!(
                matches!(chunked(input), Err(ErrorKind::BadRequest(_))),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn sixteen_digits_ok_until_cap() {
        let config = Config {
            max_content_length: u64::MAX,
            ..Config::default()
        };
        let r = run(BodyDecoder::chunked(), b"fffffffffffffffff\r\n", 1, &config);
        assert!(matches!(r, Err(ErrorKind::BadRequest(_))));
        let r = run(BodyDecoder::chunked(), b"ffffffffffffffff\r\n", 1, &config);
        assert_eq!(r.unwrap_err(), ErrorKind::UnexpectedEof);
        let r = run(
            BodyDecoder::chunked(),
            b"ffffffffffffffff\r\n",
            1,
            &Config::default(),
        );
        assert_eq!(r.unwrap_err(), ErrorKind::BodyTooLarge);
    }

    #[test]
    fn chunked_cap_boundary() {
        let config = Config {
            max_content_length: 4,
            ..Config::default()
        };
        let ok = run(
            BodyDecoder::chunked(),
            b"2\r\nab\r\n2\r\ncd\r\n0\r\n\r\n",
            1,
            &config,
        );
        assert_eq!(ok.unwrap().0, b"abcd");
        let over = run(
            BodyDecoder::chunked(),
            b"2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n",
            1,
            &config,
        );
        assert_eq!(over.unwrap_err(), ErrorKind::BodyTooLarge);
    }

    #[test]
    fn trailer_caps() {
        let config = Config {
            max_header_count: 1,
            ..Config::default()
        };
        let r = run(
            BodyDecoder::chunked(),
            b"0\r\nA: 1\r\nB: 2\r\n\r\n",
            1,
            &config,
        );
        assert_eq!(r.unwrap_err(), ErrorKind::TooManyHeaders);
    }
}

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

/// Where the chunked framing stands. The extension states follow RFC 9112 §7.1.1:
/// `chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )`, with
/// the value a token or a quoted-string (RFC 9110 §5.6.4). BWS may only come between
/// parts, so the line never ends in whitespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Size,
    /// Whitespace after the size or an extension value: only `;` may follow.
    AfterItem,
    /// After `;`, before the extension name.
    ExtStart,
    ExtName,
    /// Whitespace after an extension name: `=` or `;` may follow.
    AfterName,
    /// After `=`, before the value.
    ValStart,
    ValToken,
    Quoted,
    /// After a backslash in a quoted-string.
    QuotedPair,
    /// Right after the closing quote.
    QuotedEnd,
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
        self.state = match (self.state, b) {
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
            (State::SizeLf, _) => return Err(bad("bare CR in chunk size line")),
            (State::DataCr, b'\r') => State::DataLf,
            (State::DataLf, b'\n') => {
                self.digits = 0;
                self.line = 0;
                State::Size
            }
            (State::DataCr | State::DataLf, _) => return Err(bad("missing CRLF after chunk data")),
            (state, _) => {
                self.line += 1;
                if self.line > config.max_header_line {
                    return Err(bad("chunk size line too long"));
                }
                self.size_line(state, b)?
            }
        };
        Ok(())
    }

    /// One byte of a chunk-size line, up to and including its CR.
    fn size_line(&mut self, state: State, b: u8) -> Result<State, ErrorKind> {
        use State::*;
        let ws = matches!(b, b' ' | b'\t');
        Ok(match (state, b) {
            (Size, _) if b.is_ascii_hexdigit() => {
                self.digits += 1;
                if self.digits > 16 {
                    return Err(bad("chunk size too long"));
                }
                // At most 16 hex digits, so this cannot overflow a u64.
                self.size = self.size << 4 | u64::from(hex(b));
                Size
            }
            (Size, _) if self.digits == 0 => return Err(bad("missing chunk size")),
            // After a complete size, name or value the line may end or an extension begin.
            (Size | ExtName | ValToken | QuotedEnd, b'\r') => SizeLf,
            (Size | ExtName | ValToken | QuotedEnd | AfterItem | AfterName, b';') => ExtStart,
            (Size | ValToken | QuotedEnd | AfterItem, _) if ws => AfterItem,
            (ExtName | AfterName, _) if ws => AfterName,
            (ExtName | AfterName, b'=') => ValStart,
            (ExtStart | ValStart, _) if ws => state,
            (ExtStart | ExtName, _) if is_tchar(b) => ExtName,
            (ValStart | ValToken, _) if is_tchar(b) => ValToken,
            (ValStart, b'"') => Quoted,
            (Quoted, b'"') => QuotedEnd,
            (Quoted, b'\\') => QuotedPair,
            (Quoted, _) if is_qdtext(b) => Quoted,
            (QuotedPair, _) if is_qdtext(b) || b == b'"' || b == b'\\' => Quoted,
            (AfterItem | AfterName, b'\r') => {
                return Err(bad("whitespace at the end of a chunk size line"))
            }
            (Size | AfterItem, _) => return Err(bad("malformed chunk size line")),
            _ => return Err(bad("malformed chunk extension")),
        })
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

/// `tchar` (RFC 9110 §5.6.2): the bytes of a token.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// `qdtext` (RFC 9110 §5.6.4): what a quoted-string holds unescaped.
fn is_qdtext(b: u8) -> bool {
    matches!(b, b'\t' | b' ' | 0x21 | 0x23..=0x5b | 0x5d..=0x7e | 0x80..=0xff)
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

    /// RFC 9112 §7.1.1; each line is followed by the same one-byte chunk.
    #[test]
    fn chunk_extension_grammar() {
        let with_line = |line: &[u8]| [line, b"\r\nx\r\n0\r\n\r\n"].concat();
        for good in [
            &b"1;name=value"[..],
            b"1;n",
            b"1 ;n",
            b"1\t; n",
            b"1;a;b=c;d=\"e\"",
            b"1 ; n = \"q\\\"x\"",
            b"1;n=\"\"",
            b"1;n=\" a\tb \"",
            b"1;n=\"\\\\\"",
            b"1;n=\"\xce\xb4\\\xff\"",
            b"1;n=\"x\" ;m",
            b"1;n=v ;m",
            b"1;n ;m",
            b"1;n =v",
            b"1;!#$%&'*+-.^_`|~09AZaz=!#$%&'*+-.^_`|~09AZaz",
        ] {
            let r = chunked(&with_line(good));
            assert!(
                matches!(&r, Ok((body, None, rest)) if body == b"x" && rest.is_empty()),
                "{:?}: {r:?}",
                String::from_utf8_lossy(good)
            );
        }
        for bad in [
            // Nothing after `;`, or after `=`.
            &b"2;"[..],
            b"2; ",
            b"2;;n",
            b"2;n=",
            b"2;n= ",
            b"2;n;",
            // Unbalanced or broken quoted values.
            b"5;a=\"abc",
            b"5;a=\"abc\\\"",
            b"5;a=\"ab\"c",
            b"5;a=b\"c\"",
            b"5;a=\"\x01\"",
            b"5;a=\"\x7f\"",
            b"5;a=\"\\\x00\"",
            // Whitespace at the end of the line, or where BWS is not allowed.
            b"a ",
            b"a\t",
            b"a;n ",
            b"a;n=v ",
            b"a;n=\"v\" ",
            b"a;n=v w",
            b"a;n m",
            b"a;n=\"v\"w",
            // Not a token.
            b"a;n@=v",
            b"a;\"n\"=v",
            b"a;n=v@",
            b"a;n=\xce\xb4",
            b"a;n==v",
            b"a=v",
            b"a,n",
        ] {
            let r = chunked(&with_line(bad));
            assert!(
                matches!(r, Err(ErrorKind::BadRequest(_))),
                "{:?}: {r:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn chunk_size_line_cap_holds_with_extensions() {
        let config = Config {
            max_header_line: 32,
            ..Config::default()
        };
        let line = |ext: &str| format!("1;{ext}\r\nx\r\n0\r\n\r\n").into_bytes();
        let short = run(BodyDecoder::chunked(), &line(&"n".repeat(16)), 1, &config);
        assert_eq!(short.map(|(b, ..)| b), Ok(b"x".to_vec()));
        for ext in ["n".repeat(40), format!("n=\"{}\"", " ".repeat(40))] {
            let long = run(BodyDecoder::chunked(), &line(&ext), 1, &config);
            assert_eq!(long.unwrap_err(), bad("chunk size line too long"), "{ext}");
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

//! Incremental line scan of a request head or a trailer section.
//!
//! The scan runs before `httparse` sees the bytes, for three reasons: the caps must hold
//! while the head is still arriving (a request line with no CRLF yet must not be buffered
//! forever), `httparse` accepts a bare LF as line end where this codec is strict, and
//! checking line by line, in order, with the same checks on partial and complete lines,
//! makes the outcome independent of how the input was split.
//!
//! A head that is whole when first looked at skips the scan: `httparse` parses it, and
//! [`whole_head_passes`] checks on what it returns that the scan would pass it. Only
//! when that fails does the scan run, to find the error it always has.

use crate::config::Config;
use crate::error::ErrorKind;

/// Leading empty lines (RFC 9112 §2.2) skipped before a request line; more is an error.
const MAX_EMPTY_LINES: usize = 8;

/// Where a scanned section sits in the buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Section {
    /// Bytes of skipped empty lines before the section.
    pub start: usize,
    /// End of the section, after the CRLF of its final empty line.
    pub end: usize,
}

/// Scan state for one section; `pos` only moves over complete lines, so each byte is
/// looked at about once however the input trickles in.
#[derive(Debug)]
pub(crate) struct LineScanner {
    start: usize,
    pos: usize,
    fields: usize,
    block: usize,
    request_line: bool,
}

impl LineScanner {
    /// A scanner for a request head (request line, then field lines).
    pub(crate) fn request() -> Self {
        LineScanner {
            start: 0,
            pos: 0,
            fields: 0,
            block: 0,
            request_line: true,
        }
    }

    /// A scanner for a trailer section (field lines only).
    pub(crate) fn trailers() -> Self {
        LineScanner {
            request_line: false,
            ..Self::request()
        }
    }

    /// Where the section begins in the buffer, after the empty lines skipped so far.
    pub(crate) fn start(&self) -> usize {
        self.start
    }

    /// True while no line of the head has been scanned.
    pub(crate) fn is_fresh(&self) -> bool {
        self.pos == 0
    }

    /// True while nothing but skipped empty lines has been received.
    pub(crate) fn is_idle(&self, buf: &[u8]) -> bool {
        buf.len() == self.start
    }

    /// Scans what `buf` holds; `Some` once the section is complete.
    pub(crate) fn scan(
        &mut self,
        buf: &[u8],
        config: &Config,
    ) -> Result<Option<Section>, ErrorKind> {
        loop {
            let rest = buf.get(self.pos..).unwrap_or_default();
            let Some(lf) = find_lf(rest) else {
                // A trailing CR may be the first half of the CRLF: not counted, as in a
                // complete line.
                let len = rest.len() - usize::from(rest.last() == Some(&b'\r'));
                self.check_len(len, config)?;
                return Ok(None);
            };
            let crlf = lf > 0 && rest[lf - 1] == b'\r';
            let len = lf - usize::from(crlf);
            self.check_len(len, config)?;
            if !crlf {
                return Err(ErrorKind::BadRequest("bare LF in head"));
            }
            let line = &rest[..lf + 1];
            self.pos += lf + 1;
            if self.request_line {
                if len == 0 {
                    if self.pos / 2 > MAX_EMPTY_LINES {
                        return Err(ErrorKind::BadRequest("too many empty lines"));
                    }
                    self.start = self.pos;
                    continue;
                }
                self.request_line = false;
                check_request_line(line)?;
                continue;
            }
            if len == 0 {
                return Ok(Some(Section {
                    start: self.start,
                    end: self.pos,
                }));
            }
            self.fields += 1;
            if self.fields > config.max_header_count {
                return Err(ErrorKind::TooManyHeaders);
            }
            self.block += len + 2;
            if self.block > config.max_header_block {
                return Err(ErrorKind::HeaderBlockTooLarge);
            }
            if line[0] == b' ' || line[0] == b'\t' {
                return Err(ErrorKind::BadRequest("obsolete line folding"));
            }
        }
    }

    fn check_len(&self, len: usize, config: &Config) -> Result<(), ErrorKind> {
        if self.request_line {
            if len > config.max_request_line {
                return Err(ErrorKind::RequestLineTooLong);
            }
        } else if len > config.max_header_line {
            return Err(ErrorKind::HeaderLineTooLong);
        }
        Ok(())
    }
}

/// The length of a head that is whole at the start of `buf` and can go unscanned: up
/// to the first CRLFCRLF, unless `buf` starts with an empty line (which the scan skips
/// and `httparse` would skip differently).
///
/// Cut there, a head holds whatever makes the scan fail or succeed on the whole
/// buffer: scanning line by line, the scan reaches an empty line by the final CRLF, and
/// any earlier empty line follows a bare LF, which it refuses first.
pub(crate) fn whole_head_end(buf: &[u8]) -> Option<usize> {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    if matches!(buf.first(), Some(b'\r' | b'\n')) {
        return None;
    }
    let end_at =
        |lf: usize| (lf >= 3 && buf.get(lf - 3..=lf) == Some(b"\r\n\r\n")).then_some(lf + 1);
    // Eight bytes at a time, looking closer only where an LF is two bytes after another:
    // one search per head, not one per line.
    let words = buf.chunks_exact(8);
    let tail = words.remainder().len();
    let mut prev = 0;
    for (i, word) in words.enumerate() {
        let Ok(word) = <[u8; 8]>::try_from(word) else {
            break;
        };
        let x = u64::from_le_bytes(word) ^ (0x0101_0101_0101_0101 * u64::from(b'\n'));
        // The top bit of each byte that was an LF, exactly (no borrow between bytes).
        let lfs = !(((x & LOW7) + LOW7) | x | LOW7);
        let mut pairs = lfs & ((lfs << 16) | (prev >> 48));
        while pairs != 0 {
            if let Some(end) = end_at(i * 8 + pairs.trailing_zeros() as usize / 8) {
                return Some(end);
            }
            pairs &= pairs - 1;
        }
        prev = lfs;
    }
    (buf.len() - tail..buf.len()).find_map(end_at)
}

/// Whether the scan would pass `head`, which `req` parsed to its end (a head from
/// [`whole_head_end`]): every line within its cap and ending in CRLF, the block within
/// its cap, and a target of URI characters only. httparse has checked the rest: a
/// request line that parses on its own, no line folding, no more fields than the slots.
///
/// Each field name starts right after the LF that ends the line before it, and httparse
/// lets no other LF into a head, so the two bytes before each line start find every
/// bare LF.
pub(crate) fn whole_head_passes(
    head: &[u8],
    req: &httparse::Request<'_, '_>,
    config: &Config,
) -> bool {
    let base = head.as_ptr() as usize;
    let crlf_before = |at: usize| at >= 2 && head.get(at - 2..at) == Some(b"\r\n");
    let empty_line = head.len() - 2;
    let start = |f: &httparse::Header<'_>| f.name.as_ptr() as usize - base;
    let first_field = req.headers.first().map_or(empty_line, start);
    if !crlf_before(first_field)
        || first_field - 2 > config.max_request_line
        || empty_line - first_field > config.max_header_block
        || !valid_target(req.path.unwrap_or_default().as_bytes())
    {
        return false;
    }
    let mut next_starts = req.headers.iter().skip(1).map(start);
    req.headers.iter().map(start).all(|line| {
        let next = next_starts.next().unwrap_or(empty_line);
        crlf_before(next) && next - 2 - line <= config.max_header_line
    })
}

/// Index of the first LF, eight bytes at a time: every head byte goes through here, and
/// this is measurably faster than a byte loop.
fn find_lf(s: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let words = s.chunks_exact(8);
    let tail = words.remainder();
    for (i, word) in words.enumerate() {
        let Ok(word) = <[u8; 8]>::try_from(word) else {
            break;
        };
        let x = u64::from_le_bytes(word) ^ (ONES * u64::from(b'\n'));
        // The lowest set bit marks the first zero byte of `x` exactly; bits above it
        // may be spurious, so only the lowest is used.
        let found = x.wrapping_sub(ONES) & !x & HIGH;
        if found != 0 {
            return Some(i * 8 + (found.trailing_zeros() / 8) as usize);
        }
    }
    let base = s.len() - tail.len();
    tail.iter().position(|&b| b == b'\n').map(|p| base + p)
}

/// Validates a complete request line (with its CRLF) as soon as it is in, so that an
/// HTTP/0.9 request, a bad version or a bad target is refused without waiting for a
/// header block.
fn check_request_line(line: &[u8]) -> Result<(), ErrorKind> {
    let mut req = httparse::Request::new(&mut []);
    // With no header slots and only the request line, a valid line parses as Partial.
    match req.parse(line) {
        Ok(_) => {}
        Err(httparse::Error::Version) => return Err(version_error(line)),
        Err(_) => return Err(ErrorKind::BadRequest("malformed request line")),
    }
    match req.path {
        Some(target) if valid_target(target.as_bytes()) => Ok(()),
        _ => Err(ErrorKind::BadRequest("invalid request target")),
    }
}

/// The bytes RFC 3986 allows in a URI outside a percent-encoding (unreserved,
/// gen-delims, sub-delims), less `#`: no request-target form has a fragment (RFC 9112
/// §3.2). httparse lets through raw UTF-8 and several ASCII bytes besides.
const URI_BYTES: [bool; 256] = {
    let allowed =
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:/?[]@!$&'()*+,;=";
    let mut table = [false; 256];
    let mut i = 0;
    while i < allowed.len() {
        table[allowed[i] as usize] = true;
        i += 1;
    }
    table
};

/// A request-target made only of URI characters, each `%` starting a pct-encoded octet.
fn valid_target(target: &[u8]) -> bool {
    let mut bytes = target.iter();
    while let Some(&b) = bytes.next() {
        let ok = if b == b'%' {
            bytes.next().is_some_and(u8::is_ascii_hexdigit)
                && bytes.next().is_some_and(u8::is_ascii_hexdigit)
        } else {
            URI_BYTES[usize::from(b)]
        };
        if !ok {
            return false;
        }
    }
    true
}

/// 505 for a well-formed `HTTP/d.d` other than 1.0/1.1, 400 for anything else.
fn version_error(line: &[u8]) -> ErrorKind {
    let line = line.strip_suffix(b"\r\n").unwrap_or(line);
    let mut parts = line.split(|&b| b == b' ');
    let version = match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(_), Some(_), Some(version), None) => version,
        _ => return ErrorKind::BadRequest("malformed request line"),
    };
    match version {
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            ErrorKind::VersionNotSupported
        }
        _ => ErrorKind::BadRequest("malformed HTTP version"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> Config {
        Config {
            max_request_line: 20,
            max_header_line: 10,
            max_header_block: 30,
            max_header_count: 3,
            ..Config::default()
        }
    }

    fn scan_all(input: &[u8], config: &Config) -> Result<Option<Section>, ErrorKind> {
        LineScanner::request().scan(input, config)
    }

    /// Feeding byte by byte gives the same outcome as feeding everything at once.
    fn scan_bytewise(input: &[u8], config: &Config) -> Result<Option<Section>, ErrorKind> {
        let mut s = LineScanner::request();
        for n in 1..input.len() {
            if let r @ (Err(_) | Ok(Some(_))) = s.scan(&input[..n], config) {
                return r;
            }
        }
        s.scan(input, config)
    }

    fn both(input: &[u8]) -> Result<Option<Section>, ErrorKind> {
        let whole = scan_all(input, &small());
        assert_eq!(
            whole,
            scan_bytewise(input, &small()),
            "{:?}",
            String::from_utf8_lossy(input)
        );
        whole
    }

    #[test]
    fn complete_head() {
        let r = both(b"GET / HTTP/1.1\r\nHost: a\r\n\r\nrest");
        assert_eq!(r, Ok(Some(Section { start: 0, end: 27 })));
    }

    #[test]
    fn request_line_cap_boundary() {
        // "GET /" + path making the line exactly 20 bytes.
        assert!(both(b"GET /abcdef HTTP/1.1\r\n\r\n").unwrap().is_some());
        assert_eq!(
            both(b"GET /abcdefg HTTP/1.1\r\n\r\n"),
            Err(ErrorKind::RequestLineTooLong)
        );
        assert_eq!(both(&[b'a'; 21]), Err(ErrorKind::RequestLineTooLong));
        assert_eq!(both(&[b'a'; 20]), Ok(None));
    }

    #[test]
    fn header_line_cap_boundary() {
        assert!(both(b"GET / HTTP/1.1\r\nA: 4567890\r\n\r\n")
            .unwrap()
            .is_some());
        assert_eq!(
            both(b"GET / HTTP/1.1\r\nA: 45678901\r\n\r\n"),
            Err(ErrorKind::HeaderLineTooLong)
        );
        assert_eq!(
            both(b"GET / HTTP/1.1\r\nA: 45678901"),
            Err(ErrorKind::HeaderLineTooLong)
        );
    }

    #[test]
    fn block_cap_boundary() {
        // 3 lines of 8 + 2 bytes = 30: at the cap.
        assert!(
            both(b"GET / HTTP/1.1\r\nA: 45678\r\nB: 45678\r\nC: 45678\r\n\r\n")
                .unwrap()
                .is_some()
        );
        assert_eq!(
            both(b"GET / HTTP/1.1\r\nA: 45678\r\nB: 45678\r\nC: 456789\r\n\r\n"),
            Err(ErrorKind::HeaderBlockTooLarge)
        );
    }

    #[test]
    fn count_cap_boundary() {
        assert!(both(b"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n")
            .unwrap()
            .is_some());
        assert_eq!(
            both(b"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n"),
            Err(ErrorKind::TooManyHeaders)
        );
    }

    #[test]
    fn bare_lf_and_folding() {
        assert!(matches!(
            both(b"GET / HTTP/1.1\nA: 1\r\n\r\n"),
            Err(ErrorKind::BadRequest(_))
        ));
        assert!(matches!(
            both(b"GET / HTTP/1.1\r\nA: 1\n\r\n"),
            Err(ErrorKind::BadRequest(_))
        ));
        assert!(matches!(
            both(b"GET / HTTP/1.1\r\nA: 1\r\n\n"),
            Err(ErrorKind::BadRequest(_))
        ));
        assert!(matches!(
            both(b"GET / HTTP/1.1\r\nA: 1\r\n x\r\n\r\n"),
            Err(ErrorKind::BadRequest(_))
        ));
        assert!(matches!(
            both(b"GET / HTTP/1.1\r\nA: 1\r\n\tx\r\n\r\n"),
            Err(ErrorKind::BadRequest(_))
        ));
    }

    #[test]
    fn leading_empty_lines_bounded() {
        let ok = both(b"\r\n\r\nGET / HTTP/1.1\r\n\r\n");
        assert_eq!(ok, Ok(Some(Section { start: 4, end: 22 })));
        let mut many = b"\r\n".repeat(MAX_EMPTY_LINES + 1);
        many.extend_from_slice(b"GET / HTTP/1.1\r\n\r\n");
        assert!(matches!(both(&many), Err(ErrorKind::BadRequest(_))));
        assert!(matches!(
            both(b"\nGET / HTTP/1.1\r\n\r\n"),
            Err(ErrorKind::BadRequest(_))
        ));
    }

    #[test]
    fn request_line_checked_early() {
        assert_eq!(
            both(b"GET / HTTP/2.0\r\n"),
            Err(ErrorKind::VersionNotSupported)
        );
        assert_eq!(
            both(b"GET / HTTP/1.2\r\n"),
            Err(ErrorKind::VersionNotSupported)
        );
        assert!(matches!(both(b"GET /\r\n"), Err(ErrorKind::BadRequest(_))));
        assert!(matches!(
            both(b"GET / HTTP/1\r\n"),
            Err(ErrorKind::BadRequest(_))
        ));
        assert!(matches!(
            both(b"GET / http/1.1\r\n"),
            Err(ErrorKind::BadRequest(_))
        ));
        assert!(matches!(
            both(b"GET  / HTTP/1.1\r\n"),
            Err(ErrorKind::BadRequest(_))
        ));
        assert!(matches!(
            both(b"GET /a b HTTP/1.1\r\n"),
            Err(ErrorKind::BadRequest(_))
        ));
    }

    #[test]
    fn find_lf_matches_position() {
        let mut data = vec![b'a'; 40];
        assert_eq!(find_lf(&data), None);
        for at in 0..40 {
            data[at] = b'\n';
            assert_eq!(find_lf(&data), Some(at));
            data[at + 1..].fill(b'\n');
            assert_eq!(find_lf(&data), Some(at));
            data.fill(0x8a);
        }
        assert_eq!(find_lf(b""), None);
    }

    #[test]
    fn whole_head_end_is_the_first_crlfcrlf() {
        let naive = |b: &[u8]| {
            if matches!(b.first(), Some(b'\r' | b'\n')) {
                return None;
            }
            b.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
        };
        // Every string over {a, CR, LF} up to 11 bytes, and longer ones with the
        // interesting bytes at every offset from a word boundary.
        let alphabet = [b'a', b'\r', b'\n'];
        for len in 0..=11u32 {
            for mut n in 0..3usize.pow(len) {
                let mut b = Vec::new();
                for _ in 0..len {
                    b.push(alphabet[n % 3]);
                    n /= 3;
                }
                assert_eq!(whole_head_end(&b), naive(&b), "{b:?}");
            }
        }
        let mut seed = 7u32;
        for _ in 0..20_000 {
            let len = 12 + (seed >> 8) as usize % 40;
            let b: Vec<u8> = (0..len)
                .map(|_| {
                    seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                    alphabet[(seed >> 16) as usize % 3]
                })
                .collect();
            assert_eq!(whole_head_end(&b), naive(&b), "{b:?}");
        }
    }

    #[test]
    fn trailers_mode() {
        let mut s = LineScanner::trailers();
        assert_eq!(
            s.scan(b"\r\n", &small()),
            Ok(Some(Section { start: 0, end: 2 }))
        );
        let mut s = LineScanner::trailers();
        assert_eq!(
            s.scan(b"A: 1\r\n\r\n", &small()),
            Ok(Some(Section { start: 0, end: 8 }))
        );
        let mut s = LineScanner::trailers();
        assert_eq!(
            s.scan(b"A: 45678901", &small()),
            Err(ErrorKind::HeaderLineTooLong)
        );
    }

    #[test]
    fn idle_until_request_bytes() {
        let mut s = LineScanner::request();
        assert_eq!(s.scan(b"\r\n", &small()), Ok(None));
        assert!(s.is_idle(b"\r\n"));
        assert!(!s.is_idle(b"\r\nG"));
    }
}

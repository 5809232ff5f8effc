//! Response bytes: status line, header fields, chunk framing and the cached `date` value.

use std::cell::Cell;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::header::{self, HeaderMap};
use http::StatusCode;

/// The `date` field line, recomputed only when the second changes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct DateCache {
    /// The second `line` holds, and the times it is right for: checking a time against
    /// them is cheaper than turning it into seconds.
    secs: u64,
    from: SystemTime,
    until: SystemTime,
    line: [u8; DATE_LINE],
}

/// `date: ` and an IMF-fixdate (always 29 bytes), then CRLF.
const DATE_LINE: usize = 6 + 29 + 2;

/// Last second httpdate can format (9999-12-31T23:59:59Z); it panics beyond.
const MAX_DATE_SECS: u64 = 253_402_300_799;

impl DateCache {
    pub(crate) const fn new() -> Self {
        let mut line = [0; DATE_LINE];
        let (name, crlf) = (b"date: ", b"\r\n");
        let mut i = 0;
        while i < name.len() {
            line[i] = name[i];
            i += 1;
        }
        line[DATE_LINE - 2] = crlf[0];
        line[DATE_LINE - 1] = crlf[1];
        DateCache {
            secs: u64::MAX,
            from: UNIX_EPOCH,
            until: UNIX_EPOCH,
            line,
        }
    }

    /// The `date` field line for `now`, CRLF included; clock values outside what
    /// httpdate can format are clamped rather than allowed to panic. A connection keeps
    /// its own copy (the kept-alive path is two compares); on a new second it asks the
    /// thread's cache.
    pub(crate) fn get(&mut self, now: SystemTime) -> &[u8] {
        if !self.holds(now) {
            *self = SHARED_DATE.with(|cell| {
                let mut shared = cell.get();
                shared.refresh(now);
                cell.set(shared);
                shared
            });
        }
        &self.line
    }

    fn holds(&self, now: SystemTime) -> bool {
        self.from <= now && now < self.until
    }

    fn refresh(&mut self, now: SystemTime) {
        if self.holds(now) {
            return;
        }
        let secs = now
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
            .min(MAX_DATE_SECS);
        let from = UNIX_EPOCH + Duration::from_secs(secs);
        // A clamped clock is outside the window: only reformat when the second changes.
        if secs != self.secs {
            let text = httpdate::fmt_http_date(from);
            let Some(value) = self.line.get_mut(6..DATE_LINE - 2) else {
                return;
            };
            if value.len() != text.len() {
                return;
            }
            value.copy_from_slice(text.as_bytes());
            self.secs = secs;
        }
        self.from = from;
        self.until = from + Duration::from_secs(1);
    }
}

thread_local! {
    /// The date formatted once per second per thread, not per connection: formatting
    /// costs about 1,000 instructions, which every new connection's first response paid
    /// again (a sixth of the codec's cost for a one-request connection, by callgrind).
    static SHARED_DATE: Cell<DateCache> = const { Cell::new(DateCache::new()) };
}

/// The framing header the codec writes itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FramingHeader {
    None,
    Length(u64),
    Chunked,
}

/// What to do about `connection`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ConnectionHeader {
    /// Replace the caller's `connection` fields with `connection: close`.
    Close,
    /// Keep the caller's; add `connection: keep-alive` (HTTP/1.0) unless they say it.
    KeepAlive,
    /// Keep the caller's as they are.
    Pass,
}

/// Writes the status line and header block of a response; `date` is a whole field line.
pub(crate) fn write_head(
    out: &mut Vec<u8>,
    status: StatusCode,
    headers: &HeaderMap,
    date: Option<&[u8]>,
    framing: FramingHeader,
    connection: ConnectionHeader,
) {
    write_status_line(out, status);
    if let Some(date) = date {
        out.extend_from_slice(date);
    }
    let mut says_keep_alive = false;
    for (name, value) in headers {
        if name == header::CONTENT_LENGTH || name == header::TRANSFER_ENCODING {
            continue;
        }
        if name == header::CONNECTION {
            if connection == ConnectionHeader::Close {
                continue;
            }
            says_keep_alive |= has_token(value.as_bytes(), b"keep-alive");
        }
        write_field(out, name.as_str().as_bytes(), value.as_bytes());
    }
    match framing {
        FramingHeader::None => {}
        FramingHeader::Length(n) => write_content_length(out, n),
        FramingHeader::Chunked => out.extend_from_slice(b"transfer-encoding: chunked\r\n"),
    }
    match connection {
        ConnectionHeader::Close => out.extend_from_slice(b"connection: close\r\n"),
        ConnectionHeader::KeepAlive if !says_keep_alive => {
            out.extend_from_slice(b"connection: keep-alive\r\n");
        }
        ConnectionHeader::KeepAlive | ConnectionHeader::Pass => {}
    }
    out.extend_from_slice(b"\r\n");
}

/// The status line, in one piece for the common statuses: five appends per response
/// showed up in the profile.
fn write_status_line(out: &mut Vec<u8>, status: StatusCode) {
    let line: &[u8] = match status.as_u16() {
        200 => b"HTTP/1.1 200 OK\r\n",
        204 => b"HTTP/1.1 204 No Content\r\n",
        206 => b"HTTP/1.1 206 Partial Content\r\n",
        301 => b"HTTP/1.1 301 Moved Permanently\r\n",
        302 => b"HTTP/1.1 302 Found\r\n",
        304 => b"HTTP/1.1 304 Not Modified\r\n",
        400 => b"HTTP/1.1 400 Bad Request\r\n",
        404 => b"HTTP/1.1 404 Not Found\r\n",
        500 => b"HTTP/1.1 500 Internal Server Error\r\n",
        _ => {
            out.extend_from_slice(b"HTTP/1.1 ");
            out.extend_from_slice(status.as_str().as_bytes());
            out.push(b' ');
            out.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
            out.extend_from_slice(b"\r\n");
            return;
        }
    };
    out.extend_from_slice(line);
}

/// True when the comma-separated `value` holds `token` (case-insensitive).
pub(crate) fn has_token(value: &[u8], token: &[u8]) -> bool {
    crate::head::list(value).any(|t| t.eq_ignore_ascii_case(token))
}

fn write_field(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// One chunk; empty data writes nothing, as an empty chunk would end the body.
pub(crate) fn write_chunk(out: &mut Vec<u8>, data: &[u8]) {
    if data.is_empty() {
        return;
    }
    write_hex(out, data.len() as u64);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// The last chunk and trailer section; framing fields are left out of the trailers.
pub(crate) fn write_last_chunk(out: &mut Vec<u8>, trailers: Option<&HeaderMap>) {
    out.extend_from_slice(b"0\r\n");
    for (name, value) in trailers.into_iter().flatten() {
        if name == header::CONTENT_LENGTH
            || name == header::TRANSFER_ENCODING
            || name == header::CONNECTION
        {
            continue;
        }
        write_field(out, name.as_str().as_bytes(), value.as_bytes());
    }
    out.extend_from_slice(b"\r\n");
}

/// `content-length: n` and CRLF, built on the stack and appended at once.
fn write_content_length(out: &mut Vec<u8>, mut n: u64) {
    const NAME: &[u8; 16] = b"content-length: ";
    // The name, up to 20 digits and CRLF; the digits are written from the right.
    let mut line = [0u8; 16 + 20 + 2];
    let mut i = line.len() - 2;
    line[i..].copy_from_slice(b"\r\n");
    loop {
        i -= 1;
        line[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    i -= NAME.len();
    line[i..i + NAME.len()].copy_from_slice(NAME);
    out.extend_from_slice(&line[i..]);
}

fn write_hex(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 16];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b"0123456789abcdef"[(n & 15) as usize];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn numbers() {
        for n in [0, 9, 10, 12345, u64::MAX] {
            let mut out = Vec::new();
            write_content_length(&mut out, n);
            assert_eq!(out, format!("content-length: {n}\r\n").as_bytes());
            let mut out = Vec::new();
            write_hex(&mut out, n);
            assert_eq!(out, format!("{n:x}").as_bytes());
        }
    }

    #[test]
    fn date_cached_per_second_and_clamped() {
        let mut cache = DateCache::new();
        let line = |v: &str| format!("date: {v}\r\n").into_bytes();
        let t = UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(cache.get(t), line("Sun, 06 Nov 1994 08:49:37 GMT"));
        assert_eq!(
            cache.get(t + Duration::from_millis(900)),
            line("Sun, 06 Nov 1994 08:49:37 GMT")
        );
        assert_eq!(
            cache.get(t + Duration::from_secs(1)),
            line("Sun, 06 Nov 1994 08:49:38 GMT")
        );
        assert_eq!(
            cache.get(UNIX_EPOCH - Duration::from_secs(5)),
            line("Thu, 01 Jan 1970 00:00:00 GMT")
        );
        assert_eq!(
            cache
                .get(UNIX_EPOCH + Duration::from_secs(u64::MAX / 4))
                .len(),
            37
        );
    }

    #[test]
    fn head_skips_framing_and_handles_connection() {
        let mut h = HeaderMap::new();
        h.insert("content-length", HeaderValue::from_static("99"));
        h.insert("transfer-encoding", HeaderValue::from_static("gzip"));
        h.insert("connection", HeaderValue::from_static("upgrade"));
        h.insert("x-a", HeaderValue::from_static("b"));
        let mut out = Vec::new();
        let (ok, close) = (StatusCode::OK, ConnectionHeader::Close);
        write_head(
            &mut out,
            ok,
            &h,
            Some(b"date: D\r\n"),
            FramingHeader::Length(5),
            close,
        );
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "HTTP/1.1 200 OK\r\ndate: D\r\nx-a: b\r\ncontent-length: 5\r\nconnection: close\r\n\r\n"
        );
        let mut out = Vec::new();
        let status = StatusCode::from_u16(599).unwrap();
        write_head(
            &mut out,
            status,
            &h,
            None,
            FramingHeader::Chunked,
            ConnectionHeader::KeepAlive,
        );
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 599 \r\nconnection: upgrade\r\nx-a: b\r\n"));
        assert!(text.ends_with("transfer-encoding: chunked\r\nconnection: keep-alive\r\n\r\n"));
    }

    #[test]
    fn status_lines_in_one_piece_match_the_general_form() {
        for code in [200, 204, 206, 301, 302, 304, 400, 404, 500, 599, 418, 101] {
            let status = StatusCode::from_u16(code).unwrap();
            let mut out = Vec::new();
            write_status_line(&mut out, status);
            let reason = status.canonical_reason().unwrap_or("");
            assert_eq!(out, format!("HTTP/1.1 {code} {reason}\r\n").as_bytes());
        }
    }

    #[test]
    fn chunks() {
        let mut out = Vec::new();
        write_chunk(&mut out, b"");
        write_chunk(&mut out, &[b'a'; 26]);
        let mut t = HeaderMap::new();
        t.insert("x-sum", HeaderValue::from_static("1"));
        t.insert("content-length", HeaderValue::from_static("1"));
        write_last_chunk(&mut out, Some(&t));
        let expected = format!("1a\r\n{}\r\n0\r\nx-sum: 1\r\n\r\n", "a".repeat(26));
        assert_eq!(out, expected.as_bytes());
    }
}

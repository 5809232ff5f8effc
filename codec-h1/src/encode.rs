//! Response bytes: status line, header fields, chunk framing and the cached `date` value.

use std::cell::Cell;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::header::{self, HeaderMap};
use http::StatusCode;

/// The formatted `date` value, recomputed only when the second changes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct DateCache {
    secs: u64,
    value: [u8; 29],
}

/// Last second httpdate can format (9999-12-31T23:59:59Z); it panics beyond.
const MAX_DATE_SECS: u64 = 253_402_300_799;

impl DateCache {
    pub(crate) const fn new() -> Self {
        DateCache {
            secs: u64::MAX,
            value: [0; 29],
        }
    }

    /// The IMF-fixdate for `now`; clock values outside what httpdate can format are
    /// clamped rather than allowed to panic. A connection keeps its own copy (the
    /// kept-alive path is one compare); on a new second it asks the thread's cache.
    pub(crate) fn get(&mut self, now: SystemTime) -> &[u8] {
        let secs = now
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
            .min(MAX_DATE_SECS);
        if secs != self.secs {
            *self = SHARED_DATE.with(|cell| {
                let mut shared = cell.get();
                shared.format(secs);
                cell.set(shared);
                shared
            });
        }
        &self.value
    }

    fn format(&mut self, secs: u64) {
        if secs == self.secs {
            return;
        }
        let text = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(secs));
        // An IMF-fixdate is always 29 bytes long.
        if let Ok(value) = <[u8; 29]>::try_from(text.as_bytes()) {
            self.value = value;
            self.secs = secs;
        }
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

/// Writes the status line and header block of a response.
pub(crate) fn write_head(
    out: &mut Vec<u8>,
    status: StatusCode,
    headers: &HeaderMap,
    date: Option<&[u8]>,
    framing: FramingHeader,
    connection: ConnectionHeader,
) {
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\n");
    if let Some(date) = date {
        write_field(out, b"date", date);
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
        FramingHeader::Length(n) => {
            out.extend_from_slice(b"content-length: ");
            write_decimal(out, n);
            out.extend_from_slice(b"\r\n");
        }
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

fn write_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
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
            write_decimal(&mut out, n);
            assert_eq!(out, n.to_string().as_bytes());
            let mut out = Vec::new();
            write_hex(&mut out, n);
            assert_eq!(out, format!("{n:x}").as_bytes());
        }
    }

    #[test]
    fn date_cached_per_second_and_clamped() {
        let mut cache = DateCache::new();
        let t = UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(cache.get(t), b"Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(
            cache.get(t + Duration::from_millis(900)),
            b"Sun, 06 Nov 1994 08:49:37 GMT"
        );
        assert_eq!(
            cache.get(t + Duration::from_secs(1)),
            b"Sun, 06 Nov 1994 08:49:38 GMT"
        );
        assert_eq!(
            cache.get(UNIX_EPOCH - Duration::from_secs(5)),
            b"Thu, 01 Jan 1970 00:00:00 GMT"
        );
        assert_eq!(
            cache
                .get(UNIX_EPOCH + Duration::from_secs(u64::MAX / 4))
                .len(),
            29
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
            Some(b"D"),
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

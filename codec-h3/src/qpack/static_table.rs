//! The QPACK static table (RFC 9204 Appendix A), indexed from 0, and the lookups the
//! encoder makes in it.

use std::sync::OnceLock;

/// The 99 entries, as `(name, value)`.
pub(crate) const TABLE: [(&[u8], &[u8]); 99] = [
    (b":authority", b""),
    (b":path", b"/"),
    (b"age", b"0"),
    (b"content-disposition", b""),
    (b"content-length", b"0"),
    (b"cookie", b""),
    (b"date", b""),
    (b"etag", b""),
    (b"if-modified-since", b""),
    (b"if-none-match", b""),
    (b"last-modified", b""),
    (b"link", b""),
    (b"location", b""),
    (b"referer", b""),
    (b"set-cookie", b""),
    (b":method", b"CONNECT"),
    (b":method", b"DELETE"),
    (b":method", b"GET"),
    (b":method", b"HEAD"),
    (b":method", b"OPTIONS"),
    (b":method", b"POST"),
    (b":method", b"PUT"),
    (b":scheme", b"http"),
    (b":scheme", b"https"),
    (b":status", b"103"),
    (b":status", b"200"),
    (b":status", b"304"),
    (b":status", b"404"),
    (b":status", b"503"),
    (b"accept", b"*/*"),
    (b"accept", b"application/dns-message"),
    (b"accept-encoding", b"gzip, deflate, br"),
    (b"accept-ranges", b"bytes"),
    (b"access-control-allow-headers", b"cache-control"),
    (b"access-control-allow-headers", b"content-type"),
    (b"access-control-allow-origin", b"*"),
    (b"cache-control", b"max-age=0"),
    (b"cache-control", b"max-age=2592000"),
    (b"cache-control", b"max-age=604800"),
    (b"cache-control", b"no-cache"),
    (b"cache-control", b"no-store"),
    (b"cache-control", b"public, max-age=31536000"),
    (b"content-encoding", b"br"),
    (b"content-encoding", b"gzip"),
    (b"content-type", b"application/dns-message"),
    (b"content-type", b"application/javascript"),
    (b"content-type", b"application/json"),
    (b"content-type", b"application/x-www-form-urlencoded"),
    (b"content-type", b"image/gif"),
    (b"content-type", b"image/jpeg"),
    (b"content-type", b"image/png"),
    (b"content-type", b"text/css"),
    (b"content-type", b"text/html; charset=utf-8"),
    (b"content-type", b"text/plain"),
    (b"content-type", b"text/plain;charset=utf-8"),
    (b"range", b"bytes=0-"),
    (b"strict-transport-security", b"max-age=31536000"),
    (
        b"strict-transport-security",
        b"max-age=31536000; includesubdomains",
    ),
    (
        b"strict-transport-security",
        b"max-age=31536000; includesubdomains; preload",
    ),
    (b"vary", b"accept-encoding"),
    (b"vary", b"origin"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-xss-protection", b"1; mode=block"),
    (b":status", b"100"),
    (b":status", b"204"),
    (b":status", b"206"),
    (b":status", b"302"),
    (b":status", b"400"),
    (b":status", b"403"),
    (b":status", b"421"),
    (b":status", b"425"),
    (b":status", b"500"),
    (b"accept-language", b""),
    (b"access-control-allow-credentials", b"FALSE"),
    (b"access-control-allow-credentials", b"TRUE"),
    (b"access-control-allow-headers", b"*"),
    (b"access-control-allow-methods", b"get"),
    (b"access-control-allow-methods", b"get, post, options"),
    (b"access-control-allow-methods", b"options"),
    (b"access-control-expose-headers", b"content-length"),
    (b"access-control-request-headers", b"content-type"),
    (b"access-control-request-method", b"get"),
    (b"access-control-request-method", b"post"),
    (b"alt-svc", b"clear"),
    (b"authorization", b""),
    (
        b"content-security-policy",
        b"script-src 'none'; object-src 'none'; base-uri 'none'",
    ),
    (b"early-data", b"1"),
    (b"expect-ct", b""),
    (b"forwarded", b""),
    (b"if-range", b""),
    (b"origin", b""),
    (b"purpose", b"prefetch"),
    (b"server", b""),
    (b"timing-allow-origin", b"*"),
    (b"upgrade-insecure-requests", b"1"),
    (b"user-agent", b""),
    (b"x-forwarded-for", b""),
    (b"x-frame-options", b"deny"),
    (b"x-frame-options", b"sameorigin"),
];

/// The entry at `index`, if there is one.
pub(crate) fn get(index: u64) -> Option<(&'static [u8], &'static [u8])> {
    usize::try_from(index)
        .ok()
        .and_then(|i| TABLE.get(i))
        .copied()
}

/// What the static table holds for a field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Match {
    /// Name and value, at this index.
    Full(u8),
    /// The name only; this is its lowest index, the one that encodes shortest.
    Name(u8),
}

/// The table's indices sorted by name, then index, so a name's entries are one run
/// found by binary search.
fn by_name() -> &'static [u8; 99] {
    static SORTED: OnceLock<[u8; 99]> = OnceLock::new();
    SORTED.get_or_init(|| {
        let mut order: [u8; 99] = std::array::from_fn(|i| i as u8);
        order.sort_by_key(|&i| (TABLE[usize::from(i)].0, i));
        order
    })
}

/// Looks `name` and `value` up.
pub(crate) fn find(name: &[u8], value: &[u8]) -> Option<Match> {
    let order = by_name();
    let start = order.partition_point(|&i| TABLE[usize::from(i)].0 < name);
    let mut run = order[start..]
        .iter()
        .take_while(|&&i| TABLE[usize::from(i)].0 == name);
    let first = *run.next()?;
    if TABLE[usize::from(first)].1 == value {
        return Some(Match::Full(first));
    }
    Some(
        run.find(|&&i| TABLE[usize::from(i)].1 == value)
            .map_or(Match::Name(first), |&i| Match::Full(i)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_where_rfc_9204_puts_them() {
        assert_eq!(get(0), Some((&b":authority"[..], &b""[..])));
        assert_eq!(get(17), Some((&b":method"[..], &b"GET"[..])));
        assert_eq!(get(25), Some((&b":status"[..], &b"200"[..])));
        assert_eq!(
            get(31),
            Some((&b"accept-encoding"[..], &b"gzip, deflate, br"[..]))
        );
        assert_eq!(get(73).map(|e| e.1), Some(&b"FALSE"[..]));
        assert_eq!(get(98), Some((&b"x-frame-options"[..], &b"sameorigin"[..])));
        assert_eq!(get(99), None);
        assert_eq!(get(u64::MAX), None);
    }

    #[test]
    fn lookups_find_full_matches_and_the_lowest_name_index() {
        assert_eq!(find(b":status", b"200"), Some(Match::Full(25)));
        assert_eq!(find(b":status", b"500"), Some(Match::Full(71)));
        assert_eq!(find(b":status", b"201"), Some(Match::Name(24)));
        assert_eq!(find(b"content-type", b"text/plain"), Some(Match::Full(53)));
        assert_eq!(find(b"content-type", b"text/xml"), Some(Match::Name(44)));
        assert_eq!(find(b"server", b"roadrunner"), Some(Match::Name(92)));
        assert_eq!(find(b"server", b""), Some(Match::Full(92)));
        assert_eq!(find(b"x-custom", b""), None);
        assert_eq!(find(b"", b""), None);
        for (i, (name, value)) in TABLE.iter().enumerate() {
            match find(name, value) {
                Some(Match::Full(j)) => assert_eq!(TABLE[usize::from(j)], TABLE[i]),
                other => panic!("entry {i} found as {other:?}"),
            }
        }
    }
}

//! The HPACK static table (RFC 7541 Appendix A), for the encoder's look-ups.

/// Entries 1 to 61, in order: `(name, value)`.
const ENTRIES: [(&[u8], &[u8]); 61] = [
    (b":authority", b""),
    (b":method", b"GET"),
    (b":method", b"POST"),
    (b":path", b"/"),
    (b":path", b"/index.html"),
    (b":scheme", b"http"),
    (b":scheme", b"https"),
    (b":status", b"200"),
    (b":status", b"204"),
    (b":status", b"206"),
    (b":status", b"304"),
    (b":status", b"400"),
    (b":status", b"404"),
    (b":status", b"500"),
    (b"accept-charset", b""),
    (b"accept-encoding", b"gzip, deflate"),
    (b"accept-language", b""),
    (b"accept-ranges", b""),
    (b"accept", b""),
    (b"access-control-allow-origin", b""),
    (b"age", b""),
    (b"allow", b""),
    (b"authorization", b""),
    (b"cache-control", b""),
    (b"content-disposition", b""),
    (b"content-encoding", b""),
    (b"content-language", b""),
    (b"content-length", b""),
    (b"content-location", b""),
    (b"content-range", b""),
    (b"content-type", b""),
    (b"cookie", b""),
    (b"date", b""),
    (b"etag", b""),
    (b"expect", b""),
    (b"expires", b""),
    (b"from", b""),
    (b"host", b""),
    (b"if-match", b""),
    (b"if-modified-since", b""),
    (b"if-none-match", b""),
    (b"if-range", b""),
    (b"if-unmodified-since", b""),
    (b"last-modified", b""),
    (b"link", b""),
    (b"location", b""),
    (b"max-forwards", b""),
    (b"proxy-authenticate", b""),
    (b"proxy-authorization", b""),
    (b"range", b""),
    (b"referer", b""),
    (b"refresh", b""),
    (b"retry-after", b""),
    (b"server", b""),
    (b"set-cookie", b""),
    (b"strict-transport-security", b""),
    (b"transfer-encoding", b""),
    (b"user-agent", b""),
    (b"vary", b""),
    (b"via", b""),
    (b"www-authenticate", b""),
];

/// How many entries the static table has; dynamic indices start after it.
pub(super) const LEN: usize = ENTRIES.len();

/// What the static table knows of a field: the index of an entry with its name, and
/// whether that entry's value matches too.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Found {
    pub index: usize,
    pub exact: bool,
}

/// Looks `name: value` up. Names with several entries (`:method`, `:path`, `:scheme`,
/// `:status`) are consecutive, so a short scan from the first finds an exact match.
pub(super) fn find(name: &[u8], value: &[u8]) -> Option<Found> {
    let first = first_index(name)?;
    let exact = ENTRIES[first - 1..]
        .iter()
        .take_while(|(n, _)| *n == name)
        .position(|(_, v)| *v == value && !v.is_empty());
    Some(match exact {
        Some(offset) => Found {
            index: first + offset,
            exact: true,
        },
        None => Found {
            index: first,
            exact: false,
        },
    })
}

/// The first index whose name is `name`. Matching on the length first keeps this to a
/// comparison or two per call.
fn first_index(name: &[u8]) -> Option<usize> {
    let candidates: &[usize] = match name.len() {
        3 => &[21, 60],
        4 => &[33, 34, 37, 38, 45, 59],
        5 => &[4, 22, 50],
        6 => &[19, 32, 35, 54],
        7 => &[2, 6, 8, 36, 51, 52],
        8 => &[39, 42, 46],
        10 => &[1, 55, 58],
        11 => &[53],
        12 => &[31, 47],
        13 => &[18, 23, 24, 30, 41, 44],
        14 => &[15, 28],
        15 => &[16, 17],
        16 => &[26, 27, 29, 61],
        17 => &[40, 57],
        18 => &[48],
        19 => &[25, 43, 49],
        25 => &[56],
        27 => &[20],
        _ => &[],
    };
    candidates
        .iter()
        .copied()
        .find(|&i| ENTRIES[i - 1].0 == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_is_found_at_its_first_index_and_every_value_exactly() {
        for (i, &(name, value)) in ENTRIES.iter().enumerate() {
            let index = i + 1;
            let first = ENTRIES.iter().position(|(n, _)| *n == name).unwrap() + 1;
            assert_eq!(
                first_index(name),
                Some(first),
                "{}",
                String::from_utf8_lossy(name)
            );
            let expect = if value.is_empty() {
                Found {
                    index: first,
                    exact: false,
                }
            } else {
                Found { index, exact: true }
            };
            assert_eq!(find(name, value), Some(expect));
        }
        assert_eq!(
            find(b":status", b"302"),
            Some(Found {
                index: 8,
                exact: false
            })
        );
        assert_eq!(find(b"x-custom", b""), None);
        assert_eq!(find(b"Content-Type", b""), None);
    }
}

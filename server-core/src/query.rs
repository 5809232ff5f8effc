//! The query string of a request, as decoded names and values.

use std::borrow::Cow;

/// The `name=value` pairs of a query string, decoded, in order (see
/// [`RequestExt::query_pairs`](crate::RequestExt::query_pairs)). A pair without `=`
/// has an empty value; empty pairs (`a=1&&b=2`) are skipped.
#[derive(Clone, Debug)]
pub struct QueryPairs<'a> {
    rest: Option<&'a str>,
}

impl<'a> QueryPairs<'a> {
    pub(crate) fn new(query: Option<&'a str>) -> Self {
        QueryPairs { rest: query }
    }
}

impl<'a> Iterator for QueryPairs<'a> {
    type Item = (Cow<'a, str>, Cow<'a, str>);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let rest = self.rest?;
            let (pair, tail) = match rest.split_once('&') {
                Some((pair, tail)) => (pair, Some(tail)),
                None => (rest, None),
            };
            self.rest = tail;
            if !pair.is_empty() {
                let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                return Some((decode(name, true), decode(value, true)));
            }
        }
    }
}

/// Decodes `%XX` escapes, and `+` as a space when `plus_is_space` (the form encoding
/// of query strings); text that is not valid UTF-8 afterwards is kept as sent.
pub(crate) fn decode(s: &str, plus_is_space: bool) -> Cow<'_, str> {
    let escaped = s.contains('%') || plus_is_space && s.contains('+');
    if !escaped {
        return Cow::Borrowed(s);
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                // Both digits were just checked to be hex.
                out.push((hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0)) as u8);
                i += 3;
            }
            (b'+', _, _) if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_or(Cow::Borrowed(s), Cow::Owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(q: &str) -> Vec<(String, String)> {
        QueryPairs::new(Some(q))
            .map(|(n, v)| (n.into_owned(), v.into_owned()))
            .collect()
    }

    #[test]
    fn pairs_are_split_and_decoded() {
        let p = |n: &str, v: &str| (n.to_owned(), v.to_owned());
        assert_eq!(
            pairs("a=1&b=x+y%21&&flag&c=%zz&d=a=b"),
            [
                p("a", "1"),
                p("b", "x y!"),
                p("flag", ""),
                p("c", "%zz"),
                p("d", "a=b")
            ]
        );
        assert_eq!(pairs("J%C3%B6rg=%ff"), [p("Jörg", "%ff")]);
        assert_eq!(QueryPairs::new(None).count(), 0);
    }

    #[test]
    fn path_decoding_keeps_plus_and_bad_escapes() {
        assert_eq!(decode("a%20b+c", false), "a b+c");
        assert_eq!(decode("a%2", false), "a%2");
        assert_eq!(decode("%zz", false), "%zz");
        assert_eq!(decode("%ff", false), "%ff");
        assert!(matches!(decode("plain", true), Cow::Borrowed(_)));
    }
}

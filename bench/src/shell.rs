//! Shell quoting for the command lines shown in reports.

/// Joins `words` with spaces, single-quoting those a shell would split or expand.
pub fn join<S: AsRef<str>>(words: impl IntoIterator<Item = S>) -> String {
    words
        .into_iter()
        .map(|w| {
            let w = w.as_ref();
            let safe = !w.is_empty()
                && w.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@".contains(c));
            if safe {
                w.to_string()
            } else {
                format!("'{}'", w.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn quotes_only_when_needed() {
        assert_eq!(
            super::join(["wrk", "-H", "Connection: close", "it's"]),
            r"wrk -H 'Connection: close' 'it'\''s'"
        );
    }
}

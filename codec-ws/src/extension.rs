//! `Sec-WebSocket-Extensions` (RFC 6455 §9.1) and the negotiation of
//! permessage-deflate (RFC 7692 §7.1).

use http::header::{HeaderMap, HeaderValue, SEC_WEBSOCKET_EXTENSIONS};

use crate::deflate::DeflateParams;

/// One parameter of an extension offer: a name and, maybe, a value (quoted-string
/// values already unquoted).
type Param = (String, Option<String>);

/// Agrees to the first acceptable permessage-deflate offer in the request's
/// `Sec-WebSocket-Extensions` fields, if any: its parameters, for the session, and the
/// value of the response's `Sec-WebSocket-Extensions`.
///
/// An offer is declined (and the next one considered) when it is malformed, names a
/// parameter twice, names one RFC 7692 does not define, or gives one a value out of
/// range. Offers of other extensions are ignored.
pub(crate) fn negotiate(headers: &HeaderMap) -> Option<(DeflateParams, HeaderValue)> {
    headers
        .get_all(SEC_WEBSOCKET_EXTENSIONS)
        .iter()
        .flat_map(|value| split_list(value.as_bytes()))
        .filter_map(parse_extension)
        .filter(|(name, _)| name.eq_ignore_ascii_case("permessage-deflate"))
        .find_map(|(_, params)| accept_deflate(&params))
}

/// Checks one permessage-deflate offer and builds the answer to it.
fn accept_deflate(params: &[Param]) -> Option<(DeflateParams, HeaderValue)> {
    let mut agreed = DeflateParams::default();
    let mut seen = [false; 4];
    let mut response = String::from("permessage-deflate");
    for (name, value) in params {
        let name = name.to_ascii_lowercase();
        let slot = match name.as_str() {
            "server_no_context_takeover" => 0,
            "client_no_context_takeover" => 1,
            "server_max_window_bits" => 2,
            "client_max_window_bits" => 3,
            _ => return None,
        };
        if std::mem::replace(&mut seen[slot], true) {
            return None;
        }
        match (slot, value.as_deref()) {
            (0, None) => {
                agreed.server_no_context_takeover = true;
                response.push_str("; server_no_context_takeover");
            }
            (1, None) => {
                agreed.client_no_context_takeover = true;
                response.push_str("; client_no_context_takeover");
            }
            // The window the server compresses within; honoured as the session's
            // deflater explains, so echoed as asked.
            (2, Some(v)) => {
                agreed.server_max_window_bits = window_bits(v)?;
                response.push_str("; server_max_window_bits=");
                response.push_str(v);
            }
            // The client's window: inflating with 15 bits reads any, so the server
            // needs no limit and sends none (§7.1.2.2 makes it optional).
            (3, None) => {}
            (3, Some(v)) => agreed.client_max_window_bits = window_bits(v)?,
            _ => return None,
        }
    }
    // Built from fixed ASCII and a value checked to be digits.
    let value = HeaderValue::from_str(&response).ok()?;
    Some((agreed, value))
}

/// A window size: a decimal 8–15 without leading zeros (RFC 7692 §7.1.2.1).
fn window_bits(v: &str) -> Option<u8> {
    if v.starts_with('0') || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse().ok().filter(|n| (8..=15).contains(n))
}

/// Splits a header value at the commas of a `#` list that are outside quoted-strings;
/// empty elements are dropped (RFC 9110 §5.6.1).
pub(crate) fn split_list(value: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, &b) in value.iter().enumerate() {
        if escaped {
            escaped = false;
        } else if quoted {
            match b {
                b'\\' => escaped = true,
                b'"' => quoted = false,
                _ => {}
            }
        } else if b == b'"' {
            quoted = true;
        } else if b == b',' {
            out.push(trim(&value[start..i]));
            start = i + 1;
        }
    }
    out.push(trim(&value[start..]));
    out.retain(|e| !e.is_empty());
    out
}

/// `extension-token *( ";" extension-param )`, or `None` if malformed.
fn parse_extension(element: &[u8]) -> Option<(String, Vec<Param>)> {
    let mut parts = Parts { rest: element };
    let name = parts.token()?;
    let mut params = Vec::new();
    loop {
        parts.skip_ws();
        if parts.rest.is_empty() {
            return Some((name, params));
        }
        parts.expect(b';')?;
        parts.skip_ws();
        let pname = parts.token()?;
        parts.skip_ws();
        let value = if parts.rest.first() == Some(&b'=') {
            parts.expect(b'=')?;
            parts.skip_ws();
            // RFC 6455 §9.1: a quoted value must still be a token once unquoted.
            let v = if parts.rest.first() == Some(&b'"') {
                parts.quoted()?
            } else {
                parts.token()?
            };
            if !is_token(v.as_bytes()) {
                return None;
            }
            Some(v)
        } else {
            None
        };
        params.push((pname, value));
    }
}

/// A cursor over one list element.
struct Parts<'a> {
    rest: &'a [u8],
}

impl Parts<'_> {
    fn skip_ws(&mut self) {
        while let [b' ' | b'\t', rest @ ..] = self.rest {
            self.rest = rest;
        }
    }

    fn expect(&mut self, b: u8) -> Option<()> {
        let (&first, rest) = self.rest.split_first()?;
        (first == b).then(|| self.rest = rest)
    }

    fn token(&mut self) -> Option<String> {
        let n = self.rest.iter().take_while(|&&b| is_tchar(b)).count();
        if n == 0 {
            return None;
        }
        let (tok, rest) = self.rest.split_at(n);
        self.rest = rest;
        // tchars are ASCII.
        Some(String::from_utf8_lossy(tok).into_owned())
    }

    fn quoted(&mut self) -> Option<String> {
        self.expect(b'"')?;
        let mut out = Vec::new();
        loop {
            let (&b, rest) = self.rest.split_first()?;
            self.rest = rest;
            match b {
                b'"' => return String::from_utf8(out).ok(),
                b'\\' => {
                    let (&e, rest) = self.rest.split_first()?;
                    self.rest = rest;
                    out.push(e);
                }
                _ => out.push(b),
            }
        }
    }
}

/// `tchar` of RFC 9110 §5.6.2.
pub(crate) fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

pub(crate) fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| is_tchar(b))
}

pub(crate) fn trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(values: &[&str]) -> Option<(DeflateParams, String)> {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(SEC_WEBSOCKET_EXTENSIONS, HeaderValue::from_str(v).unwrap());
        }
        negotiate(&h).map(|(p, v)| (p, v.to_str().unwrap().to_owned()))
    }

    #[test]
    fn bare_offer() {
        let (p, v) = offer(&["permessage-deflate"]).unwrap();
        assert_eq!(p, DeflateParams::default());
        assert_eq!(v, "permessage-deflate");
    }

    #[test]
    fn every_parameter() {
        let (p, v) = offer(&[
            "permessage-deflate; client_max_window_bits; server_max_window_bits=10; \
             server_no_context_takeover; client_no_context_takeover",
        ])
        .unwrap();
        assert_eq!(
            p,
            DeflateParams {
                server_no_context_takeover: true,
                client_no_context_takeover: true,
                server_max_window_bits: 10,
                client_max_window_bits: 15,
            }
        );
        assert_eq!(
            v,
            "permessage-deflate; server_max_window_bits=10; server_no_context_takeover; \
             client_no_context_takeover"
        );
        let (p, v) = offer(&["permessage-deflate;client_max_window_bits=\"9\""]).unwrap();
        assert_eq!(p.client_max_window_bits, 9);
        assert_eq!(v, "permessage-deflate");
    }

    #[test]
    fn bad_offers_are_declined_and_the_next_taken() {
        for bad in [
            "permessage-deflate; server_max_window_bits",
            "permessage-deflate; server_max_window_bits=7",
            "permessage-deflate; server_max_window_bits=16",
            "permessage-deflate; server_max_window_bits=08",
            "permessage-deflate; client_max_window_bits=abc",
            "permessage-deflate; server_no_context_takeover=1",
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            "permessage-deflate; client_max_window_bits; client_max_window_bits=10",
            "permessage-deflate; unknown_param",
            "permessage-deflate; ",
            "permessage-deflate;; server_no_context_takeover",
            "permessage-deflate server_no_context_takeover",
            "permessage-deflate; server_max_window_bits=\"1 0\"",
            "permessage-deflate; server_max_window_bits=\"10",
        ] {
            assert_eq!(offer(&[bad]), None, "{bad}");
            let (p, _) = offer(&[bad, "permessage-deflate; client_no_context_takeover"])
                .unwrap_or_else(|| panic!("fallback after {bad}"));
            assert!(p.client_no_context_takeover, "{bad}");
        }
    }

    #[test]
    fn first_acceptable_offer_in_a_list_wins() {
        let (p, v) = offer(&[
            "x-webkit-deflate-frame, permessage-deflate; server_max_window_bits=8, \
             permessage-deflate",
        ])
        .unwrap();
        assert_eq!(p.server_max_window_bits, 8);
        assert_eq!(v, "permessage-deflate; server_max_window_bits=8");
        assert_eq!(offer(&["foo; a=\"x,y\", bar"]), None);
        assert_eq!(offer(&[]), None);
    }

    #[test]
    fn list_splitting_respects_quotes() {
        assert_eq!(
            split_list(b" a; b=\"x,\\\"y\" , ,c "),
            vec![&b"a; b=\"x,\\\"y\""[..], b"c"]
        );
    }
}

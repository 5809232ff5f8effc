//! UTF-8 validation of a text message as its pieces arrive, failing on the first piece
//! that cannot start valid text (RFC 6455 §8.1).

/// Validates a byte stream fed piecewise: an incomplete code point at the end of a
/// piece waits for the next piece, a sequence no continuation could make valid fails
/// at once.
#[derive(Clone, Debug, Default)]
pub(crate) struct Validator {
    /// The start of a code point cut by the end of the last piece.
    partial: [u8; 4],
    partial_len: usize,
}

/// The bytes are not, and cannot become, UTF-8.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Invalid;

impl Validator {
    /// Checks the next piece of the stream.
    pub(crate) fn feed(&mut self, mut piece: &[u8]) -> Result<(), Invalid> {
        if self.partial_len > 0 {
            let need = width(self.partial[0]) - self.partial_len;
            let take = need.min(piece.len());
            self.partial[self.partial_len..self.partial_len + take].copy_from_slice(&piece[..take]);
            self.partial_len += take;
            piece = &piece[take..];
            match std::str::from_utf8(&self.partial[..self.partial_len]) {
                Ok(_) => self.partial_len = 0,
                Err(e) if e.error_len().is_none() => return Ok(()),
                Err(_) => return Err(Invalid),
            }
        }
        match std::str::from_utf8(piece) {
            Ok(_) => Ok(()),
            Err(e) if e.error_len().is_none() => {
                let rest = &piece[e.valid_up_to()..];
                self.partial[..rest.len()].copy_from_slice(rest);
                self.partial_len = rest.len();
                Ok(())
            }
            Err(_) => Err(Invalid),
        }
    }

    /// Checks that the stream did not end inside a code point, and starts over.
    pub(crate) fn finish(&mut self) -> Result<(), Invalid> {
        let cut = self.partial_len > 0;
        self.partial_len = 0;
        if cut {
            Err(Invalid)
        } else {
            Ok(())
        }
    }
}

/// The length of the sequence a lead byte starts. Only lead bytes that `from_utf8`
/// called a valid prefix reach here, so the ASCII and invalid arms are never taken
/// with the current data; they keep the arithmetic in range whatever comes.
fn width(lead: u8) -> usize {
    match lead {
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xff => 4,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(pieces: &[&[u8]]) -> Result<(), Invalid> {
        let mut v = Validator::default();
        for p in pieces {
            v.feed(p)?;
        }
        v.finish()
    }

    #[test]
    fn code_point_split_at_every_byte() {
        let euro = "€".as_bytes();
        assert_eq!(pieces(&[&euro[..1], &euro[1..2], &euro[2..]]), Ok(()));
        let smile = "😀".as_bytes();
        assert_eq!(
            pieces(&[b"a", &smile[..1], &[], &smile[1..3], &smile[3..], b"b"]),
            Ok(())
        );
    }

    #[test]
    fn invalid_prefix_fails_in_its_own_piece() {
        let mut v = Validator::default();
        // 0xF4 0x90 would be above U+10FFFF: no continuation can save it.
        assert_eq!(v.feed(&[b'a', 0xf4, 0x90]), Err(Invalid));
        let mut v = Validator::default();
        v.feed(&[0xf4]).unwrap();
        assert_eq!(v.feed(&[0x90]), Err(Invalid));
        let mut v = Validator::default();
        // A surrogate's encoding.
        assert_eq!(v.feed(&[0xed, 0xa0]), Err(Invalid));
    }

    #[test]
    fn truncated_at_the_end_fails_at_finish() {
        let mut v = Validator::default();
        assert_eq!(v.feed(&[0xe2, 0x82]), Ok(()));
        assert_eq!(v.finish(), Err(Invalid));
        // And the validator starts over for the next message.
        assert_eq!(pieces(&[b"ok"]), Ok(()));
        assert_eq!(v.feed(b"ok"), Ok(()));
        assert_eq!(v.finish(), Ok(()));
    }

    #[test]
    fn continuation_completing_a_partial_then_invalid() {
        let mut v = Validator::default();
        v.feed(&[0xe2]).unwrap();
        assert_eq!(v.feed(&[0x82, 0xac, 0xff]), Err(Invalid));
    }
}

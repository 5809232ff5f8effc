//! Output for a vectored write: the frame bytes the codec writes and the body slices
//! it shares, in order. Body data large enough to matter is never copied on its way
//! to the socket; small pieces are, since a slice of its own costs more than copying a
//! few hundred bytes.

use std::collections::VecDeque;
use std::io::IoSlice;

use bytes::{Buf, Bytes};

/// Body slices shorter than this are copied in with the frame bytes.
const COPY_BELOW: usize = 1024;

/// Bytes waiting to be written: see [`ServerConn::poll_transmit_vectored`].
///
/// [`ServerConn::poll_transmit_vectored`]: crate::ServerConn::poll_transmit_vectored
#[derive(Debug, Default)]
pub struct Transmit {
    parts: VecDeque<Bytes>,
    /// Frame bytes written since the last shared slice, not yet a part.
    tail: Vec<u8>,
    /// The bytes in `parts`.
    parts_len: usize,
}

impl Transmit {
    /// An empty queue.
    pub fn new() -> Self {
        Transmit::default()
    }

    /// Whether nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many bytes are waiting.
    pub fn len(&self) -> usize {
        self.parts_len + self.tail.len()
    }

    /// Fills `slices` with the waiting bytes, in order; returns how many it filled.
    pub fn slices<'a>(&'a self, slices: &mut [IoSlice<'a>]) -> usize {
        let parts = self.parts.iter().map(|p| &p[..]);
        let all = parts.chain((!self.tail.is_empty()).then_some(&self.tail[..]));
        let mut n = 0;
        for (slot, part) in slices.iter_mut().zip(all) {
            *slot = IoSlice::new(part);
            n += 1;
        }
        n
    }

    /// `n` bytes were written: drops them from the front.
    pub fn advance(&mut self, mut n: usize) {
        while n > 0 {
            let Some(front) = self.parts.front_mut() else {
                self.tail.drain(..n.min(self.tail.len()));
                return;
            };
            let step = n.min(front.len());
            front.advance(step);
            self.parts_len -= step;
            n -= step;
            if front.is_empty() {
                self.parts.pop_front();
            }
        }
    }

    /// Gives back the memory of an empty queue.
    pub fn release(&mut self) {
        if self.is_empty() {
            *self = Transmit::default();
        }
    }
}

/// Where [`ServerConn`](crate::ServerConn) writes: a plain buffer, or a [`Transmit`].
pub(crate) trait Sink {
    /// Where frame bytes go.
    fn frames(&mut self) -> &mut Vec<u8>;
    /// Appends body data after the frame bytes written so far.
    fn payload(&mut self, data: Bytes);
    /// How many bytes are waiting.
    fn written(&self) -> usize;
}

impl Sink for Vec<u8> {
    fn frames(&mut self) -> &mut Vec<u8> {
        self
    }

    fn payload(&mut self, data: Bytes) {
        self.extend_from_slice(&data);
    }

    fn written(&self) -> usize {
        self.len()
    }
}

impl Sink for Transmit {
    fn frames(&mut self) -> &mut Vec<u8> {
        &mut self.tail
    }

    fn written(&self) -> usize {
        self.len()
    }

    fn payload(&mut self, data: Bytes) {
        if data.len() < COPY_BELOW {
            self.tail.extend_from_slice(&data);
            return;
        }
        if !self.tail.is_empty() {
            self.parts_len += self.tail.len();
            self.parts.push_back(std::mem::take(&mut self.tail).into());
        }
        self.parts_len += data.len();
        self.parts.push_back(data);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gather(t: &Transmit) -> Vec<u8> {
        let mut slices = [IoSlice::new(&[]); 8];
        let n = t.slices(&mut slices);
        slices[..n].iter().flat_map(|s| s.iter().copied()).collect()
    }

    #[test]
    fn large_payloads_are_shared_small_ones_copied_and_advance_keeps_the_order() {
        let mut t = Transmit::new();
        t.frames().extend_from_slice(b"head1");
        t.payload(Bytes::from_static(b"tiny"));
        let big = Bytes::from(vec![b'b'; 2000]);
        t.payload(big.clone());
        t.frames().extend_from_slice(b"head2");
        assert_eq!(t.len(), 5 + 4 + 2000 + 5);
        let mut expect = b"head1tiny".to_vec();
        expect.extend_from_slice(&big);
        expect.extend_from_slice(b"head2");
        assert_eq!(gather(&t), expect);
        assert_eq!(
            t.parts.len(),
            2,
            "frames, then the shared slice; head2 in the tail"
        );
        assert_eq!(t.parts[1].as_ptr(), big.as_ptr(), "not copied");

        for step in [3, 10, 1990, 1, 10] {
            t.advance(step);
            expect.drain(..step);
            assert_eq!(gather(&t), expect);
            assert_eq!(t.len(), expect.len());
        }
        assert!(t.is_empty());
    }
}

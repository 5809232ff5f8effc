//! A map keyed by stream id, for the connection's streams and a driver's per-stream
//! state. The standard SipHash is built to resist chosen keys and costs about a
//! hundred instructions per look-up; stream ids need less: the peer can only pick
//! increasing odd ids, at most `max_concurrent_streams` of them live at once, so even
//! ids chosen to collide cost a probe over that many entries, not more.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A `HashMap` from stream id to `V` with [`IdHasher`].
pub type StreamMap<V> = HashMap<u32, V, BuildHasherDefault<IdHasher>>;

/// Hashes one stream id with a multiply and a fold, so that ids alike in their low bits
/// (spaced by a power of two) still spread over the table.
#[derive(Clone, Copy, Debug, Default)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u32(u32::from(b));
        }
    }

    fn write_u32(&mut self, id: u32) {
        self.write_u64(u64::from(id));
    }

    /// HTTP/3's stream ids are QUIC's 62-bit ones; the low bits still carry the count.
    fn write_u64(&mut self, id: u64) {
        let h = (self.0 ^ id).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        self.0 = h ^ (h >> 32);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    #[test]
    fn ids_spaced_by_a_power_of_two_land_in_different_buckets() {
        let build = BuildHasherDefault::<IdHasher>::default();
        let buckets: std::collections::HashSet<u64> = (0..128u32)
            .map(|j| build.hash_one(1 + (j << 20)) & 127)
            .collect();
        assert!(buckets.len() > 64, "{} buckets of 128", buckets.len());
    }
}

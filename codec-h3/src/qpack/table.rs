//! The dynamic table (RFC 9204 §3.2): entries in insertion order, each with an absolute
//! index that never changes (0 for the first ever inserted), evicted oldest first to
//! keep the table's size (name + value + 32 per entry) within its capacity.
//!
//! The decoder keeps the table the peer's encoder builds; the encoder keeps its own
//! copy of the table it builds in the peer's decoder. Relative and post-Base indices
//! are turned into absolute ones by their users.

use std::collections::VecDeque;

use bytes::Bytes;

/// What each entry adds to the table size beyond its name and value (§3.2.1).
pub(crate) const ENTRY_OVERHEAD: usize = 32;

/// The size an entry of `name` and `value` takes.
pub(crate) fn entry_size(name: &[u8], value: &[u8]) -> usize {
    name.len() + value.len() + ENTRY_OVERHEAD
}

/// One field line in the table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) name: Bytes,
    pub(crate) value: Bytes,
}

impl Entry {
    pub(crate) fn size(&self) -> usize {
        entry_size(&self.name, &self.value)
    }
}

/// An entry that is larger than the table's capacity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TooLarge;

/// The dynamic table. It starts with a capacity of 0 (§3.2.3).
#[derive(Clone, Debug, Default)]
pub(crate) struct Table {
    /// Oldest first.
    entries: VecDeque<Entry>,
    /// How many entries were evicted: the absolute index of the oldest one left.
    dropped: u64,
    size: usize,
    capacity: usize,
}

impl Table {
    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    pub(crate) fn size(&self) -> usize {
        self.size
    }

    /// The Insert Count: every entry ever inserted, evicted or not.
    pub(crate) fn inserted(&self) -> u64 {
        self.dropped + self.entries.len() as u64
    }

    /// The absolute index of the oldest entry left.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped
    }

    /// The entry with absolute index `abs`, unless it was evicted or never inserted.
    pub(crate) fn get(&self, abs: u64) -> Option<&Entry> {
        let i = usize::try_from(abs.checked_sub(self.dropped)?).ok()?;
        self.entries.get(i)
    }

    /// The entries left, oldest first, with their absolute indices.
    pub(crate) fn iter(&self) -> impl DoubleEndedIterator<Item = (u64, &Entry)> {
        let dropped = self.dropped;
        self.entries
            .iter()
            .enumerate()
            .map(move |(i, e)| (dropped + i as u64, e))
    }

    /// Sets the capacity, evicting the oldest entries until the table fits it.
    pub(crate) fn set_capacity(&mut self, capacity: usize) {
        self.capacity = capacity;
        self.evict_to(capacity);
    }

    /// How many of the oldest entries must be evicted for an entry of `size` to fit;
    /// `None` if it is larger than the capacity.
    pub(crate) fn evictions_for(&self, size: usize) -> Option<usize> {
        let room = self.capacity.checked_sub(size)?;
        let mut over = self.size.saturating_sub(room);
        Some(
            self.entries
                .iter()
                .take_while(|e| {
                    let evict = over > 0;
                    over = over.saturating_sub(e.size());
                    evict
                })
                .count(),
        )
    }

    /// Adds `entry` as the newest, evicting the oldest entries to make room (§3.2.2).
    /// The caller holds `entry` already, so it may be a copy of an entry this evicts.
    pub(crate) fn insert(&mut self, entry: Entry) -> Result<(), TooLarge> {
        let size = entry.size();
        let room = self.capacity.checked_sub(size).ok_or(TooLarge)?;
        self.evict_to(room);
        self.size += size;
        self.entries.push_back(entry);
        Ok(())
    }

    fn evict_to(&mut self, target: usize) {
        while self.size > target {
            let Some(old) = self.entries.pop_front() else {
                break;
            };
            self.size -= old.size();
            self.dropped += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &'static str, value: &'static str) -> Entry {
        Entry {
            name: Bytes::from_static(name.as_bytes()),
            value: Bytes::from_static(value.as_bytes()),
        }
    }

    #[test]
    fn inserts_evict_the_oldest_and_keep_absolute_indices() {
        let mut t = Table::default();
        assert_eq!(
            t.insert(entry("a", "b")),
            Err(TooLarge),
            "capacity starts at 0"
        );
        t.set_capacity(100);
        t.insert(entry("a", "1")).expect("fits");
        t.insert(entry("b", "2")).expect("fits");
        t.insert(entry("c", "3")).expect("fits");
        assert_eq!((t.size(), t.inserted(), t.dropped()), (68, 3, 1));
        assert_eq!(t.get(0), None);
        assert_eq!(t.get(1), Some(&entry("b", "2")));
        assert_eq!(t.get(2), Some(&entry("c", "3")));
        assert_eq!(t.get(3), None);
        assert_eq!(t.evictions_for(34), Some(1));
        assert_eq!(t.evictions_for(32), Some(0));
        assert_eq!(t.evictions_for(100), Some(2));
        assert_eq!(t.evictions_for(101), None);
        let iter: Vec<u64> = t.iter().map(|(abs, _)| abs).collect();
        assert_eq!(iter, [1, 2]);
        // An entry of exactly the capacity empties the table.
        t.insert(entry("x".repeat(34).leak(), "y".repeat(34).leak()))
            .expect("fits exactly");
        assert_eq!((t.size(), t.inserted(), t.dropped()), (100, 4, 3));
        assert_eq!(t.insert(entry("x".repeat(69).leak(), "")), Err(TooLarge));
    }

    #[test]
    fn lowering_the_capacity_evicts_and_zero_clears() {
        let mut t = Table::default();
        t.set_capacity(205);
        for _ in 0..5 {
            t.insert(entry("name", "value")).expect("fits");
        }
        assert_eq!(t.size(), 5 * 41);
        t.set_capacity(100);
        assert_eq!((t.size(), t.dropped()), (82, 3));
        t.set_capacity(0);
        assert_eq!((t.size(), t.dropped(), t.inserted()), (0, 5, 5));
        t.set_capacity(41);
        t.insert(entry("name", "value")).expect("fits again");
        assert_eq!(t.get(5), Some(&entry("name", "value")));
    }
}

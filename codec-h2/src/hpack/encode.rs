//! The HPACK encoder, written here rather than taken from loona: loona indexes only
//! fields whose name is new to both tables, so `content-type`, `date` or `server` (names
//! in the static table) went out as literals on every response — about 30 bytes and a
//! table scan each time, where an indexed field is one byte.

use std::collections::VecDeque;

use super::{put_integer, static_table, DEFAULT_TABLE_SIZE, FIELD_OVERHEAD};

/// Encodes our header blocks (responses and trailers), keeping the peer's view of our
/// dynamic table.
pub struct Encoder {
    /// Newest first, as HPACK numbers them (index 62 is the front).
    table: VecDeque<Entry>,
    /// The table's size as RFC 7541 §4.1 counts it.
    size: usize,
    /// The table size the peer's decoder has been told of.
    table_size: usize,
    /// Changes to the peer's limit since the last block: the smallest and the last.
    pending: Option<(usize, usize)>,
}

struct Entry {
    name: Box<[u8]>,
    value: Box<[u8]>,
}

impl Entry {
    fn size(&self) -> usize {
        self.name.len() + self.value.len() + FIELD_OVERHEAD
    }
}

/// How a field may be stored by the peer.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Indexing {
    /// Worth adding to the table: its value is likely to repeat.
    Incremental,
    /// Changes too often to be worth a table entry.
    Without,
    /// A secret: no intermediary may index it either (RFC 7541 §7.1.3).
    Never,
}

fn indexing(name: &[u8]) -> Indexing {
    match name {
        b"authorization" | b"proxy-authorization" | b"cookie" | b"set-cookie" => Indexing::Never,
        b":path" | b"content-length" | b"content-range" | b"etag" | b"last-modified"
        | b"location" | b"age" | b"if-modified-since" | b"if-none-match" => Indexing::Without,
        _ => Indexing::Incremental,
    }
}

impl Default for Encoder {
    fn default() -> Self {
        Encoder::new()
    }
}

impl Encoder {
    /// An encoder with the default table size of 4096.
    pub fn new() -> Self {
        Encoder {
            table: VecDeque::new(),
            size: 0,
            table_size: DEFAULT_TABLE_SIZE,
            pending: None,
        }
    }

    /// Takes the peer's SETTINGS_HEADER_TABLE_SIZE. The table never grows past 4096
    /// whatever the peer allows; the next block starts with the size updates.
    pub fn set_max_table_size(&mut self, peer_max: usize) {
        let size = peer_max.min(DEFAULT_TABLE_SIZE);
        let smallest = self.pending.map_or(size, |(s, _)| s.min(size));
        self.pending = Some((smallest, size));
    }

    /// Appends one header block for `fields` to `out`. Names must be lowercase, with
    /// pseudo-headers (`:status`) first.
    pub fn encode<'a>(
        &mut self,
        fields: impl Iterator<Item = (&'a [u8], &'a [u8])>,
        out: &mut Vec<u8>,
    ) {
        if let Some((smallest, last)) = self.pending.take() {
            // RFC 7541 §4.2: the smallest size since the last block, then the final one,
            // so the peer evicts what we evicted.
            let mut current = self.table_size;
            if smallest < current {
                self.size_update(smallest, out);
                current = smallest;
            }
            if last != current {
                self.size_update(last, out);
            }
        }
        for (name, value) in fields {
            self.field(name, value, out);
        }
    }

    fn field(&mut self, name: &[u8], value: &[u8], out: &mut Vec<u8>) {
        let stat = static_table::find(name, value);
        if let Some(found) = stat.filter(|f| f.exact) {
            put_integer(out, found.index, 7, 0x80);
            return;
        }
        let how = indexing(name);
        let mut name_index = stat.map(|f| f.index);
        if how != Indexing::Never {
            // Newest first: of repeated names (a `date` per second) the current one
            // is met first.
            for (i, e) in self.table.iter().enumerate() {
                if *e.name == *name {
                    let index = static_table::LEN + 1 + i;
                    if *e.value == *value {
                        put_integer(out, index, 7, 0x80);
                        return;
                    }
                    name_index.get_or_insert(index);
                }
            }
        }
        let size = name.len() + value.len() + FIELD_OVERHEAD;
        let (prefix, flags) = match how {
            Indexing::Incremental if size <= self.table_size => (6, 0x40),
            Indexing::Never => (4, 0x10),
            _ => (4, 0x00),
        };
        match name_index {
            Some(index) => put_integer(out, index, prefix, flags),
            None => {
                out.push(flags);
                put_string(out, name);
            }
        }
        put_string(out, value);
        if flags == 0x40 {
            self.insert(name, value, size);
        }
    }

    /// Adds an entry as the peer's decoder will on seeing it: evict from the oldest
    /// until it fits (RFC 7541 §4.4).
    fn insert(&mut self, name: &[u8], value: &[u8], size: usize) {
        self.evict_to(self.table_size - size);
        self.table.push_front(Entry {
            name: name.into(),
            value: value.into(),
        });
        self.size += size;
    }

    fn evict_to(&mut self, max: usize) {
        while self.size > max {
            let Some(old) = self.table.pop_back() else {
                break;
            };
            self.size -= old.size();
        }
    }

    fn size_update(&mut self, size: usize, out: &mut Vec<u8>) {
        put_integer(out, size, 5, 0x20);
        self.evict_to(size);
        self.table_size = size;
    }
}

/// A string literal, never Huffman-coded: see the module docs of `hpack`.
fn put_string(out: &mut Vec<u8>, s: &[u8]) {
    put_integer(out, s.len(), 7, 0);
    out.extend_from_slice(s);
}

#[cfg(test)]
mod tests {
    use super::super::Decoder;
    use super::*;

    fn decode(d: &mut Decoder, block: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
        let list = d.decode(block, usize::MAX).expect("our block decodes");
        list.fields()
            .iter()
            .map(|(n, v)| (n.to_vec(), v.to_vec()))
            .collect()
    }

    #[test]
    fn the_encoder_signals_table_size_changes_at_the_next_block() {
        let mut e = Encoder::new();
        let mut out = Vec::new();
        e.set_max_table_size(65536);
        e.encode(std::iter::empty(), &mut out);
        assert_eq!(out, [], "4096 is kept, nothing to say");
        e.set_max_table_size(100);
        e.set_max_table_size(5000);
        e.encode([(&b":status"[..], &b"200"[..])].into_iter(), &mut out);
        assert_eq!(out, [0x3f, 0x45, 0x3f, 0xe1, 0x1f, 0x88]);
        out.clear();
        e.set_max_table_size(0);
        e.encode([(&b"x-a"[..], &b"b"[..])].into_iter(), &mut out);
        assert_eq!(out[0], 0x20);
        let mut d = Decoder::new();
        d.set_max_table_size(0);
        let fields = decode(&mut d, &out);
        assert_eq!(fields, [(b"x-a".to_vec(), b"b".to_vec())]);
    }

    #[test]
    fn a_repeated_response_head_shrinks_to_a_byte_per_field() {
        let head: [(&[u8], &[u8]); 5] = [
            (b":status", b"200"),
            (b"content-type", b"text/plain"),
            (b"date", b"Sun, 29 Nov 2026 11:24:44 GMT"),
            (b"server", b"roadrunner"),
            (b"content-length", b"13"),
        ];
        let (mut e, mut d) = (Encoder::new(), Decoder::new());
        let mut first = Vec::new();
        e.encode(head.iter().copied(), &mut first);
        let mut second = Vec::new();
        e.encode(head.iter().copied(), &mut second);
        // :status 200, then the three table entries (the newest, server, is 62),
        // then content-length (name 28,
        // without indexing) with its two-byte value.
        assert_eq!(
            second,
            [0x88, 0xc0, 0xbf, 0xbe, 0x0f, 0x0d, 0x02, b'1', b'3']
        );
        let expect: Vec<_> = head.iter().map(|(n, v)| (n.to_vec(), v.to_vec())).collect();
        assert_eq!(decode(&mut d, &first), expect);
        assert_eq!(decode(&mut d, &second), expect);
    }

    #[test]
    fn secrets_are_never_indexed_and_big_fields_are_not_stored() {
        let mut e = Encoder::new();
        let mut out = Vec::new();
        e.encode([(&b"set-cookie"[..], &b"id=1"[..])].into_iter(), &mut out);
        // Never indexed, name 55 in a 4-bit prefix: 0x1f then 55 - 15.
        assert_eq!(out, [0x1f, 40, 4, b'i', b'd', b'=', b'1']);
        assert!(e.table.is_empty());
        let big = vec![b'v'; DEFAULT_TABLE_SIZE];
        out.clear();
        e.encode([(&b"x-big"[..], &big[..])].into_iter(), &mut out);
        assert_eq!(out[0], 0x00, "literal without indexing, new name");
        assert!(e.table.is_empty());
        let mut d = Decoder::new();
        assert_eq!(decode(&mut d, &out), [(b"x-big".to_vec(), big)]);
    }

    #[test]
    fn eviction_follows_the_decoder() {
        // Each entry is 1 + 100 + 32 = 133 bytes: 30 fit in 4096, the rest evict.
        let mut e = Encoder::new();
        let mut d = Decoder::new();
        for round in 0..3 {
            for i in 0..40u8 {
                let value = vec![b'a' + i % 26; 100];
                let name = [b'a' + i % 26];
                let mut out = Vec::new();
                e.encode([(&name[..], &value[..])].into_iter(), &mut out);
                assert_eq!(
                    decode(&mut d, &out),
                    [(name.to_vec(), value)],
                    "round {round}"
                );
            }
            assert!(e.size <= DEFAULT_TABLE_SIZE);
        }
    }
}

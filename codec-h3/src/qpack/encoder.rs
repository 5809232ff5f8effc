//! The QPACK encoder (RFC 9204 §2.1), for the fields a server sends.
//!
//! What it does, field by field:
//! - a field the static table holds whole is sent as its index;
//! - a field the dynamic table holds is sent as a reference to it, if the peer's
//!   decoder is known to have the entry, or if the peer allows one more blocked stream
//!   (SETTINGS_QPACK_BLOCKED_STREAMS) and this section may wait for it;
//! - otherwise the field may be inserted: the second time the encoder sees a field in
//!   a short while (it remembers the last 64 it sent), if the entry takes at most a
//!   quarter of the table, and if room can be made by evicting only entries the
//!   decoder has acknowledged and no unacknowledged section refers to. The insert goes
//!   out on the encoder stream and the field is referenced as above;
//! - anything else is a literal, with the static table's name index when it has the
//!   name. Strings are sent plain, not Huffman-coded.
//!
//! Entries in the oldest quarter of the table are not referenced, so that they drain
//! and can be evicted; a field found only there is duplicated to the front (§2.1.1.1).
//! `authorization`, `cookie`, `proxy-authorization` and `set-cookie` are never put in
//! the table and are sent as never-indexed literals (§7.1.3).
//!
//! Until [`Encoder::apply_settings`] gives the peer's settings, the table's capacity is
//! 0: only the static table and literals are used, and no stream ever blocks.

use std::collections::VecDeque;
use std::hash::{DefaultHasher, Hash, Hasher};

use bytes::Bytes;

use super::instruction::{DecoderInstruction, EncoderInstruction};
use super::prefix;
use super::primitive::{encode_int, encode_str};
use super::static_table::{self, Match};
use super::table::{entry_size, Entry, Table};
use crate::error::{ConnError, ErrorCode};
use crate::settings::Settings;

/// Fields whose values must not be exposed to compression oracles (§7.1.3).
const SENSITIVE: [&[u8]; 4] = [
    b"authorization",
    b"cookie",
    b"proxy-authorization",
    b"set-cookie",
];

/// How many recently sent fields are remembered to spot repeats.
const SEEN: usize = 64;

/// Unacknowledged sections with dynamic references kept track of; past this many (a
/// peer that never acknowledges) new sections use the static table only, so the
/// bookkeeping stays bounded.
const MAX_SECTIONS: usize = 1024;

/// A sent section that references the dynamic table and is not yet acknowledged.
#[derive(Clone, Copy, Debug)]
struct Sent {
    stream: u64,
    required: u64,
    /// The oldest entry it references: no entry from there on may be evicted.
    oldest: u64,
}

/// What one section being encoded has decided and referenced so far.
struct Section {
    base: u64,
    required: u64,
    oldest: u64,
    may_block: bool,
    /// Entries before this one are draining: not referenced any more.
    draining: u64,
}

/// Encodes one connection's field sections, keeping the dynamic table it builds in the
/// peer's decoder.
///
/// Call order, for the connection driver:
/// - when the peer's SETTINGS arrive, [`Encoder::apply_settings`];
/// - [`Encoder::encode`] for each header or trailer section sent, its output the
///   payload of a HEADERS frame;
/// - bytes from the peer's decoder stream (after its type byte) go to
///   [`Encoder::feed_decoder_stream`];
/// - after any of these, write what [`Encoder::poll_stream`] gives to our encoder
///   stream (it holds the inserts that the sections just encoded may refer to).
#[derive(Debug)]
pub struct Encoder {
    /// The most table this encoder uses, whatever the peer allows.
    max_capacity: usize,
    table: Table,
    settings_applied: bool,
    /// MaxEntries of the peer's decoder, for the Required Insert Count's encoding.
    max_entries: u64,
    /// The peer's SETTINGS_QPACK_BLOCKED_STREAMS.
    max_blocked: u64,
    /// Inserts the decoder is known to have.
    known_received: u64,
    /// Oldest first.
    sent: VecDeque<Sent>,
    /// Hashes of the fields sent lately, to spot the ones worth inserting.
    seen: [u64; SEEN],
    next_seen: usize,
    /// The start of a decoder-stream instruction that has not all arrived.
    partial: Vec<u8>,
    /// Encoder-stream bytes not yet polled.
    out: Vec<u8>,
    /// The field lines of the section being encoded, reused.
    lines: Vec<u8>,
}

impl Encoder {
    /// An encoder that uses at most `max_table_capacity` bytes of dynamic table (less
    /// if the peer allows less); 0 keeps it to the static table and literals.
    pub fn new(max_table_capacity: usize) -> Self {
        Encoder {
            max_capacity: max_table_capacity,
            table: Table::default(),
            settings_applied: false,
            max_entries: 0,
            max_blocked: 0,
            known_received: 0,
            sent: VecDeque::new(),
            seen: [0; SEEN],
            next_seen: 0,
            partial: Vec::new(),
            out: Vec::new(),
            lines: Vec::new(),
        }
    }

    /// Takes the peer's SETTINGS_QPACK_MAX_TABLE_CAPACITY and
    /// SETTINGS_QPACK_BLOCKED_STREAMS, and sets the table's capacity (on the encoder
    /// stream) if both sides allow one. Settings are sent once per connection, so only
    /// the first call counts.
    pub fn apply_settings(&mut self, peer: &Settings) {
        if self.settings_applied {
            return;
        }
        self.settings_applied = true;
        let peer_max = peer.qpack_max_table_capacity.unwrap_or(0);
        self.max_entries = prefix::max_entries(peer_max);
        self.max_blocked = peer.qpack_blocked_streams.unwrap_or(0);
        let capacity = usize::try_from(peer_max)
            .unwrap_or(usize::MAX)
            .min(self.max_capacity);
        // With a capacity of 0 nothing may be sent on the encoder stream (§3.2.3).
        if capacity > 0 {
            self.table.set_capacity(capacity);
            EncoderInstruction::SetCapacity {
                capacity: capacity as u64,
            }
            .encode(&mut self.out);
        }
    }

    /// The Insert Count: entries inserted so far.
    pub fn insert_count(&self) -> u64 {
        self.table.inserted()
    }

    /// The Known Received Count: inserts the peer's decoder has acknowledged.
    pub fn known_received_count(&self) -> u64 {
        self.known_received
    }

    /// The dynamic table's size.
    pub fn table_size(&self) -> usize {
        self.table.size()
    }

    /// Appends the encoded field section for `fields` (names lowercase, pseudo-headers
    /// first) sent on `stream`; inserts it makes are queued for [`Encoder::poll_stream`].
    pub fn encode<'a>(
        &mut self,
        stream: u64,
        fields: impl IntoIterator<Item = (&'a [u8], &'a [u8])>,
        out: &mut Vec<u8>,
    ) {
        let dynamic = self.table.capacity() > 0 && self.sent.len() < MAX_SECTIONS;
        let mut section = Section {
            base: self.table.inserted(),
            required: 0,
            oldest: u64::MAX,
            may_block: dynamic && self.may_block(stream),
            draining: self.draining_index(),
        };
        let mut lines = std::mem::take(&mut self.lines);
        lines.clear();
        for (name, value) in fields {
            self.line(name, value, dynamic, &mut section, &mut lines);
        }
        prefix::encode(section.required, section.base, self.max_entries, out);
        out.extend_from_slice(&lines);
        self.lines = lines;
        if section.required > 0 {
            self.sent.push_back(Sent {
                stream,
                required: section.required,
                oldest: section.oldest,
            });
        }
    }

    /// Gives back the memory of scratch and instruction buffers that are empty; the
    /// table stays.
    pub fn release_buffers(&mut self) {
        self.lines = Vec::new();
        if self.partial.is_empty() {
            self.partial = Vec::new();
        }
        if self.out.is_empty() {
            self.out = Vec::new();
        }
        self.sent.shrink_to_fit();
    }

    /// Bytes of buffer room held beside the table.
    pub fn buffer_capacity(&self) -> usize {
        self.lines.capacity()
            + self.partial.capacity()
            + self.out.capacity()
            + self.sent.capacity() * std::mem::size_of::<Sent>()
    }

    /// Appends what must go out on our encoder stream.
    pub fn poll_stream(&mut self, out: &mut Vec<u8>) {
        out.append(&mut self.out);
    }

    /// Applies bytes from the peer's decoder stream. An instruction may stop anywhere:
    /// its start is kept until the rest comes. Errors are QPACK_DECODER_STREAM_ERROR.
    pub fn feed_decoder_stream(&mut self, data: &[u8]) -> Result<(), ConnError> {
        self.partial.extend_from_slice(data);
        let mut pos = 0;
        let result = loop {
            match DecoderInstruction::parse(&self.partial[pos..]) {
                Ok(Some((instruction, len))) => {
                    pos += len;
                    if let Err(e) = self.apply(instruction) {
                        break Err(e);
                    }
                }
                Ok(None) => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        self.partial.drain(..pos);
        result
    }

    fn apply(&mut self, instruction: DecoderInstruction) -> Result<(), ConnError> {
        match instruction {
            DecoderInstruction::SectionAck { stream } => {
                let i = self
                    .sent
                    .iter()
                    .position(|s| s.stream == stream)
                    .ok_or(decoder_error(
                        "qpack: Section Acknowledgment with no section outstanding",
                    ))?;
                let required = self.sent[i].required;
                self.sent.remove(i);
                self.known_received = self.known_received.max(required);
            }
            DecoderInstruction::StreamCancel { stream } => {
                self.sent.retain(|s| s.stream != stream);
            }
            DecoderInstruction::InsertCountIncrement { increment } => {
                self.known_received = Some(increment)
                    .filter(|&n| n > 0)
                    .and_then(|n| self.known_received.checked_add(n))
                    .filter(|&k| k <= self.table.inserted())
                    .ok_or(decoder_error(
                        "qpack: Insert Count Increment of 0 or past the inserts",
                    ))?;
            }
        }
        Ok(())
    }

    fn line(
        &mut self,
        name: &[u8],
        value: &[u8],
        dynamic: bool,
        section: &mut Section,
        lines: &mut Vec<u8>,
    ) {
        let sensitive = SENSITIVE.contains(&name);
        let found = static_table::find(name, value);
        if let Some(Match::Full(index)) = found {
            encode_int(u64::from(index), 6, 0xc0, lines);
            return;
        }
        if dynamic && !sensitive {
            if let Some(abs) = self.dynamic_entry(name, value, found, section) {
                reference(abs, section, lines);
                return;
            }
        }
        match found {
            Some(Match::Name(index)) => {
                let never = if sensitive { 0x20 } else { 0 };
                encode_int(u64::from(index), 4, 0x50 | never, lines);
            }
            _ => {
                let never = if sensitive { 0x10 } else { 0 };
                encode_str(name, 4, 0x20 | never, lines);
            }
        }
        encode_str(value, 8, 0, lines);
    }

    /// The dynamic entry to reference for a field, inserting or duplicating it if that
    /// is allowed and worthwhile; `None` to send a literal.
    fn dynamic_entry(
        &mut self,
        name: &[u8],
        value: &[u8],
        found: Option<Match>,
        section: &Section,
    ) -> Option<u64> {
        let existing = self
            .table
            .iter()
            .rev()
            .find(|(_, e)| e.name == name && e.value == value)
            .map(|(abs, e)| (abs, e.clone()));
        let entry = match existing {
            Some((abs, _)) if abs >= section.draining => {
                return self.usable(abs, section).then_some(abs);
            }
            Some((abs, entry)) => {
                if !self.can_insert(entry.size(), section) {
                    return None;
                }
                let index = self.table.inserted() - 1 - abs;
                EncoderInstruction::Duplicate { index }.encode(&mut self.out);
                entry
            }
            None => {
                if !self.worth_inserting(name, value)
                    || !self.can_insert(entry_size(name, value), section)
                {
                    return None;
                }
                let value = Bytes::copy_from_slice(value);
                let instruction = match found {
                    Some(Match::Name(index)) => EncoderInstruction::InsertWithNameRef {
                        static_table: true,
                        index: u64::from(index),
                        value: value.clone(),
                    },
                    _ => EncoderInstruction::InsertWithLiteralName {
                        name: Bytes::copy_from_slice(name),
                        value: value.clone(),
                    },
                };
                instruction.encode(&mut self.out);
                Entry {
                    name: Bytes::copy_from_slice(name),
                    value,
                }
            }
        };
        // can_insert() checked that it fits.
        self.table.insert(entry).ok()?;
        let abs = self.table.inserted() - 1;
        self.usable(abs, section).then_some(abs)
    }

    /// Whether a reference to `abs` is allowed: the decoder has the entry, or this
    /// section may block waiting for it.
    fn usable(&self, abs: u64, section: &Section) -> bool {
        abs < self.known_received || section.may_block
    }

    /// Whether an entry of `size` can be inserted, evicting only entries the decoder has
    /// acknowledged and that no unacknowledged section (this one included) references
    /// (§2.1.1).
    fn can_insert(&self, size: usize, section: &Section) -> bool {
        let Some(evictions) = self.table.evictions_for(size) else {
            return false;
        };
        if evictions == 0 {
            return true;
        }
        let last_evicted = self.table.dropped() + evictions as u64 - 1;
        let pinned = self
            .sent
            .iter()
            .map(|s| s.oldest)
            .fold(section.oldest.min(self.known_received), u64::min);
        last_evicted < pinned
    }

    /// Whether a field not in the table should be: seen lately, and small enough.
    fn worth_inserting(&mut self, name: &[u8], value: &[u8]) -> bool {
        if entry_size(name, value) > self.table.capacity() / 4 {
            return false;
        }
        let mut hasher = DefaultHasher::new();
        (name, value).hash(&mut hasher);
        let hash = hasher.finish();
        if self.seen.contains(&hash) {
            return true;
        }
        self.seen[self.next_seen] = hash;
        self.next_seen = (self.next_seen + 1) % SEEN;
        false
    }

    /// The absolute index before which entries are draining: the oldest entries that
    /// would have to go to keep a quarter of the table free.
    fn draining_index(&self) -> u64 {
        let capacity = self.table.capacity();
        let free = capacity - self.table.size();
        let mut need = (capacity / 4).saturating_sub(free);
        let mut draining = self.table.dropped();
        for (abs, entry) in self.table.iter() {
            if need == 0 {
                break;
            }
            need = need.saturating_sub(entry.size());
            draining = abs + 1;
        }
        draining
    }

    /// Whether a section on `stream` may reference entries the decoder may not have
    /// yet: the stream is blocking already, or fewer streams are than the peer allows.
    fn may_block(&self, stream: u64) -> bool {
        if self.max_blocked == 0 {
            return false;
        }
        let mut blocking: Vec<u64> = self
            .sent
            .iter()
            .filter(|s| s.required > self.known_received)
            .map(|s| s.stream)
            .collect();
        if blocking.contains(&stream) {
            return true;
        }
        blocking.sort_unstable();
        blocking.dedup();
        (blocking.len() as u64) < self.max_blocked
    }
}

/// Appends a reference to the dynamic entry `abs`: relative to the Base when older, or
/// post-Base when inserted for this section.
fn reference(abs: u64, section: &mut Section, lines: &mut Vec<u8>) {
    match abs.checked_sub(section.base) {
        None => encode_int(section.base - 1 - abs, 6, 0x80, lines),
        Some(post) => encode_int(post, 4, 0x10, lines),
    }
    section.required = section.required.max(abs + 1);
    section.oldest = section.oldest.min(abs);
}

fn decoder_error(reason: &'static str) -> ConnError {
    ConnError::new(ErrorCode::QPACK_DECODER_STREAM_ERROR, reason)
}

#[cfg(test)]
mod tests;

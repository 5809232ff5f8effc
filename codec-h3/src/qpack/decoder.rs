//! The QPACK decoder (RFC 9204 §2.2): the peer's encoder stream builds its copy of the
//! dynamic table; field sections are decoded against it, or held while the inserts they
//! need are still on their way; what the peer's encoder must learn goes back on our
//! decoder stream.

use bytes::Bytes;

use super::field::{DecodeError, FieldSection, FIELD_OVERHEAD};
use super::instruction::{DecoderInstruction, EncoderInstruction};
use super::prefix::{self, Prefix};
use super::primitive::{decode_huffman, decode_int, decode_str_head, huffman_min_len, Error};
use super::static_table;
use super::table::{Entry, Table, ENTRY_OVERHEAD};
use crate::error::{ConnError, ErrorCode};
use crate::settings::Settings;

/// The decoder's limits, which it advertises in our SETTINGS ([`Decoder::settings`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DecoderConfig {
    /// SETTINGS_QPACK_MAX_TABLE_CAPACITY: the most the peer's encoder may put in the
    /// dynamic table, which bounds its memory here. 0 turns the table off.
    pub max_table_capacity: usize,
    /// SETTINGS_QPACK_BLOCKED_STREAMS: how many streams may wait on inserts at once.
    pub max_blocked_streams: usize,
    /// SETTINGS_MAX_FIELD_SECTION_SIZE: the largest decoded section (name + value + 32
    /// per field); a larger one is [`DecodeError::TooLarge`].
    pub max_field_section_size: usize,
}

impl Default for DecoderConfig {
    /// A 4 KiB table, 16 blocked streams and 32 KiB sections.
    fn default() -> Self {
        DecoderConfig {
            max_table_capacity: 4096,
            max_blocked_streams: 16,
            max_field_section_size: 32 * 1024,
        }
    }
}

/// A field section waiting for inserts, kept as a copy so that it does not pin the
/// receive buffer it came in.
#[derive(Debug)]
struct Blocked {
    stream: u64,
    prefix: Prefix,
    section: Bytes,
}

/// Decodes one connection's field sections, keeping the dynamic table the peer's
/// encoder builds.
///
/// Call order, for the connection driver:
/// - bytes from the peer's encoder stream (after its type byte) go to
///   [`Decoder::feed_encoder_stream`];
/// - each HEADERS payload goes to [`Decoder::decode`], which gives the fields, or `None`
///   when the section waits for inserts: stop reading that stream until
///   [`Decoder::poll_unblocked`] hands the section back, decoded;
/// - a request stream reset, or abandoned before its sections were decoded, goes to
///   [`Decoder::cancel_stream`];
/// - after any of these, drain [`Decoder::poll_unblocked`] and write what
///   [`Decoder::poll_stream`] gives to our decoder stream.
///
/// Errors other than [`DecodeError::TooLarge`] end the connection.
#[derive(Debug)]
pub struct Decoder {
    config: DecoderConfig,
    table: Table,
    /// The start of an encoder-stream instruction that has not all arrived.
    partial: Vec<u8>,
    /// Oldest first.
    blocked: Vec<Blocked>,
    /// Section Acknowledgments and Stream Cancellations not yet polled.
    out: Vec<u8>,
    /// The Known Received Count the peer's encoder will have once it reads what this
    /// decoder has written (§2.1.4).
    known_received: u64,
}

impl Decoder {
    /// A decoder with an empty table, bound by `config`.
    pub fn new(config: DecoderConfig) -> Self {
        Decoder {
            config,
            table: Table::default(),
            partial: Vec::new(),
            blocked: Vec::new(),
            out: Vec::new(),
            known_received: 0,
        }
    }

    /// The three settings this decoder's limits are advertised in; the rest are unset.
    pub fn settings(&self) -> Settings {
        Settings {
            qpack_max_table_capacity: Some(self.config.max_table_capacity as u64),
            max_field_section_size: Some(self.config.max_field_section_size as u64),
            qpack_blocked_streams: Some(self.config.max_blocked_streams as u64),
            ..Settings::default()
        }
    }

    /// The Insert Count: how many entries the peer's encoder has inserted.
    pub fn insert_count(&self) -> u64 {
        self.table.inserted()
    }

    /// The dynamic table's current size, which its capacity bounds.
    pub fn table_size(&self) -> usize {
        self.table.size()
    }

    /// How many streams have a field section waiting for inserts.
    pub fn blocked_streams(&self) -> usize {
        (0..self.blocked.len())
            .filter(|&i| self.first_of_its_stream(i))
            .count()
    }

    /// Applies bytes from the peer's encoder stream. An instruction may stop anywhere:
    /// its start is kept until the rest comes. Errors are QPACK_ENCODER_STREAM_ERROR.
    pub fn feed_encoder_stream(&mut self, data: &[u8]) -> Result<(), ConnError> {
        self.partial.extend_from_slice(data);
        let mut pos = 0;
        let result = loop {
            // An entry's name and value each fit the current capacity, less the
            // overhead; the exact sum is checked on insert.
            let max_string = self.table.capacity().saturating_sub(ENTRY_OVERHEAD) as u64;
            match EncoderInstruction::parse(&self.partial[pos..], max_string) {
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

    fn apply(&mut self, instruction: EncoderInstruction) -> Result<(), ConnError> {
        let entry = match instruction {
            EncoderInstruction::SetCapacity { capacity } => {
                let capacity = usize::try_from(capacity)
                    .ok()
                    .filter(|&c| c <= self.config.max_table_capacity)
                    .ok_or(encoder_error(
                        "qpack: capacity above SETTINGS_QPACK_MAX_TABLE_CAPACITY",
                    ))?;
                self.table.set_capacity(capacity);
                return Ok(());
            }
            EncoderInstruction::InsertWithNameRef {
                static_table: true,
                index,
                value,
            } => {
                let (name, _) = static_table::get(index)
                    .ok_or(encoder_error("qpack: static index out of range"))?;
                Entry {
                    name: Bytes::from_static(name),
                    value,
                }
            }
            EncoderInstruction::InsertWithNameRef {
                static_table: false,
                index,
                value,
            } => Entry {
                name: self.relative(index)?.name.clone(),
                value,
            },
            EncoderInstruction::InsertWithLiteralName { name, value } => Entry { name, value },
            EncoderInstruction::Duplicate { index } => self.relative(index)?.clone(),
        };
        self.table
            .insert(entry)
            .map_err(|_| encoder_error("qpack: entry larger than the table capacity"))
    }

    /// The entry an encoder-stream index points to: relative to the Insert Count.
    fn relative(&self, index: u64) -> Result<&Entry, ConnError> {
        self.table
            .inserted()
            .checked_sub(index)
            .and_then(|n| n.checked_sub(1))
            .and_then(|abs| self.table.get(abs))
            .ok_or(encoder_error("qpack: dynamic index not in the table"))
    }

    /// Decodes the field section of a HEADERS frame on `stream`. `Ok(None)`: it needs
    /// inserts that have not arrived, so it is held (as are later sections of the same
    /// stream, to keep their order) and comes back from [`Decoder::poll_unblocked`].
    pub fn decode(
        &mut self,
        stream: u64,
        section: Bytes,
    ) -> Result<Option<FieldSection>, DecodeError> {
        let prefix = prefix::decode(
            &section,
            prefix::max_entries(self.config.max_table_capacity as u64),
            self.table.inserted(),
        )
        .map_err(failed)?;
        let waiting = self.blocked.iter().any(|b| b.stream == stream);
        if !waiting && prefix.required <= self.table.inserted() {
            return self.finish(stream, &section, prefix).map(Some);
        }
        if !waiting && self.blocked_streams() >= self.config.max_blocked_streams {
            return Err(failed(
                "qpack: more blocked streams than SETTINGS_QPACK_BLOCKED_STREAMS",
            ));
        }
        self.blocked.push(Blocked {
            stream,
            prefix,
            section: Bytes::copy_from_slice(&section),
        });
        Ok(None)
    }

    /// A held section that the inserts since have made decodable, decoded, with its
    /// stream; sections of one stream come back in the order they were given.
    #[must_use]
    pub fn poll_unblocked(&mut self) -> Option<(u64, Result<FieldSection, DecodeError>)> {
        let inserted = self.table.inserted();
        let i = (0..self.blocked.len()).find(|&i| {
            self.blocked[i].prefix.required <= inserted && self.first_of_its_stream(i)
        })?;
        let b = self.blocked.remove(i);
        Some((b.stream, self.finish(b.stream, &b.section, b.prefix)))
    }

    /// Forgets `stream`'s field sections: it was reset, or the driver stopped reading
    /// it before all its sections were decoded. Held sections are dropped, and the
    /// peer's encoder is told (§4.4.2) so it can release the entries they used.
    pub fn cancel_stream(&mut self, stream: u64) {
        self.blocked.retain(|b| b.stream != stream);
        // With no table the encoder holds no references (§2.2.2.2).
        if self.config.max_table_capacity > 0 {
            DecoderInstruction::StreamCancel { stream }.encode(&mut self.out);
        }
    }

    /// Gives back the memory of instruction buffers that are empty; the table and
    /// any blocked sections stay.
    pub fn release_buffers(&mut self) {
        if self.partial.is_empty() {
            self.partial = Vec::new();
        }
        if self.out.is_empty() {
            self.out = Vec::new();
        }
        self.blocked.shrink_to_fit();
    }

    /// Bytes of buffer room held beside the table.
    pub fn buffer_capacity(&self) -> usize {
        self.partial.capacity()
            + self.out.capacity()
            + self.blocked.capacity() * std::mem::size_of::<Blocked>()
    }

    /// Appends what must go out on our decoder stream: acknowledgments, cancellations,
    /// then one Insert Count Increment for inserts the encoder has not heard of.
    pub fn poll_stream(&mut self, out: &mut Vec<u8>) {
        out.append(&mut self.out);
        let inserted = self.table.inserted();
        if inserted > self.known_received {
            DecoderInstruction::InsertCountIncrement {
                increment: inserted - self.known_received,
            }
            .encode(out);
            self.known_received = inserted;
        }
    }

    fn first_of_its_stream(&self, i: usize) -> bool {
        let stream = self.blocked[i].stream;
        !self.blocked[..i].iter().any(|b| b.stream == stream)
    }

    /// Decodes a section whose inserts have all arrived and acknowledges it (§4.4.1),
    /// even when too large: the encoder's references are released either way.
    fn finish(
        &mut self,
        stream: u64,
        section: &Bytes,
        prefix: Prefix,
    ) -> Result<FieldSection, DecodeError> {
        let result = Lines {
            table: &self.table,
            section,
            pos: prefix.len,
            prefix,
            max_size: self.config.max_field_section_size,
            size: 0,
            referenced: 0,
        }
        .decode();
        if prefix.required > 0 && !matches!(result, Err(DecodeError::Failed(_))) {
            DecoderInstruction::SectionAck { stream }.encode(&mut self.out);
            self.known_received = self.known_received.max(prefix.required);
        }
        result
    }
}

fn encoder_error(reason: &'static str) -> ConnError {
    ConnError::new(ErrorCode::QPACK_ENCODER_STREAM_ERROR, reason)
}

fn failed(reason: &'static str) -> DecodeError {
    DecodeError::Failed(ConnError::new(
        ErrorCode::QPACK_DECOMPRESSION_FAILED,
        reason,
    ))
}

const TRUNCATED: &str = "qpack: truncated field section";

fn primitive(e: Error) -> DecodeError {
    failed(match e {
        Error::Incomplete => TRUNCATED,
        Error::Overflow => "qpack: integer too large",
    })
}

/// One pass over a section's field lines (§4.5.2 to §4.5.6).
struct Lines<'a> {
    table: &'a Table,
    section: &'a Bytes,
    pos: usize,
    prefix: Prefix,
    max_size: usize,
    /// The decoded size so far.
    size: usize,
    /// One more than the largest absolute index referenced.
    referenced: u64,
}

impl Lines<'_> {
    fn decode(mut self) -> Result<FieldSection, DecodeError> {
        let mut fields = Vec::new();
        while let Some(&first) = self.section.get(self.pos) {
            let (name, value) = if first & 0x80 != 0 {
                // Indexed field line.
                let index = self.int(6)?;
                let (name, value) = if first & 0x40 != 0 {
                    self.static_entry(index)?
                } else {
                    self.relative(index)?
                };
                self.count(name.len() + value.len())?;
                (name, value)
            } else if first & 0x40 != 0 {
                // Literal field line with name reference.
                let index = self.int(4)?;
                let name = if first & 0x10 != 0 {
                    self.static_entry(index)?.0
                } else {
                    self.relative(index)?.0
                };
                let value = self.string(8, name.len())?;
                (name, value)
            } else if first & 0x20 != 0 {
                // Literal field line with literal name.
                let name = self.string(4, 0)?;
                let value = self.string(8, name.len())?;
                (name, value)
            } else if first & 0x10 != 0 {
                // Indexed field line with post-Base index.
                let index = self.int(4)?;
                let (name, value) = self.post_base(index)?;
                self.count(name.len() + value.len())?;
                (name, value)
            } else {
                // Literal field line with post-Base name reference.
                let index = self.int(3)?;
                let name = self.post_base(index)?.0;
                let value = self.string(8, name.len())?;
                (name, value)
            };
            fields.push((name, value));
        }
        // §2.2.1: a Required Insert Count above what the section uses would block
        // streams for nothing.
        if self.referenced != self.prefix.required {
            return Err(failed("qpack: Required Insert Count larger than needed"));
        }
        Ok(FieldSection {
            fields,
            size: self.size,
        })
    }

    fn int(&mut self, prefix: u8) -> Result<u64, DecodeError> {
        let (n, len) = decode_int(&self.section[self.pos..], prefix).map_err(primitive)?;
        self.pos += len;
        Ok(n)
    }

    /// Adds a field of `len` name and value bytes to the decoded size.
    fn count(&mut self, len: usize) -> Result<(), DecodeError> {
        self.size = self.size.saturating_add(len + FIELD_OVERHEAD);
        if self.size > self.max_size {
            return Err(DecodeError::TooLarge);
        }
        Ok(())
    }

    /// Reads a string literal with an `n`-bit prefix. `other` is the length of the
    /// field's part already read; a value counts the field into the decoded size, and a
    /// string that would pass the limit is refused before it is decoded.
    fn string(&mut self, n: u8, other: usize) -> Result<Bytes, DecodeError> {
        let (huffman, len, head) =
            decode_str_head(&self.section[self.pos..], n).map_err(primitive)?;
        let start = self.pos + head;
        let end = usize::try_from(len)
            .ok()
            .and_then(|len| start.checked_add(len))
            .filter(|&end| end <= self.section.len())
            .ok_or(failed(TRUNCATED))?;
        let least = if huffman { huffman_min_len(len) } else { len };
        let room = self.max_size.saturating_sub(
            self.size
                .saturating_add(other)
                .saturating_add(FIELD_OVERHEAD),
        );
        if least > room as u64 {
            return Err(DecodeError::TooLarge);
        }
        let s = if huffman {
            decode_huffman(&self.section[start..end])
                .map_err(|_| failed("qpack: invalid Huffman string"))?
        } else {
            self.section.slice(start..end)
        };
        self.pos = end;
        if n == 8 {
            self.count(other + s.len())?;
        } else if s.len() > room {
            return Err(DecodeError::TooLarge);
        }
        Ok(s)
    }

    fn static_entry(&self, index: u64) -> Result<(Bytes, Bytes), DecodeError> {
        let (name, value) =
            static_table::get(index).ok_or(failed("qpack: static index out of range"))?;
        Ok((Bytes::from_static(name), Bytes::from_static(value)))
    }

    /// A dynamic entry by its index relative to the Base.
    fn relative(&mut self, index: u64) -> Result<(Bytes, Bytes), DecodeError> {
        let abs = self
            .prefix
            .base
            .checked_sub(index)
            .and_then(|n| n.checked_sub(1))
            .ok_or(failed("qpack: relative index before the Base"))?;
        self.dynamic(abs)
    }

    fn post_base(&mut self, index: u64) -> Result<(Bytes, Bytes), DecodeError> {
        let abs = self
            .prefix
            .base
            .checked_add(index)
            .ok_or(failed("qpack: post-Base index too large"))?;
        self.dynamic(abs)
    }

    fn dynamic(&mut self, abs: u64) -> Result<(Bytes, Bytes), DecodeError> {
        if abs >= self.prefix.required {
            return Err(failed("qpack: reference past the Required Insert Count"));
        }
        let entry = self
            .table
            .get(abs)
            .ok_or(failed("qpack: reference to an evicted entry"))?;
        self.referenced = self.referenced.max(abs + 1);
        Ok((entry.name.clone(), entry.value.clone()))
    }
}

#[cfg(test)]
mod tests;

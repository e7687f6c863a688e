//! Pebble sstable blocks: handles, trailers, checksums, compression and the row-block
//! entry encoding (docs/format.md §1.6; pebble `sstable/table.go`, `sstable/block`,
//! `sstable/rowblk`).
//!
//! A block on disk is `data ‖ type(1) ‖ checksum(4, LE)`; the checksum covers the data
//! and the type byte, and the type byte names the compression. A decompressed row
//! block is a run of entries `shared ‖ unshared ‖ value_len ‖ key delta ‖ value`
//! (varints) followed by the restart offsets (LE u32 each) and their count.

use std::io::{Read, Seek, SeekFrom};
use std::sync::Arc;

use super::shared::{CHUNK, Stream};

use super::super::{ContainerError, ContainerErrorKind, MAX_ENCODED_KEY, MAX_ENCODED_VALUE};

/// Size of the trailer after every block.
pub const TRAILER_LEN: u64 = 5;
/// Largest decompressed block accepted: one entry of the largest key and value the
/// store allows, with room for the block's own framing.
pub const MAX_BLOCK: u64 = MAX_ENCODED_KEY + MAX_ENCODED_VALUE + (1 << 20);

/// Where a block is, relative to the start of its table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Handle {
    /// Offset in the table.
    pub offset: u64,
    /// Length of the block without its trailer.
    pub length: u64,
}

/// The checksum the footer names for every block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checksum {
    /// No checksum.
    None,
    /// Masked CRC32C (LevelDB style).
    Crc32c,
    /// Low 32 bits of XXH64 (seed 0).
    XxHash64,
}

impl Checksum {
    /// The footer's checksum-type byte.
    pub fn from_byte(byte: u8) -> Option<Self> {
        match byte {
            0 => Some(Checksum::None),
            1 => Some(Checksum::Crc32c),
            3 => Some(Checksum::XxHash64),
            _ => None,
        }
    }

    /// The name pebble gives it.
    pub fn name(self) -> &'static str {
        match self {
            Checksum::None => "none",
            Checksum::Crc32c => "crc32c",
            Checksum::XxHash64 => "xxhash64",
        }
    }

    /// The value stored for `data_and_type` (block data followed by its type byte).
    fn compute(self, data_and_type: &[u8]) -> Option<u32> {
        match self {
            Checksum::None => None,
            Checksum::Crc32c => {
                let crc = crc32c::crc32c(data_and_type);
                Some(crc.rotate_right(15).wrapping_add(0xa282_ead8))
            }
            Checksum::XxHash64 => Some(xxhash_rust::xxh64::xxh64(data_and_type, 0) as u32),
        }
    }
}

/// The block compressions a reader meets: pebble writes Snappy by default, zstd when
/// configured, nothing when the store is encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Stored as is.
    None,
    /// Snappy raw block.
    Snappy,
    /// Uvarint decompressed length, then a zstd frame.
    Zstd,
}

impl Compression {
    fn from_byte(byte: u8) -> Option<Self> {
        match byte {
            0 => Some(Compression::None),
            1 => Some(Compression::Snappy),
            7 => Some(Compression::Zstd),
            _ => None,
        }
    }

    /// Index for per-compression counters.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Names of pebble's compression type bytes, for messages.
fn compression_name(byte: u8) -> &'static str {
    match byte {
        0 => "none",
        1 => "snappy",
        2 => "zlib",
        3 => "bzip2",
        4 => "lz4",
        5 => "lz4hc",
        6 => "xpress",
        7 => "zstd",
        8 => "minlz",
        _ => "unknown",
    }
}

/// Decodes a uvarint at `*pos`, advancing it. `None` when truncated or over 64 bits.
pub fn uvarint(bytes: &[u8], pos: &mut usize) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *bytes.get(*pos)?;
        *pos += 1;
        let bits = u64::from(byte & 0x7f);
        if shift == 63 && bits > 1 {
            return None;
        }
        value |= bits << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

/// One length field of a row-block entry (a uvarint of at most 32 bits), with the
/// one-byte form, which nearly every field takes, decoded inline.
#[inline]
fn entry_len(entries: &[u8], pos: &mut usize) -> Option<usize> {
    match entries.get(*pos) {
        Some(&byte) if byte < 0x80 => {
            *pos += 1;
            Some(usize::from(byte))
        }
        _ => uvarint(entries, pos)
            .filter(|v| *v <= u64::from(u32::MAX))
            .map(|v| v as usize),
    }
}

/// Decodes a block handle (two uvarints; pebble may append block properties, which
/// are ignored).
pub fn decode_handle(bytes: &[u8]) -> Option<Handle> {
    let mut pos = 0;
    let offset = uvarint(bytes, &mut pos)?;
    let length = uvarint(bytes, &mut pos)?;
    Some(Handle { offset, length })
}

/// How much of a table one read brings in.
pub const WINDOW: u64 = 1 << 20;

/// A stretch of the snapshot file read ahead, so that consecutive blocks cost one
/// read (or none: a chunk of the file shared with the content check, [`Stream`]).
#[derive(Debug, Default)]
pub struct Window {
    /// File offset of `bytes[0]`.
    start: u64,
    bytes: Arc<Vec<u8>>,
}

impl Window {
    fn holds(&self, offset: u64, len: u64) -> bool {
        let end = self.start + self.bytes.len() as u64;
        offset >= self.start && offset.checked_add(len).is_some_and(|e| e <= end)
    }

    /// Where `offset..offset + len` of the table is in `bytes`, if it holds all of it.
    fn range(&self, offset: u64, len: u64) -> Option<std::ops::Range<usize>> {
        if !self.holds(offset, len) {
            return None;
        }
        let from = usize::try_from(offset - self.start).ok()?;
        Some(from..from + usize::try_from(len).ok()?)
    }

    /// The bytes read ahead.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// Reads blocks of one table out of the snapshot file.
pub struct BlockSource<'a, R> {
    /// The snapshot file.
    pub input: &'a mut R,
    /// Where the table starts in the snapshot file.
    pub base: u64,
    /// The table's size.
    pub size: u64,
    /// The checksum its footer names.
    pub checksum: Checksum,
    /// The table's name, for messages.
    pub name: &'a str,
    /// Read-ahead of this table, kept by the caller between blocks.
    pub window: &'a mut Window,
    /// The file shared with the content check, when it reads beside the rows.
    pub stream: Option<&'a Stream>,
}

/// Where [`BlockSource::read_block_in_place`] left a block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// Stored as is: this range of the window.
    Window(std::ops::Range<usize>),
    /// Decompressed: the first this many bytes of `out`.
    Out(usize),
}

/// What reading a block learned, for inspect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockRead {
    /// Its compression.
    pub compression: Compression,
}

impl<R: Read + Seek> BlockSource<'_, R> {
    /// A corruption of this table at `offset` (relative to the table).
    pub fn corrupt(&self, offset: u64, message: impl Into<String>) -> ContainerError {
        ContainerError::new(
            ContainerErrorKind::SstCorrupt,
            self.base + offset,
            format!("sstable {}: {}", self.name, message.into()),
        )
    }

    fn unsupported(&self, offset: u64, message: impl Into<String>) -> ContainerError {
        ContainerError::new(
            ContainerErrorKind::SstUnsupported,
            self.base + offset,
            format!("sstable {}: {}", self.name, message.into()),
        )
    }

    /// Reads `len` bytes at `offset` of the table into `dst`, after checking that
    /// they lie inside it.
    ///
    /// # Errors
    /// Out of the table, short or failed reads.
    pub fn read_at(
        &mut self,
        offset: u64,
        len: u64,
        dst: &mut Vec<u8>,
    ) -> Result<(), ContainerError> {
        let range = self.fetch(offset, len)?;
        dst.clear();
        dst.extend_from_slice(&self.window.bytes[range]);
        Ok(())
    }

    /// Makes the window hold `len` bytes at `offset` of the table, after checking
    /// that they lie inside it; where they are in the window.
    fn fetch(&mut self, offset: u64, len: u64) -> Result<std::ops::Range<usize>, ContainerError> {
        let end = offset.checked_add(len).filter(|end| *end <= self.size);
        if end.is_none() {
            return Err(self.corrupt(
                offset,
                format!(
                    "{len} bytes at offset {offset} run past the table's {} bytes",
                    self.size
                ),
            ));
        }
        let at = self.base + offset;
        if !self.window.holds(at, len) && !self.take_from_stream(at, len)? {
            self.refill(offset, len)?;
        }
        match self.window.range(at, len) {
            Some(range) => Ok(range),
            None => {
                let held = self.window.bytes.len() as u64;
                let got = held - at.saturating_sub(self.window.start).min(held);
                Err(self.corrupt(offset, format!("short read: {got} of {len} bytes")))
            }
        }
    }

    /// Makes the window hold `len` bytes at file offset `at` from the shared file:
    /// the chunk holding them becomes the window, or, for a block across chunks, its
    /// bytes are gathered (the window's tail, then the chunks'). `false` when the
    /// file is not shared.
    fn take_from_stream(&mut self, at: u64, len: u64) -> Result<bool, ContainerError> {
        let Some(stream) = self.stream else {
            return Ok(false);
        };
        let end = at + len;
        let window_end = self.window.start + self.window.bytes.len() as u64;
        // Across chunks: at most one block is copied, grown as the chunks come. A
        // block starting in the window takes its first bytes from there (asking for
        // that chunk again could read it again).
        let (mut gathered, mut pos) = if self.window.start <= at && at < window_end {
            let from = (at - self.window.start) as usize;
            (self.window.bytes[from..].to_vec(), window_end)
        } else {
            (Vec::new(), at)
        };
        // Let go of the last window first, so that its buffer can be reused.
        self.window.bytes = Arc::default();
        if gathered.is_empty() {
            let (start, chunk) = stream.chunk(at)?;
            let chunk_end = start + chunk.len() as u64;
            if end <= chunk_end || chunk.len() < CHUNK {
                // Inside one chunk, or the file ends in it (`fetch` reports the
                // short read).
                *self.window = Window {
                    start,
                    bytes: chunk,
                };
                return Ok(true);
            }
            gathered.extend_from_slice(&chunk[(at - start) as usize..]);
            pos = chunk_end;
        }
        // Each chunk is let go before the next is asked for, so that its buffer can
        // be reused once the other side has passed it.
        while pos < end {
            let (start, chunk) = stream.chunk(pos)?;
            let from = (pos - start) as usize;
            let upto = usize::try_from(end - start).map_or(chunk.len(), |e| e.min(chunk.len()));
            if from >= upto {
                break;
            }
            gathered.extend_from_slice(&chunk[from..upto]);
            pos = start + upto as u64;
        }
        *self.window = Window {
            start: at,
            bytes: Arc::new(gathered),
        };
        Ok(true)
    }

    /// Reads the table from `offset` into the window: `len` bytes, or [`WINDOW`] when
    /// more, but never past the table. Blocks are read in file order, so one refill
    /// serves many of them with one system call instead of several per block.
    fn refill(&mut self, offset: u64, len: u64) -> Result<(), ContainerError> {
        let at = self.base + offset;
        let want = len.max(WINDOW).min(self.size - offset);
        let want = usize::try_from(want).unwrap_or(usize::MAX);
        // Never a chunk of a shared file (whose data blocks come from the stream,
        // and whose index windows are the table's own): the buffer is reused.
        let bytes = Arc::make_mut(&mut self.window.bytes);
        // Read straight into the window's own memory: it is zeroed once, when it
        // first grows, and `read_to_end` would read in small steps (8 KiB, 16 KiB,
        // …) and copy what it had read at every doubling.
        self.window.start = at;
        self.input
            .seek(SeekFrom::Start(at))
            .map_err(|e| ContainerError::io(at, e))?;
        if want as u64 > WINDOW {
            // A block larger than the window: its length comes from the input, so
            // memory grows only with what the file really holds.
            bytes.clear();
            return match (&mut self.input).take(want as u64).read_to_end(bytes) {
                Ok(_) => Ok(()),
                Err(e) => Err(ContainerError::io(at, e)),
            };
        }
        if bytes.len() < want {
            bytes.resize(want, 0);
        }
        bytes.truncate(want);
        let mut got = 0;
        while got < want {
            match self.input.read(&mut bytes[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    bytes.truncate(got);
                    return Err(ContainerError::io(at, e));
                }
            }
        }
        // A file shorter than its manifest says: `fetch` reports the short read.
        bytes.truncate(got);
        Ok(())
    }

    /// Reads the block at `handle`, checks its checksum and leaves it decompressed in
    /// `out`.
    ///
    /// # Errors
    /// Typed container errors: out of the table, checksum, compression.
    pub fn read_block(
        &mut self,
        handle: Handle,
        out: &mut Vec<u8>,
    ) -> Result<BlockRead, ContainerError> {
        let (read, place) = self.read_block_in_place(handle, out)?;
        match place {
            Place::Window(range) => {
                out.clear();
                out.extend_from_slice(&self.window.bytes[range]);
            }
            Place::Out(len) => out.truncate(len),
        }
        Ok(read)
    }

    /// [`BlockSource::read_block`] without copying a block stored uncompressed: then
    /// `out` is left alone and the block is `window.bytes()[range]` for the returned
    /// range, valid until the window is next refilled. Compressed blocks are
    /// decompressed straight out of the window into `out[..len]`; nothing else is
    /// copied between the read and the rows, and `out` is not cleared first (what
    /// lies past `len` is a previous block's, never read as this one's).
    ///
    /// # Errors
    /// As [`BlockSource::read_block`].
    pub fn read_block_in_place(
        &mut self,
        handle: Handle,
        out: &mut Vec<u8>,
    ) -> Result<(BlockRead, Place), ContainerError> {
        if handle.length > MAX_BLOCK {
            return Err(self.corrupt(
                handle.offset,
                format!("block length {} > {MAX_BLOCK}", handle.length),
            ));
        }
        let at = self.fetch(handle.offset, handle.length + TRAILER_LEN)?;
        let raw = &self.window.bytes[at.clone()];
        let data_len = raw.len() - TRAILER_LEN as usize;
        let type_byte = raw[data_len];
        let stored = u32::from_le_bytes([
            raw[data_len + 1],
            raw[data_len + 2],
            raw[data_len + 3],
            raw[data_len + 4],
        ]);
        if let Some(computed) = self.checksum.compute(&raw[..=data_len])
            && computed != stored
        {
            return Err(ContainerError::new(
                ContainerErrorKind::SstChecksum,
                self.base + handle.offset,
                format!(
                    "sstable {}: block at {} ({} bytes): {} checksum {stored:#010x} does not match computed {computed:#010x}",
                    self.name,
                    handle.offset,
                    handle.length,
                    self.checksum.name()
                ),
            ));
        }
        let Some(compression) = Compression::from_byte(type_byte) else {
            return Err(self.unsupported(
                handle.offset,
                format!(
                    "block compression {} (type {type_byte}) is not supported (snappy, zstd, none are)",
                    compression_name(type_byte)
                ),
            ));
        };
        let read = BlockRead { compression };
        if compression == Compression::None {
            return Ok((read, Place::Window(at.start..at.start + data_len)));
        }
        let len = self.decompress(compression, &raw[..data_len], handle.offset, out)?;
        Ok((read, Place::Out(len)))
    }

    /// Decompresses `data` into `out[..len]`; `len`.
    fn decompress(
        &self,
        compression: Compression,
        data: &[u8],
        offset: u64,
        out: &mut Vec<u8>,
    ) -> Result<usize, ContainerError> {
        match compression {
            Compression::None => {
                out.clear();
                out.extend_from_slice(data);
            }
            Compression::Snappy => {
                let len = snap::raw::decompress_len(data)
                    .map_err(|e| self.corrupt(offset, format!("snappy block: {e}")))?;
                self.check_decompressed_len(len as u64, offset)?;
                // Grown (and zeroed) only past what an earlier block needed: zeroing
                // every block before overwriting it cost as much as a copy of it.
                if out.len() < len {
                    out.resize(len, 0);
                }
                return snap::raw::Decoder::new()
                    .decompress(data, &mut out[..len])
                    .map_err(|e| self.corrupt(offset, format!("snappy block: {e}")));
            }
            Compression::Zstd => {
                out.clear();
                let mut pos = 0;
                let len = uvarint(data, &mut pos)
                    .ok_or_else(|| self.corrupt(offset, "zstd block: bad length prefix"))?;
                self.check_decompressed_len(len, offset)?;
                // Bounded by the prefix checked above, whatever the frame claims.
                let mut decoder = zstd::stream::read::Decoder::new(&data[pos..])
                    .map_err(|e| self.corrupt(offset, format!("zstd block: {e}")))?;
                (&mut decoder)
                    .take(len + 1)
                    .read_to_end(out)
                    .map_err(|e| self.corrupt(offset, format!("zstd block: {e}")))?;
                if out.len() as u64 != len {
                    return Err(self.corrupt(
                        offset,
                        format!("zstd block: {} bytes, prefix says {len}", out.len()),
                    ));
                }
            }
        }
        Ok(out.len())
    }

    fn check_decompressed_len(&self, len: u64, offset: u64) -> Result<(), ContainerError> {
        if len > MAX_BLOCK {
            return Err(self.corrupt(
                offset,
                format!("decompressed block length {len} > {MAX_BLOCK}"),
            ));
        }
        Ok(())
    }
}

/// Whether the user key of the internal key `previous[..shared] ‖ suffix` sorts
/// strictly after the user key of `previous` (user key: all but the
/// [`INTERNAL_TRAILER`]). The first `shared` bytes are equal by construction, so only
/// what follows them is compared. Keys too short for a trailer count as ascending:
/// the row check refuses them.
pub fn user_key_ascends(previous: &[u8], shared: usize, suffix: &[u8]) -> bool {
    let (Some(old), Some(new)) = (
        previous.len().checked_sub(INTERNAL_TRAILER),
        (shared + suffix.len()).checked_sub(INTERNAL_TRAILER),
    ) else {
        return true;
    };
    if shared <= old.min(new) {
        // Equal up to `shared`; the rest of the new user key is in `suffix`. Pebble
        // shares the longest common prefix, so the first byte nearly always decides.
        let (new, old) = (&suffix[..new - shared], &previous[shared..old]);
        match (new.first(), old.first()) {
            (Some(a), Some(b)) if a != b => a > b,
            _ => new > old,
        }
    } else {
        // The shared bytes cover one user key entirely: the new one is after the old
        // one only when it extends it.
        shared > old && new > old
    }
}

/// Length of the trailer (sequence number and kind) that ends a pebble internal key;
/// rows are ordered by the user key before it.
pub const INTERNAL_TRAILER: usize = 8;

/// Walks the entries of a decompressed row block, rebuilding prefix-compressed keys.
///
/// It also tells whether each user key sorts after the previous one, from the shared
/// prefix the block already encodes: only the bytes after it are compared, and the
/// previous key is never copied, so checking the order costs a few byte comparisons
/// per row instead of a whole-key comparison and copy.
#[derive(Debug, Default)]
pub struct RowIter {
    pos: usize,
    /// Where the restart array begins (the end of the entries).
    end: usize,
    /// The current key.
    pub key: Vec<u8>,
    value: (usize, usize),
    /// How many bytes of `key` the next entry may share: none at a block's start.
    shareable: usize,
    /// Whether the current entry's user key sorts after the previous entry's, when
    /// there was one (this block's, or the previous block's under
    /// [`RowIter::reset_keeping_key`]).
    ascends: Option<bool>,
    /// The previous key, kept only when an entry did not sort after it (for messages).
    disordered_previous: Vec<u8>,
    /// The last 8 bytes of the current key (0 when shorter), read where the entry
    /// stores them: loading them back from `key` just after it was written stalls.
    trailer: u64,
}

impl RowIter {
    /// Positions before the first entry of `block`, after checking its restart array.
    /// The error text is for the caller to place.
    pub fn new(block: &[u8]) -> Result<Self, String> {
        let mut iter = RowIter::default();
        iter.reset(block)?;
        Ok(iter)
    }

    /// [`RowIter::new`] reusing this iterator's key buffer.
    pub fn reset(&mut self, block: &[u8]) -> Result<(), String> {
        let count_at = block
            .len()
            .checked_sub(4)
            .ok_or_else(|| format!("block of {} bytes has no restart count", block.len()))?;
        let count = u32::from_le_bytes([
            block[count_at],
            block[count_at + 1],
            block[count_at + 2],
            block[count_at + 3],
        ]) as usize;
        if count == 0 {
            return Err("block has no restart points".to_owned());
        }
        let end = count
            .checked_mul(4)
            .and_then(|bytes| count_at.checked_sub(bytes))
            .ok_or_else(|| format!("{count} restart points do not fit in {} bytes", block.len()))?;
        for i in 0..count {
            let at = end + 4 * i;
            let restart =
                u32::from_le_bytes([block[at], block[at + 1], block[at + 2], block[at + 3]]);
            // Pebblev3+ uses the top bit as a flag.
            if (restart & 0x7fff_ffff) as usize > end {
                return Err(format!(
                    "restart point {i} at {restart} is past the entries"
                ));
            }
        }
        self.pos = 0;
        self.end = end;
        self.key.clear();
        self.shareable = 0;
        Ok(())
    }

    /// [`RowIter::reset`], but the current key stays the one the next entry is
    /// ordered against (the next block's first entry still shares nothing with it):
    /// consecutive data blocks of a table then need no copy of the boundary key.
    pub fn reset_keeping_key(&mut self, block: &[u8]) -> Result<(), String> {
        let key = std::mem::take(&mut self.key);
        let reset = self.reset(block);
        self.key = key;
        reset
    }

    /// Advances to the next entry; `false` after the last. The value is then
    /// `&block[range]` for [`RowIter::value_range`].
    #[inline]
    pub fn advance(&mut self, block: &[u8]) -> Result<bool, String> {
        if self.pos >= self.end {
            return Ok(false);
        }
        let entries = &block[..self.end];
        let mut pos = self.pos;
        let bad = |what: &str| format!("entry at {}: bad {what} length", self.pos);
        let shared = entry_len(entries, &mut pos).ok_or_else(|| bad("shared key"))?;
        let unshared = entry_len(entries, &mut pos).ok_or_else(|| bad("key"))?;
        let value_len = entry_len(entries, &mut pos).ok_or_else(|| bad("value"))?;
        if shared > self.shareable {
            return Err(format!(
                "entry at {}: shares {shared} bytes of a {}-byte previous key",
                self.pos, self.shareable
            ));
        }
        let key_end = pos
            .checked_add(unshared)
            .filter(|e| *e <= entries.len())
            .ok_or_else(|| format!("entry at {}: key runs past the entries", self.pos))?;
        let value_end = key_end
            .checked_add(value_len)
            .filter(|e| *e <= entries.len())
            .ok_or_else(|| format!("entry at {}: value runs past the entries", self.pos))?;
        let suffix = &entries[pos..key_end];
        // An empty key is no previous entry: a fresh iterator, or a block start after
        // `reset` (data rows are never empty: they end in a trailer).
        self.ascends = (!self.key.is_empty()).then(|| {
            let ascends = user_key_ascends(&self.key, shared, suffix);
            if !ascends {
                self.disordered_previous.clone_from(&self.key);
            }
            ascends
        });
        self.key.truncate(shared);
        self.key.extend_from_slice(suffix);
        self.trailer = suffix
            .last_chunk::<INTERNAL_TRAILER>()
            .or_else(|| self.key.last_chunk::<INTERNAL_TRAILER>())
            .map_or(0, |t| u64::from_le_bytes(*t));
        self.shareable = self.key.len();
        self.value = (key_end, value_end);
        self.pos = value_end;
        Ok(true)
    }

    /// Whether the current entry's user key sorts strictly after the previous entry's;
    /// `None` when there was no previous key (a fresh iterator, or after `reset`).
    pub fn ascends(&self) -> Option<bool> {
        self.ascends
    }

    /// The previous key when [`RowIter::ascends`] said `Some(false)`.
    pub fn disordered_previous(&self) -> &[u8] {
        &self.disordered_previous
    }

    /// The last 8 bytes of the current key, little-endian (a pebble internal key's
    /// trailer); 0 when the key is shorter.
    pub fn trailer(&self) -> u64 {
        self.trailer
    }

    /// Where the current entry's value is in the block.
    pub fn value_range(&self) -> std::ops::Range<usize> {
        self.value.0..self.value.1
    }

    /// Offset of the next entry in the block.
    pub fn position(&self) -> usize {
        self.pos
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A row block from `(key, value)` pairs with the given restart interval.
    pub(crate) fn row_block(entries: &[(&[u8], &[u8])], interval: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut restarts = Vec::new();
        let mut prev: &[u8] = b"";
        for (i, (key, value)) in entries.iter().enumerate() {
            let shared = if i % interval == 0 {
                restarts.push(out.len() as u32);
                0
            } else {
                prev.iter()
                    .zip(key.iter())
                    .take_while(|(a, b)| a == b)
                    .count()
            };
            for n in [shared, key.len() - shared, value.len()] {
                put_uvarint(&mut out, n as u64);
            }
            out.extend_from_slice(&key[shared..]);
            out.extend_from_slice(value);
            prev = key;
        }
        if restarts.is_empty() {
            restarts.push(0);
        }
        for r in &restarts {
            out.extend_from_slice(&r.to_le_bytes());
        }
        out.extend_from_slice(&(restarts.len() as u32).to_le_bytes());
        out
    }

    pub(crate) fn put_uvarint(out: &mut Vec<u8>, mut v: u64) {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }

    #[test]
    fn prefix_compressed_keys_are_rebuilt() {
        let entries: [(&[u8], &[u8]); 4] = [
            (b"tweedledee", b"1"),
            (b"tweedledum", b"socks"),
            (b"two", b""),
            (b"twoa", b"x"),
        ];
        for interval in [1, 2, 16] {
            let block = row_block(&entries, interval);
            let mut iter = RowIter::new(&block).unwrap();
            let mut got = Vec::new();
            while iter.advance(&block).unwrap() {
                got.push((
                    iter.key.clone(),
                    block[iter.value_range()].to_vec(),
                    iter.trailer(),
                ));
            }
            // The trailer comes from the key's last 8 bytes wherever they are stored:
            // in the entry ("tweedledee", at a restart), partly shared ("tweedledum"
            // stores only "um"), or nowhere ("two" is shorter).
            let want: Vec<_> = entries
                .iter()
                .map(|(k, v)| {
                    let trailer = k.last_chunk::<8>().map_or(0, |t| u64::from_le_bytes(*t));
                    (k.to_vec(), v.to_vec(), trailer)
                })
                .collect();
            assert_eq!(got, want, "interval {interval}");
        }
    }

    /// Every user key over {a, b} up to 3 bytes, with two different trailers.
    fn small_internal_keys() -> Vec<Vec<u8>> {
        let mut users: Vec<Vec<u8>> = vec![Vec::new()];
        for len in 1..=3 {
            for bits in 0..(1u32 << len) {
                users.push(
                    (0..len)
                        .map(|i| if bits >> i & 1 == 1 { b'b' } else { b'a' })
                        .collect(),
                );
            }
        }
        let mut keys = Vec::new();
        for user in users {
            for trailer in [[0u8; INTERNAL_TRAILER], [0xff; INTERNAL_TRAILER]] {
                let mut key = user.clone();
                key.extend_from_slice(&trailer);
                keys.push(key);
            }
        }
        keys
    }

    #[test]
    fn order_from_the_shared_prefix_matches_comparing_user_keys() {
        let keys = small_internal_keys();
        for previous in &keys {
            for key in &keys {
                let common = previous
                    .iter()
                    .zip(key.iter())
                    .take_while(|(a, b)| a == b)
                    .count();
                let want = key[..key.len() - INTERNAL_TRAILER]
                    > previous[..previous.len() - INTERNAL_TRAILER];
                // Any shared length up to the common prefix is a valid encoding.
                for shared in 0..=common {
                    assert_eq!(
                        user_key_ascends(previous, shared, &key[shared..]),
                        want,
                        "{previous:?} then {key:?}, sharing {shared}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_iterator_orders_rows_across_blocks_only_when_asked() {
        let first = row_block(&[(b"b\0\0\0\0\0\0\0\x01", b"")], 16);
        let second = row_block(&[(b"a\0\0\0\0\0\0\0\x01", b"")], 16);
        let mut iter = RowIter::new(&first).unwrap();
        assert!(iter.advance(&first).unwrap());
        assert_eq!(iter.ascends(), None);
        iter.reset_keeping_key(&second).unwrap();
        assert!(iter.advance(&second).unwrap());
        assert_eq!(iter.ascends(), Some(false));
        assert_eq!(iter.disordered_previous(), b"b\0\0\0\0\0\0\0\x01");
        iter.reset(&first).unwrap();
        assert!(iter.advance(&first).unwrap());
        assert_eq!(iter.ascends(), None);
        // A block's first entry shares nothing with the previous block's key.
        let mut block = vec![1, 8, 0];
        block.extend_from_slice(b"\0\0\0\0\0\0\0\x02");
        block.extend_from_slice(&0u32.to_le_bytes());
        block.extend_from_slice(&1u32.to_le_bytes());
        iter.reset_keeping_key(&block).unwrap();
        assert!(iter.advance(&block).unwrap_err().contains("shares 1 bytes"));
    }

    #[test]
    fn broken_blocks_are_refused() {
        assert!(RowIter::new(b"abc").is_err());
        assert!(RowIter::new(&0u32.to_le_bytes()).is_err());
        assert!(RowIter::new(&[0, 0, 0, 0, 9, 0, 0, 0]).is_err());
        // An entry sharing more than the previous key holds.
        let mut block = vec![3, 1, 0, b'a'];
        block.extend_from_slice(&0u32.to_le_bytes());
        block.extend_from_slice(&1u32.to_le_bytes());
        let mut iter = RowIter::new(&block).unwrap();
        assert!(iter.advance(&block).unwrap_err().contains("shares 3 bytes"));
        // A value longer than the block.
        let mut block = vec![0, 1, 9, b'a'];
        block.extend_from_slice(&0u32.to_le_bytes());
        block.extend_from_slice(&1u32.to_le_bytes());
        let mut iter = RowIter::new(&block).unwrap();
        assert!(
            iter.advance(&block)
                .unwrap_err()
                .contains("value runs past")
        );
    }

    #[test]
    fn uvarints_and_handles_decode() {
        let mut buf = Vec::new();
        put_uvarint(&mut buf, 300);
        put_uvarint(&mut buf, u64::MAX);
        let mut pos = 0;
        assert_eq!(uvarint(&buf, &mut pos), Some(300));
        assert_eq!(uvarint(&buf, &mut pos), Some(u64::MAX));
        assert_eq!(uvarint(&[0x80], &mut 0), None);
        assert_eq!(uvarint(&[0xff; 11], &mut 0), None);
        assert_eq!(
            decode_handle(&[0x05, 0x07, 0xaa]),
            Some(Handle {
                offset: 5,
                length: 7
            })
        );
    }

    #[test]
    fn masked_crc32c_matches_leveldb() {
        // LevelDB's crc32c mask of the CRC of "a" ‖ type 0.
        let crc = crc32c::crc32c(b"a\0");
        assert_eq!(
            Checksum::Crc32c.compute(b"a\0"),
            Some(crc.rotate_right(15).wrapping_add(0xa282_ead8))
        );
        assert_eq!(Checksum::None.compute(b"a"), None);
    }
}

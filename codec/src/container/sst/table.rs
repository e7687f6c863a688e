//! One Pebble sstable, read in key order with one block of each level in memory
//! (docs/format.md §1.6; pebble `sstable/table.go` is the specification).
//!
//! Opening reads the footer, the metaindex and the properties; the top-level index is
//! then kept, and data blocks (through index partitions for a two-level index) are
//! read one after the other.

use std::io::{Read, Seek};

use super::super::{ContainerError, ContainerErrorKind};
use super::block::{
    BlockSource, Checksum, Handle, INTERNAL_TRAILER, Place, RowIter, Window, decode_handle, uvarint,
};
use super::shared::Stream;

/// Pebble's footer magic.
pub const PEBBLE_MAGIC: [u8; 8] = [0xf0, 0x9f, 0xaa, 0xb3, 0xf0, 0x9f, 0xaa, 0xb3];
const ROCKSDB_MAGIC: [u8; 8] = [0xf7, 0xcf, 0xf4, 0x85, 0xb7, 0x41, 0xe2, 0x88];
const LEVELDB_MAGIC: [u8; 8] = [0x57, 0xfb, 0x80, 0x8b, 0x24, 0x75, 0x47, 0xdb];
/// Footer size of table formats Pebblev1..=v5.
const FOOTER_LEN: u64 = 1 + 2 * 10 * 2 + 4 + 8;
/// Row-block formats this reader handles (Pebblev5 and later use columnar blocks).
const ROW_FORMATS: std::ops::RangeInclusive<u32> = 1..=4;
/// From Pebblev3 on, SET values carry a one-byte value prefix.
const VALUE_PREFIX_FROM: u32 = 3;
/// `rocksdb.block.based.table.index.type` of a two-level index.
const TWO_LEVEL_INDEX: u32 = 2;

/// Internal key kinds (pebble `internal/base`).
const KIND_SET: u8 = 1;
/// Pebblev4 may set this bit on a kind to mark the row obsolete within the table.
const KIND_OBSOLETE_BIT: u8 = 64;

/// The table-level facts `inspect` shows.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TableFacts {
    /// The table's name in the manifest.
    pub name: String,
    /// Its size.
    pub size: u64,
    /// Pebble table format version (`Pebblev<N>`).
    pub format_version: u32,
    /// Block checksum name.
    pub checksum: &'static str,
    /// Whether the index has two levels.
    pub two_level_index: bool,
    /// Index partitions read (two-level only).
    pub index_partitions: u64,
    /// Data blocks read.
    pub data_blocks: u64,
    /// Data blocks by compression: none, snappy, zstd.
    pub compressed: [u64; 3],
    /// Rows read.
    pub rows: u64,
    /// `rocksdb.num.entries`.
    pub prop_entries: u64,
    /// `rocksdb.comparator`.
    pub comparator: String,
    /// `rocksdb.compression`.
    pub compression: String,
}

/// What the properties block says that matters here.
#[derive(Debug, Default)]
struct Props {
    index_type: u32,
    num_entries: u64,
    range_deletions: u64,
    range_key_sets: u64,
    range_key_unsets: u64,
    range_key_dels: u64,
    values_in_value_blocks: u64,
    comparator: String,
    compression: String,
}

/// A table being read.
pub struct Table {
    /// Facts so far.
    pub facts: TableFacts,
    base: u64,
    checksum: Checksum,
    value_prefix: bool,
    top: Vec<u8>,
    top_iter: RowIter,
    two_level: bool,
    partition: Vec<u8>,
    partition_iter: Option<RowIter>,
    /// The current data block when it was compressed (decompressed here).
    data: Vec<u8>,
    /// Where the current data block is: in `window` when it was stored as is, at
    /// the start of `data` when it was decompressed.
    data_place: Place,
    /// The rows of the current data block; its key carries over from one block to
    /// the next, so the order of rows is checked across blocks without a copy.
    data_iter: RowIter,
    /// Whether `data_iter` is on a data block that may still hold rows.
    data_live: bool,
    data_offset: u64,
    /// Read-ahead of the data blocks.
    window: Window,
    /// Read-ahead of the index partitions, which pebble writes after all data
    /// blocks: one window for both would re-read up to a window of data after
    /// every partition.
    index_window: Window,
    /// The current row: user key length (in the iterator's key) and value range
    /// (value prefix removed), once [`Table::next_row`] has accepted it.
    row_key_len: usize,
    row_value: std::ops::Range<usize>,
}

/// One row of a table: the user key (pebble's), its value.
pub struct Row<'t> {
    /// Pebble user key: the store's raw key.
    pub key: &'t [u8],
    /// The value, value prefix removed.
    pub value: &'t [u8],
    /// Offset of the data block in the snapshot file.
    pub block_offset: u64,
}

impl Table {
    /// Opens the table `name` of `size` bytes at `base` of `input`.
    ///
    /// # Errors
    /// Typed container errors for anything that is not a Pebble row-block table.
    pub fn open<R: Read + Seek>(
        input: &mut R,
        base: u64,
        size: u64,
        name: &str,
    ) -> Result<Self, ContainerError> {
        let mut window = Window::default();
        let mut source = BlockSource {
            input,
            base,
            size,
            checksum: Checksum::None,
            name,
            window: &mut window,
            stream: None,
        };
        let footer = read_footer(&mut source)?;
        source.checksum = footer.checksum;
        let mut meta = Vec::new();
        source.read_block(footer.metaindex, &mut meta)?;
        let props = read_properties(&mut source, &meta)?;
        refuse_non_point_data(&source, &props)?;
        let mut top = Vec::new();
        source.read_block(footer.index, &mut top)?;
        let top_iter = RowIter::new(&top).map_err(|m| source.corrupt(footer.index.offset, m))?;
        let two_level = props.index_type == TWO_LEVEL_INDEX;
        Ok(Table {
            facts: TableFacts {
                name: name.to_owned(),
                size,
                format_version: footer.version,
                checksum: footer.checksum.name(),
                two_level_index: two_level,
                prop_entries: props.num_entries,
                comparator: props.comparator,
                compression: props.compression,
                ..TableFacts::default()
            },
            base,
            checksum: footer.checksum,
            value_prefix: footer.version >= VALUE_PREFIX_FROM,
            top,
            top_iter,
            two_level,
            partition: Vec::new(),
            partition_iter: None,
            data: Vec::new(),
            data_place: Place::Out(0),
            data_iter: RowIter::default(),
            data_live: false,
            data_offset: 0,
            // The footer, metaindex, properties and top-level index were read
            // through this window: the index partitions lie just before them.
            index_window: window,
            window: Window::default(),
            row_key_len: 0,
            row_value: 0..0,
        })
    }

    /// The current data block.
    #[inline]
    fn data_block(&self) -> &[u8] {
        placed(self.window.bytes(), &self.data, &self.data_place)
    }

    /// Moves to the next row (then [`Table::row`]); `false` after the last.
    ///
    /// # Errors
    /// Typed container errors: corrupt blocks, checksum mismatches, rows that are not
    /// SET (deletions, merges, range keys) or whose value lives outside the block.
    pub fn next_row<R: Read + Seek>(&mut self, input: &mut R) -> Result<bool, ContainerError> {
        self.next_row_streamed(input, None)
    }

    /// [`Table::next_row`], taking data blocks from the file shared with the content
    /// check (see [`Stream`]).
    ///
    /// # Errors
    /// As [`Table::next_row`].
    #[inline]
    pub fn next_row_streamed<R: Read + Seek>(
        &mut self,
        input: &mut R,
        stream: Option<&Stream>,
    ) -> Result<bool, ContainerError> {
        loop {
            if self.data_live {
                // Field by field, not `data_block`: the iterator is borrowed mutably.
                let block = placed(self.window.bytes(), &self.data, &self.data_place);
                match self.data_iter.advance(block) {
                    Ok(true) => break,
                    Ok(false) => self.data_live = false,
                    Err(m) => return Err(self.corrupt(self.data_offset, m)),
                }
            }
            let Some(handle) = self.next_data_handle(input)? else {
                return Ok(false);
            };
            self.load_data_block(input, handle, stream)?;
        }
        self.accept_row()?;
        self.facts.rows += 1;
        Ok(true)
    }

    /// Checks the row the iterator is on (a SET with its value in place) and notes
    /// where its user key and value are.
    #[inline]
    fn accept_row(&mut self) -> Result<(), ContainerError> {
        let ikey = &self.data_iter.key;
        let Some(split) = ikey.len().checked_sub(8) else {
            return Err(self.corrupt(
                self.data_offset,
                format!("internal key of {} bytes has no trailer", ikey.len()),
            ));
        };
        let trailer = self.data_iter.trailer();
        let kind = (trailer & 0xff) as u8 & !KIND_OBSOLETE_BIT;
        let user_key = &ikey[..split];
        if kind != KIND_SET {
            return Err(ContainerError::new(
                ContainerErrorKind::SstNonSetKey,
                self.base + self.data_offset,
                format!(
                    "sstable {}: row {} is a {} (kind {kind}), not a SET; a snapshot table holds only SET rows",
                    self.facts.name,
                    super::super::reader::quote_key(user_key),
                    kind_name(kind)
                ),
            ));
        }
        let mut value = self.data_iter.value_range();
        if self.value_prefix {
            let Some(&prefix) = self
                .data_block()
                .get(value.start)
                .filter(|_| !value.is_empty())
            else {
                return Err(self.corrupt(self.data_offset, "SET value lacks its value prefix"));
            };
            if prefix & 0xc0 != 0 {
                return Err(ContainerError::new(
                    ContainerErrorKind::SstUnsupported,
                    self.base + self.data_offset,
                    format!(
                        "sstable {}: the value of {} is stored in a {} (prefix {prefix:#04x}); snapshot tables keep values in place",
                        self.facts.name,
                        super::super::reader::quote_key(user_key),
                        if prefix & 0xc0 == 0x80 {
                            "value block"
                        } else {
                            "blob file"
                        }
                    ),
                ));
            }
            value.start += 1;
        }
        self.row_key_len = split;
        self.row_value = value;
        Ok(())
    }

    /// The row [`Table::next_row`] moved to.
    #[inline]
    pub fn row(&self) -> Row<'_> {
        Row {
            key: self.last_key(),
            value: self
                .data_block()
                .get(self.row_value.clone())
                .unwrap_or_default(),
            block_offset: self.base + self.data_offset,
        }
    }

    fn corrupt(&self, offset: u64, message: impl Into<String>) -> ContainerError {
        ContainerError::new(
            ContainerErrorKind::SstCorrupt,
            self.base + offset,
            format!("sstable {}: {}", self.facts.name, message.into()),
        )
    }

    fn source<'a, R>(
        &'a mut self,
        input: &'a mut R,
        index: bool,
        stream: Option<&'a Stream>,
    ) -> BlockSource<'a, R> {
        BlockSource {
            input,
            base: self.base,
            size: self.facts.size,
            checksum: self.checksum,
            name: &self.facts.name,
            window: if index {
                &mut self.index_window
            } else {
                &mut self.window
            },
            stream,
        }
    }

    /// The handle of the next data block, reading the next index partition first
    /// when the current one is exhausted.
    fn next_data_handle<R: Read + Seek>(
        &mut self,
        input: &mut R,
    ) -> Result<Option<Handle>, ContainerError> {
        if !self.two_level {
            return self.next_top_handle();
        }
        loop {
            if let Some(iter) = &mut self.partition_iter {
                let advanced = iter.advance(&self.partition).map_err(|m| {
                    ContainerError::new(ContainerErrorKind::SstCorrupt, self.base, m)
                })?;
                if advanced {
                    let value = &self.partition[iter.value_range()];
                    return decode_handle(value).map(Some).ok_or_else(|| {
                        self.corrupt(0, "bad data block handle in index partition")
                    });
                }
                self.partition_iter = None;
            }
            let Some(handle) = self.next_top_handle()? else {
                return Ok(None);
            };
            let mut partition = std::mem::take(&mut self.partition);
            let read = self
                .source(input, true, None)
                .read_block(handle, &mut partition);
            self.partition = partition;
            read?;
            let iter = RowIter::new(&self.partition).map_err(|m| self.corrupt(handle.offset, m))?;
            self.partition_iter = Some(iter);
            self.facts.index_partitions += 1;
        }
    }

    fn next_top_handle(&mut self) -> Result<Option<Handle>, ContainerError> {
        let advanced = self
            .top_iter
            .advance(&self.top)
            .map_err(|m| self.corrupt(0, format!("top-level index: {m}")))?;
        if !advanced {
            return Ok(None);
        }
        decode_handle(&self.top[self.top_iter.value_range()])
            .map(Some)
            .ok_or_else(|| self.corrupt(0, "bad block handle in the index"))
    }

    fn load_data_block<R: Read + Seek>(
        &mut self,
        input: &mut R,
        handle: Handle,
        stream: Option<&Stream>,
    ) -> Result<(), ContainerError> {
        let mut data = std::mem::take(&mut self.data);
        let read = self
            .source(input, false, stream)
            .read_block_in_place(handle, &mut data);
        self.data = data;
        let (read, place) = read?;
        self.data_place = place;
        self.facts.data_blocks += 1;
        self.facts.compressed[read.compression.index()] += 1;
        self.data_offset = handle.offset;
        let mut iter = std::mem::take(&mut self.data_iter);
        let reset = iter.reset_keeping_key(self.data_block());
        self.data_iter = iter;
        reset.map_err(|m| self.corrupt(handle.offset, m))?;
        self.data_live = true;
        Ok(())
    }

    /// Whether the current row's user key sorts after the previous row's of this
    /// table; `None` for the table's first row.
    #[inline]
    pub fn row_ascends(&self) -> Option<bool> {
        self.data_iter.ascends()
    }

    /// The previous row's user key, when [`Table::row_ascends`] said `Some(false)`.
    pub fn disordered_previous(&self) -> &[u8] {
        let key = self.data_iter.disordered_previous();
        key.get(..key.len().saturating_sub(INTERNAL_TRAILER))
            .unwrap_or_default()
    }

    /// The user key of the last row read (the table's last once it is exhausted).
    #[inline]
    pub fn last_key(&self) -> &[u8] {
        self.data_iter
            .key
            .get(..self.row_key_len)
            .unwrap_or_default()
    }
}

/// The bytes of a data block: in the read window, or decompressed out of it.
#[inline]
fn placed<'a>(window: &'a [u8], data: &'a [u8], place: &Place) -> &'a [u8] {
    match place {
        Place::Window(range) => window.get(range.clone()).unwrap_or_default(),
        Place::Out(len) => data.get(..*len).unwrap_or_default(),
    }
}

struct Footer {
    version: u32,
    checksum: Checksum,
    metaindex: Handle,
    index: Handle,
}

fn read_footer<R: Read + Seek>(source: &mut BlockSource<'_, R>) -> Result<Footer, ContainerError> {
    if source.size < FOOTER_LEN {
        return Err(source.corrupt(0, format!("{} bytes is too small for a table", source.size)));
    }
    let at = source.size - FOOTER_LEN;
    let mut buf = Vec::with_capacity(FOOTER_LEN as usize);
    source.read_at(at, FOOTER_LEN, &mut buf)?;
    let magic: [u8; 8] = buf[buf.len() - 8..].try_into().unwrap_or_default();
    let version = u32::from_le_bytes(
        buf[buf.len() - 12..buf.len() - 8]
            .try_into()
            .unwrap_or_default(),
    );
    let unsupported = |what: String| {
        ContainerError::new(
            ContainerErrorKind::SstUnsupported,
            source.base + at,
            format!("sstable {}: {what}", source.name),
        )
    };
    match magic {
        PEBBLE_MAGIC if ROW_FORMATS.contains(&version) => {}
        PEBBLE_MAGIC => {
            return Err(unsupported(format!(
                "table format Pebblev{version} is not supported (Pebblev1..Pebblev4, row blocks, are)"
            )));
        }
        ROCKSDB_MAGIC | LEVELDB_MAGIC => {
            return Err(unsupported(
                "RocksDB/LevelDB table formats are not supported".to_owned(),
            ));
        }
        _ => {
            return Err(source.corrupt(
                at,
                format!("footer magic {} is not Pebble's", hex::encode(magic)),
            ));
        }
    }
    let checksum = Checksum::from_byte(buf[0])
        .ok_or_else(|| unsupported(format!("block checksum type {} is not supported", buf[0])))?;
    let mut pos = 1;
    let mut handle = |what: &str| -> Result<Handle, ContainerError> {
        let offset = uvarint(&buf, &mut pos);
        let length = uvarint(&buf, &mut pos);
        match (offset, length) {
            (Some(offset), Some(length)) => Ok(Handle { offset, length }),
            _ => Err(source.corrupt(at, format!("bad {what} handle in the footer"))),
        }
    };
    let metaindex = handle("metaindex")?;
    let index = handle("index")?;
    Ok(Footer {
        version,
        checksum,
        metaindex,
        index,
    })
}

fn read_properties<R: Read + Seek>(
    source: &mut BlockSource<'_, R>,
    metaindex: &[u8],
) -> Result<Props, ContainerError> {
    let mut iter =
        RowIter::new(metaindex).map_err(|m| source.corrupt(0, format!("metaindex: {m}")))?;
    let mut properties = None;
    while iter
        .advance(metaindex)
        .map_err(|m| source.corrupt(0, format!("metaindex: {m}")))?
    {
        if iter.key == b"rocksdb.properties" {
            properties = decode_handle(&metaindex[iter.value_range()]);
        }
    }
    let Some(handle) = properties else {
        return Err(source.corrupt(0, "metaindex has no rocksdb.properties block"));
    };
    let mut block = Vec::new();
    source.read_block(handle, &mut block)?;
    let mut props = Props::default();
    let mut iter = RowIter::new(&block).map_err(|m| source.corrupt(handle.offset, m))?;
    while iter
        .advance(&block)
        .map_err(|m| source.corrupt(handle.offset, m))?
    {
        let value = &block[iter.value_range()];
        let number = || uvarint(value, &mut 0).unwrap_or(0);
        let text = || String::from_utf8_lossy(value).into_owned();
        match iter.key.as_slice() {
            b"rocksdb.block.based.table.index.type" => {
                props.index_type = value
                    .get(..4)
                    .and_then(|b| b.try_into().ok())
                    .map_or(0, u32::from_le_bytes);
            }
            b"rocksdb.num.entries" => props.num_entries = number(),
            b"rocksdb.num.range-deletions" => props.range_deletions = number(),
            b"pebble.num.range-key-sets" => props.range_key_sets = number(),
            b"pebble.num.range-key-unsets" => props.range_key_unsets = number(),
            b"pebble.num.range-key-dels" => props.range_key_dels = number(),
            b"pebble.num.values.in.value-blocks" => props.values_in_value_blocks = number(),
            b"rocksdb.comparator" => props.comparator = text(),
            b"rocksdb.compression" => props.compression = text(),
            _ => {}
        }
    }
    Ok(props)
}

/// Range deletions and range keys live in their own blocks; the store never writes
/// them into a snapshot, and if it did, the point rows alone would not be the state.
fn refuse_non_point_data<R: Read + Seek>(
    source: &BlockSource<'_, R>,
    props: &Props,
) -> Result<(), ContainerError> {
    let ranges = props.range_deletions
        + props.range_key_sets
        + props.range_key_unsets
        + props.range_key_dels;
    if ranges > 0 {
        return Err(ContainerError::new(
            ContainerErrorKind::SstNonSetKey,
            source.base,
            format!(
                "sstable {}: holds {} range deletion(s) and {} range key(s); a snapshot table holds only SET rows",
                source.name,
                props.range_deletions,
                ranges - props.range_deletions
            ),
        ));
    }
    if props.values_in_value_blocks > 0 {
        return Err(ContainerError::new(
            ContainerErrorKind::SstUnsupported,
            source.base,
            format!(
                "sstable {}: {} values are stored in value blocks, which this reader does not read",
                source.name, props.values_in_value_blocks
            ),
        ));
    }
    Ok(())
}

/// Pebble's name of an internal key kind.
fn kind_name(kind: u8) -> &'static str {
    match kind {
        0 => "DEL",
        1 => "SET",
        2 => "MERGE",
        3 => "LOGDATA",
        7 => "SINGLEDEL",
        15 => "RANGEDEL",
        17 => "SEPARATOR",
        18 => "SETWITHDEL",
        19 => "RANGEKEYDEL",
        20 => "RANGEKEYUNSET",
        21 => "RANGEKEYSET",
        22 => "INGESTSST",
        23 => "DELSIZED",
        24 => "EXCISE",
        _ => "unknown kind",
    }
}

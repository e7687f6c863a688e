//! SST-ingest snapshots (`EKVSSTI1`), what a node writes with
//! `ELASTICKV_PEBBLE_SST_INGEST_SNAPSHOT=true` (docs/format.md §1.6).
//!
//! The envelope lists Pebble sstables that hold every raw row of the store, in key
//! order across files. A content check streams every byte once to check what covers
//! it (the outer CRC32C footer, each table's SHA-256 and length, no trailing bytes),
//! and the tables are read block by block (the index, then each data block), their
//! rows handed out as the same [`EntryRef`]s the native stream gives, raw `_meta_*`
//! and registry rows skipped. [`SstIngestReader::new`] checks first, then reads the
//! tables; [`SstIngestReader::open_file`] checks on a thread beside the rows, the
//! two sharing what they read of the file ([`shared`]), and reports with the last
//! row. Memory: the top-level index of the current table, one index partition, one
//! data block and the shared chunks ([`shared::CHUNKS_KEPT`] at most).

pub mod block;
pub mod envelope;
pub mod shared;
pub mod table;
mod verify;

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::reader::{EntryRef, StoreMeta, quote_key, validate_entry};
use super::runtime::{self, HLC_V1_LEN, HLC_V2_MIN_PAYLOAD, HLC_V2_PREFIX_LEN, Sniffed};
use super::{ContainerError, ContainerErrorKind, Footer, Header, Wrapper};
pub use envelope::{FileMeta, Manifest};
pub use table::TableFacts;
use verify::{Tail, check_content, check_content_shared};

/// A reader over an `EKVSSTI1` snapshot, bare or inside an `EKVTHLC*` wrapper.
pub struct SstIngestReader<R> {
    input: R,
    header: Header,
    manifest: Manifest,
    /// Where each table starts in the file.
    bases: Vec<u64>,
    next_table: usize,
    table: Option<table::Table>,
    tables: Vec<TableFacts>,
    /// The last row of the last table finished.
    previous: Vec<u8>,
    rows: u64,
    raw_rows_skipped: u64,
    store_meta: StoreMeta,
    /// Where the last table ends.
    tables_end: u64,
    /// The content check's result, once known.
    tail: Option<Tail>,
    /// The content check running beside the rows ([`SstIngestReader::open_file`]).
    pending: Option<Background>,
    /// The file as shared with that check, for the data blocks.
    stream: Option<shared::Stream>,
    ended: bool,
    failed: Option<ContainerError>,
}

/// A content check on its own thread, and the flag that stops it early.
struct Background {
    handle: std::thread::JoinHandle<Result<Tail, ContainerError>>,
    cancel: Arc<AtomicBool>,
}

/// Whether the store payload of `input` (after any `EKVTHLC*` wrapper) is an
/// SST-ingest snapshot. Leaves `input` at its start.
///
/// # Errors
/// The I/O error of reading or seeking.
pub fn is_sst_ingest<R: Read + Seek>(input: &mut R) -> Result<bool, ContainerError> {
    input
        .seek(SeekFrom::Start(0))
        .map_err(|e| ContainerError::io(0, e))?;
    let found = match read_wrapper(input) {
        Ok((_, _, Some(magic))) => magic == envelope::MAGIC,
        Ok((_, _, None)) => {
            let mut magic = [0u8; 8];
            input.read_exact(&mut magic).is_ok() && magic == envelope::MAGIC
        }
        Err(_) => false,
    };
    input
        .seek(SeekFrom::Start(0))
        .map_err(|e| ContainerError::io(0, e))?;
    Ok(found)
}

/// Reads the optional wrapper; returns it, the offset of the store payload, and, for
/// a bare payload, the 8 bytes already consumed (the payload's magic).
type WrapperRead = (Wrapper, u64, Option<[u8; 8]>);

fn read_wrapper<R: Read>(input: &mut R) -> Result<WrapperRead, ContainerError> {
    let mut magic = [0u8; 8];
    take(input, &mut magic, 0, "snapshot magic")?;
    match runtime::sniff(&magic)? {
        Sniffed::Bare => Ok((Wrapper::Native, 0, Some(magic))),
        Sniffed::HlcV1 => {
            let mut header = [0u8; HLC_V1_LEN];
            header[..8].copy_from_slice(&magic);
            take(input, &mut header[8..], 8, "EKVTHLC1 header")?;
            Ok((runtime::parse_hlc_v1(&header), HLC_V1_LEN as u64, None))
        }
        Sniffed::HlcV2 => {
            let mut prefix = [0u8; HLC_V2_PREFIX_LEN];
            prefix[..8].copy_from_slice(&magic);
            take(input, &mut prefix[8..], 8, "EKVTHLC2 header")?;
            let len = runtime::hlc_v2_payload_len(&prefix)?;
            let mut known = [0u8; HLC_V2_MIN_PAYLOAD];
            take(input, &mut known, 10, "EKVTHLC2 header")?;
            let mut skipped = vec![0u8; len - HLC_V2_MIN_PAYLOAD];
            take(input, &mut skipped, 26, "EKVTHLC2 header")?;
            Ok((
                runtime::parse_hlc_v2(&known),
                (HLC_V2_PREFIX_LEN + len) as u64,
                None,
            ))
        }
    }
}

fn take<R: Read>(
    input: &mut R,
    buf: &mut [u8],
    offset: u64,
    what: &str,
) -> Result<(), ContainerError> {
    input.read_exact(buf).map_err(|e| {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            ContainerError::new(
                ContainerErrorKind::HeaderTruncated,
                offset,
                format!("file ends inside the {what}"),
            )
        } else {
            ContainerError::io(offset, e)
        }
    })
}

impl<R: Read + Seek> SstIngestReader<R> {
    /// Reads the wrapper and envelope and verifies the whole file (see the module doc).
    ///
    /// # Errors
    /// Typed container errors naming what failed and where.
    pub fn new(mut input: R) -> Result<Self, ContainerError> {
        let opened = open_at_start(&mut input)?;
        rewind(&mut input)?;
        let tail = check_content(
            BufReader::with_capacity(1 << 16, &mut input),
            &opened.manifest.files,
            opened.tables_start(),
            opened.tables_end,
            opened.header.wrapper,
        )?;
        let mut reader = Self::from_opened(input, opened);
        reader.tail = Some(tail);
        Ok(reader)
    }

    fn from_opened(input: R, opened: Opened) -> Self {
        SstIngestReader {
            input,
            header: opened.header,
            manifest: opened.manifest,
            bases: opened.bases,
            next_table: 0,
            table: None,
            tables: Vec::new(),
            previous: Vec::new(),
            rows: 0,
            raw_rows_skipped: 0,
            store_meta: StoreMeta::default(),
            tables_end: opened.tables_end,
            tail: None,
            pending: None,
            stream: None,
            ended: false,
            failed: None,
        }
    }

    /// The wrapper, and the manifest's `last_commit_ts`.
    pub fn header(&self) -> Header {
        self.header
    }

    /// The envelope's manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Facts of the tables read so far (all of them once the rows are exhausted).
    pub fn tables(&self) -> &[TableFacts] {
        &self.tables
    }

    /// How the file ended (known once the content check has finished: at once for
    /// [`SstIngestReader::new`], after the last row for [`SstIngestReader::open_file`]).
    pub fn footer(&self) -> Footer {
        self.tail.map_or(Footer::Absent, |t| t.footer)
    }

    /// CRC32C of the whole file when it has no footer (once the check has finished).
    pub fn unfootered_crc32c(&self) -> Option<u32> {
        self.tail.and_then(|t| t.unfootered_crc32c)
    }

    /// Raw (non-MVCC) store rows skipped so far.
    pub fn raw_rows_skipped(&self) -> u64 {
        self.raw_rows_skipped
    }

    /// The `_meta_*` rows seen so far.
    pub fn store_meta(&self) -> StoreMeta {
        self.store_meta
    }

    /// The file's length (the tables' end until the content check has finished).
    pub fn length(&self) -> u64 {
        self.tail.map_or(self.tables_end, |t| t.length)
    }

    /// Offset of the table being read, for progress.
    pub fn position(&self) -> u64 {
        match self.next_table.checked_sub(1) {
            Some(i) => self.bases.get(i).copied().unwrap_or(self.length()),
            None => 0,
        }
    }

    /// The next MVCC entry in key order; raw rows are skipped. Errors are sticky.
    ///
    /// # Errors
    /// Typed container errors, as the native stream's for entries, plus the table
    /// errors of [`table::Table::next_row`].
    pub fn next_entry(&mut self) -> Result<Option<EntryRef<'_>>, ContainerError> {
        if let Some(error) = &self.failed {
            return Err(error.replay());
        }
        if self.ended {
            return Ok(None);
        }
        match self.advance() {
            Ok(Some(offset)) => {
                let (key, value) = self.current();
                Ok(Some(EntryRef::assemble(offset, key, value)))
            }
            Ok(None) => match self.finish_content_check() {
                Ok(()) => {
                    self.ended = true;
                    Ok(None)
                }
                Err(error) => {
                    self.failed = Some(error.replay());
                    Err(error)
                }
            },
            Err(error) => {
                // A damaged table is reported as such, whichever check noticed first.
                let error = self.finish_content_check().err().unwrap_or(error);
                self.failed = Some(error.replay());
                Err(error)
            }
        }
    }

    /// Waits for a background content check, keeping its verdict.
    fn finish_content_check(&mut self) -> Result<(), ContainerError> {
        // Taking no more chunks lets the check stop keeping them.
        self.stream = None;
        if let Some(background) = self.pending.take() {
            let checked = background.handle.join().unwrap_or_else(|_| {
                Err(ContainerError::new(
                    ContainerErrorKind::Io,
                    0,
                    "the content check thread panicked",
                ))
            });
            self.tail = Some(checked?);
        }
        Ok(())
    }

    /// Moves to the next MVCC row (left in its block, [`SstIngestReader::current`])
    /// and checks it as the native stream checks an entry; its block offset.
    fn advance(&mut self) -> Result<Option<u64>, ContainerError> {
        loop {
            let Some(table) = &mut self.table else {
                if !self.open_next_table()? {
                    self.check_entry_count()?;
                    return Ok(None);
                }
                continue;
            };
            if !table.next_row_streamed(&mut self.input, self.stream.as_ref())? {
                self.previous.clear();
                self.previous.extend_from_slice(table.last_key());
                let done = self.table.take().map(|t| t.facts);
                self.finish_table(done)?;
                continue;
            }
            let row = table.row();
            let offset = row.block_offset;
            // Within a table the block's shared prefix decides (no copy of the key);
            // a table's first row is compared with the previous table's last.
            let (ascends, previous) = match table.row_ascends() {
                Some(ascends) => (ascends, table.disordered_previous()),
                None => (
                    self.rows == 0 || row.key > self.previous.as_slice(),
                    self.previous.as_slice(),
                ),
            };
            if !ascends {
                return Err(ContainerError::new(
                    ContainerErrorKind::SstCorrupt,
                    offset,
                    format!(
                        "row {} does not sort after the previous row {}",
                        quote_key(row.key),
                        quote_key(previous)
                    ),
                ));
            }
            self.rows += 1;
            if runtime::is_live_raw_row(row.key, row.value) {
                self.raw_rows_skipped += 1;
                self.store_meta.note(row.key, row.value);
                continue;
            }
            validate_entry(offset, row.key, row.value)?;
            return Ok(Some(offset));
        }
    }

    /// The row [`SstIngestReader::advance`] stopped on (the current table's).
    fn current(&self) -> (&[u8], &[u8]) {
        self.table.as_ref().map_or((&[][..], &[][..]), |t| {
            let row = t.row();
            (row.key, row.value)
        })
    }

    fn open_next_table(&mut self) -> Result<bool, ContainerError> {
        let Some(meta) = self.manifest.files.get(self.next_table) else {
            return Ok(false);
        };
        let base = self.bases[self.next_table];
        let table = table::Table::open(&mut self.input, base, meta.size as u64, &meta.name)?;
        self.next_table += 1;
        self.table = Some(table);
        Ok(true)
    }

    /// Checks that the table held rows inside the manifest's bounds for it.
    fn finish_table(&mut self, facts: Option<TableFacts>) -> Result<(), ContainerError> {
        let Some(facts) = facts else {
            return Ok(());
        };
        let index = self.tables.len();
        let meta = &self.manifest.files[index];
        let base = self.bases[index];
        if facts.rows == 0 || self.previous.as_slice() > meta.largest.as_slice() {
            return Err(ContainerError::new(
                ContainerErrorKind::SstIntegrity,
                base,
                format!(
                    "sstable {}: {} rows, last {}, but the manifest's largest key is {}",
                    meta.name,
                    facts.rows,
                    quote_key(&self.previous),
                    quote_key(&meta.largest)
                ),
            ));
        }
        self.tables.push(facts);
        Ok(())
    }

    fn check_entry_count(&self) -> Result<(), ContainerError> {
        if self.rows == self.manifest.entry_count {
            return Ok(());
        }
        Err(ContainerError::new(
            ContainerErrorKind::SstIntegrity,
            self.length(),
            format!(
                "the tables hold {} rows, the manifest's entry_count says {}",
                self.rows, self.manifest.entry_count
            ),
        ))
    }
}

impl SstIngestReader<File> {
    /// Like [`SstIngestReader::new`], but the content check (SHA-256 of every table,
    /// the outer CRC32C) runs on its own thread while the rows are read, so decoding
    /// costs about the larger of the two instead of their sum. Its verdict arrives
    /// with the last row: a damaged file then fails the decode before anything is
    /// published, as a native file with a bad footer does, and every block's own
    /// checksum is verified before its rows are used. The two share the file: each
    /// chunk is read by whichever needs it first ([`shared`]); the rows read each
    /// table's footer, metaindex, properties and indexes on their own.
    ///
    /// # Errors
    /// As [`SstIngestReader::new`] for the envelope; the thread cannot be started.
    pub fn open_file(mut file: File) -> Result<Self, ContainerError> {
        let opened = open_at_start(&mut file)?;
        let cancel = Arc::new(AtomicBool::new(false));
        let check = file.try_clone().map_err(|e| ContainerError::io(0, e))?;
        let (checked, rows) = shared::Stream::pair(check, opened.tables_end);
        let files = opened.manifest.files.clone();
        let span = (opened.tables_start(), opened.tables_end);
        let wrapper = opened.header.wrapper;
        let stop = Arc::clone(&cancel);
        let handle = std::thread::Builder::new()
            .name("sst-content-check".to_owned())
            .spawn(move || check_content_shared(checked, &files, span, wrapper, &stop))
            .map_err(|e| ContainerError::io(0, e))?;
        let mut reader = Self::from_opened(file, opened);
        reader.pending = Some(Background { handle, cancel });
        reader.stream = Some(rows);
        Ok(reader)
    }
}

impl<R> Drop for SstIngestReader<R> {
    fn drop(&mut self) {
        if let Some(background) = &self.pending {
            background.cancel.store(true, Ordering::Relaxed);
        }
    }
}

/// Reads the wrapper and envelope from byte 0.
fn open_at_start<R: Read + Seek>(input: &mut R) -> Result<Opened, ContainerError> {
    rewind(input)?;
    open_envelope(input)
}

fn rewind<R: Seek>(input: &mut R) -> Result<(), ContainerError> {
    input
        .seek(SeekFrom::Start(0))
        .map(|_| ())
        .map_err(|e| ContainerError::io(0, e))
}

/// The wrapper and manifest of an SST-ingest file, without checking its tables: what
/// a caller needs before deciding to decode it (`--as-of` bounds).
///
/// # Errors
/// The envelope's errors.
pub fn read_header<R: Read + Seek>(input: &mut R) -> Result<(Header, Manifest), ContainerError> {
    let opened = open_at_start(input)?;
    Ok((opened.header, opened.manifest))
}

/// What the envelope says: the wrapper, the manifest and where the tables start.
struct Opened {
    header: Header,
    manifest: Manifest,
    bases: Vec<u64>,
    tables_end: u64,
}

impl Opened {
    /// Where the first table starts (the envelope's end).
    fn tables_start(&self) -> u64 {
        self.bases.first().copied().unwrap_or(self.tables_end)
    }
}

/// Reads the wrapper and the envelope from the start of `input`.
fn open_envelope<R: Read>(input: &mut R) -> Result<Opened, ContainerError> {
    let mut input = BufReader::with_capacity(1 << 12, input);
    let (wrapper, payload_at, magic) = read_wrapper(&mut input)?;
    let (manifest, envelope_len) = envelope::read_envelope_sized(&mut input, payload_at, magic)?;
    let mut at = payload_at + envelope_len;
    let mut bases = Vec::with_capacity(manifest.files.len());
    for file in &manifest.files {
        bases.push(at);
        at += file.size as u64;
    }
    Ok(Opened {
        header: Header {
            wrapper,
            last_commit_ts: manifest.last_commit_ts,
        },
        manifest,
        bases,
        tables_end: at,
    })
}

#[cfg(test)]
#[path = "sst_tests.rs"]
mod tests;

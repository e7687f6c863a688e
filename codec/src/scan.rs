//! The decode driver: container → MVCC visibility → dispatch → adapters → tree.
//!
//! Unlike the Go decoder, which hands every version of every key to the adapters in
//! file order, the driver decodes the snapshot's *visible state*: for each user key only
//! the newest version, and nothing when that version is a tombstone. Sorted input (all
//! a live node or an encoder writes) streams in one pass. Unsorted input is detected on
//! the first out-of-order key; the driver then starts over from a sorted copy (an
//! external sort in scratch space), so the result never depends on entry order.

use std::fs::File;
use std::io::{Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::adapter::{AdapterDecoder, Warnings};
use crate::container::sst::{self, SstIngestReader};
use crate::container::{
    ContainerError, ContainerErrorKind, EntryRef, Footer, Header, SnapshotReader, StoreMeta,
    VALUE_HEADER_SIZE,
};
use crate::dispatch::{self, Adapter, AdapterSet, Counters, Owner};
use crate::error::{BoxError, ErrorCode, ExitClass};
use crate::mvcc::{AsOf, MvccStats, Verdict, Visibility};
use crate::sort::{ExternalSorter, SortOptions};
use crate::tree::fs::{FsError, open_nonblocking_regular};

/// Why a decode failed.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The container could not be read.
    #[error(transparent)]
    Container(#[from] ContainerError),
    /// An adapter rejected a record or could not write its files.
    #[error("{adapter}: {inner}")]
    Adapter {
        /// Which adapter.
        adapter: Adapter,
        /// Its error.
        inner: BoxError,
    },
    /// The input is missing, unreadable or not a regular file (a FIFO, device or
    /// directory is refused rather than read, so it can never block the open).
    #[error(transparent)]
    Input(FsError),
    /// A runtime (`EKVTHLC*`) file that ends at an entry boundary without the CRC32C
    /// footer every live node writes: most likely cut short, entries may be missing
    /// and nothing was checksummed (docs/format.md §1.2).
    #[error(
        "{container} snapshot ends at offset {offset} without its CRC32C footer; live nodes always write one, so the file is probably truncated and entries may be missing (pass --allow-missing-footer to decode what is there)"
    )]
    FooterMissing {
        /// The wrapper's magic.
        container: &'static str,
        /// Where the stream ended.
        offset: u64,
    },
    /// Unsorted input read from a stream that cannot be rewound.
    #[error(
        "snapshot entries are not sorted (first out-of-order entry at offset {offset}) and the input cannot be rewound to sort it; pass a regular file"
    )]
    UnsortedStream {
        /// Offset of the first out-of-order entry.
        offset: u64,
    },
    /// An offload payload disagrees with its manifest (checked before decoding, and
    /// again over the bytes actually decoded).
    #[error(transparent)]
    Offload(Box<crate::container::offload::OffloadError>),
    /// A `--as-of` cut outside what the file can answer.
    #[error(transparent)]
    AsOf(Box<AsOfError>),
    /// Reading, sorting or writing failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

impl From<crate::container::offload::OffloadError> for DecodeError {
    fn from(e: crate::container::offload::OffloadError) -> Self {
        DecodeError::Offload(Box::new(e))
    }
}

impl From<AsOfError> for DecodeError {
    fn from(e: AsOfError) -> Self {
        DecodeError::AsOf(Box::new(e))
    }
}

impl DecodeError {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        DecodeError::Io {
            context: context.into(),
            source,
        }
    }
}

impl ErrorCode for DecodeError {
    fn code(&self) -> &'static str {
        match self {
            DecodeError::Container(e) => e.code(),
            DecodeError::Adapter { inner, .. } => inner.code(),
            DecodeError::Input(e) => e.code(),
            DecodeError::FooterMissing { .. } => "snapshot-footer-missing",
            DecodeError::UnsortedStream { .. } => "snapshot-unsorted-stream",
            DecodeError::Offload(e) => e.code(),
            DecodeError::AsOf(e) => e.code(),
            DecodeError::Io { .. } => "io",
        }
    }

    fn exit_class(&self) -> ExitClass {
        match self {
            DecodeError::Container(e) => e.exit_class(),
            DecodeError::Adapter { inner, .. } => inner.exit_class(),
            // Pointing the tool at a FIFO or a directory is a usage problem, not bad data.
            DecodeError::Input(_) => ExitClass::Usage,
            DecodeError::FooterMissing { .. } => ExitClass::Data,
            DecodeError::UnsortedStream { .. } => ExitClass::Data,
            DecodeError::Offload(e) => e.exit_class(),
            DecodeError::AsOf(e) => e.exit_class(),
            DecodeError::Io { .. } => ExitClass::Usage,
        }
    }
}

/// A `--as-of` cut the file cannot answer exactly.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AsOfError {
    /// Later than anything the file holds: its state at the cut is unknown (later
    /// commits may exist elsewhere).
    #[error(
        "--as-of {requested} (HLC {cut}) is after the snapshot's last commit {last_commit_ts}: the snapshot cannot know the state at that time"
    )]
    AfterLastCommit {
        /// What was asked.
        requested: String,
        /// The cut.
        cut: u64,
        /// The snapshot's last commit.
        last_commit_ts: u64,
    },
    /// Below the oldest retained version: garbage collection may have removed
    /// versions the cut would show.
    #[error(
        "--as-of {requested} (HLC {cut}) is below the snapshot's _meta_min_retained_ts {min_retained_ts}: older versions were garbage-collected, so the state at that time cannot be rebuilt"
    )]
    BeforeRetainedHistory {
        /// What was asked.
        requested: String,
        /// The cut.
        cut: u64,
        /// The store's retention floor.
        min_retained_ts: u64,
    },
    /// The file does not say how much history it kept (no `_meta_min_retained_ts`
    /// row: not a live store payload).
    #[error(
        "--as-of {requested}: the snapshot carries no _meta_min_retained_ts row (it is not a live node's file), so how much history it kept is unknown"
    )]
    RetentionUnknown {
        /// What was asked.
        requested: String,
    },
}

impl ErrorCode for AsOfError {
    fn code(&self) -> &'static str {
        match self {
            AsOfError::AfterLastCommit { .. } => "as-of-after-last-commit",
            AsOfError::BeforeRetainedHistory { .. } => "as-of-before-retained-history",
            AsOfError::RetentionUnknown { .. } => "as-of-retention-unknown",
        }
    }

    fn exit_class(&self) -> ExitClass {
        ExitClass::Data
    }
}

/// The header of a snapshot file of any container, without reading its entries (an
/// `EKVSSTI1` file is verified first, which reads it once).
///
/// # Errors
/// The refusal of the open or the container's error.
pub fn read_header(input: &Path) -> Result<Header, DecodeError> {
    let mut file = open_input(input).map_err(DecodeError::Input)?;
    if sst::is_sst_ingest(&mut file)? {
        return Ok(sst::read_header(&mut file)?.0);
    }
    Ok(SnapshotReader::new(file)?.header())
}

/// Refuses a cut above the header's last commit (checkable before decoding).
///
/// # Errors
/// [`AsOfError::AfterLastCommit`].
pub fn check_cut_against_header(as_of: &AsOf, header: &Header) -> Result<(), AsOfError> {
    if as_of.ts > header.last_commit_ts {
        return Err(AsOfError::AfterLastCommit {
            requested: as_of.requested.clone(),
            cut: as_of.ts,
            last_commit_ts: header.last_commit_ts,
        });
    }
    Ok(())
}

/// Refuses a cut below the retained history, which a live payload states only in its
/// trailing `_meta_min_retained_ts` row, so only after the scan.
///
/// # Errors
/// [`AsOfError::BeforeRetainedHistory`] or [`AsOfError::RetentionUnknown`].
pub fn check_cut_against_retention(as_of: &AsOf, scan: &Scan) -> Result<(), AsOfError> {
    match scan.store_meta.min_retained_ts {
        None => Err(AsOfError::RetentionUnknown {
            requested: as_of.requested.clone(),
        }),
        Some(min) if as_of.ts < min => Err(AsOfError::BeforeRetainedHistory {
            requested: as_of.requested.clone(),
            cut: as_of.ts,
            min_retained_ts: min,
        }),
        Some(_) => Ok(()),
    }
}

/// What a pass over the entries learned.
#[derive(Debug, Clone)]
pub struct Scan {
    /// The header.
    pub header: Header,
    /// How the stream ended.
    pub footer: Option<Footer>,
    /// The Go decoder's counters (every version counted).
    pub counters: Counters,
    /// Visibility statistics.
    pub mvcc: MvccStats,
    /// Raw store rows skipped (runtime snapshots).
    pub raw_rows_skipped: u64,
    /// Whether the input was unsorted and had to be sorted first.
    pub sorted_in_scratch: bool,
    /// Bytes of input consumed.
    pub bytes: u64,
    /// The first [`UNKNOWN_SAMPLE`] entries no prefix routes, in key order.
    pub unknown_rows: Vec<UnknownRow>,
    /// The store's `_meta_*` counters (live payloads carry them).
    pub store_meta: StoreMeta,
    /// CRC32C of the whole input when it ended without a footer.
    pub unfootered_crc32c: Option<u32>,
    /// The `--as-of` cut the visible state was taken at, if any.
    pub cut: Option<u64>,
    /// Versions ignored because they were committed after [`Scan::cut`].
    pub after_cut: u64,
    /// The envelope and per-table facts of an `EKVSSTI1` snapshot.
    pub sst: Option<SstSummary>,
}

/// What `inspect` shows of an SST-ingest snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SstSummary {
    /// The envelope's manifest.
    pub manifest: sst::Manifest,
    /// Each table's facts, in order.
    pub tables: Vec<sst::TableFacts>,
}

/// An entry that matched no routing prefix, kept so `inspect --unknown` can show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownRow {
    /// Offset of the entry in the input.
    pub offset: u64,
    /// Its user key (MVCC suffix removed).
    pub user_key: Vec<u8>,
    /// Its commit timestamp.
    pub commit_ts: u64,
}

/// How many unknown rows a scan keeps: enough to recognise a key family, bounded so a
/// snapshot full of foreign keys cannot grow memory.
pub const UNKNOWN_SAMPLE: usize = 32;

impl Scan {
    fn new(header: Header) -> Self {
        Scan {
            header,
            footer: None,
            counters: Counters::default(),
            mvcc: MvccStats::default(),
            raw_rows_skipped: 0,
            sorted_in_scratch: false,
            bytes: 0,
            unknown_rows: Vec::new(),
            store_meta: StoreMeta::default(),
            unfootered_crc32c: None,
            cut: None,
            after_cut: 0,
            sst: None,
        }
    }

    /// Counts `entry` in `slot`, keeping it as a sample when nothing routes it.
    fn count(&mut self, entry: &EntryRef<'_>, slot: dispatch::Slot) {
        self.counters.count(slot);
        if slot == dispatch::Slot::Unknown && self.unknown_rows.len() < UNKNOWN_SAMPLE {
            self.unknown_rows.push(UnknownRow {
                offset: entry.offset,
                user_key: entry.user_key.to_vec(),
                commit_ts: entry.commit_ts,
            });
        }
    }

    /// Whether a runtime (`EKVTHLC*`) file ended without its CRC32C footer. Native
    /// `EKVPBBL1` streams have no footer to miss.
    pub fn footer_missing(&self) -> bool {
        self.header.wrapper.is_runtime() && self.footer == Some(Footer::Absent)
    }
}

/// Event of the warning raised when the snapshot holds filesystem-adapter rows.
pub const FILESYSTEM_NOT_DUMPED_EVENT: &str = "filesystem_data_not_dumped";

/// Warns when the snapshot holds `!fs|…` rows: the dump format has no filesystem
/// layout yet, so that data is not in the tree (the Go decoder drops it silently).
pub fn warn_unexported(scan: &Scan, warnings: &mut Warnings) {
    let rows = scan.counters.filesystem;
    if rows == 0 {
        return;
    }
    warnings.push(
        FILESYSTEM_NOT_DUMPED_EVENT,
        vec![
            ("rows", rows.to_string()),
            (
                "hint",
                "the snapshot holds filesystem-adapter (!fs|) rows; the dump format has no filesystem layout, so that data is NOT in the dump".to_owned(),
            ),
        ],
    );
}

/// Event of the warning a salvaged footer-less runtime file raises.
pub const FOOTER_MISSING_EVENT: &str = "snapshot_footer_missing";

/// The footer policy of docs/format.md §1.2: live nodes always end a wrapped file with
/// a CRC32C footer, so a wrapped file without one is refused (`snapshot-footer-missing`)
/// unless `allow_missing`, which decodes what is there and records a
/// [`FOOTER_MISSING_EVENT`] warning instead. Scanning itself accepts such files (so
/// `inspect` can report them); callers that produce output apply this.
///
/// # Errors
/// [`DecodeError::FooterMissing`] when the footer is missing and not allowed.
pub fn check_footer(
    scan: &Scan,
    allow_missing: bool,
    warnings: &mut Warnings,
) -> Result<(), DecodeError> {
    if !scan.footer_missing() {
        return Ok(());
    }
    let container = scan.header.wrapper.magic();
    if !allow_missing {
        return Err(DecodeError::FooterMissing {
            container,
            offset: scan.bytes,
        });
    }
    warnings.push(
        FOOTER_MISSING_EVENT,
        footer_missing_fields(container, scan.bytes),
    );
    Ok(())
}

/// The fields of the [`FOOTER_MISSING_EVENT`] warning.
pub fn footer_missing_fields(container: &str, bytes: u64) -> Vec<(&'static str, String)> {
    vec![
        ("container", container.to_owned()),
        ("bytes", bytes.to_string()),
        (
            "hint",
            "no CRC32C footer: the file may be truncated, entries past its end are lost and nothing was checksummed".to_owned(),
        ),
    ]
}

/// Opens a snapshot for reading: a regular file (a symlink to one is followed, hard
/// links are fine), opened without blocking so a FIFO is refused (`refusing-fifo`)
/// instead of hanging the process; directories and devices are `not-regular`.
///
/// # Errors
/// The refusal, or the I/O error of the open, naming `input`.
pub fn open_input(input: &Path) -> Result<File, FsError> {
    open_nonblocking_regular(input, true)
}

/// Called when unsorted input forces a restart: discards what the adapters wrote in
/// the first pass and replaces them with fresh ones.
pub type ResetFn<'a> =
    &'a mut dyn FnMut(&mut Vec<Box<dyn AdapterDecoder>>) -> Result<(), DecodeError>;

/// Receives progress while entries are read: `(bytes consumed, entries read)`.
pub type ProgressFn<'a> = &'a mut dyn FnMut(u64, u64);

/// Which pass over the input a scan is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanPhase {
    /// Streaming the file as it is (the only pass for sorted input).
    Stream,
    /// The input turned out unsorted: copying it into the external sort.
    Spill,
    /// Streaming the sorted copy.
    Merge,
}

/// Follows a scan: which pass it is in and how far that pass got.
///
/// In every phase `bytes` counts from 0 up to the input's size (in the merge phase it
/// is the framed size of the entries handed on so far), so a progress display can
/// show each pass against the file size.
pub trait ScanObserver {
    /// A new pass starts; counters restart from zero.
    fn phase(&mut self, _phase: ScanPhase) {}
    /// `bytes` of input and `entries` consumed so far in the current pass.
    fn progress(&mut self, bytes: u64, entries: u64);
}

impl<F: FnMut(u64, u64)> ScanObserver for F {
    fn progress(&mut self, bytes: u64, entries: u64) {
        self(bytes, entries)
    }
}

/// Knobs of a scan that are not about adapters.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// Adapters whose records count under their own counter (others count as internal).
    pub enabled: AdapterSet,
    /// Where the external sort of unsorted input spills.
    pub scratch_dir: PathBuf,
    /// Memory budget of that sort.
    pub sort_memory_bytes: usize,
}

/// Reads every entry of `input`, counting and filtering visibility, and hands visible
/// entries to `adapters`. Restarts from a sorted copy when the input is unsorted; the
/// caller's `reset` then gets a chance to discard what the adapters did in the first pass.
pub fn scan_file(
    input: &Path,
    options: &ScanOptions,
    adapters: &mut Vec<Box<dyn AdapterDecoder>>,
    warnings: &mut Warnings,
    reset: ResetFn<'_>,
    progress: ProgressFn<'_>,
) -> Result<Scan, DecodeError> {
    let mut observer = progress;
    scan_file_observed(input, options, adapters, warnings, reset, &mut observer)
}

/// [`scan_file`] reporting phases as well as progress.
pub fn scan_file_observed(
    input: &Path,
    options: &ScanOptions,
    adapters: &mut Vec<Box<dyn AdapterDecoder>>,
    warnings: &mut Warnings,
    reset: ResetFn<'_>,
    observer: &mut dyn ScanObserver,
) -> Result<Scan, DecodeError> {
    scan_file_as_of(input, options, None, adapters, warnings, reset, observer)
}

/// [`scan_file_observed`] at a cut: with `cut`, each key's visible version is its
/// newest one committed at or before `cut` (docs/format.md §2.5). Whether the cut is
/// within the file's retained history is for the caller to judge from the scan.
pub fn scan_file_as_of(
    input: &Path,
    options: &ScanOptions,
    cut: Option<u64>,
    adapters: &mut Vec<Box<dyn AdapterDecoder>>,
    warnings: &mut Warnings,
    reset: ResetFn<'_>,
    observer: &mut dyn ScanObserver,
) -> Result<Scan, DecodeError> {
    let mut file = open_input(input).map_err(DecodeError::Input)?;
    if sst::is_sst_ingest(&mut file)? {
        return scan_sst_ingest(file, options, cut, adapters, warnings, observer);
    }
    let mut reader = SnapshotReader::new(file)?;
    let mut scan = Scan::new(reader.header());
    scan.cut = cut;
    observer.phase(ScanPhase::Stream);
    let scan = match stream_pass(
        &mut reader,
        options,
        adapters,
        warnings,
        &mut scan,
        observer,
    )? {
        PassEnd::Complete => {
            finish_scan(&mut scan, &reader);
            finalize(adapters, warnings)?;
            scan
        }
        PassEnd::OutOfOrder { .. } => {
            let mut file = reader.into_inner();
            file.seek(SeekFrom::Start(0))
                .map_err(|e| DecodeError::io(format!("rewind {}", input.display()), e))?;
            reset(adapters)?;
            *warnings = Warnings::default();
            sorted_pass(file, options, cut, adapters, warnings, observer)?
        }
    };
    warn_unexported(&scan, warnings);
    Ok(scan)
}

/// An `EKVSSTI1` file: verified as a whole first, then its tables' rows in key order
/// through the same visibility and dispatch as the native stream. Table rows are
/// sorted by construction (the reader refuses any that are not), so there is no
/// sorted-copy fallback.
fn scan_sst_ingest(
    file: File,
    options: &ScanOptions,
    cut: Option<u64>,
    adapters: &mut Vec<Box<dyn AdapterDecoder>>,
    warnings: &mut Warnings,
    observer: &mut dyn ScanObserver,
) -> Result<Scan, DecodeError> {
    let mut reader = SstIngestReader::open_file(file)?;
    let mut scan = Scan::new(reader.header());
    scan.cut = cut;
    observer.phase(ScanPhase::Stream);
    if let PassEnd::OutOfOrder { offset } = stream_pass(
        &mut reader,
        options,
        adapters,
        warnings,
        &mut scan,
        observer,
    )? {
        return Err(DecodeError::Container(ContainerError::new(
            ContainerErrorKind::SstCorrupt,
            offset,
            "SST-ingest rows are not in strictly ascending key order",
        )));
    }
    scan.footer = Some(reader.footer());
    scan.raw_rows_skipped = reader.raw_rows_skipped();
    scan.bytes = reader.length();
    scan.store_meta = reader.store_meta();
    scan.unfootered_crc32c = reader.unfootered_crc32c();
    scan.sst = Some(SstSummary {
        manifest: reader.manifest().clone(),
        tables: reader.tables().to_vec(),
    });
    finalize(adapters, warnings)?;
    warn_unexported(&scan, warnings);
    Ok(scan)
}

impl<R: std::io::Read + Seek> EntrySource for SstIngestReader<R> {
    fn next(&mut self) -> Result<Option<EntryRef<'_>>, DecodeError> {
        Ok(self.next_entry()?)
    }

    fn position(&self) -> u64 {
        SstIngestReader::position(self)
    }
}

/// Counts and checks visibility of one file without any adapter: what `inspect` shows.
pub fn inspect_file(
    input: &Path,
    options: &ScanOptions,
    progress: ProgressFn<'_>,
) -> Result<Scan, DecodeError> {
    let mut none = Vec::new();
    scan_file(
        input,
        options,
        &mut none,
        &mut Warnings::default(),
        &mut |_| Ok(()),
        progress,
    )
}

enum PassEnd {
    Complete,
    OutOfOrder { offset: u64 },
}

/// Where entries come from: the file itself, or its sorted copy.
trait EntrySource {
    fn next(&mut self) -> Result<Option<EntryRef<'_>>, DecodeError>;
    fn position(&self) -> u64;
    /// Bytes consumed, monotonic; what progress shows.
    fn consumed(&self) -> u64 {
        self.position()
    }
}

impl<R: std::io::Read> EntrySource for SnapshotReader<R> {
    fn next(&mut self) -> Result<Option<EntryRef<'_>>, DecodeError> {
        Ok(self.next_entry()?)
    }

    fn position(&self) -> u64 {
        self.offset()
    }
}

const PROGRESS_EVERY: u64 = 4096;

/// One pass over `source`. An adapter error does not end the pass at once: the entry
/// that failed may be a version a later, out-of-order entry shadows, so the rest of
/// the input is still checked for order (without dispatching) and an unsorted input
/// restarts from its sorted copy instead of failing on a hidden version.
fn stream_pass(
    source: &mut dyn EntrySource,
    options: &ScanOptions,
    adapters: &mut [Box<dyn AdapterDecoder>],
    warnings: &mut Warnings,
    scan: &mut Scan,
    observer: &mut dyn ScanObserver,
) -> Result<PassEnd, DecodeError> {
    let mut visibility = scan.cut.map_or_else(Visibility::new, Visibility::as_of);
    let mut failure = None;
    loop {
        let position = source.consumed();
        let Some(entry) = source.next()? else {
            break;
        };
        let verdict = match visibility.observe(&entry) {
            Ok(verdict) => verdict,
            Err(out_of_order) => {
                return Ok(PassEnd::OutOfOrder {
                    offset: out_of_order.offset,
                });
            }
        };
        scan.count(
            &entry,
            dispatch::classify(entry.user_key, entry.tombstone, options.enabled),
        );
        if verdict == Verdict::Visible && failure.is_none() {
            failure = dispatch_entry(&entry, options.enabled, adapters, warnings).err();
        }
        if scan.counters.entries.is_multiple_of(PROGRESS_EVERY) {
            observer.progress(position, scan.counters.entries);
        }
    }
    if let Some(error) = failure {
        return Err(error);
    }
    scan.mvcc = visibility.stats();
    scan.after_cut = visibility.after_cut();
    observer.progress(source.consumed(), scan.counters.entries);
    Ok(PassEnd::Complete)
}

fn dispatch_entry(
    entry: &EntryRef<'_>,
    enabled: AdapterSet,
    adapters: &mut [Box<dyn AdapterDecoder>],
    warnings: &mut Warnings,
) -> Result<(), DecodeError> {
    let Some(prefix) = dispatch::route(entry.user_key) else {
        return Ok(());
    };
    let Owner::Adapter(owner) = prefix.owner else {
        return Ok(());
    };
    if !enabled.contains(owner) {
        return Ok(());
    }
    let Some(adapter) = adapters.iter_mut().find(|a| a.adapter() == owner) else {
        return Ok(());
    };
    adapter
        .handle(prefix, entry, warnings)
        .map_err(|inner| DecodeError::Adapter {
            adapter: owner,
            inner,
        })
}

fn finalize(
    adapters: &mut [Box<dyn AdapterDecoder>],
    warnings: &mut Warnings,
) -> Result<(), DecodeError> {
    for adapter in adapters.iter_mut() {
        let owner = adapter.adapter();
        adapter
            .finalize(warnings)
            .map_err(|inner| DecodeError::Adapter {
                adapter: owner,
                inner,
            })?;
    }
    Ok(())
}

fn finish_scan<R: std::io::Read>(scan: &mut Scan, reader: &SnapshotReader<R>) {
    scan.footer = reader.footer();
    scan.raw_rows_skipped = reader.raw_rows_skipped();
    scan.bytes = reader.offset();
    scan.store_meta = reader.store_meta();
    scan.unfootered_crc32c = reader.unfootered_crc32c();
}

/// Sort value layout: `BE64(len) ‖ encoded value ‖ LE64(file offset)`.
///
/// The sorter orders equal keys by this value, and the first of equal keys wins, so
/// the part that is compared must not depend on where the entry sat in the file: the
/// length prefix makes the value self-delimiting, so the offset can only break ties
/// between byte-identical entries. The offset lets errors found after sorting still
/// point into the original file.
///
/// Returned as the part before the body and the part after it, so the sorter can
/// take the body from the reader's buffer without a copy.
fn sort_value(entry: &EntryRef<'_>) -> ([u8; 17], [u8; 8]) {
    let value_len = VALUE_HEADER_SIZE + entry.body.len();
    let mut head = [0u8; 17];
    head[..8].copy_from_slice(&(value_len as u64).to_be_bytes());
    head[8] = u8::from(entry.tombstone);
    head[9..].copy_from_slice(&entry.expire_at.to_le_bytes());
    (head, entry.offset.to_le_bytes())
}

/// Splits a [`sort_value`] back into the encoded value and the file offset.
fn split_sort_value(value: &[u8]) -> (&[u8], u64) {
    let inner = value
        .get(8..value.len().saturating_sub(8))
        .unwrap_or_default();
    let offset = value
        .len()
        .checked_sub(8)
        .and_then(|at| value[at..].try_into().ok())
        .map_or(0, u64::from_le_bytes);
    (inner, offset)
}

fn sorted_pass(
    file: File,
    options: &ScanOptions,
    cut: Option<u64>,
    adapters: &mut [Box<dyn AdapterDecoder>],
    warnings: &mut Warnings,
    observer: &mut dyn ScanObserver,
) -> Result<Scan, DecodeError> {
    observer.phase(ScanPhase::Spill);
    let mut reader = SnapshotReader::new(file)?;
    let mut sorter = ExternalSorter::new(SortOptions {
        memory_budget: options.sort_memory_bytes,
        scratch_dir: options.scratch_dir.clone(),
    });
    let mut spilled = 0u64;
    loop {
        let position = reader.offset();
        let Some(entry) = reader.next_entry()? else {
            break;
        };
        let (head, tail) = sort_value(&entry);
        sorter
            .push_parts(entry.encoded_key, &[&head, entry.body, &tail])
            .map_err(|e| DecodeError::io("spill unsorted snapshot to scratch", e))?;
        spilled += 1;
        if spilled.is_multiple_of(PROGRESS_EVERY) {
            observer.progress(position, spilled);
        }
    }
    observer.progress(reader.offset(), spilled);
    let mut scan = Scan {
        sorted_in_scratch: true,
        cut,
        ..Scan::new(reader.header())
    };
    finish_scan(&mut scan, &reader);
    // Its buffers may hold the last large value; the merge reads values again.
    drop(reader);
    let bytes = scan.bytes;
    let mut sorted = SortedSource {
        records: sorter
            .finish()
            .map_err(|e| DecodeError::io("sort snapshot entries in scratch", e))?,
        previous_key: Vec::new(),
        duplicates: Counters::default(),
        enabled: options.enabled,
        position: 0,
        consumed: 0,
    };
    observer.phase(ScanPhase::Merge);
    if let PassEnd::OutOfOrder { offset } = stream_pass(
        &mut sorted,
        options,
        adapters,
        warnings,
        &mut scan,
        observer,
    )? {
        // SortedSource yields strictly ascending keys; anything else is a sorter bug,
        // reported as data error rather than a panic.
        return Err(DecodeError::UnsortedStream { offset });
    }
    scan.counters.absorb(&sorted.duplicates);
    scan.mvcc.versions += sorted.duplicates.entries;
    scan.mvcc.shadowed += sorted.duplicates.entries;
    scan.bytes = bytes;
    finalize(adapters, warnings)?;
    Ok(scan)
}

/// The sorted copy of an unsorted snapshot. Entries with an identical encoded key (the
/// same version written twice) are counted but only the first — the smallest value,
/// so the choice does not depend on file order — is passed on.
struct SortedSource {
    records: crate::sort::SortedRecords,
    previous_key: Vec<u8>,
    duplicates: Counters,
    enabled: AdapterSet,
    position: u64,
    /// Framed size of the records read so far (duplicates included).
    consumed: u64,
}

impl EntrySource for SortedSource {
    fn next(&mut self) -> Result<Option<EntryRef<'_>>, DecodeError> {
        loop {
            let advanced = self
                .records
                .advance()
                .map_err(|e| DecodeError::io("read sorted snapshot entries", e))?;
            let Some((key, value)) = self.records.current().filter(|_| advanced) else {
                return Ok(None);
            };
            let (encoded_value, offset) = split_sort_value(value);
            // keyLen ‖ key ‖ valLen ‖ value, as the entry was framed in the file.
            self.consumed += 16 + key.len() as u64 + encoded_value.len() as u64;
            self.position = offset;
            let entry = EntryRef::parse(self.position, key, encoded_value)?;
            if key != self.previous_key.as_slice() {
                self.previous_key.clear();
                self.previous_key.extend_from_slice(key);
                break;
            }
            let slot = dispatch::classify(entry.user_key, entry.tombstone, self.enabled);
            self.duplicates.count(slot);
        }
        // The record stays current until the next advance; parse it again to hand out
        // a borrow the loop above could not return.
        let (key, value) = self.records.current().unwrap_or_default();
        let (encoded_value, _) = split_sort_value(value);
        Ok(Some(EntryRef::parse(self.position, key, encoded_value)?))
    }

    fn position(&self) -> u64 {
        self.position
    }

    fn consumed(&self) -> u64 {
        self.consumed
    }
}

/// The raft index a snapshot file name stands for.
///
/// Live nodes name snapshot files `%016x.fsm` (hexadecimal). The Go decoder parses the
/// stem as *decimal*, so it drops names with `a`–`f` and misreads all-digit names
/// (`0000000000000064.fsm` is index 100, not 64). Here a 16-digit stem is hexadecimal;
/// any other all-digit stem keeps the Go reading, so hand-named files still work.
pub fn snapshot_index_from_path(path: &Path) -> Option<u64> {
    let name = path.file_name()?.to_str()?;
    let stem = name.strip_suffix(".fsm")?;
    if stem.len() == 16 && stem.bytes().all(|b| b.is_ascii_hexdigit()) {
        return u64::from_str_radix(stem, 16).ok();
    }
    if !stem.is_empty() && stem.bytes().all(|b| b.is_ascii_digit()) {
        return stem.parse().ok();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_index_reads_live_names_as_hex() {
        let index = |name: &str| snapshot_index_from_path(Path::new(name));
        assert_eq!(index("fsm-snap/0000000000000064.fsm"), Some(100));
        assert_eq!(index("00000000000000ff.fsm"), Some(255));
        assert_eq!(index("123.fsm"), Some(123));
        assert_eq!(index("input.fsm"), None);
        assert_eq!(index(".fsm"), None);
        assert_eq!(index("+12.fsm"), None);
        assert_eq!(index("12.snap"), None);
    }

    #[test]
    fn footer_policy_refuses_wrapped_files_without_footer() {
        use crate::container::Wrapper;
        let scan = |wrapper, footer| Scan {
            footer: Some(footer),
            bytes: 42,
            ..Scan::new(Header {
                wrapper,
                last_commit_ts: 1,
            })
        };
        let v2 = Wrapper::HlcV2 {
            ceiling_ms: 1,
            cutover_index: 2,
        };
        let cut = scan(v2, Footer::Absent);
        assert!(cut.footer_missing());
        let mut warnings = Warnings::default();
        let error = check_footer(&cut, false, &mut warnings).unwrap_err();
        assert_eq!(error.code(), "snapshot-footer-missing");
        assert_eq!(error.exit_class(), ExitClass::Data);
        assert!(
            error
                .to_string()
                .contains("EKVTHLC2 snapshot ends at offset 42")
        );
        assert!(warnings.0.is_empty());
        check_footer(&cut, true, &mut warnings).unwrap();
        assert_eq!(warnings.0.len(), 1);
        assert_eq!(warnings.0[0].event, FOOTER_MISSING_EVENT);
        assert_eq!(
            warnings.0[0].fields[0],
            ("container", "EKVTHLC2".to_owned())
        );
        // A verified footer, and a native stream (which never has one), pass silently.
        let mut warnings = Warnings::default();
        for ok in [
            scan(v2, Footer::Verified { crc32c: 7 }),
            scan(Wrapper::Native, Footer::Absent),
        ] {
            assert!(!ok.footer_missing());
            check_footer(&ok, false, &mut warnings).unwrap();
        }
        assert!(warnings.0.is_empty());
    }

    /// A native snapshot of `(user key, ts)` live entries, already in key order.
    fn native_file(dir: &Path, rows: &[(&[u8], u64)]) -> PathBuf {
        use crate::container::{SnapshotWriter, encode_key, encode_live_value};
        let mut writer = SnapshotWriter::new(Vec::new(), 9).unwrap();
        let (mut key, mut value) = (Vec::new(), Vec::new());
        for (user_key, ts) in rows {
            key.clear();
            value.clear();
            encode_key(user_key, *ts, &mut key);
            encode_live_value(b"v", &mut value);
            writer.write_entry(&key, &value).unwrap();
        }
        let path = dir.join("in.fsm");
        std::fs::write(&path, writer.finish().unwrap()).unwrap();
        path
    }

    fn scan_options(dir: &Path) -> ScanOptions {
        ScanOptions {
            enabled: AdapterSet::ALL,
            scratch_dir: dir.to_path_buf(),
            sort_memory_bytes: 1 << 20,
        }
    }

    #[test]
    fn filesystem_rows_are_counted_and_warned_about() {
        let dir = tempfile::tempdir().unwrap();
        let input = native_file(
            dir.path(),
            &[
                (b"!fs|dir|a", 3),
                (b"!fs|ino|\x01", 4),
                (b"!redis|txn-wide-set|k", 5),
            ],
        );
        let mut warnings = Warnings::default();
        let scan = scan_file(
            &input,
            &scan_options(dir.path()),
            &mut Vec::new(),
            &mut warnings,
            &mut |_| Ok(()),
            &mut |_, _| {},
        )
        .unwrap();
        let c = scan.counters;
        assert_eq!((c.filesystem, c.internal, c.unknown), (2, 1, 0));
        assert_eq!(warnings.0.len(), 1);
        assert_eq!(warnings.0[0].event, FILESYSTEM_NOT_DUMPED_EVENT);
        assert_eq!(warnings.0[0].fields[0], ("rows", "2".to_owned()));
        // Nothing to warn about without filesystem rows.
        let mut quiet = Warnings::default();
        warn_unexported(&Scan::new(scan.header), &mut quiet);
        assert!(quiet.0.is_empty());
    }

    #[test]
    fn unknown_rows_are_sampled_in_key_order_and_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let keys: Vec<Vec<u8>> = (0..UNKNOWN_SAMPLE + 5)
            .map(|i| format!("zz{i:03}").into_bytes())
            .collect();
        let rows: Vec<(&[u8], u64)> = keys.iter().map(|k| (k.as_slice(), 7)).collect();
        let input = native_file(dir.path(), &rows);
        let scan = inspect_file(&input, &scan_options(dir.path()), &mut |_, _| {}).unwrap();
        assert_eq!(scan.counters.unknown, keys.len() as u64);
        assert_eq!(scan.unknown_rows.len(), UNKNOWN_SAMPLE);
        assert_eq!(scan.unknown_rows[0].user_key, b"zz000");
        assert_eq!(scan.unknown_rows[0].commit_ts, 7);
        assert_eq!(scan.unknown_rows[0].offset, 16);
        assert_eq!(scan.unknown_rows[UNKNOWN_SAMPLE - 1].user_key, b"zz031");
    }

    #[test]
    fn non_regular_inputs_are_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("in.fsm");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo runs");
        assert!(made.success());
        let error = open_input(&fifo).unwrap_err();
        assert_eq!(error.code(), "refusing-fifo");
        assert!(error.to_string().contains("in.fsm"), "{error}");
        let error = open_input(dir.path()).unwrap_err();
        assert_eq!(error.code(), "not-regular");
        let scanned = inspect_file(
            &fifo,
            &ScanOptions {
                enabled: AdapterSet::ALL,
                scratch_dir: dir.path().to_path_buf(),
                sort_memory_bytes: 1 << 20,
            },
            &mut |_, _| {},
        );
        let error = scanned.unwrap_err();
        assert_eq!(
            (error.code(), error.exit_class()),
            ("refusing-fifo", ExitClass::Usage)
        );
    }
}

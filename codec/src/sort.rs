//! External merge sort of `(key, value)` records.
//!
//! Both directions need sorted entries without holding a snapshot in memory: the
//! encoder must emit entries ascending by encoded key, and the decoder re-sorts input
//! that is not sorted. Records are buffered in one arena up to a memory budget, sorted
//! by `(key, value)` and spilled as runs to anonymous temporary files (removed by the OS
//! even if the process dies), then k-way merged. Run files use the container's framing:
//! `LE64 keyLen ‖ key ‖ LE64 valueLen ‖ value`.
//!
//! Runs are merged in levels of at most `max_fan_in` as they are produced, so the number
//! of open files stays bounded (by `max_fan_in` per level) however large the input is,
//! and every record is rewritten only `log_fan_in(runs)` times.
//!
//! [`RecordLog`] is the same run file unsorted: records kept in arrival order on disk,
//! for data that must be read more than once.

use std::cmp::Ordering;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::ops::ControlFlow;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;

/// Default memory budget for buffered records.
pub const DEFAULT_MEMORY_BUDGET: usize = 256 << 20;
/// Default number of runs merged at once.
pub const DEFAULT_MAX_FAN_IN: usize = 64;

/// Buffer size of each run file reader/writer: large enough for sequential I/O, small
/// enough that a full fan-in of readers stays far below the memory budget.
const RUN_IO_BUFFER: usize = 64 * 1024;

/// Where and how much to sort in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortOptions {
    /// Bytes of records (plus per-record bookkeeping) buffered before a run is spilled.
    /// The buffer's allocation can transiently reach about twice this while growing.
    pub memory_budget: usize,
    /// Directory for run files; created if missing. Files in it are anonymous.
    pub scratch_dir: PathBuf,
}

impl Default for SortOptions {
    fn default() -> Self {
        SortOptions {
            memory_budget: DEFAULT_MEMORY_BUDGET,
            scratch_dir: std::env::temp_dir(),
        }
    }
}

/// Accumulates records; [`ExternalSorter::finish`] yields them sorted by `(key, value)`.
/// Duplicates are kept.
pub struct ExternalSorter {
    options: SortOptions,
    max_fan_in: usize,
    batch: Batch,
    /// `levels[n]` holds runs that each went through `n` merges.
    levels: Vec<Vec<Run>>,
    records: u64,
    spills: u64,
}

impl ExternalSorter {
    /// A sorter with nothing buffered; no file is created until the budget is exceeded.
    pub fn new(options: SortOptions) -> Self {
        ExternalSorter {
            options,
            max_fan_in: DEFAULT_MAX_FAN_IN,
            batch: Batch::default(),
            levels: Vec::new(),
            records: 0,
            spills: 0,
        }
    }

    /// Limits how many runs are merged at once (and so how many run files are open);
    /// values below 2 are raised to 2.
    #[must_use]
    pub fn with_max_fan_in(mut self, max_fan_in: usize) -> Self {
        self.max_fan_in = max_fan_in.max(2);
        self
    }

    /// Adds one record, spilling the buffer first if the record would exceed the budget.
    /// A single record larger than the budget is never buffered: it is written straight
    /// from `value` to a run of its own, so it is never held twice.
    pub fn push(&mut self, key: &[u8], value: &[u8]) -> io::Result<()> {
        self.push_sized(key, &[value], value.len())
    }

    /// [`ExternalSorter::push`] of a value given as the concatenation of `parts`, which
    /// saves the caller from assembling (copying) a large value first.
    pub fn push_parts(&mut self, key: &[u8], parts: &[&[u8]]) -> io::Result<()> {
        self.push_sized(key, parts, parts.iter().map(|part| part.len()).sum())
    }

    /// The one body of both pushes, inlined into each (the hot path is `push`).
    #[inline(always)]
    fn push_sized(&mut self, key: &[u8], parts: &[&[u8]], value_len: usize) -> io::Result<()> {
        let incoming = Batch::cost(key.len(), value_len);
        if incoming > self.options.memory_budget {
            return self.push_alone(key, parts);
        }
        if !self.batch.is_empty() && self.batch.bytes() + incoming > self.options.memory_budget {
            self.spill()?;
        }
        self.batch.push(key, parts, value_len);
        self.records += 1;
        Ok(())
    }

    /// Writes a record larger than the whole budget to a run of its own, straight from
    /// the caller's buffers.
    #[cold]
    fn push_alone(&mut self, key: &[u8], parts: &[&[u8]]) -> io::Result<()> {
        let mut writer = RunWriter::create(&self.options.scratch_dir)?;
        writer.write_parts(key, parts)?;
        self.add_run(0, writer.finish()?)?;
        self.spills += 1;
        self.records += 1;
        Ok(())
    }

    /// Records pushed so far.
    pub fn len(&self) -> u64 {
        self.records
    }

    /// Whether nothing was pushed.
    pub fn is_empty(&self) -> bool {
        self.records == 0
    }

    /// Runs written to scratch so far (0 means everything fit in memory).
    pub fn runs_spilled(&self) -> u64 {
        self.spills
    }

    /// Sorts what is buffered and starts the merge.
    pub fn finish(mut self) -> io::Result<SortedRecords> {
        self.batch.sort();
        let mut runs: Vec<Run> = self.levels.drain(..).flatten().collect();
        if runs.is_empty() {
            return Ok(SortedRecords {
                inner: Records::Memory {
                    batch: self.batch,
                    consumed: 0,
                },
            });
        }
        // Leave one slot of the final merge for the in-memory batch.
        while runs.len() >= self.max_fan_in {
            let group: Vec<Run> = runs.drain(..self.max_fan_in).collect();
            runs.push(self.merge_runs(group)?);
        }
        let mut sources: Vec<Source> = runs.into_iter().map(Source::run).collect();
        if !self.batch.is_empty() {
            sources.push(Source::Memory {
                batch: self.batch,
                next: 0,
            });
        }
        Ok(SortedRecords {
            inner: Records::Merged(Merger::new(sources)?),
        })
    }

    fn spill(&mut self) -> io::Result<()> {
        self.batch.sort();
        let mut writer = RunWriter::create(&self.options.scratch_dir)?;
        for slot in &self.batch.index {
            writer.write(self.batch.key(slot), self.batch.value(slot))?;
        }
        self.add_run(0, writer.finish()?)?;
        self.batch.clear();
        self.spills += 1;
        Ok(())
    }

    /// Files a run at `level`, merging a full level into the next one up.
    fn add_run(&mut self, level: usize, run: Run) -> io::Result<()> {
        let mut level = level;
        let mut run = run;
        loop {
            if self.levels.len() <= level {
                self.levels.resize_with(level + 1, Vec::new);
            }
            self.levels[level].push(run);
            if self.levels[level].len() < self.max_fan_in {
                return Ok(());
            }
            let full = std::mem::take(&mut self.levels[level]);
            run = self.merge_runs(full)?;
            level += 1;
        }
    }

    /// Merges `runs` into one. Large values are copied from run to run in chunks,
    /// never read into memory whole.
    fn merge_runs(&self, runs: Vec<Run>) -> io::Result<Run> {
        let sources = runs.into_iter().map(Source::run).collect();
        let mut merger = Merger::new(sources)?;
        let mut writer = RunWriter::create(&self.options.scratch_dir)?;
        while merger.advance()? {
            let (key, value_len) = merger.current_head().unwrap_or_default();
            writer.begin(key, value_len)?;
            merger.copy_current_value(&mut |chunk| writer.out.write_all(chunk))?;
        }
        writer.finish()
    }
}

/// The sorted records: a lending iterator (each record is valid until the next call).
///
/// [`SortedRecords::next`] and [`SortedRecords::advance`] read each record's value into
/// memory (one value at a time, whatever its size). [`SortedRecords::advance_unread`]
/// does not: with [`SortedRecords::current_head`] and
/// [`SortedRecords::copy_current_value`] a consumer can write the records out while a
/// large value stays on disk and passes through in chunks.
pub struct SortedRecords {
    inner: Records,
}

enum Records {
    /// Nothing was spilled: records are read straight out of the sorted batch.
    Memory {
        batch: Batch,
        /// One past the current record's index (0: before the first).
        consumed: usize,
    },
    Merged(Merger),
}

impl SortedRecords {
    /// The next record in `(key, value)` order, or `None` after the last.
    #[expect(
        clippy::should_implement_trait,
        reason = "a lending iterator: records borrow the merge buffers, which Iterator cannot express"
    )]
    pub fn next(&mut self) -> io::Result<Option<(&[u8], &[u8])>> {
        self.advance()?;
        Ok(self.current())
    }

    /// Moves to the next record and reads its value; `false` after the last.
    ///
    /// With [`SortedRecords::current`] this is `next` split in two, for loops that skip
    /// some records and return a borrow of another: the borrow checker rejects that
    /// with `next`, because the skipped record's borrow would have to outlive the loop.
    #[inline]
    pub fn advance(&mut self) -> io::Result<bool> {
        match &mut self.inner {
            Records::Memory { batch, consumed } => Ok(batch.step(consumed)),
            Records::Merged(merger) => merger.advance_and_read(),
        }
    }

    /// Moves to the next record without reading a large value into memory; `false`
    /// after the last. [`SortedRecords::current`] is then `None` for a record whose
    /// value is still on disk: use [`SortedRecords::current_head`] and
    /// [`SortedRecords::copy_current_value`].
    pub fn advance_unread(&mut self) -> io::Result<bool> {
        match &mut self.inner {
            Records::Memory { batch, consumed } => Ok(batch.step(consumed)),
            Records::Merged(merger) => merger.advance(),
        }
    }

    /// The record [`SortedRecords::advance`] moved to; `None` before the first call,
    /// after the last record, and while the value is unread (see
    /// [`SortedRecords::advance_unread`]).
    #[inline]
    pub fn current(&self) -> Option<(&[u8], &[u8])> {
        match &self.inner {
            Records::Memory { batch, consumed } => {
                let slot = batch.index.get(consumed.checked_sub(1)?)?;
                Some((batch.key(slot), batch.value(slot)))
            }
            Records::Merged(merger) => merger.current(),
        }
    }

    /// The current record's key and value length, read or not.
    pub fn current_head(&self) -> Option<(&[u8], u64)> {
        match &self.inner {
            Records::Memory { .. } => self.current().map(|(key, value)| (key, value.len() as u64)),
            Records::Merged(merger) => merger.current_head(),
        }
    }

    /// Hands the current record's value to `each` in order, in chunks of at most
    /// [`VALUE_CHUNK`] bytes when it is still on disk (in one piece otherwise);
    /// nothing when there is no current record.
    pub fn copy_current_value(
        &mut self,
        each: &mut dyn FnMut(&[u8]) -> io::Result<()>,
    ) -> io::Result<()> {
        match &mut self.inner {
            Records::Memory { .. } => match self.current() {
                Some((_, value)) => each(value),
                None => Ok(()),
            },
            Records::Merged(merger) => merger.copy_current_value(each),
        }
    }
}

/// One step of [`merge_join`]: a record of the left stream whose key the right one
/// lacks, the reverse, or one record of each under the same key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Joined<'a> {
    /// Only the left stream has this `(key, value)`.
    Left(&'a [u8], &'a [u8]),
    /// Only the right stream has this `(key, value)`.
    Right(&'a [u8], &'a [u8]),
    /// Both have `key`, with these values.
    Both {
        /// The shared key.
        key: &'a [u8],
        /// The left stream's value.
        left: &'a [u8],
        /// The right stream's value.
        right: &'a [u8],
    },
}

/// Walks two streams sorted by key side by side and hands every record to `each`,
/// paired with the other stream's record when the keys are equal.
///
/// Equal keys pair up one to one in stream order, so a key one side repeats more
/// often comes out paired first and alone after: counting the unpaired records gives
/// a multiset difference, and a repeat shows as an unpaired record. This is the one
/// join every comparison of two sorted listings needs; written once, the
/// end-of-stream cases cannot drift apart between them.
pub fn merge_join(
    left: &mut SortedRecords,
    right: &mut SortedRecords,
    mut each: impl FnMut(Joined<'_>),
) -> io::Result<()> {
    merge_join_until(left, right, |joined| {
        each(joined);
        ControlFlow::Continue(())
    })
    .map(|_| ())
}

/// [`merge_join`] that stops at the first step `each` breaks on (what a check for
/// equal listings needs: the first difference settles it), reading nothing further;
/// `Break` says it stopped early.
pub fn merge_join_until(
    left: &mut SortedRecords,
    right: &mut SortedRecords,
    mut each: impl FnMut(Joined<'_>) -> ControlFlow<()>,
) -> io::Result<ControlFlow<()>> {
    left.advance()?;
    right.advance()?;
    loop {
        let (joined, step_left, step_right) = match (left.current(), right.current()) {
            (None, None) => return Ok(ControlFlow::Continue(())),
            (Some((key, value)), None) => (Joined::Left(key, value), true, false),
            (None, Some((key, value))) => (Joined::Right(key, value), false, true),
            (Some((lk, lv)), Some((rk, rv))) => match lk.cmp(rk) {
                Ordering::Less => (Joined::Left(lk, lv), true, false),
                Ordering::Greater => (Joined::Right(rk, rv), false, true),
                Ordering::Equal => (
                    Joined::Both {
                        key: lk,
                        left: lv,
                        right: rv,
                    },
                    true,
                    true,
                ),
            },
        };
        if each(joined).is_break() {
            return Ok(ControlFlow::Break(()));
        }
        if step_left {
            left.advance()?;
        }
        if step_right {
            right.advance()?;
        }
    }
}

/// Records kept in arrival order in an anonymous scratch file, for input that must be
/// read more than once: [`SortedRecords`] can be read only once. Nothing but the I/O
/// buffer stays in memory, however many records there are.
pub struct RecordLog {
    writer: RunWriter,
}

impl RecordLog {
    /// An empty log in a new anonymous file under `scratch_dir` (created if missing).
    pub fn create(scratch_dir: &std::path::Path) -> io::Result<Self> {
        Ok(RecordLog {
            writer: RunWriter::create(scratch_dir)?,
        })
    }

    /// Appends one record.
    pub fn append(&mut self, key: &[u8], value: &[u8]) -> io::Result<()> {
        self.writer.write(key, value)
    }

    /// Flushes the file; the records can then be replayed any number of times.
    pub fn finish(self) -> io::Result<WrittenLog> {
        Ok(WrittenLog {
            run: self.writer.finish()?,
        })
    }
}

/// A finished [`RecordLog`].
pub struct WrittenLog {
    run: Run,
}

impl WrittenLog {
    /// Records in the log.
    pub fn len(&self) -> u64 {
        self.run.records
    }

    /// Whether the log holds no record.
    pub fn is_empty(&self) -> bool {
        self.run.records == 0
    }

    /// Reads the records from the first, in the order they were appended. Borrowing
    /// the log mutably keeps two replays from sharing (and moving) one file offset.
    pub fn replay(&mut self) -> io::Result<LogReplay<'_>> {
        self.run.file.seek(SeekFrom::Start(0))?;
        Ok(LogReplay {
            reader: BufReader::with_capacity(RUN_IO_BUFFER, &self.run.file),
            remaining: self.run.records,
            key: Vec::new(),
            value: Vec::new(),
        })
    }
}

/// One pass over a [`WrittenLog`]: a lending iterator, like [`SortedRecords`].
pub struct LogReplay<'a> {
    reader: BufReader<&'a File>,
    remaining: u64,
    key: Vec<u8>,
    value: Vec<u8>,
}

impl LogReplay<'_> {
    /// The next record in append order, or `None` after the last.
    #[expect(
        clippy::should_implement_trait,
        reason = "a lending iterator: records borrow the read buffers, which Iterator cannot express"
    )]
    pub fn next(&mut self) -> io::Result<Option<(&[u8], &[u8])>> {
        if self.remaining == 0 {
            return Ok(None);
        }
        self.key.clear();
        self.value.clear();
        read_run_field(&mut self.reader, &mut self.key)?;
        read_run_field(&mut self.reader, &mut self.value)?;
        self.remaining -= 1;
        Ok(Some((&self.key, &self.value)))
    }
}

/// Where a record lives in the arena.
#[derive(Debug, Clone, Copy)]
struct Slot {
    start: usize,
    key_len: usize,
    value_len: usize,
}

/// Records packed into one allocation, so buffering costs no allocation per record and
/// the budget is measured exactly.
#[derive(Default)]
struct Batch {
    data: Vec<u8>,
    index: Vec<Slot>,
}

impl Batch {
    fn cost(key_len: usize, value_len: usize) -> usize {
        key_len
            .saturating_add(value_len)
            .saturating_add(std::mem::size_of::<Slot>())
    }

    fn bytes(&self) -> usize {
        self.data.len() + self.index.len() * std::mem::size_of::<Slot>()
    }

    fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Appends a record whose value is `parts` concatenated (`value_len` bytes).
    #[inline]
    fn push(&mut self, key: &[u8], parts: &[&[u8]], value_len: usize) {
        self.index.push(Slot {
            start: self.data.len(),
            key_len: key.len(),
            value_len,
        });
        self.data.extend_from_slice(key);
        for part in parts {
            self.data.extend_from_slice(part);
        }
    }

    fn key(&self, slot: &Slot) -> &[u8] {
        &self.data[slot.start..slot.start + slot.key_len]
    }

    fn value(&self, slot: &Slot) -> &[u8] {
        let start = slot.start + slot.key_len;
        &self.data[start..start + slot.value_len]
    }

    fn sort(&mut self) {
        let Batch { data, index } = self;
        let record = |slot: &Slot| {
            let (key, value) = data[slot.start..].split_at(slot.key_len);
            (key, &value[..slot.value_len])
        };
        // Equal (key, value) pairs are indistinguishable, so stability buys nothing.
        index.sort_unstable_by(|a, b| record(a).cmp(&record(b)));
    }

    fn clear(&mut self) {
        self.data.clear();
        self.index.clear();
    }

    /// Moves `consumed` (one past the current record) on; `false` after the last.
    #[inline]
    fn step(&self, consumed: &mut usize) -> bool {
        *consumed = (*consumed + 1).min(self.index.len() + 1);
        *consumed <= self.index.len()
    }
}

/// A spilled, sorted run: an anonymous temporary file rewound to its start.
struct Run {
    file: File,
    records: u64,
    /// Its length in bytes.
    bytes: u64,
}

struct RunWriter {
    out: BufWriter<File>,
    records: u64,
    bytes: u64,
}

impl RunWriter {
    fn create(scratch_dir: &std::path::Path) -> io::Result<Self> {
        std::fs::create_dir_all(scratch_dir)?;
        let file = tempfile::tempfile_in(scratch_dir)?;
        Ok(RunWriter {
            out: BufWriter::with_capacity(RUN_IO_BUFFER, file),
            records: 0,
            bytes: 0,
        })
    }

    fn write(&mut self, key: &[u8], value: &[u8]) -> io::Result<()> {
        self.begin(key, value.len() as u64)?;
        self.out.write_all(value)
    }

    /// Writes a record whose value is `parts` concatenated, straight from them.
    fn write_parts(&mut self, key: &[u8], parts: &[&[u8]]) -> io::Result<()> {
        self.begin(key, parts.iter().map(|part| part.len() as u64).sum())?;
        parts.iter().try_for_each(|part| self.out.write_all(part))
    }

    /// Writes a record's key and value length; exactly `value_len` bytes of value must
    /// follow on `out`.
    fn begin(&mut self, key: &[u8], value_len: u64) -> io::Result<()> {
        self.out.write_all(&(key.len() as u64).to_le_bytes())?;
        self.out.write_all(key)?;
        self.out.write_all(&value_len.to_le_bytes())?;
        self.records += 1;
        self.bytes += 16 + key.len() as u64 + value_len;
        Ok(())
    }

    fn finish(self) -> io::Result<Run> {
        let mut file = self
            .out
            .into_inner()
            .map_err(io::IntoInnerError::into_error)?;
        file.seek(SeekFrom::Start(0))?;
        Ok(Run {
            file,
            records: self.records,
            bytes: self.bytes,
        })
    }
}

/// Values up to this size are read with their record during a merge. Larger ones stay
/// in their run file until the record's turn comes (then they are read, or copied out
/// in chunks), so a merge of any fan-in holds at most one large value.
const INLINE_VALUE: u64 = RUN_IO_BUFFER as u64;
/// Chunk in which values that stay on disk are copied out and compared.
pub const VALUE_CHUNK: usize = 256 * 1024;
/// A value buffer that grew past this is released once its record is done, rather
/// than kept (resident) for the next record.
const KEEP_VALUE_BUFFER: usize = 1 << 20;

/// One input of a merge.
enum Source {
    Run {
        reader: BufReader<File>,
        remaining: u64,
        /// File offset of the reader's next byte.
        offset: u64,
        /// The run's length.
        bytes: u64,
    },
    Memory {
        batch: Batch,
        /// One past the current record's index.
        next: usize,
    },
}

impl Source {
    fn run(run: Run) -> Self {
        Source::Run {
            reader: BufReader::with_capacity(RUN_IO_BUFFER, run.file),
            remaining: run.records,
            offset: 0,
            bytes: run.bytes,
        }
    }
}

/// Reads a run's `LE64` length field.
fn read_run_len(reader: &mut impl Read) -> io::Result<u64> {
    let mut len = [0u8; 8];
    reader.read_exact(&mut len)?;
    Ok(u64::from_le_bytes(len))
}

/// Appends the next `len` bytes to `dst`. Run files are ours, but a damaged scratch
/// disk must still surface as an error, not a huge allocation: `dst` grows with the
/// data.
fn read_run_bytes(reader: &mut impl Read, dst: &mut Vec<u8>, len: u64) -> io::Result<()> {
    let got = reader.take(len).read_to_end(dst)? as u64;
    if got != len {
        return Err(run_truncated(len, got));
    }
    Ok(())
}

/// Reads one `LE64 len ‖ bytes` field; returns the bytes consumed.
fn read_run_field(reader: &mut impl Read, dst: &mut Vec<u8>) -> io::Result<u64> {
    let len = read_run_len(reader)?;
    read_run_bytes(reader, dst, len)?;
    Ok(8 + len)
}

#[cold]
fn run_truncated(len: u64, got: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        format!("sort run file truncated: record field of {len} bytes has {got}"),
    )
}

/// A merge input and its current record.
struct Cursor {
    source: Source,
    /// A run's current key.
    key: Vec<u8>,
    /// A run's current value, unless it is still on disk.
    value: Vec<u8>,
    value_len: u64,
    /// Where a run's current value starts in its file while it is not read.
    value_at: Option<u64>,
}

impl Cursor {
    fn new(source: Source) -> Self {
        Cursor {
            source,
            key: Vec::new(),
            value: Vec::new(),
            value_len: 0,
            value_at: None,
        }
    }

    /// Moves to the source's next record; `false` when it is done. A run's value is
    /// read only when it is small.
    fn refill(&mut self) -> io::Result<bool> {
        match &mut self.source {
            Source::Memory { batch, next } => {
                let Some(slot) = batch.index.get(*next) else {
                    return Ok(false);
                };
                self.value_len = slot.value_len as u64;
                *next += 1;
                Ok(true)
            }
            Source::Run {
                reader,
                remaining,
                offset,
                bytes,
            } => {
                if *remaining == 0 {
                    return Ok(false);
                }
                self.key.clear();
                *offset += read_run_field(reader, &mut self.key)?;
                let len = read_run_len(reader)?;
                *offset += 8;
                if self.value.capacity() > KEEP_VALUE_BUFFER {
                    self.value = Vec::new();
                } else {
                    self.value.clear();
                }
                if len <= INLINE_VALUE {
                    read_run_bytes(reader, &mut self.value, len)?;
                    self.value_at = None;
                } else {
                    let left = bytes.saturating_sub(*offset);
                    if len > left {
                        return Err(run_truncated(len, left));
                    }
                    let skip = i64::try_from(len).map_err(|_| run_truncated(len, left))?;
                    reader.seek_relative(skip)?;
                    self.value_at = Some(*offset);
                }
                self.value_len = len;
                *offset += len;
                *remaining -= 1;
                Ok(true)
            }
        }
    }

    fn key(&self) -> &[u8] {
        match &self.source {
            Source::Memory { batch, next } => batch
                .index
                .get(next.wrapping_sub(1))
                .map_or(&[], |slot| batch.key(slot)),
            Source::Run { .. } => &self.key,
        }
    }

    /// The current value, `None` while it is on disk.
    fn value(&self) -> Option<&[u8]> {
        match &self.source {
            Source::Memory { batch, next } => Some(
                batch
                    .index
                    .get(next.wrapping_sub(1))
                    .map_or(&[], |slot| batch.value(slot)),
            ),
            Source::Run { .. } => self.value_at.is_none().then_some(self.value.as_slice()),
        }
    }

    /// Reads the current value into memory if it is on disk.
    fn read_value(&mut self) -> io::Result<()> {
        if self.value_at.is_none() {
            return Ok(());
        }
        let len = usize::try_from(self.value_len)
            .map_err(|_| io::Error::other("sort run value does not fit in memory"))?;
        // A zeroed allocation of this size is fresh pages: nothing is written twice.
        let mut value = vec![0u8; len];
        self.read_at(0, &mut value)?;
        self.value = value;
        self.value_at = None;
        Ok(())
    }

    /// Fills `buf` with the bytes of the on-disk value from `pos`.
    fn read_at(&self, pos: u64, buf: &mut [u8]) -> io::Result<()> {
        match (&self.source, self.value_at) {
            (Source::Run { reader, .. }, Some(at)) => reader.get_ref().read_exact_at(buf, at + pos),
            _ => Err(io::Error::other("internal: sort value is not on disk")),
        }
    }

    /// `len` bytes of the current value from `pos`: borrowed when it is in memory,
    /// read into `buf` otherwise.
    fn chunk<'a>(&'a self, pos: u64, len: usize, buf: &'a mut Vec<u8>) -> io::Result<&'a [u8]> {
        if let Some(value) = self.value() {
            let start = usize::try_from(pos).unwrap_or(usize::MAX);
            return value
                .get(start..start.saturating_add(len))
                .ok_or_else(|| io::Error::other("internal: sort value chunk out of range"));
        }
        buf.resize(len, 0);
        self.read_at(pos, buf)?;
        Ok(buf)
    }
}

/// Compares two values of which at least one is on disk, a chunk at a time.
fn compare_values(a: &Cursor, b: &Cursor, bufs: &mut [Vec<u8>; 2]) -> io::Result<Ordering> {
    let [buf_a, buf_b] = bufs;
    let common = a.value_len.min(b.value_len);
    let mut pos = 0;
    while pos < common {
        let len = usize::try_from((common - pos).min(VALUE_CHUNK as u64)).unwrap_or(VALUE_CHUNK);
        let ordering = a.chunk(pos, len, buf_a)?.cmp(b.chunk(pos, len, buf_b)?);
        if ordering != Ordering::Equal {
            return Ok(ordering);
        }
        pos += len as u64;
    }
    Ok(a.value_len.cmp(&b.value_len))
}

/// k-way merge over a binary min-heap of cursors ordered by `(key, value, source)`.
/// The current record is the top of the heap: its cursor's buffers are lent to the
/// caller and refilled in place, so there is no allocation per record. Comparing can
/// read from disk (equal keys with a value on disk), so the heap is our own, with a
/// fallible order.
struct Merger {
    cursors: Vec<Cursor>,
    /// Indices of the cursors that have a record; `heap[0]` is the smallest.
    heap: Vec<usize>,
    /// Whether `heap[0]` has been handed out as the current record.
    started: bool,
    /// Buffers for values on disk being compared or copied.
    bufs: [Vec<u8>; 2],
}

impl Merger {
    fn new(sources: Vec<Source>) -> io::Result<Self> {
        let mut merger = Merger {
            cursors: sources.into_iter().map(Cursor::new).collect(),
            heap: Vec::new(),
            started: false,
            bufs: Default::default(),
        };
        for index in 0..merger.cursors.len() {
            if merger.cursors[index].refill()? {
                merger.heap.push(index);
            }
        }
        for pos in (0..merger.heap.len() / 2).rev() {
            merger.sift_down(pos)?;
        }
        Ok(merger)
    }

    /// Refills the source of the record last returned and brings the smallest record
    /// to the top; `false` when every source is done.
    fn advance(&mut self) -> io::Result<bool> {
        if !self.started {
            self.started = true;
        } else if let Some(&top) = self.heap.first() {
            if !self.cursors[top].refill()? {
                self.heap.swap_remove(0);
            }
            self.sift_down(0)?;
        }
        Ok(!self.heap.is_empty())
    }

    fn current_cursor(&self) -> Option<&Cursor> {
        let top = *self.heap.first().filter(|_| self.started)?;
        self.cursors.get(top)
    }

    fn current(&self) -> Option<(&[u8], &[u8])> {
        let cursor = self.current_cursor()?;
        Some((cursor.key(), cursor.value()?))
    }

    fn current_head(&self) -> Option<(&[u8], u64)> {
        let cursor = self.current_cursor()?;
        Some((cursor.key(), cursor.value_len))
    }

    /// [`Merger::advance`], then reads the new current record's value.
    fn advance_and_read(&mut self) -> io::Result<bool> {
        let more = self.advance()?;
        if let Some(&top) = self.heap.first() {
            self.cursors[top].read_value()?;
        }
        Ok(more)
    }

    fn copy_current_value(
        &mut self,
        each: &mut dyn FnMut(&[u8]) -> io::Result<()>,
    ) -> io::Result<()> {
        let Some(&top) = self.heap.first().filter(|_| self.started) else {
            return Ok(());
        };
        let cursor = &self.cursors[top];
        if let Some(value) = cursor.value() {
            return each(value);
        }
        let buf = &mut self.bufs[0];
        let mut pos = 0;
        while pos < cursor.value_len {
            let len = usize::try_from((cursor.value_len - pos).min(VALUE_CHUNK as u64))
                .unwrap_or(VALUE_CHUNK);
            each(cursor.chunk(pos, len, buf)?)?;
            pos += len as u64;
        }
        Ok(())
    }

    /// Whether cursor `a`'s record sorts before cursor `b`'s.
    fn less(&mut self, a: usize, b: usize) -> io::Result<bool> {
        let (x, y) = (&self.cursors[a], &self.cursors[b]);
        let ordering = match x.key().cmp(y.key()) {
            Ordering::Equal => match (x.value(), y.value()) {
                (Some(xv), Some(yv)) => xv.cmp(yv),
                _ => compare_values(x, y, &mut self.bufs)?,
            },
            other => other,
        };
        Ok(ordering.then(a.cmp(&b)) == Ordering::Less)
    }

    fn sift_down(&mut self, mut pos: usize) -> io::Result<()> {
        loop {
            let left = 2 * pos + 1;
            let Some(&left_index) = self.heap.get(left) else {
                return Ok(());
            };
            let mut child = left;
            if let Some(&right_index) = self.heap.get(left + 1)
                && self.less(right_index, left_index)?
            {
                child = left + 1;
            }
            if !self.less(self.heap[child], self.heap[pos])? {
                return Ok(());
            }
            self.heap.swap(pos, child);
            pos = child;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use elastickv_splitmix::SplitMix64 as Rng;

    type Records = Vec<(Vec<u8>, Vec<u8>)>;

    fn random_records(seed: u64, count: usize) -> Records {
        let mut rng = Rng(seed);
        // A small alphabet makes equal keys, shared prefixes and duplicates common.
        (0..count)
            .map(|_| (rng.word(6, &[0, 1, 2]), rng.word(3, &[0, 1])))
            .collect()
    }

    fn sort_all(records: &[(Vec<u8>, Vec<u8>)], budget: usize, fan_in: usize) -> (Records, u64) {
        let scratch = tempfile::tempdir().unwrap();
        let mut sorter = ExternalSorter::new(SortOptions {
            memory_budget: budget,
            scratch_dir: scratch.path().to_path_buf(),
        })
        .with_max_fan_in(fan_in);
        for (key, value) in records {
            sorter.push(key, value).unwrap();
        }
        assert_eq!(sorter.len(), records.len() as u64);
        let spills = sorter.runs_spilled();
        let mut sorted = sorter.finish().unwrap();
        let mut out = Vec::new();
        while let Some((key, value)) = sorted.next().unwrap() {
            out.push((key.to_vec(), value.to_vec()));
        }
        assert_eq!(sorted.next().unwrap(), None, "stays exhausted");
        (out, spills)
    }

    #[test]
    fn tiny_budget_matches_in_memory_sort() {
        for seed in 0..20 {
            let records = random_records(seed, 500);
            let mut expected = records.clone();
            expected.sort();
            for (budget, fan_in) in [(1, 2), (64, 3), (200, 4), (1000, 64), (usize::MAX, 64)] {
                let (got, spills) = sort_all(&records, budget, fan_in);
                assert_eq!(got, expected, "seed {seed} budget {budget} fan-in {fan_in}");
                if budget == usize::MAX {
                    assert_eq!(spills, 0);
                } else {
                    assert!(spills > 0);
                }
            }
        }
    }

    fn sorted(records: &[(Vec<u8>, Vec<u8>)], budget: usize) -> SortedRecords {
        let mut sorter = ExternalSorter::new(SortOptions {
            memory_budget: budget,
            scratch_dir: std::env::temp_dir(),
        })
        .with_max_fan_in(3);
        for (key, value) in records {
            sorter.push(key, value).unwrap();
        }
        sorter.finish().unwrap()
    }

    /// Every record comes out once, in key order, and a key pairs as often as the
    /// rarer side has it; whether the streams spilled changes nothing.
    #[test]
    fn merge_join_pairs_equal_keys_one_to_one() {
        for seed in 0..10 {
            let (a, b) = (random_records(seed, 300), random_records(seed + 100, 200));
            for budget in [usize::MAX, 64] {
                let (mut left, mut right) = (sorted(&a, budget), sorted(&b, budget));
                let (mut lefts, mut rights, mut keys) = (Vec::new(), Vec::new(), Vec::new());
                let mut pairs: std::collections::BTreeMap<Vec<u8>, usize> = Default::default();
                merge_join(&mut left, &mut right, |joined| {
                    let key = match joined {
                        Joined::Left(key, value) => {
                            lefts.push((key.to_vec(), value.to_vec()));
                            key
                        }
                        Joined::Right(key, value) => {
                            rights.push((key.to_vec(), value.to_vec()));
                            key
                        }
                        Joined::Both { key, left, right } => {
                            lefts.push((key.to_vec(), left.to_vec()));
                            rights.push((key.to_vec(), right.to_vec()));
                            *pairs.entry(key.to_vec()).or_default() += 1;
                            key
                        }
                    };
                    keys.push(key.to_vec());
                })
                .unwrap();
                assert!(keys.is_sorted(), "seed {seed}");
                let (mut want_a, mut want_b) = (a.clone(), b.clone());
                want_a.sort();
                want_b.sort();
                assert_eq!(lefts, want_a, "seed {seed} budget {budget}");
                assert_eq!(rights, want_b, "seed {seed} budget {budget}");
                let count = |records: &Records, key: &[u8]| {
                    records.iter().filter(|(k, _)| k == key).count()
                };
                for key in keys.iter() {
                    let want = count(&a, key).min(count(&b, key));
                    assert_eq!(pairs.get(key).copied().unwrap_or(0), want, "{key:?}");
                }
            }
        }
    }

    /// A break ends the join at that step: nothing after it is handed out.
    #[test]
    fn merge_join_until_stops_at_the_first_break() {
        let records = |keys: &[&str]| -> Records {
            keys.iter()
                .map(|k| (k.as_bytes().to_vec(), Vec::new()))
                .collect()
        };
        let (a, b) = (records(&["a", "b", "d", "e"]), records(&["a", "c", "d"]));
        let (mut left, mut right) = (sorted(&a, usize::MAX), sorted(&b, usize::MAX));
        let mut seen = Vec::new();
        let flow = merge_join_until(&mut left, &mut right, |joined| {
            let (key, flow) = match joined {
                Joined::Both { key, .. } => (key, ControlFlow::Continue(())),
                Joined::Left(key, _) | Joined::Right(key, _) => (key, ControlFlow::Break(())),
            };
            seen.push(key.to_vec());
            flow
        })
        .unwrap();
        assert_eq!(flow, ControlFlow::Break(()));
        assert_eq!(seen, [b"a".to_vec(), b"b".to_vec()]);
        let (mut left, mut right) = (sorted(&a, usize::MAX), sorted(&a, usize::MAX));
        let flow = merge_join_until(&mut left, &mut right, |joined| match joined {
            Joined::Both { .. } => ControlFlow::Continue(()),
            _ => ControlFlow::Break(()),
        })
        .unwrap();
        assert_eq!(flow, ControlFlow::Continue(()));
    }

    #[test]
    fn merge_join_of_nothing_calls_nothing() {
        let (mut left, mut right) = (sorted(&[], 1), sorted(&[], 1));
        merge_join(&mut left, &mut right, |joined| panic!("{joined:?}")).unwrap();
    }

    /// The pattern `advance`/`current` exists for: skip some records in a loop and
    /// return a borrow of another.
    fn first_odd_value(records: &mut SortedRecords) -> io::Result<Option<&[u8]>> {
        loop {
            if !records.advance()? {
                return Ok(None);
            }
            let even = records.current().is_some_and(|(_, v)| v[0] % 2 == 0);
            if even {
                continue;
            }
            return Ok(records.current().map(|(_, v)| v));
        }
    }

    #[test]
    fn advance_and_current_split_next() {
        for budget in [1, usize::MAX] {
            let scratch = tempfile::tempdir().unwrap();
            let mut sorter = ExternalSorter::new(SortOptions {
                memory_budget: budget,
                scratch_dir: scratch.path().to_path_buf(),
            });
            for (key, value) in [(b"c", 5u8), (b"a", 2), (b"b", 4), (b"d", 7)] {
                sorter.push(key, &[value]).unwrap();
            }
            let mut records = sorter.finish().unwrap();
            assert_eq!(records.current(), None, "nothing before the first advance");
            assert_eq!(first_odd_value(&mut records).unwrap(), Some(&[5u8][..]));
            assert_eq!(records.current(), Some((&b"c"[..], &[5u8][..])));
            assert_eq!(first_odd_value(&mut records).unwrap(), Some(&[7u8][..]));
            assert_eq!(first_odd_value(&mut records).unwrap(), None);
            assert!(!records.advance().unwrap(), "stays exhausted");
            assert_eq!(records.current(), None);
        }
    }

    #[test]
    fn empty_input_yields_nothing() {
        assert!(sort_all(&[], 1, 2).0.is_empty());
    }

    #[test]
    fn open_runs_stay_within_fan_in_per_level() {
        let scratch = tempfile::tempdir().unwrap();
        let mut sorter = ExternalSorter::new(SortOptions {
            memory_budget: 1,
            scratch_dir: scratch.path().to_path_buf(),
        })
        .with_max_fan_in(3);
        for i in 0u32..100 {
            sorter.push(&i.to_be_bytes(), b"").unwrap();
            assert!(sorter.levels.iter().all(|level| level.len() < 3));
        }
        assert!(sorter.levels.len() >= 3, "merges cascaded");
        let mut sorted = sorter.finish().unwrap();
        let mut expected = 0u32;
        while let Some((key, _)) = sorted.next().unwrap() {
            assert_eq!(key, expected.to_be_bytes());
            expected += 1;
        }
        assert_eq!(expected, 100);
    }

    #[test]
    fn record_larger_than_budget_is_accepted() {
        let records = vec![(vec![9u8; 100], vec![1u8; 100]), (vec![1u8], vec![])];
        let (got, _) = sort_all(&records, 10, 2);
        assert_eq!(got[0].0, vec![1u8]);
        assert_eq!(got[1].1.len(), 100);
    }

    /// Values larger than a merge reads with its record (and than a comparison chunk):
    /// equal keys whose values differ only past the first chunk, or only in length,
    /// merged through several levels, give the in-memory order; streamed out
    /// unread, they give the same bytes.
    #[test]
    fn large_values_stay_on_disk_and_keep_their_order() {
        let big = VALUE_CHUNK + 1000;
        let value = |fill: u8, tweak_at: usize, tweak: u8, len: usize| {
            let mut v = vec![fill; len];
            if let Some(b) = v.get_mut(tweak_at) {
                *b = tweak;
            }
            v
        };
        let records: Records = vec![
            (b"k".to_vec(), value(7, big - 10, 2, big)),
            (b"a".to_vec(), value(1, 0, 1, 10)),
            (b"k".to_vec(), value(7, big - 10, 1, big)),
            (b"k".to_vec(), value(7, big - 10, 1, big - 1)),
            (b"k".to_vec(), value(7, 0, 7, 100_000)),
            (b"k".to_vec(), value(7, big - 10, 1, big)),
            (b"z".to_vec(), value(9, 5, 0, big * 2)),
            (b"k".to_vec(), b"small".to_vec()),
            (b"b".to_vec(), value(3, 70_000, 4, 80_000)),
        ];
        let mut expected = records.clone();
        expected.sort();
        for (budget, fan_in) in [(1, 2), (1, 3), (150_000, 64), (usize::MAX, 64)] {
            assert_eq!(
                sort_all(&records, budget, fan_in).0,
                expected,
                "budget {budget}"
            );
            let scratch = tempfile::tempdir().unwrap();
            let mut sorter = ExternalSorter::new(SortOptions {
                memory_budget: budget,
                scratch_dir: scratch.path().to_path_buf(),
            })
            .with_max_fan_in(fan_in);
            for (key, value) in &records {
                let (head, tail) = value.split_at(value.len() / 3);
                sorter.push_parts(key, &[head, &[], tail]).unwrap();
            }
            let mut sorted = sorter.finish().unwrap();
            let mut streamed = Vec::new();
            while sorted.advance_unread().unwrap() {
                let (key, len) = sorted.current_head().unwrap();
                let key = key.to_vec();
                let mut value = Vec::new();
                let mut largest_chunk = 0;
                sorted
                    .copy_current_value(&mut |chunk| {
                        largest_chunk = largest_chunk.max(chunk.len());
                        value.extend_from_slice(chunk);
                        Ok(())
                    })
                    .unwrap();
                assert_eq!(value.len() as u64, len);
                if sorted.current().is_none() {
                    assert!(largest_chunk <= VALUE_CHUNK, "streamed in chunks");
                }
                streamed.push((key, value));
            }
            assert_eq!(streamed, expected, "streamed, budget {budget}");
        }
    }

    /// A record larger than the whole budget is never buffered: it is a run of its
    /// own, and what was buffered before it stays buffered.
    #[test]
    fn a_record_over_the_budget_is_a_run_of_its_own() {
        let scratch = tempfile::tempdir().unwrap();
        let mut sorter = ExternalSorter::new(SortOptions {
            memory_budget: 1000,
            scratch_dir: scratch.path().to_path_buf(),
        });
        sorter.push(b"b", b"small").unwrap();
        sorter.push(b"a", &[5u8; 2000]).unwrap();
        assert_eq!(sorter.runs_spilled(), 1);
        assert_eq!(
            sorter.batch.index.len(),
            1,
            "the small record stays buffered"
        );
        sorter.push(b"c", b"small").unwrap();
        assert_eq!(sorter.runs_spilled(), 1);
        let mut sorted = sorter.finish().unwrap();
        let mut keys = Vec::new();
        while let Some((key, _)) = sorted.next().unwrap() {
            keys.push(key.to_vec());
        }
        assert_eq!(keys, [b"a", b"b", b"c"]);
    }

    #[test]
    fn record_log_replays_in_append_order() {
        let scratch = tempfile::tempdir().unwrap();
        let mut log = RecordLog::create(&scratch.path().join("log")).unwrap();
        let records: [(&[u8], &[u8]); 4] = [(b"b", b"1"), (b"a", b""), (b"", b"2"), (b"b", b"0")];
        for (key, value) in records {
            log.append(key, value).unwrap();
        }
        let mut log = log.finish().unwrap();
        assert_eq!(log.len(), 4);
        for _ in 0..2 {
            let mut replay = log.replay().unwrap();
            let mut got = Vec::new();
            while let Some((key, value)) = replay.next().unwrap() {
                got.push((key.to_vec(), value.to_vec()));
            }
            assert_eq!(replay.next().unwrap(), None, "stays exhausted");
            let want: Vec<_> = records
                .iter()
                .map(|(k, v)| (k.to_vec(), v.to_vec()))
                .collect();
            assert_eq!(got, want);
        }
        let names = std::fs::read_dir(scratch.path().join("log"))
            .unwrap()
            .count();
        assert_eq!(names, 0, "the log file is anonymous");
    }

    #[test]
    fn runs_are_anonymous_files() {
        let scratch = tempfile::tempdir().unwrap();
        let mut sorter = ExternalSorter::new(SortOptions {
            memory_budget: 1,
            scratch_dir: scratch.path().join("nested"),
        });
        for i in 0u8..10 {
            sorter.push(&[i], b"v").unwrap();
        }
        assert!(sorter.runs_spilled() > 0);
        let entries = std::fs::read_dir(scratch.path().join("nested"))
            .unwrap()
            .count();
        assert_eq!(entries, 0, "nothing named is left behind");
    }
}

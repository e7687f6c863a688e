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
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
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
    /// A single record larger than the budget is still accepted.
    pub fn push(&mut self, key: &[u8], value: &[u8]) -> io::Result<()> {
        let incoming = Batch::cost(key, value);
        if !self.batch.is_empty() && self.batch.bytes() + incoming > self.options.memory_budget {
            self.spill()?;
        }
        self.batch.push(key, value);
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

    fn merge_runs(&self, runs: Vec<Run>) -> io::Result<Run> {
        let sources = runs.into_iter().map(Source::run).collect();
        let mut merger = Merger::new(sources)?;
        let mut writer = RunWriter::create(&self.options.scratch_dir)?;
        while let Some((key, value)) = merger.next()? {
            writer.write(key, value)?;
        }
        writer.finish()
    }
}

/// The sorted records: a lending iterator (each record is valid until the next call).
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

    /// Moves to the next record; `false` after the last.
    ///
    /// With [`SortedRecords::current`] this is `next` split in two, for loops that skip
    /// some records and return a borrow of another: the borrow checker rejects that
    /// with `next`, because the skipped record's borrow would have to outlive the loop.
    pub fn advance(&mut self) -> io::Result<bool> {
        match &mut self.inner {
            Records::Memory { batch, consumed } => {
                *consumed = (*consumed + 1).min(batch.index.len() + 1);
                Ok(*consumed <= batch.index.len())
            }
            Records::Merged(merger) => merger.advance(),
        }
    }

    /// The record [`SortedRecords::advance`] moved to; `None` before the first call
    /// and after the last record.
    pub fn current(&self) -> Option<(&[u8], &[u8])> {
        match &self.inner {
            Records::Memory { batch, consumed } => {
                let slot = batch.index.get(consumed.checked_sub(1)?)?;
                Some((batch.key(slot), batch.value(slot)))
            }
            Records::Merged(merger) => merger.current(),
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
    fn cost(key: &[u8], value: &[u8]) -> usize {
        key.len() + value.len() + std::mem::size_of::<Slot>()
    }

    fn bytes(&self) -> usize {
        self.data.len() + self.index.len() * std::mem::size_of::<Slot>()
    }

    fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    fn push(&mut self, key: &[u8], value: &[u8]) {
        self.index.push(Slot {
            start: self.data.len(),
            key_len: key.len(),
            value_len: value.len(),
        });
        self.data.extend_from_slice(key);
        self.data.extend_from_slice(value);
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
}

/// A spilled, sorted run: an anonymous temporary file rewound to its start.
struct Run {
    file: File,
    records: u64,
}

struct RunWriter {
    out: BufWriter<File>,
    records: u64,
}

impl RunWriter {
    fn create(scratch_dir: &std::path::Path) -> io::Result<Self> {
        std::fs::create_dir_all(scratch_dir)?;
        let file = tempfile::tempfile_in(scratch_dir)?;
        Ok(RunWriter {
            out: BufWriter::with_capacity(RUN_IO_BUFFER, file),
            records: 0,
        })
    }

    fn write(&mut self, key: &[u8], value: &[u8]) -> io::Result<()> {
        self.out.write_all(&(key.len() as u64).to_le_bytes())?;
        self.out.write_all(key)?;
        self.out.write_all(&(value.len() as u64).to_le_bytes())?;
        self.out.write_all(value)?;
        self.records += 1;
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
        })
    }
}

/// One input of a merge.
enum Source {
    Run {
        reader: BufReader<File>,
        remaining: u64,
    },
    Memory {
        batch: Batch,
        next: usize,
    },
}

impl Source {
    fn run(run: Run) -> Self {
        Source::Run {
            reader: BufReader::with_capacity(RUN_IO_BUFFER, run.file),
            remaining: run.records,
        }
    }

    /// Replaces `key`/`value` with the next record; `false` when the source is done.
    fn next_into(&mut self, key: &mut Vec<u8>, value: &mut Vec<u8>) -> io::Result<bool> {
        key.clear();
        value.clear();
        match self {
            Source::Run { reader, remaining } => {
                if *remaining == 0 {
                    return Ok(false);
                }
                read_run_field(reader, key)?;
                read_run_field(reader, value)?;
                *remaining -= 1;
                Ok(true)
            }
            Source::Memory { batch, next } => {
                let Some(slot) = batch.index.get(*next) else {
                    return Ok(false);
                };
                key.extend_from_slice(batch.key(slot));
                value.extend_from_slice(batch.value(slot));
                *next += 1;
                Ok(true)
            }
        }
    }
}

/// Reads one `LE64 len ‖ bytes` field. Run files are ours, but a damaged scratch disk
/// must still surface as an error, not a huge allocation: `dst` grows with the data.
fn read_run_field(reader: &mut impl Read, dst: &mut Vec<u8>) -> io::Result<()> {
    let mut len = [0u8; 8];
    reader.read_exact(&mut len)?;
    let len = u64::from_le_bytes(len);
    let got = reader.take(len).read_to_end(dst)? as u64;
    if got != len {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("sort run file truncated: record field of {len} bytes has {got}"),
        ));
    }
    Ok(())
}

/// A source's current record. The heap is a max-heap, so the ordering is reversed.
struct Head {
    key: Vec<u8>,
    value: Vec<u8>,
    source: usize,
}

impl Ord for Head {
    fn cmp(&self, other: &Self) -> Ordering {
        (&other.key, &other.value, other.source).cmp(&(&self.key, &self.value, self.source))
    }
}

impl PartialOrd for Head {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Head {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Head {}

/// k-way merge. The record last returned is kept in `current`, so its buffers are lent
/// to the caller and then refilled in place: no allocation per record.
struct Merger {
    sources: Vec<Source>,
    heap: BinaryHeap<Head>,
    current: Option<Head>,
}

impl Merger {
    fn new(mut sources: Vec<Source>) -> io::Result<Self> {
        let mut heap = BinaryHeap::with_capacity(sources.len());
        for (index, source) in sources.iter_mut().enumerate() {
            let mut head = Head {
                key: Vec::new(),
                value: Vec::new(),
                source: index,
            };
            if source.next_into(&mut head.key, &mut head.value)? {
                heap.push(head);
            }
        }
        Ok(Merger {
            sources,
            heap,
            current: None,
        })
    }

    fn next(&mut self) -> io::Result<Option<(&[u8], &[u8])>> {
        self.advance()?;
        Ok(self.current())
    }

    /// Refills the source of the record last returned, then takes the smallest head.
    fn advance(&mut self) -> io::Result<bool> {
        if let Some(mut head) = self.current.take()
            && let Some(source) = self.sources.get_mut(head.source)
            && source.next_into(&mut head.key, &mut head.value)?
        {
            self.heap.push(head);
        }
        self.current = self.heap.pop();
        Ok(self.current.is_some())
    }

    fn current(&self) -> Option<(&[u8], &[u8])> {
        self.current
            .as_ref()
            .map(|head| (head.key.as_slice(), head.value.as_slice()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rng::Rng;

    type Records = Vec<(Vec<u8>, Vec<u8>)>;

    fn random_records(seed: u64, count: usize) -> Records {
        let mut rng = Rng(seed);
        // A small alphabet makes equal keys, shared prefixes and duplicates common.
        (0..count)
            .map(|_| (rng.bytes(6, &[0, 1, 2]), rng.bytes(3, &[0, 1])))
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

//! [`ComparingSink`]: the self-test's decode output (docs/format.md §6.6).
//!
//! Every file the decoder produces is compared, as it is produced, with the input
//! tree's file at that path, by the rules of [`compare_trees`](super::compare_trees):
//! byte for byte while it streams, or, for the files an adapter says carry no order,
//! as a multiset of lines (of KEYMAP records) once its bytes differ. Nothing is
//! written. Each produced path goes into an external sort; meanwhile a thread lists
//! the input's adapter subtrees into another, and at the end the two sorted streams,
//! merged, show the input files the decode did not produce, and the entries that are
//! not regular files (which match nothing).
//!
//! What the report needs of a decoded file is kept instead of the file: its size,
//! where it first differs, and, for a JSON file small enough for a text diff, its
//! bytes (those before the first difference are read back from the input's file).
//!
//! Input files and directories are opened below directory handles with
//! `O_NOFOLLOW` and checked by handle: a link is never followed and only a regular
//! file is ever read. Whole files may be compared on a pool of threads, as the tree
//! writer writes them; so are files produced in pieces while they stay small (held
//! until complete), so the decoder's thread mostly renders.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::{self, Seek, SeekFrom, Write};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use rustix::fs::{FileType, Mode, OFlags};
use rustix::io::Errno;

use super::{
    COMPARE_BUFFER, Captured, CompareOptions, DiffKind, FileDiff, ItemSpool, KeyedDelta, Method,
    Tally, TreeComparison, Verdict, adapter_dir, drain, in_go_order, keyed_verdict, multiset_sort,
    multiset_verdict, read_full, sorted_items,
};
use crate::adapter::{AdapterSpec, Comparison};
use crate::dispatch::Adapter;
use crate::pipeline::report::TEXT_DIFF_MAX_BYTES;
use crate::pipeline::semantic::{Shape, WINDOW, shape};
use crate::pipeline::{DumpError, Progress};
use crate::sort::{ExternalSorter, SortOptions, SortedRecords};
use crate::tree::fs::FsError;
use crate::tree::pool::{FirstFailure, Pool};
use crate::tree::sink::{FileSink, TreeFile, TreeSink};

/// Batches of whole files queued per comparing thread before the producer waits.
const QUEUE_PER_JOB: usize = 2;

/// A file produced in pieces is held (and then compared on the pool) up to this
/// size; a larger one is compared as it streams.
const HELD_MAX: usize = 256 << 10;

/// Tags of the input listing: a regular file, or anything else but a directory.
const INPUT_FILE: u8 = 1;
const INPUT_OTHER: u8 = 2;

/// A whole file for the pool: path below the root, bytes.
type Job = (Vec<u8>, Vec<u8>);

/// An adapter's comparison rule ([`AdapterSpec::comparison`]).
type Rule = fn(&[u8]) -> Comparison;

/// Compares a decode's output with an input tree as it is produced; see the module
/// docs.
pub struct ComparingSink {
    shared: Arc<Shared>,
    pool: Option<Arc<Pool<Job>>>,
    /// The input's listing, sorted, from its own thread.
    listing: Option<JoinHandle<Result<SortedRecords, DumpError>>>,
}

struct Shared {
    input_root: PathBuf,
    root: OwnedFd,
    /// The selected adapters, in the order compared, with their comparison rules.
    adapters: Vec<(Adapter, Rule)>,
    /// Input directories by `/`-joined path below the root; `None` where there is no
    /// real directory (missing, a file, a link).
    dirs: Mutex<HashMap<Vec<u8>, Option<Arc<OwnedFd>>>>,
    /// `None` once [`ComparingSink::finish`] took it.
    state: Mutex<Option<State>>,
    /// The first failure of a comparing thread; later files are not compared.
    failure: FirstFailure,
    /// The sort budget of multiset comparisons ([`multiset_sort`]).
    multisets: CompareOptions,
}

struct State {
    tally: Tally,
    /// `[slot] ‖ path below the adapter directory` of every produced file.
    produced: ExternalSorter,
}

impl std::fmt::Debug for ComparingSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ComparingSink")
            .field("input_root", &self.shared.input_root)
            .field(
                "workers",
                &self.pool.as_ref().map_or(0, |pool| pool.threads()),
            )
            .finish_non_exhaustive()
    }
}

impl ComparingSink {
    /// A sink comparing with the selected `adapters`' subtrees of `input_root`, with
    /// `jobs` threads for whole files (`jobs <= 1`: on the caller's thread). Its sorts
    /// share `options.sort_memory_bytes`: a quarter each for the produced paths, the
    /// input's listing and either side of a multiset comparison. `options.keep`
    /// differing files are kept.
    ///
    /// # Errors
    /// `input_root` cannot be opened as a directory.
    pub fn new(
        input_root: &Path,
        adapters: &[&AdapterSpec],
        options: &CompareOptions,
        jobs: usize,
    ) -> Result<ComparingSink, FsError> {
        let adapters = in_go_order(adapters);
        let root = rustix::fs::open(
            input_root,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| FsError::io(input_root, e.into()))?;
        let half = CompareOptions {
            sort_memory_bytes: options.sort_memory_bytes / 2,
            scratch_dir: options.scratch_dir.clone(),
            keep: options.keep,
        };
        let quarter = SortOptions {
            memory_budget: (options.sort_memory_bytes / 4).max(1 << 20),
            scratch_dir: options.scratch_dir.clone(),
        };
        let listed: Vec<(usize, PathBuf)> = adapters
            .iter()
            .enumerate()
            .filter_map(|(slot, spec)| Some((slot, adapter_dir(input_root, spec.adapter)?)))
            .collect();
        let sort = quarter.clone();
        let listing = std::thread::spawn(move || {
            let mut sorter = ExternalSorter::new(sort);
            for (slot, dir) in listed {
                list_input(&dir, slot, &mut sorter)?;
            }
            sorter
                .finish()
                .map_err(|e| DumpError::io("sort the input's paths", e))
        });
        let shared = Arc::new(Shared {
            input_root: input_root.to_path_buf(),
            root,
            adapters: adapters
                .iter()
                .map(|spec| (spec.adapter, spec.comparison))
                .collect(),
            dirs: Mutex::new(HashMap::new()),
            state: Mutex::new(Some(State {
                tally: Tally::new(adapters.len(), options.keep),
                produced: ExternalSorter::new(quarter),
            })),
            failure: FirstFailure::new("comparison"),
            multisets: half,
        });
        let pool = (jobs > 1).then(|| {
            let shared = Arc::clone(&shared);
            Arc::new(Pool::start(
                jobs,
                jobs * QUEUE_PER_JOB,
                move |(rel, bytes): &mut Job| shared.run_queued(std::mem::take(rel), bytes),
            ))
        });
        Ok(ComparingSink {
            shared,
            pool,
            listing: Some(listing),
        })
    }

    /// Waits for the comparing threads. A failure to compare (reading the input,
    /// spilling a sort) means nothing was judged: it is returned, not a verdict.
    ///
    /// # Errors
    /// The first such failure.
    pub fn close(&mut self) -> Result<(), FsError> {
        if let Some(pool) = self.pool.take() {
            let Ok(mut pool) = Arc::try_unwrap(pool) else {
                return Err(FsError::io(
                    &self.shared.input_root,
                    io::Error::other("a decoded file is still open"),
                ));
            };
            if !pool.join() {
                return Err(self.shared.stopped());
            }
        }
        self.shared.check_failure()
    }

    /// The comparison: [`close`](ComparingSink::close), then the input's listing
    /// (taken on its own thread since the sink was made) is merged with the produced
    /// paths, so files the decode did not produce and entries that are not regular
    /// files are found.
    ///
    /// # Errors
    /// Closing fails, listing the input fails, the sort fails, or the decoder
    /// produced a path twice.
    pub fn finish(mut self, progress: &mut dyn Progress) -> Result<TreeComparison, DumpError> {
        self.close()
            .map_err(|e| DumpError::fs("compare the decoded files", e))?;
        let listing = self
            .listing
            .take()
            .map(|thread| {
                thread.join().unwrap_or_else(|_| {
                    Err(DumpError::io(
                        "list the input",
                        io::Error::other("the listing thread panicked"),
                    ))
                })
            })
            .ok_or_else(|| DumpError::io("compare", io::Error::other("finished twice")))?;
        let shared = &self.shared;
        let State {
            mut tally,
            produced,
        } = shared
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .ok_or_else(|| DumpError::io("compare", io::Error::other("finished twice")))?;
        let sort_error = |e| DumpError::io("sort the decoded paths", e);
        let mut produced = produced.finish().map_err(sort_error)?;
        let mut listing = listing?;
        let (mut more_produced, mut more_listed) = (
            produced.advance().map_err(sort_error)?,
            listing.advance().map_err(sort_error)?,
        );
        let mut last = Vec::new();
        loop {
            let ours = produced
                .current()
                .filter(|_| more_produced)
                .map(|(key, _)| key);
            let theirs = listing.current().filter(|_| more_listed);
            let (take_ours, take_theirs) = match (ours, theirs) {
                (None, None) => break,
                (Some(_), None) => (true, false),
                (None, Some(_)) => (false, true),
                (Some(key), Some((listed, _))) => (key <= listed, listed <= key),
            };
            if take_ours && let Some(key) = ours {
                if key == last.as_slice() {
                    return Err(shared.produced_twice(key));
                }
                last.clear();
                last.extend_from_slice(key);
            }
            if take_theirs && let Some((key, tag)) = theirs {
                // An input file nobody produced, or an entry that matches nothing.
                if !take_ours || tag.first() != Some(&INPUT_FILE) {
                    shared.missing(key, &mut tally);
                    if tally.files.is_multiple_of(1024) {
                        progress.update(tally.bytes, tally.files);
                    }
                }
            }
            if take_ours {
                more_produced = produced.advance().map_err(sort_error)?;
            }
            if take_theirs {
                more_listed = listing.advance().map_err(sort_error)?;
            }
        }
        progress.update(tally.bytes, tally.files);
        Ok(tally.into_comparison(shared.adapters.iter().map(|(a, _)| *a).collect()))
    }
}

impl Drop for ComparingSink {
    /// A sink dropped unfinished (a failed decode, a restart) waits for its listing.
    fn drop(&mut self) {
        if let Some(thread) = self.listing.take() {
            let _ = thread.join();
        }
    }
}

/// Every entry below `dir` that is not a directory, as `[slot] ‖ path` with its
/// tag. Directories are walked (never through a link), not recorded.
fn list_input(dir: &Path, slot: usize, paths: &mut ExternalSorter) -> Result<(), DumpError> {
    let slot = u8::try_from(slot)
        .map_err(|_| DumpError::io("compare", io::Error::other("too many adapters")))?;
    let mut pending = vec![(vec![slot], dir.to_path_buf())];
    while let Some((prefix, dir)) = pending.pop() {
        let list_error = |e| DumpError::io(format!("list {}", dir.display()), e);
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(list_error(e)),
        };
        for entry in entries {
            let entry = entry.map_err(list_error)?;
            let kind = entry
                .file_type()
                .map_err(|e| DumpError::io(format!("stat {}", entry.path().display()), e))?;
            let mut key = prefix.clone();
            if key.len() > 1 {
                key.push(b'/');
            }
            key.extend_from_slice(entry.file_name().as_bytes());
            if kind.is_dir() {
                pending.push((key, entry.path()));
                continue;
            }
            let tag = if kind.is_file() {
                INPUT_FILE
            } else {
                INPUT_OTHER
            };
            paths
                .push(&key, &[tag])
                .map_err(|e| DumpError::io("sort the input paths", e))?;
        }
    }
    Ok(())
}

impl Shared {
    fn full_path(&self, rel: &[u8]) -> PathBuf {
        self.input_root.join(OsStr::from_bytes(rel))
    }

    /// Where a produced file belongs: its adapter's slot and where its path below
    /// the adapter directory starts; `None` outside the selected adapters (such a
    /// file is not compared, as [`compare_trees`](super::compare_trees) ignores it).
    fn locate(&self, rel: &[u8]) -> Option<(usize, usize)> {
        let slash = rel.iter().position(|&b| b == b'/')?;
        let slot = self
            .adapters
            .iter()
            .position(|(adapter, _)| adapter.name().as_bytes() == &rel[..slash])?;
        (slash + 1 < rel.len()).then_some((slot, slash + 1))
    }

    /// The input directory `rel`, opened component by component without following
    /// links; `None` when there is no real directory there.
    fn dir(&self, rel: &[u8]) -> Result<Option<Arc<OwnedFd>>, FsError> {
        let mut dirs = self.dirs.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(known) = dirs.get(rel) {
            return Ok(known.clone());
        }
        let mut parent: Option<Arc<OwnedFd>> = None;
        let mut end = 0;
        for name in rel.split(|&b| b == b'/') {
            let start = end;
            end = start + name.len();
            let prefix = &rel[..end];
            end += 1;
            let known = match dirs.get(prefix) {
                Some(known) => known.clone(),
                None => {
                    let at = parent.as_deref().unwrap_or(&self.root);
                    let opened = match rustix::fs::openat(
                        at,
                        OsStr::from_bytes(name),
                        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                        Mode::empty(),
                    ) {
                        Ok(fd) => Some(Arc::new(fd)),
                        Err(Errno::NOENT | Errno::NOTDIR | Errno::LOOP) => None,
                        Err(e) => return Err(FsError::io(self.full_path(prefix), e.into())),
                    };
                    dirs.insert(prefix.to_vec(), opened.clone());
                    opened
                }
            };
            match known {
                Some(fd) => parent = Some(fd),
                None => return Ok(None),
            }
        }
        Ok(parent)
    }

    /// The input's regular file `rel` (`None` when there is none: missing, a
    /// directory, a link or a special file). Opened without following a link or
    /// blocking on a FIFO, and checked by handle: only a regular file is ever read.
    /// Where the decoder writes (type directories, sidecars) the encoder has refused
    /// anything else already, so no FIFO or device is opened unless it was put there
    /// while the self-test runs; entries the decoder does not write are only listed.
    fn open_input(&self, rel: &[u8]) -> Result<Option<Input>, FsError> {
        let Some(slash) = rel.iter().rposition(|&b| b == b'/') else {
            return Ok(None);
        };
        let Some(dir) = self.dir(&rel[..slash])? else {
            return Ok(None);
        };
        let name = OsStr::from_bytes(&rel[slash + 1..]);
        let fail = |e: Errno| FsError::io(self.full_path(rel), e.into());
        let fd = match rustix::fs::openat(
            &*dir,
            name,
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => fd,
            // Missing, or a link (`O_NOFOLLOW`).
            Err(Errno::NOENT | Errno::LOOP | Errno::NOTDIR) => return Ok(None),
            Err(e) => return Err(fail(e)),
        };
        let stat = rustix::fs::fstat(&fd).map_err(fail)?;
        if FileType::from_raw_mode(stat.st_mode) != FileType::RegularFile {
            return Ok(None);
        }
        Ok(Some(Input {
            file: File::from(fd),
            len: u64::try_from(stat.st_size).unwrap_or(0),
        }))
    }

    /// A comparison of the produced file `rel`, or `None` when it is outside the
    /// selected adapters.
    fn comparer(self: &Arc<Self>, rel: Vec<u8>) -> Result<Option<Comparer>, FsError> {
        let Some((slot, at)) = self.locate(&rel) else {
            return Ok(None);
        };
        let name = rel.rsplit(|&b| b == b'/').next().unwrap_or(&rel);
        let method = Method::for_name(name, self.adapters[slot].1);
        let input = self.open_input(&rel)?;
        let shape = shape(self.adapters[slot].0, &rel[at..]);
        Ok(Some(Comparer {
            shared: Arc::clone(self),
            slot,
            rel,
            at,
            method,
            input,
            written: 0,
            first_difference: None,
            text: None,
            spool: None,
            shape,
            keyed: None,
            window: None,
        }))
    }

    fn compare_whole(self: &Arc<Self>, rel: Vec<u8>, bytes: &[u8]) -> Result<(), FsError> {
        let Some(mut comparer) = self.comparer(rel)? else {
            return Ok(());
        };
        match comparer.feed(bytes) {
            Ok(()) => comparer.settle(),
            Err(e) => Err(FsError::io(comparer.path(), e)),
        }
    }

    /// A comparing thread's job: skipped after the first failure, which it records.
    fn run_queued(self: &Arc<Self>, rel: Vec<u8>, bytes: &[u8]) {
        if self.failure.has_failed() {
            return;
        }
        if let Err(e) = self.compare_whole(rel, bytes) {
            self.failure.record(e);
        }
    }

    /// The first comparing-thread failure, reported again to every later call.
    fn check_failure(&self) -> Result<(), FsError> {
        self.failure.check()
    }

    fn stopped(&self) -> FsError {
        self.failure.stopped(&self.input_root)
    }

    /// Records a produced file (`key` = `[slot] ‖ path`) and what differs about it.
    fn record(&self, key: &[u8], bytes: u64, diff: Option<FileDiff>) -> Result<(), FsError> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(state) = state.as_mut() else {
            return Err(self.stopped());
        };
        state.tally.seen(bytes);
        if let Some(diff) = diff {
            state.tally.record(usize::from(key[0]), diff);
        }
        state
            .produced
            .push(key, &[])
            .map_err(|e| FsError::io(&self.input_root, e))
    }

    /// The error of a path produced twice (`key` = `[slot] ‖ path`).
    fn produced_twice(&self, key: &[u8]) -> DumpError {
        let (slot, rel) = split_key(key);
        DumpError::io(
            format!(
                "compare {}",
                self.full_path(&self.rooted(slot, rel)).display()
            ),
            io::Error::other("the decoder produced this file more than once"),
        )
    }

    /// `<adapter>/<rel>`.
    fn rooted(&self, slot: usize, rel: &[u8]) -> Vec<u8> {
        let mut full = self.adapters[slot].0.name().as_bytes().to_vec();
        full.push(b'/');
        full.extend_from_slice(rel);
        full
    }

    /// An input entry (`key` = `[slot] ‖ path`) the decode did not produce as a
    /// regular file: missing in the decoded tree.
    fn missing(&self, key: &[u8], tally: &mut Tally) {
        let (slot, rel) = split_key(key);
        let (adapter, rule) = self.adapters[slot];
        let name = rel.rsplit(|&b| b == b'/').next().unwrap_or(rel);
        tally.seen(0);
        tally.record(
            slot,
            FileDiff {
                adapter,
                rel: rel.to_vec(),
                kind: DiffKind::MissingInDecoded,
                input: Some(self.full_path(&self.rooted(slot, rel))),
                decoded: None,
                method: Method::for_name(name, rule),
                multiset: None,
                captured: None,
                keyed: None,
            },
        );
    }
}

/// A path record's adapter slot and path below the adapter directory.
fn split_key(key: &[u8]) -> (usize, &[u8]) {
    key.split_first()
        .map_or((0, key), |(&slot, rel)| (usize::from(slot), rel))
}

/// The input's twin of a produced file.
struct Input {
    file: File,
    /// Its size when opened.
    len: u64,
}

/// One produced file being compared; see the module docs.
struct Comparer {
    shared: Arc<Shared>,
    slot: usize,
    /// Below the root, adapter directory first.
    rel: Vec<u8>,
    /// Where the path below the adapter directory starts in `rel`.
    at: usize,
    method: Method,
    /// `None`: the input has no regular file there.
    input: Option<Input>,
    written: u64,
    first_difference: Option<u64>,
    /// The decoded bytes, kept from the first difference on for a text diff.
    text: Option<Vec<u8>>,
    /// The decoded items, kept from the first difference on for a multiset.
    spool: Option<ItemSpool>,
    /// How the report reads the file ([`shape`]).
    shape: Shape,
    /// The decoded lines by key, kept from the first difference on for a keyed file.
    keyed: Option<ItemSpool>,
    /// The decoded bytes from the first difference on, up to [`WINDOW`].
    window: Option<Vec<u8>>,
}

thread_local! {
    /// Each thread's buffer for reading input files (at most [`COMPARE_BUFFER`]).
    static READ_BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl Comparer {
    /// Compares the next produced bytes with the input's at the same offset, up to
    /// the first difference; after it, only what the verdict needs is kept.
    fn feed(&mut self, data: &[u8]) -> io::Result<()> {
        let at = self.written;
        self.written += data.len() as u64;
        let Some(input) = self.input.as_mut() else {
            return Ok(());
        };
        if self.first_difference.is_some() {
            return self.consume(data);
        }
        let available = usize::try_from(input.len.saturating_sub(at))
            .unwrap_or(usize::MAX)
            .min(data.len());
        let same = READ_BUFFER.with_borrow_mut(|buf| -> io::Result<usize> {
            let mut same = 0;
            while same < available {
                let want = (available - same).min(COMPARE_BUFFER);
                if buf.len() < want {
                    buf.resize(want, 0);
                }
                let got = read_full(&mut input.file, &mut buf[..want])?;
                let (ours, theirs) = (&data[same..same + got], &buf[..got]);
                if ours == theirs {
                    same += got;
                } else {
                    same += ours.iter().zip(theirs).take_while(|(a, b)| a == b).count();
                    break;
                }
                if got < want {
                    break;
                }
            }
            Ok(same)
        })?;
        if same < data.len() {
            self.diverge(at + same as u64)?;
            return self.consume(&data[same..]);
        }
        Ok(())
    }

    /// The bytes first differ at `offset`: from here on the multiset and keyed
    /// spools and the text capture need every decoded byte, and the ones before it
    /// are the input's. The byte window starts after those.
    fn diverge(&mut self, offset: u64) -> io::Result<()> {
        self.replay_prefix(offset)?;
        self.window = Some(Vec::new());
        Ok(())
    }

    fn replay_prefix(&mut self, offset: u64) -> io::Result<()> {
        self.first_difference = Some(offset);
        let Some(input) = self.input.as_ref() else {
            return Ok(());
        };
        let sort = || multiset_sort(&self.shared.multisets);
        if self.method != Method::Bytes {
            self.spool = Some(ItemSpool::new(self.method, sort()));
        } else if let Shape::Keyed { key, .. } = self.shape {
            self.keyed = Some(ItemSpool::keyed(key, sort()));
        }
        if self.shape.is_text() && input.len <= TEXT_DIFF_MAX_BYTES && offset <= TEXT_DIFF_MAX_BYTES
        {
            self.text = Some(Vec::new());
        }
        if self.spool.is_none() && self.keyed.is_none() && self.text.is_none() {
            return Ok(());
        }
        let mut buf = vec![0u8; COMPARE_BUFFER];
        let mut done = 0u64;
        while done < offset {
            let want = usize::try_from(offset - done)
                .unwrap_or(usize::MAX)
                .min(COMPARE_BUFFER);
            if let Some(input) = self.input.as_ref() {
                input.file.read_exact_at(&mut buf[..want], done)?;
            }
            self.consume(&buf[..want])?;
            done += want as u64;
        }
        Ok(())
    }

    fn consume(&mut self, bytes: &[u8]) -> io::Result<()> {
        if let Some(spool) = self.spool.as_mut() {
            spool.feed(bytes)?;
        }
        if let Some(keyed) = self.keyed.as_mut() {
            keyed.feed(bytes)?;
        }
        if let Some(window) = self.window.as_mut() {
            let room = WINDOW.saturating_sub(window.len()).min(bytes.len());
            window.extend_from_slice(&bytes[..room]);
        }
        if let Some(text) = self.text.as_mut() {
            if (text.len() + bytes.len()) as u64 > TEXT_DIFF_MAX_BYTES {
                self.text = None;
            } else {
                text.extend_from_slice(bytes);
            }
        }
        Ok(())
    }

    /// The file is complete: judge it and record the verdict.
    fn settle(mut self) -> Result<(), FsError> {
        let shorter = self
            .input
            .as_ref()
            .is_some_and(|input| self.written < input.len);
        if self.first_difference.is_none() && shorter {
            let written = self.written;
            self.diverge(written).map_err(|e| self.fail(e))?;
        }
        let written = self.written;
        let window = self.window.take().unwrap_or_default();
        let captured = |first_difference, text| {
            Some(Box::new(Captured {
                len: written,
                first_difference,
                text,
                window: window.clone(),
            }))
        };
        let (bytes, diff) = match self.input.take() {
            None => (
                written,
                Some((
                    DiffKind::MissingInInput,
                    self.method,
                    None,
                    captured(None, None),
                    None,
                )),
            ),
            Some(input) => {
                let mut file = input.file;
                let verdict = match self.first_difference {
                    None => Verdict::Equal,
                    Some(_) if self.method == Method::Bytes => Verdict::BytesDiffer,
                    Some(_) => self.multiset_verdict(&mut file).map_err(|e| self.fail(e))?,
                };
                let diff = match verdict {
                    Verdict::Equal => None,
                    Verdict::BytesDiffer => Some((
                        DiffKind::Differs,
                        Method::Bytes,
                        None,
                        captured(self.first_difference, self.text.take()),
                        self.keyed_delta(&mut file).map_err(|e| self.fail(e))?,
                    )),
                    Verdict::MultisetDiffers(delta) => Some((
                        DiffKind::Differs,
                        self.method,
                        Some(delta),
                        captured(self.first_difference, None),
                        None,
                    )),
                };
                (input.len, diff)
            }
        };
        let diff = diff.map(|(kind, method, multiset, captured, keyed)| FileDiff {
            adapter: self.shared.adapters[self.slot].0,
            rel: self.rel[self.at..].to_vec(),
            kind,
            input: (kind != DiffKind::MissingInInput).then(|| self.path()),
            decoded: None,
            method,
            multiset,
            captured,
            keyed,
        });
        let mut key = Vec::with_capacity(1 + self.rel.len() - self.at);
        key.push(u8::try_from(self.slot).unwrap_or(u8::MAX));
        key.extend_from_slice(&self.rel[self.at..]);
        self.shared.record(&key, bytes, diff)
    }

    /// The items of both sides, once the bytes differ: the decoded ones spooled since
    /// the first difference, the input's read again from the start of `file`.
    fn multiset_verdict(&mut self, file: &mut File) -> io::Result<Verdict> {
        let decoded = match self.spool.take() {
            Some(spool) => spool.finish()?,
            None => None,
        };
        file.seek(SeekFrom::Start(0))?;
        let sort = multiset_sort(&self.shared.multisets);
        let items = sorted_items(file, self.method, sort)?;
        multiset_verdict(items, decoded)
    }

    /// A keyed file's lines matched by key, once the bytes differ: the decoded ones
    /// spooled since the first difference, the input's read again from the start.
    fn keyed_delta(&mut self, file: &mut File) -> io::Result<Option<Box<KeyedDelta>>> {
        let (Some(spool), Shape::Keyed { key, unit }) = (self.keyed.take(), self.shape) else {
            return Ok(None);
        };
        let decoded = spool.finish()?;
        file.seek(SeekFrom::Start(0))?;
        let input = drain(
            file,
            ItemSpool::keyed(key, multiset_sort(&self.shared.multisets)),
        )?;
        keyed_verdict(key, unit, input, decoded)
    }

    fn fail(&self, e: io::Error) -> FsError {
        FsError::io(self.path(), e)
    }
}

impl Write for Comparer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.feed(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl FileSink for Comparer {
    fn path(&self) -> PathBuf {
        self.shared.full_path(&self.rel)
    }

    fn finish(self: Box<Self>) -> Result<(), FsError> {
        self.settle()
    }
}

/// A file produced in pieces, with a pool: held until complete and then compared on
/// the pool as a whole file, unless it grows past [`HELD_MAX`]; then it is compared
/// as it streams.
struct Held {
    shared: Arc<Shared>,
    pool: Arc<Pool<Job>>,
    rel: Vec<u8>,
    bytes: Vec<u8>,
    streaming: Option<Comparer>,
}

impl Write for Held {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if let Some(comparer) = self.streaming.as_mut() {
            comparer.feed(data)?;
        } else if self.bytes.len() + data.len() <= HELD_MAX {
            self.bytes.extend_from_slice(data);
        } else {
            let mut comparer = self
                .shared
                .comparer(std::mem::take(&mut self.rel))
                .map_err(io::Error::from)?
                .ok_or_else(|| io::Error::other("not an adapter's file"))?;
            comparer.feed(&std::mem::take(&mut self.bytes))?;
            comparer.feed(data)?;
            self.streaming = Some(comparer);
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl FileSink for Held {
    fn path(&self) -> PathBuf {
        match &self.streaming {
            Some(comparer) => comparer.path(),
            None => self.shared.full_path(&self.rel),
        }
    }

    fn finish(self: Box<Self>) -> Result<(), FsError> {
        let Held {
            shared,
            pool,
            rel,
            bytes,
            streaming,
        } = *self;
        if let Some(comparer) = streaming {
            return comparer.settle();
        }
        let len = bytes.len();
        if pool.send((rel, bytes), len) {
            Ok(())
        } else {
            Err(shared.stopped())
        }
    }
}

/// A produced file outside the selected adapters: not compared.
struct Ignored {
    path: PathBuf,
}

impl Write for Ignored {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl FileSink for Ignored {
    fn path(&self) -> PathBuf {
        self.path.clone()
    }

    fn finish(self: Box<Self>) -> Result<(), FsError> {
        Ok(())
    }
}

impl TreeSink for ComparingSink {
    fn root(&self) -> &Path {
        &self.shared.input_root
    }

    fn write_file(&self, rel: &[u8], bytes: Vec<u8>) -> Result<(), FsError> {
        self.shared.check_failure()?;
        match &self.pool {
            Some(pool) => {
                let len = bytes.len();
                if pool.send((rel.to_vec(), bytes), len) {
                    Ok(())
                } else {
                    Err(self.shared.stopped())
                }
            }
            None => self.shared.compare_whole(rel.to_vec(), &bytes),
        }
    }

    fn create_file(&self, rel: &[u8]) -> Result<TreeFile, FsError> {
        self.shared.check_failure()?;
        if let Some(pool) = &self.pool
            && self.shared.locate(rel).is_some()
        {
            return Ok(TreeFile::new(Box::new(Held {
                shared: Arc::clone(&self.shared),
                pool: Arc::clone(pool),
                rel: rel.to_vec(),
                bytes: Vec::new(),
                streaming: None,
            })));
        }
        Ok(TreeFile::new(match self.shared.comparer(rel.to_vec())? {
            Some(comparer) => Box::new(comparer),
            None => Box::new(Ignored {
                path: self.shared.full_path(rel),
            }),
        }))
    }

    /// Directories are not compared (an empty one holds no key).
    fn create_dir(&self, _rel: &[u8]) -> Result<(), FsError> {
        Ok(())
    }
}

#[cfg(test)]
#[path = "compare_sink_tests.rs"]
pub(super) mod tests;

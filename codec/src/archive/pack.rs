//! Pack: verify the tree, list every directory and regular file (sorted by path
//! bytes, through the external sort so a million-file tree stays in bounded memory),
//! and stream headers and contents into a plain or zstd writer.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::header::{self, EntryHeader, TYPE_DIR, TYPE_REG};
use super::owners::Owners;
use std::sync::Mutex;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use rustix::fs::{Mode, OFlags};
use sha2::{Digest, Sha256};

use super::{ArchiveError, Compression, kind_name, require_single_regular, verify_dump_root};
use crate::pipeline::{NoProgress, Progress};
use crate::sort::{ExternalSorter, SortOptions};
use crate::tree::checksums::{CHECKSUMS_FILE_NAME, ChecksumsError, listing_value, sorted_listing};
use crate::tree::manifest::{MANIFEST_FILE_NAME, Manifest};

/// What was packed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PackSummary {
    /// Directories written.
    pub dirs: u64,
    /// Regular files written.
    pub files: u64,
    /// File content bytes.
    pub bytes: u64,
}

const DIR: u8 = b'd';
const FILE: u8 = b'f';
/// Memory for the path sort before it spills.
const PATH_SORT_BUDGET: usize = 16 << 20;
const IO_BUFFER: usize = 1 << 20;
/// klauspost's default level corresponds to zstd level 3.
const ZSTD_LEVEL: i32 = 3;
/// zstd compression workers beside the writing thread.
const ZSTD_WORKERS: u32 = 1;

/// Go's `rejectArchiveOutputInsideInput`: both sides symlink-resolved (the output
/// through its parent, which must exist).
pub fn check_output_outside_input(input: &Path, output: &Path) -> Result<(), ArchiveError> {
    let input_abs = fs::canonicalize(input).map_err(|e| ArchiveError::io(input, e))?;
    let parent = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let parent_abs = fs::canonicalize(parent).map_err(|e| ArchiveError::io(parent, e))?;
    let output_abs = match output.file_name() {
        Some(name) => parent_abs.join(name),
        None => parent_abs,
    };
    if output_abs.starts_with(&input_abs) {
        return Err(ArchiveError::OutputInsideInput {
            output: output.to_path_buf(),
            input: input.to_path_buf(),
        });
    }
    Ok(())
}

/// The command: output outside the input, created exclusively (0600), removed again
/// on any failure, fsynced on success. Each file is verified as it is read for the
/// archive ([`Verification::WhilePacking`]): the removal is what keeps a failing tree
/// from leaving an archive behind.
pub fn pack_to_file(
    input: &Path,
    output: &Path,
    compression: Compression,
    progress: &mut dyn Progress,
) -> Result<PackSummary, ArchiveError> {
    check_output_outside_input(input, output)?;
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(output)
        .map_err(|e| ArchiveError::io(output, e))?;
    let result = pack_stream(
        input,
        &file,
        compression,
        Verification::WhilePacking,
        progress,
    )
    .and_then(|summary| {
        file.sync_all()
            .map_err(|e| ArchiveError::io(output, e))
            .map(|()| summary)
    });
    if result.is_err() {
        let _ = fs::remove_file(output);
    }
    result
}

/// When the tree is verified relative to writing the archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    /// Verify every file, then write: a failing tree writes nothing to the output, as
    /// Go's tool does; needed where bytes cannot be taken back (stdout). Reads every
    /// file twice.
    First,
    /// Hash every file as it is read for the archive and fail at the first difference:
    /// one read of every file, but a failing tree leaves a partial output that the
    /// caller must remove ([`pack_to_file`] does).
    WhilePacking,
}

/// Verifies the tree at `root` and writes its archive to `out`, verifying first.
pub fn pack_tree(
    root: &Path,
    out: impl Write,
    compression: Compression,
) -> Result<PackSummary, ArchiveError> {
    pack_tree_with_progress(root, out, compression, &mut NoProgress)
}

/// [`pack_tree`], reporting the files written to `progress`.
pub fn pack_tree_with_progress(
    root: &Path,
    out: impl Write,
    compression: Compression,
    progress: &mut dyn Progress,
) -> Result<PackSummary, ArchiveError> {
    pack_stream(root, out, compression, Verification::First, progress)
}

/// Writes the archive of the tree at `root` to `out`, verified as `verification` says.
///
/// Whatever the mode, the verdict on a failing tree is the one Go's verify-then-pack
/// order gives: any problem sends the tree through [`verify_dump_root`] again, whose
/// error wins (the problem seen while packing is reported only when that passes, i.e.
/// the tree changed under the pack).
pub fn pack_stream(
    root: &Path,
    out: impl Write,
    compression: Compression,
    verification: Verification,
    progress: &mut dyn Progress,
) -> Result<PackSummary, ArchiveError> {
    let result = fs::canonicalize(root)
        .map_err(|e| ArchiveError::io(root, e))
        .and_then(|root| {
            if verification == Verification::First {
                one_pass(&root, io::sink(), None, progress, "verifying the tree")?;
            }
            one_pass(&root, out, Some(compression), progress, "packing")
        });
    progress.finish();
    result
}

/// Go's verdict on a tree where `found` went wrong: the tree's own verification error
/// if it has one, else `found`. Output errors are reported as they are.
#[cold]
fn exact_error(root: &Path, found: ArchiveError) -> ArchiveError {
    if matches!(found, ArchiveError::Stream { .. }) {
        return found;
    }
    match verify_dump_root(root) {
        Err(verdict) => verdict,
        Ok(()) => found,
    }
}

/// Lists the tree and its CHECKSUMS, then streams the archive (or, with no
/// compression given, only reads and verifies, writing nothing).
fn one_pass(
    root: &Path,
    out: impl Write,
    compression: Option<Compression>,
    progress: &mut dyn Progress,
    label: &str,
) -> Result<PackSummary, ArchiveError> {
    progress.phase("listing the tree", None);
    // The walk and the CHECKSUMS listing are independent, so they run side by side.
    let (listing, collected) = std::thread::scope(|scope| {
        let walk = scope.spawn(|| collect_paths(root));
        let listing = Checker::open(root);
        let collected = walk.join().unwrap_or_else(|_| {
            Err(ArchiveError::io(
                root,
                io::Error::other("path walk panicked"),
            ))
        });
        (listing, collected)
    });
    let checker = listing.map_err(|e| exact_error(root, e))?;
    let paths = collected.map_err(|e| exact_error(root, e))?;
    progress.phase(label, None);
    stream_archive(root, paths, checker, out, compression, progress)
        .map_err(|e| exact_error(root, e))
}

fn write_error(e: io::Error) -> ArchiveError {
    ArchiveError::Stream {
        context: "write archive".into(),
        source: e,
    }
}

/// Reads and writes every entry in path order. A dispatching thread walks the sorted
/// paths beside the sorted CHECKSUMS rows and hands consecutive entries out as jobs;
/// a small pool of workers stats, reads and hashes them; this thread takes the
/// results back in job order (so the bytes do not depend on scheduling) and writes
/// tar and zstd. Queues bound what is in flight.
fn stream_archive(
    root: &Path,
    paths: crate::sort::SortedRecords,
    checker: Checker,
    out: impl Write,
    compression: Option<Compression>,
    progress: &mut dyn Progress,
) -> Result<PackSummary, ArchiveError> {
    let out = BufWriter::with_capacity(IO_BUFFER, out);
    let mut sink = match compression {
        None | Some(Compression::None) => Sink::Plain(out),
        Some(Compression::Zstd) => {
            let mut encoder =
                zstd::stream::write::Encoder::new(out, ZSTD_LEVEL).map_err(write_error)?;
            encoder.include_checksum(true).map_err(write_error)?;
            // Compression on zstd's own worker thread, in jobs of contiguous input,
            // while this thread keeps writing tar (the frame decompresses to the same
            // tar; its bytes do not depend on timing).
            encoder.multithread(ZSTD_WORKERS).map_err(write_error)?;
            Sink::Zstd(encoder)
        }
    };
    let checksums_path = checker.checksums_path.clone();
    let workers = reader_count();
    let mut summary = PackSummary::default();
    let (job_tx, job_rx) = sync_channel::<Job>(workers);
    let job_rx = Mutex::new(job_rx);
    std::thread::scope(|scope| -> Result<(), ArchiveError> {
        let (order_tx, order_rx) = sync_channel::<Receiver<Done>>(2 * workers);
        for _ in 0..workers {
            let (job_rx, checksums_path) = (&job_rx, checksums_path.as_path());
            scope.spawn(move || work(root, checksums_path, job_rx));
        }
        let dispatcher = scope.spawn(move || dispatch(paths, checker, &job_tx, &order_tx));
        let mut writer = Writer {
            sink: sink.writer(),
            checksums_path: &checksums_path,
            summary: &mut summary,
            progress,
        };
        let written = writer.write_jobs(&order_rx);
        // Unblocks a dispatcher still queueing after the writer failed.
        drop(order_rx);
        let dispatched = dispatcher.join().unwrap_or_else(|_| Err(panicked(root)));
        // The dispatcher's error first: when it fails, the writer only sees the end.
        dispatched.and(written)
    })?;
    sink.writer().write_all(&header::END).map_err(write_error)?;
    sink.finish().map_err(write_error)?;
    Ok(summary)
}

#[cold]
fn panicked(root: &Path) -> ArchiveError {
    ArchiveError::io(root, io::Error::other("archive reader panicked"))
}

/// Reading workers: the machine's parallelism, at least 2 (reading is mostly waiting
/// on system calls) and at most 8.
fn reader_count() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 8))
}

/// The plain or compressing writer, finished explicitly so the frame end's write
/// error is seen.
enum Sink<W: Write> {
    Plain(BufWriter<W>),
    Zstd(zstd::stream::write::Encoder<'static, BufWriter<W>>),
}

impl<W: Write> Sink<W> {
    fn writer(&mut self) -> &mut dyn Write {
        match self {
            Sink::Plain(w) => w,
            Sink::Zstd(w) => w,
        }
    }

    fn finish(self) -> io::Result<()> {
        match self {
            Sink::Plain(mut w) => w.flush(),
            Sink::Zstd(w) => w.finish()?.flush(),
        }
    }
}

/// Every directory and regular file under `root` (not `root` itself), sorted by
/// relative path bytes through the external sort, so neither a million-file tree nor
/// a million-entry directory is held in memory. Kinds come from the directory
/// entries (no stat per file); anything else fails the walk, naming the smallest such
/// path so the verdict does not depend on directory order. Hard links are found when
/// the file is opened for packing.
fn collect_paths(root: &Path) -> Result<crate::sort::SortedRecords, ArchiveError> {
    let scratch_error = |e| ArchiveError::io(std::env::temp_dir(), e);
    let mut sorter = ExternalSorter::new(SortOptions {
        memory_budget: PATH_SORT_BUDGET,
        scratch_dir: std::env::temp_dir(),
    });
    let mut refused: Option<(Vec<u8>, PathBuf)> = None;
    let mut pending: Vec<(PathBuf, Vec<u8>)> = vec![(root.to_path_buf(), Vec::new())];
    while let Some((dir, prefix)) = pending.pop() {
        for entry in fs::read_dir(&dir).map_err(|e| ArchiveError::io(&dir, e))? {
            let entry = entry.map_err(|e| ArchiveError::io(&dir, e))?;
            let file_type = entry
                .file_type()
                .map_err(|e| ArchiveError::io(entry.path(), e))?;
            let mut rel = prefix.clone();
            if !rel.is_empty() {
                rel.push(b'/');
            }
            rel.extend_from_slice(entry.file_name().as_bytes());
            let kind = if file_type.is_dir() {
                pending.push((entry.path(), rel.clone()));
                DIR
            } else if file_type.is_file() {
                FILE
            } else {
                if refused.as_ref().is_none_or(|(first, _)| rel < *first) {
                    refused = Some((rel, entry.path()));
                }
                continue;
            };
            sorter.push(&rel, &[kind]).map_err(scratch_error)?;
        }
    }
    if let Some((_, path)) = refused {
        let meta = fs::symlink_metadata(&path).map_err(|e| ArchiveError::io(&path, e))?;
        return Err(ArchiveError::non_regular(&path, kind_name(&meta)));
    }
    sorter.finish().map_err(scratch_error)
}

/// Consecutive entries per job.
const JOB_ENTRIES: usize = 64;
/// Pieces a worker may have sent ahead of the writer on one job.
const JOB_PIECES: usize = 16;
/// Files up to this size are read whole by a worker; larger ones are sent in chunks
/// of this size, hashed as they are read. A job holds at most `JOB_PIECES * CHUNK` =
/// 4 MiB, and at most `3 * workers` jobs are in flight.
const CHUNK: usize = 256 << 10;

/// Entries for one worker, and where its pieces go.
struct Job {
    entries: Vec<JobEntry>,
    reply: SyncSender<Done>,
}

struct JobEntry {
    rel: Vec<u8>,
    /// `None` for a directory.
    want: Option<Want>,
}

/// One piece of a job's result, or why the job failed (its last message).
type Done = Result<Piece, ArchiveError>;

/// What the writer gets, in archive order.
enum Piece {
    /// A directory's header.
    Dir(EntryHeader),
    /// A small file's header and content, already checked against its row.
    Whole(EntryHeader, Vec<u8>),
    /// A large file's header; its content follows in [`Piece::Chunk`]s, and its digest
    /// is checked by the worker after the last one (a mismatch then fails the job).
    Head(EntryHeader),
    /// The next part of a large file.
    Chunk(Vec<u8>),
}

/// The CHECKSUMS rows, sorted like the walk, consumed in step with it: every regular
/// file but CHECKSUMS must match exactly one row, and every row a regular file.
struct Checker {
    rows: crate::sort::SortedRecords,
    checksums_path: PathBuf,
    checksums_digest: [u8; 32],
}

/// The digest a file must have, and the CHECKSUMS line that says so (0 for
/// CHECKSUMS itself, which must be the bytes the rows were read from).
#[derive(Clone, Copy)]
struct Want {
    line: u64,
    digest: [u8; 32],
}

impl Checker {
    /// Go's first checks (MANIFEST.json and CHECKSUMS single regular files, the
    /// manifest valid), then every CHECKSUMS row read and sorted, none hashed yet.
    fn open(root: &Path) -> Result<Checker, ArchiveError> {
        for name in [MANIFEST_FILE_NAME, CHECKSUMS_FILE_NAME] {
            require_single_regular(&root.join(name))?;
        }
        Manifest::read_file(&root.join(MANIFEST_FILE_NAME))?;
        let checksums_path = root.join(CHECKSUMS_FILE_NAME);
        let mut listing = sorted_listing(root)?;
        if let Some(stopped) = listing.stopped {
            return Err(stopped.into());
        }
        if listing.count == 0 {
            return Err(ChecksumsError::Empty {
                path: checksums_path,
            }
            .into());
        }
        listing
            .rows
            .advance()
            .map_err(|e| ArchiveError::io(std::env::temp_dir(), e))?;
        Ok(Checker {
            rows: listing.rows,
            checksums_path,
            checksums_digest: listing.file_digest,
        })
    }

    /// The row for regular file `rel` (the walk's next file in path order).
    fn want(&mut self, rel: &[u8]) -> Result<Want, ArchiveError> {
        if rel == CHECKSUMS_FILE_NAME.as_bytes() {
            return Ok(Want {
                line: 0,
                digest: self.checksums_digest,
            });
        }
        let Some((key, value)) = self.rows.current() else {
            return Err(unlisted(rel));
        };
        if key > rel {
            return Err(unlisted(rel));
        }
        let (line, digest) = self.row(value)?;
        if key < rel {
            return Err(self.missing(key, line));
        }
        self.rows
            .advance()
            .map_err(|e| ArchiveError::io(std::env::temp_dir(), e))?;
        if let Some((again, value)) = self.rows.current()
            && again == rel
        {
            let (repeat, _) = self.row(value)?;
            return Err(ChecksumsError::DuplicatePath {
                path: self.checksums_path.clone(),
                line: repeat,
                first_line: line,
                file: String::from_utf8_lossy(rel).into_owned(),
            }
            .into());
        }
        Ok(Want { line, digest })
    }

    /// After the walk: no row may be left without its file.
    fn finish(&self) -> Result<(), ArchiveError> {
        match self.rows.current() {
            Some((key, value)) => Err(self.missing(key, self.row(value)?.0)),
            None => Ok(()),
        }
    }

    fn row(&self, value: &[u8]) -> Result<(u64, [u8; 32]), ArchiveError> {
        listing_value(value).ok_or_else(|| {
            ArchiveError::io(
                std::env::temp_dir(),
                io::Error::other("scratch record of the CHECKSUMS listing is cut short"),
            )
        })
    }

    fn missing(&self, rel: &[u8], line: u64) -> ArchiveError {
        ChecksumsError::Mismatch {
            path: self.checksums_path.clone(),
            line,
            file: String::from_utf8_lossy(rel).into_owned(),
            reason: "missing on disk".into(),
        }
        .into()
    }
}

/// A file's content hashed to `have`: it must be what its row says.
fn check_digest(
    checksums_path: &Path,
    rel: &[u8],
    path: &Path,
    want: Want,
    have: [u8; 32],
) -> Result<(), ArchiveError> {
    if have == want.digest {
        return Ok(());
    }
    if want.line == 0 {
        return Err(ArchiveError::non_regular(
            path,
            "changed while the archive was being packed",
        ));
    }
    Err(ChecksumsError::Mismatch {
        path: checksums_path.to_path_buf(),
        line: want.line,
        file: String::from_utf8_lossy(rel).into_owned(),
        reason: format!(
            "have {} want {}",
            hex::encode(have),
            hex::encode(want.digest)
        ),
    }
    .into())
}

fn unlisted(rel: &[u8]) -> ArchiveError {
    ArchiveError::UnchecksummedFile {
        path: PathBuf::from(std::ffi::OsStr::from_bytes(rel)),
    }
}

/// The dispatching thread: every walked path in order, matched with its CHECKSUMS
/// row, sent in jobs of [`JOB_ENTRIES`]; each job's reply slot is queued for the
/// writer first, so results are written in walk order. Stops quietly when the
/// writer has gone (its error is reported).
fn dispatch(
    mut paths: crate::sort::SortedRecords,
    mut checker: Checker,
    job_tx: &SyncSender<Job>,
    order_tx: &SyncSender<Receiver<Done>>,
) -> Result<(), ArchiveError> {
    let mut entries = Vec::with_capacity(JOB_ENTRIES);
    let scratch_error = |e| ArchiveError::io(std::env::temp_dir(), e);
    loop {
        let more = match paths.next().map_err(scratch_error)? {
            Some((rel, kind)) => {
                let want = if kind == [DIR] {
                    None
                } else {
                    Some(checker.want(rel)?)
                };
                entries.push(JobEntry {
                    rel: rel.to_vec(),
                    want,
                });
                true
            }
            None => {
                checker.finish()?;
                false
            }
        };
        if entries.len() == JOB_ENTRIES || (!more && !entries.is_empty()) {
            let (reply, done) = sync_channel(JOB_PIECES);
            let job = Job {
                entries: std::mem::replace(&mut entries, Vec::with_capacity(JOB_ENTRIES)),
                reply,
            };
            if order_tx.send(done).is_err() || job_tx.send(job).is_err() {
                return Ok(());
            }
        }
        if !more {
            return Ok(());
        }
    }
}

/// A reading worker: jobs until the queue closes.
fn work(root: &Path, checksums_path: &Path, jobs: &Mutex<Receiver<Job>>) {
    let mut owners = Owners::default();
    let mut dirs = DirCache::default();
    loop {
        let job = match jobs.lock() {
            Ok(queue) => queue.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else {
            return;
        };
        for entry in job.entries {
            let context = (&mut owners, &mut dirs);
            match read_entry(root, checksums_path, entry, context, &job.reply) {
                Ok(true) => {}
                // The writer has gone; nobody needs the rest.
                Ok(false) => break,
                Err(e) => {
                    let _ = job.reply.send(Err(e));
                    break;
                }
            }
        }
    }
}

/// Re-checks one path (still the kind the walk saw; a regular file opened without
/// following links, with one link), builds its header, and sends it with the file's
/// content, hashed and checked on the way. `false` when the writer has gone.
fn read_entry(
    root: &Path,
    checksums_path: &Path,
    entry: JobEntry,
    (owners, dirs): (&mut Owners, &mut DirCache),
    reply: &SyncSender<Done>,
) -> Result<bool, ArchiveError> {
    let path = root.join(std::ffi::OsStr::from_bytes(&entry.rel));
    let (file, meta) = match entry.want {
        None => {
            let meta = fs::symlink_metadata(&path).map_err(|e| ArchiveError::io(&path, e))?;
            if !meta.is_dir() {
                return Err(ArchiveError::non_regular(
                    &path,
                    "changed while the archive was being packed",
                ));
            }
            (None, meta)
        }
        Some(_) => {
            let (file, meta) = open_regular(&path, dirs)?;
            (Some(file), meta)
        }
    };
    let header = EntryHeader {
        name: entry.rel,
        mode: meta.mode() & 0o7777,
        uid: u64::from(meta.uid()),
        gid: u64::from(meta.gid()),
        uname: owners.user(u64::from(meta.uid())).to_owned(),
        gname: owners.group(u64::from(meta.gid())).to_owned(),
        size: if file.is_some() { meta.size() } else { 0 },
        mtime: header::round_mtime(meta.mtime(), meta.mtime_nsec()),
        typeflag: if file.is_some() { TYPE_REG } else { TYPE_DIR },
    };
    let (Some(mut file), Some(want)) = (file, entry.want) else {
        return Ok(reply.send(Ok(Piece::Dir(header))).is_ok());
    };
    // Exactly `size` bytes are read and hashed: if the file grew since its size was
    // taken, what is archived is still the prefix the digest vouches for.
    let size = header.size;
    if size <= CHUNK as u64 {
        let mut data = vec![0u8; size as usize];
        fill(&mut file, &path, &mut data)?;
        let have = Sha256::digest(&data).into();
        check_digest(checksums_path, &header.name, &path, want, have)?;
        return Ok(reply.send(Ok(Piece::Whole(header, data))).is_ok());
    }
    let rel = header.name.clone();
    if reply.send(Ok(Piece::Head(header))).is_err() {
        return Ok(false);
    }
    let mut hasher = Sha256::new();
    let mut left = size;
    while left > 0 {
        let mut chunk = vec![0u8; CHUNK.min(usize::try_from(left).unwrap_or(CHUNK))];
        fill(&mut file, &path, &mut chunk)?;
        hasher.update(&chunk);
        left -= chunk.len() as u64;
        if reply.send(Ok(Piece::Chunk(chunk))).is_err() {
            return Ok(false);
        }
    }
    check_digest(checksums_path, &rel, &path, want, hasher.finalize().into())?;
    Ok(true)
}

/// The writing side: headers, contents and padding, job by job in order.
struct Writer<'a> {
    sink: &'a mut dyn Write,
    checksums_path: &'a Path,
    summary: &'a mut PackSummary,
    progress: &'a mut dyn Progress,
}

impl Writer<'_> {
    fn write_jobs(&mut self, order: &Receiver<Receiver<Done>>) -> Result<(), ArchiveError> {
        // Content bytes still due for the large file being written, and its size.
        let (mut due, mut size) = (0u64, 0u64);
        for done in order {
            let mut pieces = 0u64;
            for piece in done.iter() {
                pieces += 1;
                match piece? {
                    Piece::Dir(header) => {
                        header::write_header(self.sink, &header).map_err(write_error)?;
                        self.summary.dirs += 1;
                    }
                    Piece::Whole(header, data) => {
                        header::write_header(self.sink, &header).map_err(write_error)?;
                        self.sink.write_all(&data).map_err(write_error)?;
                        self.end_file(header.size)?;
                    }
                    Piece::Head(header) => {
                        header::write_header(self.sink, &header).map_err(write_error)?;
                        (due, size) = (header.size, header.size);
                    }
                    Piece::Chunk(data) => {
                        self.sink.write_all(&data).map_err(write_error)?;
                        due = due.saturating_sub(data.len() as u64);
                        if due == 0 {
                            self.end_file(size)?;
                        } else {
                            let entries = self.summary.dirs + self.summary.files;
                            self.progress
                                .update(self.summary.bytes + (size - due), entries);
                        }
                    }
                }
            }
            // A job always yields a piece per entry or an error; anything less means
            // its worker died.
            if pieces == 0 || due > 0 {
                return Err(ArchiveError::io(
                    self.checksums_path,
                    io::Error::other("archive reader stopped"),
                ));
            }
            self.progress
                .update(self.summary.bytes, self.summary.dirs + self.summary.files);
        }
        Ok(())
    }

    /// Padding after a file's content, and the count.
    fn end_file(&mut self, size: u64) -> Result<(), ArchiveError> {
        self.sink
            .write_all(&[0u8; header::BLOCK][..header::padding(size)])
            .map_err(write_error)?;
        self.summary.files += 1;
        self.summary.bytes += size;
        Ok(())
    }
}

/// Opens without following links or blocking; it must be a regular file with one
/// link (a second name may live outside the tree).
fn open_regular(path: &Path, dirs: &mut DirCache) -> Result<(File, fs::Metadata), ArchiveError> {
    let file = dirs.open(path).map_err(|e| match e.raw_os_error() {
        Some(libc::ELOOP) => ArchiveError::non_regular(path, "symlink"),
        _ => ArchiveError::io(path, e),
    })?;
    let meta = file.metadata().map_err(|e| ArchiveError::io(path, e))?;
    if !meta.file_type().is_file() {
        return Err(ArchiveError::non_regular(path, kind_name(&meta)));
    }
    if meta.nlink() > 1 {
        return Err(ArchiveError::non_regular(
            path,
            format!("hard-linked file (nlink={})", meta.nlink()),
        ));
    }
    Ok((file, meta))
}

/// The directory of the file opened last, kept open: consecutive files of a job are
/// mostly in one directory, and opening by name relative to it spares the kernel the
/// walk of the whole path each time.
#[derive(Default)]
struct DirCache {
    dir: Option<(PathBuf, File)>,
}

impl DirCache {
    /// Opens `path` read-only, without following a final symlink or blocking.
    fn open(&mut self, path: &Path) -> io::Result<File> {
        let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
            return OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
                .open(path);
        };
        if self.dir.as_ref().is_none_or(|(open, _)| open != parent) {
            let dir = OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW)
                .open(parent)?;
            self.dir = Some((parent.to_path_buf(), dir));
        }
        let Some((_, dir)) = &self.dir else {
            return Err(io::Error::other("directory cache is empty"));
        };
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
        let fd = rustix::fs::openat(dir, name, flags, Mode::empty())?;
        Ok(File::from(fd))
    }
}

/// Fills `buf` from the file; a file that shrank since its header was made fails the
/// pack (the tar would be corrupt otherwise).
fn fill(file: &mut File, path: &Path, buf: &mut [u8]) -> Result<(), ArchiveError> {
    let mut at = 0;
    while at < buf.len() {
        match file.read(&mut buf[at..]) {
            Ok(0) => {
                return Err(ArchiveError::non_regular(
                    path,
                    "shrank while the archive was being packed",
                ));
            }
            Ok(n) => at += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(ArchiveError::io(path, e)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Read as _;

    use super::*;
    use crate::error::ErrorCode;
    use crate::tree::checksums::write_checksums;
    use crate::tree::walltime::WallTime;

    const LARGE: &str = "s3/bucket/large.bin";

    /// Enough small files for several jobs, and files at and around the chunk size.
    fn tree() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("tree");
        for d in 0..3 {
            let sub = root.join(format!("redis/db_0/d{d}"));
            fs::create_dir_all(&sub).unwrap();
            for i in 0..100 {
                fs::write(
                    sub.join(format!("k{i:03}.json")),
                    format!("{d}-{i}").repeat(i),
                )
                .unwrap();
            }
        }
        fs::create_dir_all(root.join("s3/bucket")).unwrap();
        let big = |len: usize| (0..len).map(|i| (i * 31 % 251) as u8).collect::<Vec<u8>>();
        fs::write(root.join(LARGE), big(3 * CHUNK + 17)).unwrap();
        fs::write(root.join("s3/bucket/chunk.bin"), big(CHUNK)).unwrap();
        fs::write(root.join("s3/bucket/chunk1.bin"), big(CHUNK + 1)).unwrap();
        Manifest::new_phase0(WallTime::from_unix(1_700_000_000, 0).unwrap())
            .write_file(&root)
            .unwrap();
        write_checksums(&root).unwrap();
        dir
    }

    fn pack(root: &Path, compression: Compression, verification: Verification) -> Vec<u8> {
        let mut out = Vec::new();
        pack_stream(root, &mut out, compression, verification, &mut NoProgress).unwrap();
        out
    }

    #[test]
    fn verifying_while_packing_writes_the_same_bytes() {
        let dir = tree();
        let root = dir.path().join("tree");
        let plain = pack(&root, Compression::None, Verification::First);
        assert_eq!(
            plain,
            pack(&root, Compression::None, Verification::WhilePacking)
        );
        let mut unzipped = Vec::new();
        zstd::stream::read::Decoder::new(
            &pack(&root, Compression::Zstd, Verification::WhilePacking)[..],
        )
        .unwrap()
        .read_to_end(&mut unzipped)
        .unwrap();
        assert_eq!(plain, unzipped);
        // 300 small files, three large ones, MANIFEST.json and CHECKSUMS, end marker.
        let mut archive = tar::Archive::new(&plain[..]);
        let files = archive
            .entries()
            .unwrap()
            .filter(|e| e.as_ref().unwrap().header().entry_type().is_file())
            .count();
        assert_eq!(files, 305);
    }

    #[test]
    fn a_changed_large_file_fails_and_leaves_no_archive() {
        let dir = tree();
        let root = dir.path().join("tree");
        let mut data = fs::read(root.join(LARGE)).unwrap();
        *data.last_mut().unwrap() ^= 1;
        fs::write(root.join(LARGE), data).unwrap();
        let output = dir.path().join("out.tar.zst");
        let err = pack_to_file(&root, &output, Compression::Zstd, &mut NoProgress).unwrap_err();
        assert_eq!(err.code(), "checksum-mismatch", "{err}");
        assert!(err.to_string().contains(LARGE), "{err}");
        assert!(!output.exists());
    }

    #[test]
    fn an_unlisted_file_fails_and_leaves_no_archive() {
        let dir = tree();
        let root = dir.path().join("tree");
        fs::write(root.join("redis/db_0/d1/k050.extra"), b"x").unwrap();
        let output = dir.path().join("out.tar");
        let err = pack_to_file(&root, &output, Compression::None, &mut NoProgress).unwrap_err();
        assert_eq!(err.code(), "archive-unchecksummed-file", "{err}");
        assert!(!output.exists());
        // Verified first, nothing reaches the output at all.
        let mut out = Vec::new();
        let err = pack_tree(&root, &mut out, Compression::None).unwrap_err();
        assert_eq!(err.code(), "archive-unchecksummed-file", "{err}");
        assert!(out.is_empty());
    }
}

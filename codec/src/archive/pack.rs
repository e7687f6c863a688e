//! Pack: list every directory and regular file with its metadata (one sorted walk,
//! through the external sort so a million-file tree stays in bounded memory), match
//! the files with the sorted CHECKSUMS rows, and stream headers and contents into a
//! plain or zstd writer, hashing every file as it is read.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use rustix::fs::{Mode, OFlags};
use sha2::{Digest, Sha256};

use super::header::{self, EntryHeader, TYPE_DIR, TYPE_REG};
use super::owners::Owners;
use super::{ArchiveError, Compression, kind_name, require_single_regular, verify_dump_root};
use crate::pipeline::Progress;
use crate::sort::SortedRecords;
use crate::tree::checksums::{
    CHECKSUMS_FILE_NAME, ChecksumsError, listing_value, sorted_listing, sorted_walk,
};
use crate::tree::fs::{FsError, FsErrorKind, PRIVATE_FILE_MODE};
use crate::tree::manifest::{MANIFEST_FILE_NAME, Manifest};
use crate::tree::publish::{Existing, PendingFile, TempName};

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

/// Below this, the output is collected before it is written (the writes are large).
const OUT_BUFFER: usize = 256 << 10;
/// The zstd level. klauspost's default (what Go writes) is about zstd's level 3; only
/// the decompressed stream must match Go's, and level 1 is the cheaper setting whose
/// frames are within a fraction of a percent of level 3's on dump trees (measured:
/// smaller on a Redis tree of small JSON files, +0.02 % on incompressible objects)
/// at about half the compression time.
const ZSTD_LEVEL: i32 = 1;
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

/// The command: output outside the input, never replacing an existing file, 0600.
/// The archive is written under a temporary sibling name (`<output>.tmp-<hex>`),
/// fsynced, and only then given the output's name (atomically refusing a name that
/// appeared meanwhile) and the directory fsynced: a failing tree, a failed write or
/// a killed process never leaves a partial archive under the output's name. Each file
/// is verified as it is read for the archive ([`Verification::WhilePacking`]).
pub fn pack_to_file(
    input: &Path,
    output: &Path,
    compression: Compression,
    progress: &mut dyn Progress,
) -> Result<PackSummary, ArchiveError> {
    check_output_outside_input(input, output)?;
    let (file, pending) = PendingFile::create(
        output,
        TempName::Suffixed,
        PRIVATE_FILE_MODE,
        Existing::Refuse,
    )
    .map_err(publish_error)?;
    // On any error below, dropping `pending` removes the temporary file.
    let summary = pack_stream(
        input,
        &file,
        compression,
        Verification::WhilePacking,
        progress,
    )?;
    file.sync_all()
        .map_err(|e| ArchiveError::io(pending.temp_path(), e))?;
    drop(file);
    pending.publish(true).map_err(publish_error)?;
    Ok(summary)
}

/// An existing output is the I/O error Go's exclusive create reports (`file
/// exists`, exit 1), not the tree layer's `output-exists`.
fn publish_error(e: FsError) -> ArchiveError {
    if e.kind() == FsErrorKind::Exists {
        return ArchiveError::io(e.path(), io::Error::from_raw_os_error(libc::EEXIST));
    }
    let path = e.path().to_path_buf();
    ArchiveError::io(&path, e.into())
}

/// When the tree is verified relative to writing the archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    /// Verify every file, then write: a failing tree writes nothing to the output, as
    /// Go's tool does; needed where bytes cannot be taken back (stdout). Reads every
    /// file twice, unless the plain tar fits in [`SPOOL_LIMIT`]: the verifying pass
    /// keeps it, and it is written (compressed) from memory. A single read of a larger
    /// tree would have to hold the archive somewhere until its last file is verified:
    /// in memory (unbounded) or in an archive-sized scratch file (a new way to fail,
    /// on a full disk, and for incompressible data as much I/O as the second read).
    First,
    /// Hash every file as it is read for the archive and fail at the first difference:
    /// one read of every file, but a failing tree leaves a partial output that the
    /// caller must discard ([`pack_to_file`] never publishes it).
    WhilePacking,
}

/// Verifies the tree at `root`, then writes its archive to `out` (the command's
/// stdout output), reporting the files written to `progress`.
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
        .and_then(|root| match verification {
            Verification::First => verify_then_pack(&root, out, compression, SPOOL_LIMIT, progress),
            Verification::WhilePacking => {
                one_pass(&root, out, Some(compression), progress, "packing")
            }
        });
    progress.finish();
    result
}

/// The plain tar a verifying pass keeps to write without reading the tree again.
pub const SPOOL_LIMIT: usize = 32 << 20;

/// [`Verification::First`]: a verifying pass that keeps the plain tar while it fits
/// in `limit` bytes; then that tar is written, or (larger trees) a second pass packs.
fn verify_then_pack(
    root: &Path,
    mut out: impl Write,
    compression: Compression,
    limit: usize,
    progress: &mut dyn Progress,
) -> Result<PackSummary, ArchiveError> {
    let mut spool = Spool {
        tar: Some(Vec::new()),
        limit,
    };
    let summary = one_pass(root, &mut spool, None, progress, "verifying the tree")?;
    let Some(tar) = spool.tar else {
        return one_pass(root, out, Some(compression), progress, "packing");
    };
    let mut sink = sink(&mut out, Some(compression))?;
    sink.writer().write_all(&tar).map_err(write_error)?;
    sink.finish().map_err(write_error)?;
    Ok(summary)
}

/// Keeps what is written while it fits in `limit` bytes; past that, drops it and
/// keeps nothing more.
struct Spool {
    tar: Option<Vec<u8>>,
    limit: usize,
}

impl Write for Spool {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(tar) = &mut self.tar {
            if tar.len() + buf.len() > self.limit {
                self.tar = None;
            } else {
                tar.extend_from_slice(buf);
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
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

/// Lists the tree and its CHECKSUMS, then streams the archive (with no compression
/// given, the plain tar of a verifying pass).
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
        let walk = scope.spawn(|| walk_tree(root));
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
    let (paths, total) = collected.map_err(|e| exact_error(root, e))?;
    progress.phase(label, Some(total));
    stream_archive(root, paths, checker, out, compression, progress)
        .map_err(|e| exact_error(root, e))
}

fn write_error(e: io::Error) -> ArchiveError {
    ArchiveError::Stream {
        context: "write archive".into(),
        source: e,
    }
}

/// Kinds of walked entries (the first byte of a record's value).
const DIR: u8 = b'd';
const FILE: u8 = b'f';
/// A symlink, device, FIFO or socket: refused when the pack reaches it.
const OTHER: u8 = b'o';

/// What a tar header needs of an entry, taken once by the walk (as Go's walk does):
/// the workers open and read, they do not stat again.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Meta {
    mode: u32,
    uid: u32,
    gid: u32,
    nlink: u64,
    size: u64,
    /// Whole seconds, already rounded.
    mtime: i64,
}

impl Meta {
    fn of(meta: &fs::Metadata) -> Meta {
        Meta {
            mode: meta.mode() & 0o7777,
            uid: meta.uid(),
            gid: meta.gid(),
            nlink: meta.nlink(),
            size: if meta.is_file() { meta.size() } else { 0 },
            mtime: header::round_mtime(meta.mtime(), meta.mtime_nsec()),
        }
    }

    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.mode.to_be_bytes());
        out.extend_from_slice(&self.uid.to_be_bytes());
        out.extend_from_slice(&self.gid.to_be_bytes());
        out.extend_from_slice(&self.nlink.to_be_bytes());
        out.extend_from_slice(&self.size.to_be_bytes());
        out.extend_from_slice(&self.mtime.to_be_bytes());
    }

    fn decode(b: &[u8]) -> Option<Meta> {
        let (mode, b) = b.split_first_chunk()?;
        let (uid, b) = b.split_first_chunk()?;
        let (gid, b) = b.split_first_chunk()?;
        let (nlink, b) = b.split_first_chunk()?;
        let (size, b) = b.split_first_chunk()?;
        let (mtime, _) = b.split_first_chunk()?;
        Some(Meta {
            mode: u32::from_be_bytes(*mode),
            uid: u32::from_be_bytes(*uid),
            gid: u32::from_be_bytes(*gid),
            nlink: u64::from_be_bytes(*nlink),
            size: u64::from_be_bytes(*size),
            mtime: i64::from_be_bytes(*mtime),
        })
    }
}

/// Every directory and regular file under `root` with its [`Meta`] (one stat per
/// entry, relative to its open directory), and anything else as [`OTHER`], sorted by
/// path through the tree layer's walk; also the regular files' total size (the
/// progress total).
fn walk_tree(root: &Path) -> Result<(SortedRecords, u64), ArchiveError> {
    let mut total = 0u64;
    let walked = sorted_walk(root, |entry, file_type, _, value| {
        if file_type.is_dir() || file_type.is_file() {
            let meta = Meta::of(&entry.metadata()?);
            total = total.saturating_add(meta.size);
            value.push(if file_type.is_dir() { DIR } else { FILE });
            meta.encode(value);
        } else {
            value.push(OTHER);
        }
        Ok(true)
    })
    .map_err(ChecksumsError::Fs)?;
    Ok((walked, total))
}

/// Reads and writes every entry in path order. A dispatching thread walks the sorted
/// paths beside the sorted CHECKSUMS rows and hands consecutive entries out as jobs;
/// a small pool of workers opens, reads and hashes them and lays out their tar bytes;
/// this thread takes the results back in job order (so the bytes do not depend on
/// scheduling) and writes them (through zstd). Queues bound what is in flight, and a
/// job's result travels in a few large blocks, so the threads rarely wait on each
/// other.
fn stream_archive(
    root: &Path,
    paths: SortedRecords,
    checker: Checker,
    out: impl Write,
    compression: Option<Compression>,
    progress: &mut dyn Progress,
) -> Result<PackSummary, ArchiveError> {
    let mut sink = sink(out, compression)?;
    let checksums_path = checker.checksums_path.clone();
    let workers = reader_count();
    let mut summary = PackSummary::default();
    let (job_tx, job_rx) = sync_channel::<Job>(workers);
    let job_rx = Mutex::new(job_rx);
    let pool = Pool::default();
    std::thread::scope(|scope| -> Result<(), ArchiveError> {
        let (order_tx, order_rx) = sync_channel::<Receiver<Done>>(2 * workers);
        for _ in 0..workers {
            let (job_rx, checksums_path, pool) = (&job_rx, checksums_path.as_path(), &pool);
            scope.spawn(move || work(root, checksums_path, job_rx, pool));
        }
        let dispatcher = scope.spawn(move || dispatch(root, paths, checker, &job_tx, &order_tx));
        let mut writer = Writer {
            sink: sink.writer(),
            checksums_path: &checksums_path,
            summary: &mut summary,
            progress,
            pool: &pool,
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

/// The buffered plain (`None`: a verifying pass) or compressing writer.
fn sink<W: Write>(out: W, compression: Option<Compression>) -> Result<Sink<W>, ArchiveError> {
    let out = BufWriter::with_capacity(OUT_BUFFER, out);
    match compression {
        None | Some(Compression::None) => Ok(Sink::Plain(out)),
        Some(Compression::Zstd) => {
            let mut encoder =
                zstd::stream::write::Encoder::new(out, ZSTD_LEVEL).map_err(write_error)?;
            encoder.include_checksum(true).map_err(write_error)?;
            // Compression on zstd's own worker thread, in jobs of contiguous input,
            // while this thread keeps writing tar (the frame decompresses to the same
            // tar; its bytes do not depend on timing).
            encoder.multithread(ZSTD_WORKERS).map_err(write_error)?;
            Ok(Sink::Zstd(encoder))
        }
    }
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

/// A job ends after this many entries...
const JOB_ENTRIES: usize = 256;
/// ...or once its files hold this many content bytes.
const JOB_BYTES: u64 = 1 << 20;
/// Blocks a worker may have sent ahead of the writer on one job.
const JOB_BLOCKS: usize = 2;
/// A worker sends the tar bytes it laid out once they reach this size, and reads
/// files up to this size whole into the block; larger ones follow their header in
/// blocks of their own, each a full buffer ([`BLOCK_CAPACITY`]), hashed as they are
/// read, their tail block sent on once it holds this much. A job holds at most
/// `JOB_BLOCKS * BLOCK_CAPACITY` (about 2 MiB), and at most `3 * workers` jobs are in
/// flight (in practice a block per job: most of them are 256 small files).
const BLOCK: usize = 512 << 10;

/// Entries for one worker, and where its blocks go.
struct Job {
    entries: Vec<JobEntry>,
    reply: SyncSender<Done>,
}

struct JobEntry {
    rel: Vec<u8>,
    meta: Meta,
    /// `None` for a directory.
    want: Option<Want>,
}

/// One block of a job's result, or why the job failed (its last message).
type Done = Result<Block, ArchiveError>;

/// Tar bytes ready to be written, in archive order, and what they hold.
#[derive(Default)]
struct Block {
    bytes: Vec<u8>,
    dirs: u64,
    /// Files whose last byte (and padding) is in this block.
    files: u64,
    /// File content bytes in this block.
    content: u64,
    /// The job's last block: every entry was read and checked.
    last: bool,
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
        listing.rows.advance().map_err(scratch_error)?;
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
        self.rows.advance().map_err(scratch_error)?;
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
        listing_value(value).ok_or_else(|| cut_short("CHECKSUMS listing"))
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

/// A failure of the scratch files behind the sorted walk and listing: reported as
/// an I/O error of the temporary directory they live in.
#[cold]
fn scratch_error(e: io::Error) -> ArchiveError {
    ArchiveError::io(std::env::temp_dir(), e)
}

/// A scratch record of `what` too short to decode.
#[cold]
fn cut_short(what: &str) -> ArchiveError {
    scratch_error(io::Error::other(format!(
        "scratch record of the {what} is cut short"
    )))
}

/// The dispatching thread: every walked entry in order, files matched with their
/// CHECKSUMS row, sent in jobs of at most [`JOB_ENTRIES`] entries or [`JOB_BYTES`]
/// content bytes; each job's reply slot is queued for the writer first, so results
/// are written in walk order. Stops quietly when the writer has gone (its error is
/// reported).
fn dispatch(
    root: &Path,
    mut paths: SortedRecords,
    mut checker: Checker,
    job_tx: &SyncSender<Job>,
    order_tx: &SyncSender<Receiver<Done>>,
) -> Result<(), ArchiveError> {
    let mut entries = Vec::with_capacity(JOB_ENTRIES);
    let mut bytes = 0u64;
    loop {
        let next = paths.next().map_err(scratch_error)?;
        let more = match next {
            Some((rel, value)) => {
                let entry = job_entry(root, rel, value, &mut checker)?;
                bytes = bytes.saturating_add(entry.meta.size);
                entries.push(entry);
                true
            }
            None => {
                checker.finish()?;
                false
            }
        };
        if entries.len() == JOB_ENTRIES || bytes >= JOB_BYTES || (!more && !entries.is_empty()) {
            let (reply, done) = sync_channel(JOB_BLOCKS);
            let job = Job {
                entries: std::mem::replace(&mut entries, Vec::with_capacity(JOB_ENTRIES)),
                reply,
            };
            bytes = 0;
            if order_tx.send(done).is_err() || job_tx.send(job).is_err() {
                return Ok(());
            }
        }
        if !more {
            return Ok(());
        }
    }
}

/// One walked entry as a job entry: a directory, or a regular file with one link and
/// its CHECKSUMS row; anything else fails the pack, named by its path.
fn job_entry(
    root: &Path,
    rel: &[u8],
    value: &[u8],
    checker: &mut Checker,
) -> Result<JobEntry, ArchiveError> {
    let path = || root.join(std::ffi::OsStr::from_bytes(rel));
    let (&kind, meta) = value.split_first().ok_or_else(|| cut_short("tree walk"))?;
    if kind == OTHER {
        let path = path();
        let meta = fs::symlink_metadata(&path).map_err(|e| ArchiveError::io(&path, e))?;
        return Err(ArchiveError::non_regular(&path, kind_name(&meta)));
    }
    let meta = Meta::decode(meta).ok_or_else(|| cut_short("tree walk"))?;
    let want = match kind {
        DIR => None,
        FILE if meta.nlink > 1 => {
            return Err(ArchiveError::non_regular(
                path(),
                format!("hard-linked file (nlink={})", meta.nlink),
            ));
        }
        FILE => Some(checker.want(rel)?),
        _ => return Err(cut_short("tree walk")),
    };
    Ok(JobEntry {
        rel: rel.to_vec(),
        meta,
        want,
    })
}

/// A reading worker: jobs until the queue closes.
fn work(root: &Path, checksums_path: &Path, jobs: &Mutex<Receiver<Job>>, pool: &Pool) {
    let mut reader = Reader {
        root,
        checksums_path,
        owners: Owners::default(),
        dirs: DirCache::default(),
        pool,
    };
    loop {
        let job = match jobs.lock() {
            Ok(queue) => queue.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else {
            return;
        };
        if let Err(Stop::Failed(e)) = reader.run(job.entries, &job.reply) {
            let _ = job.reply.send(Err(e));
        }
    }
}

/// What a worker keeps between jobs.
struct Reader<'a> {
    root: &'a Path,
    checksums_path: &'a Path,
    owners: Owners,
    dirs: DirCache,
    pool: &'a Pool,
}

/// Why a job stopped before its last block.
enum Stop {
    /// The writer has gone: not an error of the job (the writer's own is reported).
    Gone,
    /// The job failed; the writer is told.
    Failed(ArchiveError),
}

impl From<ArchiveError> for Stop {
    fn from(e: ArchiveError) -> Stop {
        Stop::Failed(e)
    }
}

impl Reader<'_> {
    /// Lays out one job's entries as tar bytes, sending them in blocks; the last
    /// block says the job is complete.
    fn run(&mut self, entries: Vec<JobEntry>, reply: &SyncSender<Done>) -> Result<(), Stop> {
        let mut block = self.pool.block();
        for entry in entries {
            self.entry(entry, &mut block, reply)?;
        }
        block.last = true;
        reply.send(Ok(block)).map_err(|_| Stop::Gone)
    }

    /// Appends one entry's header and content to `block` (sending it on when full,
    /// or before a large file's content), the content hashed and checked on the way.
    /// Exactly the walked size is read and hashed: if the file grew since, what is
    /// archived is still the prefix the digest vouches for.
    fn entry(
        &mut self,
        entry: JobEntry,
        block: &mut Block,
        reply: &SyncSender<Done>,
    ) -> Result<(), Stop> {
        let JobEntry { rel, meta, want } = entry;
        let header = EntryHeader {
            name: rel,
            mode: meta.mode,
            uid: u64::from(meta.uid),
            gid: u64::from(meta.gid),
            uname: self.owners.user(u64::from(meta.uid)).to_owned(),
            gname: self.owners.group(u64::from(meta.gid)).to_owned(),
            size: if want.is_some() { meta.size } else { 0 },
            mtime: meta.mtime,
            typeflag: if want.is_some() { TYPE_REG } else { TYPE_DIR },
        };
        let Some(want_row) = want else {
            header::write_header(&mut block.bytes, &header).map_err(write_error)?;
            block.dirs += 1;
            return self.send_if_full(block, reply);
        };
        let path = || self.root.join(std::ffi::OsStr::from_bytes(&header.name));
        let file = self
            .dirs
            .open(self.root, &header.name)
            .map_err(|e| match e.raw_os_error() {
                Some(libc::ELOOP) => ArchiveError::non_regular(path(), "symlink"),
                _ => ArchiveError::io(path(), e),
            })?;
        header::write_header(&mut block.bytes, &header).map_err(write_error)?;
        let size = header.size;
        if size <= BLOCK as u64 {
            let start = block.bytes.len();
            read_exact(&file, &path, &mut block.bytes, size as usize)?;
            let have = Sha256::digest(&block.bytes[start..]).into();
            check_digest(self.checksums_path, &header.name, &path(), want_row, have)?;
            end_file(block, size);
            return self.send_if_full(block, reply);
        }
        self.send(block, reply)?;
        let mut hasher = Sha256::new();
        let mut left = size;
        loop {
            // As much as the (empty) buffer holds: a read never goes past `want`
            // into the next piece's bytes, since the spare capacity is `want`.
            let room = block.bytes.capacity() - block.bytes.len();
            let want = usize::try_from(left).map_or(room, |left| left.min(room));
            read_exact(&file, &path, &mut block.bytes, want)?;
            hasher.update(&block.bytes);
            left -= want as u64;
            if left == 0 {
                let have = hasher.finalize().into();
                check_digest(self.checksums_path, &header.name, &path(), want_row, have)?;
                end_file(block, want as u64);
                // The tail may fill most of the buffer: sent on now, the next file's
                // bytes still fit without the buffer growing.
                return self.send_if_full(block, reply);
            }
            block.content = want as u64;
            self.send(block, reply)?;
        }
    }

    /// Sends `block` on and starts a new one.
    fn send(&self, block: &mut Block, reply: &SyncSender<Done>) -> Result<(), Stop> {
        let full = std::mem::replace(block, self.pool.block());
        reply.send(Ok(full)).map_err(|_| Stop::Gone)
    }

    fn send_if_full(&self, block: &mut Block, reply: &SyncSender<Done>) -> Result<(), Stop> {
        if block.bytes.len() >= BLOCK {
            self.send(block, reply)
        } else {
            Ok(())
        }
    }
}

/// Block buffers handed back by the writer for the workers to fill again: no
/// allocation, page fault or zeroing per block once the first few went round.
#[derive(Default)]
struct Pool {
    free: Mutex<Vec<Vec<u8>>>,
}

/// Buffers the pool keeps (more are freed): about what is in flight.
const POOL_BUFFERS: usize = 16;
/// Capacity of a block buffer: a block holds fewer than [`BLOCK`] bytes before a file
/// of at most [`BLOCK`] bytes is appended with its headers and padding, so a buffer
/// never grows.
const BLOCK_CAPACITY: usize = 2 * BLOCK + 4 * header::BLOCK;

impl Pool {
    fn block(&self) -> Block {
        let reused = self.free.lock().ok().and_then(|mut free| free.pop());
        Block {
            bytes: reused.unwrap_or_else(|| Vec::with_capacity(BLOCK_CAPACITY)),
            ..Block::default()
        }
    }

    fn give(&self, mut bytes: Vec<u8>) {
        if bytes.capacity() < BLOCK_CAPACITY {
            return;
        }
        bytes.clear();
        if let Ok(mut free) = self.free.lock()
            && free.len() < POOL_BUFFERS
        {
            free.push(bytes);
        }
    }
}

/// A file's last `content` bytes are in `block`: its padding, and the counts.
fn end_file(block: &mut Block, content: u64) {
    let padded = block.bytes.len() + header::padding(block.bytes.len() as u64);
    block.bytes.resize(padded, 0);
    block.files += 1;
    block.content += content;
}

/// The writing side: the blocks of every job, in job order.
struct Writer<'a> {
    sink: &'a mut dyn Write,
    checksums_path: &'a Path,
    summary: &'a mut PackSummary,
    progress: &'a mut dyn Progress,
    pool: &'a Pool,
}

impl Writer<'_> {
    fn write_jobs(&mut self, order: &Receiver<Receiver<Done>>) -> Result<(), ArchiveError> {
        for done in order {
            let mut complete = false;
            for block in done.iter() {
                let block = block?;
                self.sink.write_all(&block.bytes).map_err(write_error)?;
                self.summary.dirs += block.dirs;
                self.summary.files += block.files;
                self.summary.bytes += block.content;
                self.progress
                    .update(self.summary.bytes, self.summary.dirs + self.summary.files);
                self.pool.give(block.bytes);
                if block.last {
                    complete = true;
                    break;
                }
            }
            // A job always ends with its last block or an error; anything less means
            // its worker died.
            if !complete {
                return Err(ArchiveError::io(
                    self.checksums_path,
                    io::Error::other("archive reader stopped"),
                ));
            }
        }
        Ok(())
    }
}

/// The directory of the file opened last, kept open: consecutive files of a job are
/// mostly in one directory, and opening by name relative to it spares the kernel the
/// walk of the whole path each time.
#[derive(Default)]
struct DirCache {
    /// The directory's path relative to the root, and the directory.
    dir: Option<(Vec<u8>, File)>,
}

impl DirCache {
    /// Opens `root/rel` read-only, without following a final symlink or blocking
    /// (the walk saw a regular file there; a FIFO put in its place must not hang the
    /// pack, and anything but the file's bytes fails its digest).
    fn open(&mut self, root: &Path, rel: &[u8]) -> io::Result<File> {
        let (parent, name) = match rel.iter().rposition(|&b| b == b'/') {
            Some(i) => (&rel[..i], &rel[i + 1..]),
            None => (&rel[..0], rel),
        };
        if self
            .dir
            .as_ref()
            .is_none_or(|(open, _)| open.as_slice() != parent)
        {
            let dir = OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC)
                .open(root.join(std::ffi::OsStr::from_bytes(parent)))?;
            self.dir = Some((parent.to_vec(), dir));
        }
        let Some((_, dir)) = &self.dir else {
            return Err(io::Error::other("directory cache is empty"));
        };
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
        let fd = rustix::fs::openat(dir, std::ffi::OsStr::from_bytes(name), flags, Mode::empty())?;
        Ok(File::from(fd))
    }
}

/// Appends exactly `want` bytes of the file to `buf`, reading into its spare
/// capacity (no zeroing; one read for a small file). Bytes past `want` (the file grew
/// since the walk) are dropped; a file that shrank fails the pack (the tar would be
/// corrupt otherwise).
fn read_exact(
    file: &File,
    path: &dyn Fn() -> PathBuf,
    buf: &mut Vec<u8>,
    want: usize,
) -> Result<(), ArchiveError> {
    let end = buf.len() + want;
    buf.reserve(want);
    while buf.len() < end {
        match rustix::io::read(file, rustix::buffer::spare_capacity(buf)) {
            Ok(0) => {
                return Err(ArchiveError::non_regular(
                    path(),
                    "shrank while the archive was being packed",
                ));
            }
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(ArchiveError::io(path(), e.into())),
        }
    }
    buf.truncate(end);
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Read as _;

    use super::*;
    use crate::error::ErrorCode;
    use crate::pipeline::NoProgress;
    use crate::tree::checksums::write_checksums;
    use crate::tree::walltime::WallTime;
    use elastickv_testkit::work::names;

    const LARGE: &str = "s3/bucket/large.bin";

    /// Enough small files for several jobs, and files at and around the block size.
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
        fs::write(root.join(LARGE), big(3 * BLOCK + 17)).unwrap();
        fs::write(root.join("s3/bucket/chunk.bin"), big(BLOCK)).unwrap();
        fs::write(root.join("s3/bucket/chunk1.bin"), big(BLOCK + 1)).unwrap();
        Manifest::new_phase0(WallTime::from_unix(1_700_000_000, 0).unwrap())
            .write_file(&root)
            .unwrap();
        write_checksums(&root).unwrap();
        dir
    }

    #[test]
    fn meta_decodes_what_it_encodes_and_refuses_a_short_record() {
        let meta = Meta {
            mode: 0o644,
            uid: 1000,
            gid: u32::MAX,
            nlink: 1,
            size: 3 << 40,
            mtime: -1,
        };
        let mut bytes = Vec::new();
        meta.encode(&mut bytes);
        assert_eq!(Meta::decode(&bytes), Some(meta));
        assert_eq!(Meta::decode(&bytes[..bytes.len() - 1]), None);
    }

    #[test]
    fn a_packed_file_is_published_private_and_alone() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tree();
        let root = dir.path().join("tree");
        let output = dir.path().join("out.tar");
        pack_to_file(&root, &output, Compression::None, &mut NoProgress).unwrap();
        assert_eq!(names(dir.path()), ["out.tar", "tree"]);
        let mode = fs::metadata(&output).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(fs::read(&output).unwrap() == pack(&root, Compression::None, Verification::First));
        // An existing output is refused, as Go's exclusive create does, and kept.
        let err = pack_to_file(&root, &output, Compression::None, &mut NoProgress).unwrap_err();
        assert_eq!(err.code(), "io", "{err}");
        assert_eq!(names(dir.path()), ["out.tar", "tree"]);
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

    /// Verifying first gives the same archive whether the tar was kept from the
    /// verifying pass or packed again by a second one.
    #[test]
    fn verifying_first_with_and_without_the_spool() {
        let dir = tree();
        let root = dir.path().join("tree");
        let plain = pack(&root, Compression::None, Verification::WhilePacking);
        for limit in [usize::MAX, plain.len(), plain.len() - 1, 0] {
            for compression in [Compression::None, Compression::Zstd] {
                let mut out = Vec::new();
                let mut phases = Phases::default();
                let summary =
                    verify_then_pack(&root, &mut out, compression, limit, &mut phases).unwrap();
                assert_eq!(summary.files, 305);
                if compression == Compression::Zstd {
                    out = zstd::stream::decode_all(&out[..]).unwrap();
                }
                assert!(out == plain, "limit {limit}, {compression:?}");
                let second_read = limit < plain.len();
                assert_eq!(
                    phases.0.iter().any(|p| p == "packing"),
                    second_read,
                    "limit {limit}: {:?}",
                    phases.0
                );
            }
        }
    }

    /// The phase labels a pack went through.
    #[derive(Default)]
    struct Phases(Vec<String>);

    impl Progress for Phases {
        fn phase(&mut self, label: &str, _total_bytes: Option<u64>) {
            self.0.push(label.to_owned());
        }
    }

    /// Flips the last byte of the tree's large file, which CHECKSUMS then disowns.
    fn change_large_file(root: &Path) {
        let mut data = fs::read(root.join(LARGE)).unwrap();
        *data.last_mut().unwrap() ^= 1;
        fs::write(root.join(LARGE), data).unwrap();
    }

    #[test]
    fn a_failing_tree_too_large_for_the_spool_writes_nothing() {
        let dir = tree();
        let root = dir.path().join("tree");
        change_large_file(&root);
        for compression in [Compression::None, Compression::Zstd] {
            let mut out = Vec::new();
            let err =
                verify_then_pack(&root, &mut out, compression, 0, &mut NoProgress).unwrap_err();
            assert_eq!(err.code(), "checksum-mismatch", "{err}");
            assert!(
                out.is_empty(),
                "{compression:?}: {} bytes written",
                out.len()
            );
        }
    }

    #[test]
    fn an_output_name_near_the_file_name_limit_is_packed() {
        let dir = tree();
        let root = dir.path().join("tree");
        let name = format!("{}.tar", "o".repeat(246));
        let output = dir.path().join(&name);
        pack_to_file(&root, &output, Compression::None, &mut NoProgress).unwrap();
        let plain = pack(&root, Compression::None, Verification::WhilePacking);
        assert!(fs::read(&output).unwrap() == plain);
        assert_eq!(names(dir.path()), [name, "tree".to_owned()]);
    }

    #[test]
    fn a_changed_large_file_fails_and_leaves_no_archive() {
        let dir = tree();
        let root = dir.path().join("tree");
        change_large_file(&root);
        let output = dir.path().join("out.tar.zst");
        let err = pack_to_file(&root, &output, Compression::Zstd, &mut NoProgress).unwrap_err();
        assert_eq!(err.code(), "checksum-mismatch", "{err}");
        assert!(err.to_string().contains(LARGE), "{err}");
        assert_eq!(
            names(dir.path()),
            ["tree"],
            "neither output nor temporary file"
        );
    }

    #[test]
    fn an_unlisted_file_fails_and_leaves_no_archive() {
        let dir = tree();
        let root = dir.path().join("tree");
        fs::write(root.join("redis/db_0/d1/k050.extra"), b"x").unwrap();
        let output = dir.path().join("out.tar");
        let err = pack_to_file(&root, &output, Compression::None, &mut NoProgress).unwrap_err();
        assert_eq!(err.code(), "archive-unchecksummed-file", "{err}");
        assert_eq!(
            names(dir.path()),
            ["tree"],
            "neither output nor temporary file"
        );
        // Verified first, nothing reaches the output at all.
        let mut out = Vec::new();
        let err = pack_stream(
            &root,
            &mut out,
            Compression::None,
            Verification::First,
            &mut NoProgress,
        )
        .unwrap_err();
        assert_eq!(err.code(), "archive-unchecksummed-file", "{err}");
        assert!(out.is_empty());
    }
}

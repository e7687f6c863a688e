//! Writing a fresh dump tree at the speed of the file system (docs/format.md §8.1).
//!
//! A decode writes into an output directory it has locked and found empty, so nothing
//! in it can have been planted: the writer opens the root once, creates every
//! directory once and keeps its handle, and creates every file with
//! `openat(dir, name, O_CREAT | O_EXCL | O_NOFOLLOW)`, which refuses a link or FIFO
//! that appeared anyway, without per-file path walks, `lstat`s or temp + rename. The
//! tree's completeness marker is `CHECKSUMS`, written last, so a file needs no atomic
//! publication of its own.
//!
//! Each file's SHA-256 is computed from the bytes as they are written and kept in an
//! external sort keyed by path, so `CHECKSUMS` is assembled without reading the tree
//! back, in bounded memory whatever the file count.
//!
//! Whole files, and files copied from ranges of a scratch file, may be handed to a
//! bounded pool of writer threads ([`TreeWriter::new`] with `jobs > 1`). Names,
//! contents and the sorted digests do not depend on which thread writes what, so the
//! tree is identical for every `jobs`.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use sha2::{Digest, Sha256};

use super::fs::{DIR_MODE, FsError, FsErrorKind, PRIVATE_FILE_MODE};
use super::pool::{FirstFailure, Pool};
pub use super::sink::TreeFile;
use super::sink::{FileRanges, FileSink, RANGE_BUFFER, TreeSink};
use crate::sort::{ExternalSorter, SortOptions, SortedRecords};

/// Batches of files ([`Pool`]) queued per writer thread before the producer waits:
/// enough to keep the threads busy, few enough that queued bytes stay small next to
/// the sort budgets.
const QUEUE_PER_JOB: usize = 2;

/// The SHA-256 of a written file.
pub type FileDigest = [u8; 32];

/// A fresh tree being written; see the module docs.
pub struct TreeWriter {
    shared: Arc<Shared>,
    pool: Option<Pool<Job>>,
}

struct Shared {
    root_path: PathBuf,
    root: OwnedFd,
    /// Handles of the directories created so far, by `/`-joined relative path.
    dirs: Mutex<HashMap<Vec<u8>, Arc<OwnedFd>>>,
    /// `(relative path, digest)` of every finished file; taken by `finish`.
    digests: Mutex<Option<ExternalSorter>>,
    /// The first failure of a writer thread; later files are not written.
    failure: FirstFailure,
}

struct Job {
    dir: Arc<OwnedFd>,
    rel: Vec<u8>,
    content: Content,
}

/// A queued file's content.
enum Content {
    Bytes(Vec<u8>),
    /// Copied by the writer thread, [`RANGE_BUFFER`] at a time.
    Ranges(FileRanges),
}

impl Content {
    fn len(&self) -> u64 {
        match self {
            Content::Bytes(bytes) => bytes.len() as u64,
            Content::Ranges(ranges) => ranges.len(),
        }
    }
}

impl std::fmt::Debug for TreeWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TreeWriter")
            .field("root", &self.shared.root_path)
            .field("workers", &self.pool.as_ref().map_or(0, Pool::threads))
            .finish_non_exhaustive()
    }
}

impl TreeWriter {
    /// A writer into the existing, empty directory `root`, with `jobs` threads for
    /// whole files (`jobs <= 1` writes them on the caller's thread). Digests spill
    /// through `sort`.
    ///
    /// # Errors
    /// `root` cannot be opened as a directory (a symlink is refused).
    pub fn new(root: &Path, jobs: usize, sort: SortOptions) -> Result<TreeWriter, FsError> {
        let fd = rustix::fs::open(
            root,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| dir_error(root, e, FsErrorKind::Symlink))?;
        let shared = Arc::new(Shared {
            root_path: root.to_path_buf(),
            root: fd,
            dirs: Mutex::new(HashMap::new()),
            digests: Mutex::new(Some(ExternalSorter::new(sort))),
            failure: FirstFailure::new("write"),
        });
        let pool = (jobs > 1).then(|| {
            let shared = Arc::clone(&shared);
            Pool::start(jobs, jobs * QUEUE_PER_JOB, move |job| {
                shared.run_queued(job)
            })
        });
        Ok(TreeWriter { shared, pool })
    }

    /// A writer on the caller's thread, digests sorted in the system temp dir: for
    /// callers that run one adapter's decoder straight into a directory (tests,
    /// benches, the generator's checks).
    ///
    /// # Errors
    /// As [`TreeWriter::new`].
    pub fn serial(root: &Path) -> Result<Arc<TreeWriter>, FsError> {
        TreeWriter::new(root, 1, SortOptions::default()).map(Arc::new)
    }

    /// The tree's root.
    pub fn root(&self) -> &Path {
        &self.shared.root_path
    }

    /// Writes the whole file `rel` (a `/`-joined path below the root; its directories
    /// are created as needed) with mode 0600. With a pool, the write happens on a
    /// writer thread and its failure is reported by a later call or [`finish`].
    ///
    /// [`finish`]: TreeWriter::finish
    ///
    /// # Errors
    /// The name exists already, a directory cannot be created, or a writer thread
    /// failed earlier.
    pub fn write_file(&self, rel: &[u8], bytes: Vec<u8>) -> Result<(), FsError> {
        self.queue(rel, Content::Bytes(bytes))
    }

    /// Writes the file `rel` made of `ranges` (see [`TreeSink::write_ranges`]): on a
    /// writer thread when there is a pool, like [`write_file`](TreeWriter::write_file),
    /// but without holding the content in memory.
    ///
    /// # Errors
    /// As [`write_file`](TreeWriter::write_file), or reading the ranges fails.
    pub fn write_ranges(&self, rel: &[u8], ranges: FileRanges) -> Result<(), FsError> {
        self.queue(rel, Content::Ranges(ranges))
    }

    fn queue(&self, rel: &[u8], content: Content) -> Result<(), FsError> {
        self.shared.check_failure()?;
        let dir = self.shared.dir_of(rel)?;
        let job = Job {
            dir,
            rel: rel.to_vec(),
            content,
        };
        match &self.pool {
            Some(pool) => {
                let bytes = usize::try_from(job.content.len()).unwrap_or(usize::MAX);
                if pool.send(job, bytes) {
                    Ok(())
                } else {
                    Err(self.shared.stopped())
                }
            }
            None => self.shared.write_job(&job, PRIVATE_FILE_MODE),
        }
    }

    /// [`write_file`](TreeWriter::write_file) on the caller's thread with `mode`
    /// (the umask applies): for the files Go creates with `os.Create`.
    ///
    /// # Errors
    /// As [`write_file`](TreeWriter::write_file).
    pub fn write_file_with_mode(
        &self,
        rel: &[u8],
        bytes: Vec<u8>,
        mode: u32,
    ) -> Result<(), FsError> {
        self.shared.check_failure()?;
        let dir = self.shared.dir_of(rel)?;
        self.shared.write_job(
            &Job {
                dir,
                rel: rel.to_vec(),
                content: Content::Bytes(bytes),
            },
            mode,
        )
    }

    /// Creates `rel` to be written in pieces on the caller's thread (sidecars,
    /// collection documents); its digest counts once [`TreeFile::finish`] returns.
    ///
    /// # Errors
    /// As [`write_file`](TreeWriter::write_file).
    pub fn create_file(&self, rel: &[u8]) -> Result<TreeFile, FsError> {
        self.shared.check_failure()?;
        let dir = self.shared.dir_of(rel)?;
        let file = self.shared.create_in(&dir, rel, PRIVATE_FILE_MODE)?;
        Ok(TreeFile::new(Box::new(DiskFile {
            out: HashingFile {
                file,
                hasher: Sha256::new(),
            },
            rel: rel.to_vec(),
            shared: Arc::clone(&self.shared),
        })))
    }

    /// Creates the directory `rel` (and its parents) without a file in it.
    ///
    /// # Errors
    /// It cannot be created or opened.
    pub fn create_dir(&self, rel: &[u8]) -> Result<(), FsError> {
        self.shared.dir(rel).map(drop)
    }

    /// Waits for the writer threads (every file queued is written; later files are
    /// written on the caller's thread), then makes everything written durable
    /// (`syncfs` of the tree's file system), so a completeness marker written
    /// afterwards never outlives the data it vouches for.
    ///
    /// # Errors
    /// A write failed, or the sync fails.
    pub fn sync(&mut self) -> Result<(), FsError> {
        self.join_writers()?;
        rustix::fs::syncfs(&self.shared.root).map_err(|e| errno_error(&self.shared.root_path, e))
    }

    /// Waits for the writer threads, if any are left; the first failure of a write.
    fn join_writers(&mut self) -> Result<(), FsError> {
        if let Some(mut pool) = self.pool.take()
            && !pool.join()
        {
            return Err(self.shared.stopped());
        }
        self.shared.check_failure()
    }

    /// Waits for the writer threads and returns every file's digest, sorted bytewise
    /// by relative path.
    ///
    /// # Errors
    /// The first failure of any write.
    pub fn finish(mut self) -> Result<SortedRecords, FsError> {
        self.join_writers()?;
        let digests = self
            .shared
            .digests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        digests
            .ok_or_else(|| self.shared.stopped())?
            .finish()
            .map_err(|e| FsError::io(&self.shared.root_path, e))
    }
}

/// The file behind a [`TreeFile`] of a [`TreeWriter`]: written as its buffer
/// flushes, hashed on the way.
struct DiskFile {
    out: HashingFile,
    rel: Vec<u8>,
    shared: Arc<Shared>,
}

/// A file being written, hashed on the way.
struct HashingFile {
    file: File,
    hasher: Sha256,
}

impl Write for HashingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl FileSink for DiskFile {
    fn path(&self) -> PathBuf {
        self.shared.full_path(&self.rel)
    }

    /// Records the digest (the bytes were flushed by [`TreeFile::finish`]).
    fn finish(self: Box<Self>) -> Result<(), FsError> {
        self.shared
            .record(&self.rel, &self.out.hasher.finalize().into())
    }
}

impl Write for DiskFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.out.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

impl TreeSink for TreeWriter {
    fn root(&self) -> &Path {
        TreeWriter::root(self)
    }

    fn write_file(&self, rel: &[u8], bytes: Vec<u8>) -> Result<(), FsError> {
        TreeWriter::write_file(self, rel, bytes)
    }

    fn create_file(&self, rel: &[u8]) -> Result<TreeFile, FsError> {
        TreeWriter::create_file(self, rel)
    }

    fn write_ranges(&self, rel: &[u8], ranges: FileRanges) -> Result<(), FsError> {
        TreeWriter::write_ranges(self, rel, ranges)
    }

    fn create_dir(&self, rel: &[u8]) -> Result<(), FsError> {
        TreeWriter::create_dir(self, rel)
    }
}

impl Shared {
    /// A writer thread's job: skipped after the first failure, which it records.
    fn run_queued(&self, job: &Job) {
        if self.failure.has_failed() {
            return;
        }
        if let Err(e) = self.write_job(job, PRIVATE_FILE_MODE) {
            self.failure.record(e);
        }
    }

    fn full_path(&self, rel: &[u8]) -> PathBuf {
        self.root_path.join(std::ffi::OsStr::from_bytes(rel))
    }

    /// The first writer-thread failure, reported again to every later call.
    fn check_failure(&self) -> Result<(), FsError> {
        self.failure.check()
    }

    fn stopped(&self) -> FsError {
        self.failure.stopped(&self.root_path)
    }

    /// The handle of the directory holding `rel`.
    fn dir_of(&self, rel: &[u8]) -> Result<Arc<OwnedFd>, FsError> {
        match rel.iter().rposition(|&b| b == b'/') {
            Some(slash) => self.dir(&rel[..slash]),
            None => Ok(Arc::new(
                self.root
                    .try_clone()
                    .map_err(|e| FsError::io(&self.root_path, e))?,
            )),
        }
    }

    /// The handle of the directory `rel`, creating it and its parents the first time.
    fn dir(&self, rel: &[u8]) -> Result<Arc<OwnedFd>, FsError> {
        let mut dirs = self.dirs.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(fd) = dirs.get(rel) {
            return Ok(Arc::clone(fd));
        }
        let mut parent: Option<Arc<OwnedFd>> = None;
        let mut end = 0;
        for name in rel.split(|&b| b == b'/') {
            let start = end;
            end = start + name.len();
            let prefix = &rel[..end];
            end += 1;
            if let Some(fd) = dirs.get(prefix) {
                parent = Some(Arc::clone(fd));
                continue;
            }
            let at = parent.as_deref().unwrap_or(&self.root);
            let fd = Arc::new(self.make_dir(at, prefix, name)?);
            dirs.insert(prefix.to_vec(), Arc::clone(&fd));
            parent = Some(fd);
        }
        parent.ok_or_else(|| FsError::io(&self.root_path, io::Error::other("empty directory path")))
    }

    /// `mkdirat` then `openat(O_DIRECTORY | O_NOFOLLOW)`: an existing directory is
    /// used (the scratch space may live in the tree), a link is refused.
    fn make_dir(&self, at: &OwnedFd, rel: &[u8], name: &[u8]) -> Result<OwnedFd, FsError> {
        let name = std::ffi::OsStr::from_bytes(name);
        match rustix::fs::mkdirat(at, name, Mode::from_raw_mode(DIR_MODE)) {
            Ok(()) | Err(Errno::EXIST) => {}
            Err(e) => return Err(errno_error(&self.full_path(rel), e)),
        }
        rustix::fs::openat(
            at,
            name,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| dir_error(&self.full_path(rel), e, FsErrorKind::SymlinkAncestor))
    }

    fn create_in(&self, dir: &OwnedFd, rel: &[u8], mode: u32) -> Result<File, FsError> {
        let name = rel.rsplit(|&b| b == b'/').next().unwrap_or(rel);
        rustix::fs::openat(
            dir.as_fd(),
            std::ffi::OsStr::from_bytes(name),
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(mode),
        )
        .map(File::from)
        .map_err(|e| errno_error(&self.full_path(rel), e))
    }

    fn write_job(&self, job: &Job, mode: u32) -> Result<(), FsError> {
        let file = self.create_in(&job.dir, &job.rel, mode)?;
        let mut out = HashingFile {
            file,
            hasher: Sha256::new(),
        };
        let written = match &job.content {
            Content::Bytes(bytes) => out.write_all(bytes),
            Content::Ranges(ranges) => ranges.copy_to(&mut vec![0; RANGE_BUFFER], &mut out),
        };
        written.map_err(|e| FsError::io(self.full_path(&job.rel), e))?;
        self.record(&job.rel, &out.hasher.finalize().into())
    }

    fn record(&self, rel: &[u8], digest: &FileDigest) -> Result<(), FsError> {
        match &mut *self.digests.lock().unwrap_or_else(PoisonError::into_inner) {
            Some(digests) => digests
                .push(rel, digest)
                .map_err(|e| FsError::io(&self.root_path, e)),
            None => Err(self.stopped()),
        }
    }
}

/// A failed directory open: with `O_DIRECTORY | O_NOFOLLOW` a symlink or a file
/// shows up as `ENOTDIR`/`ELOOP`; say which (`link_kind` for a symlink: the root
/// itself, or a directory files would be written below).
fn dir_error(path: &Path, errno: Errno, link_kind: FsErrorKind) -> FsError {
    if !matches!(errno, Errno::NOTDIR | Errno::LOOP) {
        return errno_error(path, errno);
    }
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => FsError::refuse(
            link_kind,
            path,
            format!("refusing to write through symlink at {}", path.display()),
        ),
        _ => FsError::refuse(
            FsErrorKind::NotRegular,
            path,
            format!("{} is not a directory", path.display()),
        ),
    }
}

fn errno_error(path: &Path, errno: Errno) -> FsError {
    let kind = match errno {
        Errno::LOOP => Some(FsErrorKind::Symlink),
        _ => None,
    };
    let io = io::Error::from(errno);
    match kind {
        Some(kind) => FsError::refuse(
            kind,
            path,
            format!("refusing to write through symlink at {}", path.display()),
        ),
        None => FsError::io(path, io),
    }
}

#[cfg(test)]
#[path = "writer_tests.rs"]
mod tests;

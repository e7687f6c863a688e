//! Where a decode's files go (docs/format.md §6.6, §8.1).
//!
//! Adapters write their files through a [`TreeSink`]: the decode writes them into a
//! fresh tree ([`super::writer::TreeWriter`]); the self-test compares each one, as it
//! is produced, with the input tree's file at that path and writes nothing
//! ([`crate::pipeline::compare::ComparingSink`]). Either way a file is a `/`-joined
//! path below the tree's root and bytes, whole ([`TreeSink::write_file`]) or in pieces
//! ([`TreeSink::create_file`]); directories are only ever created, never compared.

use std::fmt;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use super::fs::FsError;

/// Buffer between a [`TreeFile`]'s many small writes (JSON tokens) and its sink.
const FILE_BUFFER: usize = 64 << 10;

/// The destination of an adapter's files; see the module docs.
pub trait TreeSink: Send + Sync + fmt::Debug {
    /// The root the relative paths are below: named in errors.
    fn root(&self) -> &Path;

    /// Takes the whole file `rel` (a `/`-joined path below the root; its directories
    /// exist as needed). Its failure may be reported by a later call instead.
    ///
    /// # Errors
    /// The file cannot be taken (exists already, I/O error, an earlier failure).
    fn write_file(&self, rel: &[u8], bytes: Vec<u8>) -> Result<(), FsError>;

    /// Starts `rel`, to be written in pieces on the caller's thread and finished with
    /// [`TreeFile::finish`].
    ///
    /// # Errors
    /// As [`write_file`](TreeSink::write_file).
    fn create_file(&self, rel: &[u8]) -> Result<TreeFile, FsError>;

    /// The directory `rel` (and its parents) exists, even without a file in it.
    ///
    /// # Errors
    /// It cannot be created.
    fn create_dir(&self, rel: &[u8]) -> Result<(), FsError>;
}

/// What is behind a [`TreeFile`]'s buffer: a file on disk, or a comparison.
pub trait FileSink: Write + Send {
    /// Where the file is (or would be), for errors.
    fn path(&self) -> PathBuf;

    /// Called once, after the last byte: the file is complete.
    ///
    /// # Errors
    /// Completing it fails.
    fn finish(self: Box<Self>) -> Result<(), FsError>;
}

/// A file of the tree written in pieces; see [`TreeSink::create_file`]. Small writes
/// are buffered here, so the sink behind it sees large chunks.
pub struct TreeFile {
    out: BufWriter<Box<dyn FileSink>>,
}

impl fmt::Debug for TreeFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TreeFile")
            .field("path", &self.path())
            .finish_non_exhaustive()
    }
}

impl TreeFile {
    /// A buffered file over `sink`.
    pub fn new(sink: Box<dyn FileSink>) -> TreeFile {
        TreeFile {
            out: BufWriter::with_capacity(FILE_BUFFER, sink),
        }
    }

    /// Where the file is.
    pub fn path(&self) -> PathBuf {
        self.out.get_ref().path()
    }

    /// Flushes the file and completes it.
    ///
    /// # Errors
    /// Flushing or completing fails.
    pub fn finish(self) -> Result<(), FsError> {
        let path = self.path();
        self.out
            .into_inner()
            .map_err(|e| FsError::io(&path, e.into_error()))?
            .finish()
    }
}

impl Write for TreeFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.out.write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.out.write_all(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

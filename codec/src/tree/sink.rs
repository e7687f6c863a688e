//! Where a decode's files go (docs/format.md §6.6, §8.1).
//!
//! Adapters write their files through a [`TreeSink`]: the decode writes them into a
//! fresh tree ([`super::writer::TreeWriter`]); the self-test compares each one, as it
//! is produced, with the input tree's file at that path and writes nothing
//! ([`crate::pipeline::compare::ComparingSink`]). Either way a file is a `/`-joined
//! path below the tree's root and bytes, whole ([`TreeSink::write_file`]), in pieces
//! ([`TreeSink::create_file`]) or copied from ranges of a scratch file
//! ([`TreeSink::write_ranges`]); directories are only ever created, never compared.

use std::fmt;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

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

    /// Writes the file `rel` made of `ranges` of a scratch file, in order. By default
    /// on the caller's thread through [`create_file`](TreeSink::create_file); a sink
    /// with writer threads may copy it there, in bounded memory whatever its size.
    ///
    /// # Errors
    /// As [`write_file`](TreeSink::write_file), or reading the ranges fails.
    fn write_ranges(&self, rel: &[u8], ranges: FileRanges) -> Result<(), FsError> {
        let mut file = self.create_file(rel)?;
        ranges
            .copy_to(&mut vec![0; RANGE_BUFFER], &mut file)
            .map_err(|e| FsError::io(file.path(), e))?;
        file.finish()
    }

    /// The directory `rel` (and its parents) exists, even without a file in it.
    ///
    /// # Errors
    /// It cannot be created.
    fn create_dir(&self, rel: &[u8]) -> Result<(), FsError>;
}

/// How much of a [`FileRanges`] is copied at a time.
pub const RANGE_BUFFER: usize = 256 << 10;

/// `(offset, len)` ranges of a file that, in order, are another file's content.
#[derive(Debug, Clone)]
pub struct FileRanges {
    /// The file they are read from.
    pub file: Arc<File>,
    /// `(offset, len)` of each range.
    pub ranges: Vec<(u64, u64)>,
}

impl FileRanges {
    /// The content's length.
    pub fn len(&self) -> u64 {
        self.ranges.iter().map(|(_, len)| len).sum()
    }

    /// Whether the content is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Reads the ranges through `buf` (its length at a time) into `out`.
    ///
    /// # Errors
    /// A read (short reads included) or a write fails.
    pub fn copy_to(&self, buf: &mut [u8], out: &mut dyn Write) -> io::Result<()> {
        for &(offset, len) in &self.ranges {
            let mut done = 0u64;
            while done < len {
                let n = usize::try_from(len - done).map_or(buf.len(), |n| n.min(buf.len()));
                self.file.read_exact_at(&mut buf[..n], offset + done)?;
                out.write_all(&buf[..n])?;
                done += n as u64;
            }
        }
        Ok(())
    }
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

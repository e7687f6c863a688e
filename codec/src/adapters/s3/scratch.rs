//! Where the decoder keeps what it cannot write yet: chunk payloads in one
//! append-only data log, and everything that grows with the number of objects or
//! chunks in external sorts ([`crate::sort`]), so memory stays bounded by the sort
//! budgets whatever the snapshot holds.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::sync::Arc;

use crate::sort::{ExternalSorter, SortOptions, SortedRecords};
use crate::tree::sink::FileRanges;

/// Chunk payloads, appended once and read back by `(offset, len)`.
#[derive(Debug)]
pub struct DataLog {
    out: Option<BufWriter<File>>,
    /// Shared with the tree's writer threads once sealed ([`DataLog::ranges`]).
    file: Option<Arc<File>>,
    len: u64,
}

impl DataLog {
    /// An empty log; its anonymous file is created on the first append.
    pub fn new() -> Self {
        DataLog {
            out: None,
            file: None,
            len: 0,
        }
    }

    /// Appends `bytes`; returns their offset.
    pub fn append(&mut self, scratch_dir: &Path, bytes: &[u8]) -> io::Result<u64> {
        let out = match &mut self.out {
            Some(out) => out,
            none => {
                std::fs::create_dir_all(scratch_dir)?;
                let file = tempfile::tempfile_in(scratch_dir)?;
                none.insert(BufWriter::with_capacity(1 << 20, file))
            }
        };
        out.write_all(bytes)?;
        let offset = self.len;
        self.len += bytes.len() as u64;
        Ok(offset)
    }

    /// Ends the appends; reads may follow.
    pub fn seal(&mut self) -> io::Result<()> {
        if let Some(out) = self.out.take() {
            self.file = Some(Arc::new(
                out.into_inner().map_err(io::IntoInnerError::into_error)?,
            ));
        }
        Ok(())
    }

    /// The `(offset, len)` payloads `ranges`, in order, as one file's content; `None`
    /// when they hold no byte (the log may then have no file at all).
    pub fn ranges(&self, ranges: Vec<(u64, u64)>) -> io::Result<Option<FileRanges>> {
        if ranges.iter().all(|(_, len)| *len == 0) {
            return Ok(None);
        }
        let file = self
            .file
            .as_ref()
            .ok_or_else(|| io::Error::other("data log read before it was sealed"))?;
        Ok(Some(FileRanges {
            file: Arc::clone(file),
            ranges,
        }))
    }
}

/// A sorted stream with a one-record look-ahead, for merge joins.
pub struct Stream {
    records: SortedRecords,
    live: bool,
}

impl Stream {
    /// Finishes `sorter` and moves to its first record.
    pub fn of(sorter: ExternalSorter) -> io::Result<Stream> {
        let mut records = sorter.finish()?;
        let live = records.advance()?;
        Ok(Stream { records, live })
    }

    /// The current record; `None` after the last.
    pub fn head(&self) -> Option<(&[u8], &[u8])> {
        if self.live {
            self.records.current()
        } else {
            None
        }
    }

    /// Moves to the next record.
    pub fn step(&mut self) -> io::Result<()> {
        if self.live {
            self.live = self.records.advance()?;
        }
        Ok(())
    }
}

/// A sorter spilling to `dir` after `budget` bytes.
pub fn sorter(dir: &Path, budget: usize) -> ExternalSorter {
    ExternalSorter::new(SortOptions {
        memory_budget: budget.max(1),
        scratch_dir: dir.to_path_buf(),
    })
}

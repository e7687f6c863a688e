use std::io::{self, BufWriter, Write};

use super::MAGIC;

/// Writes a native `EKVPBBL1` stream. Ordering and uniqueness are the caller's job
/// (see [`crate::sort`] and [`super::SnapshotBuilder`]).
pub struct SnapshotWriter<W: Write> {
    out: BufWriter<W>,
    entries: u64,
    bytes_written: u64,
}

/// Large enough that the per-entry length fields never cost a system call each.
const WRITE_BUFFER: usize = 256 * 1024;

impl<W: Write> SnapshotWriter<W> {
    /// Writes the 16-byte header.
    pub fn new(out: W, last_commit_ts: u64) -> io::Result<Self> {
        let mut writer = SnapshotWriter {
            out: BufWriter::with_capacity(WRITE_BUFFER, out),
            entries: 0,
            bytes_written: 0,
        };
        writer.put(&MAGIC)?;
        writer.put(&last_commit_ts.to_le_bytes())?;
        Ok(writer)
    }

    /// Writes one entry: LE64 len, key, LE64 len, value.
    pub fn write_entry(&mut self, encoded_key: &[u8], encoded_value: &[u8]) -> io::Result<()> {
        self.put_field(encoded_key)?;
        self.put_field(encoded_value)?;
        self.entries += 1;
        Ok(())
    }

    /// Entries written so far.
    pub fn entries(&self) -> u64 {
        self.entries
    }

    /// Bytes written so far, header included (buffered bytes count as written).
    pub fn bytes_written(&self) -> u64 {
        self.bytes_written
    }

    /// Flushes and returns the inner writer.
    pub fn finish(self) -> io::Result<W> {
        self.out
            .into_inner()
            .map_err(io::IntoInnerError::into_error)
    }

    fn put_field(&mut self, field: &[u8]) -> io::Result<()> {
        self.put(&(field.len() as u64).to_le_bytes())?;
        self.put(field)
    }

    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)?;
        self.bytes_written += bytes.len() as u64;
        Ok(())
    }
}

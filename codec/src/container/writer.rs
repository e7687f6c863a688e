use std::io::{self, BufWriter, Write};

use super::MAGIC;

/// Writes a native `EKVPBBL1` stream. Ordering and uniqueness are the caller's job
/// (see [`crate::sort`] and [`super::SnapshotBuilder`]).
pub struct SnapshotWriter<W: Write> {
    out: BufWriter<W>,
    entries: u64,
    bytes_written: u64,
    /// Value bytes [`SnapshotWriter::begin_entry`] announced and not yet written.
    value_pending: u64,
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
            value_pending: 0,
        };
        writer.put(&MAGIC)?;
        writer.put(&last_commit_ts.to_le_bytes())?;
        Ok(writer)
    }

    /// Writes one entry: LE64 len, key, LE64 len, value.
    pub fn write_entry(&mut self, encoded_key: &[u8], encoded_value: &[u8]) -> io::Result<()> {
        self.check_value_complete()?;
        self.put_field(encoded_key)?;
        self.put_field(encoded_value)?;
        self.entries += 1;
        Ok(())
    }

    /// Starts an entry whose value, `value_len` bytes, follows in pieces through
    /// [`SnapshotWriter::write_value`], so a large value never has to be in memory
    /// whole. Writing another entry or finishing before all of it came is an error.
    pub fn begin_entry(&mut self, encoded_key: &[u8], value_len: u64) -> io::Result<()> {
        self.check_value_complete()?;
        self.put_field(encoded_key)?;
        self.put(&value_len.to_le_bytes())?;
        self.value_pending = value_len;
        self.entries += 1;
        Ok(())
    }

    /// Writes the next piece of the value [`SnapshotWriter::begin_entry`] announced.
    pub fn write_value(&mut self, piece: &[u8]) -> io::Result<()> {
        let len = piece.len() as u64;
        if len > self.value_pending {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "snapshot entry value: {len} more bytes with {} announced",
                    self.value_pending
                ),
            ));
        }
        self.put(piece)?;
        self.value_pending -= len;
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
        self.check_value_complete()?;
        self.out
            .into_inner()
            .map_err(io::IntoInnerError::into_error)
    }

    fn check_value_complete(&self) -> io::Result<()> {
        if self.value_pending == 0 {
            return Ok(());
        }
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "snapshot entry value: {} announced bytes missing",
                self.value_pending
            ),
        ))
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

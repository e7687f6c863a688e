use std::io::{self, Write};

/// Writes a native `EKVPBBL1` stream. Ordering and uniqueness are the caller's job
/// (see [`crate::sort`] and [`crate::encode::SnapshotBuilder`]).
pub struct SnapshotWriter<W> {
    out: W,
}

impl<W: Write> SnapshotWriter<W> {
    /// Writes the 16-byte header.
    pub fn new(out: W, last_commit_ts: u64) -> io::Result<Self> {
        let _ = (last_commit_ts, &out);
        todo!("container helper")
    }

    /// Writes one entry: LE64 len, key, LE64 len, value.
    pub fn write_entry(&mut self, encoded_key: &[u8], encoded_value: &[u8]) -> io::Result<()> {
        let _ = (encoded_key, encoded_value, &mut self.out);
        todo!("container helper")
    }

    /// Flushes and returns the inner writer.
    pub fn finish(self) -> io::Result<W> {
        todo!("container helper")
    }
}

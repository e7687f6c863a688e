//! One pass over the encoder's payload: the full `EKVPBBL1` read the Go tool does
//! (every entry valid, every commit ts ≤ the header's), its SHA-256, and — when a
//! staging file is given — the `fsm-snap` copy with its CRC32C, all from the same
//! bytes. Memory is the reader's buffers, whatever the payload's size.

use std::fs::File;
use std::io::{self, BufWriter, Cursor, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::RestoreError;
use super::fsm_snap::{self, PREFIX_LEN};
use crate::container::{ContainerError, ContainerErrorKind, MAGIC, SnapshotReader};
use crate::pipeline::Progress;

/// Entries between progress updates.
const PROGRESS_EVERY: u64 = 4096;

/// What the pass learned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadScan {
    /// The header's `lastCommitTS`.
    pub last_commit_ts: u64,
    /// Largest entry commit ts (0 for no entries).
    pub max_commit_ts: u64,
    /// Entries read.
    pub entries: u64,
    /// Lower-case hex SHA-256 of the payload bytes.
    pub sha256: String,
    /// Payload length.
    pub bytes: u64,
    /// CRC32C of `prefix | payload`: the `.fsm` footer and the token's crc.
    pub crc32c: u32,
}

/// Where the copy goes: an open, empty staging file.
pub struct CopyTarget<'a> {
    /// Its path, for errors.
    pub path: &'a Path,
    /// The file.
    pub file: &'a File,
}

/// Reads the payload from `input` (already opened as a regular file).
pub fn scan_payload(
    path: &Path,
    mut input: File,
    copy: Option<CopyTarget<'_>>,
    progress: &mut dyn Progress,
) -> Result<PayloadScan, RestoreError> {
    let total = input.metadata().ok().map(|m| m.len());
    progress.phase("reading payload", total);
    let payload_error = |source| RestoreError::Payload {
        path: path.to_path_buf(),
        source,
    };
    let head = read_head(&mut input).map_err(|e| payload_error(ContainerError::io(0, e)))?;
    check_head(&head).map_err(payload_error)?;
    let last_commit_ts = u64::from_le_bytes(head[8..16].try_into().unwrap_or_default());
    // The copy's prefix needs the ceiling now; an overflow is reported later, in the
    // Go order, and then the copy is discarded.
    let prefix = fsm_snap::prefix(fsm_snap::hlc_ceiling_ms(last_commit_ts).unwrap_or(0));
    let mut tee = Tee {
        inner: Cursor::new(head).chain(input),
        sha: Sha256::new(),
        crc: crc32c::crc32c(&prefix),
        bytes: 0,
        out: copy.map(|c| {
            (
                c.path.to_path_buf(),
                BufWriter::with_capacity(1 << 20, c.file),
            )
        }),
        write_error: None,
    };
    tee.write_out(&prefix);
    let mut reader = SnapshotReader::new(&mut tee).map_err(payload_error)?;
    let mut max_commit_ts = 0;
    let mut entries = 0;
    loop {
        match reader.next_entry() {
            Ok(Some(entry)) => {
                max_commit_ts = max_commit_ts.max(entry.commit_ts);
                entries += 1;
                if entries % PROGRESS_EVERY == 0 {
                    progress.update(entry.offset, entries);
                }
            }
            Ok(None) => break,
            Err(e) => return Err(tee_error(&mut tee).unwrap_or_else(|| payload_error(e))),
        }
    }
    drop(reader);
    if let Some(e) = tee_error(&mut tee) {
        return Err(e);
    }
    let crc32c = tee.crc;
    tee.write_out(&crc32c.to_be_bytes());
    let sha256 = hex::encode(tee.sha.finalize_reset());
    if let Some((out_path, writer)) = tee.out.take() {
        if let Some((p, e)) = tee.write_error.take() {
            return Err(RestoreError::io(p, e));
        }
        let file = writer
            .into_inner()
            .map_err(|e| RestoreError::io(&out_path, e.into_error()))?;
        file.sync_all()
            .map_err(|e| RestoreError::io(&out_path, e))?;
    }
    Ok(PayloadScan {
        last_commit_ts,
        max_commit_ts,
        entries,
        sha256,
        bytes: tee.bytes,
        crc32c,
    })
}

/// The first 16 bytes (fewer at EOF).
fn read_head(input: &mut File) -> io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(PREFIX_LEN);
    Read::by_ref(input)
        .take(PREFIX_LEN as u64)
        .read_to_end(&mut head)?;
    Ok(head)
}

/// The Go reader wants exactly `EKVPBBL1` + LE64: a runtime `EKVTHLC*` file is a bad
/// magic to it, and a file ending inside the header is truncated.
fn check_head(head: &[u8]) -> Result<(), ContainerError> {
    if head.len() < MAGIC.len() {
        return Err(ContainerError::new(
            ContainerErrorKind::Truncated,
            0,
            format!("payload ends inside the {}-byte header", PREFIX_LEN),
        ));
    }
    if head[..MAGIC.len()] != MAGIC {
        return Err(ContainerError::new(
            ContainerErrorKind::BadMagic,
            0,
            format!(
                "got {:?}: snapshot magic header does not match \"EKVPBBL1\"",
                String::from_utf8_lossy(&head[..MAGIC.len()])
            ),
        ));
    }
    if head.len() < PREFIX_LEN {
        return Err(ContainerError::new(
            ContainerErrorKind::Truncated,
            8,
            "payload ends inside the last_commit_ts header field",
        ));
    }
    Ok(())
}

fn tee_error<R>(tee: &mut Tee<'_, R>) -> Option<RestoreError> {
    tee.write_error
        .take()
        .map(|(path, e)| RestoreError::io(path, e))
}

/// Hashes (and copies) every byte the snapshot reader consumes.
struct Tee<'a, R> {
    inner: R,
    sha: Sha256,
    crc: u32,
    bytes: u64,
    out: Option<(PathBuf, BufWriter<&'a File>)>,
    /// The first write failure; reported as itself, not as a read error.
    write_error: Option<(PathBuf, io::Error)>,
}

impl<R> Tee<'_, R> {
    fn write_out(&mut self, bytes: &[u8]) {
        if self.write_error.is_some() {
            return;
        }
        if let Some((path, writer)) = &mut self.out
            && let Err(e) = writer.write_all(bytes)
        {
            self.write_error = Some((path.clone(), e));
        }
    }
}

impl<R: Read> Read for Tee<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let chunk = &buf[..n];
        self.sha.update(chunk);
        self.crc = crc32c::crc32c_append(self.crc, chunk);
        self.bytes += n as u64;
        self.write_out(chunk);
        if self.write_error.is_some() {
            return Err(io::Error::other("writing the fsm-snap copy failed"));
        }
        Ok(n)
    }
}

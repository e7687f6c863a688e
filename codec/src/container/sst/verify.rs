//! The content check of an SST-ingest file: every byte streams past once, in order,
//! to check what covers it — the outer CRC32C footer, each table's SHA-256 and
//! length, nothing after the last table.

use std::io::{self, Read};
use std::sync::atomic::{AtomicBool, Ordering};

use sha2::{Digest, Sha256};

use super::super::runtime::{self, FOOTER_LEN};
use super::super::{ContainerError, ContainerErrorKind, Footer, Wrapper};
use super::envelope::FileMeta;
use super::shared::Stream;

/// What the content check establishes about the end of the file.
#[derive(Debug, Clone, Copy)]
pub(super) struct Tail {
    pub footer: Footer,
    pub unfootered_crc32c: Option<u32>,
    pub length: u64,
}

/// The content check's state as the file's bytes arrive in order: the outer CRC32C
/// of everything, and the SHA-256 and length of each table, judged as soon as its
/// last byte has arrived (so an earlier table's verdict comes before a later
/// table's truncation, as reading section by section gives).
struct Verifier<'f> {
    files: &'f [FileMeta],
    tables_start: u64,
    crc: u32,
    /// Bytes fed so far.
    count: u64,
    /// The table being hashed, where it starts, and its hash so far.
    file: usize,
    file_start: u64,
    sha: Sha256,
}

impl<'f> Verifier<'f> {
    fn new(files: &'f [FileMeta], tables_start: u64) -> Self {
        Verifier {
            files,
            tables_start,
            crc: 0,
            count: 0,
            file: 0,
            file_start: tables_start,
            sha: Sha256::new(),
        }
    }

    /// Takes the next bytes of the file (none past the last table).
    fn feed(&mut self, mut bytes: &[u8]) -> Result<(), ContainerError> {
        self.crc = crc32c::crc32c_append(self.crc, bytes);
        if self.count < self.tables_start {
            let envelope = usize::try_from(self.tables_start - self.count).unwrap_or(usize::MAX);
            let n = bytes.len().min(envelope);
            self.count += n as u64;
            bytes = &bytes[n..];
        }
        while self.count >= self.tables_start {
            let Some(meta) = self.files.get(self.file) else {
                self.count += bytes.len() as u64;
                return Ok(());
            };
            let left = (self.file_start + meta.size as u64).saturating_sub(self.count);
            let n = bytes.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            self.sha.update(&bytes[..n]);
            self.count += n as u64;
            bytes = &bytes[n..];
            if n as u64 == left {
                self.judge_file(meta)?;
            } else {
                return Ok(());
            }
        }
        Ok(())
    }

    /// Compares the finished table's SHA-256 with the manifest's; moves to the next.
    fn judge_file(&mut self, meta: &FileMeta) -> Result<(), ContainerError> {
        let digest = hex::encode(std::mem::take(&mut self.sha).finalize());
        if digest != meta.sha256 {
            return Err(ContainerError::new(
                ContainerErrorKind::SstIntegrity,
                self.file_start,
                format!("SST ingest file integrity mismatch: {}", meta.name),
            ));
        }
        self.file += 1;
        self.file_start = self.count;
        Ok(())
    }

    /// The file ended after `self.count` bytes, before the last table's end.
    fn truncated(&self) -> ContainerError {
        let (what, start, len) = match self.files.get(self.file) {
            Some(meta) if self.count >= self.tables_start => (
                format!("SST ingest file {}", meta.name),
                self.file_start,
                meta.size as u64,
            ),
            _ => ("the envelope".to_owned(), 0, self.tables_start),
        };
        ContainerError::new(
            ContainerErrorKind::Truncated,
            self.count,
            format!(
                "file ends inside {what}: {} of {len} bytes",
                self.count - start
            ),
        )
    }
}

/// The content check, one sequential read from byte 0: every table's length and
/// SHA-256, then the end of the file (nothing, or inside a wrapper exactly the CRC32C
/// footer over everything before it).
pub(super) fn check_content<R: Read>(
    mut input: R,
    files: &[FileMeta],
    tables_start: u64,
    tables_end: u64,
    wrapper: Wrapper,
) -> Result<Tail, ContainerError> {
    let mut verifier = Verifier::new(files, tables_start);
    let mut buf = vec![0u8; 1 << 16];
    while verifier.count < tables_end {
        let want =
            usize::try_from(tables_end - verifier.count).map_or(buf.len(), |l| l.min(buf.len()));
        let n = match input.read(&mut buf[..want]) {
            Ok(0) => return Err(verifier.truncated()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(ContainerError::io(verifier.count, e)),
        };
        verifier.feed(&buf[..n])?;
    }
    // Judges any empty tables at the end (the manifest check refuses them anyway).
    verifier.feed(&[])?;
    let mut rest = Vec::new();
    input
        .take(FOOTER_LEN as u64 + 1)
        .read_to_end(&mut rest)
        .map_err(|e| ContainerError::io(tables_end, e))?;
    judge_tail(&verifier, &rest, wrapper)
}

/// [`check_content`] of the file shared with the rows: chunk by chunk, each read
/// here or taken from the rows if they got there first. The check never waits for
/// the rows and stops early only when `cancel` is set.
pub(super) fn check_content_shared(
    stream: Stream,
    files: &[FileMeta],
    (tables_start, tables_end): (u64, u64),
    wrapper: Wrapper,
    cancel: &AtomicBool,
) -> Result<Tail, ContainerError> {
    let mut verifier = Verifier::new(files, tables_start);
    while verifier.count < tables_end {
        if cancel.load(Ordering::Relaxed) {
            return Err(ContainerError::io(
                verifier.count,
                io::Error::other("content check cancelled"),
            ));
        }
        let at = verifier.count;
        let (start, chunk) = stream.chunk(at)?;
        let from = (at - start) as usize;
        let upto = usize::try_from(tables_end - start).map_or(chunk.len(), |e| e.min(chunk.len()));
        if from >= upto {
            return Err(verifier.truncated());
        }
        verifier.feed(&chunk[from..upto])?;
    }
    verifier.feed(&[])?;
    let mut rest = vec![0u8; FOOTER_LEN + 1];
    let got = stream.read_at(&mut rest, tables_end)?;
    rest.truncate(got);
    judge_tail(&verifier, &rest, wrapper)
}

/// What follows the last table: nothing, or exactly the CRC32C footer.
fn judge_tail(
    verifier: &Verifier<'_>,
    rest: &[u8],
    wrapper: Wrapper,
) -> Result<Tail, ContainerError> {
    let (end, crc) = (verifier.count, verifier.crc);
    let (footer, unfootered_crc32c) = match rest.len() {
        0 => (Footer::Absent, Some(crc)),
        FOOTER_LEN => {
            let stored: [u8; FOOTER_LEN] = rest.try_into().unwrap_or_default();
            (runtime::judge_footer(&stored, crc, end, wrapper)?, None)
        }
        _ => {
            return Err(ContainerError::new(
                ContainerErrorKind::SstIntegrity,
                end,
                "SST ingest snapshot contains trailing bytes",
            ));
        }
    };
    Ok(Tail {
        footer,
        unfootered_crc32c,
        length: end + rest.len() as u64,
    })
}

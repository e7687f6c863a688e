//! `CHECKSUMS`, sha256sum(1)-compatible (docs/format.md §4.3).
//!
//! `sha256sum -c CHECKSUMS` from the dump root must verify a dump without any
//! elastickv tooling, so the writer follows GNU's line and escape conventions. The
//! verifier treats the file as hostile: paths may not leave the root, lexically or
//! through a symlink, and lines are bounded so a file without newlines cannot
//! exhaust memory.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::{self, BufReader, Read, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::fs::{self as tree_fs, FsError, FsErrorKind};
use super::gojson::utf8_char_width;
use super::lines::{LineError, LineScanner};
use super::publish::{self, PublishOptions};
use crate::error::{ErrorCode, ExitClass};
use crate::sort::{ExternalSorter, Joined, SortOptions, SortedRecords, merge_join};

/// File name at the dump root.
pub const CHECKSUMS_FILE_NAME: &str = "CHECKSUMS";
/// Longest accepted line including its newline (Go's scanner buffer).
pub const CHECKSUMS_MAX_LINE: usize = 8 * 1024;

const HASH_BUFFER: usize = 64 << 10;
const HEX_LEN: usize = 64;

/// What [`verify_checksums`] checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VerifySummary {
    /// Rows verified.
    pub files: u64,
    /// Bytes hashed.
    pub bytes: u64,
}

/// Why CHECKSUMS could not be written or did not verify.
#[derive(Debug, thiserror::Error)]
pub enum ChecksumsError {
    /// `ErrChecksumsMalformedLine`.
    #[error("{}: line {line}: malformed CHECKSUMS line: {reason}", path.display())]
    MalformedLine {
        /// The CHECKSUMS file.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// `ErrChecksumMismatch`: a listed file differs or is missing.
    #[error("{}: line {line}: checksum mismatch: {file}: {reason}", path.display())]
    Mismatch {
        /// The CHECKSUMS file.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// The listed path (lossy UTF-8).
        file: String,
        /// `missing on disk`, `have X want Y`, …
        reason: String,
    },
    /// `ErrChecksumsEmpty`: no rows at all, which no real dump produces.
    #[error("{}: CHECKSUMS contains no checksum rows", path.display())]
    Empty {
        /// The CHECKSUMS file.
        path: PathBuf,
    },
    /// `ErrChecksumsPathTraversal`: absolute, or `..` past the root.
    #[error("{}: line {line}: CHECKSUMS path escapes dump root: {file:?}", path.display())]
    PathTraversal {
        /// The CHECKSUMS file.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// The listed path (lossy UTF-8).
        file: String,
    },
    /// `ErrChecksumsSymlinkEscape`: a component of the listed path is a symlink.
    #[error("{}: line {line}: CHECKSUMS path traverses symlink: {}", path.display(), at.display())]
    SymlinkEscape {
        /// The CHECKSUMS file.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// The symlink.
        at: PathBuf,
    },
    /// A path listed on two rows (after cleaning). GNU `sha256sum -c` and Go check
    /// it twice and count it twice; a list that vouches for a file twice is refused.
    #[error(
        "{}: line {line}: CHECKSUMS lists {file:?} again (first on line {first_line})",
        path.display()
    )]
    DuplicatePath {
        /// The CHECKSUMS file.
        path: PathBuf,
        /// 1-based line number of the repeat.
        line: u64,
        /// 1-based line number of the first row for the path.
        first_line: u64,
        /// The listed path, cleaned (lossy UTF-8).
        file: String,
    },
    /// Walking, reading or publishing failed or was refused.
    #[error(transparent)]
    Fs(#[from] FsError),
}

impl ErrorCode for ChecksumsError {
    fn code(&self) -> &'static str {
        match self {
            ChecksumsError::MalformedLine { .. } => "checksums-malformed-line",
            ChecksumsError::Mismatch { .. } => "checksum-mismatch",
            ChecksumsError::Empty { .. } => "checksums-empty",
            ChecksumsError::PathTraversal { .. } => "checksums-path-traversal",
            ChecksumsError::SymlinkEscape { .. } => "checksums-symlink-escape",
            ChecksumsError::DuplicatePath { .. } => "checksums-duplicate-path",
            ChecksumsError::Fs(e) => e.code(),
        }
    }

    fn exit_class(&self) -> ExitClass {
        match self {
            ChecksumsError::Fs(e) => e.exit_class(),
            _ => ExitClass::Data,
        }
    }
}

/// Streams a file through SHA-256; returns the lowercase hex digest and its size.
fn sha256_file(path: &Path) -> Result<(String, u64), FsError> {
    let mut file = tree_fs::open_nonblocking_regular(path, false)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; HASH_BUFFER];
    let mut total = 0u64;
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(FsError::io(path, e)),
        };
        hasher.update(&buf[..n]);
        total += n as u64;
    }
    Ok((hex::encode(hasher.finalize()), total))
}

/// One CHECKSUMS line including its newline. A path with `\n`, `\r` or `\` gets
/// GNU's escaped form; like Go (which walks the path as runes there) each byte of
/// invalid UTF-8 in such a path becomes U+FFFD.
fn checksum_line(hex: &str, rel: &[u8]) -> Vec<u8> {
    let mut line = Vec::with_capacity(HEX_LEN + 3 + rel.len());
    if !rel.iter().any(|&b| matches!(b, b'\n' | b'\r' | b'\\')) {
        line.extend_from_slice(hex.as_bytes());
        line.extend_from_slice(b"  ");
        line.extend_from_slice(rel);
        line.push(b'\n');
        return line;
    }
    line.push(b'\\');
    line.extend_from_slice(hex.as_bytes());
    line.extend_from_slice(b"  ");
    let mut i = 0;
    while i < rel.len() {
        match rel[i] {
            b'\n' => line.extend_from_slice(b"\\n"),
            b'\r' => line.extend_from_slice(b"\\r"),
            b'\\' => line.extend_from_slice(b"\\\\"),
            _ => {
                let width = utf8_char_width(&rel[i..]);
                if width == 0 {
                    line.extend_from_slice("\u{FFFD}".as_bytes());
                } else {
                    line.extend_from_slice(&rel[i..i + width]);
                    i += width;
                    continue;
                }
            }
        }
        i += 1;
    }
    line.push(b'\n');
    line
}

/// `WriteChecksums`: lists every regular file under `root` (except CHECKSUMS itself)
/// in `<root>/CHECKSUMS`, published atomically and fsync'd since it is written last
/// and vouches for everything else.
pub fn write_checksums(root: &Path) -> Result<(), ChecksumsError> {
    let mut files = sorted_regular_files(root)?;
    let path = root.join(CHECKSUMS_FILE_NAME);
    let scratch_error = |e| ChecksumsError::from(FsError::io(std::env::temp_dir(), e));
    publish::publish_atomic_with(&path, PublishOptions::DURABLE, |w| {
        while let Some((rel, _)) = files.next().map_err(scratch_error)? {
            let (hex, _) = sha256_file(&root.join(OsStr::from_bytes(rel)))?;
            w.write_all(&checksum_line(&hex, rel))
                .map_err(|e| FsError::io(&path, e))?;
        }
        Ok::<(), ChecksumsError>(())
    })
}

/// [`write_checksums`] from digests taken while the files were written
/// ([`crate::tree::writer::TreeWriter::finish`]: `(relative path, SHA-256)`, sorted
/// by path), so nothing is read back.
pub fn write_checksums_from(root: &Path, mut digests: SortedRecords) -> Result<(), ChecksumsError> {
    let path = root.join(CHECKSUMS_FILE_NAME);
    publish::publish_atomic_with(&path, PublishOptions::DURABLE, |w| {
        while let Some((rel, digest)) = digests.next().map_err(|e| FsError::io(&path, e))? {
            w.write_all(&checksum_line(&hex::encode(digest), rel))
                .map_err(|e| FsError::io(&path, e))?;
        }
        Ok::<(), ChecksumsError>(())
    })
}

/// A parsed row: the wanted digest and the listed path after GNU unescaping.
fn split_line(line: &[u8]) -> Result<(&str, Vec<u8>), String> {
    let (escaped, body) = match line.strip_prefix(b"\\") {
        Some(rest) => (true, rest),
        None => (false, line),
    };
    if body.len() < HEX_LEN + 3 {
        return Err("too short".into());
    }
    let hex = &body[..HEX_LEN];
    if !hex.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err("digest is not 64 lowercase hex digits".into());
    }
    let sep = &body[HEX_LEN..HEX_LEN + 2];
    if sep != b"  " && sep != b" *" {
        return Err("digest not followed by two spaces or \" *\"".into());
    }
    let path = &body[HEX_LEN + 2..];
    let hex = std::str::from_utf8(hex).map_err(|e| e.to_string())?;
    if !escaped {
        return Ok((hex, path.to_vec()));
    }
    let mut out = Vec::with_capacity(path.len());
    let mut it = path.iter();
    while let Some(&b) = it.next() {
        if b != b'\\' {
            out.push(b);
            continue;
        }
        match it.next() {
            Some(b'n') => out.push(b'\n'),
            Some(b'r') => out.push(b'\r'),
            Some(b'\\') => out.push(b'\\'),
            _ => return Err("bad escape in path".into()),
        }
    }
    Ok((hex, out))
}

/// Lexical `filepath.Clean` on a relative `/`-separated byte path.
fn clean_rel(rel: &[u8]) -> Vec<u8> {
    let mut parts: Vec<&[u8]> = Vec::new();
    for part in rel.split(|&b| b == b'/') {
        match part {
            b"" | b"." => {}
            b".." if parts.last().is_some_and(|p| *p != b"..") => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    if parts.is_empty() {
        return b".".to_vec();
    }
    parts.join(&b'/')
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `validateChecksumRelPath`: non-empty, not `.`, and `filepath.IsLocal` (not
/// absolute, no `..` past the start); returns the cleaned path.
fn validate_rel(checksums: &Path, line: u64, rel: &[u8]) -> Result<Vec<u8>, ChecksumsError> {
    if rel.is_empty() || rel == b"." {
        return Err(ChecksumsError::MalformedLine {
            path: checksums.to_path_buf(),
            line,
            reason: "empty path field".into(),
        });
    }
    let cleaned = clean_rel(rel);
    if rel.starts_with(b"/") || cleaned == b".." || cleaned.starts_with(b"../") {
        return Err(ChecksumsError::PathTraversal {
            path: checksums.to_path_buf(),
            line,
            file: lossy(rel),
        });
    }
    Ok(cleaned)
}

/// A reader that hashes what passes through it: the digest of the CHECKSUMS bytes a
/// verification actually used, so a pack can check that it archives those bytes.
struct HashingReader {
    file: fs::File,
    hasher: Sha256,
}

impl Read for HashingReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// Rows of a CHECKSUMS file, validated but not hashed.
struct Rows {
    path: PathBuf,
    lines: LineScanner<BufReader<HashingReader>>,
}

impl Rows {
    fn open(root: &Path) -> Result<Rows, ChecksumsError> {
        let path = root.join(CHECKSUMS_FILE_NAME);
        // Go follows a symlinked CHECKSUMS; every listed path is still confined.
        let file = tree_fs::open_nonblocking_regular(&path, true)?;
        Ok(Rows {
            lines: LineScanner::new(
                BufReader::with_capacity(
                    HASH_BUFFER,
                    HashingReader {
                        file,
                        hasher: Sha256::new(),
                    },
                ),
                CHECKSUMS_MAX_LINE,
            ),
            path,
        })
    }

    /// The next row as (line number, wanted digest, cleaned relative path).
    fn next_row(&mut self) -> Result<Option<(u64, String, Vec<u8>)>, ChecksumsError> {
        loop {
            // Each returned line advances the count by exactly one.
            let line_no = self.lines.line_number() + 1;
            let line = match self.lines.next_line() {
                Ok(Some(line)) => line,
                Ok(None) => return Ok(None),
                Err(LineError::TooLong { line, max }) => {
                    return Err(ChecksumsError::MalformedLine {
                        path: self.path.clone(),
                        line,
                        reason: format!("longer than {max} bytes"),
                    });
                }
                Err(LineError::Io(e)) => return Err(FsError::io(&self.path, e).into()),
            };
            if line.is_empty() {
                continue;
            }
            let (hex, rel) = split_line(line).map_err(|reason| ChecksumsError::MalformedLine {
                path: self.path.clone(),
                line: line_no,
                reason,
            })?;
            let hex = hex.to_owned();
            let cleaned = validate_rel(&self.path, line_no, &rel)?;
            return Ok(Some((line_no, hex, cleaned)));
        }
    }
}

/// Memory for sorting CHECKSUMS rows or walked paths before they spill to disk.
const LISTING_SORT_BUDGET: usize = 16 << 20;

fn listing_sort_options() -> SortOptions {
    SortOptions {
        memory_budget: LISTING_SORT_BUDGET,
        scratch_dir: std::env::temp_dir(),
    }
}

/// Length of a [`SortedListing`] row value: BE64 line number ‖ SHA-256.
pub const LISTING_VALUE_LEN: usize = 8 + 32;

/// The rows of CHECKSUMS sorted by cleaned path, so they can be merged with a sorted
/// walk in bounded memory however many files a tree holds.
pub struct SortedListing {
    /// Key: cleaned relative path; value: BE64 line number ‖ 32-byte digest (a path
    /// listed twice appears twice, the earlier line first).
    pub rows: SortedRecords,
    /// Rows read.
    pub count: u64,
    /// SHA-256 of the CHECKSUMS bytes the rows came from.
    pub file_digest: [u8; 32],
    /// The first malformed or escaping row, where reading stopped (rows before it are
    /// in `rows`; the file digest then covers only what was read).
    pub stopped: Option<ChecksumsError>,
}

/// Reads CHECKSUMS once, validating each row as [`verify_checksums`] does (but hashing
/// no listed file), into a [`SortedListing`]. Opening, reading or spilling failures
/// are errors; a bad row ends the listing in [`SortedListing::stopped`].
pub fn sorted_listing(root: &Path) -> Result<SortedListing, ChecksumsError> {
    let mut rows = Rows::open(root)?;
    let scratch_error = |e| ChecksumsError::from(FsError::io(std::env::temp_dir(), e));
    let mut sorter = ExternalSorter::new(listing_sort_options());
    let mut count = 0u64;
    let stopped = loop {
        match rows.next_row() {
            Ok(Some((line, hex, rel))) => {
                let mut value = [0u8; LISTING_VALUE_LEN];
                value[..8].copy_from_slice(&line.to_be_bytes());
                // `next_row` accepted exactly 64 lowercase hex digits.
                hex::decode_to_slice(&hex, &mut value[8..])
                    .map_err(|e| FsError::io(&rows.path, io::Error::other(e)))?;
                sorter.push(&rel, &value).map_err(scratch_error)?;
                count += 1;
            }
            Ok(None) => break None,
            Err(ChecksumsError::Fs(e)) => return Err(e.into()),
            Err(e) => break Some(e),
        }
    };
    let file_digest = rows
        .lines
        .into_inner()
        .into_inner()
        .hasher
        .finalize()
        .into();
    Ok(SortedListing {
        rows: sorter.finish().map_err(scratch_error)?,
        count,
        file_digest,
        stopped,
    })
}

/// The line number and digest of a [`SortedListing`] row value.
pub fn listing_value(value: &[u8]) -> Option<(u64, [u8; 32])> {
    let line = u64::from_be_bytes(value.get(..8)?.try_into().ok()?);
    let digest = value.get(8..LISTING_VALUE_LEN)?.try_into().ok()?;
    Some((line, digest))
}

/// The first row (in line order) that repeats a path listed earlier, as (its line,
/// the first line of that path): the repeat with the smallest line over all paths.
fn first_repeat(rows: &mut SortedRecords) -> io::Result<Option<(u64, u64)>> {
    let mut best: Option<(u64, u64)> = None;
    let mut group: Vec<u8> = Vec::new();
    // (first line, whether the group's second row was already seen)
    let mut group_first: Option<(u64, bool)> = None;
    while let Some((key, value)) = rows.next()? {
        let line = listing_value(value).map_or(0, |(line, _)| line);
        match group_first {
            Some((first, false)) if key == group.as_slice() => {
                if best.is_none_or(|(b, _)| line < b) {
                    best = Some((line, first));
                }
                group_first = Some((first, true));
            }
            Some(_) if key == group.as_slice() => {}
            _ => {
                group.clear();
                group.extend_from_slice(key);
                group_first = Some((line, false));
            }
        }
    }
    Ok(best)
}

/// `VerifyChecksums`: recomputes every listed digest.
///
/// A listed file that is missing counts as a mismatch (a partial restore and a
/// deletion look the same to the operator), and so does one that is not a regular
/// file. A path listed twice is refused (Go counts it twice). Files present but not
/// listed are not checked here; see [`list_unlisted_files`].
///
/// Repeats are found by sorting the rows first (external sort), so memory does not
/// grow with the number of rows; the verdict is the one a single pass in line order
/// gives (the first failing row wins).
pub fn verify_checksums(root: &Path) -> Result<VerifySummary, ChecksumsError> {
    let mut listing = sorted_listing(root)?;
    let repeat =
        first_repeat(&mut listing.rows).map_err(|e| FsError::io(std::env::temp_dir(), e))?;
    let mut rows = Rows::open(root)?;
    let mut summary = VerifySummary::default();
    while let Some((line, want, rel)) = rows.next_row()? {
        if let Some((repeat_line, first_line)) = repeat
            && repeat_line == line
        {
            return Err(ChecksumsError::DuplicatePath {
                path: rows.path.clone(),
                line,
                first_line,
                file: lossy(&rel),
            });
        }
        let mismatch = |reason: String| ChecksumsError::Mismatch {
            path: rows.path.clone(),
            line,
            file: lossy(&rel),
            reason,
        };
        let mut cur = root.to_path_buf();
        for seg in rel.split(|&b| b == b'/').filter(|s| !s.is_empty()) {
            cur.push(OsStr::from_bytes(seg));
            match fs::symlink_metadata(&cur) {
                Ok(meta) if meta.file_type().is_symlink() => {
                    return Err(ChecksumsError::SymlinkEscape {
                        path: rows.path.clone(),
                        line,
                        at: cur,
                    });
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    return Err(mismatch("missing on disk".into()));
                }
                Err(e) => return Err(FsError::io(&cur, e).into()),
            }
        }
        let (have, size) = match sha256_file(&cur) {
            Ok(done) => done,
            Err(e) if e.is_io_kind(io::ErrorKind::NotFound) => {
                return Err(mismatch("missing on disk".into()));
            }
            Err(e) if e.kind() == FsErrorKind::Symlink => {
                return Err(ChecksumsError::SymlinkEscape {
                    path: rows.path.clone(),
                    line,
                    at: cur,
                });
            }
            Err(e) if matches!(e.kind(), FsErrorKind::NotRegular | FsErrorKind::Fifo) => {
                return Err(mismatch("not a regular file".into()));
            }
            Err(e) => return Err(e.into()),
        };
        if have != want {
            return Err(mismatch(format!("have {have} want {want}")));
        }
        summary.files += 1;
        summary.bytes += size;
    }
    if summary.files == 0 {
        return Err(ChecksumsError::Empty { path: rows.path });
    }
    Ok(summary)
}

/// Every regular file under `root` but `<root>/CHECKSUMS`, sorted by relative path
/// through the external sort (keys only), so a million-file tree stays in bounded
/// memory. Symlinks and special files are skipped, never followed.
fn sorted_regular_files(root: &Path) -> Result<SortedRecords, ChecksumsError> {
    let walked = sorted_walk(root, |_, file_type, rel, _| {
        Ok(file_type.is_file() && rel != CHECKSUMS_FILE_NAME.as_bytes())
    })?;
    Ok(walked)
}

/// The one tree walk of the tools that list a dump tree in path order (CHECKSUMS
/// writing and verification, `archive pack`): every entry under `root` (not `root`
/// itself) for which `keep` says so, keyed by its slash-separated relative path and
/// sorted by path bytes through the external sort, so neither a million-file tree nor
/// a million-entry directory is held in memory. `keep(entry, type, rel, value)` may
/// append the record's value (the entry's kind, its metadata); it sees every entry,
/// directories included, whether kept or not. Links are never followed (the type is
/// the directory entry's own), and the walk is iterative so depth cannot overflow.
pub fn sorted_walk<F>(root: &Path, mut keep: F) -> Result<SortedRecords, FsError>
where
    F: FnMut(&fs::DirEntry, fs::FileType, &[u8], &mut Vec<u8>) -> io::Result<bool>,
{
    let scratch_error = |e| FsError::io(std::env::temp_dir(), e);
    let mut sorter = ExternalSorter::new(listing_sort_options());
    let mut value = Vec::new();
    let mut pending: Vec<(PathBuf, Vec<u8>)> = vec![(root.to_path_buf(), Vec::new())];
    while let Some((dir, prefix)) = pending.pop() {
        for entry in fs::read_dir(&dir).map_err(|e| FsError::io(&dir, e))? {
            let entry = entry.map_err(|e| FsError::io(&dir, e))?;
            let file_type = entry
                .file_type()
                .map_err(|e| FsError::io(entry.path(), e))?;
            let mut rel = prefix.clone();
            if !rel.is_empty() {
                rel.push(b'/');
            }
            rel.extend_from_slice(entry.file_name().as_bytes());
            value.clear();
            let kept = keep(&entry, file_type, &rel, &mut value)
                .map_err(|e| FsError::io(entry.path(), e))?;
            if kept {
                sorter.push(&rel, &value).map_err(scratch_error)?;
            }
            if file_type.is_dir() {
                pending.push((entry.path(), rel));
            }
        }
    }
    sorter.finish().map_err(scratch_error)
}

/// Regular files under `root` that CHECKSUMS does not list (CHECKSUMS itself aside),
/// as relative paths in byte order: what an archive or `verify` must refuse, since
/// nothing vouches for them. Both sides are sorted externally and merged, so memory
/// is bounded by the answer, not by the tree.
pub fn list_unlisted_files(root: &Path) -> Result<Vec<PathBuf>, ChecksumsError> {
    let mut listing = sorted_listing(root)?;
    if let Some(stopped) = listing.stopped {
        return Err(stopped);
    }
    let mut files = sorted_regular_files(root)?;
    let scratch_error = |e| ChecksumsError::from(FsError::io(std::env::temp_dir(), e));
    let mut unlisted = Vec::new();
    merge_join(&mut files, &mut listing.rows, |joined| {
        if let Joined::Left(rel, _) = joined {
            unlisted.push(PathBuf::from(OsString::from_vec(rel.to_vec())));
        }
    })
    .map_err(scratch_error)?;
    Ok(unlisted)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;

    const VECTOR_TREE: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/vectors/case-0001/tree"
    );

    #[test]
    fn matches_go_on_vector_tree() {
        let root = Path::new(VECTOR_TREE);
        let want = fs::read(root.join(CHECKSUMS_FILE_NAME)).unwrap();
        let mut got = Vec::new();
        let mut files = sorted_regular_files(root).unwrap();
        while let Some((rel, _)) = files.next().unwrap() {
            let full = root.join(OsStr::from_bytes(rel));
            got.extend_from_slice(&checksum_line(&sha256_file(&full).unwrap().0, rel));
        }
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&want)
        );
        let summary = verify_checksums(root).unwrap();
        assert_eq!(
            summary.files,
            want.iter().filter(|&&b| b == b'\n').count() as u64
        );
        assert!(list_unlisted_files(root).unwrap().is_empty());
    }

    #[test]
    fn escaped_lines() {
        let hex = "0".repeat(64);
        assert_eq!(
            checksum_line(&hex, b"a b"),
            format!("{hex}  a b\n").into_bytes()
        );
        assert_eq!(
            checksum_line(&hex, b"a\nb\\c\rd"),
            format!("\\{hex}  a\\nb\\\\c\\rd\n").into_bytes()
        );
        assert_eq!(
            checksum_line(&hex, b"\xff\n\xe2\x80"),
            format!("\\{hex}  \u{FFFD}\\n\u{FFFD}\u{FFFD}\n").into_bytes()
        );
        assert_eq!(
            checksum_line(&hex, "é\n".as_bytes()),
            format!("\\{hex}  é\\n\n").into_bytes()
        );
        // Outside the escaped branch bytes are written as they are.
        assert_eq!(
            checksum_line(&hex, b"\xff"),
            [format!("{hex}  ").as_bytes(), b"\xff\n"].concat()
        );
    }

    fn tree() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("redis/db_0/strings")).unwrap();
        fs::create_dir_all(root.join("empty")).unwrap();
        fs::write(root.join("MANIFEST.json"), b"{}\n").unwrap();
        fs::write(root.join("redis/db_0/strings/.bin"), b"").unwrap();
        fs::write(root.join("redis/db_0/strings/a%20b.bin"), b"value").unwrap();
        fs::write(root.join("s3 \n\\x"), b"odd name").unwrap();
        fs::write(root.join("A"), b"upper sorts first").unwrap();
        symlink("/etc/passwd", root.join("link")).unwrap();
        dir
    }

    #[test]
    fn write_then_verify() {
        let dir = tree();
        let root = dir.path();
        write_checksums(root).unwrap();
        let text = fs::read(root.join(CHECKSUMS_FILE_NAME)).unwrap();
        let text = String::from_utf8(text).unwrap();
        let names: Vec<&str> = text
            .lines()
            .map(|l| l.split_once("  ").unwrap().1)
            .collect();
        assert_eq!(
            names,
            [
                "A",
                "MANIFEST.json",
                "redis/db_0/strings/.bin",
                "redis/db_0/strings/a%20b.bin",
                "s3 \\n\\\\x"
            ]
        );
        assert!(text.contains(&format!(
            "{}  A\n",
            hex::encode(Sha256::digest(b"upper sorts first"))
        )));
        assert_eq!(
            verify_checksums(root).unwrap(),
            VerifySummary {
                files: 5,
                bytes: 3 + 5 + 8 + 17
            }
        );
        // Rewriting is stable and does not list CHECKSUMS itself.
        write_checksums(root).unwrap();
        assert_eq!(
            fs::read_to_string(root.join(CHECKSUMS_FILE_NAME)).unwrap(),
            text
        );
        assert!(list_unlisted_files(root).unwrap().is_empty());
        fs::write(root.join("redis/new"), b"x").unwrap();
        assert_eq!(
            list_unlisted_files(root).unwrap(),
            [PathBuf::from("redis/new")]
        );
    }

    fn verify_with(lines: &str) -> Result<VerifySummary, ChecksumsError> {
        let dir = tree();
        fs::write(dir.path().join(CHECKSUMS_FILE_NAME), lines).unwrap();
        verify_checksums(dir.path())
    }

    fn digest(data: &[u8]) -> String {
        hex::encode(Sha256::digest(data))
    }

    #[test]
    fn verify_accepts_gnu_variants() {
        let good = digest(b"value");
        let text = format!("\n{good} *redis/db_0/strings/a%20b.bin\r\n\n");
        assert_eq!(verify_with(&text).unwrap().files, 1);
        let text = format!("{good}  ./redis//db_0/x/../strings/a%20b.bin");
        assert_eq!(verify_with(&text).unwrap().files, 1);
        let odd = digest(b"odd name");
        assert_eq!(
            verify_with(&format!("\\{odd}  s3 \\n\\\\x\n"))
                .unwrap()
                .files,
            1
        );
    }

    #[test]
    fn verify_error_codes() {
        let good = digest(b"value");
        let upper = good.to_uppercase();
        let cases = [
            (String::new(), "checksums-empty"),
            ("\n\n".to_owned(), "checksums-empty"),
            (format!("{good}  \n"), "checksums-malformed-line"),
            (
                format!("{good} redis/db_0/strings/a%20b.bin\n"),
                "checksums-malformed-line",
            ),
            (
                format!("{upper}  redis/db_0/strings/a%20b.bin\n"),
                "checksums-malformed-line",
            ),
            (format!("{good}  .\n"), "checksums-malformed-line"),
            (format!("\\{good}  a\\tb\n"), "checksums-malformed-line"),
            (format!("\\{good}  ab\\\n"), "checksums-malformed-line"),
            (
                format!("{good}  {}\n", "x".repeat(CHECKSUMS_MAX_LINE)),
                "checksums-malformed-line",
            ),
            (format!("{good}  /etc/passwd\n"), "checksums-path-traversal"),
            (format!("{good}  ../x\n"), "checksums-path-traversal"),
            (format!("{good}  a/../../x\n"), "checksums-path-traversal"),
            (format!("{good}  link\n"), "checksums-symlink-escape"),
            (format!("{good}  missing\n"), "checksum-mismatch"),
            (format!("{good}  A\n"), "checksum-mismatch"),
            (format!("{good}  empty\n"), "checksum-mismatch"),
            (
                format!("{good}  redis/db_0/strings/a%20b.bin\n{good}  nope\n"),
                "checksum-mismatch",
            ),
        ];
        for (text, code) in cases {
            let err = verify_with(&text).unwrap_err();
            assert_eq!(err.code(), code, "{text:?}: {err}");
            assert_eq!(err.exit_class(), ExitClass::Data);
        }
        let err = verify_with(&format!("{good}  missing\n")).unwrap_err();
        assert!(
            err.to_string()
                .ends_with("checksum mismatch: missing: missing on disk"),
            "{err}"
        );
    }

    /// A path listed twice would be counted twice (and a second row could vouch for a
    /// file the first row already covered); it is refused with both line numbers,
    /// also when the two rows spell the path differently.
    #[test]
    fn verify_refuses_duplicate_rows() {
        let good = digest(b"value");
        let odd = digest(b"odd name");
        for (text, line, first) in [
            (
                format!(
                    "{good}  redis/db_0/strings/a%20b.bin\n{good}  redis/db_0/strings/a%20b.bin\n"
                ),
                2,
                1,
            ),
            (
                format!(
                    "{good}  redis/db_0/strings/a%20b.bin\n\\{odd}  s3 \\n\\\\x\n\n{good} *./redis//db_0/x/../strings/a%20b.bin\n"
                ),
                4,
                1,
            ),
        ] {
            let err = verify_with(&text).unwrap_err();
            assert_eq!(err.code(), "checksums-duplicate-path", "{text:?}: {err}");
            assert_eq!(err.exit_class(), ExitClass::Data);
            let message = err.to_string();
            assert!(
                message.contains(&format!("line {line}:"))
                    && message.contains(&format!("line {first}"))
                    && message.contains("redis/db_0/strings/a%20b.bin"),
                "{message}"
            );
        }
    }

    #[test]
    fn verify_refuses_symlinked_ancestor() {
        let dir = tree();
        let root = dir.path();
        symlink(root.join("redis"), root.join("alias")).unwrap();
        let good = digest(b"value");
        fs::write(
            root.join(CHECKSUMS_FILE_NAME),
            format!("{good}  alias/db_0/strings/a%20b.bin\n"),
        )
        .unwrap();
        let err = verify_checksums(root).unwrap_err();
        assert_eq!(err.code(), "checksums-symlink-escape");
        assert!(err.to_string().contains("alias"));
    }

    #[test]
    fn missing_checksums_file_is_io() {
        let dir = tempfile::tempdir().unwrap();
        let err = verify_checksums(dir.path()).unwrap_err();
        assert_eq!((err.code(), err.exit_class()), ("io", ExitClass::Usage));
    }
}

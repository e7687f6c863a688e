//! `CHECKSUMS`, sha256sum(1)-compatible (docs/format.md §4.3).
//!
//! `sha256sum -c CHECKSUMS` from the dump root must verify a dump without any
//! elastickv tooling, so the writer follows GNU's line and escape conventions. The
//! verifier treats the file as hostile: paths may not leave the root, lexically or
//! through a symlink, and lines are bounded so a file without newlines cannot
//! exhaust memory.

use std::collections::{HashMap, HashSet};
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
use crate::sort::SortedRecords;

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

/// Every regular file under `root` as (`/`-joined relative path, full path), sorted
/// bytewise by relative path, without `<root>/CHECKSUMS`. Symlinks and special files
/// are skipped, never followed; the walk is iterative so depth cannot overflow.
fn regular_files(root: &Path) -> Result<Vec<(Vec<u8>, PathBuf)>, FsError> {
    let mut out = Vec::new();
    let mut pending: Vec<(PathBuf, Vec<u8>)> = vec![(root.to_path_buf(), Vec::new())];
    while let Some((dir, prefix)) = pending.pop() {
        for entry in fs::read_dir(&dir).map_err(|e| FsError::io(&dir, e))? {
            let entry = entry.map_err(|e| FsError::io(&dir, e))?;
            let ft = entry
                .file_type()
                .map_err(|e| FsError::io(entry.path(), e))?;
            let mut rel = prefix.clone();
            if !rel.is_empty() {
                rel.push(b'/');
            }
            rel.extend_from_slice(entry.file_name().as_bytes());
            if ft.is_dir() {
                pending.push((entry.path(), rel));
            } else if ft.is_file() && rel != CHECKSUMS_FILE_NAME.as_bytes() {
                out.push((rel, entry.path()));
            }
        }
    }
    out.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
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
    let files = regular_files(root)?;
    let path = root.join(CHECKSUMS_FILE_NAME);
    publish::publish_atomic_with(&path, PublishOptions::DURABLE, |w| {
        for (rel, full) in &files {
            let (hex, _) = sha256_file(full)?;
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

/// Rows of a CHECKSUMS file, validated but not hashed.
struct Rows {
    path: PathBuf,
    lines: LineScanner<BufReader<fs::File>>,
}

impl Rows {
    fn open(root: &Path) -> Result<Rows, ChecksumsError> {
        let path = root.join(CHECKSUMS_FILE_NAME);
        // Go follows a symlinked CHECKSUMS; every listed path is still confined.
        let file = tree_fs::open_nonblocking_regular(&path, true)?;
        Ok(Rows {
            lines: LineScanner::new(
                BufReader::with_capacity(HASH_BUFFER, file),
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

/// `VerifyChecksums`: recomputes every listed digest.
///
/// A listed file that is missing counts as a mismatch (a partial restore and a
/// deletion look the same to the operator), and so does one that is not a regular
/// file. A path listed twice is refused (Go counts it twice). Files present but not
/// listed are not checked here; see [`list_unlisted_files`].
pub fn verify_checksums(root: &Path) -> Result<VerifySummary, ChecksumsError> {
    let mut rows = Rows::open(root)?;
    let mut summary = VerifySummary::default();
    // Cleaned path → the line that listed it first.
    let mut seen: HashMap<Vec<u8>, u64> = HashMap::new();
    while let Some((line, want, rel)) = rows.next_row()? {
        if let Some(&first_line) = seen.get(&rel) {
            return Err(ChecksumsError::DuplicatePath {
                path: rows.path.clone(),
                line,
                first_line,
                file: lossy(&rel),
            });
        }
        seen.insert(rel.clone(), line);
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

/// Regular files under `root` that CHECKSUMS does not list (CHECKSUMS itself aside),
/// as relative paths in byte order: what an archive or `verify` must refuse, since
/// nothing vouches for them.
pub fn list_unlisted_files(root: &Path) -> Result<Vec<PathBuf>, ChecksumsError> {
    let mut rows = Rows::open(root)?;
    let mut listed: HashSet<Vec<u8>> = HashSet::new();
    while let Some((_, _, rel)) = rows.next_row()? {
        listed.insert(rel);
    }
    Ok(regular_files(root)?
        .into_iter()
        .filter(|(rel, _)| !listed.contains(rel))
        .map(|(rel, _)| PathBuf::from(OsString::from_vec(rel)))
        .collect())
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
        for (rel, full) in regular_files(root).unwrap() {
            got.extend_from_slice(&checksum_line(&sha256_file(&full).unwrap().0, &rel));
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

//! Unpack: a fresh root, only local names, only directories and regular files, Go's
//! modes (files `O_EXCL` with the archived permission bits or 0600; directories with
//! the archived mode, or 0755, applied at the end, deepest first), then the full tree
//! verification; the whole root is removed on any error.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, BufReader, Read, Write};
use std::ops::ControlFlow;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::pipeline::{NoProgress, Progress};
use crate::sort::{ExternalSorter, Joined, SortOptions, SortedRecords, merge_join_until};
use crate::tree::checksums::{CHECKSUMS_FILE_NAME, listing_value, sorted_listing};
use crate::tree::manifest::{MANIFEST_FILE_NAME, Manifest};

use super::{
    ArchiveError, Compression, MAX_UNPACK_BYTES, MAX_UNPACK_ENTRIES, require_single_regular,
    verify_dump_root,
};

/// What was unpacked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UnpackSummary {
    /// Directory entries.
    pub dirs: u64,
    /// Regular files.
    pub files: u64,
    /// File content bytes.
    pub bytes: u64,
}

const DEFAULT_DIR_MODE: u32 = 0o755;
const DEFAULT_FILE_MODE: u32 = 0o600;
const WRITABLE_DIR_BITS: u32 = 0o700;
const IO_BUFFER: usize = 1 << 20;

/// Opens an archive file without following a symlink or blocking on a FIFO; only a
/// regular file is accepted.
pub fn open_archive_input(path: &Path) -> Result<File, ArchiveError> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => ArchiveError::non_regular(path, "symlink archive input"),
            _ => ArchiveError::io(path, e),
        })?;
    let meta = file.metadata().map_err(|e| ArchiveError::io(path, e))?;
    if !meta.file_type().is_file() {
        return Err(ArchiveError::non_regular(
            path,
            "not a regular archive input",
        ));
    }
    Ok(file)
}

/// Unpacks `input` into the new directory `output`.
pub fn unpack_archive(
    input: impl Read,
    output: &Path,
    compression: Compression,
) -> Result<UnpackSummary, ArchiveError> {
    unpack_archive_with_progress(input, None, output, compression, &mut NoProgress)
}

/// [`unpack_archive`], reporting the archive bytes read (of `total` when known).
pub fn unpack_archive_with_progress(
    input: impl Read,
    total: Option<u64>,
    output: &Path,
    compression: Compression,
    progress: &mut dyn Progress,
) -> Result<UnpackSummary, ArchiveError> {
    progress.phase("unpacking", total);
    let counted = Counted {
        inner: input,
        bytes: 0,
        progress: &mut *progress,
    };
    let result = unpack_inner(counted, output, compression);
    progress.finish();
    result
}

/// Counts the archive bytes read, for the progress display.
struct Counted<'p, R> {
    inner: R,
    bytes: u64,
    progress: &'p mut dyn Progress,
}

impl<R: Read> Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bytes += n as u64;
        self.progress.update(self.bytes, 0);
        Ok(n)
    }
}

fn unpack_inner(
    input: impl Read,
    output: &Path,
    compression: Compression,
) -> Result<UnpackSummary, ArchiveError> {
    let output = clean(output);
    let reader: Box<dyn Read> = match compression {
        Compression::None => Box::new(BufReader::with_capacity(IO_BUFFER, input)),
        Compression::Zstd => {
            Box::new(
                zstd::stream::read::Decoder::new(input).map_err(|e| ArchiveError::Stream {
                    context: "open zstd stream".into(),
                    source: e,
                })?,
            )
        }
    };
    create_root(&output)?;
    let result = extract(reader, &output).and_then(|(summary, written)| {
        verify_unpacked(&output, written)?;
        Ok(summary)
    });
    if result.is_err() {
        remove_root(&output);
    }
    result
}

fn clean(path: &Path) -> PathBuf {
    let cleaned: PathBuf = path.components().collect();
    if cleaned.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        cleaned
    }
}

/// Parents made as needed (0755), the root itself must be new and a real directory.
fn create_root(root: &Path) -> Result<(), ArchiveError> {
    if let Some(parent) = root.parent().filter(|p| !p.as_os_str().is_empty()) {
        DirBuilder::new()
            .recursive(true)
            .mode(DEFAULT_DIR_MODE)
            .create(parent)
            .map_err(|e| ArchiveError::io(parent, e))?;
    }
    DirBuilder::new()
        .mode(DEFAULT_DIR_MODE)
        .create(root)
        .map_err(|e| match e.kind() {
            io::ErrorKind::AlreadyExists => ArchiveError::DestinationExists {
                path: root.to_path_buf(),
            },
            _ => ArchiveError::io(root, e),
        })?;
    let meta = fs::symlink_metadata(root).map_err(|e| ArchiveError::io(root, e))?;
    if !meta.is_dir() {
        return Err(ArchiveError::DestinationExists {
            path: root.to_path_buf(),
        });
    }
    Ok(())
}

/// Makes every directory writable again (an archived 0555 would block the removal),
/// then removes the tree.
fn remove_root(root: &Path) {
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let _ = fs::set_permissions(&dir, fs::Permissions::from_mode(0o755 | 0o700));
        if let Ok(entries) = fs::read_dir(&dir) {
            for entry in entries.flatten() {
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    pending.push(entry.path());
                }
            }
        }
    }
    let _ = fs::remove_dir_all(root);
}

/// Go's `cleanArchiveRelPath`: one leading `./` dropped, `""`/`.` is the root, the
/// name must be local (`filepath.IsLocal`), and is returned lexically cleaned.
pub fn clean_entry_name(name: &[u8]) -> Result<Vec<u8>, ArchiveError> {
    let name = name.strip_prefix(b"./").unwrap_or(name);
    if name.is_empty() || name == b"." {
        return Ok(b".".to_vec());
    }
    let unsafe_path = || ArchiveError::PathUnsafe {
        name: String::from_utf8_lossy(name).into_owned(),
    };
    if name.starts_with(b"/") {
        return Err(unsafe_path());
    }
    let mut parts: Vec<&[u8]> = Vec::new();
    for part in name.split(|&b| b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => {
                if parts.pop().is_none() {
                    return Err(unsafe_path());
                }
            }
            other => parts.push(other),
        }
    }
    if parts.is_empty() {
        return Ok(b".".to_vec());
    }
    Ok(parts.join(&b'/'))
}

/// Memory for sorting the digests of the files written before they spill to disk.
const DIGEST_SORT_BUDGET: usize = 16 << 20;

/// The tree verification after unpacking, without reading the tree again: the files
/// were hashed as they were written, so their sorted digests are merged with the
/// sorted CHECKSUMS rows (every file but CHECKSUMS listed once with its digest, every
/// row a file written). Anything else — and any doubt — goes through Go's full
/// [`verify_dump_root`], whose verdict is the answer.
fn verify_unpacked(root: &Path, written: SortedRecords) -> Result<(), ArchiveError> {
    match digests_match(root, written) {
        Ok(true) => Ok(()),
        Ok(false) | Err(_) => verify_dump_root(root),
    }
}

fn digests_match(root: &Path, mut written: SortedRecords) -> Result<bool, ArchiveError> {
    let scratch_error = |e| ArchiveError::io(std::env::temp_dir(), e);
    for name in [MANIFEST_FILE_NAME, CHECKSUMS_FILE_NAME] {
        require_single_regular(&root.join(name))?;
    }
    Manifest::read_file(&root.join(MANIFEST_FILE_NAME))?;
    let mut listing = sorted_listing(root)?;
    if listing.stopped.is_some() || listing.count == 0 {
        return Ok(false);
    }
    // Every file written but CHECKSUMS pairs with the one row listing it, with the
    // digest it was written with; a row repeated or left over stands alone.
    // The first difference settles it: the rest is not read.
    let joined = merge_join_until(&mut written, &mut listing.rows, |joined| {
        let matched = match joined {
            Joined::Left(rel, _) => rel == CHECKSUMS_FILE_NAME.as_bytes(),
            Joined::Both { key, left, right } => {
                key != CHECKSUMS_FILE_NAME.as_bytes()
                    && listing_value(right).is_some_and(|(_, want)| want == left)
            }
            Joined::Right(..) => false,
        };
        if matched {
            ControlFlow::Continue(())
        } else {
            ControlFlow::Break(())
        }
    })
    .map_err(scratch_error)?;
    Ok(joined.is_continue())
}

/// Reads every entry; directory modes are applied after the last one. Returns the
/// regular files written with their SHA-256, sorted by cleaned path.
fn extract(reader: impl Read, root: &Path) -> Result<(UnpackSummary, SortedRecords), ArchiveError> {
    let stream = |e: io::Error| ArchiveError::Stream {
        context: "read archive".into(),
        source: e,
    };
    let mut archive = tar::Archive::new(reader);
    let mut summary = UnpackSummary::default();
    let mut dir_modes: HashMap<PathBuf, u32> = HashMap::new();
    let mut entries_left = MAX_UNPACK_ENTRIES;
    let mut bytes_left = MAX_UNPACK_BYTES;
    let mut buf = vec![0u8; IO_BUFFER];
    let mut digests = ExternalSorter::new(SortOptions {
        memory_budget: DIGEST_SORT_BUDGET,
        scratch_dir: std::env::temp_dir(),
    });
    let scratch_error = |e| ArchiveError::io(std::env::temp_dir(), e);
    // The parent directory made for the previous file: consecutive files of one
    // directory need it made only once.
    let mut made_parent: Option<PathBuf> = None;
    for entry in archive.entries().map_err(stream)? {
        let mut entry = entry.map_err(stream)?;
        let name = entry.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&name).into_owned();
        if entries_left == 0 {
            return Err(ArchiveError::BudgetExceeded(format!(
                "too many entries before {shown:?}"
            )));
        }
        entries_left -= 1;
        let rel = clean_entry_name(&name)?;
        let flag = entry.header().as_bytes()[156];
        let kind = match flag {
            b'0' => Kind::File,
            0 if name.ends_with(b"/") => Kind::Dir,
            0 => Kind::File,
            b'5' => Kind::Dir,
            other => Kind::Other(other),
        };
        if rel == b"." {
            match kind {
                Kind::Dir => continue,
                _ => {
                    return Err(ArchiveError::non_regular(
                        &shown,
                        format!("type {}", type_char(flag)),
                    ));
                }
            }
        }
        let target = root.join(OsStr::from_bytes(&rel));
        let perm = entry.header().mode().map_err(stream)? & 0o777;
        match kind {
            Kind::Dir => {
                let mode = if perm == 0 { DEFAULT_DIR_MODE } else { perm };
                DirBuilder::new()
                    .recursive(true)
                    .mode(mode | WRITABLE_DIR_BITS)
                    .create(&target)
                    .map_err(|e| ArchiveError::io(&target, e))?;
                dir_modes.insert(target, mode);
                summary.dirs += 1;
            }
            Kind::File => {
                let size = entry.size();
                if size > bytes_left {
                    return Err(ArchiveError::BudgetExceeded(format!(
                        "{shown:?} needs {size} bytes, {bytes_left} bytes left"
                    )));
                }
                bytes_left -= size;
                let mode = if perm == 0 { DEFAULT_FILE_MODE } else { perm };
                let (written, digest) =
                    write_file(&mut entry, &target, mode, &mut buf, &mut made_parent)?;
                if written != size {
                    return Err(ArchiveError::Stream {
                        context: format!("read {shown:?}"),
                        source: io::Error::from(io::ErrorKind::UnexpectedEof),
                    });
                }
                digests.push(&rel, &digest).map_err(scratch_error)?;
                summary.files += 1;
                summary.bytes += size;
            }
            Kind::Other(flag) => {
                return Err(ArchiveError::non_regular(
                    &shown,
                    format!("type {}", type_char(flag)),
                ));
            }
        }
    }
    apply_dir_modes(dir_modes)?;
    Ok((summary, digests.finish().map_err(scratch_error)?))
}

enum Kind {
    Dir,
    File,
    Other(u8),
}

fn type_char(flag: u8) -> String {
    if flag.is_ascii_graphic() {
        char::from(flag).to_string()
    } else {
        format!("{flag:#04x}")
    }
}

/// Writes one file (`O_EXCL`, no link followed), its parents made as needed;
/// returns its size and SHA-256.
fn write_file(
    entry: &mut impl Read,
    target: &Path,
    mode: u32,
    buf: &mut [u8],
    made_parent: &mut Option<PathBuf>,
) -> Result<(u64, [u8; 32]), ArchiveError> {
    if let Some(parent) = target.parent()
        && made_parent.as_deref() != Some(parent)
    {
        DirBuilder::new()
            .recursive(true)
            .mode(DEFAULT_DIR_MODE)
            .create(parent)
            .map_err(|e| ArchiveError::io(parent, e))?;
        *made_parent = Some(parent.to_path_buf());
    }
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .custom_flags(libc::O_NOFOLLOW)
        .open(target)
        .map_err(|e| ArchiveError::io(target, e))?;
    let mut written = 0u64;
    let mut hasher = Sha256::new();
    loop {
        let n = match entry.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(ArchiveError::Stream {
                    context: format!("read {}", target.display()),
                    source: e,
                });
            }
        };
        hasher.update(&buf[..n]);
        file.write_all(&buf[..n])
            .map_err(|e| ArchiveError::io(target, e))?;
        written += n as u64;
    }
    Ok((written, hasher.finalize().into()))
}

/// Deepest (longest path) first, so a read-only parent never blocks a child's chmod.
fn apply_dir_modes(modes: HashMap<PathBuf, u32>) -> Result<(), ArchiveError> {
    let mut dirs: Vec<(PathBuf, u32)> = modes.into_iter().collect();
    dirs.sort_by(|a, b| {
        let (a, b) = (a.0.as_os_str().as_bytes(), b.0.as_os_str().as_bytes());
        b.len().cmp(&a.len()).then_with(|| b.cmp(a))
    });
    for (dir, mode) in dirs {
        fs::set_permissions(&dir, fs::Permissions::from_mode(mode))
            .map_err(|e| ArchiveError::io(&dir, e))?;
    }
    Ok(())
}

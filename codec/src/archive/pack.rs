//! Pack: verify the tree, list every directory and regular file (sorted by path
//! bytes, through the external sort so a million-file tree stays in bounded memory),
//! and stream headers and contents into a plain or zstd writer.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::header::{self, EntryHeader, TYPE_DIR, TYPE_REG};
use super::owners::Owners;
use super::{ArchiveError, Compression, kind_name, verify_dump_root};
use crate::pipeline::{NoProgress, Progress};
use crate::sort::{ExternalSorter, SortOptions};

/// What was packed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PackSummary {
    /// Directories written.
    pub dirs: u64,
    /// Regular files written.
    pub files: u64,
    /// File content bytes.
    pub bytes: u64,
}

const DIR: u8 = b'd';
const FILE: u8 = b'f';
/// Memory for the path sort before it spills.
const PATH_SORT_BUDGET: usize = 64 << 20;
const IO_BUFFER: usize = 1 << 20;
/// klauspost's default level corresponds to zstd level 3.
const ZSTD_LEVEL: i32 = 3;

/// Go's `rejectArchiveOutputInsideInput`: both sides symlink-resolved (the output
/// through its parent, which must exist).
pub fn check_output_outside_input(input: &Path, output: &Path) -> Result<(), ArchiveError> {
    let input_abs = fs::canonicalize(input).map_err(|e| ArchiveError::io(input, e))?;
    let parent = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let parent_abs = fs::canonicalize(parent).map_err(|e| ArchiveError::io(parent, e))?;
    let output_abs = match output.file_name() {
        Some(name) => parent_abs.join(name),
        None => parent_abs,
    };
    if output_abs.starts_with(&input_abs) {
        return Err(ArchiveError::OutputInsideInput {
            output: output.to_path_buf(),
            input: input.to_path_buf(),
        });
    }
    Ok(())
}

/// The command: output outside the input, created exclusively (0600), removed again
/// on any failure, fsynced on success.
pub fn pack_to_file(
    input: &Path,
    output: &Path,
    compression: Compression,
    progress: &mut dyn Progress,
) -> Result<PackSummary, ArchiveError> {
    check_output_outside_input(input, output)?;
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(output)
        .map_err(|e| ArchiveError::io(output, e))?;
    let result = pack_tree_with_progress(input, &file, compression, progress).and_then(|summary| {
        file.sync_all()
            .map_err(|e| ArchiveError::io(output, e))
            .map(|()| summary)
    });
    if result.is_err() {
        let _ = fs::remove_file(output);
    }
    result
}

/// Verifies the tree at `root` and writes its archive to `out`.
pub fn pack_tree(
    root: &Path,
    out: impl Write,
    compression: Compression,
) -> Result<PackSummary, ArchiveError> {
    pack_tree_with_progress(root, out, compression, &mut NoProgress)
}

/// [`pack_tree`], reporting the files written to `progress`.
pub fn pack_tree_with_progress(
    root: &Path,
    out: impl Write,
    compression: Compression,
    progress: &mut dyn Progress,
) -> Result<PackSummary, ArchiveError> {
    let result = pack_inner(root, out, compression, progress);
    progress.finish();
    result
}

fn pack_inner(
    root: &Path,
    out: impl Write,
    compression: Compression,
    progress: &mut dyn Progress,
) -> Result<PackSummary, ArchiveError> {
    let root = fs::canonicalize(root).map_err(|e| ArchiveError::io(root, e))?;
    progress.phase("verifying the tree", None);
    // The walk does not depend on the verification, so it runs beside it; the
    // verification's verdict is reported first, as Go (which runs them in turn) does.
    let (verified, collected) = std::thread::scope(|scope| {
        let walk = scope.spawn(|| collect_paths(&root));
        let verified = verify_dump_root(&root);
        let collected = walk.join().unwrap_or_else(|_| {
            Err(ArchiveError::io(
                &root,
                io::Error::other("path walk panicked"),
            ))
        });
        (verified, collected)
    });
    verified?;
    let (mut paths, total) = collected?;
    progress.phase("packing", Some(total));
    let out = BufWriter::with_capacity(IO_BUFFER, out);
    let write_error = |e: io::Error| ArchiveError::Stream {
        context: "write archive".into(),
        source: e,
    };
    let mut sink = match compression {
        Compression::None => Sink::Plain(out),
        Compression::Zstd => {
            let mut encoder =
                zstd::stream::write::Encoder::new(out, ZSTD_LEVEL).map_err(write_error)?;
            encoder.include_checksum(true).map_err(write_error)?;
            Sink::Zstd(encoder)
        }
    };
    // A reading thread stats, opens and reads ahead (small files whole) while this one
    // writes and compresses; the channel bounds what is in flight.
    let mut summary = PackSummary::default();
    std::thread::scope(|scope| -> Result<(), ArchiveError> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Result<Prepared, ArchiveError>>(READ_AHEAD);
        let root = &root;
        scope.spawn(move || {
            let mut owners = Owners::default();
            loop {
                let next = match paths.next() {
                    Ok(Some((rel, _kind))) => prepare_entry(root, rel, &mut owners),
                    Ok(None) => return,
                    Err(e) => Err(ArchiveError::io(root, e)),
                };
                let failed = next.is_err();
                if tx.send(next).is_err() || failed {
                    return;
                }
            }
        });
        let mut buf = vec![0u8; IO_BUFFER];
        for prepared in rx {
            emit_entry(sink.writer(), prepared?, &mut buf, &mut summary)?;
            progress.update(summary.bytes, summary.dirs + summary.files);
        }
        Ok(())
    })?;
    sink.writer().write_all(&header::END).map_err(write_error)?;
    sink.finish().map_err(write_error)?;
    Ok(summary)
}

/// The plain or compressing writer, finished explicitly so the frame end's write
/// error is seen.
enum Sink<W: Write> {
    Plain(BufWriter<W>),
    Zstd(zstd::stream::write::Encoder<'static, BufWriter<W>>),
}

impl<W: Write> Sink<W> {
    fn writer(&mut self) -> &mut dyn Write {
        match self {
            Sink::Plain(w) => w,
            Sink::Zstd(w) => w,
        }
    }

    fn finish(self) -> io::Result<()> {
        match self {
            Sink::Plain(mut w) => w.flush(),
            Sink::Zstd(w) => w.finish()?.flush(),
        }
    }
}

/// Every directory and regular file under `root` (not `root` itself), refusing
/// anything else and hard-linked files, sorted by relative path bytes.
/// Also returns the regular files' total size (the progress total).
fn collect_paths(root: &Path) -> Result<(crate::sort::SortedRecords, u64), ArchiveError> {
    let mut total = 0u64;
    let mut sorter = ExternalSorter::new(SortOptions {
        memory_budget: PATH_SORT_BUDGET,
        scratch_dir: std::env::temp_dir(),
    });
    let mut pending: Vec<(PathBuf, Vec<u8>)> = vec![(root.to_path_buf(), Vec::new())];
    while let Some((dir, prefix)) = pending.pop() {
        let mut entries: Vec<_> = fs::read_dir(&dir)
            .map_err(|e| ArchiveError::io(&dir, e))?
            .collect::<Result<_, _>>()
            .map_err(|e| ArchiveError::io(&dir, e))?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let path = entry.path();
            let meta = fs::symlink_metadata(&path).map_err(|e| ArchiveError::io(&path, e))?;
            let mut rel = prefix.clone();
            if !rel.is_empty() {
                rel.push(b'/');
            }
            rel.extend_from_slice(entry.file_name().as_bytes());
            let kind = if meta.is_dir() {
                pending.push((path, rel.clone()));
                DIR
            } else if meta.file_type().is_file() {
                if meta.nlink() > 1 {
                    return Err(ArchiveError::non_regular(
                        &path,
                        format!("hard-linked file (nlink={})", meta.nlink()),
                    ));
                }
                total += meta.len();
                FILE
            } else {
                return Err(ArchiveError::non_regular(&path, kind_name(&meta)));
            };
            sorter
                .push(&rel, &[kind])
                .map_err(|e| ArchiveError::io(std::env::temp_dir(), e))?;
        }
    }
    let sorted = sorter
        .finish()
        .map_err(|e| ArchiveError::io(std::env::temp_dir(), e))?;
    Ok((sorted, total))
}

/// Entries read ahead of the writer.
const READ_AHEAD: usize = 64;
/// Files up to this size are read whole by the reading thread; larger ones are
/// streamed by the writer from the open file.
const INLINE_MAX: u64 = 64 << 10;

/// An entry ready to be written: its header and where its content comes from.
struct Prepared {
    path: PathBuf,
    header: EntryHeader,
    body: Body,
}

enum Body {
    Dir,
    Inline(Vec<u8>),
    Stream(File),
}

/// Re-checks one path (it must still be what the walk saw: same kind, a regular file
/// the same inode with one link), builds its header and reads small files whole.
fn prepare_entry(root: &Path, rel: &[u8], owners: &mut Owners) -> Result<Prepared, ArchiveError> {
    let path = root.join(std::ffi::OsStr::from_bytes(rel));
    let meta = fs::symlink_metadata(&path).map_err(|e| ArchiveError::io(&path, e))?;
    let (file, meta) = if meta.file_type().is_file() {
        let (file, opened) = open_same_regular(&path, &meta)?;
        (Some(file), opened)
    } else if meta.is_dir() {
        (None, meta)
    } else {
        return Err(ArchiveError::non_regular(&path, kind_name(&meta)));
    };
    let header = EntryHeader {
        name: rel.to_vec(),
        mode: meta.mode() & 0o7777,
        uid: u64::from(meta.uid()),
        gid: u64::from(meta.gid()),
        uname: owners.user(u64::from(meta.uid())).to_owned(),
        gname: owners.group(u64::from(meta.gid())).to_owned(),
        size: if file.is_some() { meta.size() } else { 0 },
        mtime: header::round_mtime(meta.mtime(), meta.mtime_nsec()),
        typeflag: if file.is_some() { TYPE_REG } else { TYPE_DIR },
    };
    let body = match file {
        None => Body::Dir,
        Some(mut file) if header.size <= INLINE_MAX => {
            let mut data = Vec::with_capacity(header.size as usize);
            copy_exact(&mut file, &path, header.size, &mut data, &mut [0u8; 4096])?;
            Body::Inline(data)
        }
        Some(file) => Body::Stream(file),
    };
    Ok(Prepared { path, header, body })
}

/// Header, content, padding.
fn emit_entry(
    sink: &mut dyn Write,
    entry: Prepared,
    buf: &mut [u8],
    summary: &mut PackSummary,
) -> Result<(), ArchiveError> {
    let write_error = |e: io::Error| ArchiveError::Stream {
        context: "write archive".into(),
        source: e,
    };
    header::write_header(sink, &entry.header).map_err(write_error)?;
    let size = entry.header.size;
    match entry.body {
        Body::Dir => {
            summary.dirs += 1;
            return Ok(());
        }
        Body::Inline(data) => sink.write_all(&data).map_err(write_error)?,
        Body::Stream(mut file) => copy_exact(&mut file, &entry.path, size, sink, buf)?,
    }
    sink.write_all(&[0u8; header::BLOCK][..header::padding(size)])
        .map_err(write_error)?;
    summary.files += 1;
    summary.bytes += size;
    Ok(())
}

/// Opens without following links or blocking, and requires the inode the walk saw.
fn open_same_regular(
    path: &Path,
    seen: &fs::Metadata,
) -> Result<(File, fs::Metadata), ArchiveError> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => ArchiveError::non_regular(path, "symlink"),
            _ => ArchiveError::io(path, e),
        })?;
    let opened = file.metadata().map_err(|e| ArchiveError::io(path, e))?;
    if !opened.file_type().is_file()
        || opened.dev() != seen.dev()
        || opened.ino() != seen.ino()
        || opened.nlink() > 1
    {
        return Err(ArchiveError::non_regular(
            path,
            "changed while the archive was being packed",
        ));
    }
    Ok((file, opened))
}

/// Copies exactly `size` bytes; a file that shrank or grew since its header was
/// written fails the pack (tar would be corrupt otherwise).
fn copy_exact(
    file: &mut File,
    path: &Path,
    size: u64,
    sink: &mut dyn Write,
    buf: &mut [u8],
) -> Result<(), ArchiveError> {
    let mut left = size;
    while left > 0 {
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = match file.read(&mut buf[..want]) {
            Ok(0) => {
                return Err(ArchiveError::non_regular(
                    path,
                    "shrank while the archive was being packed",
                ));
            }
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(ArchiveError::io(path, e)),
        };
        sink.write_all(&buf[..n])
            .map_err(|e| ArchiveError::Stream {
                context: "write archive".into(),
                source: e,
            })?;
        left -= n as u64;
    }
    match file.read(&mut buf[..1]) {
        Ok(0) => Ok(()),
        Ok(_) => Err(ArchiveError::non_regular(
            path,
            "grew while the archive was being packed",
        )),
        Err(e) => Err(ArchiveError::io(path, e)),
    }
}

//! Safe file publication (docs/format.md §8.1, §8.3).
//!
//! The decoder writes into a directory the operator chose, which may hold leftovers
//! from earlier runs or planted links; the encoder reads dump trees that may be
//! hostile. Every helper here refuses to be redirected through a symlink, to block on
//! a FIFO, or to write through a hard link into a file outside the tree.

use std::fs::{self, File, OpenOptions, Permissions};
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::{ErrorCode, ExitClass};

/// Mode of every file the tools create for themselves: owner read/write only.
pub const PRIVATE_FILE_MODE: u32 = 0o600;
/// Mode `os.Create` asks for (the umask applies), used for MANIFEST.json and CHECKSUMS.
pub const CREATE_FILE_MODE: u32 = 0o666;
/// Mode for created directories (the umask applies).
pub const DIR_MODE: u32 = 0o755;

/// What kind of refusal or failure an [`FsError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FsErrorKind {
    /// The path is a symbolic link.
    Symlink,
    /// The path is a FIFO.
    Fifo,
    /// The path is a directory, socket, device or other non-regular file.
    NotRegular,
    /// The file has more than one link, so it may live outside the tree.
    HardLink,
    /// A directory between the root and the target is a symbolic link.
    SymlinkAncestor,
    /// The target is not below the root it must stay in.
    EscapesRoot,
    /// The file changed between the checks and the open.
    Replaced,
    /// Something already has the name a publish must not replace.
    Exists,
    /// Another process holds the output's lock ([`crate::tree::lock`]).
    Busy,
    /// An I/O error.
    Io,
}

/// A refused or failed file-system operation, always naming the path.
#[derive(Debug)]
pub struct FsError {
    path: PathBuf,
    kind: FsErrorKind,
    message: String,
    source: Option<io::Error>,
}

impl FsError {
    /// An I/O failure on `path`.
    #[cold]
    pub fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        let path = path.into();
        FsError {
            message: format!("{}: {source}", path.display()),
            path,
            kind: FsErrorKind::Io,
            source: Some(source),
        }
    }

    /// `path` exists and must not be replaced.
    #[cold]
    pub fn exists(path: &Path) -> Self {
        FsError::refuse(
            FsErrorKind::Exists,
            path,
            format!("{}: already exists; refusing to replace it", path.display()),
        )
    }

    #[cold]
    pub(crate) fn refuse(kind: FsErrorKind, path: &Path, message: String) -> Self {
        FsError {
            path: path.to_path_buf(),
            kind,
            message,
            source: None,
        }
    }

    /// The path the operation was about.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What went wrong.
    pub fn kind(&self) -> FsErrorKind {
        self.kind
    }

    /// Whether this is an I/O error of `kind` (e.g. `NotFound`).
    pub fn is_io_kind(&self, kind: io::ErrorKind) -> bool {
        self.source.as_ref().is_some_and(|e| e.kind() == kind)
    }
}

impl std::fmt::Display for FsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for FsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_ref().map(|e| e as _)
    }
}

impl ErrorCode for FsError {
    fn code(&self) -> &'static str {
        match self.kind {
            FsErrorKind::Symlink => "refusing-symlink",
            FsErrorKind::Fifo => "refusing-fifo",
            FsErrorKind::NotRegular => "not-regular",
            FsErrorKind::HardLink => "hard-linked",
            FsErrorKind::SymlinkAncestor => "symlinked-ancestor",
            FsErrorKind::EscapesRoot => "escapes-root",
            FsErrorKind::Replaced => "file-replaced",
            FsErrorKind::Exists => "output-exists",
            FsErrorKind::Busy => "output-busy",
            FsErrorKind::Io => "io",
        }
    }

    fn exit_class(&self) -> ExitClass {
        match self.kind {
            FsErrorKind::Io
            | FsErrorKind::EscapesRoot
            | FsErrorKind::Exists
            | FsErrorKind::Busy => ExitClass::Usage,
            _ => ExitClass::Data,
        }
    }
}

impl From<FsError> for io::Error {
    fn from(err: FsError) -> Self {
        match err.kind {
            FsErrorKind::Io => match err.source {
                Some(source) => source,
                None => io::Error::other(err.message),
            },
            _ => io::Error::other(err),
        }
    }
}

/// fsyncs a directory so a rename into it survives a crash.
pub fn sync_dir(dir: &Path) -> Result<(), FsError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| FsError::io(dir, e))
}

/// What a file is, for messages that refuse it because it is not a regular file
/// (the archive's refusals say the same words).
pub(crate) fn kind_name(meta: &fs::Metadata) -> &'static str {
    let ft = meta.file_type();
    if ft.is_symlink() {
        "symlink"
    } else if ft.is_dir() {
        "directory"
    } else if ft.is_fifo() {
        "fifo"
    } else if ft.is_socket() {
        "socket"
    } else if ft.is_block_device() {
        "block device"
    } else if ft.is_char_device() {
        "character device"
    } else {
        "regular file"
    }
}

/// `openSidecarFile`: opens a JSONL sidecar for writing, truncated, mode 0600.
///
/// `O_NOFOLLOW` makes the symlink check atomic, `O_NONBLOCK` turns a reader-less FIFO
/// into an immediate `ENXIO` instead of a hang, and truncation waits until fstat has
/// shown a regular file with a single link so a planted hard link to a file outside
/// the tree is never clobbered.
pub fn open_sidecar(path: &Path) -> Result<File, FsError> {
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .mode(PRIVATE_FILE_MODE)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => FsError::refuse(
                FsErrorKind::Symlink,
                path,
                format!("refusing to overwrite symlink at {}", path.display()),
            ),
            Some(libc::ENXIO) => FsError::refuse(
                FsErrorKind::Fifo,
                path,
                format!("refusing to write to FIFO at {}", path.display()),
            ),
            _ => FsError::io(path, e),
        })?;
    let meta = regular_file_metadata(&file, path, "write to")?;
    if meta.nlink() > 1 {
        return Err(FsError::refuse(
            FsErrorKind::HardLink,
            path,
            format!(
                "refusing to overwrite hard-linked file at {} (nlink={})",
                path.display(),
                meta.nlink()
            ),
        ));
    }
    file.set_len(0).map_err(|e| FsError::io(path, e))?;
    // The creation mode only applies to new files; an older run's 0644 must not survive.
    file.set_permissions(Permissions::from_mode(PRIVATE_FILE_MODE))
        .map_err(|e| FsError::io(path, e))?;
    Ok(file)
}

/// Opens a file of an untrusted dump tree for reading (docs/format.md §8.3).
///
/// The file must be a regular file with one link (a hard link can pull in a file from
/// outside the tree while looking regular); the open does not follow links and does
/// not block on FIFOs, and the opened inode must be the one that was checked.
pub fn open_regular_for_read(path: &Path) -> Result<File, FsError> {
    let before = fs::symlink_metadata(path).map_err(|e| FsError::io(path, e))?;
    check_regular_for_read(path, &before)?;
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => FsError::refuse(
                FsErrorKind::Symlink,
                path,
                format!("refusing to read through symlink at {}", path.display()),
            ),
            _ => FsError::io(path, e),
        })?;
    let after = file.metadata().map_err(|e| FsError::io(path, e))?;
    check_regular_for_read(path, &after)?;
    if before.dev() != after.dev() || before.ino() != after.ino() {
        return Err(FsError::refuse(
            FsErrorKind::Replaced,
            path,
            format!(
                "refusing to read {}: replaced while being opened",
                path.display()
            ),
        ));
    }
    Ok(file)
}

fn check_regular_for_read(path: &Path, meta: &fs::Metadata) -> Result<(), FsError> {
    let ft = meta.file_type();
    if ft.is_symlink() {
        return Err(FsError::refuse(
            FsErrorKind::Symlink,
            path,
            format!("refusing to read through symlink at {}", path.display()),
        ));
    }
    if ft.is_fifo() {
        return Err(FsError::refuse(
            FsErrorKind::Fifo,
            path,
            format!("refusing to read FIFO at {}", path.display()),
        ));
    }
    if !ft.is_file() {
        return Err(FsError::refuse(
            FsErrorKind::NotRegular,
            path,
            format!(
                "refusing to read non-regular file at {} ({})",
                path.display(),
                kind_name(meta)
            ),
        ));
    }
    if meta.nlink() > 1 {
        return Err(FsError::refuse(
            FsErrorKind::HardLink,
            path,
            format!(
                "refusing to read hard-linked file at {} (nlink={})",
                path.display(),
                meta.nlink()
            ),
        ));
    }
    Ok(())
}

/// Opens a file that must be regular without blocking on a FIFO; `follow` decides
/// whether a final symlink is followed. Hard links are allowed.
pub(crate) fn open_nonblocking_regular(path: &Path, follow: bool) -> Result<File, FsError> {
    let flags = if follow {
        libc::O_NONBLOCK
    } else {
        libc::O_NONBLOCK | libc::O_NOFOLLOW
    };
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(flags)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) if !follow => FsError::refuse(
                FsErrorKind::Symlink,
                path,
                format!("refusing to read through symlink at {}", path.display()),
            ),
            _ => FsError::io(path, e),
        })?;
    regular_file_metadata(&file, path, "read")?;
    Ok(file)
}

/// The metadata of an opened `file`, refusing anything but a regular file: what was
/// opened by name is checked by handle, so a swap after a check cannot slip through.
fn regular_file_metadata(file: &File, path: &Path, verb: &str) -> Result<fs::Metadata, FsError> {
    let meta = file.metadata().map_err(|e| FsError::io(path, e))?;
    if meta.file_type().is_file() {
        return Ok(meta);
    }
    let kind = if meta.file_type().is_fifo() {
        FsErrorKind::Fifo
    } else {
        FsErrorKind::NotRegular
    };
    Err(FsError::refuse(
        kind,
        path,
        format!(
            "refusing to {verb} non-regular file at {} ({})",
            path.display(),
            kind_name(&meta)
        ),
    ))
}

/// A directory of an untrusted dump tree, held open by handle (docs/format.md §8.3).
///
/// The encoder lists a directory, then opens every file it listed. Opening them
/// relative to this handle costs one name lookup a file instead of a walk from the
/// root plus an `lstat`, and no ancestor can be swapped for a link meanwhile: the
/// handle pins the directory that was checked.
#[derive(Debug)]
pub struct DumpDir {
    fd: std::os::fd::OwnedFd,
    path: PathBuf,
}

impl DumpDir {
    /// Opens the directory at `path`, refusing a symlink or anything but a directory.
    pub fn open(path: &Path) -> Result<DumpDir, FsError> {
        use rustix::fs::{Mode, OFlags};
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        match rustix::fs::open(path, flags, Mode::empty()) {
            Ok(fd) => Ok(DumpDir {
                fd,
                path: path.to_path_buf(),
            }),
            // With O_DIRECTORY, Linux reports a symlink as "not a directory".
            Err(rustix::io::Errno::LOOP | rustix::io::Errno::NOTDIR) => {
                let is_link = fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
                Err(if is_link {
                    FsError::refuse(
                        FsErrorKind::Symlink,
                        path,
                        format!("refusing to read through symlink at {}", path.display()),
                    )
                } else {
                    FsError::refuse(
                        FsErrorKind::NotRegular,
                        path,
                        format!("{} is not a directory", path.display()),
                    )
                })
            }
            Err(e) => Err(FsError::io(path, e.into())),
        }
    }

    /// The directory's path, for messages.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Opens `name`, which the directory's listing reported as a regular file, for
    /// reading: without following a link, without blocking on a FIFO, and refused
    /// after the open (by handle) unless it is a regular file with one link. The
    /// listing's file type stands in for the `lstat` [`open_regular_for_read`] does
    /// first; an entry swapped between the listing and the open is caught by the
    /// check on the handle, the same window that `lstat`-then-open leaves.
    /// Returns the file with its size as the open saw it.
    pub fn open_listed_file(&self, name: &std::ffi::OsStr) -> Result<(File, u64), FsError> {
        use rustix::fs::{Mode, OFlags};
        let path = self.path.join(name);
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
        let fd = rustix::fs::openat(&self.fd, name, flags, Mode::empty()).map_err(|e| match e {
            rustix::io::Errno::LOOP => FsError::refuse(
                FsErrorKind::Symlink,
                &path,
                format!("refusing to read through symlink at {}", path.display()),
            ),
            e => FsError::io(&path, e.into()),
        })?;
        let file = File::from(fd);
        let meta = file.metadata().map_err(|e| FsError::io(&path, e))?;
        check_regular_for_read(&path, &meta)?;
        Ok((file, meta.len()))
    }
}

#[cfg(test)]
#[path = "fs_tests.rs"]
mod tests;

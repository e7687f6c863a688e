//! Safe file publication (FORMAT.md §8.1, §8.3).
//!
//! The decoder writes into a directory the operator chose, which may hold leftovers
//! from earlier runs or planted links; the encoder reads dump trees that may be
//! hostile. Every helper here refuses to be redirected through a symlink, to block on
//! a FIFO, or to write through a hard link into a file outside the tree.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{self, BufWriter, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use crate::error::{ErrorCode, ExitClass};

/// Mode of every file the tools create for themselves: owner read/write only.
pub const PRIVATE_FILE_MODE: u32 = 0o600;
/// Mode `os.Create` asks for (the umask applies), used for MANIFEST.json and CHECKSUMS.
pub const CREATE_FILE_MODE: u32 = 0o666;
/// Mode for created directories (the umask applies).
pub const DIR_MODE: u32 = 0o755;

const WRITE_BUFFER: usize = 64 << 10;
/// Room left for `.`, `.tmp-` and 8 random characters under a 255-byte NAME_MAX.
const TEMP_NAME_KEEP: usize = 200;

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

    #[cold]
    fn refuse(kind: FsErrorKind, path: &Path, message: String) -> Self {
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
            FsErrorKind::Io => "io",
        }
    }

    fn exit_class(&self) -> ExitClass {
        match self.kind {
            FsErrorKind::Io | FsErrorKind::EscapesRoot => ExitClass::Usage,
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

/// How [`publish_atomic`] creates and finishes the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishOptions {
    /// Creation mode of the temporary file (the umask applies), kept by the rename.
    pub mode: u32,
    /// fsync the file before the rename and its directory after it.
    pub sync: bool,
}

impl PublishOptions {
    /// `writeFileAtomic`: 0600, no fsync (adapter files).
    pub const PRIVATE: PublishOptions = PublishOptions {
        mode: PRIVATE_FILE_MODE,
        sync: false,
    };
    /// MANIFEST.json / CHECKSUMS: `os.Create` permissions, durably written.
    pub const DURABLE: PublishOptions = PublishOptions {
        mode: CREATE_FILE_MODE,
        sync: true,
    };
    /// Encoder outputs: 0600 and durable.
    pub const PRIVATE_DURABLE: PublishOptions = PublishOptions {
        mode: PRIVATE_FILE_MODE,
        sync: true,
    };
}

impl Default for PublishOptions {
    fn default() -> Self {
        PublishOptions::PRIVATE
    }
}

/// `writeFileAtomic`: a crash never leaves a partial file, and a symlink planted at
/// `path` is refused rather than followed (the rename would replace a hard link or
/// FIFO at `path` without touching what it points to).
pub fn write_file_atomic(path: &Path, bytes: &[u8]) -> Result<(), FsError> {
    publish_atomic(path, PublishOptions::PRIVATE, |w| w.write_all(bytes))
}

/// Streams a file into place via a temporary sibling and a rename.
pub fn publish_atomic<F>(path: &Path, opts: PublishOptions, write: F) -> Result<(), FsError>
where
    F: FnOnce(&mut BufWriter<File>) -> io::Result<()>,
{
    publish_atomic_with(path, opts, |w| write(w).map_err(|e| FsError::io(path, e)))
}

/// [`publish_atomic`] for writers with their own error type.
pub fn publish_atomic_with<T, E, F>(path: &Path, opts: PublishOptions, write: F) -> Result<T, E>
where
    E: From<FsError>,
    F: FnOnce(&mut BufWriter<File>) -> Result<T, E>,
{
    refuse_symlink_destination(path)?;
    let name = path.file_name().ok_or_else(|| {
        FsError::io(
            path,
            io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"),
        )
    })?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut prefix = b".".to_vec();
    prefix.extend_from_slice(&name.as_bytes()[..name.len().min(TEMP_NAME_KEEP)]);
    prefix.extend_from_slice(b".tmp-");
    let tmp = tempfile::Builder::new()
        .prefix(&OsString::from_vec(prefix))
        .rand_bytes(8)
        .permissions(Permissions::from_mode(opts.mode))
        .tempfile_in(dir)
        .map_err(|e| FsError::io(dir, e))?;
    // Dropping `temp_path` on any early return removes the temporary file.
    let (file, temp_path) = tmp.into_parts();
    let mut w = BufWriter::with_capacity(WRITE_BUFFER, file);
    let out = write(&mut w)?;
    let file = w
        .into_inner()
        .map_err(|e| FsError::io(&*temp_path, e.into_error()))?;
    if opts.sync {
        file.sync_all().map_err(|e| FsError::io(&*temp_path, e))?;
    }
    drop(file);
    temp_path
        .persist(path)
        .map_err(|e| FsError::io(path, e.error))?;
    if opts.sync {
        sync_dir(dir)?;
    }
    Ok(out)
}

/// fsyncs a directory so a rename into it survives a crash.
pub fn sync_dir(dir: &Path) -> Result<(), FsError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| FsError::io(dir, e))
}

fn refuse_symlink_destination(path: &Path) -> Result<(), FsError> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => Err(FsError::refuse(
            FsErrorKind::Symlink,
            path,
            format!("refusing to overwrite symlink at {}", path.display()),
        )),
        // Like Go, anything else (absent, unreadable) is left to the create to report.
        _ => Ok(()),
    }
}

fn file_mode_name(ft: fs::FileType) -> &'static str {
    if ft.is_dir() {
        "directory"
    } else if ft.is_fifo() {
        "fifo"
    } else if ft.is_socket() {
        "socket"
    } else if ft.is_block_device() {
        "block device"
    } else if ft.is_char_device() {
        "character device"
    } else if ft.is_symlink() {
        "symlink"
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
    let meta = file.metadata().map_err(|e| FsError::io(path, e))?;
    if !meta.file_type().is_file() {
        let kind = if meta.file_type().is_fifo() {
            FsErrorKind::Fifo
        } else {
            FsErrorKind::NotRegular
        };
        return Err(FsError::refuse(
            kind,
            path,
            format!(
                "refusing to write to non-regular file at {} ({})",
                path.display(),
                file_mode_name(meta.file_type())
            ),
        ));
    }
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

/// Lexical `filepath.Clean`: drops `.` and empty components, folds `x/..`.
pub fn clean_path(path: &Path) -> PathBuf {
    let mut parts: Vec<Component<'_>> = Vec::new();
    for comp in path.components() {
        match comp {
            Component::CurDir => {}
            Component::ParentDir => match parts.last() {
                Some(Component::Normal(_)) => {
                    parts.pop();
                }
                Some(Component::RootDir) | Some(Component::Prefix(_)) => {}
                _ => parts.push(comp),
            },
            other => parts.push(other),
        }
    }
    if parts.is_empty() {
        return PathBuf::from(".");
    }
    parts.iter().collect()
}

fn lstat_refuse_symlink(path: &Path) -> Result<(), FsError> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => Err(FsError::refuse(
            FsErrorKind::SymlinkAncestor,
            path,
            format!(
                "refusing to traverse symlinked ancestor at {}",
                path.display()
            ),
        )),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(FsError::io(path, e)),
    }
}

fn assert_no_symlink_ancestors(root: &Path, rel: &Path) -> Result<(), FsError> {
    lstat_refuse_symlink(root)?;
    let mut cur = root.to_path_buf();
    for comp in rel.components() {
        cur.push(comp);
        lstat_refuse_symlink(&cur)?;
    }
    Ok(())
}

/// `ensureDir` + `assertNoSymlinkAncestors`: creates `dir` (mode 0755) below `root`,
/// refusing if the root or any directory on the way is a symlink, since a link
/// planted by an earlier run would redirect every later write out of the tree.
///
/// The check runs before the creation (so nothing is created through a link) and
/// after it. It narrows, but cannot close, the race with a concurrent attacker.
pub fn ensure_dir_within(root: &Path, dir: &Path) -> Result<(), FsError> {
    let root = clean_path(root);
    let target = clean_path(dir);
    let rel = if root == Path::new(".") && target.is_relative() && !target.starts_with("..") {
        target.clone()
    } else {
        match target.strip_prefix(&root) {
            Ok(rel) => rel.to_path_buf(),
            Err(_) => {
                return Err(FsError::refuse(
                    FsErrorKind::EscapesRoot,
                    dir,
                    format!("target {} escapes root {}", dir.display(), root.display()),
                ));
            }
        }
    };
    assert_no_symlink_ancestors(&root, &rel)?;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(&target)
        .map_err(|e| FsError::io(&target, e))?;
    assert_no_symlink_ancestors(&root, &rel)
}

/// Opens a file of an untrusted dump tree for reading (FORMAT.md §8.3).
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
                file_mode_name(ft)
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
    let meta = file.metadata().map_err(|e| FsError::io(path, e))?;
    if !meta.file_type().is_file() {
        let kind = if meta.file_type().is_fifo() {
            FsErrorKind::Fifo
        } else {
            FsErrorKind::NotRegular
        };
        return Err(FsError::refuse(
            kind,
            path,
            format!(
                "refusing to read non-regular file at {} ({})",
                path.display(),
                file_mode_name(meta.file_type())
            ),
        ));
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;
    use std::process::Command;

    use super::*;

    fn mkfifo(path: &Path) {
        let status = Command::new("mkfifo")
            .arg(path)
            .status()
            .expect("mkfifo runs");
        assert!(status.success());
    }

    fn mode_of(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn write_file_atomic_replaces_and_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.json");
        write_file_atomic(&p, b"one").unwrap();
        write_file_atomic(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(mode_of(&p), 0o600);
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temp file left behind"
        );
    }

    #[test]
    fn write_file_atomic_refuses_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("outside");
        fs::write(&target, b"keep").unwrap();
        let link = dir.path().join("link");
        symlink(&target, &link).unwrap();
        let err = write_file_atomic(&link, b"x").unwrap_err();
        assert_eq!(err.kind(), FsErrorKind::Symlink);
        assert_eq!(err.code(), "refusing-symlink");
        assert_eq!(err.exit_class(), ExitClass::Data);
        assert!(
            err.to_string()
                .starts_with("refusing to overwrite symlink at ")
        );
        assert_eq!(fs::read(&target).unwrap(), b"keep");
    }

    #[test]
    fn write_file_atomic_replaces_hard_link_and_fifo_without_touching_target() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside");
        fs::write(&outside, b"keep").unwrap();
        let hl = dir.path().join("hl");
        fs::hard_link(&outside, &hl).unwrap();
        write_file_atomic(&hl, b"new").unwrap();
        assert_eq!(fs::read(&outside).unwrap(), b"keep");
        assert_eq!(fs::read(&hl).unwrap(), b"new");
        let fifo = dir.path().join("fifo");
        mkfifo(&fifo);
        write_file_atomic(&fifo, b"new").unwrap();
        assert!(fs::symlink_metadata(&fifo).unwrap().is_file());
    }

    #[test]
    fn long_names_fit_name_max() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("n".repeat(250));
        write_file_atomic(&p, b"x").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"x");
    }

    #[test]
    fn publish_atomic_failure_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        let err = publish_atomic(&p, PublishOptions::DURABLE, |w| {
            w.write_all(b"partial")?;
            Err(io::Error::other("boom"))
        })
        .unwrap_err();
        assert_eq!(err.kind(), FsErrorKind::Io);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
        publish_atomic(&p, PublishOptions::DURABLE, |w| w.write_all(b"ok")).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"ok");
    }

    #[test]
    fn sidecar_truncates_and_chmods() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.jsonl");
        fs::write(&p, b"old contents").unwrap();
        fs::set_permissions(&p, Permissions::from_mode(0o644)).unwrap();
        let mut f = open_sidecar(&p).unwrap();
        f.write_all(b"new").unwrap();
        drop(f);
        assert_eq!(fs::read(&p).unwrap(), b"new");
        assert_eq!(mode_of(&p), 0o600);
        let fresh = dir.path().join("fresh.jsonl");
        drop(open_sidecar(&fresh).unwrap());
        assert_eq!(mode_of(&fresh), 0o600);
    }

    #[test]
    fn sidecar_refusals() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside");
        fs::write(&outside, b"keep").unwrap();

        let link = dir.path().join("link");
        symlink(&outside, &link).unwrap();
        let err = open_sidecar(&link).unwrap_err();
        assert_eq!(
            (err.kind(), err.code()),
            (FsErrorKind::Symlink, "refusing-symlink")
        );

        let hl = dir.path().join("hl");
        fs::hard_link(&outside, &hl).unwrap();
        let err = open_sidecar(&hl).unwrap_err();
        assert_eq!(
            (err.kind(), err.code()),
            (FsErrorKind::HardLink, "hard-linked")
        );
        assert!(err.to_string().contains("nlink=2"));
        assert_eq!(fs::read(&outside).unwrap(), b"keep");

        let fifo = dir.path().join("fifo");
        mkfifo(&fifo);
        let err = open_sidecar(&fifo).unwrap_err();
        assert_eq!(
            (err.kind(), err.code()),
            (FsErrorKind::Fifo, "refusing-fifo")
        );
        assert!(err.to_string().starts_with("refusing to write to FIFO at "));

        let sub = dir.path().join("sub");
        fs::create_dir(&sub).unwrap();
        let err = open_sidecar(&sub).unwrap_err();
        assert_eq!(
            (err.kind(), err.exit_class()),
            (FsErrorKind::Io, ExitClass::Usage)
        );
    }

    #[test]
    fn sidecar_refuses_fifo_with_reader() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        mkfifo(&fifo);
        // A non-blocking reader makes the writer's open succeed; fstat must catch it.
        let _reader = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&fifo)
            .unwrap();
        let err = open_sidecar(&fifo).unwrap_err();
        assert_eq!(err.kind(), FsErrorKind::Fifo);
        assert!(err.to_string().contains("non-regular"));
    }

    #[test]
    fn ensure_dir_within_creates_and_refuses_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        fs::create_dir(&root).unwrap();
        let deep = root.join("redis/db_0/strings");
        ensure_dir_within(&root, &deep).unwrap();
        assert!(deep.is_dir());
        ensure_dir_within(&root, &root).unwrap();

        let outside = dir.path().join("outside");
        fs::create_dir(&outside).unwrap();
        symlink(&outside, root.join("evil")).unwrap();
        let err = ensure_dir_within(&root, &root.join("evil/x")).unwrap_err();
        assert_eq!(
            (err.kind(), err.code()),
            (FsErrorKind::SymlinkAncestor, "symlinked-ancestor")
        );
        assert!(
            err.to_string()
                .starts_with("refusing to traverse symlinked ancestor at ")
        );
        assert!(
            !outside.join("x").exists(),
            "nothing created through the link"
        );

        let linked_root = dir.path().join("linked_root");
        symlink(&root, &linked_root).unwrap();
        let err = ensure_dir_within(&linked_root, &linked_root.join("a")).unwrap_err();
        assert_eq!(err.kind(), FsErrorKind::SymlinkAncestor);

        let err = ensure_dir_within(&root, &dir.path().join("elsewhere")).unwrap_err();
        assert_eq!(err.kind(), FsErrorKind::EscapesRoot);
        let err = ensure_dir_within(&root, &root.join("../x")).unwrap_err();
        assert_eq!(err.kind(), FsErrorKind::EscapesRoot);
    }

    #[test]
    fn open_regular_for_read_refusals() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good");
        fs::write(&good, b"data").unwrap();
        let mut s = String::new();
        io::Read::read_to_string(&mut open_regular_for_read(&good).unwrap(), &mut s).unwrap();
        assert_eq!(s, "data");

        let link = dir.path().join("link");
        symlink(&good, &link).unwrap();
        assert_eq!(
            open_regular_for_read(&link).unwrap_err().kind(),
            FsErrorKind::Symlink
        );

        let hl = dir.path().join("hl");
        fs::hard_link(&good, &hl).unwrap();
        assert_eq!(
            open_regular_for_read(&hl).unwrap_err().kind(),
            FsErrorKind::HardLink
        );
        assert_eq!(
            open_regular_for_read(&good).unwrap_err().kind(),
            FsErrorKind::HardLink
        );

        let fifo = dir.path().join("fifo");
        mkfifo(&fifo);
        let err = open_regular_for_read(&fifo).unwrap_err();
        assert_eq!(
            (err.kind(), err.code()),
            (FsErrorKind::Fifo, "refusing-fifo")
        );

        let err = open_regular_for_read(dir.path()).unwrap_err();
        assert_eq!(
            (err.kind(), err.code()),
            (FsErrorKind::NotRegular, "not-regular")
        );

        let err = open_regular_for_read(&dir.path().join("missing")).unwrap_err();
        assert_eq!(
            (err.kind(), err.code(), err.exit_class()),
            (FsErrorKind::Io, "io", ExitClass::Usage)
        );
        assert!(err.is_io_kind(io::ErrorKind::NotFound));
    }

    #[test]
    fn clean_path_is_lexical() {
        assert_eq!(clean_path(Path::new("a//b/./c/")), Path::new("a/b/c"));
        assert_eq!(clean_path(Path::new("a/../b")), Path::new("b"));
        assert_eq!(clean_path(Path::new("a/..")), Path::new("."));
        assert_eq!(clean_path(Path::new("../a")), Path::new("../a"));
        assert_eq!(clean_path(Path::new("/../a")), Path::new("/a"));
        assert_eq!(clean_path(Path::new("")), Path::new("."));
    }
}

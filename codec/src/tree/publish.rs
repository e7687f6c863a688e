//! Putting a file in place atomically (docs/format.md §6.6, §8.1): written under a
//! temporary sibling name (created exclusively, never through a link), optionally
//! fsync'd, then moved to its final name in one step and the directory fsync'd. A
//! reader sees the old file (or none) or the complete new one, never a prefix;
//! whatever fails before the move leaves the final name as it was and removes the
//! temporary file. Every file the tools publish goes through [`PendingFile`]: the
//! decoder's MANIFEST, CHECKSUMS and collection files, the encoder's snapshot and
//! `generate`'s.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::fs::{CREATE_FILE_MODE, FsError, FsErrorKind, PRIVATE_FILE_MODE, sync_dir};

const WRITE_BUFFER: usize = 64 << 10;
/// Room left for `.`, `.tmp-` and 16 hex digits under a 255-byte NAME_MAX.
const TEMP_NAME_KEEP: usize = 200;

/// How the temporary file is named, as the Go tool that writes the same file names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TempName {
    /// `.<name>.tmp-<16 hex>`: hidden, so a listing of a half-written dump tree does
    /// not show it as data (Go's `writeFileAtomic`).
    Hidden,
    /// `<output>.tmp-<16 hex>`: next to the operator's output, recognisably its
    /// leftover (the Go encoder's).
    Suffixed,
}

/// What publishing does when the final name already exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// Replace it atomically (`encode`: re-encoding over an older snapshot is normal).
    Replace,
    /// Fail with `output-exists` and leave it alone (`generate`, unless `--force`:
    /// synthetic data must never silently take a real snapshot's place).
    Refuse,
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

/// Streams a file into place via a temporary sibling and a rename.
pub fn publish_atomic<F>(path: &Path, opts: PublishOptions, write: F) -> Result<(), FsError>
where
    F: FnOnce(&mut BufWriter<File>) -> io::Result<()>,
{
    publish_atomic_with(path, opts, |w| write(w).map_err(|e| FsError::io(path, e)))
}

/// [`publish_atomic`] for writers with their own error type. A symlink planted at
/// `path` is refused rather than replaced.
pub fn publish_atomic_with<T, E, F>(path: &Path, opts: PublishOptions, write: F) -> Result<T, E>
where
    E: From<FsError>,
    F: FnOnce(&mut BufWriter<File>) -> Result<T, E>,
{
    refuse_symlink_destination(path)?;
    let (file, pending) =
        PendingFile::create(path, TempName::Hidden, opts.mode, Existing::Replace)?;
    let mut w = BufWriter::with_capacity(WRITE_BUFFER, file);
    let out = write(&mut w)?;
    let file = w
        .into_inner()
        .map_err(|e| FsError::io(pending.temp_path(), e.into_error()))?;
    if opts.sync {
        file.sync_all()
            .map_err(|e| FsError::io(pending.temp_path(), e))?;
    }
    drop(file);
    pending.publish(opts.sync)?;
    Ok(out)
}

/// A file being written next to its final name. Dropping it without
/// [`publish`](Self::publish) removes the temporary file.
#[derive(Debug)]
pub struct PendingFile {
    /// The temporary file, until it is published.
    temp: Option<PathBuf>,
    output: PathBuf,
    existing: Existing,
}

impl PendingFile {
    /// Creates the temporary file for `output` with `mode` (the umask applies). With
    /// [`Existing::Refuse`] an existing `output` fails here already, before anything is
    /// written (it is checked again, atomically, when publishing).
    ///
    /// # Errors
    /// [`FsErrorKind::Exists`], or the I/O error of the create.
    pub fn create(
        output: &Path,
        name: TempName,
        mode: u32,
        existing: Existing,
    ) -> Result<(File, PendingFile), FsError> {
        if existing == Existing::Refuse {
            refuse_existing(output)?;
        }
        let (file, temp) = create_temp(output, name, mode)?;
        let pending = PendingFile {
            temp: Some(temp),
            output: output.to_path_buf(),
            existing,
        };
        Ok((file, pending))
    }

    /// Where the bytes are written until published.
    pub fn temp_path(&self) -> &Path {
        self.temp.as_deref().unwrap_or(&self.output)
    }

    /// The final name.
    pub fn output(&self) -> &Path {
        &self.output
    }

    /// Moves the temporary file (written, and fsync'd if it must be durable, by the
    /// caller) to the output; with `durable`, fsyncs the directory too, and a
    /// directory that cannot be fsync'd removes the output again: a file that may
    /// vanish on power loss must not look published.
    ///
    /// # Errors
    /// [`FsErrorKind::Exists`] (with [`Existing::Refuse`]), or the I/O error; either
    /// way the temporary file is removed.
    pub fn publish(mut self, durable: bool) -> Result<(), FsError> {
        let Some(temp) = self.temp.clone() else {
            return Ok(());
        };
        match self.existing {
            Existing::Replace => rename(&temp, &self.output)?,
            Existing::Refuse => link_new(&temp, &self.output)?,
        }
        // Drop no longer removes anything: the bytes live under the output's name
        // (after link_new, the temporary name was already unlinked).
        self.temp = None;
        if durable && let Err(e) = sync_dir(parent_dir(&self.output)) {
            let _ = fs::remove_file(&self.output);
            return Err(e);
        }
        Ok(())
    }
}

impl Drop for PendingFile {
    fn drop(&mut self) {
        if let Some(path) = self.temp.take() {
            let _ = fs::remove_file(path);
        }
    }
}

/// The directory `path` is in (`.` for a bare name).
pub fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
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

/// `output-exists` when anything (a file, a directory, a dangling link) has the name.
fn refuse_existing(output: &Path) -> Result<(), FsError> {
    match fs::symlink_metadata(output) {
        Ok(_) => Err(FsError::exists(output)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(FsError::io(output, e)),
    }
}

fn rename(temp: &Path, output: &Path) -> Result<(), FsError> {
    fs::rename(temp, output).map_err(|e| FsError::io(output, e))
}

/// Gives `temp` the name `output` only if that name is free, atomically: `link(2)`
/// fails with `EEXIST` where `rename(2)` would replace. On a file system without hard
/// links it falls back to check-then-rename (a race with a concurrent writer of the
/// same name is then possible, and nothing else is).
fn link_new(temp: &Path, output: &Path) -> Result<(), FsError> {
    match fs::hard_link(temp, output) {
        Ok(()) => {
            let _ = fs::remove_file(temp);
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(FsError::exists(output)),
        Err(_) => {
            refuse_existing(output)?;
            rename(temp, output)
        }
    }
}

fn random_hex() -> String {
    let mut bytes = [0u8; 8];
    let read = File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes));
    if read.is_err() {
        // No urandom: the exclusive create below still prevents clobbering.
        use std::hash::{BuildHasher, RandomState};
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        bytes = RandomState::new()
            .hash_one((nanos, std::process::id()))
            .to_le_bytes();
    }
    hex::encode(bytes)
}

fn temp_path_for(output: &Path, name: TempName) -> PathBuf {
    match name {
        TempName::Suffixed => {
            let file_name = output.file_name().map_or(&b""[..], |n| n.as_bytes());
            let mut temp = file_name[..file_name.len().min(TEMP_NAME_KEEP)].to_vec();
            temp.extend_from_slice(b".tmp-");
            temp.extend_from_slice(random_hex().as_bytes());
            parent_dir(output).join(OsString::from_vec(temp))
        }
        TempName::Hidden => {
            let file_name = output.file_name().map_or(&b""[..], |n| n.as_bytes());
            let mut hidden = b".".to_vec();
            hidden.extend_from_slice(&file_name[..file_name.len().min(TEMP_NAME_KEEP)]);
            hidden.extend_from_slice(b".tmp-");
            hidden.extend_from_slice(random_hex().as_bytes());
            parent_dir(output).join(OsString::from_vec(hidden))
        }
    }
}

/// Creates the temporary file exclusively, never through a link.
fn create_temp(output: &Path, name: TempName, mode: u32) -> Result<(File, PathBuf), FsError> {
    if output.file_name().is_none() {
        let invalid = io::Error::new(io::ErrorKind::InvalidInput, "path has no file name");
        return Err(FsError::io(output, invalid));
    }
    let mut last = None;
    for _ in 0..16 {
        let path = temp_path_for(output, name);
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
        {
            Ok(file) => return Ok((file, path)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(FsError::io(path, e)),
        }
    }
    Err(FsError::io(
        output,
        last.unwrap_or_else(|| io::Error::other("no free temporary name")),
    ))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::{PermissionsExt, symlink};
    use std::process::Command;

    use super::*;
    use crate::error::{ErrorCode, ExitClass};
    use std::io::Write;

    fn mkfifo(path: &Path) {
        let status = Command::new("mkfifo")
            .arg(path)
            .status()
            .expect("mkfifo runs");
        assert!(status.success());
    }

    /// `writeFileAtomic`: a crash never leaves a partial file, and a symlink planted
    /// at `path` is refused rather than followed (the rename would replace a hard link
    /// or FIFO at `path` without touching what it points to).
    fn write_file_atomic(path: &Path, bytes: &[u8]) -> Result<(), FsError> {
        publish_atomic(path, PublishOptions::PRIVATE, |w| w.write_all(bytes))
    }

    fn mode_of(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    fn temps(dir: &Path) -> Vec<String> {
        fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".tmp-"))
            .collect()
    }

    fn write(mut file: File, bytes: &[u8]) {
        file.write_all(bytes).unwrap();
        file.sync_all().unwrap();
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
    fn temp_names() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.fsm");
        let (_f, pending) = PendingFile::create(
            &out,
            TempName::Suffixed,
            PRIVATE_FILE_MODE,
            Existing::Replace,
        )
        .unwrap();
        let p = pending.temp_path();
        let name = p.file_name().unwrap().to_str().unwrap().to_owned();
        let hex = name.strip_prefix("out.fsm.tmp-").unwrap();
        assert_eq!(hex.len(), 16);
        assert!(
            hex.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(fs::metadata(p).unwrap().permissions().mode() & 0o777, 0o600);
        drop(pending);
        assert!(temps(dir.path()).is_empty(), "dropped: removed");
    }

    #[test]
    fn replace_and_refuse() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.fsm");
        let (f, pending) = PendingFile::create(
            &out,
            TempName::Suffixed,
            PRIVATE_FILE_MODE,
            Existing::Refuse,
        )
        .unwrap();
        write(f, b"one");
        pending.publish(true).unwrap();
        assert_eq!(fs::read(&out).unwrap(), b"one");

        let err = PendingFile::create(
            &out,
            TempName::Suffixed,
            PRIVATE_FILE_MODE,
            Existing::Refuse,
        )
        .unwrap_err();
        assert_eq!(err.code(), "output-exists");

        // Something appearing while the file is written is still not replaced.
        let late = dir.path().join("late.fsm");
        let (f, pending) = PendingFile::create(
            &late,
            TempName::Suffixed,
            PRIVATE_FILE_MODE,
            Existing::Refuse,
        )
        .unwrap();
        write(f, b"two");
        fs::write(&late, b"theirs").unwrap();
        assert_eq!(pending.publish(true).unwrap_err().code(), "output-exists");
        assert_eq!(fs::read(&late).unwrap(), b"theirs");

        let (f, pending) = PendingFile::create(
            &out,
            TempName::Suffixed,
            PRIVATE_FILE_MODE,
            Existing::Replace,
        )
        .unwrap();
        write(f, b"three");
        pending.publish(true).unwrap();
        assert_eq!(fs::read(&out).unwrap(), b"three");
        assert!(temps(dir.path()).is_empty());
    }

    #[test]
    fn refuses_a_dangling_link() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("link.fsm");
        std::os::unix::fs::symlink(dir.path().join("nowhere"), &out).unwrap();
        let err = PendingFile::create(
            &out,
            TempName::Suffixed,
            PRIVATE_FILE_MODE,
            Existing::Refuse,
        )
        .unwrap_err();
        assert_eq!(err.code(), "output-exists");
        assert!(!dir.path().join("nowhere").exists());
    }
}

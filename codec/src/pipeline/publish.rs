//! Publishing a file atomically (FORMAT.md §6.6): it is written under
//! `<output>.tmp-<16 hex>` (created exclusively, mode 0600, never through a link),
//! fsync'd by the writer, then moved to `<output>` in one step and the directory
//! fsync'd. A reader sees the old `<output>` (or none) or the complete new one, never a
//! prefix; whatever fails before the move leaves `<output>` as it was and removes the
//! temporary file. `encode` and `generate` publish this way.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::tree::fs::sync_dir;

use super::DumpError;

/// What publishing does when `<output>` already exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// Replace it atomically (`encode`: re-encoding over an older snapshot is normal).
    Replace,
    /// Fail with `output-exists` and leave it alone (`generate`, unless `--force`:
    /// synthetic data must never silently take a real snapshot's place).
    Refuse,
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
    /// Creates the temporary file for `output`. With [`Existing::Refuse`] an existing
    /// `output` fails here already, before anything is written (it is checked again,
    /// atomically, when publishing).
    ///
    /// # Errors
    /// `output-exists`, or the I/O error of the create.
    pub fn create(output: &Path, existing: Existing) -> Result<(File, PendingFile), DumpError> {
        if existing == Existing::Refuse {
            refuse_existing(output)?;
        }
        let (file, temp) = create_temp(output)?;
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

    /// Moves the temporary file (written and fsync'd by the caller) to the output and
    /// fsyncs the directory. A directory that cannot be fsync'd removes the output
    /// again: a file that may vanish on power loss must not look published.
    ///
    /// # Errors
    /// `output-exists` (with [`Existing::Refuse`]), or the I/O error; either way the
    /// temporary file is removed.
    pub fn publish(mut self) -> Result<(), DumpError> {
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
        if let Err(e) = sync_dir(parent_dir(&self.output)) {
            let _ = fs::remove_file(&self.output);
            return Err(DumpError::fs("fsync output dir after rename", e));
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

/// `output-exists` when anything (a file, a directory, a dangling link) has the name.
fn refuse_existing(output: &Path) -> Result<(), DumpError> {
    match fs::symlink_metadata(output) {
        Ok(_) => Err(DumpError::OutputExists(output.to_path_buf())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(DumpError::io(format!("stat {}", output.display()), e)),
    }
}

fn rename(temp: &Path, output: &Path) -> Result<(), DumpError> {
    fs::rename(temp, output).map_err(|e| {
        DumpError::io(
            format!("rename {} -> {}", temp.display(), output.display()),
            e,
        )
    })
}

/// Gives `temp` the name `output` only if that name is free, atomically: `link(2)`
/// fails with `EEXIST` where `rename(2)` would replace. On a file system without hard
/// links it falls back to check-then-rename (a race with a concurrent writer of the
/// same name is then possible, and nothing else is).
fn link_new(temp: &Path, output: &Path) -> Result<(), DumpError> {
    match fs::hard_link(temp, output) {
        Ok(()) => {
            let _ = fs::remove_file(temp);
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            Err(DumpError::OutputExists(output.to_path_buf()))
        }
        Err(_) => {
            refuse_existing(output)?;
            rename(temp, output)
        }
    }
}

pub(crate) fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
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

/// Creates `<output>.tmp-<16 hex>` exclusively (mode 0600, never through a link).
fn create_temp(output: &Path) -> Result<(File, PathBuf), DumpError> {
    let mut last = None;
    for _ in 0..16 {
        let mut name = output.as_os_str().to_owned();
        name.push(".tmp-");
        name.push(random_hex());
        let path = PathBuf::from(name);
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
        {
            Ok(file) => return Ok((file, path)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(DumpError::io(format!("create {}", path.display()), e)),
        }
    }
    Err(DumpError::io(
        format!("create a temporary file next to {}", output.display()),
        last.unwrap_or_else(|| io::Error::other("no free name")),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use std::io::Write;

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
    fn temp_names() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.fsm");
        let (_f, pending) = PendingFile::create(&out, Existing::Replace).unwrap();
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
        let (f, pending) = PendingFile::create(&out, Existing::Refuse).unwrap();
        write(f, b"one");
        pending.publish().unwrap();
        assert_eq!(fs::read(&out).unwrap(), b"one");

        let err = PendingFile::create(&out, Existing::Refuse).unwrap_err();
        assert_eq!(err.code(), "output-exists");

        // Something appearing while the file is written is still not replaced.
        let late = dir.path().join("late.fsm");
        let (f, pending) = PendingFile::create(&late, Existing::Refuse).unwrap();
        write(f, b"two");
        fs::write(&late, b"theirs").unwrap();
        assert_eq!(pending.publish().unwrap_err().code(), "output-exists");
        assert_eq!(fs::read(&late).unwrap(), b"theirs");

        let (f, pending) = PendingFile::create(&out, Existing::Replace).unwrap();
        write(f, b"three");
        pending.publish().unwrap();
        assert_eq!(fs::read(&out).unwrap(), b"three");
        assert!(temps(dir.path()).is_empty());
    }

    #[test]
    fn refuses_a_dangling_link() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("link.fsm");
        std::os::unix::fs::symlink(dir.path().join("nowhere"), &out).unwrap();
        let err = PendingFile::create(&out, Existing::Refuse).unwrap_err();
        assert_eq!(err.code(), "output-exists");
        assert!(!dir.path().join("nowhere").exists());
    }
}

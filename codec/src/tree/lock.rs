//! Exclusive holds on an output (docs/format.md §8.6), so that two runs writing the
//! same output cannot interleave: the second one fails with `output-busy` before it
//! changes anything.
//!
//! The hold is `flock(2)` (`LOCK_EX | LOCK_NB`) on an open file description, released
//! by the kernel when the process exits, however it exits, so a killed run never
//! leaves a stale lock. Locks are advisory: they exclude the runs of these tools (all
//! binaries and subcommands), not other programs, and `flock` on NFS is emulated with
//! byte-range locks that may not work on a directory (then the run fails closed with
//! `io`).
//!
//! * A decode locks its output **directory** itself ([`OutputLock::directory`]).
//! * An encode (and `generate --fsm`) locks `.<name>.lock` next to the output file
//!   ([`OutputLock::beside`]): the file is renamed over, so it cannot carry the lock.
//!   The lock file is created empty with mode 0600 and never deleted: removing it
//!   would let a later run lock a new inode while an earlier one still holds the old.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use rustix::fs::{FlockOperation, flock};
use rustix::io::Errno;
use sha2::{Digest, Sha256};

use super::fs::{FsError, FsErrorKind, PRIVATE_FILE_MODE};
use super::publish::parent_dir;

/// Suffix of the lock file next to an output file: `.<name>.lock`.
pub const LOCK_SUFFIX: &str = ".lock";

/// An exclusive hold on an output, released when dropped (or when the process ends).
#[derive(Debug)]
pub struct OutputLock {
    /// Holds the lock; closing it releases it.
    _file: File,
    path: PathBuf,
    dev: u64,
    ino: u64,
}

impl OutputLock {
    /// Locks the existing directory `dir` (a decode's output root), never through a
    /// symlink, and checks that `dir` still names the directory that was locked.
    ///
    /// # Errors
    /// `output-busy` when another run holds it or `dir` was replaced meanwhile;
    /// `refusing-symlink` / `not-regular` when `dir` is a link or not a directory;
    /// otherwise the I/O error.
    pub fn directory(dir: &Path) -> Result<OutputLock, FsError> {
        let file = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW)
            .open(dir)
            .map_err(|e| match e.raw_os_error() {
                // With O_NOFOLLOW a link is not a directory: ENOTDIR, or ELOOP.
                Some(libc::ELOOP | libc::ENOTDIR) => {
                    let link = fs::symlink_metadata(dir).is_ok_and(|m| m.file_type().is_symlink());
                    if link {
                        FsError::refuse(
                            FsErrorKind::Symlink,
                            dir,
                            format!("refusing to lock symlink at {}", dir.display()),
                        )
                    } else {
                        FsError::refuse(
                            FsErrorKind::NotRegular,
                            dir,
                            format!("{}: not a directory", dir.display()),
                        )
                    }
                }
                _ => FsError::io(dir, e),
            })?;
        let lock = OutputLock::hold(file, dir, dir, || {
            format!(
                "{}: another run is writing this output (it holds the directory's lock); \
                 wait for it to finish or choose another --output",
                dir.display()
            )
        })?;
        let now = fs::symlink_metadata(dir).map_err(|e| FsError::io(dir, e))?;
        if (now.dev(), now.ino()) != (lock.dev, lock.ino) {
            return Err(FsError::refuse(
                FsErrorKind::Busy,
                dir,
                format!("{}: replaced while being locked", dir.display()),
            ));
        }
        Ok(lock)
    }

    /// Locks `.<name>.lock` next to the output file `output`, creating it (empty, mode
    /// 0600) if needed, never through a symlink or into a FIFO.
    ///
    /// # Errors
    /// `output-busy` when another run holds it; `refusing-symlink`, `refusing-fifo` or
    /// `not-regular` for what is planted at the lock path; otherwise the I/O error
    /// (also when `output` has no file name or its directory does not exist).
    pub fn beside(output: &Path) -> Result<OutputLock, FsError> {
        let path = lock_path(output)?;
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .mode(PRIVATE_FILE_MODE)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(&path)
            .map_err(|e| match e.raw_os_error() {
                Some(libc::ELOOP) => FsError::refuse(
                    FsErrorKind::Symlink,
                    &path,
                    format!("refusing to lock through symlink at {}", path.display()),
                ),
                Some(libc::ENXIO) => FsError::refuse(
                    FsErrorKind::Fifo,
                    &path,
                    format!("refusing to lock FIFO at {}", path.display()),
                ),
                _ => FsError::io(&path, e),
            })?;
        let meta = file.metadata().map_err(|e| FsError::io(&path, e))?;
        if !meta.file_type().is_file() {
            return Err(FsError::refuse(
                FsErrorKind::NotRegular,
                &path,
                format!("refusing to lock non-regular file at {}", path.display()),
            ));
        }
        OutputLock::hold(file, output, &path, || {
            format!(
                "{}: another run is writing this output (it holds {}); wait for it to \
                 finish or choose another --output",
                output.display(),
                path.display()
            )
        })
    }

    fn hold(
        file: File,
        output: &Path,
        path: &Path,
        busy: impl FnOnce() -> String,
    ) -> Result<OutputLock, FsError> {
        loop {
            match flock(&file, FlockOperation::NonBlockingLockExclusive) {
                Ok(()) => break,
                Err(Errno::INTR) => continue,
                Err(e) if e == Errno::WOULDBLOCK || e == Errno::AGAIN => {
                    return Err(FsError::refuse(FsErrorKind::Busy, output, busy()));
                }
                Err(e) => return Err(FsError::io(path, io::Error::from(e))),
            }
        }
        let meta = file.metadata().map_err(|e| FsError::io(path, e))?;
        Ok(OutputLock {
            _file: file,
            path: path.to_path_buf(),
            dev: meta.dev(),
            ino: meta.ino(),
        })
    }

    /// The locked directory or lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// 16 lowercase hex digits naming the locked inode. While this lock is held no
    /// other held lock has the same tag (an inode number is not reused while it is
    /// open), so scratch files named with it can be told apart from every other
    /// run's: whatever carries the tag and is not this run's is a dead run's.
    pub fn tag(&self) -> String {
        let mut h = Sha256::new();
        h.update(self.dev.to_le_bytes());
        h.update(self.ino.to_le_bytes());
        hex::encode(&h.finalize()[..8])
    }
}

/// `.<name>.lock` in the directory of `output`.
///
/// # Errors
/// The I/O error `InvalidInput` when `output` has no file name.
pub fn lock_path(output: &Path) -> Result<PathBuf, FsError> {
    let Some(name) = output.file_name() else {
        let invalid = io::Error::new(io::ErrorKind::InvalidInput, "path has no file name");
        return Err(FsError::io(output, invalid));
    };
    let mut hidden = b".".to_vec();
    hidden.extend_from_slice(name.as_bytes());
    hidden.extend_from_slice(LOCK_SUFFIX.as_bytes());
    Ok(parent_dir(output).join(OsString::from_vec(hidden)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{ErrorCode, ExitClass};
    use std::os::unix::fs::{PermissionsExt, symlink};

    #[test]
    fn a_second_hold_is_busy_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.fsm");
        let first = OutputLock::beside(&out).unwrap();
        assert_eq!(first.path(), dir.path().join(".out.fsm.lock"));
        let meta = fs::symlink_metadata(first.path()).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(meta.len(), 0);
        let err = OutputLock::beside(&out).unwrap_err();
        assert_eq!(err.code(), "output-busy");
        assert_eq!(err.exit_class(), ExitClass::Usage);
        assert!(err.to_string().contains(".out.fsm.lock"), "{err}");
        // Another spelling of the same output is the same lock.
        let dotted = dir.path().join(".").join("out.fsm");
        assert_eq!(
            OutputLock::beside(&dotted).unwrap_err().code(),
            "output-busy"
        );
        // Another output is not.
        let other = OutputLock::beside(&dir.path().join("other.fsm")).unwrap();
        assert_ne!(other.tag(), first.tag());
        let tag = first.tag();
        assert_eq!(tag.len(), 16);
        drop(first);
        let again = OutputLock::beside(&out).unwrap();
        assert_eq!(again.tag(), tag, "the lock file stays, and so does its tag");
    }

    #[test]
    fn directories_lock_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("tree");
        fs::create_dir(&out).unwrap();
        let held = OutputLock::directory(&out).unwrap();
        assert_eq!(
            OutputLock::directory(&out).unwrap_err().code(),
            "output-busy"
        );
        assert_eq!(fs::read_dir(&out).unwrap().count(), 0, "nothing created");
        drop(held);
        OutputLock::directory(&out).unwrap();
        let link = dir.path().join("link");
        symlink(&out, &link).unwrap();
        assert_eq!(
            OutputLock::directory(&link).unwrap_err().code(),
            "refusing-symlink"
        );
        fs::write(dir.path().join("file"), b"x").unwrap();
        assert_eq!(
            OutputLock::directory(&dir.path().join("file"))
                .unwrap_err()
                .code(),
            "not-regular"
        );
    }

    #[test]
    fn planted_lock_paths_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        fs::write(&victim, b"keep").unwrap();
        symlink(&victim, dir.path().join(".a.fsm.lock")).unwrap();
        let err = OutputLock::beside(&dir.path().join("a.fsm")).unwrap_err();
        assert_eq!(err.code(), "refusing-symlink");
        let status = std::process::Command::new("mkfifo")
            .arg(dir.path().join(".b.fsm.lock"))
            .status()
            .unwrap();
        assert!(status.success());
        let err = OutputLock::beside(&dir.path().join("b.fsm")).unwrap_err();
        assert_eq!(err.code(), "refusing-fifo");
        fs::create_dir(dir.path().join(".c.fsm.lock")).unwrap();
        let err = OutputLock::beside(&dir.path().join("c.fsm")).unwrap_err();
        assert_eq!(err.code(), "io", "{err}");
        assert_eq!(fs::read(&victim).unwrap(), b"keep");
        let err = OutputLock::beside(Path::new("/")).unwrap_err();
        assert_eq!(err.code(), "io");
        let err = OutputLock::beside(&dir.path().join("missing/x.fsm")).unwrap_err();
        assert!(err.is_io_kind(io::ErrorKind::NotFound), "{err}");
    }
}

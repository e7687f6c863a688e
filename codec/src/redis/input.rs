//! Reading an untrusted dump tree (FORMAT.md §8.3).
//!
//! A dump may come from anywhere, so nothing in it is followed: a symlinked or
//! non-directory type directory is an error, files are opened without following
//! symlinks and without blocking on FIFOs, and a regular file with more than one hard
//! link is refused (it could name an inode outside the tree). Inside a type
//! directory, entries that are not regular files are skipped, as in Go. The checks
//! themselves are the shared [`crate::tree::fs`] ones; this module gives their
//! refusals the Redis encoder's error codes.

use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::Path;

use crate::tree::fs::{FsError, FsErrorKind, open_regular_for_read};

use super::error::{RedisError, Result};

/// Whether `path` is a directory of the dump: `Ok(false)` when it does not exist,
/// `ErrRedisEncodeNotDir` when it is a symlink or anything else.
pub fn dump_dir_exists(path: &Path) -> Result<bool> {
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(RedisError::io("stat", path, e)),
    };
    let ty = meta.file_type();
    if !ty.is_dir() {
        return Err(RedisError::EncodeNotDir {
            path: path.to_path_buf(),
            kind: if ty.is_symlink() {
                "a symlink"
            } else {
                "not a directory"
            },
        });
    }
    Ok(true)
}

/// One directory entry: its name and whether it is a directory / a regular file,
/// judged without following symlinks.
#[derive(Debug)]
pub struct DirEntry {
    /// File name.
    pub name: OsString,
    /// A real directory.
    pub is_dir: bool,
    /// A regular file.
    pub is_file: bool,
}

/// Lists `dir` in byte order of the names, like Go's `os.ReadDir`, so the first
/// error found is the same on every run.
pub fn list_dir(dir: &Path) -> Result<Vec<DirEntry>> {
    let read = fs::read_dir(dir).map_err(|e| RedisError::io("list", dir, e))?;
    let mut entries = Vec::new();
    for entry in read {
        let entry = entry.map_err(|e| RedisError::io("list", dir, e))?;
        let ty = entry
            .file_type()
            .map_err(|e| RedisError::io("stat", &entry.path(), e))?;
        entries.push(DirEntry {
            name: entry.file_name(),
            is_dir: ty.is_dir(),
            is_file: ty.is_file(),
        });
    }
    entries.sort_by(|a, b| a.name.as_encoded_bytes().cmp(b.name.as_encoded_bytes()));
    Ok(entries)
}

/// Gives a refusal of the shared helpers the Redis encoder's code.
fn refusal(path: &Path, err: FsError) -> RedisError {
    match err.kind() {
        FsErrorKind::Symlink
        | FsErrorKind::Fifo
        | FsErrorKind::NotRegular
        | FsErrorKind::Replaced => RedisError::EncodeNotRegular {
            path: path.to_path_buf(),
            detail: err.to_string(),
        },
        FsErrorKind::HardLink => RedisError::EncodeHardLink {
            path: path.to_path_buf(),
            detail: err.to_string(),
        },
        _ => RedisError::Tree {
            path: path.to_path_buf(),
            cause: Box::new(err),
        },
    }
}

/// Opens a dump file: a regular file with one link, opened without following links.
pub fn open_dump_file(path: &Path) -> Result<File> {
    open_regular_for_read(path).map_err(|e| refusal(path, e))
}

/// Reads a whole dump file.
pub fn read_dump_file(path: &Path) -> Result<Vec<u8>> {
    let mut file = open_dump_file(path)?;
    let mut body = Vec::new();
    file.read_to_end(&mut body)
        .map_err(|e| RedisError::io("read", path, e))?;
    Ok(body)
}

/// Opens an optional fixed-name sidecar (`KEYMAP.jsonl`, `*_ttl.jsonl`): `None`
/// when absent, refused when it is anything but a regular single-link file.
pub fn open_optional_sidecar(path: &Path) -> Result<Option<File>> {
    match fs::symlink_metadata(path) {
        Ok(_) => open_dump_file(path).map(Some),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(RedisError::io("stat", path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn refuses_links_and_special_files() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.bin");
        fs::write(&file, b"x").unwrap();
        assert_eq!(read_dump_file(&file).unwrap(), b"x");

        let link = dir.path().join("link.bin");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        assert_eq!(
            read_dump_file(&link).unwrap_err().code(),
            "redis-encode-not-regular"
        );
        assert_eq!(
            open_optional_sidecar(&link).unwrap_err().code(),
            "redis-encode-not-regular"
        );

        let hard = dir.path().join("hard.bin");
        fs::hard_link(&file, &hard).unwrap();
        assert_eq!(
            read_dump_file(&hard).unwrap_err().code(),
            "redis-encode-hard-link"
        );

        assert!(
            open_optional_sidecar(&dir.path().join("none"))
                .unwrap()
                .is_none()
        );
        assert_eq!(
            open_optional_sidecar(dir.path()).unwrap_err().code(),
            "redis-encode-not-regular"
        );
    }

    #[test]
    fn dump_dirs_must_be_real_directories() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!dump_dir_exists(&dir.path().join("missing")).unwrap());
        assert!(dump_dir_exists(dir.path()).unwrap());
        let file = dir.path().join("f");
        fs::write(&file, b"").unwrap();
        assert_eq!(
            dump_dir_exists(&file).unwrap_err().code(),
            "redis-encode-not-dir"
        );
        let link = dir.path().join("l");
        std::os::unix::fs::symlink(dir.path(), &link).unwrap();
        assert_eq!(
            dump_dir_exists(&link).unwrap_err().code(),
            "redis-encode-not-dir"
        );
    }

    #[test]
    fn listing_is_sorted_and_typed() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["b.bin", "a.bin", "C.bin"] {
            fs::write(dir.path().join(name), b"").unwrap();
        }
        fs::create_dir(dir.path().join("sub")).unwrap();
        let names: Vec<_> = list_dir(dir.path())
            .unwrap()
            .into_iter()
            .map(|e| (e.name.into_string().unwrap(), e.is_file, e.is_dir))
            .collect();
        assert_eq!(
            names,
            vec![
                ("C.bin".into(), true, false),
                ("a.bin".into(), true, false),
                ("b.bin".into(), true, false),
                ("sub".into(), false, true)
            ]
        );
    }
}

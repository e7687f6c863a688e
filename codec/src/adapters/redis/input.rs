//! Reading an untrusted dump tree (docs/format.md §8.3).
//!
//! A dump may come from anywhere, so nothing in it is followed: a symlinked or
//! non-directory type directory is an error, files are opened without following
//! symlinks and without blocking on FIFOs, and a regular file with more than one hard
//! link is refused (it could name an inode outside the tree). Inside a type
//! directory, every entry must be a regular file: Go skips the others, so a key
//! stored as a symlink, FIFO, socket, device or directory silently vanished from the
//! snapshot; here it is refused ([`not_regular_entry`]). The checks themselves are
//! the shared [`crate::tree::fs`] ones; this module gives their refusals the Redis
//! encoder's error codes.

use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::tree::fs::{DumpDir, FsError, FsErrorKind, open_regular_for_read};

use super::error::{RedisError, Result};
use super::spill::{Cursor, SortSpace, corrupt};

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
pub struct DirEntry<'l> {
    /// File name.
    pub name: &'l OsStr,
    /// A real directory.
    pub is_dir: bool,
    /// A regular file.
    pub is_file: bool,
}

/// Sort-value flags of a listed entry.
const IS_DIR: u8 = 1;
const IS_FILE: u8 = 2;

/// A directory's entries in byte order of their names, like Go's `os.ReadDir`, so the
/// first error found is the same on every run. Read one at a time from an external
/// sort: a directory of 100M files costs the sort's budget, not 100M names.
#[derive(Debug)]
pub struct Listing {
    sorted: Cursor,
}

impl Listing {
    /// The entry under the cursor; `None` after the last.
    pub fn current(&self) -> Result<Option<DirEntry<'_>>> {
        let Some((name, flags)) = self.sorted.current() else {
            return Ok(None);
        };
        let [flags] = *flags else {
            return Err(self.sorted.error(corrupt("listed entry without its type")));
        };
        Ok(Some(DirEntry {
            name: OsStr::from_bytes(name),
            is_dir: flags & IS_DIR != 0,
            is_file: flags & IS_FILE != 0,
        }))
    }

    /// Moves to the next entry.
    pub fn advance(&mut self) -> Result<()> {
        self.sorted.advance()
    }
}

/// Lists `dir` completely (so listing errors come before any entry is looked at),
/// then hands the entries out in byte order of their names. Names within a directory
/// are unique, so sorting `(name, flags)` records sorts by name.
pub fn list_dir(dir: &Path, space: &SortSpace) -> Result<Listing> {
    let read = fs::read_dir(dir).map_err(|e| RedisError::io("list", dir, e))?;
    let mut sorter = space.sorter();
    for entry in read {
        let entry = entry.map_err(|e| RedisError::io("list", dir, e))?;
        let ty = entry
            .file_type()
            .map_err(|e| RedisError::io("stat", &entry.path(), e))?;
        let flags = if ty.is_dir() { IS_DIR } else { 0 } | if ty.is_file() { IS_FILE } else { 0 };
        sorter.push(entry.file_name().as_bytes(), &[flags])?;
    }
    Ok(Listing {
        sorted: sorter.finish()?,
    })
}

/// The refusal of an entry of a type directory that is not a regular file, naming
/// what it is (looked at again without following it; `is_dir` is what the listing
/// saw, in case it is gone by now).
pub fn not_regular_entry(path: &Path, is_dir: bool) -> RedisError {
    use std::os::unix::fs::FileTypeExt;
    let kind = match fs::symlink_metadata(path).map(|m| m.file_type()) {
        Ok(ty) if ty.is_symlink() => "a symlink",
        Ok(ty) if ty.is_dir() => "a directory",
        Ok(ty) if ty.is_fifo() => "a FIFO",
        Ok(ty) if ty.is_socket() => "a socket",
        Ok(ty) if ty.is_block_device() => "a block device",
        Ok(ty) if ty.is_char_device() => "a character device",
        Ok(ty) if ty.is_file() => "a file replaced while listing",
        _ if is_dir => "a directory",
        _ => "not a regular file",
    };
    RedisError::EncodeNotRegular {
        path: path.to_path_buf(),
        detail: format!(
            "{}: {kind} in a type directory, where every entry is a key file; \
             refused rather than leaving the key out of the snapshot",
            path.display()
        ),
    }
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

/// Opens a type directory of the dump by handle (its files are opened relative to it).
pub fn open_type_dir(path: &Path) -> Result<DumpDir> {
    DumpDir::open(path).map_err(|e| refusal(path, e))
}

/// Opens `name`, listed as a regular file of `dir`, with the same refusals as
/// [`open_dump_file`].
pub fn open_listed(dir: &DumpDir, name: &OsStr) -> Result<File> {
    open_listed_sized(dir, name).map(|(file, _)| file)
}

/// [`open_listed`], with the file's size.
fn open_listed_sized(dir: &DumpDir, name: &OsStr) -> Result<(File, u64)> {
    dir.open_listed_file(name)
        .map_err(|e| refusal(&dir.path().join(name), e))
}

/// Reads the whole listed file `name` of `dir` into one allocation of its size plus
/// `room` bytes, which come first (zeroed) so a header can be put in front of the
/// body without copying it.
pub fn read_listed_with_room(dir: &DumpDir, name: &OsStr, room: usize) -> Result<Vec<u8>> {
    let (file, size) = open_listed_sized(dir, name)?;
    let mut buf = Vec::with_capacity(room.saturating_add(usize::try_from(size).unwrap_or(0)));
    buf.resize(room, 0);
    // Through `take`, not on the `File` itself: std's `File::read_to_end` asks the
    // kernel for the size again (fstat + lseek a file), which the open already did.
    file.take(u64::MAX)
        .read_to_end(&mut buf)
        .map_err(|e| RedisError::io("read", &dir.path().join(name), e))?;
    Ok(buf)
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
        let handle = open_type_dir(dir.path()).unwrap();
        let read = |name: &str, room| read_listed_with_room(&handle, name.as_ref(), room);
        assert_eq!(read("a.bin", 0).unwrap(), b"x");
        assert_eq!(read("a.bin", 3).unwrap(), b"\0\0\0x");

        let link = dir.path().join("link.bin");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        assert_eq!(
            read("link.bin", 0).unwrap_err().code(),
            "redis-encode-not-regular"
        );
        assert_eq!(
            open_optional_sidecar(&link).unwrap_err().code(),
            "redis-encode-not-regular"
        );

        let hard = dir.path().join("hard.bin");
        fs::hard_link(&file, &hard).unwrap();
        assert_eq!(
            read("hard.bin", 0).unwrap_err().code(),
            "redis-encode-hard-link"
        );

        assert_eq!(
            open_type_dir(&link).unwrap_err().code(),
            "redis-encode-not-regular"
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
    fn listing_is_sorted_and_typed_whatever_the_budget() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["b.bin", "a.bin", "C.bin", "a-.bin", "a"] {
            fs::write(dir.path().join(name), b"").unwrap();
        }
        fs::create_dir(dir.path().join("sub")).unwrap();
        std::os::unix::fs::symlink("a", dir.path().join("link")).unwrap();
        for budget in [1, 1 << 20] {
            let scratch = tempfile::tempdir().unwrap();
            let space = SortSpace::new(&crate::sort::SortOptions {
                memory_budget: budget,
                scratch_dir: scratch.path().to_path_buf(),
            });
            let mut listing = list_dir(dir.path(), &space).unwrap();
            let mut names = Vec::new();
            while let Some(e) = listing.current().unwrap() {
                names.push((e.name.to_str().unwrap().to_owned(), e.is_file, e.is_dir));
                listing.advance().unwrap();
            }
            let want = [
                ("C.bin", true, false),
                ("a", true, false),
                ("a-.bin", true, false),
                ("a.bin", true, false),
                ("b.bin", true, false),
                ("link", false, false),
                ("sub", false, true),
            ]
            .map(|(n, f, d)| (n.to_owned(), f, d));
            assert_eq!(names, want, "budget {budget}");
            assert_eq!(space.runs_spilled() > 0, budget == 1, "budget {budget}");
        }
    }
}

//! Opening the two inputs the way the Go tool does (`internal/pathsafety`): no
//! symlink is followed, a FIFO never blocks, and only a regular file is accepted.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use super::{InputKind, RestoreError};

/// Opens `path` `O_RDONLY|O_NOFOLLOW|O_NONBLOCK` and requires a regular file.
pub fn open_regular(path: &Path, kind: InputKind) -> Result<File, RestoreError> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => RestoreError::InputSymlink {
                kind,
                path: path.to_path_buf(),
            },
            _ => RestoreError::io(path, e),
        })?;
    let meta = file.metadata().map_err(|e| RestoreError::io(path, e))?;
    if !meta.file_type().is_file() {
        return Err(RestoreError::InputNotRegular {
            kind,
            path: path.to_path_buf(),
        });
    }
    Ok(file)
}

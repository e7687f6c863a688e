//! Building the data directory in `<data-dir>.restore-prep` and moving it into place
//! (FORMAT.md §1.3): every file and directory fsynced, the final rename refusing to
//! replace anything (`RENAME_NOREPLACE`, so even an empty directory created meanwhile
//! survives), and the staging directory removed on any failure.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::RestoreError;
use super::fsm_snap;
use super::peers::{Peer, peers_file};
use super::snap;
use super::wal;

/// Mode of the data dir, `fsm-snap/` and `snap/` (before the umask).
const DIR_MODE: u32 = 0o755;
/// Mode of `wal/`.
const WAL_DIR_MODE: u32 = 0o700;
/// `.fsm`, WAL and peers files.
const PRIVATE_FILE_MODE: u32 = 0o600;
/// `.snap` (etcd writes it with 0666 before the umask).
const SNAP_FILE_MODE: u32 = 0o666;

/// Directory names inside the data dir.
pub const FSM_SNAP_DIR: &str = "fsm-snap";
/// etcd's snapshot directory.
pub const SNAP_DIR: &str = "snap";
/// etcd's WAL directory.
pub const WAL_DIR: &str = "wal";
/// The persisted peer list.
pub const PEERS_FILE: &str = "etcd-raft-peers.bin";

/// `<data-dir>.restore-prep`.
pub fn staging_path(data_dir: &Path) -> PathBuf {
    let mut s = data_dir.as_os_str().to_owned();
    s.push(".restore-prep");
    PathBuf::from(s)
}

/// `os.Stat` semantics: a dangling symlink counts as absent here (the final
/// no-replace rename still refuses it).
pub fn ensure_absent(path: &Path, what: &'static str) -> Result<(), RestoreError> {
    match fs::metadata(path) {
        Ok(_) => Err(RestoreError::DestinationExists {
            what,
            path: path.to_path_buf(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(RestoreError::io(path, e)),
    }
}

/// The staging directory; removed on drop unless published.
pub struct Staging {
    root: PathBuf,
    fsm_tmp: PathBuf,
    fsm_file: File,
    published: bool,
}

impl Staging {
    /// `mkdir <data-dir>.restore-prep` (must not exist), `fsm-snap/` and the `.fsm`
    /// temp file the payload is copied into.
    pub fn create(root: &Path, index: u64) -> Result<Staging, RestoreError> {
        DirBuilder::new()
            .mode(DIR_MODE)
            .create(root)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists => RestoreError::DestinationExists {
                    what: "temporary destination",
                    path: root.to_path_buf(),
                },
                _ => RestoreError::io(root, e),
            })?;
        let mut staging = Staging {
            root: root.to_path_buf(),
            fsm_tmp: PathBuf::new(),
            // Replaced below; a placeholder keeps the guard armed from the mkdir on.
            fsm_file: File::open(root).map_err(|e| RestoreError::io(root, e))?,
            published: false,
        };
        let dir = root.join(FSM_SNAP_DIR);
        mkdir(&dir, DIR_MODE)?;
        staging.fsm_tmp = dir.join(format!("{}.tmp", fsm_snap::file_name(index)));
        staging.fsm_file = create_new(&staging.fsm_tmp, PRIVATE_FILE_MODE)?;
        Ok(staging)
    }

    /// The temp file the payload goes to, and its path.
    pub fn fsm_target(&self) -> (&Path, &File) {
        (&self.fsm_tmp, &self.fsm_file)
    }

    /// Installs the `.fsm` and writes the etcd files and the peers file.
    pub fn seed(&self, layout: &Layout<'_>) -> Result<(), RestoreError> {
        let fsm_dir = self.root.join(FSM_SNAP_DIR);
        let fsm = fsm_dir.join(fsm_snap::file_name(layout.index));
        fs::rename(&self.fsm_tmp, &fsm).map_err(|e| RestoreError::io(&fsm, e))?;
        sync_dir(&fsm_dir)?;

        let token = fsm_snap::token(layout.index, layout.crc32c);
        let snap_dir = self.root.join(SNAP_DIR);
        mkdir(&snap_dir, DIR_MODE)?;
        write_file(
            &snap_dir.join(snap::file_name(layout.term, layout.index)),
            SNAP_FILE_MODE,
            &snap::snap_file(&token, layout.index, layout.term, layout.peers),
            0,
        )?;
        sync_dir(&snap_dir)?;

        let wal_dir = self.root.join(WAL_DIR);
        mkdir(&wal_dir, WAL_DIR_MODE)?;
        write_file(
            &wal_dir.join(wal::FILE_NAME),
            PRIVATE_FILE_MODE,
            &wal::records(layout.index, layout.term, layout.peers),
            wal::SEGMENT_BYTES,
        )?;
        sync_dir(&wal_dir)?;

        write_file(
            &self.root.join(PEERS_FILE),
            PRIVATE_FILE_MODE,
            &peers_file(layout.index, layout.peers),
            0,
        )?;
        sync_dir(&self.root)
    }

    /// Renames the staging directory to `data_dir` without replacing anything, and
    /// makes the rename durable.
    pub fn publish(mut self, data_dir: &Path) -> Result<(), RestoreError> {
        use rustix::fs::{CWD, RenameFlags, renameat_with};
        renameat_with(CWD, &self.root, CWD, data_dir, RenameFlags::NOREPLACE).map_err(|e| {
            if e == rustix::io::Errno::EXIST {
                RestoreError::DestinationExists {
                    what: "destination",
                    path: data_dir.to_path_buf(),
                }
            } else {
                RestoreError::io(data_dir, e.into())
            }
        })?;
        self.published = true;
        let parent = parent_dir(data_dir);
        if let Err(e) = sync_dir(parent) {
            // The Go tool removes a data dir whose rename it could not make durable.
            let _ = fs::remove_dir_all(data_dir);
            return Err(e);
        }
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.published {
            let _ = fs::remove_dir_all(&self.root);
        }
    }
}

/// What goes into the etcd files.
pub struct Layout<'a> {
    /// Raft index.
    pub index: u64,
    /// Raft term.
    pub term: u64,
    /// The `.fsm` footer.
    pub crc32c: u32,
    /// Members, sorted by node id.
    pub peers: &'a [Peer],
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

fn mkdir(path: &Path, mode: u32) -> Result<(), RestoreError> {
    DirBuilder::new()
        .mode(mode)
        .create(path)
        .map_err(|e| RestoreError::io(path, e))
}

fn create_new(path: &Path, mode: u32) -> Result<File, RestoreError> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| RestoreError::io(path, e))
}

/// Writes `bytes`, extends the file with allocated zeros to `size` when larger (the
/// WAL segment: `fallocate`, `ftruncate` where unsupported), and fsyncs.
fn write_file(path: &Path, mode: u32, bytes: &[u8], size: u64) -> Result<(), RestoreError> {
    let io = |e| RestoreError::io(path, e);
    let mut file = create_new(path, mode)?;
    file.write_all(bytes).map_err(io)?;
    if size > bytes.len() as u64 {
        let allocated = rustix::fs::fallocate(&file, rustix::fs::FallocateFlags::empty(), 0, size);
        if allocated.is_err() {
            file.set_len(size).map_err(io)?;
        }
    }
    file.sync_all().map_err(io)
}

fn sync_dir(dir: &Path) -> Result<(), RestoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| RestoreError::io(dir, e))
}

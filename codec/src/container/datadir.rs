//! Finding the snapshot to decode in a node's group directory (docs/format.md §1.5).
//!
//! A node keeps `snap/<%016x term>-<%016x index>.snap` (raft's record of a snapshot)
//! and `fsm-snap/<%016x index>.fsm` (the state machine's data) side by side. An `.fsm`
//! without its `.snap` is either being written or left over from a crash before raft
//! recorded it, so only an index present in both is a snapshot the node stands by. The
//! operator's manual step ("find the newest .snap and its matching .fsm") is done
//! here, and the choice is explained.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use super::runtime::{FOOTER_LEN, HLC_V1_MAGIC, HLC_V2_MAGIC};
use crate::error::{ErrorCode, ExitClass};

/// Folder of raft snapshot records.
pub const SNAP_DIR: &str = "snap";
/// Folder of state-machine snapshot files.
pub const FSM_SNAP_DIR: &str = "fsm-snap";
/// Prefix of per-group folders when a node runs several raft groups.
const GROUP_DIR_PREFIX: &str = "group-";

/// Why no snapshot could be chosen.
#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    /// The directory holds one folder per raft group; which one is the operator's call.
    #[error(
        "{}: holds {} raft group folders ({}); pass one of them as --data-dir (each group is a separate snapshot)",
        dir.display(), groups.len(), groups.join(", ")
    )]
    SeveralGroups {
        /// The directory given.
        dir: PathBuf,
        /// The `group-<id>` folder names, sorted.
        groups: Vec<String>,
    },
    /// No `fsm-snap/` with a snapshot file.
    #[error(
        "{}: no snapshot: {reason} (a node's group directory holds snap/ and fsm-snap/)",
        dir.display()
    )]
    NoSnapshot {
        /// The directory given.
        dir: PathBuf,
        /// What was missing.
        reason: String,
    },
    /// `.fsm` files exist, but none has its raft `.snap` record.
    #[error(
        "{}: no fsm-snap/*.fsm has a matching snap/<term>-<index>.snap (unmatched: {}); such files are in progress or left over from a crash",
        dir.display(), unmatched.join(", ")
    )]
    NoMatchingSnap {
        /// The directory given.
        dir: PathBuf,
        /// The `.fsm` names without a record.
        unmatched: Vec<String>,
    },
    /// Listing a folder failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// What was being read.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
}

impl ErrorCode for DataDirError {
    fn code(&self) -> &'static str {
        match self {
            DataDirError::SeveralGroups { .. } => "data-dir-several-groups",
            DataDirError::NoSnapshot { .. } => "data-dir-no-snapshot",
            DataDirError::NoMatchingSnap { .. } => "data-dir-no-matching-snap",
            DataDirError::Io { .. } => "io",
        }
    }

    fn exit_class(&self) -> ExitClass {
        ExitClass::Usage
    }
}

/// One `fsm-snap/<%016x index>.fsm` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FsmFile {
    /// Its path.
    pub path: PathBuf,
    /// The raft index its name stands for.
    pub index: u64,
    /// Its size in bytes.
    pub size: u64,
    /// The term of the matching `snap/<term>-<index>.snap`, if there is one.
    pub snap_term: Option<u64>,
}

/// What a group directory holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataDir {
    /// The group directory that was read (a sole `group-<id>/` is descended into).
    pub dir: PathBuf,
    /// Snapshot files, ascending by index.
    pub fsm_files: Vec<FsmFile>,
}

/// The snapshot [`choose_snapshot`] picked, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    /// The chosen file.
    pub file: FsmFile,
    /// One sentence for the operator.
    pub reason: String,
}

/// Lists the snapshot files of `dir`, a node's group directory. A directory whose only
/// snapshot-bearing content is a single `group-<id>/` folder is read through it; several
/// such folders are refused, naming them.
///
/// # Errors
/// [`DataDirError::SeveralGroups`], [`DataDirError::NoSnapshot`] when there is no
/// `fsm-snap/`, or the I/O error.
pub fn read_data_dir(dir: &Path) -> Result<DataDir, DataDirError> {
    let group_dir = resolve_group_dir(dir)?;
    let fsm_dir = group_dir.join(FSM_SNAP_DIR);
    if !fsm_dir.is_dir() {
        return Err(DataDirError::NoSnapshot {
            dir: dir.to_path_buf(),
            reason: format!("{} is not a directory", fsm_dir.display()),
        });
    }
    let snaps = snap_records(&group_dir.join(SNAP_DIR))?;
    let mut fsm_files = Vec::new();
    for (name, path) in list(&fsm_dir)? {
        let Some(index) = fsm_index(&name) else {
            continue;
        };
        let size = fs::metadata(&path)
            .map_err(|source| DataDirError::Io {
                path: path.clone(),
                source,
            })?
            .len();
        let snap_term = snaps
            .iter()
            .filter(|(_, i)| *i == index)
            .map(|(t, _)| *t)
            .max();
        fsm_files.push(FsmFile {
            path,
            index,
            size,
            snap_term,
        });
    }
    fsm_files.sort_by_key(|f| f.index);
    Ok(DataDir {
        dir: group_dir,
        fsm_files,
    })
}

/// Picks the newest `.fsm` whose index has a raft `.snap` record.
///
/// # Errors
/// As [`read_data_dir`], plus [`DataDirError::NoSnapshot`] when `fsm-snap/` is empty and
/// [`DataDirError::NoMatchingSnap`] when no `.fsm` has its record.
pub fn choose_snapshot(dir: &Path) -> Result<Choice, DataDirError> {
    let listing = read_data_dir(dir)?;
    if listing.fsm_files.is_empty() {
        return Err(DataDirError::NoSnapshot {
            dir: dir.to_path_buf(),
            reason: format!("{} holds no <index>.fsm file", FSM_SNAP_DIR),
        });
    }
    let name = |f: &FsmFile| file_name(&f.path);
    let Some(chosen) = listing
        .fsm_files
        .iter()
        .rev()
        .find(|f| f.snap_term.is_some())
    else {
        return Err(DataDirError::NoMatchingSnap {
            dir: dir.to_path_buf(),
            unmatched: listing.fsm_files.iter().map(name).collect(),
        });
    };
    let newer_unmatched: Vec<String> = listing
        .fsm_files
        .iter()
        .filter(|f| f.index > chosen.index)
        .map(name)
        .collect();
    let term = chosen.snap_term.unwrap_or_default();
    let mut reason = format!(
        "{}/{}: index {} is the newest of {} snapshot file(s) with a raft record ({}/{:016x}-{:016x}.snap)",
        FSM_SNAP_DIR,
        name(chosen),
        chosen.index,
        listing.fsm_files.len(),
        SNAP_DIR,
        term,
        chosen.index
    );
    if !newer_unmatched.is_empty() {
        reason.push_str(&format!(
            "; skipped newer {} without a .snap (in progress or left over from a crash)",
            newer_unmatched.join(", ")
        ));
    }
    Ok(Choice {
        file: chosen.clone(),
        reason,
    })
}

/// `dir` itself, or its only `group-<id>/` folder when it has no `fsm-snap/`.
fn resolve_group_dir(dir: &Path) -> Result<PathBuf, DataDirError> {
    if dir.join(FSM_SNAP_DIR).is_dir() {
        return Ok(dir.to_path_buf());
    }
    if !dir.is_dir() {
        return Err(DataDirError::NoSnapshot {
            dir: dir.to_path_buf(),
            reason: "not a directory".to_owned(),
        });
    }
    let mut groups: Vec<(String, PathBuf)> = list(dir)?
        .into_iter()
        .filter(|(name, path)| is_group_name(name) && path.is_dir())
        .collect();
    groups.sort();
    match groups.len() {
        0 => Ok(dir.to_path_buf()),
        1 => Ok(groups.remove(0).1),
        _ => Err(DataDirError::SeveralGroups {
            dir: dir.to_path_buf(),
            groups: groups.into_iter().map(|(name, _)| name).collect(),
        }),
    }
}

fn is_group_name(name: &str) -> bool {
    name.strip_prefix(GROUP_DIR_PREFIX)
        .is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
}

/// `(term, index)` of every `<%016x term>-<%016x index>.snap`; none when `snap/` is
/// missing (a node that never snapshotted).
fn snap_records(snap_dir: &Path) -> Result<Vec<(u64, u64)>, DataDirError> {
    if !snap_dir.is_dir() {
        return Ok(Vec::new());
    }
    Ok(list(snap_dir)?
        .iter()
        .filter_map(|(name, _)| snap_term_index(name))
        .collect())
}

/// Parses `<%016x term>-<%016x index>.snap`.
fn snap_term_index(name: &str) -> Option<(u64, u64)> {
    let stem = name.strip_suffix(".snap")?;
    let (term, index) = stem.split_once('-')?;
    Some((hex16(term)?, hex16(index)?))
}

/// Parses `<%016x index>.fsm`.
fn fsm_index(name: &str) -> Option<u64> {
    hex16(name.strip_suffix(".fsm")?)
}

fn hex16(text: &str) -> Option<u64> {
    if text.len() != 16 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(text, 16).ok()
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// `(name, path)` of the entries of `dir`; names that are not UTF-8 are skipped (no
/// node writes them).
fn list(dir: &Path) -> Result<Vec<(String, PathBuf)>, DataDirError> {
    let io_error = |source| DataDirError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_error)? {
        let entry = entry.map_err(io_error)?;
        if let Ok(name) = entry.file_name().into_string() {
            out.push((name, entry.path()));
        }
    }
    Ok(out)
}

/// What `inspect --data-dir` says about one file without decoding it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// Outer magic, then the inner store magic when wrapped (`EKVTHLC1/EKVPBBL1`).
    pub container: String,
    /// Whether the last 4 bytes are the CRC32C of the rest (live files always end so).
    pub footer_verified: bool,
}

/// Reads the header magics and checks the CRC32C footer in one pass.
///
/// # Errors
/// The I/O error of reading `path`.
pub fn probe(path: &Path) -> io::Result<Probe> {
    let mut file = File::open(path)?;
    let size = file.metadata()?.len();
    // Enough for the largest EKVTHLC2 header and the inner magic after it.
    let mut head = Vec::new();
    (&mut file).take(1100).read_to_end(&mut head)?;
    let container = describe_magics(&head);
    let footer_verified = size >= FOOTER_LEN as u64 && footer_matches(path, size)?;
    Ok(Probe {
        container,
        footer_verified,
    })
}

fn describe_magics(head: &[u8]) -> String {
    let text = |bytes: &[u8]| bytes.escape_ascii().to_string();
    let Some(outer) = head.first_chunk::<8>() else {
        return format!("short ({} bytes)", head.len());
    };
    let inner_at = match *outer {
        HLC_V1_MAGIC => 16,
        HLC_V2_MAGIC => match head.get(8..10) {
            Some(&[hi, lo]) => 10 + usize::from(u16::from_be_bytes([hi, lo])),
            _ => return text(outer),
        },
        _ => return text(outer),
    };
    match head.get(inner_at..inner_at + 8) {
        Some(inner) => format!("{}/{}", text(outer), text(inner)),
        None => text(outer),
    }
}

fn footer_matches(path: &Path, size: u64) -> io::Result<bool> {
    let mut file = File::open(path)?;
    let body = size - FOOTER_LEN as u64;
    let mut crc = 0u32;
    let mut buf = vec![0u8; 1 << 16];
    let mut left = body;
    while left > 0 {
        let want = usize::try_from(left).map_or(buf.len(), |l| l.min(buf.len()));
        file.read_exact(&mut buf[..want])?;
        crc = crc32c::crc32c_append(crc, &buf[..want]);
        left -= want as u64;
    }
    let mut footer = [0u8; FOOTER_LEN];
    file.read_exact(&mut footer)?;
    Ok(u32::from_be_bytes(footer) == crc)
}

#[cfg(test)]
#[path = "datadir_tests.rs"]
mod tests;

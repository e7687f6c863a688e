//! Reading a directory's files ahead of the encoder (docs/format.md §8.3).
//!
//! The encoder walks a type directory in name order and, per file, opens, checks,
//! reads and parses it. Opening and reading are system calls that do not depend on
//! the parse, so a worker thread does them for the files after the one being parsed
//! while the encoder parses: on two cores the file system's latency hides behind the
//! parser's work. The consumer still sees every entry, and every error, in listing
//! order, so what is encoded and which error is reported first do not change.
//!
//! Memory stays bounded: at most [`AHEAD`] entries (plus the batch being
//! filled and the one being consumed) are in flight, and only files of
//! at most [`SMALL_FILE`] bytes travel as bytes; a larger one travels as its open
//! handle and is read by the consumer as before.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::sync::mpsc;

use super::fs::{DumpDir, FsError};

/// Entries the worker may be ahead of the consumer.
pub const AHEAD: usize = 64;

/// Entries handed over at a time: one hand-over per file would cost more in thread
/// wake-ups than the read it saves.
const BATCH: usize = 32;

/// Files up to this size are read by the worker; larger ones are only opened.
pub const SMALL_FILE: u64 = 128 << 10;

/// One listed entry of a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedEntry {
    /// The file name.
    pub name: OsString,
    /// A real directory (judged without following links).
    pub is_dir: bool,
    /// A regular file (judged without following links).
    pub is_file: bool,
}

/// A file the worker opened: its bytes when small, else its handle.
#[derive(Debug)]
pub enum Prefetched {
    /// The whole file, behind the `room` zeroed bytes the reader asked for.
    Bytes {
        /// `room` zeroed bytes, then the file.
        buf: Vec<u8>,
        /// How many leading bytes are not the file's.
        room: usize,
        /// Read position within the file's bytes.
        pos: usize,
    },
    /// An open handle, positioned at the start.
    File(File),
}

impl Prefetched {
    /// The file's bytes behind `room` zeroed bytes, reading the rest of a large file.
    /// `room` must be the value the read-ahead was started with.
    pub fn into_bytes_with_room(self, room: usize) -> io::Result<Vec<u8>> {
        match self {
            Prefetched::Bytes { buf, .. } => Ok(buf),
            Prefetched::File(file) => read_with_room(file, room, 0),
        }
    }
}

impl Read for Prefetched {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        match self {
            Prefetched::File(file) => file.read(out),
            Prefetched::Bytes { buf, room, pos } => {
                let rest = buf.get(*room + *pos..).unwrap_or_default();
                let n = rest.len().min(out.len());
                out[..n].copy_from_slice(&rest[..n]);
                *pos += n;
                Ok(n)
            }
        }
    }
}

impl Seek for Prefetched {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        match self {
            Prefetched::File(file) => file.seek(to),
            Prefetched::Bytes { buf, room, pos } => {
                let len = buf.len().saturating_sub(*room) as u64;
                let target = match to {
                    SeekFrom::Start(n) => Some(n),
                    SeekFrom::Current(d) => (*pos as u64).checked_add_signed(d),
                    SeekFrom::End(d) => len.checked_add_signed(d),
                }
                .ok_or_else(|| {
                    io::Error::new(io::ErrorKind::InvalidInput, "seek before the start")
                })?;
                *pos = usize::try_from(target.min(len)).unwrap_or(usize::MAX);
                Ok(target)
            }
        }
    }
}

/// Reads `file` (of `size` bytes as its open saw it, 0 if unknown) whole, behind
/// `room` zeroed bytes.
fn read_with_room(file: File, room: usize, size: u64) -> io::Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(room.saturating_add(usize::try_from(size).unwrap_or(0)));
    buf.resize(room, 0);
    // Through `take`, not on the `File` itself: std's `File::read_to_end` asks the
    // kernel for the size again (fstat + lseek), which the open already did.
    file.take(u64::MAX).read_to_end(&mut buf)?;
    Ok(buf)
}

/// What the worker sends: an entry with, when it was wanted, the outcome of opening
/// (and, if small, reading) it; or the listing's own failure, which ends the walk.
type Delivery<E> = Result<(ListedEntry, Option<Result<Prefetched, FsError>>), E>;

/// Walks `entries` (a directory's listing, in the order to encode) and calls `each`
/// with every entry, in that order, together with the file already opened (and read,
/// if small) for the entries `wanted` selects. Opening and reading happen on a
/// worker thread up to [`AHEAD`] entries ahead. The first error, from the listing or
/// from `each`, stops the walk and is returned; the worker stops with it.
pub fn read_ahead<E: Send>(
    dir: &DumpDir,
    entries: impl Iterator<Item = Result<ListedEntry, E>> + Send,
    wanted: impl Fn(&ListedEntry) -> bool + Send,
    room: usize,
    mut each: impl FnMut(ListedEntry, Option<Result<Prefetched, FsError>>) -> Result<(), E>,
) -> Result<(), E> {
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::sync_channel::<Vec<Delivery<E>>>(AHEAD / BATCH);
        scope.spawn(move || {
            let mut batch = Vec::with_capacity(BATCH);
            for entry in entries {
                let delivery = entry.map(|entry| {
                    let file = wanted(&entry).then(|| open_and_read(dir, &entry.name, room));
                    (entry, file)
                });
                let failed = delivery.is_err();
                batch.push(delivery);
                if batch.len() == BATCH || failed {
                    // A closed channel means the consumer stopped: so does the worker.
                    if tx.send(std::mem::take(&mut batch)).is_err() || failed {
                        return;
                    }
                }
            }
            let _ = tx.send(batch);
        });
        // `rx` is dropped when this returns, which releases a worker blocked on a
        // full channel before the scope joins it.
        rx.into_iter()
            .flatten()
            .try_for_each(|delivery| delivery.and_then(|(entry, file)| each(entry, file)))
    })
}

/// Opens `name` of `dir` with the dump's refusals and reads it if it is small.
fn open_and_read(dir: &DumpDir, name: &OsStr, room: usize) -> Result<Prefetched, FsError> {
    let (file, size) = dir.open_listed_file(name)?;
    if size > SMALL_FILE {
        return Ok(Prefetched::File(file));
    }
    let buf =
        read_with_room(file, room, size).map_err(|e| FsError::io(dir.path().join(name), e))?;
    Ok(Prefetched::Bytes { buf, room, pos: 0 })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::fs::FsErrorKind;

    fn listed(dir: &std::path::Path) -> Vec<Result<ListedEntry, String>> {
        let mut names: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let ty = e.file_type().unwrap();
                ListedEntry {
                    name: e.file_name(),
                    is_dir: ty.is_dir(),
                    is_file: ty.is_file(),
                }
            })
            .collect();
        names.sort_by(|a, b| a.name.cmp(&b.name));
        names.into_iter().map(Ok).collect()
    }

    #[test]
    fn every_entry_arrives_in_listing_order_with_its_bytes_or_handle() {
        let root = tempfile::tempdir().unwrap();
        let big = vec![7u8; usize::try_from(SMALL_FILE).unwrap() + 1];
        for i in 0..(AHEAD * 3) {
            std::fs::write(root.path().join(format!("{i:04}.bin")), i.to_string()).unwrap();
        }
        std::fs::write(root.path().join("big.bin"), &big).unwrap();
        std::fs::write(root.path().join("skip.txt"), "x").unwrap();
        std::fs::create_dir(root.path().join("sub.bin")).unwrap();
        let dir = DumpDir::open(root.path()).unwrap();
        let mut seen = Vec::new();
        read_ahead(
            &dir,
            listed(root.path()).into_iter(),
            |e| e.is_file && e.name.to_string_lossy().ends_with(".bin"),
            2,
            |entry, file| {
                let bytes = file.map(|f| f.unwrap().into_bytes_with_room(2).unwrap());
                seen.push((entry.name.into_string().unwrap(), bytes));
                Ok::<(), String>(())
            },
        )
        .unwrap();
        assert_eq!(seen.len(), AHEAD * 3 + 3);
        for (i, (name, bytes)) in seen.iter().take(AHEAD * 3).enumerate() {
            assert_eq!(name, &format!("{i:04}.bin"));
            let mut want = vec![0, 0];
            want.extend_from_slice(i.to_string().as_bytes());
            assert_eq!(bytes.as_deref(), Some(want.as_slice()));
        }
        let tail: Vec<_> = seen[AHEAD * 3..]
            .iter()
            .map(|(n, b)| (n.as_str(), b.as_ref().map(Vec::len)))
            .collect();
        assert_eq!(
            tail,
            [
                ("big.bin", Some(big.len() + 2)),
                ("skip.txt", None),
                ("sub.bin", None)
            ]
        );
    }

    #[test]
    fn the_first_error_in_listing_order_wins_and_stops_the_walk() {
        let root = tempfile::tempdir().unwrap();
        for i in 0..10 {
            std::fs::write(root.path().join(format!("{i}.bin")), "x").unwrap();
        }
        std::os::unix::fs::symlink("0.bin", root.path().join("5.link")).unwrap();
        let dir = DumpDir::open(root.path()).unwrap();
        let mut entries = listed(root.path());
        entries.insert(8, Err("listing failed".to_owned()));
        let mut seen = Vec::new();
        let err = read_ahead(
            &dir,
            entries.into_iter(),
            |e| !e.is_dir,
            0,
            |entry, file| {
                seen.push(entry.name.clone());
                match file {
                    Some(Err(e)) => Err(format!("{:?} {}", e.kind(), entry.name.to_string_lossy())),
                    _ => Ok(()),
                }
            },
        )
        .unwrap_err();
        assert_eq!(err, format!("{:?} 5.link", FsErrorKind::Symlink));
        assert_eq!(
            seen.len(),
            7,
            "entries after the failing one are not handed out"
        );

        let mut entries = listed(root.path());
        entries.insert(3, Err("listing failed".to_owned()));
        let err = read_ahead(&dir, entries.into_iter(), |_| false, 0, |_, _| Ok(())).unwrap_err();
        assert_eq!(err, "listing failed");
    }

    #[test]
    fn a_consumer_that_stops_early_releases_the_worker() {
        let root = tempfile::tempdir().unwrap();
        for i in 0..(AHEAD * 4) {
            std::fs::write(root.path().join(format!("{i:04}")), "x").unwrap();
        }
        let dir = DumpDir::open(root.path()).unwrap();
        let mut calls = 0;
        let err = read_ahead(
            &dir,
            listed(root.path()).into_iter(),
            |_| true,
            0,
            |_, _| {
                calls += 1;
                if calls == 2 {
                    Err("stop".to_owned())
                } else {
                    Ok(())
                }
            },
        )
        .unwrap_err();
        assert_eq!((err.as_str(), calls), ("stop", 2));
    }

    #[test]
    fn prefetched_bytes_read_and_seek_like_a_file() {
        let mut p = Prefetched::Bytes {
            buf: b"\0\0hello".to_vec(),
            room: 2,
            pos: 0,
        };
        let mut s = String::new();
        p.read_to_string(&mut s).unwrap();
        assert_eq!(s, "hello");
        assert_eq!(p.seek(SeekFrom::Start(1)).unwrap(), 1);
        s.clear();
        p.read_to_string(&mut s).unwrap();
        assert_eq!(s, "ello");
        assert!(p.seek(SeekFrom::Current(-10)).is_err());
    }
}

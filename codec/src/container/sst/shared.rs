//! The snapshot file as the content check and the rows read it side by side
//! ([`super::SstIngestReader::open_file`]).
//!
//! Both walk the file forwards: the check through every byte, the rows through the
//! data blocks. The file is cut into [`CHUNK`]-aligned chunks; each is read by
//! whichever side needs it first and kept until both have passed it, the other side
//! then taking it without a system call or a copy (a side more than
//! [`CHUNKS_KEPT`] chunks ahead reads for itself). Neither side ever waits for the
//! other: the work of reading falls to whichever is ahead at the moment, so the two
//! run at the pace of the larger of their totals instead of at the pace of the
//! slower one at every moment (one thread handing chunks to the other would make
//! the rows wait wherever they are faster, and the check wherever they are slower).

use std::collections::VecDeque;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::{Arc, Mutex, MutexGuard};

use super::super::ContainerError;

/// Size of the chunks the file is shared in.
pub const CHUNK: usize = 256 << 10;

/// Chunks kept at most: how far one side may be ahead of the other and still leave
/// its chunks for it (further ahead, it reads for itself alone). Spent buffers are
/// kept for reuse too; they only ever come from kept chunks, so there are never
/// more of both together.
pub const CHUNKS_KEPT: usize = 64;

/// One of the two readers of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    /// The content check: every byte, in order.
    Check = 0,
    /// The rows: the data blocks, in order.
    Rows = 1,
}

/// The file and the chunks read from it that a side has not passed yet.
#[derive(Debug)]
struct SharedFile {
    file: File,
    /// Where the chunks stop (the end of the last table).
    end: u64,
    board: Mutex<Board>,
}

#[derive(Debug, Default)]
struct Board {
    /// Chunk index of `slots[0]`.
    first: u64,
    slots: VecDeque<Slot>,
    /// The chunk index each side needs next; `u64::MAX` once it has left.
    next: [u64; 2],
    spare: Vec<Vec<u8>>,
}

#[derive(Debug, Default)]
enum Slot {
    #[default]
    Unread,
    /// A side is reading it; the other reads it for itself meanwhile.
    Reading,
    Ready(Arc<Vec<u8>>),
}

/// What a side does about a chunk it needs.
enum Claim {
    Take(Arc<Vec<u8>>),
    /// Read it into this buffer and publish it in its slot.
    Publish(Vec<u8>),
    /// Read it into this buffer for this side alone.
    Alone(Vec<u8>),
}

impl SharedFile {
    /// Shares `file` up to `end`.
    fn new(file: File, end: u64) -> Self {
        SharedFile {
            file,
            end,
            board: Mutex::new(Board::default()),
        }
    }

    /// [`Stream::chunk`] for `side`.
    fn chunk(&self, side: Side, at: u64) -> Result<(u64, Arc<Vec<u8>>), ContainerError> {
        let index = at / CHUNK as u64;
        let start = index * CHUNK as u64;
        let claim = self.board().claim(side, index);
        let (mut bytes, publish) = match claim {
            Claim::Take(bytes) => return Ok((start, bytes)),
            Claim::Publish(bytes) => (bytes, true),
            Claim::Alone(bytes) => (bytes, false),
        };
        let want = usize::try_from(self.end.saturating_sub(start)).map_or(CHUNK, |n| n.min(CHUNK));
        bytes.resize(want, 0);
        let got = read_full_at(&self.file, &mut bytes, start);
        if let Ok(len) = got {
            bytes.truncate(len);
        }
        let bytes = Arc::new(bytes);
        if publish {
            self.board().publish(index, &bytes, got.is_ok());
        }
        got?;
        Ok((start, bytes))
    }

    /// `side` will take no more chunks: the other side no longer keeps them for it.
    fn leave(&self, side: Side) {
        let mut board = self.board();
        board.next[side as usize] = u64::MAX;
        board.drop_passed();
    }

    fn board(&self) -> MutexGuard<'_, Board> {
        // A side that panicked left a board that is still consistent.
        self.board
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// One side's way into the shared file; dropping it leaves the file to the other.
#[derive(Debug)]
pub struct Stream {
    file: Arc<SharedFile>,
    side: Side,
}

impl Stream {
    /// The two sides of `file`, shared up to `end`: the check's and the rows'.
    pub fn pair(file: File, end: u64) -> (Stream, Stream) {
        let file = Arc::new(SharedFile::new(file, end));
        let check = Stream {
            file: Arc::clone(&file),
            side: Side::Check,
        };
        (
            check,
            Stream {
                file,
                side: Side::Rows,
            },
        )
    }

    /// Reads past the shared chunks, by position ([`read_full_at`]): the file's own
    /// offset, which its clones share, is the rows'.
    ///
    /// # Errors
    /// The I/O error, at the offset that failed.
    pub fn read_at(&self, buf: &mut [u8], at: u64) -> Result<usize, ContainerError> {
        read_full_at(&self.file.file, buf, at)
    }

    /// The chunk holding file offset `at`, and its offset: `CHUNK` bytes (fewer at
    /// the end, or when the file is shorter than expected; none past the end).
    ///
    /// # Errors
    /// The read's I/O error, at the offset that failed.
    pub fn chunk(&self, at: u64) -> Result<(u64, Arc<Vec<u8>>), ContainerError> {
        self.file.chunk(self.side, at)
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        self.file.leave(self.side);
    }
}

impl Board {
    fn claim(&mut self, side: Side, index: u64) -> Claim {
        self.next[side as usize] = index;
        self.drop_passed();
        let slot = index
            .checked_sub(self.first)
            .and_then(|s| usize::try_from(s).ok())
            .filter(|s| *s < CHUNKS_KEPT);
        let Some(slot) = slot else {
            return Claim::Alone(self.buffer());
        };
        if self.slots.len() <= slot {
            self.slots.resize_with(slot + 1, Slot::default);
        }
        match &self.slots[slot] {
            Slot::Ready(bytes) => Claim::Take(Arc::clone(bytes)),
            Slot::Reading => Claim::Alone(self.buffer()),
            Slot::Unread => {
                self.slots[slot] = Slot::Reading;
                Claim::Publish(self.buffer())
            }
        }
    }

    /// A spent buffer, or a new one, zeroed by the allocator (at no cost when its
    /// pages are fresh, unlike growing an empty one, which writes every zero).
    fn buffer(&mut self) -> Vec<u8> {
        self.spare.pop().unwrap_or_else(|| vec![0; CHUNK])
    }

    fn publish(&mut self, index: u64, bytes: &Arc<Vec<u8>>, read: bool) {
        let Some(slot) = index
            .checked_sub(self.first)
            .and_then(|s| usize::try_from(s).ok())
            .and_then(|s| self.slots.get_mut(s))
        else {
            return;
        };
        *slot = if read {
            Slot::Ready(Arc::clone(bytes))
        } else {
            Slot::Unread
        };
    }

    /// Drops the chunks both sides have passed, keeping their buffers for reuse.
    fn drop_passed(&mut self) {
        let passed = self.next[0].min(self.next[1]);
        while self.first < passed {
            let Some(slot) = self.slots.pop_front() else {
                self.first = passed;
                break;
            };
            self.first += 1;
            if let Slot::Ready(bytes) = slot
                && let Ok(bytes) = Arc::try_unwrap(bytes)
            {
                self.spare.push(bytes);
            }
        }
    }
}

/// Reads `buf.len()` bytes at `at` (fewer only at the end of the file); how many.
///
/// # Errors
/// The I/O error, at the offset that failed.
pub fn read_full_at(file: &File, buf: &mut [u8], at: u64) -> Result<usize, ContainerError> {
    let mut got = 0;
    while got < buf.len() {
        match file.read_at(&mut buf[got..], at + got as u64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(ContainerError::io(at + got as u64, e)),
        }
    }
    Ok(got)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared(len: usize) -> (tempfile::TempDir, SharedFile, Vec<u8>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let bytes: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::write(&path, &bytes).unwrap();
        let file = File::open(&path).unwrap();
        (dir, SharedFile::new(file, len as u64), bytes)
    }

    #[test]
    fn a_chunk_read_by_one_side_is_taken_by_the_other() {
        let (_dir, shared, bytes) = shared(3 * CHUNK + 10);
        let (at, check) = shared.chunk(Side::Check, 5).unwrap();
        assert_eq!((at, &check[..]), (0, &bytes[..CHUNK]));
        let (_, rows) = shared.chunk(Side::Rows, CHUNK as u64 - 1).unwrap();
        assert!(Arc::ptr_eq(&check, &rows), "read once");
        // The last chunk stops at the end.
        let (at, last) = shared.chunk(Side::Rows, 3 * CHUNK as u64).unwrap();
        assert_eq!((at, &last[..]), (3 * CHUNK as u64, &bytes[3 * CHUNK..]));
        let (_, again) = shared.chunk(Side::Check, 3 * CHUNK as u64 + 9).unwrap();
        assert!(Arc::ptr_eq(&last, &again));
    }

    #[test]
    fn chunks_both_sides_passed_are_dropped() {
        let (_dir, shared, _) = shared(4 * CHUNK);
        for i in 0..4 {
            shared.chunk(Side::Check, i * CHUNK as u64).unwrap();
        }
        assert_eq!(shared.board().slots.len(), 4, "kept for the rows");
        shared.chunk(Side::Rows, 2 * CHUNK as u64).unwrap();
        assert_eq!(shared.board().first, 2);
        shared.leave(Side::Rows);
        assert_eq!(shared.board().first, 3);
        assert_eq!(shared.board().slots.len(), 1);
    }

    #[test]
    fn a_side_far_ahead_reads_alone() {
        let (_dir, shared, bytes) = shared((CHUNKS_KEPT + 2) * CHUNK);
        for i in 0..=CHUNKS_KEPT as u64 {
            let (at, chunk) = shared.chunk(Side::Check, i * CHUNK as u64).unwrap();
            assert_eq!(&chunk[..], &bytes[at as usize..at as usize + CHUNK]);
        }
        assert_eq!(shared.board().slots.len(), CHUNKS_KEPT, "bounded");
        let (_, first) = shared.chunk(Side::Rows, 0).unwrap();
        assert_eq!(&first[..], &bytes[..CHUNK]);
    }

    #[test]
    fn a_file_shorter_than_expected_gives_a_short_chunk() {
        let (_dir, shared, bytes) = shared(CHUNK + 100);
        let shared = SharedFile {
            end: 2 * CHUNK as u64,
            ..shared
        };
        let (_, chunk) = shared.chunk(Side::Rows, CHUNK as u64).unwrap();
        assert_eq!(&chunk[..], &bytes[CHUNK..]);
        let (_, same) = shared.chunk(Side::Check, CHUNK as u64).unwrap();
        assert_eq!(&same[..], &bytes[CHUNK..]);
    }
}

//! The encoder's view of `KEYMAP.jsonl`: SHA-fallback names back to key bytes.
//!
//! The KEYMAP is not small in general: every key whose percent-encoded name would
//! pass 240 bytes gets a record (a cache keyed by URLs can put most keys there), so it
//! is never held in memory. It is validated once, its usable records are copied to a
//! scratch log, and each type directory that meets a SHA-fallback name sorts that log
//! by `<encoded><ext>`, the order of its walk, and joins it (see `join`). Directories
//! without such names never sort it.

use std::io::BufReader;
use std::path::Path;

use crate::sort::{RecordLog, WrittenLog};
use crate::tree::keymap::KeymapReader;
use crate::tree::segment::{SegmentError, decode_segment};

use super::error::{RedisError, Result};
use super::input;
use super::join::{self, take_latest};
use super::spill::{Cursor, SortSpace};

/// The records a file name can be resolved with, in file order (the last record for
/// a name wins).
#[derive(Default)]
pub struct Keymap {
    /// `encoded` → original key bytes; `None` when no record can ever be looked up.
    log: Option<WrittenLog>,
}

impl std::fmt::Debug for Keymap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keymap")
            .field("records", &self.log.as_ref().map_or(0, WrittenLog::len))
            .finish()
    }
}

impl Keymap {
    /// A lookup for the files of one type directory, whose names end in `ext`.
    pub fn join<'k>(&'k mut self, ext: &'k str, space: &'k SortSpace) -> KeymapJoin<'k> {
        KeymapJoin {
            log: self.log.as_mut(),
            ext,
            space,
            sorted: None,
            original: Vec::new(),
        }
    }
}

/// Whether a file name segment equal to `encoded` would be looked up: only names
/// [`decode_segment`] cannot reverse on their own are. Other records are validated
/// but need not be kept.
fn can_be_looked_up(encoded: &str) -> bool {
    matches!(
        decode_segment(encoded),
        Err(SegmentError::ShaFallbackNeedsKeymap { .. })
    )
}

/// Loads `path` if it exists, a line at a time. Every record must be valid, whatever
/// its kind: a damaged KEYMAP is reported even if no file name needs it. (Reading a
/// record already checks its `original`, so decoding it right away cannot fail
/// before a later line's error would have been reported.)
pub fn load(path: &Path, space: &SortSpace) -> Result<Keymap> {
    let Some(file) = input::open_optional_sidecar(path)? else {
        return Ok(Keymap::default());
    };
    let tree_error = |e: crate::tree::keymap::KeymapError| RedisError::Tree {
        path: path.to_path_buf(),
        cause: Box::new(e),
    };
    let scratch_error = |e| RedisError::io("spill to scratch in", space.dir(), e);
    let mut reader = KeymapReader::new(BufReader::new(file), path);
    let mut log = None;
    while let Some(record) = reader.next_record().map_err(tree_error)? {
        let original = record.original_bytes().map_err(tree_error)?;
        if !can_be_looked_up(&record.encoded) {
            continue;
        }
        if log.is_none() {
            log = Some(RecordLog::create(space.dir()).map_err(scratch_error)?);
        }
        if let Some(log) = log.as_mut() {
            log.append(record.encoded.as_bytes(), &original)
                .map_err(scratch_error)?;
        }
    }
    let log = log
        .map(RecordLog::finish)
        .transpose()
        .map_err(scratch_error)?;
    Ok(Keymap { log })
}

/// The KEYMAP as one type directory sees it: sorted by `<encoded><ext>` on the first
/// lookup, then read in step with the walk.
pub struct KeymapJoin<'k> {
    log: Option<&'k mut WrittenLog>,
    ext: &'k str,
    space: &'k SortSpace,
    sorted: Option<Cursor>,
    original: Vec<u8>,
}

impl KeymapJoin<'_> {
    /// The original key of file `name` (`<encoded><ext>`), from the last record for
    /// it. Names must be asked for in ascending byte order.
    pub fn original_of(&mut self, name: &[u8]) -> Result<Option<&[u8]>> {
        if self.sorted.is_none() {
            let Some(log) = self.log.as_deref_mut() else {
                return Ok(None);
            };
            self.sorted = Some(sort_by_file_name(log, self.ext, self.space)?);
        }
        let Some(sorted) = self.sorted.as_mut() else {
            return Ok(None);
        };
        let found = take_latest(sorted, name, &mut self.original)?;
        Ok(found.then_some(self.original.as_slice()))
    }
}

/// The log's records keyed `<encoded><ext>`, valued `(record index, original)`.
fn sort_by_file_name(log: &mut WrittenLog, ext: &str, space: &SortSpace) -> Result<Cursor> {
    let read_error = |e| RedisError::io("read back from scratch in", space.dir(), e);
    let mut sorter = space.sorter();
    let mut replay = log.replay().map_err(read_error)?;
    let (mut name, mut value) = (Vec::new(), Vec::new());
    let mut index = 0u64;
    while let Some((encoded, original)) = replay.next().map_err(read_error)? {
        name.clear();
        name.extend_from_slice(encoded);
        name.extend_from_slice(ext.as_bytes());
        join::line_value(&mut value, index, original);
        sorter.push(&name, &value)?;
        index += 1;
    }
    sorter.finish()
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;
    use crate::sort::SortOptions;
    use crate::tree::bsv::encode_base64url;

    fn record(encoded: &str, original: &[u8]) -> String {
        format!(
            "{{\"encoded\":\"{encoded}\",\"original\":\"{}\",\"kind\":\"sha-fallback\"}}\n",
            encode_base64url(original)
        )
    }

    /// `<sha>__a-.json` sorts before `<sha>__a.json` though `<sha>__a` < `<sha>__a-`;
    /// the last record for a name wins; records no name can need are dropped.
    #[test]
    fn joins_by_file_name_last_record_wins() {
        let sha = "0123456789abcdef0123456789abcdef__";
        let (a, a_dash) = (format!("{sha}a"), format!("{sha}a-"));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("KEYMAP.jsonl");
        let lines = [
            record(&a, b"first"),
            record(&a_dash, b"dash"),
            record("plain", b"never looked up"),
            record(&a, b"last"),
        ];
        fs::write(&path, lines.concat()).unwrap();
        for budget in [1, 1 << 20] {
            let space = SortSpace::new(&SortOptions {
                memory_budget: budget,
                scratch_dir: dir.path().join("scratch"),
            });
            let mut keymap = load(&path, &space).unwrap();
            assert_eq!(keymap.log.as_ref().map(WrittenLog::len), Some(3));
            for _ in 0..2 {
                let mut join = keymap.join(".json", &space);
                let mut got = Vec::new();
                for name in [
                    format!("{a_dash}.json"),
                    format!("{a}.json"),
                    format!("{sha}b.json"),
                ] {
                    got.push(
                        join.original_of(name.as_bytes())
                            .unwrap()
                            .map(<[u8]>::to_vec),
                    );
                }
                let want: [Option<&[u8]>; 3] = [Some(b"dash"), Some(b"last"), None];
                assert_eq!(got, want.map(|o| o.map(<[u8]>::to_vec)), "budget {budget}");
            }
            assert_eq!(space.runs_spilled() > 0, budget == 1);
        }
    }

    #[test]
    fn without_a_keymap_nothing_resolves() {
        let dir = tempfile::tempdir().unwrap();
        let space = SortSpace::new(&SortOptions::default());
        let mut keymap = load(&dir.path().join("KEYMAP.jsonl"), &space).unwrap();
        let name = "0123456789abcdef0123456789abcdef__x.bin";
        assert_eq!(
            keymap
                .join(".bin", &space)
                .original_of(name.as_bytes())
                .unwrap(),
            None
        );
    }
}

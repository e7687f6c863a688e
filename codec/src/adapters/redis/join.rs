//! Merge joins of the encoder: everything keyed by file name, sorted in scratch.
//!
//! A type directory may hold 100M+ files, so neither its listing nor the sidecars that
//! annotate its files (`*_ttl.jsonl`, `KEYMAP.jsonl`) can be held in memory. Each is
//! fed to an external sort keyed by the *full file name* (`<segment><ext>`), the order
//! in which the directory is walked, and then read in step with the walk: a lookup
//! only ever moves forward. Sorting by the segment alone would not do: `a` < `a-`
//! but `a.bin` > `a-.bin`.

use std::path::Path;

use super::docs;
use super::elements::JsonLines;
use super::error::{RedisError, Result};
use super::input;
use super::spill::{Cursor, SortSpace, corrupt};

/// The sort value of a sidecar line: its index (big-endian, so that among the lines
/// for one name the last sorts last) followed by `payload`.
pub fn line_value(out: &mut Vec<u8>, index: u64, payload: &[u8]) {
    out.clear();
    out.extend_from_slice(&index.to_be_bytes());
    out.extend_from_slice(payload);
}

/// Moves `sorted` past every record keyed below `name` and every record keyed `name`;
/// when there were any of the latter, copies the payload (after the line index) of
/// the last one, the latest line, into `payload` and returns `true`.
///
/// `sorted` must be ordered by `(name, line_value)` and the names asked for must
/// ascend: a name asked for twice is found only the first time.
pub fn take_latest(sorted: &mut Cursor, name: &[u8], payload: &mut Vec<u8>) -> Result<bool> {
    while sorted.current().is_some_and(|(key, _)| key < name) {
        sorted.advance()?;
    }
    let mut found = false;
    while let Some((key, value)) = sorted.current() {
        if key != name {
            break;
        }
        let Some(rest) = value.get(8..) else {
            return Err(sorted.error(corrupt("sidecar record without a line index")));
        };
        payload.clear();
        payload.extend_from_slice(rest);
        found = true;
        sorted.advance()?;
    }
    Ok(found)
}

/// `strings_ttl.jsonl` / `hll_ttl.jsonl`, sorted by the name of the file each line
/// refers to, read in step with the walk of its type directory.
#[derive(Debug)]
pub struct TtlJoin {
    /// `None` when there is no sidecar.
    sorted: Option<Cursor>,
    payload: Vec<u8>,
}

impl TtlJoin {
    /// Reads the whole sidecar at `path` (every line is validated, as in Go, before
    /// any file of the type directory is read), keying each line by `<key><ext>`.
    pub fn load(path: &Path, ext: &str, space: &SortSpace) -> Result<Self> {
        let Some(file) = input::open_optional_sidecar(path)? else {
            return Ok(TtlJoin {
                sorted: None,
                payload: Vec::new(),
            });
        };
        let mut sorter = space.sorter();
        let mut lines = JsonLines::new(file, path);
        let (mut name, mut value) = (Vec::new(), Vec::new());
        let mut index = 0u64;
        while let Some(line) = lines.next_value()? {
            let line = docs::read_ttl_line(&line).map_err(|d| RedisError::invalid_json(path, d))?;
            name.clear();
            name.extend_from_slice(line.key.as_bytes());
            name.extend_from_slice(ext.as_bytes());
            line_value(&mut value, index, &line.expire_at_ms.to_be_bytes());
            sorter.push(&name, &value)?;
            index += 1;
        }
        Ok(TtlJoin {
            sorted: Some(sorter.finish()?),
            payload: Vec::new(),
        })
    }

    /// The expiry the latest line gives file `name`, 0 (none) when no line does.
    /// Names must be asked for in ascending byte order.
    pub fn expiry_of(&mut self, name: &[u8]) -> Result<u64> {
        let Some(sorted) = self.sorted.as_mut() else {
            return Ok(0);
        };
        if !take_latest(sorted, name, &mut self.payload)? {
            return Ok(0);
        }
        let ms = <[u8; 8]>::try_from(self.payload.as_slice())
            .map_err(|_| sorted.error(corrupt("TTL record without an expiry")))?;
        Ok(u64::from_be_bytes(ms))
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;
    use crate::error::ErrorCode;

    fn space(scratch: &Path, budget: usize) -> SortSpace {
        SortSpace::new(&crate::sort::SortOptions {
            memory_budget: budget,
            scratch_dir: scratch.to_path_buf(),
        })
    }

    /// Lines for `a-` sort before those for `a` by file name (`a-.bin` < `a.bin`),
    /// though `a` < `a-`; the latest line wins; lines without a file are skipped.
    #[test]
    fn ttls_join_by_file_name_latest_line_wins() {
        let dir = tempfile::tempdir().unwrap();
        let sidecar = dir.path().join("strings_ttl.jsonl");
        fs::write(
            &sidecar,
            concat!(
                "{\"key\":\"a\",\"expire_at_ms\":1}\n",
                "{\"key\":\"a-\",\"expire_at_ms\":2}\n",
                "{\"key\":\"zz\",\"expire_at_ms\":9}\n",
                "{\"key\":\"a\",\"expire_at_ms\":3}\n",
                "{\"key\":\"a-\",\"expire_at_ms\":4}\n",
                "{\"key\":\"a\",\"expire_at_ms\":5}\n",
                "{\"key\":\"b\",\"expire_at_ms\":6}\n",
            ),
        )
        .unwrap();
        for budget in [1, 1 << 20] {
            let space = space(dir.path(), budget);
            let mut ttls = TtlJoin::load(&sidecar, ".bin", &space).unwrap();
            let got: Vec<u64> = ["a-.bin", "a.bin", "aa.bin", "c.bin"]
                .iter()
                .map(|name| ttls.expiry_of(name.as_bytes()).unwrap())
                .collect();
            assert_eq!(got, [4, 5, 0, 0], "budget {budget}");
            assert_eq!(space.runs_spilled() > 0, budget == 1, "budget {budget}");
        }
    }

    #[test]
    fn a_missing_sidecar_gives_no_expiry() {
        let dir = tempfile::tempdir().unwrap();
        let space = space(dir.path(), 1);
        let mut ttls = TtlJoin::load(&dir.path().join("none.jsonl"), ".bin", &space).unwrap();
        assert_eq!(ttls.expiry_of(b"a.bin").unwrap(), 0);
    }

    #[test]
    fn a_bad_line_is_reported_whatever_the_budget() {
        let dir = tempfile::tempdir().unwrap();
        let sidecar = dir.path().join("hll_ttl.jsonl");
        fs::write(
            &sidecar,
            "{\"key\":\"a\",\"expire_at_ms\":1}\n{\"key\":\"b\",\"expire_at_ms\":-1}\n",
        )
        .unwrap();
        let errors: Vec<(String, String)> = [1, 1 << 20]
            .into_iter()
            .map(|budget| {
                let err = TtlJoin::load(&sidecar, ".bin", &space(dir.path(), budget)).unwrap_err();
                (err.code().to_owned(), err.to_string())
            })
            .collect();
        assert_eq!(errors[0], errors[1]);
        assert_eq!(errors[0].0, "redis-encode-invalid-json");
    }
}

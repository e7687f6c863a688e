//! The encoder's view of `KEYMAP.jsonl`: SHA-fallback names back to key bytes.

use std::collections::BTreeMap;
use std::io::BufReader;
use std::path::Path;

use crate::tree::keymap::KeymapReader;

use super::error::{RedisError, Result};
use super::input;

/// Original key bytes by file-name segment; the last record for a name wins.
#[derive(Debug, Default)]
pub struct Keymap {
    originals: BTreeMap<String, Vec<u8>>,
}

impl Keymap {
    /// The key a SHA-fallback segment stands for.
    pub fn original(&self, encoded: &str) -> Option<&[u8]> {
        self.originals.get(encoded).map(Vec::as_slice)
    }
}

/// Loads `path` if it exists, a line at a time. Every record must be valid, whatever
/// its kind: a damaged KEYMAP is reported even if no file name needs it. (Reading a
/// record already checks its `original`, so decoding it right away cannot fail
/// before a later line's error would have been reported.)
pub fn load(path: &Path) -> Result<Keymap> {
    let Some(file) = input::open_optional_sidecar(path)? else {
        return Ok(Keymap::default());
    };
    let tree_error = |e: crate::tree::keymap::KeymapError| RedisError::Tree {
        path: path.to_path_buf(),
        cause: Box::new(e),
    };
    let mut reader = KeymapReader::new(BufReader::new(file), path);
    let mut originals = BTreeMap::new();
    while let Some(record) = reader.next_record().map_err(tree_error)? {
        let original = record.original_bytes().map_err(tree_error)?;
        originals.insert(record.encoded, original);
    }
    Ok(Keymap { originals })
}

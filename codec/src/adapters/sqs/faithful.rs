//! The faithful restore: encoding a tree decoded with `--preserve-sqs-visibility`
//! and/or `--include-sqs-side-records` (docs/format.md §6.5, "Faithful restore").
//!
//! Go's encoder refuses such trees. Ours restores what they recorded, so that
//! decoding the result with the same flags gives the same tree byte for byte:
//! receive state is kept when it was preserved, every queue keeps its generation,
//! and with side records the file *is* the queue's index: its rows are written back
//! verbatim and none is derived from the messages (a derived row the source did not
//! have would come back as an extra side record). A tree produced without either
//! flag takes Go's path unchanged.

use std::fs;
use std::io::{self, BufRead, Read};
use std::path::Path;

use serde::Deserialize;

use crate::adapter::EntrySink;
use crate::dispatch::{self, Family};
use crate::tree::bsv::decode_base64url;
use crate::tree::manifest::{MANIFEST_FILE_NAME, Manifest};

use super::docs::render_side_record;
use super::error::{Result, SqsError};
use super::keys;

/// What the tree's producer kept that the encoder restores.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SqsEncodeModes {
    /// The tree was decoded with `--preserve-sqs-visibility`: receive state is real.
    pub preserve_visibility: bool,
    /// The tree was decoded with `--include-sqs-side-records`: each queue's
    /// `_internals/side_records.jsonl` holds all of its index rows.
    pub side_records: bool,
}

impl SqsEncodeModes {
    /// The modes a manifest records.
    pub fn of_manifest(m: &Manifest) -> Self {
        let ex = m.exclusions.clone().unwrap_or_default();
        SqsEncodeModes {
            preserve_visibility: ex.preserve_sqs_visibility,
            side_records: ex.include_sqs_side_records,
        }
    }

    /// Whether anything beyond Go's restore is asked for: then generations are kept.
    pub fn faithful(self) -> bool {
        self.preserve_visibility || self.side_records
    }

    /// The modes of the `MANIFEST.json` beside `adapter_root` (`<root>/sqs`); Go's
    /// path when there is none (a bare subtree, as tests and generators build).
    pub(crate) fn read_beside(adapter_root: &Path) -> Result<Self> {
        let Some(root) = adapter_root.parent() else {
            return Ok(SqsEncodeModes::default());
        };
        let path = root.join(MANIFEST_FILE_NAME);
        match fs::symlink_metadata(&path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(SqsEncodeModes::default()),
            Err(e) => Err(SqsError::io("stat", path, e)),
            Ok(_) => Manifest::read_file(&path)
                .map(|m| SqsEncodeModes::of_manifest(&m))
                .map_err(|e| SqsError::inner(Box::new(e))),
        }
    }
}

/// The generations one queue's rows name, gathered while they are encoded, and the
/// generation the queue is restored at.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Generations {
    /// The lowest and highest `queue_generation` of its messages.
    messages: Option<(u64, u64)>,
    /// The highest generation its side records prove live: a message row's own, one
    /// past a tombstone's (a tombstone marks a superseded generation).
    side: Option<u64>,
}

/// The queue's generation rows: the meta row's `generation` and the gen row's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Restored {
    /// `generation` in the stored queue meta.
    pub meta: u64,
    /// The `!sqs|queue|gen|` row; `None` when writing one would make the decoder drop
    /// messages (they span several generations, so the source had no gen row).
    pub row: Option<u64>,
}

impl Generations {
    pub(crate) fn message(&mut self, generation: u64) {
        self.messages = Some(match self.messages {
            None => (generation, generation),
            Some((lo, hi)) => (lo.min(generation), hi.max(generation)),
        });
    }

    fn side(&mut self, generation: u64) {
        self.side = Some(self.side.map_or(generation, |g| g.max(generation)));
    }

    /// Messages decide (the decoder kept only those of the active generation, when
    /// there was one); an empty queue takes what its side records prove, else 1.
    pub(crate) fn restored(self) -> Restored {
        match self.messages {
            Some((lo, hi)) => Restored {
                meta: hi,
                row: (lo == hi && hi > 0).then_some(hi),
            },
            None => {
                let g = self.side.unwrap_or(keys::RESTORE_GENERATION).max(1);
                Restored {
                    meta: g,
                    row: Some(g),
                }
            }
        }
    }
}

/// A `side_records.jsonl` line as the decoder writes it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SideLine {
    prefix: String,
    key_hex: String,
    value_b64: String,
}

/// The longest line accepted: side rows are message ids, dedup records, lock holders
/// and counters, far below this; a longer line is not one the decoder wrote, and the
/// cap keeps a hostile file from being read into memory whole.
const MAX_LINE: u64 = 1 << 20;

/// Where a side-records file belongs: its directory label (for errors) and the
/// stored queue segment every row's key must name.
pub(crate) struct SideRecordsOf<'a> {
    /// The queue directory, as errors name it.
    pub label: &'a str,
    /// The base64url queue segment of the store keys.
    pub queue_b64: &'a [u8],
}

impl SideRecordsOf<'_> {
    fn invalid(&self, line: u64, detail: impl Into<String>) -> SqsError {
        SqsError::EncodeInvalidSideRecord {
            queue: self.label.to_owned(),
            line,
            detail: detail.into(),
        }
    }

    /// Writes `<dir>/_internals/side_records.jsonl` back as store rows, streamed a line
    /// at a time, each checked to be exactly the line the decoder writes for a side
    /// row of this queue. Returns what the rows say about generations.
    pub(crate) fn restore(
        &self,
        dir: &Path,
        sink: &mut dyn EntrySink,
        generations: &mut Generations,
    ) -> Result<()> {
        let internals = dir.join("_internals");
        if !super::encode::dump_dir_exists(&internals)? {
            return Ok(());
        }
        let path = internals.join("side_records.jsonl");
        let Some(file) = super::encode::open_optional(&path)? else {
            return Ok(());
        };
        let mut reader = io::BufReader::new(file);
        let mut buf = Vec::new();
        let mut line = 0u64;
        loop {
            buf.clear();
            let n = (&mut reader)
                .take(MAX_LINE + 1)
                .read_until(b'\n', &mut buf)
                .map_err(|e| SqsError::io("read", &path, e))?;
            if n == 0 {
                return Ok(());
            }
            line += 1;
            let row = self.check_line(line, &buf)?;
            if let Some(generation) = row.generation {
                generations.side(generation);
            }
            sink.add(&row.key, &row.value).map_err(SqsError::inner)?;
        }
    }

    /// Line number `line` of the file, `text` with its newline: the row it holds if it
    /// is one the decoder writes for a side row of this queue.
    fn check_line(&self, line: u64, text: &[u8]) -> Result<SideRow> {
        if text.len() as u64 > MAX_LINE {
            return Err(self.invalid(line, format!("line longer than {MAX_LINE} bytes")));
        }
        let (prefix, key, value) = self.parse_line(line, text)?;
        let family = self.check_key(line, &prefix, &key)?;
        let generation = generation_proved(family, &key);
        Ok(SideRow {
            prefix,
            key,
            value,
            generation,
        })
    }

    /// The row a line holds, if the line is byte for byte what the decoder would
    /// write for it (so the re-decode writes it back unchanged).
    fn parse_line(&self, line: u64, text: &[u8]) -> Result<(String, Vec<u8>, Vec<u8>)> {
        let parsed: SideLine = serde_json::from_slice(text)
            .map_err(|e| self.invalid(line, format!("not a side-record line: {e}")))?;
        let key = hex::decode(&parsed.key_hex)
            .map_err(|e| self.invalid(line, format!("field key_hex: {e}")))?;
        let value = decode_base64url(&parsed.value_b64)
            .map_err(|e| self.invalid(line, format!("field value_b64: {e}")))?;
        if render_side_record(&parsed.prefix, &key, &value) != text {
            return Err(self.invalid(
                line,
                "not in the decoder's form (compact JSON, fields prefix, key_hex, value_b64, \
                 lowercase hex, unpadded base64url, one line ending in a newline)",
            ));
        }
        Ok((parsed.prefix, key, value))
    }

    /// The key's family, if the key routes to `claimed`, that is a side family and the
    /// key names this queue.
    fn check_key(&self, line: u64, claimed: &str, key: &[u8]) -> Result<Family> {
        let Some(prefix) = dispatch::route(key) else {
            return Err(self.invalid(line, "field key_hex: not an SQS side-record key"));
        };
        if prefix.bytes != claimed.as_bytes() {
            return Err(self.invalid(
                line,
                format!("field prefix: {claimed:?} is not the prefix key_hex routes to"),
            ));
        }
        let rest = prefix.rest(key);
        let queue = match prefix.family {
            Family::SqsQueueSeq => keys::parse_seq_key(rest),
            Family::SqsQueueTombstone
            | Family::SqsMsgVis
            | Family::SqsMsgByAge
            | Family::SqsMsgDedup
            | Family::SqsMsgGroup => keys::parse_side_key(rest),
            _ => {
                return Err(self.invalid(
                    line,
                    "field prefix: not a side-record family (vis, byage, dedup, group, \
                     tombstone, seq)",
                ));
            }
        }
        .map_err(|e| self.invalid(line, format!("field key_hex: {e}")))?;
        if queue != self.queue_b64 {
            return Err(self.invalid(
                line,
                format!(
                    "field key_hex: the row belongs to queue segment {:?}, not {:?}",
                    String::from_utf8_lossy(queue),
                    String::from_utf8_lossy(self.queue_b64)
                ),
            ));
        }
        Ok(prefix.family)
    }
}

/// A store row read back from a `side_records.jsonl` line.
#[doc(hidden)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SideRow {
    /// The line's `prefix`: the store prefix the key routes to.
    pub prefix: String,
    /// The store key.
    pub key: Vec<u8>,
    /// The stored value, verbatim.
    pub value: Vec<u8>,
    /// The live generation the row proves (none for the seq row).
    pub generation: Option<u64>,
}

/// One `side_records.jsonl` line (with its newline) of the queue whose store-key
/// segment is `queue_b64`, checked exactly as the faithful restore checks line 1 of
/// the file. Public for the fuzz oracles only: the restore reads whole files.
#[doc(hidden)]
pub fn check_side_record_line(queue_b64: &[u8], text: &[u8]) -> Result<SideRow> {
    let label = String::from_utf8_lossy(queue_b64);
    let of = SideRecordsOf {
        label: &label,
        queue_b64,
    };
    of.check_line(1, text)
}

/// The live generation a side row proves, given its full key.
fn generation_proved(family: Family, key: &[u8]) -> Option<u64> {
    let prefix = dispatch::route(key)?;
    let generation = keys::side_key_generation(prefix.rest(key))?;
    match family {
        Family::SqsQueueSeq => None,
        Family::SqsQueueTombstone => generation.checked_add(1),
        _ => Some(generation),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_of_one_generation_get_its_gen_row() {
        let mut g = Generations::default();
        g.side(9);
        g.message(4);
        g.message(4);
        assert_eq!(
            g.restored(),
            Restored {
                meta: 4,
                row: Some(4)
            }
        );
    }

    #[test]
    fn mixed_generations_get_no_gen_row() {
        let mut g = Generations::default();
        g.message(5);
        g.message(4);
        assert_eq!(g.restored(), Restored { meta: 5, row: None });
    }

    #[test]
    fn an_empty_queue_is_live_past_its_tombstones() {
        let mut g = Generations::default();
        assert_eq!(g.restored().row, Some(1));
        let key = keys::tombstone_key(b"q", 3);
        g.side(generation_proved(Family::SqsQueueTombstone, &key).unwrap());
        assert_eq!(
            g.restored(),
            Restored {
                meta: 4,
                row: Some(4)
            }
        );
    }
}

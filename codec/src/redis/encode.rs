//! `redis/db_0/` → snapshot records (FORMAT.md §6.2).
//!
//! The records are those the live adapter writes for the same data, so a restored
//! node serves it unchanged: strings always in the TTL envelope (no scan-index row),
//! HLLs raw unless they expire, collections as consolidated meta rows (count plus
//! inline TTL, no deltas) with their element rows, and a `!redis|ttl|` scan-index row
//! for every expiring non-string key. Emission order is irrelevant (the builder
//! sorts); a record emitted twice is the builder's duplicate-key error.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::encode::{AdapterEncoder, EntrySink};
use crate::error::BoxError;
use crate::tree::segment::{SegmentError, decode_segment};

use super::docs::{self, HashFields, ListItems, SetMembers, StreamLine, ZSetMembers};
use super::elements::{self, JsonLines, KEPT_ELEMENTS_BUDGET};
use super::error::{RedisError, Result};
use super::input::{self, DirEntry};
use super::keymap::{self, Keymap};
use super::keys::{self, StreamId};
use super::proto;
use super::values;

/// The Redis side of an encode: reads `<tree>/redis/db_0/`.
#[derive(Debug)]
pub struct RedisEncoder {
    /// Bytes of decoded elements a collection document may keep between its two
    /// passes (see `elements`); larger documents are read twice instead.
    kept_budget: usize,
}

impl Default for RedisEncoder {
    fn default() -> Self {
        RedisEncoder {
            kept_budget: KEPT_ELEMENTS_BUDGET,
        }
    }
}

impl RedisEncoder {
    /// A new encoder.
    pub fn new() -> Self {
        RedisEncoder::default()
    }

    /// An encoder keeping at most `kept_budget` bytes of a document's elements
    /// between passes (0: every non-empty document is read twice).
    #[cfg(test)]
    pub(crate) fn with_kept_budget(kept_budget: usize) -> Self {
        RedisEncoder { kept_budget }
    }
}

impl AdapterEncoder for RedisEncoder {
    fn encode(
        &mut self,
        adapter_root: &Path,
        sink: &mut dyn EntrySink,
    ) -> std::result::Result<(), BoxError> {
        encode_redis_root(adapter_root, self.kept_budget, sink).map_err(RedisError::boxed)
    }
}

/// Encodes `redis/`: nothing when absent, otherwise exactly one database, `db_0`.
/// The store keys carry no database number, so several databases cannot be told
/// apart after a restore; refusing is the only safe answer.
fn encode_redis_root(root: &Path, kept_budget: usize, sink: &mut dyn EntrySink) -> Result<()> {
    if !input::dump_dir_exists(root)? {
        return Ok(());
    }
    let mut dbs = Vec::new();
    for entry in input::list_dir(root)? {
        let Some(name) = entry.name.to_str().filter(|n| parse_db_name(n).is_some()) else {
            continue;
        };
        if !entry.is_dir {
            return Err(RedisError::EncodeNotDir {
                path: root.join(&entry.name),
                kind: "not a directory",
            });
        }
        dbs.push(name.to_owned());
    }
    match dbs.as_slice() {
        [] => Ok(()),
        [only] if only == "db_0" => {
            let dir = root.join(only);
            // Listed as a directory a moment ago; re-checked without following links.
            if !input::dump_dir_exists(&dir)? {
                return Ok(());
            }
            DbEncoder::open(&dir, kept_budget)?.encode(sink)
        }
        _ => Err(RedisError::EncodeMultiDbUnsupported {
            path: root.to_path_buf(),
            found: dbs,
        }),
    }
}

/// The index of a canonical `db_<N>` name (a non-negative Go `int`, no sign, no
/// leading zeros).
fn parse_db_name(name: &str) -> Option<i64> {
    let digits = name.strip_prefix("db_")?;
    let canonical = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'));
    canonical.then(|| digits.parse().ok()).flatten()
}

/// One database directory being encoded.
struct DbEncoder {
    dir: PathBuf,
    keymap: Keymap,
    kept_budget: usize,
}

/// Where records go; sink refusals keep their own code.
struct Out<'s> {
    sink: &'s mut dyn EntrySink,
}

impl Out<'_> {
    fn add(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        self.sink
            .add(key, value)
            .map_err(|cause| RedisError::Sink { cause })
    }

    /// The `!redis|ttl|` scan-index row, for a TTL that is set and non-zero.
    fn ttl_row(&mut self, user_key: &[u8], expire_at_ms: Option<u64>) -> Result<()> {
        match expire_at_ms {
            Some(ms) if ms != 0 => {
                self.add(&keys::raw_key(keys::TTL, user_key), &values::build_ttl(ms))
            }
            _ => Ok(()),
        }
    }
}

impl DbEncoder {
    fn open(dir: &Path, kept_budget: usize) -> Result<Self> {
        let keymap = keymap::load(&dir.join("KEYMAP.jsonl"))?;
        Ok(DbEncoder {
            dir: dir.to_path_buf(),
            keymap,
            kept_budget,
        })
    }

    /// Encodes every type directory, in the Go encoder's order (which decides which
    /// error is reported first).
    fn encode(&self, sink: &mut dyn EntrySink) -> Result<()> {
        let mut out = Out { sink };
        self.strings(&mut out)?;
        self.hlls(&mut out)?;
        self.each_file("hashes", ".json", |path, user_key| {
            encode_hash(&mut out, user_key, path, self.kept_budget)
        })?;
        self.each_file("sets", ".json", |path, user_key| {
            encode_set(&mut out, user_key, path, self.kept_budget)
        })?;
        self.each_file("lists", ".json", |path, user_key| {
            encode_list(&mut out, user_key, path, self.kept_budget)
        })?;
        self.each_file("zsets", ".json", |path, user_key| {
            encode_zset(&mut out, user_key, path, self.kept_budget)
        })?;
        self.each_file("streams", ".jsonl", |path, user_key| {
            encode_stream(&mut out, path, user_key)
        })
    }

    /// `strings/*.bin`: the TTL from `strings_ttl.jsonl` goes into the envelope.
    fn strings(&self, out: &mut Out<'_>) -> Result<()> {
        let ttls = self.load_ttls("strings_ttl.jsonl")?;
        self.each_file("strings", ".bin", |path, user_key| {
            let body = input::read_dump_file(path)?;
            let ms = ttls.get(stem(path, ".bin")).copied().unwrap_or(0);
            out.add(
                &keys::raw_key(keys::STRING, user_key),
                &values::build_string(&body, ms),
            )
        })
    }

    /// `hll/*.bin`: raw sketch, or the envelope plus a scan-index row when expiring.
    fn hlls(&self, out: &mut Out<'_>) -> Result<()> {
        let ttls = self.load_ttls("hll_ttl.jsonl")?;
        self.each_file("hll", ".bin", |path, user_key| {
            let body = input::read_dump_file(path)?;
            let ms = ttls.get(stem(path, ".bin")).copied().unwrap_or(0);
            out.add(
                &keys::raw_key(keys::HLL, user_key),
                &values::build_hll(&body, ms),
            )?;
            out.ttl_row(user_key, Some(ms))
        })
    }

    /// Reads a TTL sidecar into segment → expiry; later lines win, and lines for
    /// keys without a file are simply never looked up. A `BTreeMap`, not a randomly
    /// seeded `HashMap`, so that runs are repeatable down to the instruction count.
    fn load_ttls(&self, name: &str) -> Result<BTreeMap<String, u64>> {
        let path = self.dir.join(name);
        let mut ttls = BTreeMap::new();
        let Some(file) = input::open_optional_sidecar(&path)? else {
            return Ok(ttls);
        };
        let mut lines = JsonLines::new(file, &path);
        while let Some(value) = lines.next_value()? {
            let line =
                docs::read_ttl_line(&value).map_err(|d| RedisError::invalid_json(&path, d))?;
            ttls.insert(line.key, line.expire_at_ms);
        }
        Ok(ttls)
    }

    /// Calls `each` with the path and user key of every regular `*<ext>` file of a
    /// type directory, in name order. A missing directory is empty; other entries
    /// are skipped.
    fn each_file(
        &self,
        subdir: &str,
        ext: &str,
        mut each: impl FnMut(&Path, &[u8]) -> Result<()>,
    ) -> Result<()> {
        let dir = self.dir.join(subdir);
        if !input::dump_dir_exists(&dir)? {
            return Ok(());
        }
        for DirEntry { name, is_file, .. } in input::list_dir(&dir)? {
            let path = dir.join(&name);
            let Some(segment) = name.as_encoded_bytes().strip_suffix(ext.as_bytes()) else {
                continue;
            };
            if !is_file {
                continue;
            }
            let user_key = self.resolve(&path, segment)?;
            each(&path, &user_key)?;
        }
        Ok(())
    }

    /// The user key a file name stands for: decoded from the segment, or looked up
    /// in KEYMAP for SHA-fallback names.
    fn resolve(&self, path: &Path, segment: &[u8]) -> Result<Vec<u8>> {
        let invalid = |detail: String| RedisError::InvalidSegment {
            path: path.to_path_buf(),
            detail,
        };
        let segment = std::str::from_utf8(segment).map_err(|_| invalid("not UTF-8".into()))?;
        match decode_segment(segment) {
            Ok(raw) => Ok(raw),
            Err(SegmentError::ShaFallbackNeedsKeymap { .. }) => self
                .keymap
                .original(segment)
                .map(<[u8]>::to_vec)
                .ok_or_else(|| RedisError::EncodeMissingKeymap {
                    path: path.to_path_buf(),
                    encoded: segment.to_owned(),
                }),
            Err(other) => Err(invalid(other.to_string())),
        }
    }
}

/// The segment of a file path (its name without `ext`), as the TTL sidecars key it.
fn stem<'p>(path: &'p Path, ext: &str) -> &'p str {
    path.file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_suffix(ext))
        .unwrap_or_default()
}

/// `hashes/<key>.json`: the meta row (count, inline TTL), one row per field, the
/// scan-index TTL row.
fn encode_hash(out: &mut Out<'_>, user_key: &[u8], path: &Path, budget: usize) -> Result<()> {
    let hash = elements::check_document::<HashFields>(path, budget)?;
    let expire_at_ms = hash.expire_at_ms();
    let meta = values::build_count_meta(hash.count(), expire_at_ms);
    out.add(&keys::wide_key(keys::HASH_META, user_key, b""), &meta)?;
    hash.for_each(|(name, value)| {
        out.add(&keys::wide_key(keys::HASH_FIELD, user_key, &name), &value)
    })?;
    out.ttl_row(user_key, expire_at_ms)
}

/// `sets/<key>.json`: meta row, one empty-valued row per member, TTL row.
fn encode_set(out: &mut Out<'_>, user_key: &[u8], path: &Path, budget: usize) -> Result<()> {
    let set = elements::check_document::<SetMembers>(path, budget)?;
    let expire_at_ms = set.expire_at_ms();
    let meta = values::build_count_meta(set.count(), expire_at_ms);
    out.add(&keys::wide_key(keys::SET_META, user_key, b""), &meta)?;
    set.for_each(|member| out.add(&keys::wide_key(keys::SET_MEMBER, user_key, &member), b""))?;
    out.ttl_row(user_key, expire_at_ms)
}

/// `lists/<key>.json`. Lists get the canonical numbering 0..n (Head 0, Tail = Len =
/// n): the original sequence numbers are not in the dump and only their order matters.
fn encode_list(out: &mut Out<'_>, user_key: &[u8], path: &Path, budget: usize) -> Result<()> {
    let list = elements::check_document::<ListItems>(path, budget)?;
    let expire_at_ms = list.expire_at_ms();
    let meta = values::build_list_meta(list.count(), expire_at_ms);
    out.add(&keys::raw_key(keys::LIST_META, user_key), &meta)?;
    let mut seq = 0i64;
    list.for_each(|item| {
        out.add(&keys::list_item_key(user_key, seq), &item)?;
        seq = seq.wrapping_add(1);
        Ok(())
    })?;
    out.ttl_row(user_key, expire_at_ms)
}

/// `zsets/<key>.json`. Zsets get both indexes the live write path maintains: member
/// → score and the score-ordered `!zs|scr|` rows.
fn encode_zset(out: &mut Out<'_>, user_key: &[u8], path: &Path, budget: usize) -> Result<()> {
    let zset = elements::check_document::<ZSetMembers>(path, budget)?;
    let expire_at_ms = zset.expire_at_ms();
    let meta = values::build_count_meta(zset.count(), expire_at_ms);
    out.add(&keys::wide_key(keys::ZSET_META, user_key, b""), &meta)?;
    zset.for_each(|(member, score)| {
        out.add(
            &keys::wide_key(keys::ZSET_MEMBER, user_key, &member),
            &values::build_zset_score(score),
        )?;
        out.add(&keys::zset_score_key(user_key, score, &member), b"")
    })?;
    out.ttl_row(user_key, expire_at_ms)
}

/// What the entry lines of a stream file add up to, checked against `_meta`.
#[derive(Debug, Default)]
struct StreamTally {
    entries: u64,
    max_id: Option<StreamId>,
}

/// `streams/<key>.jsonl`: entry lines become entry rows as they are read; exactly
/// one `_meta` line must agree with them (length, and a last ID not behind any entry,
/// or a later XADD `*` could reuse an ID).
fn encode_stream(out: &mut Out<'_>, path: &Path, user_key: &[u8]) -> Result<()> {
    let mut lines = JsonLines::open(path)?;
    let mut meta = None;
    let mut tally = StreamTally::default();
    while let Some(value) = lines.next_value()? {
        match docs::read_stream_line(&value).map_err(|d| RedisError::invalid_json(path, d))? {
            StreamLine::Meta { .. } if meta.is_some() => {
                return Err(RedisError::invalid_json(path, "more than one _meta line"));
            }
            line @ StreamLine::Meta { .. } => meta = Some(line),
            StreamLine::Entry {
                id_text,
                id,
                fields,
            } => {
                let fields = fields
                    .into_iter()
                    .map(String::from_utf8)
                    .collect::<std::result::Result<Vec<_>, _>>()
                    .map_err(|_| {
                        RedisError::invalid_json(
                            path,
                            format!(
                                "entry {id_text}: stream fields must be UTF-8 (protobuf strings)"
                            ),
                        )
                    })?;
                out.add(
                    &keys::stream_entry_key(user_key, id),
                    &proto::build_stream_entry(&id_text, fields),
                )?;
                tally.entries += 1;
                tally.max_id = tally.max_id.max(Some(id));
            }
        }
    }
    let Some(StreamLine::Meta {
        length,
        last,
        expire_at_ms,
    }) = meta
    else {
        return Err(RedisError::invalid_json(path, "missing _meta line"));
    };
    check_stream_meta(path, length, last, &tally)?;
    let meta = values::build_stream_meta(length.unsigned_abs(), last, expire_at_ms);
    out.add(&keys::wide_key(keys::STREAM_META, user_key, b""), &meta)?;
    out.ttl_row(user_key, expire_at_ms)
}

fn check_stream_meta(path: &Path, length: i64, last: StreamId, tally: &StreamTally) -> Result<()> {
    if length < 0 {
        return Err(RedisError::invalid_json(
            path,
            format!("negative _meta length {length}"),
        ));
    }
    if length.unsigned_abs() != tally.entries {
        return Err(RedisError::invalid_json(
            path,
            format!(
                "_meta length {length} disagrees with {} entry lines",
                tally.entries
            ),
        ));
    }
    if let Some(max) = tally.max_id.filter(|max| *max > last) {
        return Err(RedisError::invalid_json(
            path,
            format!("_meta last id {last} is behind entry {max}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn db_names_are_canonical_decimals() {
        assert_eq!(parse_db_name("db_0"), Some(0));
        assert_eq!(parse_db_name("db_12"), Some(12));
        for bad in [
            "db_",
            "db_01",
            "db_-1",
            "db_+1",
            "db_1a",
            "DB_0",
            "db_99999999999999999999",
        ] {
            assert_eq!(parse_db_name(bad), None, "{bad}");
        }
    }
}

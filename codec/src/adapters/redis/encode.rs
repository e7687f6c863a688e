//! `redis/db_0/` → snapshot records (docs/format.md §6.2).
//!
//! The records are those the live adapter writes for the same data, so a restored
//! node serves it unchanged: strings always in the TTL envelope (no scan-index row),
//! HLLs raw unless they expire, collections as consolidated meta rows (count plus
//! inline TTL, no deltas) with their element rows, and a `!redis|ttl|` scan-index row
//! for every expiring non-string key. Emission order is irrelevant (the builder
//! sorts); a record emitted twice is the builder's duplicate-key error.
//!
//! Memory does not grow with the tree: collection documents are read an element at a
//! time (`elements`), and directory listings, TTL sidecars and the KEYMAP go through
//! external sorts joined by file name (`join`), within the sort budget given.

use std::ffi::OsStr;
use std::fs::File;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::adapter::{AdapterEncoder, EntrySink};
use crate::error::BoxError;
use crate::sort::SortOptions;
use crate::tree::fs::DumpDir;
use crate::tree::segment::{SegmentError, decode_segment};

use super::docs::{self, ElementKind, HashFields, ListItems, SetMembers, StreamLine, ZSetMembers};
use super::elements::{self, CheckedDoc, JsonLines, KEPT_ELEMENTS_BUDGET};
use super::error::{RedisError, Result};
use super::input::{self, DirEntry};
use super::join::TtlJoin;
use super::keymap::{self, Keymap, KeymapJoin};
use super::keys::{self, StreamId};
use super::proto;
use super::spill::SortSpace;
use super::values;

/// The Redis side of an encode: reads `<tree>/redis/db_0/`.
#[derive(Debug)]
pub struct RedisEncoder {
    /// Bytes of decoded elements a collection document may keep between its two
    /// passes (see `elements`); larger documents are read twice instead.
    kept_budget: usize,
    /// Where listings and sidecar joins sort.
    space: SortSpace,
}

impl Default for RedisEncoder {
    fn default() -> Self {
        RedisEncoder::with_sort(&SortOptions::default())
    }
}

impl RedisEncoder {
    /// A new encoder sorting with the default budget in the system temp dir.
    pub fn new() -> Self {
        RedisEncoder::default()
    }

    /// An encoder whose sorts (directory listings, TTL sidecars, KEYMAP) spill under
    /// `sort.scratch_dir` and together buffer about `sort.memory_budget` bytes of
    /// records (see [`SortOptions::memory_budget`] for the slack).
    pub fn with_sort(sort: &SortOptions) -> Self {
        RedisEncoder {
            kept_budget: KEPT_ELEMENTS_BUDGET,
            space: SortSpace::new(sort),
        }
    }

    /// Sorted runs spilled to scratch by the sorts finished so far (0: everything
    /// fit in memory).
    pub fn runs_spilled(&self) -> u64 {
        self.space.runs_spilled()
    }

    /// An encoder keeping at most `kept_budget` bytes of a document's elements
    /// between passes (0: every non-empty document is read twice).
    #[cfg(test)]
    pub(crate) fn with_kept_budget(kept_budget: usize) -> Self {
        RedisEncoder {
            kept_budget,
            ..RedisEncoder::default()
        }
    }
}

impl AdapterEncoder for RedisEncoder {
    fn encode(
        &mut self,
        adapter_root: &Path,
        sink: &mut dyn EntrySink,
    ) -> std::result::Result<(), BoxError> {
        encode_redis_root(adapter_root, self.kept_budget, &self.space, sink)
            .map_err(RedisError::boxed)
    }
}

/// Encodes `redis/`: nothing when absent, otherwise exactly one database, `db_0`.
/// The store keys carry no database number, so several databases cannot be told
/// apart after a restore; refusing is the only safe answer.
fn encode_redis_root(
    root: &Path,
    kept_budget: usize,
    space: &SortSpace,
    sink: &mut dyn EntrySink,
) -> Result<()> {
    if !input::dump_dir_exists(root)? {
        return Ok(());
    }
    let dbs = list_db_names(root, space)?;
    match dbs.as_slice() {
        [] => Ok(()),
        [only] if only == "db_0" => {
            let dir = root.join(only);
            // Listed as a directory a moment ago; re-checked without following links.
            if !input::dump_dir_exists(&dir)? {
                return Ok(());
            }
            DbEncoder::open(&dir, kept_budget, space)?.encode(sink)
        }
        _ => Err(RedisError::EncodeMultiDbUnsupported {
            path: root.to_path_buf(),
            found: dbs,
        }),
    }
}

/// The `db_<N>` entries of `redis/`, in name order; one that is not a directory is
/// an error. Other names are ignored.
fn list_db_names(root: &Path, space: &SortSpace) -> Result<Vec<String>> {
    let mut listing = input::list_dir(root, space)?;
    let mut dbs = Vec::new();
    while let Some(entry) = listing.current()? {
        if let Some(name) = entry.name.to_str().filter(|n| parse_db_name(n).is_some()) {
            if !entry.is_dir {
                return Err(RedisError::EncodeNotDir {
                    path: root.join(entry.name),
                    kind: "not a directory",
                });
            }
            dbs.push(name.to_owned());
        }
        listing.advance()?;
    }
    Ok(dbs)
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
struct DbEncoder<'s> {
    dir: PathBuf,
    keymap: Keymap,
    kept_budget: usize,
    space: &'s SortSpace,
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

/// A file of a type directory, about to be encoded.
struct KeyFile<'f> {
    /// The type directory, by handle.
    dir: &'f DumpDir,
    path: &'f Path,
    /// Its name in the directory: what the TTL sidecars are joined on.
    name: &'f [u8],
    user_key: &'f [u8],
}

impl KeyFile<'_> {
    /// Opens the file by its directory's handle.
    fn open(&self) -> Result<File> {
        input::open_listed(self.dir, OsStr::from_bytes(self.name))
    }

    /// The whole file behind `room` zeroed bytes.
    fn read_with_room(&self, room: usize) -> Result<Vec<u8>> {
        input::read_listed_with_room(self.dir, OsStr::from_bytes(self.name), room)
    }

    /// The first pass over a collection document.
    fn check_document<K: ElementKind>(&self, budget: usize) -> Result<CheckedDoc<K>> {
        elements::check_opened_document(self.open()?, self.path, budget)
    }
}

impl<'s> DbEncoder<'s> {
    fn open(dir: &Path, kept_budget: usize, space: &'s SortSpace) -> Result<Self> {
        let keymap = keymap::load(&dir.join("KEYMAP.jsonl"), space)?;
        Ok(DbEncoder {
            dir: dir.to_path_buf(),
            keymap,
            kept_budget,
            space,
        })
    }

    /// Encodes every type directory, in the Go encoder's order (which decides which
    /// error is reported first).
    fn encode(&mut self, sink: &mut dyn EntrySink) -> Result<()> {
        let mut out = Out { sink };
        let budget = self.kept_budget;
        self.strings(&mut out)?;
        self.hlls(&mut out)?;
        self.each_file("hashes", ".json", |file| {
            encode_hash(&mut out, file, budget)
        })?;
        self.each_file("sets", ".json", |file| encode_set(&mut out, file, budget))?;
        self.each_file("lists", ".json", |file| encode_list(&mut out, file, budget))?;
        self.each_file("zsets", ".json", |file| encode_zset(&mut out, file, budget))?;
        self.each_file("streams", ".jsonl", |file| encode_stream(&mut out, file))
    }

    /// `strings/*.bin`: the TTL from `strings_ttl.jsonl` goes into the envelope.
    fn strings(&mut self, out: &mut Out<'_>) -> Result<()> {
        let mut ttls = self.load_ttls("strings_ttl.jsonl")?;
        self.each_file("strings", ".bin", |file| {
            // The body is read once, behind room for the envelope: never copied.
            let mut buf = file.read_with_room(values::ENVELOPE_ROOM)?;
            let ms = ttls.expiry_of(file.name)?;
            out.add(
                &keys::raw_key(keys::STRING, file.user_key),
                values::string_in_place(&mut buf, ms),
            )
        })
    }

    /// `hll/*.bin`: raw sketch, or the envelope plus a scan-index row when expiring.
    fn hlls(&mut self, out: &mut Out<'_>) -> Result<()> {
        let mut ttls = self.load_ttls("hll_ttl.jsonl")?;
        self.each_file("hll", ".bin", |file| {
            let mut buf = file.read_with_room(values::ENVELOPE_ROOM)?;
            let ms = ttls.expiry_of(file.name)?;
            out.add(
                &keys::raw_key(keys::HLL, file.user_key),
                values::hll_in_place(&mut buf, ms),
            )?;
            out.ttl_row(file.user_key, Some(ms))
        })
    }

    /// Reads a TTL sidecar, keyed by the `.bin` file each line names; later lines
    /// win, and lines for keys without a file are simply never looked up.
    fn load_ttls(&self, name: &str) -> Result<TtlJoin> {
        TtlJoin::load(&self.dir.join(name), ".bin", self.space)
    }

    /// Calls `each` with every `*<ext>` file of a type directory, in name order. A
    /// missing directory is empty; other regular files are skipped. An entry that is
    /// not a regular file, whatever its name, is refused: Go skips it, and the key
    /// it stands for would be missing from the snapshot (docs/format.md §9.1).
    fn each_file(
        &mut self,
        subdir: &str,
        ext: &str,
        mut each: impl FnMut(&KeyFile<'_>) -> Result<()>,
    ) -> Result<()> {
        let dir = self.dir.join(subdir);
        if !input::dump_dir_exists(&dir)? {
            return Ok(());
        }
        let handle = input::open_type_dir(&dir)?;
        let mut listing = input::list_dir(&dir, self.space)?;
        let mut keymap = self.keymap.join(ext, self.space);
        while let Some(DirEntry {
            name,
            is_file,
            is_dir,
        }) = listing.current()?
        {
            if !is_file {
                return Err(input::not_regular_entry(&dir.join(name), is_dir));
            }
            let name = name.as_bytes();
            if let Some(segment) = name.strip_suffix(ext.as_bytes()) {
                let path = dir.join(std::ffi::OsStr::from_bytes(name));
                let user_key = resolve(&path, name, segment, &mut keymap)?;
                each(&KeyFile {
                    dir: &handle,
                    path: &path,
                    name,
                    user_key: &user_key,
                })?;
            }
            listing.advance()?;
        }
        Ok(())
    }
}

/// The user key file `name` (`<segment><ext>`) stands for: decoded from the segment,
/// or looked up in KEYMAP for SHA-fallback names.
fn resolve(
    path: &Path,
    name: &[u8],
    segment: &[u8],
    keymap: &mut KeymapJoin<'_>,
) -> Result<Vec<u8>> {
    let invalid = |detail: String| RedisError::InvalidSegment {
        path: path.to_path_buf(),
        detail,
    };
    let segment = std::str::from_utf8(segment).map_err(|_| invalid("not UTF-8".into()))?;
    match decode_segment(segment) {
        Ok(raw) => Ok(raw),
        Err(SegmentError::ShaFallbackNeedsKeymap { .. }) => keymap
            .original_of(name)?
            .map(<[u8]>::to_vec)
            .ok_or_else(|| RedisError::EncodeMissingKeymap {
                path: path.to_path_buf(),
                encoded: segment.to_owned(),
            }),
        Err(other) => Err(invalid(other.to_string())),
    }
}

/// `hashes/<key>.json`: the meta row (count, inline TTL), one row per field, the
/// scan-index TTL row.
fn encode_hash(out: &mut Out<'_>, file: &KeyFile<'_>, budget: usize) -> Result<()> {
    let user_key = file.user_key;
    let hash = file.check_document::<HashFields>(budget)?;
    let expire_at_ms = hash.expire_at_ms();
    let meta = values::build_count_meta(hash.count(), expire_at_ms);
    out.add(&keys::wide_key(keys::HASH_META, user_key, b""), &meta)?;
    hash.for_each(|(name, value)| {
        out.add(&keys::wide_key(keys::HASH_FIELD, user_key, &name), &value)
    })?;
    out.ttl_row(user_key, expire_at_ms)
}

/// `sets/<key>.json`: meta row, one empty-valued row per member, TTL row.
fn encode_set(out: &mut Out<'_>, file: &KeyFile<'_>, budget: usize) -> Result<()> {
    let user_key = file.user_key;
    let set = file.check_document::<SetMembers>(budget)?;
    let expire_at_ms = set.expire_at_ms();
    let meta = values::build_count_meta(set.count(), expire_at_ms);
    out.add(&keys::wide_key(keys::SET_META, user_key, b""), &meta)?;
    set.for_each(|member| out.add(&keys::wide_key(keys::SET_MEMBER, user_key, &member), b""))?;
    out.ttl_row(user_key, expire_at_ms)
}

/// `lists/<key>.json`. Lists get the canonical numbering 0..n (Head 0, Tail = Len =
/// n): the original sequence numbers are not in the dump and only their order matters.
fn encode_list(out: &mut Out<'_>, file: &KeyFile<'_>, budget: usize) -> Result<()> {
    let user_key = file.user_key;
    let list = file.check_document::<ListItems>(budget)?;
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
fn encode_zset(out: &mut Out<'_>, file: &KeyFile<'_>, budget: usize) -> Result<()> {
    let user_key = file.user_key;
    let zset = file.check_document::<ZSetMembers>(budget)?;
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
fn encode_stream(out: &mut Out<'_>, file: &KeyFile<'_>) -> Result<()> {
    let (path, user_key) = (file.path, file.user_key);
    let mut lines = JsonLines::new(file.open()?, path);
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
    use std::fs;

    use super::*;
    use crate::tree::bsv::encode_base64url;
    use crate::tree::segment::encode_segment;

    /// Records in emission order.
    #[derive(Default)]
    struct Collect(Vec<(Vec<u8>, Vec<u8>)>);

    impl EntrySink for Collect {
        fn add(&mut self, user_key: &[u8], value: &[u8]) -> std::result::Result<(), BoxError> {
            self.0.push((user_key.to_vec(), value.to_vec()));
            Ok(())
        }
    }

    /// The records, or the error's code and message.
    type Outcome = std::result::Result<Vec<(Vec<u8>, Vec<u8>)>, (String, String)>;

    /// Encodes `redis_root` with sorts of `budget` bytes; also returns the runs spilled.
    fn encode_with_budget(redis_root: &Path, budget: usize) -> (Outcome, u64) {
        let scratch = tempfile::tempdir().unwrap();
        let mut encoder = RedisEncoder::with_sort(&SortOptions {
            memory_budget: budget,
            scratch_dir: scratch.path().to_path_buf(),
        });
        let mut sink = Collect::default();
        let outcome = match encoder.encode(redis_root, &mut sink) {
            Ok(()) => Ok(sink.0),
            Err(e) => Err((e.code().to_owned(), e.to_string())),
        };
        (outcome, encoder.runs_spilled())
    }

    /// Spilling every listing and join to scratch (sorts of one byte: every record
    /// after a sort's first is a run of its own) changes nothing: same records in
    /// the same order, or the same error. Returns that and the runs spilled.
    fn assert_spilling_changes_nothing(redis_root: &Path) -> (Outcome, u64) {
        let (in_memory, in_memory_runs) = encode_with_budget(redis_root, usize::MAX);
        let (spilled, spilled_runs) = encode_with_budget(redis_root, 1);
        assert_eq!(in_memory_runs, 0);
        assert_eq!(spilled, in_memory, "{}", redis_root.display());
        (in_memory, spilled_runs)
    }

    fn write(path: &Path, body: impl AsRef<[u8]>) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, body).unwrap();
    }

    fn ttl_line(key: &str, ms: u64) -> String {
        format!("{{\"key\":\"{key}\",\"expire_at_ms\":{ms}}}\n")
    }

    fn keymap_line(encoded: &str, original: &[u8]) -> String {
        format!(
            "{{\"encoded\":\"{encoded}\",\"original\":\"{}\",\"kind\":\"sha-fallback\"}}\n",
            encode_base64url(original)
        )
    }

    /// The value of the record keyed `key`.
    fn value_of<'r>(records: &'r [(Vec<u8>, Vec<u8>)], key: &[u8]) -> Option<&'r [u8]> {
        records
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_slice())
    }

    /// A database exercising the joins: file-name order differing from key order
    /// (`a-.bin` < `a.bin`, `a` < `a-`), repeated TTL lines (the latest wins), TTL
    /// lines without a file, SHA-fallback names resolved through a KEYMAP with
    /// repeated records, in a string and a hash directory, and enough files that the
    /// sorts spill several runs.
    fn joins_tree(db: &Path) -> (Vec<u8>, Vec<u8>) {
        let long_string = vec![b'S'; 300];
        let long_hash = vec![b'H'; 300];
        let (string_name, hash_name) = (encode_segment(&long_string), encode_segment(&long_hash));
        for name in ["a", "a-", "a.", "b", "b-"] {
            write(&db.join(format!("strings/{name}.bin")), name);
            write(&db.join(format!("hll/{name}.bin")), format!("hll {name}"));
        }
        for i in 0..50 {
            write(&db.join(format!("strings/n{i}.bin")), format!("v{i}"));
        }
        write(&db.join(format!("strings/{string_name}.bin")), "long");
        write(&db.join("strings/not-a-string.json"), "skipped");
        write(
            &db.join(format!("hashes/{hash_name}.json")),
            r#"{"format_version":1,"fields":[{"name":"f","value":"v"}],"expire_at_ms":null}"#,
        );
        let sidecar = [
            ttl_line("a", 10),
            ttl_line("a-", 20),
            ttl_line("gone", 30),
            ttl_line("a", 11),
            ttl_line(&string_name, 40),
            ttl_line("a-", 21),
            ttl_line("n7", 70),
            ttl_line("a", 12),
        ];
        write(&db.join("strings_ttl.jsonl"), sidecar.concat());
        write(
            &db.join("hll_ttl.jsonl"),
            [ttl_line("b-", 5), ttl_line("b", 6), ttl_line("b-", 7)].concat(),
        );
        let keymap = [
            keymap_line(&string_name, b"stale"),
            keymap_line(&hash_name, &long_hash),
            keymap_line(&string_name, &long_string),
        ];
        write(&db.join("KEYMAP.jsonl"), keymap.concat());
        (long_string, long_hash)
    }

    #[test]
    fn spilled_joins_match_in_memory_ones() {
        let root = tempfile::tempdir().unwrap();
        let redis = root.path().join("redis");
        let (long_string, long_hash) = joins_tree(&redis.join("db_0"));
        let (records, runs) = assert_spilling_changes_nothing(&redis);
        let records = records.unwrap();
        assert!(runs > 60, "every listing and join spilled: {runs} runs");
        let string = |key: &[u8]| value_of(&records, &keys::raw_key(keys::STRING, key));
        let expiring = |ms: u64, body: &[u8]| values::build_string(body, ms);
        assert_eq!(string(b"a"), Some(&expiring(12, b"a")[..]), "latest line");
        assert_eq!(string(b"a-"), Some(&expiring(21, b"a-")[..]), "latest line");
        assert_eq!(string(b"a."), Some(&expiring(0, b"a.")[..]));
        assert_eq!(string(b"n7"), Some(&expiring(70, b"v7")[..]));
        assert_eq!(string(&long_string), Some(&expiring(40, b"long")[..]));
        assert_eq!(string(b"gone"), None, "a TTL line makes no key");
        let hll = |key: &[u8]| value_of(&records, &keys::raw_key(keys::HLL, key));
        assert_eq!(hll(b"b-"), Some(&values::build_hll(b"hll b-", 7)[..]));
        assert_eq!(hll(b"b"), Some(&values::build_hll(b"hll b", 6)[..]));
        assert_eq!(hll(b"a"), Some(&b"hll a"[..]));
        let hash_meta = keys::wide_key(keys::HASH_META, &long_hash, b"");
        assert!(
            value_of(&records, &hash_meta).is_some(),
            "resolved via KEYMAP"
        );
        // 56 strings + 5 HLLs + 2 HLL TTL rows + hash meta and field.
        assert_eq!(records.len(), 65);
    }

    /// A bad sidecar line is reported before any file of its directory is read,
    /// whatever the budget.
    #[test]
    fn sidecar_errors_outrank_their_directory_and_survive_spilling() {
        let root = tempfile::tempdir().unwrap();
        let redis = root.path().join("redis");
        let db = redis.join("db_0");
        joins_tree(&db);
        // A name the KEYMAP cannot resolve: an error, but only once the walk gets there.
        let orphan = encode_segment(&[b'O'; 300]);
        write(&db.join(format!("strings/{orphan}.bin")), "x");
        let (code, message) = assert_spilling_changes_nothing(&redis).0.unwrap_err();
        assert_eq!(code, "redis-encode-missing-keymap", "{message}");
        let mut sidecar = fs::read(db.join("strings_ttl.jsonl")).unwrap();
        sidecar.extend_from_slice(b"{\"key\":\"z\",\"expire_at_ms\":\"soon\"}\n");
        write(&db.join("strings_ttl.jsonl"), &sidecar);
        let (code, message) = assert_spilling_changes_nothing(&redis).0.unwrap_err();
        assert_eq!(code, "redis-encode-invalid-json", "{message}");
        assert!(message.contains("strings_ttl.jsonl"), "{message}");
    }

    /// Every vector tree encodes to the same records (or error) when every listing
    /// and join spills.
    #[test]
    fn vector_trees_encode_alike_when_spilling() {
        let (mut trees, mut runs) = (0, 0);
        for case in fs::read_dir(elastickv_testkit::vectors::dir()).unwrap() {
            let redis = case.unwrap().path().join("tree/redis");
            if redis.is_dir() {
                runs += assert_spilling_changes_nothing(&redis).1;
                trees += 1;
            }
        }
        assert!(trees > 0, "no vector trees found");
        assert!(runs > 0, "nothing spilled");
    }

    /// Go skips every entry of a type directory that is not a regular file, so the key
    /// it stands for silently vanishes from the snapshot. Here each one is refused,
    /// naming the entry, whatever its name (docs/format.md §8.3, §9.1).
    #[test]
    fn type_directories_refuse_every_non_regular_entry() {
        use std::os::unix::fs::symlink;
        let outside = tempfile::tempdir().unwrap();
        let outside_file = outside.path().join("secret.bin");
        write(&outside_file, "outside");
        type Plant = Box<dyn Fn(&Path, &Path) -> std::io::Result<()>>;
        let cases: Vec<(&str, &str, Plant)> = vec![
            (
                "strings/b.bin",
                "a symlink",
                Box::new(|db, at| symlink(db.join("strings/a.bin"), at)),
            ),
            (
                "strings/c.bin",
                "a symlink",
                Box::new(move |_, at| symlink(&outside_file, at)),
            ),
            (
                "strings/dangling.bin",
                "a symlink",
                Box::new(|db, at| symlink(db.join("nowhere"), at)),
            ),
            (
                "hll/f.bin",
                "a FIFO",
                Box::new(|_, at| {
                    let status = std::process::Command::new("mkfifo").arg(at).status()?;
                    assert!(status.success());
                    Ok(())
                }),
            ),
            (
                "sets/s.json",
                "a socket",
                Box::new(|_, at| std::os::unix::net::UnixListener::bind(at).map(drop)),
            ),
            (
                "hashes/x.json",
                "a directory",
                Box::new(|_, at| fs::create_dir(at)),
            ),
            (
                "zsets/sub",
                "a directory",
                Box::new(|_, at| fs::create_dir(at)),
            ),
            (
                "streams/link",
                "a symlink",
                Box::new(|db, at| symlink(db.join("strings"), at)),
            ),
            (
                "lists/dev.json",
                "a character device",
                Box::new(|_, at| {
                    // /dev/null's numbers (1, 3); needs CAP_MKNOD.
                    let out = std::process::Command::new("mknod")
                        .arg(at)
                        .args(["c", "1", "3"])
                        .output()?;
                    match out.status.success() {
                        true => Ok(()),
                        false => Err(std::io::Error::other(
                            String::from_utf8_lossy(&out.stderr).trim().to_owned(),
                        )),
                    }
                }),
            ),
        ];
        for (rel, kind, plant) in cases {
            let root = tempfile::tempdir().unwrap();
            let redis = root.path().join("redis");
            let db = redis.join("db_0");
            write(&db.join("strings/a.bin"), "alpha");
            let at = db.join(rel);
            fs::create_dir_all(at.parent().unwrap()).unwrap();
            if let Err(e) = plant(&db, &at) {
                eprintln!("skipping {rel} ({kind}): cannot create it here: {e}");
                continue;
            }
            let (outcome, _) = assert_spilling_changes_nothing(&redis);
            let (code, message) = outcome.expect_err(rel);
            assert_eq!(code, "redis-encode-not-regular", "{rel}: {message}");
            assert!(
                message.contains(&at.display().to_string()) && message.contains(kind),
                "{rel}: {message}"
            );
        }
    }

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

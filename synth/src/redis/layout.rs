//! The live layout (docs/format.md §3.4), written from the spec, not with the codec's
//! builders (a test checks they agree), and the encoder's canonical one (§6.2).

use std::collections::BTreeMap;

use elastickv_codec::adapters::redis::keys::{self, StreamId};
use elastickv_codec::adapters::redis::{proto, values};
use elastickv_splitmix::SplitMix64;

use super::generate::Mix;
use super::model::{
    CountForm, HllForm, Layout, MetaForm, RedisDb, RedisKey, StreamMetaForm, StringForm, Value,
    ZSetForm,
};
use crate::model::{Entry, EntrySet};

const SIGN: u64 = 1 << 63;

fn be(v: u64) -> [u8; 8] {
    v.to_be_bytes()
}

/// `prefix ‖ BE32(len) ‖ key ‖ suffix`.
fn l4(prefix: &[u8], key: &[u8], suffix: &[u8]) -> Vec<u8> {
    let mut out = prefix.to_vec();
    out.extend_from_slice(&(key.len() as u32).to_be_bytes());
    out.extend_from_slice(key);
    out.extend_from_slice(suffix);
    out
}

fn raw(prefix: &[u8], key: &[u8]) -> Vec<u8> {
    [prefix, key].concat()
}

fn sortable_seq(seq: i64) -> [u8; 8] {
    be((seq as u64) ^ SIGN)
}

fn sortable_score(score: f64) -> [u8; 8] {
    let bits = if score == 0.0 { 0 } else { score.to_bits() };
    be(if bits & SIGN == 0 { bits ^ SIGN } else { !bits })
}

fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn proto_bytes(field: u64, bytes: &[u8], out: &mut Vec<u8>) {
    varint(field << 3 | 2, out);
    varint(bytes.len() as u64, out);
    out.extend_from_slice(bytes);
}

/// `\0RXE\x01` + `RedisStreamEntry{1 id, 2 fields…}`.
fn stream_entry_value(id: &str, fields: &[(String, String)]) -> Vec<u8> {
    let mut out = b"\0RXE\x01".to_vec();
    if !id.is_empty() {
        proto_bytes(1, id.as_bytes(), &mut out);
    }
    for (name, value) in fields {
        proto_bytes(2, name.as_bytes(), &mut out);
        proto_bytes(2, value.as_bytes(), &mut out);
    }
    out
}

/// `\0RZ\x01` + `RedisZSetValue{1 entries {1 member, 2 score}}`.
fn zset_blob(members: &[(&[u8], f64)], explicit_defaults: bool) -> Vec<u8> {
    let mut out = b"\0RZ\x01".to_vec();
    for (member, score) in members {
        let mut entry = Vec::new();
        if explicit_defaults || !member.is_empty() {
            proto_bytes(1, member, &mut entry);
        }
        if explicit_defaults || score.to_bits() != 0 {
            varint(2 << 3 | 1, &mut entry);
            entry.extend_from_slice(&score.to_le_bytes());
        }
        proto_bytes(1, &entry, &mut out);
    }
    out
}

/// Collects one key's rows, each stamped a little older than (or as old as) the key.
struct Rows<'a> {
    out: &'a mut Vec<Entry>,
    ts: u64,
    rng: SplitMix64,
}

impl Rows<'_> {
    fn push(&mut self, user_key: Vec<u8>, body: Vec<u8>) {
        let commit_ts = self.ts - self.rng.below(64);
        let expire_at = if self.rng.chance(10) {
            self.rng.next_u64()
        } else {
            0
        };
        self.out.push(Entry {
            user_key,
            commit_ts,
            tombstone: false,
            expire_at,
            body,
        });
    }

    fn ttl_row(&mut self, name: &[u8], ms: Option<u64>) {
        if let Some(ms) = ms {
            self.push(raw(b"!redis|ttl|", name), be(ms).to_vec());
        }
    }
}

/// The count a meta row declares when `deltas` delta rows hold the rest.
fn declared(n: usize, deltas: u8) -> u64 {
    (n as u64).saturating_sub(u64::from(deltas))
}

impl RedisKey {
    /// The key's rows as a live node stores them.
    fn live_rows(&self, out: &mut Vec<Entry>) {
        if self.layout == Layout::Canonical {
            let mut rows = Rows {
                out,
                ts: self.commit_ts,
                rng: SplitMix64(self.seed),
            };
            for (user_key, body) in self.canonical_rows(self.stored_ttl) {
                rows.push(user_key, body);
            }
            return;
        }
        let mut rows = Rows {
            out,
            ts: self.commit_ts,
            rng: SplitMix64(self.seed),
        };
        let k = self.name.as_slice();
        let ttl = self.stored_ttl;
        let ms = ttl.unwrap_or(0);
        match (&self.layout, &self.value) {
            (Layout::String(form), Value::String(body)) => match *form {
                StringForm::Envelope {
                    noise,
                    stale_ttl_row,
                } => {
                    let mut v = vec![0xFF, 0x01];
                    match ttl {
                        Some(ms) => {
                            v.push(noise | 1);
                            v.extend_from_slice(&be(ms));
                        }
                        None => v.push(noise),
                    }
                    v.extend_from_slice(body);
                    rows.push(raw(b"!redis|str|", k), v);
                    rows.ttl_row(k, stale_ttl_row);
                }
                StringForm::ZeroExpiry {
                    noise,
                    stale_ttl_row,
                } => {
                    let mut v = vec![0xFF, 0x01, noise | 1];
                    v.extend_from_slice(&[0; 8]);
                    v.extend_from_slice(body);
                    rows.push(raw(b"!redis|str|", k), v);
                    rows.ttl_row(k, stale_ttl_row);
                }
                StringForm::Legacy => {
                    rows.push(raw(b"!redis|str|", k), body.clone());
                    rows.ttl_row(k, ttl);
                }
            },
            (Layout::Hll(form), Value::Hll(sketch)) => match *form {
                HllForm::Raw => {
                    rows.push(raw(b"!redis|hll|", k), sketch.clone());
                    rows.ttl_row(k, ttl);
                }
                HllForm::Envelope {
                    noise,
                    stale_ttl_row,
                } => {
                    let mut v = vec![0xFF, 0x02];
                    match ttl {
                        Some(ms) => {
                            v.push(noise | 1);
                            v.extend_from_slice(&be(ms));
                        }
                        None => v.push(noise),
                    }
                    v.extend_from_slice(sketch);
                    rows.push(raw(b"!redis|hll|", k), v);
                    rows.ttl_row(k, stale_ttl_row);
                }
            },
            (Layout::Hash(form), Value::Hash(fields)) => {
                for (f, v) in fields {
                    rows.push(l4(b"!hs|fld|", k, f), v.clone());
                }
                count_meta(&mut rows, b"!hs|meta|", k, *form, fields.len(), ttl);
                for i in 0..form.deltas {
                    let suffix = [&be(self.commit_ts)[..], &u32::from(i).to_be_bytes()].concat();
                    rows.push(l4(b"!hs|meta|d|", k, &suffix), be(1).to_vec());
                }
            }
            (Layout::Set(form), Value::Set(members)) => {
                for m in members {
                    rows.push(l4(b"!st|mem|", k, m), Vec::new());
                }
                count_meta(&mut rows, b"!st|meta|", k, *form, members.len(), ttl);
                for i in 0..form.deltas {
                    let suffix = [&be(self.commit_ts)[..], &u32::from(i).to_be_bytes()].concat();
                    rows.push(l4(b"!st|meta|d|", k, &suffix), be(1).to_vec());
                }
            }
            (Layout::List(form), Value::List(items)) => {
                for (i, item) in items.iter().enumerate() {
                    let seq = form.head.wrapping_add(i as i64);
                    rows.push([b"!lst|itm|", k, &sortable_seq(seq)].concat(), item.clone());
                }
                let n = items.len() as u64;
                let mut meta = Vec::new();
                meta.extend_from_slice(&be(form.head as u64));
                meta.extend_from_slice(&be((form.head as u64).wrapping_add(n)));
                meta.extend_from_slice(&be(declared(items.len(), form.deltas)));
                match form.meta {
                    MetaForm::Absent => rows.ttl_row(k, ttl),
                    MetaForm::Plain => {
                        rows.push(raw(b"!lst|meta|", k), meta);
                        rows.ttl_row(k, ttl);
                    }
                    MetaForm::Inline { stale_ttl_row } => {
                        meta.extend_from_slice(&be(ms));
                        rows.push(raw(b"!lst|meta|", k), meta);
                        rows.ttl_row(k, stale_ttl_row);
                    }
                }
                for i in 0..form.deltas {
                    let suffix = [&be(self.commit_ts)[..], &u32::from(i).to_be_bytes()].concat();
                    let delta = [be(0), be(1)].concat();
                    rows.push(l4(b"!lst|meta|d|", k, &suffix), delta);
                }
                for i in 0..form.claims {
                    let seq = form.head.wrapping_sub(1 + i64::from(i));
                    rows.push(l4(b"!lst|claim|", k, &sortable_seq(seq)), Vec::new());
                }
            }
            (Layout::ZSet(form), Value::ZSet(members)) => match form {
                ZSetForm::Wide(wide) => {
                    wide_zset(&mut rows, k, *wide, members, ttl, self.commit_ts);
                }
                ZSetForm::Legacy {
                    meta,
                    duplicates,
                    explicit_defaults,
                } => {
                    let mut blob: Vec<(&[u8], f64)> = Vec::new();
                    for (m, s) in members {
                        if *duplicates {
                            blob.push((m, -s + 1.0));
                        }
                        blob.push((m, *s));
                    }
                    // Blob order is not member order.
                    let mut order = SplitMix64(self.seed ^ 7);
                    if !*duplicates {
                        order.shuffle(&mut blob);
                    }
                    rows.push(
                        raw(b"!redis|zset|", k),
                        zset_blob(&blob, *explicit_defaults),
                    );
                    let form = CountForm {
                        meta: *meta,
                        deltas: 0,
                    };
                    count_meta(&mut rows, b"!zs|meta|", k, form, members.len(), ttl);
                }
                ZSetForm::LegacyThenWide { wide, stale } => {
                    let blob: Vec<(&[u8], f64)> =
                        stale.iter().map(|(m, s)| (m.as_bytes(), *s)).collect();
                    rows.push(raw(b"!redis|zset|", k), zset_blob(&blob, false));
                    wide_zset(&mut rows, k, *wide, members, ttl, self.commit_ts);
                }
            },
            (Layout::Stream(form), Value::Stream(stream)) => {
                for entry in &stream.entries {
                    let id_text = if form.wrong_proto_ids {
                        format!("{}-{}", entry.id.seq, entry.id.ms)
                    } else {
                        entry.id.to_string()
                    };
                    let suffix = [be(entry.id.ms), be(entry.id.seq)].concat();
                    rows.push(
                        l4(b"!stream|entry|", k, &suffix),
                        stream_entry_value(&id_text, &entry.fields),
                    );
                }
                let mut meta = Vec::new();
                meta.extend_from_slice(&be(stream.entries.len() as u64));
                meta.extend_from_slice(&be(stream.last.ms));
                meta.extend_from_slice(&be(stream.last.seq));
                match form.meta {
                    StreamMetaForm::Plain => {
                        rows.push(l4(b"!stream|meta|", k, b""), meta);
                        rows.ttl_row(k, ttl);
                    }
                    StreamMetaForm::Inline { stale_ttl_row } => {
                        meta.extend_from_slice(&be(ms));
                        rows.push(l4(b"!stream|meta|", k, b""), meta);
                        rows.ttl_row(k, stale_ttl_row);
                    }
                    StreamMetaForm::Trim {
                        stale_ttl_row,
                        trimmed,
                    } => {
                        meta.extend_from_slice(&be(ms));
                        meta.extend_from_slice(&be(trimmed.ms));
                        meta.extend_from_slice(&be(trimmed.seq));
                        rows.push(l4(b"!stream|meta|", k, b""), meta);
                        rows.ttl_row(k, stale_ttl_row);
                    }
                }
            }
            (layout, value) => unreachable!("layout {layout:?} for {:?}", value.kind()),
        }
    }

    /// The records the encoder writes for this key (docs/format.md §6.2), built with the
    /// codec's builders; `ttl` is the expiry to store.
    pub fn canonical_rows(&self, ttl: Option<u64>) -> Vec<(Vec<u8>, Vec<u8>)> {
        let k = self.name.as_slice();
        let ms = ttl.unwrap_or(0);
        let mut out = Vec::new();
        let ttl_row = |out: &mut Vec<(Vec<u8>, Vec<u8>)>| {
            if ms != 0 {
                out.push((keys::raw_key(keys::TTL, k), values::build_ttl(ms).to_vec()));
            }
        };
        match &self.value {
            Value::String(body) => {
                out.push((
                    keys::raw_key(keys::STRING, k),
                    values::build_string(body, ms),
                ));
            }
            Value::Hll(sketch) => {
                out.push((keys::raw_key(keys::HLL, k), values::build_hll(sketch, ms)));
                ttl_row(&mut out);
            }
            Value::Hash(fields) => {
                out.push((
                    keys::wide_key(keys::HASH_META, k, b""),
                    values::build_count_meta(fields.len() as u64, ttl),
                ));
                for (f, v) in fields {
                    out.push((keys::wide_key(keys::HASH_FIELD, k, f), v.clone()));
                }
                ttl_row(&mut out);
            }
            Value::Set(members) => {
                out.push((
                    keys::wide_key(keys::SET_META, k, b""),
                    values::build_count_meta(members.len() as u64, ttl),
                ));
                for m in members {
                    out.push((keys::wide_key(keys::SET_MEMBER, k, m), Vec::new()));
                }
                ttl_row(&mut out);
            }
            Value::List(items) => {
                out.push((
                    keys::raw_key(keys::LIST_META, k),
                    values::build_list_meta(items.len() as u64, ttl),
                ));
                for (i, item) in items.iter().enumerate() {
                    out.push((keys::list_item_key(k, i as i64), item.clone()));
                }
                ttl_row(&mut out);
            }
            Value::ZSet(members) => {
                out.push((
                    keys::wide_key(keys::ZSET_META, k, b""),
                    values::build_count_meta(members.len() as u64, ttl),
                ));
                for (m, s) in members {
                    out.push((
                        keys::wide_key(keys::ZSET_MEMBER, k, m),
                        values::build_zset_score(*s).to_vec(),
                    ));
                    out.push((keys::zset_score_key(k, *s, m), Vec::new()));
                }
                ttl_row(&mut out);
            }
            Value::Stream(stream) => {
                for entry in &stream.entries {
                    let fields = entry
                        .fields
                        .iter()
                        .flat_map(|(n, v)| [n.clone(), v.clone()])
                        .collect();
                    out.push((
                        keys::stream_entry_key(k, entry.id),
                        proto::build_stream_entry(&entry.id.to_string(), fields),
                    ));
                }
                out.push((
                    keys::wide_key(keys::STREAM_META, k, b""),
                    values::build_stream_meta(stream.entries.len() as u64, stream.last, ttl),
                ));
                ttl_row(&mut out);
            }
        }
        out
    }
}

fn count_meta(
    rows: &mut Rows<'_>,
    prefix: &[u8],
    k: &[u8],
    form: CountForm,
    n: usize,
    ttl: Option<u64>,
) {
    let count = be(declared(n, form.deltas));
    match form.meta {
        MetaForm::Absent => rows.ttl_row(k, ttl),
        MetaForm::Plain => {
            rows.push(l4(prefix, k, b""), count.to_vec());
            rows.ttl_row(k, ttl);
        }
        MetaForm::Inline { stale_ttl_row } => {
            rows.push(l4(prefix, k, b""), [count, be(ttl.unwrap_or(0))].concat());
            rows.ttl_row(k, stale_ttl_row);
        }
    }
}

fn wide_zset(
    rows: &mut Rows<'_>,
    k: &[u8],
    form: CountForm,
    members: &BTreeMap<Vec<u8>, f64>,
    ttl: Option<u64>,
    ts: u64,
) {
    for (m, s) in members {
        rows.push(l4(b"!zs|mem|", k, m), be(s.to_bits()).to_vec());
        rows.push(
            l4(b"!zs|scr|", k, &[&sortable_score(*s)[..], m].concat()),
            Vec::new(),
        );
    }
    count_meta(rows, b"!zs|meta|", k, form, members.len(), ttl);
    for i in 0..form.deltas {
        let suffix = [&be(ts)[..], &u32::from(i).to_be_bytes()].concat();
        rows.push(l4(b"!zs|meta|d|", k, &suffix), be(1).to_vec());
    }
}

/// Older versions are at least this much older than any live row.
const SHADOW_GAP: u64 = 1 << 20;

impl RedisDb {
    /// Every row of the live layout, each a visible version, in generation order.
    pub fn live_entries(&self) -> Vec<Entry> {
        let mut out = Vec::new();
        for key in self.keys.values() {
            key.live_rows(&mut out);
        }
        for (i, (name, ms)) in self.orphan_ttls.iter().enumerate() {
            out.push(Entry {
                user_key: raw(b"!redis|ttl|", name),
                commit_ts: 1 << 40 | i as u64,
                tombstone: false,
                expire_at: 0,
                body: be(*ms).to_vec(),
            });
        }
        out
    }

    /// The live layout as an entry set (header ts = newest row).
    pub fn live_set(&self) -> EntrySet {
        with_header(self.live_entries())
    }

    /// The live layout plus versions that must not change the decoded tree: older
    /// versions of live rows (with `garbage`, often undecodable: a truncated meta, a
    /// short score, a broken protobuf; else a well-formed but different value), older
    /// tombstones under live rows, and "ghost" keys and elements whose newest version
    /// is a tombstone over a once-live row.
    pub fn shadowed_set(&self, seed: u64, garbage: bool) -> EntrySet {
        let mut rng = SplitMix64(seed);
        let live = self.live_entries();
        let mut out = live.clone();
        for entry in &live {
            if rng.chance(25) {
                for v in 0..rng.range_inclusive(1, 2) {
                    let body = if garbage && rng.chance(50) {
                        let n = rng.below(12) as usize;
                        rng.bytes(n)
                    } else {
                        older_value(&entry.user_key, &entry.body)
                    };
                    out.push(Entry {
                        user_key: entry.user_key.clone(),
                        commit_ts: entry.commit_ts - SHADOW_GAP - v,
                        tombstone: false,
                        expire_at: 0,
                        body,
                    });
                }
            }
            if rng.chance(10) {
                out.push(Entry {
                    user_key: entry.user_key.clone(),
                    commit_ts: entry.commit_ts - 2 * SHADOW_GAP,
                    tombstone: true,
                    expire_at: 0,
                    body: Vec::new(),
                });
            }
        }
        // Ghost keys: whole keys that were deleted.
        let ghosts = rng.range_inclusive(0, 3);
        for i in 0..ghosts {
            let mut spec = Mix::DEFAULT.spec(rng.next_u64(), i);
            spec.size = spec.size.min(3);
            let mut ghost = spec.materialize();
            ghost.name.splice(0..0, *b"\xFE\xFEghost:");
            if self.keys.contains_key(&ghost.name) {
                continue;
            }
            if ghost.value.is_empty() && ghost.needs_elements() {
                continue;
            }
            let mut rows = Vec::new();
            ghost.live_rows(&mut rows);
            bury(&mut out, rows, &mut rng);
        }
        // Ghost elements of live keys: deleted fields, members and entries.
        for key in self.keys.values() {
            if !rng.chance(20) {
                continue;
            }
            let k = key.name.as_slice();
            let mut ghost_member = b"\xFE\xFEghost-member".to_vec();
            ghost_member.extend_from_slice(&rng.bytes(2));
            let rows: Vec<(Vec<u8>, Vec<u8>)> = match &key.value {
                Value::Hash(f) if !f.contains_key(&ghost_member) => {
                    vec![(l4(b"!hs|fld|", k, &ghost_member), b"deleted".to_vec())]
                }
                Value::Set(m) if !m.contains(&ghost_member) => {
                    vec![(l4(b"!st|mem|", k, &ghost_member), Vec::new())]
                }
                Value::ZSet(m) if !m.contains_key(&ghost_member) => vec![
                    (
                        l4(b"!zs|mem|", k, &ghost_member),
                        be(1f64.to_bits()).to_vec(),
                    ),
                    (
                        l4(
                            b"!zs|scr|",
                            k,
                            &[&sortable_score(1.0)[..], &ghost_member].concat(),
                        ),
                        Vec::new(),
                    ),
                ],
                Value::Stream(s) => {
                    let id = StreamId {
                        ms: s.last.ms.wrapping_add(1),
                        seq: 0,
                    };
                    if s.entries.iter().any(|e| e.id == id) {
                        continue;
                    }
                    let suffix = [be(id.ms), be(id.seq)].concat();
                    vec![(
                        l4(b"!stream|entry|", k, &suffix),
                        stream_entry_value("0-0", &[("gone".into(), "x".into())]),
                    )]
                }
                _ => continue,
            };
            let rows = rows
                .into_iter()
                .map(|(user_key, body)| Entry {
                    user_key,
                    commit_ts: key.commit_ts,
                    tombstone: false,
                    expire_at: 0,
                    body,
                })
                .collect();
            bury(&mut out, rows, &mut rng);
        }
        with_header(out)
    }

    /// Exactly what the encoder writes for this database, every key stamped `ts`.
    pub fn canonical_set(&self, ts: u64) -> EntrySet {
        let mut entries = Vec::new();
        for key in self.keys.values() {
            for (user_key, body) in key.canonical_rows(key.ttl) {
                entries.push(Entry {
                    user_key,
                    commit_ts: ts,
                    tombstone: false,
                    expire_at: 0,
                    body,
                });
            }
        }
        EntrySet {
            last_commit_ts: ts,
            entries,
        }
    }
}

/// A well-formed older value for a live row: another body where any body is valid,
/// another score or expiry, else the same bytes.
fn older_value(user_key: &[u8], body: &[u8]) -> Vec<u8> {
    let family = |prefix: &[u8]| user_key.starts_with(prefix);
    if family(b"!redis|str|")
        || family(b"!redis|hll|")
        || family(b"!hs|fld|")
        || family(b"!lst|itm|")
    {
        b"older".to_vec()
    } else if family(b"!zs|mem|") {
        be(42f64.to_bits()).to_vec()
    } else if family(b"!redis|ttl|") {
        be(12_345).to_vec()
    } else {
        body.to_vec()
    }
}

/// Appends `rows` as once-live versions with a newer tombstone on top of each.
fn bury(out: &mut Vec<Entry>, rows: Vec<Entry>, rng: &mut SplitMix64) {
    for mut row in rows {
        let deleted_at = row.commit_ts + 1 + rng.below(SHADOW_GAP);
        row.commit_ts -= SHADOW_GAP;
        out.push(Entry {
            user_key: row.user_key.clone(),
            commit_ts: deleted_at,
            tombstone: true,
            expire_at: 0,
            body: Vec::new(),
        });
        out.push(row);
    }
}

fn with_header(entries: Vec<Entry>) -> EntrySet {
    let newest = entries.iter().map(|e| e.commit_ts).max().unwrap_or(0);
    EntrySet {
        last_commit_ts: newest,
        entries,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::redis::generate::{TRICKY_SCORES, generate};

    #[test]
    fn live_rows_are_distinct_versions() {
        let db = generate(500, &Mix::DEFAULT, 3);
        for set in [db.live_set(), db.shadowed_set(9, true), db.canonical_set(5)] {
            let mut seen = BTreeSet::new();
            for e in &set.entries {
                assert!(
                    seen.insert((e.user_key.clone(), e.commit_ts)),
                    "duplicate version of {:?}",
                    e.user_key
                );
            }
        }
    }

    #[test]
    fn hand_written_layouts_match_the_codec_builders() {
        assert_eq!(sortable_seq(-2), keys::sortable_seq(-2));
        for s in TRICKY_SCORES {
            assert_eq!(sortable_score(*s), keys::sortable_score(*s), "{s}");
        }
        let fields = vec![
            ("a".to_owned(), "b".to_owned()),
            (String::new(), "é".into()),
        ];
        let flat = fields
            .iter()
            .flat_map(|(n, v)| [n.clone(), v.clone()])
            .collect();
        assert_eq!(
            stream_entry_value("5-6", &fields),
            proto::build_stream_entry("5-6", flat)
        );
        let blob = zset_blob(&[(b"m", -0.0), (b"", 2.5)], false);
        let parsed = proto::parse_zset_blob(&blob).unwrap();
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed[0].score.to_bits(), (-0.0f64).to_bits());
        assert_eq!((parsed[1].member.as_str(), parsed[1].score), ("", 2.5));
        assert_eq!(
            l4(b"!hs|fld|", b"k", b"f"),
            keys::wide_key(keys::HASH_FIELD, b"k", b"f")
        );
    }
}

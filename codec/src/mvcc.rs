//! MVCC visibility: which versions in a snapshot make up its visible state.
//!
//! A snapshot holds versions. For each user key only the version with the highest
//! commit timestamp counts, and a tombstone there means the key is absent. The Go
//! decoder ignores this (oldest version wins, deleted keys resurrect); we do not.
//!
//! Encoded keys are `userKey ‖ BE64(!ts)`, so in ascending order the first version
//! seen of a user key is its newest. Later versions of that key need not follow it
//! directly: a longer key that extends it can sort in between (`a‖!3`, `a\xff…‖…`,
//! `a‖!1` when the suffix bytes compare that way). Every key sorting between two
//! versions of `U` starts with `U`, so `U` stays "open" exactly as long as the
//! current encoded key starts with it. Open keys are therefore all prefixes of the
//! current key, i.e. one chain of nested prefixes: we store the deepest one and the
//! lengths of the others, so memory is bounded by one key, not by the snapshot.

use std::fmt;

use serde::Serialize;

use crate::container::{EntryRef, TS_SIZE};
use crate::error::{ErrorCode, ExitClass};

/// What an entry means for the visible state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The newest version of its user key, and not a tombstone.
    Visible,
    /// An older version of a user key already decided.
    Shadowed,
    /// The newest version of its user key is this tombstone: the key is absent.
    Deleted,
}

/// The entry's encoded key is not strictly greater than the previous one (an equal key
/// is out of order too: the same version twice).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutOfOrder {
    /// Offset of the offending entry.
    pub offset: u64,
}

impl fmt::Display for OutOfOrder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "snapshot entry key is not greater than the previous entry's (at offset {})",
            self.offset
        )
    }
}

impl std::error::Error for OutOfOrder {}

impl ErrorCode for OutOfOrder {
    fn code(&self) -> &'static str {
        "snapshot-out-of-order"
    }

    fn exit_class(&self) -> ExitClass {
        ExitClass::Data
    }
}

/// A `--as-of` request: the text as given and the HLC cut it stands for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AsOf {
    /// What the operator wrote.
    pub requested: String,
    /// The cut: every version committed at or before it counts.
    pub ts: u64,
}

/// Bits of an HLC timestamp below its milliseconds (the logical counter).
const HLC_LOGICAL_BITS: u32 = 16;

/// A `--as-of` value that is neither an HLC timestamp nor an RFC 3339 instant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "--as-of {input:?}: {reason} (give an HLC timestamp as a decimal integer, or an RFC 3339 instant such as 2026-12-06T10:32:00Z)"
)]
pub struct AsOfParseError {
    /// The rejected text.
    pub input: String,
    /// Why.
    pub reason: String,
}

impl ErrorCode for AsOfParseError {
    fn code(&self) -> &'static str {
        "as-of-invalid"
    }

    fn exit_class(&self) -> ExitClass {
        ExitClass::Usage
    }
}

impl AsOf {
    /// Parses a decimal HLC timestamp, or an RFC 3339 instant meaning every commit up
    /// to the end of that millisecond (its HLC with the logical counter all ones).
    ///
    /// # Errors
    /// [`AsOfParseError`] for anything else, and for instants before 1970 or past
    /// what 48 bits of milliseconds hold.
    pub fn parse(text: &str) -> Result<Self, AsOfParseError> {
        let fail = |reason: String| AsOfParseError {
            input: text.to_owned(),
            reason,
        };
        let ts = if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
            text.parse::<u64>()
                .map_err(|e| fail(format!("not a 64-bit timestamp: {e}")))?
        } else {
            let instant = crate::tree::walltime::WallTime::parse_rfc3339(text)
                .map_err(|e| fail(e.to_string()))?;
            let millis = u64::try_from(instant.unix_secs())
                .ok()
                .and_then(|s| s.checked_mul(1000))
                .and_then(|ms| ms.checked_add(u64::from(instant.subsec_nanos() / 1_000_000)))
                .filter(|ms| *ms < 1 << (64 - HLC_LOGICAL_BITS))
                .ok_or_else(|| fail("outside the HLC range (1970 .. 48 bits of ms)".to_owned()))?;
            (millis << HLC_LOGICAL_BITS) | ((1 << HLC_LOGICAL_BITS) - 1)
        };
        Ok(AsOf {
            requested: text.to_owned(),
            ts,
        })
    }
}

/// Counts of what [`Visibility`] decided.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct MvccStats {
    /// Entries observed (`visible + shadowed + deleted`).
    pub versions: u64,
    /// User keys whose newest version is live.
    pub visible: u64,
    /// Versions hidden by a newer version of the same user key.
    pub shadowed: u64,
    /// User keys whose newest version is a tombstone.
    pub deleted: u64,
}

/// Decides visibility over entries in ascending encoded-key order.
#[derive(Debug, Default)]
pub struct Visibility {
    previous: Vec<u8>,
    started: bool,
    /// The deepest open user key; every open key is a prefix of it.
    chain: Vec<u8>,
    /// Lengths of the open user keys, ascending.
    open: Vec<usize>,
    stats: MvccStats,
    /// Versions committed after this are ignored (`decode --as-of`).
    cut: Option<u64>,
    /// Versions ignored because of `cut`.
    after_cut: u64,
}

impl Visibility {
    /// Nothing observed yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Visibility as of `cut`: versions committed after it are treated as if they had
    /// never been written (counted as shadowed, and in [`Visibility::after_cut`]), so
    /// each key shows its newest version with commit ts ≤ `cut`, absent when that is a
    /// tombstone. Exact as long as nothing at or below `cut` was garbage-collected.
    pub fn as_of(cut: u64) -> Self {
        Visibility {
            cut: Some(cut),
            ..Self::default()
        }
    }

    /// Versions ignored because they were committed after the cut.
    pub fn after_cut(&self) -> u64 {
        self.after_cut
    }

    /// Classifies the next entry. Fails, without changing state, when the entries are
    /// not strictly ascending: the verdicts would be meaningless.
    pub fn observe(&mut self, entry: &EntryRef<'_>) -> Result<Verdict, OutOfOrder> {
        let key = entry.encoded_key;
        if self.started && key <= self.previous.as_slice() {
            return Err(OutOfOrder {
                offset: entry.offset,
            });
        }
        self.started = true;
        self.previous.clear();
        self.previous.extend_from_slice(key);
        self.close_keys_not_prefixing(key);

        // Derived from the encoded key, not `entry.user_key`, so the chain invariant
        // cannot be broken by a hand-built entry whose fields disagree.
        let user_key = &key[..key.len().saturating_sub(TS_SIZE)];
        let verdict = match self.open.binary_search(&user_key.len()) {
            Ok(_) => Verdict::Shadowed,
            // Not opened: the key's next (older) version is judged afresh.
            Err(_) if self.is_after_cut(key) => {
                self.after_cut += 1;
                Verdict::Shadowed
            }
            Err(at) => {
                self.open_key(at, user_key);
                if entry.tombstone {
                    Verdict::Deleted
                } else {
                    Verdict::Visible
                }
            }
        };
        self.count(verdict);
        Ok(verdict)
    }

    fn is_after_cut(&self, encoded_key: &[u8]) -> bool {
        let Some(cut) = self.cut else {
            return false;
        };
        crate::container::split_key(encoded_key).is_some_and(|(_, ts)| ts > cut)
    }

    /// The counts so far.
    pub fn stats(&self) -> MvccStats {
        self.stats
    }

    /// How many user keys are open (their older versions may still follow). Bounded by
    /// the length of the current key.
    pub fn open_keys(&self) -> usize {
        self.open.len()
    }

    /// Forgets the open keys the current key does not start with: no later version of
    /// them can follow. The chain is nested, so it is enough to pop from the deep end.
    fn close_keys_not_prefixing(&mut self, key: &[u8]) {
        while let Some(&len) = self.open.last() {
            if key.starts_with(&self.chain[..len]) {
                break;
            }
            self.open.pop();
        }
        self.chain.truncate(self.open.last().copied().unwrap_or(0));
    }

    /// Records a newly seen user key at position `at` of the (length-sorted) chain.
    fn open_key(&mut self, at: usize, user_key: &[u8]) {
        self.open.insert(at, user_key.len());
        if user_key.len() > self.chain.len() {
            self.chain.clear();
            self.chain.extend_from_slice(user_key);
        }
    }

    fn count(&mut self, verdict: Verdict) {
        self.stats.versions += 1;
        match verdict {
            Verdict::Visible => self.stats.visible += 1,
            Verdict::Shadowed => self.stats.shadowed += 1,
            Verdict::Deleted => self.stats.deleted += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::encode_key;

    struct Version {
        user_key: Vec<u8>,
        ts: u64,
        tombstone: bool,
    }

    fn version(user_key: &[u8], ts: u64, tombstone: bool) -> Version {
        Version {
            user_key: user_key.to_vec(),
            ts,
            tombstone,
        }
    }

    /// Sorts the versions like a snapshot and returns `(user_key, ts, verdict)`.
    fn judge(versions: Vec<Version>) -> Vec<(Vec<u8>, u64, Verdict)> {
        judge_with(Visibility::new(), versions)
    }

    fn judge_with(
        mut visibility: Visibility,
        mut versions: Vec<Version>,
    ) -> Vec<(Vec<u8>, u64, Verdict)> {
        let encoded = |v: &Version| {
            let mut key = Vec::new();
            encode_key(&v.user_key, v.ts, &mut key);
            key
        };
        versions.sort_by_key(|v| encoded(v));
        let verdicts = versions
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let key = encoded(v);
                let entry = EntryRef {
                    offset: i as u64,
                    encoded_key: &key,
                    user_key: &v.user_key,
                    commit_ts: v.ts,
                    tombstone: v.tombstone,
                    expire_at: 0,
                    body: b"",
                };
                (
                    v.user_key.clone(),
                    v.ts,
                    visibility.observe(&entry).unwrap(),
                )
            })
            .collect();
        let stats = visibility.stats();
        assert_eq!(
            stats.versions,
            stats.visible + stats.shadowed + stats.deleted
        );
        verdicts
    }

    #[test]
    fn as_of_parses_hlc_and_rfc3339() {
        assert_eq!(AsOf::parse("12345").unwrap().ts, 12345);
        // 1 ms after the epoch, end of that millisecond.
        let end = AsOf::parse("1970-01-01T00:00:00.001999Z").unwrap();
        assert_eq!(end.ts, (1 << 16) | 0xffff);
        assert_eq!(end.requested, "1970-01-01T00:00:00.001999Z");
        let zoned = AsOf::parse("2026-12-06T11:32:00+01:00").unwrap();
        assert_eq!(zoned.ts >> 16, 1_796_553_120_000, "10:32 UTC");
        for bad in [
            "",
            "-5",
            "yesterday",
            "1969-12-31T23:59:59Z",
            "99999999999999999999",
        ] {
            let error = AsOf::parse(bad).unwrap_err();
            assert_eq!(error.code(), "as-of-invalid", "{bad}");
        }
    }

    #[test]
    fn as_of_shows_the_newest_version_at_or_before_the_cut() {
        let versions = || {
            vec![
                version(b"k", 100, false),
                version(b"k", 200, false),
                version(b"k", 300, true),
                // Extends `k` and sorts between its versions.
                version(b"k\xff", 250, false),
                version(b"gone", 50, true),
                version(b"gone", 40, false),
                version(b"late", 500, false),
            ]
        };
        let verdicts = |cut| -> Vec<(Vec<u8>, u64, Verdict)> {
            let mut judged = judge_with(Visibility::as_of(cut), versions());
            judged.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
            judged
        };
        use Verdict::{Deleted, Shadowed, Visible};
        let at = |cut| {
            verdicts(cut)
                .into_iter()
                .filter(|(_, _, v)| *v != Shadowed)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            at(250),
            vec![
                (b"gone".to_vec(), 50, Deleted),
                (b"k".to_vec(), 200, Visible),
                (b"k\xff".to_vec(), 250, Visible),
            ]
        );
        assert_eq!(
            at(45),
            vec![(b"gone".to_vec(), 40, Visible)],
            "before the delete, nothing else existed yet"
        );
        assert_eq!(
            at(u64::MAX),
            at(300)
                .into_iter()
                .chain([(b"late".to_vec(), 500, Visible)])
                .collect::<Vec<_>>()
        );
        let mut visibility = Visibility::as_of(150);
        assert_eq!(visibility.after_cut(), 0);
        let mut key = Vec::new();
        encode_key(b"x", 151, &mut key);
        let entry = EntryRef {
            offset: 0,
            encoded_key: &key,
            user_key: b"x",
            commit_ts: 151,
            tombstone: false,
            expire_at: 0,
            body: b"",
        };
        assert_eq!(visibility.observe(&entry), Ok(Shadowed));
        assert_eq!(visibility.after_cut(), 1);
        assert_eq!(visibility.stats().visible, 0);
    }

    #[test]
    fn newest_version_wins() {
        let got = judge(vec![
            version(b"k", 100, false),
            version(b"k", 200, false),
            version(b"k", 150, false),
            version(b"other", 1, false),
        ]);
        assert_eq!(
            got,
            vec![
                (b"k".to_vec(), 200, Verdict::Visible),
                (b"k".to_vec(), 150, Verdict::Shadowed),
                (b"k".to_vec(), 100, Verdict::Shadowed),
                (b"other".to_vec(), 1, Verdict::Visible),
            ]
        );
    }

    #[test]
    fn newest_tombstone_hides_older_versions() {
        let got = judge(vec![
            version(b"k", 300, true),
            version(b"k", 100, false),
            version(b"j", 5, true),
            version(b"j", 9, false),
        ]);
        let verdicts: Vec<_> = got
            .iter()
            .map(|(k, ts, v)| (k.as_slice(), *ts, *v))
            .collect();
        assert_eq!(
            verdicts,
            vec![
                (&b"j"[..], 9, Verdict::Visible),
                (&b"j"[..], 5, Verdict::Shadowed),
                (&b"k"[..], 300, Verdict::Deleted),
                (&b"k"[..], 100, Verdict::Shadowed),
            ]
        );
    }

    /// `a` at ts 3 encodes as `a ff..fc`, at ts 1 as `a ff..fe`; the keys `a ff..fd`
    /// and `a 00` both extend `a` and sort around those versions.
    #[test]
    fn versions_separated_by_extending_keys() {
        let between = [b'a', 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfd];
        let got = judge(vec![
            version(b"a", 1, false),
            version(b"a", 3, false),
            version(b"a\x00", 7, false),
            version(&between, 2, true),
            version(&between, 1, false),
            version(b"b", 1, false),
        ]);
        let order: Vec<_> = got.iter().map(|(k, ts, v)| (k.clone(), *ts, *v)).collect();
        assert_eq!(
            order,
            vec![
                (b"a\x00".to_vec(), 7, Verdict::Visible),
                (b"a".to_vec(), 3, Verdict::Visible),
                (between.to_vec(), 2, Verdict::Deleted),
                (between.to_vec(), 1, Verdict::Shadowed),
                (b"a".to_vec(), 1, Verdict::Shadowed),
                (b"b".to_vec(), 1, Verdict::Visible),
            ]
        );
    }

    /// A key first seen *after* a longer key that extends it: the shorter key must be
    /// inserted below the deeper one in the chain, and both stay open.
    #[test]
    fn shorter_key_opened_below_deeper_open_key() {
        let deeper = [b'a', 0xff, 0xff, 0xff];
        let got = judge(vec![
            version(&deeper, 1 << 32, false),
            version(&deeper, 5, false),
            version(b"a", 1, false),
            version(b"a", 0, false),
        ]);
        let verdicts: Vec<_> = got.iter().map(|(k, ts, v)| (k.len(), *ts, *v)).collect();
        // deeper‖ff ff ff fe… < a‖ff×7 fe < a‖ff×8 < deeper‖ff×7 fa
        assert_eq!(
            verdicts,
            vec![
                (4, 1 << 32, Verdict::Visible),
                (1, 1, Verdict::Visible),
                (1, 0, Verdict::Shadowed),
                (4, 5, Verdict::Shadowed),
            ]
        );
    }

    #[test]
    fn matches_a_map_of_newest_versions_on_random_data() {
        let mut state = 7u64;
        let mut rand = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..200 {
            let mut versions = Vec::new();
            let mut seen = std::collections::HashSet::new();
            for _ in 0..40 {
                let len = (rand() % 4) as usize;
                let key: Vec<u8> = (0..len)
                    .map(|_| [0x00, b'a', 0xff][(rand() % 3) as usize])
                    .collect();
                // Timestamps with 0xff.. / 0x00.. bytes so suffixes collide with key bytes.
                let ts = [0, 1, 2, u64::MAX, u64::MAX - 1, 1 << 56][(rand() % 6) as usize];
                if seen.insert((key.clone(), ts)) {
                    versions.push(version(&key, ts, rand() % 3 == 0));
                }
            }
            let mut newest = std::collections::HashMap::new();
            for v in &versions {
                let e = newest
                    .entry(v.user_key.clone())
                    .or_insert((v.ts, v.tombstone));
                if v.ts > e.0 {
                    *e = (v.ts, v.tombstone);
                }
            }
            for (key, ts, verdict) in judge(versions) {
                let (newest_ts, tombstone) = newest[&key];
                let expected = match (ts == newest_ts, tombstone) {
                    (false, _) => Verdict::Shadowed,
                    (true, false) => Verdict::Visible,
                    (true, true) => Verdict::Deleted,
                };
                assert_eq!(verdict, expected, "key {key:?} ts {ts}");
            }
        }
    }

    #[test]
    fn equal_or_descending_keys_are_out_of_order() {
        let mut visibility = Visibility::new();
        let entry = |offset, key: &'static [u8]| EntryRef {
            offset,
            encoded_key: key,
            user_key: &key[..key.len() - 8],
            commit_ts: 0,
            tombstone: false,
            expire_at: 0,
            body: b"",
        };
        assert_eq!(
            visibility.observe(&entry(16, b"b\xff\xff\xff\xff\xff\xff\xff\xff")),
            Ok(Verdict::Visible)
        );
        assert_eq!(
            visibility.observe(&entry(40, b"b\xff\xff\xff\xff\xff\xff\xff\xff")),
            Err(OutOfOrder { offset: 40 })
        );
        assert_eq!(
            visibility.observe(&entry(64, b"a\xff\xff\xff\xff\xff\xff\xff\xff")),
            Err(OutOfOrder { offset: 64 })
        );
        assert_eq!(
            visibility.stats().versions,
            1,
            "rejected entries are not counted"
        );
        assert_eq!(
            visibility.observe(&entry(88, b"c\xff\xff\xff\xff\xff\xff\xff\xff")),
            Ok(Verdict::Visible)
        );
        assert_eq!(visibility.open_keys(), 1);
    }
}

//! MVCC visibility: an arbitrary set of versions, sorted like a snapshot, fed to
//! `mvcc::Visibility`, must get the verdicts of a reference model (per user key the
//! highest commit ts is the one that counts; a tombstone there deletes the key), and a
//! disordered feed must be refused exactly where the order breaks.
//!
//! Keys come from a tiny alphabet that includes `0x00` and `0xFF` and extend each
//! other, and timestamps from a set with `0x00…`/`0xFF…` bytes, so the ordering trap
//! of docs/format.md §2 (a key's versions separated by longer keys) is common.

use std::collections::HashMap;

use arbitrary::Unstructured;
use elastickv_codec::container::{EntryRef, encode_key};
use elastickv_codec::mvcc::{MvccStats, OutOfOrder, Verdict, Visibility};

/// One version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    /// `user_key ‖ BE64(!commit_ts)`.
    pub encoded_key: Vec<u8>,
    /// The user key.
    pub user_key: Vec<u8>,
    /// Commit timestamp.
    pub commit_ts: u64,
    /// Tombstone flag.
    pub tombstone: bool,
}

impl Version {
    fn entry(&self, offset: u64) -> EntryRef<'_> {
        EntryRef {
            offset,
            encoded_key: &self.encoded_key,
            user_key: &self.user_key,
            commit_ts: self.commit_ts,
            tombstone: self.tombstone,
            expire_at: 0,
            body: b"",
        }
    }
}

const ALPHABET: &[u8] = &[0x00, 0x01, b'a', b'|', 0xFE, 0xFF];
const TIMESTAMPS: &[u64] = &[0, 1, 2, 3, 0xFF, 1 << 56, u64::MAX - 1, u64::MAX];

/// Versions with distinct `(user key, ts)`, sorted ascending by encoded key.
pub fn versions(u: &mut Unstructured<'_>) -> arbitrary::Result<Vec<Version>> {
    let mut pool: Vec<Vec<u8>> = vec![Vec::new()];
    let mut versions: Vec<Version> = Vec::new();
    for _ in 0..u.int_in_range(0usize..=64)? {
        let user_key = if u.ratio(1u8, 2)? {
            // Extend a known key: this is what makes keys prefixes of each other.
            let mut key = u.choose(&pool)?.clone();
            for _ in 0..u.int_in_range(1u8..=3)? {
                key.push(*u.choose(ALPHABET)?);
            }
            pool.push(key.clone());
            key
        } else {
            u.choose(&pool)?.clone()
        };
        let commit_ts = if u.ratio(3u8, 4)? {
            *u.choose(TIMESTAMPS)?
        } else {
            u.arbitrary()?
        };
        let mut encoded_key = Vec::new();
        encode_key(&user_key, commit_ts, &mut encoded_key);
        versions.push(Version {
            encoded_key,
            user_key,
            commit_ts,
            tombstone: u.ratio(1u8, 3)?,
        });
    }
    versions.sort_by(|a, b| a.encoded_key.cmp(&b.encoded_key));
    versions.dedup_by(|a, b| a.encoded_key == b.encoded_key);
    Ok(versions)
}

/// The reference verdicts: for each version, whether it is its key's newest, and
/// whether that newest one is a tombstone.
pub fn reference(versions: &[Version]) -> Vec<Verdict> {
    let mut newest: HashMap<&[u8], (u64, bool)> = HashMap::new();
    for v in versions {
        let slot = newest
            .entry(&v.user_key)
            .or_insert((v.commit_ts, v.tombstone));
        if v.commit_ts > slot.0 {
            *slot = (v.commit_ts, v.tombstone);
        }
    }
    versions
        .iter()
        .map(|v| match newest[v.user_key.as_slice()] {
            (ts, _) if ts != v.commit_ts => Verdict::Shadowed,
            (_, true) => Verdict::Deleted,
            (_, false) => Verdict::Visible,
        })
        .collect()
}

/// The counts `reference` implies.
pub fn reference_stats(verdicts: &[Verdict]) -> MvccStats {
    let count = |want| verdicts.iter().filter(|v| **v == want).count() as u64;
    MvccStats {
        versions: verdicts.len() as u64,
        visible: count(Verdict::Visible),
        shadowed: count(Verdict::Shadowed),
        deleted: count(Verdict::Deleted),
    }
}

/// The oracle.
pub fn run(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    let mut versions = versions(u)?;
    check_sorted(&versions);
    // Disorder the feed a little and check where it is refused.
    if versions.len() >= 2 {
        for _ in 0..u.int_in_range(1u8..=3)? {
            let i = u.choose_index(versions.len())?;
            let j = u.choose_index(versions.len())?;
            versions.swap(i, j);
        }
        check_disordered(&versions);
    }
    Ok(())
}

/// Sorted versions get the reference verdicts.
///
/// # Panics
/// On any disagreement.
pub fn check_sorted(versions: &[Version]) {
    let expected = reference(versions);
    let mut visibility = Visibility::new();
    for (i, (v, want)) in versions.iter().zip(&expected).enumerate() {
        let got = visibility.observe(&v.entry(i as u64));
        assert_eq!(got, Ok(*want), "version {i} {v:?} of {versions:#?}");
        // Open keys are prefixes of the current encoded key, of distinct lengths.
        assert!(
            visibility.open_keys() <= v.encoded_key.len() + 1,
            "{} open keys for a {}-byte encoded key",
            visibility.open_keys(),
            v.encoded_key.len()
        );
    }
    assert_eq!(visibility.stats(), reference_stats(&expected));
}

/// A disordered feed: every entry not strictly above the last accepted one is refused
/// with its offset, and refusals leave the state alone.
///
/// # Panics
/// On any disagreement.
pub fn check_disordered(versions: &[Version]) {
    let mut visibility = Visibility::new();
    let mut last: Option<&[u8]> = None;
    let mut accepted = 0u64;
    for (i, v) in versions.iter().enumerate() {
        let offset = i as u64;
        let got = visibility.observe(&v.entry(offset));
        match last {
            Some(prev) if v.encoded_key.as_slice() <= prev => {
                assert_eq!(got, Err(OutOfOrder { offset }), "entry {i} must be refused");
            }
            _ => {
                assert!(got.is_ok(), "entry {i} refused: {got:?}");
                last = Some(&v.encoded_key);
                accepted += 1;
            }
        }
    }
    assert_eq!(visibility.stats().versions, accepted);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smoke() {
        crate::test_n_times(200, run);
    }
}

//! (c) Visibility: the visible state the codec computes equals the reference model
//! (per user key the version with the highest commit ts; nothing when it is a
//! tombstone) — through `mvcc::Visibility` on a sorted stream, through
//! `decode::inspect_file` counters, and through `decode::scan_file` as the set of
//! entries handed to adapters — and a shuffled file gives the same result as the
//! sorted one.

use std::cell::RefCell;
use std::path::Path;
use std::rc::Rc;

use elastickv_codec::adapter::{AdapterDecoder, Warnings};
use elastickv_codec::container::{EntryRef, Header, SnapshotReader, Wrapper};
use elastickv_codec::dispatch::{self, Adapter, AdapterSet, Owner, Prefix};
use elastickv_codec::error::BoxError;
use elastickv_codec::mvcc::{Verdict, Visibility};
use elastickv_codec::scan::{self, DecodeError, Scan, ScanOptions};
use elastickv_proptests::config::config_scaled;
use elastickv_proptests::strategy::{Shape, entry_set, shuffled_entry_set_with};
use elastickv_synth::model::{Entry, EntrySet, write_shuffled, write_snapshot, write_sorted};
use proptest::prelude::*;
use proptest::sample::{Index, subsequence};

/// Smaller than the default shape but with large bodies kept out: every case writes
/// and scans several files.
const SCAN_SHAPE: Shape = Shape {
    max_base_keys: 10,
    max_extensions: 8,
    max_versions: 3,
    max_body: 32,
    large_bodies: false,
};

fn expected_verdict(
    set_newest: &std::collections::BTreeMap<Vec<u8>, &Entry>,
    e: &Entry,
) -> Verdict {
    let newest = set_newest[&e.user_key];
    if newest.commit_ts != e.commit_ts {
        Verdict::Shadowed
    } else if e.tombstone {
        Verdict::Deleted
    } else {
        Verdict::Visible
    }
}

/// An entry an adapter was handed.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    adapter: Adapter,
    encoded_key: Vec<u8>,
    commit_ts: u64,
    body: Vec<u8>,
}

type Log = Rc<RefCell<Vec<Seen>>>;

/// Records what it is handed and checks the driver's promises about each entry.
struct Recorder {
    adapter: Adapter,
    log: Log,
    finalized: Rc<RefCell<u32>>,
}

impl AdapterDecoder for Recorder {
    fn adapter(&self) -> Adapter {
        self.adapter
    }

    fn handle(
        &mut self,
        prefix: &'static Prefix,
        entry: &EntryRef<'_>,
        _warnings: &mut Warnings,
    ) -> Result<(), BoxError> {
        assert!(
            !entry.tombstone,
            "tombstone handed to an adapter: {entry:?}"
        );
        assert_eq!(
            dispatch::route(entry.user_key),
            Some(prefix),
            "wrong prefix"
        );
        assert_eq!(prefix.owner, Owner::Adapter(self.adapter), "wrong adapter");
        self.log.borrow_mut().push(Seen {
            adapter: self.adapter,
            encoded_key: entry.encoded_key.to_vec(),
            commit_ts: entry.commit_ts,
            body: entry.body.to_vec(),
        });
        Ok(())
    }

    fn finalize(&mut self, _warnings: &mut Warnings) -> Result<(), BoxError> {
        *self.finalized.borrow_mut() += 1;
        Ok(())
    }
}

fn options(scratch: &Path, enabled: AdapterSet) -> ScanOptions {
    ScanOptions {
        enabled,
        scratch_dir: scratch.to_path_buf(),
        // Tiny, so unsorted input spills runs and exercises the merge.
        sort_memory_bytes: 512,
    }
}

/// Runs `scan_file` with one recorder per enabled adapter.
fn scan(
    path: &Path,
    scratch: &Path,
    enabled: AdapterSet,
) -> Result<(Scan, Vec<Seen>), DecodeError> {
    let log: Log = Rc::default();
    let finalized = Rc::new(RefCell::new(0));
    let mut adapters: Vec<Box<dyn AdapterDecoder>> = enabled
        .iter()
        .map(|adapter| {
            Box::new(Recorder {
                adapter,
                log: log.clone(),
                finalized: finalized.clone(),
            }) as Box<dyn AdapterDecoder>
        })
        .collect();
    let reset_log = log.clone();
    let mut reset = move |_: &mut Vec<Box<dyn AdapterDecoder>>| {
        reset_log.borrow_mut().clear();
        Ok(())
    };
    let scan = scan::scan_file(
        path,
        &options(scratch, enabled),
        &mut adapters,
        &mut Warnings::default(),
        &mut reset,
        &mut |_, _| {},
    )?;
    assert_eq!(
        *finalized.borrow() as usize,
        adapters.len(),
        "finalize once per adapter"
    );
    let seen = log.borrow().clone();
    Ok((scan, seen))
}

/// What adapters must be handed: the visible entries owned by enabled adapters, in
/// ascending encoded-key order.
fn expected_seen(set: &EntrySet, enabled: AdapterSet) -> Vec<Seen> {
    let mut seen: Vec<Seen> = set
        .visible()
        .values()
        .filter_map(|e| match dispatch::route(&e.user_key)?.owner {
            Owner::Adapter(a) if enabled.contains(a) => Some(Seen {
                adapter: a,
                encoded_key: e.encoded_key(),
                commit_ts: e.commit_ts,
                body: e.body.clone(),
            }),
            _ => None,
        })
        .collect();
    seen.sort_by(|a, b| a.encoded_key.cmp(&b.encoded_key));
    seen
}

fn adapter_subset() -> impl Strategy<Value = AdapterSet> {
    prop_oneof![
        3 => Just(AdapterSet::ALL),
        1 => subsequence(Adapter::ALL.to_vec(), 0..=4).prop_map(|v| v.into_iter().collect()),
    ]
}

/// Which entries to store twice, with what tombstone flag and extra body bytes (a
/// duplicate body that extends the original is the interesting case).
fn duplicates() -> impl Strategy<Value = Vec<(Index, bool, Vec<u8>)>> {
    prop::collection::vec(
        (
            any::<Index>(),
            any::<bool>(),
            prop::collection::vec(any::<u8>(), 0..3),
        ),
        1..4,
    )
}

/// The set in `order` plus the duplicates, and the same list in another order
/// (reversed, then rotated).
fn with_duplicates(
    set: &EntrySet,
    order: &[usize],
    dups: Vec<(Index, bool, Vec<u8>)>,
    rotate: u64,
) -> (Vec<Entry>, Vec<Entry>) {
    let mut entries: Vec<Entry> = set.permuted(order).into_iter().cloned().collect();
    for (which, tombstone, extra) in dups {
        let mut dup = entries[which.index(entries.len())].clone();
        dup.tombstone = tombstone;
        dup.body.extend_from_slice(&extra);
        entries.push(dup);
    }
    let mut other = entries.clone();
    other.reverse();
    let n = other.len() as u64;
    other.rotate_left((rotate % n) as usize);
    (entries, other)
}

/// Writes `list` and scans it with every adapter enabled.
fn scan_list(
    dir: &Path,
    name: &str,
    last_commit_ts: u64,
    list: &[Entry],
) -> Result<
    (
        Vec<Seen>,
        elastickv_codec::mvcc::MvccStats,
        dispatch::Counters,
    ),
    TestCaseError,
> {
    let path = dir.join(format!("{name}.fsm"));
    std::fs::write(&path, write_snapshot(last_commit_ts, list)).map_err(fail)?;
    let (scan, seen) = scan(&path, dir, AdapterSet::ALL).map_err(fail)?;
    Ok((seen, scan.mvcc, scan.counters))
}

fn fail(e: impl std::fmt::Display) -> TestCaseError {
    TestCaseError::fail(e.to_string())
}

proptest! {
    #![proptest_config(config_scaled("visibility.txt", 1))]

    /// `Visibility` directly on the sorted stream, entry by entry.
    #[test]
    fn visibility_matches_reference_on_sorted_stream(set in entry_set()) {
        let newest = set.newest();
        let bytes = write_sorted(&set);
        let mut reader = SnapshotReader::new(&bytes[..]).map_err(fail)?;
        let mut visibility = Visibility::new();
        let mut sorted = set.sorted().into_iter();
        while let Some(entry) = reader.next_entry().map_err(fail)? {
            let want = sorted.next().expect("reader yields no extra entries");
            let got = visibility.observe(&entry);
            prop_assert_eq!(got, Ok(expected_verdict(&newest, want)), "entry {:?}", want);
        }
        prop_assert!(sorted.next().is_none());
        prop_assert_eq!(visibility.stats(), set.mvcc_stats());
    }
}

proptest! {
    #![proptest_config(config_scaled("visibility.txt", 2))]

    /// `inspect_file` on the sorted and on a shuffled file: same counters, same
    /// visibility statistics, both equal to the reference.
    #[test]
    fn inspect_sorted_and_shuffled_agree((set, order) in shuffled_entry_set_with(SCAN_SHAPE)) {
        let dir = tempfile::tempdir().map_err(fail)?;
        let sorted_path = dir.path().join("sorted.fsm");
        let shuffled_path = dir.path().join("shuffled.fsm");
        std::fs::write(&sorted_path, write_sorted(&set)).map_err(fail)?;
        std::fs::write(&shuffled_path, write_shuffled(&set, &order)).map_err(fail)?;
        let opts = options(dir.path(), AdapterSet::ALL);
        let sorted = scan::inspect_file(&sorted_path, &opts, &mut |_, _| {}).map_err(fail)?;
        let shuffled = scan::inspect_file(&shuffled_path, &opts, &mut |_, _| {}).map_err(fail)?;
        let header = Header { wrapper: Wrapper::Native, last_commit_ts: set.last_commit_ts };
        for (name, scan) in [("sorted", &sorted), ("shuffled", &shuffled)] {
            prop_assert_eq!(scan.header, header, "{}", name);
            prop_assert_eq!(scan.mvcc, set.mvcc_stats(), "{} mvcc", name);
            prop_assert_eq!(scan.counters, set.counters(AdapterSet::ALL), "{} counters", name);
        }
        prop_assert!(!sorted.sorted_in_scratch);
        let in_order = EntrySet::is_sorted(&set.permuted(&order));
        prop_assert_eq!(shuffled.sorted_in_scratch, !in_order);
        prop_assert_eq!(sorted.bytes, shuffled.bytes);
    }

    /// `scan_file` hands adapters exactly the visible entries they own, in ascending
    /// encoded-key order, whether the file is sorted or not.
    #[test]
    fn scan_hands_adapters_the_visible_state(
        (set, order) in shuffled_entry_set_with(SCAN_SHAPE),
        enabled in adapter_subset(),
    ) {
        let dir = tempfile::tempdir().map_err(fail)?;
        let want = expected_seen(&set, enabled);
        for (name, bytes) in [("sorted", write_sorted(&set)), ("shuffled", write_shuffled(&set, &order))] {
            let path = dir.path().join(format!("{name}.fsm"));
            std::fs::write(&path, bytes).map_err(fail)?;
            let (scan, seen) = scan(&path, dir.path(), enabled).map_err(fail)?;
            prop_assert_eq!(&seen, &want, "{} file", name);
            prop_assert_eq!(scan.counters, set.counters(enabled), "{} counters", name);
            prop_assert_eq!(scan.mvcc, set.mvcc_stats(), "{} mvcc", name);
        }
    }

    /// The same version stored twice (with possibly different values) in an unsorted
    /// file: what adapters get and what is counted must not depend on the file order.
    #[test]
    fn duplicate_versions_are_order_independent(
        (set, order) in shuffled_entry_set_with(SCAN_SHAPE),
        dups in duplicates(),
        rotate in any::<u64>(),
    ) {
        prop_assume!(!set.entries.is_empty());
        let (first, second) = with_duplicates(&set, &order, dups, rotate);
        let dir = tempfile::tempdir().map_err(fail)?;
        let a = scan_list(dir.path(), "first", set.last_commit_ts, &first)?;
        let b = scan_list(dir.path(), "second", set.last_commit_ts, &second)?;
        prop_assert_eq!(a, b, "result depends on file order");
    }

    /// With duplicates, every entry is still counted once and the visibility
    /// statistics stay consistent (`versions = visible + shadowed + deleted`).
    #[test]
    fn duplicate_versions_keep_stats_consistent(
        (set, order) in shuffled_entry_set_with(SCAN_SHAPE),
        dups in duplicates(),
    ) {
        prop_assume!(!set.entries.is_empty());
        let (list, _) = with_duplicates(&set, &order, dups, 0);
        let dir = tempfile::tempdir().map_err(fail)?;
        let (_, m, counters) = scan_list(dir.path(), "dups", set.last_commit_ts, &list)?;
        prop_assert_eq!(counters.entries, list.len() as u64, "every entry counted");
        prop_assert_eq!(m.versions, list.len() as u64, "every version observed: {:?}", m);
        prop_assert_eq!(m.versions, m.visible + m.shadowed + m.deleted, "{:?}", m);
    }
}

fn live(user_key: &[u8], commit_ts: u64, body: &[u8]) -> Entry {
    Entry {
        user_key: user_key.to_vec(),
        commit_ts,
        tombstone: false,
        expire_at: 0,
        body: body.to_vec(),
    }
}

/// The same version twice with bodies `x` and `x 05`: which one adapters get must
/// not depend on where the entries sit in the file. (The sort value appends the
/// entry's file offset to the body, so when one body extends the other, the offset's
/// low byte is compared with the longer body's next byte.)
#[test]
fn duplicate_choice_ignores_file_offsets() {
    let key = b"!redis|str|a";
    let short = live(key, 7, b"x");
    let long = live(key, 7, b"x\x05");
    // 47 + 193 bytes after the 16-byte header: the `x` copy lands at offset 256,
    // whose low byte (0x00) sorts before 0x05; at offset 16 (0x10) it sorts after.
    let filler = live(b"!redis|str|f", 7, &[b'f'; 148]);
    assert_eq!(16 + long.stream_len() + filler.stream_len(), 256);
    let dir = tempfile::tempdir().unwrap();
    let mut seen = Vec::new();
    for (name, list) in [
        (
            "x-at-256",
            vec![long.clone(), filler.clone(), short.clone()],
        ),
        ("x-at-16", vec![short.clone(), filler.clone(), long.clone()]),
    ] {
        let path = dir.path().join(format!("{name}.fsm"));
        std::fs::write(&path, write_snapshot(7, &list)).unwrap();
        let (_, got) = scan(&path, dir.path(), AdapterSet::ALL).unwrap();
        let body = got
            .iter()
            .find(|s| s.encoded_key.starts_with(key))
            .map(|s| s.body.clone());
        seen.push((name, body));
    }
    assert_eq!(seen[0].1, seen[1].1, "{seen:?}");
}

/// A version stored twice is two entries: both are counted, and the statistics add up.
#[test]
fn duplicate_version_is_counted_once_per_entry() {
    let entry = live(b"!redis|str|a", 7, b"x");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dup.fsm");
    std::fs::write(&path, write_snapshot(7, &[entry.clone(), entry])).unwrap();
    let (scan, seen) = scan(&path, dir.path(), AdapterSet::ALL).unwrap();
    assert_eq!(seen.len(), 1, "one visible entry");
    assert_eq!(scan.counters.entries, 2);
    let m = scan.mvcc;
    assert_eq!((m.visible, m.shadowed, m.deleted), (1, 1, 0));
    assert_eq!(m.versions, 2, "{m:?}");
}

//! (a) Container write → read identity: header, entries and their order survive
//! `SnapshotWriter` → `SnapshotReader`, sorted or not, bare or runtime-wrapped, and the
//! writer's bytes are exactly the format's.

use elastickv_codec::container::{BuildError, Footer, Header, SnapshotBuilder, Wrapper};
use elastickv_codec::sort::SortOptions;
use elastickv_proptests::config::{config, config_scaled};
use elastickv_proptests::strategy::{Shape, commit_ts, entry_set, key_family, shuffled_entry_set};
use elastickv_synth::model::{
    Entry, EntrySet, read_snapshot, reference_bytes, wrap_runtime_v1, write_shuffled,
    write_snapshot, write_sorted,
};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;

/// `(user key, value)` records as adapters hand them to the builder.
type Records = Vec<(Vec<u8>, Vec<u8>)>;

/// What the encoder feeds the builder: a commit timestamp and distinct user keys with
/// values, in random order.
fn builder_input() -> impl Strategy<Value = (u64, Records)> {
    (commit_ts(), key_family(Shape::DEFAULT))
        .prop_flat_map(|(ts, keys)| {
            let n = keys.len();
            (Just(ts), Just(keys), vec(vec(any::<u8>(), 0..48), n))
        })
        .prop_flat_map(|(ts, keys, values)| {
            let records: Vec<_> = keys.into_iter().zip(values).collect();
            (Just(ts), Just(records).prop_shuffle())
        })
}

fn build(
    ts: u64,
    records: &[(Vec<u8>, Vec<u8>)],
    scratch: &std::path::Path,
) -> Result<Vec<u8>, BuildError> {
    // A tiny budget so the builder's sort spills and merges.
    let mut builder = SnapshotBuilder::new(
        ts,
        SortOptions {
            memory_budget: 256,
            scratch_dir: scratch.to_path_buf(),
        },
    );
    for (key, value) in records {
        builder.add(key, value)?;
    }
    let mut out = Vec::new();
    let summary = builder.write_to(&mut out)?;
    assert_eq!(summary.bytes, out.len() as u64, "summary bytes");
    assert_eq!(summary.entries, records.len() as u64, "summary entries");
    Ok(out)
}

fn owned(entries: &[&Entry]) -> Vec<Entry> {
    entries.iter().map(|e| (*e).clone()).collect()
}

fn native(last_commit_ts: u64) -> Header {
    Header {
        wrapper: Wrapper::Native,
        last_commit_ts,
    }
}

proptest! {
    #![proptest_config(config("container.txt"))]

    #[test]
    fn sorted_snapshot_reads_back_identically(set in entry_set()) {
        let sorted = set.sorted();
        prop_assert!(EntrySet::is_sorted(&sorted));
        let bytes = write_sorted(&set);
        prop_assert!(
            bytes == reference_bytes(set.last_commit_ts, sorted.iter().copied()),
            "SnapshotWriter bytes differ from the format"
        );
        let read = read_snapshot(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(read.header, native(set.last_commit_ts));
        prop_assert_eq!(read.footer, Some(Footer::Absent));
        prop_assert_eq!(read.consumed, bytes.len() as u64);
        prop_assert_eq!(read.entries, owned(&sorted));
    }

    #[test]
    fn shuffled_snapshot_keeps_file_order((set, order) in shuffled_entry_set()) {
        let bytes = write_shuffled(&set, &order);
        let read = read_snapshot(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(read.header, native(set.last_commit_ts));
        prop_assert_eq!(read.entries, owned(&set.permuted(&order)));
    }

    #[test]
    fn runtime_wrapped_snapshot_reads_back(set in entry_set(), ceiling_ms in any::<u64>()) {
        let sorted = set.sorted();
        let bytes = wrap_runtime_v1(&write_sorted(&set), ceiling_ms);
        let read = read_snapshot(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(
            read.header,
            Header { wrapper: Wrapper::HlcV1 { ceiling_ms }, last_commit_ts: set.last_commit_ts }
        );
        let crc = u32::from_be_bytes(bytes[bytes.len() - 4..].try_into().unwrap());
        prop_assert_eq!(read.footer, Some(Footer::Verified { crc32c: crc }));
        prop_assert_eq!(read.consumed, bytes.len() as u64);
        prop_assert_eq!(read.entries, owned(&sorted));
    }

    /// decode → encode is the identity on the bytes of any native snapshot.
    #[test]
    fn rewrite_is_byte_identical((set, order) in shuffled_entry_set()) {
        let bytes = write_shuffled(&set, &order);
        let read = read_snapshot(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(write_snapshot(read.header.last_commit_ts, &read.entries) == bytes);
    }
}

proptest! {
    #![proptest_config(config_scaled("container.txt", 2))]

    /// The builder writes exactly the sorted snapshot of its records, every key
    /// stamped with the one commit timestamp, whatever order they were added in.
    #[test]
    fn builder_writes_the_sorted_snapshot((ts, records) in builder_input()) {
        let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let got = build(ts, &records, dir.path()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let set = EntrySet {
            last_commit_ts: ts,
            entries: records
                .iter()
                .map(|(key, value)| Entry {
                    user_key: key.clone(),
                    commit_ts: ts,
                    tombstone: false,
                    expire_at: 0,
                    body: value.clone(),
                })
                .collect(),
        };
        prop_assert!(got == reference_bytes(ts, set.sorted()), "builder output differs");
    }

    /// A user key added twice is refused (one commit timestamp: same encoded key).
    #[test]
    fn builder_refuses_duplicate_keys((ts, mut records) in builder_input(), which in any::<Index>(), value in vec(any::<u8>(), 0..8)) {
        let key = records[which.index(records.len())].0.clone();
        records.push((key.clone(), value));
        let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
        match build(ts, &records, dir.path()) {
            Err(BuildError::DuplicateKey { user_key }) => prop_assert_eq!(user_key, key),
            other => prop_assert!(false, "expected DuplicateKey, got {:?}", other.map(|b| b.len())),
        }
    }
}

#[test]
fn empty_snapshot_is_just_the_header() {
    let set = EntrySet {
        last_commit_ts: 5,
        entries: Vec::new(),
    };
    let bytes = write_sorted(&set);
    assert_eq!(bytes, b"EKVPBBL1\x05\0\0\0\0\0\0\0");
    let read = read_snapshot(&bytes).unwrap();
    assert_eq!(read.header, native(5));
    assert!(read.entries.is_empty());
}

/// The worked example of docs/format.md §1.1.
#[test]
fn worked_example_bytes() {
    let set = EntrySet {
        last_commit_ts: 5,
        entries: vec![Entry {
            user_key: b"!redis|str|a".to_vec(),
            commit_ts: 5,
            tombstone: false,
            expire_at: 0,
            body: vec![0xFF, 0x01, 0x00, b'x'],
        }],
    };
    let bytes = write_sorted(&set);
    let expected = hex::decode(concat!(
        "454b565042424c31",
        "0500000000000000",
        "1400000000000000",
        "2172656469737c7374727c61",
        "fffffffffffffffa",
        "0d00000000000000",
        "00",
        "0000000000000000",
        "ff010078",
    ))
    .unwrap();
    assert_eq!(bytes, expected);
    assert_eq!(bytes.len(), 65);
}

//! (a) Container write → read identity: header, entries and their order survive
//! `SnapshotWriter` → `SnapshotReader`, sorted or not, bare or runtime-wrapped, and the
//! writer's bytes are exactly the format's.

use elastickv_codec::container::{Footer, Header, Wrapper};
use elastickv_proptests::config::config;
use elastickv_proptests::model::{
    Entry, EntrySet, read_snapshot, reference_bytes, wrap_runtime_v1, write_shuffled,
    write_snapshot, write_sorted,
};
use elastickv_proptests::strategy::{entry_set, shuffled_entry_set};
use proptest::prelude::*;

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

/// The worked example of FORMAT.md §1.1.
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
        "454b565042424c31", "0500000000000000",
        "1400000000000000", "2172656469737c7374727c61", "fffffffffffffffa",
        "0d00000000000000", "00", "0000000000000000", "ff010078",
    ))
    .unwrap();
    assert_eq!(bytes, expected);
    assert_eq!(bytes.len(), 65);
}

//! The container layer against the Go reference vectors: header and counters of every
//! case, and the error kind of every malformed-container case.

use elastickv_codec::ErrorCode;
use elastickv_codec::dispatch::{Adapter, AdapterSet};
use elastickv_codec::scan::{self, ScanOptions};
use elastickv_testkit::vectors::{Case, all_cases, code_for_sentinel};

fn scan_options(enabled: AdapterSet) -> ScanOptions {
    ScanOptions {
        enabled,
        scratch_dir: std::env::temp_dir(),
        sort_memory_bytes: 1 << 20,
    }
}

/// The adapters the Go decoder had enabled (`--adapter`, default all).
fn enabled_adapters(case: &Case) -> AdapterSet {
    match case.adapters() {
        None => AdapterSet::ALL,
        Some(names) => names
            .iter()
            .map(|name| {
                name.parse::<Adapter>()
                    .expect("vector flags name known adapters")
            })
            .collect(),
    }
}

/// Counters of the Go decoder, with the adapters the case enabled (a disabled adapter's
/// records count as internal).
#[test]
fn counters_and_header_match_go() {
    let mut checked = 0;
    for case in all_cases() {
        if case.sentinels.is_some() || case.summary.is_null() {
            continue;
        }
        let scan = scan::inspect_file(
            &case.input(),
            &scan_options(enabled_adapters(&case)),
            &mut |_, _| {},
        )
        .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        let c = scan.counters;
        let ours = [
            ("entries", c.entries),
            ("tombstone", c.tombstone),
            ("dynamodb", c.dynamodb),
            ("s3", c.s3),
            ("redis", c.redis),
            ("sqs", c.sqs),
            ("internal", c.internal),
            ("unknown", c.unknown),
            ("last_commit_ts", scan.header.last_commit_ts),
        ];
        for (name, value) in ours {
            assert_eq!(
                Some(value),
                case.counter(name),
                "{}: counter {name}",
                case.name
            );
        }
        checked += 1;
    }
    eprintln!("counters/header matched on {checked} cases");
    assert!(checked > 0);
}

const CONTAINER_SENTINELS: &[&str] = &[
    "ErrSnapshotBadMagic",
    "ErrSnapshotTruncated",
    "ErrSnapshotKeyTooLarge",
    "ErrSnapshotValueTooLarge",
    "ErrSnapshotShortKey",
    "ErrSnapshotShortValue",
    "ErrSnapshotEncryptedEntry",
    "ErrSnapshotEncryptedReserved",
];

/// Malformed containers fail with the Go kind; where Go returns a bare EOF (header
/// shorter than 16 bytes) we fail with `snapshot-header-truncated`.
#[test]
fn malformed_containers_fail_with_the_go_kind() {
    let mut checked = 0;
    for case in all_cases() {
        let Some(sentinels) = &case.sentinels else {
            continue;
        };
        let expected = match sentinels
            .iter()
            .find(|s| CONTAINER_SENTINELS.contains(&s.as_str()))
        {
            Some(sentinel) => code_for_sentinel(sentinel),
            None if matches!(
                case.library_error.as_deref(),
                Some("EOF" | "unexpected EOF")
            ) =>
            {
                "snapshot-header-truncated".to_owned()
            }
            None => continue,
        };
        let error = scan::inspect_file(
            &case.input(),
            &scan_options(AdapterSet::ALL),
            &mut |_, _| {},
        )
        .err()
        .unwrap_or_else(|| panic!("{}: expected {expected}, decoded fine", case.name));
        assert_eq!(error.code(), expected, "{}: {error}", case.name);
        assert_eq!(error.exit_class().exit_code(), 2, "{}", case.name);
        checked += 1;
    }
    eprintln!("container errors matched on {checked} cases");
    assert!(checked > 0);
}

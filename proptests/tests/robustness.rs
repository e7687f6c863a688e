//! (d) The reader on damaged input: every truncation of a valid snapshot is an error
//! (except cuts exactly at an entry boundary, which are valid shorter snapshots and
//! must read as exactly that prefix), and byte flips or forged length fields never
//! panic and never yield entries that do not round-trip.

use elastickv_codec::container::{ContainerErrorKind, Footer, MAX_ENCODED_KEY, MAX_ENCODED_VALUE};
use elastickv_proptests::config::{config, config_scaled};
use elastickv_proptests::strategy::small_entry_set;
use elastickv_synth::model::{
    Entry, boundaries, read_snapshot, wrap_runtime_v1, write_snapshot, write_sorted,
};
use proptest::prelude::*;
use proptest::sample::Index;

/// Checks every prefix of `bytes`, a valid file whose native stream starts at
/// `header_len - 16` and holds `entries`. `runtime` files end with a CRC32C footer.
fn check_truncations(
    bytes: &[u8],
    header_len: usize,
    entries: &[&Entry],
    runtime: bool,
) -> Result<(), TestCaseError> {
    let shift = header_len - 16;
    let bounds: Vec<usize> = boundaries(entries.iter().copied())
        .into_iter()
        .map(|b| b + shift)
        .collect();
    for len in 0..bytes.len() {
        let complete = bounds.iter().rposition(|&b| b <= len);
        match read_snapshot(&bytes[..len]) {
            Ok(read) => {
                let Some(k) = complete else {
                    return Err(TestCaseError::fail(format!(
                        "{len}-byte prefix inside the header read OK"
                    )));
                };
                let at_boundary = bounds[k] == len;
                // 4 bytes past a boundary could only pass as a footer if they happened to be
                // the CRC32C of everything before them.
                let lucky_footer =
                    len == bounds[k] + 4 && matches!(read.footer, Some(Footer::Verified { .. }));
                prop_assert!(
                    at_boundary || lucky_footer,
                    "{}-byte prefix (boundaries {:?}) read OK with {} entries",
                    len,
                    bounds,
                    read.entries.len()
                );
                let want: Vec<Entry> = entries[..k].iter().map(|e| (*e).clone()).collect();
                prop_assert_eq!(read.entries, want, "prefix of {} bytes", len);
                prop_assert_eq!(read.consumed, len as u64);
            }
            Err(e) => {
                let kind = e.kind();
                if len < header_len {
                    prop_assert_eq!(
                        kind,
                        ContainerErrorKind::HeaderTruncated,
                        "{}-byte prefix: {}",
                        len,
                        e
                    );
                } else if runtime {
                    prop_assert!(
                        matches!(
                            kind,
                            ContainerErrorKind::Truncated | ContainerErrorKind::FooterMismatch
                        ),
                        "{}-byte prefix: {:?} {}",
                        len,
                        kind,
                        e
                    );
                } else {
                    prop_assert_eq!(
                        kind,
                        ContainerErrorKind::Truncated,
                        "{}-byte prefix: {}",
                        len,
                        e
                    );
                }
                prop_assert!(
                    e.offset() <= len as u64,
                    "error offset {} past {}",
                    e.offset(),
                    len
                );
            }
        }
    }
    Ok(())
}

/// Whatever reads must re-write and re-read to the same entries.
fn check_round_trip(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(read) = read_snapshot(bytes) {
        let again = write_snapshot(read.header.last_commit_ts, &read.entries);
        let reread = read_snapshot(&again)
            .map_err(|e| TestCaseError::fail(format!("re-written stream: {e}")))?;
        prop_assert_eq!(reread.entries, read.entries);
    }
    Ok(())
}

proptest! {
    #![proptest_config(config_scaled("robustness.txt", 2))]

    #[test]
    fn every_truncation_of_a_native_snapshot_errors(set in small_entry_set()) {
        let sorted = set.sorted();
        check_truncations(&write_sorted(&set), 16, &sorted, false)?;
    }

    #[test]
    fn every_truncation_of_a_runtime_snapshot_errors(set in small_entry_set(), ceiling in any::<u64>()) {
        let sorted = set.sorted();
        let bytes = wrap_runtime_v1(&write_sorted(&set), ceiling);
        check_truncations(&bytes, 32, &sorted, true)?;
    }
}

proptest! {
    #![proptest_config(config("robustness.txt"))]

    #[test]
    fn byte_flips_never_panic(
        set in small_entry_set(),
        runtime in any::<bool>(),
        flips in prop::collection::vec((any::<Index>(), 1u8..=255), 1..8),
    ) {
        let mut bytes = write_sorted(&set);
        if runtime {
            bytes = wrap_runtime_v1(&bytes, 7);
        }
        for (at, mask) in flips {
            let at = at.index(bytes.len());
            bytes[at] ^= mask;
        }
        check_round_trip(&bytes)?;
    }

    /// Forged keyLen/valLen fields: over-limit ones are refused before anything is
    /// allocated; others end in truncation or misparse without panicking.
    #[test]
    fn forged_lengths(set in small_entry_set(), which in any::<Index>(), value_field in any::<bool>(), forged in prop_oneof![
        Just(u64::MAX), Just(MAX_ENCODED_KEY), Just(MAX_ENCODED_KEY + 1),
        Just(MAX_ENCODED_VALUE), Just(MAX_ENCODED_VALUE + 1), 0u64..64, any::<u64>(),
    ]) {
        let sorted = set.sorted();
        prop_assume!(!sorted.is_empty());
        let mut bytes = write_sorted(&set);
        let bounds = boundaries(sorted.iter().copied());
        let k = which.index(sorted.len());
        let key_len = sorted[k].user_key.len() + 8;
        let field = if value_field { bounds[k] + 8 + key_len } else { bounds[k] };
        bytes[field..field + 8].copy_from_slice(&forged.to_le_bytes());
        let result = read_snapshot(&bytes);
        let limit = if value_field { MAX_ENCODED_VALUE } else { MAX_ENCODED_KEY };
        if forged > limit {
            let kind = if value_field { ContainerErrorKind::ValueTooLarge } else { ContainerErrorKind::KeyTooLarge };
            let e = result.as_ref().err().map(|e| (e.kind(), e.offset()));
            prop_assert_eq!(e, Some((kind, bounds[k] as u64)));
        }
        check_round_trip(&bytes)?;
    }
}

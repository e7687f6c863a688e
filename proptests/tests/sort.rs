//! The external sorter yields exactly the records pushed, sorted by `(key, value)`,
//! whatever the memory budget and fan-in (tiny ones force spills and multi-level
//! merges).

use elastickv_codec::sort::{ExternalSorter, SortOptions};
use elastickv_proptests::config::config_scaled;
use proptest::collection::vec;
use proptest::prelude::*;

fn record() -> impl Strategy<Value = (Vec<u8>, Vec<u8>)> {
    (
        vec(prop_oneof![Just(0u8), Just(0xFF), any::<u8>()], 0..12),
        vec(any::<u8>(), 0..40),
    )
}

proptest! {
    #![proptest_config(config_scaled("sort.txt", 2))]

    #[test]
    fn sorter_sorts_and_keeps_everything(
        records in vec(record(), 0..300),
        budget in prop_oneof![Just(1usize), 16usize..512, Just(1 << 20)],
        fan_in in 2usize..6,
    ) {
        let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut sorter = ExternalSorter::new(SortOptions {
            memory_budget: budget,
            scratch_dir: dir.path().to_path_buf(),
        })
        .with_max_fan_in(fan_in);
        for (k, v) in &records {
            sorter.push(k, v).map_err(|e| TestCaseError::fail(e.to_string()))?;
        }
        prop_assert_eq!(sorter.len(), records.len() as u64);
        let mut out = sorter.finish().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut got = Vec::new();
        while let Some((k, v)) = out.next().map_err(|e| TestCaseError::fail(e.to_string()))? {
            got.push((k.to_vec(), v.to_vec()));
        }
        let mut want = records;
        want.sort();
        prop_assert_eq!(got, want);
    }
}

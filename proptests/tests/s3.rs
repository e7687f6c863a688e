//! S3 properties over random buckets (`elastickv_synth::s3`), stored the way live
//! nodes store them (docs/format.md §3.2, §4.5, §6.4).
//!
//! (i)   live snapshot → decode → T1 holds the model (bodies at their renamed paths,
//!       sidecars, KEYMAP records, no other object file); T1 → encode → decode → T2:
//!       T1 == T2 byte for byte, KEYMAP included;
//! (ii)  decoding does not depend on entry order, older versions (garbage or not),
//!       older tombstones or deleted ghost objects;
//! (iii) any chunking of the bodies (chunk sizes, parts, part versions, offloaded or
//!       not) decodes to the same tree;
//! (iv)  the tree, KEYMAP.jsonl included, is the same for every memory budget and run;
//! (v)   (i) also holds with keys Go cannot write as paths: folder objects (`P/`) and
//!       segments too long for a file name go through KEYMAP and encode back to the
//!       same keys, the rest of the bucket untouched.

use std::path::PathBuf;

use elastickv_codec::adapter::DecodeFlags;
use elastickv_proptests::config::config;
use elastickv_splitmix::SplitMix64;
use elastickv_synth::model::{write_shuffled, write_sorted};
use elastickv_synth::s3::{Mix, S3Db, decode_snapshot, encode_tree, generate};
use elastickv_testkit::tree::{Tree, diff_trees, read_tree};
use elastickv_testkit::work::Work;
use proptest::prelude::*;

/// Decoder budgets: 1 makes every sort spill.
const BUDGETS: &[usize] = &[1, 4096, 64 << 20];

/// Decodes snapshot bytes with renames on; returns the root and its tree.
fn decode(work: &mut Work, bytes: &[u8], budget: usize) -> Result<(PathBuf, Tree), TestCaseError> {
    let snapshot = work.snapshot(bytes);
    let out = work.path("tree");
    let mut flags = DecodeFlags::default();
    flags.exclusions.rename_s3_collisions = true;
    decode_snapshot(&snapshot, &out, &work.scratch(), budget, &flags)
        .map_err(|e| TestCaseError::fail(format!("decode: {e}")))?;
    let tree = read_tree(&out).map_err(|e| TestCaseError::fail(e.to_string()))?;
    Ok((out, tree))
}

fn same_tree(what: &str, left: &Tree, right: &Tree) -> Result<(), TestCaseError> {
    match diff_trees(left, right) {
        None => Ok(()),
        Some(diff) => Err(TestCaseError::fail(format!("{what}:\n{diff}"))),
    }
}

fn db(seed: u64, objects: usize) -> S3Db {
    generate(
        seed,
        &Mix {
            objects,
            ..Mix::default()
        },
    )
}

proptest! {
    #![proptest_config(config("s3"))]

    /// (i) and (iv).
    #[test]
    fn tree_encode_decode_is_the_same_tree(seed in any::<u64>(), objects in 1usize..10, b in 0..BUDGETS.len()) {
        let db = db(seed, objects);
        let mut work = Work::new();
        let live = db.live_set();
        let (t1_root, t1) = decode(&mut work, &write_sorted(&live), BUDGETS[b])?;
        db.check_tree(&t1_root).map_err(|e| TestCaseError::fail(format!("T1 vs model: {e}")))?;
        let (_, t1_again) = decode(&mut work, &write_sorted(&live), 64 << 20)?;
        same_tree("T1 across budgets", &t1, &t1_again)?;
        let scratch = work.scratch();
        let s2 = encode_tree(&t1_root, live.last_commit_ts, &scratch, BUDGETS[b])
            .map_err(|e| TestCaseError::fail(format!("encode: {e}")))?;
        let (_, t2) = decode(&mut work, &s2, BUDGETS[b])?;
        same_tree("T1 vs T2", &t1, &t2)?;
    }

    /// (v).
    #[test]
    fn odd_keys_decode_and_encode_back(seed in any::<u64>(), objects in 1usize..10, b in 0..BUDGETS.len()) {
        let db = generate(seed, &Mix { objects, odd_keys: true, ..Mix::default() });
        let mut work = Work::new();
        let live = db.live_set();
        let (t1_root, t1) = decode(&mut work, &write_sorted(&live), BUDGETS[b])?;
        db.check_tree(&t1_root).map_err(|e| TestCaseError::fail(format!("T1 vs model: {e}")))?;
        let scratch = work.scratch();
        let s2 = encode_tree(&t1_root, live.last_commit_ts, &scratch, BUDGETS[b])
            .map_err(|e| TestCaseError::fail(format!("encode: {e}")))?;
        let (_, t2) = decode(&mut work, &s2, BUDGETS[b])?;
        same_tree("T1 vs T2", &t1, &t2)?;
    }

    /// (ii).
    #[test]
    fn decode_ignores_entry_order_and_shadowed_versions(seed in any::<u64>(), objects in 1usize..10) {
        let db = db(seed, objects);
        let mut work = Work::new();
        let (_, t1) = decode(&mut work, &write_sorted(&db.live_set()), 1 << 20)?;
        let shadowed = db.shadowed_set(seed ^ 0x5555);
        let mut order: Vec<usize> = (0..shadowed.entries.len()).collect();
        SplitMix64(seed).shuffle(&mut order);
        let (_, t) = decode(&mut work, &write_shuffled(&shadowed, &order), 1)?;
        same_tree("shuffled and shadowed", &t1, &t)?;
    }

    /// (iii).
    #[test]
    fn any_chunking_decodes_to_the_same_bytes(seed in any::<u64>(), chunk in 1usize..5000, offload in 0usize..4) {
        let db = db(seed, 6);
        let mut work = Work::new();
        let (_, t1) = decode(&mut work, &write_sorted(&db.live_set()), 1 << 20)?;
        let (_, t) = decode(&mut work, &write_sorted(&db.rechunked(chunk, offload).live_set()), 1 << 20)?;
        same_tree("rechunked", &t1, &t)?;
    }
}

//! DynamoDB properties over random databases (`elastickv_synth::dynamodb`) stored the
//! way live nodes store them, and over numbers.
//!
//! (i)   live snapshot → decode → T1 → encode → S2 → decode → T2: T1 == T2 and
//!       encode(T2) == S2, in the per-item layout and in JSONL bundles (4 KiB parts,
//!       so items spread over several); both layouts encode to the same S2; T1 has
//!       one item file per distinct key of the active and migration-source generations;
//! (ii)  decoding does not depend on entry order, older versions (garbage or not),
//!       tombstones under live versions, nor the memory budget;
//! (iii) the ordered numeric key encoding is order-preserving (except the documented
//!       negative-prefix Go defect), equal exactly for numerically equal spellings, and
//!       the file-name canonicalisation is idempotent and agrees with it.

use std::path::PathBuf;

use elastickv_codec::adapters::dynamodb::number::{canonical, ordered_key_bytes};
use elastickv_proptests::config::config;
use elastickv_splitmix::SplitMix64;
use elastickv_synth::dynamodb::{
    DDB_COMMIT_TS, DdbDb, Mix, decode_snapshot, encode_tree, generate,
};
use elastickv_synth::model::{EntrySet, write_shuffled, write_sorted};
use elastickv_testkit::tree::{Tree, diff_trees, read_tree};
use elastickv_testkit::work::Work;
use proptest::prelude::*;
use proptest::sample::select;

const MIX: Mix = Mix {
    tables: 3,
    items: 24,
};

/// Memory budgets: tiny ones make every sort spill.
const BUDGETS: &[usize] = &[64, 4096, 1 << 20];

fn decode(
    work: &mut Work,
    bytes: &[u8],
    budget: usize,
    bundle: Option<u64>,
) -> Result<(PathBuf, Tree), TestCaseError> {
    let snapshot = work.snapshot(bytes);
    let out = work.path("tree");
    decode_snapshot(&snapshot, &out, &work.scratch(), budget, bundle)
        .map_err(|e| TestCaseError::fail(format!("decode: {e}")))?;
    let tree = read_tree(&out).map_err(|e| TestCaseError::fail(e.to_string()))?;
    Ok((out, tree))
}

fn encode(work: &Work, root: &std::path::Path, budget: usize) -> Result<Vec<u8>, TestCaseError> {
    encode_tree(root, DDB_COMMIT_TS, &work.scratch(), budget)
        .map_err(|e| TestCaseError::fail(format!("encode: {e}")))
}

fn same_tree(what: &str, left: &Tree, right: &Tree) -> Result<(), TestCaseError> {
    match diff_trees(left, right) {
        None => Ok(()),
        Some(diff) => Err(TestCaseError::fail(format!("{what}:\n{diff}"))),
    }
}

fn item_files(tree: &Tree) -> usize {
    tree.iter()
        .filter(|(path, bytes)| {
            bytes.is_some() && path.contains("/items/") && path.ends_with(".json")
        })
        .count()
}

/// (i) for one database.
fn round_trip(db: &DdbDb, budget: usize) -> Result<(), TestCaseError> {
    let mut work = Work::new();
    let live = write_sorted(&db.live_set());
    let mut per_item_s2 = None;
    for bundle in [None, Some(4096)] {
        let (t1_root, t1) = decode(&mut work, &live, budget, bundle)?;
        if bundle.is_none() {
            prop_assert_eq!(item_files(&t1), db.expected_item_files());
        }
        let s2 = encode(&work, &t1_root, budget)?;
        let (t2_root, t2) = decode(&mut work, &s2, budget, bundle)?;
        same_tree("T1 vs T2", &t1, &t2)?;
        let s3 = encode(&work, &t2_root, budget)?;
        prop_assert!(s3 == s2, "encode(decode(S2)) != S2");
        match &per_item_s2 {
            None => per_item_s2 = Some(s2),
            Some(first) => prop_assert!(*first == s2, "the layouts encode differently"),
        }
    }
    Ok(())
}

fn shuffle(set: &EntrySet, seed: u64) -> Vec<u8> {
    let mut order: Vec<usize> = (0..set.entries.len()).collect();
    SplitMix64(seed).shuffle(&mut order);
    write_shuffled(set, &order)
}

/// (ii) for one database.
fn order_and_shadowing(db: &DdbDb, seed: u64, budgets: [usize; 3]) -> Result<(), TestCaseError> {
    let mut work = Work::new();
    let live = db.live_set();
    let (_, reference) = decode(&mut work, &write_sorted(&live), 1 << 20, None)?;
    let (_, t) = decode(&mut work, &shuffle(&live, seed), budgets[0], None)?;
    same_tree("sorted vs shuffled", &reference, &t)?;
    let (_, t) = decode(
        &mut work,
        &write_sorted(&db.shadowed_set(seed, true)),
        budgets[1],
        None,
    )?;
    same_tree("live vs live + garbage older versions", &reference, &t)?;
    let (_, t) = decode(
        &mut work,
        &shuffle(&db.shadowed_set(seed, false), !seed),
        budgets[2],
        None,
    )?;
    same_tree("live vs shuffled live + older versions", &reference, &t)?;
    Ok(())
}

/// Decimal spellings the ordered encoding accepts.
fn decimal() -> impl Strategy<Value = String> {
    (
        select(&["", "+", "-"][..]),
        "[0-9]{0,6}",
        proptest::option::of("[0-9]{0,6}"),
        proptest::option::of(-30i64..30),
    )
        .prop_filter_map("needs a digit", |(sign, int, frac, exp)| {
            let frac_digits = frac.as_deref().unwrap_or("");
            if int.is_empty() && frac_digits.is_empty() {
                return None;
            }
            let mut s = format!("{sign}{int}");
            if let Some(f) = &frac {
                s.push('.');
                s.push_str(f);
            }
            if let Some(e) = exp {
                s.push_str(&format!("e{e}"));
            }
            Some(s)
        })
}

/// The exact value of a decimal spelling, as `(numerator, denominator exponent)` for
/// comparing: compares numerically via the canonical rational.
fn compare_exact(a: &str, b: &str) -> std::cmp::Ordering {
    fn parts(s: &str) -> (bool, Vec<u8>, i64) {
        let s = s.trim();
        let (neg, s) = match s.as_bytes()[0] {
            b'-' => (true, &s[1..]),
            b'+' => (false, &s[1..]),
            _ => (false, s),
        };
        let (m, e) = s
            .split_once(['e', 'E'])
            .map_or((s, 0), |(m, e)| (m, e.parse().unwrap_or(0)));
        let (i, f) = m.split_once('.').unwrap_or((m, ""));
        let digits: Vec<u8> = format!("{i}{f}").bytes().collect();
        let lead = digits.iter().take_while(|&&d| d == b'0').count();
        let sig: Vec<u8> = digits[lead..].to_vec();
        let end = sig.len() - sig.iter().rev().take_while(|&&d| d == b'0').count();
        let sig = sig[..end].to_vec();
        let exp = i.len() as i64 + e - lead as i64;
        (neg && !sig.is_empty(), sig, exp)
    }
    let (na, da, ea) = parts(a);
    let (nb, db, eb) = parts(b);
    let mag = |d: &Vec<u8>, e: i64, d2: &Vec<u8>, e2: i64| match (d.is_empty(), d2.is_empty()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Less,
        (false, true) => std::cmp::Ordering::Greater,
        _ => e.cmp(&e2).then_with(|| d.cmp(d2)),
    };
    match (na, nb) {
        (false, true) => std::cmp::Ordering::Greater,
        (true, false) => std::cmp::Ordering::Less,
        (false, false) => mag(&da, ea, &db, eb),
        (true, true) => mag(&db, eb, &da, ea),
    }
}

/// The documented Go defect: a negative number whose significant digits extend the
/// other's significant digits (`-1` vs `-1.5`) compares backwards.
fn negative_prefix_pair(a: &str, b: &str) -> bool {
    let (Ok(x), Ok(y)) = (ordered_key_bytes(a), ordered_key_bytes(b)) else {
        return false;
    };
    x[0] == 0 && y[0] == 0 && (x.starts_with(&y) || y.starts_with(&x)) && x != y
}

proptest! {
    #![proptest_config(config("dynamodb.txt"))]

    #[test]
    fn live_snapshots_round_trip_in_both_layouts(seed in any::<u64>(), budget in select(BUDGETS)) {
        round_trip(&generate(seed, MIX), budget)?;
    }

    #[test]
    fn decoding_ignores_order_and_shadowed_versions(
        seed in any::<u64>(),
        budgets in [select(BUDGETS), select(BUDGETS), select(BUDGETS)],
    ) {
        order_and_shadowing(&generate(seed, MIX), seed, budgets)?;
    }

    #[test]
    fn ordered_numbers_preserve_order(a in decimal(), b in decimal()) {
        let (x, y) = (ordered_key_bytes(&a).unwrap(), ordered_key_bytes(&b).unwrap());
        let numeric = compare_exact(&a, &b);
        prop_assert_eq!(x == y, numeric == std::cmp::Ordering::Equal, "{} vs {}", a, b);
        prop_assert_eq!(canonical(&a) == canonical(&b), x == y, "{} vs {}", a, b);
        if !negative_prefix_pair(&a, &b) {
            prop_assert_eq!(x.cmp(&y), numeric, "{} vs {}", a, b);
        }
    }

    #[test]
    fn canonicalisation_is_idempotent(n in "[ +-]?[0-9a-fA-FxXoObBpP_./eE+-]{0,12} ?") {
        let once = canonical(&n);
        prop_assert_eq!(canonical(&once), once.clone(), "{:?}", n);
    }
}

/// A larger database, every sort spilling.
#[test]
fn larger_generated_database_round_trips() {
    let db = generate(
        99,
        Mix {
            tables: 6,
            items: 300,
        },
    );
    round_trip(&db, 64).unwrap();
}

/// `ddb-items` is the encoder's canonical layout: decoding it and encoding the tree
/// gives back the same bytes, in both layouts.
#[test]
fn ddb_items_workload_is_a_fixpoint() {
    use elastickv_synth::workload::{Profile, Scale, Workload, write_snapshot};
    let profile: Profile = "ddb-items".parse().unwrap();
    let workload = Workload::new(profile, Scale::new(0.01).unwrap());
    let (snapshot, summary) = write_snapshot(Vec::new(), &workload, 3).unwrap();
    let mut work = Work::new();
    for bundle in [None, Some(64 << 10)] {
        let (root, _) = decode(&mut work, &snapshot, 4096, bundle).unwrap();
        let encoded = encode_tree(&root, summary.last_commit_ts, &work.scratch(), 4096).unwrap();
        assert!(
            encoded == snapshot,
            "layout {bundle:?}: re-encoded bytes differ"
        );
    }
}

//! Replays the committed seed corpus and every saved regression through the oracles,
//! under plain `cargo test` (no libFuzzer). A file in a directory named after an oracle
//! (`corpus/envelope/…`, `regressions/segment/…`) runs with that oracle pinned, as
//! `FUZZER=<oracle>` does; any other file is routed by its first byte.

use std::path::{Path, PathBuf};

use elastickv_fuzz::{ORACLES, run_input, select};

fn files_under(dir: &Path) -> Vec<(PathBuf, Option<usize>)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            let forced = ORACLES.iter().position(|(n, _)| *n == name);
            for file in sorted_files(&path) {
                out.push((file, forced));
            }
        } else if path.is_file() && !is_doc(&path) {
            out.push((path, None));
        }
    }
    out
}

fn sorted_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| p.is_file() && !is_doc(p));
    files.sort();
    files
}

fn is_doc(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "md")
}

/// Runs every file, collecting failures so one run reports all of them.
fn replay(dir: &str) -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let files = files_under(&root);
    let mut failures = Vec::new();
    for (file, forced) in &files {
        let data = std::fs::read(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let oracle = select(&data, *forced).map_or("(empty)", |(name, ..)| name);
        if std::panic::catch_unwind(|| run_input(&data, *forced)).is_err() {
            failures.push(format!("{oracle}: {}", file.display()));
        }
    }
    assert!(
        failures.is_empty(),
        "failing inputs:\n{}",
        failures.join("\n")
    );
    files.len()
}

#[test]
fn seed_corpus_replays() {
    let n = replay("corpus");
    assert!(n >= 20, "the seed corpus should not be empty ({n} files)");
}

/// Every saved crash, by name: `regression!(test_name, "oracle", "file")` replays
/// `regressions/<oracle>/<file>` with that oracle pinned. A new file under
/// `regressions/` fails [`every_regression_has_a_named_test`] until it is listed here.
macro_rules! regressions {
    ($($test:ident: $oracle:literal / $file:literal;)*) => {
        $(
            #[test]
            fn $test() {
                replay_regression($oracle, $file);
            }
        )*

        /// `(oracle, file)` of every named regression test.
        const NAMED_REGRESSIONS: &[(&str, &str)] = &[$(($oracle, $file)),*];
    };
}

regressions! {
    // A TTL-less HLL is written as the raw sketch; a sketch that starts `FF 02` reads
    // back as an envelope (the live format's own ambiguity, docs/format.md §3.4). The oracle
    // first called that a codec bug.
    hll_raw_sketch_with_envelope_magic: "redis_values" / "hll-raw-sketch-with-envelope-magic";
    // A -0 score in a legacy zset blob: prost omits every score equal to 0.0 where
    // protobuf-go keeps -0, so the oracle rebuilds the blob by hand.
    zset_blob_negative_zero_score: "redis_values" / "zset-blob-negative-zero-score";
    // A tar path holding a newline needs a PAX record, which Go writes and reads but the
    // tar crate splits at the newline; the oracle first called that a writer bug.
    tar_pax_path_with_newline: "restore" / "tar-pax-path-with-newline";
    // A classic-layout dedup row whose generation starts with a base64url byte ('S'):
    // the queue segment runs into it, so the decoder files the row under another queue
    // ("8gS", not "8g") and the faithful restore rightly refuses it in the first one.
    // The oracle first expected the line in the directory of the queue it was built for.
    side_line_generation_extends_queue_segment: "sqs" / "side-line-generation-extends-queue-segment";
    // A queue meta row whose name is empty: its directory would be `sqs/` itself, and the
    // tree writer failed on the empty path segment with an I/O error (not a data error).
    // The decoder now refuses such a name (also "." and "..") as a malformed key.
    sqs_queue_meta_with_empty_name: "whole_snapshot" / "sqs-queue-meta-with-empty-name";
}

fn replay_regression(oracle: &str, file: &str) {
    let forced = ORACLES.iter().position(|(n, _)| *n == oracle);
    assert!(forced.is_some(), "no oracle named {oracle}");
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("regressions")
        .join(oracle)
        .join(file);
    let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    run_input(&data, forced);
}

#[test]
fn every_regression_has_a_named_test() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("regressions");
    let mut unnamed = Vec::new();
    for (file, forced) in files_under(&root) {
        let oracle = forced.map(|i| ORACLES[i].0);
        let name = file
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if !NAMED_REGRESSIONS.contains(&(oracle.unwrap_or("(by first byte)"), name)) {
            unnamed.push(file.display().to_string());
        }
    }
    assert!(
        unnamed.is_empty(),
        "regressions without a named test in tests/corpus_replay.rs:\n{}",
        unnamed.join("\n")
    );
    assert_eq!(
        NAMED_REGRESSIONS.len(),
        files_under(&root).len(),
        "a named regression test points at a missing file"
    );
}

/// Every oracle has seeds in the committed corpus.
#[test]
fn every_oracle_has_seeds() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let files = files_under(&root);
    for (i, (name, _)) in ORACLES.iter().enumerate() {
        let seeded = files.iter().any(|(file, forced)| {
            *forced == Some(i)
                || std::fs::read(file)
                    .ok()
                    .and_then(|d| select(&d, None).map(|(n, ..)| n == *name))
                    .unwrap_or(false)
        });
        assert!(seeded, "no seed for oracle {name}");
    }
}

//! The README's first command must stay true: the bundled sample decodes, verifies and
//! round-trips through `encode --self-test`.

mod support;

use std::path::Path;

use support::*;

fn sample() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/redis-sample.fsm")
}

#[test]
fn readme_sample_decodes_verifies_and_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let sample = sample();
    let decode = run(
        MAIN,
        d,
        &[
            os("decode"),
            os("--input"),
            sample.as_os_str(),
            os("--output"),
            os("sample-tree"),
        ],
    );
    assert!(decode.status.success(), "{}", stderr(&decode));
    let strings = d.join("sample-tree/redis/db_0/strings");
    assert!(
        files_below(&strings).len() >= 100,
        "the sample holds strings"
    );
    for subdir in ["hashes", "lists", "sets", "zsets", "streams"] {
        let dir = d.join("sample-tree/redis/db_0").join(subdir);
        assert!(!files_below(&dir).is_empty(), "the sample holds {subdir}");
    }

    let verify = run(MAIN, d, &[os("verify"), os("sample-tree")]);
    assert!(verify.status.success(), "{}", stderr(&verify));

    let encode = run(
        MAIN,
        d,
        &[
            os("encode"),
            os("--self-test"),
            os("--input"),
            os("sample-tree"),
            os("--output"),
            os("round-trip.fsm"),
        ],
    );
    assert!(encode.status.success(), "{}", stderr(&encode));
    assert!(
        stdout(&encode).contains("self-test matched"),
        "{}",
        stdout(&encode)
    );
    let (_, records) = redis_entries(&d.join("round-trip.fsm"));
    assert!(records.len() >= 1000, "{} records", records.len());
}

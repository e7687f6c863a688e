//! The README's first command must stay true: the bundled sample decodes with the
//! default adapters into all four adapters' subtrees, verifies, and round-trips through
//! `encode --self-test` to the sample itself, byte for byte.

mod support;

use std::fs;
use std::path::Path;

use support::*;

fn sample() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/mixed-sample.fsm")
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
        files_below(&strings).len() >= 50,
        "the sample holds strings"
    );
    for subdir in ["hashes", "lists", "sets", "zsets", "streams"] {
        let dir = d.join("sample-tree/redis/db_0").join(subdir);
        assert!(!files_below(&dir).is_empty(), "the sample holds {subdir}");
    }
    for (dir, what) in [
        ("dynamodb/users/items", "DynamoDB items"),
        ("dynamodb/orders/items", "DynamoDB items of a composite key"),
        ("s3/large", "S3 objects"),
    ] {
        let dir = d.join("sample-tree").join(dir);
        assert!(files_below(&dir).len() >= 5, "the sample holds {what}");
    }
    let queues = fs::read_dir(d.join("sample-tree/sqs")).unwrap().count();
    assert_eq!(queues, 10, "the sample holds SQS queues of every kind");

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
    assert!(
        fs::read(d.join("round-trip.fsm")).unwrap() == fs::read(&sample).unwrap(),
        "encode --self-test of the decoded sample is not the sample"
    );
}

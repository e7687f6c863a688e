//! `generate`: deterministic bytes, `--tree` equal to `decode` of `--fsm`, refusing
//! existing outputs, typed usage errors, and the README sample being its output.

mod support;

use std::fs;
use std::path::Path;
use std::process::Output;

use elastickv_testkit::tree::{files, read_tree};
use support::*;

/// `generate --profile redis-mixed` with `args`, in `dir`.
fn generate(dir: &Path, args: &[&str]) -> Output {
    let mut all = vec![os("generate"), os("--profile"), os("redis-mixed")];
    all.extend(args.iter().map(|a| os(a)));
    run(MAIN, dir, &all)
}

fn ok(out: &Output) {
    assert!(out.status.success(), "{}", stderr(out));
}

#[test]
fn same_seed_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let small = ["--scale", "0.002", "--giant", "40"];
    for (name, seed) in [("a.fsm", "7"), ("b.fsm", "7"), ("c.fsm", "8")] {
        let out = generate(d, &[&small[..], &["--seed", seed, "--fsm", name]].concat());
        ok(&out);
        assert!(
            stdout(&out).starts_with(&format!(
                "generated redis-mixed (scale 0.002, seed {seed}, giant 40) -> {name}: "
            )),
            "{}",
            stdout(&out)
        );
    }
    let a = fs::read(d.join("a.fsm")).unwrap();
    assert!(a.starts_with(b"EKVPBBL1"));
    assert_eq!(a, fs::read(d.join("b.fsm")).unwrap(), "same seed");
    assert_ne!(a, fs::read(d.join("c.fsm")).unwrap(), "other seed");
    assert_eq!(mode(&d.join("a.fsm")), 0o600);
    assert!(temp_files(d).is_empty());
}

#[test]
fn json_summary_counts_what_was_written() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = generate(d, &["--scale", "0.001", "--fsm", "s.fsm", "--json"]);
    ok(&out);
    let summary: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(summary["command"], "generate");
    assert_eq!(summary["profile"], "redis-mixed");
    assert_eq!(summary["keys"], 272);
    assert_eq!(
        summary["bytes"],
        fs::metadata(d.join("s.fsm")).unwrap().len()
    );
    let (_, records) = redis_entries(&d.join("s.fsm"));
    assert_eq!(summary["entries"], records.len() as u64);
}

/// The tree is what `decode` makes of the snapshot, but for MANIFEST.json's wall time
/// and `source.fsm_path` (the command line), and so CHECKSUMS' MANIFEST line.
#[test]
fn tree_is_the_decoded_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let scratch = d.join("scratch");
    fs::create_dir(&scratch).unwrap();
    let args = ["--scale", "0.002", "--seed", "5", "--giant", "30"];
    ok(&generate(d, &[&args[..], &["--fsm", "g.fsm"]].concat()));
    let out = generate(
        d,
        &[
            &args[..],
            &["--tree", "generated", "--scratch-root", "scratch"],
        ]
        .concat(),
    );
    ok(&out);
    assert!(stdout(&out).contains(" files; "), "{}", stdout(&out));
    assert!(
        fs::read_dir(&scratch).unwrap().next().is_none(),
        "scratch snapshot removed"
    );
    let decode = run(
        MAIN,
        d,
        &[
            os("decode"),
            os("--input"),
            os("g.fsm"),
            os("--output"),
            os("decoded"),
        ],
    );
    ok(&decode);

    let mut generated = read_tree(&d.join("generated")).unwrap();
    let mut decoded = read_tree(&d.join("decoded")).unwrap();
    let manifests = [&mut generated, &mut decoded].map(|tree| {
        let text = tree.remove("MANIFEST.json").flatten().unwrap();
        let checksums = tree.remove("CHECKSUMS").flatten().unwrap();
        let listed: Vec<String> = String::from_utf8(checksums)
            .unwrap()
            .lines()
            .filter(|l| !l.ends_with("  MANIFEST.json"))
            .map(str::to_owned)
            .collect();
        let mut manifest: serde_json::Value = serde_json::from_slice(&text).unwrap();
        let source = manifest["source"]["fsm_path"].take();
        manifest["wall_time_iso"].take();
        (manifest, listed, source)
    });
    let generated_files = files(&generated).count();
    assert!(generated_files > 200, "{generated_files}");
    assert_eq!(generated, decoded, "adapter files");
    let [
        (gen_manifest, gen_listed, gen_source),
        (dec_manifest, dec_listed, dec_source),
    ] = manifests;
    assert_eq!(gen_manifest, dec_manifest);
    assert_eq!(gen_listed, dec_listed);
    assert_eq!(dec_source, "g.fsm");
    assert_eq!(
        gen_source,
        "elastickv-snapshot generate --profile redis-mixed --scale 0.002 --seed 5 --giant 30 \
         --tree generated"
    );
    let verify = run(MAIN, d, &[os("verify"), os("generated")]);
    ok(&verify);
}

/// A generated snapshot is stored exactly as the encoder stores the same data (the live
/// layout: consolidated metas, TTL scan-index rows for expiring collections), so
/// `encode(generate --tree)` is byte for byte `generate --fsm`: a full round trip of
/// every Redis type, giant collections included.
#[test]
fn encoding_the_generated_tree_gives_the_generated_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let args = ["--scale", "0.003", "--seed", "11", "--giant", "50"];
    ok(&generate(d, &[&args[..], &["--fsm", "g.fsm"]].concat()));
    ok(&generate(d, &[&args[..], &["--tree", "t"]].concat()));
    let encode = run(
        MAIN,
        d,
        &[
            os("encode"),
            os("--adapter"),
            os("redis"),
            os("--input"),
            os("t"),
            os("--output"),
            os("e.fsm"),
            os("--self-test"),
        ],
    );
    ok(&encode);
    assert!(
        fs::read(d.join("g.fsm")).unwrap() == fs::read(d.join("e.fsm")).unwrap(),
        "encode(generate --tree) differs from generate --fsm"
    );
}

#[test]
fn existing_outputs_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::write(d.join("taken.fsm"), b"precious").unwrap();
    let out = generate(d, &["--scale", "0.001", "--fsm", "taken.fsm"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(error_code(&out).as_deref(), Some("output-exists"));
    assert!(stderr(&out).contains("--force"), "{}", stderr(&out));
    assert_eq!(fs::read(d.join("taken.fsm")).unwrap(), b"precious");
    assert!(temp_files(d).is_empty());

    let out = generate(d, &["--scale", "0.001", "--fsm", "taken.fsm", "--force"]);
    ok(&out);
    assert!(
        fs::read(d.join("taken.fsm"))
            .unwrap()
            .starts_with(b"EKVPBBL1")
    );
    assert!(temp_files(d).is_empty());

    fs::create_dir_all(d.join("full")).unwrap();
    fs::write(d.join("full/x"), b"x").unwrap();
    let out = generate(d, &["--scale", "0.001", "--tree", "full"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(error_code(&out).as_deref(), Some("output-not-empty"));
    assert_eq!(files_below(&d.join("full")), [Path::new("x")]);
}

#[test]
fn bad_scales_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for scale in ["0", "-1", "nan", "inf", "1e9", "abc", ""] {
        let out = generate(d, &["--scale", scale, "--fsm", "x.fsm"]);
        assert_eq!(out.status.code(), Some(1), "{scale:?}: {}", stderr(&out));
        assert_eq!(
            error_code(&out).as_deref(),
            Some("invalid-scale"),
            "{scale:?}"
        );
        assert!(!d.join("x.fsm").exists());
    }
    assert!(temp_files(d).is_empty());
}

#[test]
fn exactly_one_target() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for args in [
        &["--scale", "0.001"][..],
        &["--scale", "0.001", "--fsm", "x.fsm", "--tree", "t"],
        &["--scale", "0.001", "--tree", "t", "--force"],
        &["--scale", "0.001", "--fsm", "x.fsm", "--scratch-root", "."],
    ] {
        let out = generate(d, args);
        assert!(!out.status.success(), "{args:?}");
        assert!(
            stderr(&out).contains("Usage:"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    assert!(fs::read_dir(d).unwrap().next().is_none(), "nothing written");
}

/// `samples/mixed-sample.fsm` is exactly what the README says regenerates it.
#[test]
fn readme_sample_is_generated() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let args = [
        "generate",
        "--profile",
        "mixed",
        "--scale",
        "0.0003",
        "--seed",
        "1",
        "--fsm",
        "sample.fsm",
    ];
    let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| os(a)).collect();
    ok(&run(MAIN, d, &args));
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/mixed-sample.fsm");
    assert!(
        fs::read(d.join("sample.fsm")).unwrap() == fs::read(sample).unwrap(),
        "samples/mixed-sample.fsm differs from `generate --profile mixed --scale 0.0003 \
         --seed 1`; regenerate it with that command if the change is intended"
    );
}

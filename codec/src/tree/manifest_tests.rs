//! Tests of [`super`], kept beside it so the module reads as the format does.

use super::*;

const VECTOR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/vectors/case-0001/tree/MANIFEST.json"
);

fn vector_manifest() -> Manifest {
    let mut m =
        Manifest::new_phase0(WallTime::parse_rfc3339("2026-11-22T02:48:17.954299133Z").unwrap());
    m.elastickv_version = "dev".into();
    m.last_commit_ts = 116114217163165220;
    m.source = Some(Source {
        fsm_path: "input.fsm".into(),
        ..Source::default()
    });
    m.adapters = Some(Adapters {
        dynamodb: Some(Adapter::default()),
        s3: Some(Adapter::default()),
        redis: Some(Adapter::default()),
        sqs: Some(Adapter::default()),
    });
    m
}

#[test]
fn renders_like_go() {
    let want = std::fs::read(VECTOR).unwrap();
    let got = vector_manifest().to_bytes().unwrap();
    assert_eq!(
        String::from_utf8(got).unwrap(),
        String::from_utf8(want.clone()).unwrap()
    );
    assert_eq!(Manifest::parse(&want).unwrap(), vector_manifest());
    assert_eq!(
        Manifest::read_file(Path::new(VECTOR)).unwrap(),
        vector_manifest()
    );
}

#[test]
fn omitempty_rules() {
    let mut m = vector_manifest();
    m.adapters = Some(Adapters {
        redis: Some(Adapter::default()),
        ..Adapters::default()
    });
    m.exclusions = Some(Exclusions {
        include_orphans: true,
        rename_s3_collisions: true,
        ..Exclusions::default()
    });
    m.cluster_id = "c1".into();
    m.snapshot_index = 7;
    m.elastickv_version.clear();
    m.last_commit_ts = 0;
    let text = String::from_utf8(m.to_bytes().unwrap()).unwrap();
    assert!(text.contains("\"phase\": \"phase0-snapshot-decode\",\n  \"cluster_id\": \"c1\",\n  \"snapshot_index\": 7,\n  \"wall_time_iso\""));
    assert!(text.contains("\"adapters\": {\n    \"redis\": {}\n  },"));
    assert!(text.contains(
        "\"include_sqs_side_records\": false,\n    \"rename_s3_collisions\": true\n  },"
    ));
    assert!(text.ends_with("\"dynamodb_layout\": \"per-item\"\n}\n"));
    assert_eq!(Manifest::parse(text.as_bytes()).unwrap(), m);
    m.cluster_id = "<&>".into();
    assert!(
        String::from_utf8(m.to_bytes().unwrap())
            .unwrap()
            .contains("\"cluster_id\": \"<&>\"")
    );
}

fn text() -> String {
    String::from_utf8(vector_manifest().to_bytes().unwrap()).unwrap()
}

fn parse_err(text: &str) -> (String, String) {
    let e = Manifest::parse(text.as_bytes()).unwrap_err();
    (e.code().to_owned(), e.to_string())
}

#[test]
fn version_gate() {
    let t = text();
    let cases = [
        (
            t.replace("\"format_version\": 1", "\"format_version\": 0"),
            "unsupported-format-version",
            "format_version is zero",
        ),
        (
            t.replace("\"format_version\": 1", "\"format_version\": 2"),
            "unsupported-format-version",
            "format_version 2 > current 1 (newer producer)",
        ),
        (
            t.replace("\"format_version\": 1", "\"format_version\": null"),
            "invalid-manifest",
            "format_version is null",
        ),
        (
            t.replace("\"format_version\": 1", "\"FORMAT_VERSION\": 1"),
            "invalid-manifest",
            "format_version missing",
        ),
        (
            t.replace("\"format_version\": 1", "\"format_version\": \"1\""),
            "invalid-manifest",
            "uint32",
        ),
        (
            t.replace("\"format_version\": 1", "\"format_version\": 1.0"),
            "invalid-manifest",
            "uint32",
        ),
        (
            t.replace("\"format_version\": 1", "\"format_version\": 4294967296"),
            "invalid-manifest",
            "uint32",
        ),
        // A newer major may change other fields' types: still "unsupported".
        (
            t.replace("\"format_version\": 1", "\"format_version\": 2")
                .replace("\"phase0-snapshot-decode\"", "7"),
            "unsupported-format-version",
            "newer producer",
        ),
        // Go's probe decodes the last case-insensitive match.
        (
            t.replace(
                "\"format_version\": 1,",
                "\"format_version\": 1, \"Format_Version\": 3,",
            ),
            "unsupported-format-version",
            "3 > current",
        ),
        (
            "[]".to_owned(),
            "invalid-manifest",
            "format_version missing",
        ),
        (
            "null".to_owned(),
            "invalid-manifest",
            "format_version missing",
        ),
        (String::new(), "invalid-manifest", "unexpected end"),
    ];
    for (input, code, msg) in cases {
        let (got_code, got_msg) = parse_err(&input);
        assert_eq!(got_code, code, "{input}");
        assert!(got_msg.contains(msg), "{got_msg:?} should mention {msg:?}");
    }
}

#[test]
fn structure_rules() {
    let t = text();
    let cases = [
        (format!("{t} {{}}"), "invalid character after top-level value"),
        (format!("{t}x"), "invalid character after top-level value"),
        (t.replace("\"include_orphans\": false,\n", ""), "exclusions.include_orphans missing"),
        (t.replace("\"include_orphans\": false", "\"include_orphans\": null"), "exclusions.include_orphans is null"),
        (t.replace("\"include_orphans\": false", "\"include_orphans\": 0"), "bool"),
        (t.replace("\"phase0-snapshot-decode\"", "\"phase2\""), "unknown phase"),
        (t.replace("\"phase0-snapshot-decode\"", "null"), "unknown phase"),
        (t.replace("2026-11-22T02:48:17.954299133Z", "yesterday"), "wall_time_iso unparseable"),
        (t.replace("\"2026-11-22T02:48:17.954299133Z\"", "\"\""), "wall_time_iso missing"),
        (t.replace("\"sha256\"", "\"\""), "checksum_algorithm missing"),
        (t.replace("\"key_segment_max_bytes\": 240", "\"key_segment_max_bytes\": 0"), "key_segment_max_bytes is zero"),
        (t.replace("\"per-item\"", "\"bundle\""), "dynamodb_layout \"bundle\" unsupported"),
        (t.replace("\"source\": {", "\"live\": {\"read_ts\": 1}, \"source\": {"), "phase0 must not set live"),
        (
            t.replace("\"adapters\": {\n    \"dynamodb\": {},\n    \"s3\": {},\n    \"redis\": {},\n    \"sqs\": {}\n  }", "\"adapters\": null"),
            "adapters section missing",
        ),
        (t.replace("\"exclusions\": {", "\"exclusions\": null, \"x\": {"), "exclusions.include_incomplete_uploads missing"),
        (t.replace("\"source\": {", "\"source\": 5, \"x\": {"), "cannot unmarshal number"),
        (t.replace("\"dynamodb\": {}", "\"dynamodb\": {\"tables\": \"t\"}"), "slice"),
    ];
    for (input, msg) in cases {
        let (code, got) = parse_err(&input);
        assert_eq!(code, "invalid-manifest", "{input}");
        assert!(got.contains(msg), "{got:?} should mention {msg:?}");
    }
}

#[test]
fn go_decoding_quirks() {
    let t = text();
    // Trailing whitespace is fine (Decoder.More is false).
    assert!(Manifest::parse(format!("{t}\n\n ").as_bytes()).is_ok());
    // Unknown members are ignored; null leaves scalars unchanged; names fold.
    let m = Manifest::parse(
        t.replace(
            "\"phase\":",
            "\"future\": [1, {\"a\": null}], \"cluster_id\": null, \"Phase\":",
        )
        .replace(
            "\"elastickv_version\": \"dev\"",
            "\"elastickv_version\": \"dev\", \"ELASTICKV_VERSION\": null",
        )
        .as_bytes(),
    )
    .unwrap();
    assert_eq!(m.phase, PHASE0_SNAPSHOT_DECODE);
    assert_eq!(m.elastickv_version, "dev");
    // Duplicate objects merge, as Go reuses the non-nil pointer.
    let m = Manifest::parse(
        t.replace(
            "\"source\": {",
            "\"source\": {\"fsm_crc32c\": \"abcd\"}, \"source\": {",
        )
        .as_bytes(),
    )
    .unwrap();
    assert_eq!(
        m.source,
        Some(Source {
            fsm_path: "input.fsm".into(),
            fsm_crc32c: "abcd".into(),
            as_of: None,
        })
    );
    // A phase-1 manifest.
    let p1 = t
        .replace("phase0-snapshot-decode", PHASE1_LIVE_PINNED)
        .replace(
            "\"source\": {\n    \"fsm_path\": \"input.fsm\"\n  }",
            "\"live\": {\"read_ts\": 9}",
        );
    assert_eq!(
        Manifest::parse(p1.as_bytes()).unwrap().live,
        Some(Live {
            read_ts: 9,
            ..Live::default()
        })
    );
    let (_, msg) = parse_err(&p1.replace("\"read_ts\": 9", "\"read_ts\": 0"));
    assert!(msg.contains("read_ts must be non-zero"));
    let (_, msg) = parse_err(&p1.replace("\"live\": {\"read_ts\": 9}", "\"source\": {}"));
    assert!(msg.contains("phase1 must not set source"));
}

#[test]
fn writer_validates() {
    let mut m = vector_manifest();
    m.format_version = 2;
    let e = m.to_bytes().unwrap_err();
    assert_eq!(e.code(), "invalid-manifest");
    assert!(e.to_string().contains("this build cannot produce that"));
    let mut m = vector_manifest();
    m.exclusions = None;
    assert_eq!(m.to_bytes().unwrap_err().code(), "invalid-manifest");
}

#[test]
fn write_file_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let m = vector_manifest();
    m.write_file(dir.path()).unwrap();
    assert_eq!(
        Manifest::read_file(&dir.path().join(MANIFEST_FILE_NAME)).unwrap(),
        m
    );
    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, b"{}").unwrap();
    let e = Manifest::read_file(&broken).unwrap_err();
    assert!(
        e.to_string()
            .starts_with(&format!("{}: manifest invalid", broken.display()))
    );
    assert_eq!(e.exit_class(), ExitClass::Data);
}

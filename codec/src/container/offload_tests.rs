use super::*;

/// A live payload as `publish` stores it: EKVTHLC1 header and store, no footer.
fn live_payload() -> Vec<u8> {
    let mut bytes = b"EKVTHLC1\0\0\0\0\0\0\0\x01".to_vec();
    bytes.extend_from_slice(&crate::container::tests::WORKED_EXAMPLE);
    bytes
}

fn sha_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn manifest_json(bytes: i64, sha: &str, crc: u32) -> String {
    format!(
        r#"{{"schema_version":1,"created_at":"2026-01-02T03:04:05Z","group_id":1,"snapshot_index":101,"snapshot_term":2,"conf_state":{{"voters":[1]}},"payload":{{"key":"v1/payloads/sha256/ab/x.fsm","bytes":{bytes},"sha256":"{sha}","source_crc32c":{crc}}},"manifest_key":"k","manifest_sha256":"00"}}"#
    )
}

struct Files {
    _dir: tempfile::TempDir,
    payload: PathBuf,
    manifest: PathBuf,
}

fn files(manifest: &str) -> Files {
    let dir = tempfile::tempdir().unwrap();
    let payload = dir.path().join("p.fsm");
    let manifest_path = dir.path().join("m.json");
    std::fs::write(&payload, live_payload()).unwrap();
    std::fs::write(&manifest_path, manifest).unwrap();
    Files {
        _dir: dir,
        payload,
        manifest: manifest_path,
    }
}

fn good_manifest() -> String {
    let p = live_payload();
    manifest_json(p.len() as i64, &sha_hex(&p), crc32c::crc32c(&p))
}

fn check(manifest: &str) -> Result<(), OffloadError> {
    let f = files(manifest);
    let m = read_offload_manifest(&f.manifest)?;
    verify_payload(&f.payload, &m)
}

#[test]
fn matching_manifest_vouches_for_the_payload() {
    let f = files(&good_manifest());
    let m = read_offload_manifest(&f.manifest).unwrap();
    assert_eq!((m.group_id, m.snapshot_index, m.snapshot_term), (1, 101, 2));
    verify_payload(&f.payload, &m).unwrap();
}

#[test]
fn disagreeing_manifests_are_refused_naming_the_fact() {
    let p = live_payload();
    let (len, sha, crc) = (p.len() as i64, sha_hex(&p), crc32c::crc32c(&p));
    let other_sha = sha_hex(b"other");
    let cases = [
        (
            manifest_json(len + 4, &sha, crc),
            "length is 81 bytes, the manifest records 85 bytes",
        ),
        (manifest_json(len, &other_sha, crc), "SHA-256 is"),
        (manifest_json(len, &sha, crc ^ 1), "CRC32C is"),
    ];
    for (manifest, text) in cases {
        let error = check(&manifest).unwrap_err();
        assert_eq!(error.code(), "offload-payload-mismatch");
        assert_eq!(error.exit_class(), ExitClass::Data);
        assert!(error.to_string().contains(text), "{error}");
    }
}

#[test]
fn malformed_manifests_are_refused() {
    let p = live_payload();
    let sha = sha_hex(&p);
    let cases = [
        ("{}".to_owned(), "not a manifest"),
        (
            manifest_json(1, &sha, 0).replace("\"schema_version\":1", "\"schema_version\":2"),
            "schema version 2",
        ),
        (manifest_json(-1, &sha, 0), "byte count must be >= 0"),
        (manifest_json(1, &sha.to_uppercase(), 0), "64 lowercase hex"),
        (
            manifest_json(1, &sha, 0).replace("\"snapshot_index\":101", "\"snapshot_index\":0"),
            "must be > 0",
        ),
    ];
    for (manifest, text) in cases {
        let error = check(&manifest).unwrap_err();
        assert_eq!(error.code(), "offload-manifest-invalid", "{error}");
        assert!(error.to_string().contains(text), "{error}");
    }
}

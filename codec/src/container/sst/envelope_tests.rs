use super::*;

const SHA: &str = "40547819e3e2de695faa488ac39edf83a53875771bede57dee2ac9c6c1ab75f1";

fn file(i: usize, size: i64, smallest: &str, largest: &str) -> String {
    use base64::engine::general_purpose::STANDARD;
    format!(
        r#"{{"name":"{i:06}.sst","size":{size},"sha256":"{SHA}","smallest":"{}","largest":"{}"}}"#,
        STANDARD.encode(smallest),
        STANDARD.encode(largest)
    )
}

fn manifest(files: &[String], total: i64) -> String {
    format!(
        r#"{{"version":1,"last_commit_ts":9,"min_retained_ts":1,"pending_min_retained_ts":0,"applied_index":601,"entry_count":3,"uncompressed_bytes":10,"total_file_bytes":{total},"files":{}}}"#,
        if files.is_empty() {
            "null".to_owned()
        } else {
            format!("[{}]", files.join(","))
        }
    )
}

fn check(json: &str) -> Result<Manifest, String> {
    let m = decode_manifest(json.as_bytes())?;
    validate(&m)?;
    Ok(m)
}

#[test]
fn a_valid_manifest_decodes() {
    let m = check(&manifest(&[file(0, 5, "a", "c"), file(1, 7, "d", "d")], 12)).unwrap();
    assert_eq!(m.applied_index, Some(601));
    assert_eq!(m.files[1].smallest, b"d");
    // An empty store: files null, no applied index; member names match like Go's.
    let m = check(r#"{"VERSION":1,"total_file_bytes":0,"files":null} "#).unwrap();
    assert!(m.files.is_empty());
    assert_eq!(m.applied_index, None);
}

#[test]
fn upstream_refusals_in_upstream_order() {
    let cases = [
        (
            manifest(&[], 0).replace("\"version\":1", "\"version\":2"),
            "unsupported SST ingest snapshot version: 2",
        ),
        (
            manifest(&[file(1, 5, "a", "b")], 5),
            "invalid SST ingest file name \"000001.sst\"",
        ),
        (
            manifest(&[file(0, 0, "a", "b")], 0),
            "invalid SST ingest file size for 000000.sst: 0",
        ),
        (
            manifest(&[file(0, 5, "", "b")], 5),
            "invalid SST ingest key bounds for 000000.sst",
        ),
        (
            manifest(&[file(0, 5, "c", "b")], 5),
            "invalid SST ingest key bounds",
        ),
        (
            manifest(&[file(0, 5, "a", "c"), file(1, 5, "c", "d")], 10),
            "overlapping SST ingest key bounds at 000001.sst",
        ),
        (
            manifest(&[file(0, 5, "a", "b")], 6),
            "SST ingest total size mismatch: manifest=6 files=5",
        ),
        (
            manifest(&[file(0, 5, "a", "b")], 5).replace(SHA, "xyz"),
            "invalid SST ingest SHA-256 for 000000.sst",
        ),
        (
            manifest(&[], 0).replace("\"version\"", "\"extra\":1,\"version\""),
            "unknown field \"extra\"",
        ),
        (format!("{} {{}}", manifest(&[], 0)), "trailing JSON"),
        (
            manifest(&[], 0).replace("\"version\":1", "\"version\":1.0"),
            "into int64",
        ),
        (
            manifest(&[], 0).replace("\"last_commit_ts\":9", "\"last_commit_ts\":-9"),
            "into uint64",
        ),
    ];
    for (json, want) in cases {
        let error = check(&json).unwrap_err();
        assert!(error.contains(want), "{json}\n{error}");
    }
}

/// The envelope bytes: magic, BE length, digest, JSON.
fn envelope_bytes(json: &[u8]) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&(json.len() as i64).to_be_bytes());
    out.extend_from_slice(&Sha256::digest(json));
    out.extend_from_slice(json);
    out
}

#[test]
fn envelope_framing_is_checked() {
    let json = manifest(&[], 0);
    let good = envelope_bytes(json.as_bytes());
    read_envelope(&mut &good[..], 0, None).unwrap();
    let kind = |bytes: &[u8]| read_envelope(&mut &bytes[..], 0, None).unwrap_err().kind();
    let mut bad_digest = good.clone();
    bad_digest[20] ^= 1;
    assert_eq!(kind(&bad_digest), ContainerErrorKind::SstManifestInvalid);
    let mut zero_len = good.clone();
    zero_len[8..16].copy_from_slice(&0i64.to_be_bytes());
    assert_eq!(kind(&zero_len), ContainerErrorKind::SstManifestInvalid);
    let mut huge = good.clone();
    huge[8..16].copy_from_slice(&((64i64 << 20) + 1).to_be_bytes());
    assert_eq!(kind(&huge), ContainerErrorKind::SstManifestInvalid);
    let mut negative = good.clone();
    negative[8..16].copy_from_slice(&(-1i64).to_be_bytes());
    assert_eq!(kind(&negative), ContainerErrorKind::SstManifestInvalid);
    for cut in [3, 20, good.len() - 1] {
        assert_eq!(
            kind(&good[..cut]),
            ContainerErrorKind::HeaderTruncated,
            "{cut}"
        );
    }
    let mut magic = good.clone();
    magic[7] = b'2';
    assert_eq!(kind(&magic), ContainerErrorKind::BadMagic);
}

//! Decoder and encoder behaviour the vectors do not pin down: the documented
//! differences from Go, spilling, and the error paths of assembly.

use std::fs;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::adapter::{AdapterDecoder, AdapterEncoder, DecodeFlags, Warnings};
use crate::container::EntryRef;
use crate::dispatch::route;
use crate::error::BoxError;
use crate::tree::writer::TreeWriter;

use super::conformance_tests::Collect;
use super::keys::{self, ChunkKey, ObjectId};
use super::values::{ChunkRef, encode_chunk_ref};
use super::{S3DecodeOptions, S3Decoder, S3Encoder};

type Rows = Vec<(Vec<u8>, Vec<u8>)>;

fn flags(orphans: bool, uploads: bool, rename: bool) -> DecodeFlags {
    let mut f = DecodeFlags::default();
    f.exclusions.include_orphans = orphans;
    f.exclusions.include_incomplete_uploads = uploads;
    f.exclusions.rename_s3_collisions = rename;
    f
}

/// Decodes `rows` (sorted first, as the driver hands them) into `out`.
fn decode_with(
    rows: &Rows,
    out: &Path,
    flags: &DecodeFlags,
    budget: usize,
) -> Result<Warnings, BoxError> {
    let scratch = tempfile::tempdir().unwrap();
    let mut rows = rows.clone();
    rows.sort();
    let tree = TreeWriter::serial(out).unwrap();
    let mut dec = S3Decoder::new(
        tree,
        S3DecodeOptions::new(scratch.path().to_path_buf(), budget, flags),
    );
    let mut warnings = Warnings::default();
    for (key, value) in &rows {
        let entry = EntryRef {
            offset: 0,
            encoded_key: key,
            user_key: key,
            commit_ts: 1,
            tombstone: false,
            expire_at: 0,
            body: value,
        };
        dec.handle(route(key).unwrap(), &entry, &mut warnings)?;
    }
    dec.finalize(&mut warnings)?;
    Ok(warnings)
}

fn decode(rows: &Rows, flags: &DecodeFlags) -> (Result<Warnings, BoxError>, tempfile::TempDir) {
    let out = tempfile::tempdir().unwrap();
    let result = decode_with(rows, out.path(), flags, 64 << 20);
    (result, out)
}

fn bucket_meta(bucket: &str, generation: u64) -> (Vec<u8>, Vec<u8>) {
    (
        keys::bucket_meta_key(bucket.as_bytes()),
        format!(r#"{{"bucket_name":"{bucket}","generation":{generation}}}"#).into_bytes(),
    )
}

fn chunk(
    bucket: &str,
    generation: u64,
    object: &str,
    upload: &str,
    part: u64,
    no: u64,
    version: u64,
) -> ChunkKey {
    ChunkKey {
        id: ObjectId {
            bucket: bucket.into(),
            generation,
            object: object.into(),
        },
        upload_id: upload.into(),
        part_no: part,
        chunk_no: no,
        part_version: version,
    }
}

/// A manifest of one stored part of `chunks` chunks.
fn manifest(
    bucket: &str,
    generation: u64,
    object: &str,
    upload: &str,
    chunks: u64,
) -> (Vec<u8>, Vec<u8>) {
    (
        keys::obj_head_key(bucket.as_bytes(), generation, object.as_bytes()),
        format!(
            r#"{{"upload_id":"{upload}","size_bytes":1,"parts":[{{"part_no":1,"chunk_count":{chunks}}}]}}"#
        )
        .into_bytes(),
    )
}

fn blob(c: &ChunkKey, body: &[u8]) -> (Vec<u8>, Vec<u8>) {
    (keys::chunk_key(keys::BLOB, c), body.to_vec())
}

fn read(out: &Path, rel: &str) -> Option<Vec<u8>> {
    fs::read(out.join(rel)).ok()
}

#[test]
fn without_bucket_meta_the_newest_generation_of_a_key_wins() {
    let rows = vec![
        manifest("b", 1, "k", "u", 1),
        blob(&chunk("b", 1, "k", "u", 1, 0, 0), b"old"),
        manifest("b", 2, "k", "u", 1),
        blob(&chunk("b", 2, "k", "u", 1, 0, 0), b"new"),
    ];
    let (result, out) = decode(&rows, &flags(false, false, false));
    result.unwrap();
    assert_eq!(read(out.path(), "s3/b/k").unwrap(), b"new");
    assert!(read(out.path(), "s3/b/_bucket.json").is_none());
}

#[test]
fn an_object_named_bucket_json_replaces_the_bucket_file() {
    let rows = vec![
        bucket_meta("b", 1),
        manifest("b", 1, "_bucket.json", "u", 1),
        blob(&chunk("b", 1, "_bucket.json", "u", 1, 0, 0), b"user data"),
    ];
    let (result, out) = decode(&rows, &flags(false, false, false));
    result.unwrap();
    assert_eq!(read(out.path(), "s3/b/_bucket.json").unwrap(), b"user data");
    assert!(read(out.path(), "s3/b/_bucket.json.elastickv-meta.json").is_some());
}

#[test]
fn keymap_is_sorted_by_encoded_name_and_the_same_on_every_run() {
    // Key order and encoded-name order differ: `a` < `a-b…` but
    // `a-b….user-data` < `a.elastickv-leaf-data`.
    let mut rows = vec![bucket_meta("b", 1)];
    for key in ["a", "a/x", "a-b.elastickv-meta.json"] {
        rows.push(manifest("b", 1, key, "u", 1));
        rows.push(blob(&chunk("b", 1, key, "u", 1, 0, 0), key.as_bytes()));
    }
    let mut seen = Vec::new();
    for budget in [64 << 20, 1] {
        let out = tempfile::tempdir().unwrap();
        decode_with(&rows, out.path(), &flags(false, false, true), budget).unwrap();
        let keymap = String::from_utf8(read(out.path(), "s3/b/KEYMAP.jsonl").unwrap()).unwrap();
        let encoded: Vec<String> = keymap
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["encoded"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        assert_eq!(
            encoded,
            ["a-b.elastickv-meta.json.user-data", "a.elastickv-leaf-data"]
        );
        assert_eq!(
            read(out.path(), "s3/b/a.elastickv-leaf-data").unwrap(),
            b"a"
        );
        seen.push(keymap);
    }
    assert_eq!(seen[0], seen[1]);
}

#[test]
fn meta_suffix_keys_need_rename_collisions_and_rename_targets_must_be_free() {
    let key = "x.elastickv-meta.json";
    let mut rows = vec![
        bucket_meta("b", 1),
        manifest("b", 1, key, "u", 1),
        blob(&chunk("b", 1, key, "u", 1, 0, 0), b"1"),
    ];
    let (result, _out) = decode(&rows, &flags(false, false, false));
    assert_eq!(result.unwrap_err().code(), "s3-meta-suffix-collision");
    let taken = format!("{key}.user-data");
    rows.push(manifest("b", 1, &taken, "u", 1));
    rows.push(blob(&chunk("b", 1, &taken, "u", 1, 0, 0), b"2"));
    let (result, _out) = decode(&rows, &flags(false, false, true));
    assert_eq!(result.unwrap_err().code(), "s3-meta-suffix-collision");
    // A leaf-data target that is a real key.
    let rows = vec![
        bucket_meta("b", 1),
        manifest("b", 1, "d", "u", 0),
        manifest("b", 1, "d/e", "u", 0),
        manifest("b", 1, "d.elastickv-leaf-data", "u", 0),
    ];
    let (result, _out) = decode(&rows, &flags(false, false, false));
    assert_eq!(result.unwrap_err().code(), "s3-meta-suffix-collision");
}

#[test]
fn a_user_object_named_keymap_cannot_share_a_bucket_with_renames() {
    let rows = vec![
        bucket_meta("b", 1),
        manifest("b", 1, "KEYMAP.jsonl", "u", 0),
        manifest("b", 1, "d", "u", 0),
        manifest("b", 1, "d/e", "u", 0),
    ];
    let (result, _out) = decode(&rows, &flags(false, false, false));
    assert_eq!(result.unwrap_err().code(), "s3-meta-suffix-collision");
}

#[test]
fn only_the_declared_upload_and_part_version_make_the_body() {
    let m = (
        keys::obj_head_key(b"b", 1, b"k"),
        br#"{"upload_id":"u2","parts":[{"part_no":1,"chunk_count":2,"part_version":7},{"part_no":2,"chunk_count":1}]}"#.to_vec(),
    );
    let rows = vec![
        bucket_meta("b", 1),
        m,
        blob(&chunk("b", 1, "k", "u2", 1, 1, 7), b"B"),
        blob(&chunk("b", 1, "k", "u2", 1, 0, 7), b"A"),
        blob(&chunk("b", 1, "k", "u2", 1, 0, 6), b"stale version"),
        blob(&chunk("b", 1, "k", "u1", 1, 0, 7), b"other upload"),
        blob(&chunk("b", 1, "k", "u2", 2, 0, 0), b"C"),
        blob(&chunk("b", 1, "k", "u2", 3, 0, 0), b"undeclared part"),
    ];
    let (result, out) = decode(&rows, &flags(false, false, false));
    result.unwrap();
    assert_eq!(read(out.path(), "s3/b/k").unwrap(), b"ABC");
}

#[test]
fn a_missing_chunk_is_incomplete() {
    let rows = vec![
        bucket_meta("b", 1),
        manifest("b", 1, "k", "u", 3),
        blob(&chunk("b", 1, "k", "u", 1, 0, 0), b"a"),
        blob(&chunk("b", 1, "k", "u", 1, 2, 0), b"c"),
    ];
    let (result, _out) = decode(&rows, &flags(false, false, false));
    let err = result.unwrap_err();
    assert_eq!(err.code(), "s3-incomplete-blob-chunks");
    assert!(err.to_string().contains("observed unique=2"), "{err}");
}

fn offloaded_rows(payload: &[u8], ref_size: u64, declared: u64) -> Rows {
    let digest: [u8; 32] = Sha256::digest(payload).into();
    let reference = encode_chunk_ref(&ChunkRef {
        sha256: digest,
        size: ref_size,
        source_peer: b"n1".to_vec(),
        replicas: vec![(b"n2".to_vec(), b"addr".to_vec())],
    })
    .unwrap();
    vec![
        bucket_meta("b", 1),
        (
            keys::obj_head_key(b"b", 1, b"k"),
            format!(r#"{{"upload_id":"u","parts":[{{"part_no":1,"chunk_count":1,"chunk_sizes":[{declared}],"chunk_ref_version":3,"offloaded":true}}]}}"#).into_bytes(),
        ),
        (keys::chunk_key(keys::CHUNK_REF, &chunk("b", 1, "k", "u", 1, 0, 3)), reference),
        (keys::chunk_blob_key(&digest), payload.to_vec()),
    ]
}

#[test]
fn offloaded_chunks_resolve_through_their_blob_and_sizes_are_checked() {
    let (result, out) = decode(
        &offloaded_rows(b"payload", 7, 7),
        &flags(false, false, false),
    );
    result.unwrap();
    assert_eq!(read(out.path(), "s3/b/k").unwrap(), b"payload");
    for (ref_size, declared) in [(6, 7), (7, 6)] {
        let (result, _out) = decode(
            &offloaded_rows(b"payload", ref_size, declared),
            &flags(false, false, false),
        );
        assert_eq!(result.unwrap_err().code(), "s3-invalid-chunk-ref");
    }
    let mut tampered = offloaded_rows(b"payload", 7, 7);
    tampered[3].1 = b"PAYLOAD".to_vec();
    let (result, _out) = decode(&tampered, &flags(false, false, false));
    assert_eq!(result.unwrap_err().code(), "s3-chunk-blob-hash-mismatch");
}

#[test]
fn orphans_and_stale_generations_warn_and_are_kept_on_request() {
    let rows = vec![
        bucket_meta("b", 2),
        blob(&chunk("b", 2, "lost", "u", 1, 0, 0), b"orphan"),
        manifest("b", 1, "old", "u", 1),
        blob(&chunk("b", 1, "old", "u", 1, 0, 5), b"stale"),
    ];
    for keep in [false, true] {
        let (result, out) = decode(&rows, &flags(keep, false, false));
        let warnings = result.unwrap();
        let events: Vec<&str> = warnings.0.iter().map(|w| w.event).collect();
        let mut want = vec!["s3_orphan_chunks", "s3_stale_generation_objects"];
        if keep {
            // Go reports a stale object flushed to _orphans as an orphan too.
            want.insert(0, "s3_orphan_chunks");
        }
        assert_eq!(events, want);
        let orphan = read(
            out.path(),
            "s3/b/_orphans/lost/gen-2/u_0000000000000001_0000000000000000_0000000000000000.bin",
        );
        let stale = read(
            out.path(),
            "s3/b/_orphans/old/gen-1/u_0000000000000001_0000000000000000_0000000000000005.bin",
        );
        assert_eq!(orphan.as_deref(), keep.then_some(&b"orphan"[..]));
        assert_eq!(stale.as_deref(), keep.then_some(&b"stale"[..]));
        assert!(read(out.path(), "s3/b/old").is_none());
    }
}

#[test]
fn unsafe_object_keys_are_malformed() {
    for key in ["a/../b", "/a", "a//b", "a\\b"] {
        let rows = vec![bucket_meta("b", 1), manifest("b", 1, key, "u", 0)];
        let (result, _out) = decode(&rows, &flags(false, false, false));
        assert_eq!(result.unwrap_err().code(), "s3-malformed-key", "{key}");
    }
    let rows = vec![bucket_meta("..", 1)];
    let (result, _out) = decode(&rows, &flags(false, false, false));
    assert_eq!(result.unwrap_err().code(), "s3-malformed-key");
}

#[test]
fn incomplete_uploads_are_listed_per_bucket_in_key_order() {
    let mut meta_key = keys::UPLOAD_META.to_vec();
    keys::push_segment(&mut meta_key, b"b");
    meta_key.extend_from_slice(b"rest");
    let rows = vec![(meta_key, b"{}".to_vec())];
    let (result, out) = decode(&rows, &flags(false, false, false));
    result.unwrap();
    assert!(!out.path().join("s3").exists());
    let (result, out) = decode(&rows, &flags(false, true, false));
    result.unwrap();
    let text =
        String::from_utf8(read(out.path(), "s3/b/_incomplete_uploads/records.jsonl").unwrap())
            .unwrap();
    assert!(
        text.starts_with(r#"{"prefix":"!s3|upload|meta|","key":""#),
        "{text}"
    );
    assert!(text.ends_with("\"value\":\"e30=\"}\n"), "{text}");
}

fn write(path: &Path, bytes: &[u8]) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, bytes).unwrap();
}

fn sidecar(size: usize) -> String {
    format!(
        r#"{{"format_version":1,"etag":"<e&>","size_bytes":{size},"last_modified":"2023-11-14T22:13:20.123Z","user_metadata":{{"b":"2","a":"1"}}}}"#
    )
}

#[test]
fn encoder_rechunks_bodies_at_one_mebibyte_and_escapes_like_go() {
    let root = tempfile::tempdir().unwrap();
    let s3 = root.path().join("s3");
    write(
        &s3.join("bk/_bucket.json"),
        br#"{"format_version":1,"name":"bk","owner":"<o>"}"#,
    );
    let body: Vec<u8> = (0..(2 << 20) + 5).map(|i| (i % 251) as u8).collect();
    write(&s3.join("bk/dir/big"), &body);
    write(
        &s3.join("bk/dir/big.elastickv-meta.json"),
        sidecar(body.len()).as_bytes(),
    );
    write(&s3.join("bk/empty"), b"");
    write(
        &s3.join("bk/empty.elastickv-meta.json"),
        sidecar(0).as_bytes(),
    );
    let mut sink = Collect::default();
    S3Encoder::new().encode(&s3, &mut sink).unwrap();
    let value = |key: &[u8]| {
        sink.records
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(
        value(&keys::bucket_meta_key(b"bk")).unwrap(),
        br#"{"bucket_name":"bk","generation":1,"created_at_hlc":0,"owner":"\u003co\u003e","region":"","acl":""}"#
    );
    let sizes: Vec<usize> = (0..3)
        .map(|n| {
            value(&keys::chunk_key(
                keys::BLOB,
                &chunk("bk", 1, "dir/big", "elastickv-restore", 1, n, 0),
            ))
            .unwrap()
            .len()
        })
        .collect();
    assert_eq!(sizes, [1 << 20, 1 << 20, 5]);
    let head =
        String::from_utf8(value(&keys::obj_head_key(b"bk", 1, b"dir/big")).unwrap()).unwrap();
    let hlc = 1_700_000_000_123u64 << 16;
    assert_eq!(
        head,
        format!(
            r#"{{"upload_id":"elastickv-restore","etag":"\u003ce\u0026\u003e","size_bytes":2097157,"last_modified_hlc":{hlc},"content_type":"","content_encoding":"","cache_control":"","content_disposition":"","user_metadata":{{"a":"1","b":"2"}},"parts":[{{"part_no":1,"etag":"\u003ce\u0026\u003e","size_bytes":2097157,"chunk_count":3,"chunk_sizes":[1048576,1048576,5],"part_version":0,"chunk_ref_version":0,"offloaded":false}}]}}"#
        )
    );
    let empty = String::from_utf8(value(&keys::obj_head_key(b"bk", 1, b"empty")).unwrap()).unwrap();
    assert!(empty.ends_with(r#""parts":null}"#), "{empty}");
    // And back: the decoded tree holds the same bodies and sidecars.
    let out = tempfile::tempdir().unwrap();
    decode_with(&sink.records, out.path(), &DecodeFlags::default(), 1).unwrap();
    assert_eq!(read(out.path(), "s3/bk/dir/big").unwrap(), body);
    let side =
        String::from_utf8(read(out.path(), "s3/bk/dir/big.elastickv-meta.json").unwrap()).unwrap();
    assert!(
        side.contains(r#""last_modified": "2023-11-14T22:13:20.123Z""#),
        "{side}"
    );
}

#[test]
fn encoder_refuses_links_wrong_sizes_and_hidden_user_objects() {
    let fresh = || {
        let root = tempfile::tempdir().unwrap();
        let s3 = root.path().join("s3");
        write(
            &s3.join("bk/_bucket.json"),
            br#"{"format_version":1,"name":"bk"}"#,
        );
        write(&s3.join("bk/o"), b"abc");
        write(&s3.join("bk/o.elastickv-meta.json"), sidecar(3).as_bytes());
        (root, s3)
    };
    let code = |s3: &Path| {
        S3Encoder::new()
            .encode(s3, &mut Collect::default())
            .err()
            .map(|e| e.code())
    };
    let (_root, s3) = fresh();
    assert_eq!(code(&s3), None);
    let (_root, s3) = fresh();
    write(&s3.join("bk/o.elastickv-meta.json"), sidecar(4).as_bytes());
    assert_eq!(code(&s3), Some("s3-encode-invalid-manifest"));
    let (_root, s3) = fresh();
    std::os::unix::fs::symlink(s3.join("bk/o"), s3.join("bk/link")).unwrap();
    write(
        &s3.join("bk/link.elastickv-meta.json"),
        sidecar(3).as_bytes(),
    );
    assert_eq!(code(&s3), Some("s3-encode-not-regular"));
    let (_root, s3) = fresh();
    fs::hard_link(s3.join("bk/o"), s3.join("bk/o2")).unwrap();
    write(&s3.join("bk/o2.elastickv-meta.json"), sidecar(3).as_bytes());
    assert_eq!(code(&s3), Some("redis-encode-hard-link"));
    let (_root, s3) = fresh();
    write(&s3.join("bk/_orphans/x/y.elastickv-meta.json"), b"{}");
    assert_eq!(code(&s3), Some("s3-encode-reserved-prefix-collision"));
    let (_root, s3) = fresh();
    write(
        &s3.join("bk/_bucket.json"),
        br#"{"format_version":1,"name":"other"}"#,
    );
    assert_eq!(code(&s3), Some("s3-encode-invalid-bucket"));
    let (_root, s3) = fresh();
    write(
        &s3.join("bk/KEYMAP.jsonl"),
        b"{\"encoded\":\"missing\",\"original\":\"eA\",\"kind\":\"sha-fallback\"}\n",
    );
    assert_eq!(code(&s3), Some("s3-encode-invalid-bucket"));
}

#[test]
fn the_keymap_restores_original_keys() {
    let root = tempfile::tempdir().unwrap();
    let s3 = root.path().join("s3");
    write(
        &s3.join("bk/_bucket.json"),
        br#"{"format_version":1,"name":"bk"}"#,
    );
    write(&s3.join("bk/a.elastickv-leaf-data"), b"leaf");
    write(
        &s3.join("bk/a.elastickv-leaf-data.elastickv-meta.json"),
        sidecar(4).as_bytes(),
    );
    write(&s3.join("bk/a/b"), b"b");
    write(
        &s3.join("bk/a/b.elastickv-meta.json"),
        sidecar(1).as_bytes(),
    );
    write(
        &s3.join("bk/KEYMAP.jsonl"),
        b"{\"encoded\":\"a.elastickv-leaf-data\",\"original\":\"YQ\",\"kind\":\"s3-leaf-data\"}\n",
    );
    let mut sink = Collect::default();
    S3Encoder::new().encode(&s3, &mut sink).unwrap();
    let mut heads: Vec<Vec<u8>> = sink
        .records
        .iter()
        .filter(|(k, _)| k.starts_with(keys::OBJ_HEAD))
        .map(|(k, _)| k.clone())
        .collect();
    heads.sort();
    assert_eq!(
        heads,
        [
            keys::obj_head_key(b"bk", 1, b"a"),
            keys::obj_head_key(b"bk", 1, b"a/b")
        ]
    );
}

/// Keys Go cannot write as paths (docs/format.md §4.5): a folder object `P/` and
/// segments too long for a file name.
fn odd_keys() -> Vec<String> {
    let long_dir = "d".repeat(300);
    let long_leaf = "é".repeat(120);
    vec![
        "dir/".to_owned(),
        "dir/file".to_owned(),
        "dir/sub/".to_owned(),
        format!("{long_dir}/x"),
        format!("{long_dir}/y"),
        format!("a/{long_leaf}"),
        format!("a/{long_leaf}/z"),
        "plain".to_owned(),
    ]
}

#[test]
fn folder_objects_and_long_segments_decode_and_encode_back() {
    let mut rows = vec![bucket_meta("b", 1)];
    for key in odd_keys() {
        let (head, _) = manifest("b", 1, &key, "u", 1);
        let m = format!(
            r#"{{"upload_id":"u","size_bytes":{},"parts":[{{"part_no":1,"chunk_count":1}}]}}"#,
            key.len()
        );
        rows.push((head, m.into_bytes()));
        rows.push(blob(&chunk("b", 1, &key, "u", 1, 0, 0), key.as_bytes()));
    }
    let (result, out) = decode(&rows, &flags(false, false, false));
    result.unwrap();
    let s3 = out.path().join("s3");
    let long_dir = super::paths::short_segment("d".repeat(300).as_bytes());
    let long_dir = String::from_utf8(long_dir).unwrap();
    let leaf = format!("{}.elastickv-leaf-data", "é".repeat(120));
    let leaf = String::from_utf8(super::paths::short_segment(leaf.as_bytes())).unwrap();
    let long_leaf = "é".repeat(120);
    for (path, key) in [
        ("dir/.elastickv-folder".to_owned(), "dir/".to_owned()),
        (
            "dir/sub/.elastickv-folder".to_owned(),
            "dir/sub/".to_owned(),
        ),
        ("dir/file".to_owned(), "dir/file".to_owned()),
        (format!("{long_dir}/x"), format!("{}/x", "d".repeat(300))),
        (format!("{long_dir}/y"), format!("{}/y", "d".repeat(300))),
        // 240 bytes: a fine directory name, too long for a body beside its sidecar.
        (format!("a/{leaf}"), format!("a/{long_leaf}")),
        (format!("a/{long_leaf}/z"), format!("a/{long_leaf}/z")),
        ("plain".to_owned(), "plain".to_owned()),
    ] {
        assert_eq!(
            read(&s3, &format!("b/{path}")).unwrap(),
            key.as_bytes(),
            "{path}"
        );
        assert!(read(&s3, &format!("b/{path}.elastickv-meta.json")).is_some());
    }
    let keymap = String::from_utf8(read(&s3, "b/KEYMAP.jsonl").unwrap()).unwrap();
    let kinds: Vec<String> = keymap
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["kind"].to_string())
        .collect();
    assert_eq!(kinds.len(), 5, "{keymap}");
    assert_eq!(
        kinds
            .iter()
            .filter(|k| k.contains("s3-folder-object"))
            .count(),
        2
    );
    assert_eq!(
        kinds.iter().filter(|k| k.contains("s3-long-name")).count(),
        3
    );
    let mut sink = Collect::default();
    S3Encoder::new().encode(&s3, &mut sink).unwrap();
    let mut heads: Vec<Vec<u8>> = sink
        .records
        .iter()
        .filter(|(k, _)| k.starts_with(keys::OBJ_HEAD))
        .map(|(k, _)| k.clone())
        .collect();
    heads.sort();
    let mut want: Vec<Vec<u8>> = odd_keys()
        .iter()
        .map(|k| keys::obj_head_key(b"b", 1, k.as_bytes()))
        .collect();
    want.sort();
    assert_eq!(heads, want);
}

#[test]
fn a_folder_marker_that_is_a_real_key_is_a_collision() {
    let rows = vec![
        bucket_meta("b", 1),
        manifest("b", 1, "dir/", "u", 0),
        manifest("b", 1, "dir/.elastickv-folder", "u", 0),
    ];
    let (result, _out) = decode(&rows, &flags(false, false, false));
    assert_eq!(result.unwrap_err().code(), "s3-meta-suffix-collision");
    // Keys that are not a folder over a valid path stay malformed.
    for key in ["/", "a//", "a/../"] {
        let rows = vec![bucket_meta("b", 1), manifest("b", 1, key, "u", 0)];
        let (result, _out) = decode(&rows, &flags(false, false, false));
        assert_eq!(result.unwrap_err().code(), "s3-malformed-key", "{key}");
    }
}

#[test]
fn keymap_records_of_odd_keys_must_be_where_the_decoder_writes_them() {
    let root = tempfile::tempdir().unwrap();
    let s3 = root.path().join("s3");
    write(
        &s3.join("bk/_bucket.json"),
        br#"{"format_version":1,"name":"bk"}"#,
    );
    write(&s3.join("bk/d/.elastickv-folder"), b"");
    write(
        &s3.join("bk/d/.elastickv-folder.elastickv-meta.json"),
        sidecar(0).as_bytes(),
    );
    // "ZS8" is "e/": the record names another folder than the file it maps.
    for original in ["ZS8", "ZA"] {
        write(
            &s3.join("bk/KEYMAP.jsonl"),
            format!(
                "{{\"encoded\":\"d/.elastickv-folder\",\"original\":\"{original}\",\"kind\":\"s3-folder-object\"}}\n"
            )
            .as_bytes(),
        );
        let mut sink = Collect::default();
        let err = S3Encoder::new().encode(&s3, &mut sink).unwrap_err();
        assert_eq!(err.code(), "s3-encode-invalid-bucket", "{original}");
    }
    // "ZC8" is "d/".
    write(
        &s3.join("bk/KEYMAP.jsonl"),
        b"{\"encoded\":\"d/.elastickv-folder\",\"original\":\"ZC8\",\"kind\":\"s3-folder-object\"}\n",
    );
    let mut sink = Collect::default();
    S3Encoder::new().encode(&s3, &mut sink).unwrap();
    assert!(
        sink.records
            .iter()
            .any(|(k, _)| *k == keys::obj_head_key(b"bk", 1, b"d/"))
    );
}

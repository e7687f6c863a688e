//! The S3 adapter's parsers (docs/format.md §3.2, §4.5): the store-key grammar
//! (segment escapes, `u64` fields, 6- and 7-component chunk keys), the chunk-reference
//! value (v1/v2), the manifest and sidecar JSON, and object keys as paths, which must
//! never leave the bucket directory. The first byte picks the sub-oracle.

use std::path::{Component, Path};

use arbitrary::Unstructured;
use elastickv_codec::adapters::s3::docs::{
    LiveManifest, parse_live_manifest, parse_sidecar, render_sidecar,
};
use elastickv_codec::adapters::s3::keys::{
    self, BLOB, ChunkKey, Fields, ObjectId, chunk_key, parse_chunk_key, push_segment,
};
use elastickv_codec::adapters::s3::paths::check_object_path;
use elastickv_codec::adapters::s3::values::{ChunkRef, encode_chunk_ref, parse_chunk_ref};

/// The oracle.
pub fn run(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    match u.int_in_range(0u8..=3)? {
        0 => key_grammar(u),
        1 => chunk_refs(u),
        2 => manifests(u),
        _ => object_paths(u),
    }
}

/// Bytes rich in the grammar's special bytes `00`, `01`, `FF` and `/`.
fn field(u: &mut Unstructured<'_>) -> arbitrary::Result<Vec<u8>> {
    let len = u.int_in_range(0usize..=24)?;
    (0..len)
        .map(|_| {
            Ok(match u.int_in_range(0u8..=5)? {
                0 => 0x00,
                1 => 0x01,
                2 => 0xFF,
                3 => b'/',
                _ => u.arbitrary()?,
            })
        })
        .collect()
}

/// Built keys parse back to their fields; arbitrary bytes parse without panicking,
/// and what parses re-encodes to the same key (a zero part version is only ever
/// written in the 6-component form, so its 7-component spelling is the exception).
fn key_grammar(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    let key = ChunkKey {
        id: ObjectId {
            bucket: field(u)?,
            generation: u.arbitrary()?,
            object: field(u)?,
        },
        upload_id: field(u)?,
        part_no: u.arbitrary()?,
        chunk_no: u.arbitrary()?,
        part_version: if u.arbitrary()? { 0 } else { u.arbitrary()? },
    };
    let built = chunk_key(BLOB, &key);
    assert_eq!(parse_chunk_key(&built[BLOB.len()..]).as_ref(), Some(&key));
    let mut seg = Vec::new();
    push_segment(&mut seg, &key.id.object);
    let mut f = Fields::new(&seg);
    assert_eq!(f.segment().as_deref(), Some(key.id.object.as_slice()));
    assert!(f.is_empty());

    let raw = field(u)?;
    if let Some(parsed) = parse_chunk_key(&raw) {
        let rebuilt = chunk_key(BLOB, &parsed);
        let seven_with_zero =
            parsed.part_version == 0 && rebuilt.len() - BLOB.len() + 8 == raw.len();
        if !seven_with_zero {
            assert_eq!(&rebuilt[BLOB.len()..], raw.as_slice());
        }
    }
    if let Some(id) = keys::parse_obj_head(&raw) {
        assert_eq!(
            &keys::obj_head_key(&id.bucket, id.generation, &id.object)[keys::OBJ_HEAD.len()..],
            raw.as_slice()
        );
    }
    let _ = keys::parse_chunk_blob(&raw);
    let _ = keys::upload_meta_bucket(&raw);
    let _ = keys::upload_part_bucket(&raw);
    Ok(())
}

/// Encoded references parse back; arbitrary bytes parse without panicking, and what
/// parses re-encodes to the same bytes (except a v2 value with no replicas, which is
/// written as v1).
fn chunk_refs(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    let replicas = u.int_in_range(0usize..=3)?;
    let reference = ChunkRef {
        sha256: u.arbitrary()?,
        size: u.arbitrary()?,
        source_peer: field(u)?,
        replicas: (0..replicas)
            .map(|_| Ok((field(u)?, field(u)?)))
            .collect::<arbitrary::Result<_>>()?,
    };
    let bytes = encode_chunk_ref(&reference).expect("fields fit 16-bit lengths");
    assert_eq!(parse_chunk_ref(&bytes).as_ref(), Some(&reference));
    let mut raw: Vec<u8> = u.arbitrary()?;
    if u.arbitrary()? {
        // Start from a valid value so the tail checks are reached.
        raw = [bytes.as_slice(), raw.as_slice()].concat();
    }
    if let Some(parsed) = parse_chunk_ref(&raw) {
        let again = encode_chunk_ref(&parsed).expect("parsed fields fit");
        if !(raw[0] == 2 && parsed.replicas.is_empty()) {
            assert_eq!(again, raw);
        }
    }
    Ok(())
}

/// Arbitrary JSON never panics the manifest or sidecar readers; a rendered sidecar
/// reads back to the fields it was rendered from.
fn manifests(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    let raw: Vec<u8> = u.arbitrary()?;
    let _ = parse_live_manifest(&raw);
    let _ = parse_sidecar(&raw);
    let text: String = u.arbitrary()?;
    let m = LiveManifest {
        etag: text.clone(),
        size_bytes: u.arbitrary()?,
        content_type: u.arbitrary()?,
        user_metadata: if u.arbitrary()? {
            Some([(text, u.arbitrary()?)].into_iter().collect())
        } else {
            None
        },
        ..LiveManifest::default()
    };
    let sidecar = parse_sidecar(&render_sidecar(&m)).expect("rendered sidecar reads back");
    assert_eq!(sidecar.etag, m.etag);
    assert_eq!(sidecar.size_bytes, m.size_bytes);
    assert_eq!(sidecar.content_type, m.content_type);
    let meta = m.user_metadata.filter(|map| !map.is_empty());
    assert_eq!(sidecar.user_metadata, meta);
    Ok(())
}

/// An accepted object key is a relative path of plain components only: joined to
/// the bucket directory it can only name something below it.
fn object_paths(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let mut key = Vec::new();
    for _ in 0..u.int_in_range(0usize..=6)? {
        match u.int_in_range(0u8..=6)? {
            0 => key.extend_from_slice(b".."),
            1 => key.push(b'.'),
            2 => key.push(b'/'),
            3 => key.push(b'\\'),
            4 => key.push(0),
            _ => key.extend_from_slice(&field(u)?),
        }
    }
    if check_object_path(&key).is_err() {
        return Ok(());
    }
    let path = Path::new(std::ffi::OsStr::from_bytes(&key));
    assert!(path.is_relative(), "{key:?}");
    for component in path.components() {
        assert!(
            matches!(component, Component::Normal(_)),
            "{key:?} has {component:?}"
        );
    }
    let joined = Path::new("/bucket").join(path);
    assert!(joined.starts_with("/bucket") && joined != Path::new("/bucket"));
    Ok(())
}

#[test]
fn smoke() {
    crate::test_n_times(2000, run);
}

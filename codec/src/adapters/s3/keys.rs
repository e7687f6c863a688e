//! The S3 store-key grammar (docs/format.md §3.2), both directions.
//!
//! A key is a family prefix followed by fields: *segments* (raw bytes with every
//! `00` written `00 FF`, closed by `00 01`, so that byte order of the encoded key is
//! the byte order of the raw fields) and big-endian `u64`s. Blob and chunk-ref keys
//! carry an optional trailing part version (6 or 7 components).

/// `!s3|bucket|meta|`.
pub const BUCKET_META: &[u8] = b"!s3|bucket|meta|";
/// `!s3|bucket|gen|`.
pub const BUCKET_GEN: &[u8] = b"!s3|bucket|gen|";
/// `!s3|obj|head|`.
pub const OBJ_HEAD: &[u8] = b"!s3|obj|head|";
/// `!s3|blob|`.
pub const BLOB: &[u8] = b"!s3|blob|";
/// `!s3|chunkref|`.
pub const CHUNK_REF: &[u8] = b"!s3|chunkref|";
/// `!s3|chunkblob|`.
pub const CHUNK_BLOB: &[u8] = b"!s3|chunkblob|";
/// `!s3|upload|meta|`.
pub const UPLOAD_META: &[u8] = b"!s3|upload|meta|";
/// `!s3|upload|part|`.
pub const UPLOAD_PART: &[u8] = b"!s3|upload|part|";

const ESCAPE: u8 = 0x00;
const TERMINATOR: u8 = 0x01;
const ESCAPED_ZERO: u8 = 0xFF;

/// Appends `raw` as one segment (escaped and terminated).
pub fn push_segment(out: &mut Vec<u8>, raw: &[u8]) {
    for &b in raw {
        out.push(b);
        if b == ESCAPE {
            out.push(ESCAPED_ZERO);
        }
    }
    out.extend_from_slice(&[ESCAPE, TERMINATOR]);
}

/// Appends `v` as 8 big-endian bytes.
pub fn push_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// Reads fields off the front of a key; every read fails on malformed input
/// instead of panicking.
#[derive(Debug, Clone, Copy)]
pub struct Fields<'k> {
    rest: &'k [u8],
}

impl<'k> Fields<'k> {
    /// Fields of `rest` (the key after its prefix).
    pub fn new(rest: &'k [u8]) -> Self {
        Fields { rest }
    }

    /// The next segment, unescaped; `None` on a bad escape or a missing terminator.
    pub fn segment(&mut self) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < self.rest.len() {
            let b = self.rest[i];
            if b != ESCAPE {
                out.push(b);
                i += 1;
                continue;
            }
            match self.rest.get(i + 1) {
                Some(&ESCAPED_ZERO) => {
                    out.push(ESCAPE);
                    i += 2;
                }
                Some(&TERMINATOR) => {
                    self.rest = &self.rest[i + 2..];
                    return Some(out);
                }
                _ => return None,
            }
        }
        None
    }

    /// The next big-endian `u64`.
    pub fn u64(&mut self) -> Option<u64> {
        let (head, tail) = self.rest.split_first_chunk::<8>()?;
        self.rest = tail;
        Some(u64::from_be_bytes(*head))
    }

    /// Whether every byte was consumed.
    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// Bytes not consumed yet.
    pub fn remaining(&self) -> usize {
        self.rest.len()
    }
}

/// `seg(bucket)` of a bucket meta key (the whole rest).
pub fn parse_bucket_meta(rest: &[u8]) -> Option<Vec<u8>> {
    let mut f = Fields::new(rest);
    let bucket = f.segment()?;
    f.is_empty().then_some(bucket)
}

/// `seg(bucket) u64(gen) seg(object)` of a manifest key (the whole rest).
pub fn parse_obj_head(rest: &[u8]) -> Option<ObjectId> {
    let mut f = Fields::new(rest);
    let id = ObjectId {
        bucket: f.segment()?,
        generation: f.u64()?,
        object: f.segment()?,
    };
    f.is_empty().then_some(id)
}

/// A bucket, generation and object key: the identity of one object state.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectId {
    /// Bucket name bytes.
    pub bucket: Vec<u8>,
    /// Bucket generation.
    pub generation: u64,
    /// Object key bytes.
    pub object: Vec<u8>,
}

/// The fields of a blob or chunk-ref key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkKey {
    /// Whose chunk.
    pub id: ObjectId,
    /// Upload the chunk belongs to.
    pub upload_id: Vec<u8>,
    /// Part number.
    pub part_no: u64,
    /// Chunk number within the part.
    pub chunk_no: u64,
    /// Part version (0 when the key has 6 components).
    pub part_version: u64,
}

/// `seg(bucket) u64(gen) seg(object) seg(upload) u64(part) u64(chunk) [u64(version)]`.
pub fn parse_chunk_key(rest: &[u8]) -> Option<ChunkKey> {
    let mut f = Fields::new(rest);
    let bucket = f.segment()?;
    let generation = f.u64()?;
    let object = f.segment()?;
    let upload_id = f.segment()?;
    let part_no = f.u64()?;
    let chunk_no = f.u64()?;
    let part_version = match f.remaining() {
        0 => 0,
        8 => f.u64()?,
        _ => return None,
    };
    Some(ChunkKey {
        id: ObjectId {
            bucket,
            generation,
            object,
        },
        upload_id,
        part_no,
        chunk_no,
        part_version,
    })
}

/// The 32-byte digest named by a chunk-blob key: exactly 64 hex digits, either case.
pub fn parse_chunk_blob(rest: &[u8]) -> Option<[u8; 32]> {
    if rest.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    hex::decode_to_slice(rest, &mut out).ok()?;
    Some(out)
}

/// The bucket of an upload-meta key: the raw bytes before the first `00 01`, escapes
/// left as they are (the Go routing does the same).
pub fn upload_meta_bucket(rest: &[u8]) -> Option<Vec<u8>> {
    rest.windows(2)
        .position(|w| w == [ESCAPE, TERMINATOR])
        .map(|end| rest[..end].to_vec())
}

/// The bucket of an upload-part key, which must parse completely:
/// `seg(bucket) u64(gen) seg(object) seg(upload) u64(part)`.
pub fn upload_part_bucket(rest: &[u8]) -> Option<Vec<u8>> {
    let mut f = Fields::new(rest);
    let bucket = f.segment()?;
    f.u64()?;
    f.segment()?;
    f.segment()?;
    f.u64()?;
    f.is_empty().then_some(bucket)
}

/// `!s3|bucket|meta|seg(bucket)`.
pub fn bucket_meta_key(bucket: &[u8]) -> Vec<u8> {
    let mut out = BUCKET_META.to_vec();
    push_segment(&mut out, bucket);
    out
}

/// `!s3|bucket|gen|seg(bucket)`.
pub fn bucket_gen_key(bucket: &[u8]) -> Vec<u8> {
    let mut out = BUCKET_GEN.to_vec();
    push_segment(&mut out, bucket);
    out
}

/// `!s3|obj|head|seg(bucket) u64(gen) seg(object)`.
pub fn obj_head_key(bucket: &[u8], generation: u64, object: &[u8]) -> Vec<u8> {
    let mut out = OBJ_HEAD.to_vec();
    push_segment(&mut out, bucket);
    push_u64(&mut out, generation);
    push_segment(&mut out, object);
    out
}

/// A blob (`prefix` = [`BLOB`]) or chunk-ref ([`CHUNK_REF`]) key; the part version
/// is written only when non-zero, as the live store does.
pub fn chunk_key(prefix: &[u8], key: &ChunkKey) -> Vec<u8> {
    let mut out = prefix.to_vec();
    push_segment(&mut out, &key.id.bucket);
    push_u64(&mut out, key.id.generation);
    push_segment(&mut out, &key.id.object);
    push_segment(&mut out, &key.upload_id);
    push_u64(&mut out, key.part_no);
    push_u64(&mut out, key.chunk_no);
    if key.part_version != 0 {
        push_u64(&mut out, key.part_version);
    }
    out
}

/// `!s3|chunkblob|<lowercase hex digest>`.
pub fn chunk_blob_key(digest: &[u8; 32]) -> Vec<u8> {
    let mut out = CHUNK_BLOB.to_vec();
    out.extend_from_slice(hex::encode(digest).as_bytes());
    out
}

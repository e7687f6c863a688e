//! The S3 model, its live-layout writer and the check of a decoded tree.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

use elastickv_codec::adapters::s3::docs::{LEAF_DATA_SUFFIX, META_SUFFIX, USER_DATA_SUFFIX};
use elastickv_codec::adapters::s3::keys::{self, ChunkKey, ObjectId};
use elastickv_codec::adapters::s3::values::{ChunkRef, encode_chunk_ref};
use elastickv_codec::tree::segment::encode_segment;
use elastickv_splitmix::SplitMix64;

use crate::model::{Entry, EntrySet};

/// The commit timestamp of the live rows (older versions get lower ones).
pub const COMMIT_TS: u64 = (1_780_000_000_000 << 16) | 3;

/// One part of a stored body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// Part number.
    pub part_no: u64,
    /// Part version (or chunk-ref version when offloaded).
    pub version: u64,
    /// Chunk lengths, in order.
    pub chunks: Vec<usize>,
    /// Whether the chunks are behind chunk references.
    pub offloaded: bool,
}

/// How a body is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Storage {
    /// The upload the manifest names.
    pub upload_id: Vec<u8>,
    /// Parts in order; their chunks concatenate to the body.
    pub parts: Vec<Part>,
    /// Store chunks of an undeclared older part version and of another upload too.
    pub noise: bool,
}

/// An object of the active generation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    /// Object key.
    pub key: Vec<u8>,
    /// Body.
    pub body: Vec<u8>,
    /// ETag.
    pub etag: String,
    /// Content-Type.
    pub content_type: String,
    /// Milliseconds since the epoch (0: none).
    pub last_modified_ms: u64,
    /// User metadata.
    pub user_metadata: BTreeMap<String, String>,
    /// How the body is stored.
    pub storage: Storage,
}

/// A bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    /// Name.
    pub name: Vec<u8>,
    /// Active generation (≥ 1).
    pub generation: u64,
    /// Owner.
    pub owner: String,
    /// Objects of the active generation.
    pub objects: Vec<Object>,
    /// Objects of an older generation (excluded from the tree).
    pub stale: Vec<Object>,
    /// Keys with chunks but no manifest, and their chunk bodies.
    pub orphans: Vec<(Vec<u8>, Vec<Vec<u8>>)>,
    /// `(object, upload)` of in-flight multipart uploads.
    pub uploads: Vec<(Vec<u8>, Vec<u8>)>,
}

/// A set of buckets.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct S3Db {
    /// Buckets, names distinct.
    pub buckets: Vec<Bucket>,
}

fn json_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Rows go through this so that every key is written once.
struct Rows {
    rows: BTreeMap<Vec<u8>, Vec<u8>>,
    blobs: BTreeMap<[u8; 32], Vec<u8>>,
}

impl Rows {
    fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.rows.insert(key, value);
    }
}

impl Object {
    fn manifest(&self) -> Vec<u8> {
        let parts: Vec<String> = self
            .storage
            .parts
            .iter()
            .map(|p| {
                let sizes: Vec<String> = p.chunks.iter().map(usize::to_string).collect();
                let (pv, crv) = if p.offloaded { (0, p.version) } else { (p.version, 0) };
                format!(
                    r#"{{"part_no":{},"etag":"p","size_bytes":{},"chunk_count":{},"chunk_sizes":[{}],"part_version":{pv},"chunk_ref_version":{crv},"offloaded":{}}}"#,
                    p.part_no,
                    p.chunks.iter().sum::<usize>(),
                    p.chunks.len(),
                    sizes.join(","),
                    p.offloaded
                )
            })
            .collect();
        let meta: Vec<String> = self
            .user_metadata
            .iter()
            .map(|(k, v)| format!("{}:{}", json_str(k), json_str(v)))
            .collect();
        format!(
            r#"{{"upload_id":{},"etag":{},"size_bytes":{},"last_modified_hlc":{},"content_type":{},"user_metadata":{{{}}},"parts":[{}]}}"#,
            json_str(&String::from_utf8_lossy(&self.storage.upload_id)),
            json_str(&self.etag),
            self.body.len(),
            hlc(self.last_modified_ms),
            json_str(&self.content_type),
            meta.join(","),
            parts.join(",")
        )
        .into_bytes()
    }

    fn write(&self, rows: &mut Rows, bucket: &[u8], generation: u64) {
        let id = ObjectId {
            bucket: bucket.to_vec(),
            generation,
            object: self.key.clone(),
        };
        rows.put(
            keys::obj_head_key(bucket, generation, &self.key),
            self.manifest(),
        );
        let mut at = 0;
        for part in &self.storage.parts {
            for (no, len) in part.chunks.iter().enumerate() {
                let payload = self.body[at..at + len].to_vec();
                at += len;
                let ck = ChunkKey {
                    id: id.clone(),
                    upload_id: self.storage.upload_id.clone(),
                    part_no: part.part_no,
                    chunk_no: no as u64,
                    part_version: part.version,
                };
                if part.offloaded {
                    let digest: [u8; 32] = sha(&payload);
                    let reference = ChunkRef {
                        sha256: digest,
                        size: payload.len() as u64,
                        source_peer: b"node-1".to_vec(),
                        replicas: if no % 2 == 0 {
                            vec![(b"node-2".to_vec(), b"10.0.0.2:7000".to_vec())]
                        } else {
                            Vec::new()
                        },
                    };
                    rows.put(
                        keys::chunk_key(keys::CHUNK_REF, &ck),
                        encode_chunk_ref(&reference).unwrap_or_default(),
                    );
                    rows.blobs.insert(digest, payload);
                } else {
                    rows.put(keys::chunk_key(keys::BLOB, &ck), payload.clone());
                    if self.storage.noise {
                        // An undeclared older version and another upload: never used.
                        let mut old = ck.clone();
                        old.part_version = part.version + 100;
                        rows.put(keys::chunk_key(keys::BLOB, &old), b"noise".to_vec());
                        let mut other = ck.clone();
                        other.upload_id = b"abandoned-upload".to_vec();
                        rows.put(keys::chunk_key(keys::BLOB, &other), b"noise".to_vec());
                    }
                }
            }
        }
    }
}

/// The live HLC of a modification time: milliseconds over a logical counter; 0 for
/// none (an HLC within the epoch's first millisecond would decode as a time and
/// re-encode as none: it does not round-trip).
fn hlc(ms: u64) -> u64 {
    if ms == 0 { 0 } else { (ms << 16) | 5 }
}

fn sha(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes).into()
}

impl S3Db {
    fn rows(&self) -> Rows {
        let mut rows = Rows {
            rows: BTreeMap::new(),
            blobs: BTreeMap::new(),
        };
        for b in &self.buckets {
            rows.put(
                keys::bucket_meta_key(&b.name),
                format!(
                    r#"{{"bucket_name":{},"generation":{},"created_at_hlc":1,"owner":{},"region":"r1","acl":"private"}}"#,
                    json_str(&String::from_utf8_lossy(&b.name)),
                    b.generation,
                    json_str(&b.owner)
                )
                .into_bytes(),
            );
            rows.put(
                keys::bucket_gen_key(&b.name),
                b.generation.to_be_bytes().to_vec(),
            );
            for o in &b.objects {
                o.write(&mut rows, &b.name, b.generation);
            }
            for o in &b.stale {
                o.write(&mut rows, &b.name, b.generation - 1);
            }
            for (key, chunks) in &b.orphans {
                for (no, payload) in chunks.iter().enumerate() {
                    let ck = ChunkKey {
                        id: ObjectId {
                            bucket: b.name.clone(),
                            generation: b.generation,
                            object: key.clone(),
                        },
                        upload_id: b"u-orphan".to_vec(),
                        part_no: 1,
                        chunk_no: no as u64,
                        part_version: 0,
                    };
                    rows.put(keys::chunk_key(keys::BLOB, &ck), payload.clone());
                }
            }
            for (object, upload) in &b.uploads {
                let mut meta = keys::UPLOAD_META.to_vec();
                keys::push_segment(&mut meta, &b.name);
                keys::push_u64(&mut meta, b.generation);
                keys::push_segment(&mut meta, object);
                keys::push_segment(&mut meta, upload);
                rows.put(meta, br#"{"content_type":"text/plain"}"#.to_vec());
                let mut part = keys::UPLOAD_PART.to_vec();
                keys::push_segment(&mut part, &b.name);
                keys::push_u64(&mut part, b.generation);
                keys::push_segment(&mut part, object);
                keys::push_segment(&mut part, upload);
                keys::push_u64(&mut part, 1);
                rows.put(part, br#"{"part_no":1}"#.to_vec());
            }
        }
        let blobs = std::mem::take(&mut rows.blobs);
        for (digest, payload) in blobs {
            rows.put(keys::chunk_blob_key(&digest), payload);
        }
        rows
    }

    /// Every row once, at [`COMMIT_TS`]: the live layout.
    pub fn live_set(&self) -> EntrySet {
        let entries = self
            .rows()
            .rows
            .into_iter()
            .map(|(user_key, body)| Entry {
                user_key,
                commit_ts: COMMIT_TS,
                tombstone: false,
                expire_at: 0,
                body,
            })
            .collect();
        EntrySet {
            last_commit_ts: COMMIT_TS,
            entries,
        }
    }

    /// The live set plus versions that must not matter: older versions of rows with
    /// garbage values, older tombstones, and deleted ghost objects.
    pub fn shadowed_set(&self, seed: u64) -> EntrySet {
        let mut rng = SplitMix64(seed);
        let mut set = self.live_set();
        let mut extra = Vec::new();
        for e in &set.entries {
            if rng.chance(30) {
                extra.push(Entry {
                    commit_ts: COMMIT_TS - 1 - rng.below(1000),
                    body: b"\xffgarbage of an older version".to_vec(),
                    ..e.clone()
                });
            }
            if rng.chance(10) {
                extra.push(Entry {
                    commit_ts: COMMIT_TS - 2000,
                    tombstone: true,
                    body: Vec::new(),
                    ..e.clone()
                });
            }
        }
        if let Some(b) = self.buckets.first() {
            // A deleted object: its newest versions are tombstones.
            let head = keys::obj_head_key(&b.name, b.generation, b"ghost/deleted");
            extra.push(Entry {
                user_key: head.clone(),
                commit_ts: COMMIT_TS,
                tombstone: true,
                expire_at: 0,
                body: Vec::new(),
            });
            extra.push(Entry {
                user_key: head,
                commit_ts: COMMIT_TS - 5,
                tombstone: false,
                expire_at: 0,
                body: br#"{"upload_id":"g","parts":[]}"#.to_vec(),
            });
        }
        set.entries.extend(extra);
        set
    }

    /// The same bodies stored cut differently: one part of `chunk`-byte chunks, every
    /// `offload_every`-th object offloaded (0: none).
    pub fn rechunked(&self, chunk: usize, offload_every: usize) -> S3Db {
        let mut db = self.clone();
        let mut n = 0;
        for b in &mut db.buckets {
            for o in &mut b.objects {
                n += 1;
                let chunks: Vec<usize> = o.body.chunks(chunk.max(1)).map(<[u8]>::len).collect();
                o.storage.parts = if chunks.is_empty() {
                    Vec::new()
                } else {
                    vec![Part {
                        part_no: 1,
                        version: 0,
                        chunks,
                        offloaded: offload_every != 0 && n % offload_every == 0,
                    }]
                };
            }
        }
        db
    }

    /// Checks the `s3/` tree under `root` against the model (decoded with
    /// `--rename-collisions`): every active object's body at its (renamed) path,
    /// its sidecar, `_bucket.json`, the KEYMAP records, and no other object file.
    ///
    /// # Errors
    /// The first difference found.
    pub fn check_tree(&self, root: &Path) -> Result<(), String> {
        use std::os::unix::ffi::OsStrExt;
        for b in &self.buckets {
            let dir = root.join("s3").join(encode_segment(&b.name));
            if !dir.join("_bucket.json").is_file() {
                return Err(format!("{}: no _bucket.json", dir.display()));
            }
            let keys: BTreeSet<&[u8]> = b.objects.iter().map(|o| o.key.as_slice()).collect();
            let mut expected_files = BTreeSet::new();
            let mut keymap = BTreeSet::new();
            for o in &b.objects {
                let path = renamed(&o.key, &keys);
                if path != o.key {
                    keymap.insert(String::from_utf8_lossy(&path).into_owned());
                }
                let file = dir.join(std::ffi::OsStr::from_bytes(&path));
                let body = fs::read(&file).map_err(|e| format!("{}: {e}", file.display()))?;
                if body != o.body {
                    return Err(format!("{}: body differs", file.display()));
                }
                let mut sidecar = path.clone();
                sidecar.extend_from_slice(META_SUFFIX.as_bytes());
                if !dir.join(std::ffi::OsStr::from_bytes(&sidecar)).is_file() {
                    return Err(format!("{}: no sidecar", file.display()));
                }
                expected_files.insert(path);
            }
            let mut found = BTreeSet::new();
            list_objects(&dir, &dir, &mut found);
            if found != expected_files {
                return Err(format!(
                    "{}: object files {:?}, want {:?}",
                    dir.display(),
                    found
                        .iter()
                        .map(|p| String::from_utf8_lossy(p).into_owned())
                        .collect::<Vec<_>>(),
                    expected_files
                        .iter()
                        .map(|p| String::from_utf8_lossy(p).into_owned())
                        .collect::<Vec<_>>()
                ));
            }
            let recorded: BTreeSet<String> = fs::read_to_string(dir.join("KEYMAP.jsonl"))
                .unwrap_or_default()
                .lines()
                .filter_map(|l| {
                    let start = l.find("\"encoded\":\"")? + 11;
                    let end = l[start..].find("\",\"original\"")?;
                    Some(l[start..start + end].to_owned())
                })
                .collect();
            if recorded.len() != keymap.len() {
                return Err(format!(
                    "{}: KEYMAP holds {} records, want {}",
                    dir.display(),
                    recorded.len(),
                    keymap.len()
                ));
            }
        }
        Ok(())
    }
}

/// Where the decoder puts `key` (docs/format.md §4.5), with renames on: a folder
/// object `P/` at `P/.elastickv-folder`, the suffix renames, then every segment too
/// long for a file name (over 255 bytes; the last one over 235, so that its sidecar
/// fits) shortened to `<first ≤128 bytes>.elastickv-long-<32 hex of its SHA-256>`.
pub fn renamed(key: &[u8], keys: &BTreeSet<&[u8]>) -> Vec<u8> {
    let mut out = key.to_vec();
    if let Some(base) = key.strip_suffix(b"/") {
        out = [base, b"/.elastickv-folder"].concat();
    } else if key.ends_with(META_SUFFIX.as_bytes()) {
        out.extend_from_slice(USER_DATA_SUFFIX.as_bytes());
    } else if keys
        .iter()
        .any(|k| k.len() > key.len() && k.starts_with(key) && k[key.len()] == b'/')
    {
        out.extend_from_slice(LEAF_DATA_SUFFIX.as_bytes());
    }
    let segments: Vec<&[u8]> = out.split(|b| *b == b'/').collect();
    let last = segments.len() - 1;
    let shortened: Vec<Vec<u8>> = segments
        .iter()
        .enumerate()
        .map(|(i, seg)| {
            let limit = if i == last {
                255 - META_SUFFIX.len()
            } else {
                255
            };
            if seg.len() <= limit {
                return seg.to_vec();
            }
            let mut keep = 128;
            while std::str::from_utf8(&seg[..keep]).is_err() && keep > 124 {
                keep -= 1;
            }
            let digest: String = sha(seg)
                .iter()
                .take(16)
                .map(|b| format!("{b:02x}"))
                .collect();
            [&seg[..keep], b".elastickv-long-", digest.as_bytes()].concat()
        })
        .collect();
    shortened.join(&b'/')
}

/// Relative paths of the object bodies below `dir` (no sidecars, control files or
/// reserved directories).
fn list_objects(root: &Path, dir: &Path, out: &mut BTreeSet<Vec<u8>>) {
    use std::os::unix::ffi::OsStrExt;
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let rel = path
            .strip_prefix(root)
            .unwrap_or(&path)
            .as_os_str()
            .as_bytes()
            .to_vec();
        let name = entry.file_name();
        let name = name.as_bytes();
        if path.is_dir() {
            if dir == root && (name == b"_orphans" || name == b"_incomplete_uploads") {
                continue;
            }
            list_objects(root, &path, out);
        } else if !(name.ends_with(META_SUFFIX.as_bytes())
            || dir == root && (name == b"_bucket.json" || name == b"KEYMAP.jsonl"))
        {
            out.insert(rel);
        }
    }
}

//! The S3 side of an encode: `s3/<bucket>/…` → records (docs/format.md §6.4).
//!
//! Every bucket directory needs its `_bucket.json`; every other regular file is an
//! object body with a sidecar, restored as one part of 1 MiB chunks under upload id
//! `elastickv-restore` in generation 1. A body is read a chunk at a time and never
//! held whole, and directories are listed through external sorts, so memory does
//! not grow with body sizes or object counts. Nothing in the dump is followed: symlinks, special files and files
//! with several hard links are refused (Go: `openRootRegular`).

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::adapter::{AdapterEncoder, EntrySink};
use crate::error::BoxError;
use crate::sort::{ExternalSorter, SortOptions};
use crate::tree::fs::open_regular_for_read;
use crate::tree::keymap::{
    KEYMAP_FILE_NAME, KIND_META_COLLISION, KIND_S3_FOLDER, KIND_S3_LEAF_DATA, KIND_S3_LONG_NAME,
    KIND_SHA_FALLBACK, KeymapRecord, read_keymap_from,
};
use crate::tree::segment::encode_segment;

use super::docs::{
    self, LEAF_DATA_SUFFIX, META_SUFFIX, PublicBucket, RESTORE_UPLOAD_ID, Sidecar, USER_DATA_SUFFIX,
};
use super::error::{Result, S3Error};
use super::keys::{self, ChunkKey, ObjectId};
use super::paths::{folder_base, folder_target, shorten_long_segments};
use super::scratch::Stream;

/// Body chunk size of a restored object.
pub const CHUNK_SIZE: usize = 1 << 20;
/// Generation of every restored bucket.
const RESTORE_GENERATION: u64 = 1;
/// Largest `_bucket.json` or sidecar read (S3 metadata is a few KiB at most).
const MAX_DOC_BYTES: u64 = 16 << 20;
/// Bucket-root directories the decoder owns.
const RESERVED_ROOTS: [&[u8]; 2] = [b"_orphans", b"_incomplete_uploads"];

/// The S3 side of an encode.
#[derive(Debug, Default)]
pub struct S3Encoder {
    sort: SortOptions,
}

impl S3Encoder {
    /// An encoder with default sort options.
    pub fn new() -> Self {
        S3Encoder::default()
    }

    /// An encoder whose scratch use follows `sort`.
    pub fn with_sort(sort: &SortOptions) -> Self {
        S3Encoder { sort: sort.clone() }
    }
}

impl AdapterEncoder for S3Encoder {
    fn encode(
        &mut self,
        adapter_root: &Path,
        sink: &mut dyn EntrySink,
    ) -> std::result::Result<(), BoxError> {
        let listing = SortOptions {
            // A quarter of the budget for listings, shared by the open levels.
            memory_budget: (self.sort.memory_budget / 32).max(1),
            scratch_dir: self.sort.scratch_dir.clone(),
        };
        encode_root(adapter_root, sink, &listing).map_err(S3Error::boxed)
    }
}

/// A directory entry, judged without following symlinks.
struct Entry {
    name: Vec<u8>,
    is_dir: bool,
}

/// A directory's entries in byte order of their names (Go's `os.ReadDir` order), so
/// the first error is the same on every run. Read through an external sort: a
/// directory of millions of objects costs the sort's budget, not their names.
struct Listing {
    sorted: Stream,
}

impl Listing {
    fn next(&mut self) -> Result<Option<Entry>> {
        let Some((name, flags)) = self.sorted.head() else {
            return Ok(None);
        };
        let entry = Entry {
            name: name.to_vec(),
            is_dir: flags == [1],
        };
        self.sorted.step().map_err(S3Error::Scratch)?;
        Ok(Some(entry))
    }
}

fn list(dir: &Path, sort: &SortOptions) -> Result<Listing> {
    let mut names = ExternalSorter::new(sort.clone());
    for entry in fs::read_dir(dir).map_err(|e| S3Error::io(dir, e))? {
        let entry = entry.map_err(|e| S3Error::io(dir, e))?;
        let ty = entry
            .file_type()
            .map_err(|e| S3Error::io(&entry.path(), e))?;
        names
            .push(entry.file_name().as_bytes(), &[u8::from(ty.is_dir())])
            .map_err(S3Error::Scratch)?;
    }
    Ok(Listing {
        sorted: Stream::of(names).map_err(S3Error::Scratch)?,
    })
}

fn join(dir: &Path, name: &[u8]) -> PathBuf {
    dir.join(OsStr::from_bytes(name))
}

fn encode_root(root: &Path, sink: &mut dyn EntrySink, sort: &SortOptions) -> Result<()> {
    match fs::symlink_metadata(root) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(S3Error::io(root, e)),
        Ok(meta) if !meta.file_type().is_dir() => {
            return Err(S3Error::EncodeNotDir {
                path: root.to_path_buf(),
                kind: if meta.file_type().is_symlink() {
                    "a symlink"
                } else {
                    "not a directory"
                },
            });
        }
        Ok(_) => {}
    }
    let mut entries = list(root, sort)?;
    while let Some(entry) = entries.next()? {
        let path = join(root, &entry.name);
        if entry.is_dir {
            encode_bucket(&path, &entry.name, sink, sort)?;
        } else if !entry.name.starts_with(b"_") {
            return Err(S3Error::EncodeNotRegular {
                detail: format!(
                    "{} is not a directory; top-level entries under s3/ must be bucket directories",
                    path.display()
                ),
                path,
            });
        }
    }
    Ok(())
}

/// Reads a small dump document: a regular file with one link.
fn read_doc(path: &Path) -> Result<Vec<u8>> {
    let file = open_regular_for_read(path).map_err(|e| match e.kind() {
        crate::tree::fs::FsErrorKind::Io => S3Error::Tree(e),
        _ => S3Error::refusal(path, e),
    })?;
    let mut bytes = Vec::new();
    file.take(MAX_DOC_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| S3Error::io(path, e))?;
    Ok(bytes)
}

fn read_bucket_meta(dir: &Path, dir_name: &[u8]) -> Result<PublicBucket> {
    let path = dir.join("_bucket.json");
    let invalid = |detail: String| S3Error::EncodeInvalidBucket {
        path: path.clone(),
        detail,
    };
    let bytes = read_doc(&path)?;
    if bytes.len() as u64 > MAX_DOC_BYTES {
        return Err(invalid(format!("larger than {MAX_DOC_BYTES} bytes")));
    }
    let meta = docs::parse_public_bucket(&bytes).map_err(invalid)?;
    if meta.format_version != 1 {
        return Err(invalid(format!(
            "unsupported format_version {}",
            meta.format_version
        )));
    }
    if meta.name.is_empty() {
        return Err(invalid("empty bucket name".into()));
    }
    let want = encode_segment(meta.name.as_bytes());
    if want.as_bytes() != dir_name {
        return Err(invalid(format!(
            "bucket name {:?} encodes to dir {want:?}, not {:?} (dump tampered or rebuilt by hand?)",
            meta.name,
            String::from_utf8_lossy(dir_name)
        )));
    }
    Ok(meta)
}

/// One bucket directory being encoded.
struct Bucket<'s> {
    dir: PathBuf,
    name: Vec<u8>,
    /// `encoded` → original key, when the bucket has a KEYMAP tracker.
    keymap: Option<HashMap<Vec<u8>, Vec<u8>>>,
    sink: &'s mut dyn EntrySink,
    sort: &'s SortOptions,
    buf: Vec<u8>,
}

fn add(sink: &mut dyn EntrySink, key: &[u8], value: &[u8]) -> Result<()> {
    sink.add(key, value).map_err(S3Error::Sink)
}

fn encode_bucket(
    dir: &Path,
    dir_name: &[u8],
    sink: &mut dyn EntrySink,
    sort: &SortOptions,
) -> Result<()> {
    let meta = read_bucket_meta(dir, dir_name)?;
    let name = meta.name.as_bytes().to_vec();
    add(
        sink,
        &keys::bucket_meta_key(&name),
        &docs::render_live_bucket(&meta),
    )?;
    add(
        sink,
        &keys::bucket_gen_key(&name),
        &RESTORE_GENERATION.to_be_bytes(),
    )?;
    let keymap = if is_keymap_tracker(dir)? {
        Some(
            load_keymap(dir).map_err(|detail| S3Error::EncodeInvalidBucket {
                path: dir.join(KEYMAP_FILE_NAME),
                detail,
            })?,
        )
    } else {
        None
    };
    let mut bucket = Bucket {
        dir: dir.to_path_buf(),
        name,
        keymap,
        sink,
        sort,
        buf: Vec::new(),
    };
    bucket.walk(&[])
}

/// Whether `KEYMAP.jsonl` at the bucket root is the decoder's rename record rather
/// than a user object: a regular file without a regular sidecar of its own.
fn is_keymap_tracker(dir: &Path) -> Result<bool> {
    let path = dir.join(KEYMAP_FILE_NAME);
    match fs::symlink_metadata(&path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(S3Error::io(&path, e)),
        Ok(meta) if !meta.file_type().is_file() => return Ok(false),
        Ok(_) => {}
    }
    let sidecar = dir.join(format!("{KEYMAP_FILE_NAME}{META_SUFFIX}"));
    match fs::symlink_metadata(&sidecar) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(true),
        Err(e) => Err(S3Error::io(&sidecar, e)),
        Ok(meta) => Ok(!meta.file_type().is_file()),
    }
}

/// Loads the bucket's KEYMAP strictly: every record must be one the decoder could
/// have written, and name an existing regular file.
fn load_keymap(dir: &Path) -> std::result::Result<HashMap<Vec<u8>, Vec<u8>>, String> {
    let path = dir.join(KEYMAP_FILE_NAME);
    let file = open_regular_for_read(&path).map_err(|e| e.to_string())?;
    let records = read_keymap_from(file, &path).map_err(|e| e.to_string())?;
    let mut out = HashMap::with_capacity(records.len());
    for rec in records {
        let original = validate_record(&rec)?;
        let target = dir.join(OsStr::from_bytes(rec.encoded.as_bytes()));
        match fs::symlink_metadata(&target) {
            Ok(meta) if meta.file_type().is_file() => {}
            Ok(_) => {
                return Err(format!(
                    "keymap record {:?} resolves to {}, want regular file",
                    rec.encoded,
                    target.display()
                ));
            }
            Err(_) => {
                return Err(format!(
                    "orphan keymap record: encoded {:?} has no on-disk file",
                    rec.encoded
                ));
            }
        }
        if out
            .insert(rec.encoded.clone().into_bytes(), original)
            .is_some()
        {
            return Err(format!(
                "duplicate encoded segment {:?} (the decoder writes one record per rename)",
                rec.encoded
            ));
        }
    }
    Ok(out)
}

fn bad_segment(path: &[u8]) -> Option<&[u8]> {
    path.split(|b| *b == b'/')
        .find(|s| matches!(*s, b"" | b"." | b".."))
}

/// For the kinds of this build (folder objects, long names): whether `encoded` is
/// exactly the path the decoder derives from `original` (docs/format.md §4.5). Other
/// kinds are checked by Go's rules alone.
fn path_record_matches(kind: &str, encoded: &[u8], original: &[u8]) -> bool {
    match kind {
        KIND_S3_FOLDER => folder_base(original).is_some_and(|b| folder_target(b) == encoded),
        KIND_S3_LONG_NAME => {
            let mut candidates = vec![
                original.to_vec(),
                [original, LEAF_DATA_SUFFIX.as_bytes()].concat(),
                [original, USER_DATA_SUFFIX.as_bytes()].concat(),
            ];
            if let Some(base) = folder_base(original) {
                candidates.push(folder_target(base));
            }
            candidates
                .iter()
                .any(|c| shorten_long_segments(c).is_some_and(|s| s == encoded))
        }
        _ => true,
    }
}

/// The checks of Go's `validateKeymapRecord`; returns the original key.
fn validate_record(rec: &KeymapRecord) -> std::result::Result<Vec<u8>, String> {
    if ![
        KIND_S3_LEAF_DATA,
        KIND_META_COLLISION,
        KIND_SHA_FALLBACK,
        KIND_S3_FOLDER,
        KIND_S3_LONG_NAME,
    ]
    .contains(&rec.kind.as_str())
    {
        return Err(format!(
            "unknown kind {:?} for encoded segment {:?}",
            rec.kind, rec.encoded
        ));
    }
    let encoded = rec.encoded.as_bytes();
    if encoded.contains(&b'\\') {
        return Err(format!("encoded path {:?} contains backslash", rec.encoded));
    }
    if let Some(seg) = bad_segment(encoded) {
        return Err(format!(
            "encoded path {:?} contains invalid segment {:?}",
            rec.encoded,
            String::from_utf8_lossy(seg)
        ));
    }
    let segs: Vec<&[u8]> = encoded.split(|b| *b == b'/').collect();
    let last = segs.last().copied().unwrap_or_default();
    if last.ends_with(META_SUFFIX.as_bytes()) {
        return Err(format!(
            "encoded path {:?} ends in reserved sidecar suffix",
            rec.encoded
        ));
    }
    if segs.len() == 1 && (last == b"_bucket.json" || last == KEYMAP_FILE_NAME.as_bytes()) {
        return Err(format!(
            "encoded path {:?} names a top-level control file",
            rec.encoded
        ));
    }
    if RESERVED_ROOTS.contains(&segs[0]) {
        return Err(format!(
            "encoded path {:?} targets a reserved dump subtree",
            rec.encoded
        ));
    }
    let original = rec.original_bytes().map_err(|e| e.to_string())?;
    if original.is_empty() {
        return Err(format!("empty original key for encoded {:?}", rec.encoded));
    }
    if original.contains(&0) || original.contains(&b'\\') {
        return Err(format!(
            "original key of {:?} contains NUL or backslash",
            rec.encoded
        ));
    }
    // A folder object's key ends in `/`: its one empty last segment is allowed.
    let path_part = match rec.kind.as_str() {
        KIND_S3_FOLDER | KIND_S3_LONG_NAME => folder_base(&original).unwrap_or(&original),
        _ => &original,
    };
    if bad_segment(path_part).is_some() {
        return Err(format!(
            "original key of {:?} has an invalid path segment",
            rec.encoded
        ));
    }
    let first = original.split(|b| *b == b'/').next().unwrap_or_default();
    if RESERVED_ROOTS.contains(&first) {
        return Err(format!(
            "original key of {:?} targets a reserved dump subtree",
            rec.encoded
        ));
    }
    if rec.kind == KIND_S3_LEAF_DATA && !encoded.ends_with(LEAF_DATA_SUFFIX.as_bytes()) {
        return Err(format!(
            "s3-leaf-data encoded {:?} lacks the leaf-data suffix",
            rec.encoded
        ));
    }
    if rec.kind == KIND_META_COLLISION && !original.ends_with(META_SUFFIX.as_bytes()) {
        return Err(format!(
            "meta-suffix-rename original of {:?} lacks the sidecar suffix",
            rec.encoded
        ));
    }
    if !path_record_matches(&rec.kind, encoded, &original) {
        return Err(format!(
            "{} encoded {:?} is not where the decoder writes its original",
            rec.kind, rec.encoded
        ));
    }
    Ok(original)
}

/// Whether a reserved directory holds a sidecar anywhere below it (then it holds
/// user objects, which the encoder would silently skip).
fn holds_sidecar(dir: &Path, sort: &SortOptions) -> Result<bool> {
    let mut entries = list(dir, sort)?;
    while let Some(entry) = entries.next()? {
        if entry.is_dir {
            if holds_sidecar(&join(dir, &entry.name), sort)? {
                return Ok(true);
            }
        } else if entry.name.ends_with(META_SUFFIX.as_bytes()) {
            return Ok(true);
        }
    }
    Ok(false)
}

impl Bucket<'_> {
    /// Encodes the objects below `rel` (a `/`-joined path below the bucket).
    fn walk(&mut self, rel: &[u8]) -> Result<()> {
        let dir = join(&self.dir, rel);
        let mut entries = list(&dir, self.sort)?;
        while let Some(entry) = entries.next()? {
            let mut child = rel.to_vec();
            if !child.is_empty() {
                child.push(b'/');
            }
            child.extend_from_slice(&entry.name);
            let at_root = rel.is_empty();
            if entry.is_dir {
                if at_root && RESERVED_ROOTS.contains(&entry.name.as_slice()) {
                    let path = join(&self.dir, &child);
                    if holds_sidecar(&path, self.sort)? {
                        return Err(S3Error::EncodeReservedPrefixCollision { path });
                    }
                    continue;
                }
                self.walk(&child)?;
                continue;
            }
            let name = entry.name.as_slice();
            let skip = (at_root && name == b"_bucket.json")
                || (at_root && name == KEYMAP_FILE_NAME.as_bytes() && self.keymap.is_some())
                || name.ends_with(META_SUFFIX.as_bytes());
            if !skip {
                self.object(&child)?;
            }
        }
        Ok(())
    }

    fn object(&mut self, rel: &[u8]) -> Result<()> {
        let key = self
            .keymap
            .as_ref()
            .and_then(|m| m.get(rel))
            .cloned()
            .unwrap_or_else(|| rel.to_vec());
        let body_path = join(&self.dir, rel);
        let sidecar_path = join(&self.dir, &[rel, META_SUFFIX.as_bytes()].concat());
        let sidecar = read_sidecar(&sidecar_path)?;
        let sizes = self.stream_body(&body_path, &key, sidecar.size_bytes)?;
        add(
            self.sink,
            &keys::obj_head_key(&self.name, RESTORE_GENERATION, &key),
            &docs::render_live_manifest(&sidecar, &sizes),
        )
    }

    /// Emits the body's chunks; returns their sizes.
    fn stream_body(&mut self, path: &Path, key: &[u8], declared: i64) -> Result<Vec<u64>> {
        let mut file = open_regular_for_read(path).map_err(|e| match e.kind() {
            crate::tree::fs::FsErrorKind::Io => S3Error::Tree(e),
            _ => S3Error::refusal(path, e),
        })?;
        let size = file.metadata().map_err(|e| S3Error::io(path, e))?.len();
        if i64::try_from(size).ok() != Some(declared) {
            return Err(S3Error::EncodeInvalidManifest {
                path: path.to_path_buf(),
                detail: format!("size_bytes {declared} != body length {size}"),
            });
        }
        self.buf.resize(CHUNK_SIZE, 0);
        let mut sizes = Vec::new();
        let mut chunk = ChunkKey {
            id: ObjectId {
                bucket: self.name.clone(),
                generation: RESTORE_GENERATION,
                object: key.to_vec(),
            },
            upload_id: RESTORE_UPLOAD_ID.as_bytes().to_vec(),
            part_no: 1,
            chunk_no: 0,
            part_version: 0,
        };
        loop {
            let n = read_full(&mut file, &mut self.buf).map_err(|e| S3Error::io(path, e))?;
            if n == 0 {
                break;
            }
            add(
                self.sink,
                &keys::chunk_key(keys::BLOB, &chunk),
                &self.buf[..n],
            )?;
            sizes.push(n as u64);
            chunk.chunk_no += 1;
            if n < CHUNK_SIZE {
                break;
            }
        }
        Ok(sizes)
    }
}

/// Fills `buf` unless the file ends first; returns the bytes read.
fn read_full(file: &mut fs::File, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

fn read_sidecar(path: &Path) -> Result<Sidecar> {
    let invalid = |detail: String| S3Error::EncodeInvalidManifest {
        path: path.to_path_buf(),
        detail,
    };
    let bytes = read_doc(path)?;
    if bytes.len() as u64 > MAX_DOC_BYTES {
        return Err(invalid(format!("larger than {MAX_DOC_BYTES} bytes")));
    }
    let sidecar = docs::parse_sidecar(&bytes).map_err(invalid)?;
    if sidecar.format_version != 1 {
        return Err(invalid(format!(
            "unsupported format_version {}",
            sidecar.format_version
        )));
    }
    Ok(sidecar)
}

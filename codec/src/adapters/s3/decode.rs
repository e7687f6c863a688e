//! The S3 side of a decode: writes `s3/<bucket>/…` (docs/format.md §4.5).
//!
//! Rows arrive in key order, which puts every blob chunk before the manifest that
//! says whether it belongs to the body, so nothing is written while rows arrive:
//! payloads go to a [`DataLog`] and their coordinates, the manifests, the chunk
//! references and the object names go to external sorts. Finalize then walks every
//! object state in `(bucket, object, generation)` order, merge-joining the sorted
//! streams, and has the tree's writer threads copy each body out of the data log.
//! Memory is the sort budgets plus the coordinates of the chunks one manifest can
//! use, whatever the object sizes and counts.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::adapter::{AdapterDecoder, DecodeFlags, Warnings};
use crate::container::EntryRef;
use crate::dispatch::{Adapter, Family, Prefix};
use crate::error::BoxError;
use crate::sort::{ExternalSorter, RecordLog};
use crate::tree::json::{self, Style};
use crate::tree::keymap::{
    KIND_META_COLLISION, KIND_S3_FOLDER, KIND_S3_LEAF_DATA, KIND_S3_LONG_NAME, KeymapWriter,
};
use crate::tree::segment::encode_segment;
use crate::tree::sink::TreeSink;

use super::docs::{
    self, LEAF_DATA_SUFFIX, LiveBucket, LiveManifest, META_SUFFIX, USER_DATA_SUFFIX, go_string,
};
use super::error::{Result, S3Error, esc};
use super::keys::{self, Fields, ObjectId, push_segment, push_u64};
use super::paths::{
    FOLDER_MARKER, check_object_path, folder_base, folder_target, is_dot_or_empty,
    shorten_long_segments,
};
use super::scratch::{DataLog, Stream, sorter};
use super::values::parse_chunk_ref;

/// Name tags of the rename pass.
const TAG_OBJECT: u8 = 1;
const TAG_DIR_PREFIX: u8 = 2;
const TAG_USER_DATA_TARGET: u8 = 4;
const TAG_LEAF_TARGET: u8 = 8;
const TAG_FOLDER_TARGET: u8 = 16;
/// Decisions of the rename pass, per object name.
const NEEDS_LEAF: u8 = 1;
const USER_DATA_TAKEN: u8 = 2;
const LEAF_TAKEN: u8 = 4;
const FOLDER_TAKEN: u8 = 8;
/// KEYMAP kinds as the bucket's record sort stores them (one byte before the key).
const KEYMAP_KINDS: [&str; 4] = [
    KIND_META_COLLISION,
    KIND_S3_LEAF_DATA,
    KIND_S3_FOLDER,
    KIND_S3_LONG_NAME,
];

/// How the decoder is set up.
#[derive(Debug, Clone)]
pub struct S3DecodeOptions {
    /// Where spills and the chunk data log go.
    pub scratch_dir: PathBuf,
    /// Bytes all sorts together may hold before spilling.
    pub memory_budget: usize,
    /// `--include-orphans`.
    pub include_orphans: bool,
    /// `--include-incomplete-uploads`.
    pub include_incomplete_uploads: bool,
    /// `--rename-collisions`.
    pub rename_collisions: bool,
}

impl S3DecodeOptions {
    /// Options for the producer `flags`.
    pub fn new(scratch_dir: PathBuf, memory_budget: usize, flags: &DecodeFlags) -> Self {
        S3DecodeOptions {
            scratch_dir,
            memory_budget,
            include_orphans: flags.exclusions.include_orphans,
            include_incomplete_uploads: flags.exclusions.include_incomplete_uploads,
            rename_collisions: flags.exclusions.rename_s3_collisions,
        }
    }
}

/// Per bucket: its meta, if a row gave one.
#[derive(Debug, Default)]
struct Bucket {
    meta: Option<LiveBucket>,
}

/// The S3 side of a decode.
pub struct S3Decoder {
    tree: Arc<dyn TreeSink>,
    options: S3DecodeOptions,
    buckets: BTreeMap<Vec<u8>, Bucket>,
    data: DataLog,
    /// `(bucket, object, gen)` of every object state.
    states: ExternalSorter,
    /// state key → manifest JSON.
    manifests: ExternalSorter,
    /// chunk key → `offset ‖ len [‖ ref size]`.
    chunks: ExternalSorter,
    /// digest → `offset ‖ len`.
    blobs: ExternalSorter,
    /// `digest ‖ chunk key` → ref size.
    refs: ExternalSorter,
    /// `seg(bucket) ‖ seq` → records.jsonl line.
    uploads: ExternalSorter,
    seq: u64,
}

impl std::fmt::Debug for S3Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Decoder").finish_non_exhaustive()
    }
}

/// `seg(bucket) ‖ seg(object) ‖ gen`: the sort key of an object state.
fn state_key(id: &ObjectId) -> Vec<u8> {
    let mut out = Vec::with_capacity(id.bucket.len() + id.object.len() + 12);
    push_segment(&mut out, &id.bucket);
    push_segment(&mut out, &id.object);
    push_u64(&mut out, id.generation);
    out
}

/// A state key followed by the chunk's order in the body.
fn chunk_sort_key(c: &keys::ChunkKey, offloaded: bool) -> Vec<u8> {
    let mut out = state_key(&c.id);
    push_u64(&mut out, c.part_no);
    push_u64(&mut out, c.part_version);
    out.push(u8::from(offloaded));
    push_u64(&mut out, c.chunk_no);
    push_segment(&mut out, &c.upload_id);
    out
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    bytes
        .get(at..at + 8)
        .and_then(|b| b.try_into().ok())
        .map_or(0, u64::from_be_bytes)
}

impl S3Decoder {
    /// A decoder writing `s3/` of `tree`.
    pub fn new(tree: Arc<dyn TreeSink>, options: S3DecodeOptions) -> Self {
        let dir = options.scratch_dir.clone();
        let share = options.memory_budget / 8;
        S3Decoder {
            tree,
            buckets: BTreeMap::new(),
            data: DataLog::new(),
            states: sorter(&dir, share),
            manifests: sorter(&dir, share),
            chunks: sorter(&dir, share),
            blobs: sorter(&dir, share / 2),
            refs: sorter(&dir, share / 2),
            uploads: sorter(&dir, share),
            seq: 0,
            options,
        }
    }

    fn scratch<T>(r: std::io::Result<T>) -> Result<T> {
        r.map_err(S3Error::Scratch)
    }

    fn touch_state(&mut self, id: &ObjectId) -> Result<()> {
        self.buckets.entry(id.bucket.clone()).or_default();
        Self::scratch(self.states.push(&state_key(id), &[]))
    }

    fn route(&mut self, family: Family, rest: &[u8], entry: &EntryRef<'_>) -> Result<()> {
        let key = entry.user_key;
        let value = entry.body;
        match family {
            Family::S3BucketMeta => self.bucket_meta(rest, key, value),
            Family::S3ObjHead => self.manifest(rest, key, value),
            Family::S3Blob => self.blob(rest, key, value),
            Family::S3ChunkBlob => self.chunk_blob(rest, key, value),
            Family::S3ChunkRef => self.chunk_ref(rest, key, value),
            Family::S3UploadMeta | Family::S3UploadPart => {
                self.incomplete_upload(family, rest, key, value)
            }
            _ => Ok(()),
        }
    }

    fn bucket_meta(&mut self, rest: &[u8], key: &[u8], value: &[u8]) -> Result<()> {
        let bucket = keys::parse_bucket_meta(rest).ok_or_else(|| S3Error::MalformedKey {
            detail: format!("bucket meta key: {}", esc(key)),
        })?;
        let live = docs::parse_live_bucket(value).map_err(|detail| S3Error::InvalidBucketMeta {
            key: esc(key),
            detail,
        })?;
        self.buckets.entry(bucket).or_default().meta = Some(live);
        Ok(())
    }

    fn manifest(&mut self, rest: &[u8], key: &[u8], value: &[u8]) -> Result<()> {
        let id = keys::parse_obj_head(rest).ok_or_else(|| S3Error::MalformedKey {
            detail: format!("manifest key: {}", esc(key)),
        })?;
        let invalid = |detail| S3Error::InvalidManifest {
            key: esc(key),
            detail,
        };
        let live = docs::parse_live_manifest(value).map_err(invalid)?;
        for p in live.parts.iter().filter(|p| p.offloaded) {
            if p.chunk_sizes.len() as u64 != p.chunk_count {
                return Err(invalid(format!(
                    "offloaded part {} declares {} chunks but has {} chunk sizes",
                    p.part_no,
                    p.chunk_count,
                    p.chunk_sizes.len()
                )));
            }
        }
        self.touch_state(&id)?;
        Self::scratch(self.manifests.push(&state_key(&id), value))
    }

    fn blob(&mut self, rest: &[u8], key: &[u8], value: &[u8]) -> Result<()> {
        let chunk = keys::parse_chunk_key(rest).ok_or_else(|| S3Error::MalformedKey {
            detail: format!("blob key: {}", esc(key)),
        })?;
        for seg in [&chunk.id.bucket, &chunk.id.object] {
            if is_dot_or_empty(seg) {
                return Err(S3Error::MalformedKey {
                    detail: format!(
                        "bucket or object key {} is empty or a dot segment (blob key {})",
                        esc(seg),
                        esc(key)
                    ),
                });
            }
        }
        self.touch_state(&chunk.id)?;
        let offset = Self::scratch(self.data.append(&self.options.scratch_dir, value))?;
        let mut loc = Vec::with_capacity(16);
        push_u64(&mut loc, offset);
        push_u64(&mut loc, value.len() as u64);
        Self::scratch(self.chunks.push(&chunk_sort_key(&chunk, false), &loc))
    }

    fn chunk_blob(&mut self, rest: &[u8], key: &[u8], value: &[u8]) -> Result<()> {
        let digest = keys::parse_chunk_blob(rest).ok_or_else(|| S3Error::MalformedKey {
            detail: format!("chunkblob key: {}", esc(key)),
        })?;
        let actual: [u8; 32] = Sha256::digest(value).into();
        if actual != digest {
            return Err(S3Error::ChunkBlobHashMismatch {
                key: esc(key),
                actual: hex::encode(actual),
            });
        }
        let offset = Self::scratch(self.data.append(&self.options.scratch_dir, value))?;
        let mut loc = Vec::with_capacity(16);
        push_u64(&mut loc, offset);
        push_u64(&mut loc, value.len() as u64);
        Self::scratch(self.blobs.push(&digest, &loc))
    }

    fn chunk_ref(&mut self, rest: &[u8], key: &[u8], value: &[u8]) -> Result<()> {
        let chunk = keys::parse_chunk_key(rest).ok_or_else(|| S3Error::MalformedKey {
            detail: format!("chunkref key: {}", esc(key)),
        })?;
        let reference = parse_chunk_ref(value).ok_or_else(|| S3Error::InvalidChunkRef {
            detail: format!("chunkref key: {}", esc(key)),
        })?;
        self.touch_state(&chunk.id)?;
        let mut sort_key = reference.sha256.to_vec();
        sort_key.extend_from_slice(&chunk_sort_key(&chunk, true));
        Self::scratch(self.refs.push(&sort_key, &reference.size.to_be_bytes()))
    }

    fn incomplete_upload(
        &mut self,
        family: Family,
        rest: &[u8],
        key: &[u8],
        value: &[u8],
    ) -> Result<()> {
        if !self.options.include_incomplete_uploads {
            return Ok(());
        }
        let (prefix, bucket) = if family == Family::S3UploadMeta {
            (keys::UPLOAD_META, keys::upload_meta_bucket(rest))
        } else {
            (keys::UPLOAD_PART, keys::upload_part_bucket(rest))
        };
        let bucket = bucket.ok_or_else(|| S3Error::MalformedKey {
            detail: format!("upload-family key: {}", esc(key)),
        })?;
        if is_dot_or_empty(&bucket) {
            return Err(S3Error::MalformedKey {
                detail: format!(
                    "bucket name {} in upload-family key is empty or a dot segment",
                    esc(&bucket)
                ),
            });
        }
        #[derive(serde::Serialize)]
        struct Record<'a> {
            prefix: &'a str,
            key: String,
            value: String,
        }
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD;
        let line = json::to_vec(
            &Record {
                prefix: std::str::from_utf8(prefix).unwrap_or_default(),
                key: b64.encode(key),
                value: b64.encode(value),
            },
            Style::JSONL,
        );
        self.seq += 1;
        let mut sort_key = Vec::new();
        push_segment(&mut sort_key, &bucket);
        push_u64(&mut sort_key, self.seq);
        self.buckets.entry(bucket).or_default();
        Self::scratch(self.uploads.push(&sort_key, &line))
    }

    // --- finalize -------------------------------------------------------------------

    fn finish(&mut self, warnings: &mut Warnings) -> Result<()> {
        let dir = self.options.scratch_dir.clone();
        let share = self.options.memory_budget / 8;
        Self::scratch(self.data.seal())?;
        let mut chunks = std::mem::replace(&mut self.chunks, sorter(&dir, 1));
        self.resolve_refs(&mut chunks)?;
        let states = Stream::of(std::mem::replace(&mut self.states, sorter(&dir, 1)));
        let states = Self::scratch(states)?;
        let (log, names) = self.log_states(states, share)?;
        let decisions = Self::scratch(self.decide_names(names, share))?;
        let mut walk = Walk {
            manifests: Self::scratch(Stream::of(std::mem::replace(
                &mut self.manifests,
                sorter(&dir, 1),
            )))?,
            chunks: Self::scratch(Stream::of(chunks))?,
            decisions,
            uploads: Self::scratch(Stream::of(std::mem::replace(
                &mut self.uploads,
                sorter(&dir, 1),
            )))?,
            last_decision: None,
        };
        self.flush_buckets(log, &mut walk, warnings)
    }

    /// Joins chunk refs with the chunk blobs they name (both sorted by digest) and
    /// adds the resolved ones to the chunks. A ref whose blob is absent is dropped.
    fn resolve_refs(&mut self, chunks: &mut ExternalSorter) -> Result<()> {
        let dir = self.options.scratch_dir.clone();
        let mut blobs = Self::scratch(Stream::of(std::mem::replace(
            &mut self.blobs,
            sorter(&dir, 1),
        )))?;
        let mut refs = Self::scratch(Stream::of(std::mem::replace(
            &mut self.refs,
            sorter(&dir, 1),
        )))?;
        while let Some((key, size)) = refs.head() {
            let (digest, chunk_key) = key.split_at(32.min(key.len()));
            while blobs.head().is_some_and(|(d, _)| d < digest) {
                Self::scratch(blobs.step())?;
            }
            if let Some((d, loc)) = blobs.head()
                && d == digest
            {
                let mut value = loc.to_vec();
                value.extend_from_slice(size);
                Self::scratch(chunks.push(chunk_key, &value))?;
            }
            Self::scratch(refs.step())?;
        }
        Ok(())
    }

    fn active_gen(&self, bucket: &[u8]) -> u64 {
        self.buckets
            .get(bucket)
            .and_then(|b| b.meta.as_ref())
            .map_or(0, |m| m.generation)
    }

    /// Copies the distinct states to a log (read again by the flush) and lists the
    /// names the rename rules look at: each active object, each of its directory
    /// prefixes, and the names its renames would take.
    fn log_states(&self, mut states: Stream, share: usize) -> Result<(RecordLog, ExternalSorter)> {
        let mut log = Self::scratch(RecordLog::create(&self.options.scratch_dir))?;
        let mut names = sorter(&self.options.scratch_dir, share);
        let mut previous: Option<Vec<u8>> = None;
        let mut previous_name: Option<(Vec<u8>, Vec<u8>)> = None;
        while let Some((key, _)) = states.head() {
            if previous.as_deref() == Some(key) {
                Self::scratch(states.step())?;
                continue;
            }
            let key = key.to_vec();
            Self::scratch(states.step())?;
            let (bucket, object, generation) = split_state(&key)?;
            Self::scratch(log.append(&key, &[]))?;
            let active = self.active_gen(&bucket);
            let is_active = active == 0 || generation == active;
            let name = (bucket, object);
            if is_active && previous_name.as_ref() != Some(&name) {
                push_names(&mut names, &name.0, &name.1)?;
                previous_name = Some(name);
            }
            previous = Some(key);
        }
        Ok((log, names))
    }

    /// Reduces the tagged names to per-object decisions: needs a leaf-data rename,
    /// and which rename targets are real keys.
    fn decide_names(&self, names: ExternalSorter, share: usize) -> std::io::Result<Stream> {
        let mut names = Stream::of(names)?;
        let mut decisions = sorter(&self.options.scratch_dir, share);
        while let Some((key, _)) = names.head() {
            let key = key.to_vec();
            let mut tags = 0u8;
            while let Some((k, v)) = names.head() {
                if k != key.as_slice() {
                    break;
                }
                tags |= v.first().copied().unwrap_or(0);
                names.step()?;
            }
            if tags & TAG_OBJECT == 0 {
                continue;
            }
            let Ok((bucket, name)) = split_name(&key) else {
                continue;
            };
            if tags & TAG_DIR_PREFIX != 0 {
                decisions.push(&key, &[NEEDS_LEAF])?;
            }
            if tags & TAG_FOLDER_TARGET != 0
                && let Some(base) = name
                    .strip_suffix(FOLDER_MARKER.as_bytes())
                    .and_then(|n| n.strip_suffix(b"/"))
            {
                decisions.push(&name_key(&bucket, &[base, b"/"].concat()), &[FOLDER_TAKEN])?;
            }
            for (tag, suffix, decision) in [
                (TAG_USER_DATA_TARGET, USER_DATA_SUFFIX, USER_DATA_TAKEN),
                (TAG_LEAF_TARGET, LEAF_DATA_SUFFIX, LEAF_TAKEN),
            ] {
                if tags & tag != 0
                    && let Some(owner) = name.strip_suffix(suffix.as_bytes())
                {
                    decisions.push(&name_key(&bucket, owner), &[decision])?;
                }
            }
        }
        Stream::of(decisions)
    }

    fn flush_buckets(
        &mut self,
        log: RecordLog,
        walk: &mut Walk,
        warnings: &mut Warnings,
    ) -> Result<()> {
        let written = Self::scratch(log.finish())?;
        let mut written = written;
        let mut states = Self::scratch(written.replay())?;
        let mut pending: Option<Vec<u8>> = Self::scratch(states.next())?.map(|(k, _)| k.to_vec());
        let buckets: Vec<Vec<u8>> = self.buckets.keys().cloned().collect();
        for bucket in buckets {
            let mut flush = BucketFlush::start(self, &bucket)?;
            while let Some(key) = pending.take() {
                let (b, object, generation) = split_state(&key)?;
                if b != bucket {
                    pending = Some(key);
                    break;
                }
                let next = Self::scratch(states.next())?.map(|(k, _)| k.to_vec());
                let shadowed = next.as_ref().is_some_and(|n| {
                    split_state(n).is_ok_and(|(nb, no, _)| nb == b && no == object)
                });
                flush.object(self, walk, &object, generation, shadowed, &key, warnings)?;
                pending = next;
            }
            flush.finish(self, walk, warnings)?;
        }
        Ok(())
    }
}

/// The sorted streams the flush walks alongside the states.
struct Walk {
    manifests: Stream,
    chunks: Stream,
    decisions: Stream,
    uploads: Stream,
    /// The decision of the last name (several generations may share it).
    last_decision: Option<(Vec<u8>, u8)>,
}

/// One chunk of an object, as the flush sees it.
#[derive(Debug, Clone)]
struct Chunk {
    part_no: u64,
    part_version: u64,
    offloaded: bool,
    chunk_no: u64,
    upload_id: Vec<u8>,
    offset: u64,
    len: u64,
    /// Declared size of an offloaded chunk's reference.
    ref_size: u64,
}

/// A bucket being written.
struct BucketFlush {
    bucket: Vec<u8>,
    dir: String,
    active: u64,
    stale: u64,
    keymap: ExternalSorter,
    bucket_json_taken: bool,
    keymap_taken: bool,
}

/// Writes the file `rel` made of `chunks`' payloads, copied out of the data log by
/// the tree's writer threads while this thread goes on.
fn write_payloads(dec: &S3Decoder, rel: &[u8], chunks: &[Chunk]) -> Result<()> {
    let ranges = chunks.iter().map(|c| (c.offset, c.len)).collect();
    match S3Decoder::scratch(dec.data.ranges(ranges))? {
        Some(ranges) => dec.tree.write_ranges(rel, ranges)?,
        None => dec.tree.write_file(rel, Vec::new())?,
    }
    Ok(())
}

fn rel(dir: &str, name: &[u8]) -> Vec<u8> {
    let mut out = dir.as_bytes().to_vec();
    out.push(b'/');
    out.extend_from_slice(name);
    out
}

impl BucketFlush {
    fn start(dec: &S3Decoder, bucket: &[u8]) -> Result<BucketFlush> {
        if is_dot_or_empty(bucket) {
            return Err(S3Error::MalformedKey {
                detail: format!(
                    "bucket name {} is empty or a dot segment (would escape s3/ subtree)",
                    esc(bucket)
                ),
            });
        }
        let dir = format!("s3/{}", encode_segment(bucket));
        dec.tree.create_dir(dir.as_bytes())?;
        Ok(BucketFlush {
            bucket: bucket.to_vec(),
            dir,
            active: dec.active_gen(bucket),
            stale: 0,
            keymap: sorter(&dec.options.scratch_dir, dec.options.memory_budget / 16),
            bucket_json_taken: false,
            keymap_taken: false,
        })
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "the walk's cursors and the state"
    )]
    fn object(
        &mut self,
        dec: &S3Decoder,
        walk: &mut Walk,
        object: &[u8],
        generation: u64,
        shadowed: bool,
        key: &[u8],
        warnings: &mut Warnings,
    ) -> Result<()> {
        let manifest = take_exact(&mut walk.manifests, key)?;
        let name_key = name_key(&self.bucket, object);
        let decision = match &walk.last_decision {
            Some((k, flags)) if *k == name_key => *flags,
            _ => {
                let flags = take_decision(&mut walk.decisions, &name_key)?;
                walk.last_decision = Some((name_key, flags));
                flags
            }
        };
        if self.active != 0 && generation != self.active {
            self.stale += 1;
            if dec.options.include_orphans {
                return self.orphan(dec, walk, object, generation, key, warnings);
            }
            return for_each_chunk(&mut walk.chunks, key, &mut |_| Ok(()));
        }
        let Some(manifest) = manifest else {
            return self.orphan(dec, walk, object, generation, key, warnings);
        };
        if shadowed {
            // Only when the bucket has no meta can two generations of one key both be
            // active; Go writes both and keeps whichever came last in map order. The
            // newest generation is kept here (docs/format.md §4.5).
            return for_each_chunk(&mut walk.chunks, key, &mut |_| Ok(()));
        }
        let manifest =
            docs::parse_live_manifest(&manifest).map_err(|detail| S3Error::InvalidManifest {
                key: esc(key),
                detail,
            })?;
        // Only the chunks the manifest can use are kept: noise (other uploads,
        // undeclared part versions) costs nothing however much of it there is.
        let declared = declared_parts(&manifest);
        let upload = manifest.upload_id.as_bytes();
        let mut chunks = Vec::new();
        for_each_chunk(&mut walk.chunks, key, &mut |c| {
            let checked_ref = c.offloaded
                && c.upload_id == upload
                && declared.contains_key(&(c.part_no, c.part_version, true));
            if checked_ref || in_body(&c, upload, &declared) {
                chunks.push(c);
            }
            Ok(())
        })?;
        let (path, kind) = self.resolve_name(dec, object, decision)?;
        check_object_path(&path)?;
        let body = assemble_plan(&self.bucket, object, &manifest, &declared, chunks)?;
        self.write_body(dec, &path, &body)?;
        let mut sidecar = path.clone();
        sidecar.extend_from_slice(META_SUFFIX.as_bytes());
        dec.tree
            .write_file(&rel(&self.dir, &sidecar), docs::render_sidecar(&manifest))?;
        match path.as_slice() {
            b"_bucket.json" => self.bucket_json_taken = true,
            b"KEYMAP.jsonl" => self.keymap_taken = true,
            _ => {}
        }
        if let Some(kind) = kind {
            // Records are written sorted by `encoded` at the end of the bucket (Go
            // writes them in map order, which differs run to run).
            let kind_tag = KEYMAP_KINDS.iter().position(|k| *k == kind).unwrap_or(0) as u8;
            S3Decoder::scratch(
                self.keymap
                    .push_parts(go_string(&path).as_bytes(), &[&[kind_tag], object]),
            )?;
        }
        Ok(())
    }

    /// The path `object` is written at and the KEYMAP kind when it is not the key
    /// itself: the renames below, then any segment too long for a file name
    /// shortened (docs/format.md §4.5).
    fn resolve_name(
        &self,
        dec: &S3Decoder,
        object: &[u8],
        decision: u8,
    ) -> Result<(Vec<u8>, Option<&'static str>)> {
        let (path, kind) = self.rename(dec, object, decision)?;
        Ok(match shorten_long_segments(&path) {
            Some(short) => (short, Some(KIND_S3_LONG_NAME)),
            None => (path, kind),
        })
    }

    fn rename(
        &self,
        dec: &S3Decoder,
        object: &[u8],
        decision: u8,
    ) -> Result<(Vec<u8>, Option<&'static str>)> {
        let collision = |detail: String| S3Error::MetaSuffixCollision {
            bucket: esc(&self.bucket),
            object: esc(object),
            detail,
        };
        let renamed = |suffix: &str| {
            let mut t = object.to_vec();
            t.extend_from_slice(suffix.as_bytes());
            t
        };
        if let Some(base) = folder_base(object) {
            let target = folder_target(base);
            if decision & FOLDER_TAKEN != 0 {
                return Err(collision(format!(
                    " folder-object target {} is also a real object key (rename in S3 first)",
                    esc(&target)
                )));
            }
            return Ok((target, Some(KIND_S3_FOLDER)));
        }
        if object.ends_with(META_SUFFIX.as_bytes()) {
            if !dec.options.rename_collisions {
                return Err(collision(String::new()));
            }
            let target = renamed(USER_DATA_SUFFIX);
            if decision & USER_DATA_TAKEN != 0 {
                return Err(collision(format!(
                    " rename target {} is also a real object key (rename in S3 first)",
                    esc(&target)
                )));
            }
            return Ok((target, Some(KIND_META_COLLISION)));
        }
        if decision & NEEDS_LEAF != 0 {
            let target = renamed(LEAF_DATA_SUFFIX);
            if decision & LEAF_TAKEN != 0 {
                return Err(collision(format!(
                    " leaf-data rename target {} is also a real object key (rename in S3 first)",
                    esc(&target)
                )));
            }
            return Ok((target, Some(KIND_S3_LEAF_DATA)));
        }
        Ok((object.to_vec(), None))
    }

    fn write_body(&self, dec: &S3Decoder, path: &[u8], body: &[Chunk]) -> Result<()> {
        write_payloads(dec, &rel(&self.dir, path), body)
    }

    /// Reports an object without a manifest (or of a stale generation) and, with
    /// `--include-orphans`, writes its stored chunks as they stream by.
    fn orphan(
        &mut self,
        dec: &S3Decoder,
        walk: &mut Walk,
        object: &[u8],
        generation: u64,
        key: &[u8],
        warnings: &mut Warnings,
    ) -> Result<()> {
        let dir = format!(
            "{}/_orphans/{}/gen-{generation}",
            self.dir,
            encode_segment(object)
        );
        let mut blobs = 0u64;
        for_each_chunk(&mut walk.chunks, key, &mut |c| {
            if c.offloaded {
                return Ok(());
            }
            blobs += 1;
            if !dec.options.include_orphans {
                return Ok(());
            }
            if is_dot_or_empty(object) {
                return Err(S3Error::MalformedKey {
                    detail: format!(
                        "orphan object key {} is a dot segment (would escape orphan dir)",
                        esc(object)
                    ),
                });
            }
            let name = format!(
                "{}_{:016x}_{:016x}_{:016x}.bin",
                encode_segment(&c.upload_id),
                c.part_no,
                c.chunk_no,
                c.part_version
            );
            write_payloads(dec, &rel(&dir, name.as_bytes()), std::slice::from_ref(&c))
        })?;
        warnings.push(
            "s3_orphan_chunks",
            vec![
                ("bucket", go_string(&self.bucket)),
                ("object", go_string(object)),
                ("chunks", blobs.to_string()),
                (
                    "hint",
                    "blob chunks present but no !s3|obj|head record matched".to_owned(),
                ),
            ],
        );
        Ok(())
    }

    fn finish(mut self, dec: &S3Decoder, walk: &mut Walk, warnings: &mut Warnings) -> Result<()> {
        if let Some(meta) = dec.buckets.get(&self.bucket).and_then(|b| b.meta.as_ref())
            && !self.bucket_json_taken
        {
            // An object named `_bucket.json` replaces it, as in Go (written later).
            dec.tree.write_file(
                &rel(&self.dir, b"_bucket.json"),
                docs::render_bucket(&self.bucket, meta),
            )?;
        }
        if self.stale > 0 {
            warnings.push(
                "s3_stale_generation_objects",
                vec![
                    ("bucket", go_string(&self.bucket)),
                    ("active_generation", self.active.to_string()),
                    ("stale_count", self.stale.to_string()),
                    (
                        "hint",
                        "stale-gen objects excluded; restore would otherwise emit them under the new bucket"
                            .to_owned(),
                    ),
                ],
            );
        }
        self.write_keymap(dec)?;
        self.write_uploads(dec, walk)
    }

    fn write_keymap(&mut self, dec: &S3Decoder) -> Result<()> {
        if self.keymap.is_empty() {
            return Ok(());
        }
        if self.keymap_taken {
            return Err(S3Error::MetaSuffixCollision {
                bucket: esc(&self.bucket),
                object: esc(b"KEYMAP.jsonl"),
                detail: " takes the path of the bucket's rename records".into(),
            });
        }
        let keymap = std::mem::replace(&mut self.keymap, sorter(&dec.options.scratch_dir, 1));
        let mut records = S3Decoder::scratch(Stream::of(keymap))?;
        let mut writer = KeymapWriter::new(Arc::clone(&dec.tree), self.dir.as_bytes());
        while let Some((encoded, value)) = records.head() {
            let (kind, original) = value.split_first().unwrap_or((&0, &[]));
            let kind = KEYMAP_KINDS
                .get(usize::from(*kind))
                .copied()
                .unwrap_or(KIND_META_COLLISION);
            writer.write_original(&String::from_utf8_lossy(encoded), original, kind)?;
            S3Decoder::scratch(records.step())?;
        }
        writer.finish()?;
        Ok(())
    }

    fn write_uploads(&self, dec: &S3Decoder, walk: &mut Walk) -> Result<()> {
        let mut prefix = Vec::new();
        push_segment(&mut prefix, &self.bucket);
        let mut file = None;
        while let Some((key, line)) = walk.uploads.head() {
            if key.len() != prefix.len() + 8 || !key.starts_with(&prefix) {
                break;
            }
            let out = match &mut file {
                Some(out) => out,
                none => none.insert(
                    dec.tree
                        .create_file(&rel(&self.dir, b"_incomplete_uploads/records.jsonl"))?,
                ),
            };
            let at = out.path();
            out.write_all(line).map_err(|e| S3Error::io(&at, e))?;
            S3Decoder::scratch(walk.uploads.step())?;
        }
        if let Some(out) = file {
            out.finish()?;
        }
        Ok(())
    }
}

/// `(bucket, object, generation)` of a state key.
fn split_state(key: &[u8]) -> Result<(Vec<u8>, Vec<u8>, u64)> {
    let mut f = Fields::new(key);
    let parsed = (|| Some((f.segment()?, f.segment()?, f.u64()?)))();
    parsed.ok_or_else(|| S3Error::Scratch(std::io::Error::other("corrupt S3 state record")))
}

/// `(bucket, name)` of a name key.
fn split_name(key: &[u8]) -> Result<(Vec<u8>, Vec<u8>)> {
    let mut f = Fields::new(key);
    let parsed = (|| Some((f.segment()?, f.segment()?)))();
    parsed.ok_or_else(|| S3Error::Scratch(std::io::Error::other("corrupt S3 name record")))
}

/// `seg(bucket) ‖ seg(name)`.
fn name_key(bucket: &[u8], name: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bucket.len() + name.len() + 4);
    push_segment(&mut out, bucket);
    push_segment(&mut out, name);
    out
}

/// The names an active object puts in play (see [`S3Decoder::log_states`]).
fn push_names(names: &mut ExternalSorter, bucket: &[u8], object: &[u8]) -> Result<()> {
    let mut push = |name: &[u8], tag: u8| {
        names
            .push(&name_key(bucket, name), &[tag])
            .map_err(S3Error::Scratch)
    };
    push(object, TAG_OBJECT)?;
    for (i, _) in object.iter().enumerate().filter(|(_, b)| **b == b'/') {
        push(&object[..i], TAG_DIR_PREFIX)?;
    }
    let with = |suffix: &str| [object, suffix.as_bytes()].concat();
    if let Some(base) = folder_base(object) {
        push(&folder_target(base), TAG_FOLDER_TARGET)?;
    }
    if object.ends_with(META_SUFFIX.as_bytes()) {
        push(&with(USER_DATA_SUFFIX), TAG_USER_DATA_TARGET)?;
    }
    push(&with(LEAF_DATA_SUFFIX), TAG_LEAF_TARGET)
}

/// The value of the record keyed exactly `key`, if the stream is on it.
fn take_exact(stream: &mut Stream, key: &[u8]) -> Result<Option<Vec<u8>>> {
    while stream.head().is_some_and(|(k, _)| k < key) {
        S3Decoder::scratch(stream.step())?;
    }
    match stream.head() {
        Some((k, v)) if k == key => {
            let v = v.to_vec();
            S3Decoder::scratch(stream.step())?;
            Ok(Some(v))
        }
        _ => Ok(None),
    }
}

/// The decision flags of `name_key`, left in place for the other generations.
fn take_decision(stream: &mut Stream, name_key: &[u8]) -> Result<u8> {
    while stream.head().is_some_and(|(k, _)| k < name_key) {
        S3Decoder::scratch(stream.step())?;
    }
    let mut flags = 0;
    // Several decision records may share a key; they are adjacent and are OR-ed.
    if let Some((k, v)) = stream.head()
        && k == name_key
    {
        flags |= v.first().copied().unwrap_or(0);
        S3Decoder::scratch(stream.step())?;
        while let Some((k, v)) = stream.head() {
            if k != name_key {
                break;
            }
            flags |= v.first().copied().unwrap_or(0);
            S3Decoder::scratch(stream.step())?;
        }
    }
    Ok(flags)
}

/// Hands every chunk record of the state `key` to `each`, in key order.
fn for_each_chunk(
    stream: &mut Stream,
    key: &[u8],
    each: &mut dyn FnMut(Chunk) -> Result<()>,
) -> Result<()> {
    while stream
        .head()
        .is_some_and(|(k, _)| k.get(..key.len()).is_some_and(|p| p < key))
    {
        S3Decoder::scratch(stream.step())?;
    }
    while let Some((k, v)) = stream.head() {
        if !k.starts_with(key) {
            break;
        }
        let mut f = Fields::new(&k[key.len()..]);
        let parsed = (|| {
            let part_no = f.u64()?;
            let part_version = f.u64()?;
            let offloaded = {
                let b = *k.get(key.len() + 16)?;
                b == 1
            };
            let mut g = Fields::new(k.get(key.len() + 17..)?);
            let chunk_no = g.u64()?;
            let upload_id = g.segment()?;
            Some(Chunk {
                part_no,
                part_version,
                offloaded,
                chunk_no,
                upload_id,
                offset: u64_at(v, 0),
                len: u64_at(v, 8),
                ref_size: u64_at(v, 16),
            })
        })();
        let chunk = parsed
            .ok_or_else(|| S3Error::Scratch(std::io::Error::other("corrupt S3 chunk record")))?;
        S3Decoder::scratch(stream.step())?;
        each(chunk)?;
    }
    Ok(())
}

/// A declared part: `(part_no, version, offloaded)` → `(chunk_count, chunk_sizes)`.
type Declared = HashMap<(u64, u64, bool), (u64, Vec<u64>)>;

fn declared_parts(m: &LiveManifest) -> Declared {
    m.parts
        .iter()
        .map(|p| {
            let version = if p.offloaded {
                p.chunk_ref_version
            } else {
                p.part_version
            };
            (
                (p.part_no, version, p.offloaded),
                (p.chunk_count, p.chunk_sizes.clone()),
            )
        })
        .collect()
}

/// The chunks that make the body, in order, after the checks Go makes: offloaded
/// chunk sizes, then completeness of every declared part.
fn assemble_plan(
    bucket: &[u8],
    object: &[u8],
    m: &LiveManifest,
    declared: &Declared,
    chunks: Vec<Chunk>,
) -> Result<Vec<Chunk>> {
    let upload = m.upload_id.as_bytes();
    for c in chunks
        .iter()
        .filter(|c| c.offloaded && c.upload_id == upload)
    {
        let Some((_, sizes)) = declared.get(&(c.part_no, c.part_version, true)) else {
            continue;
        };
        if c.len != c.ref_size {
            return Err(S3Error::InvalidChunkRef {
                detail: format!(
                    "partNo={} chunkNo={} version={} declared size={} actual size={}",
                    c.part_no, c.chunk_no, c.part_version, c.ref_size, c.len
                ),
            });
        }
        if usize::try_from(c.chunk_no).ok().and_then(|i| sizes.get(i)) != Some(&c.ref_size) {
            return Err(S3Error::InvalidChunkRef {
                detail: format!(
                    "partNo={} chunkNo={} version={} ref size={} does not match manifest chunk size",
                    c.part_no, c.chunk_no, c.part_version, c.ref_size
                ),
            });
        }
    }
    let body: Vec<Chunk> = chunks
        .into_iter()
        .filter(|c| in_body(c, upload, declared))
        .collect();
    check_complete(bucket, object, declared, &body)?;
    Ok(body)
}

/// Whether a chunk belongs to the body: offloaded chunks count only once resolved
/// for the manifest's upload, stored ones for any upload when the manifest names
/// none; and only in a declared part with chunks.
fn in_body(c: &Chunk, upload: &[u8], declared: &Declared) -> bool {
    (c.upload_id == upload || (!c.offloaded && upload.is_empty()))
        && declared
            .get(&(c.part_no, c.part_version, c.offloaded))
            .is_some_and(|(count, _)| *count > 0)
}

fn check_complete(bucket: &[u8], object: &[u8], declared: &Declared, body: &[Chunk]) -> Result<()> {
    let mut parts: Vec<_> = declared.iter().filter(|(_, (n, _))| *n > 0).collect();
    parts.sort_by_key(|(k, _)| **k);
    for (&(part_no, version, offloaded), &(count, _)) in parts {
        let mut seen: Vec<u64> = body
            .iter()
            .filter(|c| {
                c.part_no == part_no && c.part_version == version && c.offloaded == offloaded
            })
            .map(|c| c.chunk_no)
            .collect();
        seen.dedup();
        let incomplete = |detail: String| S3Error::IncompleteBlobChunks {
            bucket: esc(bucket),
            object: esc(object),
            detail: format!(
                "partNo={part_no} partVersion={version} offloaded={offloaded} declared chunks={count}, {detail}"
            ),
        };
        if seen.len() as u64 != count {
            return Err(incomplete(format!("observed unique={}", seen.len())));
        }
        if let Some(missing) = (0..count).find(|i| seen.binary_search(i).is_err()) {
            return Err(incomplete(format!("missing chunkNo={missing}")));
        }
    }
    Ok(())
}

impl AdapterDecoder for S3Decoder {
    fn adapter(&self) -> Adapter {
        Adapter::S3
    }

    fn handle(
        &mut self,
        prefix: &'static Prefix,
        entry: &EntryRef<'_>,
        _warnings: &mut Warnings,
    ) -> std::result::Result<(), BoxError> {
        let rest = prefix.rest(entry.user_key);
        self.route(prefix.family, rest, entry)
            .map_err(S3Error::boxed)
    }

    fn finalize(&mut self, warnings: &mut Warnings) -> std::result::Result<(), BoxError> {
        self.finish(warnings).map_err(S3Error::boxed)
    }
}

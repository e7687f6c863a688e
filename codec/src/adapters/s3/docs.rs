//! The JSON documents of the S3 adapter, both directions: the live bucket meta and
//! object manifest stored in the snapshot, and the tree's `_bucket.json` and object
//! sidecars (docs/format.md §3.2, §4.5).
//!
//! Live values are read with Go's `json.Unmarshal` rules ([`crate::tree::gojson`]):
//! case-insensitive member names, the last duplicate wins, `null` leaves a field
//! unchanged, unknown members are ignored and a top-level `null` is an empty value.
//! Everything is written with Go's `encoding/json` layout ([`crate::tree::json`]).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::tree::gojson::{
    GoTypeError, GoValue, child_field, match_field, set_bool, set_string, set_u32, set_u64, set_vec,
};
use crate::tree::gojson_reader;
use crate::tree::json::{self, Style};
use crate::tree::walltime::WallTime;

/// The sidecar suffix, reserved for the tree's own files.
pub const META_SUFFIX: &str = ".elastickv-meta.json";
/// Appended to a key that is also a directory prefix of another key.
pub const LEAF_DATA_SUFFIX: &str = ".elastickv-leaf-data";
/// Appended to a key ending in [`META_SUFFIX`] under `--rename-collisions`.
pub const USER_DATA_SUFFIX: &str = ".user-data";
/// Upload id of every object the encoder writes.
pub const RESTORE_UPLOAD_ID: &str = "elastickv-restore";
/// Bits of logical counter below the milliseconds of an HLC timestamp.
const HLC_LOGICAL_BITS: u32 = 16;

/// A string as Go holds arbitrary bytes in a `string` and `encoding/json` writes it:
/// every byte that does not start a valid UTF-8 sequence becomes one U+FFFD.
pub fn go_string(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    let mut rest = bytes;
    loop {
        match std::str::from_utf8(rest) {
            Ok(valid) => {
                out.push_str(valid);
                return out;
            }
            Err(e) => {
                let (valid, after) = rest.split_at(e.valid_up_to());
                // The prefix is valid by construction.
                out.push_str(std::str::from_utf8(valid).unwrap_or_default());
                out.push('\u{FFFD}');
                rest = &after[1..];
            }
        }
    }
}

/// Why a JSON document was refused.
pub type DocError = String;

fn type_error(e: GoTypeError) -> DocError {
    e.to_string()
}

fn members<'v>(value: &'v GoValue, what: &str) -> Result<&'v [(String, GoValue)], DocError> {
    match value {
        GoValue::Object(m) => Ok(m),
        GoValue::Null => Ok(&[]),
        other => Err(format!(
            "json: cannot unmarshal {} into Go value of type {what}",
            other.type_name()
        )),
    }
}

/// Go's `strconv.ParseInt(literal, 10, 64)` for an `int64` field.
fn set_i64(slot: &mut i64, value: &GoValue, field: &str) -> Result<(), DocError> {
    match value {
        GoValue::Null => Ok(()),
        GoValue::Number(n) => {
            let digits = n.strip_prefix('-').unwrap_or(n);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!(
                    "json: cannot unmarshal number {n} into {field} int64"
                ));
            }
            *slot = n
                .parse::<i64>()
                .map_err(|_| format!("json: cannot unmarshal number {n} into {field} int64"))?;
            Ok(())
        }
        other => Err(format!(
            "json: cannot unmarshal {} into {field} int64",
            other.type_name()
        )),
    }
}

/// A `map[string]string` field: `null` makes it nil, an object is merged into it.
fn set_string_map(
    slot: &mut Option<BTreeMap<String, String>>,
    value: &GoValue,
    field: &str,
) -> Result<(), DocError> {
    match value {
        GoValue::Null => {
            *slot = None;
            Ok(())
        }
        GoValue::Object(entries) => {
            let map = slot.get_or_insert_with(BTreeMap::new);
            for (k, v) in entries {
                let mut s = String::new();
                set_string(&mut s, v, &child_field(field, k)).map_err(type_error)?;
                map.insert(k.clone(), s);
            }
            Ok(())
        }
        other => Err(format!(
            "json: cannot unmarshal {} into {field} map[string]string",
            other.type_name()
        )),
    }
}

fn parse_doc(bytes: &[u8]) -> Result<GoValue, DocError> {
    gojson_reader::parse(bytes).map_err(|e| e.to_string())
}

/// The fields of a live bucket meta the tree keeps.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveBucket {
    /// Active generation: only objects of this generation are written.
    pub generation: u64,
    /// Owner.
    pub owner: String,
    /// Region.
    pub region: String,
    /// Canned ACL.
    pub acl: String,
}

/// Parses a `!s3|bucket|meta|` value.
pub fn parse_live_bucket(bytes: &[u8]) -> Result<LiveBucket, DocError> {
    let value = parse_doc(bytes)?;
    let mut out = LiveBucket::default();
    let mut ignored = String::new();
    let mut ignored_u64 = 0u64;
    const FIELDS: &[&str] = &[
        "bucket_name",
        "generation",
        "created_at_hlc",
        "owner",
        "region",
        "acl",
    ];
    for (k, v) in members(&value, "backup.s3LiveBucketMeta")? {
        match match_field(k, FIELDS) {
            Some("bucket_name") => set_string(&mut ignored, v, k),
            Some("generation") => set_u64(&mut out.generation, v, k),
            Some("created_at_hlc") => set_u64(&mut ignored_u64, v, k),
            Some("owner") => set_string(&mut out.owner, v, k),
            Some("region") => set_string(&mut out.region, v, k),
            Some("acl") => set_string(&mut out.acl, v, k),
            _ => Ok(()),
        }
        .map_err(type_error)?;
    }
    Ok(out)
}

/// One part of a live manifest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LivePart {
    /// Part number.
    pub part_no: u64,
    /// Chunk count.
    pub chunk_count: u64,
    /// Chunk sizes (required for offloaded parts).
    pub chunk_sizes: Vec<u64>,
    /// Part version of stored blobs.
    pub part_version: u64,
    /// Part version of chunk refs (offloaded parts).
    pub chunk_ref_version: u64,
    /// Whether the chunks live in `!s3|chunkblob|` behind chunk refs.
    pub offloaded: bool,
}

/// A live object manifest (`!s3|obj|head|`), the fields a decode uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveManifest {
    /// Upload whose chunks make the body.
    pub upload_id: String,
    /// ETag.
    pub etag: String,
    /// Declared size.
    pub size_bytes: i64,
    /// HLC timestamp of the last modification.
    pub last_modified_hlc: u64,
    /// Content-Type.
    pub content_type: String,
    /// Content-Encoding.
    pub content_encoding: String,
    /// Cache-Control.
    pub cache_control: String,
    /// Content-Disposition.
    pub content_disposition: String,
    /// User metadata (nil when absent).
    pub user_metadata: Option<BTreeMap<String, String>>,
    /// Parts.
    pub parts: Vec<LivePart>,
}

fn apply_part(part: &mut LivePart, value: &GoValue, field: &str) -> Result<(), GoTypeError> {
    const FIELDS: &[&str] = &[
        "part_no",
        "etag",
        "size_bytes",
        "chunk_count",
        "chunk_sizes",
        "part_version",
        "chunk_ref_version",
        "offloaded",
    ];
    let GoValue::Object(entries) = value else {
        return match value {
            GoValue::Null => Ok(()),
            other => Err(GoTypeError {
                field: field.to_owned(),
                message: format!("cannot unmarshal {} into struct", other.type_name()),
            }),
        };
    };
    let mut ignored = String::new();
    for (k, v) in entries {
        let name = child_field(field, k);
        match match_field(k, FIELDS) {
            Some("part_no") => set_u64(&mut part.part_no, v, &name),
            Some("etag") => set_string(&mut ignored, v, &name),
            Some("size_bytes") => {
                let mut size = 0i64;
                set_i64(&mut size, v, &name).map_err(|message| GoTypeError {
                    field: name.clone(),
                    message,
                })
            }
            Some("chunk_count") => set_u64(&mut part.chunk_count, v, &name),
            Some("chunk_sizes") => set_vec(&mut part.chunk_sizes, v, &name, |slot, item, f| {
                set_u64(slot, item, f)
            }),
            Some("part_version") => set_u64(&mut part.part_version, v, &name),
            Some("chunk_ref_version") => set_u64(&mut part.chunk_ref_version, v, &name),
            Some("offloaded") => set_bool(&mut part.offloaded, v, &name),
            _ => Ok(()),
        }?;
    }
    Ok(())
}

/// Parses a `!s3|obj|head|` value.
pub fn parse_live_manifest(bytes: &[u8]) -> Result<LiveManifest, DocError> {
    let value = parse_doc(bytes)?;
    let mut m = LiveManifest::default();
    const FIELDS: &[&str] = &[
        "upload_id",
        "etag",
        "size_bytes",
        "last_modified_hlc",
        "content_type",
        "content_encoding",
        "cache_control",
        "content_disposition",
        "user_metadata",
        "parts",
    ];
    for (k, v) in members(&value, "backup.s3LiveManifest")? {
        match match_field(k, FIELDS) {
            Some("upload_id") => set_string(&mut m.upload_id, v, k).map_err(type_error),
            Some("etag") => set_string(&mut m.etag, v, k).map_err(type_error),
            Some("size_bytes") => set_i64(&mut m.size_bytes, v, k),
            Some("last_modified_hlc") => {
                set_u64(&mut m.last_modified_hlc, v, k).map_err(type_error)
            }
            Some("content_type") => set_string(&mut m.content_type, v, k).map_err(type_error),
            Some("content_encoding") => {
                set_string(&mut m.content_encoding, v, k).map_err(type_error)
            }
            Some("cache_control") => set_string(&mut m.cache_control, v, k).map_err(type_error),
            Some("content_disposition") => {
                set_string(&mut m.content_disposition, v, k).map_err(type_error)
            }
            Some("user_metadata") => set_string_map(&mut m.user_metadata, v, k),
            Some("parts") => set_vec(&mut m.parts, v, k, apply_part).map_err(type_error),
            _ => Ok(()),
        }?;
    }
    Ok(m)
}

/// `_bucket.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PublicBucket {
    /// Always 1.
    pub format_version: u32,
    /// Bucket name.
    pub name: String,
    /// Owner.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub owner: String,
    /// Region.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub region: String,
    /// ACL.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub acl: String,
}

/// The `_bucket.json` of a bucket with this meta (MarshalIndent).
pub fn render_bucket(name: &[u8], live: &LiveBucket) -> Vec<u8> {
    let doc = PublicBucket {
        format_version: 1,
        name: go_string(name),
        owner: live.owner.clone(),
        region: live.region.clone(),
        acl: live.acl.clone(),
    };
    json::to_vec(&doc, Style::MARSHAL_INDENT)
}

/// An object sidecar, `<key>.elastickv-meta.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Sidecar {
    /// Always 1.
    pub format_version: u32,
    /// ETag.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub etag: String,
    /// Declared size (the decoder never checks it; the encoder does).
    pub size_bytes: i64,
    /// RFC 3339 time with milliseconds, from the HLC.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub last_modified: String,
    /// Content-Type.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub content_type: String,
    /// Content-Encoding.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub content_encoding: String,
    /// Cache-Control.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cache_control: String,
    /// Content-Disposition.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub content_disposition: String,
    /// User metadata, keys sorted.
    #[serde(skip_serializing_if = "is_empty_map")]
    pub user_metadata: Option<BTreeMap<String, String>>,
}

fn is_empty_map(m: &Option<BTreeMap<String, String>>) -> bool {
    m.as_ref().is_none_or(BTreeMap::is_empty)
}

/// `time.UnixMilli(hlc >> 16).UTC().Format(time.RFC3339Nano)`, empty for 0.
pub fn hlc_to_rfc3339(hlc: u64) -> String {
    if hlc == 0 {
        return String::new();
    }
    // hlc >> 16 < 2^48, so the millisecond count always fits.
    let ms = (hlc >> HLC_LOGICAL_BITS) as i64;
    let nanos = u32::try_from((ms % 1000) * 1_000_000).unwrap_or(0);
    WallTime::from_unix(ms / 1000, nanos)
        .map(|t| t.to_rfc3339_nano())
        .unwrap_or_default()
}

/// The inverse the encoder applies: milliseconds of the time shifted into an HLC; 0
/// when absent, unparsable or before 1970 (as Go does).
pub fn rfc3339_to_hlc(text: &str) -> u64 {
    if text.is_empty() {
        return 0;
    }
    let Ok(t) = WallTime::parse_rfc3339(text) else {
        return 0;
    };
    let ms = t
        .unix_secs()
        .checked_mul(1000)
        .and_then(|s| s.checked_add(i64::from(t.subsec_nanos() / 1_000_000)));
    match ms {
        Some(ms) if ms >= 0 => (ms as u64) << HLC_LOGICAL_BITS,
        _ => 0,
    }
}

/// The sidecar of an object with this manifest (MarshalIndent).
pub fn render_sidecar(m: &LiveManifest) -> Vec<u8> {
    let doc = Sidecar {
        format_version: 1,
        etag: m.etag.clone(),
        size_bytes: m.size_bytes,
        last_modified: hlc_to_rfc3339(m.last_modified_hlc),
        content_type: m.content_type.clone(),
        content_encoding: m.content_encoding.clone(),
        cache_control: m.cache_control.clone(),
        content_disposition: m.content_disposition.clone(),
        user_metadata: m.user_metadata.clone(),
    };
    json::to_vec(&doc, Style::MARSHAL_INDENT)
}

/// Parses one JSON value the way Go's `json.Decoder` + `More()` accept a dump file:
/// the first value, then nothing but whitespace or a closing bracket.
fn parse_one_value(bytes: &[u8]) -> Result<GoValue, DocError> {
    let (value, end) = gojson_reader::parse_prefix(bytes).map_err(|e| e.to_string())?;
    let next = bytes[end..]
        .iter()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'));
    match next {
        None | Some(b']' | b'}') => Ok(value),
        Some(_) => Err("trailing data after JSON value".into()),
    }
}

/// Reads `_bucket.json` of a dump: `(format_version, name, owner, region, acl)`.
pub fn parse_public_bucket(bytes: &[u8]) -> Result<PublicBucket, DocError> {
    let value = parse_one_value(bytes)?;
    let mut b = PublicBucket::default();
    let mut ignored = String::new();
    const FIELDS: &[&str] = &[
        "format_version",
        "name",
        "creation_time_iso",
        "owner",
        "region",
        "acl",
        "versioning",
        "policy_json",
    ];
    for (k, v) in members(&value, "backup.s3PublicBucket")? {
        match match_field(k, FIELDS) {
            Some("format_version") => set_u32(&mut b.format_version, v, k),
            Some("name") => set_string(&mut b.name, v, k),
            Some("owner") => set_string(&mut b.owner, v, k),
            Some("region") => set_string(&mut b.region, v, k),
            Some("acl") => set_string(&mut b.acl, v, k),
            Some(_) => set_string(&mut ignored, v, k),
            None => Ok(()),
        }
        .map_err(type_error)?;
    }
    Ok(b)
}

/// Reads an object sidecar of a dump.
pub fn parse_sidecar(bytes: &[u8]) -> Result<Sidecar, DocError> {
    let value = parse_one_value(bytes)?;
    let mut s = Sidecar::default();
    const FIELDS: &[&str] = &[
        "format_version",
        "etag",
        "size_bytes",
        "last_modified",
        "content_type",
        "content_encoding",
        "cache_control",
        "content_disposition",
        "user_metadata",
    ];
    for (k, v) in members(&value, "backup.s3PublicManifest")? {
        match match_field(k, FIELDS) {
            Some("format_version") => set_u32(&mut s.format_version, v, k).map_err(type_error),
            Some("etag") => set_string(&mut s.etag, v, k).map_err(type_error),
            Some("size_bytes") => set_i64(&mut s.size_bytes, v, k),
            Some("last_modified") => set_string(&mut s.last_modified, v, k).map_err(type_error),
            Some("content_type") => set_string(&mut s.content_type, v, k).map_err(type_error),
            Some("content_encoding") => {
                set_string(&mut s.content_encoding, v, k).map_err(type_error)
            }
            Some("cache_control") => set_string(&mut s.cache_control, v, k).map_err(type_error),
            Some("content_disposition") => {
                set_string(&mut s.content_disposition, v, k).map_err(type_error)
            }
            Some("user_metadata") => set_string_map(&mut s.user_metadata, v, k),
            _ => Ok(()),
        }?;
    }
    Ok(s)
}

/// The live bucket meta the encoder writes (json.Marshal, every field present).
#[derive(Serialize)]
struct LiveBucketOut<'a> {
    bucket_name: &'a str,
    generation: u64,
    created_at_hlc: u64,
    owner: &'a str,
    region: &'a str,
    acl: &'a str,
}

/// `!s3|bucket|meta|` value for a restored bucket (generation 1).
pub fn render_live_bucket(b: &PublicBucket) -> Vec<u8> {
    json::to_vec(
        &LiveBucketOut {
            bucket_name: &b.name,
            generation: 1,
            created_at_hlc: 0,
            owner: &b.owner,
            region: &b.region,
            acl: &b.acl,
        },
        Style::MARSHAL,
    )
}

#[derive(Serialize)]
struct LivePartOut<'a> {
    part_no: u64,
    etag: &'a str,
    size_bytes: i64,
    chunk_count: u64,
    chunk_sizes: &'a [u64],
    part_version: u64,
    chunk_ref_version: u64,
    offloaded: bool,
}

#[derive(Serialize)]
struct LiveManifestOut<'a> {
    upload_id: &'a str,
    etag: &'a str,
    size_bytes: i64,
    last_modified_hlc: u64,
    content_type: &'a str,
    content_encoding: &'a str,
    cache_control: &'a str,
    content_disposition: &'a str,
    user_metadata: &'a Option<BTreeMap<String, String>>,
    parts: Option<[LivePartOut<'a>; 1]>,
}

/// `!s3|obj|head|` value for a restored object: one part of `chunk_sizes` (none for
/// an empty body), upload id [`RESTORE_UPLOAD_ID`].
pub fn render_live_manifest(s: &Sidecar, chunk_sizes: &[u64]) -> Vec<u8> {
    let parts = (!chunk_sizes.is_empty()).then(|| {
        [LivePartOut {
            part_no: 1,
            etag: &s.etag,
            size_bytes: s.size_bytes,
            chunk_count: chunk_sizes.len() as u64,
            chunk_sizes,
            part_version: 0,
            chunk_ref_version: 0,
            offloaded: false,
        }]
    });
    json::to_vec(
        &LiveManifestOut {
            upload_id: RESTORE_UPLOAD_ID,
            etag: &s.etag,
            size_bytes: s.size_bytes,
            last_modified_hlc: rfc3339_to_hlc(&s.last_modified),
            content_type: &s.content_type,
            content_encoding: &s.content_encoding,
            cache_control: &s.cache_control,
            content_disposition: &s.content_disposition,
            user_metadata: &s.user_metadata,
            parts,
        },
        Style::MARSHAL,
    )
}

//! The `EKVSSTI1` envelope (docs/format.md §1.6; upstream
//! `store/snapshot_pebble_sst.go` `readPebbleSSTIngestManifestBytes`,
//! `decodePebbleSSTIngestManifest`, `validateSSTIngestManifest`):
//!
//! ```text
//! "EKVSSTI1" | BE i64 manifest length (1 ..= 64 MiB) | SHA-256(manifest) | manifest JSON
//! | file[0] | … | file[n-1] | end
//! ```
//!
//! The manifest is decoded as Go's `encoding/json` does into the upstream struct with
//! `DisallowUnknownFields` (member names match case-insensitively, the last duplicate
//! wins, `null` leaves a field alone) and nothing but whitespace may follow it; then
//! validated with upstream's rules, in upstream's order.

use std::io::Read;

use base64::Engine;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use sha2::{Digest, Sha256};

use super::super::{ContainerError, ContainerErrorKind};
use crate::tree::gojson::{GoValue, match_field, set_string, set_u64};
use crate::tree::gojson_reader;

/// Magic of the SST-ingest store format.
pub const MAGIC: [u8; 8] = *b"EKVSSTI1";
/// Largest manifest accepted (upstream `sstIngestManifestMaxBytes`).
pub const MAX_MANIFEST: u64 = 64 << 20;
/// The only manifest version.
pub const VERSION: i64 = 1;
/// Most files a manifest may list (upstream `sstIngestSnapshotMaxFiles`).
pub const MAX_FILES: usize = 1 << 20;
/// Magic, length and digest.
pub const PREFIX_LEN: u64 = 8 + 8 + 32;

/// One table the manifest lists.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FileMeta {
    /// `%06d.sst`.
    pub name: String,
    /// Its size in bytes.
    pub size: i64,
    /// Its SHA-256, as written (lowercase hex when valid).
    pub sha256: String,
    /// Smallest raw key.
    pub smallest: Vec<u8>,
    /// Largest raw key.
    pub largest: Vec<u8>,
}

/// The manifest (upstream `pebbleSSTIngestManifest`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Manifest {
    /// Must be 1.
    pub version: i64,
    /// Largest data commit timestamp.
    pub last_commit_ts: u64,
    /// `_meta_min_retained_ts`.
    pub min_retained_ts: u64,
    /// `_meta_pending_min_retained_ts`.
    pub pending_min_retained_ts: u64,
    /// `_meta_applied_index`, when the store had one.
    pub applied_index: Option<u64>,
    /// Rows in all tables.
    pub entry_count: u64,
    /// Key and value bytes of all rows.
    pub uncompressed_bytes: u64,
    /// Sum of the file sizes.
    pub total_file_bytes: i64,
    /// The tables, in key order.
    pub files: Vec<FileMeta>,
}

/// Go's `base64.StdEncoding` as `encoding/json` uses it for `[]byte`: CR/LF skipped,
/// non-canonical trailing bits accepted.
const GO_STD: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
);

fn invalid(offset: u64, message: impl Into<String>) -> ContainerError {
    ContainerError::new(
        ContainerErrorKind::SstManifestInvalid,
        offset,
        message.into(),
    )
}

/// Reads the envelope up to the first table: magic, length, digest and manifest,
/// checked and validated. `offset` is where the envelope starts in the file;
/// `magic` is its first 8 bytes when the caller has already read them.
///
/// # Errors
/// [`ContainerErrorKind::HeaderTruncated`] for a file that ends inside it,
/// [`ContainerErrorKind::SstManifestInvalid`] for everything upstream refuses.
pub fn read_envelope<R: Read>(
    input: &mut R,
    offset: u64,
    magic: Option<[u8; 8]>,
) -> Result<Manifest, ContainerError> {
    read_envelope_sized(input, offset, magic).map(|(manifest, _)| manifest)
}

/// [`read_envelope`], also returning the envelope's length (where the first table
/// starts, relative to `offset`).
///
/// # Errors
/// As [`read_envelope`].
pub fn read_envelope_sized<R: Read>(
    input: &mut R,
    offset: u64,
    magic: Option<[u8; 8]>,
) -> Result<(Manifest, u64), ContainerError> {
    let mut prefix = [0u8; PREFIX_LEN as usize];
    let start = match magic {
        Some(magic) => {
            prefix[..8].copy_from_slice(&magic);
            8
        }
        None => 0,
    };
    read_exact(
        input,
        &mut prefix[start..],
        offset + start as u64,
        "EKVSSTI1 header",
    )?;
    if prefix[..8] != MAGIC {
        return Err(ContainerError::new(
            ContainerErrorKind::BadMagic,
            offset,
            format!(
                "got {}: invalid SST ingest snapshot magic header",
                super::super::runtime::quote_bytes(&prefix[..8])
            ),
        ));
    }
    let len = i64::from_be_bytes(prefix[8..16].try_into().unwrap_or_default());
    let len = u64::try_from(len)
        .ok()
        .filter(|l| (1..=MAX_MANIFEST).contains(l))
        .ok_or_else(|| {
            invalid(
                offset + 8,
                format!("invalid SST ingest manifest length: {len}"),
            )
        })?;
    let mut json = Vec::new();
    let got = input
        .take(len)
        .read_to_end(&mut json)
        .map_err(|e| ContainerError::io(offset + PREFIX_LEN, e))?;
    if got as u64 != len {
        return Err(ContainerError::new(
            ContainerErrorKind::HeaderTruncated,
            offset + PREFIX_LEN,
            format!("file ends inside the SST ingest manifest: {got} of {len} bytes"),
        ));
    }
    if Sha256::digest(&json)[..] != prefix[16..] {
        return Err(invalid(offset + 16, "SST ingest manifest SHA-256 mismatch"));
    }
    let manifest = decode_manifest(&json).map_err(|m| invalid(offset + PREFIX_LEN, m))?;
    validate(&manifest).map_err(|m| invalid(offset + PREFIX_LEN, m))?;
    Ok((manifest, PREFIX_LEN + len))
}

fn read_exact<R: Read>(
    input: &mut R,
    buf: &mut [u8],
    offset: u64,
    what: &str,
) -> Result<(), ContainerError> {
    let mut got = 0;
    while got < buf.len() {
        match input.read(&mut buf[got..]) {
            Ok(0) => {
                return Err(ContainerError::new(
                    ContainerErrorKind::HeaderTruncated,
                    offset,
                    format!("file ends inside the {what}: {got} of {} bytes", buf.len()),
                ));
            }
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(ContainerError::io(offset + got as u64, e)),
        }
    }
    Ok(())
}

/// `json.Decoder` with `DisallowUnknownFields`, then "only whitespace may follow".
pub fn decode_manifest(json: &[u8]) -> Result<Manifest, String> {
    let (value, end) = gojson_reader::parse_prefix(json).map_err(|e| e.to_string())?;
    if !json[end..]
        .iter()
        .all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
    {
        return Err("SST ingest manifest contains trailing JSON".to_owned());
    }
    let mut manifest = Manifest::default();
    let members = object(&value, "manifest")?;
    const FIELDS: &[&str] = &[
        "version",
        "last_commit_ts",
        "min_retained_ts",
        "pending_min_retained_ts",
        "applied_index",
        "entry_count",
        "uncompressed_bytes",
        "total_file_bytes",
        "files",
    ];
    let Some(members) = members else {
        return Ok(manifest);
    };
    for (key, v) in members {
        let m = &mut manifest;
        match match_field(key, FIELDS) {
            Some("version") => set_i64(&mut m.version, v, "version")?,
            Some("last_commit_ts") => u64_field(&mut m.last_commit_ts, v, "last_commit_ts")?,
            Some("min_retained_ts") => u64_field(&mut m.min_retained_ts, v, "min_retained_ts")?,
            Some("pending_min_retained_ts") => {
                u64_field(&mut m.pending_min_retained_ts, v, "pending_min_retained_ts")?
            }
            Some("applied_index") => {
                if *v == GoValue::Null {
                    m.applied_index = None;
                } else {
                    let mut index = 0;
                    u64_field(&mut index, v, "applied_index")?;
                    m.applied_index = Some(index);
                }
            }
            Some("entry_count") => u64_field(&mut m.entry_count, v, "entry_count")?,
            Some("uncompressed_bytes") => {
                u64_field(&mut m.uncompressed_bytes, v, "uncompressed_bytes")?
            }
            Some("total_file_bytes") => set_i64(&mut m.total_file_bytes, v, "total_file_bytes")?,
            Some("files") => decode_files(&mut m.files, v)?,
            _ => return Err(format!("json: unknown field \"{key}\"")),
        }
    }
    Ok(manifest)
}

/// The members of an object; `None` for `null` (which leaves a Go struct alone).
fn object<'v>(value: &'v GoValue, what: &str) -> Result<Option<&'v [(String, GoValue)]>, String> {
    match value {
        GoValue::Null => Ok(None),
        GoValue::Object(members) => Ok(Some(members)),
        other => Err(format!(
            "json: cannot unmarshal {} into {what}",
            other.type_name()
        )),
    }
}

fn u64_field(slot: &mut u64, value: &GoValue, field: &str) -> Result<(), String> {
    set_u64(slot, value, field).map_err(|e| format!("json: {e}"))
}

/// A Go `int`/`int64` field: an integer literal in range; `null` leaves it alone.
fn set_i64(slot: &mut i64, value: &GoValue, field: &str) -> Result<(), String> {
    match value {
        GoValue::Null => Ok(()),
        GoValue::Number(n) => {
            let digits = n.strip_prefix('-').unwrap_or(n);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!(
                    "json: field {field}: cannot unmarshal number {n} into int64"
                ));
            }
            *slot = n.parse().map_err(|_| {
                format!("json: field {field}: cannot unmarshal number {n} into int64")
            })?;
            Ok(())
        }
        other => Err(format!(
            "json: field {field}: cannot unmarshal {} into int64",
            other.type_name()
        )),
    }
}

/// A Go `[]byte` field: base64 text, or `null` (nil).
fn set_bytes(slot: &mut Vec<u8>, value: &GoValue, field: &str) -> Result<(), String> {
    match value {
        GoValue::Null => {
            slot.clear();
            Ok(())
        }
        GoValue::String(text) => {
            let cleaned: String = text.chars().filter(|c| !matches!(c, '\r' | '\n')).collect();
            *slot = GO_STD
                .decode(cleaned)
                .map_err(|e| format!("json: field {field}: illegal base64 data: {e}"))?;
            Ok(())
        }
        other => Err(format!(
            "json: field {field}: cannot unmarshal {} into []uint8",
            other.type_name()
        )),
    }
}

fn decode_files(files: &mut Vec<FileMeta>, value: &GoValue) -> Result<(), String> {
    let items = match value {
        GoValue::Null => {
            files.clear();
            return Ok(());
        }
        GoValue::Array(items) => items,
        other => {
            return Err(format!(
                "json: field files: cannot unmarshal {} into slice",
                other.type_name()
            ));
        }
    };
    if items.len() > MAX_FILES {
        return Err(format!(
            "SST ingest snapshot has too many files: {}",
            items.len()
        ));
    }
    const FIELDS: &[&str] = &["name", "size", "sha256", "smallest", "largest"];
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let mut file = FileMeta::default();
        for (key, v) in object(item, "file")?.unwrap_or_default() {
            let at = |name: &str| format!("files[{i}].{name}");
            match match_field(key, FIELDS) {
                Some("name") => {
                    set_string(&mut file.name, v, &at("name")).map_err(|e| format!("json: {e}"))?
                }
                Some("size") => set_i64(&mut file.size, v, &at("size"))?,
                Some("sha256") => set_string(&mut file.sha256, v, &at("sha256"))
                    .map_err(|e| format!("json: {e}"))?,
                Some("smallest") => set_bytes(&mut file.smallest, v, &at("smallest"))?,
                Some("largest") => set_bytes(&mut file.largest, v, &at("largest"))?,
                _ => return Err(format!("json: unknown field \"{key}\"")),
            }
        }
        out.push(file);
    }
    *files = out;
    Ok(())
}

/// Upstream `validateSSTIngestManifest`, check for check.
pub fn validate(manifest: &Manifest) -> Result<(), String> {
    if manifest.version != VERSION {
        return Err(format!(
            "unsupported SST ingest snapshot version: {}",
            manifest.version
        ));
    }
    if manifest.files.len() > MAX_FILES {
        return Err(format!(
            "SST ingest snapshot has too many files: {}",
            manifest.files.len()
        ));
    }
    let mut total: i64 = 0;
    let mut previous_largest: &[u8] = &[];
    for (i, file) in manifest.files.iter().enumerate() {
        validate_file(file, i, previous_largest)?;
        total = total
            .checked_add(file.size)
            .ok_or_else(|| "SST ingest total size overflows int64".to_owned())?;
        previous_largest = &file.largest;
    }
    if total != manifest.total_file_bytes {
        return Err(format!(
            "SST ingest total size mismatch: manifest={} files={total}",
            manifest.total_file_bytes
        ));
    }
    Ok(())
}

fn validate_file(file: &FileMeta, index: usize, previous_largest: &[u8]) -> Result<(), String> {
    if file.name != format!("{index:06}.sst") {
        return Err(format!("invalid SST ingest file name {:?}", file.name));
    }
    if file.size <= 0 {
        return Err(format!(
            "invalid SST ingest file size for {}: {}",
            file.name, file.size
        ));
    }
    if file.smallest.is_empty() || file.largest.is_empty() || file.smallest > file.largest {
        return Err(format!("invalid SST ingest key bounds for {}", file.name));
    }
    if index > 0 && previous_largest >= file.smallest.as_slice() {
        return Err(format!(
            "overlapping SST ingest key bounds at {}",
            file.name
        ));
    }
    // Go's hex.DecodeString accepts both cases; the integrity check later compares
    // against lowercase, so an uppercase digest validates here and fails there.
    let digest_ok = file.sha256.len() == 64 && file.sha256.bytes().all(|b| b.is_ascii_hexdigit());
    if !digest_ok {
        return Err(format!("invalid SST ingest SHA-256 for {}", file.name));
    }
    Ok(())
}

#[cfg(test)]
#[path = "envelope_tests.rs"]
mod tests;

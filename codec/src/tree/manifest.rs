//! `MANIFEST.json` (docs/format.md §4.2).
//!
//! The writer reproduces Go's struct order and `omitempty` rules byte for byte; the
//! reader applies Go's `ReadManifest` checks in Go's order, because which sentinel a
//! bad manifest maps to (invalid vs. unsupported version) is part of the interface.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::fs::{self as tree_fs, FsError};
use super::gojson::{
    GoTypeError, GoValue, child_field, match_field, set_bool, set_string, set_struct, set_u32,
    set_u64, set_vec,
};
use super::gojson_reader;
use super::json::{self, Style};
use super::publish::{self, PublishOptions};
use super::walltime::WallTime;
use crate::dispatch;
use crate::error::{ErrorCode, ExitClass};

/// File name at the dump root.
pub const MANIFEST_FILE_NAME: &str = "MANIFEST.json";
/// The format major version this code writes and reads.
pub const CURRENT_FORMAT_VERSION: u32 = 1;
/// Offline snapshot decode.
pub const PHASE0_SNAPSHOT_DECODE: &str = "phase0-snapshot-decode";
/// Live extraction pinned at a cluster-wide read_ts.
pub const PHASE1_LIVE_PINNED: &str = "phase1-live-pinned";
/// `checksum_algorithm`.
pub const CHECKSUM_ALGORITHM_SHA256: &str = "sha256";
/// `checksum_format`.
pub const CHECKSUM_FORMAT_SHA256SUM: &str = "sha256sum";
/// `encoded_filename_charset`.
pub const ENCODED_FILENAME_CHARSET: &str = "rfc3986-unreserved-plus-percent";
/// `s3_meta_suffix`.
pub const S3_META_SUFFIX: &str = ".elastickv-meta.json";
/// `s3_collision_strategy`.
pub const S3_COLLISION_STRATEGY: &str = "leaf-data-suffix";
/// `dynamodb_layout`: one file per item.
pub const DYNAMODB_LAYOUT_PER_ITEM: &str = "per-item";
/// `dynamodb_layout`: bundled JSONL.
pub const DYNAMODB_LAYOUT_JSONL: &str = "jsonl";

/// Why a manifest was rejected.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// `ErrInvalidManifest`.
    #[error("{}manifest invalid: {reason}", at(path))]
    Invalid {
        /// The file, when read from disk.
        path: Option<PathBuf>,
        /// What is wrong.
        reason: String,
    },
    /// `ErrUnsupportedFormatVersion`.
    #[error("{}manifest format_version unsupported: {reason}", at(path))]
    UnsupportedFormatVersion {
        /// The file, when read from disk.
        path: Option<PathBuf>,
        /// What is wrong.
        reason: String,
    },
    /// Reading or writing the file failed or was refused.
    #[error(transparent)]
    Fs(#[from] FsError),
}

fn at(path: &Option<PathBuf>) -> String {
    path.as_ref()
        .map(|p| format!("{}: ", p.display()))
        .unwrap_or_default()
}

impl ManifestError {
    fn invalid(reason: impl Into<String>) -> Self {
        ManifestError::Invalid {
            path: None,
            reason: reason.into(),
        }
    }

    fn unsupported(reason: impl Into<String>) -> Self {
        ManifestError::UnsupportedFormatVersion {
            path: None,
            reason: reason.into(),
        }
    }

    fn with_path(mut self, file: &Path) -> Self {
        if let ManifestError::Invalid { path, .. }
        | ManifestError::UnsupportedFormatVersion { path, .. } = &mut self
        {
            *path = Some(file.to_path_buf());
        }
        self
    }
}

impl From<GoTypeError> for ManifestError {
    fn from(e: GoTypeError) -> Self {
        ManifestError::invalid(e.to_string())
    }
}

impl ErrorCode for ManifestError {
    fn code(&self) -> &'static str {
        match self {
            ManifestError::Invalid { .. } => "invalid-manifest",
            ManifestError::UnsupportedFormatVersion { .. } => "unsupported-format-version",
            ManifestError::Fs(e) => e.code(),
        }
    }

    fn exit_class(&self) -> ExitClass {
        match self {
            ManifestError::Fs(e) => e.exit_class(),
            _ => ExitClass::Data,
        }
    }
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

fn is_false(v: &bool) -> bool {
    !*v
}

/// Where a phase-0 dump came from.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Source {
    /// The `--input` argument, verbatim.
    pub fsm_path: String,
    /// Never set by the Go decoder.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub fsm_crc32c: String,
    /// `decode --as-of`: the request and the cut it stood for (MANIFEST
    /// `last_commit_ts` is then the cut). Our extension; readers ignore it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub as_of: Option<crate::mvcc::AsOf>,
}

/// The pin of a phase-1 dump.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Live {
    /// Cluster-wide read timestamp.
    pub read_ts: u64,
    /// Hex SHA-256 of the pin token.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub pin_token_sha256: String,
}

/// Scopes dumped for one adapter; Go never fills these, but reads them.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Adapter {
    /// DynamoDB tables.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tables: Vec<String>,
    /// S3 buckets.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub buckets: Vec<String>,
    /// Redis databases.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub databases: Vec<u32>,
    /// SQS queues.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub queues: Vec<String>,
}

/// Enabled adapters: `Some` (rendered `{}`) when enabled, absent otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Adapters {
    /// DynamoDB.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dynamodb: Option<Adapter>,
    /// S3.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub s3: Option<Adapter>,
    /// Redis.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis: Option<Adapter>,
    /// SQS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sqs: Option<Adapter>,
}

impl Adapters {
    /// The slot of `adapter`: the one place that maps adapter names to fields.
    pub fn slot(&self, adapter: dispatch::Adapter) -> &Option<Adapter> {
        match adapter {
            dispatch::Adapter::DynamoDb => &self.dynamodb,
            dispatch::Adapter::S3 => &self.s3,
            dispatch::Adapter::Redis => &self.redis,
            dispatch::Adapter::Sqs => &self.sqs,
        }
    }

    /// [`Adapters::slot`], to fill in.
    pub fn slot_mut(&mut self, adapter: dispatch::Adapter) -> &mut Option<Adapter> {
        match adapter {
            dispatch::Adapter::DynamoDb => &mut self.dynamodb,
            dispatch::Adapter::S3 => &mut self.s3,
            dispatch::Adapter::Redis => &mut self.redis,
            dispatch::Adapter::Sqs => &mut self.sqs,
        }
    }

    /// The adapters that have a slot.
    pub fn enabled(&self) -> dispatch::AdapterSet {
        dispatch::Adapter::ALL
            .into_iter()
            .filter(|adapter| self.slot(*adapter).is_some())
            .collect()
    }
}

/// Producer flags that changed which records were emitted.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Exclusions {
    /// `--include-incomplete-uploads`.
    pub include_incomplete_uploads: bool,
    /// `--include-orphans`.
    pub include_orphans: bool,
    /// `--preserve-sqs-visibility`.
    pub preserve_sqs_visibility: bool,
    /// `--include-sqs-side-records`.
    pub include_sqs_side_records: bool,
    /// `--rename-collisions`; omitted when false so older manifests still validate.
    #[serde(skip_serializing_if = "is_false")]
    pub rename_s3_collisions: bool,
}

/// The Go `Manifest` struct, field for field and in its order.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Manifest {
    /// Format major version.
    pub format_version: u32,
    /// [`PHASE0_SNAPSHOT_DECODE`] or [`PHASE1_LIVE_PINNED`].
    pub phase: String,
    /// Producer version (`dev` by default).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub elastickv_version: String,
    /// `--cluster-id`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cluster_id: String,
    /// Raft index parsed from the input file name.
    #[serde(skip_serializing_if = "is_zero")]
    pub snapshot_index: u64,
    /// The snapshot header's last commit timestamp.
    #[serde(skip_serializing_if = "is_zero")]
    pub last_commit_ts: u64,
    /// RFC3339Nano UTC production time.
    pub wall_time_iso: String,
    /// Phase 0 only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
    /// Phase 1 only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live: Option<Live>,
    /// Required; `None` renders `null` and fails validation, as in Go.
    pub adapters: Option<Adapters>,
    /// Required; `None` renders `null` and fails validation, as in Go.
    pub exclusions: Option<Exclusions>,
    /// `sha256`.
    pub checksum_algorithm: String,
    /// `sha256sum`.
    pub checksum_format: String,
    /// `rfc3986-unreserved-plus-percent`.
    pub encoded_filename_charset: String,
    /// 240.
    pub key_segment_max_bytes: u32,
    /// `.elastickv-meta.json`.
    pub s3_meta_suffix: String,
    /// `leaf-data-suffix`.
    pub s3_collision_strategy: String,
    /// `per-item` or `jsonl`.
    pub dynamodb_layout: String,
}

const MANIFEST_FIELDS: &[&str] = &[
    "format_version",
    "phase",
    "elastickv_version",
    "cluster_id",
    "snapshot_index",
    "last_commit_ts",
    "wall_time_iso",
    "source",
    "live",
    "adapters",
    "exclusions",
    "checksum_algorithm",
    "checksum_format",
    "encoded_filename_charset",
    "key_segment_max_bytes",
    "s3_meta_suffix",
    "s3_collision_strategy",
    "dynamodb_layout",
];

/// The flags a manifest must spell out; `rename_s3_collisions` is optional so that
/// manifests from before it existed still validate.
const EXCLUSIONS_REQUIRED: [&str; 4] = [
    "include_incomplete_uploads",
    "include_orphans",
    "preserve_sqs_visibility",
    "include_sqs_side_records",
];

fn apply_source(
    s: &mut Source,
    members: &[(String, GoValue)],
    path: &str,
) -> Result<(), GoTypeError> {
    for (k, v) in members {
        match match_field(k, &["fsm_path", "fsm_crc32c"]) {
            Some("fsm_path") => set_string(&mut s.fsm_path, v, &child_field(path, "fsm_path"))?,
            Some("fsm_crc32c") => {
                set_string(&mut s.fsm_crc32c, v, &child_field(path, "fsm_crc32c"))?
            }
            _ => {}
        }
    }
    Ok(())
}

fn apply_live(l: &mut Live, members: &[(String, GoValue)], path: &str) -> Result<(), GoTypeError> {
    for (k, v) in members {
        match match_field(k, &["read_ts", "pin_token_sha256"]) {
            Some("read_ts") => set_u64(&mut l.read_ts, v, &child_field(path, "read_ts"))?,
            Some("pin_token_sha256") => set_string(
                &mut l.pin_token_sha256,
                v,
                &child_field(path, "pin_token_sha256"),
            )?,
            _ => {}
        }
    }
    Ok(())
}

fn apply_adapter(
    a: &mut Adapter,
    members: &[(String, GoValue)],
    path: &str,
) -> Result<(), GoTypeError> {
    for (k, v) in members {
        match match_field(k, &["tables", "buckets", "databases", "queues"]) {
            Some("tables") => set_vec(&mut a.tables, v, &child_field(path, "tables"), set_string)?,
            Some("buckets") => {
                set_vec(&mut a.buckets, v, &child_field(path, "buckets"), set_string)?
            }
            Some("databases") => set_vec(
                &mut a.databases,
                v,
                &child_field(path, "databases"),
                set_u32,
            )?,
            Some("queues") => set_vec(&mut a.queues, v, &child_field(path, "queues"), set_string)?,
            _ => {}
        }
    }
    Ok(())
}

fn apply_adapters(
    a: &mut Adapters,
    members: &[(String, GoValue)],
    path: &str,
) -> Result<(), GoTypeError> {
    for (k, v) in members {
        let Some(name) = match_field(k, &["dynamodb", "s3", "redis", "sqs"]) else {
            continue;
        };
        let slot = match name {
            "dynamodb" => &mut a.dynamodb,
            "s3" => &mut a.s3,
            "redis" => &mut a.redis,
            _ => &mut a.sqs,
        };
        set_struct(slot, v, &child_field(path, name), apply_adapter)?;
    }
    Ok(())
}

fn apply_exclusions(
    e: &mut Exclusions,
    members: &[(String, GoValue)],
    path: &str,
) -> Result<(), GoTypeError> {
    const FIELDS: &[&str] = &[
        "include_incomplete_uploads",
        "include_orphans",
        "preserve_sqs_visibility",
        "include_sqs_side_records",
        "rename_s3_collisions",
    ];
    for (k, v) in members {
        let Some(name) = match_field(k, FIELDS) else {
            continue;
        };
        let slot = match name {
            "include_incomplete_uploads" => &mut e.include_incomplete_uploads,
            "include_orphans" => &mut e.include_orphans,
            "preserve_sqs_visibility" => &mut e.preserve_sqs_visibility,
            "include_sqs_side_records" => &mut e.include_sqs_side_records,
            _ => &mut e.rename_s3_collisions,
        };
        set_bool(slot, v, &child_field(path, name))?;
    }
    Ok(())
}

fn apply_manifest(m: &mut Manifest, members: &[(String, GoValue)]) -> Result<(), GoTypeError> {
    for (k, v) in members {
        let Some(name) = match_field(k, MANIFEST_FIELDS) else {
            continue;
        };
        match name {
            "format_version" => set_u32(&mut m.format_version, v, name)?,
            "phase" => set_string(&mut m.phase, v, name)?,
            "elastickv_version" => set_string(&mut m.elastickv_version, v, name)?,
            "cluster_id" => set_string(&mut m.cluster_id, v, name)?,
            "snapshot_index" => set_u64(&mut m.snapshot_index, v, name)?,
            "last_commit_ts" => set_u64(&mut m.last_commit_ts, v, name)?,
            "wall_time_iso" => set_string(&mut m.wall_time_iso, v, name)?,
            "source" => set_struct(&mut m.source, v, name, apply_source)?,
            "live" => set_struct(&mut m.live, v, name, apply_live)?,
            "adapters" => set_struct(&mut m.adapters, v, name, apply_adapters)?,
            "exclusions" => set_struct(&mut m.exclusions, v, name, apply_exclusions)?,
            "checksum_algorithm" => set_string(&mut m.checksum_algorithm, v, name)?,
            "checksum_format" => set_string(&mut m.checksum_format, v, name)?,
            "encoded_filename_charset" => set_string(&mut m.encoded_filename_charset, v, name)?,
            "key_segment_max_bytes" => set_u32(&mut m.key_segment_max_bytes, v, name)?,
            "s3_meta_suffix" => set_string(&mut m.s3_meta_suffix, v, name)?,
            "s3_collision_strategy" => set_string(&mut m.s3_collision_strategy, v, name)?,
            _ => set_string(&mut m.dynamodb_layout, v, name)?,
        }
    }
    Ok(())
}

impl Manifest {
    /// `NewPhase0SnapshotManifest`: the phase-0 defaults with empty adapter and
    /// exclusion sections for the caller to fill in.
    pub fn new_phase0(now: WallTime) -> Self {
        Manifest {
            format_version: CURRENT_FORMAT_VERSION,
            phase: PHASE0_SNAPSHOT_DECODE.to_owned(),
            wall_time_iso: now.to_rfc3339_nano(),
            adapters: Some(Adapters::default()),
            exclusions: Some(Exclusions::default()),
            checksum_algorithm: CHECKSUM_ALGORITHM_SHA256.to_owned(),
            checksum_format: CHECKSUM_FORMAT_SHA256SUM.to_owned(),
            encoded_filename_charset: ENCODED_FILENAME_CHARSET.to_owned(),
            key_segment_max_bytes: super::segment::KEY_SEGMENT_MAX_BYTES as u32,
            s3_meta_suffix: S3_META_SUFFIX.to_owned(),
            s3_collision_strategy: S3_COLLISION_STRATEGY.to_owned(),
            dynamodb_layout: DYNAMODB_LAYOUT_PER_ITEM.to_owned(),
            ..Manifest::default()
        }
    }

    /// `ReadManifest` on an in-memory file.
    pub fn parse(bytes: &[u8]) -> Result<Manifest, ManifestError> {
        let top = gojson_reader::parse(bytes).map_err(|e| ManifestError::invalid(e.to_string()))?;
        // 1. The version gate runs before the typed decode, so a newer major that
        //    also changed a field's type still reports "unsupported".
        match top.exact_member("format_version") {
            None => return Err(ManifestError::invalid("format_version missing")),
            Some(GoValue::Null) => return Err(ManifestError::invalid("format_version is null")),
            Some(_) => {}
        }
        let members: &[(String, GoValue)] = match &top {
            GoValue::Object(members) => members,
            other => {
                return Err(ManifestError::invalid(format!(
                    "cannot unmarshal {} into manifest",
                    other.type_name()
                )));
            }
        };
        let mut version = 0u32;
        for (k, v) in members {
            if match_field(k, &["format_version"]).is_some() {
                set_u32(&mut version, v, "format_version")?;
            }
        }
        if version == 0 {
            return Err(ManifestError::unsupported("format_version is zero"));
        }
        if version > CURRENT_FORMAT_VERSION {
            return Err(ManifestError::unsupported(format!(
                "format_version {version} > current {CURRENT_FORMAT_VERSION} (newer producer)"
            )));
        }
        // 2. Typed decode with Go's rules; unknown members are a newer minor's additions.
        let mut m = Manifest::default();
        apply_manifest(&mut m, members)?;
        // 3. Go fills absent booleans with false, which would silently change what the
        //    producer did; the four required flags must be spelled out.
        if let Some(excl) = top.exact_member("exclusions") {
            for name in EXCLUSIONS_REQUIRED {
                match excl.exact_member(name) {
                    None => {
                        return Err(ManifestError::invalid(format!(
                            "exclusions.{name} missing (cannot infer producer-side default)"
                        )));
                    }
                    Some(GoValue::Null) => {
                        return Err(ManifestError::invalid(format!("exclusions.{name} is null")));
                    }
                    Some(_) => {}
                }
            }
        }
        // 4. Semantic validation.
        m.validate()?;
        Ok(m)
    }

    /// Reads and validates `<root>/MANIFEST.json` of an untrusted dump tree.
    pub fn read_file(path: &Path) -> Result<Manifest, ManifestError> {
        let mut file = tree_fs::open_regular_for_read(path)?;
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut file, &mut bytes).map_err(|e| FsError::io(path, e))?;
        Manifest::parse(&bytes).map_err(|e| e.with_path(path))
    }

    /// `WriteManifest`: validates, then renders with [`Style::MANIFEST`].
    pub fn to_bytes(&self) -> Result<Vec<u8>, ManifestError> {
        self.validate()?;
        Ok(json::to_vec(self, Style::MANIFEST))
    }

    /// Writes `<root>/MANIFEST.json` atomically and durably with `os.Create`'s mode.
    pub fn write_file(&self, root: &Path) -> Result<(), ManifestError> {
        let bytes = self.to_bytes()?;
        let path = root.join(MANIFEST_FILE_NAME);
        publish::publish_atomic(&path, PublishOptions::DURABLE, |w| {
            std::io::Write::write_all(w, &bytes)
        })?;
        Ok(())
    }

    /// Go's `validate`, shared by the reader and the writer.
    pub fn validate(&self) -> Result<(), ManifestError> {
        let bad = |reason: String| Err(ManifestError::invalid(reason));
        if self.format_version == 0 {
            return bad("format_version is zero".into());
        }
        if self.format_version > CURRENT_FORMAT_VERSION {
            return bad(format!(
                "format_version {} > current {CURRENT_FORMAT_VERSION} (this build cannot produce that)",
                self.format_version
            ));
        }
        if self.phase != PHASE0_SNAPSHOT_DECODE && self.phase != PHASE1_LIVE_PINNED {
            return bad(format!("unknown phase {:?}", self.phase));
        }
        if self.wall_time_iso.is_empty() {
            return bad("wall_time_iso missing".into());
        }
        if let Err(e) = WallTime::parse_rfc3339(&self.wall_time_iso) {
            return bad(format!("wall_time_iso unparseable: {e}"));
        }
        if self.adapters.is_none() {
            return bad("adapters section missing".into());
        }
        if self.exclusions.is_none() {
            return bad("exclusions section missing".into());
        }
        for (value, name) in [
            (&self.checksum_algorithm, "checksum_algorithm"),
            (&self.checksum_format, "checksum_format"),
            (&self.encoded_filename_charset, "encoded_filename_charset"),
        ] {
            if value.is_empty() {
                return bad(format!("{name} missing"));
            }
        }
        if self.key_segment_max_bytes == 0 {
            return bad("key_segment_max_bytes is zero".into());
        }
        for (value, name) in [
            (&self.s3_meta_suffix, "s3_meta_suffix"),
            (&self.s3_collision_strategy, "s3_collision_strategy"),
        ] {
            if value.is_empty() {
                return bad(format!("{name} missing"));
            }
        }
        if self.dynamodb_layout != DYNAMODB_LAYOUT_PER_ITEM
            && self.dynamodb_layout != DYNAMODB_LAYOUT_JSONL
        {
            return bad(format!(
                "dynamodb_layout {:?} unsupported",
                self.dynamodb_layout
            ));
        }
        if self.phase == PHASE0_SNAPSHOT_DECODE && self.live.is_some() {
            return bad("phase0 must not set live".into());
        }
        if self.phase == PHASE1_LIVE_PINNED {
            if self.source.is_some() {
                return bad("phase1 must not set source".into());
            }
            match &self.live {
                None => return bad("phase1 must set live".into()),
                Some(live) if live.read_ts == 0 => {
                    return bad("phase1 live.read_ts must be non-zero".into());
                }
                Some(_) => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "manifest_tests.rs"]
mod tests;

//! `<output>.encode_info.json` (docs/format.md §4.8): what produced a `.fsm`, so the
//! restore side can check it (SHA-256, key format, self-test verdict, cluster id).

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::tree::json::{self, Style};
use crate::tree::walltime::WallTime;

/// ENCODE_INFO's own format version.
pub const ENCODE_INFO_FORMAT_VERSION: u32 = 1;
/// The key format the encoder writes (the MANIFEST format version).
pub const ENCODER_KEY_FORMAT_VERSION: u32 = 1;
/// Suffix of the sidecar next to the `.fsm`.
pub const ENCODE_INFO_SUFFIX: &str = ".encode_info.json";
/// Suffix of the self-test mismatch list next to the `.fsm`.
pub const MISMATCH_SUFFIX: &str = ".mismatch.txt";

/// `self_test`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct SelfTestInfo {
    /// Whether `--self-test` ran.
    pub ran: bool,
    /// Whether it matched.
    pub matched: bool,
}

fn is_empty(s: &str) -> bool {
    s.is_empty()
}

/// The Go `EncodeInfo` struct, field for field and in its order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EncodeInfo {
    /// Always [`ENCODE_INFO_FORMAT_VERSION`].
    pub format_version: u32,
    /// Producer version (`dev`).
    pub encoder_version: String,
    /// Always [`ENCODER_KEY_FORMAT_VERSION`].
    pub encoder_key_format_version: u32,
    /// RFC3339Nano UTC.
    pub wall_time_iso: String,
    /// `--input`, verbatim.
    pub input_root: String,
    /// `--output`, verbatim.
    pub output_fsm_path: String,
    /// Lowercase hex SHA-256 of the `.fsm` bytes.
    pub output_fsm_sha256: String,
    /// The commit timestamp every entry and the header carry.
    pub last_commit_ts: u64,
    /// Whether `--last-commit-ts` overrode the manifest.
    pub last_commit_ts_overridden: bool,
    /// The manifest's `last_commit_ts`.
    pub manifest_last_commit_ts: u64,
    /// The manifest's `cluster_id`, omitted when empty.
    #[serde(skip_serializing_if = "is_empty")]
    pub manifest_cluster_id: String,
    /// Adapters encoded, in the order redis, dynamodb, s3, sqs.
    pub adapters_enabled: Vec<String>,
    /// The self-test verdict.
    pub self_test: SelfTestInfo,
}

impl EncodeInfo {
    /// `NewEncodeInfo(now)` with everything else empty.
    pub fn new(now: WallTime) -> Self {
        EncodeInfo {
            format_version: ENCODE_INFO_FORMAT_VERSION,
            encoder_version: String::new(),
            encoder_key_format_version: ENCODER_KEY_FORMAT_VERSION,
            wall_time_iso: now.to_rfc3339_nano(),
            input_root: String::new(),
            output_fsm_path: String::new(),
            output_fsm_sha256: String::new(),
            last_commit_ts: 0,
            last_commit_ts_overridden: false,
            manifest_last_commit_ts: 0,
            manifest_cluster_id: String::new(),
            adapters_enabled: Vec::new(),
            self_test: SelfTestInfo::default(),
        }
    }

    /// `WriteEncodeInfo`: indented, HTML-escaped, trailing newline.
    pub fn to_bytes(&self) -> Vec<u8> {
        json::to_vec(self, Style::ENCODE_INFO)
    }
}

fn with_suffix(fsm: &Path, suffix: &str) -> PathBuf {
    let mut s = fsm.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// `EncodeInfoSidecarPath`: `<fsm>.encode_info.json`.
pub fn encode_info_path(fsm: &Path) -> PathBuf {
    with_suffix(fsm, ENCODE_INFO_SUFFIX)
}

/// `<fsm>.mismatch.txt`.
pub fn mismatch_path(fsm: &Path) -> PathBuf {
    with_suffix(fsm, MISMATCH_SUFFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_go() {
        // case-0001's sidecar, as the Go encoder wrote it.
        let want = r#"{
  "format_version": 1,
  "encoder_version": "dev",
  "encoder_key_format_version": 1,
  "wall_time_iso": "2026-11-22T02:48:18.005384982Z",
  "input_root": "tree",
  "output_fsm_path": "reencoded.fsm",
  "output_fsm_sha256": "70452f6f9fe5fe7d46718f57e8de365866ebaaa13b1c673dfa90feff4704f2de",
  "last_commit_ts": 116114217163165220,
  "last_commit_ts_overridden": false,
  "manifest_last_commit_ts": 116114217163165220,
  "adapters_enabled": [
    "redis",
    "dynamodb",
    "s3",
    "sqs"
  ],
  "self_test": {
    "ran": false,
    "matched": false
  }
}
"#;
        let mut info =
            EncodeInfo::new(WallTime::parse_rfc3339("2026-11-22T02:48:18.005384982Z").unwrap());
        info.encoder_version = "dev".into();
        info.input_root = "tree".into();
        info.output_fsm_path = "reencoded.fsm".into();
        info.output_fsm_sha256 =
            "70452f6f9fe5fe7d46718f57e8de365866ebaaa13b1c673dfa90feff4704f2de".into();
        info.last_commit_ts = 116114217163165220;
        info.manifest_last_commit_ts = 116114217163165220;
        info.adapters_enabled = ["redis", "dynamodb", "s3", "sqs"]
            .map(String::from)
            .to_vec();
        assert_eq!(String::from_utf8(info.to_bytes()).unwrap(), want);
        info.manifest_cluster_id = "<c&1>".into();
        let text = String::from_utf8(info.to_bytes()).unwrap();
        assert!(text.contains(
            "  \"manifest_last_commit_ts\": 116114217163165220,\n  \"manifest_cluster_id\": \"\\u003cc\\u00261\\u003e\",\n"
        ));
    }

    #[test]
    fn sidecar_paths() {
        assert_eq!(
            encode_info_path(Path::new("out/x.fsm")),
            Path::new("out/x.fsm.encode_info.json")
        );
        assert_eq!(mismatch_path(Path::new("x")), Path::new("x.mismatch.txt"));
    }
}

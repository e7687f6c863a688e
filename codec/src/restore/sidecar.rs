//! Reading ENCODE_INFO as the restore side needs it (FORMAT.md §7.3): at most 1 MiB,
//! `format_version` probed first (a missing one reads as 0, so "unsupported"), then
//! the fields with Go `encoding/json`'s type rules (unknown fields ignored, `null`
//! leaves the zero value, a wrong type is malformed).

use std::io::Read;
use std::path::Path;

use serde_json::{Map, Value};

use super::input::open_regular;
use super::{InputKind, RestoreError};

/// Largest sidecar accepted.
pub const MAX_ENCODE_INFO_BYTES: usize = 1 << 20;

/// The sidecar fields prepare-restore checks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sidecar {
    /// `output_fsm_sha256`.
    pub output_fsm_sha256: String,
    /// `encoder_key_format_version`.
    pub encoder_key_format_version: u64,
    /// `manifest_cluster_id`.
    pub manifest_cluster_id: String,
    /// `self_test.ran`.
    pub self_test_ran: bool,
    /// `self_test.matched`.
    pub self_test_matched: bool,
}

/// Opens and parses the sidecar at `path`.
pub fn read_sidecar(path: &Path) -> Result<Sidecar, RestoreError> {
    let file = open_regular(path, InputKind::EncodeInfo)?;
    let mut body = Vec::new();
    file.take(MAX_ENCODE_INFO_BYTES as u64 + 1)
        .read_to_end(&mut body)
        .map_err(|e| RestoreError::io(path, e))?;
    if body.len() > MAX_ENCODE_INFO_BYTES {
        return Err(RestoreError::EncodeInfoTooLarge {
            path: path.to_path_buf(),
            limit: MAX_ENCODE_INFO_BYTES,
        });
    }
    parse_sidecar(&body).map_err(|e| e.at(path))
}

/// Why the bytes were refused, before the path is attached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SidecarError {
    /// Not JSON, or a field of the wrong type.
    Malformed(String),
    /// `format_version` other than 1.
    Version(u64),
}

impl SidecarError {
    fn at(self, path: &Path) -> RestoreError {
        let path = path.to_path_buf();
        match self {
            SidecarError::Malformed(reason) => RestoreError::EncodeInfoMalformed { path, reason },
            SidecarError::Version(got) => RestoreError::EncodeInfoVersion { path, got },
        }
    }
}

/// Parses sidecar bytes (also the fuzz target).
pub fn parse_sidecar(body: &[u8]) -> Result<Sidecar, SidecarError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| SidecarError::Malformed(format!("decode ENCODE_INFO.json: {e}")))?;
    let empty = Map::new();
    let object = match &value {
        Value::Object(map) => map,
        Value::Null => &empty,
        other => {
            return Err(SidecarError::Malformed(format!(
                "cannot unmarshal {} into ENCODE_INFO",
                kind_name(other)
            )));
        }
    };
    let version = uint(object, "format_version", u64::from(u32::MAX))?;
    if version != 1 {
        return Err(SidecarError::Version(version));
    }
    for name in [
        "encoder_version",
        "wall_time_iso",
        "input_root",
        "output_fsm_path",
    ] {
        string(object, name)?;
    }
    uint(object, "last_commit_ts", u64::MAX)?;
    uint(object, "manifest_last_commit_ts", u64::MAX)?;
    boolean(object, "last_commit_ts_overridden")?;
    if let Some(adapters) = field(object, "adapters_enabled") {
        match adapters {
            Value::Null => {}
            Value::Array(items) if items.iter().all(|v| v.is_string() || v.is_null()) => {}
            other => return Err(type_error("adapters_enabled", other)),
        }
    }
    let (ran, matched) = match field(object, "self_test") {
        None | Some(Value::Null) => (false, false),
        Some(Value::Object(st)) => (boolean(st, "ran")?, boolean(st, "matched")?),
        Some(other) => return Err(type_error("self_test", other)),
    };
    Ok(Sidecar {
        output_fsm_sha256: string(object, "output_fsm_sha256")?,
        encoder_key_format_version: uint(
            object,
            "encoder_key_format_version",
            u64::from(u32::MAX),
        )?,
        manifest_cluster_id: string(object, "manifest_cluster_id")?,
        self_test_ran: ran,
        self_test_matched: matched,
    })
}

/// Go matches JSON keys to struct fields case-insensitively, preferring an exact match.
fn field<'a>(object: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    object.get(name).or_else(|| {
        object
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
            .next_back()
    })
}

fn kind_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn type_error(name: &str, v: &Value) -> SidecarError {
    SidecarError::Malformed(format!(
        "cannot unmarshal {} into field {name}",
        kind_name(v)
    ))
}

fn string(object: &Map<String, Value>, name: &str) -> Result<String, SidecarError> {
    match field(object, name) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(type_error(name, other)),
    }
}

fn boolean(object: &Map<String, Value>, name: &str) -> Result<bool, SidecarError> {
    match field(object, name) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => Err(type_error(name, other)),
    }
}

fn uint(object: &Map<String, Value>, name: &str, max: u64) -> Result<u64, SidecarError> {
    match field(object, name) {
        None | Some(Value::Null) => Ok(0),
        Some(Value::Number(n)) => n
            .as_u64()
            .filter(|&v| v <= max)
            .ok_or_else(|| SidecarError::Malformed(format!("number {n} out of range for {name}"))),
        Some(other) => Err(type_error(name, other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_rules() {
        assert_eq!(parse_sidecar(b"{}"), Err(SidecarError::Version(0)));
        assert_eq!(parse_sidecar(b"null"), Err(SidecarError::Version(0)));
        assert!(matches!(
            parse_sidecar(b""),
            Err(SidecarError::Malformed(_))
        ));
        assert!(matches!(
            parse_sidecar(b"[]"),
            Err(SidecarError::Malformed(_))
        ));
        assert_eq!(
            parse_sidecar(br#"{"format_version":2}"#),
            Err(SidecarError::Version(2))
        );
        let ok = parse_sidecar(
            br#"{"format_version":1,"output_fsm_sha256":"AB","self_test":{"ran":true,"matched":true},"x":[1]}"#,
        )
        .unwrap();
        assert_eq!(ok.output_fsm_sha256, "AB");
        assert!(ok.self_test_ran && ok.self_test_matched);
        assert!(matches!(
            parse_sidecar(br#"{"format_version":1,"last_commit_ts":"1"}"#),
            Err(SidecarError::Malformed(_))
        ));
    }
}

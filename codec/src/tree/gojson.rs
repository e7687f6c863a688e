//! Reading JSON the way Go's `encoding/json` (v1) `Unmarshal` reads it.
//!
//! Dump-tree control files (MANIFEST.json, KEYMAP.jsonl) must be accepted exactly when
//! the Go tools accept them, and serde's derive differs from Go in ways a hand-edited
//! or foreign-produced file can hit: Go matches member names case-insensitively, lets
//! the last duplicate win, treats `null` as "leave unchanged" for scalars, replaces
//! invalid UTF-8 and lone surrogates with U+FFFD instead of failing, and nests 10 000
//! levels deep. [`GoValue`] keeps members in order and numbers as their literal text
//! so the decoding helpers can apply Go's rules exactly.

use std::fmt;

use super::bsv::go_name_matches;

/// Go's `maxNestingDepth`.
pub(crate) const MAX_DEPTH: usize = 10_000;

/// A parsed JSON value with object members in document order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GoValue {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A number, as its literal text.
    Number(String),
    /// A string, with Go's U+FFFD replacements applied.
    String(String),
    /// An array.
    Array(Vec<GoValue>),
    /// An object; duplicate names are kept.
    Object(Vec<(String, GoValue)>),
}

impl GoValue {
    /// The JSON type name, as Go's type errors call it.
    pub fn type_name(&self) -> &'static str {
        match self {
            GoValue::Null => "null",
            GoValue::Bool(_) => "bool",
            GoValue::Number(_) => "number",
            GoValue::String(_) => "string",
            GoValue::Array(_) => "array",
            GoValue::Object(_) => "object",
        }
    }

    /// The last member named exactly `name` (what a Go `map[string]…` decode keeps).
    pub fn exact_member(&self, name: &str) -> Option<&GoValue> {
        match self {
            GoValue::Object(members) => members
                .iter()
                .rev()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v),
            _ => None,
        }
    }
}

/// A syntax error, with the byte offset where it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoJsonError {
    /// Byte offset into the input.
    pub offset: usize,
    /// What was wrong.
    pub message: String,
}

impl fmt::Display for GoJsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at byte {})", self.message, self.offset)
    }
}

impl std::error::Error for GoJsonError {}

/// Length of the valid UTF-8 sequence starting `bytes`, or 0 if it is invalid (Go's
/// `utf8.DecodeRune` returning `RuneError, 1`).
pub(crate) fn utf8_char_width(bytes: &[u8]) -> usize {
    let width = match bytes.first() {
        Some(0x00..=0x7F) => 1,
        Some(0xC2..=0xDF) => 2,
        Some(0xE0..=0xEF) => 3,
        Some(0xF0..=0xF4) => 4,
        _ => return 0,
    };
    match bytes.get(..width) {
        Some(seq) if std::str::from_utf8(seq).is_ok() => width,
        _ => 0,
    }
}

/// Why a [`GoValue`] does not fit the Go type it is decoded into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoTypeError {
    /// The JSON member path, e.g. `exclusions.include_orphans`.
    pub field: String,
    /// What was wrong.
    pub message: String,
}

impl fmt::Display for GoTypeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "field {}: {}", self.field, self.message)
    }
}

impl std::error::Error for GoTypeError {}

fn type_error(field: &str, value: &GoValue, want: &str) -> GoTypeError {
    GoTypeError {
        field: field.to_owned(),
        message: format!("cannot unmarshal {} into {want}", value.type_name()),
    }
}

/// Go's struct-field lookup: an exact match first, then a case-insensitive one.
pub fn match_field<'f>(key: &str, fields: &[&'f str]) -> Option<&'f str> {
    fields
        .iter()
        .find(|f| **f == key)
        .or_else(|| fields.iter().find(|f| go_name_matches(key, f)))
        .copied()
}

/// Decodes into a Go string field: `null` leaves it unchanged.
pub fn set_string(slot: &mut String, value: &GoValue, field: &str) -> Result<(), GoTypeError> {
    match value {
        GoValue::Null => Ok(()),
        GoValue::String(s) => {
            slot.clone_from(s);
            Ok(())
        }
        other => Err(type_error(field, other, "string")),
    }
}

/// Decodes into a Go bool field: `null` leaves it unchanged.
pub fn set_bool(slot: &mut bool, value: &GoValue, field: &str) -> Result<(), GoTypeError> {
    match value {
        GoValue::Null => Ok(()),
        GoValue::Bool(b) => {
            *slot = *b;
            Ok(())
        }
        other => Err(type_error(field, other, "bool")),
    }
}

/// Go's `strconv.ParseUint(literal, 10, 64)` plus the field's range check.
fn parse_uint(literal: &str, max: u64) -> Option<u64> {
    if literal.is_empty() || !literal.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    literal.parse::<u64>().ok().filter(|&v| v <= max)
}

/// Decodes into a Go `uint64` field: `null` leaves it unchanged.
pub fn set_u64(slot: &mut u64, value: &GoValue, field: &str) -> Result<(), GoTypeError> {
    match value {
        GoValue::Null => Ok(()),
        GoValue::Number(n) => match parse_uint(n, u64::MAX) {
            Some(v) => {
                *slot = v;
                Ok(())
            }
            None => Err(GoTypeError {
                field: field.to_owned(),
                message: format!("cannot unmarshal number {n} into uint64"),
            }),
        },
        other => Err(type_error(field, other, "uint64")),
    }
}

/// Decodes into a Go `uint32` field: `null` leaves it unchanged.
pub fn set_u32(slot: &mut u32, value: &GoValue, field: &str) -> Result<(), GoTypeError> {
    match value {
        GoValue::Null => Ok(()),
        GoValue::Number(n) => match parse_uint(n, u64::from(u32::MAX)) {
            Some(v) => {
                *slot = v as u32;
                Ok(())
            }
            None => Err(GoTypeError {
                field: field.to_owned(),
                message: format!("cannot unmarshal number {n} into uint32"),
            }),
        },
        other => Err(type_error(field, other, "uint32")),
    }
}

/// Decodes into a Go pointer-to-struct field: `null` sets it to nil, an object is
/// merged into the existing value (Go reuses a non-nil pointer).
pub fn set_struct<T: Default>(
    slot: &mut Option<T>,
    value: &GoValue,
    field: &str,
    apply: impl FnOnce(&mut T, &[(String, GoValue)], &str) -> Result<(), GoTypeError>,
) -> Result<(), GoTypeError> {
    match value {
        GoValue::Null => {
            *slot = None;
            Ok(())
        }
        GoValue::Object(members) => apply(slot.get_or_insert_with(T::default), members, field),
        other => Err(type_error(field, other, "struct")),
    }
}

/// Decodes into a Go slice field: `null` empties it, an array replaces it.
pub fn set_vec<T: Default>(
    slot: &mut Vec<T>,
    value: &GoValue,
    field: &str,
    mut elem: impl FnMut(&mut T, &GoValue, &str) -> Result<(), GoTypeError>,
) -> Result<(), GoTypeError> {
    match value {
        GoValue::Null => {
            slot.clear();
            Ok(())
        }
        GoValue::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let mut v = T::default();
                elem(&mut v, item, &format!("{field}[{i}]"))?;
                out.push(v);
            }
            *slot = out;
            Ok(())
        }
        other => Err(type_error(field, other, "slice")),
    }
}

/// Joins a parent path and a member name for error messages.
pub fn child_field(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_owned()
    } else {
        format!("{parent}.{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> GoValue {
        GoValue::String(text.to_owned())
    }

    #[test]
    fn scalar_setters() {
        let mut n = 7u32;
        set_u32(&mut n, &GoValue::Null, "f").unwrap();
        assert_eq!(n, 7);
        set_u32(&mut n, &GoValue::Number("4294967295".into()), "f").unwrap();
        assert_eq!(n, u32::MAX);
        for bad in ["4294967296", "-0", "-1", "1.0", "1e0"] {
            assert!(
                set_u32(&mut n, &GoValue::Number(bad.into()), "f").is_err(),
                "{bad}"
            );
        }
        assert!(set_u32(&mut n, &s("1"), "f").is_err());
        let mut text = String::from("keep");
        set_string(&mut text, &GoValue::Null, "f").unwrap();
        assert_eq!(text, "keep");
        assert!(set_string(&mut text, &GoValue::Bool(true), "f").is_err());
        let mut b = true;
        set_bool(&mut b, &GoValue::Null, "f").unwrap();
        assert!(b);
        assert!(set_bool(&mut b, &GoValue::Number("0".into()), "f").is_err());
        assert_eq!(
            match_field("PHASE", &["format_version", "phase"]),
            Some("phase")
        );
        assert_eq!(match_field("phas", &["phase"]), None);
    }
}

//! Collection documents and JSONL files read a piece at a time, so the encoder's
//! memory does not grow with the size of a file (docs/format.md §6.2).
//!
//! A collection document (`hashes/`, `sets/`, `lists/`, `zsets/`) is read in two
//! passes over the same open file, because the Go encoder unmarshals the whole
//! document before it emits anything:
//!
//! 1. [`check_document`] walks the document with the pull parser, holding one element
//!    at a time. It finds every error the whole-document reader ([`docs::read_hash`]
//!    and friends) finds, in the same precedence: a syntax error anywhere in the file,
//!    then trailing data, then the first shape error in document order (in any
//!    duplicate of a member), then `format_version`, then the first element of the
//!    array Go keeps (the last duplicate) whose content does not decode. It counts
//!    that array's elements, which the meta row needs before any element row, and
//!    keeps their decoded form while it fits a small budget.
//! 2. [`CheckedDoc::for_each`] hands the elements out: from memory when they fitted,
//!    otherwise by reading the file again and decoding the kept array's elements one
//!    at a time.
//!
//! The records, their order and every error are Go's: the reference vectors check
//! valid trees, and `super::elements_tests` pins the precedence rules and checks that
//! kept and re-read elements give the same records.
//!
//! JSONL files (`streams/`, the TTL sidecars) need no second pass: Go decodes them a
//! value at a time too, so [`JsonLines`] just reads them through a buffer.

use std::fs::File;
use std::io::{self, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::tree::gojson::{GoValue, match_field, set_u32};
use crate::tree::gojson_reader::{Event, JsonReadError, JsonReader, JsonSource, ReaderSource};

use super::docs::{
    self, EXPIRE_FIELD, ElementKind, FORMAT_VERSION_FIELD, check_format_version, not_a_slice,
};
use super::error::{RedisError, Result};

/// Decoded elements kept between the passes: documents up to about this size are
/// read once, larger ones twice.
pub(crate) const KEPT_ELEMENTS_BUDGET: usize = 4 << 20;

/// Why the first pass rejected a document, before it becomes a [`RedisError`].
#[derive(Debug)]
enum Failure {
    /// Not JSON, or unreadable.
    Read(JsonReadError),
    /// JSON, but not what Go's struct decoding accepts.
    Invalid(String),
}

impl From<JsonReadError> for Failure {
    fn from(e: JsonReadError) -> Self {
        Failure::Read(e)
    }
}

impl Failure {
    fn into_error(self, path: &Path) -> RedisError {
        match self {
            Failure::Read(JsonReadError::Io(e)) => RedisError::io("read", path, e),
            Failure::Read(JsonReadError::Syntax(e)) => {
                RedisError::invalid_json(path, e.to_string())
            }
            Failure::Invalid(detail) => RedisError::invalid_json(path, detail),
        }
    }
}

/// An event the parser cannot produce where a value starts: a bug, not bad input.
fn unexpected(event: &Event) -> Failure {
    Failure::Invalid(format!(
        "internal: unexpected {event:?} where a value starts"
    ))
}

/// What the reader held, for tests that check memory stays bounded by an element.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) struct ReadStats {
    /// Input bytes of the largest element materialized at once.
    pub largest_element: usize,
    /// Most decoded-element bytes kept between the passes.
    pub peak_kept_bytes: usize,
    /// Whether the elements were read a second time.
    pub reread: bool,
}

impl ReadStats {
    fn element(&mut self, input_bytes: usize) {
        self.largest_element = self.largest_element.max(input_bytes);
    }
}

/// The array member Go keeps (the last one), as the first pass found it.
#[derive(Debug)]
struct ArraySurvey<T> {
    /// Which array member it is, counting duplicates from 0; `None` without one.
    ordinal: Option<usize>,
    count: u64,
    /// The first element whose content does not decode.
    bad_element: Option<String>,
    /// Its decoded elements, while they fit the budget.
    kept: Option<Vec<T>>,
    kept_bytes: usize,
}

impl<T> ArraySurvey<T> {
    fn new(ordinal: Option<usize>) -> Self {
        ArraySurvey {
            ordinal,
            count: 0,
            bad_element: None,
            kept: Some(Vec::new()),
            kept_bytes: 0,
        }
    }

    /// Keeps `item` if the budget allows; past the budget nothing more is kept and
    /// the second pass re-reads the file instead.
    fn keep(&mut self, item: T, weight: usize, budget: usize, stats: &mut ReadStats) {
        let Some(kept) = self.kept.as_mut() else {
            return;
        };
        if self.kept_bytes.saturating_add(weight) > budget {
            self.kept = None;
            self.kept_bytes = 0;
            return;
        }
        kept.push(item);
        self.kept_bytes += weight;
        stats.peak_kept_bytes = stats.peak_kept_bytes.max(self.kept_bytes);
    }
}

/// The top-level struct as the first pass found it.
#[derive(Debug)]
struct Survey<T> {
    version: u32,
    expire_at_ms: Option<u64>,
    array: ArraySurvey<T>,
}

/// A collection document that passed every check, ready to hand out its elements.
#[derive(Debug)]
pub(crate) struct CheckedDoc<K: ElementKind> {
    path: PathBuf,
    file: File,
    expire_at_ms: Option<u64>,
    array: ArraySurvey<K::Item>,
    stats: ReadStats,
}

/// First pass over a collection document: every check, the element count and, within
/// `budget`, the decoded elements.
#[cfg(test)]
pub(crate) fn check_document<K: ElementKind>(path: &Path, budget: usize) -> Result<CheckedDoc<K>> {
    check_opened_document(super::input::open_dump_file(path)?, path, budget)
}

/// [`check_document`] of a file already opened; `path` names it in errors.
pub(crate) fn check_opened_document<K: ElementKind>(
    file: File,
    path: &Path,
    budget: usize,
) -> Result<CheckedDoc<K>> {
    let mut json = JsonReader::new(ReaderSource::new(file));
    let mut stats = ReadStats::default();
    let surveyed = survey::<K, _>(&mut json, budget, &mut stats);
    let survey = settle(&mut json, surveyed).map_err(|f| f.into_error(path))?;
    check_format_version(survey.version).map_err(|d| RedisError::invalid_json(path, d))?;
    if let Some(detail) = survey.array.bad_element {
        return Err(RedisError::invalid_json(path, detail));
    }
    Ok(CheckedDoc {
        path: path.to_path_buf(),
        file: json.into_source().into_inner(),
        expire_at_ms: survey.expire_at_ms,
        array: survey.array,
        stats,
    })
}

impl<K: ElementKind> CheckedDoc<K> {
    /// Elements of the array Go keeps.
    pub(crate) fn count(&self) -> u64 {
        self.array.count
    }

    /// `expire_at_ms`, `None` when absent or `null`.
    pub(crate) fn expire_at_ms(&self) -> Option<u64> {
        self.expire_at_ms
    }

    /// Hands every element to `each`, in document order; returns what reading held.
    pub(crate) fn for_each(self, mut each: impl FnMut(K::Item) -> Result<()>) -> Result<ReadStats> {
        let mut stats = self.stats;
        if let Some(kept) = self.array.kept {
            kept.into_iter().try_for_each(each)?;
            return Ok(stats);
        }
        let Some(ordinal) = self.array.ordinal else {
            return Ok(stats);
        };
        stats.reread = true;
        let mut file = self.file;
        file.seek(SeekFrom::Start(0))
            .map_err(|e| RedisError::io("rewind", &self.path, e))?;
        let mut json = JsonReader::new(ReaderSource::new(file));
        let replayed = replay::<K, _>(&mut json, ordinal, &mut each, &mut stats)
            .map_err(|e| e.into_error(&self.path))?;
        if replayed != self.array.count {
            return Err(changed(
                &self.path,
                format!("{replayed} elements, {} before", self.array.count),
            ));
        }
        Ok(stats)
    }
}

/// The second pass found something the first did not: the file changed in between.
fn changed(path: &Path, detail: String) -> RedisError {
    RedisError::io(
        "re-read",
        path,
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("the file changed while it was being encoded: {detail}"),
        ),
    )
}

/// Go reports a syntax error anywhere in the file, then trailing data, before what
/// its struct decoding found; so the rest of the document is read (without keeping
/// it) before the survey's own verdict counts. As with Go's `Decoder.More`, a
/// closing bracket after the value is not trailing data.
fn settle<T, S: JsonSource>(
    json: &mut JsonReader<S>,
    surveyed: std::result::Result<T, Failure>,
) -> std::result::Result<T, Failure> {
    if let Err(Failure::Read(_)) = surveyed {
        return surveyed;
    }
    json.finish()?;
    match json.peek_after_whitespace()? {
        None | Some(b']' | b'}') => surveyed,
        Some(_) => Err(Failure::Invalid(
            "trailing data after the JSON value".into(),
        )),
    }
}

/// Walks `{format_version, <array>, expire_at_ms}` as Go's `Unmarshal` decodes it
/// into the encoder's struct: members in order, names matched exactly or else
/// case-insensitively, unknown members skipped unread, a later duplicate replacing an
/// earlier one.
fn survey<K: ElementKind, S: JsonSource>(
    json: &mut JsonReader<S>,
    budget: usize,
    stats: &mut ReadStats,
) -> std::result::Result<Survey<K::Item>, Failure> {
    let mut survey = Survey {
        version: 0,
        expire_at_ms: None,
        array: ArraySurvey::new(None),
    };
    match json.next_event()? {
        Event::ObjectStart => {}
        Event::Scalar(GoValue::Null) => return Ok(survey),
        Event::Scalar(other) => return Err(not_a_struct(other.type_name())),
        Event::ArrayStart => return Err(not_a_struct("array")),
        other => return Err(unexpected(&other)),
    }
    let mut ordinal = 0;
    while let Some(name) = json.next_member()? {
        match match_field(&name, &[FORMAT_VERSION_FIELD, K::ARRAY, EXPIRE_FIELD]) {
            Some(FORMAT_VERSION_FIELD) => {
                let value = scalar_slot(json)?;
                set_u32(&mut survey.version, &value, &name)
                    .map_err(|e| Failure::Invalid(e.to_string()))?;
            }
            Some(EXPIRE_FIELD) => {
                let value = scalar_slot(json)?;
                docs::set_opt_u64(&mut survey.expire_at_ms, &value, &name)
                    .map_err(Failure::Invalid)?;
            }
            Some(_) => {
                survey.array = survey_array::<K, S>(json, ordinal, budget, stats)?;
                ordinal += 1;
            }
            None => json.skip_value()?,
        }
    }
    Ok(survey)
}

fn not_a_struct(type_name: &str) -> Failure {
    Failure::Invalid(format!(
        "document: cannot unmarshal {type_name} into a struct"
    ))
}

/// The value of a scalar member. An object or array cannot fill a scalar whatever it
/// holds, so it is skipped unread and stands in as an empty one of its kind (the
/// type error names only the kind).
fn scalar_slot<S: JsonSource>(json: &mut JsonReader<S>) -> std::result::Result<GoValue, Failure> {
    match json.next_event()? {
        Event::Scalar(value) => Ok(value),
        Event::ObjectStart => {
            json.skip_container_rest()?;
            Ok(GoValue::Object(Vec::new()))
        }
        Event::ArrayStart => {
            json.skip_container_rest()?;
            Ok(GoValue::Array(Vec::new()))
        }
        other => Err(unexpected(&other)),
    }
}

/// One occurrence of the array member: shapes checked (an error ends the survey),
/// contents decoded up to the first failure (which only counts if this occurrence is
/// the last), elements counted and kept within the budget.
fn survey_array<K: ElementKind, S: JsonSource>(
    json: &mut JsonReader<S>,
    ordinal: usize,
    budget: usize,
    stats: &mut ReadStats,
) -> std::result::Result<ArraySurvey<K::Item>, Failure> {
    let mut array = ArraySurvey::new(Some(ordinal));
    match json.next_event()? {
        Event::ArrayStart => {}
        Event::Scalar(GoValue::Null) => return Ok(array),
        Event::Scalar(other) => return Err(Failure::Invalid(not_a_slice(K::ARRAY, &other))),
        Event::ObjectStart => {
            let object = GoValue::Object(Vec::new());
            return Err(Failure::Invalid(not_a_slice(K::ARRAY, &object)));
        }
        other => return Err(unexpected(&other)),
    }
    let mut index = 0usize;
    while json.next_element()? {
        let element = read_element(json, stats)?;
        K::check_shape(&element, index).map_err(Failure::Invalid)?;
        if array.bad_element.is_none() {
            // By value: a large element is held once, as JSON or decoded, never both.
            match K::decode_owned(element, index) {
                Ok(item) => {
                    let weight = K::weight(&item);
                    array.keep(item, weight, budget, stats);
                }
                Err(detail) => {
                    array.bad_element = Some(detail);
                    array.kept = None;
                }
            }
        }
        index += 1;
    }
    array.count = u64::try_from(index).unwrap_or(u64::MAX);
    Ok(array)
}

/// Materializes the next array element, noting its size.
fn read_element<S: JsonSource>(
    json: &mut JsonReader<S>,
    stats: &mut ReadStats,
) -> std::result::Result<GoValue, JsonReadError> {
    let start = json.offset();
    let element = json.read_value()?;
    stats.element(json.offset() - start);
    Ok(element)
}

/// Second pass: the elements of array member `ordinal`, decoded one at a time. The
/// first pass checked everything, so any error means the file changed.
fn replay<K: ElementKind, S: JsonSource>(
    json: &mut JsonReader<S>,
    ordinal: usize,
    each: &mut impl FnMut(K::Item) -> Result<()>,
    stats: &mut ReadStats,
) -> std::result::Result<u64, Replay> {
    if json.next_event()? != Event::ObjectStart {
        return Err(Replay::Changed(
            "the document is no longer an object".into(),
        ));
    }
    let mut seen = 0;
    while let Some(name) = json.next_member()? {
        let field = match_field(&name, &[FORMAT_VERSION_FIELD, K::ARRAY, EXPIRE_FIELD]);
        if field != Some(K::ARRAY) {
            json.skip_value()?;
            continue;
        }
        if seen == ordinal {
            return replay_array::<K, S>(json, each, stats);
        }
        json.skip_value()?;
        seen += 1;
    }
    Err(Replay::Changed("the element array is gone".into()))
}

fn replay_array<K: ElementKind, S: JsonSource>(
    json: &mut JsonReader<S>,
    each: &mut impl FnMut(K::Item) -> Result<()>,
    stats: &mut ReadStats,
) -> std::result::Result<u64, Replay> {
    if json.next_event()? != Event::ArrayStart {
        return Err(Replay::Changed(
            "the element array is no longer an array".into(),
        ));
    }
    let mut index = 0usize;
    while json.next_element()? {
        let element = read_element(json, stats)?;
        let item = K::decode_owned(element, index).map_err(Replay::Changed)?;
        each(item).map_err(Replay::Emit)?;
        index += 1;
    }
    Ok(u64::try_from(index).unwrap_or(u64::MAX))
}

/// Why the second pass stopped.
#[derive(Debug)]
enum Replay {
    /// Reading failed.
    Read(JsonReadError),
    /// The file no longer says what the first pass read.
    Changed(String),
    /// The caller refused an element (the sink's error, kept as is).
    Emit(RedisError),
}

impl From<JsonReadError> for Replay {
    fn from(e: JsonReadError) -> Self {
        Replay::Read(e)
    }
}

impl Replay {
    fn into_error(self, path: &Path) -> RedisError {
        match self {
            Replay::Read(JsonReadError::Io(e)) => RedisError::io("read", path, e),
            Replay::Read(JsonReadError::Syntax(e)) => changed(path, e.to_string()),
            Replay::Changed(detail) => changed(path, detail),
            Replay::Emit(e) => e,
        }
    }
}

/// The JSON values of a JSONL file, one at a time, as Go's `json.Decoder` reads them
/// (a value may span lines, several may share one, whitespace between is optional).
pub(crate) struct JsonLines {
    json: JsonReader<ReaderSource<File>>,
    path: PathBuf,
}

impl JsonLines {
    /// Reads `file`; `path` names it in errors.
    pub(crate) fn new(file: File, path: &Path) -> Self {
        JsonLines {
            json: JsonReader::new(ReaderSource::new(file)),
            path: path.to_path_buf(),
        }
    }

    /// Opens the dump file at `path`.
    #[cfg(test)]
    pub(crate) fn open(path: &Path) -> Result<Self> {
        Ok(JsonLines::new(super::input::open_dump_file(path)?, path))
    }

    /// The next value, `None` at the end. A syntax error ends the file.
    pub(crate) fn next_value(&mut self) -> Result<Option<GoValue>> {
        let next = match self.json.begin_next_value() {
            Ok(true) => self.json.read_value().map(Some),
            Ok(false) => Ok(None),
            Err(e) => Err(e),
        };
        next.map_err(|e| match e {
            JsonReadError::Io(e) => RedisError::io("read", &self.path, e),
            JsonReadError::Syntax(e) => {
                RedisError::invalid_json(&self.path, format!("at byte {}: {}", e.offset, e.message))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;
    use crate::adapters::redis::docs::SetMembers;
    use crate::error::ErrorCode;

    /// The second pass re-reads the file it checked (same descriptor); if the file
    /// was rewritten in between, that is an error, never a silently different set.
    #[test]
    fn a_file_changed_between_the_passes_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        fs::write(&path, r#"{"format_version":1,"members":["a","b"]}"#).unwrap();
        let doc = check_document::<SetMembers>(&path, 0).unwrap();
        assert_eq!(doc.count(), 2);
        fs::write(&path, r#"{"format_version":1,"members":["a"]}"#).unwrap();
        let mut seen = Vec::new();
        let err = doc
            .for_each(|m| {
                seen.push(m);
                Ok(())
            })
            .unwrap_err();
        assert_eq!(err.code(), "io");
        assert!(err.to_string().contains("changed"), "{err}");
    }

    #[test]
    fn small_documents_are_read_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        fs::write(&path, r#"{"format_version":1,"members":["a","b"]}"#).unwrap();
        let doc = check_document::<SetMembers>(&path, KEPT_ELEMENTS_BUDGET).unwrap();
        // Gone from disk, still handed out: the elements were kept.
        fs::remove_file(&path).unwrap();
        let mut seen = Vec::new();
        let stats = doc
            .for_each(|m| {
                seen.push(m);
                Ok(())
            })
            .unwrap();
        assert_eq!(seen, vec![b"a".to_vec(), b"b".to_vec()]);
        assert!(!stats.reread);
    }
}

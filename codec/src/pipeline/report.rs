//! The rich self-test report: what differs and how, for a human.
//!
//! Go's `mismatch.txt` only names paths. The report adds, per differing file (the
//! first `cap` by adapter in Go's order, then path), what the difference means
//! ([`semantic`](super::semantic)): for a JSON document the member paths that differ
//! with both values, then a unified diff; for JSON lines a unified diff; for a keyed
//! JSONL file (SQS messages) the lines that differ by key, field by field, and the
//! keys only one side has; for anything else (or anything large) the first differing
//! byte, both lengths and both sides' bytes from there; the lines only one side has
//! for files compared as multisets; and the size of files only one side has.
//! Everything in it is computed while the input tree (and a decoded tree, when there
//! is one) still exists; of a decoded file that was compared as it was produced and
//! never written, what the comparison kept ([`Captured`](super::compare::Captured))
//! is used. The report itself is plain owned data.

use std::fmt::Write as _;
use std::fs;

use similar::TextDiff;

use super::DumpError;
use super::compare::{DiffKind, FileDiff, Method, TreeComparison, first_difference, read_window};
use super::semantic::{self, KeyedDelta, PathDiffs, Shape, render_window};

/// Largest file (each side) shown as a unified diff.
pub const TEXT_DIFF_MAX_BYTES: u64 = 1 << 20;
/// Diff lines shown per file before the rest is summarised.
pub const TEXT_DIFF_MAX_LINES: usize = 200;

/// The overall verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The round trip reproduced the tree.
    Matched,
    /// The produced snapshot could not be decoded.
    DecodeRejected {
        /// The decoder's error.
        error: String,
    },
    /// The produced snapshot's header carries another commit timestamp.
    HeaderMismatch {
        /// The timestamp the encoder was asked to write.
        want: u64,
        /// The one the decoder read.
        got: u64,
    },
    /// Some files differ.
    Differs,
}

/// What differs about one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Detail {
    /// Only the input tree has the file.
    OnlyInInput {
        /// Its size.
        len: u64,
    },
    /// Only the decoded tree has the file.
    OnlyInDecoded {
        /// Its size.
        len: u64,
    },
    /// A unified diff of a JSON/JSONL file.
    TextDiff {
        /// For a JSON document: the member paths that differ.
        paths: PathDiffs,
        /// The diff, `---`/`+++` headers included, possibly cut.
        diff: String,
        /// Diff lines cut off.
        omitted_lines: usize,
    },
    /// A keyed JSONL file: its lines matched by key.
    Keyed {
        /// Where its bytes first differ.
        bytes: Bytes,
        /// How its lines differ.
        delta: Box<KeyedDelta>,
    },
    /// A file compared as a multiset of lines or records.
    Multiset {
        /// `lines` or `records`.
        unit: &'static str,
        /// Items only the input has.
        only_in_input: u64,
        /// Items only the decoded tree has.
        only_in_decoded: u64,
        /// The first few of the former.
        input_samples: Vec<String>,
        /// The first few of the latter.
        decoded_samples: Vec<String>,
    },
    /// Anything else: where the bytes start to differ.
    Binary(Bytes),
}

/// Where two files' bytes start to differ, and what each side has there.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Bytes {
    /// Offset of the first differing byte.
    pub offset: u64,
    /// Input size.
    pub input_len: u64,
    /// Decoded size.
    pub decoded_len: u64,
    /// The input's bytes from `offset` (at most [`semantic::WINDOW`]).
    pub input_window: Vec<u8>,
    /// The decoded file's bytes from `offset`.
    pub decoded_window: Vec<u8>,
}

/// One differing file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// `<adapter>/<path>` (lossy UTF-8, control characters escaped).
    pub path: String,
    /// How it differs.
    pub detail: Detail,
}

/// A self-test report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The verdict.
    pub verdict: Verdict,
    /// Adapters compared.
    pub adapters: Vec<&'static str>,
    /// Files compared (0 when the comparison did not run).
    pub files_compared: u64,
    /// Files that differ.
    pub differing: u64,
    /// The first `cap` of them, by path.
    pub entries: Vec<Entry>,
    /// The cap.
    pub cap: usize,
}

/// Renders a path for one line of text: lossy UTF-8 with control characters escaped.
pub fn display_path(raw: &[u8]) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in String::from_utf8_lossy(raw).chars() {
        if c.is_control() {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    out
}

fn lossy_line(raw: &[u8]) -> String {
    display_path(raw)
}

fn size(path: Option<&std::path::PathBuf>) -> u64 {
    path.and_then(|p| fs::symlink_metadata(p).ok())
        .map(|m| m.len())
        .unwrap_or(0)
}

/// The decoded file's size: as the comparison kept it, or on disk.
fn decoded_len(diff: &FileDiff) -> u64 {
    match &diff.captured {
        Some(captured) => captured.len,
        None => size(diff.decoded.as_ref()),
    }
}

fn text_diff(diff: &FileDiff, path: &str, shape: Shape) -> Result<Option<Detail>, DumpError> {
    let Some(a) = &diff.input else {
        return Ok(None);
    };
    if (diff.decoded.is_none() && diff.captured.is_none())
        || !shape.is_text()
        || size(Some(a)) > TEXT_DIFF_MAX_BYTES
        || decoded_len(diff) > TEXT_DIFF_MAX_BYTES
    {
        return Ok(None);
    }
    let read = |p: &std::path::Path| {
        fs::read(p).map_err(|e| DumpError::io(format!("read {}", p.display()), e))
    };
    let new = match (&diff.captured, &diff.decoded) {
        (Some(captured), _) => match &captured.text {
            Some(text) => text.clone(),
            None => return Ok(None),
        },
        (None, Some(b)) => read(b)?,
        (None, None) => return Ok(None),
    };
    let (Ok(old), Ok(new)) = (String::from_utf8(read(a)?), String::from_utf8(new)) else {
        return Ok(None);
    };
    let mut paths = PathDiffs::default();
    if let Shape::Json { root } = shape {
        paths.add_texts(root, old.as_bytes(), new.as_bytes());
    }
    let rendered = TextDiff::from_lines(&old, &new)
        .unified_diff()
        .context_radius(3)
        .header(&format!("input/{path}"), &format!("decoded/{path}"))
        .to_string();
    let lines: Vec<&str> = rendered.lines().collect();
    let shown = lines.len().min(TEXT_DIFF_MAX_LINES);
    let mut text = lines[..shown].join("\n");
    text.push('\n');
    Ok(Some(Detail::TextDiff {
        paths,
        diff: text,
        omitted_lines: lines.len() - shown,
    }))
}

fn detail_of(diff: &FileDiff, path: &str) -> Result<Detail, DumpError> {
    match diff.kind {
        DiffKind::MissingInDecoded => Ok(Detail::OnlyInInput {
            len: size(diff.input.as_ref()),
        }),
        DiffKind::MissingInInput => Ok(Detail::OnlyInDecoded {
            len: decoded_len(diff),
        }),
        DiffKind::Differs => {
            if let Some(delta) = &diff.multiset {
                let unit = if diff.method == Method::KeymapMultiset {
                    "records"
                } else {
                    "lines"
                };
                return Ok(Detail::Multiset {
                    unit,
                    only_in_input: delta.only_in_input,
                    only_in_decoded: delta.only_in_decoded,
                    input_samples: delta.input_samples.iter().map(|s| lossy_line(s)).collect(),
                    decoded_samples: delta
                        .decoded_samples
                        .iter()
                        .map(|s| lossy_line(s))
                        .collect(),
                });
            }
            let shape = semantic::shape(diff.adapter, &diff.rel);
            if diff.keyed.is_none()
                && let Some(detail) = text_diff(diff, path, shape)?
            {
                return Ok(detail);
            }
            let bytes = bytes_of(diff)?;
            Ok(match &diff.keyed {
                Some(delta) => Detail::Keyed {
                    bytes,
                    delta: delta.clone(),
                },
                None => Detail::Binary(bytes),
            })
        }
    }
}

/// Where a differing file's bytes first differ, and both sides' bytes there.
fn bytes_of(diff: &FileDiff) -> Result<Bytes, DumpError> {
    let Some(a) = &diff.input else {
        return Ok(Bytes::default());
    };
    let (offset, decoded_window) = match (&diff.captured, &diff.decoded) {
        (Some(captured), _) => (
            captured.first_difference.unwrap_or(0),
            captured.window.clone(),
        ),
        (None, Some(b)) => {
            let offset = first_difference(a, b)?.unwrap_or(0);
            (offset, read_window(b, offset)?)
        }
        (None, None) => return Ok(Bytes::default()),
    };
    Ok(Bytes {
        offset,
        input_len: size(Some(a)),
        decoded_len: decoded_len(diff),
        input_window: read_window(a, offset)?,
        decoded_window,
    })
}

/// `contents differ: first difference at byte …` and both sides' bytes there.
fn render_bytes(out: &mut String, head: &str, bytes: &Bytes, windows: bool) {
    let Bytes {
        offset,
        input_len,
        decoded_len,
        input_window,
        decoded_window,
    } = bytes;
    let _ = writeln!(
        out,
        "{head}: contents differ: first difference at byte {offset}; input {input_len} bytes, decoded {decoded_len} bytes"
    );
    if windows {
        let _ = writeln!(out, "  input   {}", render_window(*offset, input_window));
        let _ = writeln!(out, "  decoded {}", render_window(*offset, decoded_window));
    }
}

fn render_paths(out: &mut String, paths: &PathDiffs, what: &str) {
    for line in &paths.shown {
        let _ = writeln!(out, "  {line}");
    }
    let more = paths.total - paths.shown.len() as u64;
    if more > 0 {
        let _ = writeln!(out, "  ... {more} more differing {what} not shown");
    }
}

fn render_keyed(out: &mut String, head: &str, bytes: &Bytes, delta: &KeyedDelta) {
    render_bytes(out, head, bytes, delta.is_empty());
    let KeyedDelta {
        key,
        unit,
        changed,
        only_in_input,
        only_in_decoded,
        ..
    } = delta;
    if delta.is_empty() {
        let _ = writeln!(
            out,
            "  {unit}s matched by {key}: the same {unit}s, in another order or framing"
        );
        return;
    }
    let _ = writeln!(
        out,
        "  {unit}s matched by {key}: {changed} changed, {only_in_input} only in input, {only_in_decoded} only in decoded output"
    );
    render_paths(out, &delta.changes, "fields");
    for (label, count, keys) in [
        ("only in input", only_in_input, &delta.input_keys),
        (
            "only in decoded output",
            only_in_decoded,
            &delta.decoded_keys,
        ),
    ] {
        if keys.is_empty() {
            continue;
        }
        let more = *count - keys.len() as u64;
        let first = if more > 0 {
            format!(" (first {})", keys.len())
        } else {
            String::new()
        };
        let _ = writeln!(out, "  {label}{first}:");
        for k in keys {
            let _ = writeln!(out, "    {unit} {k}");
        }
    }
}

impl Report {
    /// A report for a comparison that ran; reads the files it names, so call it while
    /// the trees exist.
    pub fn from_comparison(comparison: &TreeComparison, cap: usize) -> Result<Report, DumpError> {
        let mut entries = Vec::new();
        for diff in comparison.diffs.iter().take(cap) {
            let path = display_path(&diff.path());
            let detail = detail_of(diff, &path)?;
            entries.push(Entry { path, detail });
        }
        Ok(Report {
            verdict: if comparison.matched() {
                Verdict::Matched
            } else {
                Verdict::Differs
            },
            adapters: comparison.adapters.iter().map(|a| a.name()).collect(),
            files_compared: comparison.files_compared,
            differing: comparison.differing,
            entries,
            cap,
        })
    }

    /// A report for a self-test that stopped before comparing files.
    pub fn early(verdict: Verdict, adapters: Vec<&'static str>, cap: usize) -> Report {
        Report {
            verdict,
            adapters,
            files_compared: 0,
            differing: 0,
            entries: Vec::new(),
            cap,
        }
    }

    /// Whether the round trip matched.
    pub fn matched(&self) -> bool {
        self.verdict == Verdict::Matched
    }

    /// One line for logs.
    pub fn summary(&self) -> String {
        match &self.verdict {
            Verdict::Matched => format!("matched ({} files compared)", self.files_compared),
            Verdict::DecodeRejected { error } => {
                format!("the produced snapshot could not be decoded: {error}")
            }
            Verdict::HeaderMismatch { want, got } => {
                format!("the produced snapshot's header has last_commit_ts {got}, expected {want}")
            }
            Verdict::Differs => {
                format!("{} of {} files differ", self.differing, self.files_compared)
            }
        }
    }

    /// The report as text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let adapters = self.adapters.join(",");
        let _ = match &self.verdict {
            Verdict::Matched => writeln!(
                out,
                "self-test: matched ({} files compared; adapters: {adapters})",
                self.files_compared
            ),
            Verdict::DecodeRejected { error } => writeln!(
                out,
                "self-test: MISMATCH: the produced snapshot could not be decoded (adapters: {adapters})\n  {error}"
            ),
            Verdict::HeaderMismatch { want, got } => writeln!(
                out,
                "self-test: MISMATCH: the produced snapshot's header has last_commit_ts {got}, expected {want} (adapters: {adapters})"
            ),
            Verdict::Differs => writeln!(
                out,
                "self-test: MISMATCH: {} of {} files differ (adapters: {adapters})",
                self.differing, self.files_compared
            ),
        };
        for (i, entry) in self.entries.iter().enumerate() {
            out.push('\n');
            let n = i + 1;
            let path = &entry.path;
            let _ = match &entry.detail {
                Detail::OnlyInInput { len } => {
                    writeln!(out, "[{n}] {path}: only in input ({len} bytes)")
                }
                Detail::OnlyInDecoded { len } => {
                    writeln!(out, "[{n}] {path}: only in decoded output ({len} bytes)")
                }
                Detail::TextDiff {
                    paths,
                    diff,
                    omitted_lines,
                } => {
                    let _ = writeln!(out, "[{n}] {path}: contents differ");
                    render_paths(&mut out, paths, "paths");
                    out.push_str(diff);
                    if *omitted_lines > 0 {
                        let _ = writeln!(out, "... {omitted_lines} more diff lines not shown");
                    }
                    Ok(())
                }
                Detail::Multiset {
                    unit,
                    only_in_input,
                    only_in_decoded,
                    input_samples,
                    decoded_samples,
                } => {
                    let _ = writeln!(
                        out,
                        "[{n}] {path}: contents differ (compared as a multiset of {unit}): {only_in_input} only in input, {only_in_decoded} only in decoded output"
                    );
                    for (label, count, samples) in [
                        ("only in input", only_in_input, input_samples),
                        ("only in decoded output", only_in_decoded, decoded_samples),
                    ] {
                        if samples.is_empty() {
                            continue;
                        }
                        let more = *count - samples.len() as u64;
                        let _ = writeln!(
                            out,
                            "  {label}{}:",
                            if more > 0 {
                                format!(" (first {})", samples.len())
                            } else {
                                String::new()
                            }
                        );
                        for s in samples {
                            let _ = writeln!(out, "    {s}");
                        }
                    }
                    Ok(())
                }
                Detail::Binary(bytes) => {
                    render_bytes(&mut out, &format!("[{n}] {path}"), bytes, true);
                    Ok(())
                }
                Detail::Keyed { bytes, delta } => {
                    render_keyed(&mut out, &format!("[{n}] {path}"), bytes, delta);
                    Ok(())
                }
            };
        }
        let hidden = self.differing.saturating_sub(self.entries.len() as u64);
        if hidden > 0 {
            let _ = writeln!(
                out,
                "\n... {hidden} more differing files not shown (report cap {})",
                self.cap
            );
        }
        out
    }
}

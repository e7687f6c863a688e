//! Comparing an input dump tree with the tree its snapshot decodes to.
//!
//! Go compares every regular file byte for byte. Some files carry no meaning in their
//! line order — the TTL sidecars (`strings_ttl.jsonl`, `hll_ttl.jsonl`) list one line
//! per expiring key in whatever order the keys were met, and `KEYMAP.jsonl` is a set of
//! records — so a faithful round trip may reorder them. Those are compared as
//! multisets (of lines, of parsed records); everything else byte for byte.
//!
//! Memory stays bounded for any tree size: the two trees are walked together one
//! directory at a time, files are compared as streams, multisets go through the
//! external sort, and only the first differences (by path) are kept.
//!
//! The self-test has no decoded tree: [`ComparingSink`] compares each file the
//! decoder produces, as it is produced, with the input's, by the same rules, and
//! gives the same [`TreeComparison`] as [`compare_trees`] of the tree it would have
//! written.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::ffi::{OsStr, OsString};
use std::fs::{self, File};
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::adapter::{AdapterSpec, Comparison};
use crate::dispatch::Adapter;
use crate::sort::{ExternalSorter, Joined, SortOptions, SortedRecords, merge_join};
use crate::tree::json::{self, Style};
use crate::tree::keymap::{KEYMAP_FILE_NAME, KEYMAP_MAX_LINE, parse_keymap_line};

use super::semantic::{KeyedDelta, Shape, keyed_delta, line_key, shape};
use super::{DumpError, Progress};

#[path = "compare_sink.rs"]
mod sink;
pub use sink::ComparingSink;

/// Go's cap on listed paths in `mismatch.txt`.
pub const GO_MISMATCH_MAX_PATHS: usize = 64;
/// Lines of each side a multiset difference keeps as examples.
pub const MULTISET_SAMPLES: usize = 5;
/// Longest example line kept, in bytes.
const SAMPLE_MAX_BYTES: usize = 512;
/// Longest line a multiset comparison accepts; longer ones fall back to bytes.
const MULTISET_MAX_LINE: usize = 16 << 20;
const COMPARE_BUFFER: usize = 64 << 10;

/// How a pair of files is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Byte for byte.
    Bytes,
    /// As a multiset of lines (the files an adapter says carry no order).
    LineMultiset,
    /// As a multiset of parsed KEYMAP records.
    KeymapMultiset,
}

impl Method {
    /// The method for a file with this base name in an adapter's subtree: KEYMAP is
    /// every adapter's, the rest is the adapter's own rule.
    pub fn for_name(name: &[u8], adapter_rule: fn(&[u8]) -> Comparison) -> Method {
        if name == KEYMAP_FILE_NAME.as_bytes() {
            return Method::KeymapMultiset;
        }
        match adapter_rule(name) {
            Comparison::Bytes => Method::Bytes,
            Comparison::LineMultiset => Method::LineMultiset,
        }
    }
}

/// What differs about one path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiffKind {
    /// Only the decoded tree has it (Go: `(missing in input)`).
    MissingInInput,
    /// Only the input tree has it (Go: `(missing in scratch)`).
    MissingInDecoded,
    /// Both have it with different contents (Go: `(bytes differ)`).
    Differs,
}

impl DiffKind {
    fn go_suffix(self) -> &'static str {
        match self {
            DiffKind::MissingInInput => " (missing in input)",
            DiffKind::MissingInDecoded => " (missing in scratch)",
            DiffKind::Differs => " (bytes differ)",
        }
    }
}

/// How two multisets differ.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MultisetDelta {
    /// Lines (records) only the input has, counted with multiplicity.
    pub only_in_input: u64,
    /// Lines (records) only the decoded tree has.
    pub only_in_decoded: u64,
    /// The first few of the former, in sorted order.
    pub input_samples: Vec<Vec<u8>>,
    /// The first few of the latter, in sorted order.
    pub decoded_samples: Vec<Vec<u8>>,
}

/// One differing path.
#[derive(Debug, Clone)]
pub struct FileDiff {
    /// The adapter subtree it is in.
    pub adapter: Adapter,
    /// Its path below the adapter directory, `/`-separated.
    pub rel: Vec<u8>,
    /// What differs.
    pub kind: DiffKind,
    /// The file in the input tree, if there.
    pub input: Option<PathBuf>,
    /// The file in the decoded tree, if there.
    pub decoded: Option<PathBuf>,
    /// How the contents were compared.
    pub method: Method,
    /// For multiset comparisons that differ: how.
    pub multiset: Option<MultisetDelta>,
    /// What [`ComparingSink`] kept of a decoded file that was compared as it was
    /// produced and never written (`decoded` is then `None`).
    pub captured: Option<Box<Captured>>,
    /// For a keyed JSONL file ([`Shape::Keyed`]) whose bytes differ: its lines
    /// matched by key.
    pub keyed: Option<Box<KeyedDelta>>,
}

/// All the report needs of a decoded file that exists only as a comparison.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Captured {
    /// Its size.
    pub len: u64,
    /// Where it first differs from the input's file, when both exist.
    pub first_difference: Option<u64>,
    /// Its bytes, when a text diff could show them: a `.json`/`.jsonl` file of at
    /// most [`TEXT_DIFF_MAX_BYTES`](super::report::TEXT_DIFF_MAX_BYTES) whose input
    /// twin is no larger either.
    pub text: Option<Vec<u8>>,
    /// Its first [`WINDOW`](super::semantic::WINDOW) bytes from `first_difference`.
    pub window: Vec<u8>,
}

impl FileDiff {
    /// `<adapter>/<rel>`.
    pub fn path(&self) -> Vec<u8> {
        let mut p = self.adapter.name().as_bytes().to_vec();
        p.push(b'/');
        p.extend_from_slice(&self.rel);
        p
    }

    /// The line Go's `mismatch.txt` has for this path.
    pub fn go_line(&self) -> Vec<u8> {
        let mut line = self.path();
        line.extend_from_slice(self.kind.go_suffix().as_bytes());
        line
    }

    /// Adapter, path, then Go's suffix: two entries of one path (a link on one side,
    /// a file on the other) come in the order of their Go lines.
    fn order_key(&self) -> (Adapter, &[u8], &'static str) {
        (self.adapter, &self.rel, self.kind.go_suffix())
    }
}

/// A [`FileDiff`] ordered by adapter (Go's order), then path.
#[derive(Debug)]
struct ByPath(FileDiff);

impl PartialEq for ByPath {
    fn eq(&self, other: &Self) -> bool {
        self.0.order_key() == other.0.order_key()
    }
}
impl Eq for ByPath {}
impl PartialOrd for ByPath {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for ByPath {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.order_key().cmp(&other.0.order_key())
    }
}

/// Keeps the `cap` smallest items pushed.
#[derive(Debug)]
struct Smallest<T: Ord> {
    cap: usize,
    heap: BinaryHeap<T>,
}

impl<T: Ord> Smallest<T> {
    fn new(cap: usize) -> Self {
        Smallest {
            cap,
            heap: BinaryHeap::new(),
        }
    }

    fn push(&mut self, item: T) {
        if self.heap.len() < self.cap {
            self.heap.push(item);
        } else if self.heap.peek().is_some_and(|top| item < *top) {
            self.heap.pop();
            self.heap.push(item);
        }
    }

    fn into_sorted(self) -> Vec<T> {
        self.heap.into_sorted_vec()
    }
}

/// Knobs of a comparison.
#[derive(Debug, Clone)]
pub struct CompareOptions {
    /// Memory budget of each multiset sort (two run at a time).
    pub sort_memory_bytes: usize,
    /// Where those sorts spill.
    pub scratch_dir: PathBuf,
    /// How many differing files are kept for the report.
    pub keep: usize,
}

/// A comparison being tallied: counts, the first diffs, Go's lines per adapter.
#[derive(Debug)]
struct Tally {
    files: u64,
    bytes: u64,
    differing: u64,
    diffs: Smallest<ByPath>,
    /// Per adapter, in the order compared: paths that differ, and the smallest Go
    /// lines.
    go: Vec<(u64, Smallest<Vec<u8>>)>,
}

impl Tally {
    fn new(adapters: usize, keep: usize) -> Tally {
        Tally {
            files: 0,
            bytes: 0,
            differing: 0,
            diffs: Smallest::new(keep),
            go: (0..adapters)
                .map(|_| (0, Smallest::new(GO_MISMATCH_MAX_PATHS)))
                .collect(),
        }
    }

    /// One more path compared, of `bytes`; whether progress is due.
    fn seen(&mut self, bytes: u64) -> bool {
        self.files += 1;
        self.bytes += bytes;
        self.files.is_multiple_of(1024)
    }

    /// A differing path of the adapter compared `slot`th.
    fn record(&mut self, slot: usize, diff: FileDiff) {
        self.differing += 1;
        if let Some((count, smallest)) = self.go.get_mut(slot) {
            *count += 1;
            smallest.push(diff.go_line());
        }
        self.diffs.push(ByPath(diff));
    }

    fn into_comparison(self, adapters: Vec<Adapter>) -> TreeComparison {
        TreeComparison {
            adapters,
            files_compared: self.files,
            differing: self.differing,
            diffs: self.diffs.into_sorted().into_iter().map(|d| d.0).collect(),
            go_lines: self
                .go
                .into_iter()
                .map(|(count, smallest)| (count, smallest.into_sorted()))
                .collect(),
        }
    }
}

/// The result of comparing two trees.
#[derive(Debug, Clone)]
pub struct TreeComparison {
    /// Adapters compared, in Go's order.
    pub adapters: Vec<Adapter>,
    /// Distinct file paths seen on either side.
    pub files_compared: u64,
    /// Paths that differ.
    pub differing: u64,
    /// The first differing paths (by adapter, then path), at most `keep`.
    pub diffs: Vec<FileDiff>,
    /// Per adapter: how many paths differ and the smallest Go lines.
    go_lines: Vec<(u64, Vec<Vec<u8>>)>,
}

impl TreeComparison {
    /// Whether the trees are equivalent.
    pub fn matched(&self) -> bool {
        self.differing == 0
    }

    /// The body of Go's `mismatch.txt` for a diff: one line per path, sorted per
    /// adapter, adapters in Go's order, cut at 64 paths once an adapter reaches that
    /// total (Go appends the truncation line even when exactly 64 differ). Empty when
    /// the trees match.
    pub fn go_mismatch_text(&self) -> Vec<u8> {
        let mut lines: Vec<Vec<u8>> = Vec::new();
        let mut total = 0u64;
        for (count, smallest) in &self.go_lines {
            total += count;
            lines.extend(smallest.iter().cloned());
            if total >= GO_MISMATCH_MAX_PATHS as u64 {
                lines.truncate(GO_MISMATCH_MAX_PATHS);
                lines.push(
                    format!("... (truncated; first {GO_MISMATCH_MAX_PATHS} paths shown)")
                        .into_bytes(),
                );
                break;
            }
        }
        if lines.is_empty() {
            return Vec::new();
        }
        let mut out = lines.join(&b'\n');
        out.push(b'\n');
        out
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Dir,
    File,
    /// A symlink, FIFO, socket or device: never opened, never followed, and never
    /// the same as anything on the other side.
    Other,
}

/// Every entry of `dir`, sorted by name. Go's walk skips links, FIFOs and devices,
/// so a key file the encoder skipped could still "match"; here they take part as
/// entries that match nothing (docs/format.md §6.6).
fn list(dir: &Path) -> Result<Vec<(OsString, Kind)>, DumpError> {
    let mut out = Vec::new();
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(DumpError::io(format!("list {}", dir.display()), e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| DumpError::io(format!("list {}", dir.display()), e))?;
        let ft = entry
            .file_type()
            .map_err(|e| DumpError::io(format!("stat {}", entry.path().display()), e))?;
        let kind = if ft.is_dir() {
            Kind::Dir
        } else if ft.is_file() {
            Kind::File
        } else {
            Kind::Other
        };
        out.push((entry.file_name(), kind));
    }
    out.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    Ok(out)
}

/// A directory of the adapter subtree: real on one or both sides.
fn adapter_dir(root: &Path, adapter: Adapter) -> Option<PathBuf> {
    let dir = root.join(adapter.name());
    match fs::symlink_metadata(&dir) {
        Ok(meta) if meta.is_dir() => Some(dir),
        _ => None,
    }
}

struct Walk<'a> {
    options: &'a CompareOptions,
    progress: &'a mut dyn Progress,
    /// The rule of the adapter being walked.
    comparison: fn(&[u8]) -> Comparison,
    /// Its place in the adapters compared.
    slot: usize,
    tally: Tally,
}

impl Walk<'_> {
    fn record(&mut self, diff: FileDiff) {
        self.tally.record(self.slot, diff);
    }

    fn seen(&mut self, bytes: u64) {
        if self.tally.seen(bytes) {
            self.progress.update(self.tally.bytes, self.tally.files);
        }
    }

    fn one_sided(&mut self, adapter: Adapter, rel: Vec<u8>, path: PathBuf, side: DiffKind) {
        let len = fs::symlink_metadata(&path).map(|m| m.len()).unwrap_or(0);
        self.seen(len);
        let (input, decoded) = match side {
            DiffKind::MissingInDecoded => (Some(path), None),
            _ => (None, Some(path)),
        };
        let name = rel.rsplit(|&b| b == b'/').next().unwrap_or(&rel);
        let method = Method::for_name(name, self.comparison);
        self.record(FileDiff {
            adapter,
            rel,
            kind: side,
            input,
            decoded,
            method,
            multiset: None,
            captured: None,
            keyed: None,
        });
    }

    fn both(
        &mut self,
        adapter: Adapter,
        rel: Vec<u8>,
        name: &OsStr,
        a: PathBuf,
        b: PathBuf,
    ) -> Result<(), DumpError> {
        let method = Method::for_name(name.as_bytes(), self.comparison);
        let len = fs::symlink_metadata(&a).map(|m| m.len()).unwrap_or(0);
        self.seen(len);
        let verdict = compare_files(&a, &b, method, self.options)?;
        let (method, multiset) = match verdict {
            Verdict::Equal => return Ok(()),
            Verdict::BytesDiffer => (Method::Bytes, None),
            Verdict::MultisetDiffers(delta) => (method, Some(delta)),
        };
        let keyed = match shape(adapter, &rel) {
            Shape::Keyed { key, unit } if method == Method::Bytes => {
                keyed_files(&a, &b, key, unit, self.options)?
            }
            _ => None,
        };
        self.record(FileDiff {
            adapter,
            rel,
            kind: DiffKind::Differs,
            input: Some(a),
            decoded: Some(b),
            method,
            multiset,
            captured: None,
            keyed,
        });
        Ok(())
    }

    /// Walks one adapter subtree of both sides together.
    fn adapter(
        &mut self,
        adapter: Adapter,
        input: Option<PathBuf>,
        decoded: Option<PathBuf>,
    ) -> Result<(), DumpError> {
        let mut pending: Vec<(Vec<u8>, Option<PathBuf>, Option<PathBuf>)> =
            vec![(Vec::new(), input, decoded)];
        while let Some((prefix, a_dir, b_dir)) = pending.pop() {
            let a_list = match &a_dir {
                Some(dir) => list(dir)?,
                None => Vec::new(),
            };
            let b_list = match &b_dir {
                Some(dir) => list(dir)?,
                None => Vec::new(),
            };
            let rel_of = |name: &OsStr| {
                let mut rel = prefix.clone();
                if !rel.is_empty() {
                    rel.push(b'/');
                }
                rel.extend_from_slice(name.as_bytes());
                rel
            };
            let (mut i, mut j) = (0, 0);
            while i < a_list.len() || j < b_list.len() {
                let order = match (a_list.get(i), b_list.get(j)) {
                    (Some(a), Some(b)) => a.0.as_bytes().cmp(b.0.as_bytes()),
                    (Some(_), None) => Ordering::Less,
                    _ => Ordering::Greater,
                };
                let a = (order != Ordering::Greater).then(|| &a_list[i]);
                let b = (order != Ordering::Less).then(|| &b_list[j]);
                if a.is_some() {
                    i += 1;
                }
                if b.is_some() {
                    j += 1;
                }
                let name = a.or(b).map(|e| e.0.clone()).unwrap_or_default();
                let rel = rel_of(&name);
                let a_path = a.zip(a_dir.as_ref()).map(|(e, d)| (d.join(&e.0), e.1));
                let b_path = b.zip(b_dir.as_ref()).map(|(e, d)| (d.join(&e.0), e.1));
                match (a_path, b_path) {
                    (Some((ap, Kind::File)), Some((bp, Kind::File))) => {
                        self.both(adapter, rel, &name, ap, bp)?;
                    }
                    (Some((ap, Kind::Dir)), Some((bp, Kind::Dir))) => {
                        pending.push((rel, Some(ap), Some(bp)));
                    }
                    (a_side, b_side) => {
                        for (side, kind) in [
                            (a_side, DiffKind::MissingInDecoded),
                            (b_side, DiffKind::MissingInInput),
                        ] {
                            match side {
                                Some((p, Kind::File | Kind::Other)) => {
                                    self.one_sided(adapter, rel.clone(), p, kind)
                                }
                                Some((p, Kind::Dir)) => {
                                    let (x, y) = match kind {
                                        DiffKind::MissingInDecoded => (Some(p), None),
                                        _ => (None, Some(p)),
                                    };
                                    pending.push((rel.clone(), x, y));
                                }
                                None => {}
                            }
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// Compares the selected adapters' subtrees of `input_root` and `decoded_root`.
pub fn compare_trees(
    input_root: &Path,
    decoded_root: &Path,
    adapters: &[&AdapterSpec],
    options: &CompareOptions,
    progress: &mut dyn Progress,
) -> Result<TreeComparison, DumpError> {
    let adapters = in_go_order(adapters);
    let mut walk = Walk {
        options,
        progress,
        comparison: |_| Comparison::Bytes,
        slot: 0,
        tally: Tally::new(adapters.len(), options.keep),
    };
    for (slot, spec) in adapters.iter().enumerate() {
        let adapter = spec.adapter;
        walk.comparison = spec.comparison;
        walk.slot = slot;
        walk.adapter(
            adapter,
            adapter_dir(input_root, adapter),
            adapter_dir(decoded_root, adapter),
        )?;
    }
    walk.progress.update(walk.tally.bytes, walk.tally.files);
    Ok(walk
        .tally
        .into_comparison(adapters.iter().map(|spec| spec.adapter).collect()))
}

/// The adapters in Go's fan-out order (redis, dynamodb, s3, sqs), whatever order
/// they were given in: Go's `mismatch.txt` lists them that way.
fn in_go_order<'a>(adapters: &[&'a AdapterSpec]) -> Vec<&'a AdapterSpec> {
    let mut sorted = adapters.to_vec();
    sorted.sort_by_key(|spec| spec.adapter);
    sorted
}

/// Two keyed JSONL files ([`Shape::Keyed`]) whose bytes differ, their lines matched
/// by key through the external sort; `None` when a line is too long to sort.
fn keyed_files(
    a: &Path,
    b: &Path,
    key: &'static str,
    unit: &'static str,
    options: &CompareOptions,
) -> Result<Option<Box<KeyedDelta>>, DumpError> {
    let sort = multiset_sort(options);
    let input = drain(open(a)?, ItemSpool::keyed(key, sort.clone())).map_err(sort_io(a))?;
    let decoded = drain(open(b)?, ItemSpool::keyed(key, sort)).map_err(sort_io(b))?;
    keyed_verdict(key, unit, input, decoded).map_err(|e| DumpError::io("read sorted lines", e))
}

/// The keyed difference of both sides' sorted lines (`None`: a side could not be
/// sorted).
fn keyed_verdict(
    key: &'static str,
    unit: &'static str,
    input: Option<SortedRecords>,
    decoded: Option<SortedRecords>,
) -> io::Result<Option<Box<KeyedDelta>>> {
    let (Some(mut input), Some(mut decoded)) = (input, decoded) else {
        return Ok(None);
    };
    keyed_delta(key, unit, &mut input, &mut decoded).map(|delta| Some(Box::new(delta)))
}

enum Verdict {
    Equal,
    BytesDiffer,
    MultisetDiffers(MultisetDelta),
}

fn open(path: &Path) -> Result<File, DumpError> {
    crate::tree::fs::open_nonblocking_regular(path, false)
        .map_err(|e| DumpError::fs(format!("compare {}", path.display()), e))
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// The offset of the first differing byte of two files (the shorter length when one
/// is a prefix of the other), or `None` when they are identical.
pub fn first_difference(a: &Path, b: &Path) -> Result<Option<u64>, DumpError> {
    let (mut fa, mut fb) = (open(a)?, open(b)?);
    let mut ba = vec![0u8; COMPARE_BUFFER];
    let mut bb = vec![0u8; COMPARE_BUFFER];
    let mut offset = 0u64;
    loop {
        let na = read_full(&mut fa, &mut ba)
            .map_err(|e| DumpError::io(format!("read {}", a.display()), e))?;
        let nb = read_full(&mut fb, &mut bb)
            .map_err(|e| DumpError::io(format!("read {}", b.display()), e))?;
        let common = na.min(nb);
        if let Some(i) = ba[..common]
            .iter()
            .zip(&bb[..common])
            .position(|(x, y)| x != y)
        {
            return Ok(Some(offset + i as u64));
        }
        if na != nb {
            return Ok(Some(offset + common as u64));
        }
        if na == 0 {
            return Ok(None);
        }
        offset += na as u64;
    }
}

/// Up to [`WINDOW`](super::semantic::WINDOW) bytes of `path` from `offset` (fewer at
/// its end).
pub(crate) fn read_window(path: &Path, offset: u64) -> Result<Vec<u8>, DumpError> {
    use std::os::unix::fs::FileExt;
    let file = open(path)?;
    let mut buf = vec![0u8; super::semantic::WINDOW];
    let mut filled = 0;
    while filled < buf.len() {
        match file.read_at(&mut buf[filled..], offset + filled as u64) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(DumpError::io(format!("read {}", path.display()), e)),
        }
    }
    buf.truncate(filled);
    Ok(buf)
}

fn bytes_equal(a: &Path, b: &Path) -> Result<bool, DumpError> {
    let la = fs::metadata(a).map_err(|e| DumpError::io(format!("stat {}", a.display()), e))?;
    let lb = fs::metadata(b).map_err(|e| DumpError::io(format!("stat {}", b.display()), e))?;
    if la.len() != lb.len() {
        return Ok(false);
    }
    Ok(first_difference(a, b)?.is_none())
}

fn compare_files(
    a: &Path,
    b: &Path,
    method: Method,
    options: &CompareOptions,
) -> Result<Verdict, DumpError> {
    if bytes_equal(a, b)? {
        return Ok(Verdict::Equal);
    }
    if method == Method::Bytes {
        return Ok(Verdict::BytesDiffer);
    }
    let sort = multiset_sort(options);
    let input = sorted_items(open(a)?, method, sort.clone()).map_err(sort_io(a))?;
    let decoded = sorted_items(open(b)?, method, sort).map_err(sort_io(b))?;
    multiset_verdict(input, decoded).map_err(|e| DumpError::io("read sorted lines", e))
}

/// The sort each side of a multiset comparison gets: half the budget.
fn multiset_sort(options: &CompareOptions) -> SortOptions {
    SortOptions {
        memory_budget: (options.sort_memory_bytes / 2).max(1 << 20),
        scratch_dir: options.scratch_dir.clone(),
    }
}

/// The verdict on two files whose bytes differ, from their sorted items (`None`: not
/// parseable as items, so only the bytes can be compared).
fn multiset_verdict(
    input: Option<SortedRecords>,
    decoded: Option<SortedRecords>,
) -> io::Result<Verdict> {
    let (Some(mut input), Some(mut decoded)) = (input, decoded) else {
        return Ok(Verdict::BytesDiffer);
    };
    let delta = multiset_delta(&mut input, &mut decoded)?;
    if delta.only_in_input == 0 && delta.only_in_decoded == 0 {
        Ok(Verdict::Equal)
    } else {
        Ok(Verdict::MultisetDiffers(delta))
    }
}

fn sort_io(path: &Path) -> impl Fn(io::Error) -> DumpError + '_ {
    move |e| DumpError::io(format!("sort the lines of {}", path.display()), e)
}

/// The lines (or canonical KEYMAP records) of `file` through the external sort;
/// `None` when the file cannot be read that way (over-long line, invalid record).
fn sorted_items(
    file: impl Read,
    method: Method,
    sort: SortOptions,
) -> io::Result<Option<SortedRecords>> {
    drain(file, ItemSpool::new(method, sort))
}

/// Every item of `file` through `items`.
fn drain(mut file: impl Read, mut items: ItemSpool) -> io::Result<Option<SortedRecords>> {
    let mut buf = vec![0u8; COMPARE_BUFFER];
    loop {
        let n = read_full(&mut file, &mut buf)?;
        if n == 0 {
            break;
        }
        items.feed(&buf[..n])?;
    }
    items.finish()
}

/// A file's items for a multiset comparison, fed in pieces as they are read (the
/// input's file) or produced (a decoded file the self-test never writes): lines split
/// at `\n` (a last line without one counts), or, for KEYMAP, each line read as a
/// record the way the encoder reads it and rendered canonically. Either way into an
/// external sort.
struct ItemSpool {
    method: Method,
    /// Lines keyed by this member ([`Shape::Keyed`]) instead of a multiset.
    keyed: Option<&'static str>,
    sorter: ExternalSorter,
    /// The current line so far.
    partial: Vec<u8>,
    /// A line too long or a record invalid: the file has no items.
    broken: bool,
}

impl ItemSpool {
    fn new(method: Method, sort: SortOptions) -> ItemSpool {
        ItemSpool {
            method,
            keyed: None,
            sorter: ExternalSorter::new(sort),
            partial: Vec::new(),
            broken: false,
        }
    }

    /// Lines as `(line_key, line)` records, for matching by `key`.
    fn keyed(key: &'static str, sort: SortOptions) -> ItemSpool {
        ItemSpool {
            keyed: Some(key),
            ..ItemSpool::new(Method::LineMultiset, sort)
        }
    }

    /// Longest line: [`MULTISET_MAX_LINE`]; a KEYMAP line and its `\n` must fit in
    /// [`KEYMAP_MAX_LINE`] (Go's scanner limit, which the encoder applies too).
    fn max_line(&self) -> usize {
        match self.method {
            Method::KeymapMultiset => KEYMAP_MAX_LINE - 1,
            _ => MULTISET_MAX_LINE,
        }
    }

    fn feed(&mut self, mut data: &[u8]) -> io::Result<()> {
        while !self.broken {
            let Some(end) = data.iter().position(|&b| b == b'\n') else {
                self.partial.extend_from_slice(data);
                if self.partial.len() > self.max_line() {
                    self.broken = true;
                }
                break;
            };
            if self.partial.is_empty() {
                self.item(&data[..end])?;
            } else {
                let mut line = std::mem::take(&mut self.partial);
                line.extend_from_slice(&data[..end]);
                self.item(&line)?;
                line.clear();
                self.partial = line;
            }
            data = &data[end + 1..];
        }
        if self.broken {
            self.partial = Vec::new();
        }
        Ok(())
    }

    fn item(&mut self, line: &[u8]) -> io::Result<()> {
        if line.len() > self.max_line() {
            self.broken = true;
            return Ok(());
        }
        if let Some(key) = self.keyed {
            return self.sorter.push(&line_key(line, key), line);
        }
        if self.method != Method::KeymapMultiset {
            return self.sorter.push(line, &[]);
        }
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        match parse_keymap_line(line) {
            Ok(record) => {
                let rendered = json::to_vec(&record, Style::JSONL);
                let rendered = rendered.strip_suffix(b"\n").unwrap_or(&rendered);
                self.sorter.push(rendered, &[])
            }
            Err(_) => {
                self.broken = true;
                Ok(())
            }
        }
    }

    /// The sorted items, or `None` when the file has none to compare.
    fn finish(mut self) -> io::Result<Option<SortedRecords>> {
        if !self.broken && !self.partial.is_empty() {
            let line = std::mem::take(&mut self.partial);
            self.item(&line)?;
        }
        if self.broken {
            return Ok(None);
        }
        self.sorter.finish().map(Some)
    }
}

fn sample(samples: &mut Vec<Vec<u8>>, line: &[u8]) {
    if samples.len() < MULTISET_SAMPLES {
        samples.push(line[..line.len().min(SAMPLE_MAX_BYTES)].to_vec());
    }
}

fn multiset_delta(a: &mut SortedRecords, b: &mut SortedRecords) -> io::Result<MultisetDelta> {
    let mut delta = MultisetDelta::default();
    merge_join(a, b, |joined| match joined {
        Joined::Left(line, _) => {
            delta.only_in_input += 1;
            sample(&mut delta.input_samples, line);
        }
        Joined::Right(line, _) => {
            delta.only_in_decoded += 1;
            sample(&mut delta.decoded_samples, line);
        }
        Joined::Both { .. } => {}
    })?;
    Ok(delta)
}

#[cfg(test)]
mod tests {
    use super::sink::tests::{compare_both, options, redis, write};
    use super::*;

    #[test]
    fn equal_trees_and_semantic_files() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        write(&a, "redis/db_0/strings/x.bin", b"1");
        write(&b, "redis/db_0/strings/x.bin", b"1");
        write(
            &a,
            "redis/db_0/strings_ttl.jsonl",
            b"{\"k\":1}\n{\"k\":2}\n",
        );
        write(
            &b,
            "redis/db_0/strings_ttl.jsonl",
            b"{\"k\":2}\n{\"k\":1}\n",
        );
        write(
            &a,
            "redis/db_0/KEYMAP.jsonl",
            b"{\"encoded\":\"a\",\"original\":\"YQ\",\"kind\":\"sha-fallback\"}\n{\"encoded\":\"b\",\"original\":\"Yg\",\"kind\":\"sha-fallback\"}\n",
        );
        write(
            &b,
            "redis/db_0/KEYMAP.jsonl",
            b"{ \"kind\":\"sha-fallback\", \"encoded\":\"b\",\"original\":\"Yg\"}\n{\"encoded\":\"a\",\"original\":\"YQ\",\"kind\":\"sha-fallback\"}\n",
        );
        // Outside the selected adapters: ignored.
        write(&a, "s3/b/x", b"1");
        let c = compare_both(&a, &b, &redis(), &options(dir.path()));
        assert!(c.matched(), "{:?}", c.diffs);
        assert_eq!(c.files_compared, 3);
        assert!(c.go_mismatch_text().is_empty());
    }

    #[test]
    fn differences_in_go_format() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        write(&a, "redis/db_0/hashes/h.json", b"{\"a\":1}");
        write(&b, "redis/db_0/hashes/h.json", b"{\"a\":2}");
        write(&a, "redis/db_0/only_a.json", b"x");
        write(&b, "redis/db_0/only_b.json", b"y");
        write(&a, "redis/db_0/hll_ttl.jsonl", b"1\n2\n2\n");
        write(&b, "redis/db_0/hll_ttl.jsonl", b"2\n1\n3\n");
        // A file on one side, a directory on the other.
        write(&a, "redis/db_0/lists", b"file");
        write(&b, "redis/db_0/lists/l.json", b"[]");
        let c = compare_both(&a, &b, &redis(), &options(dir.path()));
        assert_eq!(c.differing, 6);
        assert_eq!(
            String::from_utf8(c.go_mismatch_text()).unwrap(),
            "redis/db_0/hashes/h.json (bytes differ)\n\
             redis/db_0/hll_ttl.jsonl (bytes differ)\n\
             redis/db_0/lists (missing in scratch)\n\
             redis/db_0/lists/l.json (missing in input)\n\
             redis/db_0/only_a.json (missing in scratch)\n\
             redis/db_0/only_b.json (missing in input)\n"
        );
        let ttl = c
            .diffs
            .iter()
            .find(|d| d.rel == b"db_0/hll_ttl.jsonl")
            .unwrap();
        assert_eq!(ttl.method, Method::LineMultiset);
        let delta = ttl.multiset.as_ref().unwrap();
        assert_eq!((delta.only_in_input, delta.only_in_decoded), (1, 1));
        assert_eq!(delta.input_samples, [b"2".to_vec()]);
        assert_eq!(delta.decoded_samples, [b"3".to_vec()]);
    }

    /// Every entry that is not a directory takes part, whatever its type: a key file the
    /// encoder could have skipped (a symlink, a FIFO) can never make the trees match.
    #[test]
    fn non_regular_entries_never_match() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        write(&a, "redis/db_0/strings/x.bin", b"1");
        write(&b, "redis/db_0/strings/x.bin", b"1");
        std::os::unix::fs::symlink(
            a.join("redis/db_0/strings/x.bin"),
            a.join("redis/db_0/strings/y.bin"),
        )
        .unwrap();
        let fifo = a.join("redis/db_0/strings/z.bin");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        // Both sides have the name, one as a symlink: not the same entry.
        write(&a, "redis/db_0/hll/h.bin", b"2");
        write(&b, "redis/db_0/hll/h.bin", b"2");
        write(&b, "redis/db_0/hll/l.bin", b"2");
        std::os::unix::fs::symlink(
            a.join("redis/db_0/hll/h.bin"),
            a.join("redis/db_0/hll/l.bin"),
        )
        .unwrap();
        let c = compare_both(&a, &b, &redis(), &options(dir.path()));
        assert!(!c.matched());
        assert_eq!(
            String::from_utf8(c.go_mismatch_text()).unwrap(),
            "redis/db_0/hll/l.bin (missing in input)\n\
             redis/db_0/hll/l.bin (missing in scratch)\n\
             redis/db_0/strings/y.bin (missing in scratch)\n\
             redis/db_0/strings/z.bin (missing in scratch)\n"
        );
        // The report sizes them without following or opening them.
        let report = crate::pipeline::report::Report::from_comparison(&c, 64).unwrap();
        assert_eq!(report.differing, 4);
    }

    #[test]
    fn go_truncation_rule() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        for i in 0..70 {
            write(&a, &format!("redis/db_0/strings/{i:03}.bin"), b"1");
        }
        fs::create_dir_all(&b).unwrap();
        let mut opts = options(dir.path());
        opts.keep = 5;
        let c = compare_both(&a, &b, &redis(), &opts);
        assert_eq!(c.differing, 70);
        assert_eq!(c.diffs.len(), 5);
        assert_eq!(c.diffs[0].rel, b"db_0/strings/000.bin");
        let text = String::from_utf8(c.go_mismatch_text()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 65);
        assert_eq!(lines[0], "redis/db_0/strings/000.bin (missing in scratch)");
        assert_eq!(lines[63], "redis/db_0/strings/063.bin (missing in scratch)");
        assert_eq!(lines[64], "... (truncated; first 64 paths shown)");
    }

    #[test]
    fn first_difference_offsets() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b, c) = (
            dir.path().join("a"),
            dir.path().join("b"),
            dir.path().join("c"),
        );
        let big: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
        fs::write(&a, &big).unwrap();
        let mut other = big.clone();
        other[150_001] ^= 1;
        fs::write(&b, &other).unwrap();
        fs::write(&c, &big[..100]).unwrap();
        assert_eq!(first_difference(&a, &b).unwrap(), Some(150_001));
        assert_eq!(first_difference(&a, &c).unwrap(), Some(100));
        assert_eq!(first_difference(&a, &a).unwrap(), None);
    }

    #[test]
    fn multiset_spills_when_large() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        let lines: Vec<String> = (0..60_000)
            .map(|i| format!("{{\"key\":\"k{i}\",\"expire_at_ms\":{i}}}"))
            .collect();
        let mut rev = lines.clone();
        rev.reverse();
        write(
            &a,
            "redis/db_0/strings_ttl.jsonl",
            (lines.join("\n") + "\n").as_bytes(),
        );
        write(
            &b,
            "redis/db_0/strings_ttl.jsonl",
            (rev.join("\n") + "\n").as_bytes(),
        );
        let c = compare_both(&a, &b, &redis(), &options(dir.path()));
        assert!(c.matched());
    }
}

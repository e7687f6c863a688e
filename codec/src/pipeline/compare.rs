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

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::ffi::{OsStr, OsString};
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::adapter::{AdapterSpec, Comparison};
use crate::dispatch::Adapter;
use crate::sort::{ExternalSorter, SortOptions, SortedRecords};
use crate::tree::json::{self, Style};
use crate::tree::keymap::{KEYMAP_FILE_NAME, KeymapReader};

use super::{DumpError, Progress};

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

    fn order_key(&self) -> (Adapter, &[u8]) {
        (self.adapter, &self.rel)
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
    files: u64,
    differing: u64,
    bytes: u64,
    diffs: Smallest<ByPath>,
    go_count: u64,
    go_smallest: Smallest<Vec<u8>>,
}

impl Walk<'_> {
    fn record(&mut self, diff: FileDiff) {
        self.differing += 1;
        self.go_count += 1;
        self.go_smallest.push(diff.go_line());
        self.diffs.push(ByPath(diff));
    }

    fn seen(&mut self, bytes: u64) {
        self.files += 1;
        self.bytes += bytes;
        if self.files.is_multiple_of(1024) {
            self.progress.update(self.bytes, self.files);
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
        self.record(FileDiff {
            adapter,
            rel,
            kind: DiffKind::Differs,
            input: Some(a),
            decoded: Some(b),
            method,
            multiset,
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
    let mut walk = Walk {
        options,
        progress,
        comparison: |_| Comparison::Bytes,
        files: 0,
        differing: 0,
        bytes: 0,
        diffs: Smallest::new(options.keep),
        go_count: 0,
        go_smallest: Smallest::new(GO_MISMATCH_MAX_PATHS),
    };
    let mut go_lines = Vec::new();
    for spec in adapters {
        let adapter = spec.adapter;
        walk.comparison = spec.comparison;
        walk.go_count = 0;
        walk.go_smallest = Smallest::new(GO_MISMATCH_MAX_PATHS);
        walk.adapter(
            adapter,
            adapter_dir(input_root, adapter),
            adapter_dir(decoded_root, adapter),
        )?;
        let smallest = std::mem::replace(&mut walk.go_smallest, Smallest::new(0));
        go_lines.push((walk.go_count, smallest.into_sorted()));
    }
    walk.progress.update(walk.bytes, walk.files);
    Ok(TreeComparison {
        adapters: adapters.iter().map(|spec| spec.adapter).collect(),
        files_compared: walk.files,
        differing: walk.differing,
        diffs: walk.diffs.into_sorted().into_iter().map(|d| d.0).collect(),
        go_lines,
    })
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
    let sort = SortOptions {
        memory_budget: (options.sort_memory_bytes / 2).max(1 << 20),
        scratch_dir: options.scratch_dir.clone(),
    };
    let (Some(mut sa), Some(mut sb)) = (
        sorted_items(a, method, sort.clone())?,
        sorted_items(b, method, sort)?,
    ) else {
        // Not parseable as records: only the bytes can be compared.
        return Ok(Verdict::BytesDiffer);
    };
    let delta = multiset_delta(&mut sa, &mut sb)?;
    if delta.only_in_input == 0 && delta.only_in_decoded == 0 {
        Ok(Verdict::Equal)
    } else {
        Ok(Verdict::MultisetDiffers(delta))
    }
}

fn sort_io(path: &Path) -> impl Fn(io::Error) -> DumpError + '_ {
    move |e| DumpError::io(format!("sort the lines of {}", path.display()), e)
}

/// The file's lines (or canonical KEYMAP records) through the external sort; `None`
/// when the file cannot be read that way (over-long line, invalid record).
fn sorted_items(
    path: &Path,
    method: Method,
    sort: SortOptions,
) -> Result<Option<SortedRecords>, DumpError> {
    let mut sorter = ExternalSorter::new(sort);
    let reader = BufReader::with_capacity(COMPARE_BUFFER, open(path)?);
    if method == Method::KeymapMultiset {
        let mut records = KeymapReader::new(reader, path);
        loop {
            match records.next_record() {
                Ok(Some(record)) => {
                    let line = json::to_vec(&record, Style::JSONL);
                    let line = line.strip_suffix(b"\n").unwrap_or(&line);
                    sorter.push(line, &[]).map_err(sort_io(path))?;
                }
                Ok(None) => break,
                Err(_) => return Ok(None),
            }
        }
    } else {
        let mut reader = reader;
        let mut line = Vec::new();
        loop {
            line.clear();
            let n = (&mut reader)
                .take(MULTISET_MAX_LINE as u64 + 1)
                .read_until(b'\n', &mut line)
                .map_err(|e| DumpError::io(format!("read {}", path.display()), e))?;
            if n == 0 {
                break;
            }
            if line.last() == Some(&b'\n') {
                line.pop();
            } else if line.len() > MULTISET_MAX_LINE {
                return Ok(None);
            }
            sorter.push(&line, &[]).map_err(sort_io(path))?;
        }
    }
    Ok(Some(sorter.finish().map_err(sort_io(path))?))
}

fn sample(samples: &mut Vec<Vec<u8>>, line: &[u8]) {
    if samples.len() < MULTISET_SAMPLES {
        samples.push(line[..line.len().min(SAMPLE_MAX_BYTES)].to_vec());
    }
}

fn multiset_delta(
    a: &mut SortedRecords,
    b: &mut SortedRecords,
) -> Result<MultisetDelta, DumpError> {
    let step = |r: &mut SortedRecords| {
        r.advance()
            .map_err(|e| DumpError::io("read sorted lines", e))
    };
    let mut delta = MultisetDelta::default();
    let (mut more_a, mut more_b) = (step(a)?, step(b)?);
    while more_a || more_b {
        let order = match (
            a.current().filter(|_| more_a),
            b.current().filter(|_| more_b),
        ) {
            (Some((ka, _)), Some((kb, _))) => ka.cmp(kb),
            (Some(_), None) => Ordering::Less,
            _ => Ordering::Greater,
        };
        match order {
            Ordering::Less => {
                delta.only_in_input += 1;
                if let Some((k, _)) = a.current() {
                    sample(&mut delta.input_samples, k);
                }
                more_a = step(a)?;
            }
            Ordering::Greater => {
                delta.only_in_decoded += 1;
                if let Some((k, _)) = b.current() {
                    sample(&mut delta.decoded_samples, k);
                }
                more_b = step(b)?;
            }
            Ordering::Equal => {
                more_a = step(a)?;
                more_b = step(b)?;
            }
        }
    }
    Ok(delta)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::NoProgress;

    fn options(dir: &Path) -> CompareOptions {
        CompareOptions {
            sort_memory_bytes: 1 << 20,
            scratch_dir: dir.to_path_buf(),
            keep: 64,
        }
    }

    fn write(root: &Path, rel: &str, data: &[u8]) {
        let p = root.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, data).unwrap();
    }

    fn redis() -> Vec<&'static AdapterSpec> {
        vec![&crate::adapters::redis::SPEC]
    }

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
        let c = compare_trees(&a, &b, &redis(), &options(dir.path()), &mut NoProgress).unwrap();
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
        let c = compare_trees(&a, &b, &redis(), &options(dir.path()), &mut NoProgress).unwrap();
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
        let c = compare_trees(&a, &b, &redis(), &options(dir.path()), &mut NoProgress).unwrap();
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
        let c = compare_trees(&a, &b, &redis(), &opts, &mut NoProgress).unwrap();
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
        let c = compare_trees(&a, &b, &redis(), &options(dir.path()), &mut NoProgress).unwrap();
        assert!(c.matched());
    }
}

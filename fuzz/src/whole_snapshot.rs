//! The whole-snapshot decode an operator runs, with all four adapters enabled (the
//! default), on arbitrary input: every adapter's error paths are reachable from one
//! input. The first byte picks how the input is spent:
//!
//! * sample: rows of the bundled `samples/mixed-sample.fsm` (every adapter's), a
//!   random subset of them with up to eight bytes flipped, replaced, inserted or cut —
//!   realistic rows, often inconsistent or broken;
//! * rows: entries whose keys start with a routed prefix of any adapter (or none),
//!   with arbitrary tails, bodies, timestamps and tombstones, written unsorted so the
//!   external sort runs too; now and then a body copied from a real row of the
//!   sample, under another key;
//! * raw: a valid native header followed by arbitrary bytes.
//!
//! The decode must never panic. A failure must be a typed data error: a kebab-case
//! code, a message, exit class 2 (never `io` or a usage error: the input is a local
//! file and the output an empty scratch directory). Decoding is deterministic: a
//! second decode of the same input gives the same tree (MANIFEST's wall time aside)
//! or the same error code.

use std::fs;
use std::path::Path;
use std::sync::OnceLock;

use arbitrary::Unstructured;
use elastickv_codec::container::MAGIC;
use elastickv_codec::dispatch::{AdapterSet, TABLE};
use elastickv_codec::error::{ErrorCode, ExitClass};
use elastickv_codec::pipeline::{DecodeRequest, DumpError, NoProgress, decode_to_tree};
use elastickv_synth::model::{self, Entry, read_snapshot, write_snapshot};

/// The README's sample: all four adapters in one snapshot.
const SAMPLE: &[u8] = include_bytes!("../../samples/mixed-sample.fsm");

/// [`SAMPLE`] read, once per process: every execution draws from its rows, and
/// reading them again each time cost more than the draw. The rows are the same
/// every time, so the oracle stays a function of its input.
fn sample() -> Option<&'static model::Read> {
    static READ: OnceLock<Option<model::Read>> = OnceLock::new();
    READ.get_or_init(|| read_snapshot(SAMPLE).ok()).as_ref()
}

/// The oracle.
pub fn run(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    let input = match u.int_in_range(0u8..=2)? {
        0 => mutated_sample(u)?,
        1 => rows(u)?,
        _ => raw(u)?,
    };
    check(&input);
    Ok(())
}

/// Up to 32 of the sample's rows (any adapter's, in key order), then one to eight
/// edits anywhere after the header. A subset, not the whole sample: every execution
/// writes a tree, and 180 files per decode would starve the fuzzer.
fn mutated_sample(u: &mut Unstructured<'_>) -> arbitrary::Result<Vec<u8>> {
    let read = sample().expect("the bundled sample reads");
    let mut picked = Vec::new();
    for _ in 0..u.int_in_range(1usize..=32)? {
        picked.push(u.choose_index(read.entries.len())?);
    }
    picked.sort_unstable();
    picked.dedup();
    let entries = picked.into_iter().map(|i| &read.entries[i]);
    let mut out = write_snapshot(read.header.last_commit_ts, entries);
    for _ in 0..u.int_in_range(0u8..=8)? {
        if out.len() <= 16 {
            break;
        }
        let at = u.int_in_range(16..=out.len() - 1)?;
        match u.int_in_range(0u8..=3)? {
            0 => out[at] ^= 1 << u.int_in_range(0u8..=7)?,
            1 => out[at] = u.arbitrary()?,
            2 => out.insert(at, u.arbitrary()?),
            _ => out.truncate(at),
        }
    }
    Ok(out)
}

/// Up to 24 routed entries, in the order drawn.
fn rows(u: &mut Unstructured<'_>) -> arbitrary::Result<Vec<u8>> {
    let sample = sample().map_or(&[][..], |read| &read.entries);
    let last_commit_ts: u64 = u.arbitrary()?;
    let mut entries = Vec::new();
    for _ in 0..u.int_in_range(0usize..=24)? {
        let mut user_key = match u.int_in_range(0u8..=4)? {
            0 if !sample.is_empty() => u.choose(sample)?.user_key.clone(),
            0 | 1 => Vec::new(),
            _ => u.choose(TABLE)?.bytes.to_vec(),
        };
        let tail = u.int_in_range(0usize..=32)?;
        user_key.extend_from_slice(u.bytes(tail.min(u.len()))?);
        let body = if !sample.is_empty() && u.ratio(1u8, 3)? {
            u.choose(sample)?.body.clone()
        } else {
            let len = u.int_in_range(0usize..=96)?;
            u.bytes(len.min(u.len()))?.to_vec()
        };
        entries.push(Entry {
            user_key,
            commit_ts: u.int_in_range(0..=last_commit_ts)?,
            tombstone: u.ratio(1u8, 6)?,
            expire_at: 0,
            body,
        });
    }
    // One version per (key, timestamp), as a store holds them.
    let mut seen = std::collections::BTreeSet::new();
    entries.retain(|e| seen.insert(e.encoded_key()));
    Ok(write_snapshot(last_commit_ts, &entries))
}

/// A native header, then whatever is left.
fn raw(u: &mut Unstructured<'_>) -> arbitrary::Result<Vec<u8>> {
    let last_commit_ts: u64 = u.arbitrary()?;
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&last_commit_ts.to_le_bytes());
    out.extend_from_slice(u.bytes(u.len())?);
    Ok(out)
}

/// Decodes `input` twice with every adapter and checks the outcomes.
///
/// # Panics
/// On an untyped or non-data error, or two decodes that disagree.
pub fn check(input: &[u8]) {
    let dir = scratch().expect("scratch directory");
    let path = dir.path().join("input.fsm");
    fs::write(&path, input).expect("write the input");
    let first = decode(&path, &dir.path().join("a"));
    let second = decode(&path, &dir.path().join("b"));
    match (first, second) {
        (Ok(()), Ok(())) => {
            let (a, b) = (tree(&dir.path().join("a")), tree(&dir.path().join("b")));
            assert!(a == b, "two decodes of the same input gave different trees");
        }
        (Err(a), Err(b)) => {
            typed(&a);
            assert_eq!(a.code(), b.code(), "two decodes failed differently");
        }
        (a, b) => panic!(
            "one decode succeeded, the other failed: {:?} / {:?}",
            a.err().map(|e| e.to_string()),
            b.err().map(|e| e.to_string())
        ),
    }
}

/// A scratch directory, in memory when the machine has `/dev/shm`: the decode fsyncs
/// MANIFEST.json and CHECKSUMS, which on a disk costs more than the decode itself.
fn scratch() -> std::io::Result<tempfile::TempDir> {
    let shm = Path::new("/dev/shm");
    match tempfile::tempdir_in(shm) {
        Ok(dir) if shm.is_dir() => Ok(dir),
        _ => tempfile::tempdir(),
    }
}

fn decode(input: &Path, output: &Path) -> Result<(), DumpError> {
    let mut request = DecodeRequest::new(input, output, AdapterSet::ALL);
    request.source_fsm_path = Some("input.fsm".into());
    request.jobs = 1;
    // Small enough that a few dozen rows spill: the external sort's paths run too.
    request.sort_memory_bytes = 4096;
    decode_to_tree(&request, &mut NoProgress).map(|_| ())
}

fn typed(error: &DumpError) {
    let code = error.code();
    assert!(
        !code.is_empty()
            && code
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
        "code {code:?} is not kebab-case: {error}"
    );
    assert!(!error.to_string().is_empty(), "{code}: empty message");
    assert!(
        code != "io" && error.exit_class() == ExitClass::Data,
        "input data gave a non-data error [{code}]: {error}"
    );
}

/// Every file below `root` (relative path → bytes), MANIFEST's wall time and the
/// CHECKSUMS line that hashes MANIFEST left out.
fn tree(root: &Path) -> Vec<(String, Vec<u8>)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
        let mut entries: Vec<_> = fs::read_dir(dir)
            .expect("list a decoded directory")
            .map(|e| e.expect("list a decoded directory").path())
            .collect();
        entries.sort();
        for path in entries {
            let rel = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .to_string_lossy()
                .into_owned();
            if path.is_dir() {
                out.push((rel, Vec::new()));
                walk(root, &path, out);
            } else {
                let bytes = fs::read(&path).expect("read a decoded file");
                out.push((
                    rel,
                    without_lines(&bytes, &["\"wall_time_iso\"", "  MANIFEST.json"]),
                ));
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out
}

/// `bytes` without the lines containing any of `needles` (text files only matter).
fn without_lines(bytes: &[u8], needles: &[&str]) -> Vec<u8> {
    let text = String::from_utf8_lossy(bytes);
    if !needles.iter().any(|n| text.contains(n)) {
        return bytes.to_vec();
    }
    text.lines()
        .filter(|l| !needles.iter().any(|n| l.contains(n)))
        .flat_map(|l| [l, "\n"])
        .collect::<String>()
        .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smoke() {
        crate::test_n_times(200, run);
    }

    /// The unmutated sample decodes (so the mutations start from a valid snapshot).
    #[test]
    fn the_sample_decodes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.fsm");
        fs::write(&path, SAMPLE).unwrap();
        decode(&path, &dir.path().join("out")).unwrap();
        assert!(dir.path().join("out/sqs").is_dir());
        assert!(dir.path().join("out/s3").is_dir());
        assert!(dir.path().join("out/dynamodb").is_dir());
        assert!(dir.path().join("out/redis").is_dir());
    }
}

//! Dump tree → published snapshot (docs/format.md §6.1, §6.6, §7.2).
//!
//! The snapshot is streamed through the external sort into `<output>.tmp-<16 hex>`
//! (mode 0600, never an existing file), fsync'd, optionally decoded back from disk and
//! compared with the input, and only then renamed over `<output>`; the directory is
//! fsync'd and `<output>.encode_info.json` written last. Whatever fails before the
//! rename leaves `<output>` as it was and no temporary file; a sidecar failure after
//! it rolls the output back. The temporary file and the rename are [`super::publish`]'s.
//!
//! All of it happens under the output's lock ([`OutputLock::beside`]): a second run on
//! the same output fails with `output-busy` before it changes anything, and the run
//! that holds the lock first removes what a killed run of the same output left
//! ([`super::leftovers`]).

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::adapter::{AdapterSpec, DecodeFlags, Warnings};
use crate::assemble::{EncodeError, encode_tree_observed};
use crate::dispatch::AdapterSet;
use crate::sort::SortOptions;
use crate::tree::fs::{FsError, PRIVATE_FILE_MODE, open_sidecar, sync_dir};
use crate::tree::lock::OutputLock;
use crate::tree::manifest::{MANIFEST_FILE_NAME, Manifest};
use crate::tree::publish::{Existing, PendingFile, TempName, parent_dir};
use crate::tree::walltime::WallTime;

use super::adapters::{names, require_supported};
use super::encode_info::{EncodeInfo, SelfTestInfo, encode_info_path, mismatch_path};
use super::leftovers;
use super::selftest::{SelfTestOutcome, SelfTestPlan, run_self_test};
use super::{
    DEFAULT_REPORT_CAP, DEFAULT_SORT_MEMORY, DumpError, PRODUCER_VERSION, Progress, SelfTestFailure,
};

/// What to encode, and how.
#[derive(Debug, Clone)]
pub struct EncodeRequest {
    /// The dump root (with MANIFEST.json).
    pub input: PathBuf,
    /// The `.fsm` to publish.
    pub output: PathBuf,
    /// Adapters to encode; each must be enabled in the manifest.
    pub adapters: AdapterSet,
    /// `--last-commit-ts`: must not be below the manifest's.
    pub last_commit_ts: Option<u64>,
    /// `--self-test`.
    pub self_test: bool,
    /// Scratch space for the sort and the self-test (default: the system temp dir).
    pub scratch_root: Option<PathBuf>,
    /// Memory budget of the external sort.
    pub sort_memory_bytes: usize,
    /// Differing files detailed in the self-test report.
    pub report_cap: usize,
}

impl EncodeRequest {
    /// A request with defaults for everything but the paths and adapters.
    pub fn new(
        input: impl Into<PathBuf>,
        output: impl Into<PathBuf>,
        adapters: AdapterSet,
    ) -> Self {
        EncodeRequest {
            input: input.into(),
            output: output.into(),
            adapters,
            last_commit_ts: None,
            self_test: false,
            scratch_root: None,
            sort_memory_bytes: DEFAULT_SORT_MEMORY,
            report_cap: DEFAULT_REPORT_CAP,
        }
    }
}

/// What a successful encode published.
#[derive(Debug, Clone)]
pub struct EncodeOutcome {
    /// Entries written.
    pub entries: u64,
    /// Bytes written.
    pub bytes: u64,
    /// Lowercase hex SHA-256 of the published bytes.
    pub sha256: String,
    /// The input manifest.
    pub manifest: Manifest,
    /// The sidecar that was written.
    pub encode_info: EncodeInfo,
    /// Where.
    pub encode_info_path: PathBuf,
    /// The self-test, when it ran (then it matched).
    pub self_test: Option<SelfTestOutcome>,
    /// What the run found and did besides encoding: the leftovers of a killed earlier
    /// run of this output that it removed (`stale_temp_removed`,
    /// `stale_self_test_removed`) or could not remove (`stale_*_kept`).
    pub warnings: Warnings,
    /// Wall-clock time of the whole encode.
    pub elapsed: Duration,
}

/// A hook called with the temporary file's path.
pub type TempHook<'a> = &'a mut dyn FnMut(&Path) -> io::Result<()>;

/// Test hooks into the publish sequence.
#[derive(Default)]
pub struct EncodeHooks<'a> {
    /// Runs after the temporary file is written and fsync'd, before the self-test and
    /// the rename; an error aborts the encode as a write failure would.
    pub after_temp_write: Option<TempHook<'a>>,
}

/// `--last-commit-ts`: surrounding spaces trimmed, `0x`/`0X` then hex, else decimal;
/// strict (no sign, no separators, no overflow), as Go's `strconv.ParseUint`.
pub fn parse_last_commit_ts(raw: &str) -> Result<u64, DumpError> {
    let s = raw.trim();
    if s.is_empty() {
        return Err(DumpError::usage(
            "invalid-last-commit-ts",
            "--last-commit-ts is empty",
        ));
    }
    let (digits, radix, what) = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => (hex, 16, "hex"),
        None => (s, 10, "decimal"),
    };
    let fail = |reason: &str| {
        DumpError::usage(
            "invalid-last-commit-ts",
            format!("--last-commit-ts {what} parse: parsing {digits:?}: {reason}"),
        )
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return Err(fail("invalid syntax"));
    }
    u64::from_str_radix(digits, radix).map_err(|_| fail("value out of range"))
}

/// The manifest checks shared by encode and `verify --round-trip`.
pub(crate) struct Plan {
    pub(crate) manifest: Manifest,
    pub(crate) last_commit_ts: u64,
    pub(crate) overridden: bool,
}

pub(crate) fn plan(
    input: &Path,
    adapters: &[&AdapterSpec],
    requested_ts: Option<u64>,
) -> Result<Plan, DumpError> {
    let manifest =
        Manifest::read_file(&input.join(MANIFEST_FILE_NAME)).map_err(DumpError::ReadManifest)?;
    let scopes = manifest.adapters.clone().unwrap_or_default();
    for spec in adapters {
        if scopes.slot(spec.adapter).is_none() {
            return Err(DumpError::AdapterNotInManifest(spec.adapter.name()));
        }
    }
    let (last_commit_ts, overridden) = match requested_ts {
        None => (manifest.last_commit_ts, false),
        Some(t) if t < manifest.last_commit_ts => {
            return Err(DumpError::LastCommitTsRegression {
                requested: t,
                manifest: manifest.last_commit_ts,
            });
        }
        Some(t) => (t, true),
    };
    check_producer_modes(&manifest, adapters)?;
    Ok(Plan {
        manifest,
        last_commit_ts,
        overridden,
    })
}

/// Producer modes whose output the encoder cannot reverse, refused when their adapter
/// is selected (Go's `validateEncodeOptions*`): each adapter lists its own.
pub(crate) fn check_producer_modes(
    m: &Manifest,
    adapters: &[&AdapterSpec],
) -> Result<(), DumpError> {
    let refused = adapters
        .iter()
        .flat_map(|spec| spec.refused_producer_modes)
        .find(|mode| (mode.is_on)(m));
    match refused {
        Some(mode) => Err(DumpError::UnsupportedProducerMode {
            code: mode.code,
            message: mode.message,
        }),
        None => Ok(()),
    }
}

/// Hashes, counts and reports what passes through.
struct HashingWriter<'p, W: Write> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
    next_report: u64,
    progress: &'p mut dyn Progress,
}

const WRITE_REPORT_EVERY: u64 = 4 << 20;

impl<W: Write> Write for HashingWriter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        if self.bytes >= self.next_report {
            self.progress.update(self.bytes, 0);
            self.next_report = self.bytes + WRITE_REPORT_EVERY;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

pub(crate) struct Written {
    pub(crate) entries: u64,
    pub(crate) bytes: u64,
    pub(crate) sha256: String,
}

/// Encodes the tree into `file` (fsync'd before returning).
pub(crate) fn write_snapshot(
    input: &Path,
    adapters: &[&AdapterSpec],
    last_commit_ts: u64,
    sort: SortOptions,
    file: File,
    progress: &mut dyn Progress,
) -> Result<Written, DumpError> {
    progress.phase("reading tree", None);
    let mut framed = 0u64;
    let builder = encode_tree_observed(
        input,
        adapters,
        last_commit_ts,
        sort,
        &mut |records, bytes| {
            framed = bytes;
            progress.update(bytes, records);
        },
    )
    .map_err(DumpError::Encode)?;
    let total = framed + 16;
    progress.phase("writing snapshot", Some(total));
    let mut writer = HashingWriter {
        inner: BufWriter::with_capacity(1 << 20, file),
        hasher: Sha256::new(),
        bytes: 0,
        next_report: 0,
        progress,
    };
    let summary = builder
        .write_to(&mut writer)
        .map_err(|e| DumpError::Encode(EncodeError::Build(e)))?;
    writer
        .flush()
        .map_err(|e| DumpError::io("write snapshot", e))?;
    writer.progress.update(writer.bytes, summary.entries);
    let sha256 = hex::encode(writer.hasher.finalize());
    let file = writer
        .inner
        .into_inner()
        .map_err(|e| DumpError::io("write snapshot", e.into_error()))?;
    file.sync_all()
        .map_err(|e| DumpError::io("fsync snapshot", e))?;
    Ok(Written {
        entries: summary.entries,
        bytes: summary.bytes,
        sha256,
    })
}

/// Writes a sidecar through [`open_sidecar`] (no links, no FIFOs, mode 0600), fsync'd
/// with its directory. The flag says whether this run truncated the file (and so may
/// remove it on rollback).
fn write_sidecar(path: &Path, bytes: &[u8]) -> Result<(), (bool, FsError)> {
    let mut file = open_sidecar(path).map_err(|e| (false, e))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| (true, FsError::io(path, e)))?;
    drop(file);
    sync_dir(parent_dir(path)).map_err(|e| (true, e))
}

/// After a mismatch: no restore-visible snapshot may stay at `<output>`; a regular
/// file or a link is removed, anything else (a directory the operator named by
/// mistake) is left alone.
fn remove_stale_output(output: &Path, notes: &mut Vec<String>) {
    match fs::symlink_metadata(output) {
        Ok(meta) if meta.file_type().is_file() || meta.file_type().is_symlink() => {
            if let Err(e) = fs::remove_file(output) {
                notes.push(format!("could not remove stale {}: {e}", output.display()));
            }
        }
        Ok(_) => notes.push(format!(
            "left {} alone: not a regular file or symlink",
            output.display()
        )),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => notes.push(format!("could not stat {}: {e}", output.display())),
    }
}

/// Encodes `request.input` and publishes `request.output` with its ENCODE_INFO.
pub fn encode_to_file(
    request: &EncodeRequest,
    progress: &mut dyn Progress,
) -> Result<EncodeOutcome, DumpError> {
    encode_to_file_with_hooks(request, progress, EncodeHooks::default())
}

/// [`encode_to_file`] with test hooks.
pub fn encode_to_file_with_hooks(
    request: &EncodeRequest,
    progress: &mut dyn Progress,
    hooks: EncodeHooks<'_>,
) -> Result<EncodeOutcome, DumpError> {
    let result = encode_inner(request, progress, hooks);
    progress.finish();
    result
}

fn encode_inner(
    request: &EncodeRequest,
    progress: &mut dyn Progress,
    mut hooks: EncodeHooks<'_>,
) -> Result<EncodeOutcome, DumpError> {
    let started = Instant::now();
    let specs = require_supported(request.adapters)?;
    super::check_scratch_root(request.scratch_root.as_deref())?;
    let plan = plan(&request.input, &specs, request.last_commit_ts)?;
    let output = &request.output;
    // Held until the sidecar is written (dropped on return); nothing next to the
    // output is touched before it is taken.
    let lock = OutputLock::beside(output).map_err(|e| DumpError::fs("lock output", e))?;
    let scratch_root = request
        .scratch_root
        .clone()
        .unwrap_or_else(std::env::temp_dir);
    let mut warnings = Warnings::default();
    leftovers::remove_stale_temps(output, &mut warnings);
    // The self-test writes no scratch tree any more; a killed run of an earlier build
    // may have left one.
    let scratch_prefix = leftovers::self_test_prefix(&lock.tag());
    leftovers::remove_stale_self_tests(&scratch_root, &scratch_prefix, &mut warnings);
    let mismatch = mismatch_path(output);
    // A stale list from an earlier run must not describe this one.
    let _ = fs::remove_file(&mismatch);
    let (file, pending) = PendingFile::create(
        output,
        TempName::Suffixed,
        PRIVATE_FILE_MODE,
        Existing::Replace,
    )
    .map_err(DumpError::publish)?;
    let temp_path = pending.temp_path().to_path_buf();
    let sort = SortOptions {
        memory_budget: request.sort_memory_bytes,
        scratch_dir: scratch_root.clone(),
    };
    let written = write_snapshot(
        &request.input,
        &specs,
        plan.last_commit_ts,
        sort,
        file,
        progress,
    )?;
    if let Some(hook) = hooks.after_temp_write.as_mut() {
        hook(&temp_path).map_err(|e| DumpError::io(format!("write {}", temp_path.display()), e))?;
    }
    let self_test = if request.self_test {
        let outcome = run_self_test(
            &SelfTestPlan {
                fsm: &temp_path,
                input_root: &request.input,
                adapters: &specs,
                flags: &DecodeFlags::of_manifest(&plan.manifest),
                last_commit_ts: plan.last_commit_ts,
                scratch_root: &scratch_root,
                sort_memory_bytes: request.sort_memory_bytes,
                report_cap: request.report_cap,
            },
            progress,
        )?;
        Some(outcome)
    } else {
        None
    };
    let mut info = EncodeInfo::new(WallTime::now());
    info.encoder_version = PRODUCER_VERSION.to_owned();
    info.input_root = request.input.to_string_lossy().into_owned();
    info.output_fsm_path = output.to_string_lossy().into_owned();
    info.output_fsm_sha256 = written.sha256.clone();
    info.last_commit_ts = plan.last_commit_ts;
    info.last_commit_ts_overridden = plan.overridden;
    info.manifest_last_commit_ts = plan.manifest.last_commit_ts;
    info.manifest_cluster_id = plan.manifest.cluster_id.clone();
    info.adapters_enabled = names(request.adapters)
        .into_iter()
        .map(String::from)
        .collect();
    info.self_test = SelfTestInfo {
        ran: self_test.is_some(),
        matched: self_test.as_ref().is_some_and(SelfTestOutcome::matched),
    };
    let info_path = encode_info_path(output);

    if let Some(outcome) = self_test.as_ref().filter(|o| !o.matched()) {
        let mut notes = Vec::new();
        let mut mismatch_written = true;
        match open_sidecar(&mismatch) {
            Ok(mut f) => {
                if let Err(e) = f.write_all(&outcome.mismatch_txt) {
                    notes.push(format!("write {}: {e}", mismatch.display()));
                    mismatch_written = false;
                }
            }
            Err(e) => {
                notes.push(format!("write {}: {e}", mismatch.display()));
                mismatch_written = false;
            }
        }
        remove_stale_output(output, &mut notes);
        drop(pending);
        if let Err((_, e)) = write_sidecar(&info_path, &info.to_bytes()) {
            notes.push(format!("write {}: {e}", info_path.display()));
        }
        return Err(DumpError::SelfTestMismatch(Box::new(SelfTestFailure {
            mismatch_path: Some(mismatch).filter(|_| mismatch_written),
            outcome: outcome.clone(),
            notes,
        })));
    }

    pending.publish(true).map_err(DumpError::publish)?;
    if let Err((truncated, e)) = write_sidecar(&info_path, &info.to_bytes()) {
        // A .fsm without its provenance must not look like a finished encode.
        let _ = fs::remove_file(output);
        if truncated {
            let _ = fs::remove_file(&info_path);
        }
        return Err(DumpError::Sidecar(e));
    }
    Ok(EncodeOutcome {
        entries: written.entries,
        bytes: written.bytes,
        sha256: written.sha256,
        manifest: plan.manifest,
        encode_info: info,
        encode_info_path: info_path,
        self_test,
        warnings,
        elapsed: started.elapsed(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dispatch::Adapter;
    use crate::error::ErrorCode;
    use crate::pipeline::NoProgress;
    use crate::tree::manifest::{self, Adapters, Source};
    use std::fs::OpenOptions;

    const T: u64 = 1_000_000;

    /// A minimal Redis dump tree with a manifest.
    fn tree(root: &Path) {
        let strings = root.join("redis/db_0/strings");
        fs::create_dir_all(&strings).unwrap();
        fs::write(strings.join("a.bin"), b"alpha").unwrap();
        fs::write(strings.join("b.bin"), b"bravo").unwrap();
        let mut m = Manifest::new_phase0(WallTime::parse_rfc3339("2026-01-02T03:04:05Z").unwrap());
        m.last_commit_ts = T;
        m.source = Some(Source::default());
        m.adapters = Some(Adapters {
            redis: Some(manifest::Adapter::default()),
            ..Adapters::default()
        });
        m.write_file(root).unwrap();
    }

    fn setup() -> (tempfile::TempDir, EncodeRequest) {
        let dir = tempfile::tempdir().unwrap();
        tree(&dir.path().join("tree"));
        let redis: AdapterSet = [Adapter::Redis].into_iter().collect();
        let mut request =
            EncodeRequest::new(dir.path().join("tree"), dir.path().join("out.fsm"), redis);
        request.scratch_root = Some(dir.path().to_path_buf());
        (dir, request)
    }

    fn temp_files(dir: &Path) -> Vec<String> {
        fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".tmp-") || n.starts_with("encode-self-test-"))
            .collect()
    }

    #[test]
    fn failure_after_the_temp_write_publishes_nothing() {
        let (dir, request) = setup();
        let d = dir.path();
        // What an earlier run published stays as it was.
        fs::write(d.join("out.fsm"), b"earlier").unwrap();
        fs::write(d.join("out.fsm.encode_info.json"), b"earlier info").unwrap();
        let mut seen = None;
        let mut hook = |temp: &Path| -> io::Result<()> {
            let bytes = fs::read(temp)?;
            seen = Some((temp.to_path_buf(), bytes));
            Err(io::Error::other("injected failure"))
        };
        let err = encode_to_file_with_hooks(
            &request,
            &mut NoProgress,
            EncodeHooks {
                after_temp_write: Some(&mut hook),
            },
        )
        .unwrap_err();
        assert_eq!(err.code(), "io");
        assert!(err.to_string().contains("injected failure"));
        let (temp, bytes) = seen.unwrap();
        let name = temp.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.starts_with("out.fsm.tmp-") && name.len() == "out.fsm.tmp-".len() + 16);
        assert!(
            bytes.starts_with(b"EKVPBBL1"),
            "the hook saw the complete stream"
        );
        assert!(!temp.exists());
        assert!(temp_files(d).is_empty());
        assert_eq!(fs::read(d.join("out.fsm")).unwrap(), b"earlier");
        assert_eq!(
            fs::read(d.join("out.fsm.encode_info.json")).unwrap(),
            b"earlier info"
        );
        // The same request without the failure publishes.
        let outcome = encode_to_file(&request, &mut NoProgress).unwrap();
        assert_eq!(outcome.entries, 2);
        assert_eq!(fs::read(d.join("out.fsm")).unwrap(), bytes);
        assert_eq!(outcome.sha256, hex::encode(Sha256::digest(&bytes)));
    }

    #[test]
    fn corrupted_temp_file_fails_the_self_test() {
        let (dir, mut request) = setup();
        let d = dir.path();
        request.self_test = true;
        let mut hook = |temp: &Path| -> io::Result<()> {
            let f = OpenOptions::new().write(true).open(temp)?;
            f.set_len(20)
        };
        let err = encode_to_file_with_hooks(
            &request,
            &mut NoProgress,
            EncodeHooks {
                after_temp_write: Some(&mut hook),
            },
        )
        .unwrap_err();
        assert_eq!(err.code(), "self-test-mismatch");
        assert_eq!(err.go_encode_exit_code(), 2);
        let DumpError::SelfTestMismatch(failure) = &err else {
            panic!("{err}");
        };
        assert!(failure.notes.is_empty(), "{:?}", failure.notes);
        let text = fs::read_to_string(d.join("out.fsm.mismatch.txt")).unwrap();
        assert!(
            text.starts_with("self-test failed: DecodeSnapshot rejected the produced .fsm: "),
            "{text}"
        );
        assert!(!text.ends_with('\n'));
        assert!(!d.join("out.fsm").exists());
        assert!(temp_files(d).is_empty());
        let info = fs::read_to_string(d.join("out.fsm.encode_info.json")).unwrap();
        assert!(
            info.contains("\"ran\": true,\n    \"matched\": false"),
            "{info}"
        );
    }

    #[test]
    fn last_commit_ts_is_strict() {
        assert_eq!(parse_last_commit_ts(" 42 ").unwrap(), 42);
        assert_eq!(parse_last_commit_ts("0xFF").unwrap(), 255);
        assert_eq!(parse_last_commit_ts("0X0a").unwrap(), 10);
        assert_eq!(
            parse_last_commit_ts("18446744073709551615").unwrap(),
            u64::MAX
        );
        for bad in ["+5", "-1", "1_000", "0x", "0xZZ", "100oops", "1e3", "0x+1"] {
            let e = parse_last_commit_ts(bad).unwrap_err();
            assert_eq!(e.code(), "invalid-last-commit-ts", "{bad}");
            assert!(e.to_string().contains("invalid syntax"), "{bad}: {e}");
        }
        let e = parse_last_commit_ts("18446744073709551616").unwrap_err();
        assert_eq!(
            e.to_string(),
            "--last-commit-ts decimal parse: parsing \"18446744073709551616\": value out of range"
        );
        let e = parse_last_commit_ts("0x1ffffffffffffffff").unwrap_err();
        assert!(e.to_string().starts_with("--last-commit-ts hex parse:"));
        assert_eq!(
            parse_last_commit_ts("  ").unwrap_err().to_string(),
            "--last-commit-ts is empty"
        );
    }
}

//! Snapshot → complete dump tree.

use std::fs;
use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::adapter::{AdapterDecoder, AdapterSpec, DecodeFlags, DecoderSettings, Warnings};
use crate::container::Footer;
use crate::container::offload::{self, OffloadError, OffloadManifest};
use crate::dispatch::AdapterSet;
use crate::mvcc::AsOf;
use crate::scan::{self, DecodeError, Scan, ScanOptions};
use crate::sort::SortOptions;
use crate::tree::checksums::{CHECKSUMS_FILE_NAME, ChecksumsError, write_checksums_from};
use crate::tree::fs::{CREATE_FILE_MODE, DIR_MODE, FsErrorKind};
use crate::tree::lock::OutputLock;
use crate::tree::manifest::{self, Adapters, MANIFEST_FILE_NAME, Manifest, ManifestError, Source};
use crate::tree::sink::TreeSink;
use crate::tree::walltime::WallTime;
use crate::tree::writer::TreeWriter;

use super::adapters::{decoders_for, require_supported, set_of};
use super::progress::ScanProgress;
use super::{DEFAULT_SORT_MEMORY, DumpError, PRODUCER_VERSION, Progress};

/// Name of the default scratch directory inside the output root (the Go decoder's).
pub(crate) const SCRATCH_DIR_NAME: &str = ".scratch";

/// What to decode, and how.
#[derive(Debug, Clone)]
pub struct DecodeRequest {
    /// The snapshot file.
    pub input: PathBuf,
    /// The output root: must not exist or be an empty directory.
    pub output: PathBuf,
    /// Adapters to decode.
    pub adapters: AdapterSet,
    /// Stamped into MANIFEST `cluster_id`.
    pub cluster_id: String,
    /// Producer flags, stamped into MANIFEST (`exclusions`, `dynamodb_layout`).
    pub flags: DecodeFlags,
    /// Where unsorted input is sorted; default `<output>/.scratch` (removed afterwards).
    pub scratch_root: Option<PathBuf>,
    /// Memory budget of that sort.
    pub sort_memory_bytes: usize,
    /// What MANIFEST `source.fsm_path` records instead of `input`, when the input is a
    /// scratch file whose name would mean nothing later (`generate --tree` records the
    /// command that regenerates it).
    pub source_fsm_path: Option<String>,
    /// Decode a runtime (`EKVTHLC*`) file that lacks its CRC32C footer instead of
    /// refusing it (`snapshot-footer-missing`); the outcome then carries a
    /// `snapshot_footer_missing` warning (docs/format.md §1.2).
    pub allow_missing_footer: bool,
    /// Threads writing whole files (`--jobs`); the tree is the same for every value.
    pub jobs: usize,
    /// `--offload-manifest`: the input is a footer-less `offload publish` payload,
    /// vouched for by this manifest's length, SHA-256 and CRC32C (docs/format.md §1.5).
    pub offload_manifest: Option<PathBuf>,
    /// `--as-of`: decode the state at this cut instead of the newest (docs/format.md §2.5).
    pub as_of: Option<AsOf>,
}

impl DecodeRequest {
    /// A request with the Go decoder's defaults for everything but the paths and adapters.
    pub fn new(
        input: impl Into<PathBuf>,
        output: impl Into<PathBuf>,
        adapters: AdapterSet,
    ) -> Self {
        DecodeRequest {
            input: input.into(),
            output: output.into(),
            adapters,
            cluster_id: String::new(),
            flags: DecodeFlags::default(),
            scratch_root: None,
            sort_memory_bytes: DEFAULT_SORT_MEMORY,
            source_fsm_path: None,
            allow_missing_footer: false,
            jobs: super::default_jobs(),
            offload_manifest: None,
            as_of: None,
        }
    }
}

/// What a successful decode produced.
#[derive(Debug, Clone)]
pub struct DecodeOutcome {
    /// Counters, visibility statistics, header and footer.
    pub scan: Scan,
    /// Non-fatal findings, in the order they were raised.
    pub warnings: Warnings,
    /// The MANIFEST.json that was written.
    pub manifest: Manifest,
    /// Files listed in CHECKSUMS.
    pub files: u64,
    /// Wall-clock time of the whole decode.
    pub elapsed: Duration,
}

/// Decodes `request.input` into a complete tree at `request.output`: the adapters'
/// files, then MANIFEST.json, then CHECKSUMS (both fsync'd), so a tree with CHECKSUMS
/// is complete. On failure the partial tree is left for inspection without either.
pub fn decode_to_tree(
    request: &DecodeRequest,
    progress: &mut dyn Progress,
) -> Result<DecodeOutcome, DumpError> {
    let started = Instant::now();
    let specs = require_supported(request.adapters)?;
    super::check_scratch_root(request.scratch_root.as_deref())?;
    // The input is checked before anything is created: a missing or non-regular input
    // must not leave an empty output tree behind.
    scan::open_input(&request.input)
        .map_err(|e| DumpError::fs(format!("decode {}", request.input.display()), e))?;
    let offload = check_live_input(request).map_err(|source| DumpError::Input {
        input: request.input.clone(),
        source,
    })?;
    // Held until CHECKSUMS is written (dropped on return): a second decode into the
    // same output fails with `output-busy` instead of interleaving with this one.
    let _lock = lock_output(&request.output)?;
    let default_scratch = request.output.join(SCRATCH_DIR_NAME);
    let scratch = request
        .scratch_root
        .clone()
        .unwrap_or_else(|| default_scratch.clone());
    let decoded = decode_into(
        DecodeInput {
            path: &request.input,
            cut: request.as_of.as_ref().map(|a| a.ts),
        },
        &TreeOutput {
            root: &request.output,
            scratch: &scratch,
        },
        &specs,
        &request.flags,
        &Budget {
            scratch: &scratch,
            sort_memory_bytes: request.sort_memory_bytes,
            jobs: request.jobs,
        },
        progress,
        "",
    )
    .and_then(|mut decoded| {
        match &offload {
            Some(manifest) => {
                check_decoded_payload(&decoded.scan, &request.input, manifest)?;
                // The manifest's CRC32C stands in for the footer `publish` cut off.
                decoded.scan.footer = Some(Footer::Verified {
                    crc32c: manifest.source_crc32c,
                });
            }
            None => scan::check_footer(
                &decoded.scan,
                request.allow_missing_footer,
                &mut decoded.warnings,
            )?,
        }
        if let Some(as_of) = &request.as_of {
            scan::check_cut_against_retention(as_of, &decoded.scan)?;
        }
        Ok(decoded)
    });
    // Only anonymous run files ever live there (the digests' too, until CHECKSUMS is
    // written); an error means it never existed.
    let remove_scratch = || {
        if request.scratch_root.is_none() {
            let _ = fs::remove_dir(&default_scratch);
        }
    };
    if decoded.is_err() {
        remove_scratch();
    }
    let Decoded {
        scan,
        warnings,
        tree,
    } = decoded.map_err(|source| {
        progress.finish();
        DumpError::Decode {
            input: request.input.clone(),
            output: request.output.clone(),
            source,
        }
    })?;
    let mut manifest = build_manifest(request, &scan);
    if let Some(offload) = &offload {
        manifest.snapshot_index = offload.snapshot_index;
    }
    progress.phase("writing MANIFEST.json and CHECKSUMS", None);
    let written = write_manifest(&tree, &manifest)
        .map_err(|source| DumpError::WriteManifest {
            output: request.output.clone(),
            source,
        })
        .and_then(|()| {
            finish_tree(tree).map_err(|source| DumpError::WriteChecksums {
                source,
                incomplete: remove_manifest(&request.output),
            })
        });
    remove_scratch();
    progress.finish();
    written?;
    let files = count_lines(&request.output.join(CHECKSUMS_FILE_NAME))?;
    Ok(DecodeOutcome {
        scan,
        warnings,
        manifest,
        files,
        elapsed: started.elapsed(),
    })
}

/// The checks a live input allows before anything is written: an offload payload
/// against its manifest, and a `--as-of` cut against the snapshot's last commit.
fn check_live_input(request: &DecodeRequest) -> Result<Option<OffloadManifest>, DecodeError> {
    if let Some(as_of) = &request.as_of {
        let header = scan::read_header(&request.input)?;
        scan::check_cut_against_header(as_of, &header)?;
    }
    let Some(path) = &request.offload_manifest else {
        return Ok(None);
    };
    let manifest = offload::read_offload_manifest(path)?;
    offload::verify_payload(&request.input, &manifest)?;
    Ok(Some(manifest))
}

/// The payload was verified before decoding; this checks that the bytes decoded are
/// the ones verified (the file cannot have changed in between) and that they ended
/// where a footer-less payload ends.
///
/// # Errors
/// [`DecodeError::Offload`] when the CRC32C differs or the file had its own footer.
pub fn check_decoded_payload(
    scan: &Scan,
    input: &Path,
    manifest: &OffloadManifest,
) -> Result<(), DecodeError> {
    let got = scan.unfootered_crc32c;
    if got == Some(manifest.source_crc32c) {
        return Ok(());
    }
    Err(DecodeError::from(OffloadError::Mismatch {
        payload: input.to_path_buf(),
        manifest: manifest.path.clone(),
        what: "CRC32C of the bytes decoded",
        got: got.map_or_else(
            || "unknown (the file ends with a CRC32C footer of its own)".to_owned(),
            |crc| format!("{crc:#010x}"),
        ),
        want: format!("{:#010x}", manifest.source_crc32c),
    }))
}

/// After CHECKSUMS failed: removes the MANIFEST.json written just before, so the
/// tree carries neither file (only a tree with both is complete); says so, and what
/// became of MANIFEST.json, for the error message.
fn remove_manifest(output: &Path) -> String {
    let path = output.join(MANIFEST_FILE_NAME);
    let what = match fs::remove_file(&path) {
        Ok(()) => "MANIFEST.json was removed again and no CHECKSUMS was written".to_owned(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            "no MANIFEST.json or CHECKSUMS was written".to_owned()
        }
        Err(e) => format!(
            "no CHECKSUMS was written, and {} could not be removed ({e}): do not use this tree",
            path.display()
        ),
    };
    format!("{} is incomplete: {what}", output.display())
}

/// `--output` must not exist (it is created, mode 0755) or be an empty directory.
/// Merging into an old tree, as the Go decoder does, would list stale files in
/// CHECKSUMS as if this snapshot had produced them. Public so a caller that must do
/// slow work before decoding (`generate --tree`) can refuse a bad output first. It
/// takes no lock: [`decode_to_tree`] locks the directory and checks it again.
///
/// # Errors
/// `output-not-empty`, or the I/O error of the stat, read or create.
pub fn prepare_output(output: &Path) -> Result<(), DumpError> {
    ensure_output_dir(output)?;
    require_empty(output)
}

/// Creates `output` (and its parents) if it does not exist; refuses a link or a
/// non-directory. Whether it is empty is for the caller to check.
fn ensure_output_dir(output: &Path) -> Result<(), DumpError> {
    let not_empty = |reason: &str| DumpError::OutputNotEmpty {
        path: output.to_path_buf(),
        reason: reason.to_owned(),
    };
    match fs::symlink_metadata(output) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => fs::DirBuilder::new()
            .recursive(true)
            .mode(DIR_MODE)
            .create(output)
            .map_err(|e| DumpError::io(format!("create {}", output.display()), e)),
        Err(e) => Err(DumpError::io(format!("stat {}", output.display()), e)),
        Ok(meta) if meta.file_type().is_symlink() => Err(not_empty("it is a symbolic link")),
        Ok(meta) if !meta.is_dir() => Err(not_empty("it exists and is not a directory")),
        Ok(_) => Ok(()),
    }
}

fn require_empty(output: &Path) -> Result<(), DumpError> {
    let mut entries =
        fs::read_dir(output).map_err(|e| DumpError::io(format!("read {}", output.display()), e))?;
    match entries.next() {
        None => Ok(()),
        Some(_) => Err(DumpError::OutputNotEmpty {
            path: output.to_path_buf(),
            reason: "it is a non-empty directory".to_owned(),
        }),
    }
}

/// [`prepare_output`] with an exclusive hold on the output directory
/// ([`OutputLock::directory`]) taken between creating it and checking that it is
/// empty: two decodes may both find (or create) the same empty directory, but only
/// the one that locks it first writes into it. The other fails with `output-busy`
/// while the first runs, or with `output-not-empty` once it has finished (or failed,
/// leaving a partial tree).
///
/// # Errors
/// `output-busy`, `output-not-empty`, or the I/O error.
pub(crate) fn lock_output(output: &Path) -> Result<OutputLock, DumpError> {
    ensure_output_dir(output)?;
    let lock = OutputLock::directory(output).map_err(|e| match e.kind() {
        // Swapped for a link or a file since prepare_output looked.
        FsErrorKind::Symlink | FsErrorKind::NotRegular => DumpError::OutputNotEmpty {
            path: output.to_path_buf(),
            reason: e.to_string(),
        },
        _ => DumpError::fs("lock output", e),
    })?;
    require_empty(output)?;
    Ok(lock)
}

/// Removes everything below `root` (never following links), keeping `root` itself.
pub(crate) fn empty_dir(root: &Path) -> io::Result<()> {
    for entry in fs::read_dir(root)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            fs::remove_dir_all(entry.path())?;
        } else {
            fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}

/// MANIFEST.json, with `os.Create`'s mode, through the tree writer so its digest is
/// listed with the others.
fn write_manifest(tree: &TreeWriter, manifest: &Manifest) -> Result<(), ManifestError> {
    let bytes = manifest.to_bytes()?;
    tree.write_file_with_mode(MANIFEST_FILE_NAME.as_bytes(), bytes, CREATE_FILE_MODE)?;
    Ok(())
}

/// Waits for the writers, makes the tree durable (one `syncfs`), then writes CHECKSUMS
/// from the digests taken while writing and fsyncs it: a crash never leaves a
/// CHECKSUMS that vouches for data not on disk.
fn finish_tree(mut tree: TreeWriter) -> Result<(), ChecksumsError> {
    let root = tree.root().to_path_buf();
    tree.sync()?;
    let digests = tree.finish()?;
    write_checksums_from(&root, digests)
}

/// Where a decode spills and how many threads write (or compare) its files.
pub(crate) struct Budget<'a> {
    pub(crate) scratch: &'a Path,
    pub(crate) sort_memory_bytes: usize,
    pub(crate) jobs: usize,
}

impl Budget<'_> {
    /// The adapters' share of the sort memory (3/4) and the sink's (1/4: the digests,
    /// about 80 bytes a file before they spill, or the self-test's comparison).
    pub(crate) fn split(&self) -> (SortOptions, SortOptions) {
        let digests = (self.sort_memory_bytes / 4).max(1);
        let options = |memory_budget| SortOptions {
            memory_budget,
            scratch_dir: self.scratch.to_path_buf(),
        };
        (options(self.sort_memory_bytes - digests), options(digests))
    }
}

/// Where [`decode_into`] puts the adapters' files: a fresh tree ([`TreeOutput`]) or the
/// self-test's comparison.
pub(crate) trait Output {
    /// What the adapters write through.
    type Sink: TreeSink + 'static;

    /// A fresh sink, with the sink's share of `budget` ([`Budget::split`]).
    fn open(&self, budget: &Budget<'_>) -> Result<Self::Sink, DecodeError>;

    /// Forgets what a first pass produced (its sink is gone), before the sorted copy
    /// of an unsorted input is decoded.
    fn clear(&self) -> Result<(), DecodeError>;
}

/// A fresh tree at `root`, which must exist and be empty (the scratch space may live
/// in it).
pub(crate) struct TreeOutput<'a> {
    pub(crate) root: &'a Path,
    pub(crate) scratch: &'a Path,
}

impl Output for TreeOutput<'_> {
    type Sink = TreeWriter;

    fn open(&self, budget: &Budget<'_>) -> Result<TreeWriter, DecodeError> {
        TreeWriter::new(self.root, budget.jobs, budget.split().1)
            .map_err(|e| DecodeError::io("open the output tree", io::Error::from(e)))
    }

    fn clear(&self) -> Result<(), DecodeError> {
        let emptied = if self.scratch.strip_prefix(self.root).is_ok() {
            empty_dir_except(self.root, self.scratch)
        } else {
            empty_dir(self.root)
        };
        emptied.map_err(|source| DecodeError::Io {
            context: format!(
                "empty {} before decoding the sorted copy",
                self.root.display()
            ),
            source,
        })
    }
}

/// What [`decode_into`] leaves: the scan, its warnings and the open sink, which the
/// caller finishes.
pub(crate) struct Decoded<S> {
    pub(crate) scan: Scan,
    pub(crate) warnings: Warnings,
    pub(crate) tree: S,
}

/// The snapshot a decode reads, and the cut it reads it at (`None`: the newest state).
#[derive(Debug, Clone, Copy)]
pub(crate) struct DecodeInput<'a> {
    pub(crate) path: &'a Path,
    pub(crate) cut: Option<u64>,
}

/// Runs the adapters over `input` into `output`, restarting from an external sort
/// when the input is unsorted. No MANIFEST, no CHECKSUMS: shared by
/// [`decode_to_tree`] and the self-test.
pub(crate) fn decode_into<O: Output>(
    input: DecodeInput<'_>,
    output: &O,
    adapters: &[&AdapterSpec],
    flags: &DecodeFlags,
    budget: &Budget<'_>,
    progress: &mut dyn Progress,
    label_prefix: &'static str,
) -> Result<Decoded<O::Sink>, DecodeError> {
    let scratch = budget.scratch;
    let sort_memory_bytes = budget.split().0.memory_budget;
    let open = || output.open(budget).map(Arc::new);
    // The decoders all hold their sorts at once (unlike the encoders, which run one
    // after another), so they share the budget.
    let per_decoder = (sort_memory_bytes / adapters.len().max(1)).max(1);
    let settings = |sink: &Arc<O::Sink>| DecoderSettings {
        tree: Arc::clone(sink) as Arc<dyn TreeSink>,
        scratch_dir: scratch.to_path_buf(),
        memory_budget: per_decoder,
        flags: flags.clone(),
    };
    let mut sink = open()?;
    let mut decoders = decoders_for(adapters, &settings(&sink));
    let options = ScanOptions {
        enabled: set_of(adapters),
        scratch_dir: scratch.to_path_buf(),
        sort_memory_bytes,
    };
    let mut warnings = Warnings::default();
    let total_bytes = fs::metadata(input.path).ok().map(|m| m.len());
    let mut observer = ScanProgress {
        progress,
        total_bytes,
        prefix: label_prefix,
    };
    let mut reset = |decoders: &mut Vec<Box<dyn AdapterDecoder>>| -> Result<(), DecodeError> {
        // Close every file the first pass opened, and let its sink finish (its writer
        // threads too), before forgetting what it produced.
        decoders.clear();
        sink = open()?;
        output.clear()?;
        *decoders = decoders_for(adapters, &settings(&sink));
        Ok(())
    };
    let scan = scan::scan_file_as_of(
        input.path,
        &options,
        input.cut,
        &mut decoders,
        &mut warnings,
        &mut reset,
        &mut observer,
    )?;
    drop(decoders);
    let tree = Arc::try_unwrap(sink).map_err(|_| {
        DecodeError::io(
            "finish the output tree",
            io::Error::other("an adapter still holds it"),
        )
    })?;
    Ok(Decoded {
        scan,
        warnings,
        tree,
    })
}

/// [`empty_dir`], sparing the top-level entry that holds `keep` (the scratch space).
fn empty_dir_except(root: &Path, keep: &Path) -> io::Result<()> {
    let kept = keep
        .strip_prefix(root)
        .ok()
        .and_then(|rel| rel.components().next())
        .map(|c| root.join(c));
    for entry in fs::read_dir(root)? {
        let entry = entry?;
        if Some(entry.path()) == kept {
            continue;
        }
        if entry.file_type()?.is_dir() {
            fs::remove_dir_all(entry.path())?;
        } else {
            fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}

fn build_manifest(request: &DecodeRequest, scan: &Scan) -> Manifest {
    let mut m = Manifest::new_phase0(WallTime::now());
    m.elastickv_version = PRODUCER_VERSION.to_owned();
    m.cluster_id = request.cluster_id.clone();
    m.last_commit_ts = scan.header.last_commit_ts;
    m.snapshot_index = scan::snapshot_index_from_path(&request.input).unwrap_or(0);
    m.source = Some(Source {
        fsm_path: request
            .source_fsm_path
            .clone()
            .unwrap_or_else(|| request.input.to_string_lossy().into_owned()),
        as_of: request.as_of.clone(),
        ..Source::default()
    });
    if let Some(as_of) = &request.as_of {
        m.last_commit_ts = as_of.ts;
    }
    let mut adapters = Adapters::default();
    for adapter in request.adapters.iter() {
        *adapters.slot_mut(adapter) = Some(manifest::Adapter::default());
    }
    m.adapters = Some(adapters);
    m.exclusions = Some(request.flags.exclusions.clone());
    if request.flags.dynamodb_bundle_bytes.is_some() {
        m.dynamodb_layout = manifest::DYNAMODB_LAYOUT_JSONL.to_owned();
    }
    m
}

fn count_lines(path: &Path) -> Result<u64, DumpError> {
    let fail = |e| DumpError::io(format!("read {}", path.display()), e);
    let mut file = fs::File::open(path).map_err(fail)?;
    let mut buf = vec![0u8; 64 << 10];
    let mut lines = 0u64;
    loop {
        match io::Read::read(&mut file, &mut buf) {
            Ok(0) => return Ok(lines),
            Ok(n) => lines += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(fail(e)),
        }
    }
}

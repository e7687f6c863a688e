//! `generate`: a deterministic synthetic snapshot (`--fsm`) or dump tree (`--tree`)
//! from a named workload profile, so benches, the README sample and operators testing
//! a restore pipeline all use the same data. The same profile, scale and seed give the
//! same bytes on every machine.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use clap::{ArgGroup, Args};
use elastickv_codec::adapter::Warnings;
use elastickv_codec::dispatch::AdapterSet;
use elastickv_codec::pipeline::{self, DecodeOutcome, DecodeRequest, DumpError, Progress};
use elastickv_codec::tree::fs::PRIVATE_FILE_MODE;
use elastickv_codec::tree::lock::OutputLock;
use elastickv_codec::tree::publish::{Existing, PendingFile, TempName};
use elastickv_synth::workload::{self, DEFAULT_SEED, MAX_SCALE, Profile, Scale, Summary, Workload};
use serde_json::json;

use crate::failure::Failure;
use crate::options::{self, RunSummary, SummaryOpts};
use crate::render;

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("target").required(true).args(["fsm", "tree"])))]
pub struct Opts {
    /// The workload.
    #[arg(long, value_parser = profile_parser())]
    profile: Profile,
    /// Size multiplier of the profile's counts (a finite number above 0, at most 100000).
    #[arg(
        long,
        default_value = "1",
        value_name = "F",
        allow_hyphen_values = true
    )]
    scale: String,
    /// Seed of every random draw.
    #[arg(long, default_value_t = DEFAULT_SEED, value_name = "N")]
    seed: u64,
    /// Write the snapshot to FILE (published atomically, mode 0600).
    #[arg(long, value_name = "FILE")]
    fsm: Option<PathBuf>,
    /// Write the dump tree `decode` makes of that snapshot; DIR must not exist or be empty.
    #[arg(long, value_name = "DIR")]
    tree: Option<PathBuf>,
    /// Replace an existing --fsm FILE (refused otherwise).
    #[arg(long, conflicts_with = "tree")]
    force: bool,
    /// Also one giant hash, list and set of N elements, a zset of N/2 and a stream of
    /// N/5 (the peak-memory workload; redis profiles).
    #[arg(long, default_value_t = 0, value_name = "N")]
    giant: u64,
    /// Where --tree keeps the snapshot while decoding it (default: the system temp dir).
    #[arg(long, conflicts_with = "fsm", value_name = "DIR")]
    scratch_root: Option<PathBuf>,
    #[command(flatten)]
    summary: SummaryOpts,
}

/// `--profile`: the names (with a line each in `--help`) come from [`Profile::ALL`],
/// so a new profile needs no CLI change.
fn profile_parser() -> impl TypedValueParser<Value = Profile> {
    let values = Profile::ALL.map(|p| PossibleValue::new(p.name()).help(p.about()));
    PossibleValuesParser::new(values).try_map(|name| name.parse::<Profile>())
}

/// `--scale`, parsed here rather than by clap so that every bad value is one typed
/// usage error (`invalid-scale`, exit 1).
pub fn parse_scale(raw: &str) -> Result<Scale, Failure> {
    let invalid = |message: String| Failure::usage("invalid-scale", message);
    let value: f64 = raw.trim().parse().map_err(|_| {
        invalid(format!(
            "--scale {raw:?} is not a number (a finite number above 0, at most {MAX_SCALE})"
        ))
    })?;
    Scale::new(value).map_err(|e| invalid(format!("--scale: {e}")))
}

/// The checked workload the flags describe.
fn workload(opts: &Opts) -> Result<Workload, Failure> {
    let scale = parse_scale(&opts.scale)?;
    if opts.giant > 0 && !opts.profile.has_giant() {
        return Err(Failure::usage(
            "usage",
            format!("--giant: profile {} has no giant collections", opts.profile),
        ));
    }
    let mut workload = Workload::new(opts.profile, scale);
    workload.giant = opts.giant;
    Ok(workload)
}

pub fn run(opts: Opts) -> Result<(), Failure> {
    let workload = workload(&opts)?;
    let started = Instant::now();
    options::finish(&opts.summary, None, |bar| {
        let (summary, tree) = match (&opts.fsm, &opts.tree) {
            (Some(fsm), _) => (
                generate_fsm(fsm, &workload, opts.seed, opts.force, bar)?,
                None,
            ),
            (None, Some(tree)) => {
                let (summary, outcome) = generate_tree(tree, &workload, &opts, bar)?;
                (summary, Some(outcome))
            }
            (None, None) => return Err(Failure::usage("usage", "pass --fsm FILE or --tree DIR")),
        };
        Ok(Generated {
            opts: &opts,
            workload: &workload,
            summary,
            tree,
            elapsed: started.elapsed(),
        })
    })
}

/// Generates into `<path>.tmp-<hex>` and publishes it; an existing `path` is refused
/// (before generating) unless `force`. Holds the output's lock, as `encode` does, so
/// neither can remove or replace the other's temporary file.
fn generate_fsm(
    path: &Path,
    workload: &Workload,
    seed: u64,
    force: bool,
    progress: &mut dyn Progress,
) -> Result<Summary, Failure> {
    let existing = if force {
        Existing::Replace
    } else {
        Existing::Refuse
    };
    let _lock = OutputLock::beside(path).map_err(|e| Failure::from_error("lock output", &e))?;
    let (file, pending) =
        PendingFile::create(path, TempName::Suffixed, PRIVATE_FILE_MODE, existing)
            .map_err(|e| publish_failure(&DumpError::publish(e)))?;
    let summary = write_workload(file, pending.temp_path(), workload, seed, progress)?;
    pending
        .publish(true)
        .map_err(|e| publish_failure(&DumpError::publish(e)))?;
    Ok(summary)
}

fn publish_failure(error: &DumpError) -> Failure {
    let failure = Failure::from_dump(error);
    match error {
        DumpError::OutputExists(_) => failure.with_detail("--force replaces it"),
        _ => failure,
    }
}

/// Generates into a scratch file and decodes it exactly as `decode --input … --output
/// DIR` would (the default adapters, all four, whatever the profile writes), MANIFEST
/// `source.fsm_path` naming the command line that regenerates the data instead of the
/// vanished scratch file.
fn generate_tree(
    dir: &Path,
    workload: &Workload,
    opts: &Opts,
    progress: &mut dyn Progress,
) -> Result<(Summary, DecodeOutcome), Failure> {
    // Refused before minutes of generating, not after.
    pipeline::prepare_output(dir).map_err(|e| Failure::from_dump(&e))?;
    let scratch = opts.scratch_root.clone().unwrap_or_else(std::env::temp_dir);
    // Never published: dropping it removes the scratch snapshot, whatever happens.
    let (file, snapshot) = PendingFile::create(
        &scratch.join("elastickv-generate.fsm"),
        TempName::Suffixed,
        PRIVATE_FILE_MODE,
        Existing::Replace,
    )
    .map_err(|e| Failure::from_dump(&DumpError::publish(e)))?;
    let summary = write_workload(file, snapshot.temp_path(), workload, opts.seed, progress)?;
    let mut request = DecodeRequest::new(snapshot.temp_path(), dir, AdapterSet::ALL);
    request.source_fsm_path = Some(command_line(workload, opts.seed, dir));
    let outcome =
        pipeline::decode_to_tree(&request, progress).map_err(|e| Failure::from_dump(&e))?;
    drop(snapshot);
    Ok((summary, outcome))
}

/// The `generate` invocation that reproduces a tree, recorded in its MANIFEST.
fn command_line(workload: &Workload, seed: u64, dir: &Path) -> String {
    let giant = match workload.giant {
        0 => String::new(),
        n => format!(" --giant {n}"),
    };
    format!(
        "elastickv-snapshot generate --profile {} --scale {} --seed {seed}{giant} --tree {}",
        workload.profile,
        workload.scale.get(),
        dir.display()
    )
}

/// Streams the workload into `file` (buffered), reporting bytes, and fsyncs it.
fn write_workload(
    file: File,
    path: &Path,
    workload: &Workload,
    seed: u64,
    progress: &mut dyn Progress,
) -> Result<Summary, Failure> {
    let io_failure = |e: io::Error| Failure::usage("io", format!("write {}: {e}", path.display()));
    progress.phase(&format!("generating {}", workload.profile), None);
    let out = Counting {
        inner: BufWriter::with_capacity(1 << 20, file),
        bytes: 0,
        next_report: 0,
        progress,
    };
    let (out, summary) = workload::write_snapshot(out, workload, seed).map_err(io_failure)?;
    let file = out
        .inner
        .into_inner()
        .map_err(|e| io_failure(e.into_error()))?;
    file.sync_all().map_err(io_failure)?;
    Ok(summary)
}

/// Counts what passes through and reports it every few MiB.
struct Counting<'p, W: Write> {
    inner: W,
    bytes: u64,
    next_report: u64,
    progress: &'p mut dyn Progress,
}

const REPORT_EVERY: u64 = 4 << 20;

impl<W: Write> Write for Counting<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        if self.bytes >= self.next_report {
            self.progress.update(self.bytes, 0);
            self.next_report = self.bytes + REPORT_EVERY;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// What was generated, as the summary tells it.
struct Generated<'a> {
    opts: &'a Opts,
    workload: &'a Workload,
    summary: Summary,
    /// The decode, for `--tree`.
    tree: Option<DecodeOutcome>,
    elapsed: Duration,
}

impl Generated<'_> {
    fn target(&self) -> &Path {
        self.opts
            .fsm
            .as_deref()
            .or(self.opts.tree.as_deref())
            .unwrap_or(Path::new(""))
    }
}

impl RunSummary for Generated<'_> {
    fn text(&self) -> String {
        let (s, workload) = (&self.summary, self.workload);
        let files = match &self.tree {
            Some(outcome) => format!("; {} files", outcome.files),
            None => String::new(),
        };
        let giant = match workload.giant {
            0 => String::new(),
            n => format!(", giant {n}"),
        };
        format!(
            "generated {} (scale {}, seed {}{giant}) -> {}: {} entries, {} keys, {} snapshot bytes{files}; last_commit_ts {}; {}",
            workload.profile,
            workload.scale.get(),
            self.opts.seed,
            self.target().display(),
            s.entries,
            s.keys,
            s.bytes,
            s.last_commit_ts,
            render::seconds(self.elapsed)
        )
    }

    fn json(&self) -> serde_json::Value {
        let (s, workload, opts) = (&self.summary, self.workload, self.opts);
        json!({
            "command": "generate",
            "profile": workload.profile.name(),
            "scale": workload.scale.get(),
            "seed": opts.seed,
            "giant": workload.giant,
            "fsm": opts.fsm.as_ref().map(|p| p.to_string_lossy()),
            "tree": opts.tree.as_ref().map(|p| p.to_string_lossy()),
            "entries": s.entries,
            "keys": s.keys,
            "bytes": s.bytes,
            "last_commit_ts": s.last_commit_ts,
            "files": self.tree.as_ref().map(|t| t.files),
            "warnings": self.tree.as_ref().map(|t| render::warnings_json(&t.warnings)),
            "elapsed_ms": self.elapsed.as_millis() as u64,
        })
    }

    fn warnings(&self) -> Option<&Warnings> {
        self.tree.as_ref().map(|t| &t.warnings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales() {
        assert_eq!(parse_scale("0.001").unwrap().get(), 0.001);
        assert_eq!(parse_scale(" 2 ").unwrap().get(), 2.0);
        for bad in ["0", "-1", "nan", "inf", "1e9", "", "one"] {
            let failure = parse_scale(bad).unwrap_err();
            assert_eq!(failure.code(), "invalid-scale", "{bad}");
            assert_eq!(failure.exit_code(), 1, "{bad}");
        }
    }

    #[test]
    fn recorded_command_line() {
        let mut w = Workload::new(workload::redis::REDIS_MIXED, Scale::new(0.5).unwrap());
        assert_eq!(
            command_line(&w, 7, Path::new("t")),
            "elastickv-snapshot generate --profile redis-mixed --scale 0.5 --seed 7 --tree t"
        );
        w.giant = 10;
        assert!(command_line(&w, 7, Path::new("t")).contains(" --giant 10 --tree t"));
    }
}

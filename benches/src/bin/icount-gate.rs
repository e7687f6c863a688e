//! The comparison half of `benches/gate`: reads the `summary.json` files gungraun
//! wrote for `benches/benches/icount.rs`, compares each bench's callgrind `Ir` with
//! the committed baseline CSV, prints a table and exits non-zero when a bench needs
//! more than `--limit` percent more instructions, or when the set of benches and the
//! baseline disagree. `--accept` rewrites the baseline from the current run instead.
//!
//! ```text
//! icount-gate --summaries DIR --baseline FILE [--limit PCT] [--toolchain TEXT] [--accept]
//! ```

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const USAGE: &str = "usage: icount-gate --summaries DIR --baseline FILE [--limit PCT] \
                     [--toolchain TEXT] [--accept]";

struct Args {
    summaries: PathBuf,
    baseline: PathBuf,
    limit: f64,
    toolchain: String,
    accept: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut summaries = None;
    let mut baseline = None;
    let mut limit = 5.0;
    let mut toolchain = String::new();
    let mut accept = false;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--accept" => accept = true,
            "--summaries" | "--baseline" | "--limit" | "--toolchain" => {
                let value = args.next().ok_or(USAGE)?;
                match flag.as_str() {
                    "--summaries" => summaries = Some(PathBuf::from(value)),
                    "--baseline" => baseline = Some(PathBuf::from(value)),
                    "--limit" => limit = value.parse().map_err(|_| USAGE)?,
                    _ => toolchain = value,
                }
            }
            _ => return Err(USAGE.into()),
        }
    }
    Ok(Args {
        summaries: summaries.ok_or(USAGE)?,
        baseline: baseline.ok_or(USAGE)?,
        limit,
        toolchain,
        accept,
    })
}

/// `function/id` → Ir of every `summary.json` under `dir`.
fn current_counts(dir: &Path) -> Result<BTreeMap<String, u64>, String> {
    let mut files = Vec::new();
    collect_summaries(dir, &mut files).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut counts = BTreeMap::new();
    for file in files {
        let text =
            std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        let json: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", file.display()))?;
        let (name, ir) = bench_ir(&json).ok_or_else(|| {
            format!(
                "{}: no callgrind Ir (gungraun summary format changed?)",
                file.display()
            )
        })?;
        if counts.insert(name.clone(), ir).is_some() {
            return Err(format!("bench {name} reported twice"));
        }
    }
    Ok(counts)
}

fn collect_summaries(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_summaries(&path, out)?;
        } else if path.file_name().is_some_and(|n| n == "summary.json") {
            out.push(path);
        }
    }
    Ok(())
}

/// Name and `Ir` of one gungraun summary (schema v6: `profiles[tool=Callgrind]
/// .data.total.metrics.Ir.values.new`).
fn bench_ir(json: &serde_json::Value) -> Option<(String, u64)> {
    let function = json.get("function_name")?.as_str()?;
    let id = json.get("id").and_then(|v| v.as_str()).unwrap_or("");
    let profile = json
        .get("profiles")?
        .as_array()?
        .iter()
        .find(|p| p.get("tool").and_then(|t| t.as_str()) == Some("Callgrind"))?;
    let ir = profile
        .pointer("/data/total/metrics/Ir/values/new")
        .or_else(|| profile.pointer("/data/parts/0/metrics/Ir/values/new"))?
        .as_u64()?;
    let name = if id.is_empty() {
        function.to_owned()
    } else {
        format!("{function}/{id}")
    };
    Some((name, ir))
}

/// The baseline CSV: `# comment` lines, a `bench,ir` header, then one row per bench.
/// Returns the rows and the `# toolchain:` comment, if any.
fn read_baseline(path: &Path) -> Result<(BTreeMap<String, u64>, Option<String>), String> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((BTreeMap::new(), None)),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let mut rows = BTreeMap::new();
    let mut toolchain = None;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if let Some(comment) = line.strip_prefix('#') {
            if let Some(t) = comment.trim().strip_prefix("toolchain:") {
                toolchain = Some(t.trim().to_owned());
            }
            continue;
        }
        if line.is_empty() || line == "bench,ir" {
            continue;
        }
        let parsed = line
            .split_once(',')
            .and_then(|(name, ir)| Some((name.trim().to_owned(), ir.trim().parse().ok()?)));
        let Some((name, ir)) = parsed else {
            return Err(format!("{}:{}: expected `bench,ir`", path.display(), n + 1));
        };
        rows.insert(name, ir);
    }
    Ok((rows, toolchain))
}

fn write_baseline(
    path: &Path,
    counts: &BTreeMap<String, u64>,
    toolchain: &str,
) -> Result<(), String> {
    let mut out = String::new();
    out.push_str(
        "# Instruction counts (callgrind Ir) of benches/benches/icount.rs: the release gate's\n\
         # baseline. `benches/gate` fails when a bench needs more than 5% more instructions;\n\
         # `benches/gate --accept` rewrites this file (commit it with the change that moved it).\n",
    );
    if !toolchain.is_empty() {
        let _ = writeln!(out, "# toolchain: {toolchain}");
    }
    out.push_str("bench,ir\n");
    for (name, ir) in counts {
        let _ = writeln!(out, "{name},{ir}");
    }
    std::fs::write(path, out).map_err(|e| format!("{}: {e}", path.display()))
}

fn run() -> Result<bool, String> {
    let args = parse_args()?;
    let current = current_counts(&args.summaries)?;
    if current.is_empty() {
        return Err(format!(
            "no summary.json under {}",
            args.summaries.display()
        ));
    }
    let (baseline, baseline_toolchain) = read_baseline(&args.baseline)?;

    let names: std::collections::BTreeSet<&String> =
        current.keys().chain(baseline.keys()).collect();
    let width = names.iter().map(|n| n.len()).max().unwrap_or(5).max(5);
    println!(
        "{:<width$}  {:>14}  {:>14}  {:>9}  status",
        "bench", "baseline Ir", "current Ir", "delta"
    );
    let mut failures = 0;
    for name in names {
        let (base, cur) = (baseline.get(name), current.get(name));
        let fmt = |v: Option<&u64>| v.map_or_else(|| "-".to_owned(), u64::to_string);
        let (delta, status) = match (base, cur) {
            (Some(&b), Some(&c)) => {
                let pct = if b == 0 {
                    0.0
                } else {
                    (c as f64 - b as f64) * 100.0 / b as f64
                };
                let status = if pct > args.limit {
                    failures += 1;
                    "REGRESSED"
                } else if pct < -args.limit {
                    "improved (accept to lock in)"
                } else {
                    "ok"
                };
                (format!("{pct:+.3}%"), status)
            }
            (None, Some(_)) => {
                failures += 1;
                ("-".to_owned(), "NEW (no baseline)")
            }
            (Some(_), None) => {
                failures += 1;
                ("-".to_owned(), "MISSING (not run)")
            }
            (None, None) => unreachable!("name comes from one of the maps"),
        };
        println!(
            "{name:<width$}  {:>14}  {:>14}  {delta:>9}  {status}",
            fmt(base),
            fmt(cur)
        );
    }

    if let Some(t) = &baseline_toolchain
        && !args.toolchain.is_empty()
        && *t != args.toolchain
    {
        println!(
            "\nnote: the baseline was recorded with `{t}`, this run used `{}`; counts depend \
             on the compiler.",
            args.toolchain
        );
    }

    if args.accept {
        write_baseline(&args.baseline, &current, &args.toolchain)?;
        println!(
            "\naccepted: wrote {} benches to {}",
            current.len(),
            args.baseline.display()
        );
        return Ok(true);
    }
    if failures > 0 {
        println!(
            "\nFAIL: {failures} bench(es) regressed by more than {}% or disagree with the \
             baseline.\nIf the change is intended, run `benches/gate --accept` and commit {}.",
            args.limit,
            args.baseline.display()
        );
        return Ok(false);
    }
    println!(
        "\nOK: {} benches within +{}% of the baseline.",
        current.len(),
        args.limit
    );
    Ok(true)
}

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("icount-gate: {e}");
            ExitCode::from(2)
        }
    }
}

//! The drop-in replacements for the Go tools: `elastickv-snapshot-decode` and
//! `elastickv-snapshot-encode` accept the Go command lines ([`crate::goflag`]), exit
//! with the Go codes and log in Go's `log/slog` text format on stderr, with
//! `error[<code>]` in every error line. The work is the same library code the
//! `elastickv-snapshot` subcommands run.

use std::ffi::OsString;
use std::path::PathBuf;

use elastickv_codec::ErrorCode;
use elastickv_codec::adapter::Warnings;
use elastickv_codec::pipeline::adapters::{DEFAULT_ADAPTERS, parse_encode_adapters};
use elastickv_codec::pipeline::{self, DumpError, EncodeRequest};
use elastickv_codec::tree::manifest::Exclusions;
use elastickv_codec::tree::walltime::WallTime;

use crate::goflag::{self, Flag};
use crate::progress::Bar;
use crate::render;

/// `time=…` as slog writes it: RFC 3339 with milliseconds (UTC here).
pub fn slog_time(now: WallTime) -> String {
    let whole = WallTime::from_unix(now.unix_secs(), 0)
        .map(|t| t.to_rfc3339_nano())
        .unwrap_or_default();
    let stem = whole.strip_suffix('Z').unwrap_or(&whole);
    format!("{stem}.{:03}Z", now.subsec_nanos() / 1_000_000)
}

/// One slog text line: `time=… level=… msg=… key=value…`.
pub fn slog_line(level: &str, msg: &str, fields: &[(&str, String)]) -> String {
    format!(
        "time={} level={level} msg={}{}",
        slog_time(WallTime::now()),
        render::slog_value(msg),
        render::fields(fields)
    )
}

fn lossy(s: &OsString) -> String {
    s.to_string_lossy().into_owned()
}

/// `error[<code>]: <message>`.
pub(crate) fn tagged(code: &str, message: &str) -> String {
    format!("error[{code}]: {}", render::one_line(message))
}

const DECODE_FLAGS: &[Flag] = &[
    Flag::string("input", ""),
    Flag::string("output", ""),
    Flag::string("adapter", DEFAULT_ADAPTERS),
    Flag::string("dynamodb-bundle-mode", "per-item"),
    Flag::string("cluster-id", ""),
    Flag::bool("include-incomplete-uploads"),
    Flag::bool("include-orphans"),
    Flag::bool("preserve-sqs-visibility"),
    Flag::bool("include-sqs-side-records"),
    Flag::bool("rename-collisions"),
];

/// `elastickv-snapshot-decode`: returns the exit code (0, or 1 for every error).
pub fn decode_main(args: &[OsString]) -> i32 {
    match decode_inner(args) {
        Ok(()) => 0,
        Err((code, message)) => {
            eprintln!("elastickv-snapshot-decode: {}", tagged(code, &message));
            1
        }
    }
}

fn decode_inner(args: &[OsString]) -> Result<(), (&'static str, String)> {
    let usage = |m: String| ("usage", m);
    let flags = goflag::parse(DECODE_FLAGS, args).map_err(|e| usage(e.message))?;
    let (input, output) = required_paths(&flags).map_err(usage)?;
    let coded = |e: DumpError| (e.code(), e.to_string());
    let exclusions = Exclusions {
        include_incomplete_uploads: flags.bool("include-incomplete-uploads"),
        include_orphans: flags.bool("include-orphans"),
        preserve_sqs_visibility: flags.bool("preserve-sqs-visibility"),
        include_sqs_side_records: flags.bool("include-sqs-side-records"),
        rename_s3_collisions: flags.bool("rename-collisions"),
    };
    let request = crate::decode::request(
        PathBuf::from(&input),
        PathBuf::from(&output),
        &lossy(&flags.string("adapter")),
        lossy(&flags.string("cluster-id")),
        exclusions,
        &lossy(&flags.string("dynamodb-bundle-mode")),
    )
    .map_err(coded)?;
    let outcome = Bar::run(|bar| pipeline::decode_to_tree(&request, bar)).map_err(coded)?;
    log_warnings(&outcome.warnings);
    let c = &outcome.scan.counters;
    eprintln!(
        "{}",
        slog_line(
            "INFO",
            "snapshot decoded",
            &[
                ("input", lossy(&input)),
                ("output", lossy(&output)),
                ("entries", c.entries.to_string()),
                ("dynamodb", c.dynamodb.to_string()),
                ("s3", c.s3.to_string()),
                ("redis", c.redis.to_string()),
                ("sqs", c.sqs.to_string()),
                ("tombstone", c.tombstone.to_string()),
                ("internal", c.internal.to_string()),
                // Go has no filesystem route: those rows are its unknown ones.
                ("unknown", (c.unknown + c.filesystem).to_string()),
                (
                    "last_commit_ts",
                    outcome.manifest.last_commit_ts.to_string()
                ),
            ],
        )
    );
    Ok(())
}

const ENCODE_FLAGS: &[Flag] = &[
    Flag::string("input", ""),
    Flag::string("output", ""),
    Flag::string("adapter", DEFAULT_ADAPTERS),
    Flag::string("last-commit-ts", ""),
    Flag::bool("self-test"),
    Flag::string("scratch-root", ""),
];

/// `elastickv-snapshot-encode`: returns the exit code (0; 2 for the Go data errors;
/// 1 otherwise).
pub fn encode_main(args: &[OsString]) -> i32 {
    match encode_inner(args) {
        Ok(()) => 0,
        Err((exit, code, message)) => {
            eprintln!(
                "{}",
                slog_line(
                    "ERROR",
                    "elastickv-snapshot-encode",
                    &[("err", tagged(code, &message))]
                )
            );
            exit
        }
    }
}

fn encode_inner(args: &[OsString]) -> Result<(), (i32, &'static str, String)> {
    let usage = |m: String| (1, "usage", m);
    let flags = goflag::parse(ENCODE_FLAGS, args).map_err(|e| usage(e.message))?;
    let (input, output) = required_paths(&flags).map_err(usage)?;
    let coded = |e: DumpError| (e.go_encode_exit_code(), e.code(), e.to_string());
    let adapters = parse_encode_adapters(&lossy(&flags.string("adapter"))).map_err(coded)?;
    let mut request = EncodeRequest::new(PathBuf::from(&input), PathBuf::from(&output), adapters);
    request.last_commit_ts =
        crate::encode::parse_override(&lossy(&flags.string("last-commit-ts"))).map_err(coded)?;
    request.self_test = flags.bool("self-test");
    let scratch = flags.string("scratch-root");
    request.scratch_root = (!scratch.is_empty()).then(|| PathBuf::from(scratch));
    let outcome = Bar::run(|bar| pipeline::encode_to_file(&request, bar)).map_err(coded)?;
    // Not Go's (it has none to log): the leftovers of a killed run that were removed.
    log_warnings(&outcome.warnings);
    eprintln!(
        "{}",
        slog_line(
            "INFO",
            "encode complete",
            &[
                ("output", lossy(&output)),
                ("bytes", outcome.bytes.to_string()),
                ("self_test", request.self_test.to_string()),
                ("adapters", outcome.encode_info.adapters_enabled.join(",")),
            ],
        )
    );
    Ok(())
}

/// Each warning as Go's decoder logs it: `level=WARN msg="encoder warning" event=… …`.
fn log_warnings(warnings: &Warnings) {
    for w in &warnings.0 {
        let mut fields = vec![("event", w.event.to_owned())];
        fields.extend(w.fields.iter().map(|(k, v)| (*k, v.clone())));
        eprintln!("{}", slog_line("WARN", "encoder warning", &fields));
    }
}

/// `--input` and `--output`, which both Go tools require, checked in their order.
fn required_paths(flags: &goflag::Parsed) -> Result<(OsString, OsString), String> {
    let (input, output) = (flags.string("input"), flags.string("output"));
    if input.is_empty() {
        return Err("--input is required".into());
    }
    if output.is_empty() {
        return Err("--output is required".into());
    }
    Ok((input, output))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slog_time_has_millis() {
        let t = WallTime::parse_rfc3339("2026-11-22T02:48:17.953999Z").unwrap();
        assert_eq!(slog_time(t), "2026-11-22T02:48:17.953Z");
        let t = WallTime::parse_rfc3339("2026-11-22T02:48:17Z").unwrap();
        assert_eq!(slog_time(t), "2026-11-22T02:48:17.000Z");
        let line = slog_line("INFO", "snapshot decoded", &[("input", "a b".into())]);
        assert!(line.contains(" level=INFO msg=\"snapshot decoded\" input=\"a b\""));
    }
}

//! Drop-ins for the Go restore-path tools: `elastickv-snapshot-prepare-restore` and
//! `elastickv-snapshot-archive` (Go command lines and exit codes, slog lines on
//! stderr with `error[<code>]` in every error).

use std::ffi::OsString;
use std::path::PathBuf;

use elastickv_codec::archive::Compression;
use elastickv_codec::restore::{self, PrepareRequest};
use elastickv_codec::{ErrorCode, ExitClass};

use crate::gocompat::{slog_line, tagged};
use crate::goflag::{self, Flag};
use crate::progress::Bar;

fn lossy(s: &OsString) -> String {
    s.to_string_lossy().into_owned()
}

/// Logs `level=ERROR msg=<tool> err=…` and returns the exit code.
fn fail(tool: &str, exit: i32, code: &str, message: &str) -> i32 {
    eprintln!(
        "{}",
        slog_line("ERROR", tool, &[("err", tagged(code, message))])
    );
    exit
}

/// `strconv.ParseUint(s, 0, 64)`: decimal, `0x`/`0o`/`0b` prefixes, a leading `0`
/// for octal, underscores only after a prefix.
pub fn parse_go_uint(s: &str) -> Result<u64, &'static str> {
    let (digits, radix, prefixed) = match s.as_bytes() {
        [b'0', b'x' | b'X', ..] => (&s[2..], 16, true),
        [b'0', b'o' | b'O', ..] => (&s[2..], 8, true),
        [b'0', b'b' | b'B', ..] => (&s[2..], 2, true),
        [b'0', _, ..] => (&s[1..], 8, true),
        _ => (s, 10, false),
    };
    let cleaned: String = if prefixed {
        digits.chars().filter(|&c| c != '_').collect()
    } else {
        digits.to_owned()
    };
    if cleaned.is_empty() || !cleaned.chars().all(|c| c.is_digit(radix)) {
        return Err("parse error");
    }
    u64::from_str_radix(&cleaned, radix).map_err(|_| "value out of range")
}

const PREPARE_TOOL: &str = "elastickv-snapshot-prepare-restore";

const PREPARE_FLAGS: &[Flag] = &[
    Flag::string("input", ""),
    Flag::string("encode-info", ""),
    Flag::string("data-dir", ""),
    Flag::string("index", "0"),
    Flag::string("term", "1"),
    Flag::string("peers", ""),
    Flag::string("target-cluster-id", ""),
    Flag::bool("fresh-cluster"),
    Flag::bool("allow-missing-cluster-id"),
    Flag::bool("allow-unverified-self-test"),
    // Not Go's: run every check and write nothing.
    Flag::bool("dry-run"),
];

/// `elastickv-snapshot-prepare-restore`: 0, 2 for the Go data errors, 1 otherwise.
pub fn prepare_restore_main(args: &[OsString]) -> i32 {
    let request = match prepare_request(args) {
        Ok(request) => request,
        Err(message) => return fail(PREPARE_TOOL, 1, "usage", &message),
    };
    match Bar::run(|bar| restore::prepare_restore_with_progress(&request, bar)) {
        Ok(o) => {
            eprintln!(
                "{}",
                slog_line(
                    "INFO",
                    if o.dry_run {
                        "snapshot restore data dir checked (dry run)"
                    } else {
                        "snapshot restore data dir prepared"
                    },
                    &[
                        ("data_dir", o.data_dir.display().to_string()),
                        ("fsm", o.fsm.display().to_string()),
                        ("snap", o.snap.display().to_string()),
                        ("crc32c", format!("{:08x}", o.crc32c)),
                        ("payload_sha256", o.payload.sha256.clone()),
                        ("payload_bytes", o.payload.bytes.to_string()),
                        ("last_commit_ts", o.payload.last_commit_ts.to_string()),
                        ("peers", o.peers.len().to_string()),
                    ],
                )
            );
            0
        }
        Err(e) => fail(
            PREPARE_TOOL,
            exit_code(e.exit_class()),
            e.code(),
            &e.to_string(),
        ),
    }
}

fn exit_code(class: ExitClass) -> i32 {
    class.exit_code()
}

/// Go's `parseFlags`: flag syntax and numbers first, then the checks in its order.
fn prepare_request(args: &[OsString]) -> Result<PrepareRequest, String> {
    let flags = goflag::parse(PREPARE_FLAGS, args).map_err(|e| e.message)?;
    let number = |name: &str| {
        let raw = lossy(&flags.string(name));
        parse_go_uint(&raw).map_err(|why| format!("invalid value {raw:?} for flag -{name}: {why}"))
    };
    let index = number("index")?;
    let term = number("term")?;
    let encode_info = flags.string("encode-info");
    let request = PrepareRequest {
        input: PathBuf::from(flags.string("input")),
        encode_info: (!encode_info.is_empty()).then(|| PathBuf::from(encode_info)),
        data_dir: PathBuf::from(flags.string("data-dir")),
        index,
        term,
        peers: lossy(&flags.string("peers")),
        target_cluster_id: lossy(&flags.string("target-cluster-id")),
        fresh_cluster: flags.bool("fresh-cluster"),
        allow_missing_cluster_id: flags.bool("allow-missing-cluster-id"),
        allow_unverified_self_test: flags.bool("allow-unverified-self-test"),
        dry_run: flags.bool("dry-run"),
    };
    restore::check_options(&request).map_err(|e| e.0.to_owned())?;
    Ok(request)
}

const ARCHIVE_TOOL: &str = "elastickv-snapshot-archive";

const ARCHIVE_FLAGS: &[Flag] = &[
    Flag::string("input", ""),
    Flag::string("output", ""),
    Flag::string("compression", "zstd"),
];

/// `elastickv-snapshot-archive pack|unpack --input X --output Y [--compression c]`:
/// the subcommand must come first (Go reads argv[0] as it, whatever it is).
pub fn archive_main(args: &[OsString]) -> i32 {
    let Some((mode, rest)) = args.split_first() else {
        return fail(
            ARCHIVE_TOOL,
            1,
            "usage",
            "subcommand required: pack or unpack",
        );
    };
    let flags = match goflag::parse(ARCHIVE_FLAGS, rest) {
        Ok(flags) => flags,
        Err(e) => return fail(ARCHIVE_TOOL, 1, "usage", &e.message),
    };
    let (input, output) = (flags.string("input"), flags.string("output"));
    if input.is_empty() {
        return fail(ARCHIVE_TOOL, 1, "usage", "--input is required");
    }
    if output.is_empty() {
        return fail(ARCHIVE_TOOL, 1, "usage", "--output is required");
    }
    let mode = lossy(mode);
    if mode != "pack" && mode != "unpack" {
        return fail(
            ARCHIVE_TOOL,
            1,
            "usage",
            &format!("unknown subcommand {mode:?}"),
        );
    }
    let compression_name = lossy(&flags.string("compression"));
    let compression = match Compression::parse(&compression_name) {
        Ok(c) => c,
        Err(e) => return fail(ARCHIVE_TOOL, 1, e.code(), &e.to_string()),
    };
    let (input, output) = (PathBuf::from(input), PathBuf::from(output));
    let (result, context, msg) = if mode == "pack" {
        (
            crate::archive::pack(&input, &output, compression).map(|_| ()),
            "pack snapshot dump tree",
            "snapshot dump archive written",
        )
    } else {
        (
            crate::archive::unpack(&input, &output, compression).map(|_| ()),
            "unpack snapshot dump tree",
            "snapshot dump archive unpacked",
        )
    };
    match result {
        Ok(()) => {
            eprintln!(
                "{}",
                slog_line(
                    "INFO",
                    msg,
                    &[
                        ("input", input.display().to_string()),
                        ("output", output.display().to_string()),
                        ("compression", compression_name),
                    ],
                )
            );
            0
        }
        Err(e) => fail(
            ARCHIVE_TOOL,
            exit_code(e.exit_class()),
            e.code(),
            &format!("{context}: {e}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_go_uint;

    #[test]
    fn go_uint_syntax() {
        assert_eq!(parse_go_uint("100"), Ok(100));
        assert_eq!(parse_go_uint("0x10"), Ok(16));
        assert_eq!(parse_go_uint("0_10"), Ok(8));
        assert_eq!(parse_go_uint("18446744073709551615"), Ok(u64::MAX));
        assert_eq!(
            parse_go_uint("18446744073709551616"),
            Err("value out of range")
        );
        assert_eq!(parse_go_uint("-1"), Err("parse error"));
        assert_eq!(parse_go_uint(""), Err("parse error"));
    }
}

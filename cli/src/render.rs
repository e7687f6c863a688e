//! Text shared by the subcommands: warnings, counters, JSON summaries.

use elastickv_codec::adapter::{Warning, Warnings};
use elastickv_codec::scan::Scan;
use serde_json::{Map, Value, json};

/// `s` with line breaks escaped, so an error stays on one line.
pub fn one_line(s: &str) -> String {
    if !s.contains(['\n', '\r']) {
        return s.to_owned();
    }
    s.replace('\n', "\\n").replace('\r', "\\r")
}

/// Whether a log value needs quotes, as Go's `log/slog` text handler decides: empty,
/// or containing a space, `"`, `=` or a non-printable character.
fn needs_quoting(s: &str) -> bool {
    s.is_empty()
        || s.chars()
            .any(|c| c.is_whitespace() || c == '"' || c == '=' || c.is_control())
}

/// A value as `log/slog` writes it: bare when safe, else double-quoted with Go's
/// escapes (`\"`, `\\`, `\n`, `\t`, `\r`, `\xNN`).
pub fn slog_value(s: &str) -> String {
    if !needs_quoting(s) {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() && (c as u32) < 0x80 => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// ` key=value key=value` for a list of fields.
pub fn fields(fields: &[(&str, String)]) -> String {
    let mut out = String::new();
    for (k, v) in fields {
        out.push(' ');
        out.push_str(k);
        out.push('=');
        out.push_str(&slog_value(v));
    }
    out
}

/// `warning[<event>] key=value …`: one stable line per warning.
pub fn warning_line(w: &Warning) -> String {
    format!("warning[{}]{}", w.event, fields(&w.fields))
}

/// Prints every warning to stderr.
pub fn print_warnings(warnings: &Warnings) {
    for w in &warnings.0 {
        eprintln!("{}", warning_line(w));
    }
}

/// Warnings as JSON: `[{"event": …, "fields": {…}}]`.
pub fn warnings_json(warnings: &Warnings) -> Value {
    Value::Array(
        warnings
            .0
            .iter()
            .map(|w| {
                let fields: Map<String, Value> = w
                    .fields
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), Value::String(v.clone())))
                    .collect();
                json!({"event": w.event, "fields": fields})
            })
            .collect(),
    )
}

/// `92 entries (redis 22, dynamodb 5, …); 18 visible, 3 shadowed, 1 deleted`.
pub fn counters_text(scan: &Scan) -> String {
    let c = &scan.counters;
    let mut text = format!(
        "{} entries (redis {}, dynamodb {}, s3 {}, sqs {}, tombstone {}, internal {}, filesystem {}, unknown {}); {} visible, {} shadowed, {} deleted",
        c.entries,
        c.redis,
        c.dynamodb,
        c.s3,
        c.sqs,
        c.tombstone,
        c.internal,
        c.filesystem,
        c.unknown,
        scan.mvcc.visible,
        scan.mvcc.shadowed,
        scan.mvcc.deleted
    );
    if scan.sorted_in_scratch {
        text.push_str(" (input unsorted; sorted in scratch)");
    }
    if scan.raw_rows_skipped > 0 {
        text.push_str(&format!(
            "; {} raw store rows skipped",
            scan.raw_rows_skipped
        ));
    }
    if scan.footer_missing() {
        text.push_str("; CRC32C footer missing (the file may be truncated)");
    }
    if let Some(cut) = scan.cut {
        text.push_str(&format!(
            "; as of HLC {cut} ({} newer versions ignored)",
            scan.after_cut
        ));
    }
    text
}

/// Counters, visibility and container facts of a scan as JSON.
pub fn scan_json(scan: &Scan) -> Value {
    json!({
        "last_commit_ts": scan.header.last_commit_ts,
        "container": scan.header.wrapper.magic(),
        "bytes": scan.bytes,
        "counters": scan.counters,
        "mvcc": scan.mvcc,
        "raw_store_rows": scan.raw_rows_skipped,
        "sorted_in_scratch": scan.sorted_in_scratch,
        "footer_missing": scan.footer_missing(),
    })
}

/// Seconds with millisecond precision.
pub fn seconds(d: std::time::Duration) -> String {
    format!("{:.3}s", d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slog_quoting() {
        assert_eq!(slog_value("1"), "1");
        assert_eq!(slog_value("a/b.fsm"), "a/b.fsm");
        assert_eq!(slog_value(""), "\"\"");
        assert_eq!(slog_value("two words"), "\"two words\"");
        assert_eq!(slog_value("a=b"), "\"a=b\"");
        assert_eq!(slog_value("q\"\n\x01"), "\"q\\\"\\n\\x01\"");
        let w = Warning {
            event: "redis_orphan_ttl",
            fields: vec![("count", "1".into()), ("hint", "TTL records — x".into())],
        };
        assert_eq!(
            warning_line(&w),
            "warning[redis_orphan_ttl] count=1 hint=\"TTL records — x\""
        );
        assert_eq!(one_line("a\nb"), "a\\nb");
    }
}

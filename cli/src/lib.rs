//! The `elastickv-snapshot` command line, and the Go-compatible entry points
//! `elastickv-snapshot-decode` / `elastickv-snapshot-encode`.
//!
//! Everything that touches data lives in [`elastickv_codec::pipeline`]; this crate parses
//! arguments, shows progress, prints summaries and maps errors to exit codes. One
//! module per subcommand, the options and run tail they share ([`options`]), plus the Go
//! flag parser and log format for the drop-in binaries.

pub mod archive;
pub mod decode;
pub mod encode;
pub mod failure;
pub mod generate;
pub mod gocompat;
pub mod gocompat_restore;
pub mod goflag;
pub mod inspect;
pub mod options;
pub mod prepare_restore;
pub mod progress;
pub mod render;
pub mod verify;

/// Parses a byte size: a plain number, or one with a `K`/`M`/`G` (binary) suffix,
/// optionally followed by `iB` or `B` (`256MiB`, `64m`, `1G`).
pub fn parse_size(raw: &str) -> Result<usize, String> {
    let s = raw.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let number: usize = digits
        .parse()
        .map_err(|_| format!("{raw:?} is not a size (e.g. 268435456, 256MiB, 1G)"))?;
    let shift = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        _ => {
            return Err(format!(
                "{raw:?}: unknown size unit {unit:?} (use K, M or G)"
            ));
        }
    };
    number
        .checked_mul(1usize << shift)
        .filter(|&n| n > 0)
        .ok_or_else(|| format!("{raw:?}: size must be positive and fit in memory"))
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1024").unwrap(), 1024);
        assert_eq!(parse_size("256MiB").unwrap(), 256 << 20);
        assert_eq!(parse_size("64m").unwrap(), 64 << 20);
        assert_eq!(parse_size("1G").unwrap(), 1 << 30);
        assert!(parse_size("0").is_err());
        assert!(parse_size("12 parsecs").is_err());
        assert!(parse_size("").is_err());
    }
}

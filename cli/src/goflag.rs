//! Go's `flag` package command-line syntax, for the drop-in binaries.
//!
//! Exactly what `flag.FlagSet.Parse` (with `ContinueOnError`) accepts: `-name` and
//! `--name` alike, `-name value` or `-name=value`, booleans as `-name` or
//! `-name=true|false` (never `-name false`), a lone `--` ends the flags, and parsing
//! stops at the first argument that is not a flag (the rest is ignored). `-h`/`-help`
//! are not defined, so they fail with `flag: help requested`. A flag given twice keeps
//! its last value.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;

/// A flag's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Takes a value.
    String,
    /// `-name` or `-name=bool`.
    Bool,
}

/// One defined flag.
#[derive(Debug, Clone, Copy)]
pub struct Flag {
    /// Its name, without dashes.
    pub name: &'static str,
    /// Its type.
    pub kind: Kind,
    /// Its default value (`""` for none; booleans default to false).
    pub default: &'static str,
}

impl Flag {
    /// A string flag.
    pub const fn string(name: &'static str, default: &'static str) -> Flag {
        Flag {
            name,
            kind: Kind::String,
            default,
        }
    }

    /// A boolean flag (default false).
    pub const fn bool(name: &'static str) -> Flag {
        Flag {
            name,
            kind: Kind::Bool,
            default: "",
        }
    }
}

/// Parsed values.
#[derive(Debug, Default)]
pub struct Parsed {
    strings: HashMap<&'static str, OsString>,
    bools: HashMap<&'static str, bool>,
    /// Arguments after the flags (Go's `fs.Args()`).
    pub rest: Vec<OsString>,
}

impl Parsed {
    /// A string flag's value (its default when not given).
    pub fn string(&self, name: &str) -> OsString {
        self.strings.get(name).cloned().unwrap_or_default()
    }

    /// A boolean flag's value.
    pub fn bool(&self, name: &str) -> bool {
        self.bools.get(name).copied().unwrap_or(false)
    }
}

/// Why parsing failed; the message is Go's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagError {
    /// Go's error text.
    pub message: String,
    /// Whether it was `-h`/`-help`.
    pub help: bool,
}

impl std::fmt::Display for FlagError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

fn error(message: String) -> FlagError {
    FlagError {
        message,
        help: false,
    }
}

/// `strconv.ParseBool`.
fn parse_bool(s: &[u8]) -> Option<bool> {
    match s {
        b"1" | b"t" | b"T" | b"TRUE" | b"true" | b"True" => Some(true),
        b"0" | b"f" | b"F" | b"FALSE" | b"false" | b"False" => Some(false),
        _ => None,
    }
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Parses `args` (without the program name) against `flags`.
pub fn parse(flags: &[Flag], args: &[OsString]) -> Result<Parsed, FlagError> {
    let mut parsed = Parsed::default();
    for flag in flags {
        match flag.kind {
            Kind::String => {
                parsed
                    .strings
                    .insert(flag.name, OsString::from(flag.default));
            }
            Kind::Bool => {
                parsed.bools.insert(flag.name, false);
            }
        }
    }
    let mut i = 0;
    while i < args.len() {
        let s = args[i].as_bytes();
        if s.len() < 2 || s[0] != b'-' {
            break;
        }
        let mut minuses = 1;
        if s[1] == b'-' {
            minuses = 2;
            if s.len() == 2 {
                i += 1;
                break;
            }
        }
        let name = &s[minuses..];
        if name.is_empty() || name[0] == b'-' || name[0] == b'=' {
            return Err(error(format!("bad flag syntax: {}", lossy(s))));
        }
        i += 1;
        let (name, value) = match name.iter().position(|&b| b == b'=') {
            Some(eq) => (&name[..eq], Some(&name[eq + 1..])),
            None => (name, None),
        };
        let Some(flag) = flags.iter().find(|f| f.name.as_bytes() == name) else {
            if name == b"help" || name == b"h" {
                return Err(FlagError {
                    message: "flag: help requested".into(),
                    help: true,
                });
            }
            return Err(error(format!(
                "flag provided but not defined: -{}",
                lossy(name)
            )));
        };
        match flag.kind {
            Kind::Bool => {
                let v = match value {
                    None => true,
                    Some(v) => parse_bool(v).ok_or_else(|| {
                        error(format!(
                            "invalid boolean value {:?} for -{}: parse error",
                            lossy(v),
                            flag.name
                        ))
                    })?,
                };
                parsed.bools.insert(flag.name, v);
            }
            Kind::String => {
                let v = match value {
                    Some(v) => OsStr::from_bytes(v).to_owned(),
                    None if i < args.len() => {
                        i += 1;
                        args[i - 1].clone()
                    }
                    None => {
                        return Err(error(format!("flag needs an argument: -{}", flag.name)));
                    }
                };
                parsed.strings.insert(flag.name, v);
            }
        }
    }
    parsed.rest = args[i..].to_vec();
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FLAGS: &[Flag] = &[
        Flag::string("input", ""),
        Flag::string("adapter", "dynamodb,s3,redis,sqs"),
        Flag::bool("self-test"),
    ];

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    fn ok(list: &[&str]) -> Parsed {
        parse(FLAGS, &args(list)).unwrap()
    }

    fn err(list: &[&str]) -> FlagError {
        parse(FLAGS, &args(list)).unwrap_err()
    }

    #[test]
    fn accepted_forms() {
        let p = ok(&["-input", "a", "--adapter=redis", "-self-test"]);
        assert_eq!(p.string("input"), "a");
        assert_eq!(p.string("adapter"), "redis");
        assert!(p.bool("self-test"));
        let p = ok(&["--input=x=y", "--self-test=false"]);
        assert_eq!(p.string("input"), "x=y");
        assert!(!p.bool("self-test"));
        let p = ok(&[]);
        assert_eq!(p.string("adapter"), "dynamodb,s3,redis,sqs");
        assert!(!p.bool("self-test"));
        // A value may look like a flag; the last occurrence wins.
        let p = ok(&["-input", "-self-test", "-input", "b"]);
        assert_eq!(p.string("input"), "b");
        assert!(!p.bool("self-test"));
        // Empty values are values.
        assert_eq!(ok(&["-input="]).string("input"), "");
        assert_eq!(ok(&["-input", ""]).string("input"), "");
        for t in ["1", "t", "T", "TRUE", "true", "True"] {
            assert!(ok(&[&format!("-self-test={t}")]).bool("self-test"));
        }
    }

    #[test]
    fn stops_at_first_non_flag() {
        let p = ok(&["-self-test", "false", "-input", "x"]);
        assert!(p.bool("self-test"));
        assert_eq!(p.string("input"), "");
        assert_eq!(p.rest, args(&["false", "-input", "x"]));
        let p = ok(&["--", "-input", "x"]);
        assert_eq!(p.rest, args(&["-input", "x"]));
        let p = ok(&["-", "-input", "x"]);
        assert_eq!(p.rest, args(&["-", "-input", "x"]));
    }

    #[test]
    fn go_errors() {
        assert_eq!(err(&["-h"]).message, "flag: help requested");
        assert!(err(&["--help"]).help);
        assert_eq!(
            err(&["-nope"]).message,
            "flag provided but not defined: -nope"
        );
        assert_eq!(err(&["-input"]).message, "flag needs an argument: -input");
        assert_eq!(err(&["---input"]).message, "bad flag syntax: ---input");
        assert_eq!(err(&["-=x"]).message, "bad flag syntax: -=x");
        assert_eq!(
            err(&["-self-test=yes"]).message,
            "invalid boolean value \"yes\" for -self-test: parse error"
        );
        assert_eq!(
            err(&["-self-test="]).message,
            "invalid boolean value \"\" for -self-test: parse error"
        );
    }
}

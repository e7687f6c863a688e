//! `--adapter` lists and the adapter implementations behind them.
//!
//! The Go decoder and encoder parse the list differently (docs/format.md §7.1, §7.2) and
//! scripts depend on both, so both rules are kept, each for its own command.

use crate::adapter::{AdapterDecoder, AdapterSpec, DecoderSettings};
use crate::dispatch::{Adapter, AdapterSet};

use super::DumpError;

/// The Go tools' default `--adapter` value.
pub const DEFAULT_ADAPTERS: &str = "dynamodb,s3,redis,sqs";

/// The decoder's rule: `""` or `all` is every adapter; otherwise items are trimmed,
/// names are case-sensitive, empty items are allowed, and at least one name is needed.
pub fn parse_decode_adapters(csv: &str) -> Result<AdapterSet, DumpError> {
    if csv.is_empty() || csv == "all" {
        return Ok(AdapterSet::ALL);
    }
    let mut set = AdapterSet::default();
    for item in csv.split(',').map(str::trim) {
        if item.is_empty() {
            continue;
        }
        let adapter = item.parse::<Adapter>().map_err(|_| {
            DumpError::usage("unknown-adapter", format!("{item}: unknown adapter name"))
        })?;
        set.insert(adapter);
    }
    if set.is_empty() {
        return Err(DumpError::usage(
            "no-adapters",
            "--adapter selected zero adapters",
        ));
    }
    Ok(set)
}

/// The encoder's rule: `""` or exactly `all` is every adapter; otherwise items are
/// trimmed and lowercased, empty items skipped, and at least one name is needed.
pub fn parse_encode_adapters(csv: &str) -> Result<AdapterSet, DumpError> {
    if csv.is_empty() || csv == "all" {
        return Ok(AdapterSet::ALL);
    }
    let mut set = AdapterSet::default();
    for item in csv.split(',') {
        let name = item.trim().to_lowercase();
        if name.is_empty() {
            continue;
        }
        let adapter = name.parse::<Adapter>().map_err(|_| {
            DumpError::usage("unknown-adapter", format!("unknown adapter {name:?}"))
        })?;
        set.insert(adapter);
    }
    if set.is_empty() {
        return Err(DumpError::usage(
            "no-adapters",
            format!(
                "--adapter {csv:?} selects no adapters; use \"all\" or a comma-separated subset"
            ),
        ));
    }
    Ok(set)
}

/// The adapters `adapters` selects, in the Go encoder's order; refuses an empty
/// selection before anything is touched.
pub fn require_supported(adapters: AdapterSet) -> Result<Vec<&'static AdapterSpec>, DumpError> {
    if adapters.is_empty() {
        return Err(DumpError::usage("no-adapters", "no adapter selected"));
    }
    Ok(crate::adapters::select(adapters))
}

/// Names of `adapters` in the Go encoder's order (`adapters_enabled`).
pub fn names(adapters: AdapterSet) -> Vec<&'static str> {
    adapters.iter().map(Adapter::name).collect()
}

/// The set `adapters` make up.
pub(crate) fn set_of(adapters: &[&AdapterSpec]) -> AdapterSet {
    adapters.iter().map(|spec| spec.adapter).collect()
}

/// Fresh decoders writing under `settings.out_root`, one per adapter.
pub(crate) fn decoders_for(
    adapters: &[&AdapterSpec],
    settings: &DecoderSettings,
) -> Vec<Box<dyn AdapterDecoder>> {
    adapters
        .iter()
        .map(|spec| (spec.new_decoder)(settings))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    fn set(list: &[Adapter]) -> AdapterSet {
        list.iter().copied().collect()
    }

    #[test]
    fn decode_rules() {
        assert_eq!(parse_decode_adapters("").unwrap(), AdapterSet::ALL);
        assert_eq!(parse_decode_adapters("all").unwrap(), AdapterSet::ALL);
        assert_eq!(
            parse_decode_adapters(" redis ,, s3,").unwrap(),
            set(&[Adapter::Redis, Adapter::S3])
        );
        let e = parse_decode_adapters("Redis").unwrap_err();
        assert_eq!(e.code(), "unknown-adapter");
        assert_eq!(e.to_string(), "Redis: unknown adapter name");
        let e = parse_decode_adapters("ALL").unwrap_err();
        assert_eq!(e.to_string(), "ALL: unknown adapter name");
        let e = parse_decode_adapters(" , ").unwrap_err();
        assert_eq!(e.code(), "no-adapters");
        assert_eq!(e.to_string(), "--adapter selected zero adapters");
    }

    #[test]
    fn encode_rules() {
        assert_eq!(parse_encode_adapters("").unwrap(), AdapterSet::ALL);
        assert_eq!(parse_encode_adapters("all").unwrap(), AdapterSet::ALL);
        assert_eq!(
            parse_encode_adapters(" REDIS ,,Sqs").unwrap(),
            set(&[Adapter::Redis, Adapter::Sqs])
        );
        let e = parse_encode_adapters("ALL").unwrap_err();
        assert_eq!(e.to_string(), "unknown adapter \"all\"");
        let e = parse_encode_adapters(" ,").unwrap_err();
        assert_eq!(
            e.to_string(),
            "--adapter \" ,\" selects no adapters; use \"all\" or a comma-separated subset"
        );
        assert_eq!(e.exit_class(), crate::ExitClass::Usage);
    }

    #[test]
    fn every_adapter_is_supported_and_an_empty_selection_is_refused() {
        assert_eq!(require_supported(AdapterSet::ALL).unwrap().len(), 4);
        let e = require_supported(AdapterSet::default()).unwrap_err();
        assert_eq!(e.code(), "no-adapters");
        let redis = require_supported(set(&[Adapter::Redis])).unwrap();
        assert_eq!(redis.len(), 1);
        assert_eq!(names(AdapterSet::ALL), ["redis", "dynamodb", "s3", "sqs"]);
    }
}

//! The adapters, one folder each, and the registry: the one place that names them.
//!
//! Every adapter folder has the same shape — `keys` (store-key layouts), `values`
//! (value envelopes), the tree documents, `decode` and `encode` side by side, `error`
//! — and exports one [`AdapterSpec`] named `SPEC`. Adding an adapter is adding its
//! folder and its line in [`REGISTRY`]; nothing else in the crate names it.

use crate::adapter::{AdapterNotSupported, AdapterSpec};
use crate::dispatch::{Adapter, AdapterSet};

pub mod dynamodb;
pub mod redis;
pub mod s3;
pub mod sqs;

/// Every adapter this build implements.
pub static REGISTRY: &[&AdapterSpec] = &[&redis::SPEC, &dynamodb::SPEC, &s3::SPEC, &sqs::SPEC];

/// The registered description of `adapter`, if this build implements it.
pub fn spec(adapter: Adapter) -> Option<&'static AdapterSpec> {
    REGISTRY
        .iter()
        .copied()
        .find(|spec| spec.adapter == adapter)
}

/// The descriptions of `adapters` in the Go encoder's order (redis, dynamodb, s3,
/// sqs), or the first one this build does not implement.
pub fn select(adapters: AdapterSet) -> Result<Vec<&'static AdapterSpec>, AdapterNotSupported> {
    adapters
        .iter()
        .map(|adapter| spec(adapter).ok_or(AdapterNotSupported(adapter)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_adapter_is_registered_once_in_go_order() {
        let registered: Vec<Adapter> = REGISTRY.iter().map(|spec| spec.adapter).collect();
        let in_go_order: Vec<Adapter> = Adapter::ALL
            .into_iter()
            .filter(|a| registered.contains(a))
            .collect();
        assert_eq!(registered, in_go_order);
    }

    #[test]
    fn selecting_an_unimplemented_adapter_names_it() {
        let all = select(AdapterSet::ALL).unwrap_err();
        assert_eq!(all, AdapterNotSupported(Adapter::S3));
        let redis = select([Adapter::Redis].into_iter().collect()).unwrap();
        assert_eq!(redis.len(), 1);
        assert_eq!(redis[0].adapter, Adapter::Redis);
    }
}

//! The adapters, one folder each, and the registry: the one place that names them.
//!
//! Every adapter folder has the same shape — `keys` (store-key layouts), `values`
//! (value envelopes), the tree documents, `decode` and `encode` side by side, `error`
//! — and exports one [`AdapterSpec`] named `SPEC`. Adding an adapter is adding its
//! folder and its arm in [`spec`] (exhaustive, so an adapter cannot be forgotten);
//! nothing else in the crate names it.

use crate::adapter::AdapterSpec;
use crate::dispatch::{Adapter, AdapterSet};

#[cfg(test)]
mod conformance_kit;
pub mod dynamodb;
mod protowire;
pub mod redis;
pub mod s3;
pub mod sqs;

/// The registered description of `adapter`.
pub fn spec(adapter: Adapter) -> &'static AdapterSpec {
    match adapter {
        Adapter::Redis => &redis::SPEC,
        Adapter::DynamoDb => &dynamodb::SPEC,
        Adapter::S3 => &s3::SPEC,
        Adapter::Sqs => &sqs::SPEC,
    }
}

/// The descriptions of `adapters` in the Go encoder's order (redis, dynamodb, s3,
/// sqs).
pub fn select(adapters: AdapterSet) -> Vec<&'static AdapterSpec> {
    adapters.iter().map(spec).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_adapter_describes_itself_and_selection_keeps_go_order() {
        for adapter in Adapter::ALL {
            assert_eq!(spec(adapter).adapter, adapter);
        }
        let all: Vec<Adapter> = select(AdapterSet::ALL).iter().map(|s| s.adapter).collect();
        assert_eq!(all, Adapter::ALL);
        let some: AdapterSet = [Adapter::Sqs, Adapter::Redis].into_iter().collect();
        let some: Vec<Adapter> = select(some).iter().map(|s| s.adapter).collect();
        assert_eq!(some, [Adapter::Redis, Adapter::Sqs]);
    }
}

//! Proptest strategies over the Redis model of `elastickv_synth::redis`: a key is a
//! pure function of its [`KeySpec`], so these strategies draw specs and shrink by
//! dropping keys, then making each one smaller and canonical.

use elastickv_synth::redis::{KeySpec, Kind, Mix, RedisDb};
use proptest::collection::vec;
use proptest::prelude::*;

/// A proptest strategy for one key spec.
pub fn key_spec() -> impl Strategy<Value = KeySpec> {
    let kind = prop_oneof![
        Just(Kind::String),
        Just(Kind::Hll),
        Just(Kind::Hash),
        Just(Kind::List),
        Just(Kind::Set),
        Just(Kind::ZSet),
        Just(Kind::Stream),
    ];
    (
        any::<u64>(),
        kind,
        0u8..=Mix::DEFAULT.max_size,
        any::<bool>(),
    )
        .prop_map(|(seed, kind, size, exotic)| KeySpec {
            seed,
            kind,
            size,
            exotic,
        })
}

/// A proptest strategy for databases of up to `max_keys` keys. Shrinks by dropping
/// keys, then making each one smaller and canonical.
pub fn redis_db(max_keys: usize) -> impl Strategy<Value = RedisDb> {
    (vec(key_spec(), 0..=max_keys), 0u8..3, any::<u64>())
        .prop_map(|(specs, orphans, seed)| RedisDb::from_specs(&specs, orphans, seed))
}

//! Named, deterministic, streaming workloads: the snapshots `elastickv-snapshot
//! generate`, the benches, `benches/peak-rss.sh` and the README sample are made of.
//!
//! A workload is a [`Profile`] (what kinds of keys, in what proportions), a [`Scale`]
//! (how many) and a seed. [`write_snapshot`] streams it into a writer in constant
//! memory, already sorted like a live node's snapshot, so sizes far beyond RAM work.
//! Unlike the [`crate::redis`] model, which draws every odd live form the decoder
//! must accept, these profiles store what a healthy cluster stores: their job is to be
//! realistic and reproducible, byte for byte, from `(profile, scale, seed)`.
//!
//! Profiles are a registry: each is described once, as a [`Profile`] constant in the
//! module of its adapter (name, help line, adapter, whether `--giant` applies, its
//! writer), and listed once in the `PROFILES` table. A new adapter's profiles are one module
//! and one line there; the CLI takes its `--profile` values from the list.

use std::fmt;
use std::io::{self, Write};
use std::str::FromStr;

use elastickv_codec::dispatch::{Adapter, AdapterSet};

pub mod dynamodb;
pub mod mixed;
pub mod redis;
pub mod s3;
pub mod sqs;

/// The seed `generate` uses unless told otherwise (ASCII "EKVPBBL1", the seed of the
/// benches and the property tests).
pub const DEFAULT_SEED: u64 = 0x454B_5650_4242_4C31;

/// The largest [`Scale`]: about 15 PB of `redis-mixed`, so anything above is a typo,
/// and every scaled count stays far from `u64` overflow.
pub const MAX_SCALE: f64 = 1e5;

/// Every profile, in the order `--help` lists them: the registry.
const PROFILES: &[Profile] = &[
    redis::REDIS_MIXED,
    dynamodb::DDB_ITEMS,
    s3::S3_LARGE,
    sqs::SQS_MESSAGES,
    mixed::MIXED,
];

/// Streams a workload drawn with a seed into a writer: a profile's generator.
type WriteFn = fn(&mut dyn Write, &Workload, u64) -> io::Result<Summary>;

/// A named workload, described once (see the module documentation). Two profiles are
/// the same when their names are.
#[derive(Clone, Copy)]
pub struct Profile {
    /// The name on the command line.
    name: &'static str,
    /// One line for `--help`.
    about: &'static str,
    /// The adapters whose keys the profile writes (what decoding it needs).
    adapters: &'static [Adapter],
    /// Whether `--giant` means anything for this profile.
    has_giant: bool,
    /// The generator.
    write: WriteFn,
}

impl Profile {
    /// Every profile, in the order help lists them (the `PROFILES` table as an array,
    /// for callers that map it).
    pub const ALL: [Profile; PROFILES.len()] = {
        let mut all = [PROFILES[0]; PROFILES.len()];
        let mut i = 1;
        while i < all.len() {
            all[i] = PROFILES[i];
            i += 1;
        }
        all
    };

    /// The name on the command line.
    pub fn name(self) -> &'static str {
        self.name
    }

    /// One line for `--help`.
    pub fn about(self) -> &'static str {
        self.about
    }

    /// The adapters whose keys the profile writes (what decoding it needs).
    pub fn adapters(self) -> AdapterSet {
        self.adapters.iter().copied().collect()
    }

    /// Whether `--giant` means anything for this profile.
    pub fn has_giant(self) -> bool {
        self.has_giant
    }
}

impl PartialEq for Profile {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for Profile {}

impl std::hash::Hash for Profile {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl fmt::Debug for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Profile({})", self.name)
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not a [`Profile`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownProfile(pub String);

impl fmt::Display for UnknownProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = Profile::ALL.iter().map(|p| p.name()).collect();
        write!(
            f,
            "unknown profile {:?} (known: {})",
            self.0,
            names.join(", ")
        )
    }
}

impl std::error::Error for UnknownProfile {}

impl FromStr for Profile {
    type Err = UnknownProfile;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Profile::ALL
            .into_iter()
            .find(|p| p.name() == name)
            .ok_or_else(|| UnknownProfile(name.to_owned()))
    }
}

/// A workload size multiplier: finite, above zero and at most [`MAX_SCALE`]. Counts
/// are `round(count_at_scale_1 × scale)`, so a tiny scale can round every count to
/// zero (an empty, still valid snapshot).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Scale(f64);

/// Why a scale was refused.
#[derive(Debug, Clone, PartialEq)]
pub struct InvalidScale(pub f64);

impl fmt::Display for InvalidScale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "scale {} must be a finite number above 0 and at most {MAX_SCALE}",
            self.0
        )
    }
}

impl std::error::Error for InvalidScale {}

impl Scale {
    /// Scale 1: the profile as its documentation describes it.
    pub const ONE: Scale = Scale(1.0);

    /// Checks `value`.
    ///
    /// # Errors
    /// [`InvalidScale`] when it is NaN, infinite, zero, negative or above
    /// [`MAX_SCALE`].
    pub fn new(value: f64) -> Result<Scale, InvalidScale> {
        if value.is_finite() && value > 0.0 && value <= MAX_SCALE {
            Ok(Scale(value))
        } else {
            Err(InvalidScale(value))
        }
    }

    /// The multiplier.
    pub fn get(self) -> f64 {
        self.0
    }
}

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Workload {
    /// The profile.
    pub profile: Profile,
    /// How much of it.
    pub scale: Scale,
    /// Elements of the one giant collection of each type, for profiles that have them
    /// ([`Profile::has_giant`]; 0: none). The peak-RSS workload: a decoder or encoder
    /// that buffers a whole key shows here.
    pub giant: u64,
}

impl Workload {
    /// `profile` at `scale`, without giant collections.
    pub fn new(profile: Profile, scale: Scale) -> Self {
        Workload {
            profile,
            scale,
            giant: 0,
        }
    }
}

/// What [`write_snapshot`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Summary {
    /// Entries written.
    pub entries: u64,
    /// Snapshot bytes (header included).
    pub bytes: u64,
    /// Logical keys (a Redis hash of 10 fields is one key, 11 entries).
    pub keys: u64,
    /// The header's `lastCommitTS` (every entry's commit timestamp).
    pub last_commit_ts: u64,
}

/// Streams `workload` drawn with `seed` into `out` as a native snapshot, sorted like a
/// live node's, in constant memory. Buffer `out`: the writer issues small writes.
///
/// # Errors
/// Whatever `out` returns.
pub fn write_snapshot<W: Write>(
    mut out: W,
    workload: &Workload,
    seed: u64,
) -> io::Result<(W, Summary)> {
    let summary = (workload.profile.write)(&mut out, workload, seed)?;
    Ok((out, summary))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_names_round_trip() {
        for p in Profile::ALL {
            assert_eq!(p.name().parse::<Profile>(), Ok(p));
            assert_eq!(p.to_string(), p.name());
        }
        let err = "redis".parse::<Profile>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown profile \"redis\" (known: redis-mixed, ddb-items, s3-large, sqs-messages, mixed)"
        );
    }

    /// Names are what tells profiles apart (`PartialEq`, `--profile`).
    #[test]
    fn profile_names_are_unique() {
        let mut names: Vec<&str> = Profile::ALL.iter().map(|p| p.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), PROFILES.len());
    }

    #[test]
    fn scales() {
        assert_eq!(Scale::new(0.001).map(Scale::get), Ok(0.001));
        assert_eq!(Scale::new(MAX_SCALE).map(Scale::get), Ok(MAX_SCALE));
        for bad in [0.0, -0.0, -1.0, f64::NAN, f64::INFINITY, MAX_SCALE * 2.0] {
            assert!(Scale::new(bad).is_err(), "{bad}");
        }
        assert!(InvalidScale(0.0).to_string().contains("above 0"));
    }

    #[test]
    fn write_snapshot_is_the_redis_generator() {
        let mut w = Workload::new(redis::REDIS_MIXED, Scale::new(0.002).unwrap());
        w.giant = 7;
        let (a, sa) = write_snapshot(Vec::new(), &w, 3).unwrap();
        let mix = redis::RedisMix::redis_mixed(0.002).giant(7);
        let (b, sb) = redis::write_redis_snapshot(Vec::new(), &mix, 3).unwrap();
        assert_eq!((a, sa), (b, sb));
    }
}

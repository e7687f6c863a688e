//! Arbitrary bytes into [`SnapshotReader`](elastickv_codec::container::SnapshotReader).
//!
//! The reader must never panic, its per-entry invariants must hold (see
//! [`crate::stream::read_all`]), and whatever it reads successfully must survive the
//! write→read round trip ([`crate::stream::assert_round_trip`]).

use arbitrary::Unstructured;

use crate::stream::{assert_round_trip, read_all};

/// The oracle.
pub fn run(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    let bytes = u.bytes(u.len())?;
    check(bytes);
    Ok(())
}

/// Reads `bytes` and, when that succeeds, checks the round trip.
pub fn check(bytes: &[u8]) {
    if let Ok(read) = read_all(bytes) {
        assert_round_trip(bytes, &read);
    }
}

#[cfg(test)]
mod tests {
    use elastickv_splitmix::SplitMix64;

    use super::*;

    #[test]
    fn smoke() {
        crate::test_n_times(200, run);
    }

    /// Random bytes almost never get past the magic; valid files built by the body
    /// oracle's generator (and every truncation of them) exercise the rest.
    #[test]
    fn valid_files_and_their_prefixes() {
        let mut rng = SplitMix64(0x5241_5753);
        let mut buf = vec![0u8; 2048];
        for _ in 0..50 {
            rng.fill(&mut buf);
            let mut u = Unstructured::new(&buf);
            let Ok(file) = crate::snapshot_body::valid_file(&mut u) else {
                continue;
            };
            check(&file.bytes);
            // Every prefix of small files; a sample of cut points of large ones.
            let step = file.bytes.len() / 2048 + 1;
            for len in (0..file.bytes.len()).step_by(step) {
                check(&file.bytes[..len]);
            }
        }
    }
}

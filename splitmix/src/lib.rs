//! SplitMix64, the one seeded generator of the workspace.
//!
//! Its draws are part of bytes other people rely on: `elastickv-snapshot generate`
//! output and `samples/mixed-sample.fsm`, the benches' workloads (and so
//! `benches/icount-baseline.csv`), the fuzz smoke inputs and the databases the
//! randomized tests explore. So it lives once, here, with no dependency at all: the
//! production generator (`elastickv-synth`), the test kit and the codec's own unit
//! tests can all use it without any of them depending on the others. A method's draws
//! must never change; add a method instead.

/// SplitMix64 over its 64-bit state: `SplitMix64(seed)` starts a sequence.
#[derive(Debug, Clone)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`, modulo bias ignored; `0` when `n` is `0`. One draw either way.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// [`SplitMix64::below`] for lengths and indices: in `0..len` (`0` when `len` is `0`).
    pub fn index(&mut self, len: usize) -> usize {
        self.below(len as u64) as usize
    }

    /// Uniform in `lo..hi`; `lo` when the range is empty.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi.saturating_sub(lo))
    }

    /// Uniform in `lo..=hi` (`lo <= hi`).
    pub fn range_inclusive(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below((hi - lo).saturating_add(1))
    }

    /// `true` with probability `percent / 100`.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// One of `items` (which must not be empty).
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.index(items.len())]
    }

    /// Fills `buf`, one draw per 8 bytes (little-endian; the last draw truncated).
    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let bytes = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }

    /// `len` random bytes, as [`SplitMix64::fill`] draws them.
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        let mut out = vec![0; len];
        self.fill(&mut out);
        out
    }

    /// Up to `max_len` bytes drawn from `alphabet` (which must not be empty): a small
    /// alphabet makes collisions and shared prefixes common.
    pub fn word(&mut self, max_len: u64, alphabet: &[u8]) -> Vec<u8> {
        let len = self.below(max_len + 1);
        (0..len).map(|_| self.pick(alphabet)).collect()
    }

    /// Fisher–Yates shuffle.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.index(i + 1));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The published SplitMix64 sequence of seed 0: the algorithm, not just stability.
    #[test]
    fn reference_sequence() {
        let mut rng = SplitMix64(0);
        assert_eq!(rng.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(rng.next_u64(), 0x6E78_9E6A_A1B9_65F4);
        assert_eq!(rng.next_u64(), 0x06C4_5D18_8009_454F);
    }

    /// Every helper takes exactly the draws it documents, so sequences built from them
    /// stay put.
    #[test]
    fn draws_per_call() {
        let draws = |f: &dyn Fn(&mut SplitMix64)| {
            let mut rng = SplitMix64(7);
            f(&mut rng);
            let mut reference = SplitMix64(7);
            let mut n = 0;
            while reference.0 != rng.0 {
                reference.next_u64();
                n += 1;
            }
            n
        };
        assert_eq!(
            draws(&|r| {
                let _ = r.below(0);
            }),
            1
        );
        assert_eq!(
            draws(&|r| {
                let _ = r.range(5, 5);
            }),
            1
        );
        assert_eq!(
            draws(&|r| {
                let _ = r.range_inclusive(0, u64::MAX);
            }),
            1
        );
        assert_eq!(
            draws(&|r| {
                let _ = r.bytes(17);
            }),
            3
        );
        assert_eq!(draws(&|r| r.shuffle(&mut [0; 4])), 3);
    }

    #[test]
    fn ranges_and_bytes() {
        let mut rng = SplitMix64(1);
        for _ in 0..1000 {
            assert!((3..9).contains(&rng.range(3, 9)));
            assert!((3..=9).contains(&rng.range_inclusive(3, 9)));
            assert!(rng.word(4, b"ab").iter().all(|b| b"ab".contains(b)));
        }
        assert_eq!(rng.range(9, 3), 9);
        let (mut a, mut b) = (SplitMix64(2), SplitMix64(2));
        let mut filled = [0u8; 13];
        a.fill(&mut filled);
        assert_eq!(b.bytes(13), filled);
    }
}

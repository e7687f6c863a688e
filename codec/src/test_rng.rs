//! The tests' random number generator: splitmix64, deterministic and
//! dependency-free, so a seed always explores the same cases.

/// splitmix64 over its 64-bit state; `Rng(seed)` starts a sequence.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A value in `0..n` (`0` when `n` is `0`).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// [`Rng::below`] for lengths and indices: a value in `0..len` (`0` when `len`
    /// is `0`).
    pub(crate) fn index(&mut self, len: usize) -> usize {
        self.below(len as u64) as usize
    }

    /// `true` with a probability of `percent` in 100.
    pub(crate) fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// Up to `max_len` bytes drawn from `alphabet` (which must not be empty): a
    /// small alphabet makes collisions and shared prefixes common.
    pub(crate) fn bytes(&mut self, max_len: u64, alphabet: &[u8]) -> Vec<u8> {
        let len = self.below(max_len + 1);
        (0..len)
            .map(|_| alphabet[self.index(alphabet.len())])
            .collect()
    }
}

//! A small seeded pseudo-random number generator: xoshiro256** seeded through SplitMix64.
//!
//! Written here rather than taken from `rand` so that a seed keeps producing the same run
//! whatever versions of other crates are in the lock file.

/// Golden-ratio increment of SplitMix64.
const SPLITMIX_GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

/// Advances a SplitMix64 state and returns its next output.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(SPLITMIX_GAMMA);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Names of the independent random streams one seed expands into. Each part of the simulation
/// draws from its own stream, so switching one fault family on or off leaves the draws of the
/// others unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Settings = 1,
    Workload = 2,
    Network = 3,
    Receivers = 4,
    Clocks = 5,
    Crashes = 6,
    Operator = 7,
    Secrets = 8,
    SenderClock = 9,
}

/// xoshiro256** (Blackman and Vigna, 2018).
#[derive(Debug, Clone)]
pub struct Rng {
    state: [u64; 4],
}

impl Rng {
    /// Seeds the generator by expanding `seed` through SplitMix64, as the xoshiro authors
    /// recommend.
    pub fn new(seed: u64) -> Rng {
        let mut mix = seed;
        let state = [
            splitmix64(&mut mix),
            splitmix64(&mut mix),
            splitmix64(&mut mix),
            splitmix64(&mut mix),
        ];
        Rng { state }
    }

    /// Builds the generator of one named stream of a seed.
    pub fn stream(seed: u64, stream: Stream) -> Rng {
        let mut mix = seed ^ (stream as u64).wrapping_mul(0xd6e8_feb8_6659_fd93);
        Rng::new(splitmix64(&mut mix))
    }

    /// Returns the next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let [s0, s1, s2, s3] = &mut self.state;
        let result = s1.wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = *s1 << 17;
        *s2 ^= *s0;
        *s3 ^= *s1;
        *s1 ^= *s2;
        *s0 ^= *s3;
        *s2 ^= t;
        *s3 = s3.rotate_left(45);
        result
    }

    /// Returns a value in `0..n` by Lemire's multiply-shift; `n` of zero returns zero.
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Returns a value in `low..=high`.
    pub fn between(&mut self, low: u64, high: u64) -> u64 {
        if high <= low {
            return low;
        }
        low + self.below(high - low + 1)
    }

    /// Returns a signed value in `-magnitude..=magnitude`.
    pub fn signed(&mut self, magnitude: u64) -> i64 {
        let drawn = self.between(0, magnitude.saturating_mul(2)) as i64;
        drawn - magnitude as i64
    }

    /// Returns true with probability `permille / 1000`.
    pub fn chance(&mut self, permille: u32) -> bool {
        self.below(1000) < u64::from(permille)
    }

    /// Returns a uniformly chosen element; panics on an empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_sequence() {
        let mut a = Rng::new(42);
        let mut b = Rng::new(42);
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
    }

    #[test]
    fn streams_differ() {
        let mut a = Rng::stream(1, Stream::Network);
        let mut b = Rng::stream(1, Stream::Receivers);
        assert_ne!(a.next_u64(), b.next_u64());
    }

    #[test]
    fn between_stays_in_bounds() {
        let mut rng = Rng::new(7);
        for _ in 0..10_000 {
            let value = rng.between(3, 9);
            assert!((3..=9).contains(&value));
            let signed = rng.signed(5);
            assert!((-5..=5).contains(&signed));
        }
    }
}

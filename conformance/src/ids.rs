//! Fresh event ids and `created` times for the requests the suite sends.
//!
//! Every request carries an event id that no earlier run used, so checks never collide in a
//! receiver's dedupe store. Ids are ULIDs: 48 bits of Unix milliseconds followed by 80 bits
//! that start from a seeded pseudo-random value and grow by one per id, which keeps them
//! unique and sorted within a run.

use std::time::{SystemTime, UNIX_EPOCH};

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const RANDOM_BITS_MASK: u128 = (1 << 80) - 1;

/// A generator of `evt_` ids in ULID form.
#[derive(Debug, Clone)]
pub struct IdGenerator {
    millis: u64,
    random: u128,
}

impl IdGenerator {
    /// Seeds the generator from the wall clock and the process id.
    pub fn from_clock() -> IdGenerator {
        let elapsed = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let seed = (elapsed.as_nanos() as u64) ^ (u64::from(std::process::id()) << 32);
        IdGenerator::new(elapsed.as_millis() as u64, seed)
    }

    /// Builds a generator whose ids carry the time `millis` and a random part derived from
    /// `seed`, for reproducible tests.
    pub fn new(millis: u64, seed: u64) -> IdGenerator {
        let mut state = seed;
        let high = u128::from(split_mix(&mut state));
        let low = u128::from(split_mix(&mut state));
        IdGenerator {
            millis: millis & ((1 << 48) - 1),
            // Leave headroom so that incrementing never overflows the 80-bit field in a run.
            random: ((high << 64) | low) & (RANDOM_BITS_MASK >> 1),
        }
    }

    /// Returns the next id: `evt_` followed by 26 Crockford base32 characters.
    pub fn next_id(&mut self) -> String {
        self.random = (self.random + 1) & RANDOM_BITS_MASK;
        let value = (u128::from(self.millis) << 80) | self.random;
        format!("evt_{}", encode_ulid(value))
    }
}

/// Encodes 128 bits as 26 Crockford base32 characters, most significant first. The first
/// character carries only the top 3 bits, so it is always `0` to `7`.
fn encode_ulid(value: u128) -> String {
    (0..26)
        .rev()
        .map(|position| CROCKFORD[((value >> (5 * position)) & 0x1f) as usize] as char)
        .collect()
}

fn split_mix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Formats Unix milliseconds as RFC 3339 UTC with milliseconds, e.g. `2026-05-11T08:14:22.184Z`.
pub fn rfc3339_millis(unix_millis: u64) -> String {
    let secs = unix_millis / 1000;
    let days = (secs / 86_400) as i64;
    let second_of_day = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        second_of_day / 3600,
        (second_of_day / 60) % 60,
        second_of_day % 60,
        unix_millis % 1000
    )
}

/// Converts days since 1970-01-01 to a proleptic Gregorian date, after Howard Hinnant's
/// `civil_from_days` algorithm.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Returns the wall clock in Unix milliseconds.
pub fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use delivery_core::event::is_valid_event_id;
    use std::collections::HashSet;

    #[test]
    fn ids_are_valid_and_unique() {
        let mut generator = IdGenerator::new(1_778_487_262_184, 7);
        let ids: Vec<String> = (0..1000).map(|_| generator.next_id()).collect();
        for id in &ids {
            assert!(is_valid_event_id(id), "{id}");
        }
        assert_eq!(ids.iter().collect::<HashSet<_>>().len(), ids.len());
    }

    #[test]
    fn ids_sort_in_generation_order() {
        let mut generator = IdGenerator::new(1_778_487_262_184, 99);
        let ids: Vec<String> = (0..100).map(|_| generator.next_id()).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
    }

    #[test]
    fn clock_seeded_ids_are_valid() {
        let id = IdGenerator::from_clock().next_id();
        assert!(is_valid_event_id(&id), "{id}");
    }

    #[test]
    fn rfc3339_matches_known_times() {
        assert_eq!(rfc3339_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            rfc3339_millis(1_778_487_262_184),
            "2026-05-11T08:14:22.184Z"
        );
        assert_eq!(rfc3339_millis(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }
}

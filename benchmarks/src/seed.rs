//! Deterministic seed derivation: every component draws from its own stream, derived by name
//! from the run seed, so adding a component never shifts another's random numbers.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// The RNG used everywhere in emprox (portable and reproducible across platforms).
pub type Rng = ChaCha8Rng;

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Derives a child seed from `seed` and a component name (FNV-1a of the name, then splitmix64).
pub fn derive(seed: u64, name: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.as_bytes() {
        h ^= *b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
    }
    splitmix64(seed ^ splitmix64(h))
}

/// Seeds written to JSON stay below 2^53, so that `jq` and JavaScript read them exactly.
pub const MAX_JSON_SEED: u64 = (1 << 53) - 1;

/// Derives the seed of the `i`-th run of an experiment from its master seed: a hash of the
/// pair (each mixed by SplitMix64's finaliser before they are combined), so that runs of
/// neighbouring master seeds share nothing (a sum would make run `k` of seed `s` equal to run
/// `k + 1` of seed `s - 1`). The result is below 2^53 ([`MAX_JSON_SEED`]).
pub fn run_seed(master: u64, i: u64) -> u64 {
    let h = splitmix64(splitmix64(master) ^ splitmix64(i).rotate_left(32));
    derive(h, "run") & MAX_JSON_SEED
}

/// An RNG stream for the component `name` of the run with seed `seed`.
pub fn stream(seed: u64, name: &str) -> Rng {
    Rng::seed_from_u64(derive(seed, name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngCore;

    #[test]
    fn streams_differ_by_name_and_repeat_by_seed() {
        let a = stream(1, "strategy").next_u64();
        let b = stream(1, "filter").next_u64();
        let c = stream(1, "strategy").next_u64();
        assert_ne!(a, b);
        assert_eq!(a, c);
        assert_ne!(run_seed(0, 0), run_seed(0, 1));
    }

    #[test]
    fn neighbouring_master_seeds_share_no_run_and_seeds_fit_json() {
        let runs = |m: u64| (0..200).map(move |i| run_seed(m, i));
        for m in [0u64, 1, 41, u64::MAX - 1] {
            let a: std::collections::HashSet<u64> = runs(m).collect();
            assert_eq!(a.len(), 200, "runs of one master seed differ");
            assert!(
                runs(m + 1).all(|s| !a.contains(&s)),
                "master {m} and {}",
                m + 1
            );
            assert!(a.iter().all(|&s| s <= MAX_JSON_SEED));
        }
    }
}

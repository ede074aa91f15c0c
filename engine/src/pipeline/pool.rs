//! Where the filter's pool comes from: the strategy's own proposals (`Strategy::ask_pool`,
//! exploration) and, with `[filter] exploit > 0`, mutations of the best cells evaluated so far
//! (BANANAS's acquisition search, exploitation). The strategy never sees a score: the filter
//! builds the mutations from its own training set.

use crate::pipeline::dedup::Dedup;
use emprox_benchmarks::{seed, SearchSpace};
use emprox_strategies::Strategy;
use rand::Rng as _;
use std::collections::HashSet;

/// The pool keys of `[filter]` (`exploit`, `mutate_top`, `mutations`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PoolSettings {
    /// Share of the pool made of mutations of the best evaluated cells (0: the strategy's
    /// proposals only, as before; 1: mutations only).
    pub exploit: f64,
    /// How many of the best evaluated cells (by validation score) are mutated.
    pub mutate_top: usize,
    /// Each mutant is 1 to this many mutations away from its parent.
    pub mutations: usize,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            exploit: 0.0,
            mutate_top: 10,
            mutations: 2,
        }
    }
}

/// The most mutations one mutant may be from its parent (`[filter] mutations`): each is one
/// step of the space's mutation, drawn anew for every mutant of every pool.
pub const MAX_MUTATIONS: usize = 100;

/// Draws per mutant before a pool of mutations is given up as full (of repeats).
const ATTEMPTS_PER_MUTANT: usize = 20;

impl PoolSettings {
    /// Checks the values.
    pub fn validate(&self) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.exploit) {
            return Err(format!(
                "[filter] exploit must be in [0, 1], got {}",
                self.exploit
            ));
        }
        if self.mutate_top == 0 {
            return Err("[filter] mutate_top must be at least 1".into());
        }
        if !(1..=MAX_MUTATIONS).contains(&self.mutations) {
            return Err(format!(
                "[filter] mutations must be in [1, {MAX_MUTATIONS}], got {}",
                self.mutations
            ));
        }
        Ok(())
    }

    /// The number of mutants in a pool of `candidates`.
    fn mutants(&self, candidates: usize) -> usize {
        (self.exploit * candidates as f64).round() as usize
    }
}

/// Builds one pool of at most `candidates` new cells: the strategy's proposals (drawn with the
/// search's `rng`), then mutants of the best `mutate_top` cells of `evaluated` (drawn from
/// `mutant_rng`, round-robin over the parents, best first). Cells evaluated or in flight and
/// repeats inside the pool (by `dedup`'s key) are dropped; mutants are drawn until their share
/// is full or [`ATTEMPTS_PER_MUTANT`] draws per mutant have been made, and the strategy proposes
/// what they leave of it. With `exploit = 0` this is exactly the strategy's pool, deduplicated.
#[allow(clippy::too_many_arguments)]
pub fn build<S: SearchSpace>(
    settings: &PoolSettings,
    candidates: usize,
    strategy: &mut dyn Strategy<S>,
    space: &S,
    evaluated: &[(S::Cell, f64)],
    rng: &mut seed::Rng,
    mutant_rng: &mut seed::Rng,
    dedup: &Dedup<S::Cell>,
) -> Vec<S::Cell> {
    let mutants = if evaluated.is_empty() {
        0
    } else {
        settings.mutants(candidates)
    };
    let mut keys = HashSet::new();
    let mut keep = |c: &S::Cell| !dedup.contains(space, c) && keys.insert(dedup.key(space, c));
    let mut pool: Vec<S::Cell> = if candidates > mutants {
        strategy
            .ask_pool(space, candidates - mutants, rng)
            .into_iter()
            .filter(|c| keep(c))
            .collect()
    } else {
        Vec::new()
    };
    let parents = top(evaluated, settings.mutate_top);
    let (mut made, mut draws) = (0usize, 0usize);
    while made < mutants && draws < mutants * ATTEMPTS_PER_MUTANT {
        let parent = parents[draws % parents.len()];
        draws += 1;
        let steps = mutant_rng.random_range(1..=settings.mutations);
        let mut c = parent.clone();
        for _ in 0..steps {
            c = space.mutate(&c, mutant_rng);
        }
        if keep(&c) {
            pool.push(c);
            made += 1;
        }
    }
    if made < mutants {
        // The best cells' neighbourhoods are used up: the strategy fills their share, so that
        // a search stuck on a local optimum explores instead of ending.
        pool.extend(
            strategy
                .ask_pool(space, mutants - made, rng)
                .into_iter()
                .filter(|c| keep(c)),
        );
    }
    pool
}

/// The `m` best cells of `evaluated` by score, best first (equal scores: the earlier query).
fn top<C>(evaluated: &[(C, f64)], m: usize) -> Vec<&C> {
    let mut order: Vec<usize> = (0..evaluated.len()).collect();
    order.sort_by(|&a, &b| evaluated[b].1.total_cmp(&evaluated[a].1).then(a.cmp(&b)));
    order.into_iter().take(m).map(|i| &evaluated[i].0).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use emprox_benchmarks::nb201::{Nb201Data, Nb201Space};
    use emprox_strategies::StrategyConfig;

    type Cell = <Nb201Space as SearchSpace>::Cell;

    /// A space, evaluated cells (registered in the dedup) and the RNGs of one pool.
    struct Fixture {
        space: Nb201Space,
        evaluated: Vec<(Cell, f64)>,
        dedup: Dedup<Cell>,
        rng: seed::Rng,
        mutant_rng: seed::Rng,
    }

    impl Fixture {
        fn new(
            seed_: u64,
            cells: impl FnOnce(&Nb201Space, &mut seed::Rng) -> Vec<(Cell, f64)>,
        ) -> Self {
            let space = Nb201Space::new(Nb201Data::shipped().unwrap());
            let mut rng = seed::stream(seed_, "s");
            let evaluated = cells(&space, &mut rng);
            let mut dedup = Dedup::new(false, 10);
            for (c, v) in &evaluated {
                dedup.start(&space, c);
                dedup.finish(&space, c, Some(emprox_strategies::Feedback::single(*v)));
            }
            let mutant_rng = seed::stream(seed_, "m");
            Fixture {
                space,
                evaluated,
                dedup,
                rng,
                mutant_rng,
            }
        }

        fn pool(&mut self, settings: PoolSettings, candidates: usize) -> Vec<Cell> {
            let c: StrategyConfig = toml::from_str("type = \"random\"").unwrap();
            let mut strategy: Box<dyn Strategy<Nb201Space>> = c.build().unwrap();
            build(
                &settings,
                candidates,
                strategy.as_mut(),
                &self.space,
                &self.evaluated,
                &mut self.rng,
                &mut self.mutant_rng,
                &self.dedup,
            )
        }

        /// Fewest edits from `c` to any of `cells`.
        fn edits(&self, cells: &[&Cell], c: &Cell) -> usize {
            let ops = |x: &Cell| self.space.components(x);
            cells
                .iter()
                .map(|b| {
                    ops(b)
                        .iter()
                        .zip(ops(c))
                        .filter(|(x, y)| x.1 != y.1)
                        .count()
                })
                .min()
                .unwrap()
        }
    }

    fn mutating(exploit: f64, mutate_top: usize, mutations: usize) -> PoolSettings {
        PoolSettings {
            exploit,
            mutate_top,
            mutations,
        }
    }

    #[test]
    fn no_exploitation_is_the_strategys_pool() {
        let mut f = Fixture::new(1, |_, _| Vec::new());
        let c: StrategyConfig = toml::from_str("type = \"random\"").unwrap();
        let mut plain: Box<dyn Strategy<Nb201Space>> = c.build().unwrap();
        let want = plain.ask_pool(&f.space, 50, &mut seed::stream(1, "s"));
        f.evaluated = vec![(want[0], 90.0)];
        assert_eq!(f.pool(PoolSettings::default(), 50), want);
    }

    #[test]
    fn mutants_stay_near_the_best_cells_and_are_new() {
        let mut f = Fixture::new(2, |s, r| (0..30).map(|i| (s.sample(r), i as f64)).collect());
        let pool = f.pool(mutating(1.0, 3, 2), 60);
        assert_eq!(
            pool.len(),
            60,
            "the 3 best cells have hundreds of 2-step mutants"
        );
        let best: Vec<Cell> = f.evaluated[27..].iter().map(|(c, _)| *c).collect();
        let best: Vec<&Cell> = best.iter().collect();
        let mut unique = HashSet::new();
        for c in &pool {
            let d = f.edits(&best, c);
            assert!((1..=2).contains(&d), "{d} edits from the best cells");
            assert!(!f.dedup.contains(&f.space, c));
            assert!(unique.insert(*c));
        }
        // Half and half: the strategy's share first.
        let pool = f.pool(mutating(0.5, 3, 2), 40);
        assert!(pool.len() >= 39, "{}", pool.len());
        assert!(pool[20..].iter().all(|c| f.edits(&best, c) <= 2));
    }

    #[test]
    fn a_used_up_neighbourhood_is_filled_by_the_strategy() {
        // The best cell and its whole neighbourhood are evaluated: no new 1-step mutant.
        let mut f = Fixture::new(4, |s, r| {
            let best = s.sample(r);
            let mut cells = vec![(best, 95.0)];
            cells.extend(s.neighbours(&best).into_iter().map(|c| (c, 50.0)));
            cells
        });
        let pool = f.pool(mutating(1.0, 1, 1), 30);
        let best = f.evaluated[0].0;
        assert!(pool.len() >= 29, "{}", pool.len());
        assert!(pool
            .iter()
            .all(|c| !f.dedup.contains(&f.space, c) && f.edits(&[&best], c) >= 2));
    }

    #[test]
    fn settings_are_checked() {
        let bad = |exploit, mutate_top, mutations| {
            PoolSettings {
                exploit,
                mutate_top,
                mutations,
            }
            .validate()
            .is_err()
        };
        assert!(!bad(0.3, 10, 2));
        assert!(bad(1.5, 10, 2));
        assert!(bad(f64::NAN, 10, 2));
        assert!(bad(0.5, 0, 2));
        assert!(bad(0.5, 10, 0));
    }
}

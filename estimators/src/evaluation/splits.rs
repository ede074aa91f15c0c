//! Train/test splits of the predictor evaluation: per trial, test and train architectures drawn
//! uniformly, without overlap and with no two isomorphic cells anywhere in the trial.

use emprox_benchmarks::{seed, SearchSpace};
use rand::Rng as _;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// The architectures of one trial, as the benchmark's indices (NB201 index, row of the file; a joined declared space: the place among its labelled members). Training sets of size n are the first n of
/// `train` (nested across n).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Split {
    /// Trial number.
    pub trial: usize,
    /// Training pool (prefixes are the training sets).
    pub train: Vec<usize>,
    /// Test set.
    pub test: Vec<usize>,
}

/// The `splits.json` file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SplitsFile {
    /// Space name (`nasbench201`, or the tabular benchmark's name).
    pub space: String,
    /// One entry per trial.
    pub trials: Vec<Split>,
}

/// Draws the split of trial `trial`: `test_size` test then `train_size` train cells, uniformly,
/// rejecting any cell isomorphic to one already drawn. The space must have more than
/// `train_size + test_size` isomorphism classes and index its cells (checked by the caller).
/// With `cells` (a space that does not index its cells: a declared space joined to a table) the
/// cells are drawn from those (the labelled ones), each named by its place there.
pub fn sample<S: SearchSpace>(
    space: &S,
    cells: Option<&[S::Cell]>,
    seed_: u64,
    trial: usize,
    train_size: usize,
    test_size: usize,
) -> Split {
    draw_split(seed_, trial, train_size, test_size, |rng| match cells {
        None => {
            let c = space.sample(rng);
            let index = space
                .index(&c)
                .expect("checked: the space indexes its cells");
            (space.iso_key(&c), index as usize)
        }
        Some(cells) => {
            let i = rng.random_range(0..cells.len());
            (space.iso_key(&cells[i]), i)
        }
    })
}

/// `test_size` then `train_size` draws of `pick` (an isomorphism key and an index), an isomorph
/// of one already drawn drawn again.
fn draw_split(
    seed_: u64,
    trial: usize,
    train_size: usize,
    test_size: usize,
    mut pick: impl FnMut(&mut seed::Rng) -> (u64, usize),
) -> Split {
    let mut rng = seed::stream(seed_, &format!("split-{trial}"));
    let mut seen = HashSet::new();
    let mut draw = |count: usize| {
        let mut out = Vec::with_capacity(count);
        while out.len() < count {
            let (key, index) = pick(&mut rng);
            if seen.insert(key) {
                out.push(index);
            }
        }
        out
    };
    let test = draw(test_size);
    let train = draw(train_size);
    Split { trial, train, test }
}

/// Checks a split read from a file: indices of the space (`known`), no overlap, no duplicates,
/// enough cells.
pub fn check(
    known: &dyn Fn(usize) -> bool,
    s: &Split,
    train_size: usize,
    test_size: usize,
) -> Result<(), String> {
    if s.train.len() < train_size {
        return Err(format!(
            "trial {}: {} train indices, the largest train size is {train_size}",
            s.trial,
            s.train.len()
        ));
    }
    if s.test.len() != test_size {
        return Err(format!(
            "trial {}: {} test indices, test_size is {test_size}",
            s.trial,
            s.test.len()
        ));
    }
    let mut all = HashSet::new();
    for &i in s.train.iter().chain(&s.test) {
        if !known(i) {
            return Err(format!("trial {}: index {i} out of range", s.trial));
        }
        if !all.insert(i) {
            return Err(format!(
                "trial {}: index {i} appears twice (train and test must not overlap)",
                s.trial
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use emprox_benchmarks::nb201::{Nb201Data, Nb201Space};

    #[test]
    fn splits_are_disjoint_iso_unique_and_reproducible() {
        let space = Nb201Space::new(Nb201Data::shipped().unwrap());
        let s = sample(&space, None, 0, 3, 400, 200);
        assert_eq!((s.train.len(), s.test.len()), (400, 200));
        let keys: HashSet<u64> = s
            .train
            .iter()
            .chain(&s.test)
            .map(|&i| space.iso_key(&space.cell_at(i).unwrap()))
            .collect();
        assert_eq!(keys.len(), 600);
        assert_eq!(s, sample(&space, None, 0, 3, 400, 200));
        assert_ne!(s, sample(&space, None, 0, 4, 400, 200));
        let known = |i: usize| i < 15625;
        assert!(check(&known, &s, 400, 200).is_ok());
        // Drawn from given cells (a space that does not index them): places among them.
        let cells: Vec<_> = space.all_cells()[..1000].to_vec();
        let c = sample(&space, Some(&cells), 0, 3, 100, 50);
        let keys: HashSet<u64> = c
            .train
            .iter()
            .chain(&c.test)
            .map(|&i| space.iso_key(&cells[i]))
            .collect();
        assert_eq!(keys.len(), 150);
        assert!(check(&|i| i < 1000, &c, 100, 50).is_ok());
        let mut bad = s.clone();
        bad.train[0] = bad.test[0];
        assert!(check(&known, &bad, 400, 200).unwrap_err().contains("twice"));
        assert!(check(&known, &s, 401, 200).is_err());
        bad.train[0] = 15625;
        assert!(check(&known, &bad, 400, 200)
            .unwrap_err()
            .contains("out of range"));
    }
}

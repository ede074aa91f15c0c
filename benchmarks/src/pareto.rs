//! Pareto dominance for several objectives: non-dominated sorting, NSGA-II crowding distance and
//! exact hypervolume.
//!
//! Every function takes the objective vectors as rows (`points[i][k]` is objective `k` of point
//! `i`) and one [`Goal`] per objective. Internally each value is turned into a *utility* to be
//! maximised (`v` for [`Goal::Maximize`], `-v` for [`Goal::Minimize`]); a NaN value is the worst
//! possible utility, so a point with a NaN never dominates one without.
//!
//! # Hypervolume: the one definition every table uses
//! [`hypervolume`] measures the part of the unit box that a set of points dominates, after
//! normalising each objective by [`Bounds`] given per objective (`worst`, `best`):
//!
//! * objective `k` of a point becomes `u = (v - worst_k) / (best_k - worst_k)`, which is 0 at the
//!   worst bound and 1 at the best whatever the goal (for a minimised objective `worst > best`);
//! * `u` is **clipped to [0, 1]**: a value worse than the worst bound counts as the worst bound,
//!   so such a point adds nothing (for example, "accuracies below 80% are ignored" is
//!   `worst = 80`); a value better than the best bound counts as the best bound. A NaN counts as
//!   the worst bound;
//! * the **reference point is the worst corner**, `u = 0` in every objective, and the result is
//!   the Lebesgue measure of the union of the boxes `[0, u_1] × … × [0, u_d]`: a number in
//!   [0, 1], 1 meaning one point reaches the best bound of every objective at once.
//!
//! The computation is exact (no sampling) for any number of objectives by slicing along the last
//! objective down to a sweep in two dimensions; it is meant for 2 and 3 objectives, where it costs
//! O(n log n) and O(n · f) (f: size of the current front) respectively.

use crate::evaluator::Goal;

/// Bad input to the Pareto functions: always a caller's mistake, reported in one line.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParetoError {
    /// A point has a different number of objectives than there are goals.
    #[error("point {index} has {got} objective values, expected {expected}")]
    Dimensions {
        index: usize,
        got: usize,
        expected: usize,
    },
    /// No objectives at all.
    #[error("at least one objective is needed")]
    NoObjectives,
    /// Bounds of an objective that are not finite or equal.
    #[error(
        "bounds of objective {objective} must be finite and differ (worst {worst}, best {best})"
    )]
    Bounds {
        objective: usize,
        worst: f64,
        best: f64,
    },
}

/// The normalisation range of one objective for [`hypervolume`]: `worst` maps to 0 (the reference
/// point), `best` to 1. For a maximised objective `worst < best`, for a minimised one
/// `worst > best`; [`Bounds::from_range`] builds them from a goal and a range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bounds {
    pub worst: f64,
    pub best: f64,
}

impl Bounds {
    /// The bounds of an objective with this goal whose values lie in `[lo, hi]`.
    pub fn from_range(goal: Goal, lo: f64, hi: f64) -> Self {
        match goal {
            Goal::Maximize => Self {
                worst: lo,
                best: hi,
            },
            Goal::Minimize => Self {
                worst: hi,
                best: lo,
            },
        }
    }

    /// `v` normalised to [0, 1] (clipped; NaN counts as the worst bound).
    pub fn normalise(self, v: f64) -> f64 {
        let u = (v - self.worst) / (self.best - self.worst);
        if u.is_nan() {
            0.0
        } else {
            u.clamp(0.0, 1.0)
        }
    }
}

fn utility(goal: Goal, v: f64) -> f64 {
    if v.is_nan() {
        return f64::NEG_INFINITY;
    }
    match goal {
        Goal::Maximize => v,
        Goal::Minimize => -v,
    }
}

fn check(points: &[Vec<f64>], dims: usize) -> Result<(), ParetoError> {
    if dims == 0 {
        return Err(ParetoError::NoObjectives);
    }
    match points.iter().position(|p| p.len() != dims) {
        Some(index) => Err(ParetoError::Dimensions {
            index,
            got: points[index].len(),
            expected: dims,
        }),
        None => Ok(()),
    }
}

fn utilities(points: &[Vec<f64>], goals: &[Goal]) -> Result<Vec<Vec<f64>>, ParetoError> {
    check(points, goals.len())?;
    Ok(points
        .iter()
        .map(|p| p.iter().zip(goals).map(|(&v, &g)| utility(g, v)).collect())
        .collect())
}

/// Whether utility vector `a` dominates `b`: at least as good everywhere, better somewhere.
fn dominates_u(a: &[f64], b: &[f64]) -> bool {
    let mut strictly = false;
    for (x, y) in a.iter().zip(b) {
        if x < y {
            return false;
        }
        strictly |= x > y;
    }
    strictly
}

/// Whether `a` Pareto-dominates `b` under `goals`: no worse in any objective and better in at
/// least one. Equal points do not dominate each other. The slices must have `goals.len()` values.
pub fn dominates(a: &[f64], b: &[f64], goals: &[Goal]) -> bool {
    let mut strictly = false;
    for ((&x, &y), &g) in a.iter().zip(b).zip(goals) {
        let (x, y) = (utility(g, x), utility(g, y));
        if x < y {
            return false;
        }
        strictly |= x > y;
    }
    strictly
}

/// Non-dominated sorting (Deb et al.'s fast non-dominated sort, NSGA-II): the indices of
/// `points` in fronts, the first front being the non-dominated points, the second those dominated
/// only by the first, and so on. Each front lists its indices in increasing order; equal points
/// share a front. O(d · n²).
pub fn non_dominated_sort(
    points: &[Vec<f64>],
    goals: &[Goal],
) -> Result<Vec<Vec<usize>>, ParetoError> {
    let u = utilities(points, goals)?;
    let n = u.len();
    let mut dominated_by_count = vec![0usize; n];
    let mut dominates_list: Vec<Vec<usize>> = vec![Vec::new(); n];
    for i in 0..n {
        for j in i + 1..n {
            if dominates_u(&u[i], &u[j]) {
                dominates_list[i].push(j);
                dominated_by_count[j] += 1;
            } else if dominates_u(&u[j], &u[i]) {
                dominates_list[j].push(i);
                dominated_by_count[i] += 1;
            }
        }
    }
    let mut fronts = Vec::new();
    let mut current: Vec<usize> = (0..n).filter(|&i| dominated_by_count[i] == 0).collect();
    while !current.is_empty() {
        let mut next = Vec::new();
        for &i in &current {
            for &j in &dominates_list[i] {
                dominated_by_count[j] -= 1;
                if dominated_by_count[j] == 0 {
                    next.push(j);
                }
            }
        }
        next.sort_unstable();
        fronts.push(std::mem::replace(&mut current, next));
    }
    Ok(fronts)
}

/// The indices of the non-dominated points of `points`, in increasing order (the first front of
/// [`non_dominated_sort`], computed without the later fronts).
pub fn non_dominated(points: &[Vec<f64>], goals: &[Goal]) -> Result<Vec<usize>, ParetoError> {
    let u = utilities(points, goals)?;
    Ok((0..u.len())
        .filter(|&i| !u.iter().any(|q| dominates_u(q, &u[i])))
        .collect())
}

/// NSGA-II crowding distance of each point of `front` (indices into `points`), in the order of
/// `front`. For each objective the front is sorted by value (ties by index, so the result does
/// not depend on the order of `front`); the two extreme points get infinity and each other point
/// adds `(next - previous) / (max - min)`; an objective whose values are all equal adds nothing.
/// Fronts of one or two points are all infinite.
pub fn crowding_distance(
    points: &[Vec<f64>],
    goals: &[Goal],
    front: &[usize],
) -> Result<Vec<f64>, ParetoError> {
    let u = utilities(points, goals)?;
    let mut distance = vec![0.0f64; front.len()];
    if front.len() <= 2 {
        return Ok(vec![f64::INFINITY; front.len()]);
    }
    let mut order: Vec<usize> = (0..front.len()).collect();
    // `k` picks one objective of each front member, not an element of `u`.
    #[allow(clippy::needless_range_loop)]
    for k in 0..goals.len() {
        let value = |pos: usize| u[front[pos]][k];
        order.sort_by(|&a, &b| value(a).total_cmp(&value(b)).then(front[a].cmp(&front[b])));
        let (lo, hi) = (value(order[0]), value(order[order.len() - 1]));
        distance[order[0]] = f64::INFINITY;
        distance[order[order.len() - 1]] = f64::INFINITY;
        let range = hi - lo;
        if !(range.is_finite() && range > 0.0) {
            continue;
        }
        for w in order.windows(3) {
            distance[w[1]] += (value(w[2]) - value(w[0])) / range;
        }
    }
    Ok(distance)
}

/// The exact hypervolume of `points` under `goals`, normalised by `bounds` (one per objective)
/// with the reference point at the worst corner: see the [module documentation](self) for the
/// definition. Returns a value in [0, 1]; an empty set has hypervolume 0.
pub fn hypervolume(
    points: &[Vec<f64>],
    goals: &[Goal],
    bounds: &[Bounds],
) -> Result<f64, ParetoError> {
    check(points, goals.len())?;
    if bounds.len() != goals.len() {
        return Err(ParetoError::Dimensions {
            index: 0,
            got: bounds.len(),
            expected: goals.len(),
        });
    }
    for (objective, b) in bounds.iter().enumerate() {
        if !(b.worst.is_finite() && b.best.is_finite() && b.worst != b.best) {
            return Err(ParetoError::Bounds {
                objective,
                worst: b.worst,
                best: b.best,
            });
        }
    }
    // Goals are implied by the bounds' orientation; a bound that contradicts its goal is a
    // caller's mistake the normalisation would silently turn upside down.
    for (objective, (b, g)) in bounds.iter().zip(goals).enumerate() {
        if g.better(b.worst, b.best) {
            return Err(ParetoError::Bounds {
                objective,
                worst: b.worst,
                best: b.best,
            });
        }
    }
    let normalised: Vec<Vec<f64>> = points
        .iter()
        .map(|p| p.iter().zip(bounds).map(|(&v, b)| b.normalise(v)).collect())
        .filter(|u: &Vec<f64>| u.iter().all(|&x| x > 0.0))
        .collect();
    Ok(hv_unit(normalised))
}

/// Hypervolume of points in [0, 1]^d (maximised, reference 0), every coordinate > 0.
fn hv_unit(mut pts: Vec<Vec<f64>>) -> f64 {
    let Some(d) = pts.first().map(Vec::len) else {
        return 0.0;
    };
    match d {
        1 => pts.iter().map(|p| p[0]).fold(0.0, f64::max),
        2 => hv2(pts.iter().map(|p| (p[0], p[1])).collect()),
        _ => {
            // Slice along the last objective, best first: between two consecutive levels the
            // dominated region is the (d-1)-dimensional hypervolume of the points seen so far.
            pts.sort_by(|a, b| b[d - 1].total_cmp(&a[d - 1]));
            let mut volume = 0.0;
            let mut seen: Vec<Vec<f64>> = Vec::with_capacity(pts.len());
            for (i, p) in pts.iter().enumerate() {
                let projected = p[..d - 1].to_vec();
                if !seen
                    .iter()
                    .any(|q| q.iter().zip(&projected).all(|(a, b)| a >= b))
                {
                    seen.retain(|q| !q.iter().zip(&projected).all(|(a, b)| a <= b));
                    seen.push(projected);
                }
                let next = pts.get(i + 1).map_or(0.0, |q| q[d - 1]);
                let depth = p[d - 1] - next;
                if depth > 0.0 {
                    volume += depth * hv_unit(seen.clone());
                }
            }
            volume
        }
    }
}

/// Two-dimensional sweep: sort by the first objective, best first, and add the strip each point
/// raises above the best second objective seen so far.
fn hv2(mut pts: Vec<(f64, f64)>) -> f64 {
    pts.sort_by(|a, b| b.0.total_cmp(&a.0).then(b.1.total_cmp(&a.1)));
    let mut volume = 0.0;
    let mut top = 0.0f64;
    for (x, y) in pts {
        if y > top {
            volume += x * (y - top);
            top = y;
        }
    }
    volume
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use Goal::{Maximize as Max, Minimize as Min};

    fn pts(v: &[&[f64]]) -> Vec<Vec<f64>> {
        v.iter().map(|p| p.to_vec()).collect()
    }

    fn unit(d: usize) -> Vec<Bounds> {
        vec![
            Bounds {
                worst: 0.0,
                best: 1.0
            };
            d
        ]
    }

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-12, "{a} != {b}");
    }

    #[test]
    fn dominance_respects_goals_and_ties() {
        assert!(dominates(&[2.0, 1.0], &[1.0, 1.0], &[Max, Max]));
        assert!(!dominates(&[1.0, 1.0], &[1.0, 1.0], &[Max, Max]));
        assert!(dominates(&[2.0, 1.0], &[1.0, 2.0], &[Max, Min]));
        assert!(!dominates(&[2.0, 1.0], &[1.0, 2.0], &[Max, Max]));
        assert!(dominates(&[1.0, 0.0], &[1.0, f64::NAN], &[Max, Min]));
        assert!(!dominates(&[1.0, f64::NAN], &[1.0, 0.0], &[Max, Min]));
    }

    #[test]
    fn hypervolume_two_dimensions_by_hand() {
        // Staircase (0.2, 0.9), (0.5, 0.6), (0.8, 0.3): 0.8*0.3 + 0.5*0.3 + 0.2*0.3 = 0.45.
        let front = pts(&[&[0.2, 0.9], &[0.5, 0.6], &[0.8, 0.3]]);
        close(hypervolume(&front, &[Max, Max], &unit(2)).unwrap(), 0.45);
        // Adding a dominated point, a duplicate and a tie on one objective changes nothing:
        // (0.5, 0.3) is dominated by (0.5, 0.6); (0.2, 0.6) by both.
        let mut more = front.clone();
        more.extend(pts(&[&[0.5, 0.6], &[0.5, 0.3], &[0.2, 0.6], &[0.8, 0.3]]));
        close(hypervolume(&more, &[Max, Max], &unit(2)).unwrap(), 0.45);
        // A tie in the first objective with a better second one replaces the strip.
        more.push(vec![0.5, 0.7]);
        close(
            hypervolume(&more, &[Max, Max], &unit(2)).unwrap(),
            0.8 * 0.3 + 0.5 * 0.4 + 0.2 * 0.2,
        );
        // Empty set, and a point at the reference point.
        close(hypervolume(&[], &[Max, Max], &unit(2)).unwrap(), 0.0);
        close(
            hypervolume(&pts(&[&[0.0, 1.0]]), &[Max, Max], &unit(2)).unwrap(),
            0.0,
        );
    }

    #[test]
    fn hypervolume_normalises_and_clips() {
        // Accuracy in [80, 100] maximised, latency in [10, 30] ms minimised.
        let goals = [Max, Min];
        let bounds = [
            Bounds::from_range(Max, 80.0, 100.0),
            Bounds::from_range(Min, 10.0, 30.0),
        ];
        // (90, 20) -> (0.5, 0.5); (100, 30) -> (1, 0): adds nothing; (70, 10) below 80: ignored.
        let p = pts(&[&[90.0, 20.0], &[100.0, 30.0], &[70.0, 10.0]]);
        close(hypervolume(&p, &goals, &bounds).unwrap(), 0.25);
        // Better than the best bound is clipped to it: (110, 5) -> (1, 1).
        close(
            hypervolume(&pts(&[&[110.0, 5.0]]), &goals, &bounds).unwrap(),
            1.0,
        );
        // NaN counts as the worst bound.
        close(
            hypervolume(&pts(&[&[f64::NAN, 10.0]]), &goals, &bounds).unwrap(),
            0.0,
        );
        // Bounds that contradict the goal, or are degenerate, are errors.
        let upside_down = [Bounds::from_range(Min, 80.0, 100.0), bounds[1]];
        assert!(matches!(
            hypervolume(&p, &goals, &upside_down),
            Err(ParetoError::Bounds { objective: 0, .. })
        ));
        let flat = [
            bounds[0],
            Bounds {
                worst: 1.0,
                best: 1.0,
            },
        ];
        assert!(hypervolume(&p, &goals, &flat).is_err());
        assert_eq!(
            hypervolume(&pts(&[&[1.0]]), &goals, &bounds),
            Err(ParetoError::Dimensions {
                index: 0,
                got: 1,
                expected: 2
            })
        );
    }

    #[test]
    fn hypervolume_three_dimensions_by_hand() {
        let g = [Max, Max, Max];
        // One box.
        close(
            hypervolume(&pts(&[&[0.5, 0.4, 0.3]]), &g, &unit(3)).unwrap(),
            0.06,
        );
        // Two boxes (1, 0.5, 0.5) and (0.5, 1, 0.5): 0.25 + 0.25 - overlap 0.125 = 0.375.
        let two = pts(&[&[1.0, 0.5, 0.5], &[0.5, 1.0, 0.5]]);
        close(hypervolume(&two, &g, &unit(3)).unwrap(), 0.375);
        // The three unit-axis slabs of thickness 0.5: by inclusion-exclusion
        // 3 * 0.5 - 3 * 0.25 + 0.125 = 0.875.
        let three = pts(&[&[1.0, 1.0, 0.5], &[1.0, 0.5, 1.0], &[0.5, 1.0, 1.0]]);
        close(hypervolume(&three, &g, &unit(3)).unwrap(), 0.875);
        // Dominated points and duplicates add nothing.
        let mut more = three.clone();
        more.extend(pts(&[&[0.5, 0.5, 0.5], &[1.0, 1.0, 0.5], &[0.9, 0.4, 0.2]]));
        close(hypervolume(&more, &g, &unit(3)).unwrap(), 0.875);
        // Mixed goals: minimising the last objective in [0, 1] flips it.
        let flipped = pts(&[&[1.0, 1.0, 0.5], &[1.0, 0.5, 0.0], &[0.5, 1.0, 0.0]]);
        let b = [unit(1)[0], unit(1)[0], Bounds::from_range(Min, 0.0, 1.0)];
        close(hypervolume(&flipped, &[Max, Max, Min], &b).unwrap(), 0.875);
    }

    #[test]
    fn crowding_distance_by_hand() {
        // Front (1, 5), (2, 3), (4, 2), (6, 1), both minimised. Objective 0 range 5,
        // objective 1 range 4. (2, 3): (4-1)/5 + (5-2)/4 = 0.6 + 0.75; (4, 2): (6-2)/5 + (3-1)/4.
        let p = pts(&[&[4.0, 2.0], &[1.0, 5.0], &[6.0, 1.0], &[2.0, 3.0]]);
        let front = [0, 1, 2, 3];
        let d = crowding_distance(&p, &[Min, Min], &front).unwrap();
        close(d[0], 0.8 + 0.5);
        close(d[3], 0.6 + 0.75);
        assert!(d[1].is_infinite() && d[2].is_infinite());
        // The order of the front does not change a point's distance.
        let d2 = crowding_distance(&p, &[Min, Min], &[3, 2, 1, 0]).unwrap();
        assert_eq!(d2, vec![d[3], d[2], d[1], d[0]]);
        // An objective with one value adds nothing; small fronts are infinite.
        let flat = pts(&[&[1.0, 0.0], &[2.0, 0.0], &[3.0, 0.0]]);
        let d = crowding_distance(&flat, &[Max, Max], &[0, 1, 2]).unwrap();
        close(d[1], 1.0);
        assert_eq!(
            crowding_distance(&flat, &[Max, Max], &[0, 2]).unwrap(),
            vec![f64::INFINITY; 2]
        );
    }

    #[test]
    fn sorting_by_hand_with_duplicates() {
        let p = pts(&[
            &[1.0, 1.0],
            &[2.0, 2.0],
            &[2.0, 2.0],
            &[3.0, 0.0],
            &[0.0, 0.0],
        ]);
        let fronts = non_dominated_sort(&p, &[Max, Max]).unwrap();
        assert_eq!(fronts, vec![vec![1, 2, 3], vec![0], vec![4]]);
        assert_eq!(non_dominated(&p, &[Max, Max]).unwrap(), vec![1, 2, 3]);
        let fronts = non_dominated_sort(&p, &[Min, Min]).unwrap();
        assert_eq!(fronts, vec![vec![4], vec![0, 3], vec![1, 2]]);
        assert_eq!(
            non_dominated_sort(&[], &[Max]).unwrap(),
            Vec::<Vec<usize>>::new()
        );
        assert_eq!(non_dominated_sort(&p, &[]), Err(ParetoError::NoObjectives));
    }

    fn goal() -> impl Strategy<Value = Goal> {
        prop_oneof![Just(Max), Just(Min)]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        /// Fronts against brute force: every point is in exactly one front; nothing in a front
        /// is dominated by a point of the same or a later front; each point after the first front
        /// is dominated by some point of the front just before.
        #[test]
        fn sorting_matches_brute_force(
            goals in proptest::collection::vec(goal(), 1..4),
            raw in proptest::collection::vec(proptest::collection::vec(0u8..5, 3), 0..40),
        ) {
            let d = goals.len();
            let p: Vec<Vec<f64>> = raw.iter().map(|r| r[..d].iter().map(|&x| x as f64).collect()).collect();
            let fronts = non_dominated_sort(&p, &goals).unwrap();
            let mut rank = vec![usize::MAX; p.len()];
            for (r, f) in fronts.iter().enumerate() {
                prop_assert!(!f.is_empty());
                for &i in f {
                    prop_assert_eq!(rank[i], usize::MAX);
                    rank[i] = r;
                }
            }
            prop_assert!(rank.iter().all(|&r| r != usize::MAX));
            for i in 0..p.len() {
                for j in 0..p.len() {
                    if dominates(&p[j], &p[i], &goals) {
                        prop_assert!(rank[j] < rank[i]);
                    }
                }
                if rank[i] > 0 {
                    prop_assert!(fronts[rank[i] - 1].iter().any(|&j| dominates(&p[j], &p[i], &goals)));
                }
            }
            let brute: Vec<usize> = (0..p.len())
                .filter(|&i| !(0..p.len()).any(|j| dominates(&p[j], &p[i], &goals)))
                .collect();
            prop_assert_eq!(&non_dominated(&p, &goals).unwrap(), &brute);
            prop_assert_eq!(fronts.first().cloned().unwrap_or_default(), brute);
        }

        /// Hypervolume against counting grid cells: with coordinates on a grid of tenths, the
        /// dominated region is a union of grid cells, counted one by one.
        #[test]
        fn hypervolume_matches_grid_count(
            dims in 1usize..4,
            raw in proptest::collection::vec(proptest::collection::vec(0u8..=10, 3), 0..12),
        ) {
            let p: Vec<Vec<f64>> = raw.iter().map(|r| r[..dims].iter().map(|&x| x as f64 / 10.0).collect()).collect();
            let hv = hypervolume(&p, &vec![Max; dims], &unit(dims)).unwrap();
            let mut count = 0usize;
            let cells = 10usize.pow(dims as u32);
            for c in 0..cells {
                let corner: Vec<u8> = (0..dims).map(|k| ((c / 10usize.pow(k as u32)) % 10) as u8 + 1).collect();
                if raw.iter().any(|r| corner.iter().zip(r).all(|(a, b)| a <= b)) {
                    count += 1;
                }
            }
            prop_assert!((hv - count as f64 / cells as f64).abs() < 1e-9, "{} vs {}", hv, count);
            // Minimising the mirrored values gives the same volume.
            let mirrored: Vec<Vec<f64>> = p.iter().map(|q| q.iter().map(|x| 1.0 - x).collect()).collect();
            let b = vec![Bounds::from_range(Min, 0.0, 1.0); dims];
            let hv_min = hypervolume(&mirrored, &vec![Min; dims], &b).unwrap();
            prop_assert!((hv - hv_min).abs() < 1e-9);
        }
    }
}

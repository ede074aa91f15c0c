//! Predictor-quality metrics: rank correlations, errors and top-k precision.

/// Mean and sample standard deviation (n − 1; 0 for one value, NaN for none).
pub fn mean_std(xs: &[f64]) -> (f64, f64) {
    if xs.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = if xs.len() > 1 {
        xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (mean, var.sqrt())
}

/// Kendall's tau-b (ties in either variable are accounted for, as in `scipy.stats.kendalltau`).
/// Returns 0 when one of the variables is constant.
pub fn kendall_tau(x: &[f64], y: &[f64]) -> f64 {
    assert_eq!(x.len(), y.len());
    let n = x.len();
    let (mut concordant, mut discordant, mut tie_x, mut tie_y) = (0i64, 0i64, 0i64, 0i64);
    for i in 0..n {
        for j in i + 1..n {
            let dx = x[i].total_cmp(&x[j]) as i8;
            let dy = y[i].total_cmp(&y[j]) as i8;
            match (dx, dy) {
                (0, 0) => {}
                (0, _) => tie_x += 1,
                (_, 0) => tie_y += 1,
                _ if dx == dy => concordant += 1,
                _ => discordant += 1,
            }
        }
    }
    let n_x = (concordant + discordant + tie_y) as f64; // pairs not tied in x
    let n_y = (concordant + discordant + tie_x) as f64; // pairs not tied in y
    if n_x == 0.0 || n_y == 0.0 {
        return 0.0;
    }
    (concordant - discordant) as f64 / (n_x * n_y).sqrt()
}

/// Ranks starting at 1, ties sharing their average rank.
pub fn average_ranks(x: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..x.len()).collect();
    idx.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
    let mut ranks = vec![0.0; x.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && x[idx[j + 1]] == x[idx[i]] {
            j += 1;
        }
        let r = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            ranks[k] = r;
        }
        i = j + 1;
    }
    ranks
}

/// Pearson's correlation coefficient (0 when a variable is constant).
pub fn pearson(x: &[f64], y: &[f64]) -> f64 {
    assert_eq!(x.len(), y.len());
    let n = x.len() as f64;
    if x.is_empty() {
        return 0.0;
    }
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
        syy += (b - my) * (b - my);
    }
    if sxx == 0.0 || syy == 0.0 {
        return 0.0;
    }
    sxy / (sxx * syy).sqrt()
}

/// Spearman's rank correlation (Pearson on average ranks).
pub fn spearman(x: &[f64], y: &[f64]) -> f64 {
    pearson(&average_ranks(x), &average_ranks(y))
}

/// Mean absolute error.
pub fn mae(truth: &[f64], pred: &[f64]) -> f64 {
    assert_eq!(truth.len(), pred.len());
    truth
        .iter()
        .zip(pred)
        .map(|(a, b)| (a - b).abs())
        .sum::<f64>()
        / truth.len().max(1) as f64
}

/// Root mean squared error.
pub fn rmse(truth: &[f64], pred: &[f64]) -> f64 {
    assert_eq!(truth.len(), pred.len());
    (truth
        .iter()
        .zip(pred)
        .map(|(a, b)| (a - b).powi(2))
        .sum::<f64>()
        / truth.len().max(1) as f64)
        .sqrt()
}

/// Indices of the `k` largest values (ties broken by the lower index).
pub fn top_k(x: &[f64], k: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..x.len()).collect();
    idx.sort_by(|&a, &b| x[b].total_cmp(&x[a]).then(a.cmp(&b)));
    idx.truncate(k);
    idx
}

/// The share of the true top-`k` among the predicted top-`k` (`k` capped at the set size).
pub fn precision_at_k(truth: &[f64], pred: &[f64], k: usize) -> f64 {
    assert_eq!(truth.len(), pred.len());
    let k = k.min(truth.len());
    if k == 0 {
        return 0.0;
    }
    let t = top_k(truth, k);
    let p = top_k(pred, k);
    t.iter().filter(|i| p.contains(i)).count() as f64 / k as f64
}

/// All metrics of one (truth, prediction) pair.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Metrics {
    /// Kendall's tau-b.
    pub kendall_tau: f64,
    /// Spearman's rho.
    pub spearman: f64,
    /// Pearson's r.
    pub pearson: f64,
    /// Mean absolute error.
    pub mae: f64,
    /// Root mean squared error.
    pub rmse: f64,
    /// Precision at 10.
    pub precision_at_10: f64,
    /// Precision at 20.
    pub precision_at_20: f64,
}

impl Metrics {
    /// Computes every metric.
    pub fn compute(truth: &[f64], pred: &[f64]) -> Metrics {
        Metrics {
            kendall_tau: kendall_tau(truth, pred),
            spearman: spearman(truth, pred),
            pearson: pearson(truth, pred),
            mae: mae(truth, pred),
            rmse: rmse(truth, pred),
            precision_at_10: precision_at_k(truth, pred, 10),
            precision_at_20: precision_at_k(truth, pred, 20),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn kendall_perfect_reversed_and_hand_computed() {
        let x = [1.0, 2.0, 3.0, 4.0];
        assert!(close(kendall_tau(&x, &x), 1.0));
        assert!(close(kendall_tau(&x, &[4.0, 3.0, 2.0, 1.0]), -1.0));
        // y = [1,3,2,4]: pairs C=5, D=1 → (5-1)/6.
        assert!(close(kendall_tau(&x, &[1.0, 3.0, 2.0, 4.0]), 4.0 / 6.0));
    }

    #[test]
    fn kendall_tau_b_with_ties() {
        // x = [1,2,2,3], y = [1,2,3,3]. Pairs: (0,1)C (0,2)C (0,3)C (1,2) tie x (1,3)C (2,3) tie y.
        // C=4, D=0, n_x = 4 + 1 (tie_y) = 5, n_y = 4 + 1 (tie_x) = 5 → 4/5 (scipy: 0.8).
        let t = kendall_tau(&[1.0, 2.0, 2.0, 3.0], &[1.0, 2.0, 3.0, 3.0]);
        assert!(close(t, 0.8), "{t}");
        assert_eq!(kendall_tau(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]), 0.0);
    }

    #[test]
    fn spearman_with_ties_matches_hand_value() {
        assert_eq!(
            average_ranks(&[10.0, 20.0, 20.0, 5.0]),
            vec![2.0, 3.5, 3.5, 1.0]
        );
        // ranks x = [1,2,3,4], y = [1,2.5,2.5,4]: r = 0.9486832980505138 (scipy).
        let r = spearman(&[1.0, 2.0, 3.0, 4.0], &[1.0, 5.0, 5.0, 9.0]);
        assert!((r - 0.948_683_298_050_513_8).abs() < 1e-12, "{r}");
    }

    #[test]
    fn pearson_errors_and_precision() {
        assert!(close(pearson(&[1.0, 2.0, 3.0], &[2.0, 4.0, 6.0]), 1.0));
        assert!(close(pearson(&[1.0, 2.0, 3.0], &[1.0, 3.0, 2.0]), 0.5));
        assert!(close(mae(&[1.0, 2.0], &[2.0, 4.0]), 1.5));
        assert!(close(rmse(&[1.0, 2.0], &[2.0, 4.0]), 2.5f64.sqrt()));
        let truth: Vec<f64> = (0..30).map(|i| i as f64).collect();
        let mut pred = truth.clone();
        assert!(close(precision_at_k(&truth, &pred, 10), 1.0));
        // Swap the best (29) and a bottom one (0): 9 of the true top-10 remain predicted.
        pred.swap(29, 0);
        assert!(close(precision_at_k(&truth, &pred, 10), 0.9));
        assert!(close(precision_at_k(&truth, &pred, 20), 19.0 / 20.0));
        let rev: Vec<f64> = truth.iter().map(|t| -t).collect();
        assert_eq!(precision_at_k(&truth, &rev, 10), 0.0);
    }
}

//! Several objectives: the experiment's `objectives = [...]` checked against a benchmark's
//! metrics, and what a run's journal then yields: its Pareto front (`pareto.csv`) and the
//! hypervolume of the evaluated cells after each query (`trajectory.csv`).
//!
//! The first objective is the benchmark's search signal (`val_acc`, or the table's objective
//! column by name), with the benchmark's goal: strategies and the filter keep optimising it. The
//! others are the benchmark's extras (params, FLOPs, device latencies), which a journal carries.
//! Hypervolume follows [`emprox_benchmarks::pareto::hypervolume`]: each objective normalised by
//! its `range` (default: the table's range of that column), clipped, the reference point at the
//! worst corner.

use crate::journal::Trial;
use emprox_benchmarks::evaluator::Goal;
use emprox_benchmarks::pareto::{self, Bounds};
use serde::{Deserialize, Serialize};

/// One objective of an experiment (`objectives = [{ metric = "...", goal = "..." }, ...]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectiveSpec {
    /// `val_acc` (the search signal) or the name of one of the benchmark's metrics.
    pub metric: String,
    /// `maximize` or `minimize`.
    pub goal: Goal,
    /// `[lo, hi]`: the values that normalise this objective to [0, 1] for the hypervolume
    /// (values outside are clipped: below an accuracy's `lo` adds nothing). Default: the range
    /// of the column in the table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<[f64; 2]>,
}

/// The most objectives of one experiment (hypervolume is computed exactly).
pub const MAX_OBJECTIVES: usize = 3;

/// Checks what can be checked without the benchmark: names, duplicates, ranges.
pub fn check(specs: &[ObjectiveSpec]) -> Result<(), String> {
    if specs.len() > MAX_OBJECTIVES {
        return Err(format!(
            "`objectives` holds {} objectives; at most {MAX_OBJECTIVES} are supported",
            specs.len()
        ));
    }
    for (i, s) in specs.iter().enumerate() {
        if specs[..i].iter().any(|o| o.metric == s.metric) {
            return Err(format!("`objectives` names metric `{}` twice", s.metric));
        }
        if let Some([lo, hi]) = s.range {
            if !(lo.is_finite() && hi.is_finite() && lo < hi) {
                return Err(format!(
                    "`objectives` metric `{}`: range must be two finite numbers [lo, hi] with lo < hi, got [{lo}, {hi}]",
                    s.metric
                ));
            }
        }
    }
    Ok(())
}

/// The metrics a benchmark offers: its search signal and its extras, with the table's values.
pub struct Metrics<'a> {
    /// Names the search signal answers to (`val_acc` and, for a table, its column).
    pub signal_names: Vec<&'a str>,
    /// The search signal's goal.
    pub goal: Goal,
    /// The signal's values in the table (for the default range).
    pub signal: &'a [f64],
    /// Each extra's name and values in the table, where the benchmark is a table lookup.
    pub extras: Option<&'a [(String, Vec<f64>)]>,
}

/// Several objectives resolved against a benchmark.
#[derive(Debug, Clone, PartialEq)]
pub struct MultiObjective {
    /// Names as written in `pareto.csv` (the first is the signal: `val_acc`).
    pub metrics: Vec<String>,
    /// One goal per objective.
    pub goals: Vec<Goal>,
    /// One normalisation per objective.
    pub bounds: Vec<Bounds>,
}

/// Resolves `specs` against a benchmark's `metrics`: `None` for zero or one objective (today's
/// single-objective search), an error naming the available metrics for an unknown one.
pub fn resolve(
    specs: &[ObjectiveSpec],
    metrics: &Metrics,
) -> Result<Option<MultiObjective>, String> {
    check(specs)?;
    let Some(first) = specs.first() else {
        return Ok(None);
    };
    let extras = metrics.extras.unwrap_or(&[]);
    let available = || {
        let mut names: Vec<&str> = vec!["val_acc"];
        names.extend(extras.iter().map(|(n, _)| n.as_str()));
        names.join(", ")
    };
    if !metrics.signal_names.contains(&first.metric.as_str()) {
        return Err(format!(
            "`objectives`: the first objective must be the search signal `val_acc` (the benchmark's \
             objective), got `{}`",
            first.metric
        ));
    }
    if first.goal != metrics.goal {
        return Err(format!(
            "`objectives`: the benchmark's search signal is to be {}d, not {}d",
            metrics.goal.name(),
            first.goal.name()
        ));
    }
    if specs.len() == 1 {
        return Ok(None);
    }
    if metrics.extras.is_none() {
        return Err(
            "`objectives` with several metrics need a table lookup (a tabular benchmark such as \
             benchmarks/data/nb201_cifar10_hw.tabular.toml, without [evaluator])"
                .into(),
        );
    }
    let range = |s: &ObjectiveSpec, values: &[f64]| {
        let [lo, hi] = s.range.unwrap_or_else(|| {
            let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            [lo, hi]
        });
        if lo < hi {
            Ok(Bounds::from_range(s.goal, lo, hi))
        } else {
            Err(format!(
                "`objectives` metric `{}` has one value in the table: give it a `range`",
                s.metric
            ))
        }
    };
    let mut out = MultiObjective {
        metrics: vec!["val_acc".into()],
        goals: vec![first.goal],
        bounds: vec![range(first, metrics.signal)?],
    };
    for s in &specs[1..] {
        let Some((name, values)) = extras.iter().find(|(n, _)| *n == s.metric) else {
            return Err(format!(
                "`objectives`: unknown metric `{}` (available: {})",
                s.metric,
                available()
            ));
        };
        out.bounds.push(range(s, values)?);
        out.metrics.push(name.clone());
        out.goals.push(s.goal);
    }
    Ok(Some(out))
}

impl MultiObjective {
    /// The objective vector of a successful trial (`None` for a failure or a missing metric).
    pub fn point(&self, t: &Trial) -> Option<Vec<f64>> {
        let mut p = vec![t.val_acc?];
        for name in &self.metrics[1..] {
            p.push(t.extras.iter().find(|(n, _)| n == name)?.1);
        }
        Some(p)
    }

    /// The utilities of a cell whose search signal is `val` and whose other metrics are
    /// `metrics` (by name): each objective normalised by its bounds to [0, 1], 1 the best,
    /// clipped ([`Bounds::normalise`]); a metric `metrics` lacks counts as the worst. What
    /// strategies are told ([`emprox_strategies::Feedback::objectives`]) and the filter ranks.
    pub fn utilities(&self, val: f64, metrics: &[(String, f64)]) -> Vec<f64> {
        let value = |name: &String| {
            metrics
                .iter()
                .find(|(n, _)| n == name)
                .map_or(f64::NAN, |m| m.1)
        };
        std::iter::once(val)
            .chain(self.metrics[1..].iter().map(value))
            .zip(&self.bounds)
            .map(|(v, b)| b.normalise(v))
            .collect()
    }

    /// The hypervolume of the evaluated cells after each trial, in journal order.
    pub fn hypervolumes(&self, trials: &[Trial]) -> Vec<(u64, f64)> {
        let mut front: Vec<Vec<f64>> = Vec::new();
        let mut hv = 0.0;
        trials
            .iter()
            .map(|t| {
                if let Some(p) = self.point(t) {
                    if !front
                        .iter()
                        .any(|q| pareto::dominates(q, &p, &self.goals) || *q == p)
                    {
                        front.retain(|q| !pareto::dominates(&p, q, &self.goals));
                        front.push(p);
                        hv = pareto::hypervolume(&front, &self.goals, &self.bounds)
                            .expect("checked dimensions and bounds");
                    }
                }
                (t.query, hv)
            })
            .collect()
    }

    /// `pareto.csv`: the non-dominated evaluated cells (by validation), in query order, with
    /// each objective and the test value (reported only). Equal points all appear.
    pub fn pareto_csv(&self, trials: &[Trial]) -> Vec<u8> {
        let evaluated: Vec<(&Trial, Vec<f64>)> = trials
            .iter()
            .filter_map(|t| Some((t, self.point(t)?)))
            .collect();
        let points: Vec<Vec<f64>> = evaluated.iter().map(|(_, p)| p.clone()).collect();
        let front = pareto::non_dominated(&points, &self.goals).expect("checked dimensions");
        let mut w = csv::Writer::from_writer(Vec::new());
        let mut header = vec!["query".to_string(), "index".into(), "arch".into()];
        header.extend(self.metrics.iter().cloned());
        header.push("test_acc".into());
        w.write_record(&header).expect("in-memory csv");
        for i in front {
            let (t, p) = &evaluated[i];
            let mut row = vec![
                t.query.to_string(),
                t.index.map_or(String::new(), |i| i.to_string()),
                t.arch.clone(),
            ];
            row.extend(p.iter().map(f64::to_string));
            row.push(t.test_acc.map_or(String::new(), |v| v.to_string()));
            w.write_record(&row).expect("in-memory csv");
        }
        w.into_inner().expect("in-memory csv")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(metric: &str, goal: Goal) -> ObjectiveSpec {
        ObjectiveSpec {
            metric: metric.into(),
            goal,
            range: None,
        }
    }

    fn trial(query: u64, val: Option<f64>, lat: f64) -> Trial {
        Trial {
            run: 0,
            query,
            index: Some(query),
            arch: format!("a{query}"),
            val_acc: val,
            test_acc: val.map(|v| v + 1.0),
            cost_seconds: None,
            sim_seconds: None,
            incumbent: false,
            predicted: None,
            error: None,
            extras: vec![("params".into(), 1.0), ("lat".into(), lat)],
        }
    }

    fn table() -> Vec<(String, Vec<f64>)> {
        vec![
            ("params".into(), vec![1.0, 2.0]),
            ("lat".into(), vec![10.0, 30.0]),
        ]
    }

    fn metrics<'a>(extras: Option<&'a [(String, Vec<f64>)]>, signal: &'a [f64]) -> Metrics<'a> {
        Metrics {
            signal_names: vec!["val_acc", "c10_val_acc"],
            goal: Goal::Maximize,
            signal,
            extras,
        }
    }

    #[test]
    fn one_objective_is_todays_search_and_bad_ones_are_named() {
        let t = table();
        let m = metrics(Some(&t), &[80.0, 90.0]);
        assert_eq!(resolve(&[], &m), Ok(None));
        assert_eq!(
            resolve(&[spec("c10_val_acc", Goal::Maximize)], &m),
            Ok(None)
        );
        let e = resolve(
            &[
                spec("val_acc", Goal::Maximize),
                spec("latency", Goal::Minimize),
            ],
            &m,
        )
        .unwrap_err();
        assert_eq!(
            e,
            "`objectives`: unknown metric `latency` (available: val_acc, params, lat)"
        );
        assert!(resolve(&[spec("lat", Goal::Minimize)], &m)
            .unwrap_err()
            .contains("first objective must be the search signal"));
        assert!(resolve(&[spec("val_acc", Goal::Minimize)], &m)
            .unwrap_err()
            .contains("to be maximized, not minimized"));
        let twice = [
            spec("val_acc", Goal::Maximize),
            spec("val_acc", Goal::Maximize),
        ];
        assert!(resolve(&twice, &m).unwrap_err().contains("twice"));
        let lookup_only = [spec("val_acc", Goal::Maximize), spec("lat", Goal::Minimize)];
        assert!(resolve(&lookup_only, &metrics(None, &[]))
            .unwrap_err()
            .contains("need a table lookup"));
        let mut bad = spec("lat", Goal::Minimize);
        bad.range = Some([3.0, 3.0]);
        assert!(check(&[spec("val_acc", Goal::Maximize), bad])
            .unwrap_err()
            .contains("lo < hi"));
    }

    #[test]
    fn front_and_hypervolume_of_a_journal() {
        let t = table();
        let mut acc = spec("val_acc", Goal::Maximize);
        acc.range = Some([80.0, 100.0]);
        let specs = [acc, spec("lat", Goal::Minimize)];
        let mo = resolve(&specs, &metrics(Some(&t), &[0.0, 1.0]))
            .unwrap()
            .unwrap();
        assert_eq!(mo.metrics, vec!["val_acc", "lat"]);
        let trials = vec![
            trial(1, Some(90.0), 20.0),  // (0.5, 0.5): 0.25
            trial(2, None, 10.0),        // failed: nothing
            trial(3, Some(85.0), 25.0),  // dominated by query 1
            trial(4, Some(100.0), 30.0), // latency at its worst: on the front, adds nothing
            trial(5, Some(70.0), 10.0),  // below 80%: on the front, adds nothing
            trial(6, Some(95.0), 10.0),  // (0.75, 1): dominates 1 and 5 -> 0.75
        ];
        let hv: Vec<f64> = mo.hypervolumes(&trials).into_iter().map(|x| x.1).collect();
        assert_eq!(hv, vec![0.25, 0.25, 0.25, 0.25, 0.25, 0.75]);
        // What a strategy is told: the same normalisation, clipped; a missing metric is worst.
        let extras = &trials[0].extras;
        assert_eq!(mo.utilities(90.0, extras), vec![0.5, 0.5]);
        assert_eq!(mo.utilities(70.0, &[("lat".into(), 5.0)]), vec![0.0, 1.0]);
        assert_eq!(mo.utilities(100.0, &[]), vec![1.0, 0.0]);
        let csv = String::from_utf8(mo.pareto_csv(&trials)).unwrap();
        assert_eq!(
            csv,
            "query,index,arch,val_acc,lat,test_acc\n4,4,a4,100,30,101\n6,6,a6,95,10,96\n"
        );
        assert_eq!(
            String::from_utf8(mo.pareto_csv(&trials[..1])).unwrap(),
            "query,index,arch,val_acc,lat,test_acc\n1,1,a1,90,20,91\n"
        );
    }
}

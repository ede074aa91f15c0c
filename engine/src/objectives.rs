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
use crate::plot::{Axes, Dots, Series, PALETTE};
use emprox_benchmarks::evaluator::Goal;
use emprox_benchmarks::pareto::{self, Bounds};
use emprox_estimators::plot::{panels as panels_svg, Panel};
use plotters::style::RGBColor;
use serde::{Deserialize, Serialize};
use std::path::Path;

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
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "two_numbers"
    )]
    pub range: Option<[f64; 2]>,
}

/// A `range`: exactly two numbers (a fixed-size array alone would take the first two of more).
fn two_numbers<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<[f64; 2]>, D::Error> {
    let v = Vec::<f64>::deserialize(d)?;
    <[f64; 2]>::try_from(v.as_slice())
        .map(Some)
        .map_err(|_| serde::de::Error::invalid_length(v.len(), &"two numbers [lo, hi]"))
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
    /// Names as written in `pareto.csv` (the first is the signal: `val_acc`, or a table's
    /// objective column).
    pub metrics: Vec<String>,
    /// One goal per objective.
    pub goals: Vec<Goal>,
    /// One normalisation per objective.
    pub bounds: Vec<Bounds>,
    /// The table's own front, where the benchmark is a table lookup (every cell a search can
    /// evaluate is a row, so no search can do better).
    pub reference: Option<Reference>,
}

/// The true front of a table: the non-dominated rows by validation.
#[derive(Debug, Clone, PartialEq)]
pub struct Reference {
    /// The front's objective vectors (in table order; equal points all appear).
    pub front: Vec<Vec<f64>>,
    /// Its hypervolume (with the experiment's normalisation).
    pub hypervolume: f64,
}

/// The hypervolume after one query of a run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HvPoint {
    /// The query.
    pub query: u64,
    /// Hypervolume of the evaluated cells by validation (what a search optimises).
    pub val: f64,
    /// Hypervolume of the same non-dominated cells with their test values in place of the
    /// validation values (reported only); absent where the benchmark has no test values.
    pub test: Option<f64>,
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
        // The signal by its own name (a table's objective column), as a person reads it.
        metrics: vec![metrics
            .signal_names
            .last()
            .copied()
            .unwrap_or("val_acc")
            .into()],
        goals: vec![first.goal],
        bounds: vec![range(first, metrics.signal)?],
        reference: None,
    };
    let mut columns: Vec<&[f64]> = vec![metrics.signal];
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
        columns.push(values);
    }
    out.reference = out.table_front(&columns);
    Ok(Some(out))
}

impl MultiObjective {
    /// The front of a table given as one column per objective (`None` when the columns are
    /// empty: a benchmark that is not a table).
    fn table_front(&self, columns: &[&[f64]]) -> Option<Reference> {
        let rows = columns.first()?.len();
        if rows == 0 || columns.iter().any(|c| c.len() != rows) {
            return None;
        }
        let points: Vec<Vec<f64>> = (0..rows)
            .map(|r| columns.iter().map(|c| c[r]).collect())
            .collect();
        let front: Vec<Vec<f64>> = pareto::non_dominated(&points, &self.goals)
            .ok()?
            .into_iter()
            .map(|i| points[i].clone())
            .collect();
        let hypervolume = self.hypervolume(&front);
        Some(Reference { front, hypervolume })
    }

    /// The hypervolume of `points` under this experiment's normalisation.
    pub fn hypervolume(&self, points: &[Vec<f64>]) -> f64 {
        pareto::hypervolume(points, &self.goals, &self.bounds)
            .expect("checked dimensions and bounds")
    }

    /// The objective vector of a successful trial (`None` for a failure or a missing metric).
    pub fn point(&self, t: &Trial) -> Option<Vec<f64>> {
        self.point_with(t, t.val_acc?)
    }

    /// The objective vector of a successful trial with its test value in place of the
    /// validation value (`None` where it has none).
    pub fn test_point(&self, t: &Trial) -> Option<Vec<f64>> {
        self.point_with(t, t.test_acc?)
    }

    fn point_with(&self, t: &Trial, signal: f64) -> Option<Vec<f64>> {
        let mut p = vec![signal];
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

    /// The hypervolume of the evaluated cells after each trial, in journal order, by
    /// validation, and of the same non-dominated cells by test value.
    pub fn hypervolumes(&self, trials: &[Trial]) -> Vec<HvPoint> {
        // The non-dominated cells so far: (validation point, test point).
        let mut front: Vec<(Vec<f64>, Option<Vec<f64>>)> = Vec::new();
        let (mut val, mut test) = (0.0, Some(0.0));
        trials
            .iter()
            .map(|t| {
                if let Some(p) = self.point(t) {
                    if !front
                        .iter()
                        .any(|(q, _)| pareto::dominates(q, &p, &self.goals))
                    {
                        front.retain(|(q, _)| !pareto::dominates(&p, q, &self.goals));
                        front.push((p, self.test_point(t)));
                        let vals: Vec<Vec<f64>> = front.iter().map(|f| f.0.clone()).collect();
                        val = self.hypervolume(&vals);
                        test = front
                            .iter()
                            .map(|f| f.1.clone())
                            .collect::<Option<Vec<_>>>()
                            .map(|tests| self.hypervolume(&tests));
                    }
                }
                HvPoint {
                    query: t.query,
                    val,
                    test,
                }
            })
            .collect()
    }

    /// `pareto.svg`: one chart per objective besides the signal, the signal against it: every
    /// evaluated cell inside the hypervolume's box as a point, the run's front in that pair of objectives as a step line,
    /// and the table's true front in that pair as a faint one where the benchmark is a table.
    pub fn plot_pareto(&self, path: &Path, title: &str, trials: &[Trial]) -> Result<(), String> {
        let points: Vec<Vec<f64>> = trials.iter().filter_map(|t| self.point(t)).collect();
        if points.is_empty() {
            return Ok(());
        }
        let mut charts = Vec::new();
        for k in 1..self.metrics.len() {
            let pair = |v: &Vec<f64>| (v[k], v[0]);
            let goals = [self.goals[k], self.goals[0]];
            let (xs, ys) = (self.span(k), self.span(0));
            let inside = |&(x, y): &(f64, f64)| xs.0 <= x && x <= xs.1 && ys.0 <= y && y <= ys.1;
            let dots = vec![Dots {
                label: "evaluated cells",
                color: PALETTE[0],
                points: points.iter().map(pair).filter(inside).collect(),
            }];
            let mut series = vec![Series {
                label: "front of this run",
                color: PALETTE[3],
                points: staircase(&points.iter().map(pair).collect::<Vec<_>>(), goals),
                band: vec![],
            }];
            if let Some(r) = &self.reference {
                series.insert(
                    0,
                    Series {
                        label: "true front of the table",
                        color: RGBColor(200, 200, 200),
                        points: staircase(&r.front.iter().map(pair).collect::<Vec<_>>(), goals),
                        band: vec![],
                    },
                );
            }
            charts.push((k, dots, series));
        }
        let titles: Vec<String> = charts
            .iter()
            .map(|(k, _, _)| format!("{title}: {} against {}", self.metrics[0], self.metrics[*k]))
            .collect();
        let panels: Vec<Panel> = charts
            .iter()
            .zip(&titles)
            .map(|((k, dots, series), t)| Panel {
                axes: Axes {
                    // The normalisation's box: what lies outside adds nothing.
                    range: Some((self.span(*k), self.span(0))),
                    ..Axes::new(t, &self.metrics[*k], &self.metrics[0])
                },
                series,
                dots,
            })
            .collect();
        panels_svg(path, &panels)
    }

    /// The values of objective `k` that count for the hypervolume, padded by 5% either side.
    fn span(&self, k: usize) -> (f64, f64) {
        let b = self.bounds[k];
        let (lo, hi) = (b.worst.min(b.best), b.worst.max(b.best));
        let pad = (hi - lo) * 0.05;
        (lo - pad, hi + pad)
    }

    /// `pareto.csv`: the non-dominated evaluated cells (by validation), in query order, with
    /// each objective and the test value (reported only) under `test_name`. Equal points all
    /// appear.
    pub fn pareto_csv(&self, trials: &[Trial], test_name: &str) -> Vec<u8> {
        let evaluated: Vec<(&Trial, Vec<f64>)> = trials
            .iter()
            .filter_map(|t| Some((t, self.point(t)?)))
            .collect();
        let points: Vec<Vec<f64>> = evaluated.iter().map(|(_, p)| p.clone()).collect();
        let front = pareto::non_dominated(&points, &self.goals).expect("checked dimensions");
        let mut w = csv::Writer::from_writer(Vec::new());
        let mut header = vec!["query".to_string(), "index".into(), "arch".into()];
        header.extend(self.metrics.iter().cloned());
        header.push(test_name.into());
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

/// The step line through the non-dominated points of `points` (two objectives under `goals`):
/// sorted by the first coordinate, each pair of neighbours joined through the corner that both
/// dominate, which outlines the region the points dominate.
pub(crate) fn staircase(points: &[(f64, f64)], goals: [Goal; 2]) -> Vec<(f64, f64)> {
    let as_vecs: Vec<Vec<f64>> = points.iter().map(|&(x, y)| vec![x, y]).collect();
    let Ok(front) = pareto::non_dominated(&as_vecs, &goals) else {
        return vec![];
    };
    let mut front: Vec<(f64, f64)> = front.into_iter().map(|i| points[i]).collect();
    front.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    front.dedup();
    let worse = |g: Goal, a: f64, b: f64| if g.better(a, b) { b } else { a };
    let mut line = Vec::with_capacity(2 * front.len());
    for (i, &p) in front.iter().enumerate() {
        if let Some(&prev) = i.checked_sub(1).map(|j| &front[j]) {
            line.push((worse(goals[0], prev.0, p.0), worse(goals[1], prev.1, p.1)));
        }
        line.push(p);
    }
    line
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
            fidelity: None,
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
    fn a_range_is_exactly_two_numbers() {
        let parse = |range: &str| {
            toml::from_str::<ObjectiveSpec>(&format!(
                "metric = \"lat\"\ngoal = \"minimize\"\n{range}"
            ))
            .map(|s| s.range)
            .map_err(|e| e.message().to_string())
        };
        assert_eq!(parse(""), Ok(None));
        assert_eq!(parse("range = [0, 10]"), Ok(Some([0.0, 10.0])));
        for (range, n) in [("[0, 10, 20]", 3), ("[5]", 1), ("[]", 0)] {
            assert_eq!(
                parse(&format!("range = {range}")),
                Err(format!("invalid length {n}, expected two numbers [lo, hi]"))
            );
        }
    }

    #[test]
    fn the_step_line_outlines_the_dominated_region() {
        // Latency minimised (x), accuracy maximised (y): up and to the right.
        let pts = [
            (3.0, 90.0),
            (1.0, 80.0),
            (2.0, 85.0),
            (2.5, 84.0),
            (1.0, 80.0),
        ];
        assert_eq!(
            staircase(&pts, [Goal::Minimize, Goal::Maximize]),
            vec![
                (1.0, 80.0),
                (2.0, 80.0),
                (2.0, 85.0),
                (3.0, 85.0),
                (3.0, 90.0)
            ]
        );
        // Both maximised: down and to the right.
        let pts = [(1.0, 3.0), (2.0, 2.0), (1.5, 1.0)];
        assert_eq!(
            staircase(&pts, [Goal::Maximize, Goal::Maximize]),
            vec![(1.0, 3.0), (1.0, 2.0), (2.0, 2.0)]
        );
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
        assert_eq!(mo.metrics, vec!["c10_val_acc", "lat"]);
        let trials = vec![
            trial(1, Some(90.0), 20.0),  // (0.5, 0.5): 0.25
            trial(2, None, 10.0),        // failed: nothing
            trial(3, Some(85.0), 25.0),  // dominated by query 1
            trial(4, Some(100.0), 30.0), // latency at its worst: on the front, adds nothing
            trial(5, Some(70.0), 10.0),  // below 80%: on the front, adds nothing
            trial(6, Some(95.0), 10.0),  // (0.75, 1): dominates 1 and 5 -> 0.75
        ];
        let hv: Vec<f64> = mo.hypervolumes(&trials).iter().map(|x| x.val).collect();
        assert_eq!(hv, vec![0.25, 0.25, 0.25, 0.25, 0.25, 0.75]);
        // What a strategy is told: the same normalisation, clipped; a missing metric is worst.
        let extras = &trials[0].extras;
        assert_eq!(mo.utilities(90.0, extras), vec![0.5, 0.5]);
        assert_eq!(mo.utilities(70.0, &[("lat".into(), 5.0)]), vec![0.0, 1.0]);
        assert_eq!(mo.utilities(100.0, &[]), vec![1.0, 0.0]);
        // The same cells by test value (one point higher each): query 1 at (0.55, 0.5); from
        // query 4 on, query 4's test value (101) is clipped at the range's top (1, 0) and adds
        // nothing; query 5 (71) stays below 80; query 6 at (0.8, 1).
        let test: Vec<f64> = mo
            .hypervolumes(&trials)
            .iter()
            .map(|x| x.test.unwrap())
            .collect();
        let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
        let want = [0.275, 0.275, 0.275, 0.275, 0.275, 0.8];
        assert!(test.iter().zip(want).all(|(&a, b)| close(a, b)), "{test:?}");
        // The table's own front: rows (0, 10) and (1, 30); with accuracy in [80, 100] neither
        // adds volume.
        let r = mo.reference.as_ref().unwrap();
        assert_eq!(r.front, vec![vec![0.0, 10.0], vec![1.0, 30.0]]);
        assert_eq!(r.hypervolume, 0.0);
        let csv = String::from_utf8(mo.pareto_csv(&trials, "c10_test_acc")).unwrap();
        assert_eq!(
            csv,
            "query,index,arch,c10_val_acc,lat,c10_test_acc\n4,4,a4,100,30,101\n6,6,a6,95,10,96\n"
        );
        assert_eq!(
            String::from_utf8(mo.pareto_csv(&trials[..1], "test")).unwrap(),
            "query,index,arch,c10_val_acc,lat,test\n1,1,a1,90,20,91\n"
        );
    }
}

//! A benchmark ready to search: its space, how its cells are evaluated, and what is known of its
//! optimum. The one place where a `[benchmark] type` becomes a concrete space: everything after
//! it is generic over [`SearchSpace`].

use crate::config::Experiment;
use crate::evaluators::{Evaluation, EvaluatorKind};
use crate::objectives::{self, Metrics, MultiObjective};
use crate::pipeline::proxy;
use emprox_benchmarks::config::BenchmarkKind;
use emprox_benchmarks::evaluator::Goal;
use emprox_benchmarks::nb201::Nb201Space;
use emprox_benchmarks::tabular::TabularTable;
use emprox_benchmarks::{SearchSpace, Signal};
use std::sync::Arc;

/// Checks the filter's proxy against the metrics the benchmark knows before training (`None`:
/// none).
fn check_proxy(exp: &Experiment, known: Option<&[(String, Vec<f64>)]>) -> anyhow::Result<()> {
    match exp.filter.as_ref().and_then(|f| f.proxy.as_deref()) {
        Some(metric) => {
            let names: Option<Vec<String>> =
                known.map(|k| k.iter().map(|(n, _)| n.clone()).collect());
            proxy::check(metric, names.as_deref()).map_err(anyhow::Error::msg)
        }
        None => Ok(()),
    }
}

/// Checks the `[scheduler]` against the fidelities `evaluation` has (none: a scheduler is an
/// error naming the key).
fn check_scheduler<C>(exp: &Experiment, evaluation: &Evaluation<C>) -> anyhow::Result<()> {
    match exp.scheduler.as_ref().filter(|s| s.active()) {
        Some(s) => s
            .rungs(&evaluation.evaluator.fidelities())
            .map(|_| ())
            .map_err(anyhow::Error::msg),
        None => Ok(()),
    }
}

/// Resolves the experiment's objectives, for a benchmark without a table of metrics.
fn no_table(exp: &Experiment, goal: Goal) -> anyhow::Result<Option<MultiObjective>> {
    check_proxy(exp, None)?;
    let metrics = Metrics {
        signal_names: vec!["val_acc"],
        goal,
        signal: &[],
        extras: None,
    };
    objectives::resolve(&exp.objectives, &metrics).map_err(anyhow::Error::msg)
}

/// Resolves the experiment's objectives against a table's columns (a lookup in it), after
/// checking the filter's proxy against its extras.
fn table_objectives(
    exp: &Experiment,
    table: &TabularTable,
) -> anyhow::Result<Option<MultiObjective>> {
    check_proxy(exp, Some(table.extras()))?;
    let metrics = Metrics {
        signal_names: vec!["val_acc", table.objective_name()],
        goal: table.goal(),
        signal: table.objective(),
        extras: Some(table.extras()),
    };
    objectives::resolve(&exp.objectives, &metrics).map_err(anyhow::Error::msg)
}

/// The metrics the built-in NAS-Bench-201 lookup knows before training, by name (objectives,
/// the filter's proxy).
pub const NB201_METRICS: [&str; 3] = ["params_m", "flops_m", "latency_s"];

/// Why a declared space needs an evaluator (checked when the experiment is loaded).
pub const DECLARED_NEEDS_COMMAND: &str = "[benchmark] type = \"declared\" has no table to look \
     up: it needs [evaluator] type = \"command\" or \"slurm\" (your program scores each member) \
     or \"train\" (a space of one cell)";

/// Why a declared space joined to a table takes no evaluator.
pub const DECLARED_JOIN_NO_EVALUATOR: &str = "[benchmark.join] looks the members up in its \
     table: leave [evaluator] out";

/// A space with its evaluation (whose `signal` says what its score is and whether it is
/// maximised).
pub struct Benchmark<S: SearchSpace> {
    /// The search space.
    pub space: S,
    /// How cells are evaluated.
    pub evaluation: Evaluation<S::Cell>,
    /// The best validation value in the table, where the evaluation is a lookup in a table.
    pub best_val: Option<f64>,
    /// Several objectives, resolved against the benchmark's metrics (`None`: one).
    pub objectives: Option<MultiObjective>,
}

/// `f`, told that the benchmark's loading phase ended when it gets the benchmark.
struct Loaded<'a, F> {
    f: F,
    progress: &'a dyn crate::pipeline::search::Progress,
}

impl<F: WithBenchmark> WithBenchmark for Loaded<'_, F> {
    type Output = F::Output;
    fn with<S: SearchSpace + Clone + 'static>(self, bench: Benchmark<S>) -> Self::Output {
        self.progress.phase(None, None);
        self.f.with(bench)
    }
}

/// Something to do with a benchmark of any space (a run, a resume, a comparison entry).
pub trait WithBenchmark {
    /// What it gives.
    type Output;
    /// Does it.
    fn with<S: SearchSpace + Clone + 'static>(self, bench: Benchmark<S>) -> Self::Output;
}

/// Loads the benchmark of `exp` (checking its data), a phase `progress` hears of, and hands it
/// to `f`.
pub fn open<F: WithBenchmark>(
    exp: &Experiment,
    progress: &dyn crate::pipeline::search::Progress,
    f: F,
) -> anyhow::Result<F::Output> {
    let b = &exp.benchmark;
    let what = match (&b.kind, &b.description, &b.data) {
        (BenchmarkKind::Tabular, Some(d), _) => format!("the table of {}", d.display()),
        (BenchmarkKind::Tabular, None, _) => "the table".to_string(),
        (BenchmarkKind::NasBench201, _, Some(d)) => format!("NAS-Bench-201 from {}", d.display()),
        (BenchmarkKind::NasBench201, _, None) => "the NAS-Bench-201 table".to_string(),
        (BenchmarkKind::Declared, Some(d), _) => format!("the space of {}", d.display()),
        (BenchmarkKind::Declared, None, _) => "the declared space".to_string(),
    };
    progress.phase(None, Some(&format!("loading {what}")));
    let f = Loaded { f, progress };
    match exp.benchmark.kind {
        BenchmarkKind::NasBench201 => {
            let data = exp.benchmark.load_nb201()?;
            let dataset = exp.benchmark.dataset().map_err(anyhow::Error::msg)?;
            let evaluation =
                Evaluation::nb201(&exp.benchmark, exp.evaluator.as_ref(), data.clone())
                    .map_err(anyhow::Error::msg)?;
            let best_val = evaluation.simulated_cost().then(|| {
                data.records()
                    .iter()
                    .map(|r| r.metrics(dataset).val_acc)
                    .fold(f64::MIN, f64::max)
            });
            let goal = evaluation.signal.goal;
            let objectives = if evaluation.simulated_cost() {
                // A lookup: the table's own columns are the metrics, as the evaluator names
                // its extras.
                let m = |f: fn(&emprox_benchmarks::nb201::data::Metrics) -> f64| -> Vec<f64> {
                    data.records()
                        .iter()
                        .map(|r| f(r.metrics(dataset)))
                        .collect()
                };
                let signal = m(|x| x.val_acc);
                let [params, flops, latency] = NB201_METRICS.map(String::from);
                let extras = vec![
                    (params, m(|x| x.params_m)),
                    (flops, m(|x| x.flops_m)),
                    (latency, m(|x| x.latency_s)),
                ];
                check_proxy(exp, Some(&extras))?;
                let metrics = Metrics {
                    signal_names: vec!["val_acc"],
                    goal,
                    signal: &signal,
                    extras: Some(&extras),
                };
                objectives::resolve(&exp.objectives, &metrics).map_err(anyhow::Error::msg)?
            } else {
                no_table(exp, goal)?
            };
            check_scheduler(exp, &evaluation)?;
            Ok(f.with(Benchmark {
                space: Nb201Space::new(data),
                objectives,
                evaluation,
                best_val,
            }))
        }
        BenchmarkKind::Declared => {
            let space = exp.benchmark.declared_space().map_err(anyhow::Error::msg)?;
            if let Some(joined) = exp.benchmark.joined_table(&space)? {
                anyhow::ensure!(exp.evaluator.is_none(), DECLARED_JOIN_NO_EVALUATOR);
                let table = joined.table().clone();
                let goal = table.goal();
                // The best row the space reaches.
                let best_val = joined
                    .members()
                    .iter()
                    .map(|(r, _)| table.objective()[*r])
                    .reduce(|a, b| if goal.better(a, b) { a } else { b });
                let objectives = table_objectives(exp, &table)?;
                let evaluation = Evaluation::table(
                    Arc::new(joined),
                    space.name(),
                    table.name(),
                    table.signal().clone(),
                );
                return Ok(f.with(Benchmark {
                    objectives,
                    space,
                    evaluation,
                    best_val,
                }));
            }
            let evaluation = match exp.evaluator.as_ref() {
                Some(cfg)
                    if matches!(
                        cfg.kind,
                        EvaluatorKind::Command | EvaluatorKind::Slurm | EvaluatorKind::Python
                    ) =>
                {
                    Evaluation::external(cfg, space.clone(), &Signal::accuracy())
                }
                Some(cfg) if cfg.kind == EvaluatorKind::Train => {
                    Evaluation::declared_training(cfg, &space, &exp.benchmark.space_origin())
                }
                _ => Err(DECLARED_NEEDS_COMMAND.to_string()),
            }
            .map_err(anyhow::Error::msg)?;
            check_scheduler(exp, &evaluation)?;
            Ok(f.with(Benchmark {
                objectives: no_table(exp, evaluation.signal.goal)?,
                space,
                evaluation,
                best_val: None,
            }))
        }
        BenchmarkKind::Tabular => {
            // Paths were made absolute when the experiment was loaded.
            let b = exp.benchmark.load_tabular(std::path::Path::new(""))?;
            let table = b.table().clone();
            if let Some(cfg) = &exp.evaluator {
                // The table's rows are the space; a user's command evaluates them.
                anyhow::ensure!(
                    matches!(
                        cfg.kind,
                        EvaluatorKind::Command | EvaluatorKind::Slurm | EvaluatorKind::Python
                    ),
                    "only [evaluator] type = \"command\" or \"slurm\" applies to a tabular \
                     benchmark (to evaluate its rows with your own program); leave [evaluator] \
                     out to look the rows up (type = \"train\" builds NAS-Bench-201 networks)"
                );
                let evaluation = Evaluation::external(cfg, b.space.clone(), table.signal())
                    .map_err(anyhow::Error::msg)?;
                check_scheduler(exp, &evaluation)?;
                return Ok(f.with(Benchmark {
                    objectives: no_table(exp, evaluation.signal.goal)?,
                    space: b.space,
                    evaluation,
                    best_val: None,
                }));
            }
            let best = table.objective()[table.best_row()];
            let objectives = table_objectives(exp, &table)?;
            let evaluation = Evaluation::table(
                Arc::new(b.evaluator),
                b.space.name(),
                b.space.name(),
                table.signal().clone(),
            );
            check_scheduler(exp, &evaluation)?;
            Ok(f.with(Benchmark {
                objectives,
                space: b.space,
                evaluation,
                best_val: Some(best),
            }))
        }
    }
}

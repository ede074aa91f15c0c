//! `emprox list`: what an experiment file can name, with defaults.

use crate::config::SearchSettings;
use crate::filter::FilterConfig;
use emprox_benchmarks::command::CommandConfig;
use emprox_benchmarks::params::Catalogue;
use emprox_benchmarks::slurm::SlurmConfig;
use emprox_estimators::EstimatorParams;
use emprox_strategies::StrategyConfig;
use emprox_train::TrainingConfig;

/// Runs `emprox list`.
pub fn list() -> anyhow::Result<()> {
    let mut o: Vec<String> = vec![
        "benchmarks ([benchmark] type):".into(),
        "  nasbench201".into(),
        "    dataset = cifar10 | cifar100 | imagenet16-120   (required)".into(),
        "    noise   = \"mean\"    mean over seeds, or \"sample\" one per-seed validation run"
            .into(),
        "    data    = <shipped> another copy of nb201.csv(.gz)".into(),
        "  tabular    any table of trained architectures (README: \"Your own benchmark\")".into(),
        "    description = <file>  a description file, or an inline [benchmark.table] with the same keys:".into(),
        "      data, name, select, objective = { column, goal = \"maximize\" | \"minimize\" }, test, cost, iso_key, extras,".into(),
        "      [[architecture]] column, separator, choices".into(),
        "    shipped: benchmarks/data/nb201_<dataset>.tabular.toml, nb201_cifar10_hw.tabular.toml (device latencies),\n             nb101_subset500.tabular.toml, nb301_subset.tabular.toml".into(),
    ];
    print_catalogue(
        &mut o,
        "strategies ([strategy] type):",
        StrategyConfig::describe(),
    );
    print_catalogue(
        &mut o,
        "estimators ([estimator] with [filter], or [[estimators]] in eval-predictors files):",
        EstimatorParams::describe(),
    );
    o.push(format!(
        "filter ([filter]): {}",
        defaults(&FilterConfig::default())
    ));
    o.push(format!(
        "  with several objectives also mo_rank = {} (dominance: predicted non-dominated rank, then crowding | hvi: greedy predicted hypervolume improvement | ehvi: greedy expected improvement over the ensemble's spread)",
        toml::Value::try_from(crate::mo_rank::MoRankKind::default())
            .expect("a ranking serialises to a TOML string")
    ));
    o.push(
        "evaluators ([evaluator] type; default: nasbench201, a lookup in the [benchmark] table):"
            .into(),
    );
    o.push("  nasbench201".into());
    o.push(
        "  train      workers = 1, cache = <none>; [evaluator.training] (dataset: digits | mnist):"
            .into(),
    );
    o.push(format!(
        "             {}",
        defaults(&TrainingConfig::default())
    ));
    let command: CommandConfig =
        toml::from_str("command = [\"PROGRAM\"]").expect("a command list is a valid table");
    o.push("  command    workers = 1, cache = <none>; [evaluator.command] (placeholders {arch} {index} {seed} {spec}; also working_dir, env; any benchmark, tabular included):".into());
    o.push(format!("             {}", defaults(&command)));
    let slurm: SlurmConfig =
        toml::from_str("command = [\"PROGRAM\"]").expect("a command list is a valid table");
    o.push("  slurm      workers = 1 (jobs in flight), cache = <none>; [evaluator.slurm] (one batch job per candidate; placeholders {arch} {index} {seed} {spec} {emprox}; also partition, time, cpus_per_task, mem, gres, account, qos, sbatch_args, working_dir, env; any benchmark):".into());
    o.push(format!("             {}", defaults(&slurm)));
    o.push(
        "budget ([budget], OR-ed, at least one): max_queries, max_sim_seconds, max_wall_seconds"
            .into(),
    );
    o.push("objectives (top level, optional): [{ metric, goal = \"maximize\" | \"minimize\", range = [lo, hi] }, ...]; \
         up to 3, the first the search signal, the others extras of a tabular benchmark".into());
    o.push(format!(
        "search ([search]): {}",
        defaults(&SearchSettings::default())
    ));
    super::print_out(&(o.join("\n") + "\n"))?;
    Ok(())
}

/// `key = value, ...` of a config's default values, read from the config itself so that the
/// listing cannot drift from the code.
fn defaults<T: serde::Serialize>(value: &T) -> String {
    let table = toml::Table::try_from(value).expect("configs serialise to a TOML table");
    table
        .iter()
        .map(|(k, v)| format!("{k} = {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A registry's types, each with its keys: default, accepted values and description (all from
/// the parameter structs' declarations), as lines appended to `o`.
fn print_catalogue(o: &mut Vec<String>, title: &str, catalogue: Catalogue) {
    o.push(title.into());
    for (name, params) in catalogue {
        o.push(format!("  {name}"));
        for p in params {
            let range = format!("{}", p.range);
            o.push(format!(
                "    {:<16} = {:<8} {:<18} {}",
                p.name, p.default, range, p.doc
            ));
        }
    }
}

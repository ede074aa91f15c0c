//! `emprox list`: what experiment, comparison and predictor-evaluation files can name, with
//! defaults. Every key list and default is read from the config types themselves (their serde
//! declarations and `Default`s), so that the listing cannot drift from the code.

use crate::compare::{Comparison, Entry};
use crate::config::{Budget, SearchSettings};
use crate::pipeline::filter::FilterConfig;
use crate::pipeline::scheduler::{SchedulerConfig, SchedulerKind};
use emprox_benchmarks::command::CommandConfig;
use emprox_benchmarks::declared::{
    DimensionConfig, JoinConfig, SpaceConfig, DEFAULT_LEVELS, DEFAULT_STEP,
};
use emprox_benchmarks::params::Catalogue;
use emprox_benchmarks::slurm::SlurmConfig;
use emprox_estimators::evaluation::EvaluationSettings;
use emprox_estimators::EstimatorParams;
use emprox_strategies::StrategyConfig;
use emprox_train::data::DataConfig;
use emprox_train::TrainingConfig;
use serde::de::DeserializeOwned;
use std::fmt::Write as _;

/// The widest line of the listing before it wraps.
const WIDTH: usize = 100;

/// Runs `emprox list`.
pub fn list() -> anyhow::Result<()> {
    Ok(super::print_out(&listing())?)
}

/// The whole listing.
pub fn listing() -> String {
    let mut o = String::new();
    let out = &mut o;
    line(out, "benchmarks ([benchmark] type):");
    line(out, "  nasbench201");
    line(
        out,
        "    dataset = cifar10 | cifar100 | imagenet16-120   (required)",
    );
    line(
        out,
        "    noise   = \"mean\"    mean over seeds, or \"sample\" one per-seed validation run",
    );
    line(
        out,
        "    data    = <shipped> another copy of nb201.csv(.gz)",
    );
    wrapped(
        out,
        "    metrics known before training (objectives, [filter] proxy): ",
        &crate::benchmark::NB201_METRICS.map(String::from),
    );
    line(
        out,
        "  tabular    any table of trained architectures (README: \"Your own table\")",
    );
    line(
        out,
        "    description = <file>  a description file, or an inline [benchmark.table] with the same keys:",
    );
    line(
        out,
        "      data, name, select, objective = { column, goal = \"maximize\" | \"minimize\", label, unit, decimals },",
    );
    line(
        out,
        "      test, cost, iso_key, extras, [[architecture]] column, separator, choices,",
    );
    line(
        out,
        "      [fidelity] full, [[fidelity.levels]] value, objective, test, cost | cost_scale (for a [scheduler])",
    );
    line(
        out,
        "    shipped: benchmarks/data/nb201_<dataset>.tabular.toml, nb201_cifar10_hw.tabular.toml (device latencies),",
    );
    line(
        out,
        "             nb101_subset500.tabular.toml, nb301_subset.tabular.toml (subsets: for predictor evaluation)",
    );
    line(
        out,
        "  declared   a space of dimensions nobody enumerated (README: \"Your own search space\"); scored by a command, slurm or python",
    );
    line(
        out,
        "             evaluator, by train (one type = \"cell\" of train's ops), or looked up in a [benchmark.join] table:",
    );
    wrapped(
        out,
        "    description = <space file>, or inline [benchmark.space]: ",
        &keys::<SpaceConfig>(),
    );
    wrapped(out, "      [[dimension]]: ", &keys::<DimensionConfig>());
    line(
        out,
        &format!("      exactly one of values | range (step = {DEFAULT_STEP}) | log_range (levels = {DEFAULT_LEVELS}) | type = \"cell\" (nodes, ops); repeat = 1; when = {{ dim = [values] }}"),
    );
    wrapped(out, "    [benchmark.join]: ", &keys::<JoinConfig>());
    catalogue(
        out,
        "strategies ([strategy] type):",
        StrategyConfig::describe(),
    );
    catalogue(
        out,
        "estimators ([estimator] with [filter], or [[estimators]] in eval-predictors files):",
        EstimatorParams::describe(),
    );
    // `dedup_isomorphic` is only read to say where it moved; `mo_rank` has its own line.
    let filter: Vec<String> = defaults(&FilterConfig::default())
        .into_iter()
        .filter(|k| !k.starts_with("dedup_isomorphic ") && !k.starts_with("mo_rank "))
        .collect();
    wrapped(out, "filter ([filter]): ", &filter);
    wrapped(
        out,
        &format!(
            "  with several objectives also mo_rank = {}: ",
            toml::Value::try_from(crate::pipeline::mo_rank::MoRankKind::default())
                .expect("a ranking serialises to a TOML string")
        ),
        &[
            "dominance (predicted non-dominated rank, then crowding)".into(),
            "hvi (greedy predicted hypervolume improvement)".into(),
            "ehvi (greedy expected improvement over the ensemble's spread)".into(),
        ],
    );
    let kinds: Vec<String> = SchedulerKind::ALL.iter().map(|k| k.name()).collect();
    line(
        out,
        &format!(
            "scheduler ([scheduler], multi-fidelity; a table's [fidelity] levels or train's fidelity_epochs): type = {}",
            kinds.join(" | ")
        ),
    );
    wrapped(
        out,
        "             ",
        &defaults(&SchedulerConfig::default())
            .into_iter()
            .filter(|k| !k.starts_with("type "))
            .collect::<Vec<_>>(),
    );
    line(
        out,
        "evaluators ([evaluator] type; default: nasbench201, a lookup in the [benchmark] table):",
    );
    line(out, "  nasbench201");
    line(
        out,
        "  train      workers = 1, cache = <none>; [evaluator.training] (dataset: digits | mnist):",
    );
    wrapped(out, "             ", &defaults(&TrainingConfig::default()));
    line(
        out,
        &format!(
            "             data = {{ {} }}: your own images (README \"Your own images\")",
            keys::<DataConfig>().join(", ")
        ),
    );
    let command: CommandConfig =
        toml::from_str("command = [\"PROGRAM\"]").expect("a command list is a valid table");
    line(out, "  command    workers = 1, cache = <none>; [evaluator.command] (placeholders {arch} {index} {seed} {spec} {values_json}, with fidelities {fidelity} {checkpoint_dir}; any benchmark, tabular included):");
    wrapped(out, "             ", &defaults(&command));
    let slurm: SlurmConfig =
        toml::from_str("command = [\"PROGRAM\"]").expect("a command list is a valid table");
    line(out, "  slurm      workers = 1 (jobs in flight), cache = <none>; [evaluator.slurm] (a batch job per candidate; the command's placeholders and {emprox}; any benchmark):");
    wrapped(out, "             ", &defaults(&slurm));
    line(
        out,
        "  command and slurm: objective = { key, goal, test, label, unit, decimals } (default: the benchmark's objective, val_acc on NAS-Bench-201)",
    );
    line(out, "  python     workers = 1 (trials outstanding); the results come from Python's emprox.Search (ask/tell), which sets it; any benchmark");
    wrapped(
        out,
        "budget ([budget], OR-ed, at least one): ",
        &keys::<Budget>(),
    );
    line(
        out,
        "objectives (top level, optional): [{ metric, goal = \"maximize\" | \"minimize\", range = [lo, hi] }, ...]:",
    );
    line(
        out,
        "             up to 3, the first the search signal, the others a table's extras or NAS-Bench-201's metrics above",
    );
    wrapped(
        out,
        "search ([search]): ",
        &defaults(&SearchSettings::default()),
    );
    wrapped(
        out,
        "comparison files (emprox compare): ",
        &keys::<Comparison>(),
    );
    wrapped(out, "  [[experiments]]: ", &keys::<Entry>());
    wrapped(
        out,
        "predictor-evaluation files (emprox eval-predictors): [benchmark], [[estimators]], [evaluation]: ",
        &keys::<EvaluationSettings>(),
    );
    o
}

fn line(out: &mut String, text: &str) {
    let _ = writeln!(out, "{text}");
}

/// `head` then `items` joined by commas, wrapped at [`WIDTH`] with continuation lines indented
/// under the first item.
fn wrapped(out: &mut String, head: &str, items: &[String]) {
    let indent = " ".repeat(head.chars().count().min(13));
    let mut cur = head.to_string();
    for (i, item) in items.iter().enumerate() {
        let piece = if i + 1 < items.len() {
            format!("{item}, ")
        } else {
            item.clone()
        };
        if cur.chars().count() + piece.trim_end().chars().count() > WIDTH
            && cur.trim().len() > head.trim().len()
        {
            line(out, cur.trim_end());
            cur = indent.clone();
        }
        cur.push_str(&piece);
    }
    line(out, cur.trim_end());
}

/// The keys a config type accepts, in declaration order: read from serde's own answer to an
/// unknown key (the types deny unknown fields), so that no list is kept by hand.
fn keys<T: DeserializeOwned>() -> Vec<String> {
    let Err(e) = toml::from_str::<T>("emprox_list_probe = 0") else {
        unreachable!("every listed config denies unknown fields")
    };
    let msg = e.message().to_string();
    let expected = msg.split("expected").nth(1).unwrap_or_default();
    expected
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// `key = value` for every key of a config, its default or `<none>` where it has none.
fn defaults<T: serde::Serialize + DeserializeOwned>(value: &T) -> Vec<String> {
    let table = toml::Table::try_from(value).expect("configs serialise to a TOML table");
    keys::<T>()
        .into_iter()
        .map(|k| match table.get(&k) {
            Some(v) => format!("{k} = {v}"),
            None => format!("{k} = <none>"),
        })
        .collect()
}

/// A registry's types, each with its keys: default, accepted values and description (all from
/// the parameter structs' declarations). A long default goes on lines of its own.
fn catalogue(out: &mut String, title: &str, catalogue: Catalogue) {
    line(out, title);
    for (name, params) in catalogue {
        line(out, &format!("  {name}"));
        for p in params {
            let range = format!("{}", p.range);
            let default = p.default.to_string();
            if default.chars().count() <= 8 {
                line(
                    out,
                    &format!(
                        "    {:<16} = {:<8} {:<18} {}",
                        p.name, default, range, p.doc
                    ),
                );
            } else {
                line(out, &format!("    {:<16} {:<18} {}", p.name, range, p.doc));
                let parts: Vec<String> = default.split(", ").map(String::from).collect();
                wrapped(out, "      default: ", &parts);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_come_from_the_types_and_every_key_is_listed() {
        let k = keys::<SearchSettings>();
        assert!(k.contains(&"max_failures".to_string()), "{k:?}");
        let f = defaults(&FilterConfig::default());
        assert!(f.contains(&"proxy = <none>".to_string()), "{f:?}");
        assert!(f.contains(&"top_k = 10".to_string()), "{f:?}");
        let text = listing();
        let long: Vec<&str> = text
            .lines()
            .filter(|l| l.chars().count() > 2 * WIDTH)
            .collect();
        assert!(long.is_empty(), "{long:?}");
        for key in [
            "proxy_use",
            "max_failures",
            "params_m",
            "flops_m",
            "latency_s",
            "log_range",
            "when",
            "values_json",
            "successive_halving",
            "min_fidelity",
        ] {
            assert!(text.contains(key), "{key} missing");
        }
    }
}

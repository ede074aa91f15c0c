//! `emprox list`: what an experiment file can name, with defaults.

use emprox_estimators::config::EstimatorConfig;
use emprox_strategies::StrategyConfig;

/// Runs `emprox list`.
pub fn list() -> anyhow::Result<()> {
    println!("benchmarks ([benchmark] type):");
    println!("  nasbench201");
    println!("    dataset = cifar10 | cifar100 | imagenet16-120   (required)");
    println!(
        "    noise   = \"mean\"    mean over seeds, or \"sample\" one per-seed validation run"
    );
    println!("    data    = <shipped> another copy of nb201.csv(.gz)");
    println!("strategies ([strategy] type):");
    for (name, params) in StrategyConfig::describe() {
        println!("  {name}");
        for (k, d, doc) in params {
            println!("    {k:<16} = {d:<8} {doc}");
        }
    }
    println!("estimators ([estimator] with [filter], or [[estimators]] in eval-predictors files):");
    for (name, params) in EstimatorConfig::describe() {
        println!("  {name}");
        for (k, d, doc) in params {
            println!("    {k:<16} = {d:<8} {doc}");
        }
    }
    println!("filter ([filter]): candidates = 100, top_k = 10, warmup = 20, refit_every = 10, dedup_isomorphic = true");
    println!(
        "evaluators ([evaluator] type; default: nasbench201, a lookup in the [benchmark] table):"
    );
    println!("  nasbench201");
    println!("  train      workers = 1, cache = <none>, [evaluator.training]: dataset = digits | mnist, channels = 8,");
    println!("             cells_per_stage = 1, epochs = 10, batch_size = 64, lr = 0.1, momentum = 0.9, nesterov = true,");
    println!("             weight_decay = 5e-4, label_smoothing = 0, val_fraction = 0.2, test_fraction = 0.2, threads = 1");
    println!("  command    workers = 1, cache = <none>, [evaluator.command]: command = [..] with {{arch}} {{index}} {{seed}} {{spec}},");
    println!("             timeout_seconds = 3600, working_dir, env");
    println!(
        "budget ([budget], OR-ed, at least one): max_queries, max_sim_seconds, max_wall_seconds"
    );
    println!("search ([search]): dedup_isomorphic = false, max_repeated_proposals = 10000");
    Ok(())
}

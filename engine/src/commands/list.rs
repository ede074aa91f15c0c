//! `emprox list`: what an experiment file can name, with defaults.

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
    println!(
        "budget ([budget], OR-ed, at least one): max_queries, max_sim_seconds, max_wall_seconds"
    );
    println!("search ([search]): dedup_isomorphic = false, max_repeated_proposals = 10000");
    Ok(())
}

//! Behaviour of the strategies on the NAS-Bench-201 space, driven by a tiny ask/tell loop.

use emprox_benchmarks::nb201::{Cell, Dataset, Nb201Data, Nb201Space};
use emprox_benchmarks::seed;
use emprox_benchmarks::SearchSpace;
use emprox_strategies::{Feedback, StrategyConfig};
use std::collections::HashSet;

fn run(kind: &StrategyConfig, queries: usize, s: u64) -> Vec<(Cell, f64)> {
    let space = Nb201Space::new(Nb201Data::shipped().unwrap());
    let mut strat = kind.build::<Nb201Space>().unwrap();
    let mut rng = seed::stream(s, "strategy");
    let mut out = Vec::new();
    for _ in 0..queries {
        let c = strat.ask(&space, &mut rng);
        let v = space.data().record(&c).metrics(Dataset::Cifar10).val_acc;
        strat.tell(&space, &c, Some(&Feedback::single(v)));
        out.push((c, v));
    }
    out
}

fn mean_best(kind: &StrategyConfig, queries: usize) -> f64 {
    let seeds = 30;
    (0..seeds)
        .map(|s| {
            run(kind, queries, s)
                .iter()
                .map(|x| x.1)
                .fold(f64::MIN, f64::max)
        })
        .sum::<f64>()
        / seeds as f64
}

#[test]
fn evolution_and_local_search_beat_random_search() {
    let rs = mean_best(&StrategyConfig::Random(Default::default()), 150);
    let re = mean_best(
        &StrategyConfig::RegularizedEvolution(Default::default()),
        150,
    );
    let ls = mean_best(&StrategyConfig::LocalSearch(Default::default()), 150);
    assert!(re > rs, "RE {re} vs RS {rs}");
    assert!(ls > rs, "LS {ls} vs RS {rs}");
}

#[test]
fn evolution_mutates_after_the_initial_population() {
    let trace = run(
        &StrategyConfig::RegularizedEvolution(Default::default()),
        60,
        3,
    );
    let space = Nb201Space::new(Nb201Data::shipped().unwrap());
    let seen: HashSet<Cell> = trace[..30].iter().map(|x| x.0).collect();
    // Every child after the initial population is one edge away from some earlier member.
    for (i, (c, _)) in trace.iter().enumerate().skip(30) {
        let earlier: HashSet<Cell> = trace[..i].iter().map(|x| x.0).collect();
        assert!(
            space.neighbours(c).iter().any(|n| earlier.contains(n)),
            "child {i} is not a mutation"
        );
    }
    assert!(seen.len() >= 29);
}

#[test]
fn local_search_walks_neighbourhoods() {
    let trace = run(&StrategyConfig::LocalSearch(Default::default()), 34, 5);
    let space = Nb201Space::new(Nb201Data::shipped().unwrap());
    let best_init = trace[..10]
        .iter()
        .fold(None::<&(Cell, f64)>, |b, x| match b {
            Some(b) if b.1 >= x.1 => Some(b),
            _ => Some(x),
        })
        .unwrap();
    let nb: HashSet<Cell> = space.neighbours(&best_init.0).into_iter().collect();
    for (c, _) in &trace[10..34] {
        assert!(
            nb.contains(c),
            "after the initial set LS evaluates the best cell's neighbours"
        );
    }
    let distinct: HashSet<Cell> = trace[10..34].iter().map(|x| x.0).collect();
    assert_eq!(distinct.len(), 24);
}

#[test]
fn invalid_parameters_are_rejected() {
    let c = StrategyConfig::RegularizedEvolution(
        emprox_strategies::config::RegularizedEvolutionParams {
            population_size: 30,
            sample_size: 40,
        },
    );
    assert!(c
        .validate()
        .unwrap_err()
        .to_string()
        .contains("sample_size"));
    assert!(c.build::<Nb201Space>().is_err());
    let c =
        StrategyConfig::LocalSearch(emprox_strategies::config::LocalSearchParams { num_init: 0 });
    assert!(c
        .validate()
        .unwrap_err()
        .to_string()
        .contains("`num_init` = 0"));
}

//! The estimator filter: only the top `top_k` of each scored pool are evaluated, and filtered
//! runs are reproducible and resumable.

mod common;
use common::kill_when;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn emprox(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_emprox"))
        .args(args)
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap())
        .output()
        .expect("binary runs")
}

fn lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Small but real EmProx settings so that the test stays quick.
const FAST: [&str; 8] = [
    "--set",
    "estimator.pretrain=400",
    "--set",
    "estimator.pretrain_epochs=10",
    "--set",
    "budget.max_queries=60",
    "--seeds",
    "2",
];

fn run_filtered(out: &Path, threads: &str) {
    let mut args = vec![
        "run",
        "examples/nb201_evolution_emprox.toml",
        "--out",
        out.to_str().unwrap(),
        "--threads",
        threads,
    ];
    args.extend_from_slice(&FAST);
    let o = emprox(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn only_the_top_k_of_each_pool_are_evaluated_and_runs_repeat() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a");
    let b = tmp.path().join("b");
    run_filtered(&a, "1");
    run_filtered(&b, "2");
    for i in 0..2 {
        let f = format!("seed-{i}/trials.jsonl");
        assert_eq!(
            std::fs::read(a.join(&f)).unwrap(),
            std::fs::read(b.join(&f)).unwrap(),
            "{f}"
        );
    }
    let (top_k, warmup) = (10usize, 20u64);
    let trials = lines(&a.join("seed-0/trials.jsonl"));
    let pools = lines(&a.join("seed-0/pools.jsonl"));
    assert_eq!(trials.len(), 60);
    assert!(pools.len() >= 4);
    for p in &pools {
        let scored: Vec<(u64, f64)> = p["scored"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| (x[0].as_u64().unwrap(), x[1].as_f64().unwrap()))
            .collect();
        let chosen: Vec<u64> = p["chosen"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap())
            .collect();
        assert_eq!(chosen.len(), top_k.min(scored.len()));
        // Every chosen cell scores at least as high as every cell left out.
        let worst_chosen = chosen
            .iter()
            .map(|c| scored.iter().find(|s| s.0 == *c).unwrap().1)
            .fold(f64::MAX, f64::min);
        for (idx, s) in &scored {
            if !chosen.contains(idx) {
                assert!(
                    *s <= worst_chosen,
                    "{idx} scored {s} > chosen {worst_chosen}"
                );
            }
        }
    }
    // Every evaluation after the warm-up was chosen from the most recent pool.
    for t in &trials {
        let q = t["query"].as_u64().unwrap();
        if q <= warmup {
            assert!(t.get("predicted").is_none());
            continue;
        }
        let pool = pools
            .iter()
            .rfind(|p| p["after_query"].as_u64().unwrap() < q)
            .expect("a pool before every filtered query");
        let chosen: HashSet<u64> = pool["chosen"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap())
            .collect();
        assert!(
            chosen.contains(&t["index"].as_u64().unwrap()),
            "query {q} was not in the top {top_k}"
        );
        assert!(t["predicted"].as_f64().is_some());
    }
    let s: serde_json::Value =
        serde_json::from_slice(&std::fs::read(a.join("summary.json")).unwrap()).unwrap();
    assert_eq!(s["estimator"], "emprox");
    assert!(
        s["runs"][0]["estimator_fit_seconds_total"]
            .as_f64()
            .unwrap()
            > 0.0
    );
}

#[test]
fn a_killed_filtered_run_resumes_to_the_same_journal() {
    let tmp = tempfile::tempdir().unwrap();
    let full = tmp.path().join("full");
    run_filtered(&full, "2");
    let killed = tmp.path().join("killed");
    let mut args = vec![
        "run",
        "examples/nb201_evolution_emprox.toml",
        "--out",
        killed.to_str().unwrap(),
        "--throttle-ms",
        "10",
    ];
    args.extend_from_slice(&FAST);
    // Kill once the first run is past its warm-up.
    kill_when(&args, &killed.join("seed-0/trials.jsonl"), 35);
    let o = emprox(&["resume", killed.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for i in 0..2 {
        let f = format!("seed-{i}/trials.jsonl");
        assert_eq!(
            std::fs::read(full.join(&f)).unwrap(),
            std::fs::read(killed.join(&f)).unwrap(),
            "{f}"
        );
    }
    assert_eq!(
        lines(&full.join("seed-0/pools.jsonl")).len(),
        lines(&killed.join("seed-0/pools.jsonl")).len(),
        "no pool logged twice"
    );
}

/// The isomorphism classes of a run's evaluated cells, in query order.
fn iso_keys(trials: &Path) -> Vec<u64> {
    use emprox_benchmarks::nb201::{Nb201Data, Nb201Space};
    use emprox_benchmarks::SearchSpace;
    let space = Nb201Space::new(Nb201Data::shipped().unwrap());
    lines(trials)
        .iter()
        .map(|t| space.iso_key(&space.parse(t["arch"].as_str().unwrap()).unwrap()))
        .collect()
}

/// Runs `example` for 3 seeds into `out` with a k-NN estimator (quick) and `--set` each of
/// `sets`.
fn run_knn(example: &str, out: &Path, sets: &[&str]) {
    let mut args = vec![
        "run",
        example,
        "--out",
        out.to_str().unwrap(),
        "--seeds",
        "3",
    ];
    for s in ["estimator={type=\"knn_onehot\"}"].iter().chain(sets) {
        args.extend_from_slice(&["--set", s]);
    }
    let o = emprox(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn with_dedup_isomorphic_the_filter_never_evaluates_an_isomorph_of_an_evaluated_cell() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |name: &str, extra: &[&str]| {
        let out = tmp.path().join(name);
        let mut sets = vec!["budget.max_queries=150"];
        sets.extend_from_slice(extra);
        run_knn("examples/nb201_evolution_emprox.toml", &out, &sets);
        (0..3)
            .map(|s| iso_keys(&out.join(format!("seed-{s}/trials.jsonl"))))
            .collect::<Vec<_>>()
    };
    let repeats = |runs: &[Vec<u64>]| -> usize {
        runs.iter()
            .map(|keys| keys.len() - keys.iter().collect::<HashSet<_>>().len())
            .sum()
    };
    let on = run("on", &["search.dedup_isomorphic=true"]);
    assert!(
        on.iter().all(|k| k.len() == 150),
        "every run spends its budget"
    );
    assert_eq!(
        repeats(&on),
        0,
        "no isomorph of an evaluated cell is evaluated"
    );
    // Off (the default), isomorphs are different cells: the search does evaluate some.
    let off = run("off", &[]);
    assert!(repeats(&off) > 0, "the default keeps isomorphs apart");
}

#[test]
fn the_old_filter_key_is_rejected_with_its_new_home() {
    let tmp = tempfile::tempdir().unwrap();
    let o = emprox(&[
        "run",
        "examples/nb201_evolution_emprox.toml",
        "--out",
        tmp.path().join("x").to_str().unwrap(),
        "--set",
        "filter.dedup_isomorphic=true",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("[search] dedup_isomorphic"), "{err}");
}

#[test]
fn local_search_with_the_filter_climbs_from_neighbourhood_to_neighbourhood() {
    use emprox_benchmarks::nb201::{Nb201Data, Nb201Space};
    use emprox_benchmarks::SearchSpace;
    let space = Nb201Space::new(Nb201Data::shipped().unwrap());
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ls");
    let filter = "filter={candidates=100, top_k=10, warmup=20, refit_every=10}";
    run_knn("examples/nb201_local_search.toml", &out, &[filter]);
    let (mut walks, mut restarts) = (0, 0);
    for s in 0..3 {
        let dir = out.join(format!("seed-{s}"));
        let trials: Vec<(u64, f64)> = lines(&dir.join("trials.jsonl"))
            .iter()
            .map(|t| (t["index"].as_u64().unwrap(), t["val_acc"].as_f64().unwrap()))
            .collect();
        // Each pool's centre: the evaluated cell whose unevaluated neighbours open the pool
        // (none for a pool of restart samples).
        let centres: Vec<Option<(u64, f64)>> = lines(&dir.join("pools.jsonl"))
            .iter()
            .map(|p| {
                let before = &trials[..p["after_query"].as_u64().unwrap() as usize];
                let evaluated: HashSet<u64> = before.iter().map(|t| t.0).collect();
                let scored: Vec<u64> = p["scored"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x[0].as_u64().unwrap())
                    .collect();
                before.iter().copied().find(|&(c, _)| {
                    let hood: HashSet<u64> = space
                        .neighbours(&space.cell_at(c as usize).unwrap())
                        .iter()
                        .filter_map(|n| space.index(n))
                        .filter(|i| !evaluated.contains(i))
                        .collect();
                    hood.len() >= 5
                        && scored.len() >= hood.len()
                        && scored[..hood.len()].iter().copied().collect::<HashSet<_>>() == hood
                })
            })
            .collect();
        walks += centres.iter().flatten().count();
        restarts += centres.iter().filter(|c| c.is_none()).count();
        // The centre moves only to a better cell; otherwise local search restarts.
        for w in centres.windows(2) {
            if let [Some(a), Some(b)] = w {
                assert!(b.1 > a.1, "seed {s}: the centre moved from {a:?} to {b:?}");
            }
        }
    }
    assert!(
        walks > restarts && restarts > 0,
        "{walks} walks, {restarts} restarts"
    );
}

/// Runs the EmProx example with `knn_onehot`, `filter` and `max_queries` on two seeds at 1 and at
/// 2 threads, and once killed after `kill_after` trials of seed 0 and resumed: the trials and
/// pools of all three are byte-identical. Returns the temporary folder and the 1-thread run's.
fn repeats_and_resumes(
    filter: &str,
    max_queries: u32,
    kill_after: usize,
) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let args = |out: &Path| -> Vec<String> {
        vec![
            "run".into(),
            "examples/nb201_evolution_emprox.toml".into(),
            "--out".into(),
            out.to_str().unwrap().into(),
            "--seeds".into(),
            "2".into(),
            "--set".into(),
            format!("budget.max_queries={max_queries}"),
            "--set".into(),
            "estimator={type=\"knn_onehot\"}".into(),
            "--set".into(),
            format!("filter={filter}"),
        ]
    };
    let run = |out: &Path, extra: &[&str]| {
        let mut a = args(out);
        a.extend(extra.iter().map(|s| s.to_string()));
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        let o = emprox(&a);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    let (one, two) = (tmp.path().join("one"), tmp.path().join("two"));
    run(&one, &["--threads", "1"]);
    run(&two, &["--threads", "2"]);
    let killed = tmp.path().join("killed");
    let mut a = args(&killed);
    a.extend(["--threads", "1", "--throttle-ms", "10"].map(String::from));
    kill_when(&a, &killed.join("seed-0/trials.jsonl"), kill_after);
    let o = emprox(&["resume", killed.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for s in 0..2 {
        for f in ["trials.jsonl", "pools.jsonl"] {
            let f = format!("seed-{s}/{f}");
            let a = std::fs::read(one.join(&f)).unwrap();
            assert_eq!(a, std::fs::read(two.join(&f)).unwrap(), "{f}");
            assert_eq!(
                a,
                std::fs::read(killed.join(&f)).unwrap(),
                "{f} after resume"
            );
        }
    }
    (tmp, one)
}

/// Mutation pools, an ensemble and Thompson sampling draw from the run's own seeded streams: the
/// same journal at any thread count, and a killed run resumes to it.
#[test]
fn mutation_pools_and_thompson_sampling_repeat_and_resume() {
    let (_tmp, one) = repeats_and_resumes(
        "{candidates=30, top_k=10, warmup=20, refit_every=10, exploit=1.0, mutate_top=2, \
         mutations=1, ensemble=3, acquisition=\"thompson\"}",
        80,
        45,
    );
    for s in 0..2 {
        // Every pool carries the ensemble's spread and Thompson draws.
        let pools = lines(&one.join(format!("seed-{s}/pools.jsonl")));
        assert!(pools.iter().all(|p| p["spread"].is_array()));
    }
}

/// A zero-cost proxy (`[filter] proxy`) ranks the warm-up's pools: each warm-up pool's chosen
/// cells are its `top_k` by the proxy (the parameter count), with no prediction in the journal;
/// afterwards the estimator's predictions (over the proxy's line) are journalled. Runs repeat at
/// any thread count and a killed run resumes to the same journal.
#[test]
fn a_zero_cost_proxy_ranks_the_warm_up_and_runs_repeat_and_resume() {
    let (_tmp, one) = repeats_and_resumes(
        "{candidates=48, top_k=10, warmup=30, refit_every=10, exploit=1.0, mutate_top=2, \
         mutations=1, proxy=\"params_m\"}",
        70,
        35,
    );
    for s in 0..2 {
        let trials = lines(&one.join(format!("seed-{s}/trials.jsonl")));
        let params: std::collections::HashMap<u64, f64> = trials
            .iter()
            .map(|t| {
                (
                    t["index"].as_u64().unwrap(),
                    t["extras"]["params_m"].as_f64().unwrap(),
                )
            })
            .collect();
        // Warm-up trials carry no prediction, the filtered ones do.
        for t in &trials {
            let q = t["query"].as_u64().unwrap();
            assert_eq!(t.get("predicted").is_some(), q > 30, "query {q}: {t}");
        }
        let pools = lines(&one.join(format!("seed-{s}/pools.jsonl")));
        let warm: Vec<_> = pools
            .iter()
            .filter(|p| p["after_query"].as_u64().unwrap() < 30)
            .collect();
        assert_eq!(warm.len(), 3, "three warm-up pools of 10");
        for p in warm {
            assert_eq!(p["train_size"], 0, "no estimator in the warm-up");
            let scored = p["scored"].as_array().unwrap();
            let chosen: HashSet<u64> = p["chosen"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_u64().unwrap())
                .collect();
            assert_eq!(chosen.len(), 10);
            // Each score is the cell's parameter count; no cell left out has more than a
            // chosen one.
            let mut least_chosen = f64::INFINITY;
            let mut most_left = f64::NEG_INFINITY;
            for c in scored {
                let (i, v) = (c[0].as_u64().unwrap(), c[1].as_f64().unwrap());
                if chosen.contains(&i) {
                    assert_eq!(v, params[&i], "cell {i}: the pool's score is its params");
                    least_chosen = least_chosen.min(v);
                } else {
                    most_left = most_left.max(v);
                }
            }
            assert!(least_chosen >= most_left, "{least_chosen} < {most_left}");
        }
    }
}

//! Searching several objectives: the multi-objective strategies and the filter that ranks pools
//! by predicted accuracy with exact known costs, run from the shipped comparison files (reduced),
//! with journals that carry every objective; refusals of what only several objectives allow.

mod common;
use common::*;
use std::path::Path;

/// `examples/FILE` with fewer queries and report points, written into `dir`; its benchmark
/// description made absolute.
fn reduced(file: &str, dir: &Path, queries: u64, report_at: &str) -> std::path::PathBuf {
    let text = std::fs::read_to_string(root().join("examples").join(file)).unwrap();
    let desc = root().join("benchmarks/data/nb201_cifar10_hw.tabular.toml");
    let text = text
        .replace("max_queries = 150", &format!("max_queries = {queries}"))
        .replace(
            "report_at = [50, 100, 150]",
            &format!("report_at = {report_at}"),
        )
        .replace(
            "\"../benchmarks/data/nb201_cifar10_hw.tabular.toml\"",
            &format!("{:?}", desc.to_str().unwrap()),
        );
    assert!(text.contains(&format!("max_queries = {queries}")), "{file}");
    let path = dir.join(file);
    std::fs::write(&path, text).unwrap();
    path
}

/// The comparison's rows by label: the hypervolume share of the true front at each report point.
fn shares(out: &Path) -> std::collections::HashMap<String, Vec<f64>> {
    let rows: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(out.join("comparison.json")).unwrap()).unwrap();
    rows.iter()
        .map(|r| {
            let at = r["at"].as_array().unwrap();
            let s: Vec<f64> = at
                .iter()
                .map(|a| a["hypervolume"]["share_of_front"].as_f64().unwrap())
                .collect();
            assert!(s.iter().all(|x| *x > 0.3 && *x < 1.0), "{s:?}");
            assert!(s.windows(2).all(|w| w[0] <= w[1]), "{s:?}");
            (r["label"].as_str().unwrap().to_string(), s)
        })
        .collect()
}

#[test]
fn mo_evolution_with_the_filter_beats_random_search_on_accuracy_and_latency() {
    let t = tempfile::tempdir().unwrap();
    let file = reduced("compare_nb201_mo_pixel3.toml", t.path(), 100, "[50, 100]");
    let out = t.path().join("out");
    emprox_ok(&[
        "compare",
        s(&file),
        "--seeds",
        "20",
        "--out",
        s(&out),
        "--quiet",
    ]);
    let sh = shares(&out);
    assert_eq!(sh.len(), 9);
    // Measured on 100 seeds after 100 queries: RS 91.9%, MO-RE 94.7%, MO-RE+EmProx 96.2% of
    // the true front (README); on these 20 seeds 92.4%, 94.2% and 96.3%.
    let at100 = |l: &str| sh[l][1];
    assert!(at100("MO-RE") > at100("RS") + 0.01, "{sh:?}");
    assert!(at100("MO-RE+EmProx") > at100("MO-RE") + 0.015, "{sh:?}");
    assert!(at100("MO-LS+EmProx") > at100("MO-LS") + 0.015, "{sh:?}");
    assert!(at100("RS+EmProx") > at100("RS"), "{sh:?}");
    // Every journal line carries each objective: the accuracy and the latency the table holds.
    let dir = out.join("nb201-cifar10-hw/MO-RE_EmProx/seed-0");
    let trials = lines(&dir.join("trials.jsonl"));
    assert_eq!(trials.len(), 100);
    for t in &trials {
        assert!(t["val_acc"].as_f64().is_some(), "{t}");
        assert!(
            t["extras"]["latency_pixel3_ms"].as_f64().unwrap() > 0.0,
            "{t}"
        );
    }
    // After the warm-up, each evaluated cell was chosen from a scored pool.
    assert!(trials[20..].iter().all(|t| t["predicted"].is_number()));
    assert!(dir.join("pareto.csv").exists() && dir.join("pools.jsonl").exists());
    let resolved = std::fs::read_to_string(
        out.join("nb201-cifar10-hw/MO-LS_EmProx__hvi_/config.resolved.toml"),
    )
    .unwrap();
    assert!(
        resolved.contains("type = \"mo_local_search\""),
        "{resolved}"
    );
    assert!(resolved.contains("mo_rank = \"hvi\""), "{resolved}");
}

#[test]
fn the_flops_and_three_objective_comparisons_run() {
    let t = tempfile::tempdir().unwrap();
    for (file, metrics) in [
        ("compare_nb201_mo_flops.toml", &["c10_flops_M"][..]),
        (
            "compare_nb201_mo_3d.toml",
            &["latency_pixel3_ms", "c10_params_M"][..],
        ),
    ] {
        let path = reduced(file, t.path(), 40, "[25, 40]");
        let out = t.path().join(file.trim_end_matches(".toml"));
        emprox_ok(&[
            "compare",
            s(&path),
            "--seeds",
            "2",
            "--out",
            s(&out),
            "--quiet",
        ]);
        assert_eq!(shares(&out).len(), 9, "{file}");
        let pareto =
            std::fs::read_to_string(out.join("nb201-cifar10-hw/MO-RE_EmProx/seed-1/pareto.csv"))
                .unwrap();
        let header = pareto.lines().next().unwrap();
        for m in metrics {
            assert!(header.contains(m), "{file}: {header}");
        }
    }
}

/// The supervised EmProx filter with parameters ranking the warm-up (issue 26): on 100 fresh
/// seeds 97.0% of the front at 100 queries against the pre-trained EmProx's 95.5%
/// (docs/results.md); here the example reduced to 100 queries and 30 of its seeds.
#[test]
fn the_supervised_filter_with_a_proxy_warm_up_beats_the_pretrained_emprox_filter() {
    let t = tempfile::tempdir().unwrap();
    let file = reduced(
        "compare_nb201_mo_supervised.toml",
        t.path(),
        100,
        "[50, 100]",
    );
    let out = t.path().join("out");
    emprox_ok(&[
        "compare",
        s(&file),
        "--seeds",
        "30",
        "--out",
        s(&out),
        "--quiet",
    ]);
    let sh = shares(&out);
    let at100 = |l: &str| sh[l][1];
    let best = at100("MO-RE+EmProx supervised, proxy warm-up");
    // On these 30 seeds 96.9% against 95.0%.
    assert!(best > at100("MO-RE+EmProx") + 0.01, "{sh:?}");
    assert!(best > 0.95, "{sh:?}");
}

#[test]
fn several_objectives_are_needed_by_mo_strategies_and_mo_rank() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    for (file, set, needle) in [
        (
            "nb201_evolution.toml",
            "strategy.type=mo_regularized_evolution",
            "type = \"mo_regularized_evolution\" ranks by several objectives",
        ),
        (
            "nb201_evolution_emprox.toml",
            "filter.mo_rank=hvi",
            "[filter] mo_rank ranks pools by several objectives",
        ),
        (
            "nb201_mo_evolution_emprox.toml",
            "filter.mo_rank=pareto",
            "mo_rank",
        ),
    ] {
        let file = format!("examples/{file}");
        let o = emprox(&["run", &file, "--set", set, "--out", s(&out)]);
        assert_refused(&o, needle);
    }
    assert!(!out.exists(), "nothing written for a refused experiment");
    // `emprox list` names the multi-objective strategies with their parameters.
    let list = String::from_utf8(emprox_ok(&["list"]).stdout).unwrap();
    assert!(list.contains("mo_regularized_evolution") && list.contains("mo_local_search"));
    assert!(list.contains("mo_rank = \"dominance\""), "{list}");
}

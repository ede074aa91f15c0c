//! `emprox compare` on the shipped comparison file (fewer seeds and queries, to stay quick).

use std::path::Path;
use std::process::Command;

#[test]
fn the_shipped_comparison_runs_on_shared_seeds() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("cmp");
    let o = Command::new(env!("CARGO_BIN_EXE_emprox"))
        .args([
            "compare",
            "examples/compare_nb201.toml",
            "--seeds",
            "2",
            "--out",
            out.to_str().unwrap(),
        ])
        .current_dir(root)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let rows: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(out.join("comparison.json")).unwrap()).unwrap();
    assert_eq!(rows.len(), 3 * 9, "3 datasets × 9 experiments");
    for r in &rows {
        let at = r["at"].as_array().unwrap();
        assert_eq!(at.len(), 3);
        // The incumbent never gets worse by validation, and test accuracy is a real NB201 value.
        for (a, q) in at.iter().zip([50, 100, 150]) {
            assert_eq!(a["queries"], q, "{r}");
            let mean = a["mean"].as_f64().unwrap();
            assert!(mean > 1.0 && mean < 94.38, "{r}");
            assert!(a["std"].as_f64().unwrap() >= 0.0, "{r}");
            assert!(a["mean_val"].as_f64().unwrap() > 1.0, "{r}");
            let found = a["found_best_share"].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&found), "{r}");
        }
        // Found by the last report is found at the end of the budget (150 queries).
        assert_eq!(at[2]["found_best_share"], r["found_best_share"], "{r}");
        let filtered = r["label"].as_str().unwrap().contains("+EmProx");
        assert_eq!(r["estimator_seconds_per_run"].is_null(), !filtered, "{r}");
    }
    // Plain and filtered RE start from the same seeds: their first 20 (unfiltered) queries agree.
    let plain = std::fs::read_to_string(out.join("cifar10/RE/seed-0/trials.jsonl")).unwrap();
    let filt = std::fs::read_to_string(out.join("cifar10/RE_EmProx/seed-0/trials.jsonl")).unwrap();
    let first = |t: &str| {
        t.lines()
            .take(20)
            .map(|l| l.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(first(&plain), first(&filt));
    let md = std::fs::read_to_string(out.join("comparison.md")).unwrap();
    assert!(md.contains("| cifar100 | LS+EmProx |"));
    assert!(
        md.contains("| found best-val cell by 50 / 100 / 150 |"),
        "{md}"
    );
    assert!(
        md.contains("mean ± one standard deviation over runs"),
        "{md}"
    );
    for d in ["cifar10", "cifar100", "imagenet16-120"] {
        assert!(out.join(format!("incumbent_{d}.svg")).exists());
        assert!(out.join(format!("incumbent_time_{d}.svg")).exists());
    }
}

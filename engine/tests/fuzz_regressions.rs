//! Inputs kept from fuzzing (`fuzz/regressions/<target>/`, plus the seed corpora in
//! `fuzz/seeds/`), replayed through the same checks as the fuzz targets in `fuzz/fuzz_targets/`.

use emprox_benchmarks::nb201::Cell;
use emprox_engine::compare::Comparison;
use emprox_engine::config::{parse_toml, Experiment};
use emprox_engine::journal::{parse, Trial};
use std::path::{Path, PathBuf};

fn inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .join("fuzz");
    let mut out = Vec::new();
    for dir in ["regressions", "seeds"] {
        if let Ok(rd) = std::fs::read_dir(root.join(dir).join(target)) {
            for e in rd.flatten() {
                out.push((e.path(), std::fs::read(e.path()).unwrap()));
            }
        }
    }
    assert!(!out.is_empty(), "no inputs kept for {target}");
    out
}

#[test]
fn arch_string_inputs() {
    for (path, data) in inputs("arch_string") {
        if let Ok(s) = std::str::from_utf8(&data) {
            if let Ok(cell) = Cell::parse(s) {
                assert_eq!(
                    Cell::parse(&cell.to_string()).unwrap(),
                    cell,
                    "{}",
                    path.display()
                );
            }
        }
    }
}

#[test]
fn experiment_inputs() {
    for (_, data) in inputs("experiment") {
        if let Ok(text) = std::str::from_utf8(&data) {
            let path = Path::new("fuzz.toml");
            if let Ok(exp) = parse_toml::<Experiment>(text, path) {
                let _ = exp.validate(path);
            }
            let _ = parse_toml::<Comparison>(text, path);
        }
    }
}

#[test]
fn journal_inputs() {
    for (path, data) in inputs("journal") {
        if let Ok(c) = parse::<Trial>(&data, Path::new("trials.jsonl")) {
            let n = c.valid_len as usize;
            assert!(
                n <= data.len() && (n == 0 || data[n - 1] == b'\n'),
                "{}",
                path.display()
            );
        }
        let _ = parse::<serde_json::Value>(&data, Path::new("pools.jsonl"));
    }
}

#[test]
fn an_infinite_wall_budget_is_rejected() {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/regressions/experiment/infinite-wall"),
    )
    .unwrap();
    let exp: Experiment = parse_toml(&text, Path::new("x.toml")).unwrap();
    assert!(exp.validate(Path::new("x.toml")).is_err());
}

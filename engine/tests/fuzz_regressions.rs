//! Inputs kept from fuzzing (`fuzz/regressions/<target>/`, plus the seed corpora in
//! `fuzz/seeds/`), replayed through the same checks as the fuzz targets in `fuzz/fuzz_targets/`.

use emprox_benchmarks::nb201::{Cell, Nb201Data, Nb201Space};
use emprox_benchmarks::tabular::{TabularDescription, TabularSpace, TabularTable};
use emprox_benchmarks::SearchSpace;
use emprox_engine::compare::Comparison;
use emprox_engine::config::{parse_toml, Experiment};
use emprox_engine::journal::{parse, Trial};
use emprox_engine::pipeline::cache::CacheFile;
use emprox_estimators::emprox::persist;
use emprox_estimators::FittedEstimator;
use std::path::{Path, PathBuf};
use std::sync::Arc;

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

/// The input split at its first NUL byte (the `tabular` and `model` targets' two files).
fn split_at_nul(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    }
}

/// `fuzz/fuzz_targets/tabular.rs`: returns whether the table loaded.
fn check_tabular(path: &Path, data: &[u8]) -> bool {
    let (desc, csv) = split_at_nul(data);
    let Ok(text) = std::str::from_utf8(desc) else {
        return false;
    };
    let Ok(d) = TabularDescription::from_toml_str(text, Path::new("fuzz.tabular.toml")) else {
        return false;
    };
    let Ok(table) = TabularTable::from_csv_bytes(&d, csv, Path::new("fuzz.csv")) else {
        return false;
    };
    let space = TabularSpace::new(Arc::new(table));
    for cell in space.all_cells() {
        let s = space.format(&cell);
        let back = space
            .parse(&s)
            .unwrap_or_else(|e| panic!("{}: row {}: {s:?}: {e}", path.display(), cell.row()));
        assert_eq!(back, cell, "{}: {s:?}", path.display());
        assert_eq!(
            space.index(&cell),
            Some(space.table().file_row(cell.row()) as u64),
            "{}",
            path.display()
        );
    }
    true
}

#[test]
fn tabular_inputs() {
    for (path, data) in inputs("tabular") {
        let loaded = check_tabular(&path, &data);
        if path.parent().unwrap().ends_with("seeds/tabular") {
            assert!(loaded, "seed {} does not load", path.display());
        }
    }
}

/// `fuzz/fuzz_targets/cache.rs`.
fn check_cache(path: &Path, data: &[u8], file: &Path) {
    std::fs::write(file, data).unwrap();
    let Ok(first) = CacheFile::open(file) else {
        return;
    };
    let after = std::fs::read(file).unwrap();
    let at = path.display();
    assert!(
        after.is_empty() || after.ends_with(b"\n"),
        "{at}: torn last line"
    );
    let mut keys = Vec::new();
    for l in after.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let v: serde_json::Value =
            serde_json::from_slice(l).unwrap_or_else(|e| panic!("{at}: a kept line is torn: {e}"));
        keys.push(
            v["key"]
                .as_str()
                .expect("a kept line has a key")
                .to_string(),
        );
    }
    let second = CacheFile::open(file).expect("a repaired cache opens again");
    assert_eq!(
        std::fs::read(file).unwrap(),
        after,
        "{at}: a second open changed it"
    );
    for k in &keys {
        assert_eq!(
            serde_json::to_string(&first.get(k)).unwrap(),
            serde_json::to_string(&second.get(k)).unwrap(),
            "{at}: {k:?}"
        );
    }
}

#[test]
fn cache_inputs() {
    let dir = tempfile::tempdir().unwrap();
    for (path, data) in inputs("cache") {
        check_cache(&path, &data, &dir.path().join("cache.jsonl"));
    }
}

#[test]
fn a_cache_seed_keeps_its_whole_lines_and_drops_the_torn_one() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cache.jsonl");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds/cache/lines");
    std::fs::copy(root, &file).unwrap();
    let c = CacheFile::open(&file).unwrap();
    assert_eq!(c.get("b").map(|o| o.val_acc), Some(12.0));
    assert!(c.get("c").is_none(), "120 % is not an accuracy");
    assert!(c.get("d").is_none());
    let text = std::fs::read_to_string(&file).unwrap();
    assert_eq!(text.lines().count(), 3, "{text}");
}

/// `fuzz/fuzz_targets/model.rs`: returns whether the model loaded.
fn check_model(path: &Path, data: &[u8], dir: &Path, space: &Nb201Space) -> bool {
    let (json, weights) = split_at_nul(data);
    std::fs::write(dir.join("model.json"), json).unwrap();
    std::fs::write(dir.join("weights.safetensors"), weights).unwrap();
    let Ok(m) = persist::load(dir, space) else {
        return false;
    };
    let cells: Vec<_> = [0, 1, 7000, 15624]
        .iter()
        .map(|&i| space.cell_at(i).unwrap())
        .collect();
    if let Ok(p) = FittedEstimator::<Nb201Space>::predict(&m, space, &cells) {
        assert_eq!(p.len(), cells.len(), "{}", path.display());
        assert!(p.iter().all(|x| x.is_finite()), "{}: {p:?}", path.display());
    }
    true
}

#[test]
fn model_inputs() {
    let space = Nb201Space::new(Nb201Data::shipped().unwrap());
    let dir = tempfile::tempdir().unwrap();
    for (path, data) in inputs("model") {
        let loaded = check_model(&path, &data, dir.path(), &space);
        if path.parent().unwrap().ends_with("seeds/model") {
            assert!(loaded, "seed {} does not load", path.display());
        }
    }
}

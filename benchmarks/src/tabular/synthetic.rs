//! A synthetic, deterministic GNN-like benchmark table for tests: a table emprox has never seen.
//!
//! Columns: `dataset` (several tasks in one file), `ops` (4 space-separated positions, each one
//! of `gat gcn gin sage skip`), `hidden` (16, 32, 64, 128, 256), `agg` (`attn lstm max mean sum`),
//! `val_acc` and `test_acc` (fractions in 0-1), `latency_ms`, `params` (an integer) and
//! `train_seconds`. The space of one dataset has 5⁴ · 5 · 5 = 15,625 architectures.
//!
//! `rows` are split evenly over `max(3, ceil(rows / 15,625))` datasets (at most 16, so at most
//! 250,000 rows); each dataset holds a seeded random subset of its space (all of it at 15,625
//! rows) that always contains the dataset's optimum ([`synthetic_optimum`]), the single best
//! row, whatever the seed.

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The ops of each position.
pub const OPS: [&str; 5] = ["gat", "gcn", "gin", "sage", "skip"];
/// Positions of the `ops` column.
pub const POSITIONS: usize = 4;
/// The `hidden` sizes.
pub const HIDDEN: [u32; 5] = [16, 32, 64, 128, 256];
/// The `agg` choices.
pub const AGG: [&str; 5] = ["attn", "lstm", "max", "mean", "sum"];
/// Architectures per dataset.
pub const SPACE_SIZE: usize = 625 * 5 * 5;
/// Dataset names, in order of use.
pub const DATASETS: [&str; 16] = [
    "cora",
    "citeseer",
    "pubmed",
    "arxiv",
    "products",
    "proteins",
    "mag",
    "ppi",
    "reddit",
    "flickr",
    "amazon",
    "coauthor",
    "photo",
    "computers",
    "cs",
    "physics",
];
/// Most rows a table can have (16 complete datasets).
pub const MAX_ROWS: usize = SPACE_SIZE * DATASETS.len();

/// The description of a synthetic table written as `synthetic_gnn.csv.gz`, for dataset `cora`.
pub const DESCRIPTION_TOML: &str = r#"# Synthetic GNN-like benchmark: emprox_benchmarks::tabular::synthetic::write_synthetic_table.
data = "synthetic_gnn.csv.gz"
select = { dataset = "cora" }
objective = { column = "val_acc", goal = "maximize" }
test = "test_acc"
cost = "train_seconds"
extras = ["latency_ms", "params"]

[[architecture]]
column = "ops"
separator = " "
choices = ["gat", "gcn", "gin", "sage", "skip"]

[[architecture]]
column = "hidden"

[[architecture]]
column = "agg"
"#;

/// What a generated table holds.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntheticInfo {
    /// Datasets, in file order, with their row counts.
    pub datasets: Vec<(String, usize)>,
}

/// The best architecture of dataset number `k` (in [`DATASETS`]) and its `val_acc` as written.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntheticOptimum {
    /// Architecture string, as the tabular space formats it (`gin sage gat gcn | 128 | sum`).
    pub arch: String,
    /// Its validation accuracy (a fraction), as written (6 decimals).
    pub val_acc: f64,
}

/// Architecture number `code` (0..15,625): ops per position, hidden index, agg index.
fn decode(code: usize) -> ([usize; POSITIONS], usize, usize) {
    let mut c = code;
    let mut ops = [0; POSITIONS];
    for o in ops.iter_mut() {
        *o = c % 5;
        c /= 5;
    }
    (ops, c % 5, (c / 5) % 5)
}

fn optimum_parts(k: usize) -> ([usize; POSITIONS], usize, usize) {
    let mut ops = [0; POSITIONS];
    for (p, o) in ops.iter_mut().enumerate() {
        *o = (p + 2 + k) % 4; // never `skip`; consecutive positions differ
    }
    (ops, 3, 4) // hidden 128, agg sum
}

fn encode(ops: [usize; POSITIONS], h: usize, a: usize) -> usize {
    let mut c = 0;
    for o in ops.iter().rev() {
        c = c * 5 + o;
    }
    c + 625 * (h + 5 * a)
}

fn arch_string(ops: [usize; POSITIONS], h: usize, a: usize) -> String {
    let ops: Vec<&str> = ops.iter().map(|&o| OPS[o]).collect();
    format!("{} | {} | {}", ops.join(" "), HIDDEN[h], AGG[a])
}

fn base_span(k: usize) -> (f64, f64) {
    (0.2 + 0.02 * k as f64, 0.6 - 0.01 * k as f64)
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// The optimum of dataset number `k`.
pub fn synthetic_optimum(k: usize) -> SyntheticOptimum {
    let (ops, h, a) = optimum_parts(k);
    let (base, span) = base_span(k);
    SyntheticOptimum {
        arch: arch_string(ops, h, a),
        val_acc: round6(base + span),
    }
}

/// Quality in [0, 1]: 1 only at the optimum (noise is subtracted everywhere else).
fn quality(k: usize, code: usize, noise: f64) -> f64 {
    let (ops, h, a) = decode(code);
    let (best_ops, best_h, best_a) = optimum_parts(k);
    if (ops, h, a) == (best_ops, best_h, best_a) {
        return 1.0;
    }
    let mut s = 0.0;
    for p in 0..POSITIONS {
        s += if ops[p] == best_ops[p] {
            1.0
        } else if ops[p] == 4 {
            0.4
        } else {
            0.75
        };
        if p > 0 && ops[p] == ops[p - 1] {
            s -= 0.1;
        }
    }
    s += 1.0 - 0.15 * (h as f64 - best_h as f64).abs();
    s += if a == best_a { 1.0 } else { 0.8 };
    (s / (POSITIONS + 2) as f64 - noise).max(0.0)
}

/// Writes a synthetic table of `rows` rows (gzip when `path` ends in `.gz`), deterministic in
/// `seed`. Fails for 0 or more than [`MAX_ROWS`] rows.
pub fn write_synthetic_table(
    path: &Path,
    rows: usize,
    seed: u64,
) -> std::io::Result<SyntheticInfo> {
    if rows == 0 || rows > MAX_ROWS {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("a synthetic table has 1..={MAX_ROWS} rows, not {rows}"),
        ));
    }
    let file = std::io::BufWriter::new(std::fs::File::create(path)?);
    if path.extension().is_some_and(|e| e == "gz") {
        let mut gz = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
        let info = write_rows(&mut gz, rows, seed)?;
        gz.finish()?.flush()?;
        Ok(info)
    } else {
        let mut file = file;
        let info = write_rows(&mut file, rows, seed)?;
        file.flush()?;
        Ok(info)
    }
}

fn write_rows(out: &mut impl Write, rows: usize, seed: u64) -> std::io::Result<SyntheticInfo> {
    let n_ds = rows.div_ceil(SPACE_SIZE).max(3).min(rows);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    writeln!(
        out,
        "dataset,ops,hidden,agg,val_acc,test_acc,latency_ms,params,train_seconds"
    )?;
    let mut info = SyntheticInfo {
        datasets: Vec::new(),
    };
    let op_lat = [1.6, 0.7, 0.9, 1.0, 0.1];
    let op_par = [2.0, 1.0, 2.0, 2.0, 0.0];
    let mut codes: Vec<usize> = (0..SPACE_SIZE).collect();
    for (k, dataset) in DATASETS.iter().enumerate().take(n_ds) {
        let m = rows / n_ds + usize::from(k < rows % n_ds);
        codes.shuffle(&mut rng);
        let (bo, bh, ba) = optimum_parts(k);
        let best = encode(bo, bh, ba);
        let chosen = &mut codes[..m];
        if !chosen.contains(&best) {
            chosen[m - 1] = best;
        }
        let (base, span) = base_span(k);
        for &code in chosen.iter() {
            let (ops, h, a) = decode(code);
            let q = quality(k, code, rng.random_range(0.0..0.02));
            let val = round6(base + span * q);
            let test = (val - 0.01 + rng.random_range(0.0..0.02)).clamp(0.0, 1.0);
            let hidden = HIDDEN[h] as f64;
            let lat: f64 = ops.iter().map(|&o| op_lat[o]).sum::<f64>() * hidden / 64.0
                + [0.5, 1.5, 0.1, 0.1, 0.1][a]
                + rng.random_range(0.0..0.05);
            let params: f64 = ops.iter().map(|&o| op_par[o]).sum::<f64>() * hidden * hidden
                + 1433.0 * hidden
                + if a == 1 { 8.0 * hidden * hidden } else { 0.0 };
            let ops_s: Vec<&str> = ops.iter().map(|&o| OPS[o]).collect();
            writeln!(
                out,
                "{},{},{},{},{val:.6},{test:.6},{lat:.4},{},{:.2}",
                dataset,
                ops_s.join(" "),
                HIDDEN[h],
                AGG[a],
                params as u64,
                lat * 30.0 + 10.0
            )?;
        }
        info.datasets.push((dataset.to_string(), m));
    }
    Ok(info)
}

/// Writes `synthetic_gnn.csv.gz` and its description `synthetic_gnn.tabular.toml` (selecting
/// `dataset`) into `dir`; returns the description's path.
pub fn write_synthetic_benchmark(
    dir: &Path,
    rows: usize,
    seed: u64,
    dataset: &str,
) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    write_synthetic_table(&dir.join("synthetic_gnn.csv.gz"), rows, seed)?;
    let desc = dir.join("synthetic_gnn.tabular.toml");
    std::fs::write(
        &desc,
        DESCRIPTION_TOML.replace("dataset = \"cora\"", &format!("dataset = {dataset:?}")),
    )?;
    Ok(desc)
}

//! Load speed of the generic tabular benchmark, measured side by side with the dedicated
//! NAS-Bench-201 loader, and the speed of search-like use of a 250,000-row space.
//!
//! `cargo run --release -p emprox-benchmarks --example tabular_load [-- ROWS REPS]`
//!
//! Writes a synthetic table of ROWS rows (default 250,000: 16 GNN-like datasets, each its
//! complete 15,625-architecture space) to a temporary folder, then times, interleaved, REPS
//! times each (default 5; the median is reported):
//! - `Nb201Data::load` of `benchmarks/data/nb201.csv.gz` (15,625 rows, checksum included),
//! - the tabular loader on the same file (`nb201_cifar10.tabular.toml`),
//! - the tabular loader on the synthetic table, all rows (`dataset` is made an architecture
//!   column, so that the 250,000 rows are distinct architectures).
//!
//! Then 100 simulated runs of 150 queries on the synthetic space: regularised-evolution-like
//! (tournament of 10 from the history, `mutate`, evaluate) and local-search-like (`neighbours`
//! of the incumbent).

use emprox_benchmarks::nb201::Nb201Data;
use emprox_benchmarks::tabular::{self, synthetic, TabularBenchmark, TabularDescription};
use emprox_benchmarks::{Evaluator, SearchSpace};
use rand::{Rng, SeedableRng};
use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rows: usize = args
        .get(1)
        .map_or(synthetic::MAX_ROWS, |a| a.parse().expect("ROWS"));
    let reps: usize = args.get(2).map_or(5, |a| a.parse().expect("REPS"));
    let dir = tempfile::tempdir().expect("temporary folder");
    let t = Instant::now();
    let table = dir.path().join("synthetic_gnn.csv.gz");
    synthetic::write_synthetic_table(&table, rows, 1).expect("write the synthetic table");
    let gz_bytes = std::fs::metadata(&table).map(|m| m.len()).unwrap_or(0);
    println!(
        "wrote {rows} synthetic rows ({:.1} MB gzip) in {:.2} s",
        gz_bytes as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );
    let big_desc = synthetic::DESCRIPTION_TOML.replace("select = { dataset = \"cora\" }\n", "")
        + "\n[[architecture]]\ncolumn = \"dataset\"\n";
    let big_desc = TabularDescription::from_toml_str(&big_desc, "synthetic.toml".as_ref())
        .expect("description")
        .resolved(dir.path());
    let data = tabular::shipped_data_dir();
    let nb201_desc =
        TabularDescription::from_file(&data.join("nb201_cifar10.tabular.toml")).expect("nb201");

    let (mut t_nb201, mut t_tab201, mut t_big) = (Vec::new(), Vec::new(), Vec::new());
    let mut big = None;
    for _ in 0..reps {
        let t = Instant::now();
        let d = Nb201Data::load(&data.join("nb201.csv.gz")).expect("nb201 table");
        t_nb201.push(t.elapsed().as_secs_f64());
        assert_eq!(d.records().len(), 15_625);

        let t = Instant::now();
        let b = TabularBenchmark::load(&nb201_desc).expect("tabular nb201");
        t_tab201.push(t.elapsed().as_secs_f64());
        assert_eq!(b.table().len(), 15_625);

        let t = Instant::now();
        let b = TabularBenchmark::load(&big_desc).expect("synthetic table");
        t_big.push(t.elapsed().as_secs_f64());
        assert_eq!(b.table().len(), rows);
        big = Some(b);
    }
    let mut t_gunzip = Vec::new();
    for _ in 0..reps {
        let t = Instant::now();
        let gz = std::fs::read(&table).expect("table");
        let mut csv = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut csv)
            .expect("gzip");
        t_gunzip.push(t.elapsed().as_secs_f64());
    }
    let gunzip = median(t_gunzip);
    let (nb, tab, bg) = (median(t_nb201), median(t_tab201), median(t_big));
    println!("median of {reps} loads (seconds):");
    println!("  Nb201Data::load nb201.csv.gz (15,625 rows)        {nb:.4}");
    println!(
        "  tabular, nb201_cifar10.tabular.toml (15,625 rows) {tab:.4}  ratio to Nb201Data::load {:.2}",
        tab / nb
    );
    println!(
        "  tabular, synthetic ({rows} rows)               {bg:.4}  ratio to Nb201Data::load {:.2}",
        bg / nb
    );

    println!("  of which reading and decompressing the synthetic file  {gunzip:.4}");

    let b = big.expect("loaded");
    let (s, ev) = (&b.space, &b.evaluator);
    let t = Instant::now();
    let mut best_sum = 0.0;
    for run in 0..100u64 {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(run);
        let mut hist: Vec<(f64, _)> = Vec::with_capacity(150);
        for q in 0..150 {
            let cell = if q < 10 {
                s.sample(&mut rng)
            } else {
                let parent = (0..10)
                    .map(|_| &hist[rng.random_range(0..hist.len())])
                    .max_by(|a: &&(f64, _), b: &&(f64, _)| a.0.total_cmp(&b.0))
                    .expect("ten")
                    .1;
                s.mutate(&parent, &mut rng)
            };
            let _ = s.iso_key(&cell);
            let o = ev.evaluate(&cell, &mut rng).expect("a row");
            hist.push((o.val_acc, cell));
        }
        best_sum += hist.iter().map(|h| h.0).fold(f64::MIN, f64::max);
    }
    let evo = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let mut lookups = 0usize;
    for run in 0..100u64 {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(run);
        let mut cur = s.sample(&mut rng);
        let mut cur_v = ev.evaluate(&cur, &mut rng).expect("a row").val_acc;
        let mut q = 1;
        while q < 150 {
            let n = s.neighbours(&cur);
            lookups += n.len();
            let mut improved = false;
            for c in n {
                if q >= 150 {
                    break;
                }
                q += 1;
                let v = ev.evaluate(&c, &mut rng).expect("a row").val_acc;
                if v > cur_v {
                    (cur, cur_v, improved) = (c, v, true);
                    break;
                }
            }
            if !improved {
                cur = s.sample(&mut rng);
                q += 1;
            }
        }
    }
    let ls = t.elapsed().as_secs_f64();
    println!(
        "100 runs x 150 queries on {rows} rows: evolution (mutate) {evo:.4} s (mean best {:.4}), \
         local search (neighbours, {lookups} found) {ls:.4} s",
        best_sum / 100.0
    );
}

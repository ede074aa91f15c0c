//! The engine's time and memory on declared spaces of 10^4 and 10^18 members, side by side.
//!
//! ```sh
//! cargo bench -p emprox-engine --bench declared_scale [-- --reps 3]
//! ```
//!
//! Each measurement is a fresh process (this binary, `--space NAME`) that loads the experiment
//! below and runs it whole: 100 runs × 150 queries of regularized evolution with
//! `dedup_isomorphic`, on one thread, every output file written. A command would spend its time
//! starting processes, so the members are scored in-process by a deterministic synthetic
//! evaluator (a hash of each position's value, a stand-in used only here). The process reports
//! its wall and CPU time and peak resident memory (getrusage: unix); the spaces take turns,
//! `--reps` times, and the medians and their ratios to the 10^4 space are printed.
//!
//! - `nb201`: a cell of 4 nodes and 5 ops (6 positions, 15,625 members);
//! - `wide`: 6 positions of 1,000 values (10^18 members, as long as `nb201`'s);
//! - `darts`: two cells of 5 nodes and DARTS's 8 ops (20 positions, 8^20 ≈ 1.2 × 10^18).

use emprox_benchmarks::declared::DeclaredCell;
use emprox_benchmarks::evaluator::{EvalFailure, Evaluator, Outcome};
use emprox_benchmarks::{SearchSpace, Signal};
use emprox_engine::benchmark::Benchmark;
use emprox_engine::config::Experiment;
use emprox_engine::evaluators::Evaluation;
use emprox_engine::experiment::{run_experiment, Execution};
use emprox_engine::pipeline::search::NoProgress;
use emprox_engine::rundir::{prepare, FolderKind};
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

const EXPERIMENT: &str = r#"
name = "declared-scale"
seed = 0
seeds = 100
[strategy]
type = "regularized_evolution"
population_size = 30
sample_size = 10
[budget]
max_queries = 150
[search]
dedup_isomorphic = true
[evaluator]                    # required by a declared space; replaced by the synthetic scorer
type = "command"
[evaluator.command]
command = ["true"]
[benchmark]
type = "declared"
"#;

/// The spaces, in the order measured (the first is the baseline).
const SPACES: [&str; 3] = ["nb201", "wide", "darts"];

/// The `[benchmark.space]` of a space.
fn space_toml(name: &str) -> String {
    let cell = |name: &str, nodes: u32, ops: &[&str]| {
        let head = format!("[[benchmark.space.dimension]]\nname = {name:?}\ntype = \"cell\"\n");
        format!("{head}nodes = {nodes}\nops = {ops:?}\n")
    };
    let dims = match name {
        "nb201" => cell(
            "cell",
            4,
            &[
                "none",
                "skip_connect",
                "nor_conv_1x1",
                "nor_conv_3x3",
                "avg_pool_3x3",
            ],
        ),
        "wide" => {
            "[[benchmark.space.dimension]]\nname = \"x\"\nrange = [0, 999]\nrepeat = 6\n".into()
        }
        _ => {
            let ops = [
                "none",
                "skip_connect",
                "max_pool_3x3",
                "avg_pool_3x3",
                "sep_conv_3x3",
                "sep_conv_5x5",
                "dil_conv_3x3",
                "dil_conv_5x5",
            ];
            cell("normal", 5, &ops) + &cell("reduce", 5, &ops)
        }
    };
    format!("[benchmark.space]\nname = {name:?}\n{dims}")
}

/// Scores a member by the mean of a hash of each (position, value) pair: deterministic, cheap,
/// and with a structure evolution can climb (each position has a best value).
struct Synthetic;

impl Evaluator<DeclaredCell> for Synthetic {
    fn evaluate(
        &self,
        cell: &DeclaredCell,
        _rng: &mut dyn rand::RngCore,
    ) -> Result<Outcome, EvalFailure> {
        let score = |p: usize, v: u16| -> f64 {
            // SplitMix64 of the pair, to [0, 1).
            let mut z = ((p as u64) << 16 | v as u64).wrapping_add(0x9E37_79B9_7F4A_7C15);
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            (z ^ (z >> 31)) as f64 / u64::MAX as f64
        };
        let active: Vec<f64> = (cell.0.iter().enumerate())
            .filter(|(_, &v)| v != emprox_benchmarks::declared::INACTIVE)
            .map(|(p, &v)| score(p, v))
            .collect();
        let val = 100.0 * active.iter().sum::<f64>() / active.len() as f64;
        Ok(Outcome {
            val_acc: val,
            test_acc: Some(val),
            cost_seconds: 1.0,
            extras: Vec::new(),
        })
    }
}

/// Runs the experiment on one space; prints its wall and CPU seconds, peak RSS (KiB), size and
/// number of positions.
fn measure(name: &str) {
    let space_toml = space_toml(name);
    let dir = tempfile::tempdir().unwrap();
    let text = format!("{EXPERIMENT}{space_toml}");
    let path = dir.path().join("scale.toml");
    std::fs::write(&path, text).unwrap();
    let exp = Experiment::load(&path, &[]).unwrap();
    let space = exp.benchmark.declared_space().unwrap();
    let bench = Benchmark {
        evaluation: Evaluation::table(
            Arc::new(Synthetic),
            space.name(),
            "synthetic",
            Signal::accuracy(),
        ),
        space,
        best_val: None,
        objectives: None,
    };
    let exec = Execution {
        threads: 1,
        progress: &NoProgress,
        resume: false,
        throttle: None,
        keep_weights: None,
        keep_checkpoints: false,
    };
    let t = Instant::now();
    let out = dir.path().join("out");
    let _lock = prepare(&out, FolderKind::Experiment, false).unwrap();
    run_experiment(&exp, &bench, &out, &exec).unwrap();
    let wall = t.elapsed().as_secs_f64();
    // Every run did its 150 queries.
    let journal = std::fs::read_to_string(out.join("seed-99/trials.jsonl")).unwrap();
    assert_eq!(journal.lines().count(), 150);
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes into the struct it is given.
    assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) }, 0);
    let cpu = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    let size = bench.space.size().expect("both sizes fit a u64") as f64;
    println!(
        "{wall} {} {} {size:.1e} {}",
        cpu(usage.ru_utime) + cpu(usage.ru_stime),
        // Linux counts KiB, macOS bytes.
        if cfg!(target_os = "macos") {
            usage.ru_maxrss / 1024
        } else {
            usage.ru_maxrss
        },
        bench.space.position_names().count()
    );
}

fn median(mut x: Vec<f64>) -> f64 {
    x.sort_by(f64::total_cmp);
    x[x.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--space") {
        return measure(&args[i + 1]);
    }
    let reps: usize = args
        .iter()
        .position(|a| a == "--reps")
        .map_or(3, |i| args[i + 1].parse().expect("--reps N"));
    let me = std::env::current_exe().unwrap();
    // Per space: wall seconds, CPU seconds, peak RSS (KiB); its size and positions.
    let mut results: Vec<[Vec<f64>; 3]> = vec![Default::default(); SPACES.len()];
    let mut about = vec![String::new(); SPACES.len()];
    for _ in 0..reps {
        for (k, name) in SPACES.iter().enumerate() {
            let o = Command::new(&me).args(["--space", name]).output().unwrap();
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            let line = String::from_utf8(o.stdout).unwrap();
            let f: Vec<&str> = line.split_whitespace().collect();
            for (m, x) in results[k].iter_mut().zip(&f) {
                m.push(x.parse().unwrap());
            }
            about[k] = format!("{:<8} {:>9}", f[3], f[4]);
        }
    }
    let base = results[0].clone().map(median);
    println!("100 runs x 150 queries of RE, one thread, median of {reps} runs (interleaved)");
    println!("space   members  positions  wall s  CPU s  RSS MiB   wall  CPU  RSS (÷ nb201)");
    for ((name, r), about) in SPACES.iter().zip(results).zip(about) {
        let [t, c, m] = r.map(median);
        println!(
            "{name:<7} {about} {t:>7.2} {c:>6.2} {:>8.1}  {:>5.2} {:>4.2} {:>4.2}",
            m / 1024.0,
            t / base[0],
            c / base[1],
            m / base[2]
        );
    }
}

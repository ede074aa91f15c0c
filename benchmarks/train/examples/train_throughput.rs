//! Trains one NAS-Bench-201 network with candle on one thread and prints its accuracy and
//! training throughput (images per second) as one JSON line.
//!
//! ```text
//! cargo run --release -p emprox-train --example train_throughput -- \
//!     [--arch ARCH] [--seed N] [--config JSON]
//! ```
//! `--config` takes a JSON object of `TrainingConfig` fields (defaults otherwise), for example
//! `'{"epochs": 5, "dataset": "mnist"}'`. The default architecture is the all-3×3-conv cell.

use emprox_benchmarks::nb201::Cell;
use emprox_train::{TrainingConfig, TrainingEvaluator};

fn main() {
    // One compute thread per training, as in the engine.
    std::env::set_var("RAYON_NUM_THREADS", "1");
    let mut arch = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|".to_string();
    let mut seed = 0u64;
    let mut config = TrainingConfig::default();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || {
            args.next()
                .unwrap_or_else(|| die(&format!("{a} needs a value")))
        };
        match a.as_str() {
            "--arch" => arch = value(),
            "--seed" => seed = value().parse().unwrap_or_else(|_| die("bad --seed")),
            "--config" => {
                config = serde_json::from_str(&value())
                    .unwrap_or_else(|e| die(&format!("bad --config: {e}")))
            }
            other => die(&format!("unknown argument {other}")),
        }
    }
    let cell: Cell = arch.parse().unwrap_or_else(|e| die(&format!("{e}")));
    let ev = TrainingEvaluator::new(config.clone()).unwrap_or_else(|e| die(&format!("{e}")));
    let r = ev
        .train(&(&cell).into(), seed)
        .unwrap_or_else(|e| die(&format!("{e}")));
    let line = serde_json::json!({
        "arch": arch,
        "seed": seed,
        "dataset": config.dataset.name(),
        "channels": config.channels,
        "cells_per_stage": config.cells_per_stage,
        "epochs": config.epochs,
        "batch_size": config.batch_size,
        "train_images": ev.splits().train.len(),
        "val_acc": r.val_acc,
        "test_acc": r.test_acc,
        "final_train_loss": r.final_train_loss,
        "params": r.params,
        "train_seconds": r.train_seconds,
        "total_seconds": r.total_seconds,
        "images_per_second": r.images_seen as f64 / r.train_seconds,
    });
    println!("{line}");
}

fn die(msg: &str) -> ! {
    eprintln!("error: {msg}");
    std::process::exit(2)
}

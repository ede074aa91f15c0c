//! Real training on the shipped digits: accuracy well above chance, bit-for-bit reproducibility,
//! divergence reported as a failure, and scheduling-independent results through the worker pool.
//! Run in release (`cargo test --release -p emprox-train`): debug candle is ~60× slower.

use emprox_benchmarks::evaluator::Evaluator;
use emprox_benchmarks::nb201::Cell;
use emprox_benchmarks::seed;
use emprox_benchmarks::workers::WorkerPool;
use emprox_train::images::Splits;
use emprox_train::{TrainingConfig, TrainingEvaluator};
use rand::SeedableRng;
use std::sync::Arc;

/// A ResNet-like cell of 3×3 convolutions: 0 →conv→ 1 →conv→ 2 →conv→ 3, plus 0 →skip→ 3.
const CONV_CELL: &str =
    "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|nor_conv_3x3~2|";

fn quick(epochs: usize, max_train_images: usize) -> TrainingConfig {
    TrainingConfig {
        channels: 4,
        epochs,
        batch_size: 32,
        max_train_images,
        ..Default::default()
    }
}

#[test]
fn conv3x3_network_learns_digits_well_above_chance() {
    let cell: Cell = CONV_CELL.parse().unwrap();
    let config = TrainingConfig {
        epochs: 4,
        ..Default::default()
    };
    let ev = TrainingEvaluator::new(config).unwrap();
    assert_eq!(
        (
            ev.splits().train.len(),
            ev.splits().val.len(),
            ev.splits().test.len()
        ),
        (1079, 359, 359)
    );
    let r = ev.train(&(&cell).into(), 0).unwrap();
    // 10 classes: chance is 10%. Measured: 97.77% validation, 98.05% test after 4 epochs
    // (C=8, N=1, seed 0, about 1 s on one core).
    assert!(r.val_acc > 85.0, "validation accuracy {}", r.val_acc);
    assert!(r.test_acc > 85.0, "test accuracy {}", r.test_acc);
    assert!(r.final_train_loss < 1.0, "loss {}", r.final_train_loss);
    eprintln!(
        "conv3x3 cell, digits, 4 epochs: val {:.2}% test {:.2}% in {:.2} s",
        r.val_acc, r.test_acc, r.total_seconds
    );
}

#[test]
fn same_seed_same_accuracy_bit_for_bit() {
    let cell: Cell = CONV_CELL.parse().unwrap();
    let ev = TrainingEvaluator::new(quick(2, 320)).unwrap();
    let a = ev.train(&(&cell).into(), 7).unwrap();
    let b = ev.train(&(&cell).into(), 7).unwrap();
    assert_eq!(a.val_acc.to_bits(), b.val_acc.to_bits());
    assert_eq!(a.test_acc.to_bits(), b.test_acc.to_bits());
    assert_eq!(a.final_train_loss.to_bits(), b.final_train_loss.to_bits());
    // Another seed initialises and orders differently.
    let c = ev.train(&(&cell).into(), 8).unwrap();
    assert_ne!(a.final_train_loss.to_bits(), c.final_train_loss.to_bits());
    // Through the Evaluator trait: the seed comes from the rng.
    let mut r1 = seed::Rng::seed_from_u64(3);
    let mut r2 = seed::Rng::seed_from_u64(3);
    let o1 = ev.evaluate(&cell, &mut r1).unwrap();
    let o2 = ev.evaluate(&cell, &mut r2).unwrap();
    assert_eq!(o1.val_acc.to_bits(), o2.val_acc.to_bits());
    assert!(o1.cost_seconds > 0.0);
    assert!(o1.extras.iter().any(|(k, v)| k == "params" && *v > 1000.0));
}

/// The kernels run every `gemm` on one thread and visit images in order, so a training's bits do
/// not depend on its thread count (cell with 3×3 and 1×1 convolutions and average pooling).
#[test]
fn the_thread_count_does_not_change_results_bit_for_bit() {
    let cell: Cell =
        "|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|avg_pool_3x3~2|"
            .parse()
            .unwrap();
    let run = |threads: usize| {
        let config = TrainingConfig {
            threads,
            ..quick(2, 320)
        };
        let r = TrainingEvaluator::new(config)
            .unwrap()
            .train(&(&cell).into(), 5)
            .unwrap();
        (
            r.val_acc.to_bits(),
            r.test_acc.to_bits(),
            r.final_train_loss.to_bits(),
        )
    };
    assert_eq!(run(1), run(2));
}

#[test]
fn nan_training_is_a_failed_trial_with_a_reason() {
    let mut splits: Splits =
        emprox_train::images::split(emprox_train::ImageDataset::Digits, 0.2, 0.2, 0).unwrap();
    for p in splits.train.pixels.iter_mut().take(64 * 64) {
        *p = f32::NAN;
    }
    let ev = TrainingEvaluator::with_splits(quick(1, 0), splits).unwrap();
    let cell: Cell = CONV_CELL.parse().unwrap();
    let mut rng = seed::Rng::seed_from_u64(0);
    let e = ev.evaluate(&cell, &mut rng).unwrap_err();
    assert!(
        e.reason.contains("diverged") && e.reason.contains("NaN"),
        "{}",
        e.reason
    );
    assert!(e.cost_seconds >= 0.0);
}

#[test]
fn worker_pool_results_do_not_depend_on_scheduling() {
    let ev = Arc::new(TrainingEvaluator::new(quick(1, 128)).unwrap());
    let cells: Vec<Cell> = [
        CONV_CELL,
        "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|none~0|nor_conv_3x3~1|avg_pool_3x3~2|",
        "|skip_connect~0|+|nor_conv_1x1~0|none~1|+|nor_conv_1x1~0|none~1|skip_connect~2|",
        "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|",
    ]
    .iter()
    .map(|s| s.parse().unwrap())
    .collect();
    let sequential: Vec<u64> = cells
        .iter()
        .map(|c| {
            let mut rng = seed::Rng::seed_from_u64(11);
            ev.evaluate(c, &mut rng).unwrap().val_acc.to_bits()
        })
        .collect();
    let mut pool = WorkerPool::new(2, ev.clone()).unwrap();
    for (i, c) in cells.iter().enumerate() {
        pool.submit(i as u64, *c, 11);
    }
    let mut parallel = vec![0u64; cells.len()];
    while let Some(f) = pool.recv() {
        assert_eq!(f.cell, cells[f.job_id as usize]);
        parallel[f.job_id as usize] = f.result.unwrap().val_acc.to_bits();
    }
    assert_eq!(parallel, sequential);
}

#[test]
fn the_config_hash_in_cache_keys_ignores_threads_only() {
    // The engine keys a trained cell by (space, arch, dataset, this hash, seed).
    let k = quick(1, 64).hash();
    let threads = TrainingConfig {
        threads: 2,
        ..quick(1, 64)
    };
    assert_eq!(k, threads.hash(), "threads do not change results");
    assert_ne!(k, quick(2, 64).hash());
    assert_ne!(k, quick(1, 32).hash());
}

#[test]
fn the_cache_key_holds_the_kernels_numerics_version_and_the_weights_seed_does_not() {
    use emprox_train::config::sha256_hex;
    use emprox_train::evaluator::numerics_keyed;
    let v = emprox_kernels::NUMERICS_VERSION;
    let h = quick(1, 64).hash();
    assert_eq!(numerics_keyed(&h, v), numerics_keyed(&h, v));
    assert_ne!(
        numerics_keyed(&h, v),
        numerics_keyed(&h, v + 1),
        "another kernel version"
    );
    assert_ne!(
        numerics_keyed(&h, v),
        numerics_keyed(&quick(2, 64).hash(), v)
    );
    // Pinned, as the key itself is (emprox_benchmarks::workers::cache_key).
    assert_eq!(
        numerics_keyed("abc", 1),
        sha256_hex(br#"{"config":"abc","numerics":1}"#)
    );
    let ev = TrainingEvaluator::new(quick(1, 64)).unwrap();
    assert_eq!(ev.cache_hash(), numerics_keyed(&h, v));
    // The weights' seed is keyed by the configuration alone, whatever the kernel version.
    assert_eq!(ev.config_hash(), h);
}

/// Epochs as fidelity: training to 5 epochs in rungs of 1, 2 and 5 (each continuing the
/// previous rung's checkpoint, read back from disk) gives, bit for bit, the accuracies, the
/// loss and the weights of one uninterrupted 5-epoch training; the lower rungs differ from it.
#[test]
fn rung_continuation_equals_one_uninterrupted_training_bit_for_bit() {
    use emprox_benchmarks::evaluator::TrialContext;
    use emprox_train::trainer::{train_from, Checkpoint};
    let nb201: Cell = CONV_CELL.parse().unwrap();
    let cell: emprox_train::network::CellGraph = (&nb201).into();
    // With augmentation: a continued rung draws the earlier epochs' augmentations again.
    let config = TrainingConfig {
        fidelity_epochs: vec![1, 2],
        augment: true,
        ..quick(5, 320)
    };
    let ev = TrainingEvaluator::new(config.clone()).unwrap();
    assert_eq!(ev.fidelities(), vec![1.0, 2.0, 5.0]);
    let seeds = ev.seeds(&cell, 7);
    let (whole, whole_ckpt) = train_from(&cell, &config, ev.splits(), seeds, 5, None).unwrap();
    // The plain training is the same one.
    let plain = ev.train(&cell, 7).unwrap();
    assert_eq!(plain.val_acc.to_bits(), whole.val_acc.to_bits());

    let dir = tempfile::tempdir().unwrap();
    let trial = |fidelity: f64| TrialContext {
        dir: dir.path().to_path_buf(),
        query: 1,
        fidelity: Some(fidelity),
        keep_weights: false,
    };
    // The evaluator draws the trial seed from its rng: 7 each time.
    struct Seven;
    impl rand::RngCore for Seven {
        fn next_u32(&mut self) -> u32 {
            7
        }
        fn next_u64(&mut self) -> u64 {
            7
        }
        fn fill_bytes(&mut self, d: &mut [u8]) {
            d.fill(0)
        }
    }
    let one = ev.evaluate_trial(&trial(1.0), &nb201, &mut Seven).unwrap();
    let two = ev.evaluate_trial(&trial(2.0), &nb201, &mut Seven).unwrap();
    let five = ev.evaluate_trial(&trial(5.0), &nb201, &mut Seven).unwrap();
    assert_eq!(five.val_acc.to_bits(), whole.val_acc.to_bits());
    assert_eq!(five.test_acc, Some(whole.test_acc));
    let loss = |o: &emprox_benchmarks::evaluator::Outcome| o.extras[1].1;
    assert_eq!(loss(&five).to_bits(), whole.final_train_loss.to_bits());
    assert_ne!((one.val_acc, loss(&one)), (five.val_acc, loss(&five)));
    assert_ne!(loss(&two), loss(&five));
    // The checkpoints on disk: epochs 1 and 2 (a full training is never continued), each the
    // state of an uninterrupted training stopped there.
    let ckpts = dir.path().join("checkpoints");
    let files: Vec<String> = std::fs::read_dir(&ckpts)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files.len(), 2, "{files:?}");
    let (_, at2) = train_from(&cell, &config, ev.splits(), seeds, 2, None).unwrap();
    let two_on_disk = files.iter().find(|f| f.ends_with("-e2.ckpt")).unwrap();
    let read = Checkpoint::from_bytes(&std::fs::read(ckpts.join(two_on_disk)).unwrap());
    assert_eq!(read.as_ref(), Some(&at2));
    // And continuing the in-memory checkpoint gives the whole training's weights.
    let (_, cont) = train_from(&cell, &config, ev.splits(), seeds, 5, Some(&at2)).unwrap();
    assert_eq!(cont, whole_ckpt);
    // A torn checkpoint is not read.
    let bytes = at2.to_bytes();
    assert!(Checkpoint::from_bytes(&bytes[..bytes.len() - 3]).is_none());
}

/// `--keep-weights`: the same outcome bit for bit, and the state dict (PyTorch's names) and the
/// check logits in the run folder's `weights/`, nothing else left there.
#[test]
fn kept_weights_leave_the_outcome_alone() {
    use emprox_benchmarks::evaluator::TrialContext;
    use emprox_train::evaluator::{kept_weights, kept_weights_query, CHECK_IMAGES};
    let cell: Cell = CONV_CELL.parse().unwrap();
    let ev = TrainingEvaluator::new(quick(1, 64)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let trial = TrialContext {
        dir: dir.path().to_path_buf(),
        query: 3,
        fidelity: None,
        keep_weights: true,
    };
    let rng = || seed::Rng::seed_from_u64(11);
    let kept = ev.evaluate_trial(&trial, &cell, &mut rng()).unwrap();
    let plain = ev.evaluate(&cell, &mut rng()).unwrap();
    assert_eq!(kept.val_acc.to_bits(), plain.val_acc.to_bits());
    assert_eq!(kept.extras[1].1.to_bits(), plain.extras[1].1.to_bits());
    let weights = dir.path().join("weights");
    let mut files: Vec<String> = std::fs::read_dir(&weights)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    assert_eq!(files, ["q3.logits.safetensors", "q3.safetensors"]);
    let [w, l] = kept_weights(&weights, 3);
    let cpu = candle_core::Device::Cpu;
    let state = candle_core::safetensors::load(w, &cpu).unwrap();
    assert!(
        state.contains_key("lastact.bn.num_batches_tracked"),
        "{:?}",
        state.keys()
    );
    let logits = &candle_core::safetensors::load(l, &cpu).unwrap()["logits"];
    let n = ev.splits().val.len().min(CHECK_IMAGES);
    assert_eq!(logits.dims(), [n, 10]);
    for (name, q) in [
        ("q3.safetensors", Some(3)),
        ("q12.logits.safetensors.tmp", Some(12)),
        ("q.safetensors", None),
        ("q3.pt", None),
        ("best.safetensors", None),
    ] {
        assert_eq!(kept_weights_query(name), q, "{name}");
    }
}

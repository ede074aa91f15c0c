//! The same training, to the bit, at every SIMD level this CPU has (AVX-512, AVX2, portable):
//! what lets a journal or a result cache made on one machine reproduce on another. One test in
//! its own process, since the level is process-wide.

use emprox_benchmarks::nb201::Cell;
use emprox_kernels::simd::{self, Level};
use emprox_train::{TrainingConfig, TrainingEvaluator};

#[test]
fn training_gives_the_same_bits_at_every_simd_level() {
    // Every op of the NB201 cell and both channel counts the kernels block differently (16 and
    // 12 output channels: whole vectors, and a remainder).
    let cells = [
        "|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|none~1|nor_conv_3x3~2|",
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|",
    ];
    let levels = simd::available();
    eprintln!("levels on this CPU: {levels:?}");
    assert!(levels.contains(&Level::Portable) && levels[0] == Level::Detected);
    for channels in [16, 12] {
        let config = TrainingConfig {
            channels,
            epochs: 1,
            batch_size: 32,
            max_train_images: 96,
            ..Default::default()
        };
        let ev = TrainingEvaluator::new(config).unwrap();
        for arch in cells {
            let cell: Cell = arch.parse().unwrap();
            let mut runs = Vec::new();
            for &level in &levels {
                assert!(simd::set_level(level));
                let r = ev.train(&(&cell).into(), 5).unwrap();
                runs.push((level, r.final_train_loss.to_bits(), r.val_acc.to_bits()));
            }
            assert!(simd::set_level(Level::Detected));
            for run in &runs[1..] {
                assert_eq!(
                    (run.1, run.2),
                    (runs[0].1, runs[0].2),
                    "{arch}, C = {channels}: {:?} against {:?}",
                    run.0,
                    runs[0].0
                );
            }
        }
    }
}

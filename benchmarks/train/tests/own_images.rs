//! Your own images for `train`: the shipped digits written out by the test as an image folder,
//! CIFAR binary batches and an `.npz` give the same splits and the same accuracy bit for bit;
//! sizes, channels, augmentation; and each kind of bad data is one error naming the file.
//! Run in release (`cargo test --release -p emprox-train --test own_images`).

use emprox_benchmarks::nb201::Cell;
use emprox_train::data::{DataConfig, DataFormat};
use emprox_train::images;
use emprox_train::network::CellGraph;
use emprox_train::{ImageDataset, TrainingConfig, TrainingEvaluator};
use npyz::WriterBuilder;
use std::path::{Path, PathBuf};

const CELL: &str =
    "|nor_conv_3x3~0|+|none~0|avg_pool_3x3~1|+|skip_connect~0|none~1|nor_conv_1x1~2|";

/// The shipped digits as 32×32 colour bytes (each pixel a 4×4 block, grey on all three
/// channels, 0-16 scaled to 0-240), H×W×C, in label order (a stable sort), with the test part
/// the last 360 of that order's every fifth image.
struct Digits {
    images: Vec<Vec<u8>>,
    labels: Vec<u8>,
    test: Vec<bool>,
}

fn digits() -> Digits {
    let d = images::load(ImageDataset::Digits).unwrap();
    let mut order: Vec<usize> = (0..d.len()).collect();
    order.sort_by_key(|&i| d.labels[i]);
    let images = order
        .iter()
        .map(|&i| {
            let px = &d.pixels[i * 64..(i + 1) * 64];
            let mut out = Vec::with_capacity(32 * 32 * 3);
            for y in 0..32 {
                for x in 0..32 {
                    let v = (px[(y / 4) * 8 + x / 4] * 16.0).round() as u8 * 15;
                    out.extend([v, v, v]);
                }
            }
            out
        })
        .collect();
    Digits {
        images,
        labels: order.iter().map(|&i| d.labels[i]).collect(),
        test: (0..d.len()).map(|k| k % 5 == 4).collect(),
    }
}

fn write_folder(d: &Digits, root: &Path) {
    for (k, (img, &l)) in d.images.iter().zip(&d.labels).enumerate() {
        let part = if d.test[k] { "test" } else { "train" };
        let dir = root.join(part).join(format!("digit{l}"));
        std::fs::create_dir_all(&dir).unwrap();
        image::save_buffer(
            dir.join(format!("{k:05}.png")),
            img,
            32,
            32,
            image::ExtendedColorType::Rgb8,
        )
        .unwrap();
    }
}

fn write_cifar(d: &Digits, root: &Path) {
    std::fs::create_dir_all(root).unwrap();
    let record = |k: usize| {
        let mut r = vec![d.labels[k]];
        for c in 0..3 {
            r.extend((0..1024).map(|p| d.images[k][p * 3 + c]));
        }
        r
    };
    let mut train = Vec::new();
    let mut test = Vec::new();
    for k in 0..d.labels.len() {
        if d.test[k] { &mut test } else { &mut train }.extend(record(k));
    }
    // Two training batches, as CIFAR has five.
    let half = (train.len() / 3073 / 2) * 3073;
    std::fs::write(root.join("data_batch_1.bin"), &train[..half]).unwrap();
    std::fs::write(root.join("data_batch_2.bin"), &train[half..]).unwrap();
    std::fs::write(root.join("test_batch.bin"), &test).unwrap();
}

fn write_npz(path: &Path, arrays: &[(&str, Vec<u64>, Vec<u8>)]) {
    let mut npz = npyz::npz::NpzWriter::create(path).unwrap();
    for (name, shape, data) in arrays {
        let mut w = npz
            .array::<u8>(name, Default::default())
            .unwrap()
            .default_dtype()
            .shape(shape)
            .begin_nd()
            .unwrap();
        w.extend(data.iter().copied()).unwrap();
        w.finish().unwrap();
    }
}

fn digits_npz(d: &Digits, path: &Path) {
    let part = |test: bool| {
        let idx: Vec<usize> = (0..d.labels.len()).filter(|&k| d.test[k] == test).collect();
        let x: Vec<u8> = idx.iter().flat_map(|&k| d.images[k].clone()).collect();
        let y: Vec<u8> = idx.iter().map(|&k| d.labels[k]).collect();
        (idx.len() as u64, x, y)
    };
    let ((n, x, y), (m, xt, yt)) = (part(false), part(true));
    write_npz(
        path,
        &[
            ("x_train", vec![n, 32, 32, 3], x),
            ("y_train", vec![n], y),
            ("x_test", vec![m, 32, 32, 3], xt),
            ("y_test", vec![m], yt),
        ],
    );
}

/// The test cell (3×3 and 1×1 convolutions, pooling, a skip and `none`), as training builds it.
fn graph() -> CellGraph {
    let cell: Cell = CELL.parse().unwrap();
    (&cell).into()
}

fn config(path: &Path) -> TrainingConfig {
    TrainingConfig {
        data: Some(DataConfig {
            path: path.to_path_buf(),
            format: None,
            labels: None,
            image_size: None,
            layout: None,
        }),
        channels: 4,
        epochs: 1,
        batch_size: 32,
        max_train_images: 320,
        ..Default::default()
    }
}

fn error(c: TrainingConfig) -> String {
    TrainingEvaluator::new(c).expect_err("refused").to_string()
}

#[test]
fn the_same_images_in_every_format_give_the_same_splits_and_accuracy() {
    let d = digits();
    let dir = tempfile::tempdir().unwrap();
    let (folder, cifar, npz) = (
        dir.path().join("folder"),
        dir.path().join("cifar"),
        dir.path().join("digits.npz"),
    );
    write_folder(&d, &folder);
    write_cifar(&d, &cifar);
    digits_npz(&d, &npz);
    let cell = graph();
    let mut results = Vec::new();
    for (path, format) in [
        (&folder, DataFormat::ImageFolder),
        (&cifar, DataFormat::Cifar),
        (&npz, DataFormat::Npz),
    ] {
        let c = TrainingConfig {
            epochs: 3,
            max_train_images: 0,
            ..config(path)
        };
        assert_eq!(c.data.as_ref().unwrap().format(), format, "{path:?}");
        let ev = TrainingEvaluator::new(c).unwrap();
        let s = ev.splits();
        assert_eq!(
            (s.train.channels, s.train.height, s.train.classes),
            (3, 32, 10)
        );
        assert_eq!(s.test.len(), 359, "the given test part");
        assert_eq!(s.val.len() + s.train.len(), 1797 - 359);
        assert_eq!(s.normalisation.len(), 3);
        let r = ev.train(&cell, 3).unwrap();
        results.push((ev.splits().clone(), ev.config_hash().to_string(), r));
    }
    let (s0, h0, r0) = &results[0];
    for (s, h, r) in &results[1..] {
        assert_eq!(s, s0, "identical splits");
        assert_eq!(h, h0, "the hash follows the content, not the path");
        assert_eq!(r.val_acc.to_bits(), r0.val_acc.to_bits());
        assert_eq!(r.test_acc.to_bits(), r0.test_acc.to_bits());
    }
    assert!(r0.val_acc > 30.0, "learns above chance: {}", r0.val_acc);
    // Per-channel standardisation by the training part.
    let mean =
        s0.train.pixels.iter().map(|&p| p as f64).sum::<f64>() / s0.train.pixels.len() as f64;
    assert!(mean.abs() < 1e-3, "{mean}");
}

fn write_png(path: &Path, w: u32, h: u32, grey: bool, seed: u8) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let n = (w * h) as usize * if grey { 1 } else { 3 };
    let bytes: Vec<u8> = (0..n).map(|i| (i as u8).wrapping_mul(seed)).collect();
    let t = if grey {
        image::ExtendedColorType::L8
    } else {
        image::ExtendedColorType::Rgb8
    };
    image::save_buffer(path, &bytes, w, h, t).unwrap();
}

#[test]
fn sizes_and_channels_follow_the_images_and_image_size() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("shapes");
    for k in 0..6u8 {
        write_png(
            &root.join(format!("a/{k}.png")),
            20 + k as u32,
            16,
            true,
            k + 1,
        );
        write_png(&root.join(format!("b/{k}.png")), 16, 12, true, k + 3);
    }
    let mut c = config(&root);
    let e = error(c.clone());
    assert!(
        e.contains("set data.image_size") && e.contains(".png"),
        "{e}"
    );
    c.data.as_mut().unwrap().image_size = Some(10);
    let ev = TrainingEvaluator::new(c.clone()).unwrap();
    let s = ev.splits();
    assert_eq!(
        (s.train.channels, s.train.height, s.train.width),
        (1, 10, 10)
    );
    assert_eq!(s.train.len() + s.val.len() + s.test.len(), 12);
    // A colour image among grey ones makes the set colour.
    write_png(&root.join("b/9.png"), 16, 12, false, 7);
    let ev = TrainingEvaluator::new(c).unwrap();
    assert_eq!(ev.splits().train.channels, 3);
}

#[test]
fn augmentation_is_drawn_from_the_trial_seed() {
    let mut c = TrainingConfig {
        channels: 4,
        epochs: 1,
        batch_size: 32,
        max_train_images: 256,
        ..Default::default()
    };
    let cell = graph();
    let plain = TrainingEvaluator::new(c.clone())
        .unwrap()
        .train(&cell, 1)
        .unwrap();
    c.augment = true;
    let ev = TrainingEvaluator::new(c).unwrap();
    let (a, b) = (ev.train(&cell, 1).unwrap(), ev.train(&cell, 1).unwrap());
    assert_eq!(a.final_train_loss.to_bits(), b.final_train_loss.to_bits());
    assert_ne!(
        a.final_train_loss.to_bits(),
        plain.final_train_loss.to_bits()
    );
    assert_ne!(
        ev.train(&cell, 2).unwrap().final_train_loss.to_bits(),
        a.final_train_loss.to_bits()
    );
}

#[test]
fn the_shipped_configurations_keep_their_hash() {
    // The hash seeds the weights: adding keys must not move the shipped results.
    assert_eq!(
        TrainingConfig::default().hash(),
        "77989af2ecdc81c208c35c5da86caa26773b16460fadbb0428ef83d1d75fe880"
    );
}

fn grey_folder(root: &Path, classes: &[&str], per_class: usize) {
    for (i, c) in classes.iter().enumerate() {
        for k in 0..per_class {
            write_png(
                &root.join(format!("{c}/{k}.png")),
                8,
                8,
                true,
                (i * 7 + k + 1) as u8,
            );
        }
    }
}

#[test]
fn bad_data_is_one_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = |s: &str| -> PathBuf { dir.path().join(s) };
    let mut cases: Vec<(TrainingConfig, &str, PathBuf)> = vec![];
    // An empty class folder.
    grey_folder(&p("empty"), &["a", "b"], 3);
    std::fs::create_dir_all(p("empty/c")).unwrap();
    cases.push((
        config(&p("empty")),
        "holds no .png or .jpg image",
        p("empty/c"),
    ));
    // One class only.
    grey_folder(&p("one"), &["a"], 3);
    cases.push((config(&p("one")), "at least two classes", p("one")));
    // An unreadable image.
    grey_folder(&p("broken"), &["a", "b"], 3);
    std::fs::write(p("broken/b/1.png"), b"not a png").unwrap();
    cases.push((config(&p("broken")), "cannot decode", p("broken/b/1.png")));
    // A truncated CIFAR batch.
    std::fs::create_dir_all(p("cifar")).unwrap();
    std::fs::write(p("cifar/data_batch_1.bin"), vec![1u8; 3073 * 2 + 100]).unwrap();
    std::fs::write(p("cifar/test_batch.bin"), vec![1u8; 3073]).unwrap();
    cases.push((
        config(&p("cifar")),
        "truncated",
        p("cifar/data_batch_1.bin"),
    ));
    // A CIFAR-10 label out of range.
    std::fs::create_dir_all(p("cifar11")).unwrap();
    let mut batch = vec![0u8; 3073 * 3];
    batch[3073] = 1;
    batch[3073 * 2] = 11;
    std::fs::write(p("cifar11/data_batch_1.bin"), &batch).unwrap();
    std::fs::write(p("cifar11/test_batch.bin"), &batch[..3073 * 2]).unwrap();
    cases.push((
        config(&p("cifar11")),
        "label 11 is out of range 0..10",
        p("cifar11/data_batch_1.bin"),
    ));
    // Labels out of range in NumPy arrays, and a shape that reads two ways.
    let px = vec![0u8; 4 * 3 * 8 * 3];
    write_npz(
        &p("neg.npz"),
        &[
            ("x", vec![4, 3, 8, 3], px.clone()),
            ("y", vec![4], vec![0, 1, 2, 3]),
        ],
    );
    cases.push((config(&p("neg.npz")), "data.layout", p("neg.npz")));
    write_npz(&p("nox.npz"), &[("images", vec![4, 8, 8], vec![0; 256])]);
    cases.push((config(&p("nox.npz")), "no arrays `x` and `y`", p("nox.npz")));
    write_npz(
        &p("y.npz"),
        &[
            ("x", vec![4, 8, 8], vec![0; 256]),
            ("y", vec![3], vec![0, 1, 1]),
        ],
    );
    cases.push((config(&p("y.npz")), "one per image", p("y.npz")));
    for (c, needle, file) in cases {
        let e = error(c);
        assert!(e.contains(needle), "{e} (expected {needle:?})");
        assert!(
            e.contains(&file.display().to_string()),
            "{e} names {file:?}"
        );
        assert_eq!(e.lines().count(), 1, "{e}");
    }
}

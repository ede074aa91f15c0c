//! `examples/train_imagefolder.toml` on an image folder the test writes beside a copy of it (the
//! shipped digits as PNG files, three classes): a short search trains on them; bad data is one
//! line naming the file, exit 2, before any training.

mod common;
use common::*;
use emprox_train::images;
use emprox_train::ImageDataset;
use std::path::Path;

/// Copies the example into `dir` and writes `per_class` digits of each of `classes` as PNG
/// files in `dir/my_images/<class>/`.
fn example_with_images(dir: &Path, classes: &[u8], per_class: usize) -> std::path::PathBuf {
    let exp = dir.join("train_imagefolder.toml");
    std::fs::copy(root().join("examples/train_imagefolder.toml"), &exp).unwrap();
    let d = images::load(ImageDataset::Digits).unwrap();
    for &c in classes {
        let folder = dir.join(format!("my_images/digit{c}"));
        std::fs::create_dir_all(&folder).unwrap();
        let idx = (0..d.len()).filter(|&i| d.labels[i] == c).take(per_class);
        for (k, i) in idx.enumerate() {
            let px: Vec<u8> = d.pixels[i * 64..(i + 1) * 64]
                .iter()
                .map(|&p| (p * 16.0).round() as u8 * 15)
                .collect();
            let path = folder.join(format!("{k:03}.png"));
            image::save_buffer(&path, &px, 8, 8, image::ExtendedColorType::L8).unwrap();
        }
    }
    exp
}

const QUICK: [&str; 8] = [
    "--set",
    "budget.max_queries=3",
    "--set",
    "evaluator.training.epochs=8",
    "--set",
    "evaluator.workers=1",
    "--set",
    "strategy.population_size=3",
];

#[test]
fn the_example_searches_on_an_image_folder_written_beside_it() {
    let dir = tempfile::tempdir().unwrap();
    let exp = example_with_images(dir.path(), &[0, 1, 7], 100);
    let out = dir.path().join("out");
    let mut args = vec!["run", s(&exp), "--out", s(&out), "--quiet"];
    args.extend(QUICK);
    emprox_ok(&args);
    let trials = lines(&out.join("seed-0/trials.jsonl"));
    assert_eq!(trials.len(), 3);
    for t in &trials {
        let v = t["val_acc"].as_f64().expect("a success");
        assert!((0.0..=100.0).contains(&v), "{t}");
    }
    // Three classes: chance is 33%; the best of three short trainings is well above it.
    let best = trials
        .iter()
        .map(|t| t["val_acc"].as_f64().unwrap())
        .fold(0.0, f64::max);
    assert!(best > 50.0, "best validation accuracy {best}");
    // The resolved configuration names the folder absolutely: the run does not depend on the
    // current directory.
    let resolved = std::fs::read_to_string(out.join("config.resolved.toml")).unwrap();
    let folder = dir.path().join("my_images");
    assert!(resolved.contains(s(&folder)), "{resolved}");
}

#[test]
fn bad_image_data_is_refused_before_training() {
    let dir = tempfile::tempdir().unwrap();
    let exp = example_with_images(dir.path(), &[0, 1], 5);
    let empty = dir.path().join("my_images/digit9");
    std::fs::create_dir_all(&empty).unwrap();
    let out = dir.path().join("out");
    let o = emprox(&["run", s(&exp), "--out", s(&out), "--quiet"]);
    assert_refused(&o, "class folder holds no .png or .jpg image");
    assert!(String::from_utf8_lossy(&o.stderr).contains(s(&empty)));
    assert!(!out.join("seed-0/trials.jsonl").exists(), "nothing trained");
    std::fs::remove_dir(&empty).unwrap();
    std::fs::write(dir.path().join("my_images/digit1/004.png"), b"GIF89a").unwrap();
    let o = emprox(&["run", s(&exp), "--out", s(&out), "--quiet"]);
    assert_refused(&o, "004.png");
}

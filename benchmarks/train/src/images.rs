//! The image data shipped for real training: sklearn digits (8×8) and 10,000 MNIST images
//! (28×28), embedded in the binary and checked (rows and SHA-256 of the uncompressed content,
//! as recorded in `benchmarks/data/CHECKSUMS`) when first decoded.

use crate::config::{sha256_hex, ImageDataset};
use crate::data::Parts;
use emprox_benchmarks::seed;
use emprox_benchmarks::DataError;
use flate2::read::GzDecoder;
use rand::Rng as _;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

static DIGITS_GZ: &[u8] = include_bytes!("../../data/sklearn_digits_8x8.csv.gz");
static MNIST_IMAGES_GZ: &[u8] = include_bytes!("../../data/mnist10k-images-idx3-ubyte.gz");
static MNIST_LABELS_GZ: &[u8] = include_bytes!("../../data/mnist10k-labels-idx1-ubyte.gz");

/// SHA-256 of the uncompressed digits CSV.
pub const DIGITS_SHA256: &str = "d7ff1341011182b7af3733b201a919cea2ffe00f25ff23ba48c5e791daffb498";
/// SHA-256 of the uncompressed MNIST image file (IDX3).
pub const MNIST_IMAGES_SHA256: &str =
    "4e3355b0dd14bc12e53353f1d2789806361e6ef7350c92a8c5e778a74ea77696";
/// SHA-256 of the uncompressed MNIST label file (IDX1).
pub const MNIST_LABELS_SHA256: &str =
    "364de413ea4102745aa4d08a168e3501716cb789ace0f8b3033481882a00e25f";
const HINT: &str = "Restore it from the repository (git checkout -- benchmarks/data) and rebuild";

/// A set of images with labels: C×H×W values per image (the shipped ones grey, scaled to
/// [0, 1]), one image after another.
#[derive(Debug, Clone, PartialEq)]
pub struct Images {
    /// Channels: 1 (grey) or 3 (colour).
    pub channels: usize,
    /// Image height.
    pub height: usize,
    /// Image width.
    pub width: usize,
    /// Number of classes.
    pub classes: usize,
    /// `len × channels × height × width` values.
    pub pixels: Vec<f32>,
    /// One label per image, in `0..classes`.
    pub labels: Vec<u8>,
}

impl Images {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True if there are no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Values per image (channels × height × width).
    pub fn values_per_image(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// The same images with `c` channels: a grey image's one channel repeated (`c` ≥ the
    /// current count).
    pub fn to_channels(&mut self, c: usize) {
        if c == self.channels {
            return;
        }
        let plane = self.height * self.width;
        let old = std::mem::take(&mut self.pixels);
        self.pixels = old
            .chunks(self.values_per_image())
            .flat_map(|img| {
                (0..c).flat_map(move |ch| &img[ch.min(img.len() / plane - 1) * plane..][..plane])
            })
            .copied()
            .collect();
        self.channels = c;
    }

    /// The images at `idx`, in that order.
    pub fn select(&self, idx: &[usize]) -> Images {
        let s = self.values_per_image();
        let mut pixels = Vec::with_capacity(idx.len() * s);
        for &i in idx {
            pixels.extend_from_slice(&self.pixels[i * s..(i + 1) * s]);
        }
        Images {
            channels: self.channels,
            height: self.height,
            width: self.width,
            classes: self.classes,
            pixels,
            labels: idx.iter().map(|&i| self.labels[i]).collect(),
        }
    }
}

/// A dataset split into train, validation (search signal) and test (reported only) images,
/// standardised per channel with the mean and standard deviation of the training values.
#[derive(Debug, Clone, PartialEq)]
pub struct Splits {
    /// Training images.
    pub train: Images,
    /// Validation images.
    pub val: Images,
    /// Test images.
    pub test: Images,
    /// Per channel, the training values' mean and standard deviation that were removed:
    /// `(x - mean) / std` prepares a new image (in [0, 1]) the same way.
    pub normalisation: Vec<(f32, f32)>,
}

impl Splits {
    /// SHA-256 (hex) of every part's shape, labels and values: what a user's images are, for
    /// the cache key, whatever their path.
    pub fn digest(&self) -> String {
        let mut bytes = Vec::new();
        for set in [&self.train, &self.val, &self.test] {
            for d in [set.len(), set.channels, set.height, set.width, set.classes] {
                bytes.extend_from_slice(&(d as u64).to_le_bytes());
            }
            bytes.extend_from_slice(&set.labels);
            bytes.extend(set.pixels.iter().flat_map(|p| p.to_le_bytes()));
        }
        sha256_hex(&bytes)
    }
}

/// The whole shipped dataset, decoded once per process.
pub fn load(dataset: ImageDataset) -> Result<Arc<Images>, DataError> {
    static DIGITS: OnceLock<Arc<Images>> = OnceLock::new();
    static MNIST: OnceLock<Arc<Images>> = OnceLock::new();
    let (cell, decode): (_, fn() -> Result<Images, DataError>) = match dataset {
        ImageDataset::Digits => (&DIGITS, decode_digits),
        ImageDataset::Mnist => (&MNIST, decode_mnist),
    };
    if let Some(d) = cell.get() {
        return Ok(d.clone());
    }
    let d = Arc::new(decode()?);
    Ok(cell.get_or_init(|| d).clone())
}

/// Shuffles the dataset with `split_seed` (MNIST rows are grouped by digit), then cuts it into
/// validation, test and training parts (in that order) and standardises all three with the
/// training pixels' statistics.
pub fn split(
    dataset: ImageDataset,
    val_fraction: f64,
    test_fraction: f64,
    split_seed: u64,
) -> Result<Splits, DataError> {
    let all = load(dataset)?;
    let parts = Parts {
        train: (*all).clone(),
        val: None,
        test: None,
    };
    Ok(split_parts(parts, val_fraction, test_fraction, split_seed))
}

/// Cuts the parts the data does not give (validation, test) out of the training images after a
/// shuffle with `split_seed`, in that order (the training images keep the rest), then
/// standardises every part per channel with the training values' statistics.
pub fn split_parts(parts: Parts, val_fraction: f64, test_fraction: f64, split_seed: u64) -> Splits {
    let Parts {
        train: all,
        val,
        test,
    } = parts;
    let n = all.len();
    let mut idx: Vec<usize> = (0..n).collect();
    let mut rng = seed::stream(split_seed, "split");
    for i in (1..n).rev() {
        let j = rng.random_range(0..=i);
        idx.swap(i, j);
    }
    let take = |f: f64, given: &Option<Images>| match given {
        Some(_) => 0,
        None => ((n as f64) * f).round() as usize,
    };
    let (n_val, n_test) = (take(val_fraction, &val), take(test_fraction, &test));
    let mut val = val.unwrap_or_else(|| all.select(&idx[..n_val]));
    let mut test = test.unwrap_or_else(|| all.select(&idx[n_val..n_val + n_test]));
    let mut train = all.select(&idx[n_val + n_test..]);
    let plane = train.height * train.width;
    let stats: Vec<(f64, f64)> = (0..train.channels)
        .map(|c| {
            let values = || {
                train
                    .pixels
                    .chunks(train.values_per_image())
                    .flat_map(move |img| &img[c * plane..(c + 1) * plane])
                    .map(|&p| p as f64)
            };
            let m = (train.len() * plane) as f64;
            let mean = values().sum::<f64>() / m;
            let var = values().map(|p| (p - mean).powi(2)).sum::<f64>() / m;
            (mean, var.sqrt().max(1e-6))
        })
        .collect();
    let normalisation = stats.iter().map(|&(m, s)| (m as f32, s as f32)).collect();
    let inverse: Vec<(f32, f32)> = stats
        .iter()
        .map(|&(mean, std)| (mean as f32, (1.0 / std) as f32))
        .collect();
    for set in [&mut train, &mut val, &mut test] {
        let per = set.values_per_image();
        for img in set.pixels.chunks_mut(per.max(1)) {
            for (c, &(mean, inv)) in inverse.iter().enumerate() {
                for p in &mut img[c * plane..(c + 1) * plane] {
                    *p = (*p - mean) * inv;
                }
            }
        }
    }
    Splits {
        train,
        val,
        test,
        normalisation,
    }
}

fn embedded(name: &str) -> PathBuf {
    PathBuf::from(format!("<embedded>/benchmarks/data/{name}"))
}

fn corrupt(path: &Path, reason: String) -> DataError {
    DataError::Corrupt {
        path: path.to_path_buf(),
        reason,
        hint: HINT,
    }
}

fn gunzip(gz: &[u8], path: &Path, sha256: &str) -> Result<Vec<u8>, DataError> {
    let mut out = Vec::new();
    GzDecoder::new(gz)
        .read_to_end(&mut out)
        .map_err(|e| corrupt(path, format!("gzip stream is damaged ({e})")))?;
    let hex = sha256_hex(&out);
    if hex != sha256 {
        return Err(corrupt(
            path,
            format!("SHA-256 is {hex}, expected {sha256}"),
        ));
    }
    Ok(out)
}

fn decode_digits() -> Result<Images, DataError> {
    let path = embedded("sklearn_digits_8x8.csv.gz");
    let csv = gunzip(DIGITS_GZ, &path, DIGITS_SHA256)?;
    parse_digits_csv(&csv, &path)
}

fn parse_digits_csv(csv: &[u8], path: &Path) -> Result<Images, DataError> {
    let mut rdr = csv::ReaderBuilder::new().from_reader(csv);
    let headers = rdr
        .headers()
        .map_err(|e| corrupt(path, format!("unreadable header ({e})")))?;
    if headers.len() != 65 || headers.get(64) != Some("label") {
        return Err(corrupt(path, "expected header p0..p63,label".into()));
    }
    let mut pixels = Vec::with_capacity(1797 * 64);
    let mut labels = Vec::with_capacity(1797);
    for (i, rec) in rdr.records().enumerate() {
        let line = i + 2;
        let rec = rec.map_err(|e| corrupt(path, format!("line {line}: {e}")))?;
        for j in 0..64 {
            let v: u8 = rec[j]
                .parse()
                .ok()
                .filter(|v| *v <= 16)
                .ok_or_else(|| corrupt(path, format!("line {line}: bad pixel p{j}")))?;
            pixels.push(v as f32 / 16.0);
        }
        let l: u8 = rec[64]
            .parse()
            .ok()
            .filter(|l| *l < 10)
            .ok_or_else(|| corrupt(path, format!("line {line}: bad label")))?;
        labels.push(l);
    }
    if labels.len() != 1797 {
        return Err(corrupt(
            path,
            format!("expected 1797 rows, found {}", labels.len()),
        ));
    }
    Ok(Images {
        channels: 1,
        height: 8,
        width: 8,
        classes: 10,
        pixels,
        labels,
    })
}

fn be_u32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn decode_mnist() -> Result<Images, DataError> {
    let ipath = embedded("mnist10k-images-idx3-ubyte.gz");
    let lpath = embedded("mnist10k-labels-idx1-ubyte.gz");
    let images = gunzip(MNIST_IMAGES_GZ, &ipath, MNIST_IMAGES_SHA256)?;
    let labels = gunzip(MNIST_LABELS_GZ, &lpath, MNIST_LABELS_SHA256)?;
    const N: usize = 10_000;
    if images.len() != 16 + N * 784 || be_u32(&images, 0) != 0x803 || be_u32(&images, 4) != 10_000 {
        return Err(corrupt(
            &ipath,
            "expected an IDX3 header for 10000 28x28 images".into(),
        ));
    }
    if labels.len() != 8 + N || be_u32(&labels, 0) != 0x801 || labels[8..].iter().any(|&l| l > 9) {
        return Err(corrupt(
            &lpath,
            "expected an IDX1 file of 10000 labels 0-9".into(),
        ));
    }
    Ok(Images {
        channels: 1,
        height: 28,
        width: 28,
        classes: 10,
        pixels: images[16..].iter().map(|&p| p as f32 / 255.0).collect(),
        labels: labels[8..].to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_datasets_decode() {
        let d = load(ImageDataset::Digits).unwrap();
        assert_eq!((d.len(), d.height, d.width), (1797, 8, 8));
        let counts = (0..10u8)
            .map(|c| d.labels.iter().filter(|&&l| l == c).count())
            .collect::<Vec<_>>();
        assert!(
            counts.iter().all(|&c| (170..=190).contains(&c)),
            "{counts:?}"
        );
        let m = load(ImageDataset::Mnist).unwrap();
        assert_eq!((m.len(), m.height, m.width), (10_000, 28, 28));
        let mean = m.pixels.iter().map(|&p| p as f64).sum::<f64>() / m.pixels.len() as f64;
        assert!((mean - 0.131).abs() < 0.002, "{mean}");
        assert_eq!(m.labels.iter().filter(|&&l| l == 0).count(), 1001);
    }

    #[test]
    fn splits_are_disjoint_shuffled_and_standardised() {
        let s = split(ImageDataset::Mnist, 0.1, 0.2, 0).unwrap();
        assert_eq!(
            (s.val.len(), s.test.len(), s.train.len()),
            (1000, 2000, 7000)
        );
        // Grouped by digit on disk; after the shuffle each split has every class.
        for set in [&s.train, &s.val, &s.test] {
            for c in 0..10u8 {
                assert!(set.labels.iter().filter(|&&l| l == c).count() > set.len() / 20);
            }
        }
        let mean =
            s.train.pixels.iter().map(|&p| p as f64).sum::<f64>() / s.train.pixels.len() as f64;
        assert!(mean.abs() < 1e-4, "{mean}");
        let other = split(ImageDataset::Mnist, 0.1, 0.2, 1).unwrap();
        assert_ne!(s.val.labels, other.val.labels);
        assert_eq!(s, split(ImageDataset::Mnist, 0.1, 0.2, 0).unwrap());
    }

    #[test]
    fn checksums_file_agrees_with_the_loader() {
        let text = include_str!("../../data/CHECKSUMS");
        let sha = |file: &str| {
            text.lines()
                .find(|l| l.split_whitespace().next() == Some(file))
                .and_then(|l| l.split_whitespace().nth(2))
                .unwrap_or_else(|| panic!("{file} missing from CHECKSUMS"))
                .to_string()
        };
        assert_eq!(sha("sklearn_digits_8x8.csv.gz"), DIGITS_SHA256);
        assert_eq!(sha("mnist10k-images-idx3-ubyte.gz"), MNIST_IMAGES_SHA256);
        assert_eq!(sha("mnist10k-labels-idx1-ubyte.gz"), MNIST_LABELS_SHA256);
    }

    #[test]
    fn corrupt_content_is_reported() {
        let path = PathBuf::from("x.csv.gz");
        let e = gunzip(&DIGITS_GZ[..100], &path, DIGITS_SHA256).unwrap_err();
        assert!(e.to_string().contains("x.csv.gz"), "{e}");
        let mut csv = Vec::new();
        GzDecoder::new(DIGITS_GZ).read_to_end(&mut csv).unwrap();
        csv.truncate(csv.len() / 2);
        let e = parse_digits_csv(&csv, &path).unwrap_err().to_string();
        assert!(
            e.contains("expected 1797 rows") || e.contains("line"),
            "{e}"
        );
    }
}

//! Your own images for `train` (`[evaluator.training] data = { path = "…" }`), in the three
//! layouts users already hold them in:
//!
//! - an **image folder** (torchvision's `ImageFolder`): `root/<class>/*.png|jpg|jpeg`, classes
//!   in name order; or `root/train/<class>/…` with optional `root/val/…` and `root/test/…`;
//! - the **CIFAR binary** format: a folder with `data_batch_*.bin` and `test_batch.bin`
//!   (CIFAR-10: a label byte and 3,072 pixel bytes per record), or `train.bin` and `test.bin`
//!   (CIFAR-100: coarse and fine label bytes, then the pixels; the fine label is used);
//! - **NumPy** arrays: a `.npz` with arrays `x` and `y` (or `x_train`, `y_train` with optional
//!   `x_val`, `y_val`, `x_test`, `y_test`, as Keras' `mnist.npz`), or an `.npy` of images with
//!   `labels` naming the `.npy` of labels. `x` is N×H×W, N×H×W×C or N×C×H×W (C = 1 or 3; `layout`
//!   settles a shape that reads both ways); `uint8` pixels are divided by 255, floats kept.
//!
//! Decoding uses the `image` crate (PNG, JPEG) and `npyz`. Every image ends as C×H×W `f32`
//! values: colour images have 3 channels (an alpha channel is dropped), grey ones 1 (a folder
//! mixing them is read as colour). With `image_size`, each image is resized (its shorter side to
//! `image_size`, bilinear) and centre-cropped to a square; without it, every image must have the
//! first one's size. Anything wrong is one [`DataError`] naming the file, before any training.

use crate::images::Images;
use emprox_benchmarks::DataError;
use image::imageops::{self, FilterType};
use image::{ImageBuffer, Luma, Rgb};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

/// The most classes a dataset may have (labels are stored in a byte).
pub const MAX_CLASSES: usize = 256;
/// The largest `image_size`.
pub const MAX_IMAGE_SIZE: u32 = 1024;
const HINT: &str = "Fix or replace the file (the README's \"Your own images\" lists the formats)";

/// `[evaluator.training] data`: where a user's images are and how to read them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// An image folder, a CIFAR binary folder, a `.npz` file, or an `.npy` file of images.
    pub path: PathBuf,
    /// The format (default: from `path`: a `.npz` or `.npy` file by its extension, a folder with
    /// `data_batch_1.bin` or `train.bin` is CIFAR, any other folder an image folder).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<DataFormat>,
    /// `.npy` only: the `.npy` file of labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<PathBuf>,
    /// Resize and centre-crop every image to `image_size` × `image_size` (default: keep the
    /// size, which must then be the same for all images).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_size: Option<u32>,
    /// NumPy only: how a 4-dimensional `x` is laid out, where its shape reads both ways.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layout: Option<Layout>,
}

/// The formats of [`DataConfig`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataFormat {
    /// `root/<class>/*.png|jpg` (optionally under `train/`, `val/`, `test/`).
    ImageFolder,
    /// CIFAR-10 or CIFAR-100 binary batches.
    Cifar,
    /// A `.npz` archive with arrays `x` and `y`, or `x_train`, `y_train` (and optional `_val`,
    /// `_test` pairs).
    Npz,
    /// An `.npy` of images and an `.npy` of labels.
    Npy,
}

/// How a 4-dimensional NumPy image array is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Layout {
    /// N×H×W×C (NumPy's and TensorFlow's habit).
    Nhwc,
    /// N×C×H×W (PyTorch's).
    Nchw,
}

/// A user's images as read: either one pool (split by `split_seed`) or given parts.
#[derive(Debug, Clone, PartialEq)]
pub struct Parts {
    /// The training images, or all of them where `val` and `test` are `None`.
    pub train: Images,
    /// Validation images, where the data names them.
    pub val: Option<Images>,
    /// Test images, where the data names them.
    pub test: Option<Images>,
}

impl DataConfig {
    /// Checks the keys that need no file.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(s) = self.image_size {
            if !(1..=MAX_IMAGE_SIZE).contains(&s) {
                return Err(format!(
                    "data.image_size must be in 1..={MAX_IMAGE_SIZE}, got {s}"
                ));
            }
        }
        let format = self.format();
        if self.labels.is_some() != (format == DataFormat::Npy) {
            return Err(
                "data.labels (the .npy of labels) goes with an .npy of images, and only there"
                    .into(),
            );
        }
        if self.layout.is_some() && !matches!(format, DataFormat::Npy | DataFormat::Npz) {
            return Err("data.layout applies to NumPy arrays only".into());
        }
        Ok(())
    }

    /// The format: given, or inferred from `path`.
    pub fn format(&self) -> DataFormat {
        if let Some(f) = self.format {
            return f;
        }
        let ext = self
            .path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase());
        match ext.as_deref() {
            Some("npz") => DataFormat::Npz,
            Some("npy") => DataFormat::Npy,
            _ if self.path.join("data_batch_1.bin").is_file()
                || self.path.join("train.bin").is_file() =>
            {
                DataFormat::Cifar
            }
            _ => DataFormat::ImageFolder,
        }
    }

    /// Reads the images.
    pub fn load(&self) -> Result<Parts, DataError> {
        let fit = Fit {
            size: self.image_size,
        };
        match self.format() {
            DataFormat::ImageFolder => image_folder(&self.path, fit),
            DataFormat::Cifar => cifar(&self.path, fit),
            DataFormat::Npz => npz(&self.path, self.layout, fit),
            DataFormat::Npy => {
                let labels = self.labels.as_deref().unwrap_or(Path::new(""));
                let (x, y) = (open_npy(&self.path)?, open_npy(labels)?);
                Ok(Parts {
                    train: arrays(&self.path, x, labels, y, self.layout, fit)?,
                    val: None,
                    test: None,
                })
            }
        }
    }
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> DataError + '_ {
    move |source| DataError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn bad(path: &Path, reason: impl Into<String>) -> DataError {
    DataError::Corrupt {
        path: path.to_path_buf(),
        reason: reason.into(),
        hint: HINT,
    }
}

/// One decoded image: `h × w × c` values, interleaved (as the `image` crate holds them).
struct Raw {
    c: usize,
    h: usize,
    w: usize,
    hwc: Vec<f32>,
}

/// What every image becomes: its size (fixed by `image_size` or by the first image).
#[derive(Clone, Copy)]
struct Fit {
    size: Option<u32>,
}

impl Fit {
    /// The image resized and centre-cropped to `size` (or as it is), C×H×W.
    fn apply(self, raw: Raw) -> Raw {
        let Some(s) = self.size else {
            return raw;
        };
        let (w, h) = (raw.w as u32, raw.h as u32);
        let (nw, nh) = if w <= h {
            (s, ((h as u64 * s as u64).div_ceil(w as u64)) as u32)
        } else {
            (((w as u64 * s as u64).div_ceil(h as u64)) as u32, s)
        };
        let (x0, y0) = ((nw - s) / 2, (nh - s) / 2);
        fn go<P: image::Pixel<Subpixel = f32> + 'static>(
            raw: Vec<f32>,
            (w, h, nw, nh, x0, y0, s): (u32, u32, u32, u32, u32, u32, u32),
        ) -> Vec<f32> {
            let img = ImageBuffer::<P, Vec<f32>>::from_raw(w, h, raw).expect("sizes agree");
            let resized = if (nw, nh) == (w, h) {
                img
            } else {
                imageops::resize(&img, nw, nh, FilterType::Triangle)
            };
            imageops::crop_imm(&resized, x0, y0, s, s)
                .to_image()
                .into_raw()
        }
        let dims = (w, h, nw, nh, x0, y0, s);
        let hwc = match raw.c {
            1 => go::<Luma<f32>>(raw.hwc, dims),
            _ => go::<Rgb<f32>>(raw.hwc, dims),
        };
        Raw {
            c: raw.c,
            h: s as usize,
            w: s as usize,
            hwc,
        }
    }
}

/// Images of one size and channel count, with labels, into [`Images`] (C×H×W each).
fn assemble(
    images: Vec<(PathBuf, Raw)>,
    labels: Vec<u8>,
    classes: usize,
    fit: Fit,
) -> Result<Images, DataError> {
    let images: Vec<(PathBuf, Raw)> = images
        .into_par_iter()
        .map(|(p, r)| (p, fit.apply(r)))
        .collect();
    let Some((first_path, first)) = images.first() else {
        return Ok(Images {
            channels: 1,
            height: 0,
            width: 0,
            classes,
            pixels: vec![],
            labels,
        });
    };
    let (h, w) = (first.h, first.w);
    let c = images.iter().map(|(_, r)| r.c).max().unwrap_or(1);
    let mut pixels = Vec::with_capacity(images.len() * c * h * w);
    for (path, r) in &images {
        if (r.h, r.w) != (h, w) {
            return Err(bad(
                path,
                format!(
                    "image is {}×{}, the first image ({}) is {h}×{w}: set data.image_size",
                    r.w,
                    r.h,
                    first_path.display()
                ),
            ));
        }
        let rc = r.c;
        for ch in 0..c {
            // A grey image among colour ones gives its one channel to all three.
            let src = ch.min(rc - 1);
            pixels.extend(r.hwc.iter().skip(src).step_by(rc).copied());
        }
    }
    Ok(Images {
        channels: c,
        height: h,
        width: w,
        classes,
        pixels,
        labels,
    })
}

fn check_classes(path: &Path, labels: &[i64], classes: usize) -> Result<(), DataError> {
    if classes > MAX_CLASSES {
        return Err(bad(
            path,
            format!("{classes} classes, at most {MAX_CLASSES}"),
        ));
    }
    if let Some(l) = labels.iter().find(|&&l| l < 0 || l as usize >= classes) {
        return Err(bad(path, format!("label {l} is out of range 0..{classes}")));
    }
    let mut seen = vec![false; classes];
    labels.iter().for_each(|&l| seen[l as usize] = true);
    if seen.iter().filter(|&&s| s).count() < 2 {
        return Err(bad(
            path,
            "the labels hold one class only: a classifier needs at least two",
        ));
    }
    Ok(())
}

// ---- image folders ----

const IMAGE_EXTENSIONS: [&str; 3] = ["png", "jpg", "jpeg"];

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    let mut v = std::fs::read_dir(dir)
        .map_err(io(dir))?
        .map(|e| e.map(|e| e.path()).map_err(io(dir)))
        .collect::<Result<Vec<_>, _>>()?;
    v.retain(|p| {
        !p.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'))
    });
    v.sort();
    Ok(v)
}

fn class_folders(root: &Path) -> Result<Vec<PathBuf>, DataError> {
    let classes: Vec<PathBuf> = sorted_entries(root)?
        .into_iter()
        .filter(|p| p.is_dir())
        .collect();
    if classes.len() < 2 {
        return Err(bad(
            root,
            format!(
                "{} class folder(s): an image folder needs root/<class>/*.png|jpg for at least two classes",
                classes.len()
            ),
        ));
    }
    if classes.len() > MAX_CLASSES {
        return Err(bad(
            root,
            format!("{} classes, at most {MAX_CLASSES}", classes.len()),
        ));
    }
    Ok(classes)
}

fn decode(path: &Path) -> Result<Raw, DataError> {
    let img = image::ImageReader::open(path)
        .map_err(io(path))?
        .with_guessed_format()
        .map_err(io(path))?
        .decode()
        .map_err(|e| bad(path, format!("cannot decode the image ({e})")))?;
    let (w, h) = (img.width() as usize, img.height() as usize);
    let (c, bytes) = if img.color().has_color() {
        (3, img.to_rgb8().into_raw())
    } else {
        (1, img.to_luma8().into_raw())
    };
    Ok(Raw {
        c,
        h,
        w,
        hwc: bytes.into_iter().map(|b| b as f32 / 255.0).collect(),
    })
}

/// The images of `root/<class>/…` for the classes `names` (label = position in `names`).
fn read_classes(root: &Path, names: &[String], fit: Fit) -> Result<Images, DataError> {
    let mut files = Vec::new();
    let mut labels = Vec::new();
    for (label, name) in names.iter().enumerate() {
        let dir = root.join(name);
        if !dir.is_dir() {
            continue;
        }
        let images: Vec<PathBuf> = sorted_entries(&dir)?
            .into_iter()
            .filter(|p| {
                p.extension().is_some_and(|e| {
                    IMAGE_EXTENSIONS.contains(&e.to_string_lossy().to_ascii_lowercase().as_str())
                })
            })
            .collect();
        if images.is_empty() {
            return Err(bad(&dir, "class folder holds no .png or .jpg image"));
        }
        labels.extend(std::iter::repeat_n(label as u8, images.len()));
        files.extend(images);
    }
    let raws = files
        .into_par_iter()
        .map(|p| decode(&p).map(|r| (p, r)))
        .collect::<Result<Vec<_>, _>>()?;
    assemble(raws, labels, names.len(), fit)
}

fn image_folder(root: &Path, fit: Fit) -> Result<Parts, DataError> {
    if !root.is_dir() {
        return Err(bad(
            root,
            "not a folder (an image folder is root/<class>/*.png)",
        ));
    }
    let split_root = root.join("train");
    let base = if split_root.is_dir() {
        &split_root
    } else {
        root
    };
    let names: Vec<String> = class_folders(base)?
        .iter()
        .map(|p| {
            p.file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    let train = read_classes(base, &names, fit)?;
    if !split_root.is_dir() {
        return Ok(Parts {
            train,
            val: None,
            test: None,
        });
    }
    let part = |name: &str| -> Result<Option<Images>, DataError> {
        let dir = root.join(name);
        if !dir.is_dir() {
            return Ok(None);
        }
        for c in class_folders(&dir)? {
            let n = c.file_name().unwrap_or_default().to_string_lossy();
            if !names.iter().any(|k| *k == n) {
                return Err(bad(&c, "a class the train/ folder does not have"));
            }
        }
        let imgs = read_classes(&dir, &names, fit)?;
        if (imgs.height, imgs.width) != (train.height, train.width) {
            return Err(bad(
                &dir,
                format!(
                    "images are {}×{}, the training images {}×{}: set data.image_size",
                    imgs.width, imgs.height, train.width, train.height
                ),
            ));
        }
        Ok(Some(imgs))
    };
    let (val, test) = (part("val")?, part("test")?);
    Ok(Parts { train, val, test }.same_channels())
}

impl Parts {
    /// Colour everywhere if any part is in colour (grey images repeated on three channels).
    fn same_channels(mut self) -> Self {
        let c = [Some(&self.train), self.val.as_ref(), self.test.as_ref()]
            .into_iter()
            .flatten()
            .map(|i| i.channels)
            .max()
            .unwrap_or(1);
        for set in [Some(&mut self.train), self.val.as_mut(), self.test.as_mut()]
            .into_iter()
            .flatten()
        {
            set.to_channels(c);
        }
        self
    }
}

// ---- CIFAR binary ----

fn cifar(root: &Path, fit: Fit) -> Result<Parts, DataError> {
    let ten: Vec<PathBuf> = sorted_entries(root)?
        .into_iter()
        .filter(|p| {
            p.file_name().is_some_and(|n| {
                let n = n.to_string_lossy();
                n.starts_with("data_batch_") && n.ends_with(".bin")
            })
        })
        .collect();
    let (train_files, test_file, label_bytes, classes) = if !ten.is_empty() {
        (ten, root.join("test_batch.bin"), 1, 10)
    } else {
        (vec![root.join("train.bin")], root.join("test.bin"), 2, 100)
    };
    let read = |files: &[PathBuf]| -> Result<Images, DataError> {
        let mut raws = Vec::new();
        let mut labels = Vec::new();
        for f in files {
            let mut bytes = Vec::new();
            File::open(f)
                .map_err(io(f))?
                .read_to_end(&mut bytes)
                .map_err(io(f))?;
            let record = label_bytes + 3072;
            if bytes.is_empty() || bytes.len() % record != 0 {
                return Err(bad(
                    f,
                    format!(
                        "{} bytes is not a whole number of {record}-byte CIFAR records (truncated?)",
                        bytes.len()
                    ),
                ));
            }
            for (i, r) in bytes.chunks_exact(record).enumerate() {
                let label = r[label_bytes - 1];
                if label as usize >= classes {
                    return Err(bad(
                        f,
                        format!(
                            "record {}: label {label} is out of range 0..{classes}",
                            i + 1
                        ),
                    ));
                }
                labels.push(label);
                // The record is C×H×W; `Raw` is H×W×C.
                let px = &r[label_bytes..];
                let hwc = (0..1024)
                    .flat_map(|p| (0..3).map(move |c| px[c * 1024 + p] as f32 / 255.0))
                    .collect();
                raws.push((
                    f.clone(),
                    Raw {
                        c: 3,
                        h: 32,
                        w: 32,
                        hwc,
                    },
                ));
            }
        }
        let l: Vec<i64> = labels.iter().map(|&l| l as i64).collect();
        check_classes(&files[0], &l, classes)?;
        assemble(raws, labels, classes, fit)
    };
    Ok(Parts {
        train: read(&train_files)?,
        val: None,
        test: Some(read(std::slice::from_ref(&test_file))?),
    })
}

// ---- NumPy ----

/// An array read from an `.npy`: its shape and values as `f64` (pixels) and whether they were
/// `uint8`.
struct Array {
    shape: Vec<usize>,
    values: Vec<f64>,
    bytes: bool,
}

fn open_npy(path: &Path) -> Result<Array, DataError> {
    let file = File::open(path).map_err(io(path))?;
    let npy = npyz::NpyFile::new(std::io::BufReader::new(file))
        .map_err(|e| bad(path, format!("not an .npy array ({e})")))?;
    read_npy(path, npy)
}

fn read_npy<R: Read>(path: &Path, npy: npyz::NpyFile<R>) -> Result<Array, DataError> {
    let shape: Vec<usize> = npy.shape().iter().map(|&d| d as usize).collect();
    let npyz::DType::Plain(ts) = npy.dtype() else {
        return Err(bad(path, "a structured array; expected numbers"));
    };
    /// The values as `f64` (64-bit integers beyond 2^53 round, as NumPy's own cast does).
    fn read<T: npyz::Deserialize, R: Read>(
        npy: npyz::NpyFile<R>,
        to_f64: fn(T) -> f64,
    ) -> std::io::Result<Vec<f64>> {
        Ok(npy.into_vec::<T>()?.into_iter().map(to_f64).collect())
    }
    use npyz::TypeChar::{Float, Int, Uint};
    let values = match (ts.type_char(), ts.size_field()) {
        (Uint, 1) => read::<u8, _>(npy, f64::from),
        (Uint, 2) => read::<u16, _>(npy, f64::from),
        (Uint, 4) => read::<u32, _>(npy, f64::from),
        (Uint, 8) => read::<u64, _>(npy, |v| v as f64),
        (Int, 1) => read::<i8, _>(npy, f64::from),
        (Int, 2) => read::<i16, _>(npy, f64::from),
        (Int, 4) => read::<i32, _>(npy, f64::from),
        (Int, 8) => read::<i64, _>(npy, |v| v as f64),
        (Float, 4) => read::<f32, _>(npy, f64::from),
        (Float, 8) => read::<f64, _>(npy, |v| v),
        _ => {
            return Err(bad(
                path,
                format!("dtype {ts} is not an integer or float type"),
            ))
        }
    }
    .map_err(|e| bad(path, format!("cannot read the values ({e})")))?;
    // 8-bit pixels are scaled to [0, 1]; other types are taken as they are.
    let bytes = (ts.type_char(), ts.size_field()) == (Uint, 1);
    if values.iter().any(|v| !v.is_finite()) {
        return Err(bad(path, "holds a NaN or infinite value"));
    }
    Ok(Array {
        shape,
        values,
        bytes,
    })
}

fn npz(path: &Path, layout: Option<Layout>, fit: Fit) -> Result<Parts, DataError> {
    let mut archive = npyz::npz::NpzArchive::open(path)
        .map_err(|e| bad(path, format!("not an .npz archive ({e})")))?;
    let names: Vec<String> = archive.array_names().map(str::to_string).collect();
    let has = |n: &str| names.iter().any(|k| k == n);
    let mut part = |suffix: &str| -> Result<Option<Images>, DataError> {
        let (xn, yn) = (format!("x{suffix}"), format!("y{suffix}"));
        if !has(&xn) && !has(&yn) {
            return Ok(None);
        }
        let mut get = |name: &str| -> Result<Array, DataError> {
            let file = archive
                .by_name(name)
                .map_err(|e| bad(path, format!("cannot read array `{name}` ({e})")))?
                .ok_or_else(|| bad(path, format!("`{name}` is missing beside its pair")))?;
            read_npy(path, file)
        };
        let (x, y) = (get(&xn)?, get(&yn)?);
        arrays(path, x, path, y, layout, fit).map(Some)
    };
    let (train, val, test) = if has("x_train") || has("y_train") {
        (part("_train")?, part("_val")?, part("_test")?)
    } else {
        (part("")?, None, None)
    };
    let Some(train) = train else {
        return Err(bad(
            path,
            format!(
                "no arrays `x` and `y` (or `x_train` and `y_train`) (it has: {})",
                names.join(", ")
            ),
        ));
    };
    let classes = [Some(&train), val.as_ref(), test.as_ref()]
        .into_iter()
        .flatten()
        .map(|i| i.classes)
        .max()
        .unwrap_or(0);
    let mut parts = Parts { train, val, test }.same_channels();
    for set in [
        Some(&mut parts.train),
        parts.val.as_mut(),
        parts.test.as_mut(),
    ]
    .into_iter()
    .flatten()
    {
        set.classes = classes;
    }
    Ok(parts)
}

fn arrays(
    x_path: &Path,
    x: Array,
    y_path: &Path,
    y: Array,
    layout: Option<Layout>,
    fit: Fit,
) -> Result<Images, DataError> {
    let n = *x.shape.first().unwrap_or(&0);
    if y.shape.len() != 1 || y.shape[0] != n {
        return Err(bad(
            y_path,
            format!(
                "labels have shape {:?}; expected ({n},), one per image",
                y.shape
            ),
        ));
    }
    let (c, h, w, nchw) = match (x.shape.as_slice(), layout) {
        ([_, h, w], _) => (1, *h, *w, false),
        ([_, a, b, d], Some(Layout::Nhwc)) => (*d, *a, *b, false),
        ([_, a, b, d], Some(Layout::Nchw)) => (*a, *b, *d, true),
        ([_, a, b, d], None) => match ([1, 3].contains(a), [1, 3].contains(d)) {
            (false, true) => (*d, *a, *b, false),
            (true, false) => (*a, *b, *d, true),
            _ => {
                return Err(bad(
                    x_path,
                    format!("shape {:?} reads as N×H×W×C and N×C×H×W: set data.layout = \"nhwc\" or \"nchw\"", x.shape),
                ))
            }
        },
        (s, _) => {
            return Err(bad(
                x_path,
                format!("images have shape {s:?}; expected N×H×W, N×H×W×C or N×C×H×W"),
            ))
        }
    };
    if ![1, 3].contains(&c) || n == 0 || h == 0 || w == 0 {
        return Err(bad(
            x_path,
            format!(
                "images have shape {:?}; expected N > 0 images of 1 or 3 channels",
                x.shape
            ),
        ));
    }
    let labels: Vec<i64> = y.values.iter().map(|&v| v as i64).collect();
    if y.values.iter().any(|v| v.fract() != 0.0) {
        return Err(bad(y_path, "labels must be whole numbers"));
    }
    let classes = labels.iter().copied().max().unwrap_or(0).max(0) as usize + 1;
    check_classes(y_path, &labels, classes)?;
    let scale = if x.bytes { 1.0 / 255.0 } else { 1.0 };
    let per = c * h * w;
    let raws = (0..n)
        .map(|i| {
            let img = &x.values[i * per..(i + 1) * per];
            let hwc = (0..h * w)
                .flat_map(|p| {
                    (0..c).map(move |ch| {
                        let v = if nchw {
                            img[ch * h * w + p]
                        } else {
                            img[p * c + ch]
                        };
                        (v * scale) as f32
                    })
                })
                .collect();
            (x_path.to_path_buf(), Raw { c, h, w, hwc })
        })
        .collect();
    let labels = labels.into_iter().map(|l| l as u8).collect();
    assemble(raws, labels, classes, fit)
}

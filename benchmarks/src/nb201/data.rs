//! The NAS-Bench-201 table: all 15,625 cells, loaded once and shared.
//!
//! The table ships inside the repository (`benchmarks/data/nb201.csv.gz`, see
//! `benchmarks/data/README.md` for provenance and licences) and is embedded in the binary, so a
//! fresh clone needs no other file. A user may point at another copy; its row count and SHA-256
//! are checked against the values recorded next to the shipped data.

use super::cell::{Cell, NUM_CELLS, NUM_EDGES};
use crate::error::DataError;
use flate2::read::GzDecoder;
use serde::{Deserialize, Serialize};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// The shipped table, gzip-compressed.
static NB201_GZ: &[u8] = include_bytes!("../../data/nb201.csv.gz");
/// SHA-256 of the uncompressed shipped CSV (also in `benchmarks/data/CHECKSUMS`).
pub const NB201_SHA256: &str = "640e72aab7c6c301bf254c31efaf46f098b06e0db0d3c0cb0199c70f39a78eee";
const HINT: &str = "Restore it from the repository (git checkout -- benchmarks/data) \
                    or point `benchmark.data` at an intact copy of nb201.csv(.gz)";

/// A NAS-Bench-201 dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Dataset {
    /// CIFAR-10 (validation: cifar10-valid; test: cifar10 test set).
    #[serde(rename = "cifar10")]
    Cifar10,
    /// CIFAR-100 (x-valid / x-test).
    #[serde(rename = "cifar100")]
    Cifar100,
    /// ImageNet16-120 (x-valid / x-test).
    #[serde(rename = "imagenet16-120")]
    ImageNet16_120,
}

impl Dataset {
    /// All datasets.
    pub const ALL: [Dataset; 3] = [Dataset::Cifar10, Dataset::Cifar100, Dataset::ImageNet16_120];

    /// The name used in experiment files.
    pub fn name(self) -> &'static str {
        match self {
            Dataset::Cifar10 => "cifar10",
            Dataset::Cifar100 => "cifar100",
            Dataset::ImageNet16_120 => "imagenet16-120",
        }
    }

    fn slot(self) -> usize {
        self as usize
    }

    fn prefix(self) -> &'static str {
        match self {
            Dataset::Cifar10 => "c10",
            Dataset::Cifar100 => "c100",
            Dataset::ImageNet16_120 => "in16",
        }
    }
}

impl std::fmt::Display for Dataset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The metrics of one cell on one dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct Metrics {
    /// Validation accuracy (%), mean over seeds.
    pub val_acc: f64,
    /// Test accuracy (%), mean over seeds.
    pub test_acc: f64,
    /// Per-seed validation accuracies (2 or 3).
    pub val_acc_runs: Vec<f64>,
    /// Parameters (millions).
    pub params_m: f64,
    /// FLOPs (millions).
    pub flops_m: f64,
    /// Latency (seconds).
    pub latency_s: f64,
    /// Training time of the 200-epoch run (seconds).
    pub train_time_s: f64,
}

/// One row of the table.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// NB201 index.
    pub index: u32,
    /// The cell.
    pub cell: Cell,
    /// Smallest index of the cell's isomorphism class.
    pub iso_rep_index: u32,
    metrics: [Metrics; 3],
}

impl Record {
    /// The metrics on `dataset`.
    pub fn metrics(&self, dataset: Dataset) -> &Metrics {
        &self.metrics[dataset.slot()]
    }
}

/// The whole NAS-Bench-201 table, indexed both by NB201 index and by [`Cell::code`].
#[derive(Debug)]
pub struct Nb201Data {
    records: Vec<Record>,
    index_by_code: Vec<u32>,
}

impl Nb201Data {
    /// The shipped table, decoded once per process and shared.
    pub fn shipped() -> Result<Arc<Nb201Data>, DataError> {
        static CACHE: OnceLock<Arc<Nb201Data>> = OnceLock::new();
        if let Some(d) = CACHE.get() {
            return Ok(d.clone());
        }
        let path = PathBuf::from("<embedded>/benchmarks/data/nb201.csv.gz");
        let data = Arc::new(Self::from_gz_bytes(NB201_GZ, &path)?);
        Ok(CACHE.get_or_init(|| data).clone())
    }

    /// Loads a copy from disk (`.csv` or `.csv.gz`), checking its rows and checksum.
    pub fn load(path: &Path) -> Result<Nb201Data, DataError> {
        let bytes = std::fs::read(path).map_err(|source| DataError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        if bytes.starts_with(&[0x1f, 0x8b]) {
            Self::from_gz_bytes(&bytes, path)
        } else {
            Self::from_csv_bytes(&bytes, path)
        }
    }

    fn from_gz_bytes(gz: &[u8], path: &Path) -> Result<Nb201Data, DataError> {
        let mut csv = Vec::with_capacity(6 << 20);
        GzDecoder::new(gz)
            .read_to_end(&mut csv)
            .map_err(|e| corrupt(path, format!("gzip stream is damaged ({e})")))?;
        Self::from_csv_bytes(&csv, path)
    }

    fn from_csv_bytes(csv: &[u8], path: &Path) -> Result<Nb201Data, DataError> {
        let records = parse_csv(csv, path)?;
        if records.len() != NUM_CELLS {
            return Err(corrupt(
                path,
                format!("expected {NUM_CELLS} rows, found {}", records.len()),
            ));
        }
        let hex = crate::digest::sha256_hex(csv);
        if hex != NB201_SHA256 {
            return Err(corrupt(
                path,
                format!("SHA-256 is {hex}, expected {NB201_SHA256}"),
            ));
        }
        let mut index_by_code = vec![u32::MAX; NUM_CELLS];
        for r in &records {
            index_by_code[r.cell.code()] = r.index;
        }
        if index_by_code.contains(&u32::MAX) {
            return Err(corrupt(path, "some cells are missing".into()));
        }
        Ok(Nb201Data {
            records,
            index_by_code,
        })
    }

    /// All records, in NB201 index order.
    pub fn records(&self) -> &[Record] {
        &self.records
    }

    /// The record of NB201 index `index`.
    pub fn by_index(&self, index: usize) -> Option<&Record> {
        self.records.get(index)
    }

    /// The record of a cell.
    pub fn record(&self, cell: &Cell) -> &Record {
        &self.records[self.index_of(cell) as usize]
    }

    /// The NB201 index of a cell.
    pub fn index_of(&self, cell: &Cell) -> u32 {
        self.index_by_code[cell.code()]
    }
}

fn corrupt(path: &Path, reason: String) -> DataError {
    DataError::Corrupt {
        path: path.to_path_buf(),
        reason,
        hint: HINT,
    }
}

fn parse_csv(bytes: &[u8], path: &Path) -> Result<Vec<Record>, DataError> {
    let mut rdr = csv::ReaderBuilder::new().from_reader(bytes);
    let headers = rdr
        .headers()
        .map_err(|e| corrupt(path, format!("unreadable header ({e})")))?
        .clone();
    let col = |name: &str| -> Result<usize, DataError> {
        headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| corrupt(path, format!("missing column `{name}`")))
    };
    let (c_index, c_arch, c_ops, c_iso) = (
        col("index")?,
        col("arch")?,
        col("ops")?,
        col("iso_rep_index")?,
    );
    let mut ds_cols = Vec::new();
    for d in Dataset::ALL {
        let p = d.prefix();
        ds_cols.push([
            col(&format!("{p}_val_acc"))?,
            col(&format!("{p}_test_acc"))?,
            col(&format!("{p}_val_acc_runs"))?,
            col(&format!("{p}_params_M"))?,
            col(&format!("{p}_flops_M"))?,
            col(&format!("{p}_latency_s"))?,
            col(&format!("{p}_train_time_s"))?,
        ]);
    }
    let mut out = Vec::with_capacity(NUM_CELLS);
    let mut rec = csv::StringRecord::new();
    let mut line = 1usize;
    loop {
        match rdr.read_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(corrupt(path, format!("line {}: {e}", line + 1))),
        }
        line += 1;
        let bad = |what: &str| corrupt(path, format!("line {line}: bad {what}"));
        let field = |i: usize| rec.get(i).unwrap_or("");
        let num = |i: usize, what: &str| -> Result<f64, DataError> {
            field(i)
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| bad(what))
        };
        let index: u32 = field(c_index).parse().map_err(|_| bad("index"))?;
        if index as usize != out.len() {
            return Err(bad("index (rows must be in index order)"));
        }
        let ops = field(c_ops).as_bytes();
        if ops.len() != NUM_EDGES {
            return Err(bad("ops"));
        }
        let mut codes = [0u8; NUM_EDGES];
        for (c, b) in codes.iter_mut().zip(ops) {
            *c = b.wrapping_sub(b'0');
        }
        let cell = Cell::from_codes(codes).ok_or_else(|| bad("ops"))?;
        if cell.to_string() != field(c_arch) {
            return Err(bad("arch (does not match ops)"));
        }
        let iso_rep_index: u32 = field(c_iso).parse().map_err(|_| bad("iso_rep_index"))?;
        let mut metrics: Vec<Metrics> = Vec::with_capacity(3);
        for cols in &ds_cols {
            let runs: Result<Vec<f64>, _> = field(cols[2])
                .split(';')
                .map(|v| v.parse::<f64>().map_err(|_| bad("val_acc_runs")))
                .collect();
            metrics.push(Metrics {
                val_acc: num(cols[0], "val_acc")?,
                test_acc: num(cols[1], "test_acc")?,
                val_acc_runs: runs?,
                params_m: num(cols[3], "params")?,
                flops_m: num(cols[4], "flops")?,
                latency_s: num(cols[5], "latency")?,
                train_time_s: num(cols[6], "train_time")?,
            });
        }
        let metrics: [Metrics; 3] = metrics.try_into().expect("three datasets");
        out.push(Record {
            index,
            cell,
            iso_rep_index,
            metrics,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn data() -> Arc<Nb201Data> {
        Nb201Data::shipped().unwrap()
    }

    #[test]
    fn has_all_cells_and_6466_isomorphism_classes() {
        let d = data();
        assert_eq!(d.records().len(), 15_625);
        let classes: HashSet<u32> = d.records().iter().map(|r| r.iso_rep_index).collect();
        assert_eq!(classes.len(), 6_466);
        for r in d.records() {
            assert_eq!(d.index_of(&r.cell), r.index);
        }
    }

    #[test]
    fn known_optima() {
        let d = data();
        let best = d
            .records()
            .iter()
            .max_by(|a, b| {
                let (x, y) = (a.metrics(Dataset::Cifar10), b.metrics(Dataset::Cifar10));
                x.val_acc.total_cmp(&y.val_acc)
            })
            .unwrap();
        let m = best.metrics(Dataset::Cifar10);
        assert!((m.val_acc - 91.6067).abs() < 1e-9);
        assert!((m.test_acc - 94.3733).abs() < 1e-9);
        let max_c100_test = d
            .records()
            .iter()
            .map(|r| r.metrics(Dataset::Cifar100).test_acc)
            .fold(f64::MIN, f64::max);
        assert!((max_c100_test - 73.5133).abs() < 1e-9);
        let resnet = d.by_index(11472).unwrap();
        assert!((resnet.metrics(Dataset::Cifar10).test_acc - 93.91).abs() < 0.01);
    }

    #[test]
    fn disconnected_cells_score_chance() {
        let d = data();
        let mut n = 0;
        for r in d.records().iter().filter(|r| !r.cell.is_connected()) {
            n += 1;
            assert_eq!(r.metrics(Dataset::Cifar10).test_acc, 10.0);
            assert_eq!(r.metrics(Dataset::Cifar100).test_acc, 1.0);
            assert!((r.metrics(Dataset::ImageNet16_120).test_acc - 0.8333).abs() < 0.01);
        }
        assert_eq!(n, 341);
    }

    #[test]
    fn corrupt_and_missing_files_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.csv.gz");
        let e = Nb201Data::load(&missing).unwrap_err();
        assert!(e.to_string().contains("nope.csv.gz"), "{e}");

        let truncated = dir.path().join("trunc.csv.gz");
        std::fs::write(&truncated, &NB201_GZ[..NB201_GZ.len() / 2]).unwrap();
        let e = Nb201Data::load(&truncated).unwrap_err().to_string();
        assert!(
            e.contains("corrupt data file") && e.contains("trunc.csv.gz"),
            "{e}"
        );

        // A full CSV with one value changed: rows fine, checksum not.
        let mut csv = Vec::new();
        GzDecoder::new(NB201_GZ).read_to_end(&mut csv).unwrap();
        let text = String::from_utf8(csv)
            .unwrap()
            .replacen("81.9827", "81.9828", 1);
        let edited = dir.path().join("edited.csv");
        std::fs::write(&edited, text).unwrap();
        let e = Nb201Data::load(&edited).unwrap_err().to_string();
        assert!(e.contains("SHA-256"), "{e}");
    }
}

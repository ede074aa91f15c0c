//! Tests of the tabular benchmark: shipped instances, description and data errors, space
//! operations, the synthetic generator.

use super::synthetic::{self, synthetic_optimum, write_synthetic_benchmark, write_synthetic_table};
use super::*;
use crate::evaluator::{Evaluator, Goal};
use crate::nb201::{Dataset, Nb201Data};
use crate::space::{SearchSpace, SeqEncoding};
use proptest::prelude::*;
use rand::SeedableRng;
use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

fn shipped(file: &str) -> TabularBenchmark {
    TabularBenchmark::from_file(&shipped_data_dir().join(file)).unwrap()
}

fn nb201() -> &'static TabularBenchmark {
    static B: OnceLock<TabularBenchmark> = OnceLock::new();
    B.get_or_init(|| shipped("nb201_cifar10.tabular.toml"))
}

fn rng(seed: u64) -> rand_chacha::ChaCha8Rng {
    rand_chacha::ChaCha8Rng::seed_from_u64(seed)
}

/// Writes `data.csv` and `desc.toml` (whose `data` is `data.csv`) into a fresh folder and loads.
fn load(csv: &str, desc: &str) -> (tempfile::TempDir, Result<TabularBenchmark, TabularError>) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("data.csv"), csv).unwrap();
    std::fs::write(dir.path().join("desc.toml"), desc).unwrap();
    let b = TabularBenchmark::from_file(&dir.path().join("desc.toml"));
    (dir, b)
}

const SEQ_DESC: &str = r#"
data = "data.csv"
objective = { column = "acc", goal = "maximize" }
[[architecture]]
column = "ops"
separator = " "
"#;

/// The number of dimensions in which two cells differ.
fn diff(s: &TabularSpace, a: &TabCell, b: &TabCell) -> usize {
    s.codes(a)
        .iter()
        .zip(s.codes(b))
        .filter(|(x, y)| x != y)
        .count()
}

#[test]
fn nb201_instance_has_the_known_facts() {
    let b = nb201();
    let (s, t) = (&b.space, b.table());
    assert_eq!(s.size(), Some(15_625));
    assert_eq!(s.name(), "nb201-cifar10");
    assert_eq!(t.dimensions().len(), 6);
    assert_eq!(s.vocab_size(SeqEncoding::Compact), 30);
    assert_eq!(t.iso_classes(), 6_466);
    let keys: HashSet<u64> = s.all_cells().map(|c| s.iso_key(&c)).collect();
    assert_eq!(keys.len(), 6_466);
    for c in s.all_cells() {
        let n = s.neighbours(&c);
        assert_eq!(n.len(), 24, "complete table: 6 edges x 4 other ops");
        assert!(n.iter().all(|m| diff(s, &c, m) == 1));
    }
    let best = TabCell(t.best_row() as u32);
    let o = b.evaluator.evaluate(&best, &mut rng(0)).unwrap();
    assert!((o.val_acc - 91.6067).abs() < 1e-9);
    assert!((o.test_acc.unwrap() - 94.3733).abs() < 1e-9);
    assert_eq!(b.evaluator.goal(), Goal::Maximize);
    // Same rows, values and isomorphism classes as the dedicated NB201 loader.
    let d = Nb201Data::shipped().unwrap();
    for c in s.all_cells().step_by(7) {
        let i = s.index(&c).unwrap() as usize;
        let r = d.by_index(i).unwrap();
        let m = r.metrics(Dataset::Cifar10);
        let o = b.evaluator.evaluate(&c, &mut rng(0)).unwrap();
        assert_eq!(
            (o.val_acc, o.test_acc, o.cost_seconds),
            (m.val_acc, Some(m.test_acc), m.train_time_s)
        );
        assert_eq!(o.extras[0], ("c10_params_M".to_string(), m.params_m));
        // Known before training: the same extras, without the accuracy.
        assert_eq!(b.evaluator.known_metrics(&c), o.extras);
        let ops: String = r
            .cell
            .ops
            .iter()
            .map(|op| char::from(b'0' + *op as u8))
            .collect();
        assert_eq!(s.format(&c), ops);
        assert_eq!(s.parse(&ops).unwrap(), c);
        let rep = TabCell(r.iso_rep_index);
        assert_eq!(s.iso_key(&c), s.iso_key(&rep));
    }
    // "000000" has a leading zero: read as a string, it is the all-`none` cell.
    let none = s.parse("000000").unwrap();
    assert_eq!(
        b.evaluator.evaluate(&none, &mut rng(0)).unwrap().test_acc,
        Some(10.0)
    );
}

#[test]
fn nb201_per_dataset_descriptions() {
    for (file, val, name) in [
        ("nb201_cifar100.tabular.toml", 73.4933, "c100_val_acc"),
        ("nb201_imagenet16-120.tabular.toml", 46.7333, "in16_val_acc"),
    ] {
        let b = shipped(file);
        let t = b.table();
        assert_eq!(t.len(), 15_625);
        assert_eq!(t.objective_name(), name);
        assert!((t.objective()[t.best_row()] - val).abs() < 1e-9, "{file}");
    }
}

/// The 27 device / batch-size settings of HW-NAS-Bench / HELP shipped with NB201 CIFAR-10.
const HW_DEVICES: [&str; 27] = [
    "1080ti_1",
    "1080ti_32",
    "1080ti_256",
    "2080ti_1",
    "2080ti_32",
    "2080ti_256",
    "titanx_1",
    "titanx_32",
    "titanx_256",
    "titanxp_1",
    "titanxp_32",
    "titanxp_256",
    "titan_rtx_1",
    "titan_rtx_32",
    "titan_rtx_256",
    "gold_6226",
    "gold_6240",
    "silver_4114",
    "silver_4210r",
    "pixel2",
    "pixel3",
    "samsung_a50",
    "samsung_s7",
    "essential_ph_1",
    "raspi4",
    "eyeriss",
    "fpga",
];

#[test]
fn nb201_hw_latencies_ship_with_cifar10() {
    let b = shipped("nb201_cifar10_hw.tabular.toml");
    let (s, t) = (&b.space, b.table());
    assert_eq!(t.len(), 15_625);
    assert_eq!(t.iso_classes(), 6_466);
    let names: Vec<&str> = t.extras().iter().map(|(n, _)| n.as_str()).collect();
    let mut expected = vec!["c10_params_M", "c10_flops_M", "c10_latency_s"];
    let latencies: Vec<String> = HW_DEVICES
        .iter()
        .map(|d| format!("latency_{d}_ms"))
        .collect();
    expected.extend(latencies.iter().map(String::as_str));
    assert_eq!(names, expected);
    // Known values of the HELP file: cell 0 and cell 1 on the Pixel 3, cell 0 on the FPGA.
    let extra = |name: &str, row: usize| t.extras().iter().find(|(n, _)| n == name).unwrap().1[row];
    assert_eq!(t.file_row(0), 0);
    assert_eq!(extra("latency_pixel3_ms", 0), 3.60585);
    assert_eq!(extra("latency_pixel3_ms", 1), 17.2381);
    assert_eq!(extra("latency_fpga_ms", 0), 2.57296);
    for (_, values) in t.extras() {
        assert!(values.iter().all(|v| v.is_finite() && *v > 0.0));
    }
    // Every other value equals the plain NB201 CIFAR-10 description, cell by cell.
    let (plain, pt) = (nb201(), nb201().table());
    for c in s.all_cells().step_by(5) {
        let p = plain.space.parse(&s.format(&c)).unwrap();
        let (o, q) = (b.evaluator.outcome(&c), plain.evaluator.outcome(&p));
        assert_eq!(
            (o.val_acc, o.test_acc, o.cost_seconds),
            (q.val_acc, q.test_acc, q.cost_seconds)
        );
        assert_eq!(o.extras[..3], q.extras[..]);
        assert_eq!(
            s.iso_key(&c) == s.iso_key(&TabCell(0)),
            plain.space.iso_key(&p) == plain.space.iso_key(&TabCell(0))
        );
        assert_eq!(t.file_row(c.0 as usize), pt.file_row(p.0 as usize));
    }
}

#[test]
fn nb101_subset_loads() {
    let b = shipped("nb101_subset500.tabular.toml");
    let (s, t) = (&b.space, b.table());
    assert_eq!(t.len(), 500);
    assert_eq!(t.dimensions().len(), 21 + 5);
    assert_eq!(
        t.iso_classes(),
        292,
        "NASLib's unpruned matrices: 292 distinct networks"
    );
    let first = TabCell(0);
    assert_eq!(
        s.format(&first),
        "111101000110001110110 | maxpool3x3 maxpool3x3 conv3x3-bn-relu conv3x3-bn-relu conv3x3-bn-relu"
    );
    assert_eq!(t.objective()[0], 92.578125);
    assert_eq!(t.objective()[t.best_row()], 94.71153616905212);
    assert_eq!(b.evaluator.outcome(&first).test_acc, None);
    for c in s.all_cells() {
        assert_eq!(s.parse(&s.format(&c)).unwrap(), c);
    }
}

#[test]
fn shipped_subsets_match_their_checksums() {
    let sums = std::fs::read_to_string(shipped_data_dir().join("CHECKSUMS")).unwrap();
    for file in [
        "nb101_subset500.csv.gz",
        "nb301_subset.csv.gz",
        "nb201_cifar10_hw.csv.gz",
    ] {
        let line = sums.lines().find(|l| l.starts_with(file)).unwrap();
        let f: Vec<&str> = line.split_whitespace().collect();
        let csv = table::read_maybe_gz(&shipped_data_dir().join(file)).unwrap();
        let hex = crate::digest::sha256_hex(&csv);
        assert_eq!(hex, f[2], "{file}");
        assert_eq!(
            csv.iter().filter(|&&b| b == b'\n').count() - 1,
            f[1].parse::<usize>().unwrap()
        );
    }
}

#[test]
fn nb301_subset_loads() {
    let b = shipped("nb301_subset.tabular.toml");
    let (s, t) = (&b.space, b.table());
    assert_eq!(t.len(), 1_218);
    assert_eq!(t.dimensions().len(), 32);
    assert_eq!(s.vocab_size(SeqEncoding::Nao), 2 * 8 * 7 + 2 * 8 * 5);
    assert_eq!(t.objective()[0], 93.32119084207302);
    assert_eq!(t.objective()[t.best_row()], 94.48888302784498);
    assert_eq!(
        b.evaluator.outcome(&TabCell(0)).extras,
        vec![
            ("params_M".to_string(), 0.856298),
            ("flops_M".to_string(), 153.499136)
        ]
    );
    let keys: HashSet<String> = s.all_cells().map(|c| s.format(&c)).collect();
    assert_eq!(keys.len(), 1_218);
}

#[test]
fn synthetic_table_selects_datasets_with_known_optima() {
    let dir = tempfile::tempdir().unwrap();
    let info = write_synthetic_table(&dir.path().join("synthetic_gnn.csv.gz"), 30_000, 7).unwrap();
    assert_eq!(
        info.datasets,
        vec![
            ("cora".into(), 10_000),
            ("citeseer".into(), 10_000),
            ("pubmed".into(), 10_000)
        ]
    );
    for (k, (ds, rows)) in info.datasets.iter().enumerate() {
        let text = synthetic::DESCRIPTION_TOML.replace("\"cora\"", &format!("{ds:?}"));
        let desc = TabularDescription::from_toml_str(&text, "synthetic.toml".as_ref())
            .unwrap()
            .resolved(dir.path());
        let b = TabularBenchmark::load(&desc).unwrap();
        let (s, t) = (&b.space, b.table());
        assert_eq!(t.len(), *rows);
        assert_eq!(s.name(), format!("synthetic_gnn[dataset={ds}]"));
        assert_eq!(t.dimensions().len(), 6);
        assert_eq!(s.vocab_size(SeqEncoding::Compact), 4 * 5 + 5 + 5);
        // `hidden` is sorted numerically, not as text.
        assert_eq!(t.dimensions()[4].values, ["16", "32", "64", "128", "256"]);
        let opt = synthetic_optimum(k);
        let best = TabCell(t.best_row() as u32);
        assert_eq!(s.format(&best), opt.arch);
        assert_eq!(t.objective()[best.row()], opt.val_acc);
        assert!(t.objective().iter().all(|v| (0.0..=1.0).contains(v)));
        let others = t.objective().iter().filter(|v| **v >= opt.val_acc).count();
        assert_eq!(others, 1, "a single optimum");
        assert_eq!(s.index(&TabCell(0)), Some((k * 10_000) as u64));
        let o = b.evaluator.evaluate(&best, &mut rng(1)).unwrap();
        assert!(o.test_acc.is_some() && o.cost_seconds > 10.0);
        let names: Vec<&str> = o.extras.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(names, ["latency_ms", "params"]);
    }
    // Deterministic in the seed.
    let a = dir.path().join("a.csv");
    let b = dir.path().join("b.csv");
    write_synthetic_table(&a, 2_000, 3).unwrap();
    write_synthetic_table(&b, 2_000, 3).unwrap();
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    write_synthetic_table(&b, 2_000, 4).unwrap();
    assert_ne!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    assert!(write_synthetic_table(&b, synthetic::MAX_ROWS + 1, 0).is_err());
}

#[test]
fn complete_synthetic_dataset_has_full_neighbourhoods() {
    let dir = tempfile::tempdir().unwrap();
    let desc =
        write_synthetic_benchmark(dir.path(), 3 * synthetic::SPACE_SIZE, 1, "pubmed").unwrap();
    let b = TabularBenchmark::from_file(&desc).unwrap();
    let s = &b.space;
    assert_eq!(s.size(), Some(15_625));
    for c in s.all_cells().step_by(13) {
        assert_eq!(s.neighbours(&c).len(), 6 * 4);
    }
}

#[test]
fn mutation_stays_in_a_sparse_table_and_changes_one_dimension() {
    let dir = tempfile::tempdir().unwrap();
    let desc = write_synthetic_benchmark(dir.path(), 6_000, 2, "cora").unwrap();
    let b = TabularBenchmark::from_file(&desc).unwrap();
    let s = &b.space;
    let mut r = rng(5);
    let mut unchanged = 0;
    for _ in 0..2_000 {
        let c = s.sample(&mut r);
        let m = s.mutate(&c, &mut r);
        assert!(m.row() < s.table().len());
        let n = s.neighbours(&c);
        if n.is_empty() {
            assert_eq!(m, c);
            unchanged += 1;
        } else {
            assert_eq!(diff(s, &c, &m), 1);
            assert!(n.contains(&m));
            // Fixed order: by dimension, then value id; no duplicates.
            let keys: Vec<(usize, u32)> = n
                .iter()
                .map(|x| {
                    let d = (0..6).find(|&d| s.codes(x)[d] != s.codes(&c)[d]).unwrap();
                    (d, s.codes(x)[d])
                })
                .collect();
            assert!(keys.windows(2).all(|w| w[0] < w[1]));
        }
    }
    assert!(
        unchanged < 100,
        "most cells of a 13% table have a neighbour: {unchanged}"
    );
}

#[test]
fn a_cell_without_neighbours_mutates_to_itself() {
    let csv = "ops,acc\na b,1\nb a,2\n";
    let (_d, b) = load(csv, SEQ_DESC);
    let b = b.unwrap();
    let c = b.space.parse("a b").unwrap();
    assert!(b.space.neighbours(&c).is_empty());
    assert_eq!(b.space.mutate(&c, &mut rng(0)), c);
}

#[test]
fn sampling_is_uniform_over_rows() {
    let (_d, b) = load("ops,acc\na a,1\na b,2\nb a,3\nb b,4\nc c,5\n", SEQ_DESC);
    let s = b.unwrap().space;
    let mut counts = HashMap::new();
    let mut r = rng(9);
    for _ in 0..50_000 {
        *counts.entry(s.sample(&mut r)).or_insert(0) += 1;
    }
    assert_eq!(counts.len(), 5);
    for (c, n) in counts {
        assert!((9_300..10_700).contains(&n), "{c:?}: {n}");
    }
}

#[test]
fn encodings_tokens_and_one_hot() {
    let csv = "ops,width,acc\nx y,8,1\ny y,16,2\nx x,8,3\n";
    let desc = format!("{SEQ_DESC}[[architecture]]\ncolumn = \"width\"\n");
    let (_d, b) = load(csv, &desc);
    let s = b.unwrap().space;
    assert_eq!(s.vocab_size(SeqEncoding::Nao), 2 + 2 + 2);
    let c = s.parse("y y | 16").unwrap();
    assert_eq!(s.sequence(&c, SeqEncoding::Nao), vec![1, 3, 5]);
    assert_eq!(s.sequence(&c, SeqEncoding::Compact), vec![1, 3, 5]);
    assert_eq!(s.one_hot(&c), vec![0.0, 1.0, 0.0, 1.0, 0.0, 1.0]);
    assert_eq!(s.path_encoding(&c), None);
    assert_eq!(s.index(&c), Some(1));
    assert_eq!(s.format(&c), "y y | 16");
    // "y y | 8" and "x y | 16" are not rows: only one neighbour.
    let xy8 = s.parse("x y | 8").unwrap();
    assert_eq!(s.neighbours(&xy8), vec![s.parse("x x | 8").unwrap()]);
}

#[test]
fn parse_errors_are_clear() {
    let csv = "ops,width,acc\nx y,8,1\ny y,16,2\n";
    let desc = format!("{SEQ_DESC}[[architecture]]\ncolumn = \"width\"\n");
    let (_d, b) = load(csv, &desc);
    let s = b.unwrap().space;
    for (arch, want) in [
        ("x y", "expected 2 columns (ops, width)"),
        ("x y z | 8", "column `ops`: 3 tokens, expected 2"),
        ("x q | 8", "position 1: \"q\" is not one of [y]"),
        ("y y | 8", "not in the table"),
        ("x y | 8 | 1", "found 3"),
    ] {
        let e = s.parse(arch).unwrap_err().to_string();
        assert!(e.contains(want), "{arch}: {e}");
        assert!(!e.contains('\n'));
    }
}

#[test]
fn select_gzip_and_plain_agree() {
    let dir = tempfile::tempdir().unwrap();
    let csv = "task,seed,ops,acc,lat\nA,0,a b,0.5,3\nB,0,a b,0.7,2\nA,1,a b,0.6,3\nA,0,b b,0.4,1\n";
    std::fs::write(dir.path().join("t.csv"), csv).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, csv.as_bytes()).unwrap();
    // A `.csv` name holding gzip bytes: detected by magic, not by the name.
    std::fs::write(dir.path().join("t_gz.csv"), gz.finish().unwrap()).unwrap();
    for file in ["t.csv", "t_gz.csv"] {
        let text = format!(
            "data = {file:?}\nselect = {{ task = \"A\", seed = 0 }}\nobjective = {{ column = \"lat\", goal = \"minimize\" }}\ntest = \"acc\"\n[[architecture]]\ncolumn = \"ops\"\nseparator = \" \"\n"
        );
        let desc = TabularDescription::from_toml_str(&text, "d.toml".as_ref())
            .unwrap()
            .resolved(dir.path());
        let b = TabularBenchmark::load(&desc).unwrap();
        let (s, t) = (&b.space, b.table());
        assert_eq!(t.len(), 2);
        assert_eq!(s.index(&TabCell(0)), Some(0));
        assert_eq!(s.index(&TabCell(1)), Some(3));
        assert_eq!(b.evaluator.goal(), Goal::Minimize);
        assert_eq!(s.format(&TabCell(t.best_row() as u32)), "b b");
        let o = b.evaluator.evaluate(&TabCell(1), &mut rng(0)).unwrap();
        assert_eq!(
            (o.val_acc, o.test_acc, o.cost_seconds),
            (1.0, Some(0.4), 0.0)
        );
    }
}

#[test]
fn iso_key_column_groups_rows() {
    let csv = "ops,iso,acc\nab,k1,1\nba,k1,1\nbb,k2,2\n";
    let desc = "data = \"data.csv\"\niso_key = \"iso\"\nobjective = { column = \"acc\", goal = \"maximize\" }\n[[architecture]]\ncolumn = \"ops\"\nseparator = \"\"\n";
    let (_d, b) = load(csv, desc);
    let s = b.unwrap().space;
    let k: Vec<u64> = s.all_cells().map(|c| s.iso_key(&c)).collect();
    assert_eq!(k[0], k[1]);
    assert_ne!(k[0], k[2]);
    assert_eq!(s.table().iso_classes(), 2);
}

/// Each data error: one line, naming the file and (where there is one) the column.
#[test]
fn data_errors_name_file_and_column() {
    let with_choices = SEQ_DESC.replace(
        "separator = \" \"",
        "separator = \" \"\nchoices = [\"a\", \"b\"]",
    );
    let sel = format!("select = {{ task = \"Z\" }}\n{SEQ_DESC}");
    let cases: Vec<(&str, String, Vec<&str>)> = vec![
        (
            "ops,accuracy\na b,1\n",
            SEQ_DESC.into(),
            vec![
                "missing column `acc`",
                "objective",
                "header has: ops, accuracy",
            ],
        ),
        (
            "acc\n1\n",
            SEQ_DESC.into(),
            vec!["missing column `ops`", "architecture"],
        ),
        (
            "ops,acc\na b,1\nb b,high\n",
            SEQ_DESC.into(),
            vec![
                "data row 1, file line 3",
                "column `acc`",
                "expected a number",
                "\"high\"",
            ],
        ),
        (
            "ops,acc\na b,1\nb b,\n",
            SEQ_DESC.into(),
            vec![
                "data row 1, file line 3",
                "column `acc`",
                "expected a number",
            ],
        ),
        (
            "ops,acc\na b,NaN\n",
            SEQ_DESC.into(),
            vec!["data row 0, file line 2", "column `acc`", "finite"],
        ),
        (
            "ops,acc\na b,inf\n",
            SEQ_DESC.into(),
            vec!["column `acc`", "finite"],
        ),
        (
            "task,ops,acc\nA,a b,1\n",
            sel.clone(),
            vec!["no data row matches", "task = \"Z\"", "1 data rows"],
        ),
        ("ops,acc\n", SEQ_DESC.into(), vec!["no data row matches"]),
        (
            "ops,acc\na b,1\nb b,2\na b,3\n",
            SEQ_DESC.into(),
            vec![
                "data row 0, file line 2 and data row 2, file line 4",
                "\"a b\"",
                "`ops`",
                "another [[architecture]] column",
                "`select`",
            ],
        ),
        (
            "ops,acc\na b,1\na b c,2\n",
            SEQ_DESC.into(),
            vec![
                "data row 1, file line 3",
                "column `ops`",
                "3 tokens, expected 2 as in data row 0, file line 2",
            ],
        ),
        (
            "ops,acc\na b,1\na c,2\n",
            with_choices,
            vec![
                "data row 1, file line 3",
                "column `ops` position 1",
                "\"c\"",
                "[a, b]",
            ],
        ),
        (
            "ops,acc\na  b,1\n",
            SEQ_DESC.into(),
            vec!["data row 0, file line 2", "column `ops`", "empty token"],
        ),
        (
            "ops,acc\na b,1\n\"unclosed,2\nx\n",
            SEQ_DESC.into(),
            vec!["corrupt or unreadable"],
        ),
        (
            "ops,acc,acc\na b,1,2\n",
            SEQ_DESC.into(),
            vec!["the header names column `acc` (the objective) twice, as columns 2 and 3"],
        ),
        (
            "ops,acc,secs\na b,1,5\nb b,2,-3\n",
            format!("cost = \"secs\"\n{SEQ_DESC}"),
            vec![
                "data row 1, file line 3",
                "column `secs`",
                "the `cost` (simulated training seconds) must be >= 0, found -3",
            ],
        ),
    ];
    for (csv, desc, wants) in cases {
        let (_d, b) = load(csv, &desc);
        let e = b.unwrap_err().to_string();
        assert!(!e.contains('\n'), "one line: {e}");
        assert!(e.contains("data.csv"), "names the file: {e}");
        for w in wants {
            assert!(e.contains(w), "{w:?} in {e}");
        }
    }
    // The joiner inside a cell of a multi-column space.
    let desc = format!("{SEQ_DESC}[[architecture]]\ncolumn = \"w\"\n");
    let (_d, b) = load("ops,w,acc\na b,x | y,1\n", &desc);
    let e = b.unwrap_err().to_string();
    assert!(e.contains("column `w`") && e.contains("\" | \""), "{e}");
}

#[test]
fn unreadable_files_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let e = TabularBenchmark::from_file(&dir.path().join("nope.toml"))
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("cannot read") && e.contains("nope.toml"),
        "{e}"
    );
    std::fs::write(dir.path().join("d.toml"), SEQ_DESC).unwrap();
    let e = TabularBenchmark::from_file(&dir.path().join("d.toml"))
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("cannot read") && e.contains("data.csv"),
        "{e}"
    );
    let gz = std::fs::read(shipped_data_dir().join("nb101_subset500.csv.gz")).unwrap();
    std::fs::write(dir.path().join("data.csv"), &gz[..gz.len() / 2]).unwrap();
    let e = TabularBenchmark::from_file(&dir.path().join("d.toml"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("data.csv: corrupt or unreadable table: gzip stream is damaged"),
        "{e}"
    );
    std::fs::write(dir.path().join("data.csv"), b"ops,acc\n\xff\xfe,1\n").unwrap();
    let e = TabularBenchmark::from_file(&dir.path().join("d.toml"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("column `ops`: not valid UTF-8"), "{e}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// On any random table: parse/format round-trip, neighbours differ in exactly one dimension
    /// and are rows, tokens stay below the vocabulary.
    #[test]
    fn space_operations_on_random_tables(
        rows in proptest::collection::hash_set(proptest::collection::vec(0u8..4, 3), 1..40),
        seed in any::<u64>(),
    ) {
        let mut csv = String::from("ops,acc\n");
        for (i, r) in rows.iter().enumerate() {
            let toks: Vec<String> = r.iter().map(|v| format!("v{v}")).collect();
            csv.push_str(&format!("{},{i}\n", toks.join(" ")));
        }
        let (_d, b) = load(&csv, SEQ_DESC);
        let b = b.unwrap();
        let s = &b.space;
        prop_assert_eq!(s.size(), Some(rows.len() as u64));
        let mut r = rng(seed);
        for c in s.all_cells() {
            prop_assert_eq!(s.parse(&s.format(&c)).unwrap(), c);
            prop_assert_eq!(s.index(&c), Some(c.row() as u64));
            for n in s.neighbours(&c) {
                prop_assert_eq!(diff(s, &c, &n), 1);
            }
            let m = s.mutate(&c, &mut r);
            prop_assert!(m == c && s.neighbours(&c).is_empty() || diff(s, &c, &m) == 1);
            let seq = s.sequence(&c, SeqEncoding::Compact);
            prop_assert_eq!(seq.len(), 3);
            prop_assert!(seq.iter().all(|t| (*t as usize) < s.vocab_size(SeqEncoding::Compact)));
            prop_assert_eq!(s.one_hot(&c).iter().sum::<f32>(), 3.0);
            prop_assert_eq!(b.evaluator.outcome(&c).val_acc, c.row() as f64);
        }
    }
}

/// The description's fields inline in an experiment's `[benchmark]` table, next to a `type` tag
/// (an internally tagged enum keeps `deny_unknown_fields` working).
#[test]
fn description_inline_in_a_tagged_benchmark_table() {
    #[derive(Debug, serde::Deserialize)]
    #[serde(tag = "type", rename_all = "snake_case")]
    #[allow(dead_code, clippy::large_enum_variant)]
    enum Benchmark {
        Nasbench201 { dataset: String },
        Tabular(TabularDescription),
    }
    #[derive(Debug, serde::Deserialize)]
    struct Experiment {
        benchmark: Benchmark,
    }
    let text = r#"
[benchmark]
type = "tabular"
data = "nb201.csv.gz"
objective = { column = "c10_val_acc", goal = "maximize" }
[[benchmark.architecture]]
column = "ops"
separator = ""
"#;
    let e: Experiment = toml::from_str(text).unwrap();
    let Benchmark::Tabular(d) = e.benchmark else {
        panic!("tabular")
    };
    d.validate("experiment.toml".as_ref()).unwrap();
    let b = TabularBenchmark::load(&d.resolved(&shipped_data_dir())).unwrap();
    assert_eq!(b.space.size(), Some(15_625));
    assert_eq!(b.space.name(), "nb201");
    let bad = text.replace("separator", "seperator");
    let err = toml::from_str::<Experiment>(&bad).unwrap_err().to_string();
    assert!(err.contains("seperator"), "{err}");
}

/// A space too large to pack into a u64 key (2^70) uses the vector index, with the same results.
#[test]
fn huge_spaces_index_rows_by_vector() {
    let a = "0".repeat(70);
    let mut b = a.clone();
    b.replace_range(3..4, "1");
    let mut c = b.clone();
    c.replace_range(69..70, "1");
    let csv = format!("bits,acc\n{a},1\n{b},2\n{c},3\n");
    let desc = "data = \"data.csv\"\nobjective = { column = \"acc\", goal = \"maximize\" }\n[[architecture]]\ncolumn = \"bits\"\nseparator = \"\"\nchoices = [\"0\", \"1\"]\n";
    let (_d, bm) = load(&csv, desc);
    let s = bm.unwrap().space;
    assert!(matches!(s.table().index, table::RowIndex::Boxed(_)));
    let (ca, cb, cc) = (
        s.parse(&a).unwrap(),
        s.parse(&b).unwrap(),
        s.parse(&c).unwrap(),
    );
    assert_eq!(s.neighbours(&ca), vec![cb]);
    assert_eq!(s.neighbours(&cb), vec![ca, cc]);
    assert_eq!(s.format(&cc), c);
    // The small tables of the other tests use the packed index.
    assert!(matches!(
        nb201().table().index,
        table::RowIndex::Packed { .. }
    ));
}

#[test]
fn a_cell_ending_as_the_column_joiner_begins_is_refused() {
    // Found while writing the `tabular` fuzz target and kept with its inputs
    // (`fuzz/regressions/tabular/joiner-at-cell-end`): `"x |"` then `"z"` formatted as
    // `"x | | z"`, which split as `"x"` and `"| z"`.
    let desc = r#"
data = "data.csv"
objective = { column = "acc", goal = "maximize" }
[[architecture]]
column = "a"
[[architecture]]
column = "b"
"#;
    let (_d, b) = load("a,b,acc\nx |,z,1\n", desc);
    let e = b.unwrap_err().to_string();
    assert!(e.contains("line 2") && e.contains("column `a`"), "{e}");
    assert!(e.contains("split in the wrong place"), "{e}");
    // The last column may end so (nothing follows it), and a `|` alone is no joiner.
    let (_d, b) = load("a,b,acc\nx|,z |,1\ny,| z,2\n", desc);
    let b = b.unwrap();
    for c in b.space.all_cells() {
        assert_eq!(b.space.parse(&b.space.format(&c)).unwrap(), c);
    }
}

#[test]
fn nb201_fidelity_levels_read_the_12_epoch_columns() {
    let b = nb201();
    let t = b.table();
    assert_eq!(t.fidelities(), vec![12.0, 200.0]);
    // The table's first row (NB201 index 0): 12-epoch validation 63.364, test 69.55, and a
    // 200-epoch training of 1444.22 s, of which the 12-epoch level costs 12/200.
    assert_eq!(t.file_row(0), 0);
    let (val, test, cost) = t.at_level(12.0, 0).unwrap();
    assert_eq!((val, test), (63.364, Some(69.55)));
    assert!((cost - 1444.22 * 0.06).abs() < 1e-9, "{cost}");
    let (val, _, cost) = t.at_level(200.0, 0).unwrap();
    assert_eq!((val, cost), (t.objective()[0], t.cost().unwrap()[0]));
    assert!(t.at_level(100.0, 0).is_none());
    let trial = |fidelity| crate::evaluator::TrialContext {
        dir: "x".into(),
        query: 1,
        fidelity,
        keep_weights: false,
    };
    let mut r = rng(0);
    let low = b
        .evaluator
        .evaluate_trial(&trial(Some(12.0)), &TabCell(0), &mut r)
        .unwrap();
    assert_eq!(low.val_acc, 63.364);
    let full = b
        .evaluator
        .evaluate_trial(&trial(None), &TabCell(0), &mut r);
    assert_eq!(full.unwrap().val_acc, t.objective()[0]);
    assert!(b
        .evaluator
        .evaluate_trial(&trial(Some(7.0)), &TabCell(0), &mut r)
        .is_err());
    // Without levels: one fidelity.
    assert!(shipped("nb101_subset500.tabular.toml")
        .evaluator
        .fidelities()
        .is_empty());
}

#[test]
fn fidelity_level_errors_name_the_key() {
    let csv = "ops,acc,acc12,t\na b,1,0.5,10\n";
    let desc = |levels: &str| {
        format!("{SEQ_DESC}cost = \"t\"\n[fidelity]\nfull = 200\n{levels}")
            .replacen("[[architecture]]", "cost = \"t\"\n[[architecture]]", 1)
            .replace("cost = \"t\"\n[fidelity]", "[fidelity]")
    };
    let level = |v: &str, extra: &str| {
        format!("[[fidelity.levels]]\nvalue = {v}\nobjective = \"acc12\"\n{extra}\n")
    };
    let cases = [
        (
            level("12", "cost_scale = 0.06").replace("acc12", "nope"),
            vec!["missing column `nope`", "fidelity.levels objective"],
        ),
        (
            level("300", "cost_scale = 0.06"),
            vec!["increasing order", "200"],
        ),
        (
            level("12", "cost_scale = 0.06") + &level("6", "cost_scale = 0.03"),
            vec!["increasing order", "12 comes before 6"],
        ),
        (level("12", ""), vec!["exactly one of `cost`", "value = 12"]),
        (
            level("12", "cost_scale = -1"),
            vec!["cost_scale", "positive"],
        ),
    ];
    for (levels, wants) in cases {
        let (_dir, b) = load(csv, &desc(&levels));
        let e = b.unwrap_err().to_string();
        for w in wants {
            assert!(e.contains(w), "{w:?} not in {e}");
        }
        assert!(!e.contains('\n'), "one line: {e}");
    }
    let (_dir, b) = load(csv, &desc(&level("12", "cost_scale = 0.5")));
    let b = b.unwrap();
    assert_eq!(b.table().fidelities(), vec![12.0, 200.0]);
    assert_eq!(b.table().at_level(12.0, 0), Some((0.5, None, 5.0)));
}

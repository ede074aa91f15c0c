use super::*;
use crate::nb201::Nb201Data;
use crate::space::{SearchSpace, SeqEncoding};
use proptest::prelude::*;
use rand::SeedableRng;
use std::collections::{HashMap, HashSet};

const MIXED: &str = r#"
name = "mixed"
[[dimension]]
name = "depth"
values = [2, 3, 4]
[[dimension]]
name = "width"
range = [16, 64]
step = 16
repeat = 2
[[dimension]]
name = "width_extra"
values = [32, 64]
when = { depth = [3, 4] }
[[dimension]]
name = "act"
values = ["relu", "gelu"]
when = { width_extra = [64] }
[[dimension]]
name = "lr"
log_range = [1e-4, 1e-1]
levels = 4
[[dimension]]
name = "cell"
type = "cell"
nodes = 3
ops = ["none", "skip_connect", "conv"]
"#;

fn space(text: &str) -> Result<DeclaredSpace, SpaceError> {
    DeclaredSpace::new(&toml::from_str::<SpaceConfig>(text).expect("parses"))
}

fn mixed() -> DeclaredSpace {
    space(MIXED).unwrap()
}

const NB201_OPS: [&str; 5] = [
    "none",
    "skip_connect",
    "nor_conv_1x1",
    "nor_conv_3x3",
    "avg_pool_3x3",
];

#[test]
fn values_of_ranges_and_log_ranges() {
    let s = mixed();
    let c = s.parse("depth=4 width[0]=16 width[1]=64 width_extra=64 act=gelu lr=0.001 cell[1<-0]=conv cell[2<-0]=none cell[2<-1]=skip_connect").unwrap();
    assert_eq!(c.0[1], 0);
    assert_eq!(c.0[2], 3);
    assert_eq!(c.0[5], 1, "0.001 is the second of 0.0001, 0.001, 0.01, 0.1");
    let odd = space("[[dimension]]\nname = \"x\"\nrange = [0, 1]\nstep = 0.1\n").unwrap();
    let names: Vec<String> = (0..11)
        .map(|i| odd.format(&DeclaredCell(vec![i])))
        .collect();
    assert_eq!(names[3], "x=0.3", "rounded, not 0.30000000000000004");
    assert_eq!(names[10], "x=1");
    assert_eq!(odd.size(), Some(11));
}

#[test]
fn size_counts_members_under_conditions() {
    // depth 2: 4² widths; depth 3 or 4: × (width_extra 32 + width_extra 64 × 2 acts) = 3;
    // lr 4, cell 3³ = 27.
    let s = mixed();
    assert_eq!(s.size(), Some(16 * (1 + 2 * 3) * 4 * 27));
    assert_eq!(s.index(&s.sample(&mut rand::rng())), None);
}

#[test]
fn nb201_cells_fall_into_the_tables_6466_classes() {
    let ops: Vec<String> = NB201_OPS.iter().map(|o| format!("{o:?}")).collect();
    let s = space(&format!(
        "[[dimension]]\nname = \"cell\"\ntype = \"cell\"\nnodes = 4\nops = [{}]\n",
        ops.join(", ")
    ))
    .unwrap();
    assert_eq!(s.size(), Some(15_625));
    let data = Nb201Data::shipped().unwrap();
    // The same partition: each key is one iso_rep_index and each iso_rep_index one key.
    let mut by_key: HashMap<u64, u32> = HashMap::new();
    let mut by_rep: HashMap<u32, u64> = HashMap::new();
    for r in data.records() {
        let cell = DeclaredCell(r.cell.ops.iter().map(|&o| o as u16).collect());
        // The op ids are NAS-Bench-201's codes, in its edge order: the strings agree.
        let nb = crate::nb201::Nb201Space::new(data.clone());
        let edges: Vec<String> = nb
            .components(&r.cell)
            .into_iter()
            .map(|(e, o)| format!("cell[{e}]={o}"))
            .collect();
        assert_eq!(s.format(&cell), edges.join(" "));
        let k = s.iso_key(&cell);
        assert_eq!(*by_key.entry(k).or_insert(r.iso_rep_index), r.iso_rep_index);
        assert_eq!(*by_rep.entry(r.iso_rep_index).or_insert(k), k);
    }
    assert_eq!(by_key.len(), 6466);
}

#[test]
fn mixed_iso_keys_tell_other_dimensions_apart() {
    let s = mixed();
    let k = |x: &str| s.iso_key(&s.parse(x).unwrap());
    let w = "depth=2 width[0]=16 width[1]=16 lr=0.1";
    // The output is conv(x) in all three: through a skip from node 1, straight, or with a
    // conv from a zero node 1.
    let a = format!("{w} cell[1<-0]=conv cell[2<-0]=none cell[2<-1]=skip_connect");
    let b = format!("{w} cell[1<-0]=none cell[2<-0]=conv cell[2<-1]=none");
    let c = format!("{w} cell[1<-0]=none cell[2<-0]=conv cell[2<-1]=conv");
    assert_ne!(s.parse(&a).unwrap(), s.parse(&b).unwrap());
    assert_eq!(k(&a), k(&b));
    assert_eq!(k(&b), k(&c));
    // Another function, or another width: another key.
    assert_ne!(
        k(&a),
        k(&format!(
            "{w} cell[1<-0]=conv cell[2<-0]=none cell[2<-1]=conv"
        ))
    );
    assert_ne!(k(&a), k(&a.replace("width[0]=16", "width[0]=32")));
}

#[test]
fn parse_rejects_missing_inactive_unknown_and_repeated_keys() {
    let s = mixed();
    let ok =
        "depth=2 width[0]=16 width[1]=16 lr=0.1 cell[1<-0]=conv cell[2<-0]=none cell[2<-1]=conv";
    assert!(s.parse(ok).is_ok());
    for (bad, why) in [
        (ok.replace("depth=2 ", ""), "depth is missing"),
        (format!("{ok} width_extra=32"), "inactive"),
        (format!("{ok} colour=red"), "not a dimension"),
        (format!("{ok} lr=0.1"), "twice"),
        (ok.replace("lr=0.1", "lr=0.2"), "not one of"),
        (ok.replace("lr=0.1", "lr"), "name=value"),
    ] {
        let e = s.parse(&bad).unwrap_err().to_string();
        assert!(e.contains(why), "{bad}: {e}");
    }
}

#[test]
fn bad_spaces_name_the_dimension_and_key() {
    let dim = |body: &str| {
        format!("[[dimension]]\nname = \"a\"\nvalues = [1, 2]\n[[dimension]]\n{body}\n")
    };
    let cases: Vec<(String, &str, &str)> = vec![
        ("name = \"x\"\n".into(), "dimension", "no dimensions"),
        (dim("name = \"b\"\nvalues = []"), "dimension \"b\"", "`values` is empty"),
        (dim("name = \"a\"\nvalues = [3]"), "dimension \"a\"", "used by two"),
        (dim("name = \"b\"\nvalues = [1]\nrepeat = 0"), "dimension \"b\"", "`repeat` = 0"),
        (dim("name = \"b\"\nvalues = [1, 2]\nwhen = { c = [1] }"), "`when`", "unknown dimension \"c\""),
        (dim("name = \"b\"\nvalues = [1, 2]\nwhen = { a = [7] }"), "`when`", "\"7\" is not a value of \"a\""),
        (
            "[[dimension]]\nname = \"a\"\nvalues = [1, 2]\nwhen = { b = [1] }\n[[dimension]]\nname = \"b\"\nvalues = [1, 2]\nwhen = { a = [1] }\n".into(),
            "`when`",
            "cycle",
        ),
        (dim("name = \"b\"\nrange = [5, 1]"), "dimension \"b\"", "lo > hi"),
        (dim("name = \"b\"\nrange = [1, 5]\nstep = 0"), "dimension \"b\"", "`step` = 0"),
        (dim("name = \"b\"\nrange = [1, 5]\nstep = -1"), "dimension \"b\"", "must be positive"),
        (dim("name = \"b\"\nlog_range = [0, 1]"), "dimension \"b\"", "positive"),
        ("[[dimension]]\nname = \"a\"\nvalues = [1]\n".into(), "dimension", "one member"),
        (dim("name = \"b\"\ntype = \"cell\"\nnodes = 1\nops = [\"x\"]"), "dimension \"b\"", "`nodes` = 1"),
        (dim("name = \"b\"\ntype = \"cell\"\nnodes = 3\nops = []"), "dimension \"b\"", "`ops`"),
        (dim("name = \"b\"\ntype = \"cell\"\nnodes = 3"), "dimension \"b\"", "`ops`"),
        (dim("name = \"b\"\nvalues = [1]\nrange = [1, 2]"), "dimension \"b\"", "exactly one of"),
        (dim("name = \"b\"\nvalues = [\"a b\"]"), "dimension \"b\"", "whitespace"),
        (dim("name = \"b\"\nvalues = [1, 1]"), "dimension \"b\"", "twice"),
        (dim("name = \"b\"\nvalues = [1, 2]\nstep = 2"), "dimension \"b\"", "`step` does not apply"),
    ];
    for (text, key, why) in cases {
        let e = space(&text).unwrap_err();
        assert!(e.key.contains(key), "{text}: {e}");
        assert!(e.to_string().contains(why), "{text}: {e}");
        assert!(!e.to_string().contains('\n'));
    }
}

fn check_valid(s: &DeclaredSpace, c: &DeclaredCell) -> Result<(), TestCaseError> {
    prop_assert!(s.is_valid(c), "{}", s.format(c));
    Ok(())
}

proptest! {
    #[test]
    fn format_parse_round_trip_and_samples_are_valid(seed in any::<u64>()) {
        let s = mixed();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        for _ in 0..20 {
            let c = s.sample(&mut rng);
            check_valid(&s, &c)?;
            // Inactive dimensions hold the fixed token, active ones a value.
            let active = s.active_dims(&c);
            prop_assert_eq!(active[2], c.0[0] != 0, "width_extra active iff depth is 3 or 4");
            prop_assert_eq!(s.parse(&s.format(&c)).unwrap(), c.clone());
            let (names, _): (Vec<String>, Vec<String>) = s.components(&c).into_iter().unzip();
            prop_assert_eq!(names.contains(&"act".to_string()), active[3]);
        }
    }

    #[test]
    fn mutation_changes_one_active_position(seed in any::<u64>()) {
        let s = mixed();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let c = s.sample(&mut rng);
        for _ in 0..20 {
            let m = s.mutate(&c, &mut rng);
            check_valid(&s, &m)?;
            let (a, b) = (s.active_dims(&c), s.active_dims(&m));
            let names: Vec<&str> = s.position_names().collect();
            let changed: Vec<&str> = (0..c.0.len())
                .filter(|&p| c.0[p] != INACTIVE && m.0[p] != INACTIVE && c.0[p] != m.0[p])
                .map(|p| names[p])
                .collect();
            prop_assert_eq!(changed.len(), 1, "{} -> {}", s.format(&c), s.format(&m));
            // Only a changed parent turns dimensions on or off.
            if a != b {
                prop_assert!(["depth", "width_extra"].contains(&changed[0]), "{:?}", changed);
            }
        }
    }

    #[test]
    fn neighbours_are_distinct_valid_one_step_mutations(seed in any::<u64>()) {
        let s = mixed();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let c = s.sample(&mut rng);
        let n = s.neighbours(&c);
        let set: HashSet<&DeclaredCell> = n.iter().collect();
        prop_assert_eq!(set.len(), n.len());
        prop_assert!(!set.contains(&c));
        // depth 2, width ≤ 2 each, width_extra 1, act 1, lr ≤ 2, 3 edges × 2.
        prop_assert!(!n.is_empty() && n.len() <= 2 + 2 * 2 + 1 + 1 + 2 + 3 * 2);
        for m in &n {
            check_valid(&s, m)?;
            let changed = (0..c.0.len())
                .filter(|&p| c.0[p] != INACTIVE && m.0[p] != INACTIVE && c.0[p] != m.0[p])
                .count();
            prop_assert_eq!(changed, 1);
        }
    }

    #[test]
    fn sequences_have_one_length_and_tokens_below_the_vocabulary(seed in any::<u64>()) {
        let s = mixed();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        for enc in [SeqEncoding::Nao, SeqEncoding::Compact] {
            let c = s.sample(&mut rng);
            let seq = s.sequence(&c, enc);
            prop_assert_eq!(seq.len(), s.position_names().count());
            prop_assert!(seq.iter().all(|&t| (t as usize) < s.vocab_size(enc)));
            let one = s.one_hot(&c);
            prop_assert_eq!(one.len(), s.vocab_size(enc));
            prop_assert_eq!(one.iter().sum::<f32>() as usize, seq.len());
        }
    }
}

/// The shipped declared NAS-Bench-201 space and the `[benchmark.join]` of the example that
/// joins it to the shipped cifar10 table (paths made absolute).
fn shipped_join() -> (DeclaredSpace, JoinConfig) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let sp = SpaceConfig::from_file(&root.join("examples/spaces/nb201.space.toml")).unwrap();
    let text = std::fs::read_to_string(root.join("examples/declared_nb201_table.toml")).unwrap();
    let t: toml::Table = toml::from_str(&text).unwrap();
    let mut join: JoinConfig = t["benchmark"]["join"].clone().try_into().unwrap();
    join.description = root.join("examples").join(&join.description);
    (DeclaredSpace::new(&sp).unwrap(), join)
}

fn load_table(join: &JoinConfig) -> std::sync::Arc<crate::tabular::TabularTable> {
    let desc = crate::tabular::TabularDescription::from_file(&join.description).unwrap();
    std::sync::Arc::new(crate::tabular::TabularTable::load(&desc).unwrap())
}

#[test]
fn the_declared_nb201_space_joins_every_row_and_its_classes_are_the_tables() {
    use crate::evaluator::Evaluator;
    let (sp, join) = shipped_join();
    let table = load_table(&join);
    let joined = JoinedTable::new(&sp, table.clone(), &join).unwrap();
    let members = joined.members();
    assert_eq!((members.len(), table.len()), (15_625, 15_625));
    let tab = crate::tabular::TabularSpace::new(table.clone());
    let mut by_key: HashMap<u64, u64> = HashMap::new();
    let mut by_table: HashMap<u64, u64> = HashMap::new();
    let mut rng = rand::rng();
    for (r, m) in &members {
        assert!(sp.is_valid(m));
        assert_eq!(joined.row(m), Some(*r));
        let o = joined.evaluate(m, &mut rng).unwrap();
        assert_eq!(o.val_acc, table.objective()[*r]);
        // The table's `ops` cell (op codes, one per edge) is the member's ops, coded.
        let coded: String = m.0.iter().map(|v| v.to_string()).collect();
        assert_eq!(table.format_row(*r), coded);
        let (k, t) = (
            sp.iso_key(m),
            tab.iso_key(&crate::tabular::TabCell(*r as u32)),
        );
        assert_eq!(*by_key.entry(k).or_insert(t), t);
        assert_eq!(*by_table.entry(t).or_insert(k), k);
    }
    assert_eq!((by_key.len(), table.iso_classes()), (6466, 6466));
}

#[test]
fn bad_joins_name_their_key() {
    let (sp, join) = shipped_join();
    let table = load_table(&join);
    let err = |j: &JoinConfig| JoinedTable::new(&sp, table.clone(), j).unwrap_err();
    let mut j = join.clone();
    j.key = [("cel".to_string(), "ops".to_string())].into();
    assert!(
        err(&j).contains("`key`: \"cel\" is not a dimension"),
        "{}",
        err(&j)
    );
    j.key = [("cell".to_string(), "op".to_string())].into();
    assert!(
        err(&j).contains("\"op\" is not an architecture column"),
        "{}",
        err(&j)
    );
    let mut j = join.clone();
    j.values
        .get_mut("cell")
        .unwrap()
        .insert("conv".into(), "3".into());
    assert!(
        err(&j).contains("`values.cell`: \"conv\" is not a value"),
        "{}",
        err(&j)
    );
    // Without `values`, the op names are not the table's codes: nothing would be found.
    let mut j = join.clone();
    j.values.clear();
    assert!(err(&j).contains("no value of the dimensions joined to column \"ops\""));
    // A 3-node cell has 3 edges, the column 6 positions.
    let three = space(&format!(
        "[[dimension]]\nname = \"cell\"\ntype = \"cell\"\nnodes = 3\nops = [{}]\n",
        NB201_OPS.map(|o| format!("{o:?}")).join(", ")
    ))
    .unwrap();
    let e = JoinedTable::new(&three, table.clone(), &join).unwrap_err();
    assert!(
        e.contains("column \"ops\" has 6 positions, its dimensions 3"),
        "{e}"
    );
    // A dimension left out of `key`.
    let two = space(&format!(
        "[[dimension]]\nname = \"cell\"\ntype = \"cell\"\nnodes = 4\nops = [{}]\n\
         [[dimension]]\nname = \"lr\"\nvalues = [1, 2]\n",
        NB201_OPS.map(|o| format!("{o:?}")).join(", ")
    ))
    .unwrap();
    let e = JoinedTable::new(&two, table.clone(), &join).unwrap_err();
    assert!(e.contains("dimension \"lr\" names no column"), "{e}");
}

#[test]
fn the_declared_darts_space_joins_every_nb301_genotype_by_several_dimensions_a_column() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let sp = SpaceConfig::from_file(&root.join("examples/spaces/darts.space.toml")).unwrap();
    let sp = DeclaredSpace::new(&sp).unwrap();
    let text =
        std::fs::read_to_string(root.join("examples/predictors_nb301_declared.toml")).unwrap();
    let t: toml::Table = toml::from_str(&text).unwrap();
    let mut join: JoinConfig = t["benchmark"]["join"].clone().try_into().unwrap();
    join.description = root.join("examples").join(&join.description);
    let table = load_table(&join);
    let joined = JoinedTable::new(&sp, table.clone(), &join).unwrap();
    let members = joined.members();
    assert_eq!((members.len(), table.len()), (1218, 1218));
    for (r, m) in &members {
        assert_eq!(joined.row(m), Some(*r));
        // The columns' cells, read back from the member: ops, then node k's two inputs.
        let v: HashMap<String, String> = sp.components(m).into_iter().collect();
        let cell = |name: &dyn Fn(usize) -> String| {
            (0..8)
                .map(|i| v[&name(i)].clone())
                .collect::<Vec<_>>()
                .join(" ")
        };
        let row = table.format_row(*r);
        let normal_ops = cell(&|i| format!("normal_op[{i}]"));
        let normal_in = cell(&|i| format!("normal_in{}[{}]", i / 2, i % 2));
        assert!(
            row.starts_with(&format!("{normal_ops} | {normal_in} | ")),
            "{row}"
        );
    }
    // Uniform members mostly repeat an input of some node: not DARTS genotypes, not in the table.
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let found = (0..2000)
        .filter(|_| joined.row(&sp.sample(&mut rng)).is_some())
        .count();
    assert_eq!(found, 0);
}

#[test]
fn a_space_error_gives_the_line_of_the_key_it_names() {
    let file = "name = \"s\"\n\n[[dimension]]\nname = \"depth\"\nvalues = [2, 3]\n\n[[dimension]]\nname = \"w\"\nvalues = [1, 2]\nwhen = { depht = [2] }\n";
    let e = space(file).unwrap_err();
    assert_eq!(e.line_in(file, false), Some(10), "{e}");
    let empty = file.replace("values = [1, 2]", "values = []");
    let e = space(&empty).unwrap_err();
    assert_eq!(
        e.line_in(&empty, false),
        Some(8),
        "the dimension's name: {e}"
    );
    // Inline in an experiment file, under [benchmark.space].
    let inline = format!(
        "name = \"x\"\n[benchmark]\ntype = \"declared\"\n{}",
        file.replace("[[dimension]]", "[[benchmark.space.dimension]]")
            .replace("name = \"s\"\n", "[benchmark.space]\nname = \"s\"\n")
    );
    let e = space(file).unwrap_err();
    assert_eq!(e.line_in(&inline, true), Some(14), "{e}");
    // A key the text does not hold: no line.
    assert_eq!(e.line_in("name = \"s\"\n", false), None);
}

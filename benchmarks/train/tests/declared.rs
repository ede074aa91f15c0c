//! Training declared cell spaces: any node count trains on the digits, the declared NAS-Bench-201
//! cell trains bit for bit as the built-in one, and a space train cannot build is refused with
//! the dimension and key. Run in release (`cargo test --release -p emprox-train --test declared`).

use emprox_benchmarks::declared::{DeclaredSpace, SpaceConfig};
use emprox_benchmarks::evaluator::Evaluator;
use emprox_benchmarks::nb201::Cell;
use emprox_benchmarks::seed;
use emprox_benchmarks::SearchSpace;
use emprox_train::{DeclaredTraining, TrainingConfig, TrainingEvaluator};
use rand::SeedableRng;

const OPS: &str = r#"["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]"#;

fn space(text: &str) -> DeclaredSpace {
    DeclaredSpace::new(&toml::from_str::<SpaceConfig>(text).unwrap()).unwrap()
}

fn cell_space(nodes: usize, ops: &str) -> DeclaredSpace {
    space(&format!(
        "[[dimension]]\nname = \"cell\"\ntype = \"cell\"\nnodes = {nodes}\nops = {ops}\n"
    ))
}

fn quick() -> TrainingEvaluator {
    TrainingEvaluator::new(TrainingConfig {
        channels: 4,
        epochs: 2,
        batch_size: 32,
        max_train_images: 320,
        ..Default::default()
    })
    .unwrap()
}

#[test]
fn the_declared_nb201_cell_trains_bit_for_bit_as_the_built_in_one() {
    let sp = cell_space(4, OPS);
    let declared = DeclaredTraining::new(quick(), &sp).unwrap();
    let built_in = quick();
    for (arch, s) in [
        ("|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|nor_conv_3x3~2|", 7),
        ("|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_3x3~0|none~1|nor_conv_1x1~2|", 11),
    ] {
        let cell: Cell = arch.parse().unwrap();
        // The same edges, written as the declared space's members.
        let names = ["1<-0", "2<-0", "2<-1", "3<-0", "3<-1", "3<-2"];
        let member = names
            .iter()
            .zip(cell.ops)
            .map(|(e, op)| format!("cell[{e}]={}", op.name()))
            .collect::<Vec<_>>()
            .join(" ");
        let member = sp.parse(&member).unwrap();
        assert_eq!(declared.graph(&member).to_string(), arch);
        let a = declared
            .evaluate(&member, &mut seed::Rng::seed_from_u64(s))
            .unwrap();
        let b = built_in
            .evaluate(&cell, &mut seed::Rng::seed_from_u64(s))
            .unwrap();
        assert_eq!(a.val_acc.to_bits(), b.val_acc.to_bits(), "{arch}");
        assert_eq!(a.test_acc.unwrap().to_bits(), b.test_acc.unwrap().to_bits());
        let loss = |o: &emprox_benchmarks::evaluator::Outcome| {
            o.extras.iter().find(|(k, _)| k == "final_train_loss").unwrap().1
        };
        assert_eq!(loss(&a).to_bits(), loss(&b).to_bits());
    }
}

#[test]
fn cells_of_three_and_five_nodes_train_on_the_digits() {
    for (nodes, edges) in [(3, 3), (5, 10)] {
        let sp = cell_space(nodes, OPS);
        let ev = DeclaredTraining::new(quick(), &sp).unwrap();
        // A ResNet-like cell: a chain of 3×3 convolutions i-1 → i, and the input skipped to
        // the output.
        let last = nodes - 1;
        let member = sp
            .position_names()
            .map(|p| {
                let (to, from) = p[5..p.len() - 1].split_once("<-").unwrap();
                let (to, from): (usize, usize) = (to.parse().unwrap(), from.parse().unwrap());
                let op = match (to, from) {
                    _ if from + 1 == to => "nor_conv_3x3",
                    (t, 0) if t == last => "skip_connect",
                    _ => "none",
                };
                format!("{p}={op}")
            })
            .collect::<Vec<_>>()
            .join(" ");
        let member = sp.parse(&member).unwrap();
        let g = ev.graph(&member);
        assert_eq!((g.nodes, g.ops.len()), (nodes, edges));
        assert_eq!(g.to_string().matches('~').count(), edges);
        let r = ev
            .training()
            .train(&g, 3)
            .unwrap_or_else(|e| panic!("{nodes} nodes: {e}"));
        // 10 classes: chance is 10%; 2 short epochs of a conv cell are well above it.
        assert!(r.val_acc > 30.0, "{nodes} nodes: val {}", r.val_acc);
        // A cell's parameters grow with its convolutions: nine 3×3 kernels of 4×4 channels
        // and a batch norm each (nodes - 1 of them) in the first stage alone.
        assert!(
            r.params > (nodes - 1) * (9 * 16 + 8),
            "{nodes} nodes: {}",
            r.params
        );
        eprintln!(
            "{nodes} nodes: val {:.2}% test {:.2}%",
            r.val_acc, r.test_acc
        );
        // Through the Evaluator trait, as the engine calls it.
        let o = ev
            .evaluate(&member, &mut seed::Rng::seed_from_u64(1))
            .unwrap();
        assert!(o.val_acc > 10.0 && o.test_acc.is_some());
    }
}

#[test]
fn a_space_train_cannot_build_names_the_op_or_the_dimension() {
    let e =
        DeclaredTraining::new(quick(), &cell_space(4, r#"["none", "sep_conv_3x3"]"#)).unwrap_err();
    assert!(
        e.contains("dimension \"cell\", `ops`") && e.contains("\"sep_conv_3x3\""),
        "{e}"
    );
    assert!(e.contains("nor_conv_1x1") && !e.contains('\n'), "{e}");
    let two = space(&format!(
        "[[dimension]]\nname = \"cell\"\ntype = \"cell\"\nnodes = 3\nops = {OPS}\n\
         [[dimension]]\nname = \"lr\"\nvalues = [0.1, 0.01]\n"
    ));
    let e = DeclaredTraining::new(quick(), &two).unwrap_err();
    assert!(
        e.contains("dimension \"lr\"") && e.contains("exactly one"),
        "{e}"
    );
    let none = space("[[dimension]]\nname = \"lr\"\nvalues = [0.1, 0.01]\n");
    let e = DeclaredTraining::new(quick(), &none).unwrap_err();
    assert!(e.contains("dimension \"lr\""), "{e}");
}

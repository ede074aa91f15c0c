//! A filter's refit at 150 evaluated cells (NAS-Bench-201 CIFAR-10), side by side: today's
//! shipped filter estimator (EmProx with its encoder pre-trained on 2,000 cells: the refit is the
//! embedding and kNN only), EmProx with the paper's settings (trained at every fit), and
//! `emprox_supervised` afresh and as its default warm refit (continuing the fit at 140 cells).
//! `RAYON_NUM_THREADS=1 cargo bench -p emprox-estimators --bench refit`.

use criterion::{criterion_group, criterion_main, Criterion};
use emprox_benchmarks::nb201::{Dataset, Nb201Data, Nb201Space};
use emprox_benchmarks::seed;
use emprox_estimators::emprox::supervised::SupervisedParams;
use emprox_estimators::emprox::EmproxSettings;
use emprox_estimators::evaluation::splits;
use emprox_estimators::{Estimator, EstimatorParams};

fn bench(c: &mut Criterion) {
    let space = Nb201Space::new(Nb201Data::shipped().unwrap());
    let s = splits::sample(&space, None, 0, 0, 150, 100);
    let cells: Vec<_> = s.train.iter().map(|&i| space.cell_at(i).unwrap()).collect();
    let y: Vec<f64> = s
        .train
        .iter()
        .map(|&i| {
            let row = space.data().by_index(i).unwrap();
            row.metrics(Dataset::Cifar10).val_acc
        })
        .collect();
    let mut g = c.benchmark_group("refit150");
    g.sample_size(10);
    let cases = [
        (
            "emprox_pretrained",
            EstimatorParams::Emprox(EmproxSettings {
                pretrain: 2000,
                ..Default::default()
            }),
        ),
        ("emprox_paper", EstimatorParams::Emprox(Default::default())),
        (
            "emprox_supervised_afresh",
            EstimatorParams::EmproxSupervised(SupervisedParams {
                warm_steps: None,
                ..Default::default()
            }),
        ),
        (
            "emprox_supervised",
            EstimatorParams::EmproxSupervised(Default::default()),
        ),
    ];
    for (name, kind) in cases {
        let est: Box<dyn Estimator<Nb201Space>> = kind.build().unwrap();
        let rng = || seed::stream(0, "bench");
        // The fit a search made 10 evaluations earlier (it also warms EmProx's encoder cache).
        let previous = est
            .fit(&space, &cells[..140], &y[..140], &mut rng())
            .unwrap();
        g.bench_function(name, |b| {
            b.iter(|| {
                est.refit(&space, &cells, &y, &mut rng(), previous.as_ref())
                    .unwrap()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

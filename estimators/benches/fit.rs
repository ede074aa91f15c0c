//! Fit and query times at the headline size (NAS-Bench-201 CIFAR-10, n = 121, 200 queries),
//! measured side by side: `cargo bench -p emprox-estimators --bench fit`.
//! Set `RAYON_NUM_THREADS=1` as the `emprox` binary does (candle matmuls single-threaded).

use criterion::{criterion_group, criterion_main, Criterion};
use emprox_benchmarks::nb201::{Dataset, Nb201Data, Nb201Space};
use emprox_benchmarks::seed;
use emprox_estimators::evaluation::splits;
use emprox_estimators::{Estimator, EstimatorParams};

fn bench(c: &mut Criterion) {
    let space = Nb201Space::new(Nb201Data::shipped().unwrap());
    let s = splits::sample(&space, None, 0, 0, 121, 200);
    let cells = |v: &[usize]| -> Vec<_> { v.iter().map(|&i| space.cell_at(i).unwrap()).collect() };
    let (xtr, xte) = (cells(&s.train), cells(&s.test));
    let ytr: Vec<f64> = s
        .train
        .iter()
        .map(|&i| {
            space
                .data()
                .by_index(i)
                .unwrap()
                .metrics(Dataset::Cifar10)
                .val_acc
        })
        .collect();
    let mut g = c.benchmark_group("n121");
    g.sample_size(10);
    for kind in [
        EstimatorParams::Emprox(Default::default()),
        EstimatorParams::Nao(Default::default()),
        EstimatorParams::Gbdt(Default::default()),
        EstimatorParams::MlpEnsemble(Default::default()),
    ] {
        let est: Box<dyn Estimator<Nb201Space>> = kind.build().unwrap();
        g.bench_function(format!("fit/{}", kind.name()), |b| {
            b.iter(|| {
                est.fit(&space, &xtr, &ytr, &mut seed::stream(0, "bench"))
                    .unwrap()
            })
        });
        let fitted = est
            .fit(&space, &xtr, &ytr, &mut seed::stream(0, "bench"))
            .unwrap();
        g.bench_function(format!("query200/{}", kind.name()), |b| {
            b.iter(|| fitted.predict(&space, &xte).unwrap())
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

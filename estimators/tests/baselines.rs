//! Each baseline, with its default hyperparameters, ranks a held-out NAS-Bench-201 set clearly
//! better than `random` (n = 121, 200 test cells, CIFAR-10 validation accuracy).

use emprox_benchmarks::nb201::{Dataset, Nb201Data, Nb201Space};
use emprox_benchmarks::seed;
use emprox_estimators::evaluation::splits;
use emprox_estimators::metrics::{kendall_tau, Metrics};
use emprox_estimators::{Estimator, EstimatorParams};

fn tau_of(kind: &EstimatorParams) -> (f64, Metrics) {
    let space = Nb201Space::new(Nb201Data::shipped().unwrap());
    let s = splits::sample(&space, None, 0, 1, 121, 200);
    let acc = |i: &usize| {
        space
            .data()
            .by_index(*i)
            .unwrap()
            .metrics(Dataset::Cifar10)
            .val_acc
    };
    let xtr: Vec<_> = s.train.iter().map(|&i| space.cell_at(i).unwrap()).collect();
    let xte: Vec<_> = s.test.iter().map(|&i| space.cell_at(i).unwrap()).collect();
    let ytr: Vec<f64> = s.train.iter().map(acc).collect();
    let yte: Vec<f64> = s.test.iter().map(acc).collect();
    let est: Box<dyn Estimator<Nb201Space>> = kind.build().unwrap();
    let fitted = est
        .fit(&space, &xtr, &ytr, &mut seed::stream(3, kind.name()))
        .unwrap();
    let pred = fitted.predict(&space, &xte).unwrap();
    assert_eq!(pred.len(), 200);
    assert!(pred.iter().all(|p| p.is_finite()));
    (kendall_tau(&yte, &pred), Metrics::compute(&yte, &pred))
}

#[test]
fn baselines_beat_random() {
    let (random, _) = tau_of(&EstimatorParams::Random(Default::default()));
    assert!(random.abs() < 0.15, "random tau {random}");
    for (kind, floor) in [
        (EstimatorParams::KnnOnehot(Default::default()), 0.3),
        (EstimatorParams::Gbdt(Default::default()), 0.3),
        (EstimatorParams::MlpEnsemble(Default::default()), 0.4),
        (EstimatorParams::Nao(Default::default()), 0.3),
    ] {
        let (tau, m) = tau_of(&kind);
        eprintln!(
            "{}: tau {tau:.3} (random {random:.3}), MAE {:.2}",
            kind.name(),
            m.mae
        );
        assert!(tau > floor && tau > random + 0.2, "{kind:?}: {tau}");
    }
}

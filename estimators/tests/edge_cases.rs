//! Tiny, constant and malformed training sets: clear errors or finite predictions, never a panic.

use emprox_benchmarks::nb201::{Nb201Data, Nb201Space};
use emprox_benchmarks::{seed, SearchSpace};
use emprox_estimators::{Estimator, EstimatorError, EstimatorParams};

#[test]
fn tiny_and_constant_training_sets() {
    let space = Nb201Space::new(Nb201Data::shipped().unwrap());
    let cells: Vec<_> = (0..7).map(|i| space.cell_at(i * 1000).unwrap()).collect();
    for kind in EstimatorParams::all() {
        let est: Box<dyn Estimator<Nb201Space>> = kind.build().unwrap();
        let min = est.needs().min_train_size.max(1);
        let mut rng = seed::stream(0, kind.name());
        for targets in [vec![70.0; min], (0..min).map(|i| 60.0 + i as f64).collect()] {
            let fitted = est.fit(&space, &cells[..min], &targets, &mut rng).unwrap();
            let p = fitted.predict(&space, &cells[2..]).unwrap();
            assert_eq!(p.len(), 5);
            assert!(p.iter().all(|x| x.is_finite()), "{kind:?}: {p:?}");
        }
        if min > 1 {
            let e = est
                .fit(&space, &cells[..1], &[1.0], &mut rng)
                .err()
                .unwrap();
            assert!(matches!(e, EstimatorError::Data(_)), "{kind:?}");
        }
        let e = est
            .fit(&space, &cells[..3], &[1.0, 2.0], &mut rng)
            .err()
            .unwrap();
        assert!(
            e.to_string().contains("3 architectures but 2 targets"),
            "{e}"
        );
        let e = est
            .fit(&space, &cells[..2], &[1.0, f64::NAN], &mut rng)
            .err()
            .unwrap();
        assert!(e.to_string().contains("non-finite"), "{e}");
        assert!(est.fit(&space, &[], &[], &mut rng).is_err());
    }
    // A constant training set: kNN-based predictions equal the constant.
    let est: Box<dyn Estimator<Nb201Space>> = EstimatorParams::KnnOnehot(Default::default())
        .build()
        .unwrap();
    let f = est
        .fit(&space, &cells[..4], &[5.0; 4], &mut seed::stream(0, "c"))
        .unwrap();
    assert!(f
        .predict(&space, &cells[4..])
        .unwrap()
        .iter()
        .all(|&p| (p - 5.0).abs() < 1e-12));
    let _ = space.name();
}

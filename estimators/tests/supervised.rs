//! `emprox_supervised`: EmProx over an embedding learnt from the accuracies ranks a held-out
//! NAS-Bench-201 set well, bit for bit the same for the same seed, and a warm refit continues
//! the previous fit's encoders (NAS-Bench-201, n = 121, 200 test cells, CIFAR-10 validation).

use emprox_benchmarks::nb201::{Cell as Nb201Cell, Dataset, Nb201Data, Nb201Space};
use emprox_benchmarks::seed;
use emprox_estimators::emprox::supervised::SupervisedParams;
use emprox_estimators::evaluation::splits;
use emprox_estimators::metrics::kendall_tau;
use emprox_estimators::{Estimator, EstimatorParams};

struct Data {
    space: Nb201Space,
    xtr: Vec<Nb201Cell>,
    ytr: Vec<f64>,
    xte: Vec<Nb201Cell>,
    yte: Vec<f64>,
}

fn data(trial: usize) -> Data {
    let space = Nb201Space::new(Nb201Data::shipped().unwrap());
    let s = splits::sample(&space, None, 0, trial, 121, 200);
    let acc = |i: &usize| {
        let row = space.data().by_index(*i).unwrap();
        row.metrics(Dataset::Cifar10).val_acc
    };
    let cells = |v: &[usize]| v.iter().map(|&i| space.cell_at(i).unwrap()).collect();
    Data {
        xtr: cells(&s.train),
        xte: cells(&s.test),
        ytr: s.train.iter().map(acc).collect(),
        yte: s.test.iter().map(acc).collect(),
        space,
    }
}

fn build(p: SupervisedParams) -> Box<dyn Estimator<Nb201Space>> {
    EstimatorParams::EmproxSupervised(p).build().unwrap()
}

#[test]
fn ranks_held_out_cells_well_and_repeats_bit_for_bit() {
    let d = data(1);
    let est = build(SupervisedParams::default());
    let fit = |s| {
        est.fit(&d.space, &d.xtr, &d.ytr, &mut seed::stream(s, "sup"))
            .unwrap()
            .predict(&d.space, &d.xte)
            .unwrap()
    };
    let pred = fit(3);
    let tau = kendall_tau(&d.yte, &pred);
    // 0.63 on average over 20 trials (docs/results.md); random scores give about 0.
    assert!(tau > 0.5, "tau {tau}");
    let again = fit(3);
    assert!(
        pred.iter()
            .zip(&again)
            .all(|(a, b)| a.to_bits() == b.to_bits()),
        "the same seed gives the same predictions"
    );
    assert_ne!(pred, fit(4), "another seed draws other encoders");
}

#[test]
fn a_warm_refit_continues_the_previous_encoders() {
    let d = data(2);
    let warm = build(SupervisedParams {
        warm_steps: Some(20),
        ..Default::default()
    });
    let cold = build(SupervisedParams {
        warm_steps: None,
        ..Default::default()
    });
    let rng = || seed::stream(5, "refit");
    let previous = warm
        .fit(&d.space, &d.xtr[..100], &d.ytr[..100], &mut rng())
        .unwrap();
    let refit = |e: &dyn Estimator<Nb201Space>| {
        e.refit(&d.space, &d.xtr, &d.ytr, &mut rng(), previous.as_ref())
            .unwrap()
            .predict(&d.space, &d.xte)
            .unwrap()
    };
    let continued = refit(warm.as_ref());
    // Without warm_steps a refit is a fresh fit.
    let fresh = cold
        .fit(&d.space, &d.xtr, &d.ytr, &mut rng())
        .unwrap()
        .predict(&d.space, &d.xte)
        .unwrap();
    assert_eq!(refit(cold.as_ref()), fresh);
    assert_ne!(
        continued, fresh,
        "20 steps from the previous weights, not 300 afresh"
    );
    assert_eq!(continued, refit(warm.as_ref()), "deterministic");
    let tau = kendall_tau(&d.yte, &continued);
    assert!(tau > 0.45, "a warm refit still ranks well: tau {tau}");
}

#[test]
fn fixed_k_and_regression_only_also_rank() {
    let d = data(3);
    for p in [
        SupervisedParams {
            k: 5,
            ..Default::default()
        },
        SupervisedParams {
            rank_weight: 0.0,
            residual: true,
            ..Default::default()
        },
    ] {
        let pred = build(p.clone())
            .fit(&d.space, &d.xtr, &d.ytr, &mut seed::stream(1, "sup"))
            .unwrap()
            .predict(&d.space, &d.xte)
            .unwrap();
        let tau = kendall_tau(&d.yte, &pred);
        assert!(tau > 0.45, "{p:?}: tau {tau}");
    }
}

#[test]
fn regression_only_draws_no_ranking_pairs() {
    // n = 121: 14,520 ordered pairs, more than 2 (a sample would be drawn from the fit's
    // stream) and fewer than 10^7 (every pair, nothing drawn). With `rank_weight = 0` neither
    // draws: the fits, and the stream after them, are the same.
    let d = data(4);
    let fit = |rank_pairs| {
        let mut rng = seed::stream(2, "sup");
        let pred = build(SupervisedParams {
            rank_weight: 0.0,
            rank_pairs,
            ..Default::default()
        })
        .fit(&d.space, &d.xtr, &d.ytr, &mut rng)
        .unwrap()
        .predict(&d.space, &d.xte)
        .unwrap();
        (pred, rand::Rng::random::<u64>(&mut rng))
    };
    let (sampled, after_sampled) = fit(2);
    let (every, after_every) = fit(10_000_000);
    let tau = kendall_tau(&d.yte, &sampled);
    assert!(tau > 0.45, "regression only still ranks: tau {tau}");
    assert!(
        sampled
            .iter()
            .zip(&every)
            .all(|(a, b)| a.to_bits() == b.to_bits()),
        "the second and third encoders start from the same draws"
    );
    assert_eq!(
        after_sampled, after_every,
        "no pair was drawn from the stream"
    );
}

#[test]
fn bad_settings_are_refused_with_the_key() {
    let e = SupervisedParams {
        ensemble_size: 32,
        layers: 16,
        width: 4096,
        ..Default::default()
    }
    .check()
    .err()
    .unwrap();
    assert!(e.contains("`ensemble_size` × `layers` × `width`²"), "{e}");
    let too_few = build(SupervisedParams::default()).fit(
        &data(0).space,
        &data(0).xtr[..1],
        &[90.0],
        &mut seed::stream(0, "x"),
    );
    assert!(too_few.is_err());
}

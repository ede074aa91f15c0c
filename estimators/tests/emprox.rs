//! EmProx end to end on NAS-Bench-201: reconstruction, ranking, persistence, reproducibility and
//! the pre-training cache. Release build (`cargo test --release`): a fit takes well under 1 s.

use emprox_benchmarks::nb201::{Cell, Dataset, Nb201Data, Nb201Space};
use emprox_benchmarks::{seed, SearchSpace, SeqEncoding};
use emprox_estimators::emprox::model::Seq2Seq;
use emprox_estimators::emprox::{persist, pretrain, train, EmProx, EmProxParams};
use emprox_estimators::evaluation::splits;
use emprox_estimators::metrics::kendall_tau;
use emprox_estimators::{Estimator, EstimatorConfig, EstimatorParams};

fn space() -> Nb201Space {
    Nb201Space::new(Nb201Data::shipped().unwrap())
}

/// Trial-0 split (n = 121 train, 200 test), cells and CIFAR-10 validation accuracies.
fn split(space: &Nb201Space) -> (Vec<Cell>, Vec<f64>, Vec<Cell>, Vec<f64>) {
    let s = splits::sample(space, None, 0, 0, 121, 200);
    let acc = |i: usize| {
        space
            .data()
            .by_index(i)
            .unwrap()
            .metrics(Dataset::Cifar10)
            .val_acc
    };
    let cells = |v: &[usize]| v.iter().map(|&i| space.cell_at(i).unwrap()).collect();
    let ys = |v: &[usize]| v.iter().map(|&i| acc(i)).collect();
    (cells(&s.train), ys(&s.train), cells(&s.test), ys(&s.test))
}

/// Compact sequences (one token per edge): 400 training sequences, 50 epochs at lr 3e-3 reach
/// exact greedy reconstruction of held-out cells in about 0.4 s. (The 35-token NAO sequence needs
/// about 400 epochs to get there, ~25 s: measured in estimators/RESULTS.md, too slow for a test.)
#[test]
fn reconstruction_accuracy_exceeds_95_percent_on_held_out_sequences() {
    let space = space();
    let mut p = EmProxParams::default().net;
    p.encoding = SeqEncoding::Compact;
    p.train.lr = 3e-3;
    let mut rng = seed::stream(1, "reconstruction");
    let seqs = |n: usize, rng: &mut seed::Rng| -> Vec<Vec<u32>> {
        (0..n)
            .map(|_| space.sequence(&space.sample(rng), SeqEncoding::Compact))
            .collect()
    };
    let train_set = seqs(400, &mut rng);
    let held_out = seqs(200, &mut rng);
    let net = Seq2Seq::new(p.shape(space.vocab_size(SeqEncoding::Compact)), &mut rng).unwrap();
    let (before, _) = net.reconstruction_accuracy(&held_out).unwrap();
    train::train(&net, &train_set, None, &p.train, &mut rng).unwrap();
    let (tokens, whole) = net.reconstruction_accuracy(&held_out).unwrap();
    eprintln!(
        "greedy reconstruction: tokens {before:.3} -> {tokens:.3}, whole sequences {whole:.3}"
    );
    assert!(tokens > 0.95, "token accuracy {tokens}");
    assert!(whole > 0.8, "whole-sequence accuracy {whole}");
    assert!(
        before < 0.5,
        "an untrained decoder should not reconstruct ({before})"
    );
}

#[test]
fn fitted_emprox_ranks_better_than_random_saves_loads_and_reproduces() {
    let space = space();
    let (xtr, ytr, xte, yte) = split(&space);
    let emprox: Box<dyn Estimator<Nb201Space>> =
        EstimatorParams::Emprox(Default::default()).build().unwrap();
    let random: Box<dyn Estimator<Nb201Space>> =
        EstimatorParams::Random(Default::default()).build().unwrap();
    let fitted = emprox
        .fit(&space, &xtr, &ytr, &mut seed::stream(7, "fit"))
        .unwrap();
    let pred = fitted.predict(&space, &xte).unwrap();
    let tau = kendall_tau(&yte, &pred);
    let r = random
        .fit(&space, &xtr, &ytr, &mut seed::stream(7, "fit"))
        .unwrap()
        .predict(&space, &xte)
        .unwrap();
    let tau_random = kendall_tau(&yte, &r);
    eprintln!("tau emprox {tau:.3}, random {tau_random:.3}");
    assert!(
        tau > 0.4 && tau > tau_random + 0.25,
        "{tau} vs {tau_random}"
    );

    // Save / load: identical predictions.
    let dir = tempfile::tempdir().unwrap();
    fitted.save(dir.path()).unwrap();
    let loaded = persist::load(dir.path(), &space).unwrap();
    let again = emprox_estimators::FittedEstimator::predict(&loaded, &space, &xte).unwrap();
    assert_eq!(pred, again);
    assert!(dir.path().join("weights.safetensors").exists());

    // Same seed: same predictions; another seed: other predictions.
    let same = emprox
        .fit(&space, &xtr, &ytr, &mut seed::stream(7, "fit"))
        .unwrap()
        .predict(&space, &xte)
        .unwrap();
    assert_eq!(pred, same);
    let other = emprox
        .fit(&space, &xtr, &ytr, &mut seed::stream(8, "fit"))
        .unwrap()
        .predict(&space, &xte)
        .unwrap();
    assert_ne!(pred, other);
}

#[test]
fn pretrained_encoder_is_trained_once_and_refits_are_cheap() {
    let space = space();
    let (xtr, ytr, xte, yte) = split(&space);
    let params = EmProxParams {
        pretrain: 300,
        pretrain_epochs: 10,
        pretrain_seed: 12345, // a key no other test uses
        ..EmProxParams::default()
    };
    let est = EmProx { params };
    let before = pretrain::trained_count();
    let t0 = std::time::Instant::now();
    let a = est
        .fit(&space, &xtr, &ytr, &mut seed::stream(1, "a"))
        .unwrap();
    let first = t0.elapsed();
    let t1 = std::time::Instant::now();
    let b = est
        .fit(&space, &xtr[..60], &ytr[..60], &mut seed::stream(2, "b"))
        .unwrap();
    let refit = t1.elapsed();
    assert_eq!(pretrain::trained_count(), before + 1);
    assert!(refit < first / 3, "refit {refit:?} vs first fit {first:?}");
    // The encoder does not depend on the fit's RNG or labelled set: equal inputs, equal outputs.
    let c = est
        .fit(&space, &xtr, &ytr, &mut seed::stream(99, "c"))
        .unwrap();
    assert_eq!(
        a.predict(&space, &xte).unwrap(),
        c.predict(&space, &xte).unwrap()
    );
    let tau = kendall_tau(&yte, &b.predict(&space, &xte).unwrap());
    assert!(tau > 0.2, "pretrained EmProx with 60 labels: tau {tau}");
}

#[test]
fn a_step_budget_equal_to_the_epochs_gives_the_same_model() {
    let space = space();
    let (xtr, ytr, xte, _) = split(&space);
    let fit = |toml_text: &str| {
        let c: EstimatorConfig = toml::from_str(toml_text).unwrap();
        let e: Box<dyn Estimator<Nb201Space>> = c.build().unwrap();
        e.fit(
            &space,
            &xtr[..40],
            &ytr[..40],
            &mut seed::stream(5, "steps"),
        )
        .unwrap()
        .predict(&space, &xte)
        .unwrap()
    };
    // 40 sequences at batch 100: one step per epoch.
    let by_epochs = fit("type = \"emprox\"\nepochs = 30");
    assert_eq!(by_epochs, fit("type = \"emprox\"\nsteps = 30"));
    assert_ne!(by_epochs, fit("type = \"emprox\"\nsteps = 31"));
}

/// `reference_epochs` keeps the last N epochs' training-time embeddings as kNN references (the
/// authors' code), and they change the predictions but not the fitted encoder; `warm_epochs`
/// refits from the previous fit's weights, in fewer epochs, and still ranks better than chance.
/// Neither goes with a pre-trained encoder.
#[test]
fn epoch_references_and_warm_refits() {
    let space = space();
    let (xtr, ytr, xte, yte) = split(&space);
    let fit = |p: EmProxParams| {
        EmProx { params: p }
            .fit(&space, &xtr, &ytr, &mut seed::stream(5, "fit"))
            .unwrap()
    };
    let plain = fit(EmProxParams::default());
    let refs = fit(EmProxParams {
        reference_epochs: 50,
        ..EmProxParams::default()
    });
    let (p0, p1) = (
        plain.predict(&space, &xte).unwrap(),
        refs.predict(&space, &xte).unwrap(),
    );
    assert_ne!(p0, p1, "50 x 121 more reference points change the kNN");
    let tau = kendall_tau(&p1, &yte);
    assert!(tau > 0.2, "tau with epoch references {tau}");
    let dir = tempfile::tempdir().unwrap();
    assert!(refs.save(dir.path()).is_err());

    // A warm refit on 10 more cells starts from the first fit and trains 5 epochs.
    let warm = EmProx {
        params: EmProxParams {
            warm_epochs: Some(5),
            ..EmProxParams::default()
        },
    };
    let first = warm
        .fit(&space, &xtr[..111], &ytr[..111], &mut seed::stream(6, "a"))
        .unwrap();
    // Predictions of `e` refitted after `first`, and fitted afresh, with the same stream.
    let refit = |e: &EmProx| {
        e.refit(
            &space,
            &xtr,
            &ytr,
            &mut seed::stream(6, "b"),
            first.as_ref(),
        )
        .unwrap()
        .predict(&space, &xte)
        .unwrap()
    };
    let cold = |e: &EmProx| {
        e.fit(&space, &xtr, &ytr, &mut seed::stream(6, "b"))
            .unwrap()
            .predict(&space, &xte)
            .unwrap()
    };
    let pw = refit(&warm);
    assert_ne!(
        pw,
        cold(&warm),
        "the warm refit starts from the first fit's weights"
    );
    let tau = kendall_tau(&pw, &yte);
    assert!(tau > 0.2, "tau after a warm refit {tau}");
    // Without warm_epochs, refit is a fresh fit.
    let fresh = EmProx {
        params: EmProxParams::default(),
    };
    assert_eq!(refit(&fresh), cold(&fresh));
    let c: EstimatorConfig =
        toml::from_str("type = \"emprox\"\npretrain = 100\nwarm_epochs = 5").unwrap();
    let e = c.build::<Nb201Space>().err().unwrap().to_string();
    assert!(e.contains("need `pretrain` = 0"), "{e}");
}

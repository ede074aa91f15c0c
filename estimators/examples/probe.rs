//! Quick probe: fit EmProx on n random NB201 cells, report tau on 200 others and fit time.
use emprox_benchmarks::nb201::{Dataset, Nb201Data, Nb201Space};
use emprox_benchmarks::seed;
use emprox_estimators::emprox::{EmProx, EmProxParams};
use emprox_estimators::metrics::kendall_tau;
use emprox_estimators::Estimator;
use rand::seq::SliceRandom;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).map_or(121, |a| a.parse().unwrap());
    let trials: u64 = args.get(2).map_or(3, |a| a.parse().unwrap());
    let data = Nb201Data::shipped().unwrap();
    let space = Nb201Space::new(data.clone());
    let mut p = EmProxParams::default();
    if let Some(e) = args.get(3) {
        p.net.train.epochs = e.parse().unwrap();
    }
    if let Some(h) = args.get(4) {
        p.net.hidden_size = h.parse().unwrap();
    }
    if let Some(k) = args.get(5) {
        p.k = k.parse().unwrap();
    }
    if let Some(v) = args.get(6) {
        p.net.train.lr = v.parse().unwrap();
    }
    if let Some(v) = args.get(7) {
        p.net.embedding_size = v.parse().unwrap();
    }
    if let Some(v) = args.get(8) {
        p.net.train.batch_size = v.parse().unwrap();
    }
    let est = EmProx { params: p };
    let mut taus = vec![];
    for t in 0..trials {
        let mut rng = seed::stream(t, "probe");
        let mut idx: Vec<usize> = (0..15625).collect();
        idx.shuffle(&mut rng);
        let cells: Vec<_> = idx.iter().map(|&i| space.cell_at(i).unwrap()).collect();
        let y: Vec<f64> = idx
            .iter()
            .map(|&i| data.by_index(i).unwrap().metrics(Dataset::Cifar10).val_acc)
            .collect();
        let t0 = std::time::Instant::now();
        let f = Estimator::<Nb201Space>::fit(&est, &space, &cells[..n], &y[..n], &mut rng).unwrap();
        let fit = t0.elapsed().as_secs_f64();
        let t1 = std::time::Instant::now();
        let pred = f.predict(&space, &cells[n..n + 200]).unwrap();
        let q = t1.elapsed().as_secs_f64();
        let tau = kendall_tau(&y[n..n + 200], &pred);
        taus.push(tau);
        println!(
            "trial {t}: tau {tau:.4} fit {fit:.3}s query {:.2e}s/arch",
            q / 200.0
        );
    }
    println!(
        "mean tau {:.4}",
        taus.iter().sum::<f64>() / taus.len() as f64
    );
}

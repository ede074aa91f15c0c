//! Scratch: greedy reconstruction accuracy after training on n sampled NB201 sequences.
use emprox_benchmarks::nb201::{Nb201Data, Nb201Space};
use emprox_benchmarks::{seed, SearchSpace, SeqEncoding};
use emprox_estimators::emprox::model::Seq2Seq;
use emprox_estimators::emprox::{train, EmProxParams};

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let n: usize = a[1].parse().unwrap();
    let mut p = EmProxParams::default().net;
    p.train.epochs = a[2].parse().unwrap();
    p.train.lr = a[3].parse().unwrap();
    let enc = if a.get(4).map(|s| s.as_str()) == Some("compact") {
        SeqEncoding::Compact
    } else {
        SeqEncoding::Nao
    };
    p.encoding = enc;
    let space = Nb201Space::new(Nb201Data::shipped().unwrap());
    let mut rng = seed::stream(1, "reconstruction");
    let mut seqs = |n: usize| -> Vec<Vec<u32>> {
        (0..n)
            .map(|_| space.sequence(&space.sample(&mut rng), enc))
            .collect()
    };
    let tr = seqs(n);
    let te = seqs(200);
    let mut rng = seed::stream(2, "x");
    let net = Seq2Seq::new(p.shape(space.vocab_size(enc)), &mut rng).unwrap();
    let t = std::time::Instant::now();
    let loss = train::train(&net, &tr, None, &p.train, &mut rng).unwrap();
    let el = t.elapsed().as_secs_f64();
    let (tok, whole) = net.reconstruction_accuracy(&te).unwrap();
    let (tok_tr, _) = net.reconstruction_accuracy(&tr[..200.min(n)]).unwrap();
    println!("n {n} ep {} lr {}: loss {loss:.4} test tokens {tok:.3} whole {whole:.3} train tokens {tok_tr:.3} ({el:.2}s)", p.train.epochs, p.train.lr);
}

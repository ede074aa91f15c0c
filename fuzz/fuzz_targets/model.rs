#![no_main]
//! A saved EmProx model (`model.json`, then a NUL byte, then `weights.safetensors`: JSON holds
//! no NUL) loaded for NAS-Bench-201: never panics; a model that loads predicts finite scores or
//! returns an error.
use emprox_benchmarks::nb201::{Nb201Data, Nb201Space};
use emprox_estimators::emprox::persist;
use emprox_estimators::FittedEstimator;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn space() -> &'static Nb201Space {
    static S: OnceLock<Nb201Space> = OnceLock::new();
    S.get_or_init(|| Nb201Space::new(Nb201Data::shipped().expect("the shipped NB201 table")))
}

fuzz_target!(|data: &[u8]| {
    let (json, weights) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let dir = std::env::temp_dir().join(format!("emprox-fuzz-model-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("model.json"), json).unwrap();
    std::fs::write(dir.join("weights.safetensors"), weights).unwrap();
    let space = space();
    if let Ok(m) = persist::load(&dir, space) {
        let cells: Vec<_> = [0, 1, 7000, 15624]
            .iter()
            .map(|&i| space.cell_at(i).unwrap())
            .collect();
        if let Ok(p) = FittedEstimator::<Nb201Space>::predict(&m, space, &cells) {
            assert_eq!(p.len(), cells.len());
            assert!(p.iter().all(|x| x.is_finite()), "{p:?}");
        }
    }
});

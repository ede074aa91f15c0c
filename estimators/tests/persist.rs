//! A saved EmProx that is malformed gives an error when loaded, never a panic, an abort or a NaN
//! prediction: an empty reference set, a huge or inconsistent shape, NaN or infinite weights.

use candle_core::{Device, Tensor};
use emprox_benchmarks::nb201::{Nb201Data, Nb201Space};
use emprox_benchmarks::{seed, SearchSpace};
use emprox_estimators::emprox::persist;
use emprox_estimators::{Estimator, EstimatorConfig, EstimatorError, FittedEstimator};
use std::path::Path;

fn space() -> Nb201Space {
    Nb201Space::new(Nb201Data::shipped().unwrap())
}

/// A small EmProx (2 epochs on 20 cells), saved into a fresh folder.
fn saved(space: &Nb201Space) -> tempfile::TempDir {
    let c: EstimatorConfig = toml::from_str("type = \"emprox\"\nepochs = 2").unwrap();
    let est: Box<dyn Estimator<Nb201Space>> = c.build().unwrap();
    let cells: Vec<_> = (0..20).map(|i| space.cell_at(i * 700).unwrap()).collect();
    let y: Vec<f64> = (0..20).map(|i| 50.0 + i as f64).collect();
    let fitted = est
        .fit(space, &cells, &y, &mut seed::stream(1, "persist"))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    fitted.save(dir.path()).unwrap();
    dir
}

fn edit_json(dir: &Path, f: impl FnOnce(&mut serde_json::Value)) {
    let p = dir.join("model.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    f(&mut v);
    std::fs::write(&p, serde_json::to_string(&v).unwrap()).unwrap();
}

fn edit_weights(dir: &Path, name: &str, value: f32) {
    let p = dir.join("weights.safetensors");
    let mut t = candle_core::safetensors::load(&p, &Device::Cpu).unwrap();
    let old = &t[name];
    let mut v: Vec<f32> = old.flatten_all().unwrap().to_vec1().unwrap();
    v[0] = value;
    let new = Tensor::from_vec(v, old.dims(), &Device::Cpu).unwrap();
    t.insert(name.to_string(), new);
    candle_core::safetensors::save(&t, &p).unwrap();
}

fn load_err(dir: &Path, space: &Nb201Space) -> String {
    match persist::load(dir, space) {
        Ok(_) => panic!("a malformed model loaded"),
        Err(e) => {
            assert!(matches!(e, EstimatorError::Model(_)), "{e:?}");
            e.to_string()
        }
    }
}

#[test]
fn a_good_model_loads_and_predicts_finite_scores() {
    let space = space();
    let dir = saved(&space);
    let m = persist::load(dir.path(), &space).unwrap();
    let cells: Vec<_> = (0..5).map(|i| space.cell_at(i * 11).unwrap()).collect();
    let p = FittedEstimator::<Nb201Space>::predict(&m, &space, &cells).unwrap();
    assert!(p.iter().all(|x| x.is_finite()), "{p:?}");
}

#[test]
fn an_empty_reference_set_is_an_error() {
    let space = space();
    let dir = saved(&space);
    edit_json(dir.path(), |v| v["reference"] = serde_json::json!([]));
    let e = load_err(dir.path(), &space);
    assert!(e.contains("reference set is empty"), "{e}");
}

#[test]
fn a_huge_embedding_size_is_an_error_before_any_allocation() {
    let space = space();
    let dir = saved(&space);
    edit_json(dir.path(), |v| {
        v["shape"]["embedding_size"] = serde_json::json!(1_000_000_000_000u64);
        v["params"]["net"]["embedding_size"] = serde_json::json!(1_000_000_000_000u64);
    });
    let e = load_err(dir.path(), &space);
    assert!(e.contains("embedding_size"), "{e}");
}

#[test]
fn a_shape_inconsistent_with_the_params_or_the_tensors_is_an_error() {
    let space = space();
    let dir = saved(&space);
    edit_json(dir.path(), |v| {
        v["shape"]["hidden_size"] = serde_json::json!(8)
    });
    let e = load_err(dir.path(), &space);
    assert!(e.contains("does not match the hyperparameters"), "{e}");
    // Consistent JSON, but the tensors were saved for another size.
    let dir = saved(&space);
    edit_json(dir.path(), |v| {
        v["shape"]["embedding_size"] = serde_json::json!(16);
        v["params"]["net"]["embedding_size"] = serde_json::json!(16);
    });
    let e = load_err(dir.path(), &space);
    assert!(e.contains("has shape") && e.contains("expected"), "{e}");
    // A vocabulary that is not the space's.
    let dir = saved(&space);
    edit_json(dir.path(), |v| v["shape"]["vocab"] = serde_json::json!(3));
    let e = load_err(dir.path(), &space);
    assert!(e.contains("vocab"), "{e}");
}

#[test]
fn nan_or_infinite_weights_are_an_error() {
    let space = space();
    for (value, name) in [
        (f32::NAN, "enc_emb"),
        (f32::INFINITY, "enc_f_whh"),
        (f32::NEG_INFINITY, "enc_proj_b"),
    ] {
        let dir = saved(&space);
        edit_weights(dir.path(), name, value);
        let e = load_err(dir.path(), &space);
        assert!(e.contains(name) && e.contains("NaN or infinite"), "{e}");
    }
}

#[test]
fn a_non_finite_target_is_an_error() {
    let space = space();
    let dir = saved(&space);
    // JSON has no NaN; a number too large for f64 is the nearest thing.
    edit_json(dir.path(), |v| {
        v["reference"][0][1] = serde_json::json!(123456.789)
    });
    let p = dir.path().join("model.json");
    let text = std::fs::read_to_string(&p).unwrap();
    assert_eq!(text.matches("123456.789").count(), 1);
    std::fs::write(&p, text.replace("123456.789", "1e999")).unwrap();
    let e = match persist::load(dir.path(), &space) {
        Ok(_) => panic!("loaded"),
        Err(e) => e.to_string(),
    };
    assert!(
        e.contains("non-finite") || e.contains("1e999") || e.contains("number"),
        "{e}"
    );
    let _ = space.name();
}

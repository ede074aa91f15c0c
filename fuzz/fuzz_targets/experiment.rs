#![no_main]
//! The experiment-file parser and validator: never panic on any text.
use emprox_engine::config::{parse_toml, Experiment};
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let path = Path::new("fuzz.toml");
        if let Ok(exp) = parse_toml::<Experiment>(text, path) {
            let _ = exp.validate(path);
        }
        let _ = parse_toml::<emprox_engine::compare::Comparison>(text, path);
    }
});

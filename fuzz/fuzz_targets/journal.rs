#![no_main]
//! The journal reader: never panics; the valid prefix ends at a line boundary.
use emprox_engine::journal::{parse, Trial};
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    if let Ok(c) = parse::<Trial>(data, Path::new("trials.jsonl")) {
        let n = c.valid_len as usize;
        assert!(n <= data.len());
        assert!(n == 0 || data[n - 1] == b'\n');
    }
    let _ = parse::<serde_json::Value>(data, Path::new("pools.jsonl"));
});

#![no_main]
//! The result cache: opening a file of any bytes never panics, leaves only whole lines in the
//! file, and opening it again changes nothing and finds the same entries.
use emprox_engine::pipeline::cache::CacheFile;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = std::env::temp_dir().join(format!("emprox-fuzz-cache-{}.jsonl", std::process::id()));
    std::fs::write(&path, data).unwrap();
    let Ok(first) = CacheFile::open(&path) else {
        return;
    };
    let after = std::fs::read(&path).unwrap();
    assert!(
        after.is_empty() || after.ends_with(b"\n"),
        "a torn last line is left"
    );
    let keys: Vec<String> = after
        .split(|&b| b == b'\n')
        .filter_map(|l| serde_json::from_slice::<serde_json::Value>(l).ok())
        .map(|v| {
            v["key"]
                .as_str()
                .expect("a kept line has a key")
                .to_string()
        })
        .collect();
    for l in after.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        assert!(
            serde_json::from_slice::<serde_json::Value>(l).is_ok(),
            "a kept line is torn"
        );
    }
    let second = CacheFile::open(&path).expect("a repaired cache opens again");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        after,
        "a second open changed the file"
    );
    for k in &keys {
        let (a, b) = (first.get(k), second.get(k));
        assert_eq!(
            serde_json::to_string(&a).unwrap(),
            serde_json::to_string(&b).unwrap(),
            "{k:?}"
        );
    }
});

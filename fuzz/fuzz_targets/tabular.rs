#![no_main]
//! A tabular description (TOML) and its CSV table, the input split at its first NUL byte (a
//! TOML text holds none): never panics; every loaded row's architecture string parses back to
//! that row, whose index is its data row in the file.
use emprox_benchmarks::tabular::{TabularDescription, TabularSpace, TabularTable};
use emprox_benchmarks::SearchSpace;
use libfuzzer_sys::fuzz_target;
use std::path::Path;
use std::sync::Arc;

fuzz_target!(|data: &[u8]| {
    let (desc, csv) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let Ok(text) = std::str::from_utf8(desc) else {
        return;
    };
    let Ok(d) = TabularDescription::from_toml_str(text, Path::new("fuzz.tabular.toml")) else {
        return;
    };
    let Ok(table) = TabularTable::from_csv_bytes(&d, csv, Path::new("fuzz.csv")) else {
        return;
    };
    let space = TabularSpace::new(Arc::new(table));
    for cell in space.all_cells() {
        let s = space.format(&cell);
        let back = space
            .parse(&s)
            .unwrap_or_else(|e| panic!("row {}: {s:?}: {e}", cell.row()));
        assert_eq!(back, cell, "{s:?}");
        assert_eq!(
            space.index(&cell),
            Some(space.table().file_row(cell.row()) as u64)
        );
    }
});

#![no_main]
//! The NB201 arch-string parser: never panics; whatever parses formats back to itself.
use emprox_benchmarks::nb201::Cell;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(cell) = Cell::parse(s) {
            let again = Cell::parse(&cell.to_string()).expect("a formatted cell parses");
            assert_eq!(again, cell);
        }
    }
});

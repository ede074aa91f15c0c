//! Which SIMD instructions the kernels run on: the widest this CPU has (AVX-512, AVX2 or the
//! portable code, chosen at run time by `pulp`), or one set by [`set_level`].
//!
//! No kernel's bits depend on it: each result is computed in the same order at every width
//! (lanes hold different results, never parts of one sum), and plain float code compiled for
//! wider vectors rounds the same (Rust neither reassociates nor contracts float arithmetic).
//! `benchmarks/train/tests/simd_bits.rs` trains a network at each level and compares the bits.

use pulp::Arch;
use std::sync::atomic::{AtomicU8, Ordering};

/// An instruction-set level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// The widest this CPU has (the default).
    Detected,
    /// No explicit SIMD: the code as compiled for the target's baseline.
    Portable,
    /// x86-64 AVX2 and FMA.
    Avx2,
    /// x86-64 AVX-512 (F, BW, CD, DQ, VL).
    Avx512,
}

static LEVEL: AtomicU8 = AtomicU8::new(0);
const LEVELS: [Level; 4] = [Level::Detected, Level::Portable, Level::Avx2, Level::Avx512];

/// Makes every kernel of this process run at `level` from now on. Returns false, changing
/// nothing, if this CPU lacks it.
pub fn set_level(level: Level) -> bool {
    if arch_of(level).is_none() {
        return false;
    }
    let i = LEVELS.iter().position(|&l| l == level).expect("listed");
    LEVEL.store(i as u8, Ordering::Relaxed);
    true
}

/// The levels this CPU has, [`Level::Detected`] first.
pub fn available() -> Vec<Level> {
    LEVELS
        .into_iter()
        .filter(|&l| arch_of(l).is_some())
        .collect()
}

fn arch_of(level: Level) -> Option<Arch> {
    match level {
        Level::Detected => Some(Arch::new()),
        Level::Portable => Some(Arch::Scalar),
        #[cfg(target_arch = "x86_64")]
        Level::Avx2 => pulp::x86::V3::try_new().map(Arch::V3),
        #[cfg(target_arch = "x86_64")]
        Level::Avx512 => pulp::x86::V4::try_new().map(Arch::V4),
        #[cfg(not(target_arch = "x86_64"))]
        Level::Avx2 | Level::Avx512 => None,
    }
}

/// The instruction set in force.
pub(crate) fn arch() -> Arch {
    let level = LEVELS[LEVEL.load(Ordering::Relaxed) as usize];
    arch_of(level).unwrap_or_default()
}

/// Runs `f` compiled for the instruction set in force, so that its plain loops vectorise as
/// wide as the CPU allows (same bits at every width: see the module doc).
#[inline(always)]
pub(crate) fn vectorize<R>(f: impl FnOnce() -> R) -> R {
    arch().dispatch(f)
}

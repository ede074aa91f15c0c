//! The one helper every CPU kernel needs: the contiguous `f32` slice behind a storage and layout.

use candle_core::{bail, CpuStorage, Layout, Result};

/// The `f32` values of `s` under layout `l`, which must be contiguous; `op` names the kernel in
/// the error.
pub fn f32_slice<'a>(s: &'a CpuStorage, l: &Layout, op: &str) -> Result<&'a [f32]> {
    let data = match s {
        CpuStorage::F32(v) => v,
        _ => bail!("{op}: only f32 is supported"),
    };
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&data[a..b]),
        None => bail!("{op}: inputs must be contiguous"),
    }
}

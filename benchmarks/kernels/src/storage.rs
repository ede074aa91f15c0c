//! The one helper every CPU kernel needs: the contiguous `f32` slice behind a storage and layout
//! (in a forward pass), or behind a tensor (in a backward pass).

use candle_core::{bail, CpuStorage, Layout, Result, Storage, Tensor};

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

/// Calls `f` on the `f32` values of the CPU tensor `t`, which must be contiguous, without
/// copying them out (as `to_vec1` would).
pub fn with_f32<R>(t: &Tensor, op: &str, f: impl FnOnce(&[f32]) -> R) -> Result<R> {
    let (s, l) = t.storage_and_layout();
    match &*s {
        Storage::Cpu(cs) => Ok(f(f32_slice(cs, l, op)?)),
        _ => bail!("{op}: only CPU tensors are supported"),
    }
}

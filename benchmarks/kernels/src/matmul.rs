//! One single-threaded `gemm` call on strided `f32` slices, shared by the LSTM and convolution
//! kernels (single-threaded so that results do not depend on the thread count).

/// `dst[m×n] = (acc ? dst : 0) + lhs[m×k] · rhs[k×n]`, all row/column strides in elements.
#[allow(clippy::too_many_arguments)]
#[inline]
pub(crate) fn mm(
    (m, n, k): (usize, usize, usize),
    dst: &mut [f32],
    (dst_rs, dst_cs): (isize, isize),
    acc: bool,
    lhs: &[f32],
    (lhs_rs, lhs_cs): (isize, isize),
    rhs: &[f32],
    (rhs_rs, rhs_cs): (isize, isize),
) {
    let end = |rows: usize, cols: usize, rs: isize, cs: isize| {
        (rows.saturating_sub(1)) as isize * rs + (cols.saturating_sub(1)) as isize * cs
    };
    assert!(end(m, n, dst_rs, dst_cs) < dst.len() as isize);
    assert!(end(m, k, lhs_rs, lhs_cs) < lhs.len() as isize);
    assert!(end(k, n, rhs_rs, rhs_cs) < rhs.len() as isize);
    // SAFETY: the asserts above keep every accessed element inside the slices; dst does not alias
    // lhs or rhs (distinct borrows).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            dst_cs,
            dst_rs,
            acc,
            lhs.as_ptr(),
            lhs_cs,
            lhs_rs,
            rhs.as_ptr(),
            rhs_cs,
            rhs_rs,
            1.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        )
    }
}

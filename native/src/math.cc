// Element-wise math, comparisons, reductions, shape manipulation and FFTs.
#include "bridge.h"

using namespace bridge;

#define UNARY(name, expr)                                   \
  DJL_NATIVE(jlong, name)(JNIEnv * env, jobject, jlong h) { \
    BRIDGE_TRY                                              \
    const at::Tensor& t = tensor(h);                        \
    return wrap(expr);                                      \
    BRIDGE_CATCH(0)                                         \
  }

#define BINARY(name, expr)                                            \
  DJL_NATIVE(jlong, name)(JNIEnv * env, jobject, jlong h1, jlong h2) { \
    BRIDGE_TRY                                                        \
    const at::Tensor& a = tensor(h1);                                 \
    const at::Tensor& b = tensor(h2);                                 \
    return wrap(expr);                                                \
    BRIDGE_CATCH(0)                                                   \
  }

#define INPLACE(name, expr)                                          \
  DJL_NATIVE(void, name)(JNIEnv * env, jobject, jlong h1, jlong h2) { \
    BRIDGE_TRY                                                       \
    at::Tensor& a = tensor(h1);                                      \
    const at::Tensor& b = tensor(h2);                                \
    expr;                                                            \
    BRIDGE_CATCH()                                                   \
  }

// ---- arithmetic ---------------------------------------------------------------------------------

BINARY(torchAdd, a.add(b))
BINARY(torchSub, a.sub(b))
BINARY(torchMul, a.mul(b))
BINARY(torchTrueDivide, a.div(b))
BINARY(torchRemainder, a.remainder(b))
BINARY(torchPow, a.pow(b))
BINARY(torchMatmul, a.matmul(b))
BINARY(torchBmm, a.bmm(b))
BINARY(torchXLogY, at::xlogy(a, b))
BINARY(torchDot, a.dot(b))
BINARY(torchMaximum, at::maximum(a, b))
BINARY(torchMinimum, at::minimum(a, b))
BINARY(torchAtan2, a.atan2(b))
INPLACE(torchAddi, a.add_(b))
INPLACE(torchSubi, a.sub_(b))
INPLACE(torchMuli, a.mul_(b))
INPLACE(torchTrueDividei, a.div_(b))
INPLACE(torchRemainderi, a.remainder_(b))
INPLACE(torchPowi, a.pow_(b))

UNARY(torchSign, t.sign())
UNARY(torchNeg, t.neg())
UNARY(torchAbs, t.abs())
UNARY(torchSquare, t.square())
UNARY(torchFloor, t.floor())
UNARY(torchCeil, t.ceil())
UNARY(torchRound, t.round())
UNARY(torchTrunc, t.trunc())
UNARY(torchExp, t.exp())
UNARY(torchLgamma, t.lgamma())
UNARY(torchLog, t.log())
UNARY(torchLog10, t.log10())
UNARY(torchLog2, t.log2())
UNARY(torchSin, t.sin())
UNARY(torchCos, t.cos())
UNARY(torchTan, t.tan())
UNARY(torchASin, t.asin())
UNARY(torchAcos, t.acos())
UNARY(torchAtan, t.atan())
UNARY(torchSqrt, t.sqrt())
UNARY(torchSinh, t.sinh())
UNARY(torchCosh, t.cosh())
UNARY(torchTanh, t.tanh())
UNARY(torchSigmoid, t.sigmoid())
UNARY(torchErfinv, t.erfinv())
UNARY(torchErf, t.erf())
UNARY(torchInverse, at::inverse(t))
UNARY(torchIsNaN, t.isnan())
UNARY(torchIsInf, t.isinf())
UNARY(conj, t.conj())

DJL_NATIVE(void, torchSigni)(JNIEnv* env, jobject, jlong h) {
  BRIDGE_TRY
  tensor(h).sign_();
  BRIDGE_CATCH()
}

DJL_NATIVE(void, torchNegi)(JNIEnv* env, jobject, jlong h) {
  BRIDGE_TRY
  tensor(h).neg_();
  BRIDGE_CATCH()
}

// Bounds arrive as one-element tensors (DJL creates them from Java numbers).
DJL_NATIVE(jlong, torchClamp)(JNIEnv* env, jobject, jlong h, jlong minHandle, jlong maxHandle) {
  BRIDGE_TRY
  const at::Tensor& t = tensor(h);
  at::Tensor lo = tensor(minHandle).to(t.device(), t.scalar_type());
  at::Tensor hi = tensor(maxHandle).to(t.device(), t.scalar_type());
  return wrap(at::clamp(t, lo, hi));
  BRIDGE_CATCH(0)
}

// ---- logic and comparison -----------------------------------------------------------------------

BINARY(torchLogicalAnd, a.logical_and(b))
BINARY(torchLogicalOr, a.logical_or(b))
BINARY(torchLogicalXor, a.logical_xor(b))
UNARY(torchLogicalNot, t.logical_not())
BINARY(torchEq, a.eq(b))
BINARY(torchNeq, a.ne(b))
BINARY(torchGt, a.gt(b))
BINARY(torchGte, a.ge(b))
BINARY(torchLt, a.lt(b))
BINARY(torchLte, a.le(b))
UNARY(torchAll, t.all())
UNARY(torchAny, t.any())
UNARY(torchNone, t.any().logical_not())

DJL_NATIVE(jboolean, contentEqual)(JNIEnv* env, jobject, jlong h1, jlong h2) {
  BRIDGE_TRY
  const at::Tensor& a = tensor(h1);
  const at::Tensor& b = tensor(h2);
  if (a.scalar_type() != b.scalar_type() || a.sizes() != b.sizes()) {
    return JNI_FALSE;
  }
  return a.equal(b.to(a.device()));
  BRIDGE_CATCH(JNI_FALSE)
}

DJL_NATIVE(jlong, torchWhere)(JNIEnv* env, jobject, jlong condition, jlong x, jlong y) {
  BRIDGE_TRY
  return wrap(at::where(tensor(condition), tensor(x), tensor(y)));
  BRIDGE_CATCH(0)
}

// ---- reductions ---------------------------------------------------------------------------------

UNARY(torchArgMax__J, t.argmax())
UNARY(torchArgMin__J, t.argmin())
UNARY(torchMax__J, t.max())
UNARY(torchMin__J, t.min())
UNARY(torchMean__J, t.mean())
UNARY(torchSum__J, t.sum())
UNARY(torchProd__J, t.prod())

DJL_NATIVE(jlong, torchArgMax__JJZ)(JNIEnv* env, jobject, jlong h, jlong dim, jboolean keepDim) {
  BRIDGE_TRY
  return wrap(tensor(h).argmax(dim, keepDim));
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jlong, torchArgMin__JJZ)(JNIEnv* env, jobject, jlong h, jlong dim, jboolean keepDim) {
  BRIDGE_TRY
  return wrap(tensor(h).argmin(dim, keepDim));
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jlong, torchMax__JJZ)(JNIEnv* env, jobject, jlong h, jlong dim, jboolean keepDim) {
  BRIDGE_TRY
  return wrap(std::get<0>(tensor(h).max(dim, keepDim)));
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jlong, torchMin__JJZ)(JNIEnv* env, jobject, jlong h, jlong dim, jboolean keepDim) {
  BRIDGE_TRY
  return wrap(std::get<0>(tensor(h).min(dim, keepDim)));
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jlong, torchMean__JJZ)(JNIEnv* env, jobject, jlong h, jlong dim, jboolean keepDim) {
  BRIDGE_TRY
  return wrap(tensor(h).mean(dim, keepDim));
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jlong, torchSum__J_3JZ)(JNIEnv* env, jobject, jlong h, jlongArray dims, jboolean keepDim) {
  BRIDGE_TRY
  return wrap(tensor(h).sum(longs(env, dims), keepDim));
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jlong, torchProd__JJZ)(JNIEnv* env, jobject, jlong h, jlong dim, jboolean keepDim) {
  BRIDGE_TRY
  return wrap(tensor(h).prod(dim, keepDim));
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jlong, torchCumSum)(JNIEnv* env, jobject, jlong h, jlong dim) {
  BRIDGE_TRY
  return wrap(tensor(h).cumsum(dim));
  BRIDGE_CATCH(0)
}

// dtype -1: keep the input's type.
DJL_NATIVE(jlong, torchCumProd)(JNIEnv* env, jobject, jlong h, jlong dim, jint dtype) {
  BRIDGE_TRY
  if (dtype < 0) {
    return wrap(tensor(h).cumprod(dim));
  }
  return wrap(tensor(h).cumprod(dim, scalarType(dtype)));
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jlongArray, torchMedian)(JNIEnv* env, jobject, jlong h, jlong dim, jboolean keepDim) {
  BRIDGE_TRY
  auto r = tensor(h).median(dim, keepDim);
  return wrapAll(env, {std::get<0>(r), std::get<1>(r)});
  BRIDGE_CATCH(nullptr)
}

DJL_NATIVE(jlong, torchQuantile)(JNIEnv* env, jobject, jlong h, jfloat q, jlong dim, jboolean keepDim) {
  BRIDGE_TRY
  return wrap(tensor(h).quantile(static_cast<double>(q), dim, keepDim));
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jlongArray, torchTopK)(JNIEnv* env, jobject, jlong h, jlong k, jlong axis, jboolean largest,
                                  jboolean sorted) {
  BRIDGE_TRY
  auto r = tensor(h).topk(k, axis, largest, sorted);
  return wrapAll(env, {std::get<0>(r), std::get<1>(r)});
  BRIDGE_CATCH(nullptr)
}

DJL_NATIVE(jlong, torchArgSort)(JNIEnv* env, jobject, jlong h, jlong dim, jboolean descending) {
  BRIDGE_TRY
  return wrap(tensor(h).argsort(dim, descending));
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jlong, torchSort)(JNIEnv* env, jobject, jlong h, jlong dim, jboolean descending) {
  BRIDGE_TRY
  return wrap(std::get<0>(tensor(h).sort(dim, descending)));
  BRIDGE_CATCH(0)
}

// Vector norm over the given axes (all when none), or the matrix norm for two axes, as
// torch.linalg.norm defines them.
DJL_NATIVE(jlong, torchNorm)(JNIEnv* env, jobject, jlong h, jint ord, jlongArray axes, jboolean keepDims) {
  BRIDGE_TRY
  std::vector<int64_t> dims = longs(env, axes);
  const at::Tensor& t = tensor(h);
  if (dims.empty()) {
    return wrap(at::linalg_vector_norm(t, ord, c10::nullopt, keepDims));
  }
  return wrap(at::linalg_norm(t, at::Scalar(static_cast<double>(ord)), dims, keepDims));
  BRIDGE_CATCH(0)
}

UNARY(torchNonZeros, t.nonzero())

DJL_NATIVE(jlong, torchDiff)(JNIEnv* env, jobject, jlong h, jint n, jint dim) {
  BRIDGE_TRY
  return wrap(tensor(h).diff(n, dim));
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jlong, torchSoftmax)(JNIEnv* env, jobject, jlong h, jlong dim, jint dtype) {
  BRIDGE_TRY
  return wrap(tensor(h).softmax(dim, scalarType(dtype)));
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jlong, torchLogSoftmax)(JNIEnv* env, jobject, jlong h, jlong dim, jint dtype) {
  BRIDGE_TRY
  return wrap(tensor(h).log_softmax(dim, scalarType(dtype)));
  BRIDGE_CATCH(0)
}

// ---- shapes -------------------------------------------------------------------------------------

DJL_NATIVE(jlong, torchReshape)(JNIEnv* env, jobject, jlong h, jlongArray shape) {
  BRIDGE_TRY
  return wrap(tensor(h).reshape(longs(env, shape)));
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jlong, torchExpand)(JNIEnv* env, jobject, jlong h, jlongArray shape) {
  BRIDGE_TRY
  return wrap(tensor(h).expand(longs(env, shape)));
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jlong, torchPermute)(JNIEnv* env, jobject, jlong h, jlongArray dims) {
  BRIDGE_TRY
  return wrap(tensor(h).permute(longs(env, dims)));
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jlong, torchFlip)(JNIEnv* env, jobject, jlong h, jlongArray dims) {
  BRIDGE_TRY
  return wrap(tensor(h).flip(longs(env, dims)));
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jlong, torchTranspose)(JNIEnv* env, jobject, jlong h, jlong a, jlong b) {
  BRIDGE_TRY
  return wrap(tensor(h).transpose(a, b));
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jlong, torchRot90)(JNIEnv* env, jobject, jlong h, jlong k, jlongArray axes) {
  BRIDGE_TRY
  return wrap(tensor(h).rot90(k, longs(env, axes)));
  BRIDGE_CATCH(0)
}

// pad lists (before, after) pairs from the last dimension backwards, as torch.nn.functional.pad.
DJL_NATIVE(jlong, torchPad)(JNIEnv* env, jobject, jlong h, jlongArray pad, jdouble value) {
  BRIDGE_TRY
  return wrap(at::constant_pad_nd(tensor(h), longs(env, pad), value));
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jlong, torchDiagonal)(JNIEnv* env, jobject, jlong h, jlong offset, jlong a, jlong b) {
  BRIDGE_TRY
  return wrap(tensor(h).diagonal(offset, a, b));
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jlong, torchFlatten)(JNIEnv* env, jobject, jlong h, jlong start, jlong end) {
  BRIDGE_TRY
  return wrap(tensor(h).flatten(start, end));
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jlongArray, torchSplit__JJJ)(JNIEnv* env, jobject, jlong h, jlong size, jlong dim) {
  BRIDGE_TRY
  return wrapAll(env, tensor(h).split(size, dim));
  BRIDGE_CATCH(nullptr)
}

// Java turns split points into section sizes before calling.
DJL_NATIVE(jlongArray, torchSplit__J_3JJ)(JNIEnv* env, jobject, jlong h, jlongArray sizes, jlong dim) {
  BRIDGE_TRY
  return wrapAll(env, tensor(h).split_with_sizes(longs(env, sizes), dim));
  BRIDGE_CATCH(nullptr)
}

DJL_NATIVE(jlong, torchUnsqueeze)(JNIEnv* env, jobject, jlong h, jlong dim) {
  BRIDGE_TRY
  return wrap(tensor(h).unsqueeze(dim));
  BRIDGE_CATCH(0)
}

UNARY(torchSqueeze__J, t.squeeze())

DJL_NATIVE(jlong, torchSqueeze__JJ)(JNIEnv* env, jobject, jlong h, jlong dim) {
  BRIDGE_TRY
  return wrap(tensor(h).squeeze(dim));
  BRIDGE_CATCH(0)
}

// Always three arrays: unique values, inverse indices and counts (the latter two empty when not
// asked for). dim -1 flattens.
DJL_NATIVE(jlongArray, torchUnique)(JNIEnv* env, jobject, jlong h, jlong dim, jboolean sorted,
                                    jboolean returnInverse, jboolean returnCounts) {
  BRIDGE_TRY
  const at::Tensor& t = tensor(h);
  std::tuple<at::Tensor, at::Tensor, at::Tensor> r =
      dim < 0 ? at::_unique2(t, sorted, returnInverse, returnCounts)
              : at::unique_dim(t, dim, sorted, returnInverse, returnCounts);
  return wrapAll(env, {std::get<0>(r), std::get<1>(r), std::get<2>(r)});
  BRIDGE_CATCH(nullptr)
}

DJL_NATIVE(jlong, torchStack)(JNIEnv* env, jobject, jlongArray handles, jlong dim) {
  BRIDGE_TRY
  return wrap(at::stack(tensors(env, handles), dim));
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jlong, torchCat)(JNIEnv* env, jobject, jlongArray handles, jlong dim) {
  BRIDGE_TRY
  return wrap(at::cat(tensors(env, handles), dim));
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jlong, torchRepeat)(JNIEnv* env, jobject, jlong h, jlongArray repeats) {
  BRIDGE_TRY
  return wrap(tensor(h).repeat(longs(env, repeats)));
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jlong, torchRepeatInterleave)(JNIEnv* env, jobject, jlong h, jlong repeats, jlong axis) {
  BRIDGE_TRY
  return wrap(tensor(h).repeat_interleave(repeats, axis));
  BRIDGE_CATCH(0)
}

// ---- complex numbers and FFTs -------------------------------------------------------------------

// -1 tells Java the operation does not apply (it throws UnsupportedOperationException).
DJL_NATIVE(jlong, torchViewAsReal)(JNIEnv* env, jobject, jlong h) {
  BRIDGE_TRY
  const at::Tensor& t = tensor(h);
  if (!t.is_complex()) {
    return -1;
  }
  return wrap(at::view_as_real(t));
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jlong, torchViewAsComplex)(JNIEnv* env, jobject, jlong h) {
  BRIDGE_TRY
  const at::Tensor& t = tensor(h);
  if (t.is_complex() || t.dim() == 0 || t.size(-1) != 2) {
    return -1;
  }
  return wrap(at::view_as_complex(t));
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jlong, torchFft)(JNIEnv* env, jobject, jlong h, jlong length, jlong axis) {
  BRIDGE_TRY
  return wrap(at::fft_fft(tensor(h), length, axis));
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jlong, torchIfft)(JNIEnv* env, jobject, jlong h, jlong length, jlong axis) {
  BRIDGE_TRY
  return wrap(at::fft_ifft(tensor(h), length, axis));
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jlong, torchRfft)(JNIEnv* env, jobject, jlong h, jlong length, jlong axis) {
  BRIDGE_TRY
  return wrap(at::fft_rfft(tensor(h), length, axis));
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jlong, torchIrfft)(JNIEnv* env, jobject, jlong h, jlong length, jlong axis) {
  BRIDGE_TRY
  return wrap(at::fft_irfft(tensor(h), length, axis));
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jlong, torchFft2)(JNIEnv* env, jobject, jlong h, jlongArray sizes, jlongArray axes) {
  BRIDGE_TRY
  return wrap(at::fft_fft2(tensor(h), at::IntArrayRef(longs(env, sizes)), longs(env, axes)));
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jlong, torchIfft2)(JNIEnv* env, jobject, jlong h, jlongArray sizes, jlongArray axes) {
  BRIDGE_TRY
  return wrap(at::fft_ifft2(tensor(h), at::IntArrayRef(longs(env, sizes)), longs(env, axes)));
  BRIDGE_CATCH(0)
}

// A spectrogram; the real view (last dimension: real, imaginary) unless returnComplex.
DJL_NATIVE(jlong, torchStft)(JNIEnv* env, jobject, jlong h, jlong nFft, jlong hopLength, jlong window,
                             jboolean center, jboolean normalize, jboolean returnComplex) {
  BRIDGE_TRY
  c10::optional<at::Tensor> w;
  if (window != 0) {
    w = tensor(window);
  }
  at::Tensor out = at::stft(tensor(h), nFft, hopLength, c10::nullopt, w, center, "reflect", normalize,
                            c10::nullopt, true);
  if (!returnComplex) {
    out = at::view_as_real(out);
  }
  return wrap(out);
  BRIDGE_CATCH(0)
}

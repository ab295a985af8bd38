// Indexing: basic slices, NumPy-style advanced indices (built up by Java one element at a time),
// gather/scatter/take/put and boolean masks.
#include "bridge.h"

using namespace bridge;
using at::indexing::TensorIndex;

namespace {

using IndexList = std::vector<TensorIndex>;

IndexList& indexList(jlong handle) {
  TORCH_CHECK(handle != 0, "null index handle");
  return *reinterpret_cast<IndexList*>(handle);
}

// The view selected by per-dimension [min, max) ranges with steps (already non-negative).
at::Tensor sliced(const at::Tensor& t, const std::vector<int64_t>& min, const std::vector<int64_t>& max,
                  const std::vector<int64_t>& step) {
  TORCH_CHECK(min.size() == max.size() && min.size() == step.size(), "slice bounds differ in length");
  TORCH_CHECK(static_cast<int64_t>(min.size()) <= t.dim(), "slice has more dimensions than the tensor");
  at::Tensor out = t;
  for (size_t i = 0; i < min.size(); i++) {
    out = out.slice(static_cast<int64_t>(i), min[i], max[i], step[i]);
  }
  return out;
}

}  // namespace

// ---- basic slices -------------------------------------------------------------------------------

DJL_NATIVE(jlong, torchIndex)(JNIEnv* env, jobject, jlong h, jlongArray min, jlongArray max, jlongArray step) {
  BRIDGE_TRY
  return wrap(sliced(tensor(h), longs(env, min), longs(env, max), longs(env, step)));
  BRIDGE_CATCH(0)
}

// Writes value (already broadcast to the slice's shape by Java) into the slice, in place.
DJL_NATIVE(void, torchIndexPut)(JNIEnv* env, jobject, jlong h, jlong value, jlongArray min, jlongArray max,
                                jlongArray step) {
  BRIDGE_TRY
  sliced(tensor(h), longs(env, min), longs(env, max), longs(env, step)).copy_(tensor(value));
  BRIDGE_CATCH()
}

DJL_NATIVE(jlong, torchSlice)(JNIEnv* env, jobject, jlong h, jlong dim, jlong start, jlong end, jlong step) {
  BRIDGE_TRY
  return wrap(tensor(h).slice(dim, start, end, step));
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jlong, torchGetItem__JJ)(JNIEnv* env, jobject, jlong h, jlong index) {
  BRIDGE_TRY
  return wrap(tensor(h).select(0, index));
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jlong, torchGetItem__J_3J)(JNIEnv* env, jobject, jlong h, jlongArray indices) {
  BRIDGE_TRY
  at::Tensor out = tensor(h);
  for (int64_t i : longs(env, indices)) {
    out = out.select(0, i);
  }
  return wrap(out);
  BRIDGE_CATCH(0)
}

// ---- advanced indices ---------------------------------------------------------------------------

DJL_NATIVE(jlong, torchIndexInit)(JNIEnv* env, jobject, jint size) {
  BRIDGE_TRY
  auto* list = new IndexList();
  list->reserve(static_cast<size_t>(size < 0 ? 0 : size) + 1);
  return reinterpret_cast<jlong>(list);
  BRIDGE_CATCH(0)
}

DJL_NATIVE(void, torchDeleteIndex)(JNIEnv* env, jobject, jlong handle) {
  BRIDGE_TRY
  delete reinterpret_cast<IndexList*>(handle);
  BRIDGE_CATCH()
}

DJL_NATIVE(void, torchIndexAppendNoneEllipsis)(JNIEnv* env, jobject, jlong handle, jboolean isEllipsis) {
  BRIDGE_TRY
  if (isEllipsis) {
    indexList(handle).emplace_back(at::indexing::Ellipsis);
  } else {
    indexList(handle).emplace_back(at::indexing::None);
  }
  BRIDGE_CATCH()
}

// nullSliceBinary: bit 1 set when min is absent, bit 0 when max is absent.
DJL_NATIVE(void, torchIndexAppendSlice)(JNIEnv* env, jobject, jlong handle, jlong min, jlong max, jlong step,
                                        jint nullSliceBinary) {
  BRIDGE_TRY
  using at::indexing::Slice;
  bool noMin = (nullSliceBinary & 2) != 0;
  bool noMax = (nullSliceBinary & 1) != 0;
  IndexList& list = indexList(handle);
  if (noMin && noMax) {
    list.emplace_back(Slice(c10::nullopt, c10::nullopt, step));
  } else if (noMin) {
    list.emplace_back(Slice(c10::nullopt, max, step));
  } else if (noMax) {
    list.emplace_back(Slice(min, c10::nullopt, step));
  } else {
    list.emplace_back(Slice(min, max, step));
  }
  BRIDGE_CATCH()
}

DJL_NATIVE(void, torchIndexAppendFixed)(JNIEnv* env, jobject, jlong handle, jlong index) {
  BRIDGE_TRY
  indexList(handle).emplace_back(index);
  BRIDGE_CATCH()
}

DJL_NATIVE(void, torchIndexAppendArray)(JNIEnv* env, jobject, jlong handle, jlong array) {
  BRIDGE_TRY
  indexList(handle).emplace_back(tensor(array));
  BRIDGE_CATCH()
}

DJL_NATIVE(jlong, torchIndexAdvGet)(JNIEnv* env, jobject, jlong h, jlong index) {
  BRIDGE_TRY
  return wrap(tensor(h).index(indexList(index)));
  BRIDGE_CATCH(0)
}

DJL_NATIVE(void, torchIndexAdvPut)(JNIEnv* env, jobject, jlong h, jlong index, jlong value) {
  BRIDGE_TRY
  at::Tensor& t = tensor(h);
  const at::Tensor& v = tensor(value);
  t.index_put_(indexList(index), v.to(t.device(), t.scalar_type()));
  BRIDGE_CATCH()
}

// ---- gather, scatter, take, put, masks ----------------------------------------------------------

DJL_NATIVE(jlong, torchGather)(JNIEnv* env, jobject, jlong h, jlong index, jlong dim, jboolean sparseGrad) {
  BRIDGE_TRY
  return wrap(tensor(h).gather(dim, tensor(index), sparseGrad));
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jlong, torchTake)(JNIEnv* env, jobject, jlong h, jlong index) {
  BRIDGE_TRY
  return wrap(tensor(h).take(tensor(index)));
  BRIDGE_CATCH(0)
}

// A copy of the tensor with the flat positions `index` set to `value`.
DJL_NATIVE(jlong, torchPut)(JNIEnv* env, jobject, jlong h, jlong index, jlong value) {
  BRIDGE_TRY
  return wrap(tensor(h).put(tensor(index), tensor(value)));
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jlong, torchScatter)(JNIEnv* env, jobject, jlong h, jlong index, jlong value, jint axis) {
  BRIDGE_TRY
  return wrap(tensor(h).scatter(axis, tensor(index), tensor(value)));
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jlong, torchMaskedSelect)(JNIEnv* env, jobject, jlong h, jlong mask) {
  BRIDGE_TRY
  return wrap(tensor(h).masked_select(tensor(mask)));
  BRIDGE_CATCH(0)
}

// In place: the positions where mask is true take value (a single value is broadcast).
DJL_NATIVE(void, torchMaskedPut)(JNIEnv* env, jobject, jlong h, jlong value, jlong mask) {
  BRIDGE_TRY
  at::Tensor& t = tensor(h);
  const at::Tensor& v = tensor(value);
  const at::Tensor& m = tensor(mask);
  if (v.numel() == 1) {
    t.masked_fill_(m, v.reshape({}).to(t.device(), t.scalar_type()));
  } else {
    t.masked_scatter_(m, v.to(t.device(), t.scalar_type()));
  }
  BRIDGE_CATCH()
}

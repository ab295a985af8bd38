// Tensor lifetime, properties, creation, data transfer, autograd and DJL's optimizer updates.
#include "bridge.h"

#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/function.h>

#include <cstring>
#include <unordered_set>

using namespace bridge;

// ---- lifetime and properties ----------------------------------------------------------------------

DJL_NATIVE(void, torchDeleteTensor)(JNIEnv* env, jobject, jlong handle) {
  BRIDGE_TRY
  delete reinterpret_cast<at::Tensor*>(handle);
  BRIDGE_CATCH()
}

DJL_NATIVE(jlongArray, torchSizes)(JNIEnv* env, jobject, jlong handle) {
  BRIDGE_TRY
  auto sizes = tensor(handle).sizes();
  return newLongArray(env, std::vector<int64_t>(sizes.begin(), sizes.end()));
  BRIDGE_CATCH(nullptr)
}

DJL_NATIVE(jint, torchDType)(JNIEnv* env, jobject, jlong handle) {
  BRIDGE_TRY
  return djlDataType(tensor(handle).scalar_type());
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jintArray, torchDevice)(JNIEnv* env, jobject, jlong handle) {
  BRIDGE_TRY
  at::Device d = tensor(handle).device();
  jint v[2] = {djlDeviceType(d), d.is_cpu() ? -1 : static_cast<jint>(d.index())};
  jintArray out = env->NewIntArray(2);
  env->SetIntArrayRegion(out, 0, 2, v);
  return out;
  BRIDGE_CATCH(nullptr)
}

DJL_NATIVE(jint, torchLayout)(JNIEnv* env, jobject, jlong handle) {
  BRIDGE_TRY
  switch (tensor(handle).layout()) {
    case at::kStrided: return 0;
    case at::kSparse: return 1;
    case at::kMkldnn: return 2;
    default: TORCH_CHECK(false, "unsupported layout ", tensor(handle).layout());
  }
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jboolean, torchIsContiguous)(JNIEnv* env, jobject, jlong handle) {
  BRIDGE_TRY
  return tensor(handle).is_contiguous();
  BRIDGE_CATCH(JNI_FALSE)
}

DJL_NATIVE(jlong, torchToContiguous)(JNIEnv* env, jobject, jlong handle) {
  BRIDGE_TRY
  at::Tensor t = tensor(handle);
  if (t.is_sparse()) {
    t = t.to_dense();
  } else if (t.is_mkldnn()) {
    t = t.to_dense();
  }
  return wrap(t.contiguous());
  BRIDGE_CATCH(0)
}

// ---- reading and writing data ---------------------------------------------------------------------

// A copy of the values, row-major. Java moved the array to the CPU first.
DJL_NATIVE(jbyteArray, torchDataPtr)(JNIEnv* env, jobject, jlong handle) {
  BRIDGE_TRY
  at::Tensor t = tensor(handle);
  if (t.is_sparse() || t.is_mkldnn()) {
    t = t.to_dense();
  }
  t = t.to(at::kCPU).contiguous();
  int64_t bytes = t.numel() * static_cast<int64_t>(t.element_size());
  TORCH_CHECK(bytes <= INT32_MAX, "tensor of ", bytes, " bytes does not fit in a Java byte array");
  jbyteArray out = env->NewByteArray(static_cast<jsize>(bytes));
  TORCH_CHECK(out != nullptr, "out of Java memory for ", bytes, " bytes");
  if (bytes > 0) {
    env->SetByteArrayRegion(out, 0, static_cast<jsize>(bytes), static_cast<const jbyte*>(t.data_ptr()));
  }
  return out;
  BRIDGE_CATCH(nullptr)
}

// A view of the tensor's own memory; Java keeps the tensor alive for as long as the buffer
// (JniUtils.getByteBuffer passes a contiguous CPU tensor).
DJL_NATIVE(jobject, torchDirectByteBuffer)(JNIEnv* env, jobject, jlong handle) {
  BRIDGE_TRY
  const at::Tensor& t = tensor(handle);
  TORCH_CHECK(t.is_cpu() && t.is_contiguous() && t.layout() == at::kStrided,
              "a direct buffer needs a contiguous dense CPU tensor");
  int64_t bytes = t.numel() * static_cast<int64_t>(t.element_size());
  static char empty = 0;
  void* data = bytes == 0 ? &empty : t.data_ptr();
  return env->NewDirectByteBuffer(data, bytes);
  BRIDGE_CATCH(nullptr)
}

namespace {

void* bufferAddress(JNIEnv* env, jobject buffer, int64_t bytesNeeded) {
  TORCH_CHECK(buffer != nullptr, "null buffer");
  void* address = env->GetDirectBufferAddress(buffer);
  TORCH_CHECK(address != nullptr || bytesNeeded == 0, "the buffer is not a direct buffer");
  jlong capacity = env->GetDirectBufferCapacity(buffer);
  TORCH_CHECK(capacity >= bytesNeeded, "buffer holds ", capacity, " bytes, the tensor needs ", bytesNeeded);
  return address;
}

}  // namespace

// On the CPU the tensor aliases the Java buffer (which PtNDArray keeps alive); elsewhere, and for
// the sparse and MKL-DNN layouts, it is a copy.
DJL_NATIVE(jlong, torchFromBlob)(JNIEnv* env, jobject, jobject buffer, jlongArray shape, jint dtype, jint layout,
                                 jintArray djlDevice, jboolean requiresGrad) {
  BRIDGE_TRY
  std::vector<int64_t> sizes = longs(env, shape);
  at::ScalarType type = scalarType(dtype);
  at::Device target = device(env, djlDevice);
  int64_t numel = 1;
  for (int64_t s : sizes) {
    numel *= s;
  }
  int64_t bytes = numel * static_cast<int64_t>(c10::elementSize(type));
  at::Tensor t;
  if (numel == 0) {
    t = at::empty(sizes, at::TensorOptions().dtype(type));
  } else {
    void* address = bufferAddress(env, buffer, bytes);
    t = at::from_blob(address, sizes, at::TensorOptions().dtype(type));
  }
  if (!target.is_cpu()) {
    t = toDevice(t, target);
  } else if (layout != 0) {
    t = t.clone();
  }
  if (layout == 1) {
    t = t.to_sparse();
  }
  return wrap(finishLayout(t, layout, requiresGrad));
  BRIDGE_CATCH(0)
}

// Overwrites the values from a direct buffer of the same size.
DJL_NATIVE(void, torchSet)(JNIEnv* env, jobject, jlong handle, jobject buffer) {
  BRIDGE_TRY
  at::Tensor& t = tensor(handle);
  int64_t bytes = t.numel() * static_cast<int64_t>(t.element_size());
  if (bytes == 0) {
    return;
  }
  void* address = bufferAddress(env, buffer, bytes);
  at::Tensor src = at::from_blob(address, t.sizes(), at::TensorOptions().dtype(t.scalar_type()));
  at::NoGradGuard noGrad;
  if (t.is_cuda()) {
    t.copy_(src.clone());  // from_blob memory may be reused by Java once we return
  } else {
    t.copy_(src);
  }
  BRIDGE_CATCH()
}

// ---- conversion ---------------------------------------------------------------------------------

// DJL's toType/toDevice: a new tensor, cut from the autograd graph (DJL's casts are not
// differentiable; FastOps.cast is). Always a copy, so toType(sameType, copy=true) gives one.
DJL_NATIVE(jlong, torchTo)(JNIEnv* env, jobject, jlong handle, jint dtype, jintArray djlDevice) {
  BRIDGE_TRY
  at::NoGradGuard noGrad;
  const at::Tensor& t = tensor(handle);
  at::Device target = device(env, djlDevice);
  at::ScalarType type = scalarType(dtype);
  if (t.is_cpu() && target.is_cuda()) {
    return wrap(toDevice(t.to(type), target));
  }
  return wrap(t.to(target, type, /*non_blocking=*/false, /*copy=*/true));
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jlong, torchToSparse)(JNIEnv* env, jobject, jlong handle) {
  BRIDGE_TRY
  return wrap(tensor(handle).to_sparse());
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jlong, torchToDense)(JNIEnv* env, jobject, jlong handle) {
  BRIDGE_TRY
  return wrap(tensor(handle).to_dense());
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jlong, tensorClone)(JNIEnv* env, jobject, jlong handle) {
  BRIDGE_TRY
  return wrap(tensor(handle).clone());
  BRIDGE_CATCH(0)
}

// ---- creation -----------------------------------------------------------------------------------

DJL_NATIVE(jlong, torchEmpty)(JNIEnv* env, jobject, jlongArray shape, jint dtype, jint layout, jintArray dev,
                              jboolean requiresGrad) {
  BRIDGE_TRY
  return wrap(finishLayout(at::empty(longs(env, shape), options(env, dtype, layout, dev, requiresGrad)), layout,
                           requiresGrad));
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jlong, torchZeros)(JNIEnv* env, jobject, jlongArray shape, jint dtype, jint layout, jintArray dev,
                              jboolean requiresGrad) {
  BRIDGE_TRY
  return wrap(finishLayout(at::zeros(longs(env, shape), options(env, dtype, layout, dev, requiresGrad)), layout,
                           requiresGrad));
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jlong, torchOnes)(JNIEnv* env, jobject, jlongArray shape, jint dtype, jint layout, jintArray dev,
                             jboolean requiresGrad) {
  BRIDGE_TRY
  return wrap(finishLayout(at::ones(longs(env, shape), options(env, dtype, layout, dev, requiresGrad)), layout,
                           requiresGrad));
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jlong, torchFull)(JNIEnv* env, jobject, jlongArray shape, jdouble value, jint dtype, jint layout,
                             jintArray dev, jboolean requiresGrad) {
  BRIDGE_TRY
  return wrap(finishLayout(at::full(longs(env, shape), value, options(env, dtype, layout, dev, requiresGrad)),
                           layout, requiresGrad));
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jlong, torchZerosLike)(JNIEnv* env, jobject, jlong handle, jint dtype, jint layout, jintArray dev,
                                  jboolean requiresGrad) {
  BRIDGE_TRY
  return wrap(finishLayout(at::zeros_like(tensor(handle), options(env, dtype, layout, dev, requiresGrad)), layout,
                           requiresGrad));
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jlong, torchOnesLike)(JNIEnv* env, jobject, jlong handle, jint dtype, jint layout, jintArray dev,
                                 jboolean requiresGrad) {
  BRIDGE_TRY
  return wrap(finishLayout(at::ones_like(tensor(handle), options(env, dtype, layout, dev, requiresGrad)), layout,
                           requiresGrad));
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jlong, torchSparseCoo)(JNIEnv* env, jobject, jlongArray shape, jlong indices, jlong values,
                                  jboolean requiresGrad) {
  BRIDGE_TRY
  at::Tensor t = at::sparse_coo_tensor(tensor(indices), tensor(values), longs(env, shape));
  return wrap(finishLayout(t, 1, requiresGrad));
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jlong, torchArange)(JNIEnv* env, jobject, jfloat start, jfloat end, jfloat step, jint dtype, jint layout,
                               jintArray dev, jboolean requiresGrad) {
  BRIDGE_TRY
  return wrap(finishLayout(at::arange(start, end, step, options(env, dtype, layout, dev, requiresGrad)), layout,
                           requiresGrad));
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jlong, torchLinspace)(JNIEnv* env, jobject, jfloat start, jfloat end, jint steps, jint dtype, jint layout,
                                 jintArray dev, jboolean requiresGrad) {
  BRIDGE_TRY
  return wrap(finishLayout(at::linspace(start, end, steps, options(env, dtype, layout, dev, requiresGrad)), layout,
                           requiresGrad));
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jlong, torchEye)(JNIEnv* env, jobject, jint n, jint m, jint dtype, jint layout, jintArray dev,
                            jboolean requiresGrad) {
  BRIDGE_TRY
  return wrap(finishLayout(at::eye(n, m, options(env, dtype, layout, dev, requiresGrad)), layout, requiresGrad));
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jlong, torchHannWindow)(JNIEnv* env, jobject, jlong n, jboolean periodic, jintArray dev) {
  BRIDGE_TRY
  return wrap(at::hann_window(n, periodic, at::TensorOptions().device(device(env, dev))));
  BRIDGE_CATCH(0)
}

// ---- random -------------------------------------------------------------------------------------

DJL_NATIVE(jlong, torchRandint)(JNIEnv* env, jobject, jlong low, jlong high, jlongArray sizes, jint dtype,
                                jint layout, jintArray dev, jboolean requiresGrad) {
  BRIDGE_TRY
  return wrap(finishLayout(at::randint(low, high, longs(env, sizes), options(env, dtype, layout, dev, requiresGrad)),
                           layout, requiresGrad));
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jlong, torchRandPerm)(JNIEnv* env, jobject, jlong n, jint dtype, jint layout, jintArray dev,
                                 jboolean requiresGrad) {
  BRIDGE_TRY
  return wrap(finishLayout(at::randperm(n, options(env, dtype, layout, dev, requiresGrad)), layout, requiresGrad));
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jlong, torchNormal)(JNIEnv* env, jobject, jdouble mean, jdouble std, jlongArray sizes, jint dtype,
                               jint layout, jintArray dev, jboolean requiresGrad) {
  BRIDGE_TRY
  at::Tensor t = at::empty(longs(env, sizes), options(env, dtype, layout, dev, requiresGrad));
  t.normal_(mean, std);
  return wrap(finishLayout(t, layout, requiresGrad));
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jlong, tensorUniform)(JNIEnv* env, jobject, jdouble from, jdouble to, jlongArray sizes, jint dtype,
                                 jint layout, jintArray dev, jboolean requiresGrad) {
  BRIDGE_TRY
  at::Tensor t = at::empty(longs(env, sizes), options(env, dtype, layout, dev, requiresGrad));
  t.uniform_(from, to);
  return wrap(finishLayout(t, layout, requiresGrad));
  BRIDGE_CATCH(0)
}

// ---- autograd -----------------------------------------------------------------------------------

DJL_NATIVE(jboolean, torchRequiresGrad)(JNIEnv* env, jobject, jlong handle) {
  BRIDGE_TRY
  return tensor(handle).requires_grad();
  BRIDGE_CATCH(JNI_FALSE)
}

// The names of the backward functions reachable from this tensor, comma separated, or "" for a
// tensor without history.
DJL_NATIVE(jstring, torchGradFnName)(JNIEnv* env, jobject, jlong handle) {
  BRIDGE_TRY
  std::string names;
  const auto& root = tensor(handle).grad_fn();
  std::vector<torch::autograd::Node*> stack;
  std::unordered_set<torch::autograd::Node*> seen;
  if (root) {
    stack.push_back(root.get());
  }
  while (!stack.empty()) {
    torch::autograd::Node* node = stack.back();
    stack.pop_back();
    if (!seen.insert(node).second) {
      continue;
    }
    if (!names.empty()) {
      names += ",";
    }
    names += node->name();
    for (const auto& edge : node->next_edges()) {
      if (edge.function) {
        stack.push_back(edge.function.get());
      }
    }
  }
  return env->NewStringUTF(names.c_str());
  BRIDGE_CATCH(nullptr)
}

DJL_NATIVE(void, torchAttachGrad)(JNIEnv* env, jobject, jlong handle, jboolean requiresGrad) {
  BRIDGE_TRY
  tensor(handle).requires_grad_(requiresGrad);
  BRIDGE_CATCH()
}

// The accumulated gradient (sharing its memory), or 0 when there is none yet.
DJL_NATIVE(jlong, torchGrad)(JNIEnv* env, jobject, jlong handle) {
  BRIDGE_TRY
  const at::Tensor& g = tensor(handle).grad();
  return g.defined() ? wrap(g) : 0;
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jlong, torchDetachGrad)(JNIEnv* env, jobject, jlong handle) {
  BRIDGE_TRY
  return wrap(tensor(handle).detach());
  BRIDGE_CATCH(0)
}

DJL_NATIVE(void, torchBackward)(JNIEnv* env, jobject, jlong handle, jlong gradHandle, jboolean keepGraph,
                                jboolean createGraph) {
  BRIDGE_TRY
  at::Tensor grad = gradHandle == 0 ? at::Tensor() : tensor(gradHandle);
  torch::autograd::backward({tensor(handle)}, {grad}, keepGraph ? c10::optional<bool>(true) : c10::optional<bool>(false),
                            createGraph);
  BRIDGE_CATCH()
}

DJL_NATIVE(void, zeroGrad)(JNIEnv* env, jobject, jlong handle) {
  BRIDGE_TRY
  at::Tensor g = tensor(handle).grad();
  if (g.defined()) {
    at::NoGradGuard noGrad;
    g.zero_();
  }
  BRIDGE_CATCH()
}

// ---- DJL's optimizer updates (ai.djl.training.optimizer.Adam / Sgd) ---------------------------------

// Adam as DJL defines it: the gradient is rescaled and clipped element-wise; Adam adds the
// weight decay to the gradient, AdamW decays the weight directly (decoupled); the step uses the
// bias-corrected learning rate lr·sqrt(1-β2ᵗ)/(1-β1ᵗ) computed in Java.
DJL_NATIVE(void, adamUpdate)(JNIEnv* env, jobject, jlong weightHandle, jlong gradHandle, jlong meanHandle,
                             jlong varianceHandle, jfloat lr, jfloat lrBiasCorrection, jfloat wd, jfloat rescaleGrad,
                             jfloat clipGrad, jfloat beta1, jfloat beta2, jfloat eps, jboolean adamw) {
  BRIDGE_TRY
  at::NoGradGuard noGrad;
  at::Tensor& weight = tensor(weightHandle);
  at::Tensor& mean = tensor(meanHandle);
  at::Tensor& variance = tensor(varianceHandle);
  at::Tensor grad = tensor(gradHandle).mul(rescaleGrad);
  if (clipGrad > 0) {
    grad = grad.clamp(-clipGrad, clipGrad);
  }
  if (!adamw && wd != 0) {
    grad = grad.add(weight, wd);
  }
  mean.mul_(beta1).add_(grad, 1 - beta1);
  variance.mul_(beta2).addcmul_(grad, grad, 1 - beta2);
  if (adamw && wd != 0) {
    weight.mul_(1 - lr * wd);
  }
  weight.sub_(mean.div(variance.sqrt().add(eps)).mul(lrBiasCorrection));
  BRIDGE_CATCH()
}

// SGD with optional momentum: state = momentum·state - lr·(g + wd·w), w += state; without
// momentum w -= lr·(g + wd·w).
DJL_NATIVE(void, sgdUpdate)(JNIEnv* env, jobject, jlong weightHandle, jlong gradHandle, jlong stateHandle, jfloat lr,
                            jfloat wd, jfloat rescaleGrad, jfloat clipGrad, jfloat momentum) {
  BRIDGE_TRY
  at::NoGradGuard noGrad;
  at::Tensor& weight = tensor(weightHandle);
  at::Tensor grad = tensor(gradHandle).mul(rescaleGrad);
  if (clipGrad > 0) {
    grad = grad.clamp(-clipGrad, clipGrad);
  }
  grad = grad.add(weight, wd);
  if (stateHandle != 0 && momentum != 0) {
    at::Tensor& state = tensor(stateHandle);
    state.mul_(momentum).sub_(grad, lr);
    weight.add_(state);
  } else {
    weight.sub_(grad, lr);
  }
  BRIDGE_CATCH()
}

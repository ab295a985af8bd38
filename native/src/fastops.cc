// The project's own operations (org.rlhfstream.model.nativeops.FastOpsNative): what DJL's API
// lacks and the model needs on a GPU. Each has a composed fallback in Java (FastOps).
#include "bridge.h"

#include <ATen/Parallel.h>
#include <torch/cuda.h>

#include <cmath>
#include <sstream>

#include "jni/org_rlhfstream_model_nativeops_FastOpsNative.h"

#if RLHF_ACCELERATOR_MEMORY
#include <ATen/DeviceAccelerator.h>
#endif

#define FAST_NATIVE(ret, name) extern "C" JNIEXPORT ret JNICALL Java_org_rlhfstream_model_nativeops_FastOpsNative_##name

using namespace bridge;

namespace {

// (B, kv_heads, S, D) -> (B, kv_heads·groups, S, D), query head h reading key/value head h / groups.
at::Tensor repeatKv(const at::Tensor& x, int64_t groups) {
  if (groups == 1) {
    return x;
  }
  auto s = x.sizes();
  return x.unsqueeze(2).expand({s[0], s[1], groups, s[2], s[3]}).reshape({s[0], s[1] * groups, s[2], s[3]});
}

// Matmuls and a float32 softmax: for PyTorch builds without scaled_dot_product_attention.
at::Tensor composedAttention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                             const c10::optional<at::Tensor>& mask, bool causal, double scale) {
  at::Tensor scores = q.matmul(k.transpose(-2, -1)).mul(scale);
  if (mask.has_value()) {
    scores = scores.add(*mask);
  }
  if (causal) {
    int64_t t = q.size(-2);
    int64_t s = k.size(-2);
    at::Tensor future = at::ones({t, s}, q.options().dtype(at::kBool)).triu(1);
    scores = scores.masked_fill(future, -std::numeric_limits<double>::infinity());
  }
  at::ScalarType softmaxType = q.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;  // at least float32
  return scores.softmax(-1, softmaxType).to(q.scalar_type()).matmul(v);
}

std::string sdpaBackends() {
#if RLHF_TORCH_AT_LEAST(2, 0)
  auto& ctx = at::globalContext();
  std::string out;
  if (ctx.userEnabledFlashSDP()) out += "flash,";
  if (ctx.userEnabledMemEfficientSDP()) out += "mem_efficient,";
#if RLHF_TORCH_AT_LEAST(2, 2)
  if (ctx.userEnabledCuDNNSDP()) out += "cudnn,";
#endif
  if (ctx.userEnabledMathSDP()) out += "math,";
  if (!out.empty()) out.pop_back();
  return out;
#else
  return "composed";
#endif
}

}  // namespace

FAST_NATIVE(jstring, info)(JNIEnv* env, jclass) {
  BRIDGE_TRY
  std::ostringstream out;
  out << "bridge=" << RLHF_BRIDGE_VERSION << "\n";
  out << "torch=" << TORCH_VERSION << "\n";
  out << "cuda_available=" << (torch::cuda::is_available() ? "true" : "false") << "\n";
  out << "cuda_device_count=" << (torch::cuda::is_available() ? torch::cuda::device_count() : 0) << "\n";
  out << "cudnn=" << (torch::cuda::cudnn_is_available() ? "true" : "false") << "\n";
  auto devices = cudaDevices();
  for (size_t i = 0; i < devices.size(); i++) {
    out << "cuda" << i << "=" << devices[i].name << "; compute capability " << devices[i].major << "."
        << devices[i].minor << "; " << (devices[i].totalMemory >> 20) << " MiB\n";
  }
  out << "sdpa=" << sdpaBackends() << "\n";
  out << "fused_adamw=" << (RLHF_TORCH_AT_LEAST(2, 0) ? "cuda" : "no") << (RLHF_TORCH_AT_LEAST(2, 4) ? ",cpu" : "")
      << "\n";
  out << "tf32=" << (at::globalContext().allowTF32CuBLAS() ? "true" : "false") << "\n";
  out << "memory_stats=" << (RLHF_ACCELERATOR_MEMORY ? "true" : "false") << "\n";
  out << "threads=" << at::get_num_threads() << "\n";
  return env->NewStringUTF(out.str().c_str());
  BRIDGE_CATCH(nullptr)
}

FAST_NATIVE(jlong, sdpa)(JNIEnv* env, jclass, jlong qh, jlong kh, jlong vh, jlong maskHandle, jboolean causal,
                         jdouble scale) {
  BRIDGE_TRY
  const at::Tensor& q = tensor(qh);
  at::Tensor k = tensor(kh);
  at::Tensor v = tensor(vh);
  TORCH_CHECK(q.dim() == 4 && k.dim() == 4 && v.dim() == 4, "attention takes (B, heads, T, head_dim) tensors");
  int64_t heads = q.size(1);
  int64_t kvHeads = k.size(1);
  TORCH_CHECK(heads % kvHeads == 0, "query heads ", heads, " are not a multiple of key/value heads ", kvHeads);
  c10::optional<at::Tensor> mask;
  if (maskHandle != 0) {
    mask = tensor(maskHandle).to(q.scalar_type());
  }
  int64_t groups = heads / kvHeads;
#if RLHF_TORCH_AT_LEAST(2, 1)
  c10::optional<double> s;
  if (!std::isnan(scale)) {
    s = scale;
  }
#if RLHF_TORCH_AT_LEAST(2, 5)
  if (groups > 1 && !mask.has_value()) {
    // As transformers does without a mask: the kernels read the shared heads in place.
    return wrap(at::scaled_dot_product_attention(q, k, v, c10::nullopt, 0.0, causal, s, /*enable_gqa=*/true));
  }
#endif
  return wrap(at::scaled_dot_product_attention(q, repeatKv(k, groups), repeatKv(v, groups), mask, 0.0, causal, s));
#else
  double sc = std::isnan(scale) ? 1.0 / std::sqrt(static_cast<double>(q.size(-1))) : scale;
  return wrap(composedAttention(q, repeatKv(k, groups), repeatKv(v, groups), mask, causal, sc));
#endif
  BRIDGE_CATCH(0)
}

FAST_NATIVE(jlong, cast)(JNIEnv* env, jclass, jlong h, jint dtype) {
  BRIDGE_TRY
  return wrap(tensor(h).to(scalarType(dtype)));
  BRIDGE_CATCH(0)
}

FAST_NATIVE(void, setTf32)(JNIEnv* env, jclass, jboolean enabled) {
  BRIDGE_TRY
  at::globalContext().setAllowTF32CuBLAS(enabled);
  at::globalContext().setAllowTF32CuDNN(enabled);
  BRIDGE_CATCH()
}

FAST_NATIVE(jboolean, tf32)(JNIEnv* env, jclass) {
  BRIDGE_TRY
  return at::globalContext().allowTF32CuBLAS();
  BRIDGE_CATCH(JNI_FALSE)
}

// torch.optim.AdamW:
//   θ ← θ·(1 − lr·λ);  m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²;
//   θ ← θ − lr/(1−β₁ᵗ) · m / (√v/√(1−β₂ᵗ) + ε)
FAST_NATIVE(void, adamw)(JNIEnv* env, jclass, jlongArray paramHandles, jlongArray expAvgHandles,
                         jlongArray expAvgSqHandles, jlong step, jdouble lr, jdouble beta1, jdouble beta2, jdouble eps,
                         jdouble weightDecay, jboolean zeroGrad) {
  BRIDGE_TRY
  std::vector<at::Tensor> allParams = tensors(env, paramHandles);
  std::vector<at::Tensor> allM = tensors(env, expAvgHandles);
  std::vector<at::Tensor> allV = tensors(env, expAvgSqHandles);
  TORCH_CHECK(allParams.size() == allM.size() && allParams.size() == allV.size(),
              "adamw needs one exp_avg and one exp_avg_sq per parameter");
  TORCH_CHECK(step >= 1, "adamw step count starts at 1, got ", step);
  std::vector<at::Tensor> params, grads, m, v;
  for (size_t i = 0; i < allParams.size(); i++) {
    at::Tensor g = allParams[i].grad();
    if (!g.defined()) {
      continue;
    }
    params.push_back(allParams[i]);
    grads.push_back(g);
    m.push_back(allM[i]);
    v.push_back(allV[i]);
  }
  if (params.empty()) {
    return;
  }
  at::NoGradGuard noGrad;
  bool uniform = true;  // the fused kernel wants one device and one dtype throughout
  for (size_t i = 0; i < params.size() && uniform; i++) {
    for (const at::Tensor* t : {&params[i], &grads[i], &m[i], &v[i]}) {
      uniform = uniform && t->device() == params[0].device() && t->scalar_type() == params[0].scalar_type() &&
                t->is_contiguous();
    }
  }
  bool fused = false;
#if RLHF_TORCH_AT_LEAST(2, 0)
  fused = uniform && params[0].is_cuda();
#endif
#if RLHF_TORCH_AT_LEAST(2, 4)
  fused = fused || (uniform && params[0].is_cpu());
#endif
  if (fused) {
#if RLHF_TORCH_AT_LEAST(2, 0)
    at::Tensor stepTensor = at::full({}, static_cast<double>(step), params[0].options().dtype(at::kFloat));
    std::vector<at::Tensor> steps(params.size(), stepTensor);
    at::_fused_adamw_(params, grads, m, v, {}, steps, lr, beta1, beta2, weightDecay, eps, /*amsgrad=*/false,
                      /*maximize=*/false);
#endif
  } else {
    double bc1 = 1 - std::pow(beta1, static_cast<double>(step));
    double bc2 = 1 - std::pow(beta2, static_cast<double>(step));
    for (size_t i = 0; i < params.size(); i++) {
      at::Tensor g = grads[i].to(m[i].scalar_type());
      if (weightDecay != 0) {
        params[i].mul_(1 - lr * weightDecay);
      }
      m[i].mul_(beta1).add_(g, 1 - beta1);
      v[i].mul_(beta2).addcmul_(g, g, 1 - beta2);
      at::Tensor denom = v[i].sqrt().div_(std::sqrt(bc2)).add_(eps);
      params[i].sub_(m[i].div(denom).mul_(lr / bc1).to(params[i].scalar_type()));
    }
  }
  if (zeroGrad) {
    for (auto& g : grads) {
      g.zero_();
    }
  }
  BRIDGE_CATCH()
}

FAST_NATIVE(jlong, clipGradNorm)(JNIEnv* env, jclass, jlongArray paramHandles, jdouble maxNorm) {
  BRIDGE_TRY
  at::NoGradGuard noGrad;
  std::vector<at::Tensor> grads;
  for (const at::Tensor& p : tensors(env, paramHandles)) {
    if (p.grad().defined()) {
      grads.push_back(p.grad());
    }
  }
  TORCH_CHECK(!grads.empty(), "no parameter has a gradient");
  std::vector<at::Tensor> norms;
  for (const auto& g : grads) {
    norms.push_back(at::linalg_vector_norm(g, 2, c10::nullopt, false, at::kFloat));
  }
  at::Tensor total = at::linalg_vector_norm(at::stack(norms), 2);
  at::Tensor coef = total.add(1e-6).reciprocal().mul(maxNorm).clamp_max(1.0);
  for (auto& g : grads) {
    g.mul_(coef.to(g.scalar_type()));
  }
  return wrap(total);
  BRIDGE_CATCH(0)
}

// Hugging Face's LlamaRMSNorm / Qwen2RMSNorm: normalize in float32 (16-bit inputs widened), cast back,
// then scale.
FAST_NATIVE(jlong, rmsNorm)(JNIEnv* env, jclass, jlong xh, jlong wh, jdouble eps) {
  BRIDGE_TRY
  const at::Tensor& x = tensor(xh);
#if RLHF_TORCH_AT_LEAST(2, 4)
  if (x.is_cuda()) {
    // PyTorch's own RMSNorm (a fused kernel on CUDA in recent versions): float32 math inside, one
    // rounding at the end; Hugging Face's composition rounds before the weight too (within bf16).
    return wrap(at::rms_norm(x, {x.size(-1)}, tensor(wh), eps));
  }
#endif
  at::Tensor x32 = (x.scalar_type() == at::kHalf || x.scalar_type() == at::kBFloat16) ? x.to(at::kFloat) : x;
  at::Tensor y = x32.mul(x32.pow(2).mean(-1, true).add(eps).rsqrt());
  return wrap(tensor(wh).mul(y.to(x.scalar_type())));
  BRIDGE_CATCH(0)
}

// Flattened to rows, the base product and the adapter's up-projection share one output: cuBLAS
// accumulates scaling·(t·B'ᵀ) into x·Wᵀ + b (addmm with beta 1), so the update is never written
// out separately, scaled, and added.
// A residual input is accumulated the same way: y = residual + x·Wᵀ (+ b) in the base product.
FAST_NATIVE(jlong, loraLinear)(JNIEnv* env, jclass, jlong xh, jlong wh, jlong bh, jlong ah, jlong bBh, jdouble scaling,
                               jdouble dropout, jboolean training, jlong residualHandle) {
  BRIDGE_TRY
  const at::Tensor& x = tensor(xh);
  const at::Tensor& w = tensor(wh);
  std::vector<int64_t> outShape = x.sizes().vec();
  outShape.back() = w.size(0);
  at::Tensor x2 = x.reshape({-1, x.size(-1)});  // (N, in)
  at::Tensor y;                                 // (N, out)
  if (residualHandle != 0) {
    y = at::addmm(tensor(residualHandle).reshape({-1, w.size(0)}), x2, w.t());
    if (bh != 0) {
      y = y.add(tensor(bh));
    }
  } else {
    y = bh != 0 ? at::addmm(tensor(bh), x2, w.t()) : at::mm(x2, w.t());
  }
  if (ah != 0) {
    at::Tensor h = training && dropout > 0 ? at::dropout(x2, dropout, true) : x2;
    at::Tensor a = tensor(ah).to(x.scalar_type());   // (r, in)
    at::Tensor b = tensor(bBh).to(x.scalar_type());  // (out, r)
    y = at::addmm(y, at::mm(h, a.t()), b.t(), /*beta=*/1, /*alpha=*/scaling);
  }
  return wrap(y.view(outShape));
  BRIDGE_CATCH(0)
}

// rotate_half(x)·sin = cat(−x₂, x₁)·cat(s₁, s₂) = roll(x, d/2)·cat(−s₁, s₂): the sign moves onto the
// small (…, T, d) table, leaving three passes over x (roll, multiply, multiply-add) instead of five.
FAST_NATIVE(jlong, rotary)(JNIEnv* env, jclass, jlong xh, jlong cosh, jlong sinh) {
  BRIDGE_TRY
  const at::Tensor& x = tensor(xh);
  const at::Tensor& sin = tensor(sinh);
  int64_t half = x.size(-1) / 2;
  auto s = sin.chunk(2, -1);
  at::Tensor signedSin = at::cat({s[0].neg(), s[1]}, -1);
  return wrap(at::addcmul(x.mul(tensor(cosh)), x.roll(half, -1), signedSin));
  BRIDGE_CATCH(0)
}

FAST_NATIVE(jlong, swiglu)(JNIEnv* env, jclass, jlong gate, jlong up) {
  BRIDGE_TRY
  return wrap(at::silu(tensor(gate)).mul(tensor(up)));
  BRIDGE_CATCH(0)
}

FAST_NATIVE(void, zeroGrads)(JNIEnv* env, jclass, jlongArray paramHandles) {
  BRIDGE_TRY
  at::NoGradGuard noGrad;
  std::vector<at::Tensor> grads;
  for (const at::Tensor& p : tensors(env, paramHandles)) {
    if (p.grad().defined()) {
      grads.push_back(p.grad());
    }
  }
  if (!grads.empty()) {
    at::_foreach_zero_(grads);
  }
  BRIDGE_CATCH()
}

FAST_NATIVE(void, synchronize)(JNIEnv* env, jclass) {
  BRIDGE_TRY
  if (torch::cuda::is_available()) {
    torch::cuda::synchronize();
  }
  BRIDGE_CATCH()
}

FAST_NATIVE(jlongArray, memoryStats)(JNIEnv* env, jclass, jint device) {
  BRIDGE_TRY
#if RLHF_ACCELERATOR_MEMORY
  if (!torch::cuda::is_available()) {
    return nullptr;
  }
  auto stats = at::accelerator::getDeviceStats(static_cast<c10::DeviceIndex>(device));
  constexpr size_t aggregate = 0;
  return newLongArray(env, {stats.allocated_bytes[aggregate].current, stats.allocated_bytes[aggregate].peak,
                            stats.reserved_bytes[aggregate].current, stats.reserved_bytes[aggregate].peak});
#else
  (void)device;
  return nullptr;
#endif
  BRIDGE_CATCH(nullptr)
}

FAST_NATIVE(void, resetPeakMemory)(JNIEnv* env, jclass, jint device) {
  BRIDGE_TRY
#if RLHF_ACCELERATOR_MEMORY
  if (torch::cuda::is_available()) {
    at::accelerator::resetPeakStats(static_cast<c10::DeviceIndex>(device));
  }
#else
  (void)device;
#endif
  BRIDGE_CATCH()
}

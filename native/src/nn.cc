// Neural-network functions: linear, embedding, activations, convolution, normalization, dropout,
// pooling, recurrent layers, interpolation.
#include "bridge.h"

using namespace bridge;

namespace {

c10::optional<at::Tensor> optionalTensor(jlong handle) {
  if (handle == 0) {
    return c10::nullopt;
  }
  return tensor(handle);
}

}  // namespace

DJL_NATIVE(jlong, torchNNLinear)(JNIEnv* env, jobject, jlong input, jlong weight, jlong bias) {
  BRIDGE_TRY
  return wrap(at::linear(tensor(input), tensor(weight), optionalTensor(bias)));
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jlong, torchNNEmbedding)(JNIEnv* env, jobject, jlong input, jlong weight, jboolean sparse) {
  BRIDGE_TRY
  return wrap(at::embedding(tensor(weight), tensor(input), -1, false, sparse));
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jlong, torchNNRelu)(JNIEnv* env, jobject, jlong h) {
  BRIDGE_TRY
  return wrap(at::relu(tensor(h)));
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jlong, torchNNSoftPlus)(JNIEnv* env, jobject, jlong h) {
  BRIDGE_TRY
  return wrap(at::softplus(tensor(h)));
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jlong, torchNNSoftSign)(JNIEnv* env, jobject, jlong h) {
  BRIDGE_TRY
  const at::Tensor& t = tensor(h);
  return wrap(t.div(t.abs().add(1)));
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jlong, torchNNLeakyRelu)(JNIEnv* env, jobject, jlong h, jdouble slope) {
  BRIDGE_TRY
  return wrap(at::leaky_relu(tensor(h), slope));
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jlong, torchNNElu)(JNIEnv* env, jobject, jlong h, jdouble alpha) {
  BRIDGE_TRY
  return wrap(at::elu(tensor(h), alpha));
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jlong, torchNNSelu)(JNIEnv* env, jobject, jlong h) {
  BRIDGE_TRY
  return wrap(at::selu(tensor(h)));
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jlong, torchNNGelu)(JNIEnv* env, jobject, jlong h) {
  BRIDGE_TRY
  return wrap(at::gelu(tensor(h)));
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jlong, torchNNConvNd)(JNIEnv* env, jobject, jlong input, jlong weight, jlong bias, jlongArray stride,
                                 jlongArray padding, jlongArray dilation, jint groups) {
  BRIDGE_TRY
  std::vector<int64_t> s = longs(env, stride);
  std::vector<int64_t> p = longs(env, padding);
  std::vector<int64_t> d = longs(env, dilation);
  std::vector<int64_t> outputPadding(s.size(), 0);
  return wrap(at::convolution(tensor(input), tensor(weight), optionalTensor(bias), s, p, d, false, outputPadding,
                              groups));
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jlong, torchNNDropout)(JNIEnv* env, jobject, jlong h, jdouble p, jboolean train) {
  BRIDGE_TRY
  return wrap(at::dropout(tensor(h), p, train));
  BRIDGE_CATCH(0)
}

// x / max(‖x‖_p along dim, eps), as torch.nn.functional.normalize.
DJL_NATIVE(jlong, torchNNNormalize)(JNIEnv* env, jobject, jlong h, jdouble p, jlong dim, jdouble eps) {
  BRIDGE_TRY
  const at::Tensor& t = tensor(h);
  at::Tensor norm = t.norm(p, dim, true).clamp_min(eps);
  return wrap(t.div(norm.expand_as(t)));
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jlong, torchNNLayerNorm)(JNIEnv* env, jobject, jlong h, jlongArray shape, jlong weight, jlong bias,
                                    jdouble eps) {
  BRIDGE_TRY
  return wrap(at::layer_norm(tensor(h), longs(env, shape), optionalTensor(weight), optionalTensor(bias), eps));
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jlong, torchNNBatchNorm)(JNIEnv* env, jobject, jlong h, jlong runningMean, jlong runningVar,
                                    jlong weight, jlong bias, jboolean training, jdouble momentum, jdouble eps) {
  BRIDGE_TRY
  return wrap(at::batch_norm(tensor(h), optionalTensor(weight), optionalTensor(bias), optionalTensor(runningMean),
                             optionalTensor(runningVar), training, momentum, eps, at::globalContext().userEnabledCuDNN()));
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jlong, torchNNOneHot)(JNIEnv* env, jobject, jlong h, jint depth) {
  BRIDGE_TRY
  return wrap(at::one_hot(tensor(h), depth));
  BRIDGE_CATCH(0)
}

// ---- recurrent layers: (output, h_n[, c_n]) ---------------------------------------------------------

// activation: 0 ReLU, 1 tanh (ai.djl.nn.recurrent.RNN.Activation ordinals).
DJL_NATIVE(jlongArray, torchNNRnn)(JNIEnv* env, jobject, jlong input, jlong hx, jlongArray params, jboolean hasBiases,
                                   jint numLayers, jint activation, jdouble dropRate, jboolean training,
                                   jboolean bidirectional, jboolean batchFirst) {
  BRIDGE_TRY
  auto p = tensors(env, params);
  auto r = activation == 0 ? at::rnn_relu(tensor(input), tensor(hx), p, hasBiases, numLayers, dropRate, training,
                                          bidirectional, batchFirst)
                           : at::rnn_tanh(tensor(input), tensor(hx), p, hasBiases, numLayers, dropRate, training,
                                          bidirectional, batchFirst);
  return wrapAll(env, {std::get<0>(r), std::get<1>(r)});
  BRIDGE_CATCH(nullptr)
}

DJL_NATIVE(jlongArray, torchNNGru)(JNIEnv* env, jobject, jlong input, jlong hx, jlongArray params, jboolean hasBiases,
                                   jint numLayers, jdouble dropRate, jboolean training, jboolean bidirectional,
                                   jboolean batchFirst) {
  BRIDGE_TRY
  auto r = at::gru(tensor(input), tensor(hx), tensors(env, params), hasBiases, numLayers, dropRate, training,
                   bidirectional, batchFirst);
  return wrapAll(env, {std::get<0>(r), std::get<1>(r)});
  BRIDGE_CATCH(nullptr)
}

DJL_NATIVE(jlongArray, torchNNLstm)(JNIEnv* env, jobject, jlong input, jlongArray hx, jlongArray params,
                                    jboolean hasBiases, jint numLayers, jdouble dropRate, jboolean training,
                                    jboolean bidirectional, jboolean batchFirst) {
  BRIDGE_TRY
  auto r = at::lstm(tensor(input), tensors(env, hx), tensors(env, params), hasBiases, numLayers, dropRate, training,
                    bidirectional, batchFirst);
  return wrapAll(env, {std::get<0>(r), std::get<1>(r), std::get<2>(r)});
  BRIDGE_CATCH(nullptr)
}

// ---- pooling: the kernel's length picks 1-D, 2-D or 3-D -------------------------------------------

DJL_NATIVE(jlong, torchNNAvgPool)(JNIEnv* env, jobject, jlong h, jlongArray kernel, jlongArray stride, jlongArray pad,
                                  jboolean ceilMode, jboolean countIncludePad) {
  BRIDGE_TRY
  auto k = longs(env, kernel);
  auto s = longs(env, stride);
  auto p = longs(env, pad);
  const at::Tensor& t = tensor(h);
  switch (k.size()) {
    case 1: return wrap(at::avg_pool1d(t, k, s, p, ceilMode, countIncludePad));
    case 2: return wrap(at::avg_pool2d(t, k, s, p, ceilMode, countIncludePad));
    case 3: return wrap(at::avg_pool3d(t, k, s, p, ceilMode, countIncludePad));
    default: TORCH_CHECK(false, "average pooling over ", k.size(), " dimensions");
  }
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jlong, torchNNMaxPool)(JNIEnv* env, jobject, jlong h, jlongArray kernel, jlongArray stride,
                                  jlongArray pad, jboolean ceilMode) {
  BRIDGE_TRY
  auto k = longs(env, kernel);
  auto s = longs(env, stride);
  auto p = longs(env, pad);
  std::vector<int64_t> dilation(k.size(), 1);
  const at::Tensor& t = tensor(h);
  switch (k.size()) {
    case 1: return wrap(at::max_pool1d(t, k, s, p, dilation, ceilMode));
    case 2: return wrap(at::max_pool2d(t, k, s, p, dilation, ceilMode));
    case 3: return wrap(at::max_pool3d(t, k, s, p, dilation, ceilMode));
    default: TORCH_CHECK(false, "max pooling over ", k.size(), " dimensions");
  }
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jlong, torchNNAdaptiveAvgPool)(JNIEnv* env, jobject, jlong h, jlongArray outputSize) {
  BRIDGE_TRY
  auto o = longs(env, outputSize);
  const at::Tensor& t = tensor(h);
  switch (o.size()) {
    case 1: return wrap(at::adaptive_avg_pool1d(t, o));
    case 2: return wrap(at::adaptive_avg_pool2d(t, o));
    case 3: return wrap(at::adaptive_avg_pool3d(t, o));
    default: TORCH_CHECK(false, "adaptive average pooling over ", o.size(), " dimensions");
  }
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jlong, torchNNAdaptiveMaxPool)(JNIEnv* env, jobject, jlong h, jlongArray outputSize) {
  BRIDGE_TRY
  auto o = longs(env, outputSize);
  const at::Tensor& t = tensor(h);
  switch (o.size()) {
    case 1: return wrap(std::get<0>(at::adaptive_max_pool1d(t, o)));
    case 2: return wrap(std::get<0>(at::adaptive_max_pool2d(t, o)));
    case 3: return wrap(std::get<0>(at::adaptive_max_pool3d(t, o)));
    default: TORCH_CHECK(false, "adaptive max pooling over ", o.size(), " dimensions");
  }
  BRIDGE_CATCH(0)
}

// Power-average pooling as torch.nn.functional.lp_pool1d/2d:
// (sign(a)·relu(|a|)·kernel_size)^(1/p) with a = avg_pool(x^p).
DJL_NATIVE(jlong, torchNNLpPool)(JNIEnv* env, jobject, jlong h, jdouble normType, jlongArray kernel,
                                 jlongArray stride, jboolean ceilMode) {
  BRIDGE_TRY
  auto k = longs(env, kernel);
  auto s = longs(env, stride);
  std::vector<int64_t> pad(k.size(), 0);
  const at::Tensor& t = tensor(h);
  at::Tensor powered = t.pow(normType);
  at::Tensor avg;
  int64_t window = 1;
  for (int64_t v : k) {
    window *= v;
  }
  if (k.size() == 1) {
    avg = at::avg_pool1d(powered, k, s, pad, ceilMode);
  } else if (k.size() == 2) {
    avg = at::avg_pool2d(powered, k, s, pad, ceilMode);
  } else {
    TORCH_CHECK(false, "power-average pooling over ", k.size(), " dimensions");
  }
  return wrap(avg.sign().mul(at::relu(avg.abs())).mul(window).pow(1.0 / normType));
  BRIDGE_CATCH(0)
}

// ---- interpolation ------------------------------------------------------------------------------

// mode: 0 nearest, 1 linear, 2 bilinear, 3 bicubic, 4 trilinear, 5 area (as torch's list).
DJL_NATIVE(jlong, torchNNInterpolate)(JNIEnv* env, jobject, jlong h, jlongArray size, jint mode,
                                      jboolean alignCorners) {
  BRIDGE_TRY
  std::vector<int64_t> sizes = longs(env, size);
  at::IntArrayRef o(sizes);
  const at::Tensor& t = tensor(h);
  switch (mode) {
    case 0:
      if (o.size() == 1) return wrap(at::upsample_nearest1d(t, o, c10::nullopt));
      if (o.size() == 2) return wrap(at::upsample_nearest2d(t, o, c10::nullopt, c10::nullopt));
      if (o.size() == 3) return wrap(at::upsample_nearest3d(t, o, c10::nullopt, c10::nullopt, c10::nullopt));
      break;
    case 1: return wrap(at::upsample_linear1d(t, o, alignCorners, c10::nullopt));
    case 2: return wrap(at::upsample_bilinear2d(t, o, alignCorners, c10::nullopt, c10::nullopt));
    case 3: return wrap(at::upsample_bicubic2d(t, o, alignCorners, c10::nullopt, c10::nullopt));
    case 4:
      return wrap(at::upsample_trilinear3d(t, o, alignCorners, c10::nullopt, c10::nullopt, c10::nullopt));
    case 5:
      if (o.size() == 1) return wrap(at::adaptive_avg_pool1d(t, o));
      if (o.size() == 2) return wrap(at::adaptive_avg_pool2d(t, o));
      if (o.size() == 3) return wrap(at::adaptive_avg_pool3d(t, o));
      break;
    default: break;
  }
  TORCH_CHECK(false, "interpolation mode ", mode, " over ", o.size(), " dimensions is not supported");
  BRIDGE_CATCH(0)
}

// The rlhf-stream native bridge: DJL's PyTorch JNI surface (ai.djl.pytorch.jni.PyTorchLibrary)
// implemented against the PyTorch installed on this host, plus the project's own fast operations
// (org.rlhfstream.model.nativeops.FastOpsNative).
//
// Conventions, from DJL's Java side (JniUtils, PtNDArray, PtNDManager):
//  - a tensor handle is a pointer to a heap-allocated at::Tensor, held by Java as a long; the
//    Java object owns it and frees it with torchDeleteTensor. Every new handle is a new
//    at::Tensor (a reference-counted view of the same TensorImpl where torch shares storage).
//  - dtypes travel as ai.djl.ndarray.types.DataType ordinals, devices as {type, index} with
//    DJL's type numbers (0 CPU, 1 GPU, 13 MPS) and index -1 for the CPU.
//  - a C++ exception becomes ai.djl.engine.EngineException in Java; nothing native may escape
//    into the JVM.
#pragma once

#include <jni.h>

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>
#include <torch/csrc/autograd/generated/variable_factories.h>
#include <torch/version.h>

#include <string>
#include <vector>

#include "jni/ai_djl_pytorch_jni_PyTorchLibrary.h"

#define RLHF_BRIDGE_VERSION "1.0.0"

// True when compiled against PyTorch >= major.minor.
#define RLHF_TORCH_AT_LEAST(major, minor) \
  (TORCH_VERSION_MAJOR > (major) || (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))

// Definition of one PyTorchLibrary native. The JNI name comes from the generated header, so a
// typo or a wrong parameter type fails to compile against its declaration.
#define DJL_NATIVE(ret, name) extern "C" JNIEXPORT ret JNICALL Java_ai_djl_pytorch_jni_PyTorchLibrary_##name

// Every native body runs between BRIDGE_TRY and BRIDGE_CATCH(value returned on error).
#define BRIDGE_TRY try {
#define BRIDGE_CATCH(...)          \
  }                                \
  catch (...) {                    \
    bridge::rethrowToJava(env);    \
  }                                \
  return __VA_ARGS__;

namespace bridge {

// ---- handles ------------------------------------------------------------------------------------

inline at::Tensor& tensor(jlong handle) {
  TORCH_CHECK(handle != 0, "null tensor handle");
  return *reinterpret_cast<at::Tensor*>(handle);
}

inline jlong wrap(at::Tensor t) {
  return reinterpret_cast<jlong>(new at::Tensor(std::move(t)));
}

// ---- errors -------------------------------------------------------------------------------------

// Translates the exception being handled into a pending Java EngineException.
void rethrowToJava(JNIEnv* env);
void throwEngineException(JNIEnv* env, const std::string& message);

// ---- types and devices --------------------------------------------------------------------------

at::ScalarType scalarType(jint djlDataType);
jint djlDataType(at::ScalarType type);
at::Device device(JNIEnv* env, jintArray djlDevice);
jint djlDeviceType(const at::Device& d);
// Options for a factory function; layout 0 strided, 1 sparse COO (2, MKL-DNN, is applied after
// creation by finishLayout).
at::TensorOptions options(JNIEnv* env, jint dtype, jint layout, jintArray djlDevice, jboolean requiresGrad);
at::Tensor finishLayout(at::Tensor t, jint layout, jboolean requiresGrad);

// ---- Java arrays --------------------------------------------------------------------------------

std::vector<int64_t> longs(JNIEnv* env, jlongArray array);
jlongArray newLongArray(JNIEnv* env, const std::vector<int64_t>& values);
jlongArray wrapAll(JNIEnv* env, const std::vector<at::Tensor>& tensors);
std::vector<at::Tensor> tensors(JNIEnv* env, jlongArray handles);
std::string string(JNIEnv* env, jstring s);
jobjectArray newStringArray(JNIEnv* env, const std::vector<std::string>& values);

// ---- devices ------------------------------------------------------------------------------------

// Copies a host tensor to `target`. Small copies go through pinned memory without waiting: a
// blocking copy from pageable memory synchronizes the stream, and DJL creates a one-element
// tensor for every arithmetic op with a Java number (x.mul(0.5)), which would otherwise stall
// the GPU queue at each such op.
at::Tensor toDevice(const at::Tensor& host, const at::Device& target);

// Information about the CUDA devices from the driver (libcuda), without CUDA headers.
struct CudaDeviceInfo {
  std::string name;
  int major = 0;
  int minor = 0;
  size_t totalMemory = 0;
};
std::vector<CudaDeviceInfo> cudaDevices();
bool cudaAvailable();

}  // namespace bridge

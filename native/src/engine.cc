// Engine-wide natives: grad mode, threads, seeds, capabilities, caches.
#include "bridge.h"

#include <ATen/Parallel.h>
#include <torch/csrc/autograd/profiler_kineto.h>
#include <torch/cuda.h>
#if RLHF_ACCELERATOR_MEMORY
#include <ATen/DeviceAccelerator.h>
#endif

using namespace bridge;

extern "C" JNIEXPORT jint JNICALL JNI_OnLoad(JavaVM*, void*) {
  return JNI_VERSION_1_8;
}

DJL_NATIVE(jboolean, torchIsGradMode)(JNIEnv* env, jobject) {
  BRIDGE_TRY
  return c10::GradMode::is_enabled();
  BRIDGE_CATCH(JNI_FALSE)
}

// Grad mode is thread-local in PyTorch: this sets it for the calling Java thread only.
DJL_NATIVE(void, torchSetGradMode)(JNIEnv* env, jobject, jboolean enable) {
  BRIDGE_TRY
  c10::GradMode::set_enabled(enable);
  BRIDGE_CATCH()
}

DJL_NATIVE(jint, torchGetNumInteropThreads)(JNIEnv* env, jobject) {
  BRIDGE_TRY
  return at::get_num_interop_threads();
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jint, torchGetNumThreads)(JNIEnv* env, jobject) {
  BRIDGE_TRY
  return at::get_num_threads();
  BRIDGE_CATCH(0)
}

DJL_NATIVE(void, torchSetNumInteropThreads)(JNIEnv* env, jobject, jint threads) {
  BRIDGE_TRY
  at::set_num_interop_threads(threads);
  BRIDGE_CATCH()
}

DJL_NATIVE(void, torchSetNumThreads)(JNIEnv* env, jobject, jint threads) {
  BRIDGE_TRY
  at::set_num_threads(threads);
  BRIDGE_CATCH()
}

DJL_NATIVE(void, torchSetBenchmarkCuDNN)(JNIEnv* env, jobject, jboolean enable) {
  BRIDGE_TRY
  at::globalContext().setBenchmarkCuDNN(enable);
  BRIDGE_CATCH()
}

// Seeds the CPU generator and every CUDA generator.
DJL_NATIVE(void, torchManualSeed)(JNIEnv* env, jobject, jlong seed) {
  BRIDGE_TRY
  at::manual_seed(static_cast<uint64_t>(seed));
  BRIDGE_CATCH()
}

// The capabilities DJL asks about (ai.djl.engine.StandardCapabilities). "CUDA" makes
// Engine.getGpuCount() consult the devices.
DJL_NATIVE(void, torchShowConfig)(JNIEnv* env, jobject, jobject set) {
  BRIDGE_TRY
  jclass setClass = env->GetObjectClass(set);
  jmethodID add = env->GetMethodID(setClass, "add", "(Ljava/lang/Object;)Z");
  auto put = [&](const char* feature) {
    jstring s = env->NewStringUTF(feature);
    env->CallBooleanMethod(set, add, s);
    env->DeleteLocalRef(s);
  };
  if (torch::cuda::is_available()) {
    put("CUDA");
  }
  if (torch::cuda::cudnn_is_available()) {
    put("CUDNN");
  }
  if (at::hasMKL()) {
    put("MKL");
  }
  if (at::hasMKLDNN()) {
    put("MKLDNN");
  }
  if (at::hasOpenMP()) {
    put("OPENMP");
  }
  env->DeleteLocalRef(setClass);
  BRIDGE_CATCH()
}

// PyTorch's (Kineto) profiler: CPU operators and, with useCuda, every GPU kernel; the stop call
// writes a Chrome trace (chrome://tracing, Perfetto) to the given file.
DJL_NATIVE(void, torchStartProfile)(JNIEnv* env, jobject, jboolean useCuda, jboolean recordShape,
                                    jboolean profileMemory) {
  BRIDGE_TRY
  namespace impl = torch::profiler::impl;
  impl::ProfilerConfig config(impl::ProfilerState::KINETO, recordShape, profileMemory);
  std::set<impl::ActivityType> activities{impl::ActivityType::CPU};
  if (useCuda) {
    activities.insert(impl::ActivityType::CUDA);
  }
  torch::autograd::profiler::prepareProfiler(config, activities);
  torch::autograd::profiler::enableProfiler(config, activities);
  BRIDGE_CATCH()
}

DJL_NATIVE(void, torchStopProfile)(JNIEnv* env, jobject, jstring outputFile) {
  BRIDGE_TRY
  auto result = torch::autograd::profiler::disableProfiler();
  TORCH_CHECK(result, "the profiler was not running");
  result->save(string(env, outputFile));
  BRIDGE_CATCH()
}

DJL_NATIVE(void, torchCudaEmptyCache)(JNIEnv* env, jobject) {
  BRIDGE_TRY
#if RLHF_ACCELERATOR_MEMORY
  if (torch::cuda::is_available()) {
    at::accelerator::emptyCache();
  }
#endif
  BRIDGE_CATCH()
}

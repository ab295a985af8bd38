// Shared helpers of the bridge: error translation, type/device mapping, Java array conversion,
// host-to-device copies and the CUDA driver query.
#include "bridge.h"

#include <dlfcn.h>

#include <cstring>
#include <mutex>

namespace bridge {

namespace {

jclass engineExceptionClass = nullptr;  // global ref to ai.djl.engine.EngineException

jclass findEngineException(JNIEnv* env) {
  if (engineExceptionClass != nullptr) {
    return engineExceptionClass;
  }
  jclass local = env->FindClass("ai/djl/engine/EngineException");
  if (local == nullptr) {
    env->ExceptionClear();
    local = env->FindClass("java/lang/RuntimeException");
  }
  engineExceptionClass = static_cast<jclass>(env->NewGlobalRef(local));
  env->DeleteLocalRef(local);
  return engineExceptionClass;
}

}  // namespace

void throwEngineException(JNIEnv* env, const std::string& message) {
  if (env->ExceptionCheck()) {
    return;  // a Java exception is already pending (e.g. from a JNI call); keep it
  }
  env->ThrowNew(findEngineException(env), message.c_str());
}

void rethrowToJava(JNIEnv* env) {
  try {
    throw;
  } catch (const c10::Error& e) {
    throwEngineException(env, e.what_without_backtrace());
  } catch (const std::exception& e) {
    throwEngineException(env, e.what());
  } catch (...) {
    throwEngineException(env, "unknown native error in the rlhf-stream bridge");
  }
}

// ---- types and devices --------------------------------------------------------------------------

// DJL DataType ordinals: FLOAT32, FLOAT64, FLOAT16, UINT8, INT32, INT8, INT64, BOOLEAN, COMPLEX64,
// UNKNOWN, STRING, BFLOAT16, UINT64, UINT32, UINT16, INT16.
at::ScalarType scalarType(jint t) {
  switch (t) {
    case 0: return at::kFloat;
    case 1: return at::kDouble;
    case 2: return at::kHalf;
    case 3: return at::kByte;
    case 4: return at::kInt;
    case 5: return at::kChar;
    case 6: return at::kLong;
    case 7: return at::kBool;
    case 8: return at::kComplexFloat;
    case 11: return at::kBFloat16;
#if RLHF_TORCH_AT_LEAST(2, 3)
    case 12: return at::kUInt64;
    case 13: return at::kUInt32;
    case 14: return at::kUInt16;
#endif
    case 15: return at::kShort;
    default: TORCH_CHECK(false, "data type ordinal ", t, " has no PyTorch equivalent in this build");
  }
}

jint djlDataType(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return 0;
    case at::kDouble: return 1;
    case at::kHalf: return 2;
    case at::kByte: return 3;
    case at::kInt: return 4;
    case at::kChar: return 5;
    case at::kLong: return 6;
    case at::kBool: return 7;
    case at::kComplexFloat: return 8;
    case at::kBFloat16: return 11;
#if RLHF_TORCH_AT_LEAST(2, 3)
    case at::kUInt64: return 12;
    case at::kUInt32: return 13;
    case at::kUInt16: return 14;
#endif
    case at::kShort: return 15;
    default: return 9;  // UNKNOWN
  }
}

at::Device device(JNIEnv* env, jintArray djlDevice) {
  TORCH_CHECK(djlDevice != nullptr && env->GetArrayLength(djlDevice) >= 2, "device must be {type, index}");
  jint v[2];
  env->GetIntArrayRegion(djlDevice, 0, 2, v);
  switch (v[0]) {
    case 0: return at::Device(at::kCPU);
    case 1: return at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(v[1] < 0 ? 0 : v[1]));
    case 13: return at::Device(at::kMPS, static_cast<c10::DeviceIndex>(v[1] < 0 ? 0 : v[1]));
    default: TORCH_CHECK(false, "unsupported DJL device type ", v[0]);
  }
}

jint djlDeviceType(const at::Device& d) {
  switch (d.type()) {
    case at::kCPU: return 0;
    case at::kCUDA: return 1;
    case at::kMPS: return 13;
    default: TORCH_CHECK(false, "tensor is on a device DJL does not know: ", d.str());
  }
}

at::TensorOptions options(JNIEnv* env, jint dtype, jint layout, jintArray djlDevice, jboolean /*requiresGrad*/) {
  at::TensorOptions o = at::TensorOptions().dtype(scalarType(dtype)).device(device(env, djlDevice));
  if (layout == 1) {
    o = o.layout(at::kSparse);
  }
  // requires_grad is applied by finishLayout, after any layout conversion (only leaves may
  // require a gradient).
  return o;
}

at::Tensor finishLayout(at::Tensor t, jint layout, jboolean requiresGrad) {
  if (layout == 2) {
    t = t.to_mkldnn();
  }
  if (requiresGrad) {
    t.requires_grad_(true);
  }
  return t;
}

// ---- Java arrays --------------------------------------------------------------------------------

std::vector<int64_t> longs(JNIEnv* env, jlongArray array) {
  if (array == nullptr) {
    return {};
  }
  jsize n = env->GetArrayLength(array);
  std::vector<int64_t> out(static_cast<size_t>(n));
  if (n > 0) {
    static_assert(sizeof(jlong) == sizeof(int64_t), "jlong is 64 bits");
    env->GetLongArrayRegion(array, 0, n, reinterpret_cast<jlong*>(out.data()));
  }
  return out;
}

jlongArray newLongArray(JNIEnv* env, const std::vector<int64_t>& values) {
  jlongArray out = env->NewLongArray(static_cast<jsize>(values.size()));
  TORCH_CHECK(out != nullptr, "out of Java memory");
  if (!values.empty()) {
    env->SetLongArrayRegion(out, 0, static_cast<jsize>(values.size()), reinterpret_cast<const jlong*>(values.data()));
  }
  return out;
}

jlongArray wrapAll(JNIEnv* env, const std::vector<at::Tensor>& ts) {
  std::vector<int64_t> handles;
  handles.reserve(ts.size());
  for (const auto& t : ts) {
    handles.push_back(wrap(t));
  }
  return newLongArray(env, handles);
}

std::vector<at::Tensor> tensors(JNIEnv* env, jlongArray handles) {
  std::vector<at::Tensor> out;
  for (int64_t h : longs(env, handles)) {
    out.push_back(tensor(h));
  }
  return out;
}

std::string string(JNIEnv* env, jstring s) {
  if (s == nullptr) {
    return {};
  }
  const char* chars = env->GetStringUTFChars(s, nullptr);
  std::string out(chars);
  env->ReleaseStringUTFChars(s, chars);
  return out;
}

jobjectArray newStringArray(JNIEnv* env, const std::vector<std::string>& values) {
  jclass stringClass = env->FindClass("java/lang/String");
  jobjectArray out = env->NewObjectArray(static_cast<jsize>(values.size()), stringClass, nullptr);
  TORCH_CHECK(out != nullptr, "out of Java memory");
  for (size_t i = 0; i < values.size(); i++) {
    jstring s = env->NewStringUTF(values[i].c_str());
    env->SetObjectArrayElement(out, static_cast<jsize>(i), s);
    env->DeleteLocalRef(s);
  }
  env->DeleteLocalRef(stringClass);
  return out;
}

// ---- devices ------------------------------------------------------------------------------------

namespace {
constexpr int64_t kPinnedCopyLimitBytes = 1 << 20;
}

at::Tensor toDevice(const at::Tensor& host, const at::Device& target) {
  if (target.is_cpu()) {
    return host;
  }
  int64_t bytes = host.numel() * static_cast<int64_t>(host.element_size());
  if (target.is_cuda() && bytes <= kPinnedCopyLimitBytes) {
    // The pinned block is returned to torch's host allocator only after the copy has run on the
    // stream, so the source buffer can be reused by Java at once.
    at::Tensor pinned = at::empty(host.sizes(), host.options().pinned_memory(true));
    pinned.copy_(host);
    return pinned.to(target, /*non_blocking=*/true);
  }
  return host.to(target);
}

// ---- the CUDA driver, looked up at run time ---------------------------------------------------

namespace {

using CuInit = int (*)(unsigned int);
using CuDeviceGetCount = int (*)(int*);
using CuDeviceGet = int (*)(int*, int);
using CuDeviceGetName = int (*)(char*, int, int);
using CuDeviceTotalMem = int (*)(size_t*, int);
using CuDeviceGetAttribute = int (*)(int*, int, int);

constexpr int kAttrComputeCapabilityMajor = 75;
constexpr int kAttrComputeCapabilityMinor = 76;

}  // namespace

std::vector<CudaDeviceInfo> cudaDevices() {
  static std::once_flag once;
  static std::vector<CudaDeviceInfo> devices;
  std::call_once(once, [] {
    void* lib = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_LOCAL);
    if (lib == nullptr) {
      return;
    }
    auto init = reinterpret_cast<CuInit>(dlsym(lib, "cuInit"));
    auto count = reinterpret_cast<CuDeviceGetCount>(dlsym(lib, "cuDeviceGetCount"));
    auto get = reinterpret_cast<CuDeviceGet>(dlsym(lib, "cuDeviceGet"));
    auto name = reinterpret_cast<CuDeviceGetName>(dlsym(lib, "cuDeviceGetName"));
    auto mem = reinterpret_cast<CuDeviceTotalMem>(dlsym(lib, "cuDeviceTotalMem_v2"));
    auto attr = reinterpret_cast<CuDeviceGetAttribute>(dlsym(lib, "cuDeviceGetAttribute"));
    if (!init || !count || !get || !name || !mem || !attr || init(0) != 0) {
      return;
    }
    int n = 0;
    if (count(&n) != 0) {
      return;
    }
    for (int i = 0; i < n; i++) {
      int dev = 0;
      if (get(&dev, i) != 0) {
        continue;
      }
      CudaDeviceInfo info;
      char buf[256] = {0};
      name(buf, sizeof(buf) - 1, dev);
      info.name = buf;
      mem(&info.totalMemory, dev);
      attr(&info.major, kAttrComputeCapabilityMajor, dev);
      attr(&info.minor, kAttrComputeCapabilityMinor, dev);
      devices.push_back(info);
    }
  });
  return devices;
}

bool cudaAvailable() {
  return at::hasCUDA();
}

}  // namespace bridge

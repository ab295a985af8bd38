// TorchScript modules and IValues (ai.djl.pytorch.engine.PtSymbolBlock, ai.djl.pytorch.jni.IValue).
// A module handle is a heap-allocated torch::jit::Module, an IValue handle a heap-allocated
// c10::IValue; Java frees them with torchDeleteModule / torchDeleteIValue.
#include "bridge.h"

#include <torch/csrc/jit/runtime/graph_executor.h>
#include <torch/script.h>

#include <sstream>
#include <unordered_map>

using namespace bridge;

namespace {

torch::jit::Module& module(jlong handle) {
  TORCH_CHECK(handle != 0, "null module handle");
  return *reinterpret_cast<torch::jit::Module*>(handle);
}

c10::IValue& ivalue(jlong handle) {
  TORCH_CHECK(handle != 0, "null IValue handle");
  return *reinterpret_cast<c10::IValue*>(handle);
}

jlong wrapIValue(c10::IValue v) {
  return reinterpret_cast<jlong>(new c10::IValue(std::move(v)));
}

jlongArray wrapIValues(JNIEnv* env, const std::vector<c10::IValue>& values) {
  std::vector<int64_t> handles;
  handles.reserve(values.size());
  for (const auto& v : values) {
    handles.push_back(wrapIValue(v));
  }
  return newLongArray(env, handles);
}

std::vector<c10::IValue> ivalues(JNIEnv* env, jlongArray handles) {
  std::vector<c10::IValue> out;
  for (int64_t h : longs(env, handles)) {
    out.push_back(ivalue(h));
  }
  return out;
}

c10::TypePtr elementType(const std::vector<c10::IValue>& values) {
  if (values.empty()) {
    return c10::AnyType::get();
  }
  c10::TypePtr first = values[0].type();
  for (const auto& v : values) {
    if (*v.type() != *first) {
      return c10::AnyType::get();
    }
  }
  return first;
}

void setParameterGradients(torch::jit::Module& m, bool requiresGrad) {
  for (at::Tensor p : m.parameters()) {
    p.requires_grad_(requiresGrad);
  }
}

}  // namespace

// ---- modules ------------------------------------------------------------------------------------

DJL_NATIVE(jlong, moduleLoad__Ljava_lang_String_2_3IZ_3Ljava_lang_String_2_3Ljava_lang_String_2Z)(
    JNIEnv* env, jobject, jstring path, jintArray djlDevice, jboolean mapLocation, jobjectArray extraFileNames,
    jobjectArray extraFileValues, jboolean trainParam) {
  BRIDGE_TRY
  torch::jit::ExtraFilesMap extra;
  jsize n = extraFileNames == nullptr ? 0 : env->GetArrayLength(extraFileNames);
  std::vector<std::string> names;
  for (jsize i = 0; i < n; i++) {
    names.push_back(string(env, static_cast<jstring>(env->GetObjectArrayElement(extraFileNames, i))));
    extra[names.back()] = "";
  }
  c10::optional<at::Device> target;
  if (mapLocation) {
    target = device(env, djlDevice);
  }
  torch::jit::Module m = torch::jit::load(string(env, path), target, extra);
  for (jsize i = 0; i < n; i++) {
    jstring value = env->NewStringUTF(extra[names[static_cast<size_t>(i)]].c_str());
    env->SetObjectArrayElement(extraFileValues, i, value);
    env->DeleteLocalRef(value);
  }
  setParameterGradients(m, trainParam);
  return reinterpret_cast<jlong>(new torch::jit::Module(std::move(m)));
  BRIDGE_CATCH(0)
}

// Reads the whole stream (or `size` bytes when size >= 0) through the Java buffer.
DJL_NATIVE(jlong, moduleLoad__Ljava_io_InputStream_2_3IZ_3BJ)(JNIEnv* env, jobject, jobject stream,
                                                             jintArray djlDevice, jboolean mapLocation,
                                                             jbyteArray buffer, jlong size) {
  BRIDGE_TRY
  jclass streamClass = env->GetObjectClass(stream);
  jmethodID read = env->GetMethodID(streamClass, "read", "([BII)I");
  jsize capacity = env->GetArrayLength(buffer);
  std::string bytes;
  while (size < 0 || static_cast<jlong>(bytes.size()) < size) {
    jint want = capacity;
    if (size >= 0) {
      want = static_cast<jint>(std::min<jlong>(capacity, size - static_cast<jlong>(bytes.size())));
    }
    jint got = env->CallIntMethod(stream, read, buffer, 0, want);
    if (env->ExceptionCheck()) {
      return 0;
    }
    if (got < 0) {
      break;
    }
    size_t offset = bytes.size();
    bytes.resize(offset + static_cast<size_t>(got));
    env->GetByteArrayRegion(buffer, 0, got, reinterpret_cast<jbyte*>(&bytes[offset]));
  }
  std::istringstream in(bytes);
  c10::optional<at::Device> target;
  if (mapLocation) {
    target = device(env, djlDevice);
  }
  torch::jit::Module m = torch::jit::load(in, target);
  return reinterpret_cast<jlong>(new torch::jit::Module(std::move(m)));
  BRIDGE_CATCH(0)
}

// Writes the serialized module to the Java stream, preceded by its length as a big-endian long
// when writeSize (what JniUtils.loadModuleHandle reads back).
DJL_NATIVE(void, moduleWrite)(JNIEnv* env, jobject, jlong handle, jobject stream, jbyteArray buffer,
                              jboolean writeSize) {
  BRIDGE_TRY
  std::ostringstream out;
  module(handle).save(out);
  std::string bytes = out.str();
  jclass streamClass = env->GetObjectClass(stream);
  jmethodID write = env->GetMethodID(streamClass, "write", "([BII)V");
  jsize capacity = env->GetArrayLength(buffer);
  if (writeSize) {
    jbyte header[8];
    uint64_t length = bytes.size();
    for (int i = 0; i < 8; i++) {
      header[i] = static_cast<jbyte>((length >> (56 - 8 * i)) & 0xff);
    }
    env->SetByteArrayRegion(buffer, 0, 8, header);
    env->CallVoidMethod(stream, write, buffer, 0, 8);
    if (env->ExceptionCheck()) {
      return;
    }
  }
  for (size_t offset = 0; offset < bytes.size();) {
    jsize chunk = static_cast<jsize>(std::min<size_t>(static_cast<size_t>(capacity), bytes.size() - offset));
    env->SetByteArrayRegion(buffer, 0, chunk, reinterpret_cast<const jbyte*>(bytes.data() + offset));
    env->CallVoidMethod(stream, write, buffer, 0, chunk);
    if (env->ExceptionCheck()) {
      return;
    }
    offset += static_cast<size_t>(chunk);
  }
  BRIDGE_CATCH()
}

DJL_NATIVE(void, torchDeleteModule)(JNIEnv* env, jobject, jlong handle) {
  BRIDGE_TRY
  delete reinterpret_cast<torch::jit::Module*>(handle);
  BRIDGE_CATCH()
}

DJL_NATIVE(void, moduleEval)(JNIEnv* env, jobject, jlong handle) {
  BRIDGE_TRY
  module(handle).eval();
  BRIDGE_CATCH()
}

DJL_NATIVE(void, moduleTrain)(JNIEnv* env, jobject, jlong handle) {
  BRIDGE_TRY
  module(handle).train();
  BRIDGE_CATCH()
}

// Runs a method; outside training, without recording a graph.
DJL_NATIVE(jlong, moduleRunMethod)(JNIEnv* env, jobject, jlong handle, jstring methodName, jlongArray inputs,
                                   jboolean isTrain, jboolean /*separateCudaStream*/) {
  BRIDGE_TRY
  std::vector<c10::IValue> args = ivalues(env, inputs);
  torch::jit::Method method = module(handle).get_method(string(env, methodName));
  if (isTrain) {
    return wrapIValue(method(std::move(args)));
  }
  at::NoGradGuard noGrad;
  return wrapIValue(method(std::move(args)));
  BRIDGE_CATCH(0)
}

DJL_NATIVE(void, setGraphExecutorOptimize)(JNIEnv* env, jobject, jboolean enabled) {
  BRIDGE_TRY
  torch::jit::setGraphExecutorOptimize(enabled);
  BRIDGE_CATCH()
}

DJL_NATIVE(jlongArray, moduleGetParams)(JNIEnv* env, jobject, jlong handle) {
  BRIDGE_TRY
  std::vector<at::Tensor> params;
  for (const auto& p : module(handle).named_parameters()) {
    params.push_back(p.value);
  }
  return wrapAll(env, params);
  BRIDGE_CATCH(nullptr)
}

DJL_NATIVE(jobjectArray, moduleGetParamNames)(JNIEnv* env, jobject, jlong handle) {
  BRIDGE_TRY
  std::vector<std::string> names;
  for (const auto& p : module(handle).named_parameters()) {
    names.push_back(p.name);
  }
  return newStringArray(env, names);
  BRIDGE_CATCH(nullptr)
}

DJL_NATIVE(jobjectArray, moduleGetMethodNames)(JNIEnv* env, jobject, jlong handle) {
  BRIDGE_TRY
  std::vector<std::string> names;
  for (const auto& m : module(handle).get_methods()) {
    names.push_back(m.name());
  }
  return newStringArray(env, names);
  BRIDGE_CATCH(nullptr)
}

// ---- IValues ------------------------------------------------------------------------------------

DJL_NATIVE(void, torchDeleteIValue)(JNIEnv* env, jobject, jlong handle) {
  BRIDGE_TRY
  delete reinterpret_cast<c10::IValue*>(handle);
  BRIDGE_CATCH()
}

DJL_NATIVE(jlong, iValueFromTensor)(JNIEnv* env, jobject, jlong h) {
  BRIDGE_TRY
  return wrapIValue(tensor(h));
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jlong, iValueFromBool)(JNIEnv* env, jobject, jboolean v) {
  BRIDGE_TRY
  return wrapIValue(static_cast<bool>(v));
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jlong, iValueFromLong)(JNIEnv* env, jobject, jlong v) {
  BRIDGE_TRY
  return wrapIValue(static_cast<int64_t>(v));
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jlong, iValueFromDouble)(JNIEnv* env, jobject, jdouble v) {
  BRIDGE_TRY
  return wrapIValue(static_cast<double>(v));
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jlong, iValueFromString)(JNIEnv* env, jobject, jstring v) {
  BRIDGE_TRY
  return wrapIValue(string(env, v));
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jlong, iValueFromBoolList)(JNIEnv* env, jobject, jbooleanArray values) {
  BRIDGE_TRY
  jsize n = env->GetArrayLength(values);
  std::vector<jboolean> raw(static_cast<size_t>(n));
  env->GetBooleanArrayRegion(values, 0, n, raw.data());
  c10::List<bool> list;
  for (jboolean b : raw) {
    list.push_back(b != 0);
  }
  return wrapIValue(list);
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jlong, iValueFromLongList)(JNIEnv* env, jobject, jlongArray values) {
  BRIDGE_TRY
  c10::List<int64_t> list;
  for (int64_t v : longs(env, values)) {
    list.push_back(v);
  }
  return wrapIValue(list);
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jlong, iValueFromDoubleList)(JNIEnv* env, jobject, jdoubleArray values) {
  BRIDGE_TRY
  jsize n = env->GetArrayLength(values);
  std::vector<double> raw(static_cast<size_t>(n));
  env->GetDoubleArrayRegion(values, 0, n, raw.data());
  c10::List<double> list;
  for (double v : raw) {
    list.push_back(v);
  }
  return wrapIValue(list);
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jlong, iValueFromTensorList)(JNIEnv* env, jobject, jlongArray handles) {
  BRIDGE_TRY
  c10::List<at::Tensor> list;
  for (const auto& t : tensors(env, handles)) {
    list.push_back(t);
  }
  return wrapIValue(list);
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jlong, iValueFromList)(JNIEnv* env, jobject, jlongArray handles) {
  BRIDGE_TRY
  std::vector<c10::IValue> values = ivalues(env, handles);
  c10::impl::GenericList list(elementType(values));
  for (auto& v : values) {
    list.push_back(v);
  }
  return wrapIValue(list);
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jlong, iValueFromTuple)(JNIEnv* env, jobject, jlongArray handles) {
  BRIDGE_TRY
  return wrapIValue(c10::ivalue::Tuple::create(ivalues(env, handles)));
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jlong, iValueFromStringMap)(JNIEnv* env, jobject, jobjectArray keys, jlongArray handles) {
  BRIDGE_TRY
  std::vector<at::Tensor> values = tensors(env, handles);
  c10::Dict<std::string, at::Tensor> dict;
  for (size_t i = 0; i < values.size(); i++) {
    dict.insert(string(env, static_cast<jstring>(env->GetObjectArrayElement(keys, static_cast<jsize>(i)))),
                values[i]);
  }
  return wrapIValue(dict);
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jlong, iValueFromStringIValueMap)(JNIEnv* env, jobject, jobjectArray keys, jlongArray handles) {
  BRIDGE_TRY
  std::vector<c10::IValue> values = ivalues(env, handles);
  c10::impl::GenericDict dict(c10::StringType::get(), elementType(values));
  for (size_t i = 0; i < values.size(); i++) {
    dict.insert(string(env, static_cast<jstring>(env->GetObjectArrayElement(keys, static_cast<jsize>(i)))),
                values[i]);
  }
  return wrapIValue(dict);
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jlong, iValueToTensor)(JNIEnv* env, jobject, jlong h) {
  BRIDGE_TRY
  return wrap(ivalue(h).toTensor());
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jboolean, iValueToBool)(JNIEnv* env, jobject, jlong h) {
  BRIDGE_TRY
  return ivalue(h).toBool();
  BRIDGE_CATCH(JNI_FALSE)
}

DJL_NATIVE(jlong, iValueToLong)(JNIEnv* env, jobject, jlong h) {
  BRIDGE_TRY
  return ivalue(h).toInt();
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jdouble, iValueToDouble)(JNIEnv* env, jobject, jlong h) {
  BRIDGE_TRY
  return ivalue(h).toDouble();
  BRIDGE_CATCH(0)
}

DJL_NATIVE(jstring, iValueToString)(JNIEnv* env, jobject, jlong h) {
  BRIDGE_TRY
  return env->NewStringUTF(ivalue(h).toStringRef().c_str());
  BRIDGE_CATCH(nullptr)
}

DJL_NATIVE(jbooleanArray, iValueToBoolList)(JNIEnv* env, jobject, jlong h) {
  BRIDGE_TRY
  c10::List<bool> list = ivalue(h).toBoolList();
  std::vector<jboolean> raw;
  for (bool b : list) {
    raw.push_back(b ? JNI_TRUE : JNI_FALSE);
  }
  jbooleanArray out = env->NewBooleanArray(static_cast<jsize>(raw.size()));
  env->SetBooleanArrayRegion(out, 0, static_cast<jsize>(raw.size()), raw.data());
  return out;
  BRIDGE_CATCH(nullptr)
}

DJL_NATIVE(jlongArray, iValueToLongList)(JNIEnv* env, jobject, jlong h) {
  BRIDGE_TRY
  c10::List<int64_t> list = ivalue(h).toIntList();
  return newLongArray(env, list.vec());
  BRIDGE_CATCH(nullptr)
}

DJL_NATIVE(jdoubleArray, iValueToDoubleList)(JNIEnv* env, jobject, jlong h) {
  BRIDGE_TRY
  std::vector<double> values = ivalue(h).toDoubleList().vec();
  jdoubleArray out = env->NewDoubleArray(static_cast<jsize>(values.size()));
  env->SetDoubleArrayRegion(out, 0, static_cast<jsize>(values.size()), values.data());
  return out;
  BRIDGE_CATCH(nullptr)
}

DJL_NATIVE(jlongArray, iValueToTensorList)(JNIEnv* env, jobject, jlong h) {
  BRIDGE_TRY
  return wrapAll(env, ivalue(h).toTensorList().vec());
  BRIDGE_CATCH(nullptr)
}

DJL_NATIVE(jlongArray, iValueToIValueList)(JNIEnv* env, jobject, jlong h) {
  BRIDGE_TRY
  return wrapIValues(env, ivalue(h).toList().vec());
  BRIDGE_CATCH(nullptr)
}

DJL_NATIVE(jlongArray, iValueToIValueTuple)(JNIEnv* env, jobject, jlong h) {
  BRIDGE_TRY
  const auto& elements = ivalue(h).toTupleRef().elements();
  return wrapIValues(env, std::vector<c10::IValue>(elements.begin(), elements.end()));
  BRIDGE_CATCH(nullptr)
}

// Keys and values alternating: k0, v0, k1, v1, ...
DJL_NATIVE(jlongArray, iValueToMap)(JNIEnv* env, jobject, jlong h) {
  BRIDGE_TRY
  std::vector<c10::IValue> flat;
  for (const auto& entry : ivalue(h).toGenericDict()) {
    flat.push_back(entry.key());
    flat.push_back(entry.value());
  }
  return wrapIValues(env, flat);
  BRIDGE_CATCH(nullptr)
}

DJL_NATIVE(jstring, iValueGetType)(JNIEnv* env, jobject, jlong h) {
  BRIDGE_TRY
  return env->NewStringUTF(ivalue(h).tagKind().c_str());
  BRIDGE_CATCH(nullptr)
}

#define IVALUE_IS(name, predicate)                                       \
  DJL_NATIVE(jboolean, name)(JNIEnv * env, jobject, jlong h) {            \
    BRIDGE_TRY                                                           \
    return ivalue(h).predicate();                                        \
    BRIDGE_CATCH(JNI_FALSE)                                              \
  }

IVALUE_IS(iValueIsTensor, isTensor)
IVALUE_IS(iValueIsBool, isBool)
IVALUE_IS(iValueIsLong, isInt)
IVALUE_IS(iValueIsDouble, isDouble)
IVALUE_IS(iValueIsString, isString)
IVALUE_IS(iValueIsBoolList, isBoolList)
IVALUE_IS(iValueIsLongList, isIntList)
IVALUE_IS(iValueIsDoubleList, isDoubleList)
IVALUE_IS(iValueIsTensorList, isTensorList)
IVALUE_IS(iValueIsList, isList)
IVALUE_IS(iValueIsTuple, isTuple)
IVALUE_IS(iValueIsMap, isGenericDict)

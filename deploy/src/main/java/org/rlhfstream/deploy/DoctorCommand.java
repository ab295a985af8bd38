package org.rlhfstream.deploy;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.LibUtils;
import com.google.gson.GsonBuilder;
import java.io.PrintWriter;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import org.rlhfstream.model.nativeops.FastOps;
import org.rlhfstream.model.nativeops.NativeBridge;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code rlhf doctor}: which native library DJL loaded, the PyTorch version, the devices, and which
 * fast paths are active; with a device named, a small check that computes on it.
 */
@Command(
    name = "doctor",
    mixinStandardHelpOptions = true,
    description = "Show the native library, PyTorch version, devices and fast paths in use.")
public final class DoctorCommand implements Callable<Integer> {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Option(names = "--native", defaultValue = "auto", paramLabel = "MODE",
      description = "Use the native bridge: auto (when installed), required, off (default: ${DEFAULT-VALUE}).")
  String nativeMode;

  @Option(names = "--device", paramLabel = "DEVICE",
      description = "Also compute a small check on this device (cpu, gpu, gpu:1).")
  String device;

  @Option(names = "--output", defaultValue = "text", paramLabel = "FORMAT", description = "text or json.")
  OutputFormat output;

  @Override
  public Integer call() {
    NativeBridge.Status status;
    try {
      status = NativeBridge.configure(NativeBridge.Mode.parse(nativeMode));
    } catch (IllegalArgumentException | IllegalStateException e) {
      throw new UserError(e.getMessage());
    }
    Map<String, Object> report = new LinkedHashMap<>();
    report.put("java", System.getProperty("java.version") + " (" + System.getProperty("os.name") + " "
        + System.getProperty("os.arch") + ")");
    report.put("bridge_configuration", status.message());
    Engine engine = Engine.getEngine("PyTorch");
    report.put("engine", engine.getEngineName() + " " + engine.getVersion());
    report.put("libtorch", LibUtils.getLibtorchPath());
    boolean bridged = FastOps.available();
    report.put("native_library", bridged ? "rlhf-stream bridge" + (status.library() == null ? "" : " " + status.library())
        : "DJL's prebuilt libdjl_torch (PyTorch " + engine.getVersion() + ")");
    Map<String, String> info = FastOps.info();
    report.putAll(prefixed(info));
    report.put("gpus_visible_to_djl", engine.getGpuCount());
    Map<String, String> fast = new LinkedHashMap<>();
    fast.put("attention", bridged ? "PyTorch scaled_dot_product_attention (" + info.getOrDefault("sdpa", "?") + ")"
        : "composed (matmul + softmax)");
    fast.put("bf16 mixed precision", bridged ? "available" : "unavailable (needs the bridge)");
    fast.put("differentiable casts", bridged ? "native" : "widening only");
    fast.put("AdamW", bridged ? "native (" + info.getOrDefault("fused_adamw", "") + " fused)" : "composed");
    fast.put("fused layers (LoRA linear, rotary, SwiGLU, RMSNorm)", bridged ? "native" : "composed");
    fast.put("TF32", bridged ? (FastOps.tf32() ? "on" : "off (FastOps.setTf32)") : "n/a");
    report.put("fast_paths", fast);
    if (device != null) {
      report.put("check", check(device));
    }
    PrintWriter out = spec.commandLine().getOut();
    if (output.isJson()) {
      out.println(new GsonBuilder().disableHtmlEscaping().create().toJson(report));
    } else {
      print(out, report, "");
    }
    out.flush();
    return RlhfCommand.EXIT_OK;
  }

  private static Map<String, Object> prefixed(Map<String, String> info) {
    Map<String, Object> out = new LinkedHashMap<>();
    info.forEach((k, v) -> out.put("bridge." + k, v));
    return out;
  }

  /** A 256×256 matrix product and a softmax on the device, compared with the CPU. */
  private static String check(String deviceName) {
    Device d;
    try {
      d = Device.fromName(deviceName);
    } catch (IllegalArgumentException e) {
      throw new UserError("unknown device '" + deviceName + "': use cpu, gpu or gpu:N");
    }
    try (NDManager cpu = NDManager.newBaseManager(Device.cpu(), "PyTorch");
        NDManager dev = NDManager.newBaseManager(d, "PyTorch")) {
      NDArray a = cpu.randomUniform(-1, 1, new Shape(256, 256));
      NDArray expected = a.matMul(a).softmax(-1);
      long t0 = System.nanoTime();
      NDArray got = dev.from(a).toDevice(d, false).matMul(a.toDevice(d, false)).softmax(-1);
      float[] values = got.toDevice(Device.cpu(), false).toFloatArray();
      double ms = (System.nanoTime() - t0) / 1e6;
      float[] want = expected.toFloatArray();
      double worst = 0;
      for (int i = 0; i < want.length; i++) {
        worst = Math.max(worst, Math.abs(values[i] - want[i]));
      }
      String result = String.format(java.util.Locale.ROOT, "ok on %s: matmul + softmax, max |diff| vs cpu %.1e, %.1f ms",
          got.getDevice(), worst, ms);
      if (FastOps.available()) {
        NDArray x = dev.randomUniform(-1, 1, new Shape(1, 2, 8, 16), DataType.FLOAT32).toDevice(d, false);
        FastOps.attention(x, x, x, null, true);
        if (d.isGpu()) {
          FastOps.cast(x, DataType.BFLOAT16).matMul(FastOps.cast(x, DataType.BFLOAT16).transpose(0, 1, 3, 2));
          result += "; SDPA and bf16 ok";
        } else {
          result += "; SDPA ok";
        }
      }
      return result;
    } catch (RuntimeException e) {
      return "FAILED on " + deviceName + ": " + e.getMessage();
    }
  }

  @SuppressWarnings("unchecked")
  private static void print(PrintWriter out, Map<String, Object> m, String indent) {
    for (Map.Entry<String, Object> e : m.entrySet()) {
      if (e.getValue() instanceof Map) {
        out.println(indent + e.getKey() + ":");
        print(out, (Map<String, Object>) e.getValue(), indent + "  ");
      } else {
        out.println(indent + e.getKey() + ": " + e.getValue());
      }
    }
  }
}

package org.rlhfstream.deploy;

import ai.djl.ndarray.types.DataType;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.rlhfstream.model.LoraStepBenchmark;
import org.rlhfstream.model.nativeops.FastOps;
import org.rlhfstream.model.nativeops.NativeBridge;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code rlhf bench gpu}: tokens/s, peak memory and MFU of a LoRA training step of a
 * Qwen2.5-0.5B-shaped model on the GPU through the native bridge, next to the same step in
 * PyTorch + transformers + PEFT ({@code model/bench/gpu_lora_step.py}) when a Python is given.
 */
@Command(
    name = "gpu",
    mixinStandardHelpOptions = true,
    description = "LoRA training step of a Qwen2.5-0.5B-shaped model on the GPU (Java through the native bridge; "
        + "with --python also PyTorch + transformers + PEFT).")
public final class BenchGpuCommand implements Callable<Integer> {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Option(names = "--device", defaultValue = "gpu", description = "DJL device (default: ${DEFAULT-VALUE}).")
  String device;

  @Option(names = "--dtype", defaultValue = "fp32,bf16", split = ",", description = "fp32 and/or bf16 (mixed precision).")
  List<String> dtypes;

  @Option(names = "--shapes", defaultValue = "8x512,16x1024", split = ",", description = "batch x sequence length.")
  List<String> shapes;

  @Option(names = "--attention", defaultValue = "sdpa", description = "sdpa or eager (default: ${DEFAULT-VALUE}).")
  String attention;

  @Option(names = "--model", defaultValue = "qwen2.5-0.5b", paramLabel = "SHAPE",
      description = "qwen2.5-0.5b (default) or tiny (a plumbing check that runs on a CPU).")
  String model;

  @Option(names = "--warmup", defaultValue = "3")
  int warmup;

  @Option(names = "--iters", defaultValue = "10")
  int iters;

  @Option(names = "--tf32", description = "TF32 for float32 matrix products (off by default, as in PyTorch).")
  boolean tf32;

  @Option(names = "--python", paramLabel = "PY", description = "Also run the PyTorch twin with this Python.")
  String python;

  @Option(names = "--script", defaultValue = "model/bench/gpu_lora_step.py", paramLabel = "FILE",
      description = "The PyTorch twin (default: ${DEFAULT-VALUE}).")
  Path script;

  @Option(names = "--profile", paramLabel = "DIR",
      description = "Also profile one step of each case with PyTorch's profiler; Chrome traces go to DIR.")
  Path profileDir;

  @Option(names = "--native", defaultValue = "required", paramLabel = "MODE",
      description = "Native bridge: auto, required or off (default: ${DEFAULT-VALUE}).")
  String nativeMode;

  @Option(names = "--output", defaultValue = "text", description = "text or json (one JSON object, last line).")
  OutputFormat output;

  @Override
  public Integer call() throws Exception {
    try {
      NativeBridge.configure(NativeBridge.Mode.parse(nativeMode));
    } catch (IllegalArgumentException | IllegalStateException e) {
      throw new UserError(e.getMessage());
    }
    List<LoraStepBenchmark.Case> cases = new ArrayList<>();
    for (String d : dtypes) {
      DataType type = switch (d.trim().toLowerCase(Locale.ROOT)) {
        case "fp32", "float32" -> DataType.FLOAT32;
        case "bf16", "bfloat16" -> DataType.BFLOAT16;
        default -> throw new UserError("--dtype takes fp32 or bf16, got " + d);
      };
      for (String s : shapes) {
        String[] bt = s.trim().toLowerCase(Locale.ROOT).split("x");
        if (bt.length != 2) {
          throw new UserError("--shapes takes BATCHxSEQ, got " + s);
        }
        cases.add(new LoraStepBenchmark.Case(type, Integer.parseInt(bt[0]), Integer.parseInt(bt[1]), warmup, iters));
      }
    }
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    if (device.startsWith("gpu") && !FastOps.available()) {
      throw new UserError("the GPU benchmark needs the native bridge: build it with native/build-bridge.sh");
    }
    List<String> rows = new ArrayList<>();
    org.rlhfstream.model.ModelConfig config = switch (model.toLowerCase(Locale.ROOT)) {
      case "qwen2.5-0.5b" -> LoraStepBenchmark.qwen25HalfB();
      case "tiny" -> org.rlhfstream.model.ModelPresets.TINY.config();
      default -> throw new UserError("--model takes qwen2.5-0.5b or tiny, got " + model);
    };
    if (profileDir != null) {
      Files.createDirectories(profileDir);
    }
    List<LoraStepBenchmark.Result> results = LoraStepBenchmark.run(config, device, attention, tf32, cases, profileDir, m -> {
      err.println(m);
      err.flush();
    });
    for (LoraStepBenchmark.Result r : results) {
      rows.add(r.json());
    }
    if (python != null) {
      FastOps.synchronize();
      ai.djl.pytorch.jni.JniUtils.emptyCudaCache(); // give the memory back before PyTorch starts
      rows.addAll(runPython(err));
    }
    if (output.isJson()) {
      out.println("{\"results\":[" + String.join(",", rows) + "]}");
    } else {
      out.println(table(rows));
    }
    out.flush();
    return RlhfCommand.EXIT_OK;
  }

  private List<String> runPython(PrintWriter err) throws IOException, InterruptedException {
    if (!Files.isRegularFile(script)) {
      throw new UserError("PyTorch twin " + script + " not found (run from the repository root or give --script)");
    }
    List<String> cmd = new ArrayList<>(List.of(python, script.toString(), "--dtype", String.join(",", dtypes),
        "--attn", "eager,sdpa", "--shapes", String.join(",", shapes), "--warmup", Integer.toString(warmup),
        "--iters", Integer.toString(iters)));
    if (tf32) {
      cmd.add("--tf32");
    }
    err.println("pytorch " + String.join(" ", cmd.subList(1, cmd.size())) + " …");
    err.flush();
    Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
    List<String> rows = new ArrayList<>();
    try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
      for (String line; (line = r.readLine()) != null; ) {
        if (line.startsWith("{")) {
          rows.add(line.trim());
        }
      }
    }
    if (p.waitFor() != 0) {
      err.println("the PyTorch twin exited with " + p.exitValue());
    }
    return rows;
  }

  /** One line per result: engine, attention, dtype, shape, tokens/s, step, MFU, memory, phases. */
  static String table(List<String> rows) {
    StringBuilder sb = new StringBuilder(String.format(Locale.ROOT, "%-16s %-6s %-5s %-8s %11s %9s %6s %9s %8s %8s %8s%n",
        "engine", "attn", "dtype", "shape", "tokens/s", "step ms", "MFU", "peak GiB", "fwd ms", "bwd ms", "opt ms"));
    for (String row : rows) {
      com.google.gson.JsonObject o = com.google.gson.JsonParser.parseString(row).getAsJsonObject();
      if (o.has("error")) {
        sb.append(String.format(Locale.ROOT, "%-16s %-6s %-5s %-8s %s%n", o.get("engine").getAsString(),
            o.get("attention").getAsString(), o.get("dtype").getAsString(),
            o.get("batch").getAsInt() + "x" + o.get("seq").getAsInt(), o.get("error").getAsString()));
        continue;
      }
      sb.append(String.format(Locale.ROOT, "%-16s %-6s %-5s %-8s %11.0f %9.1f %5.1f%% %9.2f %8.1f %8.1f %8.1f%n",
          o.get("engine").getAsString(), o.get("attention").getAsString(), o.get("dtype").getAsString(),
          o.get("batch").getAsInt() + "x" + o.get("seq").getAsInt(), o.get("tokens_per_s").getAsDouble(),
          o.get("step_ms").getAsDouble(), 100 * o.get("mfu").getAsDouble(), o.get("peak_mem_gib").getAsDouble(),
          o.get("forward_ms").getAsDouble(), o.get("backward_ms").getAsDouble(), o.get("optimizer_ms").getAsDouble()));
    }
    return sb.toString();
  }
}

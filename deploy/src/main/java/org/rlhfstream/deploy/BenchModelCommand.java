package org.rlhfstream.deploy;

import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import org.rlhfstream.model.ModelBenchmark;
import org.rlhfstream.model.ModelInputException;
import org.rlhfstream.model.ModelPresets;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code rlhf bench model}: forward and forward+backward tokens/s of the decoder in Java (DJL) and
 * of the same model in plain PyTorch, with their ratio and peak memory.
 */
@Command(name = "model", mixinStandardHelpOptions = true,
    description = "Forward and forward+backward tokens/s of the tiny and ~25M presets, Java (DJL) next to an equivalent plain PyTorch program.")
public final class BenchModelCommand implements Callable<Integer> {

  @Option(names = "--threads", defaultValue = "2", description = "Intra-op threads for both engines (default: ${DEFAULT-VALUE}).")
  int threads;

  @Option(names = "--python", description = "Python interpreter with torch (default: /usr/bin/python3 or python3, whichever imports torch).")
  String python;

  @Option(names = "--no-torch", description = "Skip the PyTorch side.")
  boolean noTorch;

  @Option(names = "--batch", defaultValue = "8", description = "Sequences per step for the ~25M preset (default: ${DEFAULT-VALUE}).")
  int batch;

  @Option(names = "--seq", defaultValue = "256", description = "Tokens per sequence for the ~25M preset (default: ${DEFAULT-VALUE}).")
  int seq;

  @Option(names = "--iters", defaultValue = "5", description = "Timed iterations for the ~25M preset, best one reported (default: ${DEFAULT-VALUE}; tiny uses 20).")
  int iters;

  @Option(names = "--rounds", defaultValue = "2",
      description = "Rounds in which Java and PyTorch take turns; each side's best is reported (default: ${DEFAULT-VALUE}).")
  int rounds;

  @Option(names = "--output", defaultValue = "text", description = "text or json (json: one JSON object as the last line).")
  OutputFormat output;

  @Option(names = "--device", defaultValue = "cpu",
      description = "cpu (default: this CPU benchmark), or gpu / gpu:N: the LoRA training-step benchmark on the GPU "
          + "through the native bridge, next to PyTorch + transformers + PEFT with --python (as `rlhf bench gpu`).")
  String device;

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() throws Exception {
    if (!device.equals("cpu")) {
      return onGpu();
    }
    if (threads < 1 || batch < 1 || seq < 2 || iters < 1 || rounds < 1) {
      throw new UserError("--threads, --batch, --iters and --rounds must be >= 1 and --seq >= 2");
    }
    if (seq > ModelPresets.SMALL_25M.config().maxPositions()) {
      throw new UserError("--seq must be at most " + ModelPresets.SMALL_25M.config().maxPositions() + " (the preset's context)");
    }
    // Read once when the engine starts; set before anything touches DJL.
    System.setProperty("ai.djl.pytorch.num_threads", Integer.toString(threads));
    PrintWriter out = spec.commandLine().getOut();
    String py = noTorch ? null : python != null ? python : ModelBenchmark.findTorchPython();
    if (!noTorch && py == null) {
      out.println("note: no python3 with torch found; Java figures only (install Debian's python3-torch, or pass --python)");
    }
    String loadBefore = loadAverage();
    out.printf("rlhf bench model: %d CPU(s), %d thread(s), load average %s%n",
        Runtime.getRuntime().availableProcessors(), threads, loadBefore);
    out.flush();
    List<ModelBenchmark.Case> cases = List.of(
        new ModelBenchmark.Case(ModelPresets.TINY, 8, 128, 5, 20),
        new ModelBenchmark.Case(ModelPresets.SMALL_25M, batch, seq, 3, iters));
    List<ModelBenchmark.Comparison> results;
    try {
      results = ModelBenchmark.run(new ModelBenchmark.Settings(cases, threads, py, rounds, line -> {
        out.println("  running " + line);
        out.flush();
      }));
    } catch (ModelInputException e) {
      throw new UserError(e.getMessage(), e);
    }
    String loadAfter = loadAverage();
    out.println();
    out.printf("%-10s %-8s %10s %8s %14s %18s %12s%n", "preset", "engine", "params", "batch", "fwd tok/s", "fwd+bwd tok/s", "peak RSS MB");
    List<String> notes = new ArrayList<>();
    for (ModelBenchmark.Comparison c : results) {
      row(out, c.java());
      if (c.torch() != null) {
        row(out, c.torch());
        out.printf("%-10s %-8s %10s %8s %14.2f %18.2f%n", c.java().preset(), "ratio", "", "", c.fwdRatio(), c.fwdBwdRatio());
      } else {
        notes.add(c.java().preset() + ": no PyTorch figures (" + c.torchError() + ")");
      }
    }
    notes.forEach(out::println);
    out.printf("load average before %s, after %s (other processes on the machine skew both engines)%n", loadBefore, loadAfter);
    if (output.isJson()) {
      JsonObject json = new JsonObject();
      for (ModelBenchmark.Comparison c : results) {
        // The ~25M preset carries the unprefixed keys; the tiny one is prefixed.
        String p = c.java().preset().equals("tiny") ? "tiny_" : "";
        json.put(p + "java_fwd_tps", c.java().fwdTps());
        json.put(p + "java_fwd_bwd_tps", c.java().fwdBwdTps());
        json.put(p + "java_peak_rss_mb", c.java().peakRssMb());
        if (c.torch() != null) {
          json.put(p + "torch_fwd_tps", c.torch().fwdTps());
          json.put(p + "torch_fwd_bwd_tps", c.torch().fwdBwdTps());
          json.put(p + "torch_peak_rss_mb", c.torch().peakRssMb());
          json.put(p + "ratio", c.fwdBwdRatio());
          json.put(p + "fwd_ratio", c.fwdRatio());
        } else {
          json.putNull(p + "torch_fwd_tps");
          json.putNull(p + "torch_fwd_bwd_tps");
          json.putNull(p + "ratio");
        }
        json.put(p + "params", c.java().params());
        json.put(p + "batch", c.java().batch());
        json.put(p + "seq", c.java().seq());
      }
      json.put("threads", threads);
      json.put("rounds", rounds);
      json.put("load_average_before", loadBefore);
      json.put("load_average_after", loadAfter);
      out.println(json.encode());
    }
    out.flush();
    return RlhfCommand.EXIT_OK;
  }

  private static void row(PrintWriter out, ModelBenchmark.Figures f) {
    out.printf("%-10s %-8s %10d %8s %14.1f %18.1f %12.0f%n", f.preset(), f.engine().split(" ")[0], f.params(),
        f.batch() + "x" + f.seq(), f.fwdTps(), f.fwdBwdTps(), f.peakRssMb());
  }

  private static String loadAverage() {
    try {
      String[] parts = Files.readString(Path.of("/proc/loadavg")).split(" ");
      return parts[0] + " " + parts[1] + " " + parts[2];
    } catch (IOException | RuntimeException e) {
      return "n/a";
    }
  }

  /** {@code --device gpu}: runs {@link BenchGpuCommand} with its defaults, passing on --python and --output. */
  private int onGpu() {
    List<String> args = new ArrayList<>(List.of("--device", device, "--output", output.name()));
    if (python != null) {
      args.add("--python");
      args.add(python);
    }
    CommandLine gpu = new CommandLine(new BenchGpuCommand());
    gpu.setOut(spec.commandLine().getOut());
    gpu.setErr(spec.commandLine().getErr());
    gpu.setExecutionExceptionHandler(new CliErrors());
    gpu.setExitCodeExceptionMapper(CliErrors::exitCode);
    return gpu.execute(args.toArray(new String[0]));
  }
}

package org.rlhfstream.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.jni.JniUtils;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.rlhfstream.model.train.Backprop;
import org.rlhfstream.model.train.Gradients;
import org.rlhfstream.model.train.Losses;

/**
 * Forward and forward+backward throughput of the decoder on this machine, for the built-in presets,
 * next to the same figures of an equivalent plain PyTorch program ({@code torch_bench.py}, shipped
 * in this jar) run as a subprocess. Full fine-tuning (every weight trainable), next-token
 * cross-entropy over the whole batch, float32.
 */
public final class ModelBenchmark {

  /**
   * One run's settings.
   *
   * @param threads intra-op threads for both engines (the same for a fair comparison)
   * @param python the interpreter that has torch; null skips the PyTorch side
   */
  public record Settings(List<Case> cases, int threads, String python, int rounds, Consumer<String> progress) {
    public Settings {
      cases = List.copyOf(cases);
      if (threads < 1) {
        throw new IllegalArgumentException("threads must be >= 1");
      }
      if (rounds < 1) {
        throw new IllegalArgumentException("rounds must be >= 1");
      }
      if (progress == null) {
        progress = s -> { };
      }
    }

    /** Tiny at 8×128 and the ~25M preset at 8×256, 2 threads, 2 alternating rounds. */
    public static Settings defaults(String python, Consumer<String> progress) {
      return new Settings(List.of(new Case(ModelPresets.TINY, 8, 128, 5, 20), new Case(ModelPresets.SMALL_25M, 8, 256, 3, 5)),
          2, python, 2, progress);
    }
  }

  /** A preset at a batch shape, timed {@code iters} times after {@code warmup} untimed runs. */
  public record Case(ModelPresets preset, int batch, int seq, int warmup, int iters) {
    public Case {
      if (batch < 1 || seq < 2 || warmup < 0 || iters < 1) {
        throw new IllegalArgumentException("bad benchmark case " + batch + "x" + seq + " warmup " + warmup + " iters " + iters);
      }
      if (seq > preset.config().maxPositions()) {
        throw new IllegalArgumentException("seq " + seq + " exceeds the preset's context " + preset.config().maxPositions());
      }
    }
  }

  /** Figures of one engine on one case; tokens per second, peak resident memory of the process. */
  public record Figures(String engine, String preset, long params, int batch, int seq, double fwdTps, double fwdBwdTps,
      double peakRssMb) {}

  /** Java and PyTorch side by side; {@code torch} is null when PyTorch could not be run (see {@code torchError}). */
  public record Comparison(Figures java, Figures torch, String torchError) {
    /** Java / PyTorch forward+backward throughput; NaN without PyTorch figures. */
    public double fwdBwdRatio() {
      return torch == null ? Double.NaN : java.fwdBwdTps() / torch.fwdBwdTps();
    }

    public double fwdRatio() {
      return torch == null ? Double.NaN : java.fwdTps() / torch.fwdTps();
    }
  }

  private ModelBenchmark() {}

  public static List<Comparison> run(Settings s) throws IOException, InterruptedException {
    ai.djl.engine.Engine.getEngine("PyTorch"); // loads the native library before the JNI call below
    JniUtils.setNumThreads(s.threads());
    List<Comparison> out = new ArrayList<>();
    for (Case c : s.cases()) {
      // Java and PyTorch take turns, round after round, and each keeps its best: a burst of load
      // from other processes then penalises neither side alone.
      Figures java = null;
      Figures torch = null;
      String error = s.python() == null ? "no python with torch" : null;
      for (int round = 1; round <= s.rounds(); round++) {
        String what = c.preset().name().toLowerCase() + " " + c.batch() + "x" + c.seq() + " (round " + round + "/" + s.rounds() + ") …";
        s.progress().accept("java  " + what);
        java = best(java, runJava(c));
        if (s.python() != null && error == null) {
          s.progress().accept("torch " + what);
          try {
            torch = best(torch, runTorch(c, s.threads(), s.python()));
          } catch (IOException e) {
            error = e.getMessage();
          }
        }
      }
      out.add(new Comparison(java, torch, error));
    }
    return out;
  }

  /** The better throughputs of two measurements of the same engine; the higher peak memory. */
  static Figures best(Figures a, Figures b) {
    if (a == null) {
      return b;
    }
    return new Figures(b.engine(), b.preset(), b.params(), b.batch(), b.seq(), Math.max(a.fwdTps(), b.fwdTps()),
        Math.max(a.fwdBwdTps(), b.fwdBwdTps()), Math.max(a.peakRssMb(), b.peakRssMb()));
  }

  static Figures runJava(Case c) {
    try (DecoderModel model = c.preset().create(ModelOptions.cpu())) {
      long[][] tokens = randomTokens(c, model.config().vocabSize());
      double fwd;
      try (NoGrad ignored = NoGrad.enter()) {
        fwd = timed(c, () -> {
          try (NDManager step = model.manager().newSubManager()) {
            NDArray ids = step.create(tokens);
            Losses.crossEntropy(model.logits(model.hidden(ids, null, null, false)), ids, null).getFloat();
          }
        });
      }
      model.setTrainable(p -> true);
      List<Parameter> params = model.trainableParameters();
      double fwdBwd = timed(c, () -> {
        Backprop.run(model.manager(), step -> {
          NDArray ids = step.create(tokens);
          return Losses.crossEntropy(model.logits(model.hidden(ids, null, null, false)), ids, null);
        });
        Gradients.zero(params);
      });
      double tokensPerStep = (double) c.batch() * c.seq();
      return new Figures("java", c.preset().name().toLowerCase(), model.parameterCount(), c.batch(), c.seq(),
          tokensPerStep / fwd, tokensPerStep / fwdBwd, peakRssMb());
    }
  }

  private static long[][] randomTokens(Case c, int vocab) {
    SplittableRandom r = new SplittableRandom(0);
    long[][] t = new long[c.batch()][c.seq()];
    for (long[] row : t) {
      for (int j = 0; j < row.length; j++) {
        row[j] = r.nextInt(vocab);
      }
    }
    return t;
  }

  /**
   * Seconds per call: the best of the timed iterations. On a shared machine other processes only
   * ever add time, so the minimum is the most repeatable estimate (torch_bench.py does the same).
   */
  private static double timed(Case c, Runnable step) {
    // Warm up for the given iterations and at least two seconds: right after start-up the JIT
    // compiles on the same two cores, and a tiny step would be timed against it. The first few
    // passes of a large model are also slow on both engines (fresh memory is faulted in), hence
    // three warm-up iterations for the 25M preset.
    long warmStart = System.nanoTime();
    for (int i = 0; i < c.warmup() || System.nanoTime() - warmStart < 2_000_000_000L; i++) {
      step.run();
    }
    long best = Long.MAX_VALUE;
    for (int i = 0; i < c.iters(); i++) {
      long start = System.nanoTime();
      step.run();
      best = Math.min(best, System.nanoTime() - start);
    }
    return best / 1e9;
  }

  /** Peak resident set of this process (VmHWM), in MiB; NaN where /proc is not there. */
  public static double peakRssMb() {
    try {
      for (String line : Files.readAllLines(Paths.get("/proc/self/status"))) {
        if (line.startsWith("VmHWM:")) {
          return Long.parseLong(line.replaceAll("[^0-9]", "")) / 1024.0;
        }
      }
    } catch (IOException | NumberFormatException e) {
      // not Linux
    }
    return Double.NaN;
  }

  static Figures runTorch(Case c, int threads, String python) throws IOException, InterruptedException {
    Path script = Files.createTempFile("torch_bench", ".py");
    try {
      try (InputStream in = ModelBenchmark.class.getResourceAsStream("bench/torch_bench.py")) {
        if (in == null) {
          throw new IOException("torch_bench.py is missing from the jar");
        }
        Files.write(script, in.readAllBytes());
      }
      List<String> cmd = List.of(python, script.toString(), "--config", c.preset().config().toJson(),
          "--name", c.preset().name().toLowerCase(), "--batch", Integer.toString(c.batch()),
          "--seq", Integer.toString(c.seq()), "--warmup", Integer.toString(c.warmup()),
          "--iters", Integer.toString(c.iters()), "--threads", Integer.toString(threads));
      ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
      pb.environment().put("OMP_NUM_THREADS", Integer.toString(threads));
      Process p;
      try {
        p = pb.start();
      } catch (IOException e) {
        throw new IOException("cannot start " + python + ": " + e.getMessage());
      }
      String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (!p.waitFor(1, TimeUnit.HOURS) || p.exitValue() != 0) {
        String tail = output.length() > 500 ? output.substring(output.length() - 500) : output;
        throw new IOException("torch_bench.py failed: " + tail.strip());
      }
      String[] lines = output.strip().split("\n");
      JsonObject o = JsonParser.parseString(lines[lines.length - 1]).getAsJsonObject();
      return new Figures("torch " + o.get("torch_version").getAsString(), c.preset().name().toLowerCase(),
          o.get("params").getAsLong(), c.batch(), c.seq(), o.get("fwd_tps").getAsDouble(),
          o.get("fwd_bwd_tps").getAsDouble(), o.get("peak_rss_mb").getAsDouble());
    } finally {
      Files.deleteIfExists(script);
    }
  }

  /** The first of {@code /usr/bin/python3}, {@code python3} that imports torch, or null. */
  public static String findTorchPython() {
    for (String candidate : List.of("/usr/bin/python3", "python3")) {
      try {
        Process p = new ProcessBuilder(candidate, "-c", "import torch").redirectErrorStream(true).start();
        p.getInputStream().readAllBytes();
        if (p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0) {
          return candidate;
        }
      } catch (IOException e) {
        // try the next
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return null;
      }
    }
    return null;
  }
}

package org.rlhfstream.deploy;

import io.vertx.core.json.JsonObject;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import org.rlhfstream.reward.RewardBenchmark;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code rlhf bench reward}: reward-model training/scoring throughput and end-to-end lag. */
@Command(name = "reward", mixinStandardHelpOptions = true,
    description = "Comparisons/s trained and scored per preset, and end-to-end lag (created → trained) at a steady rate.")
public final class BenchRewardCommand implements Callable<Integer> {

  @Option(names = "--presets", split = ",", defaultValue = "tiny,small_25m",
      description = "Built-in presets to measure (default: ${DEFAULT-VALUE}).")
  List<String> presets;

  @Option(names = "--seconds", defaultValue = "15", description = "Seconds per throughput figure (default: ${DEFAULT-VALUE}).")
  int seconds;

  @Option(names = "--batch", defaultValue = "16", description = "Comparisons per optimizer step (default: ${DEFAULT-VALUE}).")
  int batch;

  @Option(names = "--lag-seconds", defaultValue = "30", description = "Length of the lag run (default: ${DEFAULT-VALUE}).")
  int lagSeconds;

  @Option(names = "--lag-rate", defaultValue = "0.5",
      description = "Input rate of the lag run as a fraction of the service's capacity (tiny preset, default settings; default: ${DEFAULT-VALUE}).")
  double lagRate;

  @Option(names = "--output", defaultValue = "text", description = "text or json (json: one JSON object as the last line).")
  OutputFormat output;

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() throws Exception {
    if (seconds < 1 || batch < 1 || lagSeconds < 1 || !(lagRate > 0 && lagRate <= 1)) {
      throw new UserError("--seconds, --batch and --lag-seconds must be ≥ 1 and --lag-rate in (0, 1]");
    }
    PrintWriter out = spec.commandLine().getOut();
    Path work = Files.createTempDirectory("rlhf-bench-reward-");
    out.printf("rlhf bench reward: %d CPU(s), presets %s, %ds per figure, batch %d%n",
        Runtime.getRuntime().availableProcessors(), presets, seconds, batch);
    out.flush();
    RewardBenchmark.Result r;
    try {
      r = RewardBenchmark.run(new RewardBenchmark.Options(presets, Duration.ofSeconds(seconds), batch, lagRate,
          Duration.ofSeconds(lagSeconds), work, new PrintStream(System.out, true)));
    } finally {
      deleteTree(work);
    }
    out.printf("  end-to-end lag at %.1f comparisons/s: p50 %.2f s, p90 %.2f s, p99 %.2f s (%d comparisons)%n",
        r.lag().inputRate(), r.lag().p50Seconds(), r.lag().p90Seconds(), r.lag().p99Seconds(), r.lag().trained());
    if (output.isJson()) {
      JsonObject json = new JsonObject();
      for (RewardBenchmark.Throughput t : r.throughput()) {
        String suffix = t.preset().equals("tiny") ? "" : "_" + t.preset();
        json.put("train_cps" + suffix, t.trainCps());
        json.put("score_cps" + suffix, t.scoreCps());
        json.put("parameters" + suffix, t.parameters());
      }
      json.put("service_capacity_cps", r.serviceCapacity());
      json.put("lag_input_cps", r.lag().inputRate());
      json.put("lag_p50_s", r.lag().p50Seconds());
      json.put("lag_p90_s", r.lag().p90Seconds());
      json.put("lag_p99_s", r.lag().p99Seconds());
      json.put("batch", batch);
      out.println(json.encode());
    }
    out.flush();
    return RlhfCommand.EXIT_OK;
  }

  private static void deleteTree(Path root) {
    try (var s = Files.walk(root)) {
      s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (java.io.IOException ignored) {
      // a temp folder left behind is harmless
    }
  }
}

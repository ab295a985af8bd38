package org.rlhfstream.deploy;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code rlhf bench …}: benchmarks that print their figures (JSON with {@code --output json}). */
@Command(
    name = "bench",
    mixinStandardHelpOptions = true,
    description = "Measure throughput and latency; prints figures, with --output json a JSON object as the last line.",
    subcommands = {BenchIngestCommand.class, BenchRewardCommand.class, BenchModelCommand.class, BenchGpuCommand.class})
public final class BenchCommand implements Runnable {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(spec.commandLine().getOut());
  }
}

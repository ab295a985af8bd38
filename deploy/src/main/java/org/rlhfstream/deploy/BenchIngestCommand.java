package org.rlhfstream.deploy;

import io.vertx.core.json.JsonObject;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import org.rlhfstream.ingest.bench.IngestBenchmark;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code rlhf bench ingest}: ingest's throughput and latency next to a raw Kafka producer. */
@Command(name = "ingest", mixinStandardHelpOptions = true,
    description = {"Start an embedded broker and ingest, then measure acknowledged events/s and p50/p99 latency of",
        "single-event and batch HTTP requests, gRPC client streams and a raw KafkaProducer."})
public final class BenchIngestCommand implements Callable<Integer> {

  @Option(names = "--output", paramLabel = "FORMAT", defaultValue = "text",
      description = "text (default) or json (the last line is one JSON object with every figure).")
  OutputFormat output;

  @Option(names = "--duration", paramLabel = "SECONDS", defaultValue = "10",
      description = "Measured seconds per phase (default: ${DEFAULT-VALUE}).")
  int durationSeconds;

  @Option(names = "--warm-up", paramLabel = "SECONDS", defaultValue = "15",
      description = "Unmeasured seconds of load on every path before the measured phases, for the JIT (default: ${DEFAULT-VALUE}).")
  int warmUpSeconds;

  @Option(names = "--connections", paramLabel = "N", defaultValue = "256",
      description = "HTTP connections sending single events (default: ${DEFAULT-VALUE}).")
  int connections;

  @Option(names = "--bootstrap-servers", paramLabel = "HOST:PORT",
      description = "Use this Kafka instead of starting an embedded broker.")
  String bootstrapServers;

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() throws Exception {
    if (durationSeconds < 1 || warmUpSeconds < 0 || connections < 1) {
      throw new UserError("--duration and --connections must be at least 1, --warm-up at least 0");
    }
    PrintWriter out = spec.commandLine().getOut();
    Path work = Files.createTempDirectory("rlhf-bench-ingest-");
    IngestBenchmark.Settings defaults = IngestBenchmark.Settings.defaults(work);
    IngestBenchmark.Settings settings = defaults
        .withDurations(Duration.ofSeconds(warmUpSeconds), Duration.ofSeconds(durationSeconds))
        .withHttpConnections(connections)
        .withBootstrapServers(bootstrapServers);
    IngestBenchmark.Figures figures;
    try {
      figures = IngestBenchmark.run(settings, line -> {
        out.println(line);
        out.flush();
      });
    } finally {
      deleteQuietly(work);
    }
    out.println();
    out.println(String.format("%-58s %12s %10s %10s", "phase", "events/s", "p50 ms", "p99 ms"));
    for (IngestBenchmark.Phase p : figures.phases()) {
      out.println(String.format("%-58s %,12.0f %10.2f %10.2f", p.name(), p.eventsPerSecond(), p.p50Ms(), p.p99Ms()));
    }
    out.println(String.format("HTTP batches reach %.0f%% of the raw producer's throughput; single-event HTTP reaches "
        + "%.0f%% of a no-op HTTP server's request rate with the same client.", 100 * figures.batchShareOfRaw(),
        100 * figures.singleShareOfNoop()));
    if (output.isJson()) {
      out.println(new JsonObject(figures.toMap()).encode());
    }
    out.flush();
    return RlhfCommand.EXIT_OK;
  }

  private static void deleteQuietly(Path dir) {
    try (var paths = Files.walk(dir)) {
      paths.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (Exception ignored) {
      // a temp directory; the OS cleans it eventually
    }
  }
}

package org.rlhfstream.ingest.bench;

import java.nio.file.Path;
import java.time.Duration;

/** Runs the benchmark from the test classpath (development aid; `rlhf bench ingest` is the real entry point). */
public final class BenchMain {
  public static void main(String[] args) throws Exception {
    IngestBenchmark.Settings s = IngestBenchmark.Settings.defaults(Path.of("target", "bench-" + System.currentTimeMillis()));
    if (args.length >= 2) {
      s = s.withDurations(Duration.ofSeconds(Long.parseLong(args[0])), Duration.ofSeconds(Long.parseLong(args[1])));
    }
    IngestBenchmark.Figures f = IngestBenchmark.run(s, System.err::println);
    System.out.println(new io.vertx.core.json.JsonObject(f.toMap()).encode());
  }
}

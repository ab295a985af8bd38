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
    if (args.length >= 3) {
      s = s.withHttpConnections(Integer.parseInt(args[2]));
    }
    if (args.length >= 4) {
      var p = s.ingest().producer();
      s = s.withIngest(s.ingest().withProducer(new org.rlhfstream.ingest.IngestConfig.Producer(Duration.ofMillis(Long.parseLong(args[3])),
          p.batchBytes(), p.compression(), p.requestTimeout(), p.deliveryTimeout(), p.properties())));
    }
    IngestBenchmark.Figures f = IngestBenchmark.run(s, System.err::println);
    System.out.println(new io.vertx.core.json.JsonObject(f.toMap()).encode());
  }
}

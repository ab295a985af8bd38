package org.rlhfstream.ingest;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.EnumMap;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Ingest's meters. Prometheus names (what {@code /metrics} shows):
 *
 * <ul>
 *   <li>{@code rlhf_ingest_events_accepted_total{transport}}: events acknowledged (duplicates included)
 *   <li>{@code rlhf_ingest_events_duplicate_total{transport}}: acknowledged resends not written again
 *   <li>{@code rlhf_ingest_requests_rejected_total{transport,reason}}: refused requests, by {@link Rejection#code}
 *   <li>{@code rlhf_ingest_request_duration_seconds{transport,outcome}}: a histogram, from the request's
 *       arrival to its reply
 *   <li>{@code rlhf_ingest_in_flight_events}, {@code rlhf_ingest_in_flight_bytes},
 *       {@code rlhf_ingest_in_flight_requests}: work waiting for Kafka now
 *   <li>{@code rlhf_ingest_dedup_entries}: event ids the de-duplication window holds
 * </ul>
 *
 * <p>{@code transport} is {@code http} or {@code grpc}.
 */
final class IngestMetrics {

  enum Transport {
    HTTP("http"), GRPC("grpc");

    final String tag;

    Transport(String tag) {
      this.tag = tag;
    }
  }

  private final Map<Transport, Counter> accepted = new EnumMap<>(Transport.class);
  private final Map<Transport, Counter> duplicates = new EnumMap<>(Transport.class);
  private final Map<Transport, Map<Rejection, Counter>> rejected = new EnumMap<>(Transport.class);
  private final Map<Transport, Timer> acceptedLatency = new EnumMap<>(Transport.class);
  private final Map<Transport, Timer> rejectedLatency = new EnumMap<>(Transport.class);

  IngestMetrics(MeterRegistry registry) {
    for (Transport t : Transport.values()) {
      accepted.put(t, Counter.builder("rlhf.ingest.events.accepted")
          .description("Events acknowledged to the sender (duplicates included)")
          .tag("transport", t.tag).register(registry));
      duplicates.put(t, Counter.builder("rlhf.ingest.events.duplicate")
          .description("Acknowledged events that were already written within the de-duplication window")
          .tag("transport", t.tag).register(registry));
      Map<Rejection, Counter> byReason = new EnumMap<>(Rejection.class);
      for (Rejection r : Rejection.values()) {
        byReason.put(r, Counter.builder("rlhf.ingest.requests.rejected")
            .description("Requests refused, by reason")
            .tag("transport", t.tag).tag("reason", r.code).register(registry));
      }
      rejected.put(t, byReason);
      acceptedLatency.put(t, latency(registry, t, "accepted"));
      rejectedLatency.put(t, latency(registry, t, "rejected"));
    }
  }

  private static Timer latency(MeterRegistry registry, Transport t, String outcome) {
    return Timer.builder("rlhf.ingest.request.duration")
        .description("From a request's arrival to its reply")
        .tag("transport", t.tag).tag("outcome", outcome)
        .publishPercentileHistogram()
        .minimumExpectedValue(Duration.ofMillis(1))
        .maximumExpectedValue(Duration.ofSeconds(30))
        .register(registry);
  }

  static void gauges(MeterRegistry registry, Supplier<Number> events, Supplier<Number> bytes,
      Supplier<Number> requests, Supplier<Number> dedupEntries) {
    Gauge.builder("rlhf.ingest.in.flight.events", events).description("Events sent to Kafka and not yet acknowledged").register(registry);
    Gauge.builder("rlhf.ingest.in.flight.bytes", bytes).description("Serialized bytes of those events").baseUnit("bytes").register(registry);
    Gauge.builder("rlhf.ingest.in.flight.requests", requests).description("Requests waiting for Kafka").register(registry);
    Gauge.builder("rlhf.ingest.dedup.entries", dedupEntries).description("Event ids held by the de-duplication window").register(registry);
  }

  void accepted(Transport t, int events, int duplicateEvents, long startNanos) {
    accepted.get(t).increment(events);
    if (duplicateEvents > 0) {
      duplicates.get(t).increment(duplicateEvents);
    }
    acceptedLatency.get(t).record(System.nanoTime() - startNanos, java.util.concurrent.TimeUnit.NANOSECONDS);
  }

  void rejected(Transport t, Rejection reason, long startNanos) {
    rejected.get(t).get(reason).increment();
    rejectedLatency.get(t).record(System.nanoTime() - startNanos, java.util.concurrent.TimeUnit.NANOSECONDS);
  }
}

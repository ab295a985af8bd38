package org.rlhfstream.ingest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.junit5.VertxExtension;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.rlhfstream.platform.testing.EmbeddedKafkaExtension;
import org.rlhfstream.platform.testing.TopicReader;
import org.rlhfstream.proto.v1.Comparison;

/**
 * The broker stops while clients are sending: clients get 503 with Retry-After meanwhile, ingest
 * recovers by itself when the broker is back, and no request got 202 without its event in Kafka.
 */
@ExtendWith(VertxExtension.class)
class KafkaOutageTest {

  private static final int SENDERS = 8;

  @RegisterExtension
  static EmbeddedKafkaExtension kafka = new EmbeddedKafkaExtension();

  /** What the clients saw, per event id: the last HTTP status (0: the connection failed). */
  private final Map<String, Integer> outcomes = new ConcurrentHashMap<>();
  private final Map<String, Comparison> sentEvents = new ConcurrentHashMap<>();
  private final AtomicInteger accepted = new AtomicInteger();
  private final AtomicInteger unavailable = new AtomicInteger();
  private final AtomicInteger outstanding = new AtomicInteger();
  private final Set<String> retryAfterSeen = ConcurrentHashMap.newKeySet();
  private final Set<String> refusals = ConcurrentHashMap.newKeySet();
  private final AtomicBoolean running = new AtomicBoolean(true);

  @Test
  void noAcknowledgementWithoutKafkaAnd503WhileItIsDown(Vertx vertx) throws Exception {
    TestIngest ingest = TestIngest.start(vertx, kafka.bootstrapServers(), c -> c
        .withProducer(new IngestConfig.Producer(Duration.ofMillis(2), 256 * 1024, "none", Duration.ofSeconds(1),
            Duration.ofSeconds(3), Map.of()))
        // At most 4 events may wait for Kafka: 8 senders overrun that as soon as Kafka stalls.
        .withLimits(new IngestConfig.Limits(1000, 1000, 64 * 1024, 128, 8, 1 << 20, 4, 8 << 20, Duration.ofSeconds(1))));
    try {
      for (int i = 0; i < SENDERS; i++) {
        sendLoop(vertx, ingest);
      }
      awaitTrue(() -> accepted.get() >= 100, "events accepted before the outage");

      kafka.stop();
      int acceptedAtStop = accepted.get();
      awaitTrue(() -> refusals.containsAll(Set.of("kafka_unavailable", "overloaded")),
          "503 kafka_unavailable (Kafka did not acknowledge in time) and 503 overloaded (in-flight bound) while Kafka is down");
      awaitTrue(() -> status(ingest, "/health/ready") == 503, "readiness reports Kafka down");
      assertTrue(accepted.get() - acceptedAtStop < 200,
          "only requests already in the producer when the broker stopped may still be acknowledged");

      kafka.restart();
      int acceptedAtRestart = accepted.get();
      awaitTrue(() -> accepted.get() >= acceptedAtRestart + 100, "ingest recovers by itself once Kafka is back");
      awaitTrue(() -> status(ingest, "/health/ready") == 200, "readiness reports Kafka up again");
      running.set(false);
      awaitTrue(() -> outstanding.get() == 0, "every request answered");

      // Every 202 is in Kafka, exactly once.
      Map<String, Long> stored = countsByKey();
      List<String> acknowledged = outcomes.entrySet().stream().filter(e -> e.getValue() == 202).map(Map.Entry::getKey).toList();
      for (String id : acknowledged) {
        assertEquals(1L, stored.getOrDefault(id, 0L), "event " + id + " got 202");
      }
      assertTrue(retryAfterSeen.contains("1"), "503s carry Retry-After: 1");

      // Clients resend what got 503 (same ids): everything is then stored.
      List<Comparison> refused = outcomes.entrySet().stream().filter(e -> e.getValue() != 202)
          .map(e -> sentEvents.get(e.getKey())).toList();
      for (int from = 0; from < refused.size(); from += 1000) {
        HttpResponse<Buffer> resend = ingest.postBatch(refused.subList(from, Math.min(refused.size(), from + 1000)), TestIngest.KEY_A);
        assertEquals(202, resend.statusCode(), resend.bodyAsString());
      }
      Map<String, Long> after = countsByKey();
      for (Comparison c : refused) {
        assertTrue(after.getOrDefault(c.getEventId(), 0L) >= 1, "resent event " + c.getEventId() + " is stored");
      }
    } finally {
      running.set(false);
      ingest.close();
    }
  }

  /** One client: sends single events back to back, pausing 20 ms after a refusal. */
  private void sendLoop(Vertx vertx, TestIngest ingest) {
    if (!running.get()) {
      return;
    }
    Comparison c = TestIngest.comparison(TestIngest.uniqueId());
    sentEvents.put(c.getEventId(), c);
    outstanding.incrementAndGet();
    ingest.http.post(HttpIngestApi.PATH)
        .putHeader("Content-Type", "application/x-protobuf; proto=rlhf.v1.Comparison")
        .putHeader("Authorization", "Bearer " + TestIngest.KEY_A)
        .sendBuffer(Buffer.buffer(c.toByteArray()))
        .onComplete(ar -> {
          int status = ar.succeeded() ? ar.result().statusCode() : 0;
          outcomes.put(c.getEventId(), status);
          if (status == 202) {
            accepted.incrementAndGet();
          } else if (status == 503) {
            unavailable.incrementAndGet();
            retryAfterSeen.add(String.valueOf(ar.result().getHeader("Retry-After")));
            refusals.add(ar.result().bodyAsJsonObject().getString("error"));
          }
          outstanding.decrementAndGet();
          if (status == 202) {
            sendLoop(vertx, ingest);
          } else {
            vertx.setTimer(20, t -> sendLoop(vertx, ingest));
          }
        });
  }

  private static int status(TestIngest ingest, String path) {
    try {
      return ingest.http.get(path).send().await(30, TimeUnit.SECONDS).statusCode();
    } catch (Exception e) {
      return -1;
    }
  }

  private static Map<String, Long> countsByKey() {
    return TopicReader.readAll(kafka.bootstrapServers(), TestIngest.TOPIC).stream()
        .collect(Collectors.groupingBy(r -> new String(r.key(), StandardCharsets.UTF_8), Collectors.counting()));
  }

  private void awaitTrue(java.util.function.BooleanSupplier condition, String what) {
    long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("not within 90 s: " + what + " (accepted " + accepted.get() + ", 503 " + unavailable.get() + ")");
      }
      try {
        Thread.sleep(20); // polling with a deadline
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AssertionError(e);
      }
    }
  }
}

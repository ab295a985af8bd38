package org.rlhfstream.ingest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.junit5.VertxExtension;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.rlhfstream.platform.testing.EmbeddedKafkaExtension;
import org.rlhfstream.platform.testing.TopicReader;
import org.rlhfstream.proto.v1.Comparison;
import org.rlhfstream.proto.v1.SubmitResponse;
import org.yaml.snakeyaml.Yaml;

/** Accepted events reach the topic exactly once, keyed by event id, over HTTP and gRPC. */
@ExtendWith(VertxExtension.class)
class IngestAcceptanceTest {

  @RegisterExtension
  static EmbeddedKafkaExtension kafka = new EmbeddedKafkaExtension();

  private static TestIngest ingest;

  @BeforeAll
  static void start(Vertx vertx) throws Exception {
    ingest = TestIngest.start(vertx, kafka.bootstrapServers());
  }

  @AfterAll
  static void stop() throws Exception {
    ingest.close();
  }

  @Test
  void aJsonComparisonIsWrittenOnceKeyedByItsEventIdAndAcknowledgedWith202() throws Exception {
    String id = TestIngest.uniqueId();
    String json = "{\"event_id\":\"" + id + "\",\"tenant\":\"acme\",\"prompt\":\"Capital of France?\","
        + "\"chosen\":\"Paris\",\"rejected\":\"Lyon\",\"strength\":0.75,\"metadata\":{\"task\":\"qa\"},"
        + "\"policy\":{\"adapterName\":\"chat\",\"version\":\"3\"}}";

    HttpResponse<Buffer> response = ingest.postJson(json, TestIngest.KEY_A);

    assertEquals(202, response.statusCode(), response.bodyAsString());
    assertEquals(new JsonObject().put("accepted", 1).put("duplicates", 0), response.bodyAsJsonObject());
    List<ConsumerRecord<byte[], byte[]>> records = withKey(id);
    assertEquals(1, records.size());
    Comparison stored = Comparison.parseFrom(records.get(0).value());
    assertEquals("Paris", stored.getChosen());
    assertEquals(0.75f, stored.getStrength());
    assertEquals("qa", stored.getMetadataOrThrow("task"));
    assertEquals(3, stored.getPolicy().getVersion());
    assertEquals("app-a", stored.getSourceApp(), "an empty source_app becomes the authenticated app");
    assertTrue(stored.hasCreatedAt(), "a missing created_at is set to the time of arrival");
  }

  @Test
  void resendsOverEveryTransportAreAcknowledgedButWrittenOnce() throws Exception {
    Comparison c = TestIngest.comparison(TestIngest.uniqueId());
    String json = "{\"eventId\":\"" + c.getEventId() + "\",\"tenant\":\"acme\",\"prompt\":\"p\",\"chosen\":\"a\",\"rejected\":\"b\"}";

    HttpResponse<Buffer> first = ingest.postJson(json, TestIngest.KEY_A);
    HttpResponse<Buffer> againJson = ingest.postJson(json, TestIngest.KEY_A);
    HttpResponse<Buffer> againProtobuf = ingest.postBatch(List.of(c), TestIngest.KEY_A);
    TestIngest.GrpcResult againUnary = ingest.submitBatch(List.of(c), TestIngest.KEY_A);
    TestIngest.GrpcResult againStream = ingest.stream(List.of(c), TestIngest.KEY_A);

    assertEquals(202, first.statusCode());
    assertEquals(0, first.bodyAsJsonObject().getInteger("duplicates"));
    for (HttpResponse<Buffer> again : List.of(againJson, againProtobuf)) {
      assertEquals(202, again.statusCode(), again.bodyAsString());
      assertEquals(new JsonObject().put("accepted", 1).put("duplicates", 1), again.bodyAsJsonObject());
    }
    for (TestIngest.GrpcResult again : List.of(againUnary, againStream)) {
      assertEquals(GrpcStatus.OK, again.status(), again.message());
      assertEquals(SubmitResponse.newBuilder().setAccepted(1).setDuplicates(1).build(), again.reply());
    }
    assertEquals(1, withKey(c.getEventId()).size(), "five acknowledgements, one record");
  }

  @Test
  void aProtobufBatchIsWrittenWholeWithEveryKeyAndInnerDuplicatesOnce() throws Exception {
    List<Comparison> batch = new ArrayList<>();
    for (int i = 0; i < 50; i++) {
      batch.add(TestIngest.comparison(TestIngest.uniqueId(), i % 2 == 0 ? "acme" : "default"));
    }
    batch.add(batch.get(7)); // the same event twice in one batch

    HttpResponse<Buffer> response = ingest.postBatch(batch, TestIngest.KEY_A);

    assertEquals(202, response.statusCode(), response.bodyAsString());
    assertEquals(new JsonObject().put("accepted", 51).put("duplicates", 1), response.bodyAsJsonObject());
    Map<String, Long> counts = countsByKey();
    for (Comparison c : batch) {
      assertEquals(1L, counts.get(c.getEventId()), c.getEventId());
    }
  }

  @Test
  void aJsonBatchIsAcceptedAndAProtobufReplyIsSentWhenAskedFor() throws Exception {
    String a = TestIngest.uniqueId();
    String b = TestIngest.uniqueId();
    String json = "{\"comparisons\":[" + jsonComparison(a) + "," + jsonComparison(b) + "]}";
    HttpResponse<Buffer> response = ingest.http.post(HttpIngestApi.PATH)
        .putHeader("Content-Type", "application/json; charset=utf-8")
        .putHeader("Accept", HttpIngestApi.PROTOBUF)
        .putHeader("X-API-Key", TestIngest.KEY_A)
        .sendBuffer(Buffer.buffer(json)).await(30, TimeUnit.SECONDS);

    assertEquals(202, response.statusCode(), response.bodyAsString());
    assertEquals(HttpIngestApi.PROTOBUF, response.getHeader("Content-Type"));
    assertEquals(SubmitResponse.newBuilder().setAccepted(2).build(), SubmitResponse.parseFrom(response.body().getBytes()));
    assertEquals(1, withKey(a).size());
    assertEquals(1, withKey(b).size());
  }

  @Test
  void aSingleBinaryComparisonIsAcceptedWithTheProtoParameter() throws Exception {
    Comparison c = TestIngest.comparison(TestIngest.uniqueId());
    HttpResponse<Buffer> response = ingest.post("application/x-protobuf; proto=rlhf.v1.Comparison", c.toByteArray(), TestIngest.KEY_A);
    assertEquals(202, response.statusCode(), response.bodyAsString());
    assertEquals(1, withKey(c.getEventId()).size());
  }

  @Test
  void concurrentRequestsWithTheSameEventIdWriteItOnce() throws Exception {
    Comparison c = TestIngest.comparison(TestIngest.uniqueId());
    byte[] body = c.toByteArray();
    List<Future<HttpResponse<Buffer>>> sent = IntStream.range(0, 20)
        .mapToObj(i -> ingest.http.post(HttpIngestApi.PATH)
            .putHeader("Content-Type", "application/x-protobuf; proto=rlhf.v1.Comparison")
            .putHeader("Authorization", "Bearer " + TestIngest.KEY_A)
            .sendBuffer(Buffer.buffer(body)))
        .toList();
    Future.all(sent).await(30, TimeUnit.SECONDS);

    int duplicates = 0;
    for (Future<HttpResponse<Buffer>> f : sent) {
      assertEquals(202, f.result().statusCode(), f.result().bodyAsString());
      duplicates += f.result().bodyAsJsonObject().getInteger("duplicates");
    }
    assertEquals(19, duplicates, "one request wrote it, the others were acknowledged as duplicates");
    assertEquals(1, withKey(c.getEventId()).size());
  }

  @Test
  void grpcUnaryBatchAndClientStreamWriteEveryEventOnce() throws Exception {
    List<Comparison> unary = List.of(TestIngest.comparison(TestIngest.uniqueId()), TestIngest.comparison(TestIngest.uniqueId()));
    List<Comparison> streamed = IntStream.range(0, 30).mapToObj(i -> TestIngest.comparison(TestIngest.uniqueId())).toList();

    TestIngest.GrpcResult batchResult = ingest.submitBatch(unary, TestIngest.KEY_A);
    TestIngest.GrpcResult streamResult = ingest.stream(streamed, TestIngest.KEY_A);

    assertEquals(GrpcStatus.OK, batchResult.status(), batchResult.message());
    assertEquals(2, batchResult.reply().getAccepted());
    assertEquals(GrpcStatus.OK, streamResult.status(), streamResult.message());
    assertEquals(30, streamResult.reply().getAccepted());
    Map<String, Long> counts = countsByKey();
    for (Comparison c : unary) {
      assertEquals(1L, counts.get(c.getEventId()));
    }
    for (Comparison c : streamed) {
      assertEquals(1L, counts.get(c.getEventId()));
    }
  }

  @Test
  void healthMetricsAndTheOpenApiDocumentAreServed() throws Exception {
    // Something to count first.
    assertEquals(202, ingest.postBatch(List.of(TestIngest.comparison(TestIngest.uniqueId())), TestIngest.KEY_A).statusCode());
    assertEquals(401, ingest.postBatch(List.of(TestIngest.comparison(TestIngest.uniqueId())), null).statusCode());

    HttpResponse<Buffer> live = ingest.http.get("/health/live").send().await(30, TimeUnit.SECONDS);
    assertEquals(200, live.statusCode());
    HttpResponse<Buffer> ready = ingest.http.get("/health/ready").send().await(30, TimeUnit.SECONDS);
    assertEquals(200, ready.statusCode(), ready.bodyAsString());
    assertTrue(ready.bodyAsString().contains("kafka"), ready.bodyAsString());

    HttpResponse<Buffer> metrics = ingest.http.get("/metrics").send().await(30, TimeUnit.SECONDS);
    assertEquals(200, metrics.statusCode());
    assertTrue(metrics.getHeader("Content-Type").startsWith("text/plain"));
    String text = metrics.bodyAsString();
    for (String name : List.of(
        "rlhf_ingest_events_accepted_total{transport=\"http\"}",
        "rlhf_ingest_requests_rejected_total{reason=\"unauthenticated\",transport=\"http\"} 1.0",
        "rlhf_ingest_request_duration_seconds_bucket{",
        "rlhf_ingest_in_flight_events",
        "rlhf_ingest_in_flight_requests",
        "rlhf_ingest_dedup_entries",
        "jvm_memory_used_bytes")) {
      assertTrue(text.contains(name), "metrics contain " + name);
    }

    HttpResponse<Buffer> openapi = ingest.http.get("/openapi.yaml").send().await(30, TimeUnit.SECONDS);
    assertEquals(200, openapi.statusCode());
    Map<String, Object> doc = new Yaml().load(openapi.bodyAsString(StandardCharsets.UTF_8.name()));
    assertEquals("3.0.3", doc.get("openapi"));
    @SuppressWarnings("unchecked")
    Map<String, Object> paths = (Map<String, Object>) doc.get("paths");
    assertNotNull(paths.get(HttpIngestApi.PATH), "the document describes POST /v1/comparisons");
  }

  @Test
  void stoppingFinishesTheRequestsInFlightThenRefusesNewOnes(Vertx vertx) throws Exception {
    // A second ingest whose producer lingers, so that requests are still in flight when it stops.
    TestIngest slow = TestIngest.start(vertx, kafka.bootstrapServers(), c -> c.withProducer(new IngestConfig.Producer(
        Duration.ofSeconds(3), 256 * 1024, "none", Duration.ofSeconds(2), Duration.ofSeconds(10), Map.of())));
    List<Comparison> events = IntStream.range(0, 10).mapToObj(i -> TestIngest.comparison(TestIngest.uniqueId())).toList();
    List<Future<HttpResponse<Buffer>>> sent = events.stream()
        .map(c -> slow.http.post(HttpIngestApi.PATH)
            .putHeader("Content-Type", "application/x-protobuf; proto=rlhf.v1.Comparison")
            .putHeader("Authorization", "Bearer " + TestIngest.KEY_A)
            .sendBuffer(Buffer.buffer(c.toByteArray())))
        .toList();
    awaitTrue(() -> slow.service.inFlightRequests() == events.size(), Duration.ofSeconds(20));
    int port = slow.host.actualPort();

    slow.close();

    Future.all(sent).await(30, TimeUnit.SECONDS);
    for (Future<HttpResponse<Buffer>> f : sent) {
      assertEquals(202, f.result().statusCode(), "a request in flight at stop still gets its reply");
    }
    Map<String, Long> counts = countsByKey();
    events.forEach(c -> assertEquals(1L, counts.get(c.getEventId())));
    Future<HttpResponse<Buffer>> after = ingest.http.get(port, "127.0.0.1", "/health/live").send();
    assertFalse(after.transform(ar -> Future.succeededFuture(ar.succeeded())).await(30, TimeUnit.SECONDS),
        "the stopped server accepts no connection");
  }

  private static String jsonComparison(String id) {
    return "{\"event_id\":\"" + id + "\",\"tenant\":\"default\",\"prompt\":\"p\",\"chosen\":\"good\",\"rejected\":\"bad\"}";
  }

  private static List<ConsumerRecord<byte[], byte[]>> withKey(String id) throws Exception {
    return TopicReader.readAll(kafka.bootstrapServers(), TestIngest.TOPIC).stream()
        .filter(r -> id.equals(new String(r.key(), StandardCharsets.UTF_8)))
        .toList();
  }

  private static Map<String, Long> countsByKey() throws Exception {
    return TopicReader.readAll(kafka.bootstrapServers(), TestIngest.TOPIC).stream()
        .collect(Collectors.groupingBy(r -> new String(r.key(), StandardCharsets.UTF_8), Collectors.counting()));
  }

  static void awaitTrue(java.util.function.BooleanSupplier condition, Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("condition not met within " + timeout);
      }
      Thread.onSpinWait();
      try {
        Thread.sleep(5); // polling with a deadline
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AssertionError(e);
      }
    }
  }
}

package org.rlhfstream.ingest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.auth.JWTOptions;
import io.vertx.ext.auth.PubSecKeyOptions;
import io.vertx.ext.auth.jwt.JWTAuth;
import io.vertx.ext.auth.jwt.JWTAuthOptions;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.junit5.VertxExtension;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ListOffsetsResult;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.rlhfstream.platform.testing.EmbeddedKafkaExtension;
import org.rlhfstream.platform.testing.TopicReader;
import org.rlhfstream.proto.v1.Comparison;
import org.rlhfstream.proto.v1.ComparisonBatch;

/**
 * Every kind of bad request gets its status, its field and its rule, and leaves the topic as it
 * was; credentials are checked (API keys and JWTs) over HTTP and gRPC.
 */
@ExtendWith(VertxExtension.class)
class IngestRejectionTest {

  static final String JWT_SECRET = "a-test-secret-that-is-long-enough-for-hs256";
  static final String JWT_ISSUER = "https://labeling.example";

  @RegisterExtension
  static EmbeddedKafkaExtension kafka = new EmbeddedKafkaExtension();

  private static TestIngest ingest;
  private static JWTAuth tokens;

  @BeforeAll
  static void start(Vertx vertx) throws Exception {
    ingest = TestIngest.start(vertx, kafka.bootstrapServers(), c -> c
        .withLimits(new IngestConfig.Limits(10, 20, 1024, 64, 4, 64 * 1024, 1000, 1 << 20, Duration.ofSeconds(2)))
        .withAuth(c.auth().withJwt(IngestConfig.Jwt.hmac(JWT_SECRET, JWT_ISSUER))));
    tokens = JWTAuth.create(vertx, new JWTAuthOptions().addPubSecKey(new PubSecKeyOptions().setAlgorithm("HS256").setBuffer(JWT_SECRET)));
  }

  @AfterAll
  static void stop() throws Exception {
    ingest.close();
  }

  /** One bad request: what is sent, and the status, error, field and rule it must get. */
  record Case(String name, String contentType, byte[] body, String key, int status, String error, String field, String rule) {
    @Override
    public String toString() {
      return name;
    }
  }

  static Stream<Arguments> badRequests() {
    String ok = json("e1", "acme", "p", "a", "b");
    List<Case> cases = new ArrayList<>();
    cases.add(new Case("no credentials", "application/json", utf8(ok), null, 401, "unauthenticated", "Authorization", "credentials"));
    cases.add(new Case("a wrong key", "application/json", utf8(ok), "rlhf_not-a-key", 401, "unauthenticated", "Authorization", "credentials"));
    cases.add(new Case("a foreign tenant", "application/json", utf8(json("e1", "other", "p", "a", "b")), TestIngest.KEY_A, 403, "forbidden", "tenant", "tenant"));
    cases.add(new Case("a foreign tenant in a batch", "application/json",
        utf8("{\"comparisons\":[" + ok + "," + json("e2", "acme", "p", "a", "b") + "]}"), TestIngest.KEY_B, 403, "forbidden", "comparisons[0].tenant", "tenant"));
    cases.add(new Case("a missing event id", "application/json", utf8(json("", "acme", "p", "a", "b")), TestIngest.KEY_A, 400, "invalid", "event_id", "required"));
    cases.add(new Case("an event id with spaces", "application/json", utf8(json("e 1", "acme", "p", "a", "b")), TestIngest.KEY_A, 400, "invalid", "event_id", "pattern"));
    cases.add(new Case("an oversized event id", "application/json", utf8(json("e".repeat(65), "acme", "p", "a", "b")), TestIngest.KEY_A, 400, "invalid", "event_id", "max_bytes"));
    cases.add(new Case("a missing tenant", "application/json", utf8(json("e1", "", "p", "a", "b")), TestIngest.KEY_A, 400, "invalid", "tenant", "required"));
    cases.add(new Case("an empty prompt", "application/json", utf8(json("e1", "acme", "", "a", "b")), TestIngest.KEY_A, 400, "invalid", "prompt", "required"));
    cases.add(new Case("a blank chosen", "application/json", utf8(json("e1", "acme", "p", "  ", "b")), TestIngest.KEY_A, 400, "invalid", "chosen", "required"));
    cases.add(new Case("an oversized rejected", "application/json", utf8(json("e1", "acme", "p", "a", "é".repeat(513))), TestIngest.KEY_A, 400, "invalid", "rejected", "max_bytes"));
    cases.add(new Case("chosen equal to rejected", "application/json", utf8(json("e1", "acme", "p", "same", "same")), TestIngest.KEY_A, 400, "invalid", "chosen", "not_equal"));
    cases.add(new Case("a strength of 0", "application/json", utf8(ok.replace("}", ",\"strength\":0}")), TestIngest.KEY_A, 400, "invalid", "strength", "range"));
    cases.add(new Case("a strength above 1", "application/json", utf8(ok.replace("}", ",\"strength\":1.5}")), TestIngest.KEY_A, 400, "invalid", "strength", "range"));
    cases.add(new Case("a NaN strength", "application/json", utf8(ok.replace("}", ",\"strength\":\"NaN\"}")), TestIngest.KEY_A, 400, "invalid", "strength", "range"));
    cases.add(new Case("too many metadata entries", "application/json",
        utf8(ok.replace("}", ",\"metadata\":{\"a\":\"1\",\"b\":\"2\",\"c\":\"3\",\"d\":\"4\",\"e\":\"5\"}}")), TestIngest.KEY_A, 400, "invalid", "metadata", "max_entries"));
    cases.add(new Case("invalid UTF-8 in a JSON string", "application/json", invalidUtf8Json(), TestIngest.KEY_A, 400, "invalid", "chosen", "utf8"));
    cases.add(new Case("an unpaired surrogate escape", "application/json", utf8(json("e1", "acme", "p\\ud800", "a", "b")), TestIngest.KEY_A, 400, "invalid", "prompt", "utf8"));
    cases.add(new Case("invalid UTF-8 in a protobuf string", "application/x-protobuf", invalidUtf8Protobuf(), TestIngest.KEY_A, 400, "malformed", "comparisons[1].chosen", "utf8"));
    cases.add(new Case("a bad second item of a batch", "application/json",
        utf8("{\"comparisons\":[" + ok + "," + json("e2", "acme", "p", "x", "x") + "]}"), TestIngest.KEY_A, 400, "invalid", "comparisons[1].chosen", "not_equal"));
    cases.add(new Case("too many items", "application/x-protobuf", batch(11), TestIngest.KEY_A, 400, "invalid", "comparisons", "max_items"));
    cases.add(new Case("an empty batch", "application/json", utf8("{\"comparisons\":[]}"), TestIngest.KEY_A, 400, "invalid", "comparisons", "min_items"));
    cases.add(new Case("a body that is too large", "application/json", utf8(ok + " ".repeat(70 * 1024)), TestIngest.KEY_A, 413, "body_too_large", "body", "max_bytes"));
    cases.add(new Case("text/plain", "text/plain", utf8(ok), TestIngest.KEY_A, 415, "unsupported_media_type", "Content-Type", "media_type"));
    cases.add(new Case("no content type", null, utf8(ok), TestIngest.KEY_A, 415, "unsupported_media_type", "Content-Type", "media_type"));
    cases.add(new Case("JSON in another charset", "application/json; charset=latin1", utf8(ok), TestIngest.KEY_A, 415, "unsupported_media_type", "Content-Type", "media_type"));
    cases.add(new Case("an unknown proto type", "application/x-protobuf; proto=rlhf.v1.Prompt", batch(1), TestIngest.KEY_A, 415, "unsupported_media_type", "Content-Type", "media_type"));
    cases.add(new Case("truncated JSON", "application/json", utf8("{\"event_id\":"), TestIngest.KEY_A, 400, "malformed", "body", "json"));
    cases.add(new Case("a JSON array", "application/json", utf8("[" + ok + "]"), TestIngest.KEY_A, 400, "malformed", "body", "json"));
    cases.add(new Case("an unknown JSON field", "application/json", utf8(ok.replace("}", ",\"chosn\":\"x\"}")), TestIngest.KEY_A, 400, "malformed", "body", "json"));
    cases.add(new Case("a wrongly typed JSON field", "application/json", utf8(ok.replace("}", ",\"tie\":\"maybe\"}")), TestIngest.KEY_A, 400, "malformed", "body", "json"));
    cases.add(new Case("an empty body", "application/json", new byte[0], TestIngest.KEY_A, 400, "malformed", "body", "json"));
    cases.add(new Case("bytes that are not protobuf", "application/x-protobuf", new byte[] {(byte) 0xff, (byte) 0xff, (byte) 0xff, 0x0f}, TestIngest.KEY_A, 400, "malformed", "body", "protobuf"));
    return cases.stream().map(Arguments::of);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("badRequests")
  void aBadRequestGetsItsStatusFieldAndRuleAndWritesNothing(Case c) throws Exception {
    long before = topicSize();

    HttpResponse<Buffer> response = ingest.post(c.contentType(), c.body(), c.key());

    assertEquals(c.status(), response.statusCode(), response.bodyAsString());
    assertEquals("application/json", response.getHeader("Content-Type"));
    JsonObject body = response.bodyAsJsonObject();
    assertEquals(c.error(), body.getString("error"), body.encode());
    JsonArray violations = body.getJsonArray("violations");
    assertTrue(violations.stream().map(JsonObject.class::cast)
            .anyMatch(v -> c.field().equals(v.getString("field")) && c.rule().equals(v.getString("rule"))),
        "expected " + c.field() + "/" + c.rule() + " in " + body.encode());
    assertEquals(before, topicSize(), "nothing was written");
  }

  @Test
  void everyViolationOfABatchIsListed() throws Exception {
    String body = "{\"comparisons\":[" + json("", "acme", "", "a", "b") + "," + json("e2", "acme", "p", "x", "x") + "]}";
    HttpResponse<Buffer> response = ingest.postJson(body, TestIngest.KEY_A);
    assertEquals(400, response.statusCode());
    List<String> fields = response.bodyAsJsonObject().getJsonArray("violations").stream()
        .map(v -> ((JsonObject) v).getString("field")).toList();
    assertEquals(List.of("comparisons[0].event_id", "comparisons[0].prompt", "comparisons[1].chosen"), fields);
  }

  @Test
  void aChunkedBodyIsCutOffAtTheLimit(Vertx vertx) throws Exception {
    long before = topicSize();
    HttpClient client = vertx.createHttpClient();
    var request = client.request(new RequestOptions().setMethod(HttpMethod.POST).setHost("127.0.0.1")
        .setPort(ingest.host.actualPort()).setURI(HttpIngestApi.PATH)).await(30, TimeUnit.SECONDS);
    request.setChunked(true).putHeader("Content-Type", "application/json").putHeader("X-API-Key", TestIngest.KEY_A);
    var responseFuture = request.response();
    // Status and body in one chain: the body must be asked for before it arrives.
    var statusAndBody = responseFuture.compose(r -> r.body().map(b -> java.util.Map.entry(r.statusCode(), b)));
    // 100 KiB in 1 KiB chunks, past the 64 KiB limit; the server answers before the end.
    byte[] chunk = new byte[1024];
    java.util.Arrays.fill(chunk, (byte) ' ');
    for (int i = 0; i < 100 && !responseFuture.isComplete(); i++) {
      request.write(Buffer.buffer(chunk));
    }
    request.end();
    var response = statusAndBody.await(30, TimeUnit.SECONDS);
    assertEquals(413, response.getKey());
    assertEquals("body_too_large", new JsonObject(response.getValue()).getString("error"));
    client.close();
    assertEquals(before, topicSize());
  }

  @Test
  void rejectionsAreCountedByReason() throws Exception {
    ingest.post("text/csv", utf8("a,b"), TestIngest.KEY_A);
    String metrics = ingest.http.get("/metrics").send().await(30, TimeUnit.SECONDS).bodyAsString();
    assertTrue(metrics.contains("rlhf_ingest_requests_rejected_total{reason=\"unsupported_media_type\",transport=\"http\"}"), metrics);
  }

  @Test
  void aJwtWithTheTenantIsAcceptedAndNamesTheApp() throws Exception {
    String id = TestIngest.uniqueId();
    String token = tokens.generateToken(new JsonObject().put("sub", "labeler-web").put("iss", JWT_ISSUER)
        .put("tenants", new JsonArray().add("acme")), new JWTOptions().setExpiresInMinutes(5));

    HttpResponse<Buffer> response = ingest.postJson(json(id, "acme", "p", "a", "b"), token);

    assertEquals(202, response.statusCode(), response.bodyAsString());
    var records = TopicReader.readAll(kafka.bootstrapServers(), TestIngest.TOPIC).stream()
        .filter(r -> id.equals(new String(r.key(), StandardCharsets.UTF_8))).toList();
    assertEquals(1, records.size());
    assertEquals("labeler-web", Comparison.parseFrom(records.get(0).value()).getSourceApp());
  }

  @Test
  void badJwtsAreRefused(Vertx vertx) throws Exception {
    JWTAuth otherSigner = JWTAuth.create(vertx, new JWTAuthOptions().addPubSecKey(
        new PubSecKeyOptions().setAlgorithm("HS256").setBuffer("another-secret-that-is-long-enough-for-hs256")));
    JsonObject claims = new JsonObject().put("sub", "labeler-web").put("iss", JWT_ISSUER).put("tenants", new JsonArray().add("acme"));
    String wrongSignature = otherSigner.generateToken(claims);
    String wrongIssuer = tokens.generateToken(claims.copy().put("iss", "https://elsewhere"));
    String expired = tokens.generateToken(claims.copy().put("exp", System.currentTimeMillis() / 1000 - 3600));
    String foreignTenant = tokens.generateToken(claims.copy().put("tenants", new JsonArray().add("other")));
    String unsigned = unsignedToken(claims);
    long before = topicSize();

    for (String token : List.of(wrongSignature, wrongIssuer, expired, unsigned)) {
      HttpResponse<Buffer> response = ingest.postJson(json(TestIngest.uniqueId(), "acme", "p", "a", "b"), token);
      assertEquals(401, response.statusCode(), response.bodyAsString());
      assertEquals("Bearer", response.getHeader("WWW-Authenticate"));
    }
    assertEquals(403, ingest.postJson(json(TestIngest.uniqueId(), "acme", "p", "a", "b"), foreignTenant).statusCode());
    assertEquals(before, topicSize());
  }

  @Test
  void grpcCallsAreRefusedWithTheMatchingStatusAndWriteNothing() throws Exception {
    long before = topicSize();
    List<Comparison> good = List.of(TestIngest.comparison(TestIngest.uniqueId()), TestIngest.comparison(TestIngest.uniqueId()));
    Comparison bad = TestIngest.comparison(TestIngest.uniqueId()).toBuilder().setRejected("4").build();

    assertEquals(GrpcStatus.UNAUTHENTICATED, ingest.submitBatch(good, null).status());
    assertEquals(GrpcStatus.UNAUTHENTICATED, ingest.stream(good, "rlhf_wrong").status());
    assertEquals(GrpcStatus.PERMISSION_DENIED, ingest.submitBatch(good, TestIngest.KEY_B).status());
    TestIngest.GrpcResult invalid = ingest.submitBatch(List.of(good.get(0), bad), TestIngest.KEY_A);
    assertEquals(GrpcStatus.INVALID_ARGUMENT, invalid.status());
    assertTrue(invalid.message().contains("comparisons[1].chosen"), invalid.message());
    // Two good comparisons, then a bad one: the call fails and the good ones are not written.
    TestIngest.GrpcResult stream = ingest.stream(List.of(good.get(0), good.get(1), bad), TestIngest.KEY_A);
    assertEquals(GrpcStatus.INVALID_ARGUMENT, stream.status());
    assertTrue(stream.message().contains("comparisons[2].chosen: must differ from rejected [not_equal]"), stream.message());
    assertEquals(GrpcStatus.INVALID_ARGUMENT, ingest.submitBatch(
        IntStream.range(0, 11).mapToObj(i -> TestIngest.comparison(TestIngest.uniqueId())).toList(), TestIngest.KEY_A).status());
    assertEquals(GrpcStatus.INVALID_ARGUMENT, ingest.stream(
        IntStream.range(0, 21).mapToObj(i -> TestIngest.comparison(TestIngest.uniqueId())).toList(), TestIngest.KEY_A).status());
    Comparison huge = TestIngest.comparison(TestIngest.uniqueId()).toBuilder().setPrompt("x".repeat(70 * 1024)).build();
    assertEquals(GrpcStatus.RESOURCE_EXHAUSTED, ingest.submitBatch(List.of(huge), TestIngest.KEY_A).status());

    assertEquals(before, topicSize());
  }

  // --- request bodies ---

  static String json(String id, String tenant, String prompt, String chosen, String rejected) {
    return "{\"event_id\":\"" + id + "\",\"tenant\":\"" + tenant + "\",\"prompt\":\"" + prompt
        + "\",\"chosen\":\"" + chosen + "\",\"rejected\":\"" + rejected + "\"}";
  }

  static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  static byte[] invalidUtf8Json() {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.writeBytes(utf8("{\"event_id\":\"e1\",\"tenant\":\"acme\",\"prompt\":\"p\",\"chosen\":\"a"));
    out.write(0xC3); // a lead byte without its continuation
    out.writeBytes(utf8("\",\"rejected\":\"b\"}"));
    return out.toByteArray();
  }

  static byte[] invalidUtf8Protobuf() {
    byte[] second = TestIngest.comparison("e2").toBuilder().setChosen("AB").build().toByteArray();
    // Replace "AB" with two bytes that are not UTF-8 (the length prefix stays right).
    for (int i = 0; i < second.length - 1; i++) {
      if (second[i] == 'A' && second[i + 1] == 'B') {
        second[i] = (byte) 0xFF;
        second[i + 1] = (byte) 0xFE;
      }
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.writeBytes(ComparisonBatch.newBuilder().addComparisons(TestIngest.comparison("e1")).build().toByteArray());
    out.write(0x0A); // field 1 (comparisons), length-delimited
    out.write(second.length);
    out.writeBytes(second);
    return out.toByteArray();
  }

  static byte[] batch(int n) {
    ComparisonBatch.Builder b = ComparisonBatch.newBuilder();
    for (int i = 0; i < n; i++) {
      b.addComparisons(TestIngest.comparison("e" + i));
    }
    return b.build().toByteArray();
  }

  private static String unsignedToken(JsonObject claims) {
    java.util.Base64.Encoder b64 = java.util.Base64.getUrlEncoder().withoutPadding();
    return b64.encodeToString(utf8("{\"alg\":\"none\",\"typ\":\"JWT\"}")) + "." + b64.encodeToString(utf8(claims.encode())) + ".";
  }

  /** Records ever written to the topic: the sum of its partitions' end offsets (quicker than reading it). */
  private static long topicSize() throws Exception {
    try (Admin admin = Admin.create(kafka.adminProperties())) {
      var partitions = admin.describeTopics(List.of(TestIngest.TOPIC)).allTopicNames().get(30, TimeUnit.SECONDS)
          .get(TestIngest.TOPIC).partitions();
      Map<TopicPartition, OffsetSpec> latest = new HashMap<>();
      partitions.forEach(p -> latest.put(new TopicPartition(TestIngest.TOPIC, p.partition()), OffsetSpec.latest()));
      return admin.listOffsets(latest).all().get(30, TimeUnit.SECONDS).values().stream()
          .mapToLong(ListOffsetsResult.ListOffsetsResultInfo::offset).sum();
    }
  }
}

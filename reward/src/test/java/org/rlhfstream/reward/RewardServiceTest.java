package org.rlhfstream.reward;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import org.rlhfstream.platform.http.HttpHost;
import org.rlhfstream.platform.http.HttpSettings;
import org.rlhfstream.platform.http.PrometheusMetrics;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.rlhfstream.model.RewardScorer;
import org.rlhfstream.platform.config.ConfigNode;
import org.rlhfstream.platform.config.KafkaSettings;
import org.rlhfstream.platform.kafka.DeadLetters;
import org.rlhfstream.platform.kafka.TopicSetup;
import org.rlhfstream.platform.kafka.TopicsConfig;
import org.rlhfstream.platform.testing.EmbeddedKafkaExtension;
import org.rlhfstream.platform.testing.TopicReader;
import org.rlhfstream.proto.v1.Comparison;
import org.rlhfstream.proto.v1.RewardModelRelease;

/** The reward service against a real broker and the real tiny model. */
class RewardServiceTest {

  @RegisterExtension static EmbeddedKafkaExtension kafka = new EmbeddedKafkaExtension();

  private Vertx vertx;
  private TopicsConfig topics;
  private Path dataDir;

  @BeforeEach
  void setUp(TestInfo info) throws Exception {
    vertx = Vertx.vertx();
    String suffix = info.getTestMethod().orElseThrow().getName();
    Map<String, Object> tree = new LinkedHashMap<>();
    tree.put("partitions", 2);
    for (String t : List.of("feedback", "feedback-dlq", "prompts", "reward-models", "adapters")) {
      tree.put(t, Map.of("name", "test." + suffix + "." + t));
    }
    topics = TopicsConfig.from(ConfigNode.root(tree));
    try (Admin admin = Admin.create(kafka.adminProperties())) {
      TopicSetup.ensureTopics(admin, topics.all(), Duration.ofSeconds(30));
    }
    dataDir = Files.createTempDirectory(Path.of(System.getProperty("java.io.tmpdir")), "reward-" + suffix + "-");
  }

  @AfterEach
  void tearDown() {
    vertx.close().await();
  }

  private RewardConfig config(Map<String, Object> overrides) {
    Map<String, Object> training = new LinkedHashMap<>(Map.of(
        "batch-size", 16, "micro-batch-size", 16, "learning-rate", 0.002, "warmup-steps", 5,
        "schedule", "constant", "replay-fraction", 0.25, "max-wait", "100ms", "seed", 7));
    Map<String, Object> tree = new LinkedHashMap<>();
    tree.put("name", "rm");
    tree.put("training", training);
    tree.put("held-out", Map.of("fraction", 0.2, "eval-every-steps", 5, "min-examples", 20));
    tree.put("checkpoint", Map.of("every-steps", 7, "every", "1h"));
    tree.put("log-every", "2s");
    tree.putAll(overrides);
    ConfigNode root = ConfigNode.root(tree);
    RewardConfig c = RewardConfig.from(root);
    root.validate();
    return c;
  }

  private RewardService start(RewardConfig config) throws Exception {
    KafkaSettings settings = new KafkaSettings(kafka.bootstrapServers(), "127.0.0.1", 0, 0, Map.of());
    RewardService service = new RewardService(config, settings, topics, dataDir, new SimpleMeterRegistry());
    service.start(vertx).await(2, TimeUnit.MINUTES);
    return service;
  }

  private void produce(List<Comparison> comparisons) throws Exception {
    Properties p = kafka.adminProperties();
    p.put("key.serializer", ByteArraySerializer.class.getName());
    p.put("value.serializer", ByteArraySerializer.class.getName());
    p.put("acks", "all");
    try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p)) {
      for (Comparison c : comparisons) {
        producer.send(new ProducerRecord<>(topics.feedback().name(), c.getEventId().getBytes(StandardCharsets.UTF_8), c.toByteArray()));
      }
      producer.flush();
    }
  }

  private void produceRaw(byte[] key, byte[] value) throws Exception {
    Properties p = kafka.adminProperties();
    p.put("key.serializer", ByteArraySerializer.class.getName());
    p.put("value.serializer", ByteArraySerializer.class.getName());
    try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p)) {
      producer.send(new ProducerRecord<>(topics.feedback().name(), key, value)).get(30, TimeUnit.SECONDS);
    }
  }

  private static void await(String what, Duration timeout, BooleanSupplier condition) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out waiting for " + what);
      }
      Thread.sleep(100); // polling with a deadline
    }
  }

  /** Comparisons accounted for: trained, held out, duplicates and dead letters. */
  private static long accounted(TrainerState s) {
    return s.comparisonsTrained + s.heldOutSeen + s.duplicates + s.deadLettered;
  }

  @Test
  void learnsASyntheticPreferenceAndReleasesWhenHeldOutAccuracyImproves() throws Exception {
    List<Comparison> data = SyntheticPreferences.generate("learn", 1200, 1);
    produce(data);
    RewardService service = start(config(Map.of()));
    try {
      // A release follows each new best held-out accuracy.
      await("a release with held-out accuracy above 0.9 on 100+ held-out comparisons", Duration.ofMinutes(4),
          () -> service.trainer().state().bestAccuracy > 0.9 && service.trainer().state().heldOut.size() >= 100
              && service.trainer().state().releasedVersion >= 1);

      // The newest release announces a stored, verifiable artifact.
      List<ConsumerRecord<byte[], byte[]>> releases = TopicReader.awaitRecords(kafka.bootstrapServers(),
          topics.rewardModels().name(), r -> !r.isEmpty(), Duration.ofSeconds(30));
      RewardModelRelease last = RewardModelRelease.parseFrom(releases.get(releases.size() - 1).value());
      assertEquals("rm", new String(releases.get(0).key(), StandardCharsets.UTF_8));
      assertEquals("builtin:tiny", last.getBaseModelId());
      assertTrue(last.getHeldOut().getAccuracy() > 0.5, "released on an improvement: " + last.getHeldOut());
      assertTrue(last.getComparisonsTrained() > 0);
      Path folder = Path.of(java.net.URI.create(last.getArtifact().getUri()));
      org.rlhfstream.platform.artifacts.ArtifactStore.verify(folder, last.getArtifact().getSha256());
      for (int i = 1; i < releases.size(); i++) {
        long prev = RewardModelRelease.parseFrom(releases.get(i - 1).value()).getVersion();
        long next = RewardModelRelease.parseFrom(releases.get(i).value()).getVersion();
        assertTrue(next > prev, "versions only grow");
      }

      // The in-process scorer prefers the marker once the release has loaded.
      long released = service.trainer().state().releasedVersion;
      await("the scorer to load the newest release", Duration.ofSeconds(60),
          () -> ("rm@" + released).equals(((ReleasedScorer) service.scorer()).version()));
      List<Comparison> fresh = SyntheticPreferences.generate("unseen", 50, 99);
      List<RewardScorer.Pair> pairs = new java.util.ArrayList<>();
      for (Comparison c : fresh) {
        pairs.add(new RewardScorer.Pair(c.getPrompt(), c.getChosen()));
        pairs.add(new RewardScorer.Pair(c.getPrompt(), c.getRejected()));
      }
      List<Float> scores = service.scorer().score(pairs).toCompletableFuture().get(60, TimeUnit.SECONDS).scores();
      int right = 0;
      for (int i = 0; i < fresh.size(); i++) {
        right += scores.get(2 * i) > scores.get(2 * i + 1) ? 1 : 0;
      }
      assertTrue(right >= 42, "released model orders unseen pairs: " + right + "/50");
    } finally {
      service.stop().await(2, TimeUnit.MINUTES);
    }
  }

  @Test
  void anUnwritableDeadLetterHoldsEverythingBehindItUntilTheTopicIsBack() throws Exception {
    // The service's DLQ topic does not exist yet (topics are not auto-created): writes fail.
    String dlq = topics.feedbackDlq().name() + ".late";
    topics = new TopicsConfig(topics.feedback(), new org.rlhfstream.platform.kafka.TopicSpec(dlq, 1, (short) 1, false, null, -1),
        topics.prompts(), topics.rewardModels(), topics.adapters());
    List<Comparison> before = SyntheticPreferences.generate("dlq-a", 40, 7);
    List<Comparison> after = SyntheticPreferences.generate("dlq-b", 40, 8);
    produce(before);
    Comparison poison = Comparison.newBuilder().setEventId("poison").setPrompt("p").setChosen("x").setRejected("x").build();
    produceRaw("poison".getBytes(StandardCharsets.UTF_8), poison.toByteArray());
    produce(after);

    RewardService service = start(config(Map.of("dead-letter-timeout", "1s")));
    try {
      await("the trainer to find the dead-letter topic missing", Duration.ofMinutes(1),
          () -> service.trainer().deadLetterBlocked());
      TrainerState s = service.trainer().state();
      assertEquals(0, s.deadLettered);
      assertTrue(accounted(s) < before.size() + 1 + after.size(), "records behind the dead letter wait");

      try (Admin admin = Admin.create(kafka.adminProperties())) {
        TopicSetup.ensureTopics(admin, List.of(topics.feedbackDlq()), Duration.ofSeconds(30));
      }
      await("everything accounted for once the topic exists", Duration.ofMinutes(1),
          () -> accounted(service.trainer().state()) == before.size() + 1 + after.size());
      assertEquals(1, service.trainer().state().deadLettered);
      assertTrue(!service.trainer().deadLetterBlocked());
    } finally {
      service.stop().await(2, TimeUnit.MINUTES);
    }
    assertEquals(1, TopicReader.readAll(kafka.bootstrapServers(), dlq).size(), "written once, after the retries");
  }

  @Test
  void scoresOverHttpWithTheNewestReleaseAndRejectsBadRequests() throws Exception {
    KafkaSettings settings = new KafkaSettings(kafka.bootstrapServers(), "127.0.0.1", 0, 0, Map.of());
    RewardService service = new RewardService(config(Map.of()), settings, topics, dataDir, new SimpleMeterRegistry());
    HttpHost host = new HttpHost(new HttpSettings("127.0.0.1", 0, Duration.ofSeconds(5)),
        PrometheusMetrics.newRegistry(), List.of(service));
    vertx.deployVerticle(host).await(2, TimeUnit.MINUTES);
    HttpClient http = HttpClient.newHttpClient();
    String base = "http://127.0.0.1:" + host.actualPort();
    String body = "{\"items\":[{\"prompt\":\"apple river\",\"response\":\"thanks stone cloud\"},"
        + "{\"prompt\":\"apple river\",\"response\":\"stone cloud green\"}]}";

    HttpResponse<String> early = post(http, base + "/v1/scores", body);
    assertEquals(503, early.statusCode(), "nothing released yet: " + early.body());
    assertTrue(early.headers().firstValue("Retry-After").isPresent());

    HttpResponse<String> bad = post(http, base + "/v1/scores", "{\"items\":[{\"prompt\":\"p\"}]}");
    assertEquals(400, bad.statusCode());
    assertEquals("items[0].response", new JsonObject(bad.body()).getString("field"));
    assertEquals(400, post(http, base + "/v1/scores", "not json").statusCode());
    assertEquals(400, post(http, base + "/v1/scores", "{\"items\":[]}").statusCode());

    produce(SyntheticPreferences.generate("http", 600, 5));
    await("a release loaded by the scorer", Duration.ofMinutes(3),
        () -> ((ReleasedScorer) service.scorer()).version() != null);
    HttpResponse<String> ok = post(http, base + "/v1/scores", body);
    assertEquals(200, ok.statusCode(), ok.body());
    JsonObject scored = new JsonObject(ok.body());
    assertTrue(scored.getString("model").startsWith("rm@"), ok.body());
    assertEquals(2, scored.getJsonArray("scores").size());
    assertEquals(2, scored.getJsonArray("normalized").size());

    HttpResponse<String> status = http.send(HttpRequest.newBuilder(URI.create(base + "/v1/reward/status")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals("rm", new JsonObject(status.body()).getString("name"));
    HttpResponse<String> ready = http.send(HttpRequest.newBuilder(URI.create(base + "/health/ready")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(200, ready.statusCode(), ready.body());
    vertx.undeploy(vertx.deploymentIDs().iterator().next()).await(2, TimeUnit.MINUTES);
  }

  private static HttpResponse<String> post(HttpClient http, String url, String body) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create(url)).header("content-type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void crashMidStreamThenRestartTrainsEveryComparisonExactlyOnce() throws Exception {
    List<Comparison> first = SyntheticPreferences.generate("crash-a", 500, 2);
    List<Comparison> second = SyntheticPreferences.generate("crash-b", 300, 3);
    produce(first);
    // A few resends of the same events: trained once all the same.
    produce(first.subList(0, 20));
    RewardConfig config = config(Map.of("release", Map.of("when", "every", "every-steps", 1000)));

    RewardService crashed = start(config);
    await("some checkpoints mid-stream", Duration.ofMinutes(2), () -> crashed.trainer().state().step >= 12);
    crashed.stopTrainer(false); // like kill -9: no final checkpoint, in-memory progress lost
    long stepAtCrash = crashed.trainer().state().step;
    // Release native memory and clients without saving anything more.
    crashed.stop().await(1, TimeUnit.MINUTES);
    assertTrue(new Checkpoints(crashed.checkpointDir()).latest().map(Checkpoints::stepOf).orElse(0L) <= stepAtCrash);

    produce(second);
    RewardService restarted = start(config);
    try {
      long total = first.size() + 20 + second.size();
      await("every record accounted for", Duration.ofMinutes(3), () -> accounted(restarted.trainer().state()) >= total
          && restarted.trainer().waiting() == 0);
      TrainerState s = restarted.trainer().state();
      assertEquals(total, accounted(s), "trained " + s.comparisonsTrained + ", held out " + s.heldOutSeen
          + ", duplicates " + s.duplicates + ", dead letters " + s.deadLettered);
      assertEquals(20, s.duplicates, "the resent events are recognised as duplicates");
    } finally {
      restarted.stop().await(2, TimeUnit.MINUTES);
    }

    List<String> trained = new TrainingLedger(restarted.ledgerDir()).trainedIds();
    Set<String> trainedSet = new HashSet<>(trained);
    assertEquals(trained.size(), trainedSet.size(), "no event id is trained on twice");
    Set<String> expected = new HashSet<>();
    for (Comparison c : first) {
      if (!EventIds.isHeldOut(c.getEventId(), 0.2)) {
        expected.add(c.getEventId());
      }
    }
    for (Comparison c : second) {
      if (!EventIds.isHeldOut(c.getEventId(), 0.2)) {
        expected.add(c.getEventId());
      }
    }
    assertEquals(expected, trainedSet, "the trained set is exactly the produced, non-held-out set");
  }

  @Test
  void poisonMessagesGoToTheDeadLetterTopicAndTrainingGoesOn() throws Exception {
    produceRaw("junk".getBytes(StandardCharsets.UTF_8), new byte[] {(byte) 0xff, 0x01, 0x02});
    Comparison same = Comparison.newBuilder().setEventId("bad-1").setPrompt("p").setChosen("same").setRejected("same").build();
    produceRaw("bad-1".getBytes(StandardCharsets.UTF_8), same.toByteArray());
    Comparison noId = Comparison.newBuilder().setPrompt("p").setChosen("a").setRejected("b").build();
    produceRaw(new byte[0], noId.toByteArray());
    List<Comparison> good = SyntheticPreferences.generate("after-poison", 200, 4);
    produce(good);

    RewardService service = start(config(Map.of()));
    try {
      await("the good comparisons to be trained", Duration.ofMinutes(2),
          () -> accounted(service.trainer().state()) >= good.size() + 3 && service.trainer().waiting() == 0);
      assertEquals(good.size() + 3, accounted(service.trainer().state()));
      assertEquals(3, service.trainer().state().deadLettered);
    } finally {
      service.stop().await(2, TimeUnit.MINUTES);
    }
    List<ConsumerRecord<byte[], byte[]>> dead = TopicReader.readAll(kafka.bootstrapServers(), topics.feedbackDlq().name());
    assertEquals(3, dead.size());
    Map<String, String> reasons = dead.stream().collect(Collectors.toMap(
        r -> new String(r.key(), StandardCharsets.UTF_8),
        r -> new String(r.headers().lastHeader(DeadLetters.REASON).value(), StandardCharsets.UTF_8)));
    assertTrue(reasons.get("junk").startsWith("undecodable"), reasons.toString());
    assertEquals("invalid comparison: chosen equals rejected", reasons.get("bad-1"));
    assertEquals("invalid comparison: event_id is empty", reasons.get(""));
    ConsumerRecord<byte[], byte[]> junk = dead.stream().filter(r -> new String(r.key(), StandardCharsets.UTF_8).equals("junk")).findFirst().orElseThrow();
    assertEquals(3, junk.value().length, "the original bytes are kept for inspection");
    assertEquals(topics.feedback().name(), new String(junk.headers().lastHeader(DeadLetters.SOURCE_TOPIC).value(), StandardCharsets.UTF_8));
  }
}

package org.rlhfstream.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.rlhfstream.model.RewardScorer;
import org.rlhfstream.platform.config.ConfigNode;
import org.rlhfstream.platform.config.KafkaSettings;
import org.rlhfstream.platform.testing.EmbeddedKafkaExtension;
import org.rlhfstream.platform.testing.TopicReader;
import org.rlhfstream.proto.v1.Comparison;
import org.rlhfstream.reward.RewardConfig;
import org.rlhfstream.reward.RewardService;

/** A reward model the service released loads with {@code rlhf score} and gives the scores the service gave. */
class ReleasedRewardModelTest {

  @RegisterExtension static EmbeddedKafkaExtension kafka = new EmbeddedKafkaExtension();

  @Test
  void rlhfScoreOnAReleasedFolderReproducesTheServiceScores() throws Exception {
    ConfigNode root = ConfigNode.root(Map.of(
        "name", "rm",
        "training", Map.of("batch-size", 16, "micro-batch-size", 16, "learning-rate", 0.002, "max-wait", "100ms"),
        "held-out", Map.of("fraction", 0.2, "eval-every-steps", 5, "min-examples", 10)));
    RewardConfig config = RewardConfig.from(root);
    root.validate();
    produce(300);

    Vertx vertx = Vertx.vertx();
    Path data = Files.createTempDirectory(Path.of(System.getProperty("java.io.tmpdir")), "released-");
    RewardService service = new RewardService(config, new KafkaSettings(kafka.bootstrapServers(), "", 0, 0, Map.of()),
        kafka.topics(), data, new SimpleMeterRegistry());
    service.start(vertx).await(2, TimeUnit.MINUTES);
    List<RewardScorer.Pair> pairs = List.of(
        new RewardScorer.Pair("apple river", "thanks stone cloud"),
        new RewardScorer.Pair("apple river", "stone cloud green table"),
        new RewardScorer.Pair("a much longer prompt about seven quick tigers", "thanks"));
    RewardScorer.Scores given;
    try {
      TopicReader.awaitRecords(kafka.bootstrapServers(), kafka.topics().rewardModels().name(), r -> !r.isEmpty(),
          Duration.ofMinutes(3));
      given = awaitScores(service, pairs);
    } finally {
      service.stop().await(2, TimeUnit.MINUTES);
      vertx.close().await();
    }

    long version = Long.parseLong(given.rewardModelVersion().substring("rm@".length()));
    Path folder = service.artifactStore().location("reward-models", "rm", version);
    for (int i = 0; i < pairs.size(); i++) {
      String text = pairs.get(i).prompt() + "\n" + pairs.get(i).response(); // the default template
      StringWriter out = new StringWriter();
      StringWriter err = new StringWriter();
      int code = RlhfCommand.execute(new PrintWriter(out), new PrintWriter(err),
          "score", "--model", folder.toString(), "--text", text, "--output", "json");
      assertEquals(0, code, err.toString());
      String last = out.toString().strip().lines().reduce((a, b) -> b).orElseThrow();
      double cli = new JsonObject(last).getDouble("score");
      assertEquals(given.scores().get(i), cli, 1e-4, "pair " + i + " scored by the service and by rlhf score");
    }
    assertTrue(given.scores().get(0) != given.scores().get(1), "a trained model tells responses apart");
  }

  private static RewardScorer.Scores awaitScores(RewardService service, List<RewardScorer.Pair> pairs) throws Exception {
    long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
    while (true) {
      try {
        return service.scorer().score(pairs).toCompletableFuture().get(60, TimeUnit.SECONDS);
      } catch (java.util.concurrent.ExecutionException notYetLoaded) {
        if (System.nanoTime() > deadline) {
          throw notYetLoaded;
        }
        Thread.sleep(200); // polling with a deadline until the first release is loaded
      }
    }
  }

  private static void produce(int n) throws Exception {
    String[] words = {"apple", "river", "stone", "cloud", "green", "seven", "quick", "table", "music", "paper"};
    SplittableRandom r = new SplittableRandom(3);
    Properties p = new Properties();
    p.put("bootstrap.servers", kafka.bootstrapServers());
    p.put("key.serializer", ByteArraySerializer.class.getName());
    p.put("value.serializer", ByteArraySerializer.class.getName());
    try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p)) {
      for (int i = 0; i < n; i++) {
        List<String> a = new ArrayList<>();
        List<String> b = new ArrayList<>();
        for (int j = 0; j < 4; j++) {
          a.add(words[r.nextInt(words.length)]);
          b.add(words[r.nextInt(words.length)]);
        }
        Comparison c = Comparison.newBuilder().setEventId("rel-" + i).setPrompt(words[r.nextInt(words.length)])
            .setChosen("thanks " + String.join(" ", a)).setRejected(String.join(" ", b)).build();
        producer.send(new ProducerRecord<>(kafka.topics().feedback().name(), c.getEventId().getBytes(StandardCharsets.UTF_8),
            c.toByteArray()));
      }
    }
  }
}

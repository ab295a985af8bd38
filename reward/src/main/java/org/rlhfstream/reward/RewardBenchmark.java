package org.rlhfstream.reward;

import com.google.protobuf.Timestamp;
import io.micrometer.core.instrument.distribution.HistogramSnapshot;
import io.micrometer.core.instrument.distribution.ValueAtPercentile;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.vertx.core.Vertx;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.rlhfstream.model.DecoderModel;
import org.rlhfstream.model.ModelOptions;
import org.rlhfstream.model.SequenceScorer;
import org.rlhfstream.model.TextTokenizer;
import org.rlhfstream.platform.config.ConfigNode;
import org.rlhfstream.platform.config.KafkaSettings;
import org.rlhfstream.platform.kafka.EmbeddedKafkaBroker;
import org.rlhfstream.platform.kafka.TopicSetup;
import org.rlhfstream.platform.kafka.TopicsConfig;
import org.rlhfstream.proto.v1.Comparison;

/**
 * {@code rlhf bench reward}: training and scoring throughput of the reward model on this machine,
 * for the built-in presets, and the end-to-end lag (comparison created → first trained on) of the
 * whole service at a steady input rate, through a real embedded broker.
 */
public final class RewardBenchmark {

  /**
   * @param presets built-in presets to measure (e.g. tiny, small_25m)
   * @param measure how long each throughput figure is measured
   * @param batchSize comparisons per optimizer step in the throughput runs
   * @param lagRateFraction input rate of the lag run, as a fraction of the service's capacity
   *     (tiny preset, default settings)
   * @param lagDuration how long comparisons are produced in the lag run
   */
  public record Options(List<String> presets, Duration measure, int batchSize, double lagRateFraction,
      Duration lagDuration, Path workDir, PrintStream progress) {}

  /** Throughput of one preset: comparisons/s trained (one optimizer step per batch) and pairs/s scored. */
  public record Throughput(String preset, long parameters, double meanTokens, double trainCps, double scoreCps) {}

  public record Lag(double inputRate, long trained, double p50Seconds, double p90Seconds, double p99Seconds) {}

  /**
   * @param serviceCapacity new comparisons/s the tiny preset absorbs with the default settings
   */
  public record Result(List<Throughput> throughput, double serviceCapacity, Lag lag) {}

  private RewardBenchmark() {}

  public static Result run(Options o) throws Exception {
    List<Throughput> figures = new ArrayList<>();
    for (String preset : o.presets()) {
      figures.add(throughput(preset, o));
    }
    double capacity = serviceCapacity(o);
    o.progress().printf("  service capacity, tiny preset with default settings: %.1f new comparisons/s%n", capacity);
    Lag lag = lag(Math.max(1, capacity * o.lagRateFraction()), o);
    return new Result(figures, capacity, lag);
  }

  /**
   * New comparisons per second the trainer absorbs with the service's default training settings
   * (micro-batches, replay share): the rate the lag run takes a fraction of.
   */
  private static double serviceCapacity(Options o) throws Exception {
    RewardConfig config = benchConfig("tiny", null);
    RewardConfig.Training t = config.training();
    List<Comparison> data = synthetic(t.batchSize() * 4, 13);
    try (PreferenceLearner learner = new PreferenceLearner(config, o.workDir().resolve("models"))) {
      learner.step(data.subList(0, t.batchSize()), 1e-4); // warm-up
      long steps = 0;
      long start = System.nanoTime();
      long end = start + o.measure().toNanos();
      while (System.nanoTime() < end || steps < 3) {
        int from = (int) (steps % 4) * t.batchSize();
        learner.step(data.subList(from, from + t.batchSize()), 1e-4);
        steps++;
      }
      return steps * t.newPerBatch() / ((System.nanoTime() - start) / 1e9);
    }
  }

  /** The reward configuration for a preset; {@code training} null keeps the service's defaults. */
  static RewardConfig benchConfig(String preset, Map<String, Object> training) {
    Map<String, Object> tree = new LinkedHashMap<>();
    tree.put("name", "bench");
    tree.put("model", Map.of("base", "builtin:" + preset));
    if (training != null) {
      tree.put("training", training);
    }
    ConfigNode root = ConfigNode.root(tree);
    RewardConfig c = RewardConfig.from(root);
    root.validate();
    return c;
  }

  private static Throughput throughput(String preset, Options o) throws Exception {
    // Every comparison in a step is new (no replay), one micro-batch per step.
    RewardConfig config = benchConfig(preset, Map.of(
        "batch-size", o.batchSize(), "micro-batch-size", o.batchSize(), "replay-fraction", 0.0));
    List<Comparison> data = synthetic(o.batchSize() * 4, 11);
    double trainCps;
    long parameters;
    double meanTokens;
    Path exported = Files.createTempDirectory(o.workDir(), "export-");
    try (PreferenceLearner learner = new PreferenceLearner(config, o.workDir().resolve("models"))) {
      parameters = learner.model().parameterCount();
      meanTokens = data.stream().mapToInt(c -> learner.tokens(c.getPrompt(), c.getChosen()).length).average().orElse(0);
      for (int i = 0; i < 2; i++) { // warm-up
        learner.step(data.subList(0, o.batchSize()), 1e-4);
      }
      long steps = 0;
      long start = System.nanoTime();
      long end = start + o.measure().toNanos();
      while (System.nanoTime() < end || steps < 3) {
        int from = (int) (steps % 4) * o.batchSize();
        learner.step(data.subList(from, from + o.batchSize()), 1e-4);
        steps++;
      }
      trainCps = steps * o.batchSize() / ((System.nanoTime() - start) / 1e9);
      learner.exportModel(exported);
    }
    double scoreCps;
    try (DecoderModel model = DecoderModel.load(exported, ModelOptions.cpu());
        TextTokenizer tokenizer = TextTokenizer.load(exported)) {
      RewardText text = config.text();
      List<int[]> sequences = new ArrayList<>();
      for (Comparison c : data.subList(0, Math.min(64, data.size()))) {
        sequences.add(text.tokens(tokenizer, model.config().maxPositions(), c.getPrompt(), c.getChosen()));
      }
      SequenceScorer.score(model, sequences, false); // warm-up
      long scored = 0;
      long start = System.nanoTime();
      long end = start + o.measure().toNanos();
      while (System.nanoTime() < end || scored < 3L * sequences.size()) {
        SequenceScorer.score(model, sequences, false);
        scored += sequences.size();
      }
      scoreCps = scored / ((System.nanoTime() - start) / 1e9);
    }
    o.progress().printf("  %-10s %,12d params  %5.1f tokens/text  train %8.1f comparisons/s  score %8.1f pairs/s%n",
        preset, parameters, meanTokens, trainCps, scoreCps);
    return new Throughput(preset, parameters, meanTokens, trainCps, scoreCps);
  }

  /** Produces comparisons at {@code rate}/s through a real broker into the service; returns the lag percentiles. */
  private static Lag lag(double rate, Options o) throws Exception {
    o.progress().printf("  lag run: %.1f comparisons/s for %ds into the full service (tiny preset, default settings)%n",
        rate, o.lagDuration().toSeconds());
    TopicsConfig topics = TopicsConfig.defaults();
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    Vertx vertx = Vertx.vertx();
    try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.startOnFreePorts(o.workDir().resolve("kafka"))) {
      Properties client = new Properties();
      client.put("bootstrap.servers", broker.bootstrapServers());
      try (Admin admin = Admin.create(client)) {
        TopicSetup.ensureTopics(admin, topics.all(), Duration.ofSeconds(30));
      }
      RewardConfig config = benchConfig("tiny", null);
      RewardService service = new RewardService(config, new KafkaSettings(broker.bootstrapServers(), "", 0, 0, Map.of()),
          topics, o.workDir().resolve("data"), registry);
      service.start(vertx).await(2, TimeUnit.MINUTES);
      long produced = 0;
      try {
        Properties p = new Properties();
        p.putAll(client);
        p.put("key.serializer", ByteArraySerializer.class.getName());
        p.put("value.serializer", ByteArraySerializer.class.getName());
        p.put("acks", "all");
        p.put("linger.ms", "0");
        List<Comparison> data = synthetic(1000, 5);
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p)) {
          long start = System.nanoTime();
          long end = start + o.lagDuration().toNanos();
          long intervalNanos = (long) (1e9 / rate);
          for (long next = start; next < end; next += intervalNanos) {
            long wait = next - System.nanoTime();
            if (wait > 0) {
              TimeUnit.NANOSECONDS.sleep(wait); // pacing the producer at a steady rate
            }
            Instant now = Instant.now();
            Comparison c = data.get((int) (produced % data.size())).toBuilder()
                .setEventId("lag-" + produced)
                .setCreatedAt(Timestamp.newBuilder().setSeconds(now.getEpochSecond()).setNanos(now.getNano()))
                .build();
            producer.send(new ProducerRecord<>(topics.feedback().name(), c.getEventId().getBytes(StandardCharsets.UTF_8), c.toByteArray()));
            produced++;
          }
        }
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (service.trainer().state().comparisonsTrained + service.trainer().state().heldOutSeen < produced
            && System.nanoTime() < deadline) {
          TimeUnit.MILLISECONDS.sleep(100);
        }
      } finally {
        service.stop().await(2, TimeUnit.MINUTES);
        vertx.close().await();
      }
      HistogramSnapshot snap = registry.get("rlhf_reward_end_to_end_lag").timer().takeSnapshot();
      double p50 = Double.NaN;
      double p90 = Double.NaN;
      double p99 = Double.NaN;
      for (ValueAtPercentile v : snap.percentileValues()) {
        double seconds = v.value(TimeUnit.SECONDS);
        if (v.percentile() == 0.5) {
          p50 = seconds;
        } else if (v.percentile() == 0.9) {
          p90 = seconds;
        } else if (v.percentile() == 0.99) {
          p99 = seconds;
        }
      }
      return new Lag(rate, snap.count(), p50, p90, p99);
    }
  }

  private static List<Comparison> synthetic(int n, long seed) {
    String[] words = {"apple", "river", "stone", "cloud", "green", "seven", "quick", "table", "music", "paper",
        "light", "ocean", "plant", "chair", "bread", "storm", "glass", "tiger", "sugar", "north"};
    SplittableRandom r = new SplittableRandom(seed);
    List<Comparison> out = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      out.add(Comparison.newBuilder()
          .setEventId("bench-" + i)
          .setPrompt(sentence(r, words, 8))
          .setChosen("thanks " + sentence(r, words, 12))
          .setRejected(sentence(r, words, 12))
          .build());
    }
    return out;
  }

  private static String sentence(SplittableRandom r, String[] words, int n) {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < n; i++) {
      sb.append(i == 0 ? "" : " ").append(words[r.nextInt(words.length)]);
    }
    return sb.toString();
  }
}

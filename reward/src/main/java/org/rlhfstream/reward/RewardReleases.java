package org.rlhfstream.reward;

import com.google.protobuf.Timestamp;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.rlhfstream.platform.artifacts.ArtifactStore;
import org.rlhfstream.proto.v1.Artifact;
import org.rlhfstream.proto.v1.HeldOutMetrics;
import org.rlhfstream.proto.v1.RewardModelRelease;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Publishes reward-model versions: the model goes to the artifact store first (complete, synced,
 * immutable, hashed), and only then is the {@link RewardModelRelease} written to the compacted
 * release topic, keyed by the model's name. Versions only grow, also across crashes.
 */
final class RewardReleases implements AutoCloseable {

  static final String ARTIFACT_KIND = "reward-models";
  static final String FORMAT = "hf-safetensors";
  private static final Logger log = LoggerFactory.getLogger(RewardReleases.class);

  /** A published version, for in-process listeners (the scorer reloads on it). */
  record Released(RewardModelRelease release, Path folder) {}

  private final RewardConfig config;
  private final ArtifactStore store;
  private final PreferenceLearner learner;
  private final KafkaProducer<String, byte[]> producer;
  private final String topic;
  private final Consumer<Released> listener;

  RewardReleases(RewardConfig config, ArtifactStore store, PreferenceLearner learner, Properties kafkaClient,
      String topic, Consumer<Released> listener) {
    this.config = config;
    this.store = store;
    this.learner = learner;
    this.topic = topic;
    this.listener = listener;
    Properties p = new Properties();
    p.putAll(kafkaClient);
    p.put("key.serializer", StringSerializer.class.getName());
    p.put("value.serializer", ByteArraySerializer.class.getName());
    // A release is acknowledged by every in-sync replica, exactly once.
    p.put("acks", "all");
    p.put("enable.idempotence", "true");
    p.put("client.id", "rlhf-reward-releases-" + config.name());
    this.producer = new KafkaProducer<>(p);
  }

  /**
   * After a crash between publishing an artifact and checkpointing, the store may hold a version
   * the checkpoint does not know: never reuse its number.
   */
  void recoverVersion(TrainerState state) {
    long stored = store.latestVersion(ARTIFACT_KIND, config.name()).orElse(0L);
    if (stored > state.releasedVersion) {
      log.info("Artifact store has reward model '{}' version {} beyond the checkpoint's {}; the next release is {}",
          config.name(), stored, state.releasedVersion, stored + 1);
      state.releasedVersion = stored;
    }
  }

  /** Exports, stores and announces the learner's current weights as the next version. */
  void release(TrainerState state, HeldOutMetrics heldOut) {
    long version = state.releasedVersion + 1;
    Path export = null;
    try {
      export = Files.createTempDirectory(store.root().getParent() == null ? store.root() : store.root().getParent(), ".export-");
      learner.exportModel(export);
      Artifact artifact = store.publish(ARTIFACT_KIND, config.name(), version, export, FORMAT);
      Instant now = Instant.now();
      RewardModelRelease release = RewardModelRelease.newBuilder()
          .setName(config.name())
          .setVersion(version)
          .setBaseModelId(learner.baseModelId())
          .setArtifact(artifact)
          .setComparisonsTrained(state.comparisonsTrained)
          .setHeldOut(heldOut)
          .setCreatedAt(Timestamp.newBuilder().setSeconds(now.getEpochSecond()).setNanos(now.getNano()))
          .build();
      producer.send(new ProducerRecord<>(topic, config.name(), release.toByteArray())).get(30, TimeUnit.SECONDS);
      state.releasedVersion = version;
      log.info("Released reward model '{}' version {} (held-out accuracy {}, {} comparisons) at {}",
          config.name(), version, String.format("%.3f", heldOut.getAccuracy()), state.comparisonsTrained, artifact.getUri());
      listener.accept(new Released(release, store.location(ARTIFACT_KIND, config.name(), version)));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot export the reward model: " + e.getMessage(), e);
    } catch (ExecutionException | TimeoutException e) {
      // The artifact exists; the announcement did not make it. The next release takes the next number.
      state.releasedVersion = version;
      throw new IllegalStateException("reward model version " + version + " is stored but its release could not be"
          + " written to " + topic + ": " + e.getMessage(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while releasing", e);
    } finally {
      if (export != null) {
        Checkpoints.deleteTree(export);
      }
    }
  }

  @Override
  public void close() {
    producer.close(Duration.ofSeconds(10));
  }
}

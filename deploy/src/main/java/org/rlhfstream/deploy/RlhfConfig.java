package org.rlhfstream.deploy;

import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import org.rlhfstream.ingest.IngestConfig;
import org.rlhfstream.platform.config.ConfigNode;
import org.rlhfstream.platform.config.KafkaSettings;
import org.rlhfstream.platform.http.HttpSettings;
import org.rlhfstream.platform.kafka.TopicsConfig;
import org.rlhfstream.reward.RewardConfig;

/**
 * The whole configuration: one section per service, as in the YAML file.
 *
 * @param dataDir broker logs, checkpoints, artifacts and the generated API key live here
 * @param kafka how to reach Kafka (empty bootstrap servers: the embedded broker)
 * @param topics topic names, partitions, retention
 * @param http the shared HTTP server (ingest, scoring, health, metrics)
 * @param reward the reward service
 * @param ingest the ingest service (gRPC listener, limits, dedup, producer, API keys, JWT)
 */
public record RlhfConfig(Path dataDir, KafkaSettings kafka, TopicsConfig topics, HttpSettings http, RewardConfig reward,
    IngestConfig ingest) {

  public static RlhfConfig from(ConfigNode root) {
    return new RlhfConfig(
        path(root, "data-dir", "data"),
        KafkaSettings.from(root.section("kafka")),
        TopicsConfig.from(root.section("topics")),
        HttpSettings.from(root.section("http")),
        RewardConfig.from(root.section("reward")),
        IngestConfig.from(root.section("ingest")));
  }

  /** An all-default configuration (what {@code rlhf up} uses with no file). */
  public static RlhfConfig defaults() {
    ConfigNode root = ConfigNode.root(null);
    RlhfConfig c = from(root);
    root.validate();
    return c;
  }

  private static Path path(ConfigNode node, String key, String defaultValue) {
    String raw = node.string(key, defaultValue);
    try {
      if (raw.isBlank()) {
        node.problem(key, "must not be empty");
        return Path.of(defaultValue);
      }
      return Path.of(raw);
    } catch (InvalidPathException e) {
      node.problem(key, "is not a valid path: " + e.getReason());
      return Path.of(defaultValue);
    }
  }
}

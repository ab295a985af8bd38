package org.rlhfstream.platform.kafka;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import org.rlhfstream.platform.config.ConfigNode;

/**
 * One topic as the service wants it to exist.
 *
 * @param name topic name
 * @param partitions partition count when the topic is created
 * @param replicationFactor replicas when the topic is created (1 for the embedded broker)
 * @param compacted {@code cleanup.policy=compact}: releases keep the latest value per key
 * @param retention how long records are kept (time/size topics only); null = broker default
 * @param retentionBytes size cap per partition; -1 = none
 */
public record TopicSpec(String name, int partitions, short replicationFactor, boolean compacted,
    Duration retention, long retentionBytes) {

  public TopicSpec {
    if (name == null || name.isBlank()) {
      throw new IllegalArgumentException("topic name must not be empty");
    }
    if (partitions < 1) {
      throw new IllegalArgumentException("partitions must be ≥ 1");
    }
    if (replicationFactor < 1) {
      throw new IllegalArgumentException("replication factor must be ≥ 1");
    }
  }

  /** Reads a topic section, e.g. {@code topics.feedback: {name: …, partitions: 6}}. */
  static TopicSpec from(ConfigNode node, TopicSpec defaults, int defaultPartitions, short defaultReplication) {
    String name = node.string("name", defaults.name());
    if (!name.matches("[a-zA-Z0-9._-]{1,249}")) {
      node.problem("name", "is not a valid Kafka topic name (letters, digits, '.', '_', '-'; at most 249)");
      name = defaults.name();
    }
    return new TopicSpec(
        name,
        node.integer("partitions", defaultPartitions, 1, 10_000),
        (short) node.integer("replication-factor", defaultReplication, 1, 32),
        defaults.compacted(),
        node.duration("retention", defaults.retention()),
        node.bytes("retention-bytes", defaults.retentionBytes(), -1, Long.MAX_VALUE));
  }

  /** Topic-level configs applied at creation. */
  public Map<String, String> configs() {
    Map<String, String> c = new LinkedHashMap<>();
    if (compacted) {
      c.put("cleanup.policy", "compact");
    } else {
      c.put("cleanup.policy", "delete");
      if (retention != null) {
        c.put("retention.ms", String.valueOf(retention.toMillis()));
      }
      c.put("retention.bytes", String.valueOf(retentionBytes));
    }
    return c;
  }
}

package org.rlhfstream.platform.kafka;

import java.time.Duration;
import java.util.List;
import org.rlhfstream.platform.config.ConfigNode;

/** The service's topics (DESIGN.md "Topics"); names, partitions and retention are configurable. */
public record TopicsConfig(
    TopicSpec feedback,
    TopicSpec feedbackDlq,
    TopicSpec prompts,
    TopicSpec rewardModels,
    TopicSpec adapters) {

  public static final String FEEDBACK = "rlhf.feedback.v1";
  public static final String FEEDBACK_DLQ = "rlhf.feedback.dlq.v1";
  public static final String PROMPTS = "rlhf.prompts.v1";
  public static final String REWARD_MODELS = "rlhf.reward-models.v1";
  public static final String ADAPTERS = "rlhf.adapters.v1";

  private static final Duration WEEK = Duration.ofDays(7);
  private static final Duration MONTH = Duration.ofDays(30);

  public static TopicsConfig defaults() {
    return from(ConfigNode.root(null));
  }

  /**
   * Reads the {@code topics} section: {@code partitions} and {@code replication-factor} apply to
   * every topic unless a topic's own section overrides them.
   */
  public static TopicsConfig from(ConfigNode node) {
    int partitions = node.integer("partitions", 3, 1, 10_000);
    short replication = (short) node.integer("replication-factor", 1, 1, 32);
    return new TopicsConfig(
        TopicSpec.from(node.section("feedback"), new TopicSpec(FEEDBACK, 1, (short) 1, false, MONTH, -1), partitions, replication),
        TopicSpec.from(node.section("feedback-dlq"), new TopicSpec(FEEDBACK_DLQ, 1, (short) 1, false, MONTH, -1), partitions, replication),
        TopicSpec.from(node.section("prompts"), new TopicSpec(PROMPTS, 1, (short) 1, false, WEEK, -1), partitions, replication),
        // Release topics are compacted logs keyed by model name: the latest release per name stays forever.
        TopicSpec.from(node.section("reward-models"), new TopicSpec(REWARD_MODELS, 1, (short) 1, true, null, -1), 1, replication),
        TopicSpec.from(node.section("adapters"), new TopicSpec(ADAPTERS, 1, (short) 1, true, null, -1), 1, replication));
  }

  public List<TopicSpec> all() {
    return List.of(feedback, feedbackDlq, prompts, rewardModels, adapters);
  }
}

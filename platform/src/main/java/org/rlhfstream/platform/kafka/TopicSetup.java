package org.rlhfstream.platform.kafka;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.TopicExistsException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Creates the topics that are missing and leaves existing ones exactly as they are. */
public final class TopicSetup {

  private static final Logger log = LoggerFactory.getLogger(TopicSetup.class);

  private TopicSetup() {}

  /**
   * Ensures every topic exists.
   *
   * @return the names of the topics that were created now
   */
  public static List<String> ensureTopics(Admin admin, List<TopicSpec> topics, Duration timeout) {
    long ms = timeout.toMillis();
    try {
      Set<String> existing = admin.listTopics().names().get(ms, TimeUnit.MILLISECONDS);
      List<NewTopic> missing = new ArrayList<>();
      for (TopicSpec t : topics) {
        if (existing.contains(t.name())) {
          warnIfCleanupPolicyDiffers(admin, t, ms);
        } else {
          missing.add(new NewTopic(t.name(), t.partitions(), t.replicationFactor()).configs(t.configs()));
        }
      }
      List<String> created = new ArrayList<>();
      for (var entry : admin.createTopics(missing).values().entrySet()) {
        try {
          entry.getValue().get(ms, TimeUnit.MILLISECONDS);
          created.add(entry.getKey());
          log.info("Created topic {}", entry.getKey());
        } catch (ExecutionException e) {
          if (!(e.getCause() instanceof TopicExistsException)) {
            throw e; // a concurrent creator won the race otherwise, which is fine
          }
        }
      }
      return created;
    } catch (ExecutionException e) {
      throw new IllegalStateException("cannot create Kafka topics: " + e.getCause().getMessage(), e.getCause());
    } catch (TimeoutException e) {
      throw new IllegalStateException("Kafka did not answer within " + timeout + " while creating topics", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while creating topics", e);
    }
  }

  /** A release topic that is not compacted would lose releases; say so, but do not alter it. */
  private static void warnIfCleanupPolicyDiffers(Admin admin, TopicSpec t, long ms)
      throws ExecutionException, InterruptedException, TimeoutException {
    ConfigResource res = new ConfigResource(ConfigResource.Type.TOPIC, t.name());
    Map<ConfigResource, Config> configs = admin.describeConfigs(List.of(res)).all().get(ms, TimeUnit.MILLISECONDS);
    var policy = configs.get(res).get("cleanup.policy");
    String want = t.configs().get("cleanup.policy");
    if (policy != null && want != null && !policy.value().contains(want)) {
      log.warn("Topic {} exists with cleanup.policy={} (expected {}); leaving it unchanged", t.name(), policy.value(), want);
    }
  }
}

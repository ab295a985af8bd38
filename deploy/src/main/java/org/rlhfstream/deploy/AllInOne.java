package org.rlhfstream.deploy;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import org.apache.kafka.clients.admin.Admin;
import org.rlhfstream.platform.config.KafkaSettings;
import org.rlhfstream.platform.kafka.EmbeddedKafkaBroker;
import org.rlhfstream.platform.kafka.TopicSetup;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What {@code rlhf up} runs: Kafka (embedded unless an external cluster is configured), the
 * topics, then every service (today: ingest on the shared HTTP host and its gRPC port). Started
 * in that order, stopped in reverse.
 */
public final class AllInOne implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(AllInOne.class);
  static final Duration KAFKA_TIMEOUT = Duration.ofSeconds(30);

  private final RlhfConfig config;
  private final Deque<AutoCloseable> running = new ArrayDeque<>();
  private final List<String> endpoints = new ArrayList<>();
  private KafkaSettings resolvedKafka;

  private AllInOne(RlhfConfig config) {
    this.config = config;
  }

  /** Starts everything; on failure stops what was started and rethrows. */
  public static AllInOne start(RlhfConfig config) {
    AllInOne all = new AllInOne(config);
    try {
      all.startKafka();
      all.startServices();
      return all;
    } catch (RuntimeException e) {
      all.close();
      throw e;
    }
  }

  private void startKafka() {
    KafkaSettings kafka = config.kafka();
    if (kafka.useEmbedded()) {
      EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(config.dataDir().resolve("kafka"),
          kafka.embeddedHost(), kafka.embeddedPort(), kafka.embeddedControllerPort());
      running.push(broker);
      kafka = kafka.withBootstrapServers(broker.bootstrapServers());
      endpoints.add(String.format("%-10s %s (embedded broker, data in %s)", "kafka", broker.bootstrapServers(),
          config.dataDir().resolve("kafka")));
    } else {
      endpoints.add(String.format("%-10s %s (external)", "kafka", kafka.bootstrapServers()));
    }
    resolvedKafka = kafka;
    ensureTopics(kafka, config);
  }

  /** The HTTP services (ingest's HTTP and gRPC front door, metrics, health) on the shared host. */
  private void startServices() {
    ServiceHost services = ServiceHost.startIngest(config, resolvedKafka);
    running.push(services);
    endpoints.addAll(services.endpoints());
  }

  /** Kafka as the services see it: the embedded broker's address once it runs. */
  public KafkaSettings kafka() {
    return resolvedKafka;
  }

  /** Creates the missing topics, with a message that names the cluster when it cannot. */
  static void ensureTopics(KafkaSettings kafka, RlhfConfig config) {
    try (Admin admin = Admin.create(adminProperties(kafka))) {
      TopicSetup.ensureTopics(admin, config.topics().all(), KAFKA_TIMEOUT);
    } catch (IllegalStateException e) {
      throw new IllegalStateException("Kafka at " + kafka.bootstrapServers() + ": " + e.getMessage(), e);
    }
  }

  private static java.util.Properties adminProperties(KafkaSettings kafka) {
    java.util.Properties p = kafka.clientProperties();
    // Fail fast with a clear message instead of retrying for minutes against a wrong address.
    p.put("default.api.timeout.ms", String.valueOf(KAFKA_TIMEOUT.toMillis()));
    p.put("request.timeout.ms", "10000");
    return p;
  }

  /** One line per listening endpoint, for the start-up banner. */
  public List<String> endpoints() {
    return List.copyOf(endpoints);
  }

  @Override
  public synchronized void close() {
    while (!running.isEmpty()) {
      AutoCloseable c = running.pop();
      try {
        c.close();
      } catch (Exception e) {
        log.warn("Error while stopping {}: {}", c.getClass().getSimpleName(), e.toString());
      }
    }
  }
}

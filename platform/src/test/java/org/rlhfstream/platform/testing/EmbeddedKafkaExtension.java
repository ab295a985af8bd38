package org.rlhfstream.platform.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Properties;
import org.apache.kafka.clients.admin.Admin;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.rlhfstream.platform.kafka.EmbeddedKafkaBroker;
import org.rlhfstream.platform.kafka.TopicSetup;
import org.rlhfstream.platform.kafka.TopicsConfig;

/**
 * A real, in-process KRaft broker for a test class, on free ports, with its data under
 * {@code target/}. Register with {@code @RegisterExtension static EmbeddedKafkaExtension kafka = …}.
 * The project's topics are created at start.
 */
public final class EmbeddedKafkaExtension implements BeforeAllCallback, AfterAllCallback {

  private EmbeddedKafkaBroker broker;
  private Path dataDir;
  private final TopicsConfig topics;

  public EmbeddedKafkaExtension() {
    this(TopicsConfig.defaults());
  }

  public EmbeddedKafkaExtension(TopicsConfig topics) {
    this.topics = topics;
  }

  @Override
  public void beforeAll(ExtensionContext context) {
    try {
      Path base = Path.of(System.getProperty("java.io.tmpdir"), "kafka-tests");
      Files.createDirectories(base);
      dataDir = Files.createTempDirectory(base, context.getRequiredTestClass().getSimpleName() + "-");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    broker = EmbeddedKafkaBroker.startOnFreePorts(dataDir);
    try (Admin admin = Admin.create(adminProperties())) {
      TopicSetup.ensureTopics(admin, topics.all(), Duration.ofSeconds(30));
    }
  }

  @Override
  public void afterAll(ExtensionContext context) {
    if (broker != null) {
      broker.close();
    }
  }

  public String bootstrapServers() {
    return broker.bootstrapServers();
  }

  public EmbeddedKafkaBroker broker() {
    return broker;
  }

  public Path dataDir() {
    return dataDir;
  }

  public TopicsConfig topics() {
    return topics;
  }

  /** Stops the broker (clients see it as down) — for outage tests. */
  public void stop() {
    broker.close();
  }

  /** Starts the broker again on the same data directory and ports. */
  public void restart() {
    broker.close();
    broker = EmbeddedKafkaBroker.start(dataDir, "127.0.0.1", broker.port(), broker.controllerPort());
  }

  public Properties adminProperties() {
    Properties p = new Properties();
    p.put("bootstrap.servers", bootstrapServers());
    return p;
  }
}

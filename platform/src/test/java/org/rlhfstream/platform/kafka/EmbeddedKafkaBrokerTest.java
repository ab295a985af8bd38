package org.rlhfstream.platform.kafka;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.Vertx;
import io.vertx.kafka.client.consumer.KafkaConsumer;
import io.vertx.kafka.client.consumer.KafkaConsumerRecord;
import io.vertx.kafka.client.producer.KafkaProducer;
import io.vertx.kafka.client.producer.KafkaProducerRecord;
import io.vertx.kafka.client.producer.RecordMetadata;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.common.config.ConfigResource;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.rlhfstream.proto.v1.Comparison;

/** The embedded broker with the project's topics, driven by the Vert.x Kafka client. */
class EmbeddedKafkaBrokerTest {

  private Vertx vertx;
  private Path dataDir;

  @BeforeEach
  void setUp() throws Exception {
    vertx = Vertx.vertx();
    Path base = Path.of(System.getProperty("java.io.tmpdir"), "kafka-tests");
    Files.createDirectories(base);
    dataDir = Files.createTempDirectory(base, "broker-restart-");
  }

  @AfterEach
  void tearDown() {
    vertx.close().await();
  }

  @Test
  void messagesSurviveABrokerRestartOnTheSameDataDirectory() throws Exception {
    TopicsConfig topics = TopicsConfig.defaults();
    Comparison sent = Comparison.newBuilder()
        .setEventId("evt-restart-1").setTenant("default").setPrompt("2+2?").setChosen("4").setRejected("5").build();

    int port;
    int controllerPort;
    try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.startOnFreePorts(dataDir)) {
      port = broker.port();
      controllerPort = broker.controllerPort();
      try (Admin admin = Admin.create(Map.of("bootstrap.servers", broker.bootstrapServers()))) {
        List<String> created = TopicSetup.ensureTopics(admin, topics.all(), Duration.ofSeconds(30));
        assertEquals(5, created.size(), "all five topics are created on a fresh broker");
        assertCompacted(admin, TopicsConfig.ADAPTERS, true);
        assertCompacted(admin, TopicsConfig.REWARD_MODELS, true);
        assertCompacted(admin, TopicsConfig.FEEDBACK, false);
      }
      KafkaProducer<String, byte[]> producer = KafkaProducer.create(vertx, Map.of(
          "bootstrap.servers", broker.bootstrapServers(),
          "key.serializer", "org.apache.kafka.common.serialization.StringSerializer",
          "value.serializer", "org.apache.kafka.common.serialization.ByteArraySerializer",
          "acks", "all",
          "enable.idempotence", "true"));
      RecordMetadata meta = producer
          .send(KafkaProducerRecord.create(topics.feedback().name(), sent.getEventId(), sent.toByteArray()))
          .await(30, TimeUnit.SECONDS);
      assertEquals(topics.feedback().name(), meta.getTopic());
      producer.close().await();

      assertEquals(sent, consumeOne(broker.bootstrapServers(), topics.feedback().name(), "before-restart"));
    }

    // Same directory, same ports: the broker comes back with the topic and the message.
    try (EmbeddedKafkaBroker again = EmbeddedKafkaBroker.start(dataDir, "127.0.0.1", port, controllerPort)) {
      try (Admin admin = Admin.create(Map.of("bootstrap.servers", again.bootstrapServers()))) {
        List<String> created = TopicSetup.ensureTopics(admin, topics.all(), Duration.ofSeconds(30));
        assertTrue(created.isEmpty(), "existing topics are left alone, got " + created);
        Set<String> names = admin.listTopics().names().get(30, TimeUnit.SECONDS);
        assertTrue(names.containsAll(topics.all().stream().map(TopicSpec::name).toList()));
      }
      assertEquals(sent, consumeOne(again.bootstrapServers(), topics.feedback().name(), "after-restart"));
    }
  }

  private Comparison consumeOne(String bootstrap, String topic, String group) throws Exception {
    KafkaConsumer<String, byte[]> consumer = KafkaConsumer.create(vertx, Map.of(
        "bootstrap.servers", bootstrap,
        "group.id", group,
        "key.deserializer", "org.apache.kafka.common.serialization.StringDeserializer",
        "value.deserializer", "org.apache.kafka.common.serialization.ByteArrayDeserializer",
        "auto.offset.reset", "earliest",
        "enable.auto.commit", "false"));
    CompletableFuture<KafkaConsumerRecord<String, byte[]>> first = new CompletableFuture<>();
    consumer.handler(first::complete);
    consumer.subscribe(topic).await(30, TimeUnit.SECONDS);
    KafkaConsumerRecord<String, byte[]> record = first.get(60, TimeUnit.SECONDS);
    consumer.close().await();
    assertEquals("evt-restart-1", record.key(), "records are keyed by event id");
    return Comparison.parseFrom(record.value());
  }

  private static void assertCompacted(Admin admin, String topic, boolean compacted) throws Exception {
    ConfigResource res = new ConfigResource(ConfigResource.Type.TOPIC, topic);
    String policy = admin.describeConfigs(List.of(res)).all().get(30, TimeUnit.SECONDS).get(res).get("cleanup.policy").value();
    assertEquals(compacted ? "compact" : "delete", policy, topic);
  }
}

package org.rlhfstream.ingest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.rlhfstream.platform.config.ConfigException;
import org.rlhfstream.platform.config.ConfigNode;
import org.rlhfstream.platform.config.ConfigSource;

class IngestConfigTest {

  @Test
  void anEmptySectionGivesTheDocumentedDefaults() {
    ConfigNode root = ConfigNode.root(Map.of());
    IngestConfig config = IngestConfig.from(root.section("ingest"));
    root.validate();
    assertEquals(IngestConfig.defaults(), config);
    assertEquals("127.0.0.1", config.grpc().host());
    assertEquals(9090, config.grpc().port());
    assertEquals(1000, config.limits().maxBatchItems());
    assertEquals(4L << 20, config.limits().maxBodyBytes());
    assertEquals(Duration.ofMinutes(10), config.dedup().window());
    assertTrue(config.auth().apiKeys().isEmpty());
  }

  @Test
  void everyFieldIsReadFromYamlEnvironmentAndFlags() {
    Map<String, Object> tree = new LinkedHashMap<>();
    String hash = ApiKeyBootstrap.sha256Hex("k");
    ConfigSource.put(tree, "ingest.grpc.port", 9191, "test");
    ConfigSource.put(tree, "ingest.limits.max-batch-items", 50, "test");
    ConfigSource.put(tree, "ingest.limits.max-body-bytes", "1mb", "test");
    ConfigSource.put(tree, "ingest.dedup.window", "30s", "test");
    ConfigSource.put(tree, "ingest.producer.linger", "1ms", "test");
    ConfigSource.put(tree, "ingest.producer.compression", "lz4", "test");
    ConfigSource.put(tree, "ingest.producer.properties.batch.size", "1000", "test");
    ConfigSource.put(tree, "ingest.auth.api-keys.label-studio.sha256", hash.toUpperCase(), "test");
    ConfigSource.put(tree, "ingest.auth.api-keys.label-studio.tenants", List.of("acme", "beta"), "test");
    ConfigSource.applyEnvironment(tree, Map.of("RLHF_INGEST__LIMITS__MAX_IN_FLIGHT_EVENTS", "777"));
    ConfigSource.applyOverrides(tree, List.of("ingest.grpc.enabled=false"));

    ConfigNode root = ConfigNode.root(tree);
    IngestConfig config = IngestConfig.from(root.section("ingest"));
    root.validate();

    assertEquals(9191, config.grpc().port());
    assertEquals(false, config.grpc().enabled());
    assertEquals(50, config.limits().maxBatchItems());
    assertEquals(1L << 20, config.limits().maxBodyBytes());
    assertEquals(777, config.limits().maxInFlightEvents());
    assertEquals(Duration.ofSeconds(30), config.dedup().window());
    assertEquals("lz4", config.producer().compression());
    assertEquals(Map.of("batch.size", "1000"), config.producer().properties());
    assertEquals(List.of(new IngestConfig.ApiKey("label-studio", hash, Set.of("acme", "beta"))), config.auth().apiKeys());
  }

  @Test
  void badFieldsAreAllReportedWithTheirPaths() {
    Map<String, Object> tree = new LinkedHashMap<>();
    ConfigSource.put(tree, "ingest.grpc.port", 70000, "test");
    ConfigSource.put(tree, "ingest.limits.max-batch-items", "many", "test");
    ConfigSource.put(tree, "ingest.producer.delivery-timeout", "1s", "test");
    ConfigSource.put(tree, "ingest.producer.compression", "brotli", "test");
    ConfigSource.put(tree, "ingest.auth.api-keys.app.sha256", "not-a-hash", "test");
    ConfigSource.put(tree, "ingest.auth.api-keys.app.tenants", new ArrayList<>(), "test");
    ConfigSource.put(tree, "ingest.auth.jwt.enabled", true, "test");
    ConfigSource.put(tree, "ingest.auth.jwt.secret", "short", "test");
    ConfigSource.put(tree, "ingest.limts.max-batch-items", 5, "test");

    ConfigNode root = ConfigNode.root(tree);
    IngestConfig.from(root.section("ingest"));
    ConfigException e = assertThrows(ConfigException.class, root::validate);

    List<String> paths = e.problems().stream().map(ConfigException.ConfigProblem::path).toList();
    assertEquals(List.of(
        "ingest.grpc.port",
        "ingest.limits.max-batch-items",
        "ingest.producer.delivery-timeout",
        "ingest.producer.compression",
        "ingest.auth.api-keys.app.sha256",
        "ingest.auth.api-keys.app.tenants",
        "ingest.auth.jwt.secret",
        "ingest.limts"), paths, e.getMessage());
    assertTrue(e.getMessage().contains("did you mean \"limits\""), e.getMessage());
  }
}

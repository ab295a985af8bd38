package org.rlhfstream.platform.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ConfigNodeTest {

  private static Map<String, Object> tree(Object... kv) {
    Map<String, Object> m = new LinkedHashMap<>();
    for (int i = 0; i < kv.length; i += 2) {
      m.put((String) kv[i], kv[i + 1]);
    }
    return m;
  }

  @Test
  void typedGettersParseYamlScalarsAndStrings() {
    ConfigNode root = ConfigNode.root(tree(
        "svc", tree("port", 8080, "threads", "4", "ratio", "0.25", "on", "yes",
            "window", "5m", "body", "4mb", "tags", "a, b,c", "list", List.of("x", "y"), "mode", "CPU")));
    ConfigNode svc = root.section("svc");
    assertEquals(8080, svc.integer("port", 0, 1, 65535));
    assertEquals(4, svc.integer("threads", 0, 1, 64));
    assertEquals(0.25, svc.number("ratio", 0, 0, 1));
    assertTrue(svc.bool("on", false));
    assertEquals(Duration.ofMinutes(5), svc.duration("window", Duration.ZERO));
    assertEquals(4L * 1024 * 1024, svc.bytes("body", 0, 0, Long.MAX_VALUE));
    assertEquals(List.of("a", "b", "c"), svc.strings("tags", List.of()));
    assertEquals(List.of("x", "y"), svc.strings("list", List.of()));
    assertEquals("cpu", svc.choice("mode", "cpu", "cpu", "gpu"));
    assertEquals("dflt", svc.string("absent", "dflt"));
    root.validate();
  }

  @Test
  void everyProblemIsCollectedWithItsPathBeforeThrowing() {
    ConfigNode root = ConfigNode.root(tree(
        "svc", tree("port", 0, "window", "soon", "mode", "tpu", "prot", 1),
        "other", "not-a-section"));
    ConfigNode svc = root.section("svc");
    svc.integer("port", 80, 1, 65535);
    svc.duration("window", Duration.ZERO);
    svc.choice("mode", "cpu", "cpu", "gpu");
    root.section("other");
    ConfigException e = assertThrows(ConfigException.class, root::validate);
    List<String> lines = e.problems().stream().map(Object::toString).toList();
    assertEquals(List.of(
        "svc.port: must be between 1 and 65535 (got 0)",
        "svc.window: must be a duration like 250ms, 30s, 5m, 2h or 7d, got \"soon\"",
        "svc.mode: must be one of cpu, gpu (got \"tpu\")",
        "other: must be a section (a map of fields), got \"not-a-section\"",
        "svc.prot: unknown field (did you mean \"port\"?)"), lines);
  }

  @Test
  void environmentNamesMapToPaths() {
    assertEquals("ingest.http.port", ConfigSource.envToPath("RLHF_INGEST__HTTP__PORT"));
    assertEquals("kafka.bootstrap-servers", ConfigSource.envToPath("RLHF_KAFKA__BOOTSTRAP_SERVERS"));
    assertEquals("data-dir", ConfigSource.envToPath("RLHF_DATA_DIR"));
  }

  @Test
  void onlySectionedNamesAndDataDirAreConfiguration() {
    Map<String, Object> t = new LinkedHashMap<>();
    ConfigSource.applyEnvironment(t, Map.of(
        "RLHF_DEBUG", "1", "RLHF_NATIVE", "off", "RLHF_CONFIG", "x.yaml", "RLHF_JAVA_OPTS", "-Xmx1g",
        "RLHF_DATA_DIR", "/srv/rlhf", "RLHF_KAFKA__BOOTSTRAP_SERVERS", "b:9092", "PATH", "/bin"));
    assertEquals(Map.of("data-dir", "/srv/rlhf", "kafka", Map.of("bootstrap-servers", "b:9092")), t);
  }

  @Test
  void overrideThroughAValueIsRejected() {
    Map<String, Object> t = tree("kafka", "oops");
    ConfigException e = assertThrows(ConfigException.class,
        () -> ConfigSource.applyOverrides(t, List.of("kafka.bootstrap-servers=x:1")));
    assertTrue(e.getMessage().contains("kafka: --set kafka.bootstrap-servers=x:1 treats this field as a section"), e.getMessage());
  }
}

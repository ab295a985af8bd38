package org.rlhfstream.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rlhfstream.platform.config.ConfigException;
import picocli.CommandLine;

/** Bad configuration stops the command before anything starts, with the field's path and the reason. */
class ConfigurationErrorsTest {

  @TempDir Path dir;

  record Run(int exitCode, String out, String err) {}

  private Run rlhf(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int code = RlhfCommand.execute(new PrintWriter(out), new PrintWriter(err), args);
    return new Run(code, out.toString(), err.toString());
  }

  private Path file(String name, String content) throws IOException {
    Path p = dir.resolve(name);
    Files.writeString(p, content);
    return p;
  }

  @Test
  void invalidYamlNamesTheFileLineAndColumn() throws IOException {
    Path bad = file("bad.yaml", "kafka:\n  bootstrap-servers: [unclosed\ntopics: {\n");
    Run run = rlhf("up", "--config", bad.toString(), "--data-dir", dir.resolve("data").toString());
    assertEquals(RlhfCommand.EXIT_USAGE, run.exitCode());
    assertTrue(run.err().contains("bad.yaml: invalid YAML at line"), run.err());
    assertTrue(run.out().isEmpty(), "nothing was started, so nothing is reported: " + run.out());
    assertTrue(Files.notExists(dir.resolve("data")), "a bad configuration writes nothing");
  }

  @Test
  void badFieldsAreAllReportedWithTheirPaths() throws IOException {
    Path bad = file("fields.yaml", """
        kafka:
          embedded:
            port: 70000
        topics:
          partitions: many
          feedback:
            name: "no spaces allowed"
          retenton: 7d
        """);
    Run run = rlhf("kafka", "--config", bad.toString(), "--data-dir", dir.resolve("data").toString());
    assertEquals(RlhfCommand.EXIT_USAGE, run.exitCode());
    assertTrue(run.err().contains("kafka.embedded.port: must be between 0 and 65535 (got 70000)"), run.err());
    assertTrue(run.err().contains("topics.partitions: must be a whole number, got \"many\""), run.err());
    assertTrue(run.err().contains("topics.feedback.name: is not a valid Kafka topic name"), run.err());
    assertTrue(run.err().contains("topics.retenton: unknown field"), run.err());
    assertTrue(run.err().contains("invalid configuration (4 problems)"), run.err());
    assertTrue(Files.notExists(dir.resolve("data")));
  }

  @Test
  void missingConfigFileIsAClearError() {
    Run run = rlhf("up", "--config", dir.resolve("nope.yaml").toString());
    assertEquals(RlhfCommand.EXIT_USAGE, run.exitCode());
    assertTrue(run.err().contains("nope.yaml does not exist"), run.err());
  }

  @Test
  void unknownFlagIsAUsageError() {
    Run run = rlhf("up", "--no-such-flag");
    assertEquals(CommandLine.ExitCode.USAGE, run.exitCode());
    assertTrue(run.err().contains("Unknown option: '--no-such-flag'"), run.err());
  }

  @Test
  void layersOverrideInOrderFileEnvironmentSetFlags() throws IOException {
    Path yaml = file("layers.yaml", """
        data-dir: from-file
        kafka:
          embedded:
            port: 1111
            controller-port: 1112
        topics:
          partitions: 2
        """);
    ConfigOptions options = new ConfigOptions();
    new CommandLine(options).parseArgs("--config", yaml.toString(),
        "--set", "kafka.embedded.controller-port=3333", "--data-dir", "from-flag");
    RlhfConfig config = options.load(Map.of(
        "RLHF_KAFKA__EMBEDDED__PORT", "2222",
        "RLHF_KAFKA__EMBEDDED__CONTROLLER_PORT", "2223",
        "RLHF_TOPICS__FEEDBACK__NAME", "acme.feedback"));
    assertEquals(2, config.topics().feedback().partitions(), "from the file");
    assertEquals(2222, config.kafka().embeddedPort(), "environment beats the file");
    assertEquals("acme.feedback", config.topics().feedback().name(), "environment adds fields");
    assertEquals(3333, config.kafka().embeddedControllerPort(), "--set beats the environment");
    assertEquals(Path.of("from-flag"), config.dataDir(), "dedicated flags win");
  }

  @Test
  void theShippedExampleConfigurationIsValidAndMatchesTheDefaults() {
    ConfigOptions options = new ConfigOptions();
    new CommandLine(options).parseArgs("--config", Path.of("..", "rlhf.example.yaml").toString());
    RlhfConfig example = options.load(Map.of());
    RlhfConfig defaults = RlhfConfig.defaults();
    assertEquals(defaults.kafka(), example.kafka());
    assertEquals(defaults.topics(), example.topics());
    assertEquals(defaults.http(), example.http());
    assertEquals(defaults.reward(), example.reward());
  }

  @Test
  void badEnvironmentValueNamesTheField() {
    ConfigOptions options = new ConfigOptions();
    ConfigException e = org.junit.jupiter.api.Assertions.assertThrows(ConfigException.class,
        () -> options.load(Map.of("RLHF_TOPICS__REPLICATION_FACTOR", "zero")));
    assertTrue(e.getMessage().contains("topics.replication-factor: must be a whole number, got \"zero\""), e.getMessage());
  }
}

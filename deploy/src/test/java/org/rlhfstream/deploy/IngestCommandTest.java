package org.rlhfstream.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.rlhfstream.ingest.IngestConfig;
import org.rlhfstream.platform.http.HttpSettings;
import picocli.CommandLine;

class IngestCommandTest {

  @Test
  void ingestAloneNeedsBootstrapServers() {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int code = RlhfCommand.execute(new PrintWriter(out), new PrintWriter(err), "ingest");
    assertEquals(RlhfCommand.EXIT_USAGE, code);
    assertTrue(err.toString().contains("--bootstrap-servers"), err.toString());
  }

  @Test
  void theExampleConfigurationHoldsTheHttpAndIngestDefaults() {
    ConfigOptions options = new ConfigOptions();
    new CommandLine(options).parseArgs("--config", Path.of("..", "rlhf.example.yaml").toString());
    RlhfConfig example = options.load(Map.of());
    assertEquals(HttpSettings.defaults(), example.http());
    assertEquals(IngestConfig.defaults(), example.ingest());
  }

  @Test
  void benchIngestIsListedUnderBench() {
    StringWriter out = new StringWriter();
    RlhfCommand.execute(new PrintWriter(out), new PrintWriter(new StringWriter()), "bench", "--help");
    assertTrue(out.toString().contains("ingest"), out.toString());
  }
}

package org.rlhfstream.deploy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.rlhfstream.platform.config.ConfigNode;
import org.rlhfstream.platform.config.ConfigSource;
import picocli.CommandLine.Option;

/**
 * The configuration flags every service command shares. Layers, later ones winning: the YAML
 * file, {@code RLHF_…} environment variables, {@code --set}, then the dedicated flags below.
 */
public final class ConfigOptions {

  static final Path DEFAULT_FILE = Path.of("rlhf.yaml");

  @Option(names = {"-c", "--config"}, paramLabel = "FILE",
      description = "YAML configuration file (default: $RLHF_CONFIG, else ./rlhf.yaml when it exists).")
  Path configFile;

  @Option(names = "--set", paramLabel = "PATH=VALUE",
      description = "Override one field, e.g. --set ingest.grpc.port=9191 (repeatable).")
  List<String> overrides = new ArrayList<>();

  @Option(names = "--data-dir", paramLabel = "DIR",
      description = "Data directory: broker logs, checkpoints, artifacts, the generated API key (default: ./data).")
  Path dataDir;

  @Option(names = "--bootstrap-servers", paramLabel = "HOST:PORT[,…]",
      description = "Use this Kafka cluster instead of starting the embedded broker.")
  String bootstrapServers;

  /** Reads and validates the whole configuration; throws ConfigException listing every problem. */
  public RlhfConfig load() {
    return load(System.getenv());
  }

  RlhfConfig load(Map<String, String> env) {
    Path file = configFile;
    if (file == null && env.get("RLHF_CONFIG") != null && !env.get("RLHF_CONFIG").isBlank()) {
      file = Path.of(env.get("RLHF_CONFIG"));
    }
    if (file == null && Files.exists(DEFAULT_FILE)) {
      file = DEFAULT_FILE;
    }
    Map<String, Object> tree = file == null ? new LinkedHashMap<>() : ConfigSource.readYaml(file);
    ConfigSource.applyEnvironment(tree, env);
    ConfigSource.applyOverrides(tree, overrides);
    if (dataDir != null) {
      ConfigSource.put(tree, "data-dir", dataDir.toString(), "--data-dir");
    }
    if (bootstrapServers != null) {
      ConfigSource.put(tree, "kafka.bootstrap-servers", bootstrapServers, "--bootstrap-servers");
    }
    ConfigNode root = ConfigNode.root(tree);
    RlhfConfig config = RlhfConfig.from(root);
    root.validate();
    return config;
  }
}

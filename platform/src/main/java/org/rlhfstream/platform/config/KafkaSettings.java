package org.rlhfstream.platform.config;

import java.util.Map;
import java.util.Properties;

/**
 * How the services reach Kafka.
 *
 * @param bootstrapServers an external cluster's bootstrap list; empty means "start the embedded
 *     broker" (only {@code rlhf up} and {@code rlhf kafka} do that)
 * @param embeddedHost address the embedded broker listens on
 * @param embeddedPort port of the embedded broker
 * @param embeddedControllerPort port of its KRaft controller
 * @param client extra client properties passed to every producer, consumer and admin client
 *     (security.protocol, sasl.*, ssl.*, …)
 */
public record KafkaSettings(
    String bootstrapServers,
    String embeddedHost,
    int embeddedPort,
    int embeddedControllerPort,
    Map<String, String> client) {

  public static final String DEFAULT_HOST = "127.0.0.1";
  public static final int DEFAULT_PORT = 9092;
  public static final int DEFAULT_CONTROLLER_PORT = 9093;

  public KafkaSettings {
    bootstrapServers = bootstrapServers == null ? "" : bootstrapServers.trim();
    client = Map.copyOf(client);
  }

  public static KafkaSettings from(ConfigNode node) {
    ConfigNode embedded = node.section("embedded");
    return new KafkaSettings(
        node.string("bootstrap-servers", ""),
        embedded.string("host", DEFAULT_HOST),
        embedded.integer("port", DEFAULT_PORT, 0, 65535),
        embedded.integer("controller-port", DEFAULT_CONTROLLER_PORT, 0, 65535),
        node.stringMap("client"));
  }

  public boolean useEmbedded() {
    return bootstrapServers.isEmpty();
  }

  public KafkaSettings withBootstrapServers(String servers) {
    return new KafkaSettings(servers, embeddedHost, embeddedPort, embeddedControllerPort, client);
  }

  /** Base properties for any Kafka client: bootstrap servers plus the configured extras. */
  public Properties clientProperties() {
    if (useEmbedded()) {
      throw new IllegalStateException("no bootstrap servers: start the embedded broker first");
    }
    Properties p = new Properties();
    p.put("bootstrap.servers", bootstrapServers);
    p.putAll(client);
    return p;
  }
}

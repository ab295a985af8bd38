package org.rlhfstream.platform.kafka;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import kafka.server.KafkaConfig;
import kafka.server.KafkaRaftServer;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.utils.Time;
import org.apache.kafka.metadata.storage.Formatter;
import org.apache.kafka.server.common.Feature;
import org.apache.kafka.server.common.MetadataVersion;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A single-node Kafka broker in KRaft mode, running inside this JVM.
 *
 * <p>Used by {@code rlhf up} when no external Kafka is configured, by {@code rlhf kafka}, and by
 * the tests. The data directory persists: starting again on the same directory keeps every
 * topic and message (the storage is formatted only once).
 */
public final class EmbeddedKafkaBroker implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(EmbeddedKafkaBroker.class);
  private static final String CONTROLLER = "CONTROLLER";
  private static final String PLAINTEXT = "PLAINTEXT";

  private final KafkaRaftServer server;
  private final Path dataDir;
  private final String host;
  private final int port;
  private final int controllerPort;
  private volatile boolean closed;

  private EmbeddedKafkaBroker(KafkaRaftServer server, Path dataDir, String host, int port, int controllerPort) {
    this.server = server;
    this.dataDir = dataDir;
    this.host = host;
    this.port = port;
    this.controllerPort = controllerPort;
  }

  /**
   * Starts a broker on {@code host:port} with its controller on {@code controllerPort} (0 picks
   * a free port for either) and waits until it accepts connections.
   */
  public static EmbeddedKafkaBroker start(Path dataDir, String host, int port, int controllerPort) {
    int brokerPort = port == 0 ? freePort(host) : port;
    int quorumPort = controllerPort == 0 ? freePort(host) : controllerPort;
    ensurePortFree(host, brokerPort, "Kafka port");
    ensurePortFree(host, quorumPort, "Kafka controller port");
    Path logDir = dataDir.toAbsolutePath().resolve("kafka-logs");
    try {
      Files.createDirectories(logDir);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create the Kafka data directory " + logDir, e);
    }
    Properties props = brokerProperties(logDir, host, brokerPort, quorumPort);
    KafkaConfig config = KafkaConfig.fromProps(props);
    formatOnce(logDir);

    long started = System.nanoTime();
    KafkaRaftServer server = new KafkaRaftServer(config, Time.SYSTEM);
    server.startup();
    EmbeddedKafkaBroker broker = new EmbeddedKafkaBroker(server, dataDir, host, brokerPort, quorumPort);
    try {
      broker.awaitListening(Duration.ofSeconds(60));
    } catch (RuntimeException e) {
      broker.close();
      throw e;
    }
    log.info("Embedded Kafka broker ready at {} in {} ms (data in {})",
        broker.bootstrapServers(), (System.nanoTime() - started) / 1_000_000, logDir);
    return broker;
  }

  /** A broker on free loopback ports; for tests. */
  public static EmbeddedKafkaBroker startOnFreePorts(Path dataDir) {
    return start(dataDir, "127.0.0.1", 0, 0);
  }

  private static Properties brokerProperties(Path logDir, String host, int port, int controllerPort) {
    Properties p = new Properties();
    p.put("process.roles", "broker,controller");
    p.put("node.id", "1");
    p.put("controller.quorum.voters", "1@" + host + ":" + controllerPort);
    p.put("listeners", PLAINTEXT + "://" + host + ":" + port + "," + CONTROLLER + "://" + host + ":" + controllerPort);
    p.put("advertised.listeners", PLAINTEXT + "://" + host + ":" + port);
    p.put("controller.listener.names", CONTROLLER);
    p.put("inter.broker.listener.name", PLAINTEXT);
    p.put("listener.security.protocol.map", PLAINTEXT + ":PLAINTEXT," + CONTROLLER + ":PLAINTEXT");
    p.put("log.dirs", logDir.toString());
    // One node: every internal topic has exactly one replica.
    p.put("offsets.topic.replication.factor", "1");
    p.put("offsets.topic.num.partitions", "4");
    p.put("transaction.state.log.replication.factor", "1");
    p.put("transaction.state.log.min.isr", "1");
    p.put("share.coordinator.state.topic.replication.factor", "1");
    p.put("share.coordinator.state.topic.min.isr", "1");
    p.put("default.replication.factor", "1");
    p.put("min.insync.replicas", "1");
    // Consumers in a fresh group start at once instead of waiting for more members.
    p.put("group.initial.rebalance.delay.ms", "0");
    // Flush on the OS's schedule like a normal broker; durability across a JVM crash comes from
    // the page cache, across a power cut it needs a real replicated cluster.
    p.put("auto.create.topics.enable", "false");
    // A one-machine broker: smaller segments and a frequent retention check, so that size-capped
    // topics give their disk back within seconds rather than after a 1 GB segment and 5 minutes.
    p.put("log.segment.bytes", String.valueOf(128 * 1024 * 1024));
    p.put("log.retention.check.interval.ms", "15000");
    p.put("log.cleaner.dedupe.buffer.size", String.valueOf(8 * 1024 * 1024));
    return p;
  }

  /** Formats the storage the first time; a formatted directory is left as it is. */
  private static void formatOnce(Path logDir) {
    if (Files.exists(logDir.resolve("meta.properties"))) {
      return;
    }
    try {
      new Formatter()
          .setNodeId(1)
          .setClusterId(Uuid.randomUuid().toString())
          .setDirectories(List.of(logDir.toString()))
          .setMetadataLogDirectory(logDir.toString())
          .setControllerListenerName(CONTROLLER)
          .setReleaseVersion(MetadataVersion.LATEST_PRODUCTION)
          .setSupportedFeatures(Feature.PRODUCTION_FEATURES)
          .setUnstableFeatureVersionsEnabled(false)
          .setIgnoreFormatted(true)
          // The formatter prints to stdout by default; keep stdout for the CLI's own output.
          .setPrintStream(System.err)
          .run();
    } catch (Exception e) {
      throw new IllegalStateException("cannot format the Kafka storage in " + logDir + ": " + e.getMessage(), e);
    }
  }

  private void awaitListening(Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < deadline) {
      try (Socket s = new Socket()) {
        s.connect(new InetSocketAddress(host, port), 500);
        return;
      } catch (IOException notYet) {
        try {
          Thread.sleep(50); // polling a socket with a deadline, not synchronising on time
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new IllegalStateException("interrupted while waiting for Kafka", e);
        }
      }
    }
    throw new IllegalStateException("Kafka did not start listening on " + host + ":" + port + " within " + timeout);
  }

  private static int freePort(String host) {
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getByName(host))) {
      return s.getLocalPort();
    } catch (IOException e) {
      throw new UncheckedIOException("no free port on " + host, e);
    }
  }

  private static void ensurePortFree(String host, int port, String what) {
    try (ServerSocket s = new ServerSocket(port, 1, java.net.InetAddress.getByName(host))) {
      s.setReuseAddress(true);
    } catch (IOException e) {
      throw new IllegalStateException(what + " " + host + ":" + port
          + " is already in use (is another broker or `rlhf up` running?)", e);
    }
  }

  public String bootstrapServers() {
    return host + ":" + port;
  }

  public int port() {
    return port;
  }

  public int controllerPort() {
    return controllerPort;
  }

  public Path dataDir() {
    return dataDir;
  }

  /** Stops the broker and waits for it; idempotent. */
  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    server.shutdown();
    server.awaitShutdown();
    log.info("Embedded Kafka broker at {} stopped", bootstrapServers());
  }
}

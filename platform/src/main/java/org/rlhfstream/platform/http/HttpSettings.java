package org.rlhfstream.platform.http;

import java.time.Duration;
import org.rlhfstream.platform.config.ConfigNode;

/**
 * Where the shared HTTP server listens: the top-level {@code http:} section.
 *
 * <pre>
 * http:
 *   host: 127.0.0.1        # loopback by default: expose deliberately
 *   port: 8080             # 0 picks a free port (tests)
 *   shutdown-grace: 30s    # how long in-flight requests may take to finish on stop
 * </pre>
 *
 * @param host address to bind
 * @param port port to bind; 0 picks a free one
 * @param shutdownGrace how long a graceful stop waits for in-flight requests before closing
 *     connections
 */
public record HttpSettings(String host, int port, Duration shutdownGrace) {

  public static final String DEFAULT_HOST = "127.0.0.1";
  public static final int DEFAULT_PORT = 8080;
  public static final Duration DEFAULT_SHUTDOWN_GRACE = Duration.ofSeconds(30);

  public HttpSettings {
    if (host == null || host.isBlank()) {
      throw new IllegalArgumentException("http.host must not be empty");
    }
    if (port < 0 || port > 65535) {
      throw new IllegalArgumentException("http.port must be between 0 and 65535 (got " + port + ")");
    }
    if (shutdownGrace == null || shutdownGrace.isNegative()) {
      throw new IllegalArgumentException("http.shutdown-grace must not be negative");
    }
  }

  public static HttpSettings defaults() {
    return new HttpSettings(DEFAULT_HOST, DEFAULT_PORT, DEFAULT_SHUTDOWN_GRACE);
  }

  /** Reads the {@code http:} section; bad fields are recorded on the node (see {@link ConfigNode#validate()}). */
  public static HttpSettings from(ConfigNode node) {
    String host = node.string("host", DEFAULT_HOST);
    if (host.isBlank()) {
      node.problem("host", "must not be empty");
      host = DEFAULT_HOST;
    }
    return new HttpSettings(
        host,
        node.integer("port", DEFAULT_PORT, 0, 65535),
        node.duration("shutdown-grace", DEFAULT_SHUTDOWN_GRACE));
  }

  /** The same settings on another port (tests use 0). */
  public HttpSettings withPort(int newPort) {
    return new HttpSettings(host, newPort, shutdownGrace);
  }
}

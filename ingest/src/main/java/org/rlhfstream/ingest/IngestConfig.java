package org.rlhfstream.ingest;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import org.rlhfstream.platform.config.ConfigNode;

/**
 * The {@code ingest:} section of the configuration. Every field has a default; see
 * {@code ingest/README-ingest.md} for the YAML. Records validate themselves in their compact
 * constructors; {@link #from(ConfigNode)} records a problem per bad field instead, so that one
 * start-up reports all of them.
 *
 * @param grpc the gRPC {@code FeedbackService} listener
 * @param limits request and in-flight bounds
 * @param dedup the in-memory window of recently acknowledged event ids
 * @param producer the Kafka producer's timeouts and batching
 * @param auth API keys and optional JWT bearer tokens
 */
public record IngestConfig(Grpc grpc, Limits limits, Dedup dedup, Producer producer, Auth auth) {

  public IngestConfig {
    require(grpc != null && limits != null && dedup != null && producer != null && auth != null,
        "ingest: every section must be present");
  }

  /** Every default; no API key (the first start generates one, see {@link ApiKeyBootstrap}). */
  public static IngestConfig defaults() {
    return new IngestConfig(Grpc.defaults(), Limits.defaults(), Dedup.defaults(), Producer.defaults(), Auth.defaults());
  }

  /** Reads the {@code ingest:} section; problems are recorded on {@code node}. */
  public static IngestConfig from(ConfigNode node) {
    return new IngestConfig(
        Grpc.from(node.section("grpc")),
        Limits.from(node.section("limits")),
        Dedup.from(node.section("dedup")),
        Producer.from(node.section("producer")),
        Auth.from(node.section("auth")));
  }

  public IngestConfig withGrpc(Grpc newGrpc) {
    return new IngestConfig(newGrpc, limits, dedup, producer, auth);
  }

  public IngestConfig withLimits(Limits newLimits) {
    return new IngestConfig(grpc, newLimits, dedup, producer, auth);
  }

  public IngestConfig withDedup(Dedup newDedup) {
    return new IngestConfig(grpc, limits, newDedup, producer, auth);
  }

  public IngestConfig withProducer(Producer newProducer) {
    return new IngestConfig(grpc, limits, dedup, newProducer, auth);
  }

  public IngestConfig withAuth(Auth newAuth) {
    return new IngestConfig(grpc, limits, dedup, producer, newAuth);
  }

  /**
   * The gRPC listener (HTTP/2 cleartext).
   *
   * @param enabled serve {@code rlhf.v1.FeedbackService}
   * @param host address to bind (loopback by default)
   * @param port port to bind; 0 picks a free one
   */
  public record Grpc(boolean enabled, String host, int port) {
    public static final int DEFAULT_PORT = 9090;

    public Grpc {
      require(host != null && !host.isBlank(), "ingest.grpc.host must not be empty");
      require(port >= 0 && port <= 65535, "ingest.grpc.port must be between 0 and 65535");
    }

    public static Grpc defaults() {
      return new Grpc(true, "127.0.0.1", DEFAULT_PORT);
    }

    static Grpc from(ConfigNode n) {
      String host = n.string("host", "127.0.0.1");
      if (host.isBlank()) {
        n.problem("host", "must not be empty");
        host = "127.0.0.1";
      }
      return new Grpc(n.bool("enabled", true), host, n.integer("port", DEFAULT_PORT, 0, 65535));
    }
  }

  /**
   * What one request may hold and how much work may be in flight.
   *
   * @param maxBatchItems comparisons in one HTTP request or unary gRPC batch
   * @param maxStreamItems comparisons in one gRPC client stream (held in memory until it ends,
   *     because a call is all-or-nothing)
   * @param maxTextBytes UTF-8 bytes of each of prompt, chosen and rejected
   * @param maxIdBytes bytes of event_id, tenant, project, labeler_id and source_app
   * @param maxMetadataEntries entries in a comparison's metadata map
   * @param maxBodyBytes bytes of an HTTP body or of one gRPC message (413 / RESOURCE_EXHAUSTED)
   * @param maxInFlightEvents events sent to Kafka and not yet acknowledged; above it: 503
   * @param maxInFlightBytes their serialized bytes; above it: 503 (also sizes the producer buffer,
   *     so that a send never waits for buffer space)
   * @param retryAfter the Retry-After a 503 carries
   */
  public record Limits(int maxBatchItems, int maxStreamItems, int maxTextBytes, int maxIdBytes,
      int maxMetadataEntries, long maxBodyBytes, int maxInFlightEvents, long maxInFlightBytes,
      Duration retryAfter) {

    public Limits {
      require(maxBatchItems >= 1, "ingest.limits.max-batch-items must be ≥ 1");
      require(maxStreamItems >= 1, "ingest.limits.max-stream-items must be ≥ 1");
      require(maxTextBytes >= 1, "ingest.limits.max-text-bytes must be ≥ 1");
      require(maxIdBytes >= 1, "ingest.limits.max-id-bytes must be ≥ 1");
      require(maxMetadataEntries >= 0, "ingest.limits.max-metadata-entries must be ≥ 0");
      require(maxBodyBytes >= 1, "ingest.limits.max-body-bytes must be ≥ 1");
      require(maxInFlightEvents >= 1, "ingest.limits.max-in-flight-events must be ≥ 1");
      require(maxInFlightBytes >= maxBodyBytes, "ingest.limits.max-in-flight-bytes must be ≥ max-body-bytes");
      require(retryAfter != null && retryAfter.toSeconds() >= 1, "ingest.limits.retry-after must be at least 1s");
    }

    public static Limits defaults() {
      return new Limits(1000, 10_000, 64 * 1024, 128, 64, 4L * 1024 * 1024, 20_000, 64L * 1024 * 1024,
          Duration.ofSeconds(1));
    }

    static Limits from(ConfigNode n) {
      Limits d = defaults();
      long body = n.bytes("max-body-bytes", d.maxBodyBytes(), 1024, 256L * 1024 * 1024);
      long inFlightBytes = n.bytes("max-in-flight-bytes", d.maxInFlightBytes(), 1024, 4L * 1024 * 1024 * 1024);
      if (inFlightBytes < body) {
        n.problem("max-in-flight-bytes", "must be at least max-body-bytes (" + body + "), got " + inFlightBytes);
        inFlightBytes = Math.max(body, d.maxInFlightBytes());
      }
      Duration retryAfter = n.duration("retry-after", d.retryAfter());
      if (retryAfter.toSeconds() < 1) {
        n.problem("retry-after", "must be at least 1s (Retry-After is in whole seconds)");
        retryAfter = d.retryAfter();
      }
      return new Limits(
          n.integer("max-batch-items", d.maxBatchItems(), 1, 1_000_000),
          n.integer("max-stream-items", d.maxStreamItems(), 1, 10_000_000),
          (int) n.bytes("max-text-bytes", d.maxTextBytes(), 1, 64L * 1024 * 1024),
          n.integer("max-id-bytes", d.maxIdBytes(), 1, 4096),
          n.integer("max-metadata-entries", d.maxMetadataEntries(), 0, 10_000),
          body,
          n.integer("max-in-flight-events", d.maxInFlightEvents(), 1, 10_000_000),
          inFlightBytes,
          retryAfter);
    }
  }

  /**
   * The de-duplication window: a resent event id within it is acknowledged but not written
   * again. In memory, per ingest process (the reward service also de-duplicates downstream).
   *
   * @param window how long an acknowledged id is remembered
   * @param capacity how many ids are remembered at most (the oldest are forgotten first)
   */
  public record Dedup(Duration window, int capacity) {
    public Dedup {
      require(window != null && !window.isNegative(), "ingest.dedup.window must not be negative");
      require(capacity >= 0, "ingest.dedup.capacity must be ≥ 0");
    }

    public static Dedup defaults() {
      return new Dedup(Duration.ofMinutes(10), 250_000);
    }

    static Dedup from(ConfigNode n) {
      return new Dedup(n.duration("window", defaults().window()), n.integer("capacity", defaults().capacity(), 0, 100_000_000));
    }
  }

  /**
   * The Kafka producer. Timeouts are bounded so that a request fails with 503 instead of hanging
   * when Kafka is down.
   *
   * @param linger how long the producer waits to fill a batch (latency vs throughput)
   * @param batchBytes the producer's batch.size
   * @param compression none, gzip, snappy, lz4 or zstd
   * @param requestTimeout how long one produce request may wait for the broker
   * @param deliveryTimeout how long an event may wait for its acknowledgement, retries
   *     included; a request waits at most about this long before 503
   * @param properties extra producer properties (override the above and {@code kafka.client})
   */
  public record Producer(Duration linger, int batchBytes, String compression, Duration requestTimeout,
      Duration deliveryTimeout, Map<String, String> properties) {

    public static final Set<String> COMPRESSIONS = Set.of("none", "gzip", "snappy", "lz4", "zstd");

    public Producer {
      require(linger != null && !linger.isNegative(), "ingest.producer.linger must not be negative");
      require(batchBytes >= 1, "ingest.producer.batch-bytes must be ≥ 1");
      require(compression != null && COMPRESSIONS.contains(compression),
          "ingest.producer.compression must be one of " + COMPRESSIONS);
      require(requestTimeout != null && requestTimeout.toMillis() >= 1, "ingest.producer.request-timeout must be positive");
      require(deliveryTimeout != null
              && deliveryTimeout.toMillis() >= linger.toMillis() + requestTimeout.toMillis(),
          "ingest.producer.delivery-timeout must be ≥ linger + request-timeout (a Kafka rule)");
      properties = Map.copyOf(properties);
    }

    public static Producer defaults() {
      return new Producer(Duration.ofMillis(10), 256 * 1024, "none", Duration.ofSeconds(5),
          Duration.ofSeconds(15), Map.of());
    }

    static Producer from(ConfigNode n) {
      Producer d = defaults();
      Duration linger = n.duration("linger", d.linger());
      Duration request = n.duration("request-timeout", d.requestTimeout());
      if (request.isZero()) {
        n.problem("request-timeout", "must be positive");
        request = d.requestTimeout();
      }
      Duration delivery = n.duration("delivery-timeout", d.deliveryTimeout());
      if (delivery.toMillis() < linger.toMillis() + request.toMillis()) {
        n.problem("delivery-timeout", "must be at least linger + request-timeout ("
            + (linger.toMillis() + request.toMillis()) + "ms), a Kafka rule; got " + delivery.toMillis() + "ms");
        delivery = Duration.ofMillis(Math.max(d.deliveryTimeout().toMillis(), linger.toMillis() + request.toMillis()));
      }
      return new Producer(
          linger,
          (int) n.bytes("batch-bytes", d.batchBytes(), 1, 64L * 1024 * 1024),
          n.choice("compression", d.compression(), "none", "gzip", "snappy", "lz4", "zstd"),
          request,
          delivery,
          n.stringMap("properties"));
    }
  }

  /**
   * Who may write: API keys and, optionally, JWT bearer tokens.
   *
   * @param apiKeys one entry per labeling app; empty means "generate one on first start"
   *     (see {@link ApiKeyBootstrap})
   * @param jwt JWT bearer tokens (disabled by default)
   */
  public record Auth(List<ApiKey> apiKeys, Jwt jwt) {
    public Auth {
      apiKeys = List.copyOf(apiKeys);
      require(jwt != null, "ingest.auth.jwt must be present");
      Set<String> apps = new LinkedHashSet<>();
      for (ApiKey k : apiKeys) {
        require(apps.add(k.app()), "ingest.auth.api-keys: app " + k.app() + " appears twice");
      }
    }

    public static Auth defaults() {
      return new Auth(List.of(), Jwt.disabled());
    }

    static Auth from(ConfigNode n) {
      List<ApiKey> keys = new ArrayList<>();
      for (Map.Entry<String, ConfigNode> e : n.namedSections("api-keys").entrySet()) {
        ApiKey k = ApiKey.from(e.getKey(), e.getValue());
        if (k != null) {
          keys.add(k);
        }
      }
      return new Auth(keys, Jwt.from(n.section("jwt")));
    }

    public Auth withApiKeys(List<ApiKey> keys) {
      return new Auth(keys, jwt);
    }

    public Auth withJwt(Jwt newJwt) {
      return new Auth(apiKeys, newJwt);
    }
  }

  /**
   * One labeling app's API key, stored as its hash.
   *
   * @param app the app's name (becomes {@code source_app} when a comparison has none)
   * @param sha256 lowercase hex SHA-256 of the key's UTF-8 bytes (never the key itself)
   * @param tenants the tenants the app may write
   */
  public record ApiKey(String app, String sha256, Set<String> tenants) {
    private static final Pattern HEX64 = Pattern.compile("[0-9a-f]{64}");

    public ApiKey {
      require(app != null && !app.isBlank(), "an API key needs an app name");
      require(sha256 != null && HEX64.matcher(sha256).matches(),
          "ingest.auth.api-keys." + app + ".sha256 must be 64 lowercase hex digits");
      require(tenants != null && !tenants.isEmpty(), "ingest.auth.api-keys." + app + ".tenants must not be empty");
      tenants = Set.copyOf(tenants);
    }

    static ApiKey from(String app, ConfigNode n) {
      String hash = n.string("sha256", "").trim().toLowerCase(Locale.ROOT);
      List<String> tenants = n.strings("tenants", List.of());
      boolean ok = true;
      if (!HEX64.matcher(hash).matches()) {
        n.problem("sha256", hash.isEmpty()
            ? "is required: the SHA-256 of the key, e.g. printf %s \"$KEY\" | sha256sum"
            : "must be 64 hex digits (a SHA-256), got " + hash.length() + " characters");
        ok = false;
      }
      if (tenants.isEmpty()) {
        n.problem("tenants", "must list at least one tenant this app may write");
        ok = false;
      }
      return ok ? new ApiKey(app, hash, new LinkedHashSet<>(tenants)) : null;
    }
  }

  /**
   * JWT bearer tokens (Vert.x auth-jwt). The token's {@code sub} claim (or {@code app-claim})
   * names the app, {@code tenants-claim} lists the tenants it may write.
   *
   * @param enabled accept JWTs
   * @param algorithm HS256/384/512 (with {@code secret}) or RS256/384/512, ES256/384/512
   *     (with {@code public-key}, PEM)
   * @param secret the HMAC secret (HS*)
   * @param publicKey the PEM public key (RS*, ES*)
   * @param issuer the required {@code iss}; empty: not checked
   * @param audience the required {@code aud}; empty: not checked
   * @param tenantsClaim the claim holding the tenants (a list or a string)
   * @param appClaim the claim naming the app
   */
  public record Jwt(boolean enabled, String algorithm, String secret, String publicKey, String issuer,
      String audience, String tenantsClaim, String appClaim) {

    public static final Set<String> ALGORITHMS = Set.of(
        "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384", "ES512");

    public Jwt {
      require(ALGORITHMS.contains(algorithm), "ingest.auth.jwt.algorithm must be one of " + ALGORITHMS);
      secret = secret == null ? "" : secret;
      publicKey = publicKey == null ? "" : publicKey;
      issuer = issuer == null ? "" : issuer;
      audience = audience == null ? "" : audience;
      if (enabled) {
        require(!algorithm.startsWith("HS") || secret.length() >= 32,
            "ingest.auth.jwt.secret must be at least 32 characters for " + algorithm);
        require(algorithm.startsWith("HS") || !publicKey.isBlank(),
            "ingest.auth.jwt.public-key (PEM) is required for " + algorithm);
      }
      require(tenantsClaim != null && !tenantsClaim.isBlank(), "ingest.auth.jwt.tenants-claim must not be empty");
      require(appClaim != null && !appClaim.isBlank(), "ingest.auth.jwt.app-claim must not be empty");
    }

    public static Jwt disabled() {
      return new Jwt(false, "HS256", "", "", "", "", "tenants", "sub");
    }

    /** HMAC-signed tokens with {@code secret}; for tests and simple set-ups. */
    public static Jwt hmac(String secret, String issuer) {
      return new Jwt(true, "HS256", secret, "", issuer, "", "tenants", "sub");
    }

    static Jwt from(ConfigNode n) {
      Jwt d = disabled();
      boolean enabled = n.bool("enabled", false);
      String alg = n.choice("algorithm", "HS256", ALGORITHMS.stream().sorted().toArray(String[]::new));
      String secret = n.string("secret", "");
      String publicKey = n.string("public-key", "");
      if (enabled && alg.startsWith("HS") && secret.length() < 32) {
        n.problem("secret", "must be at least 32 characters for " + alg);
        enabled = false;
      }
      if (enabled && !alg.startsWith("HS") && publicKey.isBlank()) {
        n.problem("public-key", "is required (PEM) for " + alg);
        enabled = false;
      }
      return new Jwt(enabled, alg, secret, publicKey,
          n.string("issuer", ""), n.string("audience", ""),
          nonBlank(n, "tenants-claim", d.tenantsClaim()), nonBlank(n, "app-claim", d.appClaim()));
    }

    private static String nonBlank(ConfigNode n, String key, String def) {
      String v = n.string(key, def);
      if (v.isBlank()) {
        n.problem(key, "must not be empty");
        return def;
      }
      return v;
    }

    @Override
    public String toString() {
      // Never print the secret.
      return "Jwt[enabled=" + enabled + ", algorithm=" + algorithm + ", issuer=" + issuer + ", audience=" + audience
          + ", tenantsClaim=" + tenantsClaim + ", appClaim=" + appClaim + "]";
    }
  }

  private static void require(boolean condition, String message) {
    if (!condition) {
      throw new IllegalArgumentException(message);
    }
  }
}

package org.rlhfstream.deploy;

import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.rlhfstream.ingest.ApiKeyBootstrap;
import org.rlhfstream.ingest.IngestService;
import org.rlhfstream.platform.config.KafkaSettings;
import org.rlhfstream.platform.http.HttpContribution;
import org.rlhfstream.platform.http.HttpHost;
import org.rlhfstream.platform.http.PrometheusMetrics;
import org.rlhfstream.platform.kafka.EmbeddedKafkaBroker;
import org.rlhfstream.platform.kafka.TopicSetup;
import org.rlhfstream.reward.RewardService;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs services in this process: Kafka (the embedded broker when no external cluster is
 * configured and {@code embeddedKafka} allows it), the topics, then the chosen services behind one
 * HTTP host. Started in that order, stopped in reverse. {@code rlhf up} runs every service; {@code
 * rlhf ingest}, {@code rlhf reward} (and the other single-service commands) run one against an
 * external cluster.
 */
public final class AllInOne implements AutoCloseable {

  /** The services this process can run. */
  public enum Service { INGEST, REWARD }

  private static final Logger log = LoggerFactory.getLogger(AllInOne.class);
  static final Duration KAFKA_TIMEOUT = Duration.ofSeconds(30);

  private final RlhfConfig config;
  private final Deque<AutoCloseable> running = new ArrayDeque<>();
  private final List<String> endpoints = new ArrayList<>();
  private KafkaSettings kafka;
  private RewardService reward;
  private IngestService ingest;
  private ApiKeyBootstrap.Outcome apiKey;
  private HttpHost httpHost;

  private AllInOne(RlhfConfig config) {
    this.config = config;
  }

  /** Starts Kafka if needed and every service of {@code services}; on failure stops what started. */
  public static AllInOne start(RlhfConfig config, Set<Service> services, boolean embeddedKafka) {
    AllInOne all = new AllInOne(config);
    try {
      all.startKafka(embeddedKafka);
      all.startServices(services);
      return all;
    } catch (RuntimeException e) {
      all.close();
      throw e;
    }
  }

  private void startKafka(boolean embeddedAllowed) {
    KafkaSettings k = config.kafka();
    if (k.useEmbedded()) {
      if (!embeddedAllowed) {
        throw new UserError("no Kafka configured: give --bootstrap-servers (or kafka.bootstrap-servers),"
            + " or run everything with `rlhf up`, which starts an embedded broker");
      }
      EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(config.dataDir().resolve("kafka"),
          k.embeddedHost(), k.embeddedPort(), k.embeddedControllerPort());
      running.push(broker);
      k = k.withBootstrapServers(broker.bootstrapServers());
      endpoints.add(String.format("%-10s %s (embedded broker, data in %s)", "kafka", broker.bootstrapServers(),
          config.dataDir().resolve("kafka")));
    } else {
      endpoints.add(String.format("%-10s %s (external)", "kafka", k.bootstrapServers()));
    }
    kafka = k;
    ensureTopics(k, config);
  }

  private void startServices(Set<Service> services) {
    PrometheusMeterRegistry registry = PrometheusMetrics.newRegistry();
    Vertx vertx = PrometheusMetrics.vertxWithMetrics(registry, new VertxOptions());
    running.push(() -> vertx.close().await(60, TimeUnit.SECONDS));

    List<HttpContribution> contributions = new ArrayList<>();
    List<String> routes = new ArrayList<>();
    if (services.contains(Service.INGEST)) {
      // No API key configured: the first start writes one for tenant "default" to <data-dir>/api-key.
      apiKey = ApiKeyBootstrap.ensure(config.ingest(), config.dataDir());
      ingest = new IngestService(apiKey.config(), kafka, config.topics().feedback().name(), registry);
      contributions.add(ingest);
      routes.add("/v1/comparisons");
      routes.add("/openapi.yaml");
    }
    if (services.contains(Service.REWARD) && config.reward().enabled()) {
      reward = new RewardService(config.reward(), kafka, config.topics(), config.dataDir(), registry);
      contributions.add(reward);
      routes.add("/v1/scores");
      routes.add("/v1/reward/status");
    }
    routes.add("/metrics");
    routes.add("/health/live");
    routes.add("/health/ready");
    httpHost = new HttpHost(config.http(), registry, contributions);
    try {
      vertx.deployVerticle(httpHost).await(10, TimeUnit.MINUTES);
    } catch (Exception e) {
      throw new IllegalStateException(e.getMessage(), e);
    }
    endpoints.add(String.format("%-10s http://%s:%d  %s", "http", config.http().host(), httpHost.actualPort(),
        String.join(" ", routes)));
    if (ingest != null && ingest.grpcPort() > 0) {
      endpoints.add(String.format("%-10s %s:%d  rlhf.v1.FeedbackService (ingest)", "grpc", config.ingest().grpc().host(),
          ingest.grpcPort()));
    }
    if (apiKey != null) {
      apiKey.keyFile().ifPresent(file -> endpoints.add(String.format("%-10s %s (tenant %s%s; send it as 'Authorization: Bearer <key>')",
          "api key", file.toAbsolutePath(), ApiKeyBootstrap.DEFAULT_TENANT, apiKey.created() ? ", generated now" : "")));
    }
    if (reward != null) {
      endpoints.add(String.format("%-10s training '%s' from %s on %s; checkpoints in %s", "reward", config.reward().name(),
          config.reward().model().base(), config.kafka().useEmbedded() ? "the embedded broker" : "Kafka",
          reward.checkpointDir()));
    }
  }

  /**
   * What the service commands ({@code up}, {@code ingest}, {@code reward}) do: start, print the
   * banner ({@code <title> is up:} and one line per endpoint), run until Ctrl-C / SIGTERM, stop.
   */
  static int serve(java.io.PrintWriter out, String title, RlhfConfig config, Set<Service> services,
      boolean embeddedKafka) throws InterruptedException {
    AllInOne running = start(config, services, embeddedKafka);
    out.println(title + " is up:");
    running.endpoints().forEach(line -> out.println("  " + line));
    out.println("Press Ctrl-C to stop.");
    out.flush();
    ShutdownSignal.awaitThenClose(running);
    return RlhfCommand.EXIT_OK;
  }

  /** Creates the missing topics, with a message that names the cluster when it cannot. */
  static void ensureTopics(KafkaSettings kafka, RlhfConfig config) {
    try (Admin admin = Admin.create(adminProperties(kafka))) {
      TopicSetup.ensureTopics(admin, config.topics().all(), KAFKA_TIMEOUT);
    } catch (IllegalStateException e) {
      throw new IllegalStateException("Kafka at " + kafka.bootstrapServers() + ": " + e.getMessage(), e);
    }
  }

  private static Properties adminProperties(KafkaSettings kafka) {
    Properties p = kafka.clientProperties();
    // Fail fast with a clear message instead of retrying for minutes against a wrong address.
    p.put("default.api.timeout.ms", String.valueOf(KAFKA_TIMEOUT.toMillis()));
    p.put("request.timeout.ms", "10000");
    return p;
  }

  /** Kafka as the services see it: the embedded broker's address once it runs. */
  public KafkaSettings kafka() {
    return kafka;
  }

  /** The ingest service, when this process runs it. */
  public IngestService ingest() {
    return ingest;
  }

  /** The reward service, when this process runs it. */
  public RewardService reward() {
    return reward;
  }

  /** The HTTP port actually bound (useful with port 0). */
  public int httpPort() {
    return httpHost.actualPort();
  }

  /** One line per listening endpoint, for the start-up banner. */
  public List<String> endpoints() {
    return List.copyOf(endpoints);
  }

  @Override
  public synchronized void close() {
    if (httpHost != null) {
      httpHost.markStopping();
    }
    while (!running.isEmpty()) {
      AutoCloseable c = running.pop();
      try {
        c.close();
      } catch (Exception e) {
        log.warn("Error while stopping {}: {}", c.getClass().getSimpleName(), e.toString());
      }
    }
  }
}

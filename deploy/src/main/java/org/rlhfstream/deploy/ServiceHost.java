package org.rlhfstream.deploy;

import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.rlhfstream.ingest.ApiKeyBootstrap;
import org.rlhfstream.ingest.IngestService;
import org.rlhfstream.platform.config.KafkaSettings;
import org.rlhfstream.platform.http.HttpContribution;
import org.rlhfstream.platform.http.HttpHost;
import org.rlhfstream.platform.http.PrometheusMetrics;

/**
 * The services that serve HTTP, on one Vert.x and one {@link HttpHost}: what {@code rlhf up}
 * and {@code rlhf ingest} run. Today that is ingest; the reward service's scoring endpoint and
 * the dashboard join the same host as further {@link HttpContribution}s.
 */
final class ServiceHost implements AutoCloseable {

  private static final Duration START_TIMEOUT = Duration.ofSeconds(60);

  private final Vertx vertx;
  private final String deployment;
  private final List<String> endpoints;

  private ServiceHost(Vertx vertx, String deployment, List<String> endpoints) {
    this.vertx = vertx;
    this.deployment = deployment;
    this.endpoints = endpoints;
  }

  /** Starts ingest (with the first-start API key when none is configured) against {@code kafka}. */
  static ServiceHost startIngest(RlhfConfig config, KafkaSettings kafka) {
    ApiKeyBootstrap.Outcome key = ApiKeyBootstrap.ensure(config.ingest(), config.dataDir());
    PrometheusMeterRegistry registry = PrometheusMetrics.newRegistry();
    IngestService ingest = new IngestService(key.config(), kafka, config.topics().feedback().name(), registry);
    Vertx vertx = PrometheusMetrics.vertxWithMetrics(registry, new VertxOptions());
    HttpHost host = new HttpHost(config.http(), registry, List.of(ingest));
    String deployment;
    try {
      deployment = vertx.deployVerticle(host).await(START_TIMEOUT.toSeconds(), TimeUnit.SECONDS);
    } catch (Exception e) {
      vertx.close();
      throw new IllegalStateException("the HTTP services did not start: " + e.getMessage(), e);
    }
    String base = "http://" + config.http().host() + ":" + host.actualPort();
    List<String> lines = new ArrayList<>();
    lines.add(String.format("%-10s %s/v1/comparisons (ingest; API at %s/openapi.yaml)", "http", base, base));
    lines.add(String.format("%-10s %s/metrics, %s/health/live, %s/health/ready", "ops", base, base, base));
    if (ingest.grpcPort() > 0) {
      lines.add(String.format("%-10s %s:%d (rlhf.v1.FeedbackService)", "grpc", config.ingest().grpc().host(), ingest.grpcPort()));
    }
    key.keyFile().ifPresent(file -> lines.add(String.format("%-10s %s (tenant %s%s)", "api key", file.toAbsolutePath(),
        ApiKeyBootstrap.DEFAULT_TENANT, key.created() ? ", generated now" : "")));
    return new ServiceHost(vertx, deployment, lines);
  }

  List<String> endpoints() {
    return endpoints;
  }

  /** Stops gracefully: in-flight requests finish, the producer flushes, then Vert.x closes. */
  @Override
  public void close() throws Exception {
    try {
      vertx.undeploy(deployment).await(2, TimeUnit.MINUTES);
    } finally {
      vertx.close().await(1, TimeUnit.MINUTES);
    }
  }
}

package org.rlhfstream.platform.http;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.ext.healthchecks.HealthChecks;
import io.vertx.ext.web.Router;

/**
 * What a service adds to the shared {@link HttpHost}: its routes, its readiness checks, and its
 * own start and graceful stop. The host calls, in this order:
 *
 * <ol>
 *   <li>{@link #start(Vertx)} for every contribution (in list order), on the host's context;
 *   <li>{@link #mount(Router)} for every contribution, then the server starts listening;
 *   <li>on undeploy: the server stops accepting and waits up to the grace period for in-flight
 *       HTTP requests, then {@link #stop()} for every contribution in reverse order.
 * </ol>
 *
 * <p>Handlers run on the event loop: they must never block. Paths are absolute; each service
 * owns its own prefix ({@code /v1/comparisons}, {@code /v1/score}, …). The host already serves
 * {@code /health/live}, {@code /health/ready} and {@code /metrics}.
 */
public interface HttpContribution {

  /** A short name for logs and readiness check names, e.g. {@code ingest}. */
  String name();

  /** Starts the contribution's own resources (clients, other servers); the host waits for it. */
  default Future<Void> start(Vertx vertx) {
    return Future.succeededFuture();
  }

  /** Adds routes. Called once, after {@link #start(Vertx)} succeeded, before the host listens. */
  void mount(Router router);

  /**
   * Registers the checks that must pass for {@code /health/ready} to report UP (e.g. "Kafka is
   * reachable"). Procedures must complete their promise without blocking, within their timeout.
   */
  default void registerReadiness(HealthChecks readiness) {}

  /**
   * Stops gracefully: finish in-flight work, flush, release resources. Called once the host no
   * longer accepts requests; the host waits for the returned future.
   */
  default Future<Void> stop() {
    return Future.succeededFuture();
  }
}

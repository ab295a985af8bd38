package org.rlhfstream.platform.http;

import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.ext.healthchecks.HealthChecks;
import io.vertx.ext.healthchecks.Status;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.healthchecks.HealthCheckHandler;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one HTTP server of a process: services plug their routes in as {@link HttpContribution}s,
 * and the host serves, for all of them,
 *
 * <ul>
 *   <li>{@code GET /health/live}: 200 while the event loop answers;
 *   <li>{@code GET /health/ready}: 200 when every contribution's readiness check passes and the
 *       host is not stopping, 503 otherwise (JSON body listing the checks);
 *   <li>{@code GET /metrics}: the shared {@link PrometheusMeterRegistry} in Prometheus text format.
 * </ul>
 *
 * <p>Deploy it as a verticle: {@code vertx.deployVerticle(new HttpHost(settings, registry,
 * List.of(ingest, reward)))}; undeploying it (or closing Vert.x) stops it gracefully: the server
 * stops accepting, in-flight requests get up to {@link HttpSettings#shutdownGrace()} to finish,
 * then each contribution's {@link HttpContribution#stop()} runs, last one first.
 */
public final class HttpHost extends VerticleBase {

  private static final Logger log = LoggerFactory.getLogger(HttpHost.class);

  private final HttpSettings settings;
  private final PrometheusMeterRegistry registry;
  private final List<HttpContribution> contributions;
  private final List<HttpContribution> started = new ArrayList<>();
  private HttpServer server;
  private HealthChecks readiness;
  private volatile boolean stopping;

  public HttpHost(HttpSettings settings, PrometheusMeterRegistry registry, List<HttpContribution> contributions) {
    this.settings = settings;
    this.registry = registry;
    this.contributions = List.copyOf(contributions);
  }

  @Override
  public Future<?> start() {
    Router router = Router.router(vertx);
    HealthChecks liveness = HealthChecks.create(vertx)
        .register("event-loop", promise -> promise.complete(Status.OK()));
    readiness = HealthChecks.create(vertx)
        .register("http-host", promise -> promise.complete(stopping ? Status.KO() : Status.OK()));
    router.get("/health/live").handler(HealthCheckHandler.createWithHealthChecks(liveness));
    router.get("/health/ready").handler(HealthCheckHandler.createWithHealthChecks(readiness));
    router.get("/metrics").handler(this::scrape);

    Future<Void> chain = Future.succeededFuture();
    for (HttpContribution c : contributions) {
      chain = chain.compose(v -> c.start(vertx)
          .onSuccess(ok -> started.add(c))
          .recover(err -> Future.failedFuture(new IllegalStateException(
              c.name() + " did not start: " + err.getMessage(), err))));
    }
    return chain
        .map(v -> {
          for (HttpContribution c : contributions) {
            c.mount(router);
            c.registerReadiness(readiness);
          }
          return router;
        })
        .compose(r -> vertx.createHttpServer(serverOptions()).requestHandler(r).listen(settings.port(), settings.host()))
        .onSuccess(s -> {
          server = s;
          log.info("HTTP API listening on http://{}:{} ({})", settings.host(), s.actualPort(),
              contributions.stream().map(HttpContribution::name).toList());
        })
        // A failed start leaves nothing running behind it.
        .recover(err -> stopContributions().transform(ignored -> Future.failedFuture(err)));
  }

  @Override
  public Future<?> stop() {
    stopping = true;
    long graceMs = settings.shutdownGrace().toMillis();
    Future<Void> serverDown = server == null
        ? Future.succeededFuture()
        : server.shutdown(graceMs, TimeUnit.MILLISECONDS);
    return serverDown
        .recover(err -> {
          log.warn("HTTP server did not shut down cleanly: {}", err.getMessage());
          return Future.succeededFuture();
        })
        .compose(v -> stopContributions());
  }

  /** The port the server listens on (the real one when the settings asked for 0). */
  public int actualPort() {
    if (server == null) {
      throw new IllegalStateException("the HTTP host is not started");
    }
    return server.actualPort();
  }

  public HttpSettings settings() {
    return settings;
  }

  /** Reports not-ready from now on (e.g. the process is about to stop). */
  public void markStopping() {
    stopping = true;
  }

  private Future<Void> stopContributions() {
    Future<Void> chain = Future.succeededFuture();
    List<HttpContribution> reverse = new ArrayList<>(started);
    java.util.Collections.reverse(reverse);
    started.clear();
    for (HttpContribution c : reverse) {
      chain = chain.compose(v -> c.stop().recover(err -> {
        log.warn("{} did not stop cleanly: {}", c.name(), err.getMessage(), err);
        return Future.succeededFuture();
      }));
    }
    return chain;
  }

  private void scrape(RoutingContext ctx) {
    // Scraping walks every meter; keep it off the event loop.
    vertx.executeBlocking(registry::scrape, false)
        .onSuccess(text -> ctx.response()
            .putHeader(HttpHeaders.CONTENT_TYPE, PrometheusMetrics.CONTENT_TYPE)
            .end(text))
        .onFailure(ctx::fail);
  }

  private static HttpServerOptions serverOptions() {
    return new HttpServerOptions()
        // Responses are small JSON: compression would cost more CPU than it saves on loopback.
        .setCompressionSupported(false)
        // Clients that sent "Connection: keep-alive" get to reuse the connection.
        .setTcpNoDelay(true);
  }
}

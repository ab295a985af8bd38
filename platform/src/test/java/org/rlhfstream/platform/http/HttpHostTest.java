package org.rlhfstream.platform.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.RequestOptions;
import io.vertx.ext.healthchecks.HealthChecks;
import io.vertx.ext.healthchecks.Status;
import io.vertx.ext.web.Router;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.rlhfstream.platform.config.ConfigNode;
import org.rlhfstream.platform.config.ConfigException;

@ExtendWith(VertxExtension.class)
class HttpHostTest {

  /** A contribution that records its lifecycle and answers /slow only when told to. */
  static final class Probe implements HttpContribution {
    final List<String> events = new CopyOnWriteArrayList<>();
    final AtomicBoolean ready = new AtomicBoolean(true);
    final Promise<Void> release = Promise.promise();
    final AtomicBoolean slowArrived = new AtomicBoolean();

    @Override
    public String name() {
      return "probe";
    }

    @Override
    public Future<Void> start(Vertx vertx) {
      events.add("start");
      return Future.succeededFuture();
    }

    @Override
    public void mount(Router router) {
      events.add("mount");
      router.get("/hello").handler(ctx -> ctx.end("hi"));
      router.get("/slow").handler(ctx -> {
        slowArrived.set(true);
        release.future().onComplete(v -> {
          events.add("slow answered");
          ctx.end("done");
        });
      });
    }

    @Override
    public void registerReadiness(HealthChecks readiness) {
      readiness.register("probe", p -> p.complete(ready.get() ? Status.OK() : Status.KO()));
    }

    @Override
    public Future<Void> stop() {
      events.add("stop");
      return Future.succeededFuture();
    }
  }

  @Test
  void servesContributionsHealthAndMetricsAndStopsGracefully(Vertx vertx, VertxTestContext test) throws Exception {
    PrometheusMeterRegistry registry = PrometheusMetrics.newRegistry();
    registry.counter("probe.hits").increment();
    Probe probe = new Probe();
    HttpHost host = new HttpHost(new HttpSettings("127.0.0.1", 0, Duration.ofSeconds(10)), registry, List.of(probe));
    String id = vertx.deployVerticle(host).await(30, TimeUnit.SECONDS);
    HttpClient client = vertx.createHttpClient();
    int port = host.actualPort();

    assertEquals("hi", get(client, port, "/hello"));
    assertEquals(200, status(client, port, "/health/live"));
    assertEquals(200, status(client, port, "/health/ready"));
    probe.ready.set(false);
    assertEquals(503, status(client, port, "/health/ready"));
    probe.ready.set(true);
    String metrics = get(client, port, "/metrics");
    assertTrue(metrics.contains("probe_hits_total 1.0"), metrics);
    assertTrue(metrics.contains("jvm_memory_used_bytes"), "JVM meters are bound");

    // A request in flight when the host stops gets its answer; the contribution stops after it.
    Future<String> slow = client.request(new RequestOptions().setMethod(HttpMethod.GET).setHost("127.0.0.1").setPort(port).setURI("/slow"))
        .compose(r -> r.send().compose(resp -> resp.body())).map(Object::toString);
    awaitTrue(probe.slowArrived::get);
    Future<Void> undeployed = vertx.undeploy(id);
    // Answer the request only once the host is shutting down (it then refuses new connections).
    vertx.setPeriodic(10, timer -> client.request(HttpMethod.GET, port, "127.0.0.1", "/hello").onFailure(refused -> {
      vertx.cancelTimer(timer);
      probe.release.tryComplete();
    }));
    var checkpoint = test.checkpoint(2);
    slow.onComplete(test.succeeding(body -> test.verify(() -> {
      assertEquals("done", body, "the request in flight at stop got its answer");
      checkpoint.flag();
    })));
    undeployed.onComplete(test.succeeding(v -> test.verify(() -> {
      assertEquals(List.of("start", "mount", "slow answered", "stop"), probe.events,
          "the contribution stops after the in-flight request was answered");
      checkpoint.flag();
    })));
  }

  @Test
  void settingsComeFromTheHttpSection() {
    ConfigNode root = ConfigNode.root(Map.of("http", Map.of("port", 8181, "shutdown-grace", "5s")));
    HttpSettings s = HttpSettings.from(root.section("http"));
    root.validate();
    assertEquals(new HttpSettings("127.0.0.1", 8181, Duration.ofSeconds(5)), s);

    ConfigNode bad = ConfigNode.root(Map.of("http", Map.of("port", -1, "host", "")));
    HttpSettings.from(bad.section("http"));
    ConfigException e = org.junit.jupiter.api.Assertions.assertThrows(ConfigException.class, bad::validate);
    assertEquals(List.of("http.host", "http.port"), e.problems().stream().map(ConfigException.ConfigProblem::path).toList());
  }

  private static String get(HttpClient client, int port, String path) throws Exception {
    return client.request(HttpMethod.GET, port, "127.0.0.1", path)
        .compose(r -> r.send().compose(resp -> resp.body()))
        .await(30, TimeUnit.SECONDS).toString();
  }

  private static int status(HttpClient client, int port, String path) throws Exception {
    return client.request(HttpMethod.GET, port, "127.0.0.1", path)
        .compose(r -> r.send().compose(resp -> resp.body().map(b -> resp.statusCode())))
        .await(30, TimeUnit.SECONDS);
  }

  private static void awaitTrue(java.util.function.BooleanSupplier c) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!c.getAsBoolean() && System.nanoTime() < deadline) {
      Thread.sleep(5);
    }
  }
}

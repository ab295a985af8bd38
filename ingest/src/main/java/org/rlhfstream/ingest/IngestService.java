package org.rlhfstream.ingest;

import io.micrometer.core.instrument.MeterRegistry;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.healthchecks.HealthChecks;
import io.vertx.ext.healthchecks.Status;
import io.vertx.ext.web.Router;
import io.vertx.grpc.server.GrpcServer;
import io.vertx.grpc.server.GrpcServerOptions;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.DescribeClusterOptions;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.rlhfstream.platform.config.KafkaSettings;
import org.rlhfstream.platform.http.HttpContribution;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The ingest service: labeling apps' front door to the feedback topic. Plug it into the shared
 * {@link org.rlhfstream.platform.http.HttpHost}, which then serves
 *
 * <ul>
 *   <li>{@code POST /v1/comparisons} (HTTP, proto3 JSON or binary protobuf) and
 *       {@code GET /openapi.yaml};
 *   <li>a readiness check, {@code kafka}: ready only while the Kafka cluster answers;
 * </ul>
 *
 * and it starts its own gRPC listener ({@code rlhf.v1.FeedbackService}, default
 * {@code 127.0.0.1:9090}). Stopping it refuses new requests (503), lets accepted ones finish,
 * then flushes and closes the producer.
 *
 * <pre>{@code
 * IngestService ingest = new IngestService(ingestConfig, kafkaSettings, topics.feedback().name(), registry);
 * vertx.deployVerticle(new HttpHost(httpSettings, registry, List.of(ingest)));
 * }</pre>
 */
public final class IngestService implements HttpContribution {

  private static final Logger log = LoggerFactory.getLogger(IngestService.class);
  private static final Duration READINESS_TIMEOUT = Duration.ofSeconds(2);
  /** How long start waits for the topic's metadata before serving anyway. */
  private static final Duration METADATA_WAIT = Duration.ofSeconds(10);

  private final IngestConfig config;
  private final KafkaSettings kafka;
  private final String topic;
  private final MeterRegistry registry;

  private Vertx vertx;
  private KafkaProducer<String, byte[]> producer;
  private Admin admin;
  private FeedbackWriter writer;
  private HttpIngestApi httpApi;
  private HttpServer grpcServer;
  private DedupWindow dedup;

  /**
   * @param config the {@code ingest:} section, with at least one API key or JWT enabled (see
   *     {@link ApiKeyBootstrap})
   * @param kafka how to reach Kafka (bootstrap servers must be set)
   * @param topic the feedback topic, {@code rlhf.feedback.v1} by default
   * @param registry where the {@code rlhf_ingest_*} meters go
   */
  public IngestService(IngestConfig config, KafkaSettings kafka, String topic, MeterRegistry registry) {
    if (config.auth().apiKeys().isEmpty() && !config.auth().jwt().enabled()) {
      throw new IllegalArgumentException("ingest would accept nobody: configure ingest.auth.api-keys or "
          + "ingest.auth.jwt, or let ApiKeyBootstrap generate a key");
    }
    if (kafka.useEmbedded()) {
      throw new IllegalArgumentException("ingest needs kafka.bootstrap-servers (start the embedded broker first)");
    }
    this.config = config;
    this.kafka = kafka;
    this.topic = topic;
    this.registry = registry;
  }

  /**
   * The producer properties ingest writes with (acks=all, idempotence, bounded timeouts, …), for
   * tools that want to compare against a plain producer configured the same way.
   */
  public static Properties producerProperties(KafkaSettings kafka, IngestConfig config) {
    return FeedbackProducer.properties(kafka, config);
  }

  @Override
  public String name() {
    return "ingest";
  }

  @Override
  public Future<Void> start(Vertx vertx) {
    this.vertx = vertx;
    IngestMetrics metrics = new IngestMetrics(registry);
    Authenticator authenticator = new Authenticator(vertx, config.auth());
    ComparisonValidator validator = new ComparisonValidator(config.limits());
    return vertx.executeBlocking(() -> {
          // Client construction resolves addresses and loads classes: keep it off the event loop.
          producer = FeedbackProducer.create(kafka, config);
          admin = Admin.create(adminProperties());
          return readOpenApi();
        })
        .compose(openapi -> {
          dedup = new DedupWindow(config.dedup().window(), config.dedup().capacity());
          writer = new FeedbackWriter(vertx, producer, topic, config.limits(), dedup);
          IngestMetrics.gauges(registry, writer::inFlightEvents, writer::inFlightBytes, writer::inFlightRequests, dedup::size);
          httpApi = new HttpIngestApi(authenticator, validator, writer, metrics, config.limits(), openapi);
          return warmUpMetadata();
        })
        .compose(v -> {
          if (!config.grpc().enabled()) {
            return Future.succeededFuture();
          }
          GrpcServer grpc = GrpcServer.server(vertx, new GrpcServerOptions().setMaxMessageSize(config.limits().maxBodyBytes()));
          new GrpcIngestApi(authenticator, validator, writer, metrics, config.limits()).mount(grpc);
          return vertx.createHttpServer(new HttpServerOptions().setTcpNoDelay(true))
              .requestHandler(grpc)
              .listen(config.grpc().port(), config.grpc().host())
              .onSuccess(server -> {
                grpcServer = server;
                log.info("gRPC rlhf.v1.FeedbackService listening on {}:{}", config.grpc().host(), server.actualPort());
              })
              .mapEmpty();
        })
        .<Void>mapEmpty()
        .onFailure(err -> closeClients());
  }

  @Override
  public void mount(Router router) {
    httpApi.mount(router);
  }

  @Override
  public void registerReadiness(HealthChecks readiness) {
    readiness.register("kafka", READINESS_TIMEOUT.toMillis() + 500, promise -> {
      Context context = vertx.getOrCreateContext();
      admin.describeCluster(new DescribeClusterOptions().timeoutMs((int) READINESS_TIMEOUT.toMillis()))
          .nodes()
          .whenComplete((nodes, err) -> context.runOnContext(v -> {
            if (err == null && !nodes.isEmpty() && !topicMetadataKnown()) {
              promise.complete(Status.KO(new JsonObject().put("error", "no metadata for topic " + topic + " yet")));
            } else if (err == null && !nodes.isEmpty()) {
              promise.complete(Status.OK(new JsonObject().put("brokers", nodes.size())));
            } else {
              promise.complete(Status.KO(new JsonObject().put("error",
                  err == null ? "no broker answered" : String.valueOf(err.getMessage()))));
            }
          }));
    });
  }

  /** Requests waiting for Kafka now (tests use it to stop the service mid-flight). */
  int inFlightRequests() {
    return writer == null ? 0 : writer.inFlightRequests();
  }

  /** The port of the gRPC listener (the real one when the configuration asked for 0); -1 when disabled. */
  public int grpcPort() {
    return grpcServer == null ? -1 : grpcServer.actualPort();
  }

  @Override
  public Future<Void> stop() {
    if (writer == null) {
      return Future.succeededFuture();
    }
    writer.beginClosing();
    // Accepted requests finish within the delivery timeout; give them that, and a little more.
    Duration grace = config.producer().deliveryTimeout().plusSeconds(5);
    Future<Void> grpcDown = grpcServer == null
        ? Future.succeededFuture()
        : grpcServer.shutdown(grace.toMillis(), TimeUnit.MILLISECONDS).recover(err -> Future.succeededFuture());
    return grpcDown
        .compose(v -> vertx.executeBlocking(() -> {
          writer.drainBlocking(grace);
          closeClients();
          return null;
        }, false))
        .mapEmpty();
  }

  private void closeClients() {
    if (producer != null) {
      producer.flush();
      producer.close(Duration.ofSeconds(10));
      producer = null;
    }
    if (admin != null) {
      admin.close(Duration.ofSeconds(5));
      admin = null;
    }
    log.info("Ingest stopped: producer flushed and closed");
  }

  /**
   * Asks for the topic's metadata until the producer has it, so that the first requests do not
   * fail for want of it. Non-blocking: with {@code max.block.ms=0} each attempt returns at once
   * and the producer fetches in the background.
   */
  private Future<Void> warmUpMetadata() {
    long started = System.nanoTime();
    io.vertx.core.Promise<Void> known = io.vertx.core.Promise.promise();
    vertx.setPeriodic(0, 50, timer -> {
      if (topicMetadataKnown() || producer == null) {
        vertx.cancelTimer(timer);
        known.tryComplete();
      } else if (System.nanoTime() - started > METADATA_WAIT.toNanos()) {
        // Kafka may be down at start: serve anyway (503 until it is back; readiness says so).
        log.warn("No Kafka metadata for topic {} after {}; requests get 503 until it arrives", topic, METADATA_WAIT);
        known.tryComplete();
        vertx.setPeriodic(1000, retry -> {
          if (topicMetadataKnown() || producer == null) {
            vertx.cancelTimer(retry);
          }
        });
        vertx.cancelTimer(timer);
      }
    });
    return known.future();
  }

  /** Whether the producer knows the topic's partitions (answers at once; it never blocks). */
  private boolean topicMetadataKnown() {
    try {
      KafkaProducer<String, byte[]> p = producer;
      return p != null && !p.partitionsFor(topic).isEmpty();
    } catch (RuntimeException notYet) {
      return false;
    }
  }

  private Properties adminProperties() {
    Properties p = kafka.clientProperties();
    p.put(AdminClientConfig.CLIENT_ID_CONFIG, "rlhf-ingest-readiness");
    // Readiness must answer quickly when Kafka is down, and notice quickly when it is back.
    p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, String.valueOf(READINESS_TIMEOUT.toMillis()));
    p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, String.valueOf(READINESS_TIMEOUT.toMillis()));
    p.put(AdminClientConfig.RECONNECT_BACKOFF_MS_CONFIG, "50");
    p.put(AdminClientConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, "1000");
    return p;
  }

  private static Buffer readOpenApi() {
    try (InputStream in = IngestService.class.getResourceAsStream("openapi.yaml")) {
      if (in == null) {
        throw new IllegalStateException("openapi.yaml is missing from the ingest jar");
      }
      return Buffer.buffer(in.readAllBytes());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}

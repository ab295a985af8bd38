package org.rlhfstream.ingest;

import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.SocketAddress;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.ext.web.client.WebClient;
import io.vertx.ext.web.client.WebClientOptions;
import io.vertx.grpc.client.GrpcClient;
import io.vertx.grpc.common.GrpcMessageDecoder;
import io.vertx.grpc.common.GrpcMessageEncoder;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.common.ServiceMethod;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import org.rlhfstream.platform.config.KafkaSettings;
import org.rlhfstream.platform.http.HttpHost;
import org.rlhfstream.platform.http.HttpSettings;
import org.rlhfstream.platform.http.PrometheusMetrics;
import org.rlhfstream.platform.kafka.TopicsConfig;
import org.rlhfstream.proto.v1.Comparison;
import org.rlhfstream.proto.v1.ComparisonBatch;
import org.rlhfstream.proto.v1.SubmitResponse;

/** Ingest on free ports against a test broker, with two apps' API keys, and real clients for it. */
final class TestIngest implements AutoCloseable {

  static final String KEY_A = "rlhf_test-key-of-app-a";
  static final String KEY_B = "rlhf_test-key-of-app-b";
  static final String TOPIC = TopicsConfig.FEEDBACK;

  static final ServiceMethod<SubmitResponse, ComparisonBatch> SUBMIT_BATCH = ServiceMethod.client(
      GrpcIngestApi.SERVICE, "SubmitBatch", GrpcMessageEncoder.encoder(), GrpcMessageDecoder.decoder(SubmitResponse.newBuilder()));
  static final ServiceMethod<SubmitResponse, Comparison> STREAM = ServiceMethod.client(
      GrpcIngestApi.SERVICE, "StreamComparisons", GrpcMessageEncoder.encoder(), GrpcMessageDecoder.decoder(SubmitResponse.newBuilder()));

  final Vertx vertx;
  final IngestService service;
  final HttpHost host;
  final PrometheusMeterRegistry registry;
  final WebClient http;
  final GrpcClient grpc;
  private final String deployment;

  private TestIngest(Vertx vertx, IngestService service, HttpHost host, PrometheusMeterRegistry registry, String deployment) {
    this.vertx = vertx;
    this.service = service;
    this.host = host;
    this.registry = registry;
    this.deployment = deployment;
    this.http = WebClient.create(vertx, new WebClientOptions().setDefaultHost("127.0.0.1").setDefaultPort(host.actualPort()),
        new io.vertx.core.http.PoolOptions().setHttp1MaxSize(32));
    this.grpc = GrpcClient.client(vertx);
  }

  /** app-a may write tenants acme and default; app-b only tenant other. */
  static IngestConfig config() {
    IngestConfig d = IngestConfig.defaults();
    return d
        .withGrpc(new IngestConfig.Grpc(true, "127.0.0.1", 0))
        .withProducer(new IngestConfig.Producer(Duration.ofMillis(2), 256 * 1024, "none", Duration.ofSeconds(2),
            Duration.ofSeconds(4), Map.of()))
        .withAuth(d.auth().withApiKeys(List.of(
            new IngestConfig.ApiKey("app-a", ApiKeyBootstrap.sha256Hex(KEY_A), Set.of("acme", "default")),
            new IngestConfig.ApiKey("app-b", ApiKeyBootstrap.sha256Hex(KEY_B), Set.of("other")))));
  }

  static TestIngest start(Vertx vertx, String bootstrapServers) throws Exception {
    return start(vertx, bootstrapServers, UnaryOperator.identity());
  }

  static TestIngest start(Vertx vertx, String bootstrapServers, UnaryOperator<IngestConfig> customise) throws Exception {
    PrometheusMeterRegistry registry = PrometheusMetrics.newRegistry();
    KafkaSettings kafka = new KafkaSettings(bootstrapServers, "127.0.0.1", 0, 0, Map.of());
    IngestService service = new IngestService(customise.apply(config()), kafka, TOPIC, registry);
    HttpHost host = new HttpHost(new HttpSettings("127.0.0.1", 0, Duration.ofSeconds(10)), registry, List.of(service));
    String id = vertx.deployVerticle(host).await(60, TimeUnit.SECONDS);
    return new TestIngest(vertx, service, host, registry, id);
  }

  SocketAddress grpcAddress() {
    return SocketAddress.inetSocketAddress(service.grpcPort(), "127.0.0.1");
  }

  static Comparison comparison(String eventId) {
    return comparison(eventId, "acme");
  }

  static Comparison comparison(String eventId, String tenant) {
    return Comparison.newBuilder()
        .setEventId(eventId)
        .setTenant(tenant)
        .setProject("tests")
        .setLabelerId("labeler-1")
        .setPrompt("What is 2 + 2?")
        .setChosen("4")
        .setRejected("5")
        .build();
  }

  static String uniqueId() {
    return "evt-" + UUID.randomUUID();
  }

  HttpResponse<Buffer> postJson(String json, String apiKey) throws Exception {
    var req = http.post(HttpIngestApi.PATH).putHeader("Content-Type", "application/json");
    if (apiKey != null) {
      req.putHeader("Authorization", "Bearer " + apiKey);
    }
    return req.sendBuffer(Buffer.buffer(json)).await(30, TimeUnit.SECONDS);
  }

  HttpResponse<Buffer> post(String contentType, byte[] body, String apiKey) throws Exception {
    var req = http.post(HttpIngestApi.PATH);
    if (contentType != null) {
      req.putHeader("Content-Type", contentType);
    }
    if (apiKey != null) {
      req.putHeader("Authorization", "Bearer " + apiKey);
    }
    return req.sendBuffer(Buffer.buffer(body)).await(30, TimeUnit.SECONDS);
  }

  HttpResponse<Buffer> postBatch(List<Comparison> items, String apiKey) throws Exception {
    return post(HttpIngestApi.PROTOBUF, ComparisonBatch.newBuilder().addAllComparisons(items).build().toByteArray(), apiKey);
  }

  /** The outcome of one gRPC call: the status, its message, and the reply when OK. */
  record GrpcResult(GrpcStatus status, String message, SubmitResponse reply) {}

  GrpcResult submitBatch(List<Comparison> items, String apiKey) throws Exception {
    var call = grpc.request(grpcAddress(), SUBMIT_BATCH).await(30, TimeUnit.SECONDS);
    if (apiKey != null) {
      call.headers().set("authorization", "Bearer " + apiKey);
    }
    call.end(ComparisonBatch.newBuilder().addAllComparisons(items).build());
    return outcome(call);
  }

  GrpcResult stream(List<Comparison> items, String apiKey) throws Exception {
    var call = grpc.request(grpcAddress(), STREAM).await(30, TimeUnit.SECONDS);
    if (apiKey != null) {
      call.headers().set("x-api-key", apiKey);
    }
    for (Comparison c : items) {
      call.write(c);
    }
    call.end();
    return outcome(call);
  }

  private static GrpcResult outcome(io.vertx.grpc.client.GrpcClientRequest<?, SubmitResponse> call) throws Exception {
    var response = call.response().await(30, TimeUnit.SECONDS);
    try {
      SubmitResponse reply = response.last().await(30, TimeUnit.SECONDS);
      return new GrpcResult(response.status(), response.statusMessage(), reply);
    } catch (RuntimeException notOk) {
      return new GrpcResult(response.status(), response.statusMessage(), null);
    }
  }

  @Override
  public void close() throws Exception {
    // The server first (it lets requests in flight finish), then the clients.
    vertx.undeploy(deployment).await(60, TimeUnit.SECONDS);
    http.close();
    grpc.close().await(10, TimeUnit.SECONDS);
  }
}

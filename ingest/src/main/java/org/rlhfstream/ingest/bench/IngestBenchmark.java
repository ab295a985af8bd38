package org.rlhfstream.ingest.bench;

import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.net.SocketAddress;
import io.vertx.grpc.client.GrpcClient;
import io.vertx.grpc.common.GrpcMessageDecoder;
import io.vertx.grpc.common.GrpcMessageEncoder;
import io.vertx.grpc.common.ServiceMethod;
import io.vertx.grpc.common.ServiceName;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.rlhfstream.ingest.ApiKeyBootstrap;
import org.rlhfstream.ingest.IngestConfig;
import org.rlhfstream.ingest.IngestService;
import org.rlhfstream.platform.config.KafkaSettings;
import org.rlhfstream.platform.http.HttpHost;
import org.rlhfstream.platform.http.HttpSettings;
import org.rlhfstream.platform.http.PrometheusMetrics;
import org.rlhfstream.platform.kafka.EmbeddedKafkaBroker;
import org.rlhfstream.platform.kafka.TopicSetup;
import org.rlhfstream.platform.kafka.TopicsConfig;
import org.rlhfstream.proto.v1.Comparison;
import org.rlhfstream.proto.v1.ComparisonBatch;
import org.rlhfstream.proto.v1.SubmitResponse;

/**
 * {@code rlhf bench ingest}: acknowledged events per second and latency of ingest, next to a raw
 * {@code KafkaProducer} writing the same messages to the same broker with the same settings.
 * Everything runs in this process (broker, ingest, clients), so the clients' CPU counts against
 * the figures, as it would on a one-machine deployment.
 *
 * <p>Phases, each after its own warm-up: the raw producer (run first and again last; the better
 * run is the baseline, since other load on the machine may change in between); single-event HTTP requests (proto3
 * JSON) with a fixed number of connections each sending back to back (peak); a calibration (the
 * same HTTP client against a server that answers 202 and does nothing: what HTTP alone costs on
 * this machine); single events at half
 * that peak rate, sent on a fixed schedule (latency measured from the scheduled time, so a stall
 * counts against it); batches of {@code batchSize} over HTTP (binary protobuf); gRPC client
 * streams of {@code streamSize} comparisons. Latency is per request (per call for gRPC).
 */
public final class IngestBenchmark {

  /**
   * How to run.
   *
   * @param warmUp unmeasured load before the measured phases: the raw producer, then every ingest
   *     path at once (the JIT compiles Kafka, Vert.x and ingest code meanwhile)
   * @param phase how long each phase is measured
   * @param httpConnections connections sending single events
   * @param batchSize comparisons per HTTP batch
   * @param batchConnections connections sending batches
   * @param streamSize comparisons per gRPC stream
   * @param grpcStreams concurrent gRPC streams
   * @param workDir where the embedded broker keeps its data
   * @param bootstrapServers an existing broker to use instead of the embedded one (null: embedded)
   * @param ingest the ingest configuration to measure (its gRPC port and API keys are replaced)
   */
  public record Settings(Duration warmUp, Duration phase, int httpConnections, int batchSize, int batchConnections,
      int streamSize, int grpcStreams, Path workDir, String bootstrapServers, IngestConfig ingest) {

    public static Settings defaults(Path workDir) {
      return new Settings(Duration.ofSeconds(15), Duration.ofSeconds(10), 256, 100, 64, 100, 32, workDir, null,
          IngestConfig.defaults());
    }

    public Settings withDurations(Duration newWarmUp, Duration newPhase) {
      return new Settings(newWarmUp, newPhase, httpConnections, batchSize, batchConnections, streamSize, grpcStreams,
          workDir, bootstrapServers, ingest);
    }

    public Settings withHttpConnections(int connections) {
      return new Settings(warmUp, phase, connections, batchSize, batchConnections, streamSize, grpcStreams,
          workDir, bootstrapServers, ingest);
    }

    public Settings withBootstrapServers(String servers) {
      return new Settings(warmUp, phase, httpConnections, batchSize, batchConnections, streamSize, grpcStreams,
          workDir, servers, ingest);
    }

    public Settings withIngest(IngestConfig config) {
      return new Settings(warmUp, phase, httpConnections, batchSize, batchConnections, streamSize, grpcStreams,
          workDir, bootstrapServers, config);
    }
  }

  /**
   * What one phase reached.
   *
   * @param eventsPerSecond acknowledged events per second
   * @param requestsPerSecond completed requests (or gRPC calls) per second
   * @param p50Ms median latency of a request
   * @param p99Ms 99th percentile latency of a request
   * @param events acknowledged events in the measured window
   * @param errors requests that did not get an acknowledgement
   * @param cpuMicrosPerEvent CPU time of the whole process (clients, ingest, broker) per
   *     acknowledged event: what the throughput would cost on an otherwise idle machine
   */
  public record Phase(String name, double eventsPerSecond, double requestsPerSecond, double p50Ms, double p99Ms,
      long events, long errors, double cpuMicrosPerEvent) {}

  /**
   * Every phase's figures. {@code httpNoop} is a calibration: the same client against a Vert.x
   * server that answers 202 without doing anything, i.e. what HTTP alone costs on this machine.
   */
  public record Figures(Phase rawProducer, Phase httpNoop, Phase httpSingle, Phase httpSingleHalfRate, Phase httpBatch,
      Phase grpcStream) {

    public List<Phase> phases() {
      return List.of(rawProducer, httpNoop, httpSingle, httpSingleHalfRate, httpBatch, grpcStream);
    }

    /** Single-event HTTP throughput as a share of the no-op server's: ingest's own cost per request. */
    public double singleShareOfNoop() {
      return httpSingle.requestsPerSecond() / httpNoop.requestsPerSecond();
    }

    /** Batch HTTP throughput as a share of the raw producer's. */
    public double batchShareOfRaw() {
      return httpBatch.eventsPerSecond() / rawProducer.eventsPerSecond();
    }

    /** The figures under stable names, for {@code --output json}. */
    public Map<String, Object> toMap() {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("http_single_eps", round(httpSingle.eventsPerSecond()));
      m.put("http_single_p50_ms", round(httpSingle.p50Ms()));
      m.put("http_single_p99_ms", round(httpSingle.p99Ms()));
      m.put("http_single_half_rate_eps", round(httpSingleHalfRate.eventsPerSecond()));
      m.put("http_single_half_rate_p50_ms", round(httpSingleHalfRate.p50Ms()));
      m.put("http_single_half_rate_p99_ms", round(httpSingleHalfRate.p99Ms()));
      m.put("http_batch_eps", round(httpBatch.eventsPerSecond()));
      m.put("http_batch_p50_ms", round(httpBatch.p50Ms()));
      m.put("http_batch_p99_ms", round(httpBatch.p99Ms()));
      m.put("grpc_stream_eps", round(grpcStream.eventsPerSecond()));
      m.put("grpc_stream_p50_ms", round(grpcStream.p50Ms()));
      m.put("grpc_stream_p99_ms", round(grpcStream.p99Ms()));
      m.put("raw_producer_eps", round(rawProducer.eventsPerSecond()));
      m.put("raw_producer_p50_ms", round(rawProducer.p50Ms()));
      m.put("raw_producer_p99_ms", round(rawProducer.p99Ms()));
      m.put("http_batch_vs_raw", Math.round(batchShareOfRaw() * 1000) / 1000.0);
      m.put("http_noop_rps", round(httpNoop.requestsPerSecond()));
      m.put("http_single_vs_noop", Math.round(singleShareOfNoop() * 1000) / 1000.0);
      m.put("raw_producer_cpu_us_per_event", round(rawProducer.cpuMicrosPerEvent()));
      m.put("http_noop_cpu_us_per_request", round(httpNoop.cpuMicrosPerEvent()));
      m.put("http_single_cpu_us_per_event", round(httpSingle.cpuMicrosPerEvent()));
      m.put("http_batch_cpu_us_per_event", round(httpBatch.cpuMicrosPerEvent()));
      m.put("grpc_stream_cpu_us_per_event", round(grpcStream.cpuMicrosPerEvent()));
      m.put("errors", phases().stream().mapToLong(Phase::errors).sum());
      return m;
    }

    private static double round(double v) {
      return Double.isNaN(v) ? -1 : Math.round(v * 10) / 10.0;
    }
  }

  /** Each phase's own unmeasured start (connections, batching settle); JIT warm-up comes before all phases. */
  private static final Duration PHASE_WARM_UP = Duration.ofSeconds(3);

  /** Event-loop threads the benchmark's clients run on, to tell their CPU from the server's. */
  private static final Set<Long> CLIENT_THREADS = java.util.concurrent.ConcurrentHashMap.newKeySet();

  private static final ServiceMethod<SubmitResponse, Comparison> STREAM = ServiceMethod.client(
      ServiceName.create("rlhf.v1", "FeedbackService"), "StreamComparisons",
      GrpcMessageEncoder.encoder(), GrpcMessageDecoder.decoder(SubmitResponse.newBuilder()));

  private static final String PROMPT = "Summarise the following paragraph in one sentence: the city council met on "
      + "Tuesday and approved the budget for the new park after a long debate.";
  private static final String CHOSEN = "The council approved the new park's budget on Tuesday after a long debate.";
  private static final String REJECTED = "There was a meeting about some things on a weekday.";

  private final Settings settings;
  private final Consumer<String> progress;
  private final AtomicLong ids = new AtomicLong();
  private final String run = Long.toString(System.currentTimeMillis(), 36);

  private IngestBenchmark(Settings settings, Consumer<String> progress) {
    this.settings = settings;
    this.progress = progress;
  }

  /** Starts what it needs (broker unless given, ingest), runs every phase, stops everything. */
  public static Figures run(Settings settings, Consumer<String> progress) throws Exception {
    return new IngestBenchmark(settings, progress).runAll();
  }

  private Figures runAll() throws Exception {
    EmbeddedKafkaBroker broker = null;
    String bootstrap = settings.bootstrapServers();
    if (bootstrap == null) {
      Files.createDirectories(settings.workDir());
      progress.accept("Starting an embedded Kafka broker in " + settings.workDir());
      broker = EmbeddedKafkaBroker.startOnFreePorts(settings.workDir());
      bootstrap = broker.bootstrapServers();
    }
    TopicsConfig topics = TopicsConfig.defaults();
    String topic = topics.feedback().name();
    try (Admin admin = Admin.create(Map.of("bootstrap.servers", bootstrap))) {
      TopicSetup.ensureTopics(admin, topics.all(), Duration.ofSeconds(30));
    }
    String key = ApiKeyBootstrap.newKey();
    IngestConfig config = settings.ingest()
        .withGrpc(new IngestConfig.Grpc(true, "127.0.0.1", 0))
        .withAuth(settings.ingest().auth().withApiKeys(List.of(
            new IngestConfig.ApiKey("bench", ApiKeyBootstrap.sha256Hex(key), Set.of("default")))));
    KafkaSettings kafka = new KafkaSettings(bootstrap, "127.0.0.1", 0, 0, Map.of());
    Vertx vertx = Vertx.vertx();
    try {
      Phase raw = rawProducer(IngestService.producerProperties(kafka, config), topic);

      PrometheusMeterRegistry registry = PrometheusMetrics.newRegistry();
      IngestService ingest = new IngestService(config, kafka, topic, registry);
      HttpHost host = new HttpHost(new HttpSettings("127.0.0.1", 0, Duration.ofSeconds(30)), registry, List.of(ingest));
      String deployment = vertx.deployVerticle(host).await(60, TimeUnit.SECONDS);
      try {
        HttpClient http = vertx.createHttpClient(new HttpClientOptions().setKeepAlive(true).setTcpNoDelay(true),
            new PoolOptions().setHttp1MaxSize(Math.max(settings.httpConnections(), settings.batchConnections())));
        RequestOptions post = new RequestOptions().setMethod(HttpMethod.POST).setHost("127.0.0.1")
            .setPort(host.actualPort()).setURI("/v1/comparisons")
            .putHeader("Authorization", "Bearer " + key);
        Supplier<Future<Integer>> single = () -> send(http, post, "application/json", Buffer.buffer(json(nextId())), 1);
        Supplier<Future<Integer>> batch = () -> send(http, post, "application/x-protobuf", batchBody(), settings.batchSize());
        GrpcClient grpc = GrpcClient.client(vertx);
        SocketAddress grpcAddress = SocketAddress.inetSocketAddress(ingest.grpcPort(), "127.0.0.1");
        Supplier<Future<Integer>> stream = () -> stream(grpc, grpcAddress, key);

        warmUp(vertx, single, batch, stream);
        Phase httpSingle = closedLoop(vertx, "HTTP single event (JSON), " + settings.httpConnections() + " connections",
            settings.httpConnections(), single);
        HttpServer noop = vertx.createHttpServer(new HttpServerOptions().setTcpNoDelay(true))
            .requestHandler(req -> req.body().onSuccess(b -> req.response().setStatusCode(202)
                .putHeader("Content-Type", "application/json").end("{\"accepted\":1,\"duplicates\":0}")))
            .listen(0, "127.0.0.1").await(30, TimeUnit.SECONDS);
        RequestOptions noopPost = new RequestOptions(post).setPort(noop.actualPort());
        Phase httpNoop = closedLoop(vertx, "calibration: no-op Vert.x server, same client, " + settings.httpConnections()
            + " connections", settings.httpConnections(),
            () -> send(http, noopPost, "application/json", Buffer.buffer(json(nextId())), 1));
        noop.close().await(30, TimeUnit.SECONDS);
        double halfRate = Math.max(1, httpSingle.requestsPerSecond() / 2);
        Phase halfRatePhase = openLoop(vertx, String.format("HTTP single event at half of peak (%.0f req/s)", halfRate),
            halfRate, single);
        Phase httpBatch = closedLoop(vertx, "HTTP batches of " + settings.batchSize() + " (protobuf), "
            + settings.batchConnections() + " connections", settings.batchConnections(), batch);
        Phase grpcStream = closedLoop(vertx, "gRPC client streams of " + settings.streamSize() + ", "
            + settings.grpcStreams() + " concurrent", settings.grpcStreams(), stream);
        http.close();
        grpc.close();
        // The raw producer again, last: the machine's load may have changed since the first run;
        // the better of the two is the baseline (the conservative choice for the ratio).
        Phase rawAgain = rawProducer(IngestService.producerProperties(kafka, config), topic);
        Phase rawBest = rawAgain.eventsPerSecond() > raw.eventsPerSecond() ? rawAgain : raw;
        return new Figures(rawBest, httpNoop, httpSingle, halfRatePhase, httpBatch, grpcStream);
      } finally {
        vertx.undeploy(deployment).await(60, TimeUnit.SECONDS);
      }
    } finally {
      vertx.close().await(60, TimeUnit.SECONDS);
      if (broker != null) {
        broker.close();
      }
    }
  }

  // --- phases ---

  /** The raw producer: as many sends as the buffer takes, for the phase's duration. */
  private Phase rawProducer(Properties props, String topic) throws Exception {
    String name = "raw KafkaProducer (acks=all, idempotent)";
    progress.accept("Running: " + name);
    Latencies latencies = new Latencies();
    AtomicLong acked = new AtomicLong();
    AtomicLong errors = new AtomicLong();
    AtomicBoolean measuring = new AtomicBoolean();
    // Bound outstanding sends so that send() never waits for buffer memory.
    Semaphore outstanding = new Semaphore(20_000);
    try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(props)) {
      long start = System.nanoTime();
      long measureFrom = start + settings.warmUp().toNanos();
      long end = measureFrom + settings.phase().toNanos();
      long measuredStart = 0;
      long cpuStart = 0;
      while (true) {
        long now = System.nanoTime();
        if (now >= end) {
          break;
        }
        if (!measuring.get() && now >= measureFrom) {
          measuring.set(true);
          measuredStart = now;
          cpuStart = processCpuNanos();
        }
        outstanding.acquire();
        Comparison c = comparison(nextId());
        long sent = System.nanoTime();
        producer.send(new ProducerRecord<>(topic, c.getEventId(), c.toByteArray()), (meta, err) -> {
          outstanding.release();
          if (!measuring.get()) {
            return;
          }
          if (err == null) {
            acked.incrementAndGet();
            latencies.record(System.nanoTime() - sent);
          } else {
            errors.incrementAndGet();
          }
        });
      }
      measuring.set(false);
      double seconds = (System.nanoTime() - measuredStart) / 1e9;
      long cpu = processCpuNanos() - cpuStart;
      producer.flush();
      return report(new Phase(name, acked.get() / seconds, acked.get() / seconds,
          latencies.percentileMillis(0.5), latencies.percentileMillis(0.99), acked.get(), errors.get(),
          cpu / 1e3 / Math.max(1, acked.get())));
    }
  }

  /** Every ingest path at once, unmeasured, so that the measured phases run compiled code. */
  private void warmUp(Vertx vertx, Supplier<Future<Integer>> single, Supplier<Future<Integer>> batch,
      Supplier<Future<Integer>> stream) throws InterruptedException {
    progress.accept("Warming up every ingest path for " + settings.warmUp().toSeconds() + " s");
    Window w = new Window();
    for (int i = 0; i < settings.httpConnections() / 2; i++) {
      vertx.runOnContext(v -> lane(w, single));
    }
    for (int i = 0; i < settings.batchConnections() / 2; i++) {
      vertx.runOnContext(v -> lane(w, batch));
    }
    for (int i = 0; i < settings.grpcStreams() / 2; i++) {
      vertx.runOnContext(v -> lane(w, stream));
    }
    Thread.sleep(settings.warmUp().toMillis());
    w.stopped.set(true);
    Thread.sleep(500);
  }

  /** {@code lanes} senders, each sending its next request as soon as the previous one is answered. */
  private Phase closedLoop(Vertx vertx, String name, int lanes, Supplier<Future<Integer>> request) throws InterruptedException {
    progress.accept("Running: " + name);
    Window w = new Window();
    for (int i = 0; i < lanes; i++) {
      vertx.runOnContext(v -> lane(w, request));
    }
    return w.measure(name);
  }

  private void lane(Window w, Supplier<Future<Integer>> request) {
    CLIENT_THREADS.add(Thread.currentThread().getId());
    if (w.stopped.get()) {
      w.finished.incrementAndGet();
      return;
    }
    long sent = System.nanoTime();
    request.get().onComplete(ar -> {
      w.completed(sent, sent, ar.succeeded() ? ar.result() : -1);
      lane(w, request);
    });
  }

  /** Requests on a fixed schedule of {@code rate} per second; latency counts from the scheduled time. */
  private Phase openLoop(Vertx vertx, String name, double rate, Supplier<Future<Integer>> request) throws InterruptedException {
    progress.accept("Running: " + name);
    Window w = new Window();
    long start = System.nanoTime();
    AtomicLong scheduled = new AtomicLong();
    AtomicInteger inFlight = new AtomicInteger();
    long timer = vertx.setPeriodic(1, id -> {
      CLIENT_THREADS.add(Thread.currentThread().getId());
      if (w.stopped.get()) {
        return;
      }
      long due = (long) ((System.nanoTime() - start) / 1e9 * rate);
      while (scheduled.get() < due && inFlight.get() < 50_000) {
        long intended = start + (long) (scheduled.getAndIncrement() / rate * 1e9);
        inFlight.incrementAndGet();
        request.get().onComplete(ar -> {
          inFlight.decrementAndGet();
          w.completed(intended, intended, ar.succeeded() ? ar.result() : -1);
        });
      }
    });
    Phase phase = w.measure(name);
    vertx.cancelTimer(timer);
    return phase;
  }

  /** The measured window of a phase: what completed inside it counts. */
  private final class Window {
    final AtomicBoolean stopped = new AtomicBoolean();
    final AtomicInteger finished = new AtomicInteger();
    final Latencies latencies = new Latencies();
    final AtomicLong events = new AtomicLong();
    final AtomicLong requests = new AtomicLong();
    final AtomicLong errors = new AtomicLong();
    volatile long from = Long.MAX_VALUE;
    volatile long to = Long.MAX_VALUE;

    void completed(long sentAt, long latencyFrom, int ackedEvents) {
      long now = System.nanoTime();
      if (sentAt < from || now > to) {
        return; // warm-up, or after the window
      }
      if (ackedEvents < 0) {
        errors.incrementAndGet();
        return;
      }
      requests.incrementAndGet();
      events.addAndGet(ackedEvents);
      latencies.record(now - latencyFrom);
    }

    Phase measure(String name) throws InterruptedException {
      Thread.sleep(PHASE_WARM_UP.toMillis()); // the load runs on Vert.x; this thread only keeps time
      long cpuStart = processCpuNanos();
      Map<String, Long> threadsBefore = threadCpuByGroup();
      from = System.nanoTime();
      to = from + settings.phase().toNanos();
      Thread.sleep(settings.phase().toMillis());
      long cpu = processCpuNanos() - cpuStart;
      Map<String, Long> threadsAfter = threadCpuByGroup();
      stopped.set(true);
      progress.accept("  CPU by thread group: " + cpuShares(threadsBefore, threadsAfter, cpu));
      double seconds = settings.phase().toNanos() / 1e9;
      Thread.sleep(500); // let the last requests drain before the next phase
      return report(new Phase(name, events.get() / seconds, requests.get() / seconds,
          latencies.percentileMillis(0.5), latencies.percentileMillis(0.99), events.get(), errors.get(),
          cpu / 1e3 / Math.max(1, events.get())));
    }
  }

  private Phase report(Phase p) {
    progress.accept(String.format("  %,.0f events/s, %,.0f req/s, p50 %.2f ms, p99 %.2f ms, %.1f µs CPU/event (%d errors)",
        p.eventsPerSecond(), p.requestsPerSecond(), p.p50Ms(), p.p99Ms(), p.cpuMicrosPerEvent(), p.errors()));
    return p;
  }

  /** CPU time per group of threads (names with digits folded: vert.x-eventloop-thread-N, …). */
  private static Map<String, Long> threadCpuByGroup() {
    java.lang.management.ThreadMXBean mx = java.lang.management.ManagementFactory.getThreadMXBean();
    Map<String, Long> out = new java.util.HashMap<>();
    for (java.lang.management.ThreadInfo info : mx.getThreadInfo(mx.getAllThreadIds())) {
      if (info == null) {
        continue;
      }
      long t = mx.getThreadCpuTime(info.getThreadId());
      if (t > 0) {
        String g = CLIENT_THREADS.contains(info.getThreadId()) ? "bench clients" : group(info.getThreadName());
        out.merge(g, t, Long::sum);
      }
    }
    return out;
  }

  private static String group(String thread) {
    if (thread.startsWith("vert.x-eventloop")) {
      return "server event loops";
    }
    if (thread.startsWith("kafka-producer-network-thread")) {
      return "producer I/O";
    }
    if (thread.startsWith("data-plane-kafka") || thread.startsWith("kafka-") || thread.contains("Kafka")
        || thread.startsWith("broker-") || thread.startsWith("controller-") || thread.startsWith("quorum")) {
      return "broker";
    }
    if (thread.startsWith("C1 ") || thread.startsWith("C2 ")) {
      return "JIT";
    }
    if (thread.startsWith("GC ") || thread.contains("GC")) {
      return "GC";
    }
    return "other";
  }

  private static String cpuShares(Map<String, Long> before, Map<String, Long> after, long total) {
    StringBuilder sb = new StringBuilder();
    after.entrySet().stream()
        .map(e -> Map.entry(e.getKey(), e.getValue() - before.getOrDefault(e.getKey(), 0L)))
        .filter(e -> e.getValue() > 0)
        .sorted(Map.Entry.<String, Long>comparingByValue().reversed())
        .forEach(e -> sb.append(String.format("%s %.0f%%, ", e.getKey(), 100.0 * e.getValue() / Math.max(1, total))));
    return sb.length() == 0 ? "n/a" : sb.substring(0, sb.length() - 2);
  }

  /** CPU time used by this whole process so far (every thread: clients, ingest, broker). */
  private static long processCpuNanos() {
    if (java.lang.management.ManagementFactory.getOperatingSystemMXBean()
        instanceof com.sun.management.OperatingSystemMXBean os) {
      return os.getProcessCpuTime();
    }
    return 0;
  }

  // --- requests ---

  private static Future<Integer> send(HttpClient http, RequestOptions post, String contentType, Buffer body, int events) {
    return http.request(new RequestOptions(post).putHeader("Content-Type", contentType))
        .compose(req -> req.send(body))
        .compose(resp -> resp.body().map(b -> resp.statusCode() == 202 ? events : -1));
  }

  private Future<Integer> stream(GrpcClient grpc, SocketAddress address, String key) {
    return grpc.request(address, STREAM).compose(call -> {
      call.headers().set("authorization", "Bearer " + key);
      for (int i = 0; i < settings.streamSize(); i++) {
        call.write(comparison(nextId()));
      }
      call.end();
      return call.response().compose(r -> r.last()).map(SubmitResponse::getAccepted);
    });
  }

  private Buffer batchBody() {
    ComparisonBatch.Builder b = ComparisonBatch.newBuilder();
    for (int i = 0; i < settings.batchSize(); i++) {
      b.addComparisons(comparison(nextId()));
    }
    return Buffer.buffer(b.build().toByteArray());
  }

  private String nextId() {
    return "bench-" + run + "-" + ids.incrementAndGet();
  }

  private static Comparison comparison(String id) {
    return Comparison.newBuilder().setEventId(id).setTenant("default").setProject("bench").setLabelerId("labeler-7")
        .setPrompt(PROMPT).setChosen(CHOSEN).setRejected(REJECTED).build();
  }

  private static String json(String id) {
    return "{\"event_id\":\"" + id + "\",\"tenant\":\"default\",\"project\":\"bench\",\"labeler_id\":\"labeler-7\","
        + "\"prompt\":\"" + PROMPT + "\",\"chosen\":\"" + CHOSEN + "\",\"rejected\":\"" + REJECTED + "\"}";
  }
}

package org.rlhfstream.reward;

import io.micrometer.core.instrument.MeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.healthchecks.HealthChecks;
import io.vertx.ext.healthchecks.Status;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import org.rlhfstream.model.RewardScorer;
import org.rlhfstream.platform.artifacts.ArtifactStore;
import org.rlhfstream.platform.config.KafkaSettings;
import org.rlhfstream.platform.http.HttpContribution;
import org.rlhfstream.platform.kafka.DeadLetters;
import org.rlhfstream.platform.kafka.TopicsConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The reward service: a trainer thread that learns from {@code rlhf.feedback.v1} and releases
 * reward models, and a scorer (in-process {@link RewardScorer}, and {@code POST /v1/scores}) that
 * answers with the newest release.
 *
 * <p>Files under the data directory: {@code reward/<name>/checkpoints/}, {@code reward/<name>/ledger/},
 * {@code artifacts/reward-models/<name>/<version>/}, {@code models/} (built-in base models).
 */
public final class RewardService implements HttpContribution {

  private static final Logger log = LoggerFactory.getLogger(RewardService.class);
  static final int MAX_SCORE_ITEMS = 256;
  static final int MAX_SCORE_BODY = 4 * 1024 * 1024;

  private final RewardConfig config;
  private final KafkaSettings kafka;
  private final TopicsConfig topics;
  private final Path dataDir;
  private final MeterRegistry registry;

  private PreferenceLearner learner;
  private DeadLetters deadLetters;
  private RewardReleases releases;
  private RewardTrainer trainer;
  private ReleasedScorer scorer;
  private Thread trainerThread;
  private volatile Throwable trainerFailure;
  private Vertx vertx;

  public RewardService(RewardConfig config, KafkaSettings kafka, TopicsConfig topics, Path dataDir, MeterRegistry registry) {
    this.config = config;
    this.kafka = kafka;
    this.topics = topics;
    this.dataDir = dataDir;
    this.registry = registry;
  }

  @Override
  public String name() {
    return "reward";
  }

  public Path checkpointDir() {
    return dataDir.resolve("reward").resolve(config.name()).resolve("checkpoints");
  }

  public Path ledgerDir() {
    return dataDir.resolve("reward").resolve(config.name()).resolve("ledger");
  }

  public ArtifactStore artifactStore() {
    return new ArtifactStore(dataDir.resolve("artifacts"));
  }

  /** Loads the model and the newest checkpoint (on a worker thread), then starts training. */
  @Override
  public Future<Void> start(Vertx vertx) {
    this.vertx = vertx;
    return vertx.<Void>executeBlocking(() -> {
      Properties client = kafka.clientProperties();
      scorer = new ReleasedScorer(config.model().device());
      learner = new PreferenceLearner(config, dataDir.resolve("models"));
      deadLetters = new DeadLetters(client, topics.feedbackDlq().name(), "reward:" + config.name(), config.deadLetterTimeout());
      ArtifactStore store = artifactStore();
      releases = new RewardReleases(config, store, learner, client, topics.rewardModels().name(),
          released -> scorer.load(released.folder(), config.name() + "@" + released.release().getVersion()));
      RewardMetrics metrics = new RewardMetrics(registry, config.name());
      TrainingLedger ledger = config.ledger() ? new TrainingLedger(ledgerDir()) : TrainingLedger.disabled();
      trainer = new RewardTrainer(config, client, topics.feedback().name(), deadLetters, learner,
          new Checkpoints(checkpointDir()), releases, ledger, metrics);
      trainer.restore();
      long released = trainer.state().releasedVersion;
      if (released > 0 && store.versions(RewardReleases.ARTIFACT_KIND, config.name()).contains(released)) {
        scorer.load(store.location(RewardReleases.ARTIFACT_KIND, config.name(), released), config.name() + "@" + released)
            .toCompletableFuture().join();
      }
      trainerThread = new Thread(this::runTrainer, "rlhf-reward-trainer");
      trainerThread.start();
      return null;
    }).onFailure(e -> closeQuietly());
  }

  private void runTrainer() {
    try {
      trainer.run();
    } catch (Throwable t) {
      trainerFailure = t;
    }
  }

  /** The in-process scorer the policy uses in the all-in-one mode. */
  public RewardScorer scorer() {
    return scorer;
  }

  @Override
  public void mount(Router router) {
    router.post("/v1/scores").handler(BodyHandler.create().setBodyLimit(MAX_SCORE_BODY)).handler(this::handleScores);
    router.get("/v1/reward/status").handler(this::handleStatus);
  }

  private void handleScores(RoutingContext ctx) {
    List<RewardScorer.Pair> pairs;
    try {
      pairs = parsePairs(ctx.body().asJsonObject());
    } catch (DecodeException | ClassCastException e) {
      badRequest(ctx, "body", "must be a JSON object {\"items\": [{\"prompt\": …, \"response\": …}, …]}");
      return;
    } catch (IllegalArgumentException e) {
      String[] fieldAndRule = e.getMessage().split(": ", 2);
      badRequest(ctx, fieldAndRule[0], fieldAndRule[1]);
      return;
    }
    if (!scorer.ready()) {
      ctx.response().setStatusCode(503).putHeader("Retry-After", "30")
          .putHeader("content-type", "application/json")
          .end(new JsonObject().put("error", "no reward model has been released yet").encode());
      return;
    }
    // Scoring runs on the scorer's thread; the reply is written back on this request's event loop.
    io.vertx.core.Context requestContext = ctx.vertx().getOrCreateContext();
    scorer.score(pairs).whenComplete((scores, err) -> requestContext.runOnContext(v -> {
      if (err != null) {
        ctx.response().setStatusCode(500).putHeader("content-type", "application/json")
            .end(new JsonObject().put("error", String.valueOf(err.getMessage())).encode());
        return;
      }
      ReleasedScorer.RunningStats s = scorer.stats();
      double mean = s.mean();
      double std = s.std();
      JsonArray raw = new JsonArray();
      JsonArray normalized = new JsonArray();
      for (float x : scores.scores()) {
        raw.add(x);
        normalized.add((x - mean) / (std + 1e-8));
      }
      ctx.response().putHeader("content-type", "application/json").end(new JsonObject()
          .put("model", scores.rewardModelVersion())
          .put("scores", raw)
          .put("normalized", normalized)
          .put("running_mean", mean)
          .put("running_std", std)
          .encode());
    }));
  }

  static List<RewardScorer.Pair> parsePairs(JsonObject body) {
    if (body == null) {
      throw new IllegalArgumentException("body: must be a JSON object with \"items\"");
    }
    JsonArray items = body.getJsonArray("items");
    if (items == null || items.isEmpty()) {
      throw new IllegalArgumentException("items: must be a non-empty array");
    }
    if (items.size() > MAX_SCORE_ITEMS) {
      throw new IllegalArgumentException("items: at most " + MAX_SCORE_ITEMS + " per request (got " + items.size() + ")");
    }
    List<RewardScorer.Pair> pairs = new ArrayList<>(items.size());
    for (int i = 0; i < items.size(); i++) {
      JsonObject item = items.getJsonObject(i);
      String prompt = item == null ? null : item.getString("prompt");
      String response = item == null ? null : item.getString("response");
      if (prompt == null) {
        throw new IllegalArgumentException("items[" + i + "].prompt: is required (a string)");
      }
      if (response == null || response.isEmpty()) {
        throw new IllegalArgumentException("items[" + i + "].response: is required (a non-empty string)");
      }
      pairs.add(new RewardScorer.Pair(prompt, response));
    }
    return pairs;
  }

  private static void badRequest(RoutingContext ctx, String field, String rule) {
    ctx.response().setStatusCode(400).putHeader("content-type", "application/json")
        .end(new JsonObject().put("error", "invalid request").put("field", field).put("rule", rule).encode());
  }

  private void handleStatus(RoutingContext ctx) {
    TrainerState s = trainer.state();
    ctx.response().putHeader("content-type", "application/json").end(new JsonObject()
        .put("name", config.name())
        .put("step", s.step)
        .put("comparisons_trained", s.comparisonsTrained)
        .put("held_out", s.heldOut.size())
        .put("best_held_out_accuracy", s.bestAccuracy)
        .put("released_version", s.releasedVersion)
        .put("duplicates", s.duplicates)
        .put("dead_lettered", s.deadLettered)
        .put("trainer", trainerFailure != null ? "failed: " + trainerFailure
            : trainer.deadLetterBlocked() ? "waiting for the dead-letter topic" : "running")
        .encode());
  }

  @Override
  public void registerReadiness(HealthChecks readiness) {
    readiness.register("reward-trainer", promise -> {
      Throwable failure = trainerFailure;
      boolean alive = trainerThread != null && trainerThread.isAlive();
      promise.complete(failure == null && alive ? Status.OK()
          : Status.KO(new JsonObject().put("error", failure == null ? "trainer not running" : failure.toString())));
    });
  }

  /** Stops the trainer after its current step (writing a final checkpoint), then frees everything. */
  @Override
  public Future<Void> stop() {
    return vertx.<Void>executeBlocking(() -> {
      stopTrainer(true);
      closeQuietly();
      return null;
    });
  }

  /** Stops the trainer thread; {@code cleanly=false} skips the final checkpoint, as a crash would. */
  void stopTrainer(boolean cleanly) throws InterruptedException {
    if (trainer != null) {
      if (cleanly) {
        trainer.close();
      } else {
        trainer.abandon();
      }
    }
    if (trainerThread != null) {
      trainerThread.join(Duration.ofMinutes(2).toMillis());
    }
  }

  RewardTrainer trainer() {
    return trainer;
  }

  private void closeQuietly() {
    for (AutoCloseable c : new AutoCloseable[] {releases, deadLetters, scorer, learner}) {
      if (c != null) {
        try {
          c.close();
        } catch (Exception e) {
          log.warn("error while closing {}: {}", c.getClass().getSimpleName(), e.toString());
        }
      }
    }
  }
}

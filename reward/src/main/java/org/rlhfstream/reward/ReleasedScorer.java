package org.rlhfstream.reward;

import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.rlhfstream.model.DecoderModel;
import org.rlhfstream.model.ModelOptions;
import org.rlhfstream.model.RewardScorer;
import org.rlhfstream.model.SequenceScorer;
import org.rlhfstream.model.TextTokenizer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Scores with the newest released reward model, exactly as {@code rlhf score} would with the
 * released folder: the training weights move every step, releases do not. Runs on its own thread
 * (DJL inference must not run on an event loop); a new release is loaded there and swapped in
 * between batches.
 */
final class ReleasedScorer implements RewardScorer, AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(ReleasedScorer.class);

  private final ExecutorService thread = Executors.newSingleThreadExecutor(r -> {
    Thread t = new Thread(r, "rlhf-reward-scorer");
    t.setDaemon(true);
    return t;
  });
  private final String device;

  // Touched only on the scorer thread.
  private DecoderModel model;
  private TextTokenizer tokenizer;
  private RewardText text;
  private volatile String version;
  private final RunningStats stats = new RunningStats();

  /** Mean and standard deviation of the scores given by the current version (Welford). */
  static final class RunningStats {
    private long n;
    private double mean;
    private double m2;

    synchronized void add(double x) {
      n++;
      double d = x - mean;
      mean += d / n;
      m2 += d * (x - mean);
    }

    synchronized void reset() {
      n = 0;
      mean = 0;
      m2 = 0;
    }

    synchronized long count() {
      return n;
    }

    synchronized double mean() {
      return mean;
    }

    synchronized double std() {
      return n < 2 ? 1.0 : Math.sqrt(m2 / (n - 1));
    }
  }

  ReleasedScorer(String device) {
    this.device = device;
  }

  /** Loads a released folder and makes it the model that scores. */
  CompletionStage<Void> load(Path folder, String versionLabel) {
    return CompletableFuture.runAsync(() -> {
      try {
        JsonObject meta = new JsonObject(Files.readString(folder.resolve(PreferenceLearner.REWARD_JSON), StandardCharsets.UTF_8));
        DecoderModel next = DecoderModel.load(folder, new ModelOptions(device, ai.djl.ndarray.types.DataType.FLOAT32, null));
        TextTokenizer nextTokenizer = TextTokenizer.load(folder);
        close(model, tokenizer);
        model = next;
        tokenizer = nextTokenizer;
        text = new RewardText(meta.getString("template"), meta.getInteger("max_tokens"));
        version = versionLabel;
        stats.reset();
        log.info("Scoring with reward model {}", versionLabel);
      } catch (IOException e) {
        throw new IllegalStateException("cannot load reward model " + folder + ": " + e.getMessage(), e);
      }
    }, thread);
  }

  @Override
  public CompletionStage<Scores> score(List<Pair> pairs) {
    return CompletableFuture.supplyAsync(() -> {
      if (model == null) {
        throw new IllegalStateException("no reward model has been released yet");
      }
      List<int[]> sequences = new ArrayList<>(pairs.size());
      for (Pair p : pairs) {
        sequences.add(text.tokens(tokenizer, model.config().maxPositions(), p.prompt(), p.response()));
      }
      float[] s = SequenceScorer.score(model, sequences, false);
      List<Float> out = new ArrayList<>(s.length);
      for (float x : s) {
        out.add(x);
        stats.add(x);
      }
      return new Scores(out, version);
    }, thread);
  }

  RunningStats stats() {
    return stats;
  }

  boolean ready() {
    return version != null;
  }

  /** {@code name@version} of the model that scores now, or null before the first release. */
  String version() {
    return version;
  }

  private static void close(DecoderModel m, TextTokenizer t) {
    if (t != null) {
      t.close();
    }
    if (m != null) {
      m.close();
    }
  }

  @Override
  public void close() {
    thread.execute(() -> close(model, tokenizer));
    thread.shutdown();
    try {
      thread.awaitTermination(30, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}

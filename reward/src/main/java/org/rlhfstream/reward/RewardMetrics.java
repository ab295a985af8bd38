package org.rlhfstream.reward;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.rlhfstream.proto.v1.Comparison;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.rlhfstream.proto.v1.HeldOutMetrics;

/** The reward service's Prometheus metrics ({@code rlhf_reward_*}). */
final class RewardMetrics {

  private final MeterRegistry registry;
  private final Counter steps;
  private final Counter trained;
  private final Counter duplicates;
  private final Counter deadLetters;
  private final AtomicReference<Double> loss = new AtomicReference<>(Double.NaN);
  private final AtomicReference<Double> accuracy = new AtomicReference<>(Double.NaN);
  private final AtomicReference<Double> heldOutAccuracy = new AtomicReference<>(Double.NaN);
  private final AtomicReference<Double> heldOutLoss = new AtomicReference<>(Double.NaN);
  private final AtomicLong lag = new AtomicLong();
  private final AtomicLong failures = new AtomicLong();
  private final Timer endToEnd;

  RewardMetrics(MeterRegistry registry, String name) {
    this.registry = registry;
    steps = Counter.builder("rlhf_reward_steps").tag("model", name).description("Optimizer steps taken").register(registry);
    trained = Counter.builder("rlhf_reward_comparisons_trained").tag("model", name)
        .description("Comparisons trained on for the first time").register(registry);
    duplicates = Counter.builder("rlhf_reward_duplicates").tag("model", name)
        .description("Comparisons skipped because their event id was already used").register(registry);
    deadLetters = Counter.builder("rlhf_reward_dead_letters").tag("model", name)
        .description("Records sent to the dead-letter topic").register(registry);
    Gauge.builder("rlhf_reward_train_loss", loss, AtomicReference::get).tag("model", name).register(registry);
    Gauge.builder("rlhf_reward_train_accuracy", accuracy, AtomicReference::get).tag("model", name).register(registry);
    Gauge.builder("rlhf_reward_heldout_accuracy", heldOutAccuracy, AtomicReference::get).tag("model", name).register(registry);
    Gauge.builder("rlhf_reward_heldout_loss", heldOutLoss, AtomicReference::get).tag("model", name).register(registry);
    Gauge.builder("rlhf_reward_lag_records", lag, AtomicLong::get).tag("model", name)
        .description("Records between the trained position and the end of the feedback topic").register(registry);
    Gauge.builder("rlhf_reward_trainer_failures", failures, AtomicLong::get).tag("model", name).register(registry);
    endToEnd = Timer.builder("rlhf_reward_end_to_end_lag")
        .tag("model", name)
        .description("From a comparison's created_at to the end of the step that first trained on it")
        .publishPercentiles(0.5, 0.9, 0.99)
        .register(registry);
  }

  Timer endToEndLag() {
    return endToEnd;
  }

  void bind(RewardTrainer trainer) {
    Gauge.builder("rlhf_reward_waiting_records", trainer, RewardTrainer::waiting)
        .description("Records consumed and not yet handled").register(registry);
  }

  void stepped(PreferenceLearner.StepStats stats, List<Comparison> fresh) {
    steps.increment();
    trained.increment(fresh.size());
    long nowMillis = System.currentTimeMillis();
    for (Comparison c : fresh) {
      if (c.hasCreatedAt()) {
        long created = c.getCreatedAt().getSeconds() * 1000 + c.getCreatedAt().getNanos() / 1_000_000;
        endToEnd.record(Math.max(0, nowMillis - created), TimeUnit.MILLISECONDS);
      }
    }
    loss.set((double) stats.loss());
    accuracy.set((double) stats.accuracy());
  }

  void evaluated(HeldOutMetrics m) {
    heldOutAccuracy.set(m.getAccuracy());
    heldOutLoss.set(m.getLoss());
  }

  void duplicate() {
    duplicates.increment();
  }

  void deadLettered() {
    deadLetters.increment();
  }

  void lag(long records) {
    lag.set(records);
  }

  void failed(Throwable t) {
    failures.incrementAndGet();
  }
}

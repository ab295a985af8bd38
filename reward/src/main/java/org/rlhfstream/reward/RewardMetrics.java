package org.rlhfstream.reward;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
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
  }

  void bind(RewardTrainer trainer) {
    Gauge.builder("rlhf_reward_waiting_comparisons", trainer, RewardTrainer::waiting).register(registry);
  }

  void stepped(PreferenceLearner.StepStats stats, int fresh) {
    steps.increment();
    trained.increment(fresh);
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

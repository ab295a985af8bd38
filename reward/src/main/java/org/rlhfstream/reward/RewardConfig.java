package org.rlhfstream.reward;

import java.time.Duration;
import java.util.List;
import org.rlhfstream.model.train.LrSchedule;
import org.rlhfstream.platform.config.ConfigNode;

/**
 * The {@code reward:} section: what model to train, how, and when to checkpoint and release.
 *
 * @param enabled whether {@code rlhf up} runs the reward service
 * @param name the reward model's name: release topic key and artifact folder
 * @param model where training starts from and how text becomes tokens
 * @param training optimisation settings
 * @param heldOut the evaluation split
 * @param checkpoint how often state is saved
 * @param release when a new version is published
 * @param consumerGroup Kafka consumer group of the trainer (default {@code rlhf-reward.<name>})
 * @param logEvery interval of the progress log line
 * @param ledger keep an audit file of the event ids each checkpoint trained on
 * @param deadLetterTimeout how long one write to the dead-letter topic may take before training
 *     waits and retries (records behind a dead letter are never handled before it)
 */
public record RewardConfig(
    boolean enabled,
    String name,
    ModelSpec model,
    Training training,
    HeldOut heldOut,
    Checkpoint checkpoint,
    Release release,
    String consumerGroup,
    Duration logEvery,
    boolean ledger,
    Duration deadLetterTimeout) {

  /**
   * @param base an HF folder (a {@code *ForSequenceClassification} checkpoint, or a causal LM that
   *     gets a fresh score head), or {@code builtin:tiny} for the built-in tiny model
   * @param device {@code cpu} or {@code gpu} (the first CUDA device)
   * @param maxTokens longest input; longer texts lose their beginning (the response end is kept)
   * @param template how prompt and response become one text; {@code {prompt}} and {@code {response}}
   */
  public record ModelSpec(String base, String device, int maxTokens, String template) {}

  /**
   * @param mode {@code full} (every weight) or {@code lora} (LoRA adapters + the score head)
   * @param loraRank LoRA rank r
   * @param loraAlpha LoRA alpha (scale alpha/r, or alpha/√r with rsLoRA)
   * @param loraDropout dropout on the LoRA input during training
   * @param loraTargets module names that get adapters
   * @param rsLora rank-stabilised scaling
   * @param batchSize comparisons per optimizer step
   * @param microBatchSize comparisons per forward/backward; batch/micro steps of gradient accumulation
   * @param learningRate peak learning rate
   * @param weightDecay AdamW decoupled weight decay (matrices only)
   * @param warmupSteps linear warm-up from 0
   * @param schedule {@code constant}, {@code linear} or {@code cosine} decay after warm-up
   * @param decaySteps length of the decay (a stream has no end; after it the rate stays at the floor)
   * @param minLrRatio the floor, as a fraction of the peak rate
   * @param maxGradNorm clip the global gradient norm to this (0 = off)
   * @param replayFraction share of each batch drawn from recent comparisons already trained on
   * @param replayCapacity how many recent comparisons the replay buffer keeps
   * @param centerRewards coefficient of the reward-centering term η·(r_chosen + r_rejected)²
   * @param marginScale margin m = marginScale · strength in −log σ(d − m) (strength absent: m = 0)
   * @param maxWait train a partial batch once the oldest waiting comparison is this old
   * @param seed seeds the score head, LoRA init, dropout and replay sampling
   */
  public record Training(
      String mode, int loraRank, double loraAlpha, double loraDropout, List<String> loraTargets, boolean rsLora,
      int batchSize, int microBatchSize, double learningRate, double weightDecay, int warmupSteps,
      String schedule, int decaySteps, double minLrRatio, double maxGradNorm,
      double replayFraction, int replayCapacity, double centerRewards, double marginScale, Duration maxWait, long seed) {

    /** Warm-up, then the configured decay down to the floor, then the floor. */
    public LrSchedule lrSchedule() {
      double floor = learningRate * minLrRatio;
      return switch (schedule) {
        case "linear" -> LrSchedule.warmupLinear(learningRate, warmupSteps, (long) warmupSteps + decaySteps, floor);
        case "cosine" -> LrSchedule.warmupCosine(learningRate, warmupSteps, (long) warmupSteps + decaySteps, floor);
        default -> LrSchedule.warmupLinear(learningRate, warmupSteps, warmupSteps, learningRate);
      };
    }

    public int accumulationSteps() {
      return (batchSize + microBatchSize - 1) / microBatchSize;
    }

    /** New comparisons per batch once the replay buffer is warm; at least one. */
    public int newPerBatch() {
      return Math.max(1, (int) Math.round(batchSize * (1 - replayFraction)));
    }
  }

  /**
   * @param fraction share of events kept out of training, chosen by a hash of the event id
   * @param capacity most recent held-out comparisons kept for evaluation
   * @param evalEverySteps evaluate after this many optimizer steps …
   * @param evalEvery … or once this much time has passed with at least one step since the last
   *     evaluation (a slow stream of human labels still gets evaluated and released)
   * @param minExamples no evaluation (and so no release) with fewer held-out comparisons
   */
  public record HeldOut(double fraction, int capacity, int evalEverySteps, Duration evalEvery, int minExamples) {}

  /**
   * @param everySteps save after this many optimizer steps
   * @param every … or after this much time with unsaved progress
   * @param keep newest checkpoints kept (the best one is kept as well)
   */
  public record Checkpoint(int everySteps, Duration every, int keep) {}

  /**
   * @param when {@code improved}: on a new best held-out accuracy; {@code every}: every N steps
   * @param everySteps N for {@code every}
   */
  public record Release(String when, int everySteps) {}

  public static RewardConfig from(ConfigNode node) {
    ConfigNode m = node.section("model");
    ConfigNode t = node.section("training");
    ConfigNode h = node.section("held-out");
    ConfigNode c = node.section("checkpoint");
    ConfigNode r = node.section("release");

    String template = m.string("template", "{prompt}\n{response}");
    if (!template.contains("{prompt}") || !template.contains("{response}")) {
      m.problem("template", "must contain both {prompt} and {response}");
      template = "{prompt}\n{response}";
    }
    String name = node.string("name", "reward");
    if (!name.matches("[A-Za-z0-9][A-Za-z0-9._-]{0,127}")) {
      node.problem("name", "must be 1–128 of letters, digits, '.', '_', '-' starting with a letter or digit");
      name = "reward";
    }
    Training training = new Training(
        t.choice("mode", "full", "full", "lora"),
        t.integer("lora-rank", 8, 1, 1024),
        t.number("lora-alpha", 16, 0, 1e6),
        t.number("lora-dropout", 0.0, 0, 0.9),
        t.strings("lora-targets", List.of("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")),
        t.bool("rslora", false),
        t.integer("batch-size", 16, 1, 4096),
        t.integer("micro-batch-size", 8, 1, 4096),
        t.number("learning-rate", 3e-4, 1e-12, 1),
        t.number("weight-decay", 0.0, 0, 1),
        t.integer("warmup-steps", 10, 0, 1_000_000),
        t.choice("schedule", "cosine", "constant", "linear", "cosine"),
        t.integer("decay-steps", 10_000, 1, Integer.MAX_VALUE),
        t.number("min-lr-ratio", 0.1, 0, 1),
        t.number("max-grad-norm", 1.0, 0, 1e6),
        t.number("replay-fraction", 0.25, 0, 0.95),
        t.integer("replay-capacity", 4096, 1, 10_000_000),
        t.number("center-rewards", 0.0, 0, 10),
        t.number("margin-scale", 1.0, 0, 100),
        t.duration("max-wait", Duration.ofSeconds(2)),
        t.longValue("seed", 42, Long.MIN_VALUE, Long.MAX_VALUE));
    if (training.microBatchSize() > training.batchSize()) {
      t.problem("micro-batch-size", "must not exceed batch-size (" + training.batchSize() + ")");
    }
    return new RewardConfig(
        node.bool("enabled", true),
        name,
        new ModelSpec(
            m.string("base", "builtin:tiny"),
            m.choice("device", "cpu", "cpu", "gpu"),
            m.integer("max-tokens", 256, 8, 1 << 20),
            template),
        training,
        new HeldOut(
            h.number("fraction", 0.1, 0.0, 0.9),
            h.integer("capacity", 2000, 1, 1_000_000),
            h.integer("eval-every-steps", 50, 1, Integer.MAX_VALUE),
            h.duration("eval-every", Duration.ofMinutes(2)),
            h.integer("min-examples", 10, 1, 1_000_000)),
        new Checkpoint(
            c.integer("every-steps", 50, 1, Integer.MAX_VALUE),
            c.duration("every", Duration.ofMinutes(2)),
            c.integer("keep", 3, 1, 1000)),
        new Release(
            r.choice("when", "improved", "improved", "every"),
            r.integer("every-steps", 200, 1, Integer.MAX_VALUE)),
        node.string("consumer-group", "rlhf-reward." + name),
        node.duration("log-every", Duration.ofSeconds(10)),
        node.bool("ledger", true),
        node.duration("dead-letter-timeout", Duration.ofSeconds(30)));
  }

  /** How prompt and response become the model's input. */
  RewardText text() {
    return new RewardText(model.template(), model.maxTokens());
  }
}

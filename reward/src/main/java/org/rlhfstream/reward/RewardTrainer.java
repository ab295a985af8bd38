package org.rlhfstream.reward;

import com.google.protobuf.InvalidProtocolBufferException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.SplittableRandom;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.rlhfstream.platform.kafka.DeadLetters;
import org.rlhfstream.model.train.LrSchedule;
import org.rlhfstream.proto.v1.Comparison;
import org.rlhfstream.proto.v1.HeldOutMetrics;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The reward service's training loop, on its own thread: consume comparisons, split off the
 * held-out set, train the reward model in batches (new comparisons mixed with replayed recent
 * ones), evaluate, checkpoint, and release.
 *
 * <p>Exactly-once training per lineage: the consumed offsets live in the checkpoint together
 * with the weights. On start the newest checkpoint is loaded and the consumer seeks to its
 * offsets, so a crash replays exactly the comparisons whose training was lost with it.
 */
final class RewardTrainer implements Runnable, AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(RewardTrainer.class);
  private static final Duration PARTITION_REFRESH = Duration.ofSeconds(30);
  private static final Duration DEAD_LETTER_RETRY = Duration.ofSeconds(5);

  private final RewardConfig config;
  private final Properties kafkaClient;
  private final String topic;
  private final DeadLetters deadLetters;
  private final PreferenceLearner learner;
  private final Checkpoints checkpoints;
  private final RewardReleases releases;
  private final TrainingLedger ledger;
  private final RewardMetrics metrics;

  private final LrSchedule schedule;
  private TrainerState state;
  private SplittableRandom replayRandom;
  /** Comparisons consumed and waiting for a batch, in offset order per partition. */
  private final Deque<Pending> pending = new ArrayDeque<>();
  /** Next offset to read, per partition, as the consumer has advanced (≥ state.offsets). */
  private final Map<Integer, Long> readUpTo = new HashMap<>();
  private final Set<String> pendingIds = new java.util.HashSet<>();
  private int waitingToTrain;
  private volatile long deadLetterRetryAt;
  private long lastEvalStep;
  private long lastEvalNanos = System.nanoTime();
  private final List<String> trainedSinceCheckpoint = new ArrayList<>();

  private volatile boolean closed;
  private volatile boolean stoppedCleanly = true;
  private volatile KafkaConsumer<byte[], byte[]> consumer;
  private long lastSavedStep = -1;
  private Map<Integer, Long> savedOffsets = Map.of();
  private long lastSaveNanos = System.nanoTime();
  private long lastLogNanos = System.nanoTime();
  private long trainedAtLastLog;
  private HeldOutMetrics lastEval = HeldOutMetrics.getDefaultInstance();
  private double lastLoss = Double.NaN;

  /** What a consumed record turned out to be; acted on when it reaches the head of the queue. */
  private enum Kind { TRAIN, HELD_OUT, DUPLICATE, DEAD_LETTER }

  /**
   * A consumed record waiting its turn. Records are handled strictly in arrival order, so the
   * handled ones of each partition form a prefix and the checkpoint's offset (the first one still
   * waiting) is exact: after a crash nothing is held out, dead-lettered or trained twice.
   */
  private record Pending(Kind kind, Comparison comparison, ConsumerRecord<byte[], byte[]> record, String reason,
      long arrivedNanos) {
    int partition() {
      return record.partition();
    }

    long offset() {
      return record.offset();
    }
  }

  RewardTrainer(RewardConfig config, Properties kafkaClient, String topic, DeadLetters deadLetters,
      PreferenceLearner learner, Checkpoints checkpoints, RewardReleases releases, TrainingLedger ledger,
      RewardMetrics metrics) {
    this.config = config;
    this.kafkaClient = kafkaClient;
    this.topic = topic;
    this.deadLetters = deadLetters;
    this.learner = learner;
    this.checkpoints = checkpoints;
    this.releases = releases;
    this.ledger = ledger;
    this.metrics = metrics;
    this.schedule = config.training().lrSchedule();
  }

  /** Loads the newest checkpoint (or starts fresh); runs on the caller's thread before {@link #run}. */
  void restore() {
    checkpoints.lock();
    var latest = checkpoints.latest();
    if (latest.isEmpty()) {
      state = new TrainerState(topic, config.heldOut().capacity(), config.training().replayCapacity());
      log.info("Reward model '{}': no checkpoint in {}, starting from {}", config.name(), checkpoints.dir(), config.model().base());
    } else {
      Path dir = latest.get();
      try {
        state = TrainerState.readFrom(dir, config.heldOut().capacity(), config.training().replayCapacity());
        learner.loadState(dir.resolve("learner"));
      } catch (IOException e) {
        throw new UncheckedIOException("cannot resume from checkpoint " + dir + ": " + e.getMessage(), e);
      }
      if (!topic.equals(state.topic)) {
        throw new IllegalStateException("checkpoint " + dir + " consumed topic " + state.topic + " but the service reads " + topic
            + "; use a new reward name (reward.name) for a new lineage");
      }
      lastSavedStep = state.step;
      log.info("Reward model '{}': resumed at step {} ({} comparisons trained, offsets {})", config.name(), state.step,
          state.comparisonsTrained, state.offsets);
    }
    ledger.truncateAfter(state.step);
    readUpTo.putAll(state.offsets);
    replayRandom = new SplittableRandom(config.training().seed() ^ state.step);
    releases.recoverVersion(state);
    metrics.bind(this);
  }

  @Override
  public void run() {
    try {
      consumeAndTrain();
    } finally {
      checkpoints.unlock();
    }
  }

  private void consumeAndTrain() {
    Properties p = new Properties();
    p.putAll(kafkaClient);
    p.put("key.deserializer", ByteArrayDeserializer.class.getName());
    p.put("value.deserializer", ByteArrayDeserializer.class.getName());
    p.put("group.id", config.consumerGroup());
    // Offsets are committed only so that lag tools can see the group; the checkpoint is the truth.
    p.put("enable.auto.commit", "false");
    // A lineage with no checkpoint starts from the oldest comparison kept in the topic.
    p.put("auto.offset.reset", "earliest");
    // Only comparisons of committed producer transactions.
    p.put("isolation.level", "read_committed");
    p.put("max.poll.records", "500");
    try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(p)) {
      consumer = c;
      assignPartitions(c);
      long lastPartitionCheck = System.nanoTime();
      while (!closed) {
        if (System.nanoTime() - lastPartitionCheck > PARTITION_REFRESH.toNanos()) {
          assignPartitions(c);
          lastPartitionCheck = System.nanoTime();
        }
        for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(200))) {
          route(r);
        }
        pauseIfBehind(c);
        trainWhileReady();
        maybeCheckpoint(false);
        maybeLog(c);
      }
    } catch (WakeupException e) {
      if (!closed) {
        throw e;
      }
    } catch (RuntimeException e) {
      log.error("Reward trainer stopped: {}", e.toString(), e);
      metrics.failed(e);
      throw e;
    } finally {
      consumer = null;
    }
    if (stoppedCleanly) {
      drainHead();
      maybeCheckpoint(true);
    }
  }

  /** Classifies one record (poison, duplicate, held-out, training material) and queues it. */
  private void route(ConsumerRecord<byte[], byte[]> record) {
    readUpTo.put(record.partition(), record.offset() + 1);
    long now = System.nanoTime();
    Comparison c;
    try {
      c = Comparison.parseFrom(record.value() == null ? new byte[0] : record.value());
    } catch (InvalidProtocolBufferException e) {
      pending.addLast(new Pending(Kind.DEAD_LETTER, null, record,
          "undecodable: not a rlhf.v1.Comparison (" + e.getMessage() + ")", now));
      return;
    }
    String problem = ComparisonRules.problem(c);
    if (problem != null) {
      pending.addLast(new Pending(Kind.DEAD_LETTER, c, record, "invalid comparison: " + problem, now));
      return;
    }
    String id = c.getEventId();
    Kind kind;
    if (state.seen.contains(id) || !pendingIds.add(id)) {
      kind = Kind.DUPLICATE;
    } else if (EventIds.isHeldOut(id, config.heldOut().fraction())) {
      kind = Kind.HELD_OUT;
    } else {
      kind = Kind.TRAIN;
      waitingToTrain++;
    }
    pending.addLast(new Pending(kind, c, record, null, now));
  }

  /** Handles every record at the head of the queue that needs no training step. */
  private void drainHead() {
    while (!pending.isEmpty() && pending.peekFirst().kind() != Kind.TRAIN && tryHandle(pending.peekFirst())) {
      pending.pollFirst();
    }
    syncOffsets();
  }

  /**
   * Acts on a record that needs no training step. Returns false when it cannot be done now (the
   * dead-letter topic does not acknowledge): the record stays at the head, and everything behind
   * it waits, because offsets must never pass a record that was not handled.
   */
  private boolean tryHandle(Pending x) {
    switch (x.kind()) {
      case DEAD_LETTER -> {
        if (System.nanoTime() < deadLetterRetryAt) {
          return false;
        }
        try {
          deadLetters.send(x.record(), x.reason());
        } catch (IllegalStateException e) {
          deadLetterRetryAt = System.nanoTime() + DEAD_LETTER_RETRY.toNanos();
          log.warn("Cannot write to the dead-letter topic ({}); training waits and retries in {} s",
              e.getMessage(), DEAD_LETTER_RETRY.toSeconds());
          return false;
        }
        deadLetterRetryAt = 0;
        state.deadLettered++;
        metrics.deadLettered();
        log.warn("Comparison at {}-{}@{} sent to the DLQ: {}", x.record().topic(), x.partition(), x.offset(), x.reason());
      }
      case DUPLICATE -> {
        state.duplicates++;
        metrics.duplicate();
      }
      case HELD_OUT -> {
        String id = x.comparison().getEventId();
        pendingIds.remove(id);
        state.seen.add(id);
        state.heldOut.add(x.comparison());
        state.heldOutSeen++;
      }
      case TRAIN -> throw new IllegalStateException("training records are handled by a step");
    }
    return true;
  }

  /** Each partition's offset becomes its first record still waiting, or everything read. */
  private void syncOffsets() {
    Map<Integer, Long> firstWaiting = new HashMap<>();
    for (Pending x : pending) {
      firstWaiting.putIfAbsent(x.partition(), x.offset());
    }
    for (var e : readUpTo.entrySet()) {
      state.offsets.put(e.getKey(), firstWaiting.getOrDefault(e.getKey(), e.getValue()));
    }
  }

  /** Bounds memory: stop fetching while several batches are already waiting. */
  private void pauseIfBehind(KafkaConsumer<byte[], byte[]> c) {
    boolean behind = pending.size() >= 4 * config.training().batchSize() + 500;
    Set<TopicPartition> assigned = c.assignment();
    if (behind) {
      c.pause(assigned);
    } else if (!c.paused().isEmpty()) {
      c.resume(c.paused());
    }
  }

  private void trainWhileReady() {
    RewardConfig.Training t = config.training();
    drainHead();
    while (!closed && waitingToTrain > 0) {
      int wanted = state.replay.size() == 0 ? t.batchSize() : t.newPerBatch();
      boolean full = waitingToTrain >= wanted;
      boolean waitedLongEnough = System.nanoTime() - pending.peekFirst().arrivedNanos() >= t.maxWait().toNanos();
      if (!full && !waitedLongEnough) {
        return;
      }
      if (!trainOneBatch(Math.min(wanted, waitingToTrain))) {
        return; // a dead letter blocks the head: retried on a later pass
      }
      maybeEvaluateAndRelease();
    }
  }

  /**
   * Takes up to {@code newCount} training comparisons off the queue in order (handling what lies
   * between them), adds replays, and takes one optimizer step.
   *
   * @return false when nothing could be trained because a record ahead cannot be handled yet
   */
  private boolean trainOneBatch(int newCount) {
    RewardConfig.Training t = config.training();
    List<Comparison> fresh = new ArrayList<>(newCount);
    while (fresh.size() < newCount) {
      Pending x = pending.peekFirst();
      if (x.kind() != Kind.TRAIN && !tryHandle(x)) {
        break;
      }
      pending.pollFirst();
      if (x.kind() == Kind.TRAIN) {
        fresh.add(x.comparison());
      }
    }
    if (fresh.isEmpty()) {
      syncOffsets();
      return false;
    }
    waitingToTrain -= fresh.size();
    List<Comparison> batch = new ArrayList<>(t.batchSize());
    batch.addAll(fresh);
    batch.addAll(state.replay.sample(t.batchSize() - fresh.size(), replayRandom));

    PreferenceLearner.StepStats stats = learner.step(batch, schedule.at(state.step));
    state.step++;
    lastLoss = stats.loss();
    for (Comparison c : fresh) {
      String id = c.getEventId();
      pendingIds.remove(id);
      state.seen.add(id);
      state.replay.add(c);
      state.comparisonsTrained++;
      trainedSinceCheckpoint.add(id);
    }
    drainHead();
    metrics.stepped(stats, fresh);
    return true;
  }

  private void maybeEvaluateAndRelease() {
    long sinceEval = state.step - lastEvalStep;
    boolean evalDue = sinceEval >= config.heldOut().evalEverySteps()
        || (sinceEval > 0 && System.nanoTime() - lastEvalNanos >= config.heldOut().evalEvery().toNanos());
    boolean releaseDue = config.release().when().equals("every") && state.step % config.release().everySteps() == 0;
    if (!evalDue && !releaseDue) {
      return;
    }
    if (state.heldOut.size() < config.heldOut().minExamples()) {
      return;
    }
    lastEval = learner.evaluate(state.heldOut.all());
    lastEvalStep = state.step;
    lastEvalNanos = System.nanoTime();
    metrics.evaluated(lastEval);
    boolean improved = lastEval.getAccuracy() > state.bestAccuracy;
    if (improved) {
      state.bestAccuracy = lastEval.getAccuracy();
      state.bestStep = state.step;
    }
    boolean release = config.release().when().equals("improved") ? improved && evalDue : releaseDue;
    if (release) {
      // Checkpoint first: the release must never name progress a crash could lose.
      maybeCheckpoint(true);
      try {
        releases.release(state, lastEval);
      } catch (RuntimeException e) {
        // Training goes on; the next improvement (or interval) releases again, under a new version.
        log.error("Release of reward model '{}' failed: {}", config.name(), e.getMessage());
        metrics.failed(e);
      }
      maybeCheckpoint(true);
    }
  }

  private void maybeCheckpoint(boolean force) {
    boolean progress = state.step != lastSavedStep || !state.offsets.equals(savedOffsets);
    if (!progress) {
      return;
    }
    RewardConfig.Checkpoint c = config.checkpoint();
    boolean due = state.step - Math.max(lastSavedStep, 0) >= c.everySteps()
        || System.nanoTime() - lastSaveNanos >= c.every().toNanos();
    if (!force && !due) {
      return;
    }
    long started = System.nanoTime();
    ledger.append(state.step, trainedSinceCheckpoint);
    checkpoints.save(state.step, folder -> {
      state.writeTo(folder);
      Path learnerDir = folder.resolve("learner");
      Files.createDirectories(learnerDir);
      learner.saveState(learnerDir);
    });
    checkpoints.prune(c.keep(), state.bestStep);
    trainedSinceCheckpoint.clear();
    lastSavedStep = state.step;
    savedOffsets = Map.copyOf(state.offsets);
    lastSaveNanos = System.nanoTime();
    commitToKafka();
    log.debug("Checkpoint at step {} in {} ms", state.step, (System.nanoTime() - started) / 1_000_000);
  }

  /** Mirrors the checkpoint's offsets into the group's committed offsets, for lag tools. */
  private void commitToKafka() {
    KafkaConsumer<byte[], byte[]> c = consumer;
    if (c == null) {
      return;
    }
    Map<TopicPartition, OffsetAndMetadata> commit = new HashMap<>();
    state.offsets.forEach((partition, offset) -> {
      TopicPartition tp = new TopicPartition(topic, partition);
      if (c.assignment().contains(tp)) {
        commit.put(tp, new OffsetAndMetadata(offset));
      }
    });
    try {
      c.commitSync(commit, Duration.ofSeconds(10));
    } catch (RuntimeException e) {
      log.debug("Could not mirror offsets to Kafka (informational only): {}", e.toString());
    }
  }

  private void maybeLog(KafkaConsumer<byte[], byte[]> c) {
    long now = System.nanoTime();
    if (now - lastLogNanos < config.logEvery().toNanos()) {
      return;
    }
    double seconds = (now - lastLogNanos) / 1e9;
    double rate = (state.comparisonsTrained - trainedAtLastLog) / seconds;
    long lag = lag(c);
    metrics.lag(lag);
    log.info("reward '{}' step {}: {} comparisons/s, loss {}, held-out accuracy {} ({} examples), lag {}, trained {}, waiting {}",
        config.name(), state.step, String.format("%.1f", rate), Double.isNaN(lastLoss) ? "n/a" : String.format("%.4f", lastLoss),
        lastEval.getExamples() == 0 ? "n/a" : String.format("%.3f", lastEval.getAccuracy()), lastEval.getExamples(),
        lag, state.comparisonsTrained, pending.size());
    lastLogNanos = now;
    trainedAtLastLog = state.comparisonsTrained;
  }

  /** Records between the checkpoint's offsets and the end of the topic. */
  long lag(KafkaConsumer<byte[], byte[]> c) {
    try {
      Set<TopicPartition> assigned = c.assignment();
      if (assigned.isEmpty()) {
        return 0;
      }
      Map<TopicPartition, Long> end = c.endOffsets(assigned, Duration.ofSeconds(5));
      long lag = 0;
      for (var e : end.entrySet()) {
        lag += Math.max(0, e.getValue() - state.offsets.getOrDefault(e.getKey().partition(), 0L));
      }
      return lag;
    } catch (RuntimeException e) {
      return -1;
    }
  }

  TrainerState state() {
    return state;
  }

  /** Whether a dead letter could not be written and blocks the queue until a retry succeeds. */
  boolean deadLetterBlocked() {
    return deadLetterRetryAt != 0;
  }

  /** Records consumed and not yet handled. */
  int waiting() {
    return pending.size();
  }

  /** Stops after the current step and writes a final checkpoint. Idempotent. */
  @Override
  public void close() {
    closed = true;
    KafkaConsumer<byte[], byte[]> c = consumer;
    if (c != null) {
      c.wakeup();
    }
  }

  /** Stops without a final checkpoint, as a crash would (for tests of recovery). */
  void abandon() {
    stoppedCleanly = false;
    close();
  }

  /**
   * Assigns every partition of the topic, at the checkpoint's offsets, including partitions added
   * since the last look. One trainer owns a lineage (the checkpoint folder is locked), so it reads
   * all partitions itself instead of sharing them through group rebalances, which would drop and
   * re-read waiting records.
   */
  private void assignPartitions(KafkaConsumer<byte[], byte[]> c) {
    List<TopicPartition> all = c.partitionsFor(topic, Duration.ofSeconds(30)).stream()
        .map(info -> new TopicPartition(topic, info.partition()))
        .toList();
    Set<TopicPartition> assigned = c.assignment();
    if (assigned.containsAll(all)) {
      return;
    }
    c.assign(all);
    for (TopicPartition tp : all) {
      if (assigned.contains(tp)) {
        continue;
      }
      Long offset = state.offsets.get(tp.partition());
      if (offset != null) {
        c.seek(tp, offset);
      } else {
        c.seekToBeginning(List.of(tp));
      }
    }
    log.info("Reward trainer reads {} partition(s) of {}", all.size(), topic);
  }
}

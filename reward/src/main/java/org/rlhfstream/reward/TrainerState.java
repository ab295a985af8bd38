package org.rlhfstream.reward;

import io.vertx.core.json.JsonObject;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;

/**
 * Everything about the stream that a reward-model checkpoint must hold besides the weights: where
 * each partition was consumed up to, which events were used, the held-out and replay sets, and
 * the counters. Saved in the same atomic checkpoint as the weights, so the two never disagree.
 */
final class TrainerState {

  static final String FILE = "state.json";

  /** Optimizer steps taken over the lineage. */
  long step;
  /** Comparisons trained on for the first time (replays not counted). */
  long comparisonsTrained;
  long heldOutSeen;
  long duplicates;
  long deadLettered;
  /** Best held-out accuracy so far and the step it was reached at (−1: none yet). */
  double bestAccuracy = -1;
  long bestStep = -1;
  /** Last released version (0: none). */
  long releasedVersion;
  /** Topic whose offsets these are. */
  String topic;
  /** Next offset to read per partition: everything before it is accounted for. */
  final Map<Integer, Long> offsets = new TreeMap<>();

  SeenEvents seen = new SeenEvents();
  RecentComparisons heldOut;
  RecentComparisons replay;

  TrainerState(String topic, int heldOutCapacity, int replayCapacity) {
    this.topic = topic;
    this.heldOut = new RecentComparisons(heldOutCapacity);
    this.replay = new RecentComparisons(replayCapacity);
  }

  void writeTo(Path dir) throws IOException {
    JsonObject offsetsJson = new JsonObject();
    offsets.forEach((p, o) -> offsetsJson.put(Integer.toString(p), o));
    JsonObject json = new JsonObject()
        .put("format", 1)
        .put("step", step)
        .put("comparisonsTrained", comparisonsTrained)
        .put("heldOutSeen", heldOutSeen)
        .put("duplicates", duplicates)
        .put("deadLettered", deadLettered)
        .put("bestAccuracy", bestAccuracy)
        .put("bestStep", bestStep)
        .put("releasedVersion", releasedVersion)
        .put("topic", topic)
        .put("offsets", offsetsJson);
    Files.writeString(dir.resolve(FILE), json.encodePrettily(), StandardCharsets.UTF_8);
    try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(dir.resolve("seen.bin")))) {
      seen.writeTo(out);
    }
    Files.write(dir.resolve("held-out.pb"), heldOut.toBytes());
    Files.write(dir.resolve("replay.pb"), replay.toBytes());
  }

  static TrainerState readFrom(Path dir, int heldOutCapacity, int replayCapacity) throws IOException {
    JsonObject json = new JsonObject(Files.readString(dir.resolve(FILE), StandardCharsets.UTF_8));
    if (json.getInteger("format", 0) != 1) {
      throw new IOException(dir.resolve(FILE) + ": unknown checkpoint format " + json.getValue("format"));
    }
    TrainerState s = new TrainerState(json.getString("topic"), heldOutCapacity, replayCapacity);
    s.step = json.getLong("step");
    s.comparisonsTrained = json.getLong("comparisonsTrained");
    s.heldOutSeen = json.getLong("heldOutSeen");
    s.duplicates = json.getLong("duplicates");
    s.deadLettered = json.getLong("deadLettered");
    s.bestAccuracy = json.getDouble("bestAccuracy");
    s.bestStep = json.getLong("bestStep");
    s.releasedVersion = json.getLong("releasedVersion");
    json.getJsonObject("offsets").forEach(e -> s.offsets.put(Integer.parseInt(e.getKey()), ((Number) e.getValue()).longValue()));
    try (InputStream in = new BufferedInputStream(Files.newInputStream(dir.resolve("seen.bin")))) {
      s.seen = SeenEvents.readFrom(in);
    }
    s.heldOut = RecentComparisons.fromBytes(Files.readAllBytes(dir.resolve("held-out.pb")), heldOutCapacity);
    s.replay = RecentComparisons.fromBytes(Files.readAllBytes(dir.resolve("replay.pb")), replayCapacity);
    return s;
  }
}

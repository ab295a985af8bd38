package org.rlhfstream.reward;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rlhfstream.model.Parameter;
import org.rlhfstream.platform.config.ConfigException;
import org.rlhfstream.platform.config.ConfigNode;
import org.rlhfstream.proto.v1.Comparison;

/** The reward service's parts, each on its own. */
class RewardPartsTest {

  @TempDir Path tmp;

  private static RewardConfig config(Map<String, Object> tree) {
    ConfigNode root = ConfigNode.root(tree);
    RewardConfig c = RewardConfig.from(root);
    root.validate();
    return c;
  }

  @Test
  void seenEventsRemembersEveryIdAcrossGrowthAndPersistence() throws Exception {
    SeenEvents seen = new SeenEvents();
    for (int i = 0; i < 20_000; i++) {
      assertTrue(seen.add("e" + i));
    }
    assertFalse(seen.add("e123"), "a repeat is recognised");
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    seen.writeTo(bytes);
    SeenEvents back = SeenEvents.readFrom(new ByteArrayInputStream(bytes.toByteArray()));
    assertEquals(20_000, back.size());
    assertTrue(back.contains("e19999"));
    assertFalse(back.contains("e20000"));
  }

  @Test
  void heldOutSplitIsStableAndNearItsFraction() {
    int held = 0;
    for (int i = 0; i < 20_000; i++) {
      boolean h = EventIds.isHeldOut("id-" + i, 0.1);
      assertEquals(h, EventIds.isHeldOut("id-" + i, 0.1), "a fixed function of the id");
      held += h ? 1 : 0;
    }
    assertTrue(held > 1800 && held < 2200, "about 10%: " + held);
    assertFalse(EventIds.isHeldOut("anything", 0.0));
  }

  @Test
  void recentComparisonsKeepsTheNewestAndRoundTrips() throws Exception {
    RecentComparisons r = new RecentComparisons(3);
    for (int i = 0; i < 5; i++) {
      r.add(Comparison.newBuilder().setEventId("c" + i).build());
    }
    assertEquals(List.of("c2", "c3", "c4"), r.all().stream().map(Comparison::getEventId).toList());
    assertEquals(r.all(), RecentComparisons.fromBytes(r.toBytes(), 3).all());
    assertEquals(4, r.sample(4, new SplittableRandom(1)).size());
  }

  @Test
  void templateIsFilledOnceSoBracesInTheTextStayLiteral() {
    RewardText t = new RewardText("Q: {prompt}\nA: {response}", 100);
    assertEquals("Q: say {response}\nA: ok", t.format("say {response}", "ok"));
    assertThrows(IllegalArgumentException.class, () -> new RewardText("{prompt} only", 10));
  }

  @Test
  void badRewardFieldsAreReportedWithPaths() {
    ConfigException e = assertThrows(ConfigException.class, () -> config(Map.of(
        "training", Map.of("batch-size", 4, "micro-batch-size", 8, "mode", "qlora"),
        "model", Map.of("template", "{prompt}"),
        "name", "bad name")));
    String m = e.getMessage();
    assertTrue(m.contains("training.micro-batch-size: must not exceed batch-size (4)"), m);
    assertTrue(m.contains("training.mode: must be one of full, lora (got \"qlora\")"), m);
    assertTrue(m.contains("model.template: must contain both {prompt} and {response}"), m);
    assertTrue(m.contains("name: must be 1–128 of letters"), m);
  }

  @Test
  void learningRateWarmsUpThenDecaysToTheFloor() {
    RewardConfig c = config(Map.of("training", Map.of("learning-rate", 1.0, "warmup-steps", 4, "decay-steps", 10,
        "min-lr-ratio", 0.1, "schedule", "cosine")));
    var lr = c.training().lrSchedule();
    assertEquals(0.25, lr.at(0), 1e-9);
    assertEquals(1.0, lr.at(4), 1e-9);
    assertEquals(0.55, lr.at(9), 1e-9, "half way down the cosine");
    assertEquals(0.1, lr.at(14), 1e-9);
    assertEquals(0.1, lr.at(1_000_000), 1e-9, "a stream has no end: the floor holds");
    var constant = config(Map.of("training", Map.of("learning-rate", 0.5, "warmup-steps", 0, "schedule", "constant")))
        .training().lrSchedule();
    assertEquals(0.5, constant.at(0), 1e-12);
    assertEquals(0.5, constant.at(99_999), 1e-12);
  }

  @Test
  void lossFollowsBradleyTerryWithMarginTiesAndCentering() throws Exception {
    // One pair at a time through the real model: compare the learner's loss with the formula on its scores.
    RewardConfig c = config(Map.of("training", Map.of("batch-size", 1, "micro-batch-size", 1,
        "center-rewards", 0.5, "margin-scale", 2.0, "max-grad-norm", 0)));
    try (PreferenceLearner learner = new PreferenceLearner(c, tmp.resolve("models"))) {
      Comparison plain = Comparison.newBuilder().setEventId("a").setPrompt("p").setChosen("yes thanks").setRejected("no").build();
      Comparison strong = plain.toBuilder().setStrength(0.5f).build();
      Comparison tie = plain.toBuilder().setTie(true).build();
      float[] r = scores(learner, plain);
      double d = r[0] - r[1];
      double center = 0.5 * Math.pow(r[0] + r[1], 2);
      assertEquals(softplus(-d) + center, learner.step(List.of(plain), 0.0).loss(), 1e-4);
      assertEquals(softplus(2.0 * 0.5 - d) + center, learner.step(List.of(strong), 0.0).loss(), 1e-4);
      assertEquals(0.5 * (softplus(d) + softplus(-d)) + center, learner.step(List.of(tie), 0.0).loss(), 1e-4);
    }
  }

  private static float[] scores(PreferenceLearner learner, Comparison c) {
    return org.rlhfstream.model.SequenceScorer.score(learner.model(),
        List.of(learner.tokens(c.getPrompt(), c.getChosen()), learner.tokens(c.getPrompt(), c.getRejected())), false);
  }

  private static double softplus(double x) {
    return Math.log1p(Math.exp(x));
  }

  @Test
  void loraModeTrainsOnlyTheAdapterAndTheScoreHead() throws Exception {
    RewardConfig c = config(Map.of("training", Map.of("mode", "lora", "lora-rank", 4, "lora-targets", List.of("q_proj", "v_proj"))));
    try (PreferenceLearner learner = new PreferenceLearner(c, tmp.resolve("models"))) {
      List<String> trainable = learner.model().trainableParameters().stream().map(Parameter::name).toList();
      assertTrue(trainable.contains("score.weight"));
      assertTrue(trainable.stream().allMatch(n -> n.equals("score.weight") || n.contains("lora_")), trainable.toString());
      assertTrue(trainable.stream().anyMatch(n -> n.contains("q_proj.lora_A")));
      assertFalse(trainable.stream().anyMatch(n -> n.contains("k_proj")));
    }
  }

  @Test
  void checkpointedStateResumesExactly() throws Exception {
    RewardConfig c = config(Map.of("training", Map.of("batch-size", 8, "micro-batch-size", 4)));
    List<Comparison> data = SyntheticPreferences.generate("state", 24, 3);
    float continued;
    float resumed;
    try (PreferenceLearner a = new PreferenceLearner(c, tmp.resolve("models"))) {
      a.step(data.subList(0, 8), 1e-3);
      a.step(data.subList(8, 16), 1e-3);
      a.saveState(java.nio.file.Files.createDirectories(tmp.resolve("ckpt")));
      continued = a.step(data.subList(16, 24), 1e-3).loss();
    }
    try (PreferenceLearner b = new PreferenceLearner(c, tmp.resolve("models"))) {
      b.loadState(tmp.resolve("ckpt"));
      resumed = b.step(data.subList(16, 24), 1e-3).loss();
    }
    assertEquals(continued, resumed, 1e-6, "weights and optimizer state come back exactly");
  }

  @Test
  void checkpointsAreInTheHuggingFaceAndPeftLayouts() throws Exception {
    List<Comparison> data = SyntheticPreferences.generate("layout", 16, 6);
    RewardConfig full = config(Map.of("training", Map.of("batch-size", 8, "micro-batch-size", 8)));
    try (PreferenceLearner l = new PreferenceLearner(full, tmp.resolve("models"))) {
      l.step(data.subList(0, 8), 1e-3);
      l.saveState(java.nio.file.Files.createDirectories(tmp.resolve("full")));
      // The checkpoint's model folder is an ordinary HF reward model: it scores like the learner.
      try (var loaded = org.rlhfstream.model.DecoderModel.load(tmp.resolve("full/model"), org.rlhfstream.model.ModelOptions.cpu())) {
        List<int[]> seqs = List.of(l.tokens("p", "thanks a"), l.tokens("p", "b"));
        assertArrayEquals(org.rlhfstream.model.SequenceScorer.score(l.model(), seqs, true),
            org.rlhfstream.model.SequenceScorer.score(loaded, seqs, true), 1e-5f);
      }
    }
    RewardConfig lora = config(Map.of("training", Map.of("mode", "lora", "lora-rank", 4, "batch-size", 8, "micro-batch-size", 8)));
    float continued;
    try (PreferenceLearner l = new PreferenceLearner(lora, tmp.resolve("models"))) {
      l.step(data.subList(0, 8), 1e-2);
      l.saveState(java.nio.file.Files.createDirectories(tmp.resolve("lora")));
      continued = l.step(data.subList(8, 16), 1e-2).loss();
    }
    assertTrue(java.nio.file.Files.exists(tmp.resolve("lora/adapter/adapter_config.json")), "a PEFT adapter");
    assertTrue(java.nio.file.Files.exists(tmp.resolve("lora/adapter/adapter_model.safetensors")));
    try (PreferenceLearner l = new PreferenceLearner(lora, tmp.resolve("models"))) {
      l.loadState(tmp.resolve("lora"));
      assertEquals(continued, l.step(data.subList(8, 16), 1e-2).loss(), 1e-6, "LoRA + score head resume exactly");
    }
    try (PreferenceLearner l = new PreferenceLearner(full, tmp.resolve("models"))) {
      java.io.IOException e = assertThrows(java.io.IOException.class, () -> l.loadState(tmp.resolve("lora")));
      assertTrue(e.getMessage().contains("training.mode lora"), e.getMessage());
    }
  }

  @Test
  void gradientAccumulationMatchesOneBigBatch() throws Exception {
    List<Comparison> data = SyntheticPreferences.generate("accum", 8, 4);
    float[] lossAfter = new float[2];
    int i = 0;
    for (int micro : new int[] {8, 2}) {
      RewardConfig c = config(Map.of("training", Map.of("batch-size", 8, "micro-batch-size", micro, "max-grad-norm", 0)));
      try (PreferenceLearner l = new PreferenceLearner(c, tmp.resolve("models"))) {
        l.step(data, 1e-2);
        lossAfter[i++] = l.step(data, 0.0).loss();
      }
    }
    assertArrayEquals(new float[] {lossAfter[0]}, new float[] {lossAfter[1]}, 1e-4f);
  }
}

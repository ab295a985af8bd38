package org.rlhfstream.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.nio.file.Files;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The Java model reproduces Hugging Face's numbers on the reference checkpoint. */
class HfReferenceTest {
  static DecoderModel model;
  static NDManager manager;

  @BeforeAll
  static void load() throws Exception {
    model = DecoderModel.load(Reference.dir(), ModelOptions.cpu());
    manager = model.manager().newSubManager();
  }

  @AfterAll
  static void close() {
    manager.close();
    model.close();
  }

  @Test
  void configIsReadFromTheTransformers5Layout() {
    ModelConfig c = model.config();
    assertEquals("LlamaForCausalLM", c.architecture());
    assertEquals(10000.0, c.ropeTheta());
    assertEquals(2, c.numKvHeads());
    assertEquals(16, c.headDim());
    assertEquals(2, c.padTokenId());
  }

  @Test
  void baseLogitsMatchHuggingFace() {
    try (NDManager step = manager.newSubManager()) {
      NDArray ids = Reference.golden("input_ids", step);
      NDArray expected = Reference.golden("logits", step);
      NDArray logits = model.logits(model.hidden(ids, null, null, true));
      assertEquals(expected.getShape(), logits.getShape());
      float diff = Reference.maxAbsDiff(logits, expected);
      assertTrue(diff < 1e-4, "max |logits - HF| = " + diff);
    }
  }

  @Test
  void baseLogitsMatchWithAnExplicitMask() {
    try (NDManager step = manager.newSubManager()) {
      NDArray ids = Reference.golden("input_ids", step);
      NDArray expected = Reference.golden("logits", step);
      NDArray mask = step.ones(ids.getShape(), ai.djl.ndarray.types.DataType.INT64);
      float diff = Reference.maxAbsDiff(model.logits(model.hidden(ids, mask, null, true)), expected);
      assertTrue(diff < 1e-4, "max |logits - HF| = " + diff);
    }
  }

  @Test
  void adapterLogitsMatchPeft() throws Exception {
    try (DecoderModel withAdapter = DecoderModel.load(Reference.dir(), ModelOptions.cpu());
        NDManager step = withAdapter.manager().newSubManager()) {
      withAdapter.loadAdapter(Reference.adapter());
      assertEquals(8, withAdapter.lora().rank());
      NDArray ids = Reference.golden("input_ids", step);
      float diff = Reference.maxAbsDiff(withAdapter.logits(withAdapter.hidden(ids, null, null, true)),
          Reference.golden("adapter_logits", step));
      assertTrue(diff < 1e-4, "max |adapter logits - PEFT| = " + diff);
      // Switched off, the same weights give the base model (the PPO reference).
      float off = Reference.maxAbsDiff(withAdapter.logits(withAdapter.hidden(ids, null, null, false)),
          Reference.golden("logits", step));
      assertTrue(off < 1e-4, "adapter off: max |logits - HF base| = " + off);
    }
  }

  @Test
  void rewardScoresMatchHuggingFace() throws Exception {
    try (DecoderModel reward = DecoderModel.load(Reference.reward(), ModelOptions.cpu());
        NDManager step = reward.manager().newSubManager()) {
      assertEquals(ModelConfig.Head.SEQUENCE_CLASSIFICATION, reward.config().head());
      NDArray ids = Reference.golden("reward_input_ids", step);
      NDArray mask = ids.neq(2).toType(ai.djl.ndarray.types.DataType.INT64, false);
      NDArray scores = reward.scores(reward.hidden(ids, mask, null, true), ids);
      float diff = Reference.maxAbsDiff(scores, Reference.golden("reward_scores", step));
      assertTrue(diff < 1e-4, "max |score - HF| = " + diff + " got " + java.util.Arrays.toString(scores.toFloatArray()));
    }
  }

  @Test
  void tokenizerIdsMatchHuggingFace() throws Exception {
    JsonObject golden = JsonParser.parseString(Files.readString(Reference.dir().resolve("golden.json"))).getAsJsonObject();
    JsonArray strings = golden.getAsJsonArray("strings");
    JsonArray ids = golden.getAsJsonArray("token_ids");
    try (TextTokenizer tok = TextTokenizer.load(Reference.dir())) {
      for (int i = 0; i < strings.size(); i++) {
        JsonArray want = ids.get(i).getAsJsonArray();
        int[] expected = new int[want.size()];
        for (int j = 0; j < expected.length; j++) {
          expected[j] = want.get(j).getAsInt();
        }
        String s = strings.get(i).getAsString();
        int[] got = tok.encode(s);
        assertArrayEquals(expected, got, "ids of " + s);
        assertEquals(s, tok.decode(got), "round trip of " + s);
      }
    }
  }
}

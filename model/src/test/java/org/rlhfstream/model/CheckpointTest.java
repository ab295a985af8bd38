package org.rlhfstream.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rlhfstream.model.io.CheckpointFiles;
import org.rlhfstream.model.io.SafeTensors;

/** Hugging Face folders: bf16 and sharded checkpoints, round trips, Qwen2, and clear errors. */
class CheckpointTest {

  static NDArray logits(DecoderModel m, NDManager step) {
    NDArray ids = Reference.golden("input_ids", step);
    return m.logits(m.hidden(ids, null, null, true));
  }

  static void copyConfig(Path to) throws Exception {
    Files.createDirectories(to);
    Files.copy(Reference.dir().resolve("config.json"), to.resolve("config.json"));
  }

  @Test
  void aBfloat16CopyLoadsWithinBfloat16Rounding(@TempDir Path tmp) throws Exception {
    Path bf16 = tmp.resolve("bf16");
    try (DecoderModel ref = DecoderModel.load(Reference.dir(), ModelOptions.cpu())) {
      ref.save(bf16, SafeTensors.Dtype.BF16, Long.MAX_VALUE);
      try (SafeTensors.Reader r = SafeTensors.Reader.open(bf16.resolve("model.safetensors"))) {
        assertTrue(r.tensors().values().stream().allMatch(t -> t.dtype() == SafeTensors.Dtype.BF16));
      }
      try (DecoderModel narrow = DecoderModel.load(bf16, ModelOptions.cpu());
          NDManager step = ref.manager().newSubManager()) {
        // Each weight is the float32 one rounded to bf16 (relative error <= 2^-8).
        Map<String, NDArray> a = ref.stateDict();
        Map<String, NDArray> b = narrow.stateDict();
        for (String name : a.keySet()) {
          float[] x = a.get(name).toFloatArray();
          float[] y = b.get(name).toFloatArray();
          for (int i = 0; i < x.length; i++) {
            assertEquals(SafeTensors.fromBfloat16(SafeTensors.toBfloat16(x[i])), y[i], name);
          }
        }
        NDArray full = logits(ref, step);
        float scale = full.abs().max().getFloat();
        float diff = Reference.maxAbsDiff(full, logits(narrow, step));
        assertTrue(diff > 0, "the bf16 copy should differ a little");
        assertTrue(diff < 0.02 * scale, "bf16 logits differ by " + diff + " (max |logit| " + scale + ")");
      }
    }
  }

  @Test
  void aShardedCopyLoadsIdentically(@TempDir Path tmp) throws Exception {
    Path sharded = tmp.resolve("sharded");
    try (DecoderModel ref = DecoderModel.load(Reference.dir(), ModelOptions.cpu())) {
      ref.save(sharded, SafeTensors.Dtype.F32, 150_000);
      List<String> files = new ArrayList<>();
      try (Stream<Path> s = Files.list(sharded)) {
        s.forEach(p -> files.add(p.getFileName().toString()));
      }
      assertTrue(files.contains(CheckpointFiles.INDEX), files.toString());
      assertFalse(files.contains(CheckpointFiles.SINGLE));
      assertTrue(files.stream().filter(f -> f.matches("model-\\d{5}-of-\\d{5}\\.safetensors")).count() >= 3, files.toString());
      try (DecoderModel copy = DecoderModel.load(sharded, ModelOptions.cpu());
          NDManager step = ref.manager().newSubManager()) {
        assertEquals(0f, Reference.maxAbsDiff(logits(ref, step), logits(copy, step)));
        assertTrue(Reference.maxAbsDiff(logits(copy, step), Reference.golden("logits", step)) < 1e-4);
      }
    }
  }

  @Test
  void savedFoldersRoundTripExactly(@TempDir Path tmp) throws Exception {
    try (DecoderModel ref = DecoderModel.load(Reference.reward(), ModelOptions.cpu())) {
      ref.save(tmp);
      try (DecoderModel copy = DecoderModel.load(tmp, ModelOptions.cpu())) {
        assertEquals(ref.config(), copy.config());
        for (Map.Entry<String, NDArray> e : ref.stateDict().entrySet()) {
          assertEquals(0f, Reference.maxAbsDiff(e.getValue(), copy.stateDict().get(e.getKey())), e.getKey());
        }
      }
    }
  }

  @Test
  void theTransformers4ConfigLayoutIsRead(@TempDir Path tmp) throws Exception {
    String v5 = Files.readString(Reference.dir().resolve("config.json"));
    String v4 = v5.replaceAll("(?s)\"rope_parameters\": \\{.*?\\},", "\"rope_theta\": 500000.0, \"rope_scaling\": null,");
    assertFalse(v4.contains("rope_parameters"));
    Files.writeString(tmp.resolve("config.json"), v4);
    assertEquals(500000.0, ModelConfig.load(tmp).ropeTheta());
    assertEquals(10000.0, ModelConfig.load(Reference.dir()).ropeTheta());
    // Llama 3 rope scaling is understood; unknown kinds are refused by name.
    Files.writeString(tmp.resolve("config.json"), v5.replace("\"rope_type\": \"default\"",
        "\"rope_type\": \"llama3\", \"factor\": 8.0, \"low_freq_factor\": 1.0, \"high_freq_factor\": 4.0, \"original_max_position_embeddings\": 64"));
    assertEquals("llama3", ModelConfig.load(tmp).ropeScaling().type());
    Files.writeString(tmp.resolve("config.json"), v5.replace("\"rope_type\": \"default\"", "\"rope_type\": \"yarn\""));
    ModelInputException e = assertThrows(ModelInputException.class, () -> ModelConfig.load(tmp));
    assertTrue(e.getMessage().contains("yarn"), e.getMessage());
  }

  @Test
  void missingAndUnexpectedTensorsAreNamed(@TempDir Path tmp) throws Exception {
    try (DecoderModel ref = DecoderModel.load(Reference.dir(), ModelOptions.cpu())) {
      Map<String, NDArray> fewer = new LinkedHashMap<>(ref.stateDict());
      fewer.remove("model.layers.1.mlp.up_proj.weight");
      Path a = tmp.resolve("a");
      copyConfig(a);
      SafeTensors.write(a.resolve("model.safetensors"), fewer, null, null);
      ModelInputException missing = assertThrows(ModelInputException.class, () -> DecoderModel.load(a, ModelOptions.cpu()));
      assertTrue(missing.getMessage().contains("model.layers.1.mlp.up_proj.weight"), missing.getMessage());

      Map<String, NDArray> more = new LinkedHashMap<>(ref.stateDict());
      more.put("model.layers.0.mystery.weight", ref.stateDict().get("model.norm.weight"));
      Path b = tmp.resolve("b");
      copyConfig(b);
      SafeTensors.write(b.resolve("model.safetensors"), more, null, null);
      ModelInputException extra = assertThrows(ModelInputException.class, () -> DecoderModel.load(b, ModelOptions.cpu()));
      assertTrue(extra.getMessage().contains("model.layers.0.mystery.weight"), extra.getMessage());

      Path c = tmp.resolve("c");
      copyConfig(c);
      ModelInputException none = assertThrows(ModelInputException.class, () -> DecoderModel.load(c, ModelOptions.cpu()));
      assertTrue(none.getMessage().contains("model.safetensors"), none.getMessage());

      Path d = tmp.resolve("d");
      Files.createDirectories(d);
      Files.writeString(d.resolve("config.json"), "{\"architectures\":[\"GPT2LMHeadModel\"],\"model_type\":\"gpt2\"}");
      ModelInputException arch = assertThrows(ModelInputException.class, () -> DecoderModel.load(d, ModelOptions.cpu()));
      assertTrue(arch.getMessage().contains("GPT2LMHeadModel"), arch.getMessage());

      ModelInputException noDir = assertThrows(ModelInputException.class,
          () -> DecoderModel.load(tmp.resolve("nowhere"), ModelOptions.cpu()));
      assertTrue(noDir.getMessage().contains("does not exist"));
    }
  }

  @Test
  void qwen2HasQkvBiasesAndTiedEmbeddings(@TempDir Path tmp) throws Exception {
    ModelConfig llama = ModelPresets.TINY.config();
    ModelConfig qwen = new ModelConfig("qwen2", ModelConfig.Head.CAUSAL_LM, llama.vocabSize(), llama.hiddenSize(),
        llama.intermediateSize(), 2, 4, 2, 16, 1_000_000.0, ModelConfig.RopeScaling.NONE, 1e-6, 128, true, true,
        false, false, 0, List.of(1), 2, 1);
    try (DecoderModel m = DecoderModel.random(qwen, ModelOptions.cpu(), 5, 0.1)) {
      Map<String, NDArray> sd = m.stateDict();
      assertTrue(sd.containsKey("model.layers.0.self_attn.q_proj.bias"));
      assertTrue(sd.containsKey("model.layers.0.self_attn.v_proj.bias"));
      assertFalse(sd.containsKey("model.layers.0.self_attn.o_proj.bias"));
      assertFalse(sd.containsKey("lm_head.weight"), "tied: no separate LM head");
      // A q bias must move the output.
      try (NDManager step = m.manager().newSubManager()) {
        NDArray ids = step.create(new long[][] {{3, 4, 5, 6}});
        NDArray before = m.logits(m.hidden(ids, null, null, true));
        try (NoGrad ignored = NoGrad.enter()) {
          sd.get("model.layers.0.self_attn.k_proj.bias").addi(0.5f);
        }
        NDArray after = m.logits(m.hidden(ids, null, null, true));
        assertTrue(Reference.maxAbsDiff(before, after) > 1e-4);
        m.save(tmp);
        assertTrue(Files.readString(tmp.resolve("config.json")).contains("Qwen2ForCausalLM"));
        try (DecoderModel copy = DecoderModel.load(tmp, ModelOptions.cpu())) {
          assertEquals(0f, Reference.maxAbsDiff(after, copy.logits(copy.hidden(ids, null, null, true))));
          assertTrue(copy.config().qkvBias());
          assertTrue(copy.config().tieWordEmbeddings());
        }
      }
    }
  }

  @Test
  void rewardModelsScoreLikeHuggingFaceAndCanStartFromACausalBase() throws Exception {
    try (DecoderModel reward = DecoderModel.load(Reference.reward(), ModelOptions.cpu());
        NDManager step = reward.manager().newSubManager()) {
      long[] flat = Reference.golden("reward_input_ids", step).toLongArray();
      List<int[]> seqs = List.of(new int[] {42, 403, 353, 288, 71, 71, 70},
          java.util.Arrays.stream(java.util.Arrays.copyOfRange(flat, 9, 18)).mapToInt(x -> (int) x).toArray());
      float[] scores = SequenceScorer.score(reward, seqs, true);
      float[] expected = Reference.golden("reward_scores", step).toFloatArray();
      assertEquals(expected[0], scores[0], 1e-4);
      assertEquals(expected[1], scores[1], 1e-4);
      ModelInputException wrong;
      try (DecoderModel lm = DecoderModel.load(Reference.dir(), ModelOptions.cpu())) {
        wrong = assertThrows(ModelInputException.class, () -> SequenceScorer.score(lm, seqs, true));
      }
      assertTrue(wrong.getMessage().contains("LlamaForCausalLM"), wrong.getMessage());
    }
    // A causal-LM base with a fresh score head: the reward model's usual starting point.
    try (DecoderModel fresh = DecoderModel.load(Reference.dir(), ModelOptions.cpu(), ModelConfig.Head.SEQUENCE_CLASSIFICATION, 3)) {
      assertEquals("LlamaForSequenceClassification", fresh.config().architecture());
      assertTrue(fresh.stateDict().containsKey("score.weight"));
      assertFalse(fresh.stateDict().containsKey("lm_head.weight"));
      assertEquals(2, SequenceScorer.score(fresh, List.of(new int[] {5, 6}, new int[] {7}), true).length);
    }
  }
}

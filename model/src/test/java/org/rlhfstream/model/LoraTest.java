package org.rlhfstream.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rlhfstream.model.io.SafeTensors;
import org.rlhfstream.model.lora.LoraConfig;
import org.rlhfstream.model.lora.PeftAdapter;
import org.rlhfstream.model.train.Backprop;
import org.rlhfstream.model.train.Gradients;
import org.rlhfstream.model.train.Losses;

class LoraTest {
  static final List<String> ALL = List.of("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj");

  static NDArray logits(DecoderModel m, NDManager step, boolean adapter) {
    NDArray ids = Reference.golden("input_ids", step);
    return m.logits(m.hidden(ids, null, null, adapter));
  }

  @Test
  void aFreshAdapterLeavesTheLogitsUnchangedAndOnlyItTrains() throws Exception {
    try (DecoderModel m = DecoderModel.load(Reference.dir(), ModelOptions.cpu());
        NDManager step = m.manager().newSubManager()) {
      NDArray before = logits(m, step, true);
      m.attachLora(new LoraConfig(4, 8, 0.0, List.of("q_proj", "v_proj", "down_proj"), false), 11);
      assertEquals(0f, Reference.maxAbsDiff(before, logits(m, step, true)));
      List<Parameter> trainable = m.trainableParameters();
      assertEquals(2 * 3 * m.config().numLayers(), trainable.size());
      assertTrue(trainable.stream().allMatch(Parameter::isLora));
      Projection q = m.projections().get(0);
      assertEquals(new ai.djl.ndarray.types.Shape(4, 64), q.loraA().getShape());
      assertEquals(0f, q.loraB().abs().max().getFloat(), "B starts at zero");
      float bound = (float) (1 / Math.sqrt(64));
      assertTrue(q.loraA().abs().max().getFloat() <= bound, "A is Kaiming-uniform within 1/sqrt(in)");
    }
  }

  @Test
  void mergedEqualsUnmergedAndUnmergeRestoresTheBase() throws Exception {
    try (DecoderModel m = DecoderModel.load(Reference.dir(), ModelOptions.cpu());
        NDManager step = m.manager().newSubManager()) {
      m.loadAdapter(Reference.adapter());
      NDArray q0 = m.projections().get(0).weight().duplicate();
      q0.attach(step);
      NDArray unmerged = logits(m, step, true);
      m.mergeAdapter();
      assertTrue(Reference.maxAbsDiff(q0, m.projections().get(0).weight()) > 1e-3, "merge changed the weight");
      float diff = Reference.maxAbsDiff(unmerged, logits(m, step, true));
      assertTrue(diff < 1e-5, "merged vs unmerged: " + diff);
      assertThrows(IllegalStateException.class, () -> logits(m, step, false));
      m.unmergeAdapter();
      assertTrue(Reference.maxAbsDiff(q0, m.projections().get(0).weight()) < 1e-6);
      float base = Reference.maxAbsDiff(logits(m, step, false), Reference.golden("logits", step));
      assertTrue(base < 1e-4, "after unmerge, adapter off = base: " + base);
    }
  }

  @Test
  void saveLoadRoundTripIsExactAndInThePeftLayout(@TempDir Path tmp) throws Exception {
    try (DecoderModel a = DecoderModel.load(Reference.dir(), ModelOptions.cpu());
        DecoderModel b = DecoderModel.load(Reference.dir(), ModelOptions.cpu())) {
      a.loadAdapter(Reference.adapter());
      Path out = tmp.resolve("adapter");
      a.saveAdapter(out, "llama-tiny");
      // Same tensor names, shapes and dtypes as the file PEFT wrote.
      try (SafeTensors.Reader ref = SafeTensors.Reader.open(Reference.adapter().resolve(PeftAdapter.WEIGHTS));
          SafeTensors.Reader ours = SafeTensors.Reader.open(out.resolve(PeftAdapter.WEIGHTS))) {
        assertEquals(new TreeMap<>(ref.tensors()).keySet(), new TreeMap<>(ours.tensors()).keySet());
        for (String name : ref.tensors().keySet()) {
          assertArrayEquals(ref.tensors().get(name).shape(), ours.tensors().get(name).shape(), name);
          assertEquals(ref.tensors().get(name).dtype(), ours.tensors().get(name).dtype(), name);
        }
      }
      JsonObject cfg = JsonParser.parseString(Files.readString(out.resolve(PeftAdapter.CONFIG))).getAsJsonObject();
      assertEquals("LORA", cfg.get("peft_type").getAsString());
      assertEquals(8, cfg.get("r").getAsInt());
      assertEquals(16.0, cfg.get("lora_alpha").getAsDouble());
      assertEquals("CAUSAL_LM", cfg.get("task_type").getAsString());
      assertEquals(7, cfg.getAsJsonArray("target_modules").size());

      b.loadAdapter(out);
      assertEquals(a.lora(), b.lora());
      List<Parameter> pa = a.parameters();
      List<Parameter> pb = b.parameters();
      assertEquals(pa.size(), pb.size());
      for (int i = 0; i < pa.size(); i++) {
        assertEquals(pa.get(i).name(), pb.get(i).name());
        assertArrayEquals(pa.get(i).array().toFloatArray(), pb.get(i).array().toFloatArray(), 0f, pa.get(i).name());
      }
    }
  }

  @Test
  void rsLoraScalesByTheSquareRootOfTheRank(@TempDir Path tmp) throws Exception {
    LoraConfig rs = new LoraConfig(16, 8, 0.0, List.of("q_proj"), true);
    assertEquals(2.0, rs.scaling(), 1e-12);
    assertEquals(0.5, new LoraConfig(16, 8, 0.0, List.of("q_proj"), false).scaling(), 1e-12);
    try (DecoderModel m = DecoderModel.load(Reference.dir(), ModelOptions.cpu())) {
      m.attachLora(rs, 3);
      m.saveAdapter(tmp, "x");
      assertTrue(PeftAdapter.readConfig(tmp).rsLora());
    }
  }

  @Test
  void dropoutActsOnTheAdapterPathInTrainingOnly() throws Exception {
    try (DecoderModel m = DecoderModel.load(Reference.dir(), ModelOptions.cpu());
        NDManager step = m.manager().newSubManager()) {
      m.loadAdapter(Reference.adapter());
      Map<String, NDArray> lora = new java.util.LinkedHashMap<>();
      for (Parameter p : m.parameters()) {
        if (p.isLora()) {
          lora.put(p.name(), p.array());
        }
      }
      m.installLora(new LoraConfig(8, 16, 0.5, ALL, false), lora);
      NDArray eval1 = logits(m, step, true);
      assertEquals(0f, Reference.maxAbsDiff(eval1, logits(m, step, true)), "no dropout in eval");
      m.setTraining(true);
      assertTrue(Reference.maxAbsDiff(eval1, logits(m, step, true)) > 1e-3, "dropout in training");
      assertTrue(Reference.maxAbsDiff(logits(m, step, false), Reference.golden("logits", step)) < 1e-4,
          "the base path has no dropout");
      m.setTraining(false);
    }
  }

  @Test
  void badAdaptersGiveClearErrors(@TempDir Path tmp) throws Exception {
    try (DecoderModel m = DecoderModel.load(Reference.dir(), ModelOptions.cpu())) {
      ModelInputException missing = assertThrows(ModelInputException.class, () -> m.loadAdapter(tmp.resolve("nope")));
      assertTrue(missing.getMessage().contains("does not exist"));
      Files.createDirectories(tmp.resolve("dora"));
      Files.writeString(tmp.resolve("dora/adapter_config.json"),
          "{\"peft_type\":\"LORA\",\"r\":8,\"lora_alpha\":16,\"use_dora\":true,\"target_modules\":[\"q_proj\"]}");
      ModelInputException dora = assertThrows(ModelInputException.class, () -> m.loadAdapter(tmp.resolve("dora")));
      assertTrue(dora.getMessage().contains("DoRA"), dora.getMessage());
    }
  }

  @Test
  void frozenBaseWeightsGetNoGradient() throws Exception {
    try (DecoderModel m = DecoderModel.load(Reference.dir(), ModelOptions.cpu())) {
      m.loadAdapter(Reference.adapter());
      Backprop.run(m.manager(), step -> {
        NDArray ids = Reference.golden("input_ids", step);
        return Losses.crossEntropy(m.logits(m.hidden(ids, null, null, true)), ids, null);
      });
      for (Parameter p : m.parameters()) {
        PtNDArray g = JniUtils.getGradient((PtNDArray) p.array());
        if (p.isLora()) {
          assertNotNull(g, p.name());
          assertTrue(g.abs().max().getFloat() > 0, p.name() + " has a non-zero gradient");
          g.close();
        } else {
          assertTrue(!p.trainable(), p.name());
          assertNull(g, "frozen " + p.name() + " got a gradient");
        }
      }
      Gradients.zero(m.trainableParameters());
      assertEquals(0f, Gradients.globalNorm(m.trainableParameters()));
    }
  }

  /** Backprop through the adapter agrees with central finite differences (float64). */
  @Test
  void loraGradientsMatchFiniteDifferences() throws Exception {
    ModelOptions f64 = ModelOptions.cpu().withDtype(DataType.FLOAT64);
    try (DecoderModel m = DecoderModel.load(Reference.dir(), f64)) {
      m.loadAdapter(Reference.adapter());
      long[][] tokens = {{5, 17, 300, 42, 9}};
      java.util.function.Function<NDManager, NDArray> loss = step -> {
        NDArray ids = step.create(tokens);
        return Losses.crossEntropy(m.logits(m.hidden(ids, null, null, true)), ids, null);
      };
      Backprop.run(m.manager(), loss);
      SplittableRandom random = new SplittableRandom(1);
      Map<String, Parameter> byName = new TreeMap<>();
      for (Parameter p : m.trainableParameters()) {
        byName.put(p.name(), p);
      }
      String[] names = {"model.layers.0.self_attn.q_proj.lora_A.weight", "model.layers.1.mlp.down_proj.lora_B.weight",
          "model.layers.0.self_attn.v_proj.lora_B.weight", "model.layers.1.mlp.gate_proj.lora_A.weight"};
      double eps = 1e-6;
      for (String name : names) {
        Parameter p = byName.get(name);
        try (NDManager scope = m.manager().newSubManager()) {
          double[] grad = Gradients.of(p, scope).toDoubleArray();
          long cols = p.array().getShape().get(1);
          for (int trial = 0; trial < 3; trial++) {
            int flat = random.nextInt(grad.length);
            NDIndex at = new NDIndex(flat / cols, flat % cols);
            double original = p.array().get(at).getDouble();
            double plus;
            double minus;
            try (NoGrad ignored = NoGrad.enter()) {
              p.array().set(at, original + eps);
              plus = evaluate(m, loss);
              p.array().set(at, original - eps);
              minus = evaluate(m, loss);
              p.array().set(at, original);
            }
            double numeric = (plus - minus) / (2 * eps);
            double err = Math.abs(numeric - grad[flat]) / Math.max(1e-6, Math.abs(numeric) + Math.abs(grad[flat]));
            assertTrue(err < 1e-5 || Math.abs(numeric - grad[flat]) < 1e-9,
                name + "[" + flat + "]: autograd " + grad[flat] + " vs numeric " + numeric);
          }
        }
      }
    }
  }

  static double evaluate(DecoderModel m, java.util.function.Function<NDManager, NDArray> loss) {
    try (NDManager step = m.manager().newSubManager()) {
      return loss.apply(step).getDouble();
    }
  }
}

package org.rlhfstream.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.nn.Activation;
import ai.djl.nn.core.Embedding;
import ai.djl.nn.core.Linear;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.function.Predicate;
import org.rlhfstream.model.ModelConfig.Head;
import org.rlhfstream.model.io.CheckpointFiles;
import org.rlhfstream.model.io.SafeTensors;
import org.rlhfstream.model.lora.LoraConfig;
import org.rlhfstream.model.lora.PeftAdapter;
import org.rlhfstream.model.nativeops.FastOps;

/**
 * A decoder-only transformer of the Llama family (and Qwen2) on DJL, with the language-model head,
 * the sequence-classification score head of Hugging Face reward models, an optional PPO value head
 * and LoRA adapters.
 *
 * <p>Weights live in one manager that this model owns; every forward creates its activations in
 * the manager of the input ids it is given, so a caller that opens a sub-manager per step frees a
 * step's memory by closing it:
 *
 * <pre>{@code
 * try (NDManager step = model.manager().newSubManager()) {
 *   NDArray ids = step.create(tokens);                   // (B, T) int64
 *   NDArray logits = model.logits(model.hidden(ids, null, null, true));
 *   ...
 * }
 * }</pre>
 */
public final class DecoderModel implements AutoCloseable {

  /** Stored weights are compared against this many leading names in error messages. */
  private static final int NAMES_IN_ERRORS = 8;

  private final ModelConfig config;
  private final ModelOptions options;
  private final NDManager manager;

  // Checkpoint tensors, named as in the file.
  private final NDArray embed_tokens; // (vocab, hidden)
  private final List<Layer> layers;
  private final NDArray norm; // (hidden)
  private final NDArray lm_head; // (vocab, hidden); the embedding itself when tied; null without an LM head
  private final NDArray score; // (labels, hidden); sequence classification only
  private NDArray vHeadWeight; // (1, hidden); PPO value head, when added
  private NDArray vHeadBias; // (1)

  // Derived once.
  private final NDArray ropeCos; // (max_positions, head_dim)
  private final NDArray ropeSin; // (max_positions, head_dim)
  private final float maskValue; // additive mask for disallowed positions

  private LoraConfig lora;
  private boolean training;

  /** One decoder block. Field names are the checkpoint's. */
  record Layer(
      NDArray input_layernorm, // (hidden)
      Projection q_proj, // (heads * head_dim, hidden)
      Projection k_proj, // (kv_heads * head_dim, hidden)
      Projection v_proj, // (kv_heads * head_dim, hidden)
      Projection o_proj, // (hidden, heads * head_dim)
      NDArray post_attention_layernorm, // (hidden)
      Projection gate_proj, // (intermediate, hidden)
      Projection up_proj, // (intermediate, hidden)
      Projection down_proj) { // (hidden, intermediate)

    List<Projection> projections() {
      return List.of(q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj);
    }
  }

  private DecoderModel(ModelConfig config, ModelOptions options, NDManager manager, Map<String, NDArray> w) {
    this.config = config;
    this.options = options;
    this.manager = manager;
    this.embed_tokens = w.get("model.embed_tokens.weight");
    List<Layer> ls = new ArrayList<>();
    for (int i = 0; i < config.numLayers(); i++) {
      String p = "model.layers." + i + ".";
      ls.add(new Layer(
          w.get(p + "input_layernorm.weight"),
          projection(w, p + "self_attn.q_proj", config.qkvBias()),
          projection(w, p + "self_attn.k_proj", config.qkvBias()),
          projection(w, p + "self_attn.v_proj", config.qkvBias()),
          projection(w, p + "self_attn.o_proj", config.oBias()),
          w.get(p + "post_attention_layernorm.weight"),
          projection(w, p + "mlp.gate_proj", config.mlpBias()),
          projection(w, p + "mlp.up_proj", config.mlpBias()),
          projection(w, p + "mlp.down_proj", config.mlpBias())));
    }
    this.layers = List.copyOf(ls);
    this.norm = w.get("model.norm.weight");
    if (config.head() == Head.CAUSAL_LM) {
      this.lm_head = config.tieWordEmbeddings() ? embed_tokens : w.get("lm_head.weight");
      this.score = null;
    } else {
      this.lm_head = null;
      this.score = w.get("score.weight");
    }
    NDArray[] rope = Rotary.tables(config, manager, options.dtype());
    this.ropeCos = rope[0];
    this.ropeSin = rope[1];
    this.maskValue = options.dtype() == DataType.FLOAT16 ? -65504f : -1e30f;
    for (Parameter p : parameters()) {
      p.array().setRequiresGradient(false);
    }
  }

  private static Projection projection(Map<String, NDArray> w, String name, boolean bias) {
    return new Projection(name, w.get(name + ".weight"), bias ? w.get(name + ".bias") : null);
  }

  // ---------------------------------------------------------------------------------------------
  // Construction: from a Hugging Face folder, or random from a seed.

  /** Loads a Hugging Face folder with the head its config names. */
  public static DecoderModel load(Path dir, ModelOptions options) throws IOException {
    return load(dir, options, null, 0);
  }

  /**
   * Loads a Hugging Face folder with the given head. A causal-LM checkpoint loaded as {@link
   * Head#SEQUENCE_CLASSIFICATION} gets a fresh score head (normal, std 0.02, from {@code seed}) and
   * its {@code lm_head} is dropped: the usual start of a reward model.
   *
   * @param head null for the checkpoint's own head
   */
  public static DecoderModel load(Path dir, ModelOptions options, Head head, long seed) throws IOException {
    if (!Files.isDirectory(dir)) {
      throw new ModelInputException("model directory " + dir + " does not exist");
    }
    ModelConfig fileConfig = ModelConfig.load(dir);
    ModelConfig config = head == null || head == fileConfig.head() ? fileConfig : fileConfig.withHead(head, 1);
    Map<String, long[]> expected = expectedTensors(config);
    requireEngineSupport(options);
    NDManager manager = NDManager.newBaseManager(options.djlDevice(), "PyTorch");
    try (CheckpointFiles files = CheckpointFiles.open(dir)) {
      Set<String> fresh = new LinkedHashSet<>();
      if (config.head() != fileConfig.head() && config.head() == Head.SEQUENCE_CLASSIFICATION) {
        fresh.add("score.weight");
      }
      Set<String> missing = new LinkedHashSet<>();
      for (String name : expected.keySet()) {
        if (!files.names().contains(name) && !fresh.contains(name)) {
          missing.add(name);
        }
      }
      Set<String> unexpected = new LinkedHashSet<>();
      for (String name : files.names()) {
        boolean ignorable = name.endsWith("rotary_emb.inv_freq") // buffers some old checkpoints saved
            || (name.equals("lm_head.weight") && (config.tieWordEmbeddings() || config.head() != Head.CAUSAL_LM));
        if (!expected.containsKey(name) && !ignorable) {
          unexpected.add(name);
        }
      }
      if (!missing.isEmpty()) {
        throw new ModelInputException("checkpoint " + dir + " lacks " + missing.size() + " tensor(s) that "
            + config.architecture() + " needs: " + names(missing));
      }
      if (!unexpected.isEmpty()) {
        throw new ModelInputException("checkpoint " + dir + " has " + unexpected.size() + " tensor(s) that "
            + config.architecture() + " does not use: " + names(unexpected));
      }
      Map<String, NDArray> weights = new LinkedHashMap<>();
      SplittableRandom random = new SplittableRandom(seed);
      for (Map.Entry<String, long[]> e : expected.entrySet()) {
        if (fresh.contains(e.getKey())) {
          weights.put(e.getKey(), normal(manager, e.getValue(), 0.02, random, options.dtype()));
          continue;
        }
        long[] shape = files.info(e.getKey()).shape();
        if (!Arrays.equals(shape, e.getValue())) {
          throw new ModelInputException("tensor " + e.getKey() + " has shape " + Arrays.toString(shape)
              + " but " + config.architecture() + " with this config.json needs " + Arrays.toString(e.getValue()));
        }
        NDArray a = files.read(e.getKey(), manager, options.dtype());
        a.setName(e.getKey());
        weights.put(e.getKey(), a);
      }
      return new DecoderModel(config, options, manager, weights);
    } catch (RuntimeException | IOException e) {
      manager.close();
      throw e;
    }
  }

  /**
   * A model with random weights from {@code seed}: normal with std {@code initStd} for matrices (the
   * Hugging Face {@code initializer_range}), ones for norms, zeros for biases. Deterministic across
   * engines and devices: the numbers come from Java.
   */
  public static DecoderModel random(ModelConfig config, ModelOptions options, long seed, double initStd) {
    return random(config, options, seed, initStd, false);
  }

  /**
   * As {@link #random(ModelConfig, ModelOptions, long, double)}, with the numbers drawn by the
   * engine on the model's device when {@code onDevice}: seconds instead of minutes for a model of
   * hundreds of millions of weights (benchmarks), reproducible on one engine and device only.
   */
  public static DecoderModel random(ModelConfig config, ModelOptions options, long seed, double initStd,
      boolean onDevice) {
    requireEngineSupport(options);
    NDManager manager = NDManager.newBaseManager(options.djlDevice(), "PyTorch");
    try {
      SplittableRandom random = new SplittableRandom(seed);
      if (onDevice) {
        manager.getEngine().setRandomSeed((int) seed);
      }
      Map<String, NDArray> weights = new LinkedHashMap<>();
      for (Map.Entry<String, long[]> e : expectedTensors(config).entrySet()) {
        String name = e.getKey();
        NDArray a;
        if (name.endsWith("norm.weight")) {
          a = manager.ones(new Shape(e.getValue()), options.dtype());
        } else if (name.endsWith(".bias")) {
          a = manager.zeros(new Shape(e.getValue()), options.dtype());
        } else if (onDevice) {
          a = manager.randomNormal(0f, (float) initStd, new Shape(e.getValue()), options.dtype());
        } else {
          a = normal(manager, e.getValue(), initStd, random, options.dtype());
        }
        a.setName(name);
        weights.put(name, a);
      }
      return new DecoderModel(config, options, manager, weights);
    } catch (RuntimeException e) {
      manager.close();
      throw e;
    }
  }

  /** bfloat16 arrays abort DJL's stock native library: mixed precision needs the bridge. */
  private static void requireEngineSupport(ModelOptions options) {
    if (options.mixedPrecision() && !FastOps.available()) {
      throw new ModelInputException("dtype BFLOAT16 (mixed precision) needs the native bridge: build it with "
          + "native/build-bridge.sh on a host with PyTorch (DJL's own library cannot hold bfloat16)");
    }
  }

  static NDArray normal(NDManager manager, long[] shape, double std, SplittableRandom random, DataType dtype) {
    int n = Math.toIntExact(new Shape(shape).size());
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = (float) (random.nextGaussian() * std);
    }
    NDArray a = manager.create(v, new Shape(shape));
    if (dtype == DataType.FLOAT32) {
      return a;
    }
    NDArray converted = a.toType(dtype, false);
    a.close();
    return converted;
  }

  /** Tensor names and shapes of the Hugging Face layout of {@code config}, in checkpoint order. */
  public static Map<String, long[]> expectedTensors(ModelConfig c) {
    Map<String, long[]> t = new LinkedHashMap<>();
    long h = c.hiddenSize();
    long qDim = (long) c.numHeads() * c.headDim();
    long kvDim = (long) c.numKvHeads() * c.headDim();
    t.put("model.embed_tokens.weight", new long[] {c.vocabSize(), h});
    for (int i = 0; i < c.numLayers(); i++) {
      String p = "model.layers." + i + ".";
      t.put(p + "input_layernorm.weight", new long[] {h});
      t.put(p + "self_attn.q_proj.weight", new long[] {qDim, h});
      if (c.qkvBias()) {
        t.put(p + "self_attn.q_proj.bias", new long[] {qDim});
      }
      t.put(p + "self_attn.k_proj.weight", new long[] {kvDim, h});
      if (c.qkvBias()) {
        t.put(p + "self_attn.k_proj.bias", new long[] {kvDim});
      }
      t.put(p + "self_attn.v_proj.weight", new long[] {kvDim, h});
      if (c.qkvBias()) {
        t.put(p + "self_attn.v_proj.bias", new long[] {kvDim});
      }
      t.put(p + "self_attn.o_proj.weight", new long[] {h, qDim});
      if (c.oBias()) {
        t.put(p + "self_attn.o_proj.bias", new long[] {h});
      }
      t.put(p + "post_attention_layernorm.weight", new long[] {h});
      t.put(p + "mlp.gate_proj.weight", new long[] {c.intermediateSize(), h});
      t.put(p + "mlp.up_proj.weight", new long[] {c.intermediateSize(), h});
      t.put(p + "mlp.down_proj.weight", new long[] {h, c.intermediateSize()});
      if (c.mlpBias()) {
        t.put(p + "mlp.gate_proj.bias", new long[] {c.intermediateSize()});
        t.put(p + "mlp.up_proj.bias", new long[] {c.intermediateSize()});
        t.put(p + "mlp.down_proj.bias", new long[] {h});
      }
    }
    t.put("model.norm.weight", new long[] {h});
    if (c.head() == Head.CAUSAL_LM && !c.tieWordEmbeddings()) {
      t.put("lm_head.weight", new long[] {c.vocabSize(), h});
    }
    if (c.head() == Head.SEQUENCE_CLASSIFICATION) {
      t.put("score.weight", new long[] {c.numLabels(), h});
    }
    return t;
  }

  private static String names(Set<String> names) {
    List<String> list = new ArrayList<>(names);
    String shown = String.join(", ", list.subList(0, Math.min(NAMES_IN_ERRORS, list.size())));
    return list.size() > NAMES_IN_ERRORS ? shown + ", … (" + (list.size() - NAMES_IN_ERRORS) + " more)" : shown;
  }

  // ---------------------------------------------------------------------------------------------
  // Forward.

  /**
   * The decoder trunk: embeddings → layers → final norm.
   *
   * @param inputIds {@code (B, T)} int64, in the caller's step manager (activations land there)
   * @param attentionMask {@code (B, past + T)} with 1 for tokens and 0 for padding, or null when
   *     nothing is padded. Positions are counted over the mask (a left-padded row starts at 0).
   * @param cache keys/values of earlier tokens, appended to; null for a full pass
   * @param adapter apply the LoRA adapter (false: the frozen base model, PPO's reference)
   * @return hidden states {@code (B, T, hidden)}
   */
  public NDArray hidden(NDArray inputIds, NDArray attentionMask, KvCache cache, boolean adapter) {
    NDManager scope = inputIds.getManager();
    long b = inputIds.getShape().get(0);
    long t = inputIds.getShape().get(1);
    long past = cache == null ? 0 : cache.length();
    long s = past + t;
    if (s > config.maxPositions()) {
      throw new ModelInputException("sequence of " + s + " tokens exceeds the context of "
          + config.maxPositions() + " (max_position_embeddings)");
    }
    if (attentionMask != null && attentionMask.getShape().get(1) != s) {
      throw new IllegalArgumentException("attention mask covers " + attentionMask.getShape().get(1)
          + " positions, expected past + new = " + s);
    }

    // Positions: counted over the mask, so left padding does not shift them.
    NDArray positions; // (B or 1, T) int64
    if (attentionMask == null) {
      positions = scope.arange(past, s, 1L, DataType.INT64).reshape(1, t);
    } else {
      positions = attentionMask.toType(DataType.INT64, false).cumSum(1).sub(1).clip(0, s)
          .get(new NDIndex(":, {}:", past));
    }
    // (B|1, T, 1, hd): rotary is applied in the projections' own (B, T, heads, hd) layout, where the
    // element-wise kernels read contiguous memory, before the heads move to dimension 1.
    NDArray cos = Embedding.embedding(positions, ropeCos, SparseFormat.DENSE).singletonOrThrow().expandDims(2);
    NDArray sin = Embedding.embedding(positions, ropeSin, SparseFormat.DENSE).singletonOrThrow().expandDims(2);

    // Additive mask: causal, and padding when there is a mask.
    NDArray query = scope.arange(past, s, 1L, DataType.INT64).reshape(t, 1);
    NDArray key = scope.arange(0L, s, 1L, DataType.INT64).reshape(1, s);
    NDArray allowed = key.lte(query).reshape(1, 1, t, s); // (1, 1, T, S)
    if (attentionMask != null) {
      allowed = allowed.logicalAnd(attentionMask.gt(0).reshape(b, 1, 1, s)); // (B, 1, T, S)
    }
    NDArray mask = allowed.logicalNot().toType(options.dtype(), false).mul(maskValue);

    // Without padding or earlier tokens the mask is purely causal: a fused kernel may apply that itself.
    boolean causalOnly = attentionMask == null && past == 0;

    NDArray x = Embedding.embedding(inputIds, embed_tokens, SparseFormat.DENSE).singletonOrThrow(); // (B, T, hidden)
    for (int i = 0; i < layers.size(); i++) {
      x = layer(i, x, cos, sin, mask, causalOnly, cache, adapter);
    }
    return rmsNorm(x, norm);
  }

  private NDArray layer(int index, NDArray x, NDArray cos, NDArray sin, NDArray mask, boolean causalOnly, KvCache cache,
      boolean adapter) {
    Layer l = layers.get(index);
    long b = x.getShape().get(0);
    long t = x.getShape().get(1);
    int heads = config.numHeads();
    int kvHeads = config.numKvHeads();
    int hd = config.headDim();

    // attention: norm → q/k/v → rotary → cache → attention → o_proj → residual
    NDArray h = rmsNorm(x, l.input_layernorm());
    NDArray q = l.q_proj().apply(h, adapter, training).reshape(b, t, heads, hd); // (B, T, H, hd)
    NDArray k = l.k_proj().apply(h, adapter, training).reshape(b, t, kvHeads, hd); // (B, T, KV, hd)
    NDArray v = l.v_proj().apply(h, adapter, training).reshape(b, t, kvHeads, hd).transpose(0, 2, 1, 3); // (B, KV, T, hd)
    q = Rotary.apply(q, cos, sin).transpose(0, 2, 1, 3); // (B, H, T, hd)
    k = Rotary.apply(k, cos, sin).transpose(0, 2, 1, 3); // (B, KV, T, hd)
    if (cache != null) {
      NDArray[] kv = cache.append(index, k, v, x.getManager());
      k = kv[0]; // (B, KV, S, hd)
      v = kv[1];
    }
    NDArray a = options.attention().apply(q, k, v, mask, causalOnly); // (B, H, T, hd)
    a = a.transpose(0, 2, 1, 3).reshape(b, t, (long) heads * hd);
    x = l.o_proj().apply(a, adapter, training, x); // x + o_proj(a), accumulated by the product itself

    // MLP: norm → SwiGLU → residual
    h = rmsNorm(x, l.post_attention_layernorm());
    NDArray gate = l.gate_proj().apply(h, adapter, training);
    NDArray up = l.up_proj().apply(h, adapter, training);
    NDArray act = FastOps.swiglu(gate, up); // silu(gate) * up
    return l.down_proj().apply(act, adapter, training, x); // x + down_proj(act)
  }

  /** RMSNorm as Hugging Face computes it: w · (x / sqrt(mean(x²) + eps)), normalized in float32. */
  private NDArray rmsNorm(NDArray x, NDArray weight) {
    return FastOps.rmsNorm(x, weight, config.rmsNormEps());
  }

  /** Language-model logits {@code (B, T, vocab)} from hidden states {@code (B, T, hidden)}. */
  public NDArray logits(NDArray hidden) {
    if (lm_head == null) {
      throw new IllegalStateException(config.architecture() + " has no language-model head");
    }
    return Linear.linear(hidden, lm_head).singletonOrThrow();
  }

  /**
   * Logits computed and returned in float32 whatever the model's type: for picking tokens under
   * mixed precision, where bf16 logits (spacing 2⁻⁶ around 4) cannot separate close candidates.
   * Meant for a few positions (decoding); training uses {@link #logits}.
   */
  public NDArray logitsFloat32(NDArray hidden) {
    if (lm_head == null) {
      throw new IllegalStateException(config.architecture() + " has no language-model head");
    }
    if (hidden.getDataType() == DataType.FLOAT32 && lm_head.getDataType() == DataType.FLOAT32) {
      return logits(hidden);
    }
    NDArray head = lm_head.toType(DataType.FLOAT32, false); // frozen: no gradient needed
    head.attach(hidden.getManager());
    return Linear.linear(FastOps.cast(hidden, DataType.FLOAT32), head).singletonOrThrow();
  }

  /**
   * The sequence-classification score, Hugging Face's way: the score head applied at the last
   * token that is not the pad token (the last position when the config names no pad token).
   *
   * @param hidden {@code (B, T, hidden)}
   * @param inputIds {@code (B, T)}
   * @return {@code (B, num_labels)}
   */
  public NDArray scores(NDArray hidden, NDArray inputIds) {
    if (score == null) {
      throw new IllegalStateException(config.architecture() + " has no score head");
    }
    long b = hidden.getShape().get(0);
    long t = hidden.getShape().get(1);
    long width = hidden.getShape().get(2);
    NDArray last; // (B) int64
    NDManager scope = hidden.getManager();
    if (config.padTokenId() >= 0) {
      NDArray notPad = inputIds.neq(config.padTokenId()).toType(DataType.INT64, false);
      last = notPad.mul(scope.arange(0L, t, 1L, DataType.INT64).reshape(1, t)).argMax(1);
    } else {
      last = scope.full(new Shape(b), t - 1, DataType.INT64);
    }
    NDArray index = last.reshape(b, 1, 1).broadcast(b, 1, width); // (B, 1, hidden)
    NDArray pooled = hidden.gather(index, 1).reshape(b, width); // (B, hidden)
    return Linear.linear(pooled, score).singletonOrThrow();
  }

  /** The PPO value head: a scalar per token {@code (B, T)}. Needs {@link #addValueHead}. */
  public NDArray values(NDArray hidden) {
    if (vHeadWeight == null) {
      throw new IllegalStateException("no value head: call addValueHead first");
    }
    NDArray h = FastOps.cast(hidden, vHeadWeight.getDataType()); // float32 under mixed precision
    NDArray v = Linear.linear(h, vHeadWeight, vHeadBias).singletonOrThrow(); // (B, T, 1)
    return v.squeeze(-1);
  }

  /**
   * Log-probabilities of the given tokens: entry t is {@code log p(ids[t+1] | ids[..t])}, under
   * the adapter (the policy) or without it (the reference), from {@code logits / temperature}.
   *
   * @param inputIds {@code (B, T)} int64
   * @param attentionMask {@code (B, T)} or null
   * @return {@code (B, T-1)}
   */
  public NDArray tokenLogProbs(NDArray inputIds, NDArray attentionMask, boolean adapter, double temperature) {
    long t = inputIds.getShape().get(1);
    NDArray logits = logits(hidden(inputIds, attentionMask, null, adapter)).get(new NDIndex(":, :{}, :", t - 1));
    return logProbsOf(logits, inputIds.get(new NDIndex(":, 1:")), temperature);
  }

  /**
   * {@code log softmax(logits / temperature)} at the given tokens: for a PPO step that already has
   * the logits (one trunk pass for logits and values). In float32 under mixed precision.
   *
   * @param logits {@code (B, T, V)}
   * @param tokens {@code (B, T)} int64, the token whose log-probability each position gives
   * @return {@code (B, T)}
   */
  public static NDArray logProbsOf(NDArray logits, NDArray tokens, double temperature) {
    NDArray wide = FastOps.atLeastFloat32(logits);
    NDArray scaled = temperature == 1.0 ? wide : wide.div(temperature);
    return scaled.logSoftmax(-1).gather(tokens.expandDims(-1), -1).squeeze(-1);
  }

  /** Scores of whole sequences for a reward model: {@code (B)}, label 0. */
  public NDArray sequenceScores(NDArray inputIds, NDArray attentionMask, boolean adapter) {
    NDArray s = scores(hidden(inputIds, attentionMask, null, adapter), inputIds);
    return s.get(new NDIndex(":, 0"));
  }

  /** A fresh KV cache for generation; close it when done. */
  public KvCache newCache() {
    return new KvCache(manager, config.numLayers());
  }

  // ---------------------------------------------------------------------------------------------
  // Parameters and training state.

  /** Dropout (LoRA) on or off; like PyTorch's {@code train()} / {@code eval()}. */
  public void setTraining(boolean training) {
    this.training = training;
  }

  public boolean training() {
    return training;
  }

  /** Every weight: the base in checkpoint order, then heads, then LoRA. */
  public List<Parameter> parameters() {
    List<Parameter> all = new ArrayList<>();
    stateDict().forEach((name, array) -> all.add(new Parameter(name, array)));
    if (vHeadWeight != null) {
      all.add(new Parameter("v_head.summary.weight", vHeadWeight));
      all.add(new Parameter("v_head.summary.bias", vHeadBias));
    }
    for (Projection p : projections()) {
      if (p.hasLora()) {
        all.add(new Parameter(p.name() + ".lora_A.weight", p.loraA()));
        all.add(new Parameter(p.name() + ".lora_B.weight", p.loraB()));
      }
    }
    return all;
  }

  /** The parameters that currently receive gradients. */
  public List<Parameter> trainableParameters() {
    List<Parameter> t = new ArrayList<>();
    for (Parameter p : parameters()) {
      if (p.trainable()) {
        t.add(p);
      }
    }
    return t;
  }

  /**
   * Makes exactly the parameters whose names match trainable, and freezes the rest. For example
   * {@code p -> true} for full fine-tuning, {@code Parameter::isLora} for LoRA, or LoRA plus the
   * score head for a LoRA reward model.
   */
  public void setTrainable(Predicate<Parameter> which) {
    for (Parameter p : parameters()) {
      boolean want = which.test(p);
      if (p.trainable() != want) {
        p.array().setRequiresGradient(want);
      }
    }
  }

  /** The Hugging Face layout of the base weights and head (no LoRA, no value head). */
  public Map<String, NDArray> stateDict() {
    Map<String, NDArray> t = new LinkedHashMap<>();
    t.put("model.embed_tokens.weight", embed_tokens);
    for (int i = 0; i < layers.size(); i++) {
      Layer l = layers.get(i);
      String p = "model.layers." + i + ".";
      t.put(p + "input_layernorm.weight", l.input_layernorm());
      for (Projection proj : l.projections()) {
        t.put(proj.name() + ".weight", proj.weight());
        if (proj.bias() != null) {
          t.put(proj.name() + ".bias", proj.bias());
        }
      }
      t.put(p + "post_attention_layernorm.weight", l.post_attention_layernorm());
    }
    t.put("model.norm.weight", norm);
    if (config.head() == Head.CAUSAL_LM && !config.tieWordEmbeddings()) {
      t.put("lm_head.weight", lm_head);
    }
    if (score != null) {
      t.put("score.weight", score);
    }
    return t;
  }

  /** Adds a value head (normal, std 0.02, from {@code seed}; bias 0), frozen until made trainable. */
  public void addValueHead(long seed) {
    if (vHeadWeight != null) {
      vHeadWeight.close();
      vHeadBias.close();
    }
    vHeadWeight = normal(manager, new long[] {1, config.hiddenSize()}, 0.02, new SplittableRandom(seed),
        options.trainableDtype());
    vHeadBias = manager.zeros(new Shape(1), options.trainableDtype());
  }

  /** Writes the value head as {@code v_head.summary.weight/bias} (TRL's names) to a safetensors file. */
  public void saveValueHead(Path file) throws IOException {
    if (vHeadWeight == null) {
      throw new IllegalStateException("no value head");
    }
    Map<String, NDArray> t = new LinkedHashMap<>();
    t.put("v_head.summary.weight", vHeadWeight);
    t.put("v_head.summary.bias", vHeadBias);
    SafeTensors.write(file, t, Map.of("format", "pt"), SafeTensors.Dtype.F32);
  }

  public void loadValueHead(Path file) throws IOException {
    try (SafeTensors.Reader r = SafeTensors.Reader.open(file)) {
      NDArray w = r.read("v_head.summary.weight", manager, options.trainableDtype());
      NDArray b = r.read("v_head.summary.bias", manager, options.trainableDtype());
      if (!w.getShape().equals(new Shape(1, config.hiddenSize()))) {
        w.close();
        b.close();
        throw new ModelInputException(file + ": value head has shape " + w.getShape() + ", expected (1, " + config.hiddenSize() + ")");
      }
      if (vHeadWeight != null) {
        vHeadWeight.close();
        vHeadBias.close();
      }
      vHeadWeight = w;
      vHeadBias = b;
    }
  }

  /** Writes {@code config.json} and {@code model.safetensors} (float32), as Hugging Face would. */
  public void save(Path dir) throws IOException {
    save(dir, SafeTensors.Dtype.F32, Long.MAX_VALUE);
  }

  /**
   * Writes the Hugging Face layout with weights stored as {@code dtype} (F32, F16 or BF16), sharded
   * into files of at most {@code maxShardBytes} with an index when they do not fit in one. A merged
   * adapter is saved as part of the weights; an unmerged one is not (save it with {@link
   * #saveAdapter}).
   */
  public void save(Path dir, SafeTensors.Dtype dtype, long maxShardBytes) throws IOException {
    Files.createDirectories(dir);
    CheckpointFiles.write(dir, stateDict(), dtype, maxShardBytes);
    String dtypeName = switch (dtype) {
      case BF16 -> "bfloat16";
      case F16 -> "float16";
      case F64 -> "float64";
      default -> "float32";
    };
    Files.writeString(dir.resolve("config.json"), config.toJson(dtypeName), StandardCharsets.UTF_8);
  }

  // ---------------------------------------------------------------------------------------------
  // LoRA.

  /** Every linear layer of the decoder, in order. */
  public List<Projection> projections() {
    List<Projection> all = new ArrayList<>();
    for (Layer l : layers) {
      all.addAll(l.projections());
    }
    return Collections.unmodifiableList(all);
  }

  /**
   * Injects a fresh adapter as PEFT initialises one: A from a Kaiming-uniform distribution (bound
   * 1/sqrt(in)), B zero, so the model's output does not change. Base weights are frozen; only the
   * LoRA weights are trainable.
   */
  public void attachLora(LoraConfig cfg, long seed) {
    SplittableRandom random = new SplittableRandom(seed);
    try (NoGrad ignored = NoGrad.enter()) {
      for (Projection p : projections()) {
        if (!cfg.targetModules().contains(p.moduleName())) {
          continue;
        }
        int in = Math.toIntExact(p.inFeatures());
        float bound = (float) (1.0 / Math.sqrt(in));
        float[] a = new float[cfg.rank() * in];
        for (int i = 0; i < a.length; i++) {
          a[i] = (float) ((random.nextDouble() * 2 - 1) * bound);
        }
        NDArray arrA = manager.create(a, new Shape(cfg.rank(), in)).toType(options.trainableDtype(), false);
        NDArray arrB = manager.zeros(new Shape(p.outFeatures(), cfg.rank()), options.trainableDtype());
        p.attachLora(arrA, arrB, cfg.scaling(), cfg.dropout());
      }
    }
    this.lora = cfg;
    setTrainable(Parameter::isLora);
  }

  /**
   * Installs adapter weights (from a PEFT file) for {@code cfg}; {@code tensors} maps internal
   * names ({@code model.layers.0.self_attn.q_proj.lora_A.weight}) to arrays in this model's
   * manager. Used by {@link PeftAdapter}.
   */
  public void installLora(LoraConfig cfg, Map<String, NDArray> tensors) {
    for (Projection p : projections()) {
      NDArray a = tensors.get(p.name() + ".lora_A.weight");
      NDArray b = tensors.get(p.name() + ".lora_B.weight");
      if (a == null && b == null) {
        p.closeLora();
        continue;
      }
      if (a == null || b == null) {
        throw new ModelInputException("adapter has only one of lora_A / lora_B for " + p.name());
      }
      if (!a.getShape().equals(new Shape(cfg.rank(), p.inFeatures()))
          || !b.getShape().equals(new Shape(p.outFeatures(), cfg.rank()))) {
        throw new ModelInputException("adapter tensors for " + p.name() + " have shapes " + a.getShape() + " / "
            + b.getShape() + ", expected (" + cfg.rank() + ", " + p.inFeatures() + ") / (" + p.outFeatures() + ", "
            + cfg.rank() + ")");
      }
      p.attachLora(a, b, cfg.scaling(), cfg.dropout());
    }
    this.lora = cfg;
    setTrainable(Parameter::isLora);
  }

  /** The attached adapter's configuration, or null. */
  public LoraConfig lora() {
    return lora;
  }

  /** Folds the adapter into the base weights (W += scaling·B·A). */
  public void mergeAdapter() {
    try (NoGrad ignored = NoGrad.enter()) {
      projections().forEach(Projection::merge);
    }
  }

  /** Takes a merged adapter back out of the base weights. */
  public void unmergeAdapter() {
    try (NoGrad ignored = NoGrad.enter()) {
      projections().forEach(Projection::unmerge);
    }
  }

  /** Removes the adapter (unmerging it first). */
  public void removeLora() {
    unmergeAdapter();
    projections().forEach(Projection::closeLora);
    lora = null;
  }

  /** Saves the adapter in the PEFT layout ({@code adapter_config.json} + {@code adapter_model.safetensors}). */
  public void saveAdapter(Path dir, String baseModelName) throws IOException {
    PeftAdapter.save(this, dir, baseModelName);
  }

  /** Loads a PEFT LoRA adapter, replacing any attached one. */
  public void loadAdapter(Path dir) throws IOException {
    PeftAdapter.load(this, dir);
  }

  // ---------------------------------------------------------------------------------------------

  public ModelConfig config() {
    return config;
  }

  public ModelOptions options() {
    return options;
  }

  /** The manager that owns the weights; open per-step sub-managers from it. */
  public NDManager manager() {
    return manager;
  }

  /** Number of base weights (no LoRA, no value head). */
  public long parameterCount() {
    long n = 0;
    for (NDArray a : stateDict().values()) {
      n += a.getShape().size();
    }
    return n;
  }

  @Override
  public void close() {
    manager.close();
  }

  /** Rotary position embeddings, tables computed once as Hugging Face does in float32. */
  static final class Rotary {
    private Rotary() {}

    static NDArray[] tables(ModelConfig c, NDManager manager, DataType dtype) {
      int half = c.headDim() / 2;
      float[] invFreq = new float[half];
      for (int i = 0; i < half; i++) {
        float exponent = (float) (2 * i) / c.headDim();
        invFreq[i] = (float) (1.0 / (float) Math.pow(c.ropeTheta(), exponent));
      }
      ModelConfig.RopeScaling rs = c.ropeScaling();
      if (rs.type().equals("linear")) {
        for (int i = 0; i < half; i++) {
          invFreq[i] = (float) (invFreq[i] / rs.factor());
        }
      } else if (rs.type().equals("llama3")) {
        double lowWavelen = rs.originalMaxPositions() / rs.lowFreqFactor();
        double highWavelen = rs.originalMaxPositions() / rs.highFreqFactor();
        for (int i = 0; i < half; i++) {
          double wavelen = 2 * Math.PI / invFreq[i];
          if (wavelen > lowWavelen) {
            invFreq[i] = (float) (invFreq[i] / rs.factor());
          } else if (wavelen >= highWavelen) {
            double smooth = (rs.originalMaxPositions() / wavelen - rs.lowFreqFactor())
                / (rs.highFreqFactor() - rs.lowFreqFactor());
            invFreq[i] = (float) ((1 - smooth) * invFreq[i] / rs.factor() + smooth * invFreq[i]);
          }
        }
      }
      int positions = c.maxPositions();
      float[] cos = new float[positions * c.headDim()];
      float[] sin = new float[positions * c.headDim()];
      for (int p = 0; p < positions; p++) {
        for (int i = 0; i < half; i++) {
          float angle = (float) p * invFreq[i];
          float cv = (float) Math.cos(angle);
          float sv = (float) Math.sin(angle);
          // emb = cat(freqs, freqs): the two halves share a frequency.
          cos[p * c.headDim() + i] = cv;
          cos[p * c.headDim() + half + i] = cv;
          sin[p * c.headDim() + i] = sv;
          sin[p * c.headDim() + half + i] = sv;
        }
      }
      Shape shape = new Shape(positions, c.headDim());
      NDArray cosA = manager.create(cos, shape);
      NDArray sinA = manager.create(sin, shape);
      if (dtype != DataType.FLOAT32) {
        NDArray c2 = cosA.toType(dtype, false);
        NDArray s2 = sinA.toType(dtype, false);
        cosA.close();
        sinA.close();
        cosA = c2;
        sinA = s2;
      }
      return new NDArray[] {cosA, sinA};
    }

    /** x·cos + rotate_half(x)·sin, rotate_half(x) = cat(-x₂, x₁) over the last axis (head_dim). */
    static NDArray apply(NDArray x, NDArray cos, NDArray sin) {
      return FastOps.rotary(x, cos, sin);
    }
  }
}

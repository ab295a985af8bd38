package org.rlhfstream.model;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The architecture of a decoder, as read from a Hugging Face {@code config.json}.
 *
 * <p>Covers the Llama family (RMSNorm, rotary embeddings, grouped-query attention, SwiGLU, tied or
 * untied embeddings) and Qwen2 (the same plus q/k/v biases). Rotary theta is read from both the
 * transformers 4 style (top-level {@code rope_theta}) and the transformers 5 style ({@code
 * rope_parameters.rope_theta}).
 *
 * @param modelType {@code llama} or {@code qwen2}
 * @param head {@link Head#CAUSAL_LM} for {@code *ForCausalLM}, {@link Head#SEQUENCE_CLASSIFICATION}
 *     for {@code *ForSequenceClassification} (reward models: {@code score.weight})
 * @param headDim per-head width; Llama allows it to differ from hidden / heads
 * @param ropeScaling {@code default}, {@code linear} or {@code llama3}
 * @param qkvBias q/k/v projections carry a bias (Qwen2 always; Llama when {@code attention_bias})
 * @param oBias o_proj carries a bias (Llama {@code attention_bias}; never in Qwen2)
 * @param padTokenId -1 when the checkpoint names none
 * @param numLabels outputs of the score head (1 for a reward model)
 */
public record ModelConfig(
    String modelType,
    Head head,
    int vocabSize,
    int hiddenSize,
    int intermediateSize,
    int numLayers,
    int numHeads,
    int numKvHeads,
    int headDim,
    double ropeTheta,
    RopeScaling ropeScaling,
    double rmsNormEps,
    int maxPositions,
    boolean tieWordEmbeddings,
    boolean qkvBias,
    boolean oBias,
    boolean mlpBias,
    int bosTokenId,
    List<Integer> eosTokenIds,
    int padTokenId,
    int numLabels) {

  /** Which output head the checkpoint has. */
  public enum Head {
    CAUSAL_LM("ForCausalLM"),
    SEQUENCE_CLASSIFICATION("ForSequenceClassification");

    final String suffix;

    Head(String suffix) {
      this.suffix = suffix;
    }
  }

  /**
   * Rotary frequency scaling. {@code llama3} (Llama 3.1/3.2) rescales low frequencies; {@code
   * linear} divides positions by {@code factor}.
   */
  public record RopeScaling(String type, double factor, double lowFreqFactor, double highFreqFactor, int originalMaxPositions) {
    public static final RopeScaling NONE = new RopeScaling("default", 1, 1, 1, 0);

    public RopeScaling {
      if (!List.of("default", "linear", "llama3").contains(type)) {
        throw new ModelInputException(
            "unsupported rope scaling type '" + type + "' (supported: default, linear, llama3)");
      }
      if (factor <= 0) {
        throw new ModelInputException("rope scaling factor must be positive, got " + factor);
      }
    }
  }

  public ModelConfig {
    if (!modelType.equals("llama") && !modelType.equals("qwen2")) {
      throw new ModelInputException("unsupported model_type '" + modelType + "' (supported: llama, qwen2)");
    }
    positive("vocab_size", vocabSize);
    positive("hidden_size", hiddenSize);
    positive("intermediate_size", intermediateSize);
    positive("num_hidden_layers", numLayers);
    positive("num_attention_heads", numHeads);
    positive("num_key_value_heads", numKvHeads);
    positive("head_dim", headDim);
    positive("max_position_embeddings", maxPositions);
    if (numHeads % numKvHeads != 0) {
      throw new ModelInputException(
          "num_attention_heads (" + numHeads + ") must be a multiple of num_key_value_heads (" + numKvHeads + ")");
    }
    if (headDim % 2 != 0) {
      throw new ModelInputException("head_dim must be even for rotary embeddings, got " + headDim);
    }
    if (!(ropeTheta > 0)) {
      throw new ModelInputException("rope_theta must be positive, got " + ropeTheta);
    }
    if (!(rmsNormEps > 0)) {
      throw new ModelInputException("rms_norm_eps must be positive, got " + rmsNormEps);
    }
    if (head == Head.SEQUENCE_CLASSIFICATION && numLabels < 1) {
      throw new ModelInputException("a sequence classification model needs num_labels >= 1");
    }
    eosTokenIds = List.copyOf(eosTokenIds);
  }

  private static void positive(String field, int value) {
    if (value <= 0) {
      throw new ModelInputException("config field " + field + " must be positive, got " + value);
    }
  }

  /** The Hugging Face architecture name, e.g. {@code LlamaForCausalLM}. */
  public String architecture() {
    return (modelType.equals("llama") ? "Llama" : "Qwen2") + head.suffix;
  }

  public int kvGroups() {
    return numHeads / numKvHeads;
  }

  /** The same architecture with another head (a reward model from a causal-LM base, say). */
  public ModelConfig withHead(Head newHead, int labels) {
    return new ModelConfig(modelType, newHead, vocabSize, hiddenSize, intermediateSize, numLayers, numHeads,
        numKvHeads, headDim, ropeTheta, ropeScaling, rmsNormEps, maxPositions, tieWordEmbeddings, qkvBias, oBias,
        mlpBias, bosTokenId, eosTokenIds, padTokenId, labels);
  }

  /** A Llama configuration, for presets and tests. */
  public static ModelConfig llama(int vocab, int hidden, int intermediate, int layers, int heads, int kvHeads,
      int maxPositions, boolean tied) {
    return new ModelConfig("llama", Head.CAUSAL_LM, vocab, hidden, intermediate, layers, heads, kvHeads,
        hidden / heads, 10000.0, RopeScaling.NONE, 1e-5, maxPositions, tied, false, false, false, 0, List.of(1), 2, 1);
  }

  /** Reads {@code dir/config.json}. */
  public static ModelConfig load(Path dir) throws IOException {
    Path file = dir.resolve("config.json");
    String text;
    try {
      text = Files.readString(file);
    } catch (NoSuchFileException e) {
      throw new ModelInputException("missing file " + file);
    }
    JsonObject json;
    try {
      json = JsonParser.parseString(text).getAsJsonObject();
    } catch (RuntimeException e) {
      throw new ModelInputException(file + " is not valid JSON: " + e.getMessage());
    }
    return fromJson(json, file.toString());
  }

  static ModelConfig fromJson(JsonObject json, String source) {
    String architecture = json.has("architectures") && json.getAsJsonArray("architectures").size() > 0
        ? json.getAsJsonArray("architectures").get(0).getAsString() : null;
    String modelType = str(json, "model_type", null);
    if (modelType == null) {
      throw new ModelInputException(source + " has no model_type");
    }
    modelType = modelType.toLowerCase(Locale.ROOT);
    Head head = Head.CAUSAL_LM;
    if (architecture != null) {
      String prefix = modelType.equals("qwen2") ? "Qwen2" : modelType.equals("llama") ? "Llama" : null;
      if (prefix == null || !architecture.startsWith(prefix)) {
        throw new ModelInputException("unsupported architecture " + architecture
            + " (supported: LlamaForCausalLM, LlamaForSequenceClassification, Qwen2ForCausalLM, Qwen2ForSequenceClassification)");
      }
      String rest = architecture.substring(prefix.length());
      if (rest.equals(Head.CAUSAL_LM.suffix)) {
        head = Head.CAUSAL_LM;
      } else if (rest.equals(Head.SEQUENCE_CLASSIFICATION.suffix)) {
        head = Head.SEQUENCE_CLASSIFICATION;
      } else {
        throw new ModelInputException("unsupported architecture " + architecture
            + " (supported heads: ForCausalLM, ForSequenceClassification)");
      }
    }
    if (json.has("use_sliding_window") && json.get("use_sliding_window").getAsBoolean()) {
      throw new ModelInputException(source + ": sliding-window attention is not supported");
    }
    String act = str(json, "hidden_act", "silu");
    if (!act.equals("silu")) {
      throw new ModelInputException(source + ": hidden_act '" + act + "' is not supported (only silu)");
    }
    int hidden = integer(json, "hidden_size", -1);
    int heads = integer(json, "num_attention_heads", -1);
    int kvHeads = integer(json, "num_key_value_heads", heads);
    int headDim = json.has("head_dim") && !json.get("head_dim").isJsonNull()
        ? json.get("head_dim").getAsInt() : (heads > 0 ? hidden / heads : -1);

    // Rotary: transformers 5 nests theta and scaling in rope_parameters; transformers 4 has a
    // top-level rope_theta and an optional rope_scaling object.
    double theta = 10000.0;
    JsonObject scaling = null;
    if (json.has("rope_parameters") && json.get("rope_parameters").isJsonObject()) {
      JsonObject rp = json.getAsJsonObject("rope_parameters");
      if (rp.has("rope_theta")) {
        theta = rp.get("rope_theta").getAsDouble();
      }
      scaling = rp;
    }
    if (json.has("rope_theta") && !json.get("rope_theta").isJsonNull()) {
      theta = json.get("rope_theta").getAsDouble();
    }
    if (json.has("rope_scaling") && json.get("rope_scaling").isJsonObject()) {
      scaling = json.getAsJsonObject("rope_scaling");
    }
    RopeScaling rope = RopeScaling.NONE;
    if (scaling != null) {
      String type = str(scaling, "rope_type", str(scaling, "type", "default"));
      if (!type.equals("default")) {
        rope = new RopeScaling(type, dbl(scaling, "factor", 1), dbl(scaling, "low_freq_factor", 1),
            dbl(scaling, "high_freq_factor", 4), integer(scaling, "original_max_position_embeddings", 8192));
      }
    }

    boolean qwen = modelType.equals("qwen2");
    boolean attentionBias = bool(json, "attention_bias", false);
    List<Integer> eos = new ArrayList<>();
    JsonElement e = json.get("eos_token_id");
    if (e != null && e.isJsonArray()) {
      for (JsonElement x : (JsonArray) e) {
        eos.add(x.getAsInt());
      }
    } else if (e != null && !e.isJsonNull()) {
      eos.add(e.getAsInt());
    }
    int labels = integer(json, "num_labels", json.has("id2label") ? json.getAsJsonObject("id2label").size() : 1);
    return new ModelConfig(modelType, head, integer(json, "vocab_size", -1), hidden,
        integer(json, "intermediate_size", -1), integer(json, "num_hidden_layers", -1), heads, kvHeads, headDim,
        theta, rope, dbl(json, "rms_norm_eps", 1e-6), integer(json, "max_position_embeddings", 2048),
        bool(json, "tie_word_embeddings", qwen ? false : false), qwen || attentionBias, !qwen && attentionBias,
        bool(json, "mlp_bias", false), integer(json, "bos_token_id", -1), eos, integer(json, "pad_token_id", -1),
        labels);
  }

  /** The {@code config.json} of this configuration, in the transformers 5 layout, float32 weights. */
  public String toJson() {
    return toJson("float32");
  }

  /** The same, naming the dtype the weights are stored in ({@code float32}, {@code bfloat16}, …). */
  public String toJson(String dtype) {
    JsonObject o = new JsonObject();
    JsonArray arch = new JsonArray();
    arch.add(architecture());
    o.add("architectures", arch);
    o.addProperty("model_type", modelType);
    if (modelType.equals("llama")) {
      o.addProperty("attention_bias", oBias);
      o.addProperty("mlp_bias", mlpBias);
    }
    o.addProperty("bos_token_id", bosTokenId);
    if (eosTokenIds.size() == 1) {
      o.addProperty("eos_token_id", eosTokenIds.get(0));
    } else {
      JsonArray eos = new JsonArray();
      eosTokenIds.forEach(eos::add);
      o.add("eos_token_id", eos);
    }
    if (padTokenId >= 0) {
      o.addProperty("pad_token_id", padTokenId);
    }
    o.addProperty("dtype", dtype);
    o.addProperty("head_dim", headDim);
    o.addProperty("hidden_act", "silu");
    o.addProperty("hidden_size", hiddenSize);
    o.addProperty("intermediate_size", intermediateSize);
    o.addProperty("max_position_embeddings", maxPositions);
    o.addProperty("num_attention_heads", numHeads);
    o.addProperty("num_hidden_layers", numLayers);
    o.addProperty("num_key_value_heads", numKvHeads);
    o.addProperty("rms_norm_eps", rmsNormEps);
    JsonObject rope = new JsonObject();
    rope.addProperty("rope_theta", ropeTheta);
    rope.addProperty("rope_type", ropeScaling.type());
    if (!ropeScaling.type().equals("default")) {
      rope.addProperty("factor", ropeScaling.factor());
      rope.addProperty("low_freq_factor", ropeScaling.lowFreqFactor());
      rope.addProperty("high_freq_factor", ropeScaling.highFreqFactor());
      rope.addProperty("original_max_position_embeddings", ropeScaling.originalMaxPositions());
    }
    o.add("rope_parameters", rope);
    o.addProperty("rope_theta", ropeTheta); // transformers 4 readers look here
    o.addProperty("tie_word_embeddings", tieWordEmbeddings);
    if (head == Head.SEQUENCE_CLASSIFICATION) {
      JsonObject id2label = new JsonObject();
      JsonObject label2id = new JsonObject();
      for (int i = 0; i < numLabels; i++) {
        id2label.addProperty(Integer.toString(i), "LABEL_" + i);
        label2id.addProperty("LABEL_" + i, i);
      }
      o.add("id2label", id2label);
      o.add("label2id", label2id);
    }
    o.addProperty("use_cache", true);
    o.addProperty("vocab_size", vocabSize);
    return new GsonBuilder().setPrettyPrinting().create().toJson(o);
  }

  private static String str(JsonObject o, String key, String dflt) {
    JsonElement e = o.get(key);
    return e == null || e.isJsonNull() ? dflt : e.getAsString();
  }

  private static int integer(JsonObject o, String key, int dflt) {
    JsonElement e = o.get(key);
    return e == null || e.isJsonNull() ? dflt : e.getAsInt();
  }

  private static double dbl(JsonObject o, String key, double dflt) {
    JsonElement e = o.get(key);
    return e == null || e.isJsonNull() ? dflt : e.getAsDouble();
  }

  private static boolean bool(JsonObject o, String key, boolean dflt) {
    JsonElement e = o.get(key);
    return e == null || e.isJsonNull() ? dflt : e.getAsBoolean();
  }
}

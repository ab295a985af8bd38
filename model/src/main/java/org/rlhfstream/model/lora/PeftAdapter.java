package org.rlhfstream.model.lora;

import ai.djl.ndarray.NDArray;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.rlhfstream.model.DecoderModel;
import org.rlhfstream.model.ModelConfig;
import org.rlhfstream.model.ModelInputException;
import org.rlhfstream.model.Projection;
import org.rlhfstream.model.io.SafeTensors;

/**
 * LoRA adapters in the PEFT layout, so that PEFT, vLLM and other servers load them unchanged:
 * {@code adapter_config.json} and {@code adapter_model.safetensors} with tensors named {@code
 * base_model.model.<module>.lora_A.weight} {@code (r, in)} and {@code …lora_B.weight} {@code (out,
 * r)}.
 */
public final class PeftAdapter {
  public static final String CONFIG = "adapter_config.json";
  public static final String WEIGHTS = "adapter_model.safetensors";
  private static final String PREFIX = "base_model.model.";

  private PeftAdapter() {}

  /** Writes the model's adapter (float32) to {@code dir}. */
  public static void save(DecoderModel model, Path dir, String baseModelName) throws IOException {
    LoraConfig cfg = model.lora();
    if (cfg == null) {
      throw new IllegalStateException("the model has no adapter to save");
    }
    if (model.projections().stream().anyMatch(Projection::merged)) {
      throw new IllegalStateException("unmerge the adapter before saving it");
    }
    Map<String, NDArray> tensors = new LinkedHashMap<>();
    for (Projection p : model.projections()) {
      if (p.hasLora()) {
        tensors.put(PREFIX + p.name() + ".lora_A.weight", p.loraA());
        tensors.put(PREFIX + p.name() + ".lora_B.weight", p.loraB());
      }
    }
    Files.createDirectories(dir);
    SafeTensors.write(dir.resolve(WEIGHTS), tensors, Map.of("format", "pt"), SafeTensors.Dtype.F32);
    Files.writeString(dir.resolve(CONFIG), configJson(cfg, model.config(), baseModelName), StandardCharsets.UTF_8);
  }

  static String configJson(LoraConfig cfg, ModelConfig model, String baseModelName) {
    JsonObject o = new JsonObject();
    o.add("alpha_pattern", new JsonObject());
    o.add("auto_mapping", JsonNull.INSTANCE);
    o.addProperty("base_model_name_or_path", baseModelName);
    o.addProperty("bias", "none");
    o.addProperty("fan_in_fan_out", false);
    o.addProperty("inference_mode", true);
    o.addProperty("init_lora_weights", true);
    o.add("layers_pattern", JsonNull.INSTANCE);
    o.add("layers_to_transform", JsonNull.INSTANCE);
    o.addProperty("lora_alpha", cfg.alpha());
    o.addProperty("lora_dropout", cfg.dropout());
    o.add("modules_to_save", JsonNull.INSTANCE);
    o.addProperty("peft_type", "LORA");
    o.addProperty("r", cfg.rank());
    o.add("rank_pattern", new JsonObject());
    o.add("revision", JsonNull.INSTANCE);
    JsonArray targets = new JsonArray();
    new TreeSet<>(cfg.targetModules()).forEach(targets::add);
    o.add("target_modules", targets);
    o.addProperty("task_type", model.head() == ModelConfig.Head.CAUSAL_LM ? "CAUSAL_LM" : "SEQ_CLS");
    o.addProperty("use_dora", false);
    o.addProperty("use_rslora", cfg.rsLora());
    return new GsonBuilder().setPrettyPrinting().serializeNulls().create().toJson(o);
  }

  /** Reads {@code adapter_config.json}, refusing PEFT features this model does not implement. */
  public static LoraConfig readConfig(Path dir) throws IOException {
    Path file = dir.resolve(CONFIG);
    JsonObject o;
    try {
      o = JsonParser.parseString(Files.readString(file)).getAsJsonObject();
    } catch (NoSuchFileException e) {
      throw new ModelInputException("missing file " + file);
    } catch (RuntimeException e) {
      throw new ModelInputException(file + " is not valid JSON: " + e.getMessage());
    }
    String type = str(o, "peft_type", "LORA");
    if (!type.equals("LORA")) {
      throw new ModelInputException(file + ": peft_type " + type + " is not supported (only LORA)");
    }
    if (bool(o, "use_dora")) {
      throw new ModelInputException(file + ": DoRA adapters (use_dora) are not supported");
    }
    if (bool(o, "fan_in_fan_out")) {
      throw new ModelInputException(file + ": fan_in_fan_out adapters are not supported");
    }
    if (!str(o, "bias", "none").equals("none")) {
      throw new ModelInputException(file + ": LoRA bias '" + str(o, "bias", "") + "' is not supported (only none)");
    }
    for (String key : List.of("rank_pattern", "alpha_pattern")) {
      if (o.has(key) && o.get(key).isJsonObject() && o.getAsJsonObject(key).size() > 0) {
        throw new ModelInputException(file + ": per-module " + key + " is not supported");
      }
    }
    for (String key : List.of("layers_to_transform", "modules_to_save")) {
      if (o.has(key) && !o.get(key).isJsonNull() && !(o.get(key).isJsonArray() && o.getAsJsonArray(key).isEmpty())) {
        throw new ModelInputException(file + ": " + key + " is not supported");
      }
    }
    List<String> targets = new ArrayList<>();
    JsonElement t = o.get("target_modules");
    if (t == null || t.isJsonNull()) {
      throw new ModelInputException(file + " names no target_modules");
    }
    if (t.isJsonArray()) {
      for (JsonElement e : t.getAsJsonArray()) {
        targets.add(e.getAsString());
      }
    } else {
      // A regular expression over full module names; resolved against the tensors on load.
      for (String m : LoraConfig.TARGETABLE) {
        if (t.getAsString().contains(m)) {
          targets.add(m);
        }
      }
    }
    for (String m : targets) {
      if (!LoraConfig.TARGETABLE.contains(m)) {
        throw new ModelInputException(file + ": target module '" + m + "' is not one of " + LoraConfig.TARGETABLE);
      }
    }
    return new LoraConfig(o.get("r").getAsInt(), o.get("lora_alpha").getAsDouble(),
        o.has("lora_dropout") ? o.get("lora_dropout").getAsDouble() : 0.0, targets, bool(o, "use_rslora"));
  }

  /** Loads an adapter into {@code model}, checking every tensor name and shape. */
  public static void load(DecoderModel model, Path dir) throws IOException {
    if (!Files.isDirectory(dir)) {
      throw new ModelInputException("adapter directory " + dir + " does not exist");
    }
    LoraConfig cfg = readConfig(dir);
    Map<String, Projection> byName = new LinkedHashMap<>();
    for (Projection p : model.projections()) {
      byName.put(p.name(), p);
    }
    Map<String, NDArray> tensors = new LinkedHashMap<>();
    Path weights = dir.resolve(WEIGHTS);
    if (!Files.isRegularFile(weights)) {
      throw new ModelInputException("missing file " + weights);
    }
    try (SafeTensors.Reader r = SafeTensors.Reader.open(weights)) {
      Set<String> unknown = new LinkedHashSet<>();
      for (String name : r.tensors().keySet()) {
        String internal = toInternal(name);
        String module = internal == null ? null : internal.replaceAll("\\.lora_[AB]\\.weight$", "");
        if (internal == null || !byName.containsKey(module)) {
          unknown.add(name);
        }
      }
      if (!unknown.isEmpty()) {
        throw new ModelInputException(weights + " has tensors that match no LoRA module of "
            + model.config().architecture() + ": " + String.join(", ", new ArrayList<>(unknown).subList(0, Math.min(8, unknown.size()))));
      }
      // With a list of target modules every matching projection must have its pair; a regular
      // expression may select some layers only, so there the file decides.
      boolean listed = JsonParser.parseString(Files.readString(dir.resolve(CONFIG))).getAsJsonObject()
          .get("target_modules").isJsonArray();
      Set<String> missing = new LinkedHashSet<>();
      for (Projection p : model.projections()) {
        if (listed && cfg.targetModules().contains(p.moduleName())) {
          for (String ab : List.of(".lora_A.weight", ".lora_B.weight")) {
            if (!r.tensors().containsKey(PREFIX + p.name() + ab)) {
              missing.add(PREFIX + p.name() + ab);
            }
          }
        }
      }
      if (!missing.isEmpty()) {
        throw new ModelInputException(weights + " lacks tensors for its target modules: "
            + String.join(", ", new ArrayList<>(missing).subList(0, Math.min(8, missing.size()))));
      }
      try {
        for (String name : r.tensors().keySet()) {
          NDArray a = r.read(name, model.manager(), model.options().trainableDtype());
          tensors.put(toInternal(name), a);
        }
        model.installLora(cfg, tensors);
      } catch (RuntimeException e) {
        tensors.values().forEach(NDArray::close);
        throw e;
      }
    }
  }

  /** {@code base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight} → the internal name. */
  static String toInternal(String peftName) {
    if (!peftName.startsWith(PREFIX)) {
      return null;
    }
    String rest = peftName.substring(PREFIX.length());
    // PEFT may keep the adapter name in older files: …lora_A.default.weight
    rest = rest.replace(".lora_A.default.weight", ".lora_A.weight").replace(".lora_B.default.weight", ".lora_B.weight");
    return rest.endsWith(".lora_A.weight") || rest.endsWith(".lora_B.weight") ? rest : null;
  }

  private static String str(JsonObject o, String key, String dflt) {
    JsonElement e = o.get(key);
    return e == null || e.isJsonNull() ? dflt : e.getAsString();
  }

  private static boolean bool(JsonObject o, String key) {
    JsonElement e = o.get(key);
    return e != null && !e.isJsonNull() && e.getAsBoolean();
  }
}

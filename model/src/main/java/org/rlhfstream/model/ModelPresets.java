package org.rlhfstream.model;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Locale;

/**
 * Built-in models with random weights from a fixed seed, written as normal Hugging Face folders
 * ({@code config.json}, {@code model.safetensors}, {@code tokenizer.json}, {@code
 * generation_config.json}), for the all-in-one mode, tests and benchmarks. The tokenizer is the
 * shipped byte-level BPE ({@code <s>}=0, {@code </s>}=1, {@code <pad>}=2, 512 tokens).
 */
public enum ModelPresets {
  /** ~0.2M parameters: vocab 512, hidden 64, 2 layers, 4 heads / 2 KV heads, context 256. */
  TINY(ModelConfig.llama(512, 64, 176, 2, 4, 2, 256, false), 1234),
  /**
   * ~25M parameters for benchmarks: vocab 8192, hidden 512, 6 layers, 8 heads / 4 KV heads,
   * SwiGLU 1408, context 512 (the vocabulary beyond the tokenizer's 512 tokens is unused padding).
   */
  SMALL_25M(ModelConfig.llama(8192, 512, 1408, 6, 8, 4, 512, false), 4321);

  /** Hugging Face's default initializer_range. */
  public static final double INIT_STD = 0.02;

  private final ModelConfig config;
  private final long seed;

  ModelPresets(ModelConfig config, long seed) {
    this.config = config;
    this.seed = seed;
  }

  public ModelConfig config() {
    return config;
  }

  public long seed() {
    return seed;
  }

  /** The preset by name, case-insensitive ({@code tiny}, {@code small_25m}). */
  public static ModelPresets byName(String name) {
    for (ModelPresets p : values()) {
      if (p.name().equalsIgnoreCase(name) || p.name().toLowerCase(Locale.ROOT).replace("_", "-").equals(name)) {
        return p;
      }
    }
    throw new ModelInputException("unknown model preset '" + name + "' (known: tiny, small_25m)");
  }

  /** The preset's model in memory. */
  public DecoderModel create(ModelOptions options) {
    return DecoderModel.random(config, options, seed, INIT_STD);
  }

  /** Writes the preset as a Hugging Face folder into {@code dir} and returns {@code dir}. */
  public Path writeTo(Path dir) throws IOException {
    Files.createDirectories(dir);
    try (DecoderModel model = create(ModelOptions.cpu())) {
      model.save(dir);
    }
    copyTokenizer(dir);
    Files.writeString(dir.resolve("generation_config.json"),
        "{\n  \"bos_token_id\": 0,\n  \"eos_token_id\": 1,\n  \"pad_token_id\": 2\n}\n", StandardCharsets.UTF_8);
    return dir;
  }

  /** Copies the shipped {@code tokenizer.json} into {@code dir}. */
  public static void copyTokenizer(Path dir) throws IOException {
    try (InputStream in = ModelPresets.class.getResourceAsStream("presets/tokenizer.json")) {
      if (in == null) {
        throw new IllegalStateException("the shipped tokenizer.json is missing from the jar");
      }
      Files.copy(in, dir.resolve(TextTokenizer.FILE), StandardCopyOption.REPLACE_EXISTING);
    }
  }

  /** Names accepted by {@link #byName}. */
  public static List<String> names() {
    return List.of("tiny", "small_25m");
  }
}

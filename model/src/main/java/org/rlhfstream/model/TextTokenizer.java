package org.rlhfstream.model;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * A Hugging Face {@code tokenizer.json} through DJL's tokenizers binding, offline. Special tokens
 * are added as the tokenizer's post-processor says (as {@code tokenizer(text)} does in Python);
 * truncation and padding are off: DJL's binding otherwise cuts input at 512 tokens without a word.
 */
public final class TextTokenizer implements AutoCloseable {
  public static final String FILE = "tokenizer.json";

  private final HuggingFaceTokenizer tokenizer;

  private TextTokenizer(HuggingFaceTokenizer tokenizer) {
    this.tokenizer = tokenizer;
  }

  /** Loads {@code dir/tokenizer.json}. */
  public static TextTokenizer load(Path dir) throws IOException {
    Path file = dir.resolve(FILE);
    if (!Files.isRegularFile(file)) {
      throw new ModelInputException("missing file " + file);
    }
    Map<String, String> options = Map.of(
        "addSpecialTokens", "true",
        "truncation", "false",
        "padding", "false",
        "maxLength", Integer.toString(Integer.MAX_VALUE / 2));
    try {
      return new TextTokenizer(HuggingFaceTokenizer.newInstance(file, options));
    } catch (RuntimeException e) {
      throw new ModelInputException("cannot read tokenizer " + file + ": " + e.getMessage(), e);
    }
  }

  /** Token ids of {@code text}. */
  public int[] encode(String text) {
    Encoding e = tokenizer.encode(text);
    long[] ids = e.getIds();
    int[] out = new int[ids.length];
    for (int i = 0; i < ids.length; i++) {
      out[i] = Math.toIntExact(ids[i]);
    }
    return out;
  }

  /** Text of {@code ids}, special tokens left out. */
  public String decode(int[] ids) {
    long[] l = new long[ids.length];
    for (int i = 0; i < ids.length; i++) {
      l[i] = ids[i];
    }
    return tokenizer.decode(l, true);
  }

  @Override
  public void close() {
    tokenizer.close();
  }
}

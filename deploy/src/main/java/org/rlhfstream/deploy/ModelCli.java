package org.rlhfstream.deploy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.rlhfstream.model.DecoderModel;
import org.rlhfstream.model.ModelInputException;
import org.rlhfstream.model.ModelOptions;
import org.rlhfstream.model.TextTokenizer;

/** What {@code rlhf generate} and {@code rlhf score} share: loading, id lists, user errors. */
final class ModelCli {
  private ModelCli() {}

  /** Runs {@code body}, turning the model's input errors into {@link UserError} (exit 2). */
  static <T> T userErrors(ModelAction<T> body) throws IOException {
    try {
      return body.run();
    } catch (ModelInputException e) {
      throw new UserError(e.getMessage(), e);
    }
  }

  @FunctionalInterface
  interface ModelAction<T> {
    T run() throws IOException;
  }

  static DecoderModel load(Path dir, String device) throws IOException {
    if (!Files.isDirectory(dir)) {
      throw new UserError("model directory " + dir + " does not exist");
    }
    ModelOptions options;
    try {
      options = new ModelOptions(device, ai.djl.ndarray.types.DataType.FLOAT32, null);
    } catch (IllegalArgumentException e) {
      throw new UserError(e.getMessage());
    }
    return userErrors(() -> DecoderModel.load(dir, options));
  }

  /** The folder's tokenizer, or null when it has none and {@code required} is false. */
  static TextTokenizer tokenizer(Path dir, boolean required) throws IOException {
    if (!Files.isRegularFile(dir.resolve(TextTokenizer.FILE)) && !required) {
      return null;
    }
    return userErrors(() -> TextTokenizer.load(dir));
  }

  /** {@code 1,2,3} → ids; a clear error for anything else. */
  static int[] parseIds(String flag, String text) {
    List<Integer> ids = new ArrayList<>();
    for (String part : text.split(",")) {
      String p = part.strip();
      if (p.isEmpty()) {
        continue;
      }
      try {
        ids.add(Integer.parseInt(p));
      } catch (NumberFormatException e) {
        throw new UserError(flag + " must be comma-separated token ids, got '" + p + "'");
      }
    }
    if (ids.isEmpty()) {
      throw new UserError(flag + " names no token ids");
    }
    return ids.stream().mapToInt(Integer::intValue).toArray();
  }
}

package org.rlhfstream.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.nio.file.Paths;
import org.rlhfstream.model.io.SafeTensors;

/** The Hugging Face reference vectors under test resources ({@code hf-reference/llama-tiny}). */
final class Reference {
  private Reference() {}

  static Path dir() {
    try {
      return Paths.get(Reference.class.getResource("/hf-reference/llama-tiny/config.json").toURI()).getParent();
    } catch (URISyntaxException e) {
      throw new IllegalStateException(e);
    }
  }

  static Path adapter() {
    return dir().resolve("adapter");
  }

  static Path reward() {
    return dir().resolve("reward");
  }

  /** A tensor of {@code golden.safetensors}. */
  static NDArray golden(String name, NDManager manager) {
    try (SafeTensors.Reader r = SafeTensors.Reader.open(dir().resolve("golden.safetensors"))) {
      return r.read(name, manager, DataType.FLOAT32);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static float maxAbsDiff(NDArray a, NDArray b) {
    float[] x = a.toType(DataType.FLOAT32, false).toFloatArray();
    float[] y = b.toType(DataType.FLOAT32, false).toFloatArray();
    if (x.length != y.length) {
      throw new AssertionError("sizes differ: " + a.getShape() + " vs " + b.getShape());
    }
    float m = 0;
    for (int i = 0; i < x.length; i++) {
      m = Math.max(m, Math.abs(x[i] - y[i]));
    }
    return m;
  }
}

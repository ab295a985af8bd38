package org.rlhfstream.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import org.rlhfstream.model.train.Losses;

/** Development aid: where the time of a forward goes. */
public final class ProfileMain {
  public static void main(String[] args) throws Exception {
    ai.djl.engine.Engine.getEngine("PyTorch");
    ai.djl.pytorch.jni.JniUtils.setNumThreads(Integer.parseInt(args[0]));
    ModelPresets preset = ModelPresets.valueOf(args[1]);
    int b = Integer.parseInt(args[2]);
    int t = Integer.parseInt(args[3]);
    try (DecoderModel m = preset.create(ModelOptions.cpu()); NoGrad ng = NoGrad.enter()) {
      long[][] ids = new long[b][t];
      for (int i = 0; i < b; i++) for (int j = 0; j < t; j++) ids[i][j] = (i * 31 + j * 7) % m.config().vocabSize();
      for (String what : new String[] {"hidden", "logits", "loss", "matmul"}) {
        int n = 10;
        for (int rep = 0; rep < 2; rep++) {
          long start = System.nanoTime();
          for (int k = 0; k < n; k++) {
            try (NDManager step = m.manager().newSubManager()) {
              NDArray x = step.create(ids);
              switch (what) {
                case "hidden": m.hidden(x, null, null, true).getFloat(0, 0, 0); break;
                case "logits": m.logits(m.hidden(x, null, null, true)).getFloat(0, 0, 0); break;
                case "loss": Losses.crossEntropy(m.logits(m.hidden(x, null, null, true)), x, null).getFloat(); break;
                default: {
                  NDArray a = step.randomNormal(new Shape(b * t, m.config().hiddenSize()));
                  NDArray w = step.randomNormal(new Shape(m.config().intermediateSize(), m.config().hiddenSize()));
                  for (int z = 0; z < 10; z++) ai.djl.nn.core.Linear.linear(a, w).singletonOrThrow();
                }
              }
            }
          }
          if (rep == 1) System.out.printf("%s: %.2f ms%n", what, (System.nanoTime() - start) / 1e6 / n);
        }
      }
    }
  }
}

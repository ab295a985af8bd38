package org.rlhfstream.model.train;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import java.util.function.Function;

/**
 * The leak-free training step: one sub-manager per step holds every activation and is closed with
 * it; gradients accumulate in the weights until {@link Gradients#zero} (so calling this several
 * times before an optimizer step is gradient accumulation).
 *
 * <pre>{@code
 * float loss = Backprop.run(model.manager(), step -> lossOf(model, batch, step));
 * Gradients.clipByGlobalNorm(params, 1.0);
 * optimizer.step(params, schedule.at(t));
 * Gradients.zero(params);
 * }</pre>
 */
public final class Backprop {
  private Backprop() {}

  /**
   * Runs {@code loss} in a fresh sub-manager of {@code parent} under a gradient collector,
   * back-propagates, and returns the loss value. Create the step's inputs in the manager given to
   * the function, so that all activations land there.
   *
   * @param scale multiplies the loss before backward (1 / accumulation steps)
   */
  public static float run(NDManager parent, Function<NDManager, NDArray> loss, double scale) {
    try (NDManager step = parent.newSubManager();
        GradientCollector collector = Engine.getEngine("PyTorch").newGradientCollector()) {
      NDArray value = loss.apply(step);
      collector.backward(scale == 1.0 ? value : value.mul(scale));
      return value.toType(ai.djl.ndarray.types.DataType.FLOAT32, false).getFloat();
    }
  }

  public static float run(NDManager parent, Function<NDManager, NDArray> loss) {
    return run(parent, loss, 1.0);
  }
}

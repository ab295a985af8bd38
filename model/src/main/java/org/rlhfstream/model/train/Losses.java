package org.rlhfstream.model.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.nn.Activation;
import org.rlhfstream.model.nativeops.FastOps;

/** Losses over NDArrays, differentiable through DJL's autograd. */
public final class Losses {
  private Losses() {}

  /**
   * Mean token cross-entropy of next-token prediction.
   *
   * @param logits {@code (B, T, V)}: position t predicts {@code targets[:, t]}
   * @param targets {@code (B, T)} int64
   * @param mask {@code (B, T)}, 1 where a target counts; null for all
   */
  public static NDArray crossEntropy(NDArray logits, NDArray targets, NDArray mask) {
    NDArray nll = FastOps.atLeastFloat32(logits).logSoftmax(-1).gather(targets.expandDims(-1), -1).squeeze(-1).neg(); // (B, T)
    if (mask == null) {
      return nll.mean();
    }
    NDArray m = mask.toType(nll.getDataType(), false);
    return nll.mul(m).sum().div(m.sum().maximum(1));
  }

  /**
   * The Bradley–Terry preference loss of a reward model: {@code −log σ(r_chosen − r_rejected)},
   * averaged, computed stably as softplus(−(r_c − r_r)).
   *
   * @param chosen {@code (B)} scores of the preferred responses
   * @param rejected {@code (B)} scores of the others
   */
  public static NDArray bradleyTerry(NDArray chosen, NDArray rejected) {
    return Activation.softPlus(chosen.sub(rejected).neg()).mean();
  }

  /** Fraction of pairs the reward model orders correctly (r_chosen > r_rejected). */
  public static float pairAccuracy(NDArray chosen, NDArray rejected) {
    return chosen.gt(rejected).toType(DataType.FLOAT32, false).mean().getFloat();
  }
}

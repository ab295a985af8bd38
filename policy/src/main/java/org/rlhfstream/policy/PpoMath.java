package org.rlhfstream.policy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;

/**
 * The PPO quantities of RLHF as pure functions over NDArrays, named as in CleanRL's {@code
 * ppo.py} and TRL's PPO trainer so that each line can be checked against the papers:
 *
 * <ul>
 *   <li>Schulman et al. 2017, "Proximal Policy Optimization Algorithms" (clipped objective);
 *   <li>Schulman et al. 2016, "High-Dimensional Continuous Control Using Generalized Advantage
 *       Estimation" (GAE);
 *   <li>Ziegler et al. 2019, "Fine-Tuning Language Models from Human Preferences" (per-token KL
 *       penalty against the reference policy, adaptive KL coefficient).
 * </ul>
 *
 * <p>Shapes: {@code B} responses, {@code T} response tokens; {@code mask} is 1 on response tokens
 * and 0 on padding. Nothing here allocates state; results land in the first operand's manager.
 * The policy loop (next issue) calls these from one flat training iteration.
 */
public final class PpoMath {

  private PpoMath() {}

  /** Mean of {@code x} over the positions where {@code mask} is 1. */
  public static NDArray maskedMean(NDArray x, NDArray mask) {
    NDArray m = mask.toType(x.getDataType(), false);
    return x.mul(m).sum().div(m.sum().maximum(1e-8f));
  }

  /**
   * Whitening: {@code (x − mean) / sqrt(var + 1e-8)} over the masked positions (variance with
   * Bessel's correction); with {@code shiftMean == false} the mean is added back (TRL whitens
   * rewards that way, advantages with the shift).
   */
  public static NDArray whiten(NDArray x, NDArray mask, boolean shiftMean) {
    NDArray m = mask.toType(x.getDataType(), false);
    NDArray n = m.sum();
    NDArray mean = x.mul(m).sum().div(n);
    NDArray centered = x.sub(mean);
    NDArray var = centered.square().mul(m).sum().div(n.sub(1).maximum(1f));
    NDArray whitened = centered.div(var.add(1e-8f).sqrt());
    return (shiftMean ? whitened : whitened.add(mean)).mul(m);
  }

  /**
   * Per-token KL estimate between the policy and the reference at the sampled tokens. {@code kl}
   * is k1 = log π − log π_ref (unbiased, TRL's default); {@code abs} is |k1|; {@code mse} is
   * ½·k1² (k2, never negative).
   *
   * @return {@code (B, T)}, zero on padding
   */
  public static NDArray klPenalty(NDArray logprobs, NDArray refLogprobs, NDArray mask, String kind) {
    NDArray logratio = logprobs.sub(refLogprobs); // (B, T)
    NDArray kl = switch (kind) {
      case "kl" -> logratio;
      case "abs" -> logratio.abs();
      case "mse" -> logratio.square().mul(0.5f);
      default -> throw new IllegalArgumentException("kl estimator must be kl, abs or mse, got " + kind);
    };
    return kl.mul(mask.toType(kl.getDataType(), false));
  }

  /**
   * The per-token reward of RLHF (Ziegler et al. 2019, eq. 2): {@code −β · kl_t} on every response
   * token, plus the reward model's score on the last one.
   *
   * @param scores {@code (B)} reward-model scores of the whole responses
   * @param kl {@code (B, T)} from {@link #klPenalty}
   * @param mask {@code (B, T)}, response tokens contiguous from position 0
   * @return {@code (B, T)}
   */
  public static NDArray rewardsWithKl(NDArray scores, NDArray kl, NDArray mask, double klCoef) {
    NDArray m = mask.toType(kl.getDataType(), false);
    long t = m.getShape().get(1);
    NDArray lastIndex = m.sum(new int[] {1}).sub(1).toType(DataType.INT64, false); // (B)
    NDArray positions = m.getManager().arange(0L, t, 1L, DataType.INT64).reshape(1, t);
    NDArray isLast = positions.eq(lastIndex.reshape(-1, 1)).toType(kl.getDataType(), false); // (B, T)
    NDArray nonScore = kl.mul(-klCoef);
    return nonScore.add(isLast.mul(scores.reshape(-1, 1))).mul(m);
  }

  /**
   * Generalised advantage estimation, backwards over the tokens: {@code delta_t = r_t + γ·V_{t+1}
   * − V_t}, {@code A_t = delta_t + γλ·A_{t+1}}, with V and A zero past the end. {@code returns =
   * advantages + values} are the value targets.
   *
   * @return {@code [advantages, returns]}, each {@code (B, T)}
   */
  public static NDList gae(NDArray rewards, NDArray values, NDArray mask, double gamma, double lam) {
    NDArray m = mask.toType(values.getDataType(), false);
    NDArray r = rewards.mul(m);
    NDArray v = values.mul(m);
    long t = v.getShape().get(1);
    NDArray[] advantagesReversed = new NDArray[(int) t];
    NDArray lastgaelam = v.get(new NDIndex(":, 0")).zerosLike(); // (B)
    for (long i = t - 1; i >= 0; i--) {
      NDArray nextvalues = i < t - 1 ? v.get(new NDIndex(":, {}", i + 1)) : lastgaelam.zerosLike();
      NDArray delta = r.get(new NDIndex(":, {}", i)).add(nextvalues.mul(gamma)).sub(v.get(new NDIndex(":, {}", i)));
      lastgaelam = delta.add(lastgaelam.mul(gamma * lam));
      advantagesReversed[(int) (t - 1 - i)] = lastgaelam;
    }
    NDArray[] inOrder = new NDArray[(int) t];
    for (int i = 0; i < t; i++) {
      inOrder[i] = advantagesReversed[(int) t - 1 - i];
    }
    NDArray advantages = NDArrays.stack(new NDList(inOrder), 1).mul(m); // (B, T)
    NDArray returns = advantages.add(v);
    return new NDList(advantages, returns);
  }

  /** The clipped surrogate's loss and the statistics people log with it (TRL's names in comments). */
  public record PolicyLoss(NDArray loss, NDArray approxKl, NDArray clipfrac, NDArray ratioMean) {}

  /**
   * PPO's clipped surrogate objective (Schulman et al. 2017, eq. 7), as a loss to minimise:
   * {@code ratio = exp(logπ − logπ_old)}, {@code pg_loss1 = −A·ratio}, {@code pg_loss2 = −A·clip(ratio,
   * 1−ε, 1+ε)}, loss = masked mean of max(pg_loss1, pg_loss2).
   *
   * <p>{@code approxKl} (policy/approxkl) is ½·mean(logratio²); {@code clipfrac} (policy/clipfrac)
   * the share of tokens where the clipped term was taken.
   */
  public static PolicyLoss policyLoss(NDArray logprobs, NDArray oldLogprobs, NDArray advantages, NDArray mask,
      double clipRange) {
    NDArray logratio = logprobs.sub(oldLogprobs);
    NDArray ratio = logratio.exp();
    NDArray pgLoss1 = advantages.neg().mul(ratio);
    NDArray pgLoss2 = advantages.neg().mul(ratio.clip(1 - clipRange, 1 + clipRange));
    NDArray loss = maskedMean(pgLoss1.maximum(pgLoss2), mask);
    NDArray approxKl = maskedMean(logratio.square(), mask).mul(0.5f);
    NDArray clipfrac = maskedMean(pgLoss2.gt(pgLoss1).toType(logprobs.getDataType(), false), mask);
    return new PolicyLoss(loss, approxKl, clipfrac, maskedMean(ratio, mask));
  }

  public record ValueLoss(NDArray loss, NDArray clipfrac) {}

  /**
   * The clipped value loss of PPO's reference implementations: {@code vpredclipped = V_old +
   * clip(V − V_old, −ε_v, ε_v)}, loss = ½ · masked mean of max((V − R)², (vpredclipped − R)²).
   */
  public static ValueLoss valueLoss(NDArray values, NDArray oldValues, NDArray returns, NDArray mask,
      double clipRangeValue) {
    NDArray vpredclipped = oldValues.add(values.sub(oldValues).clip(-clipRangeValue, clipRangeValue));
    NDArray vfLosses1 = values.sub(returns).square();
    NDArray vfLosses2 = vpredclipped.sub(returns).square();
    NDArray loss = maskedMean(vfLosses1.maximum(vfLosses2), mask).mul(0.5f);
    NDArray clipfrac = maskedMean(vfLosses2.gt(vfLosses1).toType(values.getDataType(), false), mask);
    return new ValueLoss(loss, clipfrac);
  }

  /** Mean entropy of the policy's token distributions: −Σ p·log p per position, masked mean. */
  public static NDArray entropy(NDArray logits, NDArray mask) {
    NDArray logp = logits.logSoftmax(-1);
    NDArray perToken = logp.exp().mul(logp).sum(new int[] {-1}).neg(); // (B, T)
    return maskedMean(perToken, mask);
  }
}

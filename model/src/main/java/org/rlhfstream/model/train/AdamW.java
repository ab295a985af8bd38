package org.rlhfstream.model.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import org.rlhfstream.model.ModelInputException;
import org.rlhfstream.model.NoGrad;
import org.rlhfstream.model.Parameter;
import org.rlhfstream.model.io.SafeTensors;
import org.rlhfstream.model.nativeops.FastOps;

/**
 * AdamW (Loshchilov & Hutter, "Decoupled Weight Decay Regularization"), written over NDArrays so
 * that its state can be saved and restored with a checkpoint (DJL's optimizer keeps it private).
 * Same update as {@code torch.optim.AdamW}:
 *
 * <pre>
 *   θ ← θ·(1 − lr·λ)                         decoupled weight decay (decayed group only)
 *   m ← β₁·m + (1 − β₁)·g                      exp_avg
 *   v ← β₂·v + (1 − β₂)·g²                     exp_avg_sq
 *   θ ← θ − lr/(1 − β₁ᵗ) · m / (√v/√(1 − β₂ᵗ) + ε)
 * </pre>
 *
 * State lives in its own manager (close the optimizer to free it); it is kept in float32 whatever
 * the weights' dtype.
 */
public final class AdamW implements AutoCloseable {

  /**
   * @param beta1 decay of the first moment (0.9)
   * @param beta2 decay of the second moment (0.999)
   * @param eps added to the denominator (1e-8)
   * @param weightDecay λ, applied to the decayed group only (0.01)
   */
  public record Config(double beta1, double beta2, double eps, double weightDecay) {
    public Config {
      if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1)) {
        throw new IllegalArgumentException("betas must be in [0, 1), got " + beta1 + ", " + beta2);
      }
      if (!(eps > 0)) {
        throw new IllegalArgumentException("eps must be positive, got " + eps);
      }
      if (!(weightDecay >= 0)) {
        throw new IllegalArgumentException("weightDecay must be >= 0, got " + weightDecay);
      }
    }

    public static Config defaults() {
      return new Config(0.9, 0.999, 1e-8, 0.01);
    }
  }

  /** The usual grouping: matrices decay; norms and biases (1-D) do not. */
  public static final Predicate<Parameter> MATRICES_DECAY = p -> p.array().getShape().dimension() >= 2;

  private final Config config;
  private final Predicate<Parameter> decayed;
  private final NDManager manager;
  private final Map<String, NDArray> expAvg = new LinkedHashMap<>(); // per parameter, its shape
  private final Map<String, NDArray> expAvgSq = new LinkedHashMap<>();
  private long step;

  /**
   * @param stateManager the parent of the optimizer's own manager (the model's manager: same device)
   * @param decayed which parameters get weight decay
   */
  public AdamW(NDManager stateManager, Config config, Predicate<Parameter> decayed) {
    this.config = config;
    this.decayed = decayed;
    this.manager = stateManager.newSubManager();
  }

  /**
   * Updates every trainable parameter that has a gradient, at learning rate {@code lr}. With the
   * native bridge the update is PyTorch's own AdamW kernel (fused over all parameters of a group
   * on CUDA), else the composition below.
   */
  public void step(List<Parameter> params, double lr) {
    step(params, p -> lr);
  }

  /**
   * One optimizer step with a learning rate per parameter: parameter groups, e.g. a fresh score
   * head at ten times the rate of the LoRA weights ({@code p -> p.isLora() ? lr : 10 * lr}).
   */
  public void step(List<Parameter> params, java.util.function.ToDoubleFunction<Parameter> lrOf) {
    step++;
    if (FastOps.available()) {
      fusedStep(params, lrOf);
      return;
    }
    double bc1 = 1 - Math.pow(config.beta1(), step);
    double bc2 = 1 - Math.pow(config.beta2(), step);
    double sqrtBc2 = Math.sqrt(bc2);
    try (NoGrad ignored = NoGrad.enter(); NDManager scratch = manager.newSubManager()) {
      for (Parameter p : params) {
        double lr = lrOf.applyAsDouble(p);
        double stepSize = lr / bc1;
        try (NDManager local = scratch.newSubManager()) {
          NDArray g = Gradients.of(p, local);
          if (g == null) {
            continue;
          }
          NDArray theta = p.array();
          NDArray g32 = g.toType(DataType.FLOAT32, false);
          NDArray m = state(expAvg, p);
          NDArray v = state(expAvgSq, p);
          m.muli(config.beta1()).addi(g32.mul(1 - config.beta1()));
          v.muli(config.beta2()).addi(g32.square().muli(1 - config.beta2()));
          // Ops on the state arrays land in the optimizer's manager: attach the results to this step.
          NDArray denom = v.sqrt();
          denom.attach(local);
          denom.divi(sqrtBc2).addi(config.eps());
          NDArray update = m.div(denom);
          update.attach(local);
          update.muli(stepSize);
          if (config.weightDecay() > 0 && decayed.test(p)) {
            theta.muli(1 - lr * config.weightDecay());
          }
          theta.subi(update.toType(theta.getDataType(), false));
        }
      }
    }
  }

  /**
   * The same update through FastOps.adamw: one call per group of parameters sharing a learning
   * rate and a weight decay (usually one or two).
   */
  private void fusedStep(List<Parameter> params, java.util.function.ToDoubleFunction<Parameter> lrOf) {
    record Group(double lr, double weightDecay) {}
    Map<Group, List<Parameter>> groups = new LinkedHashMap<>();
    for (Parameter p : params) {
      if (!p.trainable()) {
        continue;
      }
      double wd = config.weightDecay() > 0 && decayed.test(p) ? config.weightDecay() : 0.0;
      groups.computeIfAbsent(new Group(lrOf.applyAsDouble(p), wd), g -> new ArrayList<>()).add(p);
    }
    for (Map.Entry<Group, List<Parameter>> e : groups.entrySet()) {
      List<NDArray> arrays = new ArrayList<>();
      List<NDArray> m = new ArrayList<>();
      List<NDArray> v = new ArrayList<>();
      for (Parameter p : e.getValue()) {
        arrays.add(p.array());
        m.add(state(expAvg, p));
        v.add(state(expAvgSq, p));
      }
      FastOps.adamw(arrays, m, v, step, e.getKey().lr(), config.beta1(), config.beta2(), config.eps(),
          e.getKey().weightDecay(), false);
    }
  }

  private NDArray state(Map<String, NDArray> map, Parameter p) {
    NDArray s = map.get(p.name());
    if (s == null) {
      s = manager.zeros(p.array().getShape(), DataType.FLOAT32);
      map.put(p.name(), s);
    } else if (!s.getShape().equals(p.array().getShape())) {
      throw new IllegalStateException("optimizer state for " + p.name() + " has shape " + s.getShape()
          + ", the parameter " + p.array().getShape());
    }
    return s;
  }

  /** Steps taken (t in the bias corrections). */
  public long stepCount() {
    return step;
  }

  public Config config() {
    return config;
  }

  /**
   * Writes the state to one safetensors file: {@code exp_avg.<name>}, {@code exp_avg_sq.<name>},
   * with the step count and hyperparameters in the metadata.
   */
  public void save(Path file) throws IOException {
    Map<String, NDArray> tensors = new LinkedHashMap<>();
    expAvg.forEach((k, v) -> tensors.put("exp_avg." + k, v));
    expAvgSq.forEach((k, v) -> tensors.put("exp_avg_sq." + k, v));
    Map<String, String> meta = new LinkedHashMap<>();
    meta.put("optimizer", "adamw");
    meta.put("step", Long.toString(step));
    meta.put("beta1", Double.toString(config.beta1()));
    meta.put("beta2", Double.toString(config.beta2()));
    meta.put("eps", Double.toString(config.eps()));
    meta.put("weight_decay", Double.toString(config.weightDecay()));
    if (file.getParent() != null) {
      Files.createDirectories(file.getParent());
    }
    SafeTensors.write(file, tensors, meta, SafeTensors.Dtype.F32);
  }

  /** Restores state written by {@link #save}, replacing the current state. */
  public void load(Path file) throws IOException {
    try (SafeTensors.Reader r = SafeTensors.Reader.open(file)) {
      if (!"adamw".equals(r.metadata().get("optimizer"))) {
        throw new ModelInputException(file + " is not an AdamW state file");
      }
      expAvg.values().forEach(NDArray::close);
      expAvgSq.values().forEach(NDArray::close);
      expAvg.clear();
      expAvgSq.clear();
      for (String name : r.tensors().keySet()) {
        NDArray a = r.read(name, manager, DataType.FLOAT32);
        if (name.startsWith("exp_avg_sq.")) {
          expAvgSq.put(name.substring("exp_avg_sq.".length()), a);
        } else if (name.startsWith("exp_avg.")) {
          expAvg.put(name.substring("exp_avg.".length()), a);
        } else {
          a.close();
          throw new ModelInputException(file + ": unexpected tensor " + name);
        }
      }
      step = Long.parseLong(r.metadata().getOrDefault("step", "0"));
    }
  }

  @Override
  public void close() {
    manager.close();
  }
}

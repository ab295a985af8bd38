package org.rlhfstream.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Consumer;
import org.rlhfstream.model.lora.LoraConfig;
import org.rlhfstream.model.nativeops.FastOps;
import org.rlhfstream.model.train.AdamW;
import org.rlhfstream.model.train.Backprop;
import org.rlhfstream.model.train.Gradients;
import org.rlhfstream.model.train.Losses;

/**
 * Throughput of one LoRA training step (forward, next-token loss, backward, AdamW on the LoRA
 * weights) of a Qwen2.5-0.5B-shaped model with random weights, on any device, float32 or bf16
 * mixed precision. Its PyTorch + transformers + PEFT twin is {@code model/bench/gpu_lora_step.py}.
 *
 * <p>Model FLOPs utilisation counts 4 × parameters × tokens/s (forward plus the input gradients
 * through the frozen base; attention and the adapter left out) over the card's peak.
 */
public final class LoraStepBenchmark {

  /** Qwen2.5-0.5B's shape: hidden 896, 24 layers, 14 heads / 2 KV heads, SwiGLU 4864, vocab 151936, tied. */
  public static ModelConfig qwen25HalfB() {
    return new ModelConfig("qwen2", ModelConfig.Head.CAUSAL_LM, 151936, 896, 4864, 24, 14, 2, 64, 1_000_000.0,
        ModelConfig.RopeScaling.NONE, 1e-6, 32768, true, true, false, false, 151643, List.of(151645), -1, 1);
  }

  /** LoRA r=64, alpha 128, no dropout, on all seven projections. */
  public static LoraConfig lora() {
    return new LoraConfig(64, 128, 0.0,
        List.of("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"), false);
  }

  /** One configuration to time. */
  public record Case(DataType dtype, int batch, int seq, int warmup, int iters) {
    public Case {
      if (batch < 1 || seq < 2 || warmup < 0 || iters < 1) {
        throw new IllegalArgumentException("bad case " + batch + "x" + seq + " warmup " + warmup + " iters " + iters);
      }
    }

    public String label() {
      return (dtype == DataType.BFLOAT16 ? "bf16" : "fp32") + " " + batch + "x" + seq;
    }
  }

  /**
   * Figures of one case. Times are medians in milliseconds; the phase split comes from separate
   * iterations with a device synchronization after each phase.
   */
  public record Result(String engine, String attention, String dtype, int batch, int seq, long params,
      long loraParams, double stepMs, double tokensPerSecond, double mfu, double peakMemoryGiB, double forwardMs,
      double backwardMs, double optimizerMs, float loss, boolean tf32) {
    public String json() {
      return String.format(Locale.ROOT,
          "{\"engine\":\"%s\",\"attention\":\"%s\",\"dtype\":\"%s\",\"batch\":%d,\"seq\":%d,\"params\":%d,"
              + "\"lora_params\":%d,\"step_ms\":%.2f,\"tokens_per_s\":%.1f,\"mfu\":%.4f,\"peak_mem_gib\":%.2f,"
              + "\"forward_ms\":%.2f,\"backward_ms\":%.2f,\"optimizer_ms\":%.2f,\"loss\":%.4f,\"tf32\":%s}",
          engine, attention, dtype, batch, seq, params, loraParams, stepMs, tokensPerSecond, mfu, peakMemoryGiB,
          forwardMs, backwardMs, optimizerMs, loss, tf32);
    }
  }

  /** The card's measured dense bf16 rate, FLOP/s (H200: 790 TFLOP/s). */
  public static final double PEAK_FLOPS = 790e12;

  private LoraStepBenchmark() {}

  /**
   * Runs the cases on {@code device} (a model per dtype, shared by its cases).
   *
   * @param attention the kernel: sdpa, eager or auto
   */
  public static List<Result> run(String device, String attention, boolean tf32, List<Case> cases,
      Consumer<String> progress) {
    return run(qwen25HalfB(), device, attention, tf32, cases, progress);
  }

  /** As above for another model shape (a small one checks the plumbing on a CPU). */
  public static List<Result> run(ModelConfig config, String device, String attention, boolean tf32, List<Case> cases,
      Consumer<String> progress) {
    return run(config, device, attention, tf32, cases, null, progress);
  }

  /**
   * As above; with {@code profileDir}, one more step of each case runs under PyTorch's profiler and
   * its Chrome trace is written there as {@code java-<dtype>-<B>x<T>.json}.
   */
  public static List<Result> run(ModelConfig config, String device, String attention, boolean tf32, List<Case> cases,
      java.nio.file.Path profileDir, Consumer<String> progress) {
    FastOps.setTf32(tf32);
    List<Result> out = new ArrayList<>();
    DataType loaded = null;
    DecoderModel model = null;
    try {
      for (Case c : cases) {
        if (c.dtype() != loaded) {
          if (model != null) {
            model.close();
          }
          progress.accept("building the model in " + c.dtype() + " on " + device + " …");
          ModelOptions options = new ModelOptions(device, c.dtype(), AttentionKernel.byName(attention));
          model = DecoderModel.random(config, options, 42, 0.02, true);
          model.attachLora(lora(), 7);
          loaded = c.dtype();
        }
        progress.accept("java " + c.label() + " …");
        out.add(runCase(model, c, attention, tf32, profileDir));
      }
    } finally {
      if (model != null) {
        model.close();
      }
    }
    return out;
  }

  static Result runCase(DecoderModel model, Case c, String attention, boolean tf32, java.nio.file.Path profileDir) {
    List<Parameter> params = model.trainableParameters();
    long loraParams = params.stream().mapToLong(Parameter::size).sum();
    int device = Math.max(0, model.options().djlDevice().getDeviceId());
    try (NDManager data = model.manager().newSubManager();
        AdamW optimizer = new AdamW(model.manager(), AdamW.Config.defaults(), AdamW.MATRICES_DECAY)) {
      NDArray ids = data.randomInteger(0, model.config().vocabSize(), new Shape(c.batch(), c.seq()), DataType.INT64);
      NDArray inputs = ids; // (B, T): every position predicts the next, as labels=input_ids in transformers
      // The labels shifted left and padded, the last position masked out: transformers shifts the
      // labels rather than slicing the (B, T, vocab) logits, which would copy them.
      NDArray targets = ids.get(new NDIndex(":, 1:")).concat(data.zeros(new Shape(c.batch(), 1), DataType.INT64), 1);
      NDArray mask = data.ones(new Shape(c.batch(), c.seq() - 1), DataType.FLOAT32)
          .concat(data.zeros(new Shape(c.batch(), 1), DataType.FLOAT32), 1); // (B, T)
      float[] loss = new float[1];
      Runnable step = () -> {
        loss[0] = Backprop.run(model.manager(),
            s -> nextTokenLoss(model, scoped(inputs, s), scoped(targets, s), scoped(mask, s)));
        optimizer.step(params, 1e-4);
        Gradients.zero(params);
      };
      for (int i = 0; i < c.warmup(); i++) {
        step.run();
      }
      FastOps.synchronize();
      FastOps.resetPeakMemory(device);
      double[] times = new double[c.iters()];
      for (int i = 0; i < c.iters(); i++) {
        long t0 = System.nanoTime();
        step.run(); // ends by reading the loss back: the device has finished the backward pass
        FastOps.synchronize(); // and the optimizer
        times[i] = (System.nanoTime() - t0) / 1e6;
      }
      FastOps.Memory memory = FastOps.memory(device);
      if (profileDir != null) {
        java.nio.file.Path trace = profileDir.resolve("java-" + (c.dtype() == DataType.BFLOAT16 ? "bf16" : "fp32")
            + "-" + c.batch() + "x" + c.seq() + ".json");
        ai.djl.pytorch.jni.JniUtils.startProfile(model.options().djlDevice().isGpu(), false, false);
        step.run();
        FastOps.synchronize();
        ai.djl.pytorch.jni.JniUtils.stopProfile(trace.toString());
      }
      double stepMs = median(times);
      double[] phases = phases(model, inputs, targets, mask, optimizer, params, Math.min(3, c.iters()));
      double tokensPerSecond = c.batch() * (double) c.seq() / (stepMs / 1e3);
      long base = model.parameterCount();
      double mfu = 4.0 * base * tokensPerSecond / PEAK_FLOPS;
      return new Result("java-djl", attention, c.dtype() == DataType.BFLOAT16 ? "bf16" : "fp32", c.batch(), c.seq(),
          base, loraParams, stepMs, tokensPerSecond, mfu,
          memory == null ? Double.NaN : memory.peakAllocated() / (double) (1L << 30), phases[0], phases[1],
          phases[2], loss[0], FastOps.tf32());
    }
  }

  /** A view of {@code a} owned by {@code scope}, so that what is computed from it lands there too. */
  static NDArray scoped(NDArray a, NDManager scope) {
    NDArray view = a.reshape(a.getShape());
    view.attach(scope);
    return view;
  }

  /**
   * Mean next-token cross-entropy over the B × (T-1) positions that have a next token, in float32.
   *
   * @param targets {@code (B, T)}: the inputs shifted left by one, padded
   * @param mask {@code (B, T)}: 1 where a target counts (all but the last position)
   */
  static NDArray nextTokenLoss(DecoderModel model, NDArray inputs, NDArray targets, NDArray mask) {
    NDArray logits = model.logits(model.hidden(inputs, null, null, true)); // (B, T, V)
    return Losses.crossEntropy(logits, targets, mask);
  }

  /** Median forward+loss, backward and optimizer times over a few synchronized iterations. */
  static double[] phases(DecoderModel model, NDArray inputs, NDArray targets, NDArray mask, AdamW optimizer,
      List<Parameter> params, int iters) {
    double[][] t = new double[3][iters];
    for (int i = 0; i < iters; i++) {
      try (NDManager step = model.manager().newSubManager();
          ai.djl.training.GradientCollector gc = ai.djl.engine.Engine.getEngine("PyTorch").newGradientCollector()) {
        FastOps.synchronize();
        long t0 = System.nanoTime();
        NDArray loss = nextTokenLoss(model, scoped(inputs, step), scoped(targets, step), scoped(mask, step));
        FastOps.synchronize();
        long t1 = System.nanoTime();
        gc.backward(loss);
        FastOps.synchronize();
        long t2 = System.nanoTime();
        t[0][i] = (t1 - t0) / 1e6;
        t[1][i] = (t2 - t1) / 1e6;
      }
      FastOps.synchronize();
      long t3 = System.nanoTime();
      optimizer.step(params, 1e-4);
      Gradients.zero(params);
      FastOps.synchronize();
      t[2][i] = (System.nanoTime() - t3) / 1e6;
    }
    return new double[] {median(t[0]), median(t[1]), median(t[2])};
  }

  static double median(double[] x) {
    double[] s = x.clone();
    java.util.Arrays.sort(s);
    return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  }
}

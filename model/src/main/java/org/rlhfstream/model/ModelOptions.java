package org.rlhfstream.model;

import ai.djl.Device;
import ai.djl.ndarray.types.DataType;

/**
 * Where a model runs and in what precision; configuration, never hard-coded.
 *
 * @param device a DJL device name: {@code cpu}, {@code gpu}, {@code gpu:1}
 * @param dtype the compute and storage type of the frozen weights: FLOAT32 (default), FLOAT64
 *     (gradient checks), FLOAT16 (GPU; ~90x slower on CPU), or BFLOAT16 for mixed precision:
 *     bf16 weights and activations with float32 trainable weights (LoRA, value head), float32
 *     norms, softmax and losses. BFLOAT16 needs the native bridge (DJL's stock library aborts on
 *     it); bf16 checkpoints are widened on load otherwise.
 * @param attention the attention kernel; {@link AttentionKernel#AUTO} (the default) takes PyTorch's
 *     SDPA when the native bridge is loaded and the composed version otherwise
 */
public record ModelOptions(String device, DataType dtype, AttentionKernel attention) {
  public ModelOptions {
    if (device == null || device.isBlank()) {
      throw new IllegalArgumentException("device must be named (cpu, gpu, gpu:N)");
    }
    if (dtype != DataType.FLOAT32 && dtype != DataType.FLOAT64 && dtype != DataType.FLOAT16
        && dtype != DataType.BFLOAT16) {
      throw new IllegalArgumentException("dtype must be FLOAT32, FLOAT64, FLOAT16 or BFLOAT16, got " + dtype);
    }
    if (attention == null) {
      attention = AttentionKernel.AUTO;
    }
  }

  public static ModelOptions cpu() {
    return new ModelOptions("cpu", DataType.FLOAT32, AttentionKernel.AUTO);
  }

  public ModelOptions withDtype(DataType newDtype) {
    return new ModelOptions(device, newDtype, attention);
  }

  public ModelOptions withDevice(String newDevice) {
    return new ModelOptions(newDevice, dtype, attention);
  }

  public ModelOptions withAttention(AttentionKernel newAttention) {
    return new ModelOptions(device, dtype, newAttention);
  }

  /** Mixed precision: bf16 compute, float32 trainable weights. */
  public boolean mixedPrecision() {
    return dtype == DataType.BFLOAT16;
  }

  /** The type trainable weights (LoRA, value head) are kept in: float32 under mixed precision. */
  public DataType trainableDtype() {
    return mixedPrecision() ? DataType.FLOAT32 : dtype;
  }

  public Device djlDevice() {
    return Device.fromName(device);
  }
}

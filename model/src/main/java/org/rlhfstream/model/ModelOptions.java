package org.rlhfstream.model;

import ai.djl.Device;
import ai.djl.ndarray.types.DataType;

/**
 * Where a model runs and in what precision; configuration, never hard-coded.
 *
 * @param device a DJL device name: {@code cpu}, {@code gpu}, {@code gpu:1}
 * @param dtype the compute and storage type of the weights: FLOAT32 (default), FLOAT64 (gradient
 *     checks) or FLOAT16 (GPU; ~90x slower on CPU). BFLOAT16 aborts DJL 0.36's native layer, so it
 *     is refused here; bf16 checkpoints are widened on load.
 * @param attention the attention kernel; {@link AttentionKernel#COMPOSED} is the portable fallback
 */
public record ModelOptions(String device, DataType dtype, AttentionKernel attention) {
  public ModelOptions {
    if (device == null || device.isBlank()) {
      throw new IllegalArgumentException("device must be named (cpu, gpu, gpu:N)");
    }
    if (dtype != DataType.FLOAT32 && dtype != DataType.FLOAT64 && dtype != DataType.FLOAT16) {
      throw new IllegalArgumentException("dtype must be FLOAT32, FLOAT64 or FLOAT16, got " + dtype);
    }
    if (attention == null) {
      attention = AttentionKernel.COMPOSED;
    }
  }

  public static ModelOptions cpu() {
    return new ModelOptions("cpu", DataType.FLOAT32, AttentionKernel.COMPOSED);
  }

  public ModelOptions withDtype(DataType newDtype) {
    return new ModelOptions(device, newDtype, attention);
  }

  public Device djlDevice() {
    return Device.fromName(device);
  }
}

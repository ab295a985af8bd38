package org.rlhfstream.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDManager;

/**
 * The keys and values of every layer for the tokens seen so far, so that a decoding step only
 * computes the new token. Owns its own native memory: close it when the sequence is done.
 */
public final class KvCache implements AutoCloseable {
  private final NDManager manager;
  private final NDArray[] keys; // per layer (B, kv_heads, S, head_dim)
  private final NDArray[] values; // per layer (B, kv_heads, S, head_dim)
  private long length;

  KvCache(NDManager parent, int layers) {
    this.manager = parent.newSubManager();
    this.keys = new NDArray[layers];
    this.values = new NDArray[layers];
  }

  /** Tokens held (past length S). */
  public long length() {
    return length;
  }

  /**
   * Appends this step's keys and values of one layer and returns the whole history. Called once
   * per layer per step; the length advances with the last layer.
   *
   * @param k {@code (B, kv_heads, T, head_dim)}
   * @param v {@code (B, kv_heads, T, head_dim)}
   * @param scope the step's manager: the returned views live there, so that what the caller
   *     derives from them is freed with the step rather than with the cache
   * @return {@code [keys, values]}, each {@code (B, kv_heads, S + T, head_dim)}
   */
  NDArray[] append(int layer, NDArray k, NDArray v, NDManager scope) {
    NDArray newK;
    NDArray newV;
    if (keys[layer] == null) {
      newK = k.duplicate();
      newV = v.duplicate();
    } else {
      newK = NDArrays.concat(new ai.djl.ndarray.NDList(keys[layer], k), 2);
      newV = NDArrays.concat(new ai.djl.ndarray.NDList(values[layer], v), 2);
      keys[layer].close();
      values[layer].close();
    }
    newK.attach(manager);
    newV.attach(manager);
    keys[layer] = newK;
    values[layer] = newV;
    if (layer == keys.length - 1) {
      length = newK.getShape().get(2);
    }
    NDArray kView = newK.reshape(newK.getShape());
    NDArray vView = newV.reshape(newV.getShape());
    kView.attach(scope);
    vView.attach(scope);
    return new NDArray[] {kView, vView};
  }

  @Override
  public void close() {
    manager.close();
  }
}

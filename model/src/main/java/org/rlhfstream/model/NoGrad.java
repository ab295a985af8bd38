package org.rlhfstream.model;

import ai.djl.pytorch.jni.JniUtils;

/**
 * Turns autograd off on this thread for a scope and restores what it was. Grad mode is per thread
 * in PyTorch, and threads other than the one that started the engine begin with it ON: without
 * this, inference on a worker thread records a graph whenever a weight requires grad, and an
 * in-place update of a trainable weight fails.
 *
 * <pre>{@code try (NoGrad ignored = NoGrad.enter()) { ... } }</pre>
 */
public final class NoGrad implements AutoCloseable {
  private final boolean previous;

  private NoGrad(boolean previous) {
    this.previous = previous;
  }

  public static NoGrad enter() {
    boolean previous = JniUtils.isGradMode();
    if (previous) {
      JniUtils.setGradMode(false);
    }
    return new NoGrad(previous);
  }

  @Override
  public void close() {
    if (previous) {
      JniUtils.setGradMode(true);
    }
  }
}

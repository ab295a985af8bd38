package org.rlhfstream.model.nativeops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.engine.EngineException;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * DJL's own API on whichever native library is loaded: the values DJL's stock library gives (the
 * expectations below hold there, in CI) must come out of the bridge too, on the CPU or on the
 * device named by {@code rlhf.test.device}. Covers the PyTorchLibrary natives the project's code
 * reaches beyond what the model tests exercise: dtypes, indexing, reductions, autograd, DJL's
 * optimizer update, and errors.
 */
class BridgeSemanticsTest {
  static NDManager manager;
  static Device device;

  @BeforeAll
  static void open() {
    device = Device.fromName(System.getProperty("rlhf.test.device", "cpu"));
    manager = NDManager.newBaseManager(device, "PyTorch");
  }

  @AfterAll
  static void close() {
    manager.close();
  }

  @Test
  void dtypesRoundTrip() {
    try (NDManager m = manager.newSubManager()) {
      assertArrayEquals(new int[] {1, -2, 3}, m.create(new int[] {1, -2, 3}).toIntArray());
      assertArrayEquals(new long[] {1L << 40, -5}, m.create(new long[] {1L << 40, -5}).toLongArray());
      assertArrayEquals(new double[] {0.5, -1e-300}, m.create(new double[] {0.5, -1e-300}).toDoubleArray());
      assertArrayEquals(new boolean[] {true, false}, m.create(new boolean[] {true, false}).toBooleanArray());
      assertArrayEquals(new byte[] {-3, 7}, m.create(new byte[] {-3, 7}).toByteArray());
      NDArray f = m.create(new float[] {1.5f, -2.25f});
      assertEquals(DataType.FLOAT16, f.toType(DataType.FLOAT16, false).getDataType());
      assertArrayEquals(new float[] {1.5f, -2.25f}, f.toType(DataType.FLOAT16, false).toType(DataType.FLOAT32, false)
          .toFloatArray());
      assertArrayEquals(new int[] {1, -2}, f.toType(DataType.INT32, false).toIntArray()); // truncation toward zero
      assertEquals(device.getDeviceType(), f.getDevice().getDeviceType());
    }
  }

  @Test
  void bfloat16IsAFirstClassTypeThroughTheBridge() {
    assumeTrue(FastOps.available(), "bfloat16 aborts DJL's stock library");
    try (NDManager m = manager.newSubManager()) {
      NDArray b = m.create(new float[] {1f, 3.140625f, -0.5f}).toType(DataType.BFLOAT16, false);
      assertEquals(DataType.BFLOAT16, b.getDataType());
      assertArrayEquals(new float[] {2f, 6.28125f, -1f}, b.mul(2).toType(DataType.FLOAT32, false).toFloatArray());
      assertEquals(DataType.BFLOAT16, m.zeros(new Shape(2), DataType.BFLOAT16).getDataType());
      assertEquals(2, b.toByteBuffer().capacity() / 3); // two bytes a value
    }
  }

  @Test
  void indexingSlicingAndAssignment() {
    try (NDManager m = manager.newSubManager()) {
      NDArray a = m.arange(0, 24, 1, DataType.FLOAT32).reshape(2, 3, 4);
      assertArrayEquals(new float[] {5, 6}, a.get("0, 1, 1:3").toFloatArray());
      assertArrayEquals(new float[] {3, 7, 11}, a.get("0, :, -1").toFloatArray());
      assertArrayEquals(new float[] {12, 14}, a.get(new NDIndex("1, 0, ::2")).toFloatArray());
      assertEquals(new Shape(2, 4), a.get(":, 2").getShape());
      NDArray picked = a.get(m.create(new long[] {1, 0})); // take along the first axis
      assertEquals(new Shape(2, 3, 4), picked.getShape());
      assertEquals(12f, picked.getFloat(0, 0, 0));
      NDArray b = a.duplicate();
      b.set(new NDIndex("0, 0, :"), 100f);
      assertArrayEquals(new float[] {100, 100, 100, 100}, b.get("0, 0").toFloatArray());
      assertEquals(0f, a.getFloat(0, 0, 0), "duplicate copies");
      NDArray g = a.reshape(6, 4).gather(m.create(new long[][] {{3}, {0}, {1}, {2}, {0}, {1}}), 1);
      assertArrayEquals(new float[] {3, 4, 9, 14, 16, 21}, g.toFloatArray());
      assertArrayEquals(new float[] {0, 1, 2, 3}, a.reshape(-1).booleanMask(a.reshape(-1).lt(4)).toFloatArray());
    }
  }

  @Test
  void reductionsAndShapeOps() {
    try (NDManager m = manager.newSubManager()) {
      NDArray a = m.create(new float[] {3, 1, 2, 6, 5, 4}, new Shape(2, 3));
      assertEquals(21f, a.sum().getFloat());
      assertArrayEquals(new float[] {6, 15}, a.sum(new int[] {1}).toFloatArray());
      assertArrayEquals(new float[] {2, 5}, a.mean(new int[] {1}).toFloatArray());
      assertArrayEquals(new long[] {0, 0}, a.argMax(1).toLongArray());
      assertArrayEquals(new float[] {3, 4, 6, 12, 17, 21}, a.reshape(-1).cumSum(0).toFloatArray(), "cumSum");
      NDList top = a.topK(2, 1, true, true);
      assertArrayEquals(new float[] {3, 2, 6, 5}, top.get(0).toFloatArray());
      assertArrayEquals(new long[] {0, 2, 0, 1}, top.get(1).toLongArray());
      assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6}, a.reshape(-1).sort().toFloatArray());
      assertEquals(new Shape(3, 2), a.transpose().getShape());
      NDList parts = a.split(3, 1);
      assertEquals(3, parts.size());
      assertArrayEquals(new float[] {1, 5}, parts.get(1).toFloatArray());
      assertArrayEquals(new float[] {3, 1, 2, 6, 5, 4, 3, 1, 2, 6, 5, 4},
          NDArrayHelper.concat(a, a).toFloatArray());
      assertArrayEquals(new float[] {2, 1, 2, 2, 2, 2}, a.clip(1, 2).add(m.create(1f)).sub(1).toFloatArray());
      NDArray probs = a.softmax(1);
      assertEquals(1f, probs.sum(new int[] {1}).toFloatArray()[0], 1e-6);
      assertTrue(a.eq(a).all().getBoolean());
      assertFalse(a.gt(6).any().getBoolean());
    }
  }

  /** Plain helpers kept out of the assertions' way. */
  static final class NDArrayHelper {
    static NDArray concat(NDArray a, NDArray b) {
      return a.concat(b, 0);
    }
  }

  @Test
  void autogradAndDjlsOwnOptimizerUpdate() {
    try (NDManager m = manager.newSubManager()) {
      NDArray w = m.create(new float[] {1, -2, 3});
      w.setRequiresGradient(true);
      try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
        gc.backward(w.mul(w).sum()); // d/dw = 2w
      }
      assertArrayEquals(new float[] {2, -4, 6}, w.getGradient().toFloatArray());
      // DJL's SGD (no momentum): w -= lr * grad; the update also zeroes the gradient.
      Optimizer sgd = Optimizer.sgd().setLearningRateTracker(Tracker.fixed(0.5f)).build();
      sgd.update("w", w, w.getGradient());
      assertArrayEquals(new float[] {0, 0, 0}, w.toFloatArray());
      assertArrayEquals(new float[] {0, 0, 0}, w.getGradient().toFloatArray());
      NDArray frozen = m.create(new float[] {1});
      assertFalse(frozen.hasGradient());
      NDArray detached = w.stopGradient();
      assertFalse(detached.hasGradient());
    }
  }

  @Test
  void nativeErrorsBecomeEngineExceptions() {
    try (NDManager m = manager.newSubManager()) {
      NDArray a = m.ones(new Shape(2, 3));
      NDArray b = m.ones(new Shape(4, 5));
      EngineException e = assertThrows(EngineException.class, () -> a.matMul(b));
      assertTrue(e.getMessage() != null && !e.getMessage().isBlank(), "the PyTorch message is kept");
      assertThrows(EngineException.class, () -> a.reshape(7));
      // The engine is still usable afterwards.
      assertEquals(6f, a.sum().getFloat());
    }
  }
}

package org.rlhfstream.model.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rlhfstream.model.ModelInputException;

class SafeTensorsTest {

  static float[] randomFloats(int n, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = (float) r.nextGaussian();
    }
    return v;
  }

  @Test
  void roundTripAcrossDtypesAndChunkedReads(@TempDir Path tmp) throws Exception {
    long saved = SafeTensors.chunkBytes;
    SafeTensors.chunkBytes = 4096; // force many row chunks on read and write
    try (NDManager m = NDManager.newBaseManager()) {
      float[] values = randomFloats(300 * 70, 1);
      NDArray f = m.create(values, new Shape(300, 70));
      NDArray ids = m.arange(0L, 1000L, 1L, DataType.INT64).reshape(10, 100);
      Map<String, NDArray> t = new LinkedHashMap<>();
      t.put("f", f);
      t.put("ids", ids);
      t.put("scalar", m.create(3.5f));
      Path file = tmp.resolve("a.safetensors");
      SafeTensors.write(file, t, Map.of("format", "pt"), null);
      // DJL's own decoder agrees with our writer.
      try (InputStream in = Files.newInputStream(file)) {
        NDList decoded = NDList.decode(m, in);
        assertArrayEquals(values, decoded.get("f").toFloatArray());
      }
      try (SafeTensors.Reader r = SafeTensors.Reader.open(file)) {
        assertEquals("pt", r.metadata().get("format"));
        assertArrayEquals(values, r.read("f", m, DataType.FLOAT32).toFloatArray());
        assertArrayEquals(ids.toLongArray(), r.read("ids", m, DataType.FLOAT32).toLongArray());
        assertEquals(3.5f, r.read("scalar", m, DataType.FLOAT32).getFloat());
        assertEquals(DataType.FLOAT64, r.read("f", m, DataType.FLOAT64).getDataType());
      }
      // bfloat16: stored as the rounded top half, read back widened.
      Path bf = tmp.resolve("b.safetensors");
      SafeTensors.write(bf, Map.of("f", f), null, SafeTensors.Dtype.BF16);
      try (SafeTensors.Reader r = SafeTensors.Reader.open(bf)) {
        assertEquals(SafeTensors.Dtype.BF16, r.tensors().get("f").dtype());
        assertEquals(300L * 70 * 2, r.tensors().get("f").end() - r.tensors().get("f").begin());
        float[] back = r.read("f", m, DataType.FLOAT32).toFloatArray();
        for (int i = 0; i < values.length; i++) {
          assertEquals(SafeTensors.fromBfloat16(SafeTensors.toBfloat16(values[i])), back[i]);
          assertTrue(Math.abs(back[i] - values[i]) <= Math.abs(values[i]) / 256, "within bf16 rounding");
        }
      }
    } finally {
      SafeTensors.chunkBytes = saved;
    }
  }

  /**
   * A tensor that starts past 2 GiB in its file (a sparse file: the 2.2 GB in front of it take no
   * disk) is read by position, not through one heap array.
   */
  @Test
  void tensorsPastTwoGigabytesAreRead(@TempDir Path tmp) throws Exception {
    long big = 2_200_000_000L;
    byte[] header = ("{\"pad\":{\"dtype\":\"U8\",\"shape\":[" + big + "],\"data_offsets\":[0," + big + "]},"
        + "\"x\":{\"dtype\":\"BF16\",\"shape\":[2,2],\"data_offsets\":[" + big + "," + (big + 8) + "]}}").getBytes();
    Path file = tmp.resolve("large.safetensors");
    try (java.io.RandomAccessFile raf = new java.io.RandomAccessFile(file.toFile(), "rw")) {
      ByteBuffer head = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, header.length);
      raf.write(head.array());
      raf.write(header);
      raf.seek(8 + header.length + big);
      ByteBuffer x = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
      for (float v : new float[] {1.5f, -2f, 0.25f, 3f}) {
        x.putShort(SafeTensors.toBfloat16(v));
      }
      raf.write(x.array());
    }
    try (NDManager m = NDManager.newBaseManager(); SafeTensors.Reader r = SafeTensors.Reader.open(file)) {
      assertArrayEquals(new float[] {1.5f, -2f, 0.25f, 3f}, r.read("x", m, DataType.FLOAT32).toFloatArray());
    }
  }

  @Test
  void bfloat16RoundsToNearestEven() {
    assertEquals((short) 0x3f80, SafeTensors.toBfloat16(1.0f));
    // 1 + 2^-8 is halfway between two bf16 values: ties go to the even one (1.0).
    assertEquals((short) 0x3f80, SafeTensors.toBfloat16(1.0f + 1.0f / 256));
    assertEquals((short) 0x3f81, SafeTensors.toBfloat16(1.0f + 3.0f / 512));
    assertEquals(-2.0f, SafeTensors.fromBfloat16(SafeTensors.toBfloat16(-2.0f)));
  }

  @Test
  void truncatedOrForeignFilesGiveClearErrors(@TempDir Path tmp) throws Exception {
    Path junk = tmp.resolve("junk.safetensors");
    Files.write(junk, new byte[] {1, 2, 3});
    assertThrows(Exception.class, () -> SafeTensors.Reader.open(junk));
    Path bad = tmp.resolve("bad.safetensors");
    byte[] header = "{\"x\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}".getBytes();
    ByteBuffer b = ByteBuffer.allocate(8 + header.length + 8).order(ByteOrder.LITTLE_ENDIAN);
    b.putLong(header.length).put(header);
    Files.write(bad, b.array());
    ModelInputException e = assertThrows(ModelInputException.class, () -> SafeTensors.Reader.open(bad));
    assertTrue(e.getMessage().contains("truncated"), e.getMessage());
    ModelInputException missing = assertThrows(ModelInputException.class, () -> SafeTensors.Reader.open(tmp.resolve("none")));
    assertTrue(missing.getMessage().contains("missing file"));
  }
}

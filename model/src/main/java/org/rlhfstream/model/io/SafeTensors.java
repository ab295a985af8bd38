package org.rlhfstream.model.io;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.rlhfstream.model.ModelInputException;

/**
 * The safetensors format, read and written by hand.
 *
 * <p>Why not {@code NDList.decode}: DJL 0.36 reads the whole file into one heap array (2 GB limit)
 * and aborts the JVM on a bfloat16 tensor, the dtype most published checkpoints use. Here a file is
 * opened as a channel, each tensor is read on its own (in row chunks when large) through a bounded
 * direct staging buffer, and bfloat16 is widened to float32 in Java (bf16 bits {@code << 16}).
 *
 * <p>Layout: 8 bytes little-endian header length N, N bytes of JSON {@code {name: {dtype, shape,
 * data_offsets:[begin,end]}, "__metadata__": {...}}}, then the data; offsets are relative to the
 * data start. Tensors are little-endian and C-contiguous.
 */
public final class SafeTensors {

  /** Tensor element types of the format (the ones that occur in checkpoints). */
  public enum Dtype {
    F64(8, DataType.FLOAT64),
    F32(4, DataType.FLOAT32),
    F16(2, DataType.FLOAT16),
    BF16(2, DataType.FLOAT32), // widened on read: DJL cannot hold bfloat16
    I64(8, DataType.INT64),
    I32(4, DataType.INT32),
    I8(1, DataType.INT8),
    U8(1, DataType.UINT8),
    BOOL(1, DataType.BOOLEAN);

    final int bytes;
    /** The DJL type a tensor of this dtype is read as. */
    final DataType readAs;

    Dtype(int bytes, DataType readAs) {
      this.bytes = bytes;
      this.readAs = readAs;
    }

    public int bytes() {
      return bytes;
    }

    static Dtype of(DataType type) {
      switch (type) {
        case FLOAT64:
          return F64;
        case FLOAT32:
          return F32;
        case FLOAT16:
          return F16;
        case INT64:
          return I64;
        case INT32:
          return I32;
        case INT8:
          return I8;
        case UINT8:
          return U8;
        case BOOLEAN:
          return BOOL;
        default:
          throw new IllegalArgumentException("no safetensors dtype for " + type);
      }
    }
  }

  /** One tensor entry of a header; {@code begin}/{@code end} are relative to the data start. */
  public record TensorInfo(String name, Dtype dtype, long[] shape, long begin, long end) {
    public TensorInfo {
      long elements = 1;
      for (long d : shape) {
        if (d < 0) {
          throw new ModelInputException("tensor " + name + " has a negative dimension");
        }
        elements *= d;
      }
      if (end - begin != elements * dtype.bytes) {
        throw new ModelInputException(
            "tensor " + name + ": data_offsets span " + (end - begin) + " bytes but shape "
                + Arrays.toString(shape) + " of " + dtype + " needs " + elements * dtype.bytes);
      }
    }

    public long elementCount() {
      long n = 1;
      for (long d : shape) {
        n *= d;
      }
      return n;
    }
  }

  /** Row chunks of this many bytes (after widening) bound the direct memory a read needs. */
  static long chunkBytes = 64L << 20; // not final: tests shrink it to exercise chunking

  private static final Gson GSON = new GsonBuilder().disableHtmlEscaping().create();

  private SafeTensors() {}

  /** An open safetensors file; read tensors one by one, then close. */
  public static final class Reader implements AutoCloseable {
    private final Path file;
    private final FileChannel channel;
    private final long dataStart;
    private final Map<String, TensorInfo> tensors;
    private final Map<String, String> metadata;

    private Reader(Path file) throws IOException {
      this.file = file;
      try {
        this.channel = FileChannel.open(file, StandardOpenOption.READ);
      } catch (NoSuchFileException e) {
        throw new ModelInputException("missing file " + file);
      }
      try {
        ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        readFully(channel, len, 0);
        long n = len.getLong(0);
        if (n <= 0 || n > 100_000_000L || 8 + n > channel.size()) {
          throw new ModelInputException(file + " is not a safetensors file (header length " + n + ")");
        }
        ByteBuffer header = ByteBuffer.allocate((int) n);
        readFully(channel, header, 8);
        this.dataStart = 8 + n;
        JsonObject json =
            JsonParser.parseString(new String(header.array(), StandardCharsets.UTF_8).trim())
                .getAsJsonObject();
        Map<String, TensorInfo> t = new LinkedHashMap<>();
        Map<String, String> meta = new LinkedHashMap<>();
        for (Map.Entry<String, JsonElement> e : json.entrySet()) {
          if (e.getKey().equals("__metadata__")) {
            for (Map.Entry<String, JsonElement> m : e.getValue().getAsJsonObject().entrySet()) {
              meta.put(m.getKey(), m.getValue().getAsString());
            }
            continue;
          }
          JsonObject o = e.getValue().getAsJsonObject();
          Dtype dtype;
          try {
            dtype = Dtype.valueOf(o.get("dtype").getAsString());
          } catch (IllegalArgumentException ex) {
            throw new ModelInputException(
                "tensor " + e.getKey() + " in " + file + " has unsupported dtype "
                    + o.get("dtype").getAsString());
          }
          long[] shape = GSON.fromJson(o.get("shape"), long[].class);
          long[] off = GSON.fromJson(o.get("data_offsets"), long[].class);
          TensorInfo info = new TensorInfo(e.getKey(), dtype, shape, off[0], off[1]);
          if (dataStart + info.end() > channel.size()) {
            throw new ModelInputException(file + " is truncated: tensor " + e.getKey() + " ends past the file");
          }
          t.put(e.getKey(), info);
        }
        this.tensors = Collections.unmodifiableMap(t);
        this.metadata = Collections.unmodifiableMap(meta);
      } catch (RuntimeException | IOException e) {
        channel.close();
        if (e instanceof ModelInputException) {
          throw (ModelInputException) e;
        }
        throw new ModelInputException("cannot read safetensors file " + file + ": " + e.getMessage(), e);
      }
    }

    public static Reader open(Path file) throws IOException {
      return new Reader(file);
    }

    public Path file() {
      return file;
    }

    /** Tensor entries in file order. */
    public Map<String, TensorInfo> tensors() {
      return tensors;
    }

    public Map<String, String> metadata() {
      return metadata;
    }

    /**
     * Reads one tensor into {@code manager}. Floating-point tensors (bf16 widened) are converted to
     * {@code floatType}; integer tensors keep their type. The result owns its memory (it does not
     * alias the staging buffer).
     */
    public NDArray read(String name, NDManager manager, DataType floatType) throws IOException {
      TensorInfo info = tensors.get(name);
      if (info == null) {
        throw new ModelInputException("tensor " + name + " is not in " + file);
      }
      boolean floating = info.dtype == Dtype.F32 || info.dtype == Dtype.F64
          || info.dtype == Dtype.F16 || info.dtype == Dtype.BF16;
      DataType target = floating ? floatType : info.dtype.readAs;
      long[] shape = info.shape;
      long rows = shape.length == 0 ? 1 : shape[0];
      long rowElements = rows == 0 ? 0 : info.elementCount() / rows;
      long rowBytesRead = Math.max(1, rowElements * Math.max(info.dtype.readAs.getNumOfBytes(), info.dtype.bytes));
      long rowsPerChunk = Math.max(1, chunkBytes / rowBytesRead);
      if (rows <= rowsPerChunk || shape.length == 0) {
        return readRows(info, 0, rows, manager, target);
      }
      try (NDManager scratch = manager.newSubManager()) {
        NDList parts = new NDList();
        for (long r = 0; r < rows; r += rowsPerChunk) {
          parts.add(readRows(info, r, Math.min(rows, r + rowsPerChunk), scratch, target));
        }
        NDArray whole = NDArrays.concat(parts, 0);
        whole.attach(manager);
        return whole;
      }
    }

    private NDArray readRows(TensorInfo info, long fromRow, long toRow, NDManager manager, DataType target)
        throws IOException {
      long[] shape = info.shape.clone();
      long rowElements = 1;
      for (int i = 1; i < shape.length; i++) {
        rowElements *= shape[i];
      }
      if (shape.length > 0) {
        shape[0] = toRow - fromRow;
      }
      long elements = shape.length == 0 ? 1 : shape[0] * rowElements;
      long position = dataStart + info.begin + fromRow * rowElements * info.dtype.bytes;
      int rawBytes = Math.toIntExact(elements * info.dtype.bytes);
      ByteBuffer raw = ByteBuffer.allocateDirect(Math.max(1, rawBytes)).order(ByteOrder.LITTLE_ENDIAN);
      raw.limit(rawBytes);
      readFully(channel, raw, position);
      raw.rewind();
      ByteBuffer data = raw;
      if (info.dtype == Dtype.BF16) {
        // bfloat16 is the top half of a float32: widen by shifting the bits.
        data = ByteBuffer.allocateDirect(Math.max(1, Math.toIntExact(elements * 4))).order(ByteOrder.nativeOrder());
        for (int i = 0; i < elements; i++) {
          data.putInt(i * 4, (raw.getShort(i * 2) & 0xffff) << 16);
        }
      } else if (ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN) {
        throw new UnsupportedOperationException("big-endian hosts are not supported");
      }
      DataType read = info.dtype.readAs;
      if (elements == 0) {
        return manager.zeros(new Shape(shape), target);
      }
      // The created array aliases `data`; make an owned copy before the buffer goes.
      try (NDArray alias = manager.create(data, new Shape(shape), read)) {
        return read == target ? alias.duplicate() : alias.toType(target, false);
      }
    }

    @Override
    public void close() throws IOException {
      channel.close();
    }
  }

  private static void readFully(FileChannel channel, ByteBuffer buffer, long position) throws IOException {
    long pos = position;
    while (buffer.hasRemaining()) {
      int n = channel.read(buffer, pos);
      if (n < 0) {
        throw new IOException("unexpected end of file");
      }
      pos += n;
    }
  }

  /**
   * Writes tensors in the given order. Floating tensors are stored as {@code floatDtype} (F32, F16,
   * BF16 or F64; null keeps each array's own type); integer tensors keep their type. The file is
   * written to a temporary name and moved into place, so a reader never sees half a file.
   */
  public static void write(Path file, Map<String, NDArray> tensors, Map<String, String> metadata, Dtype floatDtype)
      throws IOException {
    Map<String, Object> header = new LinkedHashMap<>();
    if (metadata != null && !metadata.isEmpty()) {
      header.put("__metadata__", metadata);
    }
    long offset = 0;
    List<Dtype> dtypes = new ArrayList<>();
    for (Map.Entry<String, NDArray> e : tensors.entrySet()) {
      NDArray a = e.getValue();
      Dtype d = storedDtype(a.getDataType(), floatDtype);
      dtypes.add(d);
      long bytes = a.getShape().size() * d.bytes;
      Map<String, Object> entry = new LinkedHashMap<>();
      entry.put("dtype", d.name());
      entry.put("shape", a.getShape().getShape());
      entry.put("data_offsets", new long[] {offset, offset + bytes});
      header.put(e.getKey(), entry);
      offset += bytes;
    }
    byte[] json = GSON.toJson(header).getBytes(StandardCharsets.UTF_8);
    int padded = (json.length + 7) / 8 * 8; // keep the data 8-byte aligned, as the reference writer does
    byte[] headerBytes = Arrays.copyOf(json, padded);
    Arrays.fill(headerBytes, json.length, padded, (byte) ' ');
    Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
    try (OutputStream out = Files.newOutputStream(tmp)) {
      ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, padded);
      out.write(len.array());
      out.write(headerBytes);
      int i = 0;
      for (NDArray a : tensors.values()) {
        writeData(out, a, dtypes.get(i++));
      }
    }
    Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }

  static Dtype storedDtype(DataType type, Dtype floatDtype) {
    if (type.isFloating() && floatDtype != null) {
      return floatDtype;
    }
    return Dtype.of(type);
  }

  private static void writeData(OutputStream out, NDArray a, Dtype d) throws IOException {
    long rows = a.getShape().dimension() == 0 ? 1 : a.getShape().get(0);
    long rowElements = rows == 0 ? 0 : a.getShape().size() / rows;
    long rowsPerChunk = Math.max(1, chunkBytes / Math.max(1, rowElements * 8));
    try (NDManager scratch = a.getManager().newSubManager()) {
      for (long r = 0; r < rows; r += rowsPerChunk) {
        try (NDManager chunkScope = scratch.newSubManager()) {
          NDArray chunk = a.getShape().dimension() == 0 || rows <= rowsPerChunk
              ? a : a.get(r + ":" + Math.min(rows, r + rowsPerChunk));
          if (chunk != a) {
            chunk.attach(chunkScope);
          }
          out.write(encode(chunk, d, chunkScope));
        }
      }
    }
  }

  private static byte[] encode(NDArray chunk, Dtype d, NDManager scope) {
    if (d == Dtype.BF16) {
      NDArray f = chunk.getDataType() == DataType.FLOAT32 ? chunk : chunk.toType(DataType.FLOAT32, false);
      if (f != chunk) {
        f.attach(scope);
      }
      float[] values = f.toFloatArray();
      ByteBuffer buf = ByteBuffer.allocate(values.length * 2).order(ByteOrder.LITTLE_ENDIAN);
      for (int i = 0; i < values.length; i++) {
        buf.putShort(i * 2, toBfloat16(values[i]));
      }
      return buf.array();
    }
    DataType want = d.readAs;
    NDArray c = chunk.getDataType() == want ? chunk : chunk.toType(want, false);
    if (c != chunk) {
      c.attach(scope);
    }
    ByteBuffer bb = c.toByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
    byte[] bytes = new byte[bb.remaining()];
    bb.get(bytes);
    return bytes;
  }

  /** float32 → bfloat16 with round-to-nearest-even (NaN stays NaN), as PyTorch rounds. */
  public static short toBfloat16(float value) {
    int bits = Float.floatToRawIntBits(value);
    if (Float.isNaN(value)) {
      return (short) ((bits >>> 16) | 0x40);
    }
    int rounding = 0x7fff + ((bits >>> 16) & 1);
    return (short) ((bits + rounding) >>> 16);
  }

  /** bfloat16 bits → float32. */
  public static float fromBfloat16(short bits) {
    return Float.intBitsToFloat((bits & 0xffff) << 16);
  }
}

package org.rlhfstream.model.io;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.rlhfstream.model.ModelInputException;

/**
 * The weights of a Hugging Face folder: {@code model.safetensors}, or the shards named by {@code
 * model.safetensors.index.json}. Opens every file once and reads tensors by name.
 */
public final class CheckpointFiles implements AutoCloseable {
  public static final String SINGLE = "model.safetensors";
  public static final String INDEX = "model.safetensors.index.json";

  private static final Gson GSON = new GsonBuilder().setPrettyPrinting().disableHtmlEscaping().create();

  private final Map<String, SafeTensors.Reader> byTensor = new LinkedHashMap<>();
  private final List<SafeTensors.Reader> readers = new ArrayList<>();

  private CheckpointFiles() {}

  /** Opens the weights of {@code dir}; a clear error when neither layout is there. */
  public static CheckpointFiles open(Path dir) throws IOException {
    CheckpointFiles files = new CheckpointFiles();
    try {
      Path single = dir.resolve(SINGLE);
      Path index = dir.resolve(INDEX);
      if (Files.isRegularFile(single)) {
        files.add(SafeTensors.Reader.open(single), null);
      } else if (Files.isRegularFile(index)) {
        JsonObject json = JsonParser.parseString(Files.readString(index)).getAsJsonObject();
        JsonObject map = json.getAsJsonObject("weight_map");
        if (map == null) {
          throw new ModelInputException(index + " has no weight_map");
        }
        Map<String, SafeTensors.Reader> shards = new LinkedHashMap<>();
        for (Map.Entry<String, JsonElement> e : map.entrySet()) {
          String shard = e.getValue().getAsString();
          SafeTensors.Reader r = shards.get(shard);
          if (r == null) {
            r = SafeTensors.Reader.open(dir.resolve(shard));
            shards.put(shard, r);
            files.readers.add(r);
          }
          if (!r.tensors().containsKey(e.getKey())) {
            throw new ModelInputException(index + " names tensor " + e.getKey() + " in " + shard + ", which does not hold it");
          }
          files.byTensor.put(e.getKey(), r);
        }
      } else {
        throw new ModelInputException("no weights in " + dir + ": expected " + SINGLE + " or " + INDEX);
      }
      return files;
    } catch (RuntimeException | IOException e) {
      files.close();
      throw e;
    }
  }

  private void add(SafeTensors.Reader reader, Set<String> only) {
    readers.add(reader);
    for (String name : reader.tensors().keySet()) {
      if (only == null || only.contains(name)) {
        byTensor.put(name, reader);
      }
    }
  }

  /** Every tensor name, in file order. */
  public Set<String> names() {
    return byTensor.keySet();
  }

  public SafeTensors.TensorInfo info(String name) {
    SafeTensors.Reader r = byTensor.get(name);
    if (r == null) {
      throw new ModelInputException("missing tensor " + name);
    }
    return r.tensors().get(name);
  }

  public NDArray read(String name, NDManager manager, DataType floatType) throws IOException {
    SafeTensors.Reader r = byTensor.get(name);
    if (r == null) {
      throw new ModelInputException("missing tensor " + name);
    }
    return r.read(name, manager, floatType);
  }

  @Override
  public void close() throws IOException {
    for (SafeTensors.Reader r : readers) {
      r.close();
    }
    readers.clear();
  }

  /**
   * Writes {@code tensors} into {@code dir} as Hugging Face does: one {@code model.safetensors} when
   * they fit in {@code maxShardBytes}, otherwise {@code model-0000i-of-0000n.safetensors} shards plus
   * the index. Stale weight files of the other layout are removed.
   */
  public static void write(Path dir, Map<String, NDArray> tensors, SafeTensors.Dtype floatDtype, long maxShardBytes)
      throws IOException {
    Files.createDirectories(dir);
    List<Map<String, NDArray>> shards = new ArrayList<>();
    Map<String, NDArray> current = new LinkedHashMap<>();
    long currentBytes = 0;
    long total = 0;
    for (Map.Entry<String, NDArray> e : tensors.entrySet()) {
      long bytes = e.getValue().getShape().size()
          * SafeTensors.storedDtype(e.getValue().getDataType(), floatDtype).bytes();
      if (!current.isEmpty() && currentBytes + bytes > maxShardBytes) {
        shards.add(current);
        current = new LinkedHashMap<>();
        currentBytes = 0;
      }
      current.put(e.getKey(), e.getValue());
      currentBytes += bytes;
      total += bytes;
    }
    shards.add(current);
    Map<String, String> meta = Map.of("format", "pt");
    try (var stale = Files.list(dir)) {
      for (Path p : (Iterable<Path>) stale::iterator) {
        String n = p.getFileName().toString();
        if (n.equals(INDEX) || n.equals(SINGLE) || n.matches("model-\\d+-of-\\d+\\.safetensors")) {
          Files.delete(p);
        }
      }
    }
    if (shards.size() == 1) {
      SafeTensors.write(dir.resolve(SINGLE), shards.get(0), meta, floatDtype);
      return;
    }
    Map<String, String> weightMap = new TreeMap<>();
    for (int i = 0; i < shards.size(); i++) {
      String name = String.format("model-%05d-of-%05d.safetensors", i + 1, shards.size());
      SafeTensors.write(dir.resolve(name), shards.get(i), meta, floatDtype);
      for (String t : shards.get(i).keySet()) {
        weightMap.put(t, name);
      }
    }
    Map<String, Object> index = new LinkedHashMap<>();
    index.put("metadata", Map.of("total_size", total));
    index.put("weight_map", weightMap);
    Files.writeString(dir.resolve(INDEX), GSON.toJson(index), StandardCharsets.UTF_8);
  }
}

package org.rlhfstream.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rlhfstream.model.generate.Generator;
import org.rlhfstream.model.generate.SamplingConfig;

class PresetTest {

  @Test
  void theTinyPresetIsAHuggingFaceFolderFromAFixedSeed(@TempDir Path tmp) throws Exception {
    Path a = ModelPresets.TINY.writeTo(tmp.resolve("a"));
    Path b = ModelPresets.TINY.writeTo(tmp.resolve("b"));
    for (String f : List.of("config.json", "model.safetensors", "tokenizer.json", "generation_config.json")) {
      assertTrue(Files.isRegularFile(a.resolve(f)), f);
    }
    assertArrayEquals(Files.readAllBytes(a.resolve("model.safetensors")), Files.readAllBytes(b.resolve("model.safetensors")),
        "same seed, same weights");
    try (DecoderModel m = DecoderModel.load(a, ModelOptions.cpu()); TextTokenizer tok = TextTokenizer.load(a)) {
      assertEquals(ModelPresets.TINY.config(), m.config());
      int[] ids = tok.encode("hello preset");
      assertEquals("hello preset", tok.decode(ids));
      assertEquals(5, Generator.generate(m, List.of(ids), SamplingConfig.greedy(5, Set.of()), true).get(0).newIds().length);
    }
    assertEquals(ModelPresets.SMALL_25M, ModelPresets.byName("small_25m"));
    assertThrows(ModelInputException.class, () -> ModelPresets.byName("huge"));
    long params = 0;
    for (long[] shape : DecoderModel.expectedTensors(ModelPresets.SMALL_25M.config()).values()) {
      long n = 1;
      for (long d : shape) {
        n *= d;
      }
      params += n;
    }
    assertTrue(params > 20_000_000 && params < 30_000_000, "~25M parameters: " + params);
  }
}

package org.rlhfstream.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.json.JsonObject;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rlhfstream.model.DecoderModel;
import org.rlhfstream.model.ModelConfig;
import org.rlhfstream.model.ModelOptions;
import org.rlhfstream.model.ModelPresets;

/** {@code rlhf generate} and {@code rlhf score} on the built-in tiny preset, and their errors. */
class ModelCommandsTest {
  @TempDir static Path dir;
  static Path lm;
  static Path reward;

  record Run(int exitCode, String out, String err) {}

  static Run rlhf(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int code = RlhfCommand.execute(new PrintWriter(out), new PrintWriter(err), args);
    return new Run(code, out.toString(), err.toString());
  }

  @BeforeAll
  static void presets() throws Exception {
    lm = ModelPresets.TINY.writeTo(dir.resolve("tiny"));
    reward = dir.resolve("tiny-reward");
    try (DecoderModel m = DecoderModel.load(lm, ModelOptions.cpu(), ModelConfig.Head.SEQUENCE_CLASSIFICATION, 7)) {
      m.save(reward);
    }
    ModelPresets.copyTokenizer(reward);
  }

  @Test
  void generatePrintsJsonAndIsReproducible() {
    Run a = rlhf("generate", "--model", lm.toString(), "--prompt", "Hello world", "--max-new-tokens", "5",
        "--temperature", "0.7", "--top-p", "0.9", "--seed", "3", "--output", "json");
    assertEquals(0, a.exitCode(), a.err());
    JsonObject json = new JsonObject(a.out().strip());
    assertFalse(json.getJsonArray("prompt_ids").isEmpty());
    assertTrue(json.getJsonArray("new_ids").size() >= 1 && json.getJsonArray("new_ids").size() <= 5);
    assertTrue(json.containsKey("text"));
    Run b = rlhf("generate", "--model", lm.toString(), "--prompt", "Hello world", "--max-new-tokens", "5",
        "--temperature", "0.7", "--top-p", "0.9", "--seed", "3", "--output", "json");
    assertEquals(a.out(), b.out(), "same seed, same tokens");
    Run greedy = rlhf("generate", "--model", lm.toString(), "--prompt-ids", "5,6,7", "--max-new-tokens", "4", "--greedy");
    assertEquals(0, greedy.exitCode(), greedy.err());
  }

  @Test
  void scorePrintsAJsonScore() {
    Run r = rlhf("score", "--model", reward.toString(), "--text", "a fine answer", "--output", "json");
    assertEquals(0, r.exitCode(), r.err());
    double score = new JsonObject(r.out().strip()).getDouble("score");
    Run ids = rlhf("score", "--model", reward.toString(), "--ids", "5,6,7");
    assertEquals(0, ids.exitCode(), ids.err());
    assertTrue(Double.isFinite(score) && Double.isFinite(Double.parseDouble(ids.out().strip())));
  }

  @Test
  void badInputExitsWithTwoAndOneLine() {
    Run missing = rlhf("generate", "--model", dir.resolve("nope").toString(), "--prompt", "x", "--max-new-tokens", "2");
    assertEquals(2, missing.exitCode());
    assertTrue(missing.err().contains("does not exist"), missing.err());
    assertEquals(1, missing.err().strip().lines().count(), "one line, no stack trace: " + missing.err());

    Run wrongArch = rlhf("generate", "--model", reward.toString(), "--prompt", "x", "--max-new-tokens", "2");
    assertEquals(2, wrongArch.exitCode());
    assertTrue(wrongArch.err().contains("LlamaForSequenceClassification"), wrongArch.err());

    Run scoreWrongArch = rlhf("score", "--model", lm.toString(), "--ids", "1,2");
    assertEquals(2, scoreWrongArch.exitCode());
    assertTrue(scoreWrongArch.err().contains("LlamaForCausalLM"), scoreWrongArch.err());

    String tooLong = IntStream.range(0, 300).mapToObj(i -> "5").collect(Collectors.joining(","));
    Run longPrompt = rlhf("generate", "--model", lm.toString(), "--prompt-ids", tooLong, "--max-new-tokens", "2");
    assertEquals(2, longPrompt.exitCode());
    assertTrue(longPrompt.err().contains("context"), longPrompt.err());
    assertEquals(1, longPrompt.err().strip().lines().count(), longPrompt.err());

    Run badAdapter = rlhf("generate", "--model", lm.toString(), "--adapter", dir.resolve("none").toString(),
        "--prompt", "x", "--max-new-tokens", "2");
    assertEquals(2, badAdapter.exitCode());

    Run both = rlhf("generate", "--model", lm.toString(), "--prompt", "x", "--max-new-tokens", "2", "--greedy", "--seed", "1");
    assertEquals(2, both.exitCode());

    Run badIds = rlhf("score", "--model", reward.toString(), "--ids", "1,x");
    assertEquals(2, badIds.exitCode());
    assertTrue(badIds.err().contains("'x'"), badIds.err());
  }
}

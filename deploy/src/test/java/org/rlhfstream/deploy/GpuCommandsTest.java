package org.rlhfstream.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;

/**
 * {@code rlhf doctor} and {@code rlhf bench gpu} on a machine without the native bridge (CI): the
 * report names DJL's own library, and the benchmark's plumbing runs on the CPU through the composed
 * fallbacks with a tiny model.
 */
class GpuCommandsTest {

  static String[] run(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int code = RlhfCommand.execute(new PrintWriter(out), new PrintWriter(err), args);
    return new String[] {Integer.toString(code), out.toString(), err.toString()};
  }

  @Test
  void doctorReportsTheLoadedLibraryAndFastPaths() {
    String[] r = run("doctor", "--native", "off", "--device", "cpu", "--output", "json");
    assertEquals("0", r[0], r[2]);
    String json = r[1].trim();
    JsonObject report = JsonParser.parseString(json.substring(json.lastIndexOf("\n") + 1)).getAsJsonObject();
    assertTrue(report.get("engine").getAsString().startsWith("PyTorch"), json);
    assertTrue(report.get("native_library").getAsString().contains("prebuilt"), json);
    assertTrue(report.getAsJsonObject("fast_paths").get("attention").getAsString().contains("composed"), json);
    assertTrue(report.get("check").getAsString().startsWith("ok on cpu"), json);
  }

  @Test
  void gpuBenchmarkNeedsTheBridgeForTheGpu() {
    String[] r = run("bench", "gpu", "--native", "off", "--device", "gpu");
    assertEquals("2", r[0], r[1] + r[2]);
    assertTrue(r[2].contains("native bridge"), r[2]);
  }

  @Test
  void benchModelOnTheGpuIsTheGpuBenchmark() {
    String[] r = run("bench", "model", "--device", "gpu");
    assertEquals("2", r[0], r[1] + r[2]);
    assertTrue(r[2].contains("native bridge"), r[2]);
  }

  @Test
  void gpuBenchmarkPlumbingRunsOnTheCpu() {
    String[] r = run("bench", "gpu", "--native", "off", "--device", "cpu", "--model", "tiny", "--dtype", "fp32",
        "--shapes", "2x16", "--warmup", "0", "--iters", "1", "--output", "json");
    assertEquals("0", r[0], r[2]);
    String last = r[1].trim().substring(r[1].trim().lastIndexOf("\n") + 1);
    JsonObject result = JsonParser.parseString(last).getAsJsonObject().getAsJsonArray("results").get(0)
        .getAsJsonObject();
    assertEquals("fp32", result.get("dtype").getAsString());
    assertTrue(result.get("tokens_per_s").getAsDouble() > 0, last);
    assertTrue(Float.isFinite(result.get("loss").getAsFloat()), last);
  }
}

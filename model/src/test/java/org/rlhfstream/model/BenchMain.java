package org.rlhfstream.model;

import java.util.List;

/** Runs the benchmark from the test classpath (development aid; the CLI is `rlhf bench model`). */
public final class BenchMain {
  public static void main(String[] args) throws Exception {
    boolean torch = args.length > 0 && args[0].equals("torch");
    String which = args.length > 1 ? args[1] : "both";
    List<ModelBenchmark.Case> cases = new java.util.ArrayList<>();
    if (!which.equals("small")) {
      cases.add(new ModelBenchmark.Case(ModelPresets.TINY, 8, 128, 5, 20));
    }
    if (!which.equals("tiny")) {
      cases.add(new ModelBenchmark.Case(ModelPresets.SMALL_25M, 8, 256, 1, 3));
    }
    var s = new ModelBenchmark.Settings(cases, 2, torch ? ModelBenchmark.findTorchPython() : null, System.err::println);
    for (ModelBenchmark.Comparison c : ModelBenchmark.run(s)) {
      System.out.println(c);
    }
  }
}

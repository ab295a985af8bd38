package org.rlhfstream.model.generate;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.rlhfstream.model.DecoderModel;
import org.rlhfstream.model.KvCache;
import org.rlhfstream.model.ModelInputException;
import org.rlhfstream.model.NoGrad;

/**
 * Batched autoregressive generation with a KV cache. Prompts of different lengths are left-padded;
 * positions are counted over the attention mask, so padding changes nothing. Each step runs the
 * model on the new token only, moves the last logits to the host, and picks tokens there with the
 * generator's own seeded random stream (DJL has no multinomial sampling, and a host-side stream
 * makes runs reproducible per call rather than per process).
 */
public final class Generator {
  private Generator() {}

  /**
   * Generates continuations of {@code prompts}.
   *
   * @param adapter use the LoRA adapter (the policy) or not (the reference)
   */
  public static List<Generation> generate(DecoderModel model, List<int[]> prompts, SamplingConfig cfg, boolean adapter) {
    if (prompts.isEmpty()) {
      return List.of();
    }
    int context = model.config().maxPositions();
    int vocab = model.config().vocabSize();
    int longest = 0;
    for (int[] p : prompts) {
      if (p.length == 0) {
        throw new ModelInputException("a prompt must have at least one token");
      }
      for (int id : p) {
        if (id < 0 || id >= vocab) {
          throw new ModelInputException("token id " + id + " is outside the vocabulary (0.." + (vocab - 1) + ")");
        }
      }
      longest = Math.max(longest, p.length);
    }
    if (longest >= context) {
      throw new ModelInputException("prompt of " + longest + " tokens does not fit the model's context of "
          + context + " tokens (max_position_embeddings) with room to generate");
    }
    int limit = Math.min(cfg.maxNewTokens(), context - longest);
    int b = prompts.size();
    long pad = Math.max(0, model.config().padTokenId());

    // Left-padded prompt ids and the mask that grows by one column per step.
    long[][] ids = new long[b][longest];
    long[][] mask = new long[b][longest + limit];
    for (int i = 0; i < b; i++) {
      int[] p = prompts.get(i);
      int offset = longest - p.length;
      Arrays.fill(ids[i], 0, offset, pad);
      for (int j = 0; j < p.length; j++) {
        ids[i][offset + j] = p[j];
        mask[i][offset + j] = 1;
      }
    }

    List<List<Integer>> out = new ArrayList<>();
    List<List<Float>> logps = new ArrayList<>();
    boolean[] done = new boolean[b];
    for (int i = 0; i < b; i++) {
      out.add(new ArrayList<>());
      logps.add(new ArrayList<>());
    }
    SplittableRandom random = new SplittableRandom(cfg.seed());
    double temperature = cfg.greedy() ? 1.0 : cfg.temperature();

    try (NoGrad ignored = NoGrad.enter(); KvCache cache = model.newCache()) {
      long[][] stepIds = ids;
      int seen = longest;
      for (int n = 0; n < limit; n++) {
        float[] last;
        try (NDManager step = model.manager().newSubManager()) {
          NDArray input = step.create(stepIds); // (B, T)
          long[][] visible = new long[b][];
          for (int i = 0; i < b; i++) {
            visible[i] = Arrays.copyOf(mask[i], seen);
          }
          NDArray hidden = model.hidden(input, step.create(visible), cache, adapter); // (B, T, hidden)
          NDArray lastHidden = hidden.get(new NDIndex(":, -1:, :")); // (B, 1, hidden)
          last = model.logitsFloat32(lastHidden).toFloatArray(); // B * V
        }
        long[][] next = new long[b][1];
        for (int i = 0; i < b; i++) {
          if (done[i]) {
            next[i][0] = pad;
            continue;
          }
          float[] logits = Arrays.copyOfRange(last, i * vocab, (i + 1) * vocab);
          int token = cfg.greedy() ? argMax(logits) : sample(logits, cfg, random);
          out.get(i).add(token);
          logps.get(i).add(logSoftmaxAt(logits, token, temperature));
          next[i][0] = token;
          if (cfg.stopTokens().contains(token)) {
            done[i] = true;
          }
          mask[i][seen] = 1;
        }
        seen++;
        stepIds = next;
        boolean all = true;
        for (boolean d : done) {
          all &= d;
        }
        if (all) {
          break;
        }
      }
    }

    List<Generation> result = new ArrayList<>();
    for (int i = 0; i < b; i++) {
      List<Integer> toks = out.get(i);
      int[] t = new int[toks.size()];
      float[] lp = new float[toks.size()];
      for (int j = 0; j < t.length; j++) {
        t[j] = toks.get(j);
        lp[j] = logps.get(i).get(j);
      }
      result.add(new Generation(prompts.get(i).clone(), t, lp, done[i]));
    }
    return result;
  }

  static int argMax(float[] x) {
    int best = 0;
    for (int i = 1; i < x.length; i++) {
      if (x[i] > x[best]) {
        best = i;
      }
    }
    return best;
  }

  /** log softmax(logits / temperature) at {@code token}, in double precision. */
  static float logSoftmaxAt(float[] logits, int token, double temperature) {
    double max = Double.NEGATIVE_INFINITY;
    for (float l : logits) {
      max = Math.max(max, l / temperature);
    }
    double sum = 0;
    for (float l : logits) {
      sum += Math.exp(l / temperature - max);
    }
    return (float) (logits[token] / temperature - max - Math.log(sum));
  }

  /** Temperature, then top-k, then top-p (nucleus), then one draw from what is left. */
  static int sample(float[] logits, SamplingConfig cfg, SplittableRandom random) {
    int v = logits.length;
    Integer[] order = new Integer[v];
    for (int i = 0; i < v; i++) {
      order[i] = i;
    }
    // Most likely first; ties broken by id so that the order is deterministic.
    Arrays.sort(order, (a, c) -> logits[a] != logits[c] ? Float.compare(logits[c], logits[a]) : Integer.compare(a, c));
    int keep = cfg.topK() > 0 ? Math.min(cfg.topK(), v) : v;
    double max = logits[order[0]] / cfg.temperature();
    double[] probs = new double[keep];
    double total = 0;
    for (int i = 0; i < keep; i++) {
      probs[i] = Math.exp(logits[order[i]] / cfg.temperature() - max);
      total += probs[i];
    }
    if (cfg.topP() < 1.0) {
      // Keep the smallest prefix whose mass reaches p (at least one token).
      double cumulative = 0;
      int cut = keep;
      for (int i = 0; i < keep; i++) {
        cumulative += probs[i] / total;
        if (cumulative >= cfg.topP()) {
          cut = i + 1;
          break;
        }
      }
      keep = cut;
      total = 0;
      for (int i = 0; i < keep; i++) {
        total += probs[i];
      }
    }
    double u = random.nextDouble() * total;
    double acc = 0;
    for (int i = 0; i < keep; i++) {
      acc += probs[i];
      if (u < acc) {
        return order[i];
      }
    }
    return order[keep - 1];
  }
}

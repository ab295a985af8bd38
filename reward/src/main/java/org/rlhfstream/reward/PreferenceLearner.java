package org.rlhfstream.reward;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.rlhfstream.model.DecoderModel;
import org.rlhfstream.model.ModelConfig.Head;
import org.rlhfstream.model.ModelOptions;
import org.rlhfstream.model.ModelPresets;
import org.rlhfstream.model.NoGrad;
import org.rlhfstream.model.Parameter;
import org.rlhfstream.model.TextTokenizer;
import org.rlhfstream.model.io.CheckpointFiles;
import org.rlhfstream.model.io.SafeTensors;
import org.rlhfstream.model.lora.LoraConfig;
import org.rlhfstream.model.train.AdamW;
import org.rlhfstream.model.train.Backprop;
import org.rlhfstream.model.train.Gradients;
import org.rlhfstream.proto.v1.Comparison;
import org.rlhfstream.proto.v1.HeldOutMetrics;

/**
 * The reward model and its optimizer: a sequence-classification decoder trained with the
 * Bradley–Terry loss on (prompt, chosen, rejected) comparisons.
 *
 * <p>Loss per pair, with d = r(chosen) − r(rejected) and margin m = margin-scale · strength:
 * {@code −log σ(d − m)}; for a tie {@code −½ log σ(d) − ½ log σ(−d)} (pulls d towards 0); plus the
 * optional centering term {@code η · (r(chosen) + r(rejected))²} that keeps scores near zero.
 *
 * <p>Not thread-safe: only the trainer's thread calls it.
 */
final class PreferenceLearner implements AutoCloseable {

  /** Written beside a released model so that every scorer formats text the same way. */
  static final String REWARD_JSON = "rlhf-reward.json";
  private static final String MODEL = "model";
  private static final String ADAPTER = "adapter";
  private static final String SCORE = "score.safetensors";
  private static final String OPTIMIZER = "optimizer.safetensors";

  record StepStats(float loss, float accuracy, float gradNorm, double learningRate, int pairs) {}

  private final RewardConfig config;
  private final Path baseDir;
  private final DecoderModel model;
  private final TextTokenizer tokenizer;
  private final AdamW optimizer;
  private final long padId;
  private final RewardText text;

  PreferenceLearner(RewardConfig config, Path modelsDir) throws IOException {
    this.config = config;
    this.text = config.text();
    this.baseDir = resolveBase(config.model().base(), modelsDir);
    ModelOptions options = new ModelOptions(config.model().device(), DataType.FLOAT32, null);
    RewardConfig.Training t = config.training();
    this.model = DecoderModel.load(baseDir, options, Head.SEQUENCE_CLASSIFICATION, t.seed());
    try {
      this.tokenizer = TextTokenizer.load(baseDir);
      if (t.mode().equals("lora")) {
        model.attachLora(lora(), t.seed());
        // PEFT calls this modules_to_save: the fresh score head trains with the adapter.
        model.setTrainable(p -> p.isLora() || p.name().equals("score.weight"));
      } else {
        model.setTrainable(p -> true);
      }
      model.setTraining(true);
      this.padId = Math.max(0, model.config().padTokenId());
      this.optimizer = new AdamW(model.manager(), new AdamW.Config(0.9, 0.999, 1e-8, t.weightDecay()), AdamW.MATRICES_DECAY);
    } catch (RuntimeException | IOException e) {
      model.close();
      throw e;
    }
  }

  /** {@code builtin:<preset>} is written once into {@code modelsDir}; anything else is a folder. */
  static Path resolveBase(String base, Path modelsDir) throws IOException {
    if (base.startsWith("builtin:")) {
      ModelPresets preset = ModelPresets.byName(base.substring("builtin:".length()));
      Path dir = modelsDir.resolve("builtin-" + preset.name().toLowerCase());
      if (!Files.exists(dir.resolve("model.safetensors"))) {
        Path tmp = Files.createTempDirectory(Files.createDirectories(modelsDir), ".builtin-");
        preset.writeTo(tmp);
        try {
          Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException raced) {
          Checkpoints.deleteTree(tmp); // another process wrote it first: same seed, same weights
        }
      }
      return dir;
    }
    return Path.of(base);
  }

  DecoderModel model() {
    return model;
  }

  /** One optimizer step: forward/backward per micro-batch (accumulating), clip, AdamW. */
  StepStats step(List<Comparison> batch, double learningRate) {
    RewardConfig.Training t = config.training();
    List<Parameter> params = model.trainableParameters();
    float lossSum = 0;
    float correct = 0;
    for (int from = 0; from < batch.size(); from += t.microBatchSize()) {
      List<Comparison> micro = batch.subList(from, Math.min(batch.size(), from + t.microBatchSize()));
      double weight = micro.size() / (double) batch.size();
      float[] accuracy = new float[1];
      lossSum += weight * Backprop.run(model.manager(), scope -> {
        Pairs pairs = encode(micro, scope);
        NDArray r = model.sequenceScores(pairs.ids, pairs.mask, true); // (2m): chosen then rejected
        long m = micro.size();
        NDArray chosen = r.get("0:" + m);
        NDArray rejected = r.get(m + ":");
        accuracy[0] = chosen.gt(rejected).toType(DataType.FLOAT32, false).sum().getFloat();
        return loss(chosen, rejected, pairs.margin, pairs.tie);
      }, weight);
      correct += accuracy[0];
    }
    float norm = t.maxGradNorm() > 0
        ? Gradients.clipByGlobalNorm(params, t.maxGradNorm())
        : Gradients.globalNorm(params);
    optimizer.step(params, learningRate);
    Gradients.zero(params);
    return new StepStats(lossSum, correct / batch.size(), norm, learningRate, batch.size());
  }

  /** Mean loss over a batch; see the class comment for the formula. */
  private NDArray loss(NDArray chosen, NDArray rejected, NDArray margin, NDArray tie) {
    NDArray d = chosen.sub(rejected); // (m)
    NDArray preferred = Activation.softPlus(margin.sub(d)); // −log σ(d − m)
    NDArray tied = Activation.softPlus(d.neg()).add(Activation.softPlus(d)).mul(0.5); // −½log σ(d) − ½log σ(−d)
    NDArray perPair = tie.mul(tied).add(tie.neg().add(1).mul(preferred));
    NDArray loss = perPair.mean();
    double eta = config.training().centerRewards();
    if (eta > 0) {
      loss = loss.add(chosen.add(rejected).square().mean().mul(eta));
    }
    return loss;
  }

  /** Held-out pairwise accuracy, mean loss and mean margin, without gradients. */
  HeldOutMetrics evaluate(List<Comparison> heldOut) {
    boolean wasTraining = model.training();
    model.setTraining(false); // no dropout
    int batch = Math.max(1, config.training().microBatchSize() * 2);
    double lossSum = 0;
    double marginSum = 0;
    long correct = 0;
    try (NoGrad ignored = NoGrad.enter()) {
      for (int from = 0; from < heldOut.size(); from += batch) {
        List<Comparison> part = heldOut.subList(from, Math.min(heldOut.size(), from + batch));
        try (NDManager scope = model.manager().newSubManager()) {
          Pairs pairs = encode(part, scope);
          NDArray r = model.sequenceScores(pairs.ids, pairs.mask, true);
          long m = part.size();
          NDArray chosen = r.get("0:" + m);
          NDArray rejected = r.get(m + ":");
          lossSum += loss(chosen, rejected, pairs.margin, pairs.tie).getFloat() * m;
          marginSum += chosen.sub(rejected).sum().getFloat();
          correct += (long) chosen.gt(rejected).toType(DataType.FLOAT32, false).sum().getFloat();
        }
      }
    } finally {
      model.setTraining(wasTraining);
    }
    int n = heldOut.size();
    return HeldOutMetrics.newBuilder()
        .setAccuracy(n == 0 ? 0 : correct / (double) n)
        .setLoss(n == 0 ? 0 : lossSum / n)
        .setMeanMargin(n == 0 ? 0 : marginSum / n)
        .setExamples(n)
        .build();
  }

  /** The token ids the model reads for a prompt and response: template, then the last max-tokens. */
  int[] tokens(String prompt, String response) {
    return text.tokens(tokenizer, model.config().maxPositions(), prompt, response);
  }

  private record Pairs(NDArray ids, NDArray mask, NDArray margin, NDArray tie) {}

  /** Chosen rows then rejected rows, left-padded so that every row's last token is its last position. */
  private Pairs encode(List<Comparison> comparisons, NDManager scope) {
    int m = comparisons.size();
    List<int[]> rows = new ArrayList<>(2 * m);
    for (Comparison c : comparisons) {
      rows.add(tokens(c.getPrompt(), c.getChosen()));
    }
    for (Comparison c : comparisons) {
      rows.add(tokens(c.getPrompt(), c.getRejected()));
    }
    int width = rows.stream().mapToInt(r -> r.length).max().orElse(1);
    long[] ids = new long[rows.size() * width];
    long[] mask = new long[rows.size() * width];
    Arrays.fill(ids, padId);
    for (int i = 0; i < rows.size(); i++) {
      int[] r = rows.get(i);
      int offset = i * width + (width - r.length);
      for (int j = 0; j < r.length; j++) {
        ids[offset + j] = r[j];
        mask[offset + j] = 1;
      }
    }
    float[] margin = new float[m];
    float[] tie = new float[m];
    for (int i = 0; i < m; i++) {
      Comparison c = comparisons.get(i);
      margin[i] = c.hasStrength() ? (float) (config.training().marginScale() * c.getStrength()) : 0f;
      tie[i] = c.getTie() ? 1f : 0f;
    }
    Shape shape = new Shape(rows.size(), width);
    return new Pairs(scope.create(ids, shape), scope.create(mask, shape), scope.create(margin), scope.create(tie));
  }

  /**
   * Trainable weights and optimizer state, in the layouts other tools read: with full
   * fine-tuning a Hugging Face folder {@code model/} ({@code config.json}, {@code
   * model.safetensors}, {@code tokenizer.json}); with LoRA a PEFT adapter {@code adapter/} plus
   * the score head in {@code score.safetensors} (the base stays where it is: it never changes).
   * The optimizer state is {@code optimizer.safetensors}.
   */
  void saveState(Path dir) throws IOException {
    if (model.lora() != null) {
      model.saveAdapter(dir.resolve(ADAPTER), baseModelId());
      SafeTensors.write(dir.resolve(SCORE), Map.of("score.weight", scoreHead().array()), Map.of(), SafeTensors.Dtype.F32);
    } else {
      Path hf = dir.resolve(MODEL);
      model.save(hf);
      Files.copy(baseDir.resolve(TextTokenizer.FILE), hf.resolve(TextTokenizer.FILE), StandardCopyOption.REPLACE_EXISTING);
    }
    optimizer.save(dir.resolve(OPTIMIZER));
  }

  void loadState(Path dir) throws IOException {
    boolean lora = model.lora() != null;
    if (lora != Files.isDirectory(dir.resolve(ADAPTER))) {
      throw new IOException("checkpoint " + dir + " was written with training.mode " + (lora ? "full" : "lora")
          + "; it cannot resume with the current mode: use a new reward name for a new lineage");
    }
    if (lora) {
      model.loadAdapter(dir.resolve(ADAPTER));
      LoraConfig saved = model.lora();
      LoraConfig wanted = lora();
      if (saved.rank() != wanted.rank() || saved.alpha() != wanted.alpha() || saved.rsLora() != wanted.rsLora()
          || !java.util.Set.copyOf(saved.targetModules()).equals(java.util.Set.copyOf(wanted.targetModules()))) {
        throw new IOException("checkpoint " + dir + " holds a LoRA adapter " + model.lora()
            + " but the configuration asks for " + lora() + ": use a new reward name for a new lineage");
      }
      model.setTrainable(p -> p.isLora() || p.name().equals("score.weight"));
      copyInto(dir.resolve(SCORE), List.of(scoreHead()));
    } else {
      copyInto(dir.resolve(MODEL).resolve(CheckpointFiles.SINGLE), model.trainableParameters());
    }
    optimizer.load(dir.resolve(OPTIMIZER));
  }

  private LoraConfig lora() {
    RewardConfig.Training t = config.training();
    return new LoraConfig(t.loraRank(), t.loraAlpha(), t.loraDropout(), t.loraTargets(), t.rsLora());
  }

  private Parameter scoreHead() {
    return model.parameters().stream().filter(p -> p.name().equals("score.weight")).findFirst().orElseThrow();
  }

  /** Overwrites the given parameters, in place, with the same-named tensors of a safetensors file. */
  private void copyInto(Path file, List<Parameter> params) throws IOException {
    try (SafeTensors.Reader reader = SafeTensors.Reader.open(file); NoGrad ignored = NoGrad.enter()) {
      for (Parameter p : params) {
        if (!reader.tensors().containsKey(p.name())) {
          throw new IOException(file + " lacks " + p.name());
        }
        try (NDManager scope = model.manager().newSubManager()) {
          NDArray saved = reader.read(p.name(), scope, p.array().getDataType());
          p.array().set(saved.toFloatArray());
        }
      }
    }
  }

  /** Writes a self-contained Hugging Face reward model (adapter merged), loadable by {@code rlhf score}. */
  void exportModel(Path dir) throws IOException {
    Files.createDirectories(dir);
    boolean lora = model.lora() != null;
    if (lora) {
      model.mergeAdapter();
    }
    try {
      model.save(dir);
    } finally {
      if (lora) {
        model.unmergeAdapter();
      }
    }
    Files.copy(baseDir.resolve(TextTokenizer.FILE), dir.resolve(TextTokenizer.FILE), StandardCopyOption.REPLACE_EXISTING);
    JsonObject meta = new JsonObject()
        .put("template", config.model().template())
        .put("max_tokens", config.model().maxTokens())
        .put("base_model", config.model().base());
    Files.writeString(dir.resolve(REWARD_JSON), meta.encodePrettily(), StandardCharsets.UTF_8);
  }

  String baseModelId() {
    return config.model().base();
  }

  @Override
  public void close() {
    try {
      optimizer.close();
      tokenizer.close();
    } finally {
      model.close();
    }
  }
}

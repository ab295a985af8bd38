package org.rlhfstream.deploy;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import org.rlhfstream.model.DecoderModel;
import org.rlhfstream.model.ModelConfig;
import org.rlhfstream.model.TextTokenizer;
import org.rlhfstream.model.generate.Generation;
import org.rlhfstream.model.generate.Generator;
import org.rlhfstream.model.generate.SamplingConfig;
import picocli.CommandLine;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code rlhf generate}: continue a prompt with a Hugging Face causal LM (and a PEFT LoRA adapter). */
@Command(name = "generate", mixinStandardHelpOptions = true,
    description = "Generate a continuation with a Hugging Face Llama/Qwen2 causal LM folder, optionally with a PEFT LoRA adapter.")
public final class GenerateCommand implements Callable<Integer> {

  @Option(names = "--model", required = true, description = "Hugging Face model folder (config.json, model.safetensors, tokenizer.json).")
  Path model;

  @Option(names = "--adapter", description = "PEFT LoRA adapter folder (adapter_config.json, adapter_model.safetensors).")
  Path adapter;

  @ArgGroup(exclusive = true, multiplicity = "1")
  Prompt prompt;

  static final class Prompt {
    @Option(names = "--prompt", required = true, description = "Prompt text (tokenized with the folder's tokenizer.json).")
    String text;

    @Option(names = "--prompt-ids", required = true, description = "Prompt as comma-separated token ids, e.g. 1,2,3.")
    String ids;
  }

  @Option(names = "--max-new-tokens", required = true, description = "Most tokens to generate.")
  int maxNewTokens;

  @Option(names = "--greedy", description = "Take the most likely token at each step.")
  boolean greedy;

  @Option(names = "--temperature", description = "Sampling temperature (default 1.0).")
  Double temperature;

  @Option(names = "--top-p", description = "Nucleus sampling: keep the smallest set of tokens with this much probability (default 1.0).")
  Double topP;

  @Option(names = "--top-k", description = "Keep only the k most likely tokens (default 0: all).")
  Integer topK;

  @Option(names = "--seed", description = "Seed of the sampler (default 0): the same seed gives the same text.")
  Long seed;

  @Option(names = "--device", defaultValue = "cpu", description = "DJL device: cpu, gpu, gpu:N (default: ${DEFAULT-VALUE}).")
  String device;

  @Option(names = "--output", defaultValue = "text", description = "text, or json: {\"prompt_ids\":[…],\"new_ids\":[…],\"text\":\"…\"}.")
  OutputFormat output;

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() throws Exception {
    if (maxNewTokens < 1) {
      throw new UserError("--max-new-tokens must be at least 1");
    }
    if (greedy && (temperature != null || topP != null || topK != null || seed != null)) {
      throw new UserError("--greedy cannot be combined with --temperature, --top-p, --top-k or --seed");
    }
    if (temperature != null && !(temperature > 0)) {
      throw new UserError("--temperature must be positive");
    }
    if (topP != null && !(topP > 0 && topP <= 1)) {
      throw new UserError("--top-p must be in (0, 1]");
    }
    if (topK != null && topK < 0) {
      throw new UserError("--top-k must be >= 0");
    }
    boolean needTokenizer = prompt.text != null || !output.isJson();
    try (DecoderModel m = ModelCli.load(model, device)) {
      if (m.config().head() != ModelConfig.Head.CAUSAL_LM) {
        throw new UserError(model + " holds a " + m.config().architecture()
            + "; generate needs a causal LM (LlamaForCausalLM or Qwen2ForCausalLM)");
      }
      try (TextTokenizer tok = ModelCli.tokenizer(model, needTokenizer)) {
        return generate(m, tok);
      }
    }
  }

  private int generate(DecoderModel m, TextTokenizer tok) throws Exception {
    if (adapter != null) {
      ModelCli.userErrors(() -> {
        m.loadAdapter(adapter);
        return null;
      });
    }
    int[] ids = prompt.text != null ? tok.encode(prompt.text) : ModelCli.parseIds("--prompt-ids", prompt.ids);
    if (ids.length == 0) {
      throw new UserError("the prompt is empty after tokenization");
    }
    Set<Integer> stops = new HashSet<>(m.config().eosTokenIds());
    SamplingConfig cfg = greedy
        ? SamplingConfig.greedy(maxNewTokens, stops)
        : SamplingConfig.sample(maxNewTokens, temperature == null ? 1.0 : temperature, topK == null ? 0 : topK,
            topP == null ? 1.0 : topP, seed == null ? 0 : seed, stops);
    Generation g = ModelCli.userErrors(() -> Generator.generate(m, List.of(ids), cfg, true).get(0));
    String text = tok == null ? "" : tok.decode(g.newIds());
    PrintWriter out = spec.commandLine().getOut();
    if (output.isJson()) {
      JsonObject json = new JsonObject()
          .put("prompt_ids", new JsonArray(Arrays.stream(g.promptIds()).boxed().toList()))
          .put("new_ids", new JsonArray(Arrays.stream(g.newIds()).boxed().toList()))
          .put("text", text);
      out.println(json.encode());
    } else {
      out.println(text);
    }
    out.flush();
    return RlhfCommand.EXIT_OK;
  }
}
